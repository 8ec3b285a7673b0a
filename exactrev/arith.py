"""Arithmetic contexts for the extraction algorithms: one algorithm, three number systems.

Exact mode computes with Fractions and decides with `==`.  The mpmath and float modes compute with
the oracle's numbers and decide with a tolerance derived from the precision: two quantities are
"equal" when they differ by at most `rel` times the magnitude of the numbers that produced them.
"""

from __future__ import annotations

from typing import Any, Sequence

import mpmath

from .numbers import to_fmpq, to_fraction

Number = Any


class Arith:
    """Number conversion, tolerant comparison and small linear algebra for one oracle mode."""

    def __init__(self, mode: str, dps: int = 50, *, fmpq_backend: bool = False) -> None:
        """`fmpq_backend` (exact mode): compute with flint's fmpq instead of Fraction (much faster on
        the large rationals of long boundary walks)."""
        self.mode = mode
        self.exact = mode == "exact"
        self.fmpq = self.exact and fmpq_backend
        self.dps = dps
        if mode == "exact":
            self.rel: Number = 0
            self.loose: Number = 0
            self.bits = None
        elif mode == "float":
            self.rel = 2.0 ** -36           # ~1.5e-11: a few thousand ulps of the values compared
            self.loose = 2.0 ** -20         # identity of two separately measured hyperplanes
            self.bits = 53
        else:
            self.bits = int(dps * 3.3219)
            self.rel = mpmath.mpf(2) ** (-(self.bits * 2) // 3)
            self.loose = mpmath.mpf(2) ** (-self.bits // 3)

    # ------------------------------------------------------------- numbers
    def num(self, x: Any) -> Number:
        """An exact rational (Fraction, int, "p/q") in this mode's number type."""
        if self.fmpq:
            return to_fmpq(x)
        if self.exact:
            return to_fraction(x)
        f = to_fraction(x)
        if self.mode == "float":
            return f.numerator / f.denominator
        return mpmath.mpf(f.numerator) / f.denominator

    def simple_near(self, x: Number, radius: Number) -> Number:
        """A number within `radius` of x with a short representation (a dyadic rational in exact mode)."""
        if not self.exact or radius <= 0:
            return x
        k = 0
        while True:
            y = self.num(int(((x * 2 ** k) + self.num(1) / 2).floor() if self.fmpq else round(x * 2 ** k))) / 2 ** k
            if abs(y - x) <= radius:
                return y
            k += 1

    # ---------------------------------------------------------- comparison
    def close(self, a: Number, b: Number, scale: Number) -> bool:
        """a == b exactly, or within rel * scale in the approximate modes."""
        if self.exact:
            return a == b
        return abs(a - b) <= self.rel * scale

    def close_vec(self, u: Sequence[Number], v: Sequence[Number], scale: Number | None = None) -> bool:
        """Componentwise `close`; the default scale is the largest magnitude in u and v."""
        if self.exact:
            return list(u) == list(v)
        if scale is None:
            scale = max([abs(x) for x in u] + [abs(x) for x in v] + [0])
        return all(abs(a - b) <= self.rel * scale for a, b in zip(u, v))

    def same_vec(self, u: Sequence[Number], v: Sequence[Number]) -> bool:
        """Two separately measured vectors of magnitude ~1 are the same (exactly, or within `loose`)."""
        if self.exact:
            return list(u) == list(v)
        return all(abs(a - b) <= self.loose for a, b in zip(u, v))


def max_abs(values: Sequence[Number]) -> Number:
    """max |v| (0 for an empty sequence)."""
    return max((abs(v) for v in values), default=0)


def normalise(w: Sequence[Number], b: Number) -> tuple[list[Number], Number]:
    """Scale (w, b) so that max(|w_i|, |b|) == 1 (sign kept)."""
    s = max(max_abs(w), abs(b))
    return [v / s for v in w], b / s


def dot(u: Sequence[Number], v: Sequence[Number]) -> Number:
    """Inner product."""
    total = 0
    for a, b in zip(u, v):
        total += a * b
    return total

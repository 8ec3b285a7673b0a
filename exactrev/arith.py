"""Arithmetic contexts for the extraction algorithms: one algorithm, three number systems.

Exact mode computes with Fractions and decides with `==`.  The mpmath and float modes compute with
the oracle's numbers and decide with a tolerance derived from the precision: two quantities are
"equal" when they differ by at most `rel` times the magnitude of the numbers that produced them.
"""

from __future__ import annotations

import contextlib
from typing import Any, Sequence

import mpmath
from flint import fmpq, fmpq_mat

from .numbers import to_fmpq, to_fraction

Number = Any
DOT_MATRIX_MIN = 12             # vector length from which `dot` of fmpq vectors is a flint matrix product
DOT_MATRIX_CACHE = 512          # vectors whose matrix form `dot` remembers


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
    """Inner product (of long fmpq vectors as one flint matrix product: the same exact value, several times faster
    than summing fmpq products, each of which is reduced to lowest terms)."""
    n = len(u)
    if (n >= DOT_MATRIX_MIN and len(v) == n and type(u[0]) is fmpq and type(v[0]) is fmpq
            and isinstance(u, (list, tuple)) and isinstance(v, (list, tuple))):
        with contextlib.suppress(TypeError):   # an entry flint's matrices do not take (e.g. a numpy integer):
            return (_as_row(u) * _as_row(v).transpose())[0, 0]   # the Python sum below
    total = 0
    for a, b in zip(u, v):
        total += a * b
    return total


def combinations(rows: fmpq_mat, rhss: Sequence[Sequence[Number]]) -> list[tuple[bool, list[fmpq] | None]]:
    """Each rhs as an exact combination sum_i c_i rows_i: (True, c) if unique, (True, None) if it is one but not
    uniquely (dependent rows), (False, None) if it is none.  One solve of the normal equations for all of them;
    a singular one (dependent rows) is settled by row reduction, per rhs."""
    k, n = rows.nrows(), rows.ncols()
    target = fmpq_mat(n, len(rhss), [to_fmpq(rhs[d]) for d in range(n) for rhs in rhss])
    try:
        coefs = (rows * rows.transpose()).solve(rows * target)
    except (ZeroDivisionError, ValueError):
        return [(_consistent(rows, rhs), None) for rhs in rhss]
    back = rows.transpose() * coefs
    return [(True, [coefs[i, m] for i in range(k)]) if all(back[d, m] == target[d, m] for d in range(n))
            else (False, None) for m in range(len(rhss))]


def _consistent(rows: fmpq_mat, rhs: Sequence[Number]) -> bool:
    """rhs is some combination of the rows (row reduction of [rows^T | rhs]: no pivot in the last column)."""
    k, n = rows.nrows(), rows.ncols()
    red, rank = fmpq_mat(n, k + 1, [c for d in range(n) for c in [rows[i, d] for i in range(k)] + [to_fmpq(rhs[d])]]
                         ).rref()
    return not rank or any(red[rank - 1, c] != 0 for c in range(k))


_ROWS: dict[int, tuple[Sequence[Number], Sequence[Number], fmpq_mat]] = {}


def _as_row(u: Sequence[Number]) -> fmpq_mat:
    """u (a list or tuple) as a 1 x n fmpq_mat, remembered for up to DOT_MATRIX_CACHE vectors: the same vectors
    (rows of a layer, the point of a walk) meet many others.  A vector is recognised by identity (it is held, so
    its id is not reused) and its entries are compared with a copy, so a list changed in place is converted again."""
    hit = _ROWS.get(id(u))
    if hit is not None and hit[0] is u and hit[1] == u:
        return hit[2]
    row = fmpq_mat(1, len(u), u)
    if len(_ROWS) >= DOT_MATRIX_CACHE:
        _ROWS.clear()
    _ROWS[id(u)] = (u, u if isinstance(u, tuple) else list(u), row)
    return row

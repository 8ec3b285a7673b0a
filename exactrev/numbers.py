"""Number backends: exact rationals (flint under the hood, Fraction at the surface), mpmath, float64.

Everything a user gives us is read *exactly*: "p/q", integers and finite decimals by their text,
floats (float32 or float64) as the dyadic rational they are, never through their decimal repr.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from numbers import Rational
from typing import Any, Sequence

import mpmath
import numpy as np
from flint import fmpq, fmpq_mat, fmpz, fmpz_mat


ARITHMETICS = ("exact", "mpmath", "float")

_DECIMAL = re.compile(r"^([+-]?)(\d+)?(?:\.(\d*))?(?:[eE]([+-]?\d+))?$", re.ASCII)
_RATIO = re.compile(r"^([+-]?\d+)\s*/\s*([+-]?\d+)$", re.ASCII)
# Bounds on a number read from text: at most MAX_DIGITS digits in each integer it spells out
# (Python's own default int/str limit) and a decimal exponent of magnitude at most MAX_EXPONENT.
MAX_DIGITS = 4300
MAX_EXPONENT = 4300


def shown(x: Any, limit: int = 40) -> str:
    """A bounded description of `x` for error messages (a 10**6-digit number must not flood stderr)."""
    if isinstance(x, str):
        return repr(x) if len(x) <= limit else f"{x[:limit]!r}... ({len(x)} characters)"
    if isinstance(x, (list, tuple, dict)):
        return f"a {'JSON object' if isinstance(x, dict) else 'list'} of {len(x)} entr{'y' if len(x) == 1 else 'ies'}"
    if isinstance(x, int) and x.bit_length() > 3 * limit:
        return f"an integer of about {int(x.bit_length() * 0.30103)} digits"
    r = str(x) if isinstance(x, Decimal) else repr(x)
    return r if len(r) <= limit else f"{r[:limit]}..."


def parse_rational(text: str) -> Fraction:
    """Parse "p/q", an integer or a finite decimal ("-1.5e-3") exactly; raise ValueError otherwise.

    Each run of digits may have at most MAX_DIGITS digits and the decimal exponent at most
    MAX_EXPONENT in magnitude, so no text can make us build an absurdly large integer.
    """
    s = text.strip()
    m = _RATIO.match(s) or _DECIMAL.match(s)
    if not m or (m.re is _DECIMAL and m.group(2) is None and not m.group(3)):
        raise ValueError(f"{shown(text)} is not a rational number (expected p/q, an integer or a finite decimal)")
    longest = max(len(g) for g in m.groups() if g is not None)
    if longest > MAX_DIGITS:
        raise ValueError(f"{shown(text)} has a run of {longest} digits; at most {MAX_DIGITS} are accepted")
    if m.re is _RATIO:
        p, q = int(m.group(1)), int(m.group(2))
        if q == 0:
            raise ValueError(f"{shown(text)} has a zero denominator")
        return Fraction(p, q)
    sign, whole, frac, exp = m.groups()
    e = int(exp or 0) - len(frac or "")
    if abs(e) > MAX_EXPONENT:
        raise ValueError(f"{shown(text)} has a decimal exponent beyond {MAX_EXPONENT} in magnitude")
    value = Fraction(int((whole or "") + (frac or "") or "0")) * (Fraction(10) ** e)
    return -value if sign == "-" else value


def to_fraction(x: Any) -> Fraction:
    """Read any supported number exactly as a Fraction (floats as their exact dyadic value).

    Raises ValueError for NaN, infinities, booleans and anything that is not a number.
    """
    if isinstance(x, bool) or isinstance(x, np.bool_):
        raise ValueError(f"{x!r} is a boolean, not a number")
    if isinstance(x, Fraction):
        return x
    if isinstance(x, int):
        return Fraction(x)
    if isinstance(x, fmpq):
        return Fraction(int(x.p), int(x.q))
    if isinstance(x, fmpz):
        return Fraction(int(x))
    if isinstance(x, str):
        return parse_rational(x)
    if isinstance(x, np.integer):
        return Fraction(int(x))
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(float(x)):
            raise ValueError(f"{x!r} is not finite")
        return Fraction(*x.as_integer_ratio())  # the exact dyadic value, never the decimal repr
    if isinstance(x, Decimal):
        if not x.is_finite():
            raise ValueError(f"{shown(x)} is not finite")
        sign, digits, exponent = x.as_tuple()
        if len(digits) > MAX_DIGITS or abs(exponent) > MAX_EXPONENT:
            raise ValueError(f"{shown(x)} has more than {MAX_DIGITS} digits or a decimal exponent beyond "
                             f"{MAX_EXPONENT} in magnitude")
        return Fraction(x)
    if isinstance(x, mpmath.mpf):
        if not mpmath.isfinite(x):
            raise ValueError(f"{x!r} is not finite")
        man, exp = x.man_exp  # man is |mantissa|: the sign is kept apart
        if abs(exp) > 4 * MAX_EXPONENT:
            raise ValueError(f"{shown(x)} has a binary exponent beyond {4 * MAX_EXPONENT} in magnitude")
        value = Fraction(int(man)) * (Fraction(2) ** int(exp))
        return -value if x < 0 else value
    if isinstance(x, Rational):
        return Fraction(x.numerator, x.denominator)
    raise ValueError(f"{shown(x)} (type {type(x).__name__}) is not a rational number")


def to_fmpq(x: Any) -> fmpq:
    """Exact conversion of a supported number to flint's fmpq."""
    if isinstance(x, fmpq):
        return x
    if isinstance(x, (int, fmpz)) and not isinstance(x, bool):
        return fmpq(x)
    f = to_fraction(x)
    return fmpq(f.numerator, f.denominator)


def fmpq_to_fraction(x: fmpq) -> Fraction:
    """flint fmpq -> Fraction (exact)."""
    return Fraction(int(x.p), int(x.q))


def format_rational(x: Any) -> str:
    """Lowest-terms text "p/q" (or "p" for integers), as the network format requires."""
    f = to_fraction(x)
    return _digits(f.numerator) if f.denominator == 1 else f"{_digits(f.numerator)}/{_digits(f.denominator)}"


def _digits(n: int) -> str:
    """Decimal text of any integer; flint's conversion has no length limit (Python's str stops at 4300 digits)."""
    return str(n) if n.bit_length() < 14000 else str(fmpz(n))


def to_mpf(x: Any, dps: int) -> mpmath.mpf:
    """Round an exact number to an mpmath mpf with `dps` decimal digits."""
    f = to_fraction(x)
    with mpmath.workdps(dps):
        return mpmath.mpf(f.numerator) / f.denominator


def to_float(x: Any) -> float:
    """Round an exact number to the nearest float64 (Fraction division is correctly rounded)."""
    f = to_fraction(x)
    return f.numerator / f.denominator


def integers_over_lcm(values: Sequence[Any]) -> tuple[list[int], int]:
    """Exact rationals (Fraction or fmpq) as integers over their common denominator d: ([v_i * d], d)."""
    dens = [int(v.denominator) for v in values]
    d = math.lcm(*dens)
    return [int(v.numerator) * (d // q) for v, q in zip(values, dens)], d


def fraction_matrix_to_fmpz(rows: Sequence[Sequence[fmpq]]) -> tuple[fmpz_mat, fmpz]:
    """Rational matrix -> (integer matrix, common denominator), so products run on fmpz_mat."""
    m = fmpq_mat(len(rows), len(rows[0]) if rows else 0, [v for r in rows for v in r])
    num, den = m.numer_denom()
    return num, fmpz(den)


def norm_max(values: Sequence[Any]) -> Fraction:
    """max |v| over exact values (0 for an empty sequence)."""
    return max((abs(to_fraction(v)) for v in values), default=Fraction(0))

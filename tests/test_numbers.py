"""Exact number parsing and formatting (exactrev.numbers)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from flint import fmpq, fmpz
from hypothesis import given, settings
from hypothesis import strategies as st

from exactrev.numbers import (MAX_DIGITS, MAX_EXPONENT, format_rational, parse_rational, to_float, to_fmpq,
                              to_fraction, to_mpf)

LAW = settings(max_examples=60, deadline=None)
rationals = st.fractions(max_denominator=10**30).filter(lambda f: abs(f.numerator) < 10**40)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("text, value", [
    ("1/2", Fraction(1, 2)), ("-3/6", Fraction(-1, 2)), (" 7 / -14 ", Fraction(-1, 2)), ("+5", Fraction(5)),
    ("-0", Fraction(0)), ("0.1", Fraction(1, 10)), ("-1.5e-3", Fraction(-3, 2000)), (".5", Fraction(1, 2)),
    ("5.", Fraction(5)), ("2E3", Fraction(2000)), ("1.25e+2", Fraction(125)), ("000123", Fraction(123)),
    ("0.333333333333333333333333333333", Fraction(333333333333333333333333333333, 10**30)),
])
def test_parse_rational_reads_text_exactly(text: str, value: Fraction) -> None:
    assert parse_rational(text) == value
    assert type(parse_rational(text)) is Fraction


@pytest.mark.parametrize("text", ["", " ", ".", "abc", "1/0", "1/2/3", "1.2.3", "e5", "1e", "0x10", "1_000",
                                  "nan", "inf", "-Infinity", "1/2.5", "١٢", "1 2", "--1"])
def test_parse_rational_refuses_non_rationals(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rational(text)


def test_digit_and_exponent_limits_give_short_messages() -> None:
    assert parse_rational("9" * MAX_DIGITS) == 10**MAX_DIGITS - 1
    assert parse_rational(f"1e-{MAX_EXPONENT}") == Fraction(1, 10**MAX_EXPONENT)
    for text in ["1" * 10**6, "1/" + "7" * (MAX_DIGITS + 1), f"1e{MAX_EXPONENT + 1}", "1e" + "9" * 10**5,
                 "0." + "0" * MAX_EXPONENT + "1"]:
        with pytest.raises(ValueError) as err:
            parse_rational(text)
        assert len(str(err.value)) < 200 and str(MAX_DIGITS) in str(err.value)


@LAW
@given(rationals)
def test_format_then_parse_round_trips_in_lowest_terms(f: Fraction) -> None:
    text = format_rational(f)
    assert parse_rational(text) == f
    if f.denominator == 1:
        assert text == str(f.numerator)
    else:
        p, q = map(int, text.split("/"))
        assert (p, q) == (f.numerator, f.denominator) and math.gcd(p, q) == 1 and q > 1


@LAW
@given(st.integers(-10**50, 10**50), st.integers(1, 10**50))
def test_format_rational_is_lowest_terms_of_any_exact_type(p: int, q: int) -> None:
    f = Fraction(p, q)
    assert format_rational(fmpq(p, q)) == format_rational(f) == format_rational(f"{p}/{q}")


def test_format_rational_beyond_pythons_int_string_limit() -> None:
    big = Fraction(10**6000 + 1, 3**5000)
    p, q = format_rational(big).split("/")
    assert fmpz(p) == 10**6000 + 1 and fmpz(q) == 3**5000


@LAW
@given(st.integers(-10**6, 10**6), st.integers(0, 12), st.integers(-30, 30))
def test_decimal_text_is_read_exactly(mantissa: int, frac_digits: int, exponent: int) -> None:
    s = str(abs(mantissa)).rjust(frac_digits + 1, "0")
    text = ("-" if mantissa < 0 else "") + s[:len(s) - frac_digits] + "." + s[len(s) - frac_digits:] + f"e{exponent}"
    assert parse_rational(text) == Fraction(mantissa, 10**frac_digits) * Fraction(10) ** exponent
    assert to_fraction(Decimal(text)) == parse_rational(text)


@LAW
@given(finite_floats)
def test_float64_is_read_as_its_exact_dyadic_value(x: float) -> None:
    f = to_fraction(x)
    assert f == Fraction(x) and f.denominator & (f.denominator - 1) == 0  # a power of two
    assert to_float(f) == x
    assert to_fraction(np.float64(x)) == f


@LAW
@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_is_read_exactly_not_via_decimal_repr(x: float) -> None:
    v = np.float32(x)
    f = to_fraction(v)
    assert f == Fraction(float(v))  # float32 -> float64 widening is exact
    assert np.float32(to_float(f)) == v


def test_float_is_never_read_through_its_repr() -> None:
    assert to_fraction(0.1) == Fraction(3602879701896397, 2**55) != Fraction(1, 10)
    assert to_fraction(np.float32(0.1)) == Fraction(13421773, 2**27)
    assert to_fraction(np.float16(0.1)) == Fraction(819, 2**13)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -np.inf, np.float32("nan"), Decimal("NaN"),
                                 Decimal("-Infinity"), mpmath.mpf("inf"), True, np.bool_(False), None, [1],
                                 {"a": 1}, 1 + 2j, object()])
def test_to_fraction_refuses_non_rationals(bad: object) -> None:
    with pytest.raises(ValueError):
        to_fraction(bad)


@pytest.mark.parametrize("value, exact", [
    (3, Fraction(3)), (np.int64(-4), Fraction(-4)), (fmpz(7), Fraction(7)), (fmpq(-2, 6), Fraction(-1, 3)),
    (Decimal("0.125"), Fraction(1, 8)), (mpmath.mpf(0.75), Fraction(3, 4)), (mpmath.mpf(-0.75), Fraction(-3, 4)),
    (mpmath.mpf(-3), Fraction(-3)), ("  -2/4 ", Fraction(-1, 2)),
])
def test_to_fraction_accepts_every_exact_type(value: object, exact: Fraction) -> None:
    assert to_fraction(value) == exact and type(to_fraction(value)) is Fraction
    assert to_fmpq(value) == fmpq(exact.numerator, exact.denominator)


@LAW
@given(rationals, st.integers(5, 80))
def test_to_mpf_is_within_half_an_ulp_at_dps(f: Fraction, dps: int) -> None:
    m = to_mpf(f, dps)
    err = abs(to_fraction(m) - f)
    assert err <= abs(f) * Fraction(1, 10**(dps - 1)) + Fraction(0)


@LAW
@given(rationals)
def test_to_float_is_correctly_rounded(f: Fraction) -> None:
    x = to_float(f)
    err = abs(Fraction(x) - f)
    assert err <= abs(Fraction(math.nextafter(x, math.inf)) - Fraction(x)) / 2 or \
        err <= abs(Fraction(x) - Fraction(math.nextafter(x, -math.inf))) / 2

"""`dot`: long fmpq vectors go through remembered flint matrices; the value must be the plain sum of products.
`combinations`: exact coefficients of a vector in the span of rows."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from flint import fmpq, fmpq_mat
from hypothesis import given, settings, strategies as st

from exactrev.arith import DOT_MATRIX_MIN, combinations, dot

rationals = st.fractions(max_denominator=10 ** 12).map(lambda f: fmpq(f.numerator, f.denominator))


@settings(max_examples=30, deadline=None)
@given(data=st.data(), n=st.integers(1, 2 * DOT_MATRIX_MIN))
def test_dot_is_the_sum_of_products_even_after_changes_in_place(data, n):
    u = data.draw(st.lists(rationals, min_size=n, max_size=n))
    v = data.draw(st.lists(rationals, min_size=n, max_size=n))
    assert dot(u, v) == sum((a * b for a, b in zip(u, v)), fmpq(0))
    assert dot(tuple(v), u) == dot(u, v)
    i = data.draw(st.integers(0, n - 1))
    u[i] += 1                                  # the same list object, changed: must not use its old matrix
    assert dot(u, v) == sum((a * b for a, b in zip(u, v)), fmpq(0))


def test_dot_of_other_number_types_and_mixed_vectors():
    n = DOT_MATRIX_MIN + 3
    u = [fmpq(i + 1, 3) for i in range(n)]
    mixed = [fmpq(3)] + [np.int64(3)] * (n - 1)               # flint's matrices take no numpy integer
    assert dot(u, mixed) == sum(range(1, n + 1))
    assert dot(u, [fmpq(3)] + [3] * (n - 1)) == sum(range(1, n + 1))
    assert dot([Fraction(i, 7) for i in range(n)], [Fraction(7)] * n) == sum(range(n))
    assert dot([0.5] * n, [2.0] * n) == float(n)
    assert dot([], []) == 0


def test_combinations_tell_unique_from_several_from_none():
    """arith.combinations: the exact coefficients when the rows are independent, "a combination but not unique"
    when they are not (settled by row reduction), and "none" when the rhs leaves their span."""
    rows = fmpq_mat([[1, 2, 0, 1], [0, 1, 3, 1]])
    inside = [fmpq(1, 2) * a - 3 * b for a, b in zip([1, 2, 0, 1], [0, 1, 3, 1])]
    assert combinations(rows, [inside, [1, 0, 0, 0]]) == [(True, [fmpq(1, 2), fmpq(-3)]), (False, None)]
    twice = fmpq_mat([[1, 2, 0, 1], [2, 4, 0, 2]])
    assert combinations(twice, [[3, 6, 0, 3], [0, 1, 0, 0]]) == [(True, None), (False, None)]

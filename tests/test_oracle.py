"""exactrev.Oracle: counting, budget, arithmetic modes, black boxes and their failures."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exactrev import BudgetExceeded, ExactrevError, Oracle, OracleError, random_network
from exactrev.numbers import to_fraction

LAW = settings(max_examples=30, deadline=None)
NET = random_network([3, 5, 2], seed=11)


def point(i: int) -> list[Fraction]:
    return [Fraction(i, 3), Fraction(-i, 7), Fraction(1, i + 1)]


@LAW
@given(st.lists(st.integers(0, 6), max_size=8), st.booleans())
def test_counts_every_point_exactly(batch_sizes: list[int], single_first: bool) -> None:
    orc = Oracle.from_network(NET)
    expected = 0
    if single_first:
        orc(point(0))
        expected += 1
    for k in batch_sizes:
        answers = orc.batch([point(i) for i in range(k)])
        assert len(answers) == k
        expected += k
        assert orc.queries == expected


@LAW
@given(st.integers(0, 12), st.lists(st.integers(1, 5), min_size=1, max_size=8))
def test_stops_at_budget_and_answers_nothing_past_it(budget: int, batch_sizes: list[int]) -> None:
    orc = Oracle.from_network(NET, budget=budget)
    for k in batch_sizes:
        before = orc.queries
        if before + k <= budget:
            assert len(orc.batch([point(i) for i in range(k)])) == k
        else:
            with pytest.raises(BudgetExceeded) as err:
                orc.batch([point(i) for i in range(k)])
            assert orc.queries == before <= budget          # none of the batch was answered or counted
            assert err.value.budget == budget and err.value.used == before
            assert isinstance(err.value, ExactrevError) and str(budget) in str(err.value)
        assert orc.remaining == budget - orc.queries


def test_exact_mode_answers_fractions_equal_to_the_network() -> None:
    orc = Oracle.from_network(NET, arithmetic="exact")
    xs = [point(i) for i in range(4)]
    ys = orc.batch(xs)
    assert ys == NET.evaluate_batch(xs) and all(type(v) is Fraction for y in ys for v in y)
    assert orc([1, "1/2", 0.25]) == NET([1, Fraction(1, 2), Fraction(1, 4)])


def test_float_mode_rounds_the_exact_answer() -> None:
    orc = Oracle.from_network(NET, arithmetic="float")
    x = [0.1, -2.5, 3.0]
    y = orc(x)
    assert all(type(v) is float for v in y)
    assert y == [v.numerator / v.denominator for v in NET(x)]   # correctly rounded exact output at the float input


def test_mpmath_mode_answers_mpf_at_dps() -> None:
    orc = Oracle.from_network(NET, arithmetic="mpmath", dps=60)
    x = [Fraction(1, 3), Fraction(-2, 7), Fraction(5, 11)]
    y = orc(x)
    assert all(isinstance(v, mpmath.mpf) for v in y)
    x_mpf = orc.convert_input(x)
    assert all(isinstance(v, mpmath.mpf) for v in x_mpf)
    for a, b in zip(y, NET(x_mpf)):                  # the exact output at the (rounded) mpf input, rounded
        assert abs(to_fraction(a) - b) <= abs(b) * Fraction(1, 10**59)
    for a, b in zip(y, NET(x)):                      # and close to the exact output at the rational input
        assert abs(to_fraction(a) - b) <= Fraction(1, 10**55)


def test_black_box_function_in_each_mode() -> None:
    seen: list[list] = []

    def fn(x: list) -> list:
        seen.append(list(x))
        return [x[0] * 2 - x[1], x[0] + 1]

    exact = Oracle(fn, 2, 2, arithmetic="exact", budget=3)
    assert exact(["1/2", 3]) == [Fraction(-2), Fraction(3, 2)]
    assert all(type(v) is Fraction for v in seen[-1])
    fl = Oracle(fn, 2, 2, arithmetic="float")
    assert fl([Fraction(1, 4), 1]) == [-0.5, 1.25] and all(type(v) is float for v in seen[-1])
    mp = Oracle(fn, 2, 2, arithmetic="mpmath", dps=40)
    out = mp([Fraction(1, 3), 0])
    assert all(isinstance(v, mpmath.mpf) for v in out)
    assert abs(to_fraction(out[0]) - Fraction(2, 3)) < Fraction(1, 10**38)
    assert exact.batch([[0, 0], [1, 1]]) and exact.queries == 3
    with pytest.raises(BudgetExceeded):
        exact([0, 0])


def test_mpmath_black_box_computes_at_the_oracles_precision() -> None:
    orc = Oracle(lambda x: [mpmath.sqrt(x[0])], 1, 1, arithmetic="mpmath", dps=60)
    root2 = to_fraction(orc([2])[0])
    assert abs(root2 * root2 - 2) < Fraction(1, 10**58)


def test_record_keeps_the_query_log() -> None:
    orc = Oracle.from_network(NET, record=True)
    orc.batch([point(1), point(2)])
    orc(point(3))
    assert orc.log == [point(1), point(2), point(3)]


def raising(x: list) -> list:
    raise RuntimeError("sensor offline")


@pytest.mark.parametrize("fn, arithmetic, message", [
    (lambda x: [1], "exact", "has 1 outputs, expected 2"),
    (lambda x: [1, 2, 3], "float", "has 3 outputs, expected 2"),
    (lambda x: 5, "exact", "not a list of outputs"),
    (lambda x: [1, float("nan")], "float", "not finite"),
    (lambda x: [1, math.inf], "float", "not finite"),
    (lambda x: [1, mpmath.mpf("nan")], "mpmath", "not finite"),
    (lambda x: [Fraction(1), 0.5], "exact", "not an exact rational"),
    (lambda x: [1, np.float64(0.5)], "exact", "not an exact rational"),
    (lambda x: [True, 1], "exact", "not an exact rational"),
    (lambda x: [1, "abc"], "float", "output 1"),
    (lambda x: [1, 10**400], "float", "output 1"),
    (raising, "exact", "RuntimeError: sensor offline"),
])
def test_broken_black_box_answers_are_oracle_errors(fn, arithmetic: str, message: str) -> None:
    orc = Oracle(fn, 2, 2, arithmetic=arithmetic)
    with pytest.raises(OracleError, match=message):
        orc([1, 2])
    assert orc.queries == 1


def test_batch_fn_with_wrong_length_is_an_oracle_error() -> None:
    orc = Oracle(lambda x: [0], 1, 1, batch_fn=lambda xs: [[0]] * (len(xs) + 1))
    with pytest.raises(OracleError, match="answered 3 outputs for a batch of 2"):
        orc.batch([[1], [2]])


@pytest.mark.parametrize("kwargs, message", [
    ({"arithmetic": "double"}, "arithmetic"), ({"budget": -1}, "budget"), ({"budget": 2.5}, "budget"),
    ({"dps": 0}, "dps"), ({"input_dim": 0}, "input_dim"), ({"output_dim": True}, "output_dim"),
])
def test_bad_construction_is_an_exactrev_error(kwargs: dict, message: str) -> None:
    args = {"fn": lambda x: x, "input_dim": 1, "output_dim": 1, **kwargs}
    with pytest.raises(ExactrevError, match=message):
        Oracle(**args)


@pytest.mark.parametrize("query, message", [
    ([1, 2], "2 coordinates, the oracle takes 3"), ([1, 2, "x"], "query 0"), ([1, 2, float("nan")], "query 0"),
    ([True, 0, 0], "boolean"), (7, "not a sequence"),
])
def test_bad_queries_are_refused_before_counting(query, message: str) -> None:
    orc = Oracle.from_network(NET)
    with pytest.raises(ExactrevError, match=message):
        orc(query)
    assert orc.queries == 0

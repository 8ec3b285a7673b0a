"""Oracles that are not what they claim: extraction must stop with a diagnosis, never say "complete".

Each black box is a small network (3 inputs, 6 hidden neurons, 1 output) computed with something other
than an exact ReLU: a smooth or leaky activation, max-pooling, noise, quantisation, drift between
calls, broken answers, or too few digits.  The accepted outcomes are an OracleError naming the fault
(extract checks the oracle first, exactrev.oracle_check, and asks the check's queries again later), or a
"partial" result whose `.unidentified` says what could not be explained.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from fractions import Fraction
from typing import Callable

import pytest
from hypothesis import given, settings, strategies as st

from exactrev import BudgetExceeded, Network, Oracle, OracleError, degenerate, extract, random_network
from exactrev.oracle_check import EXACT_SCALES, JUMP_HALVINGS, check_oracle

NET = random_network([3, 6, 1], seed=1)
DEEP = random_network([4, 5, 4, 1], seed=2)
WIDE = random_network([3, 20, 1], seed=1)
F_W = [[[float(v) for v in row] for row in w] for w in NET.weights]
F_B = [[float(v) for v in b] for b in NET.biases]


def float_net(x, act: Callable[[float], float] = lambda z: max(z, 0.0)) -> list[float]:
    """NET evaluated in float64 with activation `act`."""
    h = [float(v) for v in x]
    for k, (w, b) in enumerate(zip(F_W, F_B)):
        z = [sum(a * c for a, c in zip(row, h)) + bb for row, bb in zip(w, b)]
        h = z if k == len(F_W) - 1 else [act(v) for v in z]
    return h


def exact_net(x, act: Callable[[Fraction], Fraction] = lambda z: max(z, Fraction(0))) -> list[Fraction]:
    """NET evaluated exactly with activation `act`."""
    h = [Fraction(v) for v in x]
    for k, (w, b) in enumerate(zip(NET.weights, NET.biases)):
        z = [sum((a * c for a, c in zip(row, h)), Fraction(0)) + bb for row, bb in zip(w, b)]
        h = z if k == len(NET.weights) - 1 else [act(v) for v in z]
    return h


def hashed_noise(x, scale: float) -> float:
    """Deterministic noise in [-scale, scale] (a function of x, so repeated queries agree)."""
    digest = hashlib.sha256(repr([float(v) for v in x]).encode()).digest()
    return (int.from_bytes(digest[:8], "big") / 2 ** 64 - 0.5) * 2 * scale


def maxpool(x) -> list[Fraction]:
    """Max-pooling over groups of first-layer neurons instead of one ReLU per neuron."""
    z = [sum((a * Fraction(c) for a, c in zip(row, x)), Fraction(0)) + b for row, b in zip(NET.weights[0], NET.biases[0])]
    h = [max(z[0], z[1], Fraction(0)), max(z[2], z[3]), max(z[4], z[5], Fraction(0))]
    return [h[0] - 2 * h[1] + Fraction(1, 3) * h[2] + 1]


def softplus(z: float) -> float:
    return z if z > 30 else math.log1p(math.exp(z))


def drifting(after: int = 300) -> Callable:
    """An exact ReLU network (WIDE: its extraction takes over 2000 queries, so that two re-asks of the check's
    queries fall within it) whose output moves by 2^-40 after `after` calls."""
    calls = [0]

    def fn(x):
        calls[0] += 1
        y = WIDE.evaluate_batch([[Fraction(v) for v in x]])[0]
        return [y[0] + (Fraction(1, 2 ** 40) if calls[0] > after else 0)]
    return fn


def assert_diagnosed(result, *fragments: str) -> None:
    """Partial, with every unidentified entry carrying a reason, and one reason naming the fault."""
    assert result.status == "partial", result.unidentified
    assert result.unidentified and all(isinstance(u.get("reason"), str) and u["reason"] for u in result.unidentified)
    reasons = " | ".join(u["reason"] for u in result.unidentified)
    assert any(f in reasons for f in fragments), reasons


def assert_named(oracle: Oracle, *fragments: str, **kwargs) -> None:
    """extract(oracle) either raises an OracleError or ends partial, naming the fault either way."""
    try:
        result = extract(oracle, seed=0, **kwargs)
    except OracleError as e:
        assert any(f in str(e) for f in fragments), str(e)
        return
    assert_diagnosed(result, *fragments)


NOT_PL = "the oracle is not piecewise linear: at 4 of 4 random points"
FLOAT_BOXES = {
    "tanh": (lambda x: float_net(x, math.tanh), (NOT_PL,)),
    "softplus": (lambda x: float_net(x, softplus), (NOT_PL,)),
    "noise 1e-12": (lambda x: [v + hashed_noise(x, 1e-12) for v in float_net(x)], ("Jacobian check failed",)),
    "noise 1e-6": (lambda x: [v + hashed_noise(x, 1e-6) for v in float_net(x)], (NOT_PL,)),
    "noise 1e-3": (lambda x: [v + hashed_noise(x, 1e-3) for v in float_net(x)], (NOT_PL,)),
    "leaky relu": (lambda x: float_net(x, lambda z: z if z > 0 else 0.01 * z), ("as no ReLU does",)),
    "fresh noise per call": (lambda x: [v + random.Random().uniform(-1e-9, 1e-9) for v in float_net(x)],
                             ("answered the same query twice with different outputs",)),
}


@pytest.mark.parametrize("name", sorted(FLOAT_BOXES))
def test_float_black_boxes_that_are_not_relu_networks_are_named(name):
    fn, fragments = FLOAT_BOXES[name]
    assert_named(Oracle(fn, 3, 1, arithmetic="float"), *fragments, budget=20_000)


@pytest.mark.parametrize("name, make, fragments", [
    ("leaky relu", lambda: lambda x: exact_net(x, lambda z: z if z > 0 else z / 100),
     ("signs: no sign vector", "not an affine function of relu")),
    ("max-pooling", lambda: maxpool, ("signs: no sign vector", "not an affine function of relu of the last hidden layer")),
])
def test_exact_piecewise_linear_impostors_end_partial(name, make, fragments):
    """Piecewise linear, but not the ReLU network it claims to be: the exact solves and checks refuse it."""
    assert_diagnosed(extract(Oracle(make(), 3, 1, arithmetic="exact"), seed=0), *fragments)


EXACT_NOT_PL = {
    "tanh rounded to a Fraction": lambda x: [Fraction(v) for v in float_net(x, math.tanh)],
    "ReLU net plus 2^-60 noise": lambda x: [v + Fraction(int(hashed_noise(x, 2 ** 20)), 2 ** 80) for v in exact_net(x)],
    "ReLU net quantised to 2^-10": lambda x: [Fraction(round(v * 1024), 1024) for v in exact_net(x)],
}


@pytest.mark.parametrize("name, fragment", [
    ("tanh rounded to a Fraction", NOT_PL),
    ("ReLU net plus 2^-60 noise", NOT_PL),
    ("ReLU net quantised to 2^-10", "the oracle is not piecewise linear: it is locally constant at 4 of 4 random "
                                    "points, yet its values differ"),
])
def test_exact_oracles_that_are_not_piecewise_linear_are_named(name, fragment):
    oracle = Oracle(EXACT_NOT_PL[name], 3, 1, arithmetic="exact")
    with pytest.raises(OracleError, match=fragment):
        extract(oracle, seed=0, budget=400)
    assert oracle.queries <= 100                         # named by the check, before the extraction proper


def test_an_exact_oracle_that_changes_between_calls_is_named():
    """Drift that sets in after the check is seen when a checked query is asked again: every 1000 queries
    (drift early on stops the extraction before its end) and at the end (drift in the last queries)."""
    steady = Oracle(drifting(after=10 ** 9), 3, 1)
    assert extract(steady, seed=0).status == "complete"
    for after in (100, steady.queries - 100):
        oracle = Oracle(drifting(after), 3, 1)
        with pytest.raises(OracleError, match="answered the same query again .* its answers changed between calls"):
            extract(oracle, seed=0)
        if after == 100:
            assert oracle.queries < steady.queries


def test_mpmath_oracle_with_too_few_digits_names_the_precision():
    result = extract(Oracle.from_network(DEEP, "mpmath", dps=5), seed=0)
    assert_diagnosed(result, "Jacobian check failed")
    assert_diagnosed(result, "precision too low for the network: at dps=5")
    enough = extract(Oracle.from_network(DEEP, "mpmath", dps=30), seed=0)
    assert not any("precision" in u["reason"] for u in enough.unidentified)
    assert len(enough.hyperplanes) == len(DEEP.weights[0])


def _raises(x):
    raise RuntimeError("GPU fell off the bus")


@pytest.mark.parametrize("arithmetic", ["exact", "float", "mpmath"])
@pytest.mark.parametrize("fn, message, exact_message", [
    (_raises, r"the oracle raised RuntimeError: GPU fell off the bus", None),
    (lambda x: [1, 2], r"answer to query 0 has 2 outputs, expected 1", None),
    (lambda x: 5, r"answer to query 0 is int, not a list of outputs", None),
    (lambda x: [float("nan")], r"output 0 for query 0: nan is not finite", r"nan \(float\) is not an exact rational"),
    (lambda x: [float("inf")], r"output 0 for query 0: inf is not finite", r"inf \(float\) is not an exact rational"),
    (lambda x: [True], r"True is a boolean", r"True \(bool\) is not an exact rational"),
])
def test_broken_answers_stop_extraction_with_an_oracle_error(fn, message, exact_message, arithmetic):
    expected = exact_message if arithmetic == "exact" and exact_message else message
    with pytest.raises(OracleError, match=expected):
        extract(Oracle(fn, 3, 1, arithmetic=arithmetic), seed=0)


def test_exact_oracle_returning_floats_is_refused():
    with pytest.raises(OracleError, match="not an exact rational.*use arithmetic='float'"):
        extract(Oracle(float_net, 3, 1, arithmetic="exact"), seed=0)


def test_an_oracle_that_breaks_midway_is_an_oracle_error():
    calls = [0]

    def fn(x):
        calls[0] += 1
        return exact_net(x) if calls[0] < 200 else [Fraction(1), Fraction(2)]
    with pytest.raises(OracleError, match="has 2 outputs, expected 1"):
        extract(Oracle(fn, 3, 1), seed=0)


@settings(max_examples=8, deadline=None)
@given(budget=st.integers(0, 600), own=st.booleans())
def test_budget_exhaustion_never_raises_past_the_caller(budget, own):
    """Whether the oracle's own budget or extract's runs out, the answer is a result with the count kept."""
    oracle = Oracle.from_network(DEEP, budget=budget if own else None)
    result = extract(oracle, seed=1, budget=None if own else budget)
    assert result.queries <= budget and oracle.queries <= budget
    if result.status != "complete":
        assert_diagnosed(result, "budget exhausted")
    with pytest.raises(BudgetExceeded):                  # extract's own cap does not leak into the oracle
        Oracle.from_network(DEEP, budget=0)([0, 0, 0, 0])


@pytest.mark.parametrize("arithmetic", ["exact", "float"])
def test_the_same_seed_reproduces_the_same_queries(arithmetic):
    logs = []
    for _ in range(2):
        oracle = Oracle.from_network(DEEP, arithmetic, record=True)
        result = extract(oracle, seed=5, budget=800)
        logs.append((oracle.log, result.status, result.network))
    assert logs[0][0] and logs[0] == logs[1]
    other = Oracle.from_network(DEEP, arithmetic, record=True)
    extract(other, seed=6, budget=800)
    assert other.log != logs[0][0]


# ----------------------------------------------------------------- check_oracle (exactrev.oracle_check)
@pytest.mark.parametrize("name, fn, arithmetic", [
    ("float tanh", lambda x: float_net(x, math.tanh), "float"),
    ("float softplus", lambda x: float_net(x, softplus), "float"),
    ("float noise 1e-6", FLOAT_BOXES["noise 1e-6"][0], "float"),
    ("float noise 1e-3", FLOAT_BOXES["noise 1e-3"][0], "float"),
    ("mpmath tanh", lambda x: float_net(x, math.tanh), "mpmath"),
    ("exact tanh", EXACT_NOT_PL["tanh rounded to a Fraction"], "exact"),
    ("exact noise", EXACT_NOT_PL["ReLU net plus 2^-60 noise"], "exact"),
    ("exact square activation", lambda x: exact_net(x, lambda z: z * z), "exact"),
])
def test_check_oracle_names_a_function_that_is_not_piecewise_linear(name, fn, arithmetic):
    with pytest.raises(OracleError, match="the oracle is not piecewise linear: at [1-4] of 4 random points"):
        check_oracle(Oracle(fn, 3, 1, arithmetic=arithmetic), seed=0)


def test_check_oracle_names_answers_that_change_between_calls():
    with pytest.raises(OracleError, match="answered the same query twice with different outputs"):
        check_oracle(Oracle(FLOAT_BOXES["fresh noise per call"][0], 3, 1, arithmetic="float"))


@pytest.mark.parametrize("arithmetic, grid", [("exact", Fraction(1, 1024)), ("exact", 1), ("float", 1), ("mpmath", 1)])
def test_check_oracle_names_outputs_quantised_on_a_grid(arithmetic, grid):
    """Rounded to a grid, NET is constant near every point yet differs between points: a jump, not a slope."""
    net = exact_net if arithmetic == "exact" else float_net

    def fn(x):
        return [round(v / grid) * grid for v in net(x)]
    step = re.escape(f"{float(grid):.17g}")                # one grid step
    with pytest.raises(OracleError, match=rf"locally constant at 4 of 4 random points, yet its values differ .* "
                                          rf"jumps by \[-?{step}\], unchanged over the last"):
        check_oracle(Oracle(fn, 3, 1, arithmetic=arithmetic, dps=30), seed=0)


def ramp(width: Fraction) -> Network:
    """x -> min(relu(x0 + x1 + x2), width): two flat levels joined by a ramp of the given width."""
    return Network([[[Fraction(1)] * 3, [Fraction(1)] * 3], [[Fraction(1), Fraction(-1)]]],
                   [[Fraction(0), -width], [Fraction(0)]])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10 ** 6), bits=st.integers(0, 24), arithmetic=st.sampled_from(["exact", "float"]))
def test_check_oracle_accepts_a_network_that_is_flat_almost_everywhere(seed, bits, arithmetic):
    """Flat at the random points with different values, but continuous: the bisection sees the ramp."""
    check_oracle(Oracle.from_network(ramp(Fraction(1, 2 ** bits)), arithmetic), seed=seed)


def test_the_jump_bisection_runs_on_a_flat_network_and_passes():
    oracle = Oracle.from_network(ramp(Fraction(1, 2 ** 24)))
    assert check_oracle(oracle, seed=1) == 2 * 4 + 2 * 4 * len(EXACT_SCALES) + JUMP_HALVINGS


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10 ** 6), n_in=st.integers(1, 5), hidden=st.lists(st.integers(1, 8), min_size=1, max_size=3),
       n_out=st.integers(1, 3), arithmetic=st.sampled_from(["exact", "float", "mpmath"]))
def test_check_oracle_accepts_genuine_relu_networks(seed, n_in, hidden, n_out, arithmetic):
    net = random_network([n_in, *hidden, n_out], seed=seed)
    oracle = Oracle.from_network(net, arithmetic, dps=30)
    assert check_oracle(oracle, seed=seed) == oracle.queries > 0


@pytest.mark.parametrize("case", degenerate.catalogue(), ids=lambda c: c.name)
def test_check_oracle_accepts_the_degenerate_catalogue(case):
    for arithmetic in ("exact", "float"):
        check_oracle(Oracle.from_network(case.network, arithmetic))


def test_check_oracle_lets_piecewise_linear_impostors_through_to_extraction():
    """Leaky ReLU and max-pooling are piecewise linear: the check cannot see them (extraction's exact solves
    do, see test_exact_piecewise_linear_impostors_end_partial), and it respects the budget."""
    check_oracle(Oracle(lambda x: exact_net(x, lambda z: z if z > 0 else z / 100), 3, 1))
    check_oracle(Oracle(maxpool, 3, 1))
    with pytest.raises(BudgetExceeded):
        check_oracle(Oracle.from_network(NET, budget=5))

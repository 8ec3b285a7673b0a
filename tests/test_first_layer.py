"""Algorithm 1: the first layer recovered exactly (up to order, scale and sign) from an exact oracle."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from exactrev import Network, Oracle, extract_first_layer, random_network
from exactrev.arith import normalise


def target_planes(net: Network, rows=None) -> set[tuple]:
    rows = range(len(net.weights[0])) if rows is None else rows
    out = set()
    for i in rows:
        w, b = normalise(list(net.weights[0][i]), net.biases[0][i])
        out.add(tuple(w) + (b,))
    return out


def layer2_all_active_somewhere(net, seed: int) -> bool:
    """Every second-layer neuron is positive at one of 3000 exact sample points (scales 1..100)."""
    rng = np.random.default_rng(seed)
    pts = (rng.normal(size=(3000, net.input_dim)) * rng.choice([1, 10, 100], size=(3000, 1))).tolist()
    pre = net.preactivations_batch(pts)
    return all(any(p[1][j] > 0 for p in pre) for j in range(net.widths[2]))


def found_planes(result, truth: set[tuple]) -> set[tuple]:
    """Found planes, each flipped to the target's sign when that makes it a target plane."""
    out = set()
    for w, b in result.hyperplanes:
        assert max(max(abs(v) for v in w), abs(b)) == 1
        v = tuple(w) + (b,)
        out.add(v if v in truth else tuple(-x for x in v))
    return out


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 100_000), n_in=st.integers(3, 6), n1=st.integers(3, 8), n2=st.integers(8, 10),
       n_out=st.integers(1, 3))
def test_small_networks_exactly(seed, n_in, n1, n2, n_out):
    """Wide enough second layers keep every hyperplane visible far away, where TestHyperplane probes.
    (Narrower ones — or a second layer with dead neurons, found by CI at seed 212, 6-4-8-2 — can hide a
    hyperplane there; `extract` then recovers it from a flat boundary walk, and soundness is
    test_never_a_wrong_hyperplane's job.)"""
    net = random_network([n_in, n1, n2, n_out], seed=seed)
    assume(layer2_all_active_somewhere(net, seed))
    oracle = Oracle.from_network(net)
    result = extract_first_layer(oracle, seed=seed)
    truth = target_planes(net)
    assert found_planes(result, truth) == truth
    assert len(result.hyperplanes) == n1
    assert result.queries == oracle.queries
    assert all(isinstance(v, Fraction) for w, b in result.hyperplanes for v in (*w, b))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 100_000), shape=st.lists(st.integers(2, 8), min_size=3, max_size=5))
def test_never_a_wrong_hyperplane(seed, shape):
    """Narrow layers may hide a neuron far away; whatever is reported is still exactly right."""
    net = random_network(shape, seed=seed)
    result = extract_first_layer(Oracle.from_network(net), seed=seed)
    truth = target_planes(net)
    assert found_planes(result, truth) <= truth


@pytest.mark.parametrize("widths", [[10, 20, 20, 1], [10, 10, 10, 10, 1], [8, 16, 16, 3], [20, 40, 1]])
def test_issue_networks_exactly(widths):
    net = random_network(widths, seed=1)
    result = extract_first_layer(Oracle.from_network(net), seed=1)
    truth = target_planes(net)
    assert found_planes(result, truth) == truth and result.undecided == []
    # the points left for deeper layers are not on any first-layer hyperplane
    for bp in result.deeper_points:
        assert all(sum(a * x for a, x in zip(w, bp.x)) + b != 0 for w, b in zip(net.weights[0], net.biases[0]))


@pytest.mark.parametrize("mode,bound", [("float", 1e-10), ("mpmath", 1e-20)])
def test_rounded_oracles_report_small_errors(mode, bound):
    net = random_network([10, 20, 20, 1], seed=2)
    result = extract_first_layer(Oracle.from_network(net, mode, dps=40), seed=2)
    truth = [[float(v) for v in p] for p in target_planes(net)]
    assert len(result.hyperplanes) == len(truth)
    for w, b in result.hyperplanes:
        v = [float(c) for c in (*w, b)]
        err = min(max(abs(s * a - t) for a, t in zip(v, row)) for row in truth for s in (1, -1))
        assert err < bound


def test_budget_exhaustion_is_reported_not_raised():
    net = random_network([6, 8, 8, 1], seed=3)
    oracle = Oracle.from_network(net, budget=100)
    result = extract_first_layer(oracle, seed=3)
    assert result.queries <= 100
    assert any("budget" in u["reason"] for u in result.undecided)
    assert found_planes(result, target_planes(net)) <= target_planes(net)


def test_duplicate_and_dead_neurons():
    """Two neurons with one hyperplane are found once; a neuron nothing downstream sees is not found."""
    base = random_network([4, 6, 8, 1], seed=4)
    w1 = [list(r) for r in base.weights[0]]
    b1 = list(base.biases[0])
    w1[1], b1[1] = [2 * v for v in w1[0]], 2 * b1[0]            # neuron 1 duplicates neuron 0's hyperplane
    w2 = [list(r) for r in base.weights[1]]
    for row in w2:
        row[5] = Fraction(0)                                     # neuron 5 feeds nothing
    net = Network([w1, w2, base.weights[2]], [b1, base.biases[1], base.biases[2]])
    result = extract_first_layer(Oracle.from_network(net), seed=4)
    truth = target_planes(net, [0, 2, 3, 4])
    assert found_planes(result, truth) == truth


def test_deterministic_in_seed():
    net = random_network([5, 6, 6, 2], seed=5)
    a = extract_first_layer(Oracle.from_network(net), seed=9)
    b = extract_first_layer(Oracle.from_network(net), seed=9)
    assert a.hyperplanes == b.hyperplanes and a.queries == b.queries

"""Canonical form under permutation and positive scaling of hidden neurons (spec: network-format.md)."""

from __future__ import annotations

import random
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

import exactrev as er
from exactrev import Network, canonical_form, isomorphic, random_isomorphic_twin, random_network

LAW = settings(max_examples=25, deadline=None)
widths_st = st.lists(st.integers(1, 6), min_size=3, max_size=5)
seeds = st.integers(0, 2**32 - 1)


def random_points(n: int, count: int, seed: int) -> list[list[Fraction]]:
    rng = random.Random(seed)
    return [[Fraction(rng.randint(-10**6, 10**6), rng.randint(1, 10**4)) for _ in range(n)] for _ in range(count)]


@LAW
@given(widths_st, seeds, seeds)
def test_invariant_under_permutation_and_positive_scaling(widths: list[int], seed: int, twin_seed: int) -> None:
    net = random_network(widths, seed=seed)
    twin = random_isomorphic_twin(net, seed=twin_seed)
    assert canonical_form(twin) == canonical_form(net)
    assert isomorphic(net, twin) and isomorphic(twin, net)


@LAW
@given(widths_st, seeds)
def test_idempotent(widths: list[int], seed: int) -> None:
    c = canonical_form(random_network(widths, seed=seed))
    assert canonical_form(c) == c


@LAW
@given(widths_st, seeds, seeds)
def test_canonical_and_twin_compute_the_same_function(widths: list[int], seed: int, twin_seed: int) -> None:
    net = random_network(widths, seed=seed)
    xs = random_points(widths[0], 8, seed)
    expected = net.evaluate_batch(xs)
    assert canonical_form(net).evaluate_batch(xs) == expected
    assert random_isomorphic_twin(net, seed=twin_seed).evaluate_batch(xs) == expected


@LAW
@given(widths_st, seeds)
def test_spec_normalisation_and_order(widths: list[int], seed: int) -> None:
    net = random_network(widths, seed=seed)
    c = canonical_form(net)
    assert c.widths[0] == net.widths[0] and c.widths[-1] == net.widths[-1]
    for w, b in zip(c.weights[:-1], c.biases[:-1]):
        keys = [(list(row), bi) for row, bi in zip(w, b)]
        assert keys == sorted(keys)                                  # increasing lexicographic order
        for row, bi in zip(w, b):
            assert max(max(abs(v) for v in row), abs(bi)) == 1      # max-abs scaling to exactly 1
    assert c.biases[-1] == net.biases[-1]                            # output layer is not scaled


def test_all_zero_neuron_is_dropped_and_output_layer_untouched() -> None:
    net = Network([[[2, 0], [0, 0], [-1, 4]], [[3, 5, 7], [1, 1, 1]]], [[1, 0, 2], [10, 20]])
    c = canonical_form(net)
    assert c.widths == [2, 2, 2]
    # neuron 0: (2, 0 | 1) / 2 -> (1, 0 | 1/2), outgoing *2;  neuron 2: (-1, 4 | 2) / 4 -> (-1/4, 1 | 1/2), outgoing *4
    assert c.weights[0] == ((Fraction(-1, 4), Fraction(1)), (Fraction(1), Fraction(0)))
    assert c.biases[0] == (Fraction(1, 2), Fraction(1, 2))
    assert c.weights[1] == ((Fraction(28), Fraction(6)), (Fraction(4), Fraction(2)))
    assert c.biases[1] == (Fraction(10), Fraction(20))
    assert net.evaluate_batch(random_points(2, 10, 0)) == c.evaluate_batch(random_points(2, 10, 0))


def test_zero_outgoing_neuron_is_kept_and_dead_layer_is_constant() -> None:
    kept = canonical_form(Network([[[1], [2]], [[0, 1]]], [[0, 1], [0]]))
    assert kept.widths == [1, 2, 1]
    dead = canonical_form(Network([[[0, 0], [0, 0]], [[1, 1]], [[2]]], [[0, 0], [5], [1]]))
    assert dead.widths[0] == 2 and dead([7, -3]) == [Fraction(2 * 5 + 1)]
    assert canonical_form(dead) == dead


def test_not_isomorphic_when_a_parameter_changes() -> None:
    net = random_network([3, 4, 2], seed=5)
    w = [list(map(list, m)) for m in net.weights]
    w[0][1][2] += Fraction(1, 2**60)
    near = Network(w, net.biases)
    assert not isomorphic(net, near)
    negated = Network([[[-v for v in row] for row in net.weights[0]], *net.weights[1:]],
                      [[-v for v in net.biases[0]], *net.biases[1:]])
    assert not isomorphic(net, negated)          # negative scaling is not a symmetry of ReLU


def test_twin_really_permutes_and_scales() -> None:
    net = random_network([4, 6, 5, 1], seed=2)
    twin = random_isomorphic_twin(net, seed=9)
    assert twin != net and twin.widths == net.widths
    assert sorted(map(canonical_row, twin.weights[0])) == sorted(map(canonical_row, net.weights[0]))


def canonical_row(row: tuple[Fraction, ...]) -> tuple[Fraction, ...]:
    scale = max(abs(v) for v in row)
    return tuple(v / scale for v in row)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), twin_seed=st.integers(0, 10**6))
def test_invariance_holds_with_exact_duplicate_neurons(seed, twin_seed):
    """Duplicates tie in the sort; the tie-break must not depend on the input order (found by proofs/)."""
    base = er.random_network([3, 3, 3, 2], seed=seed)
    w1 = [list(r) for r in base.weights[0]] + [list(base.weights[0][0])]       # neuron 0 duplicated
    b1 = list(base.biases[0]) + [base.biases[0][0]]
    w2 = [list(r) + [r[0] * 2 + 1] for r in base.weights[1]]                  # with different outgoing weights
    w3 = [list(r) for r in base.weights[2]]
    w2 = w2 + [list(w2[0])]                                                   # and a duplicate in layer 2 too
    b2 = list(base.biases[1]) + [base.biases[1][0]]
    w3 = [r + [r[0] - 1] for r in w3]
    net = er.Network([w1, w2, w3], [b1, b2, list(base.biases[2])])
    twin = er.random_isomorphic_twin(net, seed=twin_seed)
    assert er.canonical_form(twin) == er.canonical_form(net)

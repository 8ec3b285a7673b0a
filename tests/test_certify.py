"""certify: sound verdicts.  Equivalent only with proof, different only with an exactly re-checked witness."""

from __future__ import annotations

import importlib.util
import itertools
import math
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from flint import fmpq, fmpq_mat
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from exactrev import ExactrevError, Network, certify, random_isomorphic_twin, random_network
from exactrev.lp import Counter, fourier_motzkin, interior_or_empty, is_gordan_certificate, reconstruct_gordan, strictly_inside
from exactrev.numbers import parse_rational
from exactrev.regions import enumerate_regions

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
widths_st = st.builds(lambda n, hidden, out: [n, *hidden, out], st.integers(1, 3),
                      st.lists(st.integers(1, 4), min_size=1, max_size=2), st.integers(1, 2))


def perturbed(net: Network, index: int, delta: Fraction) -> Network:
    """`net` with its index-th parameter (weights then bias, layer by layer) moved by delta."""
    weights = [list(map(list, w)) for w in net.weights]
    biases = [list(b) for b in net.biases]
    slots = [(k, i, j) for k, w in enumerate(weights) for i in range(len(w)) for j in range(len(w[0]) + 1)]
    k, i, j = slots[index % len(slots)]
    if j < len(weights[k][0]):
        weights[k][i][j] += delta
    else:
        biases[k][i] += delta
    return Network(weights, biases)


def differs_somewhere(a: Network, b: Network, rng: random.Random) -> bool:
    """Ground truth independent of certify: exact evaluation at many random points."""
    pts = [[Fraction(rng.randint(-4096, 4096), 256) for _ in range(a.input_dim)] for _ in range(400)]
    return a.evaluate_batch(pts) != b.evaluate_batch(pts)


def assert_witness(cert, a: Network, b: Network, tol: Fraction = Fraction(0)) -> None:
    assert cert.verdict == "different" and cert.witness is not None
    ya, yb = a(cert.witness), b(cert.witness)
    assert max(abs(u - v) for u, v in zip(ya, yb)) > tol
    assert (ya, yb) == cert.outputs


@SETTINGS
@given(widths_st, st.integers(0, 10_000))
def test_isomorphic_twins_are_proven_equivalent_by_regions(widths, seed):
    a = random_network(widths, seed=seed, bits=6)
    b = random_isomorphic_twin(a, seed=seed + 1)
    assert certify(a, b).verdict == "equivalent"
    cert = certify(a, b, try_canonical=False, samples=0)
    assert (cert.verdict, cert.method, cert.complete) == ("equivalent", "regions", True)
    assert cert.regions >= 1


@SETTINGS
@given(widths_st, st.integers(0, 10_000), st.integers(0, 10_000))
def test_a_change_of_two_to_the_minus_60_is_found_with_a_verified_witness(widths, seed, index):
    a = random_network(widths, seed=seed, bits=6)
    b = perturbed(random_isomorphic_twin(a, seed=seed), index, Fraction(1, 2 ** 60))
    truth = differs_somewhere(a, b, random.Random(seed))
    for cert in (certify(a, b), certify(a, b, try_canonical=False, samples=0)):
        assert cert.verdict != "unknown"
        if truth:
            assert_witness(cert, a, b)
        if cert.verdict == "different":
            assert_witness(cert, a, b)


@SETTINGS
@given(widths_st, st.integers(0, 10_000))
def test_output_bias_change_is_never_called_equivalent(widths, seed):
    a = random_network(widths, seed=seed, bits=6)
    b = perturbed(a, -1, Fraction(1, 2 ** 60))          # the last output bias: differs everywhere
    cert = certify(a, b, try_canonical=False, samples=0)
    assert_witness(cert, a, b)
    assert cert.method == "regions"


def bump_pair(n: int = 10, far: int = 10 ** 6, eps: Fraction = Fraction(1, 10 ** 6), seed: int = 0):
    """Two 10-20-20-1 networks that differ only within l1-distance eps of a point ~far from 0.

    Layer 1 holds +-(x_i - c_i); layer-2 neuron 1 is eps - |x - c|_1 (active only near c), the
    others relay ReLU(x_i - c_i); the networks differ only in that neuron's outgoing weight.
    """
    rng = random.Random(seed)
    c = [Fraction(rng.randint(-far, far)) + Fraction(rng.randint(0, 2 ** 20), 2 ** 20) for _ in range(n)]
    w1, b1 = [], []
    for i in range(n):
        e = [Fraction(int(i == j)) for j in range(n)]
        w1 += [e, [-v for v in e]]
        b1 += [-c[i], c[i]]
    w2 = [[Fraction(-1)] * (2 * n)] + [[Fraction(int(j == k)) for j in range(2 * n)] for k in range(1, 2 * n)]
    b2 = [eps] + [Fraction(0)] * (2 * n - 1)
    out = [Fraction(rng.randint(-4, 4), 4) for _ in range(2 * n - 1)]
    a = Network([w1, w2, [[Fraction(1)] + out]], [b1, b2, [Fraction(0)]])
    b = Network([w1, w2, [[Fraction(2)] + out]], [b1, b2, [Fraction(0)]])
    return a, b, c


def test_difference_in_a_tiny_region_far_from_the_origin_is_found_without_a_box():
    a, b, c = bump_pair()
    assert a.widths == [10, 20, 20, 1]
    far_from_c = [v + 1 for v in c]
    assert a(far_from_c) == b(far_from_c) and a(c) != b(c)
    for cert in (certify(a, b), certify(a, b, samples=0)):
        assert_witness(cert, a, b)
        assert sum(abs(x - y) for x, y in zip(cert.witness, c)) < Fraction(1, 10 ** 6)


@pytest.mark.slow
def test_bump_network_equivalence_is_proven_over_all_of_r10():
    a, _, _ = bump_pair()
    weights = [list(map(list, w)) for w in a.weights]
    weights[2][0][1] = Fraction(0)                     # neuron 2 of layer 2 now has no effect ...
    a0 = Network(weights, a.biases)
    weights[1][1] = [Fraction(3)] * 20                 # ... so its incoming row can change
    cert = certify(a0, Network(weights, a.biases))
    assert (cert.verdict, cert.method) == ("equivalent", "regions")
    assert cert.regions >= 2 ** 10


def test_tolerance_proves_a_bound_or_finds_a_point_above_it():
    a = random_network([2, 5, 4, 1], seed=3, bits=10)
    b = perturbed(a, 7, Fraction(1, 2 ** 20))
    box = [(-1, 1), (-1, 1)]
    assert certify(a, b, box=box, samples=0).verdict == "different"
    proven = certify(a, b, box=box, tolerance=Fraction(1, 2 ** 10), samples=0)
    assert (proven.verdict, proven.method) == ("equivalent", "regions")
    bigger = perturbed(a, 7, Fraction(1, 4))
    tight = Fraction(1, 2 ** 30)
    cert = certify(a, bigger, box=box, tolerance=tight, samples=0)
    assert_witness(cert, a, bigger, tight)
    assert all(-1 <= v <= 1 for v in cert.witness)


def test_box_restricts_the_question():
    # A ReLU(x - 2) term changes nothing on [-1, 1]: equivalent there, different on R.
    a = Network([[[1], [1]], [[1, 0]]], [[0, -2], [0]])
    b = Network([[[1], [1]], [[1, 5]]], [[0, -2], [0]])
    assert certify(a, b, box=[(-1, 1)]).verdict == "equivalent"
    assert certify(a, b, box=[(-1, 1)], samples=0).method == "regions"
    cert = certify(a, b, samples=0)
    assert_witness(cert, a, b)
    assert cert.witness[0] > 2
    # A degenerate box (lo == hi in one coordinate) is handled by fixing that coordinate.
    a2 = Network([[[1, 1], [1, -1]], [[1, 0]]], [[0, -2], [0]])
    b2 = Network([[[1, 1], [1, -1]], [[1, 5]]], [[0, -2], [0]])
    assert certify(a2, b2, box=[(-1, 1), (0, 0)]).verdict == "equivalent"
    cert = certify(a2, b2, box=[(-1, 5), (0, 0)])
    assert_witness(cert, a2, b2)
    assert cert.witness[1] == 0


def test_limit_gives_unknown_with_coverage():
    a = random_network([2, 6, 6, 1], seed=4, bits=8)
    b = random_isomorphic_twin(a, seed=9)
    cert = certify(a, b, try_canonical=False, samples=0, limit=3)
    assert (cert.verdict, cert.regions, cert.complete) == ("unknown", 3, False)
    assert "limit" in cert.reason and cert.witness is None
    assert cert.to_dict()["open_branches"] >= 1


def test_bad_input_is_an_error_not_a_verdict():
    a = random_network([2, 3, 1], seed=0)
    with pytest.raises(ExactrevError, match="inputs"):
        certify(a, random_network([3, 3, 1], seed=0))
    with pytest.raises(ExactrevError, match="outputs"):
        certify(a, random_network([2, 3, 2], seed=0))
    with pytest.raises(ExactrevError, match="needs a box"):
        certify(a, a, tolerance="1/2")
    with pytest.raises(ExactrevError, match="negative"):
        certify(a, a, box=[(0, 1)] * 2, tolerance=-1)
    with pytest.raises(ExactrevError, match="lo"):
        certify(a, a, box=[(1, 0), (0, 1)])
    with pytest.raises(ExactrevError, match="intervals"):
        certify(a, a, box=[(0, 1)] * 3)


def test_certificate_dict_holds_exact_witness_strings():
    a = Network([[[1]], [[1]]], [[0], [0]])
    b = Network([[[1]], [[1]]], [[0], [Fraction(1, 3)]])
    d = certify(a, b).to_dict()
    assert d["verdict"] == "different" and d["method"] in ("sampling", "regions")
    x = [parse_rational(s) for s in d["witness"]]
    assert a(x) != b(x)
    assert {"reason", "regions", "lps", "seconds"} <= set(d)


def test_exact_lp_helpers_reject_what_does_not_hold():
    q = fmpq
    # x < 0 and -x < -1 (x > 1): empty; a wrong multiplier vector must be rejected.
    system = [((q(1),), q(0)), ((q(-1),), q(-1))]
    y = reconstruct_gordan(system, np.array([1.0, 1.0]))
    assert y is not None and is_gordan_certificate(system, y)
    assert not is_gordan_certificate(system, [q(1), q(2)])
    # x < 1 and -x < 0 is feasible: no certificate can verify.
    feasible = [((q(1),), q(1)), ((q(-1),), q(0))]
    assert reconstruct_gordan(feasible, np.array([1.0, 1.0])) is None
    assert strictly_inside(feasible, (q(1, 2),)) and not strictly_inside(feasible, (q(1),))


def _fuzz_module():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz_certify.py"
    spec = importlib.util.spec_from_file_location("fuzz_certify", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("pairs, seed", [(60, 7), pytest.param(2000, 1, marks=pytest.mark.slow)])
def test_fuzz_pairs_with_independently_known_truth(pairs, seed):
    summary = _fuzz_module().run(pairs, seed)
    assert summary["violations"] == []
    verdicts = summary["counts"]
    # Pairs equal by construction are proven equal (never unknown on these small networks).
    assert not any(k.endswith("/equal/unknown") or k.endswith("/equal/different") for k in verdicts)
    assert not any(k.endswith("/differs/equivalent") or k.endswith("/differs/unknown") for k in verdicts)


def test_wedges_at_an_angle_of_two_to_the_minus_60_are_decided_exactly():
    q = fmpq
    eps = q(1, 2 ** 60)
    # 0 < x2 < eps * x1: a real (unbounded) wedge that float64 cannot see.
    wedge = [((q(0), q(-1)), q(0)), ((-eps, q(1)), q(0))]
    kind, x = interior_or_empty(wedge, 2, (q(0), q(0)), q(1), Counter())
    assert kind == "point" and strictly_inside(wedge, x)
    # ... and with x1 < 0 it is empty, with a verified Gordan certificate.
    closed = wedge + [((q(1), q(0)), q(0))]
    kind, y = interior_or_empty(closed, 2, (q(0), q(0)), q(1), Counter())
    assert kind == "empty" and is_gordan_certificate(closed, y)
    assert fourier_motzkin(closed, 2)[0] == "empty"


@settings(max_examples=6, deadline=None)
@given(st.integers(2, 3), st.integers(1, 6), st.integers(0, 10_000))
def test_enumeration_counts_the_regions_of_a_hyperplane_arrangement(n, k, seed):
    # k hyperplanes in general position cut R^n into sum_{i<=n} C(k, i) regions (Zaslavsky / Buck).
    rng = random.Random(seed)
    rows = [[Fraction(rng.randint(-50, 50), 7) for _ in range(n + 1)] for _ in range(k)]
    normals = fmpq_mat([[fmpq(v.numerator, v.denominator) for v in r[:n]] for r in rows])
    augmented = fmpq_mat([[fmpq(v.numerator, v.denominator) for v in r] for r in rows])
    for size, mat in ((min(n, k), normals), (n + 1, augmented)):
        for subset in itertools.combinations(range(k), size):
            assume(fmpq_mat([[mat[i, j] for j in range(mat.ncols())] for i in subset]).rank() == size)
    net = Network([[r[:n] for r in rows], [[Fraction(1)] * k]], [[r[n] for r in rows], [Fraction(0)]])
    leaves = []
    stats = enumerate_regions([net], leaves.append)
    assert stats.complete and stats.unproven == 0
    assert stats.regions == sum(math.comb(k, i) for i in range(n + 1))
    assert len({leaf.patterns[0][0] for leaf in leaves}) == stats.regions
    for leaf in leaves:                   # each interior point really has the leaf's activation pattern
        pre = net.preactivations_batch([leaf.point])[0][0]
        assert tuple(1 if v > 0 else -1 for v in pre) == leaf.patterns[0][0]


def test_progress_callback_reports_growing_region_counts():
    """certify's progress hook (used for the CLI's progress bar) sees the enumeration advance."""
    a = random_network([2, 6, 6, 1], seed=11)
    seen = []
    cert = certify(a, random_isomorphic_twin(a, seed=1), try_canonical=False, samples=0,
                      progress=lambda **f: seen.append(f["regions"]))
    assert cert.verdict == "equivalent" and seen and seen == sorted(seen) and seen[-1] <= cert.regions

"""PointsOnLine, Jacobians, rank-one jumps and ClosestBoundary against networks whose truth we can compute."""

from __future__ import annotations

import random
from fractions import Fraction

from flint import fmpq_mat
from hypothesis import assume, given, settings, strategies as st

from exactrev import Network, Oracle, random_network
from exactrev.arith import Arith
from exactrev.deeper_layers import KnownLayer, PartialNetwork
from exactrev.numbers import to_fmpq
from exactrev.geometry import (RECENT, Evaluator, Line, geometric_grid, jacobian_at, jacobian_in_span, points_on_line,
                               points_on_line_predicted, rank_one_normal)


def true_jacobian(net, x):
    """The exact output Jacobian of `net` at x (x inside a linear region)."""
    pre = net.preactivations_batch([x])[0]
    jac = [[Fraction(int(i == j)) for j in range(net.input_dim)] for i in range(net.input_dim)]
    for k, (w, _) in enumerate(zip(net.weights, net.biases)):
        jac = [[sum(w[i][m] * jac[m][j] for m in range(len(jac))) for j in range(net.input_dim)] for i in range(len(w))]
        if k < len(net.weights) - 1:
            jac = [row if pre[k][i] > 0 else [Fraction(0)] * net.input_dim for i, row in enumerate(jac)]
    return jac


def random_line(rng: random.Random, n: int) -> Line:
    return Line(tuple(Fraction(rng.randint(-64, 64), 64) for _ in range(n)),
                tuple(Fraction(rng.randint(1, 64) * rng.choice((-1, 1)), 64) for _ in range(n)))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 5), depth=st.integers(1, 3), n_out=st.integers(1, 3))
def test_kinks_are_exact_and_regions_affine(seed, n_in, depth, n_out):
    """(With the starting grid the extraction uses; a bump narrower than the grid spacing that the random
    interior checks miss could still hide, see points_on_line.)"""
    rng = random.Random(seed)
    net = random_network([n_in] + [rng.randint(2, 6) for _ in range(depth)] + [n_out], seed=seed)
    ev = Evaluator(Oracle.from_network(net), Arith("exact"))
    line = random_line(rng, n_in)
    scan = points_on_line(ev, line, Fraction(-64), Fraction(64), grid=geometric_grid(Fraction(64), Arith("exact")))
    assert scan.unresolved == []
    # every kink is exactly on some neuron's boundary
    for kink, pre in zip(scan.kinks, net.preactivations_batch([k.x for k in scan.kinks])):
        assert any(v == 0 for layer in pre[:-1] for v in layer)
    # between kinks the output is exactly the region's affine piece (no kink missed)
    for lo, hi, piece in scan.regions:
        ts = [lo + (hi - lo) * Fraction(rng.randint(1, 99), 100) for _ in range(4)]
        assert net.evaluate_batch([line.at(t) for t in ts]) == [piece.at(t) for t in ts]


def test_two_close_kinks_are_separated():
    # f(t) = relu(t) - 2 relu(t - 1e-30) + relu(t - 3e-30): three kinks within 3e-30
    eps = Fraction(1, 10 ** 30)
    net = Network([[[1], [1], [1]], [[1, -2, 1]]], [[0, -eps, -3 * eps], [0]])
    ev = Evaluator(Oracle.from_network(net), Arith("exact"))
    scan = points_on_line(ev, Line((Fraction(0),), (Fraction(1),)), Fraction(-1), Fraction(1))
    assert [k.t for k in scan.kinks] == [0, eps, 3 * eps]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 6), n_out=st.integers(1, 3))
def test_jacobian_matches_truth(seed, n_in, n_out):
    rng = random.Random(seed)
    net = random_network([n_in, 5, 4, n_out], seed=seed)
    ev = Evaluator(Oracle.from_network(net), Arith("exact"))
    x = [Fraction(rng.randint(-100, 100), 37) for _ in range(n_in)]
    d = [Fraction(rng.randint(1, 9), 7) for _ in range(n_in)]
    truth = true_jacobian(net, x)
    slope = [sum(r * di for r, di in zip(row, d)) for row in truth]
    jac = jacobian_at(ev, x, net(x), d, slope, Fraction(1, 2 ** 30))
    assert jac == truth


def test_jacobian_check_rejects_a_wrong_slope():
    net = random_network([3, 5, 1], seed=1)
    ev = Evaluator(Oracle.from_network(net), Arith("exact"))
    x = [Fraction(1, 3), Fraction(-1, 5), Fraction(2)]
    assert jacobian_at(ev, x, net(x), [1, 0, 0], [Fraction(12345)], Fraction(1, 2 ** 20), retries=2) is None


def test_rank_one_normal():
    ar = Arith("exact")
    u, n = [Fraction(2), Fraction(-3)], [Fraction(1, 2), Fraction(5), Fraction(-1)]
    jump = [[a * b for b in n] for a in u]
    got_u, got_n = rank_one_normal(jump, ar)
    assert [[a * b for b in got_n] for a in got_u] == jump
    jump[1][0] += 1
    assert rank_one_normal(jump, ar) is None
    assert rank_one_normal([[Fraction(0)] * 3], ar) is None


def first_layer_crossings(net, line, lo, hi):
    """The t where `line` crosses each first-layer hyperplane of `net` inside (lo, hi)."""
    out = []
    for w, b in zip(net.weights[0], net.biases[0]):
        wd = sum(a * c for a, c in zip(w, line.d))
        if wd:
            t = -(sum(a * c for a, c in zip(w, line.p)) + b) / wd
            if lo < t < hi:
                out.append(t)
    return out


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 5))
def test_predicted_kinks_are_found_exactly(seed, n_in):
    """With the first layer's crossings predicted exactly, the scan (split halfway between them) still finds
    exact kinks only, every first-layer kink the unpredicted scan finds, and affine pieces between them.
    With a float oracle the same predictions (rounded) leave no interval unresolved and put every kink
    within 1e-9 max(1, |t|) of one of the exact scan's: the rounding of x = p + t d grows with |t|, and a kink
    with a small slope jump far out is located less precisely (seed 905, n_in 2: 1.0e-9 at t = 43; over 1,355
    examples the largest error was 1.0e-10 max(1, |t|))."""
    rng = random.Random(seed)
    net = random_network([n_in, 6, 5, 2], seed=seed)
    line = random_line(rng, n_in)
    lo, hi = Fraction(-64), Fraction(64)
    grid = geometric_grid(Fraction(8), Arith("exact"))
    expected = first_layer_crossings(net, line, lo, hi)
    plain, scan = [points_on_line(Evaluator(Oracle.from_network(net), Arith("exact")), line, lo, hi, grid=grid,
                                  rng=random.Random(seed), expected=e) for e in ([], expected)]
    assert scan.unresolved == []
    pre = net.preactivations_batch([k.x for k in scan.kinks])
    assert all(any(v == 0 for layer in p[:-1] for v in layer) for p in pre)
    assert {k.t for k in plain.kinks if k.t in expected} <= {k.t for k in scan.kinks}
    for a, b, piece in scan.regions:
        ts = [a + (b - a) * Fraction(rng.randint(1, 99), 100) for _ in range(3)]
        assert net.evaluate_batch([line.at(t) for t in ts]) == [piece.at(t) for t in ts]
    fline = Line(tuple(float(v) for v in line.p), tuple(float(v) for v in line.d))
    rounded = points_on_line(Evaluator(Oracle.from_network(net, "float"), Arith("float")), fline, -64.0, 64.0,
                             grid=[float(g) for g in grid], rng=random.Random(seed),
                             expected=[float(t) for t in expected])
    assert rounded.unresolved == []
    assert all(min(abs(k.t - float(e.t)) for e in plain.kinks + scan.kinks) < 1e-9 * max(1.0, abs(k.t))
               for k in rounded.kinks)


def network_knots(net: Network, line: Line, lo: Fraction, hi: Fraction) -> list[Fraction]:
    """Every t in (lo, hi) where a hidden preactivation of `net` changes sign along `line`."""
    known = PartialNetwork(net.input_dim, [KnownLayer([[to_fmpq(v) for v in row] for row in w],
                                                      [to_fmpq(v) for v in b], True)
                                           for w, b in zip(net.weights[:-1], net.biases[:-1])])
    q = [to_fmpq(v) for v in line.p], [to_fmpq(v) for v in line.d]
    return [Fraction(int(t.p), int(t.q)) for t in known.knots_on_line(*q, to_fmpq(lo), to_fmpq(hi))[1:-1]]


def damaged(net: Network, rng: random.Random, how: str) -> Network:
    """`net` with one hidden neuron dropped, or with one hidden bias moved by 1/7: a wrong prediction."""
    weights, biases = [[list(r) for r in w] for w in net.weights], [list(b) for b in net.biases]
    k = rng.randrange(len(weights) - 1)
    i = rng.randrange(len(weights[k]))
    if how == "shift" or len(weights[k]) == 1:
        biases[k][i] += Fraction(1, 7)
    else:
        del weights[k][i], biases[k][i]
        for row in weights[k + 1]:
            del row[i]
    return Network(weights, biases)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 5), depth=st.integers(1, 3), n_out=st.integers(1, 3),
       how=st.sampled_from(["same", "drop", "shift"]))
def test_a_scan_with_every_kink_predicted_finds_what_the_plain_scan_finds(seed, n_in, depth, n_out, how):
    """points_on_line_predicted (verification lines) finds the plain scan's kinks and pieces exactly, whether the
    network predicting them is the target itself or has a neuron missing or a bias moved; with the target's own
    prediction it asks f at each predicted kink, one point between each two and the two end pieces only."""
    rng = random.Random(seed)
    net = random_network([n_in] + [rng.randint(2, 6) for _ in range(depth)] + [n_out], seed=seed)
    line = random_line(rng, n_in)
    lo, hi = Fraction(-64), Fraction(64)
    knots = network_knots(net if how == "same" else damaged(net, rng, how), line, lo, hi)
    oracle = Oracle.from_network(net)
    plain = points_on_line(Evaluator(oracle, Arith("exact")), line, lo, hi,
                           grid=geometric_grid(Fraction(64), Arith("exact")))
    before = oracle.queries
    scan = points_on_line_predicted(Evaluator(oracle, Arith("exact")), line, lo, hi, knots, random.Random(seed))
    assert scan.unresolved == []
    assert [k.t for k in scan.kinks] == [k.t for k in plain.kinks]
    for (a, b, piece), (_, _, expected) in zip(scan.regions, plain.regions):
        t = a + (b - a) / 3
        assert piece.at(t) == expected.at(t) == net.evaluate_batch([line.at(t)])[0]
    if how == "same":
        assert oracle.queries - before <= 2 * len(knots) + 5


def test_an_exact_evaluator_asks_a_recent_point_once_and_a_rounding_one_every_time():
    """Exact answers at the last RECENT points are remembered (a point asked twice in one batch is asked once);
    older ones are asked again, and with rounding every point is asked."""
    net = random_network([3, 5, 1], seed=2)
    pts = [[Fraction(i, 7), Fraction(-i, 3), Fraction(1, i + 1)] for i in range(RECENT + 1)]
    for mode, first, again in (("exact", 2, 0), ("float", 3, 2)):
        oracle = Oracle.from_network(net, mode)
        ev = Evaluator(oracle, Arith(mode))
        ys = ev.points([pts[0], pts[1], pts[0]])
        assert oracle.queries == first and ys[0] == ys[2] and ys[0] is not ys[2]
        assert ev.points([pts[1], pts[0]]) == [ys[1], ys[0]] and oracle.queries == first + again
    ev = Evaluator(Oracle.from_network(net), Arith("exact"))
    p0, p1 = ev.points(pts[:2])
    ev.points(pts[2:])                       # RECENT - 1 points more: the oldest, pts[0], is forgotten
    before = ev.queries
    assert ev.points([pts[1]]) == [p1] and ev.queries == before
    assert ev.points([pts[0]]) == [p0] and ev.queries == before + 1



def test_a_jacobian_in_the_span_of_the_active_first_layer_normals_is_exact_and_cheaper():
    """Steps along the normals of the first-layer neurons on at x give the region's exact Jacobian with one query
    per normal and one check (fewer than n_in); without the normal of one neuron on there, the matrix is the
    same where the Jacobian is still in the span and None otherwise (never another matrix)."""
    outcomes = set()
    for seed in range(24):
        rng = random.Random(seed)
        n_in = rng.randint(8, 14)
        net = random_network([n_in, 5, 4, rng.randint(1, 3)], seed=seed)
        x = [Fraction(rng.randint(-256, 256), 64) for _ in range(n_in)]
        pre = net.preactivations_batch([x])[0]
        on = [list(row) for row, v in zip(net.weights[0], pre[0]) if v > 0]
        if not on or any(v == 0 for layer in pre for v in layer):
            continue
        jac = true_jacobian(net, x)
        d = [Fraction(rng.randint(-8, 8), 8) for _ in range(n_in)]
        slope = [sum(a * b for a, b in zip(row, d)) for row in jac]
        h = Fraction(1, 2 ** 30)
        oracle = Oracle.from_network(net)
        ev = Evaluator(oracle, Arith("exact"))
        assert jacobian_in_span(ev, x, net(x), d, slope, h, on) == jac
        assert oracle.queries == len(on) + 1
        fewer = on[1:] or [d]                  # without the first neuron on at x
        inside = _rank(fewer + jac) == _rank(fewer)
        assert jacobian_in_span(ev, x, net(x), d, slope, h, fewer) == (jac if inside else None)
        outcomes.add(inside)
    assert False in outcomes


def _rank(rows: list) -> int:
    return fmpq_mat([[to_fmpq(v) for v in row] for row in rows]).rank()

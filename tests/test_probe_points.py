"""Probe points: where extraction's final check and certify's falsification look for differences."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings, strategies as st

from exactrev import Network, random_network
from exactrev.probe_points import aimed_directions, region_representatives

DATA = Path(__file__).parent / "data"


def without_output_weight(net: Network, neuron: int) -> Network:
    """`net` with the last hidden layer's `neuron` cut off from the (first) output."""
    weights = [[list(row) for row in layer] for layer in net.weights]
    weights[-1][0][neuron] = Fraction(0)
    return Network(weights, net.biases)


def test_one_point_per_region_sees_a_neuron_active_only_in_a_narrow_far_cone():
    """4-6-6-6-1 seed 5: layer-3 neuron 2 is active only in a cone far out (about 1 in 200 random points there),
    on whole small regions of layers 1-2.  A network without it once passed extraction's check of 256 random
    points; one point near and one far in each region of the network that lacks it sees it on every seed."""
    net = random_network([4, 6, 6, 6, 1], seed=5)
    lacking = without_output_weight(net, 2)
    for seed in range(20):
        pts = region_representatives(lacking, 768, random.Random(seed))
        assert net.evaluate_batch(pts) != lacking.evaluate_batch(pts), seed


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), width=st.integers(1, 6), neuron=st.integers(0, 5), sign=st.sampled_from([1, -1]))
def test_aimed_directions_point_where_a_row_of_one_neuron_falls_and_grows_fastest(seed, width, neuron, sign):
    """Over a one-layer network in the plane, the row picking one neuron (times +-1) grows fastest along that
    neuron's normal, where relu(a.d) is largest, and falls fastest there when negated: the directions aimed for
    the extreme must be within a few of 4096 random directions' spacing of it."""
    net = random_network([2, width, 1], seed=seed)
    neuron %= width
    row = [Fraction(sign * (i == neuron)) for i in range(width)]
    low, high = aimed_directions(net, 1, row, 4096.0, 4096, random.Random(seed))
    a = [float(v) for v in net.weights[0][neuron]]
    best = high if sign == 1 else low
    cos = (a[0] * float(best[0]) + a[1] * float(best[1])) / (math.hypot(*a) * math.hypot(*map(float, best)))
    assert cos > 0.9999


def test_regions_are_chosen_with_every_pattern_of_the_last_layer_first():
    """5-8-8-8-1 seed 10, as an extraction once recovered it: two layer-3 neurons missing, the fit making up for
    them except in 17 of its 2,858 regions of layers 1-2, every region where layer 2 is all off among them.
    Extraction's 768 random regions missed all 17 (and it said complete).  Choosing one region per pattern of
    layer 2 first (103 patterns), 128 points see the difference on every seed (a random 128 missed it on 3 of
    these 10)."""
    net = random_network([5, 8, 8, 8, 1], seed=10)
    recovered = Network.load(str(DATA / "recovered_5-8-8-8-1_seed10.json"))
    for seed in range(10):
        pts = region_representatives(recovered, 128, random.Random(seed))
        assert len(pts) == 128 and net.evaluate_batch(pts) != recovered.evaluate_batch(pts), seed


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(2, 5), width=st.integers(2, 6), count=st.integers(1, 300))
def test_representatives_are_exact_dyadic_points_at_most_count_in_distinct_regions(seed, n_in, width, count):
    """At most `count` points, each an exact dyadic input; with room for all, the first-layer patterns of the
    points are as many as a plain sample of the same candidates shows at least (one point per region found)."""
    net = random_network([n_in, width, 1], seed=seed)
    pts = region_representatives(net, count, random.Random(seed))
    assert 0 < len(pts) <= count
    assert all(len(x) == n_in and all(v.denominator & (v.denominator - 1) == 0 for v in x) for x in pts)
    patterns = {tuple(v > 0 for v in p[0]) for p in net.preactivations_batch(pts)}
    if len(pts) < count:
        assert len(patterns) >= len(pts) // 2


def test_a_far_disagreement_is_moved_in_to_where_a_line_through_it_meets_the_missing_boundary():
    """6-5-5-2 seed 17 without layer-2 neuron 2 differs from it only where that neuron is active; the final
    check's point that disagrees may lie 2^40 out, where a line of the usual length crosses no boundary at
    all.  Halved while it still disagrees, it comes in to where such a line meets B_(2,2) of the target."""
    import importlib
    from flint import fmpq
    from exactrev import Oracle
    from exactrev.first_layer import LINE_HALF_LENGTH
    from exactrev.geometry import Line, points_on_line
    extraction = importlib.import_module("exactrev.extract").Extraction
    net = random_network([6, 5, 5, 2], seed=17)
    weights = [[list(row) for row in layer] for layer in net.weights]
    biases = [list(b) for b in net.biases]
    del weights[1][2], biases[1][2]
    for row in weights[2]:
        del row[2]
    lacking = Network(weights, biases)
    run = extraction(Oracle.from_network(net), seed=0)
    rng = random.Random(0)
    far = [[fmpq(rng.randint(-2 ** 20, 2 ** 20), 2 ** 20) * 2 ** 40 for _ in range(6)] for _ in range(400)]
    differ = [x for x, a, b in zip(far, net.evaluate_batch(far), lacking.evaluate_batch(far)) if a != b]
    assert len(differ) >= 3
    for x in differ[:3]:
        y = run.closer_disagreement(lacking, x)
        assert net([*y]) != lacking([*y]) and max(abs(v) for v in y) < 2 ** 12
        line = Line(tuple(y), tuple(fmpq(rng.randint(-64, 64), 64) for _ in range(6)))
        half = fmpq(LINE_HALF_LENGTH)
        kinks = points_on_line(run.dev, line, -half, half, rng=rng).kinks
        assert any(p[1][2] == 0 for p in net.preactivations_batch([k.x for k in kinks]))

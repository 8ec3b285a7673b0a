"""exactrev.Network: exact parameters, file round trip, exact/mpmath/float evaluation, construction errors."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exactrev import ExactrevError, FormatError, Network, Oracle, random_network
from exactrev.numbers import to_fraction, to_mpf

LAW = settings(max_examples=25, deadline=None)
small_widths = st.lists(st.integers(1, 6), min_size=2, max_size=5)
seeds = st.integers(0, 2**32 - 1)
small_rationals = st.fractions(min_value=-50, max_value=50, max_denominator=1000)
any_coordinate = st.one_of(small_rationals, st.integers(-2**66, 2**66), st.fractions(max_denominator=2**40),
                           st.floats(-1e6, 1e6), st.integers(-2**62, 2**62).map(lambda v: Fraction(v, 3)))


def slow_eval(net: Network, x: list) -> list[Fraction]:
    """The definition of N(x), with Fractions and Python loops only (the reference)."""
    h = [to_fraction(v) for v in x]
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        h = [sum((wij * hj for wij, hj in zip(row, h)), Fraction(0)) + bi for row, bi in zip(w, b)]
        if k < len(net.weights) - 1:
            h = [max(v, Fraction(0)) for v in h]
    return h


def points(draw: st.DrawFn, n: int, count: int) -> list[list[Fraction]]:
    return [draw(st.lists(small_rationals, min_size=n, max_size=n)) for _ in range(count)]


@st.composite
def net_and_points(draw: st.DrawFn) -> tuple[Network, list[list[Fraction]]]:
    widths = draw(small_widths)
    net = random_network(widths, seed=draw(seeds), bits=draw(st.integers(0, 30)))
    return net, points(draw, widths[0], draw(st.integers(1, 6)))


@LAW
@given(net_and_points())
def test_exact_evaluation_matches_fraction_reference(case: tuple[Network, list]) -> None:
    net, xs = case
    assert net.evaluate_batch(xs) == [slow_eval(net, x) for x in xs]


@settings(max_examples=40, deadline=None)
@given(small_widths, seeds, st.integers(0, 60), st.data())
def test_exact_evaluation_is_exact_on_any_mix_of_number_sizes(widths: list[int], seed: int, bits: int, data) -> None:
    net = random_network(widths, seed=seed, bits=bits)
    xs = data.draw(st.lists(st.lists(any_coordinate, min_size=widths[0], max_size=widths[0]), min_size=1, max_size=5))
    assert net.evaluate_batch(xs) == [slow_eval(net, x) for x in xs]


@LAW
@given(net_and_points())
def test_batch_equals_one_by_one(case: tuple[Network, list]) -> None:
    net, xs = case
    assert net.evaluate_batch(xs) == [net(x) for x in xs]
    assert all(type(v) is Fraction for y in net.evaluate_batch(xs) for v in y)


@LAW
@given(net_and_points())
def test_preactivations_are_the_layer_sums(case: tuple[Network, list]) -> None:
    net, xs = case
    for x, layers in zip(xs, net.preactivations_batch(xs)):
        h = [to_fraction(v) for v in x]
        assert len(layers) == len(net.weights)
        for k, (w, b) in enumerate(zip(net.weights, net.biases)):
            z = [sum((wij * hj for wij, hj in zip(row, h)), Fraction(0)) + bi for row, bi in zip(w, b)]
            assert layers[k] == z
            h = [max(v, Fraction(0)) for v in z]
        assert layers[-1] == net(x)


def magnitude(net: Network, x: list) -> list[Fraction]:
    """|W_L| ... (|W_1| |x| + |b_1|) ... + |b_L|: the scale of the rounding error of any forward pass."""
    h = [abs(to_fraction(v)) for v in x]
    for w, b in zip(net.weights, net.biases):
        h = [sum((abs(wij) * hj for wij, hj in zip(row, h)), Fraction(0)) + abs(bi) for row, bi in zip(w, b)]
    return h


def mpmath_eval(net: Network, x: list, dps: int) -> list:
    with mpmath.workdps(dps):
        h = [to_mpf(v, dps) for v in x]
        for k, (w, b) in enumerate(zip(net.weights, net.biases)):
            h = [mpmath.fsum(to_mpf(wij, dps) * hj for wij, hj in zip(row, h)) + to_mpf(bi, dps)
                 for row, bi in zip(w, b)]
            if k < len(net.weights) - 1:
                h = [max(v, 0) for v in h]
        return h


@LAW
@given(net_and_points())
def test_float64_and_mpmath_agree_within_their_precision(case: tuple[Network, list]) -> None:
    """Both stay within (a few ulps per operation) x the magnitude bound of the exact value."""
    net, xs = case
    exact = net.evaluate_batch(xs)
    approx = net.evaluate_float(np.array([[float(v) for v in x] for x in xs]))
    for x, y, yf in zip(xs, exact, approx):
        bound = magnitude(net, x)
        ym = mpmath_eval(net, x, 50)
        for i, v in enumerate(y):
            assert abs(Fraction(float(yf[i])) - v) <= Fraction(1, 10**13) * bound[i]
            assert abs(to_fraction(ym[i]) - v) <= Fraction(1, 10**47) * bound[i]


def test_evaluation_reads_every_number_type_exactly() -> None:
    net = Network([[["1/3", 0.5, np.float32(0.1)]], [[2]]], [[0], ["1/7"]])
    x = [3, "1/2", Fraction(-1, 4)]
    expected = 2 * max(Fraction(1, 3) * 3 + Fraction(1, 2) * Fraction(1, 2) + Fraction(13421773, 2**27) * Fraction(-1, 4), 0) \
        + Fraction(1, 7)
    assert net(x) == [expected]
    assert net([3, 0.5, -0.25]) == [expected]          # floats as their exact dyadic values
    assert net(np.array([3, 0.5, -0.25], dtype=np.float32)) == [expected]
    assert net.evaluate_batch(np.array([[3, 0.5, -0.25]], dtype=np.float64)) == [[expected]]


@pytest.mark.parametrize("x", [[2**63, -2**63, 1], [2**200, 3, -5], [Fraction(1, 3**40), 2**-60, 7]])
def test_evaluation_is_exact_for_huge_and_tiny_inputs(x: list) -> None:
    net = random_network([3, 5, 4, 2], seed=3)
    assert net(x) == slow_eval(net, x)


def test_wide_first_layer_fast_path_is_exact() -> None:
    net = random_network([784, 16, 1], seed=0, bits=24)
    rng = np.random.default_rng(1)
    xs = [[Fraction(int(v), 2**24) for v in rng.integers(-2**24, 2**24, 784)] for _ in range(3)]
    xs.append([int(v) for v in rng.integers(-2**40, 2**40, 784)])
    xs.append(rng.normal(size=784).tolist())
    assert net.evaluate_batch(xs) == [slow_eval(net, x) for x in xs]


@LAW
@given(small_widths, seeds, st.integers(0, 40))
def test_save_load_round_trip_is_exact(tmp_path_factory: pytest.TempPathFactory, widths: list[int], seed: int,
                                       bits: int) -> None:
    net = random_network(widths, seed=seed, bits=bits)
    path = tmp_path_factory.mktemp("rt") / "net.json"
    net.save(path)
    back = Network.load(path)
    assert back == net and back.weights == net.weights and back.biases == net.biases
    assert back.widths == widths == net.widths
    data = json.loads(path.read_text())
    assert data["format"] == "exactrev-network" and data["version"] == 1
    for layer, w, b in zip(data["layers"], net.weights, net.biases):
        assert layer["weight"] == [[_lowest(v) for v in row] for row in w]
        assert layer["bias"] == [_lowest(v) for v in b]


def _lowest(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def test_load_reads_spec_example_and_json_numbers_exactly(tmp_path: Path) -> None:
    spec = {"format": "exactrev-network", "version": 1,
            "layers": [{"weight": [["1/2", "-3/4"], ["5", "0"], ["-1/8", "7/16"]], "bias": ["0", "-1/3", "2"]},
                       {"weight": [["1", "-2", "3/5"]], "bias": ["1/7"]}],
            "meta": {"anything": "free-form, optional"}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    net = Network.load(path)
    assert net.widths == [2, 3, 1] and net.num_params == 13
    assert net.meta == {"anything": "free-form, optional"}
    assert net([0, 0]) == [Fraction(1, 7) + Fraction(3, 5) * 2]
    path.write_text('{"format": "exactrev-network", "version": 1, "layers": '
                    '[{"weight": [[0.1, -1.5e-3, 3]], "bias": [12345678901234567890123]}]}')
    net = Network.load(path)
    assert net.weights[0][0] == (Fraction(1, 10), Fraction(-3, 2000), Fraction(3))
    assert net.biases[0][0] == 12345678901234567890123


def test_widths_and_param_counts() -> None:
    net = random_network([10, 20, 20, 1], seed=1)
    assert net.widths == [10, 20, 20, 1]
    assert net.num_params == 11 * 20 + 21 * 20 + 21 * 1
    assert net.num_hidden == 40 and net.input_dim == 10 and net.output_dim == 1


def test_random_network_is_deterministic_dyadic_and_he_scaled() -> None:
    a = random_network([50, 400, 3], seed=7, bits=20)
    assert a == random_network([50, 400, 3], seed=7, bits=20) != random_network([50, 400, 3], seed=8, bits=20)
    values = [v for w in a.weights for row in w for v in row] + [v for b in a.biases for v in b]
    assert all((v * 2**20).denominator == 1 for v in values)
    w1 = np.array([[float(v) for v in row] for row in a.weights[0]])
    assert abs(w1.var() - 2 / 50) < 0.1 * 2 / 50         # He: variance 2 / fan-in
    assert abs(np.array([float(v) for v in a.biases[0]]).var() - 1) < 0.2


@LAW
@given(st.lists(st.lists(st.floats(-1e6, 1e6, width=32), min_size=3, max_size=3), min_size=2, max_size=4),
       st.lists(st.floats(-10, 10), min_size=2, max_size=4))
def test_from_arrays_reads_floats_exactly(rows: list[list[float]], out: list[float]) -> None:
    w1 = np.array(rows, dtype=np.float32)
    b1 = np.zeros(len(rows), dtype=np.float32)
    w2 = np.array([out[:len(rows)] + [0.0] * (len(rows) - len(out[:len(rows)]))])
    net = Network.from_arrays([w1, w2], [b1, np.array([0.5])])
    assert net.weights[0] == tuple(tuple(Fraction(float(v)) for v in row) for row in w1)
    assert net.weights[1][0] == tuple(Fraction(float(v)) for v in w2[0])
    assert net.widths == [3, len(rows), 1]
    nested = Network.from_arrays([w1.tolist(), w2.tolist()], [b1.tolist(), [0.5]])
    assert nested == net


@pytest.mark.parametrize("weights, biases, where", [
    ([], [], "at least one layer"),
    ([[[1]]], [], "1 weight matrices but 0 bias"),
    ([[]], [[]], "layers[0].weight is empty"),
    ([[[]]], [[0]], "0 inputs"),
    ([[[1, 2], [3]]], [[0, 0]], "layers[0].weight[1] has 1 columns, expected 2"),
    ([[[1, 2]], [[1, 2]]], [[0], [0]], "layers[1].weight[0] has 2 columns, expected 1"),
    ([[[1]], []], [[0], []], "layers[1].weight is empty"),
    ([[[1, "x"]]], [[0]], "layers[0].weight[0][1]"),
    ([[[1, True]]], [[0]], "layers[0].weight[0][1]: True is a boolean"),
    ([[[1, float("nan")]]], [[0]], "layers[0].weight[0][1]: nan is not finite"),
    ([[[1, [2]]]], [[0]], "layers[0].weight[0][1]"),
    ([[[1, 2]]], [[0, 1]], "layers[0].bias has 2 entries, expected 1"),
    ([[[1, 2]]], ["0"], "layers[0].bias: expected a list"),
    ([[[1, 2]]], [[None]], "layers[0].bias[0]"),
    ([["12"]], [[0]], "layers[0].weight[0]: expected a list"),
])
def test_construction_errors_name_the_location(weights: list, biases: list, where: str) -> None:
    with pytest.raises(ExactrevError) as err:
        Network(weights, biases, source="t.json")
    assert where in str(err.value) and str(err.value).startswith("t.json")


def test_bad_points_are_exactrev_errors() -> None:
    net = random_network([2, 3, 1], seed=0)
    for bad, where in [([1], "input 0 has 1 coordinates"), ([1, "x"], "input 0, coordinate 1"),
                       ([1, float("inf")], "input 0, coordinate 1"), (5, "not a sequence")]:
        with pytest.raises(ExactrevError, match=where.replace("(", r"\(")):
            net.evaluate_batch([bad])
    with pytest.raises(FormatError):
        Network.load("/nonexistent/net.json")


def test_meta_survives_a_round_trip_even_with_json_numbers(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text('{"format": "exactrev-network", "version": 1, "layers": [{"weight": [["1"]], "bias": ["0"]}], '
                    '"meta": {"accuracy": 0.98, "epochs": 3, "note": "x", "odd": NaN}}')
    net = Network.load(path)
    net.save(tmp_path / "copy.json")
    meta = json.loads((tmp_path / "copy.json").read_text())["meta"]
    assert meta == {"accuracy": 0.98, "epochs": 3, "note": "x", "odd": "NaN"}
    assert Network.load(tmp_path / "copy.json") == net


@pytest.mark.parametrize("kwargs, message", [
    ({"widths": [3]}, "at least an input and an output"), ({"widths": [3, 0, 1]}, "entry 1"),
    ({"widths": [3, 2.5, 1]}, "entry 1"), ({"widths": [3, "4", 1]}, "entry 1"), ({"widths": [3, True]}, "entry 1"),
    ({"widths": [10**4, 10**4, 1]}, "parameters"), ({"bits": -1}, "bits"), ({"bits": 10**5}, "bits"),
    ({"seed": -3}, "seed"), ({"seed": "1"}, "seed"),
])
def test_random_network_refuses_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ExactrevError, match=message):
        random_network(**{"widths": [3, 4, 1], **kwargs})


def test_flint_rational_inputs_give_the_same_exact_outputs_as_fractions():
    """The fmpq fast path (used by exact oracles) reads p/q without loss."""
    from flint import fmpq
    net = random_network([4, 5, 2], seed=9)
    pts = [[Fraction(-7, 3), Fraction(5, 2**40), Fraction(0), Fraction(11)], [Fraction(1, 6)] * 4]
    assert net.evaluate_batch([[fmpq(v.numerator, v.denominator) for v in p] for p in pts]) == net.evaluate_batch(pts)
    oracle = Oracle.from_network(net)
    assert oracle.batch([[fmpq(v.numerator, v.denominator) for v in p] for p in pts]) == net.evaluate_batch(pts)


@LAW
@given(net_and_points(), st.data())
def test_removing_idle_neurons_keeps_the_function_and_every_neuron_with_an_outgoing_weight(
        case: tuple[Network, list], data: st.DataObject) -> None:
    net, xs = case
    weights = [[list(row) for row in w] for w in net.weights]
    for k in range(1, len(weights)):         # zero some columns: neurons of layer k that nothing reads
        for i in range(len(weights[k][0])):
            if data.draw(st.booleans()):
                for row in weights[k]:
                    row[i] = 0
    idle_net = Network(weights, net.biases)
    pruned, removed = idle_net.without_idle_neurons()
    assert all(slow_eval(pruned, x) == slow_eval(idle_net, x) for x in xs)
    assert sum(pruned.widths[1:-1]) == idle_net.num_hidden - len(removed)
    assert all(width >= 1 for width in pruned.widths)
    last = len(weights) - 1
    assert all(all(row[i] == 0 for row in idle_net.weights[k]) for k, i in removed if k == last)
    for k in range(1, len(pruned.weights)):  # what is left is read by the layer above, unless it is alone
        for i in range(len(pruned.weights[k][0])):
            assert any(row[i] != 0 for row in pruned.weights[k]) or len(pruned.weights[k][0]) == 1

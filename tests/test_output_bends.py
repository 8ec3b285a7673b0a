"""Last-layer weights that no walk measured, recovered from the output's bends (exactrev.output_bends)."""

from __future__ import annotations

import random

from flint import fmpq
from hypothesis import given, settings, strategies as st

from exactrev import Oracle, random_network
from exactrev.arith import Arith
from exactrev.deeper_layers import PartialNetwork
from exactrev.geometry import Evaluator
from exactrev.numbers import to_fmpq
from target_layers import target_layers
from exactrev.output_bends import weights_from_line_kinks, weights_from_output_bends


def _known_without(net, missing):
    """The target's hidden layers exactly, with the last layer's weights `missing` set to 0."""
    layers = target_layers(net)
    for z, j in missing:
        layers[-1].rows[z][j] = fmpq(0)
    out_w = [list(map(to_fmpq, r)) for r in net.weights[-1]]
    return PartialNetwork(net.input_dim, layers), out_w


def _recover(net, missing, seed, how=weights_from_output_bends):
    known, out_w = _known_without(net, missing)
    oracle = Oracle.from_network(net)
    found = how(Evaluator(oracle, Arith("exact", fmpq_backend=how is weights_from_output_bends)), known, out_w,
                missing, random.Random(seed))
    return found, oracle.queries


def test_an_unmeasured_weight_is_recovered_exactly_from_the_output():
    net = random_network([3, 5, 4, 2], seed=2)
    missing = [(1, 3), (2, 0)]
    found, queries = _recover(net, missing, seed=0)
    assert found == {(z, j): to_fmpq(net.weights[-2][z][j]) for z, j in missing}
    assert 0 < queries < 400


def test_a_weight_is_recovered_exactly_from_kinks_of_b_z_where_j_is_on():
    net = random_network([3, 5, 4, 2], seed=2)
    missing = [(1, 3), (2, 0)]
    found, queries = _recover(net, missing, 0, weights_from_line_kinks)
    assert found == {(z, j): to_fmpq(net.weights[-2][z][j]) for z, j in missing}
    assert 0 < queries < 2000


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10 ** 6), shape=st.sampled_from([[2, 4, 3, 1], [3, 5, 4, 2], [3, 4, 4, 3, 1]]),
       how=st.sampled_from([weights_from_output_bends, weights_from_line_kinks]), data=st.data())
def test_output_bends_never_give_a_wrong_weight(seed, shape, how, data):
    """Whatever either method returns is the target's weight exactly (it may find nothing: z never active on
    B_j, or B_z never crossed where j is on)."""
    net = random_network(shape, seed=seed)
    pairs = [(z, j) for z in range(shape[-2]) for j in range(shape[-3])]
    missing = data.draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=3, unique=True))
    found, _ = _recover(net, missing, seed, how)
    assert set(found) <= set(missing)
    assert all(w == to_fmpq(net.weights[-2][z][j]) for (z, j), w in found.items())


def test_weights_seen_only_in_combination_get_one_solution_that_gives_the_same_function():
    """3-6-6-6-2 seed 4: wherever layer-2 neuron 3 is on (near 0 only), layer-3 neurons 0, 1 and 5 are all on
    and 2, 4 all off, so the output's bends across B_3 show only two combinations (one per output) of W_03,
    W_13, W_53 (W_33 is fixed: neuron 3 is on at some of those points only).  One solution is taken, flagged
    as not fixed; the function is the target's.  weights_from_output_bends gives nothing there."""
    from exactrev import Network, certify
    from exactrev.output_bends import weights_up_to_combination
    net = random_network([3, 6, 6, 6, 2], seed=4)
    missing = [(z, 3) for z in range(6)]
    known, out_w = _known_without(net, missing)
    found = weights_up_to_combination(Evaluator(Oracle.from_network(net), Arith("exact", fmpq_backend=True)),
                                      known, out_w, missing, random.Random(0))
    assert sorted(found) == [(0, 3), (1, 3), (3, 3), (5, 3)]
    assert found[(3, 3)] == (to_fmpq(net.weights[2][3][3]), True)        # neuron 3 is on only on part of it
    assert not all(found[(z, 3)][1] for z in (0, 1, 5))
    for (z, j), (w, _) in found.items():
        known.layers[-1].rows[z][j] = w
    weights = [layer.rows for layer in known.layers] + [net.weights[-1]]
    biases = [layer.bias for layer in known.layers] + [net.biases[-1]]
    assert certify(net, Network(weights, biases)).verdict == "equivalent"
    assert weights_from_output_bends(Evaluator(Oracle.from_network(net), Arith("exact", fmpq_backend=True)),
                                     _known_without(net, missing)[0], out_w, missing, random.Random(0)) == {}


def test_a_weight_that_matters_only_beside_an_edge_of_the_first_layer_is_found_there():
    """3-6-6-6-2 seed 8: layer-3 neuron 4 is on where layer-2 neuron 4 is only in a sliver beside B_4 near
    where two first-layer planes meet (certify's witness once had h_4 = 3e-5 there).  Random lines through B_4
    never meet that piece; the search around the points where B_4 crosses edges of the first-layer arrangement
    does, and its bends give W_44 exactly.  Every point it offers lies exactly on B_4 with z's formula > 0."""
    from exactrev.output_bends import _points_near_edges
    net = random_network([3, 6, 6, 6, 2], seed=8)
    found, _ = _recover(net, [(4, 4)], seed=0)
    assert found == {(4, 4): to_fmpq(net.weights[2][4][4])}
    known, _ = _known_without(net, [(4, 4)])
    points = list(_points_near_edges(known, 4, [4], random.Random(1)))
    assert points
    for x in points:
        below, last = known.values(x)[-2], known.values(x)[-1]
        assert below[4] == 0 and last[4] > 0

"""compare: zero error exactly for isomorphic networks, the right size of error for a perturbed one."""

from fractions import Fraction

from hypothesis import given, settings, strategies as st

import exactrev as er
from exactrev.compare import hyperplane_error, layer_errors


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), twin_seed=st.integers(0, 10**6))
def test_isomorphic_twin_has_zero_error_in_every_layer(seed, twin_seed):
    net = er.random_network([4, 5, 3, 2], seed=seed)
    errors = layer_errors(er.random_isomorphic_twin(net, seed=twin_seed), net)
    assert [(e.weight, e.bias) for e in errors] == [(0.0, 0.0)] * 3


def test_a_perturbation_shows_in_its_layer_only():
    net = er.random_network([5, 6, 4, 2], seed=1)
    w = [list(r) for r in net.weights[1]]
    w[2][1] += Fraction(1, 2**30)
    errors = layer_errors(er.Network([net.weights[0], w, net.weights[2]], net.biases), net)
    assert errors[0].weight == 0.0 and errors[2].bias == 0.0
    assert 1e-12 < errors[1].weight < 1e-8


def test_hyperplanes_are_compared_up_to_sign_and_scale_and_widths_must_match():
    net = er.random_network([3, 4, 1], seed=3)
    flipped = [([-2 * v for v in row], -2 * b) for row, b in zip(net.weights[0], net.biases[0])]
    assert hyperplane_error(flipped[::-1], net).log10 == float("-inf")
    assert hyperplane_error(flipped[:3], net).weight is None
    assert layer_errors(er.random_network([3, 5, 1], seed=3), net)[0].log10 is None

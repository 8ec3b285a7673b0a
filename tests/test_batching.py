"""Batching changes speed, never results: a batched oracle and a one-point oracle of the same target
give the same recovered network, the same query count and the same queries, in the same order."""

from __future__ import annotations

import pytest

from exactrev import Oracle, canonical_form, extract, extract_first_layer, random_network
from exactrev.numbers import to_fraction


def oracles(widths: list[int], seed: int, mode: str) -> tuple[Oracle, Oracle]:
    """Oracle.from_network (batched, flint inputs) and a plain one-point black box of the same network."""
    net = random_network(widths, seed=seed)
    batched = Oracle.from_network(net, mode, record=True)
    single = Oracle.from_network(net, mode)
    one_point = Oracle(lambda x: single.batch([x])[0], net.input_dim, net.output_dim, mode, record=True)
    return batched, one_point


def queried(oracle: Oracle) -> list[list]:
    """The oracle's logged inputs as Fractions (a network oracle is sent flint rationals, a black box Fractions)."""
    return [[to_fraction(v) for v in x] for x in oracle.log]


@pytest.mark.parametrize("widths,seed", [([3, 5, 1], 0), ([4, 6, 3, 2], 1)])
def test_extract_batched_equals_unbatched(widths: list[int], seed: int) -> None:
    batched, one_point = oracles(widths, seed, "exact")
    a = extract(batched, seed=seed)
    b = extract(one_point, seed=seed)
    assert a.status == b.status == "complete"
    assert a.network == b.network
    assert canonical_form(a.network) == canonical_form(random_network(widths, seed=seed))
    assert a.queries == b.queries == batched.queries == one_point.queries
    assert [s.queries for s in a.layers] == [s.queries for s in b.layers]
    assert queried(batched) == queried(one_point)


def test_first_layer_float_batched_equals_unbatched() -> None:
    batched, one_point = oracles([6, 8, 1], 2, "float")
    a = extract_first_layer(batched, seed=2)
    b = extract_first_layer(one_point, seed=2)
    assert a.hyperplanes == b.hyperplanes and len(a.hyperplanes) == 8
    assert a.queries == b.queries == batched.queries == one_point.queries
    assert queried(batched) == queried(one_point)

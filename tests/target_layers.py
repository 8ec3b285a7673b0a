"""The target's hidden layers as exact KnownLayers: what the extraction would know had it recovered them."""

from __future__ import annotations

from exactrev import Network
from exactrev.deeper_layers import KnownLayer
from exactrev.numbers import to_fmpq


def target_layers(net: Network, count: int | None = None, last_fixed: bool = True) -> list[KnownLayer]:
    """Hidden layers 1..count of `net` (all by default), exactly; every one fixed (signs known), the last
    only if `last_fixed` (a layer whose signs the next one must still solve)."""
    count = len(net.weights) - 1 if count is None else count
    return [KnownLayer([list(map(to_fmpq, r)) for r in net.weights[i]], list(map(to_fmpq, net.biases[i])),
                       last_fixed or i < count - 1)
            for i in range(count)]

"""Random networks as in the paper's experiments: He initialisation, rounded to a dyadic grid."""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np

from .errors import ExactrevError
from .network import Network


def parse_widths(text: str) -> list[int]:
    """"10-20-20-1" -> [10, 20, 20, 1], with a clear error for anything else."""
    parts = text.split("-")
    try:
        widths = [int(p) for p in parts]
    except ValueError:
        raise ExactrevError(f"widths {text!r}: expected positive integers joined by '-', e.g. 10-20-20-1") from None
    validate_widths(widths)
    return widths


def validate_widths(widths: Sequence[int]) -> None:
    if len(widths) < 2:
        raise ExactrevError(f"widths {list(widths)}: need at least an input and an output width")
    for i, w in enumerate(widths):
        if int(w) != w or w < 1:
            raise ExactrevError(f"widths {list(widths)}: entry {i} is {w!r}; every width must be a positive integer")


def random_network(widths: Sequence[int], seed: int = 0, bits: int = 24) -> Network:
    """He-initialised network: weights ~ N(0, 2/fan_in), biases ~ N(0, 1), each rounded to a multiple of 2**-bits.

    Deterministic in `seed`; the values are exact dyadic rationals.
    """
    validate_widths(widths)
    if bits < 0:
        raise ExactrevError(f"bits={bits}: must be >= 0")
    rng = np.random.default_rng(seed)
    scale = 2 ** bits
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
        b = rng.normal(0.0, 1.0, size=fan_out)
        weights.append([[Fraction(int(v), scale) for v in row] for row in np.rint(w * scale)])
        biases.append([Fraction(int(v), scale) for v in np.rint(b * scale)])
    return Network(weights, biases, {"generator": "random_network", "seed": seed, "bits": bits})

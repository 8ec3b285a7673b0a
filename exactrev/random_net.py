"""Random networks as in the paper's experiments: He initialisation, rounded to a dyadic grid."""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np

from .errors import ExactrevError
from .network import Network
from .numbers import shown


# random_network refuses more parameters than this (as exact Fractions they would take gigabytes).
MAX_PARAMS = 2_000_000
MAX_BITS = 512


def parse_widths(text: str) -> list[int]:
    """"10-20-20-1" -> [10, 20, 20, 1], with a clear error for anything else."""
    parts = text.split("-")
    if not all(p.isascii() and p.isdigit() and len(p) <= 12 for p in parts):
        raise ExactrevError(f"widths {shown(text)}: expected positive integers joined by '-', e.g. 10-20-20-1")
    widths = [int(p) for p in parts]
    validate_widths(widths)
    return widths


def validate_widths(widths: Sequence[int]) -> None:
    """At least two widths, each a positive integer, and at most MAX_PARAMS parameters in all."""
    if len(widths) < 2:
        raise ExactrevError(f"widths {shown(list(widths))}: need at least an input and an output width")
    for i, w in enumerate(widths):
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
            raise ExactrevError(f"widths: entry {i} is {shown(w)}; every width must be a positive integer")
    params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    if params > MAX_PARAMS:
        raise ExactrevError(f"widths {'-'.join(map(str, widths))}: {params} parameters, more than the "
                            f"{MAX_PARAMS} a random exact network may have")


def random_network(widths: Sequence[int], seed: int = 0, bits: int = 24) -> Network:
    """He-initialised network: weights ~ N(0, 2/fan_in), biases ~ N(0, 1), each rounded to a multiple of 2**-bits.

    Deterministic in `seed`; the values are exact dyadic rationals.
    """
    validate_widths(widths)
    if isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits <= MAX_BITS:
        raise ExactrevError(f"bits={shown(bits)}: must be an integer from 0 to {MAX_BITS}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ExactrevError(f"seed={shown(seed)}: must be a non-negative integer")
    rng = np.random.default_rng(seed)
    scale = 2 ** bits
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
        b = rng.normal(0.0, 1.0, size=fan_out)
        weights.append([[Fraction(int(v), scale) for v in row] for row in np.rint(w * scale)])
        biases.append([Fraction(int(v), scale) for v in np.rint(b * scale)])
    return Network(weights, biases, {"generator": "random_network", "seed": seed, "bits": bits})

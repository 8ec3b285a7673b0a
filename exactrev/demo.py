"""`exactrev demo`: the first thing a new user runs — a short walk through what exactrev does."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import TextIO

from .canonical import canonical_form, isomorphic, random_isomorphic_twin
from .numbers import format_rational
from .oracle import Oracle
from .random_net import random_network


def run_demo(out: TextIO) -> int:
    """Random network -> exact evaluation -> canonical form -> isomorphic twin; returns exit code 0."""
    net = random_network([2, 5, 5, 1], seed=0)
    out.write(f"A random He-initialised ReLU network, widths {net.widths} ({net.num_params} parameters).\n")
    rng = random.Random(0)
    x = [Fraction(rng.randint(-8, 8), 3) for _ in range(net.input_dim)]
    oracle = Oracle.from_network(net)
    y = oracle(x)
    out.write(f"Exact output at x = ({', '.join(map(format_rational, x))}): {', '.join(map(format_rational, y))}\n")
    twin = random_isomorphic_twin(net, seed=1)
    out.write(f"A permuted and rescaled twin gives the same output exactly: {twin(x) == y}\n")
    out.write(f"Canonical forms agree (isomorphic): {isomorphic(net, twin)}; "
              f"canonical first-layer row 1: {', '.join(map(format_rational, canonical_form(net).weights[0][0]))}\n")
    out.write(f"Queries used: {oracle.queries}\n")
    return 0

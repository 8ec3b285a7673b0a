"""Canonical form under permutation and positive scaling of hidden neurons (spec: network-format.md).

Layer by layer from the first hidden layer: follow the previous layer's order in the columns, drop
all-zero neurons, scale each neuron so max(|incoming weights|, |bias|) == 1, sort neurons
lexicographically by (incoming weights, bias).  Isomorphism generators for tests live here too.
"""

from __future__ import annotations

import random
from fractions import Fraction
from itertools import groupby, islice, permutations, product

from .network import Network


# Exact duplicate neurons tie in step 4; the orderings of tied neurons are searched (up to this many
# combinations per layer) for the lexicographically smallest result, which keeps the form invariant.
MAX_TIE_ORDERINGS = 5040


def canonical_form(net: Network) -> Network:
    """The canonical representative of `net`'s permutation/scaling class (output layer untouched)."""
    weights = [list(map(list, w)) for w in net.weights]
    biases = [list(b) for b in net.biases]
    weights, biases = _canonical_from(weights, biases, 0, net.input_dim)
    return Network(weights, biases, source="canonical form")


Layers = list[list[list[Fraction]]]


def _canonical_from(weights: Layers, biases: list[list[Fraction]], k: int, fan_in: int) -> tuple[Layers, list]:
    """Canonicalise hidden layers k, k+1, ... (layers before k are already canonical)."""
    if k == len(weights) - 1:
        return weights, biases
    w, b, nxt = weights[k], biases[k], weights[k + 1]
    rows = []
    for i in range(len(w)):
        scale = max(max(abs(v) for v in w[i]), abs(b[i]))
        if scale:                                 # step 2: all-zero neurons are dropped
            rows.append(((tuple(v / scale for v in w[i]), b[i] / scale), [row[i] * scale for row in nxt]))
    rows.sort(key=lambda r: r[0])
    if not rows:
        # A layer with no live neuron: the network is constant; keep one zero neuron so widths still chain.
        rows = [(((Fraction(0),) * fan_in, Fraction(0)), [Fraction(0)] * len(nxt))]
    best: tuple[Layers, list] | None = None
    for ordering in _tie_orderings(rows):
        ws = weights[:k] + [[list(r[0][0]) for r in ordering], [[r[1][j] for r in ordering] for j in range(len(nxt))]] \
            + weights[k + 2:]
        bs = biases[:k] + [[r[0][1] for r in ordering]] + biases[k + 1:]
        candidate = _canonical_from(ws, bs, k + 1, len(ordering))
        if best is None or _key(candidate) < _key(best):
            best = candidate
    assert best is not None
    return best


def _tie_orderings(rows: list) -> list[list]:
    """The sorted rows, with every ordering of each group of exactly equal keys (bounded)."""
    groups = [list(g) for _, g in groupby(rows, key=lambda r: r[0])]
    if all(len(g) == 1 for g in groups):
        return [rows]
    choices = [list(permutations(g)) if len(g) > 1 else [tuple(g)] for g in groups]
    out = []
    for combo in islice(product(*choices), MAX_TIE_ORDERINGS):
        out.append([r for group in combo for r in group])
    return out


def _key(layers: tuple[Layers, list]) -> tuple:
    weights, biases = layers
    return tuple(tuple(map(tuple, w)) for w in weights), tuple(map(tuple, biases))


def isomorphic(a: Network, b: Network) -> bool:
    """True when a and b differ only by permutation and positive scaling of hidden neurons (and all-zero neurons).

    False does *not* mean the functions differ: see `exactrev.certify` for the functional question.
    """
    return canonical_form(a) == canonical_form(b)


def random_isomorphic_twin(net: Network, seed: int = 0, max_scale_bits: int = 8) -> Network:
    """A random permutation of each hidden layer and a random positive rational scaling of each hidden neuron."""
    rng = random.Random(seed)
    weights = [list(map(list, w)) for w in net.weights]
    biases = [list(b) for b in net.biases]
    for k in range(len(weights) - 1):
        n = len(weights[k])
        perm = list(range(n))
        rng.shuffle(perm)
        scales = [Fraction(rng.randint(1, 2 ** max_scale_bits), rng.randint(1, 2 ** max_scale_bits)) for _ in range(n)]
        weights[k] = [[v * scales[i] for v in weights[k][i]] for i in perm]
        biases[k] = [biases[k][i] * scales[i] for i in perm]
        weights[k + 1] = [[row[i] / scales[i] for i in perm] for row in weights[k + 1]]
    return Network(weights, biases, source="isomorphic twin")

"""Canonical form under permutation and positive scaling of hidden neurons (spec: network-format.md).

Layer by layer from the first hidden layer: follow the previous layer's order in the columns, drop
all-zero neurons, scale each neuron so max(|incoming weights|, |bias|) == 1, sort neurons
lexicographically by (incoming weights, bias).  Isomorphism generators for tests live here too.
"""

from __future__ import annotations

import random
from fractions import Fraction

from .network import Network


def canonical_form(net: Network) -> Network:
    """The canonical representative of `net`'s permutation/scaling class (output layer untouched)."""
    weights = [list(map(list, w)) for w in net.weights]
    biases = [list(b) for b in net.biases]
    for k in range(len(weights) - 1):          # hidden layers only
        w, b, nxt = weights[k], biases[k], weights[k + 1]
        keep = [i for i in range(len(w)) if any(w[i]) or b[i]]
        rows = []
        for i in keep:
            scale = max(max(abs(v) for v in w[i]), abs(b[i]))
            rows.append(([v / scale for v in w[i]], b[i] / scale, [row[i] * scale for row in nxt]))
        # Ties happen only for exact duplicate neurons, an additional isomorphism outside this form's
        # promise (certify handles it); they fall back on the outgoing column to stay deterministic.
        rows.sort(key=lambda r: (r[0], r[1], sorted(r[2])))
        weights[k] = [r[0] for r in rows]
        biases[k] = [r[1] for r in rows]
        weights[k + 1] = [[r[2][j] for r in rows] for j in range(len(nxt))]
        if not rows:
            # A layer with no live neuron: the network is constant; keep one zero neuron so widths still chain.
            weights[k] = [[Fraction(0)] * len(weights[k - 1] if k else net.weights[0][0])]
            biases[k] = [Fraction(0)]
            weights[k + 1] = [[Fraction(0)] for _ in nxt]
    return Network(weights, biases, source="canonical form")


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

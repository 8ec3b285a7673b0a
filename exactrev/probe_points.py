"""Exact probe points where two piecewise-linear functions are most likely to show a difference:
random points at many scales (up to 2^40, for differences far from the origin), one point in each of
many linear regions (where a neuron one network lacks is active on a whole small region, such as a narrow
cone far out) and the vertices of a first-layer hyperplane arrangement (where a deeper neuron active only
on a small bounded set peaks).

Used by certify (to falsify before enumerating) and by extraction (to check before saying "complete").
"""

from __future__ import annotations

import itertools
import math
import random
import time
from fractions import Fraction
from typing import Sequence

import numpy as np
from flint import fmpq, fmpq_mat

from .network import Network


def _dyadic(v: float, bits: int = 24) -> Fraction:
    return Fraction(round(v * (1 << bits)), 1 << bits)


REGION_CANDIDATES = 4096     # random candidates per scale among which region_representatives picks
_BOX_SCALES = (1, 2, 4, 8, 16, 32)
_GAUSS_SCALES = (1, 4, 32, 1 << 10, 1 << 20, 1 << 40)   # Gaussian sample points: standard deviations


def random_points(n: int, count: int, box: list[tuple[fmpq, fmpq]] | None, rng: random.Random) -> list[list[Fraction]]:
    """Exact sample points: in the box (centre, corners, uniform), or Gaussian at scales 1 .. 2^40 over R^n."""
    pts: list[list[Fraction]] = []
    if box:
        lo = [Fraction(int(l.p), int(l.q)) for l, _ in box]
        hi = [Fraction(int(h.p), int(h.q)) for _, h in box]
        pts.append([(u + v) / 2 for u, v in zip(lo, hi)])
        if n <= 10:
            pts.extend([list(c) for c in itertools.product(*zip(lo, hi))])
        for _ in range(count):
            pts.append([u + (v - u) * Fraction(rng.randint(0, 1 << 20), 1 << 20) for u, v in zip(lo, hi)])
        return pts
    for i in range(count):
        s = _GAUSS_SCALES[i % len(_GAUSS_SCALES)]
        pts.append([_dyadic(rng.gauss(0, 1)) * s for _ in range(n)])
    return pts




def aimed_directions(net: Network, depth: int, row: Sequence[Fraction], reach: float, count: int,
                     rng: random.Random) -> list[list[Fraction]]:
    """Two dyadic directions d, of `count` random unit ones, along which row . h(reach * d) is least and
    greatest, h being the output of `net`'s hidden layer `depth` (float64: a proposal).  A neuron of layer
    depth+1 whose weights are `row` changes sign where row . h meets minus its bias: a nearly always active
    neuron's boundary lies far out in a narrow cone, which lines along these directions reach soonest."""
    d = np.random.default_rng(rng.getrandbits(64)).standard_normal((count, net.input_dim))
    d /= np.linalg.norm(d, axis=1)[:, None]
    g = net.hidden_float(d * reach, depth) @ np.array([float(v) for v in row])
    return [[_dyadic(v, 20) for v in d[i]] for i in (int(np.argmin(g)), int(np.argmax(g)))]


def region_representatives(net: Network, count: int, rng: random.Random) -> list[list[Fraction]]:
    """Exact points, one in each of up to `count` linear regions of `net`'s hidden layers but the last (the
    first if it has one), drawn from REGION_CANDIDATES random dyadic points at each scale: uniform in boxes of
    half-width 1..32 and Gaussian at scales 1..2^40.  A neuron that `net` lacks is often active on whole small
    regions of the layers before it (4-6-6-6-1 seed 5: a narrow cone far out, 1 in 200 random points), which
    uniform points miss but one point per region hits.  Regions are told apart in float64, which only
    proposes points; with more regions than `count`, a choice of them (`_spread`)."""
    gen = np.random.default_rng(rng.getrandbits(64))
    n, depth, bits = net.input_dim, max(1, len(net.weights) - 2), 20
    deepest = len(net.weights[depth - 1])                 # neurons of the last layer of the patterns
    nearest: dict[bytes, tuple[int, np.ndarray, bytes]] = {}
    farthest: dict[bytes, tuple[int, np.ndarray, bytes]] = {}
    for box, scale in [(True, s) for s in _BOX_SCALES] + [(False, s) for s in _GAUSS_SCALES]:
        shape = (REGION_CANDIDATES, n)
        nums = (gen.integers(-1 << bits, 1 << bits, shape, endpoint=True) if box
                else np.rint(gen.standard_normal(shape) * (1 << bits)).astype(np.int64))
        patterns = net.patterns_float(nums * (scale / (1 << bits)), depth)
        keys = map(np.ndarray.tobytes, np.packbits(patterns, axis=1))
        for row, key, last in zip(nums, keys, map(np.ndarray.tobytes, np.packbits(patterns[:, -deepest:], axis=1))):
            nearest.setdefault(key, (scale, row, last))
            farthest[key] = (scale, row, last)
    picks = list(nearest.values()) + [farthest[k] for k in farthest if farthest[k][0] != nearest[k][0]]
    if len(picks) > count:
        picks = _spread(picks, count, rng)
    return [[Fraction(int(v) * scale, 1 << bits) for v in row] for scale, row, _ in picks]


def _spread(picks: list[tuple[int, np.ndarray, bytes]], count: int, rng: random.Random) -> list:
    """`count` of the picks: first one for each pattern of the last layer of the regions' patterns (a random
    choice of those if there are more), then a random choice of the others.  A neuron a network lacks after
    that layer matters where few of its neurons are on (5-8-8-8-1 seed 10: two layer-3 neurons missing showed
    in 17 of 2,858 regions, all 10 regions where layer 2 is off among them; 768 random regions once missed them
    all, and the extraction said complete)."""
    first: dict[bytes, int] = {}
    for i in rng.sample(range(len(picks)), len(picks)):
        first.setdefault(picks[i][2], i)
    chosen = rng.sample(list(first.values()), min(count, len(first)))
    rest = sorted(set(range(len(picks))) - set(chosen))
    return [picks[i] for i in chosen + rng.sample(rest, count - len(chosen))]


def first_layer_vertices(nets: Sequence[Network], budget: int, rng: random.Random,
                          deadline: float | None = None) -> list[list[Fraction]]:
    """Exact vertices of the first-layer hyperplane arrangements (both networks together).

    A deeper neuron that is active only on a small bounded set peaks at such a vertex, so exact
    evaluation there (and just next to it) finds differences that random points miss.
    """
    n = nets[0].input_dim
    planes = {}
    for net in nets:
        for w, b in zip(net.weights[0], net.biases[0]):
            if any(w):
                lead = abs(next(v for v in w if v))
                planes.setdefault(tuple(v / lead for v in w), set()).add(b / lead)
    rows = [(w, b) for w, bs in planes.items() for b in bs]
    if len(rows) < n:
        return []
    total = math.comb(len(rows), n)
    subsets = (itertools.combinations(range(len(rows)), n) if total <= budget
               else (tuple(rng.sample(range(len(rows)), n)) for _ in range(budget)))
    out = []
    for subset in subsets:
        if deadline is not None and time.monotonic() > deadline:
            break
        W = fmpq_mat([[fmpq(v.numerator, v.denominator) for v in rows[i][0]] for i in subset])
        rhs = fmpq_mat([[fmpq(-rows[i][1].numerator, rows[i][1].denominator)] for i in subset])
        try:
            x = W.solve(rhs)
        except ZeroDivisionError:
            continue
        v = [Fraction(int(x[i, 0].p), int(x[i, 0].q)) for i in range(n)]
        out.append(v)
        r = Fraction(1, 1 << 20) * (1 + max(abs(c) for c in v))
        out.append([c + r * _dyadic(rng.gauss(0, 1), 8) for c in v])
    return out

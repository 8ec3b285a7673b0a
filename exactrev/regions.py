"""Exact enumeration of the linear regions of one or several ReLU networks on the same input.

The regions of the *joint* network (every hidden neuron of every network) are enumerated by a
depth-first search over layers: a node is a full-dimensional closed polyhedron P on which every
decided neuron has a fixed sign, so every network is affine on P.  For the next neuron z (affine on
P) the search keeps a side {z >= 0} or {z <= 0} only if it may have interior points, and drops a
side only with an exact proof that it has none (a Gordan certificate checked in rationals, or an
exact bound).  Float LPs only propose (see `exactrev.lp`).

Why this is complete: the kept leaves are closed polyhedra whose union is all of R^n (or the box):
dropping a side whose interior is empty loses nothing, because then P lies in the other side.
Each leaf carries the exact affine map of every network; lower-dimensional pieces need no separate
treatment, since two continuous functions that agree on every full-dimensional piece agree everywhere.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from flint import fmpq, fmpq_mat

from .errors import ExactrevError, Interrupted
from .lp import ZERO, Counter, Halfspace, Vec, dot, interior_or_empty, to_q
from .network import Network

# Sign codes of a neuron on a region: z >= 0 there and not identically 0; z <= 0 and not
# identically 0; z identically 0 on the region (a ReLU of it is 0 either way).
ACTIVE, INACTIVE, ZERO_FN = 1, -1, 0


@dataclass
class Leaf:
    """One full-dimensional joint linear region (closed polyhedron) and the networks' affine maps on it.

    `outputs[i]` is network i's output map as an n_out x (n_in + 1) matrix [M | v] (N(x) = M x + v
    on the region); `patterns[i][k][j]` the sign code of neuron j of hidden layer k of network i;
    `point` an exactly verified strictly interior point, or None when the LPs could not prove the
    region full-dimensional (it is kept anyway: keeping a possibly empty region is always sound).
    """

    halfspaces: tuple[Halfspace, ...]
    point: tuple[fmpq, ...] | None
    outputs: list[fmpq_mat]
    patterns: list[list[tuple[int, ...]]]


@dataclass
class Stats:
    """Cost and coverage of an enumeration."""

    regions: int = 0
    nodes: int = 0
    lps: int = 0
    exact_eliminations: int = 0
    pruned: int = 0
    exact_fixes: int = 0
    unproven: int = 0
    open_branches: int = 0
    complete: bool = False
    stopped: str = ""
    seconds: float = 0.0
    counter: Counter = field(default_factory=Counter)


_POOL = 16   # interior points kept per region to settle signs without LPs


class _Limit(Exception):
    """Raised inside the search when the region or time limit is reached."""


class StopEnumeration(Exception):
    """Raised by a leaf callback to end the enumeration early (e.g. a witness was found)."""


def validate_box(box: Sequence, n: int) -> list[tuple[fmpq, fmpq]] | None:
    """Read a box exactly: a list of n (lo, hi) pairs, or one (lo, hi) pair for every coordinate."""
    if box is None:
        return None
    from .numbers import to_fmpq
    items = list(box)
    try:
        if len(items) == 2 and not isinstance(items[0], (list, tuple)):
            items = [tuple(items)] * n
        pairs = [(to_fmpq(lo), to_fmpq(hi)) for lo, hi in items]
    except (ValueError, TypeError) as e:
        raise ExactrevError(f"box: {e}") from None
    if len(pairs) != n:
        raise ExactrevError(f"box: {len(pairs)} intervals for {n} input coordinates")
    for j, (lo, hi) in enumerate(pairs):
        if lo > hi:
            raise ExactrevError(f"box: coordinate {j + 1} has lo {lo} > hi {hi}")
    return pairs


def _fmpq_layers(net: Network, n: int) -> list[tuple[fmpq_mat, fmpq_mat]]:
    """Per layer (W, B) with B the bias placed in the constant column of an n_k x (n+1) matrix."""
    out = []
    for w, b in zip(net.weights, net.biases):
        W = fmpq_mat(len(w), len(w[0]), [fmpq(v.numerator, v.denominator) for row in w for v in row])
        B = fmpq_mat(len(b), n + 1)
        for i, v in enumerate(b):
            B[i, n] = fmpq(v.numerator, v.denominator)
        out.append((W, B))
    return out


def _key(g: Sequence[fmpq]) -> tuple[tuple[fmpq, ...], fmpq]:
    """(g / |first nonzero of g|, |first nonzero|): a hashable direction and its positive scale."""
    lead = abs(next(v for v in g if v))
    return tuple(v / lead for v in g), lead


class _Search:
    """The depth-first search; state is pushed and popped as it goes."""

    def __init__(self, nets: Sequence[Network], box: list[tuple[fmpq, fmpq]] | None,
                 on_leaf: Callable[[Leaf], None], max_regions: int | None, deadline: float | None,
                 stats: Stats, progress: Callable[..., None] | None = None) -> None:
        self.n = nets[0].input_dim
        self.layers = [_fmpq_layers(net, self.n) for net in nets]
        depth = max(len(net.weights) - 1 for net in nets)
        self.stages = [(i, k) for k in range(depth) for i, net in enumerate(nets) if k < len(net.weights) - 1]
        self.box = box
        self.on_leaf = on_leaf
        self.max_regions = max_regions
        self.deadline = deadline
        self.stats = stats
        self.progress = progress
        self.halfspaces: list[Halfspace] = []
        self.bounds: dict[tuple[fmpq, ...], list[fmpq]] = {}

    # ------------------------------------------------------------ halfspace stack
    def push(self, a: Vec, c: fmpq, *, implied: bool = False) -> None:
        """Add a x <= c: as an LP row, or (implied=True, already proven on P) only to the exact bounds."""
        if not implied:
            self.halfspaces.append((a, c))
        d, lead = _key(a)
        self.bounds.setdefault(d, []).append(c / lead)

    def pop(self, a: Vec, *, implied: bool = False) -> None:
        if not implied:
            self.halfspaces.pop()
        self.bounds[_key(a)[0]].pop()

    # ------------------------------------------------------------ search
    def run(self) -> None:
        n = self.n
        if self.box:
            for j, (lo, hi) in enumerate(self.box):
                e = tuple(fmpq(int(i == j)) for i in range(n))
                self.push(e, hi)
                self.push(tuple(-v for v in e), -lo)
            start = tuple((lo + hi) / 2 for lo, hi in self.box)
        else:
            start = tuple(ZERO for _ in range(n))
        ident = fmpq_mat(n, n + 1)
        for j in range(n):
            ident[j, j] = fmpq(1)
        self.stage(0, [ident] * len(self.layers), [[] for _ in self.layers], [start], start)

    def stage(self, s: int, cur: list[fmpq_mat], patterns: list[list[tuple[int, ...]]],
              points: list[tuple[fmpq, ...]], hint: tuple[fmpq, ...]) -> None:
        if s == len(self.stages):
            self.leaf(cur, patterns, points, hint)
            return
        i, k = self.stages[s]
        W, B = self.layers[i][k]
        Z = (W * cur[i] + B).tolist()
        # First settle every neuron whose sign is fixed on the whole of P, once (not once per
        # branch of its layer-mates); the points found on the way help decide the rest.
        codes: list[int] = [ZERO_FN] * len(Z)
        open_: list[int] = []
        implied: list[Vec] = []
        pool = list(points)
        try:
            for j, row in enumerate(Z):
                self.tick()
                children = self.decide(tuple(row[:-1]), row[-1], pool, hint)
                if len(children) == 1:
                    code, half, _ = children[0]
                    codes[j] = code
                    if half is not None:
                        self.push(*half, implied=True)
                        implied.append(half[0])
                else:
                    open_.append(j)
                    for _, _, pts in children:
                        pool.extend(p for p in pts if p not in pool and len(pool) < _POOL)
            self.branch(s, open_, 0, Z, codes, cur, patterns, pool, hint)
        finally:
            for a in reversed(implied):
                self.pop(a, implied=True)

    def tick(self) -> None:
        self.stats.nodes += 1
        if self.progress is not None and self.stats.nodes % 64 == 0:
            self.progress(regions=self.stats.regions, lps=self.stats.lps, nodes=self.stats.nodes)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _Limit("time")

    def branch(self, s: int, open_: list[int], idx: int, Z: list[list[fmpq]], codes: list[int],
               cur: list[fmpq_mat], patterns: list[list[tuple[int, ...]]], points: list[tuple[fmpq, ...]],
               hint: tuple[fmpq, ...]) -> None:
        """Decide the neurons of this layer whose sign was not fixed on the layer's starting region."""
        self.tick()
        if idx == len(open_):
            i, k = self.stages[s]
            rows = [row if c == ACTIVE else [ZERO] * len(row) for row, c in zip(Z, codes)]
            nxt = list(cur)
            nxt[i] = fmpq_mat(rows)
            pats = [list(p) for p in patterns]
            pats[i].append(tuple(codes))
            self.stage(s + 1, nxt, pats, points, hint)
            return
        j = open_[idx]
        children = self.decide(tuple(Z[j][:-1]), Z[j][-1], points, hint)
        if len(children) == 2:
            self.stats.open_branches += 1
        for n_child, (code, half, pts) in enumerate(children):
            if n_child == 1:
                self.stats.open_branches -= 1
            # With one child the sign is proven on all of P: record it for exact bounds only.
            implied = len(children) == 1
            if half is not None:
                self.push(*half, implied=implied)
            try:
                child_codes = list(codes)
                child_codes[j] = code
                self.branch(s, open_, idx + 1, Z, child_codes, cur, patterns, pts, pts[0] if pts else hint)
            finally:
                if half is not None:
                    self.pop(half[0], implied=implied)

    def decide(self, g: Vec, beta: fmpq, points: list[tuple[fmpq, ...]], hint: tuple[fmpq, ...]
               ) -> list[tuple[int, Halfspace | None, list[tuple[fmpq, ...]]]]:
        """The sides of neuron z = g . x + beta to explore: (code, its halfspace or None, interior points).

        A single child means the sign is proven on all of P (its halfspace is then implied, not added).
        """
        if not any(g):
            code = ACTIVE if beta > 0 else INACTIVE if beta < 0 else ZERO_FN
            return [(code, None, points)]
        active_half, inactive_half = (tuple(-v for v in g), beta), (g, -beta)
        fixed = self.fixed_sign(g, beta)
        if fixed:
            self.stats.exact_fixes += 1
            return [(fixed, active_half if fixed == ACTIVE else inactive_half, points)]
        vals = [dot(g, p) + beta for p in points]
        pos = [p for p, v in zip(points, vals) if v > 0]
        neg = [p for p, v in zip(points, vals) if v < 0]
        sides = []
        for code, have, half in ((ACTIVE, pos, active_half), (INACTIVE, neg, inactive_half)):
            if have:
                sides.append((code, half, have))
                continue
            kind, found = self.probe(half, g, beta, hint)
            if kind == "point":
                sides.append((code, half, [found]))
            elif kind == "empty":
                self.stats.pruned += 1
            else:                                # undecided: keep it (keeping is always sound)
                sides.append((code, half, []))
        if len(sides) == 1:
            code, half, pts = sides[0]
            # The other side was proven to have empty interior, so P lies in this one (an implied bound).
            return [(code, half, pts or points)]
        return sides

    def fixed_sign(self, g: Vec, beta: fmpq) -> int:
        """ACTIVE/INACTIVE when an exact bound fixes the sign of z on P (parallel halfspace or box), else 0."""
        d, lead = _key(g)
        ups = self.bounds.get(d)
        if ups and lead * min(ups) + beta <= 0:
            return INACTIVE
        lows = self.bounds.get(tuple(-v for v in d))
        if lows and -lead * min(lows) + beta >= 0:
            return ACTIVE
        if self.box:
            hi = beta + sum((v * (h if v > 0 else lo) for v, (lo, h) in zip(g, self.box)), ZERO)
            if hi <= 0:
                return INACTIVE
            lo_ = beta + sum((v * (lo if v > 0 else h) for v, (lo, h) in zip(g, self.box)), ZERO)
            if lo_ >= 0:
                return ACTIVE
        return 0

    def probe(self, half: Halfspace, g: Vec, beta: fmpq, hint: tuple[fmpq, ...]) -> tuple[str, object]:
        """Is P intersected with `half` full-dimensional?  ("point", x) / ("empty", cert) / ("unknown", None)."""
        zval = abs(dot(g, hint) + beta)
        norm = math.sqrt(sum(float(v) ** 2 for v in g))
        dist = float(zval) / norm if norm else 0.0
        scale = to_q(dist) if 0 < dist < 1e300 else fmpq(1)
        self.halfspaces.append(half)
        try:
            return interior_or_empty(self.halfspaces, self.n, hint, scale, self.stats.counter)
        finally:
            self.halfspaces.pop()

    def leaf(self, cur: list[fmpq_mat], patterns: list[list[tuple[int, ...]]],
             points: list[tuple[fmpq, ...]], hint: tuple[fmpq, ...]) -> None:
        point = points[0] if points else None
        if point is None:
            kind, found = interior_or_empty(self.halfspaces, self.n, hint, fmpq(1), self.stats.counter)
            if kind == "empty":
                self.stats.pruned += 1
                return
            point = found if kind == "point" else None
        if point is None:
            self.stats.unproven += 1
        outputs = [W * c + B for (W, B), c in zip((layers[-1] for layers in self.layers), cur)]
        self.stats.regions += 1
        self.on_leaf(Leaf(tuple(self.halfspaces), point, outputs, patterns))
        if self.max_regions is not None and self.stats.regions >= self.max_regions:
            raise _Limit("regions")


def enumerate_regions(nets: Sequence[Network], on_leaf: Callable[[Leaf], None], *, box: Sequence | None = None,
                      max_regions: int | None = None, seconds: float | None = None,
                      progress: Callable[..., None] | None = None) -> Stats:
    """Visit every full-dimensional joint linear region of `nets` over R^n (or `box`), calling on_leaf.

    Stops early when on_leaf raises StopEnumeration, or at `max_regions` regions / `seconds`;
    `Stats.complete` says whether the visit covered everything.  Ctrl-C raises `Interrupted` with the
    statistics so far (stopped == "interrupt").  `progress(regions=, lps=, nodes=)`
    is called every 64 search nodes.
    """
    if not nets:
        raise ExactrevError("enumerate_regions: no networks given")
    n = nets[0].input_dim
    for idx, net in enumerate(nets):
        if net.input_dim != n:
            raise ExactrevError(f"network {idx + 1} takes {net.input_dim} inputs, network 1 takes {n}")
    pairs = validate_box(box, n)
    if pairs and any(lo == hi for lo, hi in pairs):
        raise ExactrevError("enumerate_regions: the box has an empty interior (some lo == hi); "
                            "fix those coordinates in the networks first")
    stats = Stats()
    t0 = time.monotonic()
    search = _Search(nets, pairs, on_leaf, max_regions, None if seconds is None else t0 + seconds, stats, progress)
    try:
        search.run()
        stats.complete = True
    except _Limit as e:
        stats.stopped = str(e)
    except StopEnumeration:
        stats.stopped = "stopped"
    except KeyboardInterrupt as e:
        stats.stopped = "interrupt"
        raise Interrupted(_finish(stats, t0)) from e
    return _finish(stats, t0)


def _finish(stats: Stats, t0: float) -> Stats:
    stats.lps = stats.counter.lps
    stats.exact_eliminations = stats.counter.exact
    stats.seconds = time.monotonic() - t0
    return stats

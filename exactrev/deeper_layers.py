"""Additional layers exactly (Algorithm 2 of the paper, Theorem 3), exact arithmetic.

Known: layers 1..k-2 exactly and layer k-1 up to the sign of each neuron (its preactivation h_j is
known as a function, h_j = t_j z_j / c_j with t_j = +-1 unknown).  A boundary point p of an
unexplained neuron z comes with its local normal G ~ grad z(p).  We walk along B_z:

* ClosestBoundary: inside the current region every known preactivation is affine, so the first
  crossing q of B_z's local plane with a known boundary B_j is computed exactly;
* beyond q, B_z's new local plane contains B_z n B_j = {G.(x-q) = 0, grad h_j.(x-q) = 0}, so its
  normal is G + lam grad h_j; one kink on a short segment just past q gives lam exactly, and a
  second point of the predicted plane is probed for a kink exactly there (verification);
* Theorem 3: keeping the scale of grad z consistent along the walk, the jump of grad z across B_j in
  the direction of increasing h_j is W_zj grad h_j whatever the unknown sign t_j, so each crossing of
  a layer-(k-1) boundary yields W_zj = sign(grad h_j . v) lam exactly (relative to z's scale).
If B_z is bent before q (a probe on the old plane just before q sees a kink off the plane), z is in
a deeper layer and its point is kept for layer k+1.  The signs t of layer k-1 and the biases of
layer k are then solved from the walk points (exactrev.signs).
With the signs known, each walk's neuron is a formula (LayerNeuron) that predicts B_z everywhere: it is
kept only if the oracle shows kinks exactly where it predicts them far from the walk (confirms), and a
weight whose boundary the walk never met is measured where the formula's B_z meets B_j (weight_at_meeting).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
from flint import fmpq, fmpq_mat

from .arith import Arith, combinations, dot, max_abs
from .deeper_layers_numeric import KnownLayers, NumLayer, meeting_newton
from .geometry import Evaluator, Line, intersect, line_ends, points_on_line
from .numbers import to_fmpq

Vec = list
CONFIRM_POINTS = 6              # predicted far points of a deeper neuron's boundary probed before it is believed
CONFIRM_MIN = 3                 # fewest of them that must be probed (all "on") to believe it
CONFIRM_LINES = 16 * CONFIRM_POINTS   # random lines searched for predicted points
MEETING_LINES = 2048            # starting points searched from for a predicted point of B_z n B_j ...
MEETING_REACH = 13              # ... in boxes of half-width up to 2^MEETING_REACH (see weight_at_meeting) ...
MEETING_STEPS = 24              # ... each by at most this many Newton steps (in float64, see meeting_points) ...
EXACT_MEETING_STEPS = 4         # ... and then at most this many exact ones
MEETING_CROSSINGS = 8           # crossings tried at meeting points found (each asks queries), one per region
LOCAL_CACHE = 16                # points whose local values and gradients PartialNetwork remembers
PATTERN_ENTRIES = 2 ** 20       # matrix entries of activation patterns' masked weights and gradients it remembers
PROBE_SHRINK = 2 ** 12          # confirmation probes this much shorter than the room to known boundaries (no other kinks)
MAX_FAILED = 6                  # a walk stops once this many crossings failed: more than succeeded (a deeper
                                # neuron's), or more than reached a boundary not crossed before (left incomplete)
CENTRE_TRIES = 4                # points of a new piece probed, each 8 times closer to the crossing
Q = fmpq


@dataclass
class KnownLayer:
    """A hidden layer's incoming weights and biases; `fixed` when every neuron's sign is known."""

    rows: list[list[Q]]
    bias: list[Q]
    fixed: bool


class PartialNetwork:
    """Layers 1..k-1 as far as known: local values and gradients of every known preactivation."""

    def __init__(self, n_in: int, layers: Sequence[KnownLayer]) -> None:
        self.n_in = n_in
        self.layers = list(layers)
        self._mats = [(_fmat(layer.rows), _fmat([[b] for b in layer.bias])) for layer in self.layers]
        self._entries = [w.entries() for w, _ in self._mats]
        first = self._mats[0][0].tolist() if self.layers else []
        self._first_scales = [max_abs(row) for row in first]
        self._first_norms = [dot(row, row) for row in first]
        self._recent: list[tuple[list[Q], list[tuple[list[Q], fmpq_mat]]]] = []
        self._recent_values: list[tuple[list[Q], list[list[Q]]]] = []
        self._patterns: dict[tuple, fmpq_mat] = {}
        self._pattern_entries = 0
        self._floats: KnownLayers | None = None

    def floats(self) -> KnownLayers:
        """The same layers in float64 (deeper_layers_numeric.KnownLayers), to propose points that exact arithmetic
        then verifies (see meeting_points)."""
        if self._floats is None:
            self._floats = KnownLayers(self.n_in, [NumLayer([[float(v) for v in row] for row in w.tolist()],
                                                            [float(v) for v in b.entries()]) for w, b in self._mats],
                                       Arith("float"))
        return self._floats

    def local(self, x: Sequence[Q]) -> list[tuple[list[Q], list[list[Q]]]]:
        """Per layer: (preactivation values, gradient rows) at x, valid in x's region."""
        return [(list(vals), jh.tolist()) for vals, jh in self.local_mats(x)]

    def local_mats(self, x: Sequence[Q]) -> list[tuple[list[Q], fmpq_mat]]:
        """Per layer: (preactivation values, gradient matrix) at x, valid in x's region (shared with other callers
        at the same point: not to be modified).

        Layers before the last known one must be fixed (their ReLUs are applied as they are).  The last
        LOCAL_CACHE points asked are remembered: a walk asks about the same point several times.
        """
        key = list(x)
        for seen, out in self._recent:
            if seen == key:
                return out
        out = self._forward(key, jacobians=True)
        self._recent.insert(0, (key, out))
        del self._recent[LOCAL_CACHE:]
        return out

    def values(self, x: Sequence[Q]) -> list[list[Q]]:
        """Per layer: the preactivation values at x (no gradients: much cheaper for deeper known layers; the last
        LOCAL_CACHE points are remembered too, not to be modified)."""
        key = list(x)
        for seen, out in self._recent:
            if seen == key:
                return [vals for vals, _ in out]
        for seen, vals in self._recent_values:
            if seen == key:
                return vals
        vals = [v for v, _ in self._forward(key, jacobians=False)]
        self._recent_values.insert(0, (key, vals))
        del self._recent_values[LOCAL_CACHE:]
        return vals

    def region_key(self, x: Sequence[Q]) -> tuple:
        """Which known preactivations are positive at x: x's linear region of the known layers (as
        deeper_layers_numeric.KnownLayers.region_key)."""
        return tuple(v > 0 for vals in self.values(x) for v in vals)

    def _forward(self, x: Sequence[Q], jacobians: bool) -> list[tuple[list[Q], fmpq_mat | None]]:
        """The known layers at x; a ReLU is applied by zeroing the next layer's columns of neurons that are off
        (w relu(h) == w' h), which touches fewer entries than zeroing rows of the gradients.  The gradient matrix
        of a layer depends only on the activation pattern of the layers before it: up to PATTERN_ENTRIES entries
        of them are remembered."""
        a = fmpq_mat(self.n_in, 1, [to_fmpq(v) for v in x])
        jac = None                      # the identity: layer 1's gradient rows are its weights
        out: list[tuple[list[Q], fmpq_mat | None]] = []
        pattern: tuple = ()
        for li, ((w, b), entries) in enumerate(zip(self._mats, self._entries)):
            if li:
                keep = tuple(v > 0 for v in out[-1][0])
                pattern += keep
                w = self._masked(li, keep, w, entries)
            h = w * a + b
            if jacobians:
                jac = w if li == 0 else self._jacobian(li, pattern, w, jac)
            out.append((h.entries(), jac))
            a = h
        return out

    def _masked(self, li: int, keep: tuple, w: fmpq_mat, entries: Sequence[Q]) -> fmpq_mat:
        """Layer li's weights with the columns of the previous layer's neurons that are off set to 0."""
        key = (li, keep)
        hit = self._patterns.get(key)
        if hit is None:
            hit = self._remember(key, _without_columns(w, entries, keep))
        return hit

    def _jacobian(self, li: int, pattern: tuple, w: fmpq_mat, below: fmpq_mat) -> fmpq_mat:
        """Layer li's gradient matrix w * below where the layers before it have activation `pattern`."""
        key = ("jac", li, pattern)
        hit = self._patterns.get(key)
        if hit is None:
            hit = self._remember(key, w * below)
        return hit

    def _remember(self, key: tuple, value: fmpq_mat) -> fmpq_mat:
        """Store a matrix of `_masked` or `_jacobian`, forgetting all of them past PATTERN_ENTRIES entries."""
        size = value.nrows() * value.ncols()
        if self._pattern_entries + size > PATTERN_ENTRIES:
            self._patterns.clear()
            self._pattern_entries = 0
        self._patterns[key] = value
        self._pattern_entries += size
        return value

    def gradient_scales(self, x: Sequence[Q]) -> list[Q]:
        """max |entry| of every known neuron's gradient row at x, layer by layer (layer 1's rows are its weights)."""
        out = []
        for li, (_, jh) in enumerate(self.local_mats(x)):
            if li == 0:
                out += self._first_scales
                continue
            e, cols = jh.entries(), jh.ncols()
            out += [max_abs(e[i * cols:(i + 1) * cols]) for i in range(jh.nrows())]
        return out

    def gradient_norms(self, x: Sequence[Q], li: int) -> list[Q]:
        """|grad h_j|^2 of every neuron of known layer li at x (layer 1's are constant)."""
        if li == 0:
            return self._first_norms
        _, jh = self.local_mats(x)[li]
        e, cols = jh.entries(), jh.ncols()
        return [dot(row, row) for row in (e[i * cols:(i + 1) * cols] for i in range(jh.nrows()))]

    def first_crossing(self, x: Sequence[Q], v: Sequence[Q]) -> tuple[Q, list[tuple[int, int]], list[list[Q]]] | None:
        """ClosestBoundary: the smallest c > 0 where some known preactivation (affine in x's region) vanishes
        at x + c v, the (layer, index) of every neuron vanishing there and their gradient rows.
        Neurons already zero at x are skipped."""
        vcol = fmpq_mat(self.n_in, 1, list(v))
        best, hits = None, []
        for li, (vals, jh) in enumerate(self.local_mats(x)):
            rates = (jh * vcol).entries()
            for j, (val, rate) in enumerate(zip(vals, rates)):
                if rate == 0 or val == 0:
                    continue
                c = -val / rate
                if c <= 0:
                    continue
                if best is None or c < best:
                    best, hits = c, [(li, j, jh)]
                elif c == best:
                    hits.append((li, j, jh))
        if best is None:
            return None
        return best, [(li, j) for li, j, _ in hits], [[jh[j, d] for d in range(self.n_in)] for _, j, jh in hits]

    def knots_on_line(self, p: Sequence[Q], d: Sequence[Q], lo: Q, hi: Q) -> list[Q]:
        """lo, every t in (lo, hi) where a known preactivation changes sign on the line p + t d, and hi:
        every known value is affine in t between two of them.  Each piece is followed from its start, where a
        neuron at 0 is taken as on iff it is rising (the piece's side of the knot)."""
        knots, t = [lo], lo
        dcol = fmpq_mat(self.n_in, 1, [to_fmpq(v) for v in d])
        while True:
            a = fmpq_mat(self.n_in, 1, [to_fmpq(pi + t * di) for pi, di in zip(p, d)])
            r, step, keep = dcol, None, ()
            for li, ((w, b), entries) in enumerate(zip(self._mats, self._entries)):
                if li:
                    w = self._masked(li, keep, w, entries)
                h, hr = w * a + b, w * r
                vals, rates = h.entries(), hr.entries()
                for v, rate in zip(vals, rates):
                    if rate != 0 and (v > 0) != (rate > 0) and v != 0 and (step is None or -v / rate < step):
                        step = -v / rate
                keep = tuple(v > 0 or (v == 0 and rate > 0) for v, rate in zip(vals, rates))
                a, r = h, hr
            if step is None or t + step >= hi:
                return knots + [hi]
            t += step
            knots.append(t)

    def on_known_boundary(self, x: Sequence[Q]) -> bool:
        """Some known neuron's preactivation is exactly 0 at x."""
        return any(v == 0 for vals in self.values(x) for v in vals)

    def strict_region_key(self, x: Sequence[Q]) -> tuple | None:
        """region_key(x), or None if x is on a known boundary (one pass over the values)."""
        vals = [v for layer in self.values(x) for v in layer]
        return None if any(v == 0 for v in vals) else tuple(v > 0 for v in vals)


def _plane_through(q: Sequence[Q], x2: Sequence[Q], G: Sequence[Q], g: Sequence[Q]) -> tuple[list[Q], Q] | None:
    """The normal G + lam g of the plane through q and x2 (B_z's piece beyond B_j, whose gradient there is g),
    and lam; None if x2 - q is parallel to B_j."""
    off = [a - b for a, b in zip(x2, q)]
    gap = dot(g, off)
    if gap == 0:
        return None
    lam = -dot(G, off) / gap
    return [Gi + lam * gi for Gi, gi in zip(G, g)], lam


def _without_columns(m: fmpq_mat, entries: Sequence[Q], keep: Sequence[bool]) -> fmpq_mat:
    """m (whose entries are `entries`) with the columns not kept set to 0: the ReLU of the previous layer applied
    through m (no products with 0/1 diagonal matrices: those dominated 784-input extractions)."""
    if all(keep):
        return m
    cols = m.ncols()
    return fmpq_mat(m.nrows(), cols, [e if keep[i % cols] else 0 for i, e in enumerate(entries)])


def _combination(jh: fmpq_mat, cols: Sequence[int], rhs: Sequence[Q]) -> tuple[bool, list[Q] | None]:
    """rhs as a combination of the rows `cols` of jh (exactly; see arith.combinations)."""
    return combinations(fmpq_mat([[jh[j, d] for d in range(jh.ncols())] for j in cols]), [rhs])[0]


def _coefficients(vals: Sequence[Q], weights: Sequence[Q | None], signs: Sequence[int | None]) -> list[Q] | None:
    """W_zj t_j for the layer-(k-1) neurons active at a point (t_j h_j > 0, `vals` their h_j there), 0 for the
    others: grad z and z minus its bias are these times the gradients and values (see BoundaryWalker.decompose).
    None if a sign, or an active neuron's weight, is unknown."""
    coefs = []
    for w, t, v in zip(weights, signs, vals):
        if t is None or (w is None and t * v > 0):
            return None
        coefs.append(w * t if t * v > 0 else fmpq(0))
    return coefs


def reject(u: Sequence[Q], e: Sequence[Q]) -> list[Q]:
    """u minus its projection on e (e nonzero): u - (u.e / e.e) e, the two inner products taken once."""
    c = dot(u, e) / dot(e, e)
    return [ui - c * ei for ui, ei in zip(u, e)]


def room_at(known: PartialNetwork, x: Sequence[Q], skip: int | None = None, layer: int = -1) -> Q:
    """min |h| / max|grad h| at x over the known neurons with a gradient (but neuron `skip` of known layer
    `layer`, the last by default): a distance within which x's region of the known layers extends."""
    vals = [v for layer_vals in known.values(x) for v in layer_vals]
    skipped = None if skip is None else sum(len(k.rows) for k in known.layers[:layer % len(known.layers)]) + skip
    return min((abs(v) / s for i, (v, s) in enumerate(zip(vals, known.gradient_scales(x))) if s != 0 and i != skipped),
               default=fmpq(1))


def search_point(n: int, i: int, rng: random.Random, near: Sequence[Q] | None = None) -> tuple[list[Q], Q]:
    """(p, scale) for the i-th of a series of random searches: p uniform in the box of half-width
    scale = 2^(i mod 8) at 0, or, for odd i with a known point `near`, of half-width
    (1 + max |near|) / 2^((i // 2) mod 8) around it."""
    if near is not None and i % 2:
        scale = (1 + max_abs(near)) / 2 ** ((i // 2) % 8)
        return [c + fmpq(rng.randint(-1024, 1024), 1024) * scale for c in near], scale
    scale = fmpq(2 ** (i % 8))
    return [fmpq(rng.randint(-1024, 1024), 1024) * scale for _ in range(n)], scale


def _forget(weights: list[Q | None], read: set[int]) -> None:
    """Unset the weights a walk read off normals (`read`, emptied): its signs, or its layer, were wrong."""
    for j in read:
        weights[j] = None
    read.clear()


def _short(x: Sequence[Q], known: PartialNetwork) -> list[Q]:
    """A point with dyadic coordinates in x's region of the known layers, next to x (x itself if x is on a
    known boundary): iterations from point to point would otherwise grow their numbers without bound."""
    room = room_at(known, x)
    if room == 0:
        return list(x)
    bits = max(0, math.ceil(math.log2((4 * len(x)) / room)) + 1)   # rounding moves x by < room / (4n) in every coordinate
    return [fmpq(int((v * 2 ** bits + fmpq(1, 2)).floor()), 2 ** bits) for v in x]


def _fmat(rows: Sequence[Sequence[Q]]) -> fmpq_mat:
    return fmpq_mat(len(rows), len(rows[0]), [to_fmpq(v) for row in rows for v in row])


@dataclass
class Anchor:
    """A point x on B_z with grad z there, on the scale fixed by the walk's first point."""

    x: list[Q]
    grad: list[Q]


@dataclass
class Walk:
    """Result of exploring one boundary B_z: weights from layer k-1 (None where no crossing was found)."""

    anchors: list[Anchor]
    weights: list[Q | None]
    status: str                      # "layer" (z in layer k), "deeper" (bent on unknown boundaries), "failed"
    reason: str = ""
    queries: int = 0
    crossings: int = 0
    regions: list[tuple] = field(default_factory=list)
    failed: int = 0                  # crossings tried that found no continuation of B_z


class WalkNeuron:
    """A walk's neuron z, before layer k-1's signs are solved, where layers 1..k-2 have the activation pattern of
    one of its anchors a: there every preactivation h_j of layer k-1 is affine and, on the walk's scale,
    z(x) = G_a.(x - a) + sum_j W_zj (relu(h_j(x)) - relu(h_j(a)) - [h_j(a) > 0] (h_j(x) - h_j(a))) whatever the
    unknown orientations t_j (relu(-h) = relu(h) - h).  Only the h_j on the other side than at a count (each
    |h_j(x)|, its gradient turned towards x's side), so a weight the walk did not measure is no obstacle where
    its h_j keeps a's side.  Pending boundary points on B_z are then known without a walk of their own."""

    def __init__(self, known: PartialNetwork, walk: Walk) -> None:
        self.known, self.weights = known, walk.weights
        prefix = sum(len(layer.rows) for layer in known.layers[:-1])
        self.anchors: dict[tuple, list[tuple[Anchor, tuple]]] = {}    # by pattern of layers 1..k-2, with h_j > 0
        for anchor, region in zip(walk.anchors, walk.regions):
            if all(v != 0 for v in known.values(anchor.x)[-1]):
                self.anchors.setdefault(region[:prefix], []).append((anchor, region[prefix:]))

    def on_boundary(self, x: Sequence[Q], normal: Sequence[Q]) -> bool:
        """z(x) == 0 and grad z(x) is parallel to `normal`, by the formula of some anchor whose pattern of layers
        1..k-2 x shares, off every known boundary (False where no anchor's formula reaches x)."""
        vals = self.known.values(x)
        if any(v == 0 for layer in vals for v in layer):
            return False
        h = vals[-1]
        for anchor, sides in self.anchors.get(tuple(v > 0 for layer in vals[:-1] for v in layer), ()):
            flipped = [j for j, (v, side) in enumerate(zip(h, sides)) if (v > 0) != side]
            if any(self.weights[j] is None for j in flipped):
                continue
            value = dot(anchor.grad, [u - v for u, v in zip(x, anchor.x)])
            if value + sum((self.weights[j] * abs(h[j]) for j in flipped), fmpq(0)) != 0:
                continue
            jh = self.known.local_mats(x)[-1][1]
            grad = list(anchor.grad)
            for j in flipped:
                w = self.weights[j] if h[j] > 0 else -self.weights[j]
                grad = [g + w * jh[j, d] for d, g in enumerate(grad)]
            if parallel(grad, normal):
                return True
        return False


def parallel(u: Sequence[Q], v: Sequence[Q]) -> bool:
    """u and v are nonzero multiples of each other."""
    i = next((i for i, ui in enumerate(u) if ui != 0), None)
    if i is None or v[i] == 0:
        return False
    r = v[i] / u[i]
    return all(vi == r * ui for ui, vi in zip(u, v))


class LayerNeuron:
    """A layer-k neuron z = row . relu(h) + bias as recovered, with h the preactivations of layer k-1 of `known`
    (layers 1..k-1, every sign solved): its value, gradient and zeros anywhere, exactly, to test it far from
    its walk and to find where its boundary meets another one."""

    def __init__(self, known: PartialNetwork, row: Sequence[Q], bias: Q) -> None:
        self.known, self.row, self.bias = known, [to_fmpq(v) for v in row], to_fmpq(bias)

    def value_grad(self, x: Sequence[Q]) -> tuple[Q, list[Q]]:
        """z(x) and grad z(x) (one-sided on a known boundary: the side where a preactivation <= 0 stays off)."""
        vals, jh = self.known.local_mats(x)[-1]
        on = [w if v > 0 else fmpq(0) for w, v in zip(self.row, vals)]
        return dot(on, vals) + self.bias, (fmpq_mat(1, len(on), on) * jh).entries()

    def value(self, x: Sequence[Q]) -> Q:
        """z(x) (no gradients needed)."""
        return sum((w * v for w, v in zip(self.row, self.known.values(x)[-1]) if v > 0), self.bias)

    def zeros_on_line(self, p: Sequence[Q], d: Sequence[Q], lo: Q, hi: Q) -> list[list[Q]]:
        """The points p + t d, lo < t < hi, where z changes sign (exact: z is affine between consecutive knots
        of the known layers on the line)."""
        knots = self.known.knots_on_line(p, d, lo, hi)
        at = [self.value([pi + t * di for pi, di in zip(p, d)]) for t in knots]
        return [[pi + (u + (v - u) * zu / (zu - zv)) * di for pi, di in zip(p, d)]
                for u, v, zu, zv in zip(knots, knots[1:], at, at[1:]) if zu * zv < 0]


def meeting_points(neuron: LayerNeuron, j: int, starts: Sequence[Sequence[Q]], steps: int = MEETING_STEPS
                   ) -> Iterator[list[Q] | None]:
    """Per start, a point where B_z (the neuron's formula) meets B_j, by Newton's method on the two piecewise
    linear functions h_j and z: in the start's region the nearest point where both local planes vanish; if the
    way there leaves the region, start again in the middle of the next region on the way.  The method runs in
    float64 first, every start at once (deeper_layers_numeric.meeting_newton: most starts lead nowhere, and
    exact steps cost about 4 times more), then exactly from where it ended, at most EXACT_MEETING_STEPS steps,
    as the caller asks for the next point: each point yielded is exact (h_j = z = 0 there, inside a region of
    the known layers but j's), the floats only proposed it.  None for a start that leads nowhere."""
    floats = neuron.known.floats()
    row = np.array([float(v) for v in neuron.row])
    ys = np.array([[float(v) for v in y] for y in starts], dtype=float).reshape(len(starts), neuron.known.n_in)
    for proposal in meeting_newton(floats, row, float(neuron.bias), j, ys, steps):
        if proposal is None or not np.all(np.isfinite(proposal)):
            yield None
        else:
            yield _exact_meeting(neuron, j, [to_fmpq(v) for v in proposal], EXACT_MEETING_STEPS)


def _exact_meeting(neuron: LayerNeuron, j: int, y: Sequence[Q], steps: int) -> list[Q] | None:
    """meeting_points' Newton steps in exact arithmetic from y (None after `steps`)."""
    known = neuron.known
    y = list(y)
    for _ in range(steps):
        vals, jh = known.local_mats(y)[-1]
        g = [jh[j, col] for col in range(known.n_in)]
        z, G = neuron.value_grad(y)
        gg, gG, GG = dot(g, g), dot(g, G), dot(G, G)
        det = gg * GG - gG * gG
        if det == 0:
            return None
        a, b = (z * gG - vals[j] * GG) / det, (vals[j] * gG - z * gg) / det    # dx = a g + b G
        dx = [a * gi + b * Gi for gi, Gi in zip(g, G)]
        knots = known.knots_on_line(y, dx, fmpq(0), fmpq(1))
        if len(knots) > 2:
            y = _short([yi + (knots[1] + knots[2]) / 2 * di for yi, di in zip(y, dx)], known)
            continue
        x = [yi + di for yi, di in zip(y, dx)]
        exact = known.values(x)[-1][j] == 0 and neuron.value(x) == 0
        return x if exact and room_at(known, x, skip=j) > 0 else None
    return None


@dataclass
class _WalkState:
    """What a walk has found so far (see BoundaryWalker.walk)."""

    anchors: list[Anchor]
    regions: list[tuple]
    weights: list[Q | None]
    read: set[int] = field(default_factory=set)       # weights read off normals (decompose), not crossed yet
    jumps: dict[tuple, Q] = field(default_factory=dict)   # see BoundaryWalker.step
    crossings: int = 0
    stale: int = 0                                    # crossings and glides since a boundary was first reached


def _stop_reason(st: _WalkState, known_neurons: int, failed: int) -> tuple[str, str] | None:
    """(status, reason) if the walk should stop: nothing new reached for too long, or more crossings failed
    than succeeded (MAX_FAILED) -- "deeper" if it also crossed less often than it failed."""
    if st.stale > known_neurons + 6:
        return "layer", f"no new boundary reached in {st.stale} crossings or glides"
    if failed >= MAX_FAILED and failed > st.crossings:
        return "deeper", (f"stopped after {failed} crossings found no continuation of B_z and {st.crossings} did "
                          "(it bends where no known boundary is)")
    found = sum(w is not None for w in st.weights)   # crossings that reached a boundary not crossed before
    if failed >= MAX_FAILED and failed > found:
        return "layer", f"stopped: {failed} crossings found no continuation of B_z, {found} reached a new boundary"
    return None


class BoundaryWalker:
    """Walks boundaries B_z of candidate layer-k neurons using a known partial network (exact mode)."""

    def __init__(self, ev: Evaluator, known: PartialNetwork, rng: random.Random) -> None:
        self.ev = ev
        self.known = known
        self.rng = rng
        self.k1 = len(known.layers) - 1          # index of layer k-1 among known layers
        self.combinations: dict[tuple, dict[int, Q] | None] = {}   # see point_weights

    # ---------------------------------------------------------------- walk
    def walk(self, x: Sequence[Q], normal: Sequence[Q], *, max_steps: int | None = None,
             signs: Sequence[int | None] | None = None, others: Sequence[tuple[list[Q], list[Q]]] = ()) -> Walk:
        """Explore B_z from the boundary point x with local normal `normal` (Algorithm 2's inner loop).
        With `signs` (layer k-1's orientation, as the walks so far fix it) each anchor's normal also gives the
        weights of the neurons active there that no crossing measured (`decompose`); only the others need
        crossings, and known boundaries are glided over (`glided`); `others` (other boundary points, (x, normal))
        may lend the weights of the neurons active at them (`merge`).  A crossing that contradicts such a weight
        (wrong signs, or a deeper neuron) discards them all and the walk goes on measuring by crossings alone."""
        start_q = self.ev.queries
        width = len(self.known.layers[self.k1].rows)
        known_neurons = sum(len(layer.rows) for layer in self.known.layers)   # boundaries the walk may cross
        max_steps = max_steps or 5 * known_neurons + 20
        x = [to_fmpq(v) for v in x]
        st = _WalkState([Anchor(x, [to_fmpq(v) for v in normal])], [self.known.region_key(x)], [None] * width)
        if signs is not None and not self.decompose(st.anchors[0], st.weights, signs, st.read):
            signs = None
        if signs is not None and self.k1 == 0 and self.known.n_in > width:
            self.merge(st, signs, others)          # (see merge: where it is tried)
        current = st.anchors[0]              # where the walk is: the last anchor, or a point glided to (see step)
        failures = failed = steps = 0        # failures: in a row, since the last crossing; failed: in all
        glide = True
        status, reason = "layer", ""
        while steps < max_steps:             # glides are not steps: `stale` bounds them
            missing = [j for j in range(width) if st.weights[j] is None]
            if not missing:
                break
            stop = _stop_reason(st, known_neurons, failed)
            if stop is not None:
                status, reason = stop
                break
            anchor = current if failures == 0 else self.rng.choice(st.anchors)
            back = st.regions[-1] in st.regions[:-1]  # back in a region seen: the nearest way on may lead back again
            predict = signs is not None and glide and anchor is current
            outcome = self.step(anchor, missing, randomise=failures > 0 or back, jumps=st.jumps,
                                glide=(st.weights, signs) if predict else None)
            steps += outcome is None or outcome[0] != "glide"
            if outcome is None:
                failures += 1
                continue
            kind, data = outcome
            if kind == "glide":
                current, st.stale = data, st.stale + 1
                continue
            if kind != "ok" and current is not st.anchors[-1]:    # a glide went wrong: walk on from real anchors
                glide, current = False, st.anchors[-1]
                failures, failed = failures + 1, failed + 1
                reason = data if kind == "fail" else "a crossing after glides found no continuation of B_z"
                continue
            if kind == "deeper":
                status, reason = "deeper", data
                break
            if kind == "fail":
                failures, failed, reason = failures + 1, failed + 1, data
                continue
            signs, disagree = self.take_crossing(st, data, signs)
            if disagree:
                status, reason = "deeper", disagree
                break
            current, failures = st.anchors[-1], 0
        else:
            if any(w is None for w in st.weights):
                reason = reason or f"step limit {max_steps} reached"
        if status == "layer" and st.crossings == 0 and not st.read:
            status = "failed"
            reason = reason or "no crossing with a known boundary could be followed"
        return Walk(st.anchors, st.weights, status, reason, self.ev.queries - start_q, st.crossings, st.regions,
                    failed)

    def take_crossing(self, st: _WalkState, data: tuple, signs: Sequence[int | None] | None
                      ) -> tuple[Sequence[int | None] | None, str]:
        """Add a crossing's new anchor and weight to the walk's state: (signs, "") with signs None once a crossing
        contradicts a weight read off a normal or a normal is no combination of the signs (the weights read are
        then forgotten); (signs, reason) if two crossings of one boundary disagree (z is deeper)."""
        new_anchor, crossed, w = data
        st.crossings += 1
        st.stale += 1
        if crossed is not None:
            if crossed in st.read and st.weights[crossed] != w:      # the signs or the layer were wrong
                _forget(st.weights, st.read)
                signs = None
            if st.weights[crossed] is not None and st.weights[crossed] != w:
                return signs, f"two crossings of layer-{self.k1 + 1} neuron {crossed} disagree"
            if st.weights[crossed] is None:
                st.stale = 0
            st.weights[crossed] = w
            st.read.discard(crossed)
        st.anchors.append(new_anchor)
        st.regions.append(self.known.region_key(new_anchor.x))
        if signs is not None and not self.decompose(new_anchor, st.weights, signs, st.read):
            _forget(st.weights, st.read)
            signs = None
        return signs, ""

    def decompose(self, anchor: Anchor, weights: list[Q | None], signs: Sequence[int | None], read: set[int]) -> bool:
        """Fill in (and add to `read`) the weights of the layer-(k-1) neurons active at the anchor that are still
        unknown, from its normal alone.  On the walk's scale, with t the orientation of layer k-1,
        grad z = sum_j W_zj t_j [t_j h_j > 0] grad h_j (the jump across B_j towards increasing h_j is W_zj grad h_j
        whatever t_j): the known terms taken away, the rest is a combination of the unknown active neurons'
        gradients, unique if those are independent.  Fewer of them than n_in are required, so that one equation
        at least is left to notice a wrong sign (a term missing or too many), and a weight that comes out 0 is
        left to a crossing (its neuron may be off there after all).  False if the normal is not such a
        combination (the signs are wrong or z is not in layer k); True otherwise, also when nothing was read."""
        vals, jh = self.known.local_mats(anchor.x)[self.k1]
        if any(t is None for t in signs) or any(v == 0 for v in vals):
            return True
        n = self.known.n_in
        rest = list(anchor.grad)
        unknown = []
        for j, (t, v) in enumerate(zip(signs, vals)):
            if t * v <= 0:
                continue
            if weights[j] is None:
                unknown.append(j)
                continue
            for d in range(n):
                rest[d] -= weights[j] * t * jh[j, d]
        if not unknown:
            return not any(rest)
        if len(unknown) >= n:               # no equation to spare: a wrong sign could go unnoticed
            return True
        consistent, coefs = _combination(jh, unknown, rest)
        for j, c in zip(unknown, coefs or ()):
            if c != 0:                       # 0: j may be off after all (a wrong sign); a crossing will tell
                weights[j] = c * signs[j]
                read.add(j)
        return consistent

    def merge(self, st: _WalkState, signs: Sequence[int | None], others: Sequence[tuple[list[Q], list[Q]]]) -> None:
        """Weights read off other boundary points' normals (`others`: (x, normal)) that lie on B_z too, before any
        crossing.  Where every neuron active at the walk's first point has its weight, a point p whose normal is
        a combination of the gradients of the neurons active at p (`point_weights`, on p's own scale) belongs
        to z if, rescaled to the walk's scale, it agrees with two known weights at least and z vanishes at p
        by the weights then known (z(p) = z(x0) = 0, the bias unknown): its other weights are then read as if
        off the walk's own normal (kept in st.read; a crossing that contradicts one discards them all).  With
        wide inputs the walk's first normal gives the weights of the neurons on there, and each such point
        those of the neurons on at p: only the rest need crossings.  `walk` tries this for layer 2 only, and
        only where n_in exceeds layer 1's width (a normal then decomposes at almost every point): with narrow
        inputs few points do, and 4-6-6-6-1 seed 3 and 5-8-8-8-1 seed 1 took 25% more queries with it (the
        same networks; fewer crossings, another path)."""
        x0 = st.anchors[0].x
        level = self._level(x0, st.weights, signs)
        if level is None:
            return
        for x, normal in others:
            own = self.point_weights(x, normal, signs)
            if own is None or all(w is not None for w in st.weights):
                continue
            shared = [j for j in own if st.weights[j] is not None]
            ratios = {st.weights[j] / own[j] for j in shared}
            if len(shared) < 2 or len(ratios) != 1:
                continue
            r = ratios.pop()
            merged = [w if w is not None or j not in own else r * own[j] for j, w in enumerate(st.weights)]
            if self._level(x, merged, signs) != level:
                continue
            for j in own:
                if st.weights[j] is None:
                    st.weights[j] = merged[j]
                    st.read.add(j)

    def point_weights(self, x: Sequence[Q], normal: Sequence[Q], signs: Sequence[int | None]) -> dict[int, Q] | None:
        """{j: W_zj} on the scale of `normal` for the layer-(k-1) neurons active at x (with orientation
        `signs`), if the normal is a unique combination of their gradients (fewer of them than n_in, none 0
        there); else None.  Remembered per point and signs (a layer's walks ask about the same points)."""
        key = (tuple(x), tuple(normal), tuple(signs))
        if key not in self.combinations:
            vals, jh = self.known.local_mats(x)[self.k1]
            on = [j for j, (t, v) in enumerate(zip(signs, vals)) if t is not None and t * v > 0]
            found = None
            if 0 < len(on) < self.known.n_in and all(t is not None for t in signs) and all(v != 0 for v in vals):
                consistent, coefs = _combination(jh, on, list(normal))
                if consistent and coefs is not None and all(c != 0 for c in coefs):
                    found = {j: c * signs[j] for j, c in zip(on, coefs)}
            self.combinations[key] = found
        return self.combinations[key]

    def _level(self, x: Sequence[Q], weights: Sequence[Q | None], signs: Sequence[int | None]) -> Q | None:
        """sum_j W_zj t_j h_j(x) over the neurons active at x (z(x) minus its bias, on the walk's scale); None
        where `_coefficients` is."""
        vals = self.known.values(x)[self.k1]
        coefs = _coefficients(vals, weights, signs)
        return None if coefs is None else dot(coefs, vals)

    def confirms(self, neuron: LayerNeuron, unmeasured: Sequence[int] = (), points: int = CONFIRM_POINTS,
                 near: Sequence[Q] | None = None, visited: frozenset = frozenset(),
                 record: list[list[Q]] | None = None) -> bool:
        """Far from the walk, predicted points of B_z (zeros of the neuron's formula on random lines through
        boxes of half-width 1..2^7) show a kink exactly there: every probe must be "on", at least CONFIRM_MIN
        of them (up to `points`), and for each `unmeasured` layer-(k-1) neuron j (weight set to 0, B_j never
        met) one of them where j is active (where that weight matters), if any predicted point probed lies
        there (none does when z is never active where j is: section 5.2 case 1, the weight is then left as 0).
        A probe where the oracle is constant ("flat") is skipped: a true boundary is silent only where
        everything downstream is off.
        A deeper neuron's walk stays in one region of the layers between, where its B_z looks like a
        layer-k boundary (and a walk that missed a weight is right only where that neuron is off); its formula
        predicts B_z elsewhere wrongly, and a probe there sees no kink exactly at the point.
        If those lines leave it undecided, as many more pass through boxes of half-width 2^-3..2^4 around `near`
        (a point of the walk; times |near|/16 if that is more than 1), if given: a neuron active on almost all
        inputs has its boundary only in a narrow cone, which lines through boxes at 0 rarely meet, and one
        active only far out has it only far out.  One of the points probed "on" must then lie in a region of the
        known layers the walk did not visit (`visited`: their activation patterns), where a deeper neuron's
        walk no longer fits -- unless no predicted point those lines found lies in such a region: the walk has
        then visited every region of B_z they reach, and not_refuted still compares layer k's patterns.
        (Lines near the walk only as a second resort: a deeper neuron's formula often fits well beyond the
        regions its walk visited, and far lines are what reject it.  Not asked of the far lines: in two
        dimensions a walk may have visited every region its boundary passes through.)
        The points probed "on" are appended to `record` (refuted_elsewhere counts them again)."""
        n = self.known.n_in
        on, outside = 0, False           # outside: a point probed "on" lies in a region the walk did not visit
        elsewhere = False                # a predicted point near the walk lies in a region it did not visit
        seen: set[int] = set()           # unmeasured j active at a probed point
        shown: set[int] = set()          # ... at a point probed "on"
        for i in range(CONFIRM_LINES if near is None else 2 * CONFIRM_LINES):
            local = i >= CONFIRM_LINES   # the second resort: lines near the walk
            if on >= points and shown.issuperset(unmeasured) and (outside or not local):
                break
            if local:
                scale = max(1, max_abs(near) / 16) * fmpq(2) ** (i % 8 - 3)
                p = [c + fmpq(self.rng.randint(-1024, 1024), 1024) * scale for c in near]
            else:
                p, scale = search_point(n, i, self.rng)
            d = [fmpq(self.rng.randint(-1024, 1024), 1024) for _ in range(n)]
            for x in neuron.zeros_on_line(p, d, -8 * scale, 8 * scale)[:1]:
                _, grad = neuron.value_grad(x)
                room = room_at(neuron.known, x)
                if room == 0 or not any(grad):
                    continue
                active = {j for j in unmeasured if neuron.known.values(x)[-1][j] > 0}
                fresh = neuron.known.region_key(x) not in visited
                elsewhere |= local and fresh
                if on >= points and active <= shown and (outside or not local or not fresh):
                    continue
                verdict = self.probe(x, grad, room / (8 * n * PROBE_SHRINK))
                seen |= active
                if verdict == "on":
                    on += 1
                    shown |= active
                    outside |= fresh
                    if record is not None:
                        record.append(x)
                elif verdict != "flat":
                    return False
        return on >= min(points, CONFIRM_MIN) and shown >= seen and (outside or not local or not elsewhere)

    def refuted_elsewhere(self, neuron: LayerNeuron, layer: PartialNetwork, i: int, walk: Walk,
                          points: int = CONFIRM_MIN, shown: Sequence[Sequence[Q]] = ()) -> bool:
        """Whether the oracle shows no kink at a predicted point of B_z (neuron i of `layer`, the known layers
        with the tentative layer k on top) where the other layer-k neurons are on and off otherwise than at
        every anchor of the neuron's walk.  A deeper neuron's walk stays where layer k's pattern is one (its
        boundary bends where that changes), and its formula is that neuron's only there; a layer-k neuron's
        boundary does not care.  Probes up to `points` such points; False if none is found.  Points where a
        probe showed the kink already (`shown`: `confirms` records them) count without queries if z's formula
        vanishes there and the pattern is new."""
        def pattern(x: Sequence[Q]) -> tuple:
            return tuple(v > 0 for j, v in enumerate(layer.values(x)[-1]) if j != i)

        seen = {pattern(a.x) for a in walk.anchors}
        n = self.known.n_in
        on = sum(1 for x in shown if pattern(x) not in seen and neuron.value(x) == 0)
        for line in range(CONFIRM_LINES):
            if on >= points:
                break
            p, scale = search_point(n, line, self.rng)
            d = [fmpq(self.rng.randint(-1024, 1024), 1024) for _ in range(n)]
            for x in neuron.zeros_on_line(p, d, -8 * scale, 8 * scale):
                if pattern(x) in seen:
                    continue
                _, grad = neuron.value_grad(x)
                room = room_at(layer, x, skip=i)
                if room == 0 or not any(grad):
                    continue
                verdict = self.probe(x, grad, room / (8 * n * PROBE_SHRINK))
                if verdict not in ("on", "flat"):
                    return True
                on += verdict == "on"
                break
        return False

    def weight_at_meeting(self, neuron: LayerNeuron, j: int, unmeasured: Sequence[int] = (),
                          lines: int = MEETING_LINES, near: Sequence[Q] | None = None, reach: int = MEETING_REACH
                          ) -> Q | None:
        """W_zj for a layer-(k-1) neuron j whose boundary the walk never met, measured where the neuron's formula
        (right where every `unmeasured` h_i <= 0, whatever those W_zi) predicts B_z to meet B_j: a point q of
        both (`meeting_points`), approached inside B_z from the side h_j < 0, and the crossing there (`cross`,
        which verifies the new plane with a kink).
        The search starts from random points in boxes of half-width 1..2^reach, every other one in a box of
        half-width 2^-7..1 around `near` (a known point of B_j: a neuron active only on a small set has a
        small boundary; one active only far out meets B_j only far out).  Each crossing asks queries, and many
        starts lead to the same meeting: one crossing per region of the known layers on the h_j < 0 side (the
        same planes meet there), at most MEETING_CROSSINGS in all.
        None if no such meeting point is found or the crossings fail."""
        n = self.known.n_in
        known = neuron.known
        tried: set[tuple] = set()
        for q in meeting_points(neuron, j, [self.meeting_start(i, near, reach) for i in range(lines)]):
            if q is None:
                continue
            pre, jh = known.local_mats(q)[-1]
            if any(pre[i2] > 0 for i2 in unmeasured if i2 != j):
                continue
            g = [jh[j, col] for col in range(n)]
            room = room_at(known, q, skip=j)
            inside = [qi - room / (4 * n) * gi / max_abs(g) for qi, gi in zip(q, g)]      # h_j < 0 side
            _, G = neuron.value_grad(inside)
            GG = dot(G, G)
            v = reject(g, G) if room != 0 and GG != 0 else []     # in B_z's plane, h_j increasing
            if not any(v):
                continue
            region = known.region_key(inside)
            if region in tried:
                continue
            tried.add(region)
            c = room / (4 * n * max_abs(v))
            a = [qi - c * vi for qi, vi in zip(q, v)]
            kind, data = self.cross(Anchor(a, G), q, v, c, g, self.k1, j)
            if kind == "ok" and data[1] == j:
                return data[2]
            if len(tried) >= MEETING_CROSSINGS:
                break
        return None

    def meeting_start(self, i: int, near: Sequence[Q] | None, reach: int) -> list[Q]:
        """weight_at_meeting's start i: a random point in a box of half-width 1..2^reach, or for every other one
        (with `near`) in a box of half-width 2^-7..1 around near."""
        local_box = near is not None and i % 2 == 0
        scale = fmpq(1, 2 ** (i % 8)) if local_box else fmpq(2 ** (i % (reach + 1)))
        p = [fmpq(self.rng.randint(-1024, 1024), 1024) * scale for _ in range(self.known.n_in)]
        return [pi + ci for pi, ci in zip(p, near)] if local_box else p

    def step(self, anchor: Anchor, missing: Sequence[int], randomise: bool, jumps: dict[tuple, Q] | None = None,
             glide: tuple[Sequence[Q | None], Sequence[int | None]] | None = None):
        """One move along B_z from `anchor` towards a missing layer-(k-1) boundary, and the crossing.
        `jumps` (updated) holds the jump of grad z measured at each boundary crossed so far, keyed by the boundary
        and the pattern of the layers after it: the same boundary crossed again with the same pattern bends
        B_z by the same multiple of its gradient, which predicts the plane beyond it (see `cross`).
        With `glide` (the walk's weights and layer k-1's signs) a boundary that is not a missing neuron's is
        passed without queries where z's formula predicts B_z beyond it (`glided`): ("glide", point) then."""
        mats = self.known.local_mats(anchor.x)
        vals, jh = mats[self.k1]
        G = anchor.grad
        GG = dot(G, G)
        gG = (jh * fmpq_mat(len(G), 1, G)).entries()
        norms = self.known.gradient_norms(anchor.x, self.k1)
        options = []
        for j in missing:
            if vals[j] == 0:
                continue
            pp = norms[j] - gG[j] ** 2 / GG      # |proj|^2, proj = grad h_j - (grad h_j.G / G.G) G
            if pp == 0:
                continue
            options.append((vals[j] ** 2 / pp, j))
        if not options:
            return ("fail", "no missing boundary can be approached within the plane")
        options.sort(key=lambda o: o[0])
        _, j = self.rng.choice(options) if randomise else options[0]
        ratio = gG[j] / GG
        proj = [jh[j, d] - ratio * Gd for d, Gd in enumerate(G)]     # grad h_j within B_z's plane
        sgn = -1 if vals[j] > 0 else 1
        v = [sgn * c for c in proj]
        if randomise:
            v = self.perturb_in_plane(v, G)
        found = self.known.first_crossing(anchor.x, v)
        if found is None:
            return None
        c, hits, grads = found
        if len(hits) != 1:
            return ("fail", "the walk reached several boundaries at once")
        layer, idx = hits[0]
        q = [xi + c * vi for xi, vi in zip(anchor.x, v)]
        if glide is not None and (layer != self.k1 or glide[0][idx] is not None):
            ahead = self.glided(anchor, q, v, (layer, idx), *glide)
            if ahead is not None:
                return ("glide", ahead)
        jumps = {} if jumps is None else jumps
        key = (layer, idx, tuple(h > 0 for later, _ in mats[layer + 1:] for h in later))
        outcome = self.cross(anchor, q, v, c, grads[0], layer, idx, jumps.get(key))
        if outcome[0] == "ok":
            jumps.setdefault(key, outcome[1][2])
        return outcome

    def glided(self, anchor: Anchor, q: list[Q], v: Sequence[Q], neuron: tuple[int, int],
               weights: Sequence[Q | None], signs: Sequence[int | None]) -> Anchor | None:
        """A point of B_z beyond the known boundary of `neuron` (layer, index) that the step along v from
        `anchor` meets at q, found without queries: where every active layer-(k-1) neuron's weight is known,
        grad z is `formula_grad`, so the anchor's plane, true to the formula, continues beyond q on the plane
        through q with the formula's gradient there.  Only proposed: the walk's next crossing verifies it
        (with a kink), and a failure there sends the walk back to its last real anchor.  None where the formula
        does not reach (an unknown weight active) or the anchor's gradient is not the formula's."""
        if self.formula_grad(anchor.x, weights, signs) != list(anchor.grad):
            return None
        key = list(self.known.region_key(anchor.x))
        flip = sum(len(layer.rows) for layer in self.known.layers[:neuron[0]]) + neuron[1]
        key[flip] = not key[flip]
        p = self._inside(q, v, tuple(key))
        G2 = None if p is None else self.formula_grad(p, weights, signs)
        if G2 is None or not any(G2):
            return None
        u = reject(v, G2)
        y = self._inside(q, u, tuple(key)) if any(u) else None
        return None if y is None else Anchor(self.simplify(y, G2), G2)

    def formula_grad(self, x: Sequence[Q], weights: Sequence[Q | None], signs: Sequence[int | None]
                     ) -> list[Q] | None:
        """grad z at x on the walk's scale, sum_j W_zj t_j [t_j h_j > 0] grad h_j (see `decompose`), if every
        active neuron's weight and sign is known and x is on no known boundary; else None."""
        mats = self.known.local_mats(x)
        if any(v == 0 for vals, _ in mats for v in vals):
            return None
        vals, jh = mats[self.k1]
        coefs = _coefficients(vals, weights, signs)
        return None if coefs is None else (fmpq_mat(1, len(coefs), coefs) * jh).entries()

    def _inside(self, q: Sequence[Q], u: Sequence[Q], key: tuple, tries: int = 12) -> list[Q] | None:
        """A point q + s u in the known layers' region `key` (s halved from half the way to the next known
        boundary, at most `tries` times), or None."""
        ahead = self.known.first_crossing(q, u)
        s = fmpq(1) if ahead is None else ahead[0] / 2
        for _ in range(tries):
            y = [qi + s * ui for qi, ui in zip(q, u)]
            if self.known.strict_region_key(y) == key:
                return y
            s /= 2
        return None

    def perturb_in_plane(self, v: Sequence[Q], G: Sequence[Q]) -> list[Q]:
        """v plus a random direction of the plane normal to G (same order of magnitude)."""
        scale = max_abs(v)
        r = [fmpq(self.rng.randint(-64, 64), 64) * scale for _ in v]
        return [vi + ri for vi, ri in zip(v, reject(r, G))]

    # ------------------------------------------------------------ crossing
    def cross(self, anchor: Anchor, q: list[Q], v: list[Q], c: Q, g: list[Q],
              layer: int, idx: int, jump: Q | None = None):
        """Find B_z's plane beyond q (normal G + lam g), verify it, and return the new anchor and the jump
        sigma lam towards increasing h_j.  With `jump` (that of an earlier crossing of the same boundary with the
        same pattern after it) the plane is predicted and only its centre probed (`centre`, 4 queries); the
        search below runs if that probe does not find B_z there."""
        G = anchor.grad
        m = reject(G, g)                                                # along B_j, across the old plane
        if not any(m):
            return ("fail", "boundary parallel to a known one")
        eps = c / 2 ** 10
        sigma = 1 if dot(g, v) > 0 else -1
        if jump is not None:
            G2 = [Gi + sigma * jump * gi for Gi, gi in zip(G, g)]
            y0 = [qi + 2 * eps * vi for qi, vi in zip(q, v)]
            s = -dot(G2, [a - b for a, b in zip(y0, q)]) / dot(G2, m)
            y, on = self.centre(q, [a + s * mi for a, mi in zip(y0, m)], G2, tries=1)
            if on:
                return ("ok", (Anchor(y, G2), idx if layer == self.k1 else None, jump))
        r = [qi + eps * vi for qi, vi in zip(q, v)]
        v_size = max_abs(v)
        m_scale = eps * v_size / max_abs(m)
        d = [mi * m_scale for mi in m]
        half = fmpq(2 ** 6)
        line = Line(tuple(r), tuple(d))
        crossed = idx if layer == self.k1 else None
        knots = self.known.knots_on_line(r, d, -half, half)[1:-1]      # known boundaries: kinks predicted
        ends = None
        if not knots:
            ends = line_ends(self.ev, line, -half, half)
            quick = self.quick_piece(q, line, ends, G, g)
            if quick is not None:
                y, G2, lam = quick
                return ("ok", (Anchor(y, G2), crossed, sigma * lam))
        scan = points_on_line(self.ev, line, -half, half, rng=self.rng, expected=knots, ends=ends)
        candidates = [k for k in scan.kinks if not self.known.on_known_boundary(list(k.x))]
        candidates.sort(key=lambda k: abs(k.t))
        probe_step = eps * v_size / 2 ** 10
        for kink in candidates[:2]:
            x2 = list(kink.x)
            plane = _plane_through(q, x2, G, g)
            if plane is None:
                continue
            G2, lam = plane
            y, on = self.centre(q, x2, G2)
            if on or self.verify_plane(q, v, eps, G, g, G2, m, probe_step):
                return ("ok", (Anchor(y, G2), crossed, sigma * lam))
        # no continuation: was B_z already bent before q?  probe the old plane just before q
        back = [qi - eps * vi for qi, vi in zip(q, v)]
        verdict = self.probe(back, G, probe_step)
        if verdict == "off":
            return ("deeper", f"B_z bends before reaching a known boundary (layer {layer + 1}, neuron {idx})")
        return ("fail", "no continuation of B_z found beyond a known boundary")

    def quick_piece(self, q: list[Q], line: Line, ends: tuple, G: list[Q], g: list[Q]
                    ) -> tuple[list[Q], list[Q], Q] | None:
        """`cross`'s plane from its line's two end pieces alone, where no known boundary crosses the line: their
        meeting point is B_z's kink if it is the only one, and the centre's probe (a kink exactly at a point of the
        plane off the line) then verifies the plane, as it does after a scan.  This skips the scan's 3 queries
        around the kink.  (y, G2, lam) if the first centre probe is "on"; else None with the random state put back,
        so the scan that follows takes exactly the path it would have taken (only the end pieces are shared).
        Where a neuron off along the line hides B_z's kink there, the end pieces can meet on B_z's plane while the
        scan would take a kink further on: another verified point of B_z, and another path (4-6-6-6-1 seed 5)."""
        t = intersect(*ends, self.ev.arith)
        if t is None or not ends[0].t0 < t < ends[1].t0:
            return None
        x2 = list(line.at(t))
        plane = None if self.known.on_known_boundary(x2) else _plane_through(q, x2, G, g)
        if plane is None:
            return None
        state = self.rng.getstate()
        y, on = self.centre(q, x2, plane[0], tries=1)
        if on:
            return y, plane[0], plane[1]
        self.rng.setstate(state)
        return None

    def centre(self, q: Sequence[Q], x2: Sequence[Q], normal: Sequence[Q], tries: int = CENTRE_TRIES) -> tuple[list[Q], bool]:
        """A point of the predicted plane of B_z's new piece well inside its region: halfway from x2 to the
        region's edge along x2 - q, plus a random step within the plane, moved to a nearby point with short
        coordinates (see `simplify`), and probed: B_z must have its kink exactly there (B_z of a deeper neuron
        may bend, or z fall silent, inside the known region).  Off the line through q and x2 (which every
        candidate plane contains), a kink there also verifies the plane.  Points closer to x2 are tried
        next (`tries` points in all); x2 itself is the last resort.  Returns (point, whether its probe found the
        kink)."""
        u = [a - b for a, b in zip(x2, q)]
        found = self.known.first_crossing(x2, u)
        reach = fmpq(1) if found is None else found[0] / 2
        probe_step = max_abs(u) / 2 ** 10
        r = reject([fmpq(self.rng.randint(-64, 64), 256) for _ in u], normal)
        scale = max_abs(u) / (64 * max_abs(r) or 1)
        r = [v * scale for v in r]           # small: the path stays close to the line
        for _ in range(tries):
            y = self.simplify([a + reach * (b + c) for a, b, c in zip(x2, u, r)], normal)
            if any(r) and self.probe(y, normal, probe_step) == "on":
                return y, True
            reach /= 8
        return list(x2), False

    def simplify(self, x: list[Q], normal: Sequence[Q]) -> list[Q]:
        """A point of the plane normal.(y - x) = 0 in x's region of the known layers whose coordinates are
        dyadic but one (solved exactly to stay on the plane).  Exact points along a walk would otherwise
        grow by hundreds of bits per step; this keeps every step's arithmetic and queries small.
        The region is checked exactly; x itself is returned if the rounded point leaves it."""
        vals = [v for layer_vals, _ in self.known.local_mats(x) for v in layer_vals]
        scales = self.known.gradient_scales(x)
        margin = min((abs(float(v)) / (1 + float(s)) for v, s in zip(vals, scales)), default=1.0)
        if margin <= 0:
            return x
        pivot = max(range(len(normal)), key=lambda i: abs(normal[i]))
        ratio = float(sum(abs(v) for v in normal) / abs(normal[pivot]))
        bits = max(0, math.ceil(-math.log2(margin / (8 * (ratio + len(x))))))
        y = [v if i == pivot else fmpq(int((v * 2 ** bits + fmpq(1, 2)).floor()), 2 ** bits) for i, v in enumerate(x)]
        y[pivot] = x[pivot] - sum((normal[i] * (y[i] - x[i]) for i in range(len(x)) if i != pivot), fmpq(0)) / normal[pivot]
        y_vals = [v for layer_vals in self.known.values(y) for v in layer_vals]
        same_region = all(v != 0 and (v > 0) == (u > 0) for u, v in zip(vals, y_vals))
        return y if same_region else x

    def verify_plane(self, q, v, eps, G, g, G2, m, probe_step) -> bool:
        """A random point of the predicted plane beyond q (off the 2-d slice searched) has a kink exactly there
        (m: G without its component along g, the direction `cross` searched in)."""
        e2 = reject(g, G)
        r = [fmpq(self.rng.randint(-64, 64), 64) for _ in G]
        for e in (G, e2):
            if any(e):
                r = reject(r, e)
        scale = eps * max_abs(v) / (max_abs(r) or 1)
        step = 2 * eps
        y0 = [qi + step * vi + scale * ri for qi, vi, ri in zip(q, v, r)]
        s = -dot(G2, [a - b for a, b in zip(y0, q)]) / dot(G2, m)
        y = [a + s * mi for a, mi in zip(y0, m)]
        return self.probe(y, G2, probe_step) == "on"

    def probe(self, y: Sequence[Q], n: Sequence[Q], length: Q) -> str:
        """Along n through y (steps of `length`): a kink exactly at y ("on"), elsewhere nearby ("off"), or none
        ("silent"; "flat" if the oracle is even constant there)."""
        step = length / max_abs(n)
        u = [step * ni for ni in n]
        u2 = [2 * ui for ui in u]
        ys = self.ev.points([[yi - wi for yi, wi in zip(y, u2)], [yi - ui for yi, ui in zip(y, u)],
                             [yi + ui for yi, ui in zip(y, u)], [yi + wi for yi, wi in zip(y, u2)]])
        left0 = [2 * b - a for a, b in zip(ys[0], ys[1])]
        right0 = [2 * a - b for a, b in zip(ys[2], ys[3])]
        same_slope = [b - a for a, b in zip(ys[0], ys[1])] == [b - a for a, b in zip(ys[2], ys[3])]
        if left0 == right0:
            return ("flat" if all(y == ys[0] for y in ys) else "silent") if same_slope else "on"
        return "off"

"""Additional layers in the mpmath and float modes: Algorithm 2 with tolerances (exactrev.deeper_layers is the
exact version; exactrev.extract calls this one for rounding oracles).

The walk along B_z is the same: inside a region of the known layers every known preactivation is affine, so the
first crossing q of B_z's local plane with a known boundary is computed (ClosestBoundary); beyond q the normal of
B_z is G + lam g, with g the crossed preactivation's gradient.  Here the new normal is measured afresh at one kink
on a short segment past q (a Jacobian jump) and only its scale and lam are fitted: derived from G alone, as the
exact walk does, it would carry G's rounding error multiplied at every crossing.  Across a boundary B_j of layer
k-1 the jump, towards increasing h_j, is W_zj grad h_j (Theorem 3) whatever h_j's unknown sign t_j; so a B_j whose
weight the walk has measured is crossed again on the predicted plane, only checked (NumericWalker.predicted).

Signs and the weights a walk did not reach come from one least-squares system per layer, the equations of
exactrev.signs (relu(t h) = (t h + |h|) / 2 makes them linear in t): the real solution for t is rounded to +-1,
the rest is solved again with t fixed, and a walk is kept only if the rounded system fits it to the arithmetic's
tolerance (a deeper neuron's walk does not: it is dropped and its point left for the next layer).  The largest
relative residual of a layer's fit is its measured error.  Every number is the oracle's (float or mpmath) and
every decision uses exactrev.arith's tolerances; nothing here claims exactness.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence

import mpmath
import numpy as np

from .arith import Arith, max_abs
from .geometry import Evaluator, Line, LineScan, jump_split, points_on_line, refined_kink, region_jacobian

Num = Any
MAX_FAILURES = 8            # failed steps in a row before a walk gives up
SEGMENT_HALVES = (16, 64)   # half-lengths of the segments past a crossing searched for B_z's new piece (units of eps)
EPS_DIVISOR = 16            # the segment lies eps = (distance to the crossing) / EPS_DIVISOR past it
KINK_WEIGHT = 2 ** 10       # weight of z = 0 at a located kink against one coordinate of grad z = G (see _refined)
SIGN_SLACK = 0.25           # a real solution for t_j farther than this from +-1 does not round
CROSS_KINKS = 4             # kinks nearest the crossing whose planes are measured for B_z's new piece (where few earlier
                            # neurons are on, many layer-k boundaries are parallel and close: 6-5-5-2 seed 0)


def num_array(values: Any, ar: Arith) -> np.ndarray:
    """numpy array of the mode's numbers (float64, or Python objects holding mpf)."""
    return np.array(values, dtype=float if ar.mode == "float" else object)


def _masked(a: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """a where `keep`, else 0 (np.where: multiplying mpf entries by numpy booleans converts each through repr)."""
    return np.where(keep, a, 0 * a)


def _key(local: list[tuple[np.ndarray, np.ndarray]]) -> tuple:
    return tuple(bool(v > 0) for pre, _ in local for v in pre)


@dataclass
class NumLayer:
    """A known hidden layer: rows and biases in the mode's numbers (h_j as found: sign maybe still unknown)."""

    rows: list[list[Num]]
    bias: list[Num]


class KnownLayers:
    """Layers 1..k-1 as far as known: every preactivation's value and gradient at a point (numpy, mode numbers)."""

    def __init__(self, n_in: int, layers: Sequence[NumLayer], ar: Arith) -> None:
        self.n_in, self.ar = n_in, ar
        self.layers = list(layers)
        self.W = [num_array(layer.rows, ar) for layer in layers]
        self.b = [num_array(layer.bias, ar) for layer in layers]
        self.eye = num_array([[ar.num(int(i == j)) for j in range(n_in)] for i in range(n_in)], ar)

    def local(self, x: Sequence[Num]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(preactivations, their gradients as rows) of every known layer at x (one-sided on a boundary: a
        preactivation <= 0 counts as off)."""
        return [(pre[0], grads[0]) for pre, grads in self.local_batch(num_array([list(x)], self.ar))]

    def local_batch(self, xs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """`local` at each row of xs at once: per layer, preactivations (points x neurons) and their gradients
        (points x neurons x inputs)."""
        a, J = xs, np.broadcast_to(self.eye, (len(xs),) + self.eye.shape)
        out = []
        for W, b in zip(self.W, self.b):
            pre, grads = a @ W.T + b, W @ J
            out.append((pre, grads))
            on = pre > 0
            a, J = _masked(pre, on), _masked(grads, on[..., None])
        return out

    def region_key(self, x: Sequence[Num]) -> tuple:
        """Which known preactivations are positive at x (x's region; independent of the unknown signs)."""
        return _key(self.local(x))

    def slack(self, x: Sequence[Num]) -> list[Num]:
        """Per known neuron, |h| / |grad h| at x: how far x is from that boundary (inf where grad h = 0)."""
        out = []
        for pre, grads in self.local(x):
            for v, g in zip(pre, grads):
                size = max_abs(g)
                out.append(abs(v) / size if size else float("inf"))
        return out

    def on_known_boundary(self, x: Sequence[Num]) -> bool:
        """x lies on a known boundary, to the arithmetic's loose tolerance (relative to x's size)."""
        scale = 1 + max_abs(num_array(list(x), self.ar))
        return any(s <= self.ar.loose * scale for s in self.slack(x))

    def first_crossing(self, x: Sequence[Num], v: Sequence[Num]) -> tuple[Num, int, int, np.ndarray] | None:
        """Smallest c > 0 where x + c v meets a known boundary (every preactivation is affine until the first
        one): (c, layer, neuron, gradient of that preactivation), or None if the ray meets none."""
        vv = num_array(list(v), self.ar)
        scale = 1 + max_abs(num_array(list(x), self.ar))
        best = None
        for li, (pre, grads) in enumerate(self.local(x)):
            c = self._ahead(pre, grads, vv, self.ar.loose * scale)
            i = int(np.argmin(c))
            if c[i] < np.inf and (best is None or c[i] < best[0]):
                best = (c[i], li, i, grads[i])
        return best

    def first_crossings(self, local: list[tuple[np.ndarray, np.ndarray]], xs: np.ndarray, vs: np.ndarray,
                        tol: Num = None) -> np.ndarray:
        """`first_crossing`'s c for each row of xs (their `local_batch`) along the same row of vs; inf where the
        ray meets no known boundary.  `tol`: of x on a boundary (relative to x's scale), loose by default."""
        scale = (self.ar.loose if tol is None else tol) * (1 + np.abs(xs).max(axis=1))
        return np.min([self._ahead(pre, grads, vs, scale).min(axis=-1) for pre, grads in local], axis=0)

    def _ahead(self, pre: np.ndarray, grads: np.ndarray, v: np.ndarray, tol: Any) -> np.ndarray:
        """Per neuron, the c > 0 where x + c v meets its boundary (pre, grads: its local values at x; a batch if
        they have a leading axis); inf if never ahead or if x lies on it (|h| <= tol |grad h|)."""
        slopes = (grads @ v[..., None])[..., 0]
        size = np.abs(grads).max(axis=-1)
        live = (slopes != 0) & (np.abs(pre) > np.asarray(tol)[..., None] * size)
        c = np.where(live, -pre / np.where(live, slopes, 1), -1)
        return np.where(c > 0, c, np.inf)


@dataclass
class NumWalk:
    """A walk along B_z: anchors (points of B_z with grad z there, on the walk's scale) and the weights measured
    at crossings of layer-(k-1) boundaries (j -> W_zj)."""

    anchors: list[tuple[np.ndarray, np.ndarray]]
    kinks: list[np.ndarray]          # points of B_z located as kinks (the anchors are moved off them, see centre)
    weights: dict[int, Num] = field(default_factory=dict)
    status: str = "layer"           # "layer", "deeper" (two crossings of one B_j disagree), "failed"
    reason: str = ""


class NumericWalker:
    """Walks boundaries of candidate layer-k neurons with a rounding oracle (see the module doc)."""

    def __init__(self, ev: Evaluator, known: KnownLayers, rng: random.Random) -> None:
        self.ev, self.known, self.rng, self.ar = ev, known, rng, ev.arith
        self.k1 = len(known.layers) - 1

    def walk(self, x: Sequence[Num], normal: Sequence[Num]) -> NumWalk:
        """Explore B_z from the boundary point x with local normal `normal` until every layer-(k-1) boundary
        has been crossed or no step succeeds MAX_FAILURES times in a row."""
        ar = self.ar
        width = len(self.known.layers[self.k1].rows)
        walk = NumWalk([(num_array(list(x), ar), num_array(list(normal), ar))], [num_array(list(x), ar)])
        failures, steps = 0, 0
        behind, last = None, None       # last: the layer-(k-1) boundary crossed to reach the last anchor; behind: the
                                        # same if the step before crossed it too (a zig-zag across it, see ahead)
        max_steps = 5 * sum(len(layer.rows) for layer in self.known.layers) + 20
        while failures < MAX_FAILURES and steps < max_steps:
            missing = [j for j in range(width) if j not in walk.weights]
            if not missing:
                break
            steps += 1
            x0, G = walk.anchors[-1] if failures == 0 else self.rng.choice(walk.anchors)
            found = self.step(x0, G, missing, randomise=failures > 0, known=walk.weights,
                              behind=behind if failures == 0 else None)
            if found is None:
                failures += 1
                continue
            x2, kink, G2, layer, j, w = found
            crossed = j if layer == self.k1 else None
            behind, last = (crossed if crossed == last else None), crossed
            if layer == self.k1:
                if j in walk.weights and abs(walk.weights[j] - w) > ar.loose * max(abs(w), abs(walk.weights[j])):
                    walk.status, walk.reason = "deeper", (f"two crossings of layer-{layer + 1} neuron {j} give "
                                                          f"weights {float(walk.weights[j]):.6g} and {float(w):.6g}")
                    return walk
                walk.weights.setdefault(j, w)
            walk.anchors.append((x2, G2))
            walk.kinks.append(kink)
            failures = 0
        if len(walk.anchors) == 1:
            walk.status, walk.reason = "failed", "no crossing with a known boundary could be followed"
        return walk

    def step(self, x: np.ndarray, G: np.ndarray, missing: Sequence[int], randomise: bool,
             known: dict[int, Num] | None = None, behind: int | None = None):
        """Move within B_z's plane towards the nearest missing layer-(k-1) boundary (a random one, slightly off
        course, after a failure) and cross the first known boundary met: (next anchor, the kink found on B_z's
        new piece, its normal G2, layer, neuron, lam with the sign of Theorem 3) or None.  A layer-(k-1) boundary
        whose weight the walk measured already (`known`) is crossed on the predicted plane (`predicted`); one the
        walk has crossed back and forth to reach x (`behind`) is not crossed a third time (`ahead`)."""
        vals, grads = self.known.local(x)[self.k1]
        GG = G @ G
        options = []
        for j in missing:
            proj = grads[j] - (grads[j] @ G / GG) * G
            pp = proj @ proj
            if vals[j] != 0 and pp > self.ar.rel * (grads[j] @ grads[j]):
                options.append((vals[j] ** 2 / pp, j, proj))
        if not options:
            return None
        options.sort(key=lambda o: o[0])
        _, j, proj = self.rng.choice(options) if randomise else options[0]
        v = proj * (-1 if vals[j] > 0 else 1)
        if randomise:
            r = num_array([self.ar.num(self.rng.randint(-64, 64)) / 64 for _ in v], self.ar) * max_abs(v)
            v = v + r - (r @ G / GG) * G
        hit, v = self.ahead(x, G, v, grads[j], behind)
        if hit is None:
            return None
        c, layer, idx, g = hit
        q = x + c * v
        sigma = 1 if g @ v > 0 else -1
        if layer == self.k1 and known and idx in known:
            beyond = self.predicted(q, G + sigma * known[idx] * g, g * sigma)
            if beyond is not None:
                return beyond + (layer, idx, known[idx])
        bend = self.cross(q, v, c, G, g)
        if bend is None:
            return None
        x2, G2, lam = bend
        return self.centre(x2, G2, g * sigma), x2, G2, layer, idx, sigma * lam

    def ahead(self, x: np.ndarray, G: np.ndarray, v: np.ndarray, toward: np.ndarray,
              behind: int | None) -> tuple[tuple | None, np.ndarray]:
        """(first known boundary met from x along v, as first_crossing, and v), with v turned within B_z's plane
        parallel to the layer-(k-1) boundary `behind` (the one the walk crossed, back and forth, to reach x) if
        that is the first met and the turned v still heads for the boundary it aims at (gradient `toward`): the
        walk is zig-zagging along where B_z meets it, which is the way to the missing boundary (6-5-5-2 seed 1
        crossed one boundary 20 times in one walk and never reached two others).  Only after a zig-zag: turning
        at every step back changes paths that were fine (80-40-20-1's float run then ended partial)."""
        hit = self.known.first_crossing(x, v)
        if behind is None or hit is None or hit[1] != self.k1 or hit[2] != behind:
            return hit, v
        e = hit[3] - (hit[3] @ G / (G @ G)) * G
        if e @ e <= self.ar.rel * (hit[3] @ hit[3]):
            return hit, v
        turned = v - (v @ e / (e @ e)) * e
        aim = v @ toward
        if (turned @ toward) * aim <= self.ar.rel * aim * aim:      # no longer heading for it
            return hit, v
        turned_hit = self.known.first_crossing(x, turned)
        return (hit, v) if turned_hit is None else (turned_hit, turned)

    def predicted(self, q: np.ndarray, G2: np.ndarray, away: np.ndarray) -> tuple | None:
        """(next anchor, kink, G2) if B_z goes on beyond the crossing q with the normal G2 its measured weight
        predicts: the oracle shows a kink at the next anchor on a short segment along G2 (as `probe` asks; the
        kink's position then refined as on a crossing's line, 4 queries), instead of a line search and two
        Jacobians; None if it does not (a deeper neuron's boundary can bend otherwise there, and the crossing is
        then measured, where its weight disagrees) or there is no room for a segment the arithmetic resolves.
        The walk measured that weight once already, so a crossing again gives no weight, only the way on."""
        y = self.centre(q, G2, away)
        size = min(self.known.slack(y), default=0) / (4 * self.known.n_in)
        if not size or size == float("inf") or size < self.ar.loose * (1 + max_abs(y)):
            return None
        line = Line(tuple(y), tuple(G2 * (size / max_abs(G2))))
        scan = points_on_line(self.ev, line, self.ar.num(-1), self.ar.num(1), rng=self.rng)
        i = _kink_at_centre(scan, self.ar)
        return None if i is None else (y, num_array(line.at(refined_kink(self.ev, scan, i)), self.ar), G2)

    def centre(self, x2: np.ndarray, G2: np.ndarray, away: np.ndarray) -> np.ndarray:
        """A point of B_z's new plane halfway from x2 to the next known boundary, moving away from the one just
        crossed (`away`: its gradient, oriented along the walk): the next step then does not start on it."""
        u = away - (away @ G2 / (G2 @ G2)) * G2
        hit = self.known.first_crossing(x2, u)
        return x2 if hit is None else x2 + (hit[0] / 2) * u

    def cross(self, q: np.ndarray, v: np.ndarray, c: Num, G: np.ndarray, g: np.ndarray) -> tuple | None:
        """B_z's new piece beyond q: (a kink x2 on it, lam with normal G + lam g there).

        The new normal is measured afresh at the kink (the rank-one jump of the output's Jacobian, as in
        InferHyperplane) and only its scale and lam are fitted, mu n = G + lam g: deriving it from G alone would
        multiply G's rounding error at every crossing.  A kink whose plane does not pass through q, or whose
        normal is not in the span of G and g (to the loose tolerance), is another neuron's (where only B_j's side
        of layer k-1 is active, every layer-k boundary is parallel to B_j)."""
        ar = self.ar
        m = G - (G @ g / (g @ g)) * g              # along B_j, across the old plane
        if max_abs(m) <= ar.loose * max_abs(G):
            return None
        eps = c / EPS_DIVISOR
        line = Line(tuple(q + eps * v), tuple(m * (eps * max_abs(v) / max_abs(m))))
        for half in SEGMENT_HALVES:
            scan = points_on_line(self.ev, line, ar.num(-half), ar.num(half), rng=self.rng)
            order = sorted(range(len(scan.kinks)), key=lambda i: abs(scan.kinks[i].t))
            order = [i for i in order if not self.known.on_known_boundary(scan.kinks[i].x)]
            if order:
                break
        for i in order[:CROSS_KINKS]:
            n = self.normal_at(scan, i)
            if n is None:
                continue
            mu, lam = _fit_bend(n, g, G)
            G2 = G + lam * g
            x2 = num_array(line.at(refined_kink(self.ev, scan, i)), ar)
            through_q = abs(n @ (x2 - q)) <= ar.loose * max_abs(n) * max_abs(x2 - q)   # B_z's new piece contains q
            in_span = max_abs(mu * n - G2) <= ar.loose * max_abs(G2)
            if through_q and in_span and self.on_new_piece(x2, mu * n, q, eps * max_abs(v)):
                return x2, mu * n, lam
        return None

    def on_new_piece(self, x2: np.ndarray, G2: np.ndarray, q: np.ndarray, size: Num) -> bool:
        """A random point of the new piece's plane (as far from q as x2, off the line searched) shows a kink
        there: a kink where B_z meets another unknown boundary has a plane that does not continue."""
        r = num_array([self.ar.num(self.rng.randint(-64, 64)) / 64 for _ in x2], self.ar)
        r = r - (r @ G2 / (G2 @ G2)) * G2
        y = x2 + r * (max_abs(x2 - q) / (max_abs(r) or 1))
        if self.known.region_key(y) != self.known.region_key(x2):
            return True                  # the check would need another region: trust the fit of the normal
        return probe(self.ev, y, G2 * (size / 4 / max_abs(G2)), self.rng) == "on"

    def weight_at_meeting(self, row: Sequence[Num], bias: Num, j: int, unseen: Sequence[int]) -> Num | None:
        """W_zj of a neuron whose walk never met B_j (the walker's known layers: 1..k-1 with every sign solved),
        measured where the neuron's formula predicts B_z to meet B_j (right where every other `unseen` neuron is
        off): a point q of both (meeting_newton, from random starts in boxes of half-width 1..2^7), approached
        inside B_z's plane from h_j < 0, and the bend there (cross).  None if no meeting point is found or no
        crossing there passes cross's checks."""
        ar, n = self.ar, self.known.n_in
        w = num_array(list(row), ar)
        starts = num_array([[ar.num(self.rng.randint(-1024, 1024)) / 1024 * 2 ** (i % 8) for _ in range(n)]
                            for i in range(MEETING_LINES)], ar)
        for q in meeting_newton(self.known, w, bias, j, starts):
            if q is None:
                continue
            vals, grads = self.known.local(q)[-1]
            if any(vals[other] > 0 for other in unseen if other != j):
                continue
            g, G = grads[j], _masked(w, vals > 0) @ grads
            v = g - (g @ G / (G @ G)) * G if G @ G else g * 0          # in B_z's plane, h_j increasing
            own = sum(len(layer.rows) for layer in self.known.layers[:-1]) + j
            room = min((s for i2, s in enumerate(self.known.slack(q)) if i2 != own), default=0)
            if not max_abs(v) or not room:
                continue
            bend = self.cross(q, v, room / (4 * n * max_abs(v)), G, g)
            if bend is not None:
                return bend[2]
        return None

    def normal_at(self, scan: LineScan, i: int) -> np.ndarray | None:
        """The normal of the boundary at kink i of the scan, from the Jacobians of the regions on its sides."""
        split = jump_split(region_jacobian(self.ev, scan, i), region_jacobian(self.ev, scan, i + 1), self.ar)
        return None if split is None else num_array(split[1], self.ar)


MEETING_LINES = 16          # random starts for the meeting point of B_z and B_j of an unseen weight ...
MEETING_STEPS = 24          # ... each by at most this many Newton steps
CONFIRM_MIN = 3             # predicted far points of B_z that must show a kink before a neuron is believed ...
CONFIRM_LINES = 48          # ... looked for on at most this many random lines
ZERO_SAMPLES = 128          # samples of a neuron's formula along a line when looking for its zero


def meeting_newton(known: KnownLayers, w: np.ndarray, bias: Num, j: int, starts: np.ndarray,
                   steps: int = MEETING_STEPS) -> list[np.ndarray | None]:
    """Per row of `starts`, a point where the formula z = w . relu(h) + bias (h: the last known layer) has B_z meet
    B_j, by Newton's method on the two piecewise linear functions h_j and z: in the start's region the nearest
    point where both local planes vanish; if the way there leaves the region, start again in the middle of the
    next region on the way.  None after `steps`.  Every start steps at once (numpy over the batch: most starts lead
    nowhere, and one at a time the Python overhead dominated deep extractions).  A step's end counts only if it
    lies on both boundaries in its own region, to the arithmetic's tight tolerance (`rel`); otherwise Newton goes
    on from it.  (Exact mode runs it in float64 to propose points: deeper_layers.meeting_points.)"""
    tol = known.ar.rel               # of a point on a boundary: as tight as the arithmetic allows
    found: list[np.ndarray | None] = [None] * len(starts)
    y, alive = starts.copy(), np.arange(len(starts))
    for _ in range(steps):
        if not len(alive):
            break
        local = known.local_batch(y)
        hj, z, g, G = _meeting_terms(local, w, bias, j)
        gg, gG, GG = (g * g).sum(axis=1), (g * G).sum(axis=1), (G * G).sum(axis=1)
        det = gg * GG - gG * gG
        solvable = det != 0
        det = np.where(solvable, det, 1)
        dx = ((z * gG - hj * GG) / det)[:, None] * g + ((hj * gG - z * gg) / det)[:, None] * G
        hit = known.first_crossings(local, y, dx, tol)
        reached = solvable & (hit >= 1)
        if reached.any():           # a boundary within the tolerance of y may have been crossed unseen:
            ends = y[reached] + dx[reached]             # keep the end only if it is on B_j and B_z in its own region
            hj2, z2, g2, G2 = _meeting_terms(known.local_batch(ends), w, bias, j)
            scale = tol * (1 + np.abs(ends).max(axis=1))
            met = (np.abs(hj2) <= scale * np.abs(g2).max(axis=1)) & (np.abs(z2) <= scale * np.abs(G2).max(axis=1))
            for s, end, ok in zip(np.flatnonzero(reached), ends, met):
                if ok:
                    found[alive[s]] = end
                else:                   # Newton again from there, in the region it is really in
                    y[s], dx[s], hit[s] = end, 0, 0
        going = solvable & (hit < 1)
        y, dx, hit, alive = y[going], dx[going], hit[going], alive[going]
        past = y + hit[:, None] * dx
        after = known.first_crossings(known.local_batch(past), past, dx, tol)
        y = past + (np.where(after < 1 - hit, after, 1 - hit) / 2)[:, None] * dx
    return found


def _meeting_terms(local: list[tuple[np.ndarray, np.ndarray]], w: np.ndarray, bias: Num, j: int) -> tuple:
    """(h_j, z, grad h_j, grad z) at each point of a batch, from its `local_batch` (z = w . relu(h) + bias, h the
    last known layer)."""
    vals, grads = local[-1]
    on = _masked(w, vals > 0)
    return vals[:, j], (on * vals).sum(axis=1) + bias, grads[:, j, :], (on[:, None, :] @ grads)[:, 0, :]


def confirms(ev: Evaluator, known: KnownLayers, row: Sequence[Num], bias: Num, rng: random.Random,
             unseen: Sequence[int] = (), near: np.ndarray | None = None, visited: frozenset = frozenset()) -> bool:
    """Far from its walk, the neuron's formula (row . relu(h) + bias, h the last layer of `known` with every sign
    solved) predicts B_z on random lines through boxes of half-width 1..2^7; CONFIRM_MIN of those points must show
    a kink there (a deeper neuron's walk that stayed in one region of the layers between fits a layer-k formula
    there and nowhere else).  A probe where the oracle is flat is skipped: everything downstream is off there; so
    is a predicted point where a neuron of layer k-1 whose weight the walk could not see (`unseen`) is active.
    Every other line passes through a box of half-width 2^-3..2^4 around `near` (a point of the walk): a neuron
    active only on a small set has a small boundary, which random lines far out rarely meet.  Where one is found,
    one of the points must lie in a region the walk did not visit (`visited`: keys of KnownLayers.region_key),
    where a deeper neuron's walk no longer fits."""
    ar = known.ar
    w = num_array(list(row), ar)
    on, outside = 0, False
    for i in range(CONFIRM_LINES):
        if on >= CONFIRM_MIN and (outside or not visited):
            return True
        local = near is not None and i % 2 == 1
        scale = ar.num(2) ** ((i // 2) % 8 - 3) if local else 2 ** (i % 8)
        p = num_array([ar.num(rng.randint(-1024, 1024)) / 1024 * scale for _ in range(known.n_in)], ar)
        if local:
            p = p + near
        d = num_array([ar.num(rng.randint(-1024, 1024)) / 1024 for _ in range(known.n_in)], ar)
        y = _zero_on_line(known, w, bias, p, d, 8 * scale)
        if y is None:
            continue
        local = known.local(y)
        vals, grads = local[-1]
        if any(vals[j] > 0 for j in unseen):
            continue
        grad = _masked(w, vals > 0) @ grads
        room = min(known.slack(y))
        if not max_abs(grad) or not room:
            continue
        verdict = probe(ev, y, grad * (min(room, 1) / 4 / max_abs(grad)), rng)
        if verdict == "on":
            on += 1
            outside |= _key(local) not in visited
        elif verdict != "flat":
            return False
    return on >= CONFIRM_MIN


def _zero_on_line(known: KnownLayers, w: np.ndarray, bias: Num, p: np.ndarray, d: np.ndarray, reach: Num):
    """A point p + t d, |t| < reach, where the formula w . relu(h) + bias changes sign, or None: bisection until
    both ends lie in one region of the known layers, where the formula is affine and its zero is interpolated."""
    ar = known.ar

    def z(t: Num) -> tuple[Num, tuple]:
        local = known.local(p + t * d)
        vals = local[-1][0]
        return _masked(w, vals > 0) @ vals + bias, _key(local)

    ts = [ar.num(2 * i - ZERO_SAMPLES) / ZERO_SAMPLES * reach for i in range(ZERO_SAMPLES + 1)]
    zs = [z(t) for t in ts]
    for a, b, (za, ka), (zb, kb) in zip(ts, ts[1:], zs, zs[1:]):
        if za * zb < 0:
            for _ in range(ar.bits + 8):
                if ka == kb:
                    return p + (a + (b - a) * za / (za - zb)) * d
                m = (a + b) / 2
                zm, km = z(m)
                a, b, za, zb, ka, kb = (m, b, zm, zb, km, kb) if zm * za > 0 else (a, m, za, zm, ka, km)
            return None
    return None


def probe(ev: Evaluator, y: np.ndarray, u: np.ndarray, rng: random.Random) -> str:
    """Along y + t u, |t| < 1: a kink at y ("on", to 2^-10 of the segment), kinks elsewhere only ("off"), none
    ("silent"), or a constant output ("flat")."""
    ar = ev.arith
    scan = points_on_line(ev, Line(tuple(y), tuple(u)), ar.num(-1), ar.num(1), rng=rng)
    if _kink_at_centre(scan, ar) is not None:
        return "on"
    if scan.kinks:
        return "off"
    return "flat" if all(s == 0 for s in scan.regions[0][2].slope) else "silent"


def _kink_at_centre(scan: LineScan, ar: Arith) -> int | None:
    """Index of a kink of a scan of [-1, 1] within 2^-10 of its centre, if any."""
    return next((i for i, k in enumerate(scan.kinks) if abs(k.t) <= ar.num(2) ** -10), None)


def _fit_bend(n: np.ndarray, g: np.ndarray, G: np.ndarray) -> tuple[Num, Num]:
    """(mu, lam) minimising |mu n - lam g - G| (2 x 2 normal equations)."""
    a11, a12, a22 = n @ n, -(n @ g), g @ g
    r1, r2 = n @ G, -(g @ G)
    det = a11 * a22 - a12 * a12
    return (r1 * a22 - a12 * r2) / det, (a11 * r2 - a12 * r1) / det


# ----------------------------------------------------------------------- the layer's least squares
def lstsq(rows: Sequence[Sequence[Num]], rhs: Sequence[Num], ar: Arith | None,
          weights: Sequence[Num] | None = None) -> np.ndarray:
    """Least-squares solution, each equation scaled to max-abs 1 (times its weight, if given) first: in float64
    (numpy, minimum norm) when `ar` is None or in float mode, else in mpmath's precision (normal equations at twice
    the precision: mpmath's QR divides by zero when a diagonal entry is 0; columns the equations do not determine
    are set to 0)."""
    A, y = [], []
    for i, (row, r) in enumerate(zip(rows, rhs)):
        s = max(max(abs(v) for v in row), abs(r))
        if s:
            s = s / (weights[i] if weights is not None else 1)
            A.append([v / s for v in row])
            y.append(r / s)
    n = len(rows[0]) if rows else 0
    if ar is None or ar.mode == "float":
        return np.linalg.lstsq(np.array(A, dtype=float).reshape(-1, n), np.array(y, dtype=float), rcond=None)[0]
    out = num_array([ar.num(0)] * n, ar)
    cols = [c for c in range(n) if c not in null_columns(A, n)]      # the solve needs full column rank
    if A and cols:
        with mpmath.workprec(2 * mpmath.mp.prec):       # normal equations square the condition number
            M = mpmath.matrix([[row[c] for c in cols] for row in A])
            x = mpmath.lu_solve(M.T * M, M.T * mpmath.matrix(y))
        for i, c in enumerate(cols):
            out[c] = +x[i]
    return out


def null_columns(rows: Sequence[Sequence[Num]], n: int) -> set[int]:
    """Columns the equations do not determine (float64 SVD: a column with weight in a null vector)."""
    A = np.array([[float(v) for v in row] for row in rows], dtype=float).reshape(-1, n)
    norms = np.abs(A).max(axis=1)
    A = A[norms > 0] / norms[norms > 0, None]
    if A.shape[0] == 0:
        return set(range(n))
    _, s, vt = np.linalg.svd(A, full_matrices=False)
    rank = int(np.sum(s > s[0] * 1e-9)) if s.size else 0
    null = vt[rank:]
    return {c for c in range(n) if null.size and np.abs(null[:, c]).max() > 1e-6}


@dataclass
class LayerFit:
    """Signs of layer k-1 (None: undetermined, kept as found), layer k's rows and biases, per-walk notes on
    weights left at 0, the walks used and the largest relative residual of the fit."""

    signs: list[int | None]
    rows: list[list[Num]]
    bias: list[Num]
    notes: list[dict[int, str]]
    walks: list[NumWalk]
    residual: float

    def explains(self, known: KnownLayers, x: Sequence[Num], normal: Sequence[Num]) -> bool:
        """x lies on the boundary of one of the fitted neurons, with `normal` as its normal (to the loose
        tolerance): a walk from x would find that neuron again."""
        ar = known.ar
        vals, grads = known.local(x)[-1]
        t = num_array([ar.num(s if s is not None else 1) for s in self.signs], ar)
        on = (t * vals) > 0
        n = num_array(list(normal), ar)
        n = n / max_abs(n)
        for row, b in zip(self.rows, self.bias):
            w = _masked(num_array(row, ar) * t, on)
            value, grad = w @ vals + b, w @ grads
            size = max_abs(grad)
            if size and abs(value) <= ar.loose * (abs(b) + max_abs(num_array(row, ar)) * max_abs(vals)) and \
                    min(max_abs(grad / size - n), max_abs(grad / size + n)) <= ar.loose:
                return True
        return False


class LayerSystem:
    """The equations of one layer's walks (exactrev.signs' form): unknowns t (width), b_z per walk and c_zj, the
    constant coefficient of h_j along walk z for every j the walk never crossed."""

    def __init__(self, known: KnownLayers, walks: Sequence[NumWalk]) -> None:
        self.known, self.walks, self.ar = known, list(walks), known.ar
        self.width = len(known.layers[-1].rows)
        self.free = [(wi, j) for wi, w in enumerate(walks) for j in range(self.width) if j not in w.weights]
        self.col = {key: self.width + len(walks) + i for i, key in enumerate(self.free)}
        self.n = self.width + len(walks) + len(self.free)
        self.rows: list[list[Num]] = []
        self.rhs: list[Num] = []
        self.owner: list[int] = []            # walk of each equation
        self.sides: dict[tuple[int, int], int] = {}
        for wi, w in enumerate(walks):
            for x, G in w.anchors:
                self.add_anchor(wi, w, x, G)

    def add_anchor(self, wi: int, w: NumWalk, x: np.ndarray, G: np.ndarray) -> None:
        """grad z(x) = G and z(x) = 0, with W_zj relu(t_j h_j) = W_zj (t_j h_j + |h_j|) / 2 for crossed j."""
        zero = self.ar.num(0)
        vals, grads = self.known.local(x)[-1]
        for j in range(self.width):
            if j not in w.weights:
                self.sides.setdefault((wi, j), 1 if vals[j] > 0 else -1)
        for d in range(len(G) + 1):
            row = [zero] * self.n
            rhs = G[d] if d < len(G) else zero
            for j in range(self.width):
                f = grads[j][d] if d < len(G) else vals[j]
                if j in w.weights:
                    half = w.weights[j] / 2
                    row[j] = half * f
                    rhs -= half * (f if vals[j] > 0 else -f) if d < len(G) else half * abs(vals[j])
                else:
                    row[self.col[(wi, j)]] = f
            if d == len(G):
                row[self.width + wi] = self.ar.num(1)
            self.rows.append(row)
            self.rhs.append(rhs)
            self.owner.append(wi)

    def solve(self, precise: bool = True) -> tuple[list[int | None], dict[int, np.ndarray], list[float]] | None:
        """Signs rounded from the real least-squares solution (float64: they are only proposed), then each walk's
        own unknowns (b_z, c_zj) solved again with t fixed (in the mode's precision if `precise`, else float64),
        and each walk's largest relative residual; None if some determined t_j does not round to +-1.  An
        undetermined t_j (None) keeps its real value in the refit: the residual then measures the walks alone."""
        loose = null_columns(self.rows, self.n)
        x = lstsq(self.rows, self.rhs, None)
        signs: list[int | None] = []
        for j in range(self.width):
            if j in loose or all(row[j] == 0 for row in self.rows):
                signs.append(None)
            elif abs(abs(float(x[j])) - 1) > SIGN_SLACK:
                return None
            else:
                signs.append(1 if x[j] > 0 else -1)
        t = [self.ar.num(s) if s is not None else self.ar.num(float(x[j])) for j, s in enumerate(signs)]
        zero = self.ar.num(0)
        rest: dict[int, np.ndarray] = {}
        res = [0.0] * len(self.walks)
        for wi in range(len(self.walks)):
            cols = [self.width + wi] + [self.col[key] for key in self.free if key[0] == wi]
            mine = [i for i, o in enumerate(self.owner) if o == wi]
            rows = [[self.rows[i][c] for c in cols] for i in mine]
            rhs = [self.rhs[i] - sum((self.rows[i][j] * t[j] for j in range(self.width)), zero) for i in mine]
            rest[wi] = sol = lstsq(rows, rhs, self.ar if precise else None)
            for i, row, r in zip(mine, rows, rhs):
                scale = max(max(abs(v) for v in self.rows[i]), abs(self.rhs[i]))   # the equation before t moved
                if scale:
                    res[wi] = max(res[wi], float(abs(sum((a * b for a, b in zip(row, sol)), zero) - r) / scale))
        return signs, rest, res


def fit_layer(known: KnownLayers, walks: Sequence[NumWalk], k: int, precise: bool = True) -> LayerFit | None:
    """Signs of layer k-1 and layer k from the walks, dropping the walk that fits worst (a deeper neuron's) until
    every walk fits to the arithmetic's loose tolerance; None if no walk is left.  Not `precise`: in float64
    (fast, to tell which points a walk would only find again)."""
    ar = known.ar
    walks = list(walks)
    while walks:
        system = LayerSystem(known, walks)
        solved = system.solve(precise)
        if solved is not None and max(solved[2]) <= ar.loose:
            return _layer_fit(system, *solved, k)
        worst = max(range(len(walks)), key=lambda i: solved[2][i]) if solved is not None else \
            min(range(len(walks)), key=lambda i: len(walks[i].anchors))
        del walks[worst]
    return None


def unmet_weight_note(k: int, j: int, why: str = "") -> str:
    """The note on a layer-k weight W_zj left at 0 because the walk never met B_j (`why`: the walk's reason, if
    any); the exact and the rounding paths say the same."""
    because = f" ({why})" if why else ""
    return (f"weight from layer-{k - 1} neuron {j} not determined: B_z never meets B_{j}{because} and neuron {j} is "
            f"inactive along B_z (section 5.2 case 1 or 2: z has one sign wherever {j} is on); set to 0")


def _layer_fit(system: LayerSystem, signs: list[int | None], rest: dict[int, np.ndarray], res: list[float],
               k: int) -> LayerFit:
    """Layer k's rows from the solved system: crossed weights as measured; c_zj = W_zj t_j where h_j's side along
    the walk is its active one (else W_zj is not seen there: set to 0, noted, section 5.2 case 1 or 2)."""
    ar, width = system.ar, system.width
    rows, bias, notes = [], [], []
    for wi, w in enumerate(system.walks):
        row, note = [], {}
        own = [key for key in system.free if key[0] == wi]      # the order of rest[wi][1:] (LayerSystem.solve)
        for j in range(width):
            t = signs[j] if signs[j] is not None else 1
            if j in w.weights:
                row.append(w.weights[j])
            elif system.sides[(wi, j)] == t:
                row.append(rest[wi][1 + own.index((wi, j))] * t)
            else:
                row.append(ar.num(0))
                note[j] = unmet_weight_note(k, j)
        row, b = _refined(system.known, w, row, rest[wi][0], signs, note)
        rows.append(row)
        bias.append(b)
        notes.append(note)
    return LayerFit(signs, rows, bias, notes, list(system.walks), max(res))


def _refined(known: KnownLayers, walk: NumWalk, row: list[Num], bias: Num, signs: Sequence[int | None],
             unseen: dict[int, str]) -> tuple[list[Num], Num]:
    """The neuron fitted again to the whole walk with the signs known: z = 0 at every kink of B_z (weighted by
    KINK_WEIGHT: a kink's position is measured from long chords, far more precisely than a normal from coordinate
    steps) and grad z = G at every anchor (fixing the walk's scale).  Weights in `unseen` stay 0."""
    ar = known.ar
    t = [s if s is not None else 1 for s in signs]
    cols = [j for j in range(len(row)) if j not in unseen]
    eqs, rhs = [], []
    for x in walk.kinks:
        vals = known.local(x)[-1][0]
        eqs.append([v * t[j] if v * t[j] > 0 else ar.num(0) for j, v in ((j, vals[j]) for j in cols)] + [ar.num(1)])
        rhs.append(ar.num(0))
    weights = [KINK_WEIGHT] * len(eqs)
    for x, G in walk.anchors:
        vals, grads = known.local(x)[-1]
        for d in range(len(G)):
            eqs.append([grads[j][d] * t[j] if vals[j] * t[j] > 0 else ar.num(0) for j in cols] + [ar.num(0)])
            rhs.append(G[d])
            weights.append(1)
    sol = lstsq(eqs, rhs, ar, weights)
    out = [ar.num(0)] * len(row)
    for i, j in enumerate(cols):
        out[j] = sol[i]
    return out, sol[-1]

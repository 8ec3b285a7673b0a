"""One line through input space: kinks located exactly (PointsOnLine), local affine pieces, Jacobians.
(ClosestBoundary inside a region of a known partial network is PartialNetwork.first_crossing.)

Along x(t) = p + t*d the output f(t) is piecewise linear in t.  An interval [a, b] is searched with the
affine piece valid just right of a and the one valid just left of b: equal pieces mean no kink
(generically); otherwise their intersection t* is queried (with rounding: only if t* is not too near an end, so pieces measured
at t* stay well conditioned), and a kink is accepted at t* only when
f(t*) and one point on each side (t* -/+ eta) lie on the respective pieces.  Otherwise the interval is
split at t* and both halves are searched.  Every accepted kink is therefore the exact intersection
of two affine pieces that were each confirmed by queries.  The only assumption is genericity of the
random line: a piece confirmed at 3+ points is a true piece (kinks that cancel exactly do not occur).

Kinks predicted by known hyperplanes (`expected`) are cheaper: the search starts split halfway between
them, and two pieces meeting at a predicted t (exactly, or within `loose` of the interval with rounding)
are accepted when f(t) lies on them (1 query instead of 3): other kinks in the interval would put the
meeting point there only by a coincidence (of measure zero when exact), except a bump of a deeper neuron
active on a stretch around t (the outer pieces then still meet at t), which f(t) sees.
Where a known network predicts every kink (verification lines, points_on_line_predicted), f is asked at each
predicted t and at one random point between each two: 2 queries per kink; only intervals whose three points
are not on one affine piece are searched.
"""

from __future__ import annotations

import bisect
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from flint import fmpq, fmpq_mat

from .arith import Arith, dot, max_abs
from .numbers import to_fmpq
from .oracle import Oracle

Number = Any
Vec = list
RECENT = 64          # exact answers an Evaluator remembers (see Evaluator)
SPAN_RETRIES = 4     # step sizes jacobian_in_span tries before it gives up


class Evaluator:
    """The oracle, speaking the arithmetic context's numbers (counts every query through the oracle).
    In exact mode the answers at the last RECENT points asked are remembered and not asked again: a walk often
    probes a point a few queries after it probed it the first time (a crossing proposed, then searched for)."""

    def __init__(self, oracle: Oracle, arith: Arith) -> None:
        self.oracle = oracle
        self.arith = arith
        self.recent: OrderedDict[tuple, Vec] = OrderedDict()

    @property
    def queries(self) -> int:
        return self.oracle.queries

    def points(self, xs: Sequence[Sequence[Number]]) -> list[Vec]:
        """Outputs at many input points (one oracle batch of those not remembered)."""
        if not self.arith.exact:
            return self.ask(xs)
        keys = [tuple((v.numerator, v.denominator) for v in x) for x in xs]   # Fraction's own hash is slow
        new = {key: x for key, x in zip(keys, xs) if key not in self.recent}
        known = {key: self.recent[key] for key in keys if key in self.recent}
        known.update(zip(new, self.ask(list(new.values()))))
        for key in new:
            self.recent[key] = known[key]
            if len(self.recent) > RECENT:
                self.recent.popitem(last=False)
        return [list(known[key]) for key in keys]

    def ask(self, xs: Sequence[Sequence[Number]]) -> list[Vec]:
        """The oracle's outputs at xs, one batch, in the arithmetic's numbers."""
        if not xs:
            return []
        ys = self.oracle.batch([list(x) for x in xs])
        if self.arith.fmpq:
            return [[self.arith.num(v) for v in y] for y in ys]
        return [list(y) for y in ys]

    def on_line(self, line: "Line", ts: Sequence[Number]) -> list[Vec]:
        """Outputs at the points line.at(t) for each t."""
        return self.points([line.at(t) for t in ts])


@dataclass(frozen=True)
class Line:
    """x(t) = p + t*d."""

    p: tuple
    d: tuple

    def at(self, t: Number) -> Vec:
        return [pi + t * di for pi, di in zip(self.p, self.d)]


@dataclass(frozen=True)
class Piece:
    """The affine function t -> value + slope*(t - t0) of every output along a line."""

    t0: Number
    value: tuple
    slope: tuple
    span: Number = 1

    def at(self, t: Number) -> Vec:
        dt = t - self.t0
        return [v + s * dt for v, s in zip(self.value, self.slope)]

    def scale_at(self, t: Number) -> Number:
        """Magnitude of the numbers behind the piece's value at t, times the amplification of rounding
        errors when extrapolating a chord of length `span` (for tolerant comparisons)."""
        dt = abs(t - self.t0)
        return (max_abs(self.value) + max_abs(self.slope) * dt) * (1 + dt / self.span)

    def same_on(self, other: "Piece", arith: Arith, a: Number, b: Number) -> bool:
        """The two pieces are one affine function: they agree at both ends of [a, b]."""
        return all(arith.close_vec(self.at(t), other.at(t), max(self.scale_at(t), other.scale_at(t)))
                   for t in (a, b))


def chord(t0: Number, f0: Sequence[Number], t1: Number, f1: Sequence[Number]) -> Piece:
    """The affine piece through (t0, f0) and (t1, f1)."""
    return Piece(t0, tuple(f0), tuple((b - a) / (t1 - t0) for a, b in zip(f0, f1)), abs(t1 - t0))


@dataclass(frozen=True)
class Kink:
    """A boundary point on a line: t, the input point, and the affine pieces on each side."""

    t: Number
    x: tuple
    left: Piece
    right: Piece


@dataclass
class LineScan:
    """PointsOnLine's answer for [lo, hi]: kinks in order, the piece of each region between them, and
    any sub-interval whose kinks could not be separated (never merged silently)."""

    line: Line
    lo: Number
    hi: Number
    kinks: list[Kink]
    regions: list[tuple[Number, Number, Piece]]
    unresolved: list[tuple[Number, Number, str]] = field(default_factory=list)


def intersect(left: Piece, right: Piece, arith: Arith) -> Number | None:
    """The t where two affine pieces (vector-valued) agree in every output, or None if no single t does."""
    t_ref = left.t0
    gap = [r - lv for r, lv in zip(right.at(t_ref), left.value)]   # right - left at t_ref
    dslope = [a - b for a, b in zip(left.slope, right.slope)]
    k = max(range(len(dslope)), key=lambda i: abs(dslope[i]))
    if arith.close(dslope[k], 0, max(max_abs(left.slope), max_abs(right.slope))) or dslope[k] == 0:
        return None
    tau = gap[k] / dslope[k]
    t = t_ref + tau
    scale = max(left.scale_at(t), right.scale_at(t))
    if not arith.close_vec([g - s * tau for g, s in zip(gap, dslope)], [0] * len(gap), scale):
        return None
    return t


def points_on_line(ev: Evaluator, line: Line, lo: Number, hi: Number, *, grid: Sequence[Number] = (),
                   max_steps: int = 4000, rng: random.Random | None = None,
                   expected: Sequence[Number] = (), ends: tuple[Piece, Piece] | None = None) -> LineScan:
    """Every kink of the output along line.at(t), lo < t < hi, located exactly (see module doc).

    `grid`: interior points where the search starts split.  `rng` draws the split points and the
    interior check points (random, so they do not sit on kinks at simple rationals).
    `expected`: t of kinks predicted exactly (by known hyperplanes); inside their span they replace the
    grid by the midpoints between them.  `ends`: line_ends(ev, line, lo, hi), if already asked.
    An interval whose two end pieces agree is accepted as kink-free only if a random interior point
    lies on that piece too: a deeper neuron active on a bounded stretch makes a bump whose two sides
    are one affine function, which end pieces alone cannot see.
    """
    ar = ev.arith
    rng = rng or random.Random(0)
    delta = _end_offset(ar, lo, hi)
    first, last = ends or line_ends(ev, line, lo, hi)
    expected = _inner_knots(expected, lo + delta, hi - delta)
    if expected:
        grid = [g for g in grid if not expected[0] <= g <= expected[-1]] + [
            ar.simple_near((s + e) / 2, (e - s) / 8) for s, e in zip(expected, expected[1:])]
    stack = _initial_intervals(ev, line, lo, hi, first, last, sorted(g for g in grid if lo < g < hi), expected)
    kinks, unresolved = _search(ev, line, stack, expected, rng, max_steps, lo, hi)
    return _line_scan(line, lo, hi, first, kinks, unresolved)


def points_on_line_predicted(ev: Evaluator, line: Line, lo: Number, hi: Number, expected: Sequence[Number],
                             rng: random.Random, max_steps: int = 4000) -> LineScan:
    """points_on_line in exact mode where `expected` holds every kink a known network predicts (a verification
    line): f at each predicted t and at one random point between each two (and between each end and the nearest
    one), about 2 queries per kink instead of 3 to 4.  An interval whose two ends and random point lie on one
    affine piece is that piece, kink-free (the module doc's rule: a piece confirmed at 3 points is a true piece;
    one kink inside would bend it); a predicted t with different pieces on its two sides is a kink.  Any other
    interval is searched as points_on_line searches, from pieces measured just inside it (1 query each)."""
    first, last = line_ends(ev, line, lo, hi)
    delta = _end_offset(ev.arith, lo, hi)
    knots = _inner_knots(expected, lo + delta, hi - delta)
    bounds = [lo] + knots + [hi]
    mids = [_random_inside(a, b, ev.arith, rng) for a, b in zip(bounds, bounds[1:])]
    values = ev.on_line(line, knots + mids)
    f = dict(zip(knots, values))
    pieces: list[Piece | None] = []                 # each interval's piece, None where its points disagree
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        piece = first if i == 0 else last if i == len(knots) else chord(a, f[a], b, f[b])
        checks = [(t, f[t]) for t in (a, b) if t in f] + [(mids[i], values[len(knots) + i])]
        agree = all(piece.at(t) == v for t, v in checks) and (bool(knots) or first.same_on(last, ev.arith, lo, hi))
        pieces.append(piece if agree else None)
    inner = _pieces_inside(ev, line, bounds, pieces, f, first, last)
    stack = [(a, b, *inner[i]) for i, (a, b) in enumerate(zip(bounds, bounds[1:])) if pieces[i] is None]
    kinks, unresolved = _search(ev, line, stack, knots, rng, max_steps, lo, hi)
    for i, t in enumerate(knots):
        left = pieces[i] or inner[i][1]
        right = pieces[i + 1] or inner[i + 1][0]
        if left.at(t + 1) != right.at(t + 1):
            kinks.append(Kink(t, tuple(line.at(t)), left, right))
    return _line_scan(line, lo, hi, first, kinks, unresolved)


def _pieces_inside(ev: Evaluator, line: Line, bounds: Sequence[Number], pieces: Sequence[Piece | None],
                   f: dict, first: Piece, last: Piece) -> list[tuple[Piece, Piece]]:
    """For each interval [bounds[i], bounds[i+1]] whose piece is None: the pieces just inside its two ends, chords
    from f at the end (`f`, asked already) and at one point a tiny step inside (one query, all in one batch);
    `first` and `last` stand at the scan's own ends.  Intervals with a piece get it at both ends."""
    ar, todo = ev.arith, []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        if pieces[i] is None:
            eta = _offset(ar, b - a, max(abs(a), abs(b)))
            todo += [(i, 0, a, a + eta)] if i > 0 else []
            todo += [(i, 1, b, b - eta)] if i < len(bounds) - 2 else []
    steps = ev.on_line(line, [s for _, _, _, s in todo])
    out = [[p, p] if p is not None else [first, last] for p in pieces]
    for (i, side, t, s), fs in zip(todo, steps):
        out[i][side] = chord(t, f[t], s, fs) if side == 0 else chord(s, fs, t, f[t])
    return [tuple(p) for p in out]


def _search(ev: Evaluator, line: Line, stack: list[tuple[Number, Number, Piece, Piece]], expected: Sequence[Number],
            rng: random.Random, max_steps: int, lo: Number, hi: Number) -> tuple[list[Kink], list]:
    """The kinks inside the stack's intervals (a, b, piece just right of a, piece just left of b), and the
    intervals left unresolved (see the module doc)."""
    ar = ev.arith
    kinks: list[Kink] = []
    unresolved: list[tuple[Number, Number, str]] = []
    steps = 0
    while stack:
        a, b, left, right = stack.pop()
        if left.same_on(right, ar, a, b):
            m = _random_inside(a, b, ar, rng)
            fm = ev.on_line(line, [m])[0]
            if ar.close_vec(fm, left.at(m), max(left.scale_at(m), right.scale_at(m))):
                continue
            eta = _offset(ar, min(m - a, b - m), m)
            piece = chord(m, fm, m + eta, ev.on_line(line, [m + eta])[0])
            stack.append((m, b, piece, right))
            stack.append((a, m, left, piece))
            continue
        steps += 1
        if steps > max_steps:
            unresolved.append((a, b, f"step limit {max_steps} reached"))
            continue
        if b - a <= _min_width(ar, lo, hi) if ar.exact else b - a <= _min_width(ar, a, b):
            unresolved.append((a, b, "kinks closer together than the search can separate"))
            continue
        t = intersect(left, right, ar)
        split = None
        if t is not None and a < t < b and _predicted(expected, t, ar.loose * (b - a)) and ar.close_vec(
                ev.on_line(line, [t])[0], left.at(t), max(left.scale_at(t), right.scale_at(t))):
            kinks.append(Kink(t, tuple(line.at(t)), left, right))
            continue
        if t is not None and a < t < b and (ar.exact or min(t - a, b - t) * 64 > b - a):
            eta = _offset(ar, min(t - a, b - t), t)
            xs = [line.at(s) for s in (t - eta, t, t + eta)]
            fm, f0, fp = ev.points(xs)                              # t* lands near kinks: 3 points
            scale = max(left.scale_at(t), right.scale_at(t))
            if (ar.close_vec(f0, left.at(t), scale) and ar.close_vec(fm, left.at(t - eta), scale)
                    and ar.close_vec(fp, right.at(t + eta), scale)):
                kinks.append(Kink(t, tuple(xs[1]), left, right))
                continue
            split = _split_piece(ar, t, eta, fm, f0, fp)
        if split is None:
            split = _split_at_middle(ev, line, a, b, rng)
        if split is None:
            unresolved.append((a, b, "no point near the middle lies away from kinks"))
            continue
        stack.append((split.t0, b, split, right))
        stack.append((a, split.t0, left, split))
    return kinks, unresolved


def _inner_knots(expected: Sequence[Number], lo: Number, hi: Number) -> list[Number]:
    """The predicted kinks strictly between lo and hi, sorted, each once."""
    return sorted({t for t in expected if lo < t < hi})


def _random_inside(a: Number, b: Number, ar: Arith, rng: random.Random) -> Number:
    """A random point of (a, b) (a fraction of 2^-20 steps: not at a simple rational where kinks sit)."""
    return a + (b - a) * ar.num(rng.randint(1, (1 << 20) - 1)) / (1 << 20)


def _line_scan(line: Line, lo: Number, hi: Number, first: Piece, kinks: list[Kink], unresolved: list) -> LineScan:
    """The LineScan of [lo, hi] from its kinks (any order) and the piece at lo."""
    kinks.sort(key=lambda k: k.t)
    bounds = [lo] + [k.t for k in kinks] + [hi]
    pieces = [first] + [k.right for k in kinks]
    regions = [(bounds[i], bounds[i + 1], pieces[i]) for i in range(len(pieces))]
    return LineScan(line, lo, hi, kinks, regions, unresolved)


def line_ends(ev: Evaluator, line: Line, lo: Number, hi: Number) -> tuple[Piece, Piece]:
    """The affine pieces at both ends of [lo, hi], as points_on_line starts from them (2 queries each, exact)."""
    delta = _end_offset(ev.arith, lo, hi)
    return _end_piece(ev, line, lo, delta), _end_piece(ev, line, hi, -delta)


def _end_offset(ar: Arith, lo: Number, hi: Number) -> Number:
    """The step of the end pieces of [lo, hi] (points_on_line also keeps predicted kinks this far from the ends)."""
    return _offset(ar, hi - lo, max(abs(lo), abs(hi)))


def refined_kink(ev: Evaluator, scan: LineScan, i: int) -> Number:
    """With rounding: t of kink i again, where chords across the outer halves of its two regions (at most 1 + |t|
    long) meet, 4 queries; the scan's own pieces are chords over short steps, often far from the kink, so their
    rounding is magnified when they are extended to it.  The scan's t if the chords do not meet."""
    t = scan.kinks[i].t
    a = min(t - scan.regions[i][0], 1 + abs(t))
    b = min(scan.regions[i + 1][1] - t, 1 + abs(t))
    ts = [t - a / 2, t - a / 4, t + b / 4, t + b / 2]
    f = ev.on_line(scan.line, ts)
    located = intersect(chord(ts[0], f[0], ts[1], f[1]), chord(ts[2], f[2], ts[3], f[3]), ev.arith)
    return t if located is None else located


def _end_piece(ev: Evaluator, line: Line, t0: Number, step: Number) -> Piece:
    """The piece at the end t0 of the scanned interval, from samples towards its inside (step < 0 at the upper
    end): a chord (2 queries) in exact mode; with rounding the step is longer, so three collinear samples
    confirm it, the step cut by 16 (at most three times) while a kink lies inside it."""
    ar = ev.arith
    for _ in range(1 if ar.exact else 4):
        f = ev.on_line(line, [t0, t0 + step] + ([] if ar.exact else [t0 + 2 * step]))
        if ar.exact or _split_piece(ar, t0 + step, abs(step), *(f[::-1] if step < 0 else f)) is not None:
            break
        step = step / 16
    return Piece(t0, tuple(f[0]), chord(t0, f[0], t0 + step, f[1]).slope, abs(step))


def _predicted(expected: Sequence[Number], t: Number, tol: Number) -> bool:
    """t is within tol of one of the sorted predicted kink positions (tol 0 in exact mode)."""
    i = bisect.bisect_left(expected, t)
    return any(abs(e - t) <= tol for e in expected[max(i - 1, 0):i + 1])


def _initial_intervals(ev: Evaluator, line: Line, lo: Number, hi: Number, first: Piece, last: Piece,
                       grid: Sequence[Number], expected: Sequence[Number]) -> list[tuple[Number, Number, Piece, Piece]]:
    """The search stack for [lo, hi] split at the sorted grid points, each with its piece over a step short
    against the distance to the neighbouring grid points and predicted kinks: a chord (2 queries) in exact
    mode; with rounding the step is longer, so three collinear samples confirm it (a grid point with a
    kink that close is dropped)."""
    ar = ev.arith
    bounds, pieces = [lo], [first]
    for g, after in zip(grid, list(grid[1:]) + [hi]):
        i = bisect.bisect_left(expected, g)
        near = [abs(g - e) for e in expected[max(i - 1, 0):i + 1]]
        eta = _offset(ar, min([g - bounds[-1], after - g] + near), g)
        if ar.exact:
            f0, fp = ev.on_line(line, [g, g + eta])
            piece: Piece | None = chord(g, f0, g + eta, fp)
        else:
            piece = _split_piece(ar, g, eta, *ev.on_line(line, [g - eta, g, g + eta]))
        if piece is not None:
            bounds.append(g)
            pieces.append(piece)
    bounds.append(hi)
    pieces.append(last)
    return [(bounds[i], bounds[i + 1], pieces[i], pieces[i + 1]) for i in range(len(bounds) - 2, -1, -1)]


def geometric_grid(half: Number, ar: Arith, smallest_bits: int = 2) -> list[Number]:
    """0 and +-2**k for 2**-smallest_bits <= 2**k < half: a starting grid denser near t = 0, where
    boundaries of random networks crowd."""
    out = [ar.num(0)]
    k = -smallest_bits
    while ar.num(2) ** k < half:
        out += [ar.num(2) ** k, -ar.num(2) ** k]
        k += 1
    return sorted(out)


def _offset(ar: Arith, length: Number, at: Number) -> Number:
    """A small step inside an interval of this length at position `at` (tiny in exact mode; with
    rounding, small but still far above the resolution of numbers of size |at|)."""
    if ar.exact:
        return ar.simple_near(length / 2 ** 24, length / 2 ** 26)
    return max(length / 2 ** 8, abs(at) * ar.rel / 16)


def _min_width(ar: Arith, a: Number, b: Number) -> Number:
    """Intervals narrower than this are not split further (exact: 2**-200 of the line; else rounding)."""
    if ar.exact:
        return (b - a) / 2 ** 200
    return (abs(a) + abs(b)) * ar.rel * 2 ** 8


def _split_piece(ar: Arith, t: Number, eta: Number, fm: Vec, f0: Vec, fp: Vec) -> Piece | None:
    """The piece through t if the three samples t-eta, t, t+eta are collinear (no kink near t), else None."""
    scale = max(max_abs(fm), max_abs(f0), max_abs(fp))
    if ar.close_vec([a - b for a, b in zip(fp, f0)], [a - b for a, b in zip(f0, fm)], scale):
        return chord(t, f0, t + eta, fp)
    return None


def _split_at_middle(ev: Evaluator, line: Line, a: Number, b: Number, rng: random.Random) -> Piece | None:
    """The piece at a random point of the middle third of [a, b].

    Exact mode: the chord over a step of 2**-24 of the interval (2 queries); a kink inside that step
    would make the chord a non-piece, the interval's later checks then fail until the step limit
    reports it, so it is never accepted silently.  With rounding the step is longer, so the piece is
    confirmed by three collinear samples (tried at up to three points).
    """
    ar = ev.arith
    for k in range(1 if ar.exact else 3):
        m = a + (b - a) * ar.num(rng.randint(1 << 20, 1 << 21)) / (3 << 20)
        eta = _offset(ar, min(m - a, b - m), m)
        if ar.exact:
            f0, fp = ev.on_line(line, [m, m + eta])
            return chord(m, f0, m + eta, fp)
        piece = _split_piece(ar, m, eta, *ev.on_line(line, [m - eta, m, m + eta]))
        if piece is not None:
            return piece
    return None


# ------------------------------------------------------------------ Jacobians
def region_point(lo: Number, hi: Number, ar: Arith) -> Number:
    """A point well inside the region (lo, hi) of a line, at most two units from its end nearer t = 0."""
    length = hi - lo
    if length <= 4:
        return ar.simple_near((lo + hi) / 2, length / 8)
    return ar.simple_near(lo + 2, ar.num(1) / 8) if abs(lo) < abs(hi) else ar.simple_near(hi - 2, ar.num(1) / 8)


def jacobian_at(ev: Evaluator, x: Sequence[Number], fx: Sequence[Number], direction: Sequence[Number],
                slope: Sequence[Number], h: Number, *, retries: int = 8) -> list[Vec] | None:
    """The Jacobian (rows = outputs) of the linear region containing x, from coordinate steps of size h.

    Checked against the known directional slope: J @ direction must equal `slope`; on failure the
    step is halved and the steps repeated.  None if no step size passes the check (or a step is lost to
    rounding).
    """
    ar = ev.arith
    n = len(x)
    for _ in range(retries):
        pts = []
        steps = []
        for j in range(n):
            y = list(x)
            y[j] = x[j] + h
            steps.append(y[j] - x[j])
            pts.append(y)
        if any(step == 0 for step in steps):
            return None                       # h is below the rounding of x: no step can measure the region
        ys = ev.points(pts)
        cols = [[(yo - fo) / steps[j] for yo, fo in zip(ys[j], fx)] for j in range(n)]
        jac = [[cols[j][o] for j in range(n)] for o in range(len(fx))]
        along = [dot(row, direction) for row in jac]
        scale = max(max_abs([abs(v) for row in jac for v in row]) * max_abs(direction) * n, max_abs(slope))
        if ar.close_vec(along, slope, scale):
            return jac
        h = h / 2
    return None


def region_t(scan: LineScan, r: int, t: Number | None, ar: Arith) -> Number:
    """Where region_jacobian measures region r: at line parameter t if given, else well inside the region."""
    lo, hi, _ = scan.regions[r]
    return region_point(lo, hi, ar) if t is None else t


def region_jacobian(ev: Evaluator, scan: LineScan, r: int, t: Number | None = None,
                    basis: Callable[[Sequence[Number]], list[Vec]] | None = None) -> list[Vec] | None:
    """Region r's Jacobian from coordinate steps at a point well inside it, or at line parameter t in it
    (n_in queries, checked against the region's slope along the line; see jacobian_at).  With `basis` (exact
    mode, the first layer known: x -> the normals of the first-layer neurons not off at x, which span the rows
    of every Jacobian there) steps along those first (jacobian_in_span), coordinate steps if that fails."""
    ar = ev.arith
    lo, hi, piece = scan.regions[r]
    t = region_t(scan, r, t, ar)
    x = scan.line.at(t)
    fx = piece.at(t) if ar.exact else ev.points([x])[0]
    reach = min((hi - lo) * max_abs(scan.line.d), ar.num(1))
    h = ar.simple_near(reach / 2 ** 12, reach / 2 ** 14) if ar.exact else reach / 8
    rows = basis(x) if basis is not None and ar.exact else []
    if 0 < len(rows) < len(x) - 1:
        jac = jacobian_in_span(ev, x, fx, scan.line.d, piece.slope, h, rows)
        if jac is not None:
            return jac
    return jacobian_at(ev, x, fx, scan.line.d, piece.slope, h)


def jacobian_in_span(ev: Evaluator, x: Sequence[Number], fx: Sequence[Number], direction: Sequence[Number],
                     slope: Sequence[Number], h: Number, rows: Sequence[Sequence[Number]], *,
                     retries: int = SPAN_RETRIES) -> list[Vec] | None:
    """Exact mode: the Jacobian of x's linear region when its rows lie in the span of `rows` (k < n_in - 1 of
    them, linearly independent): J = C rows, C from steps along each row, k + 1 queries instead of n_in.  The
    result must give the region's `slope` along `direction` and the oracle's value after a step along a fixed
    direction outside the span too, or the steps are halved; None if rows are dependent or no step passes
    (a neuron the rows miss is active there)."""
    ar = ev.arith
    n, k = len(x), len(rows)
    B = fmpq_mat([[to_fmpq(v) for v in row] for row in rows])
    check = [fmpq((7 * i) % 11 - 5, 3 + i % 4) for i in range(n)]
    units = [[v / max_abs(row) for v in row] for row in B.tolist() + [check]]    # each scaled to max |v| = 1
    xq, fq = [to_fmpq(v) for v in x], [to_fmpq(v) for v in fx]
    for _ in range(retries):
        hq = to_fmpq(h)
        steps = [[hq * v for v in unit] for unit in units]
        ys = ev.points([[ar.num(xi + si) for xi, si in zip(xq, s)] for s in steps])
        moved = fmpq_mat([[to_fmpq(y) - f for y, f in zip(yv, fq)] for yv in ys[:k]])  # rows: (J s_i)^T
        gram = B * fmpq_mat(steps[:k]).transpose()               # entry (a, i): rows_a . s_i
        try:
            C = (gram.transpose().solve(moved)).transpose()         # J s_i = C rows s_i for every i
        except (ZeroDivisionError, ValueError):
            return None
        jac = (C * B).tolist()
        along = [sum((a * to_fmpq(d) for a, d in zip(row, direction)), fmpq(0)) for row in jac]
        extra = [sum((a * s for a, s in zip(row, steps[k])), fmpq(0)) for row in jac]
        if along == [to_fmpq(v) for v in slope] and extra == [to_fmpq(y) - f for y, f in zip(ys[k], fq)]:
            return [[ar.num(v) for v in row] for row in jac]
        h = h / 2
    return None


def jump_split(left: Sequence[Sequence[Number]] | None, right: Sequence[Sequence[Number]] | None,
               ar: Arith) -> tuple[Vec, Vec] | None:
    """rank_one_normal of the Jacobian jump right - left across a kink; None if either Jacobian is missing or
    the jump is not rank one."""
    if left is None or right is None:
        return None
    return rank_one_normal([[r - lft for r, lft in zip(rr, lr)] for rr, lr in zip(right, left)], ar)


def rank_one_normal(jump: Sequence[Sequence[Number]], ar: Arith) -> tuple[Vec, Vec] | None:
    """Split a Jacobian jump into (u, n) with jump == outer(u, n), n the row of largest entry; None if not rank one.

    With rounding the jump is a difference of two separately measured Jacobians, so it need be rank one
    only to `ar.loose` of its largest entry (a kink where two boundaries meet is not generic anyway)."""
    flat = [abs(v) for row in jump for v in row]
    big = max_abs(flat)
    if big == 0:
        return None
    r = max(range(len(jump)), key=lambda i: max_abs(jump[i]))
    n = list(jump[r])
    j0 = max(range(len(n)), key=lambda j: abs(n[j]))
    u = [row[j0] / n[j0] for row in jump]
    for row, c in zip(jump, u):
        if any(abs(a - c * v) > ar.loose * big for a, v in zip(row, n)):
            return None
    return u, n

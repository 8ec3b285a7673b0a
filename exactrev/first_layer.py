"""The first layer exactly (Algorithm 1 of the paper): PointsOnLine, InferHyperplane, TestHyperplane.

Lines: x(t) = p + t*d with p, d random rationals in [-1, 1]^n and |t| <= 2**12.  A first-layer
hyperplane w.x + b = 0 is crossed unless |w.d| < |w.p + b| / 2**12, i.e. unless d is within an angle of
about |w.p + b| / (2**12 |w| |d|) of being parallel to it: for the unit-scale targets of the paper's
experiments (He initialisation, |b| ~ 1) each line misses a given hyperplane with probability about
1e-3 * sqrt(n_in).  Stopping rule: lines are drawn until one line finds no new first-layer hyperplane
(at least two lines); a hyperplane is then missed only if every line misses it (each extra line
multiplies the miss probability by another factor ~1e-3: ~1e-6 * n_in per hyperplane with two lines),
or if no line crosses it where a kink is visible (a part of input space where nothing downstream sees
the neuron; this rule does not bound that, and it happens mostly in narrow networks), or if
TestHyperplane never sees it far away from any of its crossings (a plane rejected only because the
probes saw no kink is tested again from each later crossing).

InferHyperplane: the Jacobian of the output in each region between consecutive kinks (n_in queries,
checked against the exactly known slope along the line); at a kink the Jacobian jump is rank one,
u (x) n with n the boundary's local normal, and b = -n.x.  Only regions next to a kink that no known
plane explains (n.x + b == 0, exactly in exact mode; accepted hyperplanes and planes seen to bend) are
measured, and across a kink on an accepted hyperplane the jump is known, outer(slope jump / (n.d), n),
so one measured region serves each run of regions joined by such kinks.  Later lines also get their
known kinks predicted (geometry.points_on_line's `expected`): ~2 queries each instead of ~7.
TestHyperplane: far from the kink (2**30 |x| exact, 2**9 |x| with rounding) on both sides along a random
direction within the plane (two directions with rounding), a short segment along the normal must have its
kink exactly on the plane; a bent boundary fails.  A probe costs 3 queries when it sees no kink and 4
otherwise, so 8 per accepted plane (16 with rounding) and 6 for most rejected ones.
With a rounding oracle an accepted plane is refitted through n_in + 1 located kinks on it: the kink on
the line (located again from long chords, 4 queries), TestHyperplane's four and one far kink (4 queries) per
further direction of an orthogonal basis of the plane.  Far-apart points cancel the rounding that the
Jacobian differences suffer: float64 errors ~1e-13.5 instead of ~1e-11 (benchmarks/results/first_layer.md),
for ~4 n_in more queries per neuron (`refine=False` skips it).

Queries per first-layer parameter, (n_in + 1) * width1, on He-initialised targets (exact oracle): about
2 for 20-40-1, 6.5-8.5 for 10-20-20-1 and 8-16-16-3, 11-12 for 10-10-10-10-1.  The floor of this
method: every kink on the first line needs its local normal (a deeper boundary looks like a first-layer
one until tested), i.e. ~n_in queries per kink, and PointsOnLine ~7 per kink; deeper layers put about
as many kinks on a line as the first layer does (twice as many in 10-10-10-10-1), and the second line
of the stopping rule costs as much again for its deeper kinks.  Only a one-hidden-layer network, where
every kink is a first-layer one, gets near 1-2.
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import mpmath
from flint import fmpq_mat

from .arith import Arith, combinations, dot, max_abs, normalise
from .errors import BudgetExceeded
from .geometry import (SPAN_RETRIES, Evaluator, Line, LineScan, geometric_grid, jump_split, points_on_line,
                       refined_kink, region_jacobian, region_t)
from .numbers import integers_over_lcm, to_fmpq
from .oracle import Oracle

Number = Any
Basis = Callable[[Sequence[Number]], list]        # x -> vectors spanning every Jacobian's rows at x
LINE_HALF_LENGTH = 2 ** 12
GRID_HALF = 2 ** 5            # the search starts split at 0, +-2**-2 .. +-2**4, where the kinks crowd
MAX_LINES = 8
PROBE_BITS = {True: 30, False: 9}        # exact / rounding: probes 2**bits..2**(bits+2) times |x| away
CONFIRMING_DIRECTIONS = {True: 1, False: 2}   # TestHyperplane: directions seen "on" on both sides
TEST_DIRECTIONS = (2, 5)      # of the 2 directions tried, or 5 if a probe saw a kink on the plane
MEASURED_KEPT = 64            # the last Jacobians measured (with their points) kept for active_at


@dataclass
class BoundaryPoint:
    """A located boundary point x with its local plane normal.x + bias = 0 (max(|normal|, |bias|) = 1).

    jac_plus / jac_minus are the output Jacobians on the sides where normal.(y - x) > 0 / < 0, and
    jac_plus - jac_minus == outer(u, normal) (up to rounding once a rounded plane is refined).
    """

    x: tuple
    normal: tuple
    bias: Number
    jac_plus: list
    jac_minus: list
    u: tuple


@dataclass
class FirstLayerResult:
    """Algorithm 1's answer: the first-layer hyperplanes (sign as found) and the unexplained points P_2."""

    hyperplanes: list[tuple[list, Number]]
    queries: int
    deeper_points: list[BoundaryPoint]
    undecided: list[dict]
    lines: int = 0
    arithmetic: str = "exact"
    hyperplane_points: list[BoundaryPoint] = field(default_factory=list)
    stage_queries: dict[str, int] = field(default_factory=dict)   # per stage: lines, jacobians, tests, refine


def extract_first_layer(oracle: Oracle, *, seed: int = 0, refine: bool = True) -> FirstLayerResult:
    """Recover the first-layer hyperplanes of the network behind `oracle` (exactly in exact mode).

    `refine` (rounding oracles only): refit each accepted plane through far kinks on it, ~4 n_in more
    queries per neuron for a ~100 times smaller error.  Budget exhaustion ends the search early: the
    result then lists it in `.undecided`.
    """
    ar = Arith(oracle.arithmetic, oracle.dps)
    with mpmath.workdps(oracle.dps):
        search = FirstLayerSearch(Evaluator(oracle, ar), random.Random(seed), refine=refine)
        try:
            search.run()
        except BudgetExceeded as e:
            search.undecided.append({"item": "first layer", "reason": f"budget exhausted: {e}"})
        return search.result()


class FirstLayerSearch:
    """State of Algorithm 1: accepted hyperplanes, rejected local planes, points for deeper layers."""

    def __init__(self, ev: Evaluator, rng: random.Random, *, refine: bool = True) -> None:
        self.ev = ev
        self.ar = ev.arith
        self.rng = rng
        self.refine = refine and not self.ar.exact
        self.start_queries = ev.queries
        self.accepted: list[BoundaryPoint] = []
        self.rejected: list[BoundaryPoint] = []
        self.bent: list[BoundaryPoint] = []          # rejected with a kink seen off the plane
        self.one_sided: list[tuple[BoundaryPoint, int]] = []   # not accepted, yet seen "on" far away (how often)
        self.undecided: list[dict] = []
        self.lines = 0
        self.stage_queries = {stage: 0 for stage in ("lines", "jacobians", "tests", "refine")}
        self.integer_planes: dict[int, tuple[BoundaryPoint, list[int]]] = {}   # see integer_plane
        self.span: Basis | None = None               # see accepted_span
        self.span_size, self.span_ok = 0, True
        self.measured: list[tuple[list[Number], list]] = []    # (x, Jacobian there), see active_at

    # ------------------------------------------------------------ driver
    def run(self, max_lines: int = MAX_LINES) -> None:
        """Scan lines until one brings no new first-layer hyperplane (at least two lines)."""
        for i in range(max_lines):
            new = self.scan_line(self.random_line())
            self.lines += 1
            if i >= 1 and new == 0:
                return
        self.undecided.append({"item": "first layer", "reason": f"line {max_lines} still found new hyperplanes; "
                               "stopping rule not met, more neurons may exist"})

    def result(self) -> FirstLayerResult:
        return FirstLayerResult(
            hyperplanes=[(list(bp.normal), bp.bias) for bp in self.accepted],
            queries=self.ev.queries - self.start_queries,
            deeper_points=list(self.rejected), undecided=list(self.undecided), lines=self.lines,
            arithmetic=self.ar.mode, hyperplane_points=list(self.accepted), stage_queries=dict(self.stage_queries))

    def charge(self, stage: str, start: int) -> None:
        """Count the queries since `start` to `stage` (for FirstLayerResult.stage_queries)."""
        self.stage_queries[stage] += self.ev.queries - start

    def random_vector(self, n: int) -> list[Number]:
        """Uniform random dyadic coordinates in [-1, 1] (never all zero)."""
        while True:
            v = [self.ar.num(self.rng.randint(-256, 256)) / 256 for _ in range(n)]
            if any(v):
                return v

    def random_line(self) -> Line:
        n = self.ev.oracle.input_dim
        return Line(tuple(self.random_vector(n)), tuple(self.random_vector(n)))

    # -------------------------------------------------------- one line
    def scan_line(self, line: Line) -> int:
        """PointsOnLine + InferHyperplane + TestHyperplane on one line; returns the number of new hyperplanes.

        Kinks on an accepted hyperplane, or on a local plane already seen to bend, need nothing more."""
        half = self.ar.num(LINE_HALF_LENGTH)
        expected = [t for t in (_crossing(bp, line) for bp in self.accepted) if t is not None]
        start = self.ev.queries
        scan = points_on_line(self.ev, line, -half, half, grid=geometric_grid(self.ar.num(GRID_HALF), self.ar),
                              rng=self.rng, expected=expected)
        self.charge("lines", start)
        for a, b, why in scan.unresolved:
            self.undecided.append({"item": f"line {self.lines}, t in [{a}, {b}]", "reason": why})
        known = self.accepted + self.bent
        todo = [i for i, k in enumerate(scan.kinks) if self.plane_through(k.x, known) is None]
        start = self.ev.queries
        basis = self.accepted_span()
        jacs = self.region_jacobians(scan, sorted({r for i in todo for r in (i, i + 1)}), basis)
        self.charge("jacobians", start)
        new = 0
        for i in todo:
            bp = self.boundary_point(scan, i, jacs, basis)
            if bp is None:
                continue
            new += self.classify(bp, scan, i)
        return new

    def accepted_span(self) -> Basis | None:
        """Exact mode, once hyperplanes are accepted: their normals, which span every Jacobian's rows wherever
        no neuron still unfound is active (geometry.jacobian_in_span: as many queries as there are normals, plus
        one, instead of n_in; checked, with coordinate steps where the check fails).  Later lines' kinks are
        mostly deeper neurons' (80-40-20-1: 41 queries per Jacobian instead of 80).  Where Jacobians measured
        before tell which of them are on (active_at), the normals of those only (80-40-20-1: about 21)."""
        if not self.ar.exact or not self.accepted or not self.span_ok \
                or len(self.accepted) >= self.ev.oracle.input_dim - 1:
            return None
        normals = [list(bp.normal) for bp in self.accepted]
        active = self.active_at(normals)

        def span(x: Sequence[Number]) -> list:
            if not self.span_ok:
                return []
            rows = normals if active is None else [w for w, on in zip(normals, active(x)) if on]
            self.span_size = len(rows)           # for jacobian's rule of a miss (kept after one)
            return rows
        self.span = span
        return self.span

    def active_at(self, normals: list[list[Number]]) -> Callable[[Sequence[Number]], list[bool]] | None:
        """x -> which accepted neurons may be on at x, from Jacobians measured at points x0 off every accepted
        plane whose rows are combinations sum_j c_j w_j of the accepted normals (exactly: every neuron on there
        is accepted).  c_j != 0 only for neurons on at x0, so such a neuron is on exactly on x0's side of its
        plane; a neuron that no such Jacobian shows (off at each x0, or on without reaching the output) may be
        on anywhere.  None if no measured Jacobian shows any neuron."""
        planes = [(bp.normal, bp.bias) for bp in self.accepted]

        def sides(x: Sequence[Number]) -> list[int]:
            return [(v > 0) - (v < 0) for v in (dot(w, x) + b for w, b in planes)]

        found = iter(combinations(fmpq_mat([[to_fmpq(v) for v in w] for w in normals]),
                                  [row for _, jac in self.measured for row in jac]))
        on_side: list[int | None] = [None] * len(normals)       # the side of its plane where neuron j is on
        for x0, jac in self.measured:
            ref = sides(x0)
            coefs = [next(found)[1] for _ in jac]
            if 0 in ref or None in coefs:
                continue
            for j in range(len(normals)):
                if any(c[j] != 0 for c in coefs):
                    on_side[j] = ref[j]
        if all(s is None for s in on_side):
            return None
        return lambda x: [s == 0 or on is None or s == on for s, on in zip(sides(x), on_side)]

    def jacobian(self, scan: LineScan, r: int, t: Number | None = None, basis: Basis | None = None) -> list | None:
        """geometry.region_jacobian; steps along the accepted normals (`accepted_span`) stop for good once they
        miss (every step size jacobian_in_span tries fails, and coordinate steps follow: a neuron still unfound is
        active there, and later tries would spend those queries in vain first).  A smaller step that passes is
        no miss: the first step left the region (80-40-20-1's second line then measured its last Jacobians with
        80 queries instead of 41)."""
        start = self.ev.queries
        jac = region_jacobian(self.ev, scan, r, t=t, basis=basis)
        missed = self.ev.queries - start > SPAN_RETRIES * (self.span_size + 1)
        if basis is not None and basis is self.span and missed:
            self.span_ok = False
        if jac is not None and self.ar.exact:
            x = scan.line.at(region_t(scan, r, t, self.ar))
            self.measured = self.measured[-MEASURED_KEPT + 1:] + [(x, jac)]
        return jac

    def plane_through(self, x: Sequence[Number], planes: Sequence[BoundaryPoint]) -> BoundaryPoint | None:
        """The first of `planes` whose plane contains x (exactly in exact mode), or None.

        Exact mode tests n.x + b == 0 on integers (x and each plane over a common denominator; a plane's
        integers are kept): Fraction dot products here were the top cost of wide inputs (784-128-1)."""
        if self.ar.exact:
            xs, d = integers_over_lcm(x)
            for bp in planes:
                ns = self.integer_plane(bp)
                if sum(map(operator.mul, ns, xs)) + ns[-1] * d == 0:
                    return bp
            return None
        for bp in planes:
            r = dot(bp.normal, x) + bp.bias
            if self.ar.close(r, 0, max_abs(bp.normal) * max_abs(x) * len(x) + abs(bp.bias)):
                return bp
        return None

    def integer_plane(self, bp: BoundaryPoint) -> list[int]:
        """bp's (normal, bias) times the common denominator of its entries, as integers (cached per plane)."""
        entry = self.integer_planes.get(id(bp))
        if entry is None or entry[0] is not bp:
            entry = (bp, integers_over_lcm(list(bp.normal) + [bp.bias])[0])
            self.integer_planes[id(bp)] = entry
        return entry[1]

    def region_jacobians(self, scan: LineScan, wanted: Sequence[int], basis: Basis | None = None) -> dict[int, list]:
        """Jacobian of each wanted region of the scan (None where the checked steps failed).

        Regions joined by kinks on accepted hyperplanes form runs; one region per run is measured and the
        others follow from the known jumps (InferHyperplane's rank-one jump, read backwards).  `basis`: see
        geometry.region_jacobian."""
        wanted = set(wanted)
        planes = [self.plane_through(k.x, self.accepted) for k in scan.kinks]
        out: dict[int, list] = {}
        first = 0
        for r in range(len(scan.regions)):
            if r < len(scan.kinks) and planes[r] is not None:
                continue
            targets = [s for s in range(first, r + 1) if s in wanted]
            if targets:
                out.update(self.run_jacobians(scan, targets, planes, basis))
            first = r + 1
        return out

    def run_jacobians(self, scan: LineScan, targets: list[int], planes: list[BoundaryPoint | None],
                      basis: Basis | None = None) -> dict[int, list]:
        """The targets of one run: the longest region whose Jacobian check passes is measured, then the
        known jumps carry its Jacobian to the others."""
        for r in sorted(targets, key=lambda s: scan.regions[s][0] - scan.regions[s][1]):
            jac = self.jacobian(scan, r, basis=basis)
            if jac is not None:
                break
        else:
            for r in targets:
                lo, hi, _ = scan.regions[r]
                self.undecided.append({"item": f"line {self.lines}, region t in [{lo}, {hi}]", "reason":
                                       "no coordinate step stayed inside the region (Jacobian check failed)"})
            return {s: None for s in targets}
        jacs = {r: jac}
        for s in range(r + 1, max(targets) + 1):
            jacs[s] = self.across(scan, s - 1, jacs[s - 1], planes[s - 1], 1)
        for s in range(r - 1, min(targets) - 1, -1):
            jacs[s] = self.across(scan, s, jacs[s + 1], planes[s], -1)
        return {s: jacs[s] for s in targets}

    def across(self, scan: LineScan, i: int, jac: list, plane: BoundaryPoint, sign: int) -> list:
        """The Jacobian on the other side of kink i (on the known plane), going right (sign 1) or left (-1):
        the jump is outer(c, n) with c the slope jump along the line divided by n.d."""
        n = plane.normal
        nd = dot(n, scan.line.d)
        c = [(b - a) / nd for a, b in zip(scan.regions[i][2].slope, scan.regions[i + 1][2].slope)]
        return [[v + sign * co * nj for v, nj in zip(row, n)] for row, co in zip(jac, c)]

    def boundary_points(self, scan: LineScan, todo: Sequence[int], basis: Basis | None = None) -> list[BoundaryPoint]:
        """InferHyperplane at each kink of `todo` (the regions beside them measured once): the boundary points
        whose Jacobian jump is rank one.  `basis`: see geometry.region_jacobian."""
        jacs = self.region_jacobians(scan, sorted({r for i in todo for r in (i, i + 1)}), basis)
        return [bp for bp in (self.boundary_point(scan, i, jacs, basis) for i in todo) if bp is not None]

    def boundary_point(self, scan: LineScan, i: int, jacs: dict[int, list], basis: Basis | None = None
                       ) -> BoundaryPoint | None:
        """InferHyperplane at kink i: local plane from the rank-one Jacobian jump.  If the regions' Jacobians
        (measured well inside them) fail or give no rank-one jump, both are measured again right beside the
        kink (jacobians_beside; exact mode, where the steps are tiny): a region of the line can span several
        linear regions of the input space, whose boundaries the line crosses where their kinks cancel along
        it (through an intersection of planes; 3-6-6-6-2 seed 11 had its only point of a layer-3 neuron's
        boundary beside one)."""
        kink = scan.kinks[i]
        left, right = jacs.get(i), jacs.get(i + 1)
        split = jump_split(left, right, self.ar)
        if split is None and self.ar.exact:
            left, right = self.jacobians_beside(scan, i, basis)
            split = jump_split(left, right, self.ar)
        if split is None:
            if left is not None and right is not None:
                self.undecided.append({"item": f"line {self.lines}, kink at t={kink.t}",
                                       "reason": "Jacobian jump is not rank one (several boundaries meet there)"})
            return None
        u, n = split
        normal, bias = normalise(n, -dot(n, kink.x))
        factor = max(max_abs(n), abs(dot(n, kink.x)))
        u = [c * factor for c in u]
        if dot(normal, scan.line.d) > 0:
            return BoundaryPoint(kink.x, tuple(normal), bias, right, left, tuple(u))
        return BoundaryPoint(kink.x, tuple(normal), bias, left, right, tuple(-c for c in u))

    def jacobians_beside(self, scan: LineScan, i: int, basis: Basis | None = None) -> tuple[list | None, list | None]:
        """The Jacobians of the regions left and right of kink i, each measured min(1, its length) / 64 from the
        kink (2 n_in queries)."""
        kink, out = scan.kinks[i], []
        for r, side in ((i, -1), (i + 1, 1)):
            lo, hi, _ = scan.regions[r]
            step = min(hi - lo, 1) / 64
            out.append(self.jacobian(scan, r, self.ar.simple_near(kink.t + side * step, step / 4), basis))
        return out[0], out[1]

    # ---------------------------------------------------- classification
    def classify(self, bp: BoundaryPoint, scan: LineScan, i: int) -> int:
        """Accept bp's plane (from kink i of the scan) as a new first-layer hyperplane (returns 1) or keep bp
        for deeper layers (0)."""
        for known in self.accepted:
            if self.same_plane(known, bp):
                return 0
        far, bent = None, True
        start = self.ev.queries
        if not any(self.same_plane(r, bp) for r in self.bent):
            far, bent = self.test_hyperplane(bp)       # a plane rejected only for silence is tested again
        self.charge("tests", start)
        if far is None:
            self.rejected.append(bp)
            if bent:
                self.bent.append(bp)
            return 0
        start = self.ev.queries
        if self.refine:
            bp = self.refined(bp, [scan.line.at(refined_kink(self.ev, scan, i))] + far)
        self.accepted.append(bp)
        self.charge("refine", start)
        return 1

    def same_plane(self, a: BoundaryPoint, b: BoundaryPoint) -> bool:
        """Equal normalised planes, up to sign."""
        va = list(a.normal) + [a.bias]
        vb = list(b.normal) + [b.bias]
        return self.ar.same_vec(va, vb) or self.ar.same_vec(va, [-v for v in vb])

    def test_hyperplane(self, bp: BoundaryPoint) -> tuple[list[list] | None, bool]:
        """TestHyperplane: for random directions u in the plane, probes at x + D u and x - D' u all see a
        kink exactly on the plane.  Returns those kink points (None: not accepted) and whether a probe saw a
        kink off the plane (the boundary bends; otherwise the plane may just be unseen far away, and a later
        line crossing it tests it again from there).  A plane seen "on" only on one side of x is kept in
        `one_sided`: `extract` may try it as a first-layer neuron once its rounds are stuck (one_sided_planes).

        A bent boundary's flat piece would have to contain a long segment through x in both directions
        (nearer probes would not do: with a first layer of two or three neurons a deeper boundary's flat
        piece often reaches 2**5 times the scale of x).  It is flat on the whole region of its activation
        pattern, so a u nearly parallel to the planes bounding that region stays inside it: probability
        ~ |x| / D (seed 1000, 8-2-4-3-2, fooled one direction at D ~ 2**10 |x|).  Exact mode therefore
        probes at D ~ 2**30..2**32 |x| (exact numbers do not mind), along one direction; with rounding D
        stays ~ 2**9..2**11 |x| and two independent directions must agree (their four points also serve
        the refit, see `refined`).
        A kink found near a probe point but not on the plane rejects at once; no kink at all (a part of
        the hyperplane that nothing downstream sees) only moves on to the next direction: TEST_DIRECTIONS[0]
        directions are tried, TEST_DIRECTIONS[1] if a probe saw a kink on the plane (one side of a narrow
        network may hide it).
        """
        seen, far, ons = False, [], 0
        for k in range(TEST_DIRECTIONS[1]):
            if k == TEST_DIRECTIONS[0] and not seen:
                break
            u = self.direction_in_plane(bp)
            first, p = self.probe_twice_if_off(bp, u, seen)
            if first == "off":
                return None, True
            if first == "on":
                seen = True
                second, q = self.probe_twice_if_off(bp, [-c for c in u], seen)
                if second == "off":
                    return None, True
                ons += 1 + (second == "on")
                if second == "on":
                    far += [p, q]
                    if len(far) == 2 * CONFIRMING_DIRECTIONS[self.ar.exact]:
                        return far, False
        if seen:
            self.one_sided.append((bp, ons))
        return None, False

    def is_hyperplane(self, x: Sequence[Number], normal: Sequence[Number], bias: Number) -> bool:
        """TestHyperplane for a plane found by other means (a walk that crossed boundaries without bending)."""
        num = self.ar.num
        bp = BoundaryPoint(tuple(map(num, x)), tuple(map(num, normal)), num(bias), [], [], ())
        return self.test_hyperplane(bp)[0] is not None

    def probe_twice_if_off(self, bp: BoundaryPoint, u: Sequence[Number], seen: bool) -> tuple[str, list | None]:
        """`probe`, asked again at another distance when it says "off" after a kink was already seen on the
        plane: a deeper boundary crossing the probe's short segment garbles its chords (mpmath, 10-20-20-1
        seed 1: a layer-2 neuron 3e-3 from the probe point rejected a true plane), which a bent boundary
        repeats at another distance and a coincidence does not."""
        status, p = self.probe(bp, u)
        return self.probe(bp, u) if status == "off" and seen else (status, p)

    def direction_in_plane(self, bp: BoundaryPoint) -> list[Number]:
        """A random direction u with normal.u == 0, scaled to max |u_i| == 1."""
        return self.orthogonal_direction([list(bp.normal)])

    def probe(self, bp: BoundaryPoint, u: Sequence[Number]) -> tuple[str, list | None]:
        """Along the normal through q = x + D u (a point of the plane): a kink on the plane at q ("on", with
        the kink point where the two one-sided chords meet: q itself when exact; with rounding within
        2**12 * rel * D, as a plane from Jacobian differences is good to about 2**12 times the rounding of
        the outputs), a kink elsewhere nearby ("off") or none ("silent": three collinear outputs, 3
        queries; otherwise 4)."""
        w = list(bp.normal)
        dist = self.ar.num(self.rng.randint(256, 1024)) * 2 ** (PROBE_BITS[self.ar.exact] - 8) * (1 + max_abs(bp.x))
        q = [xi + dist * ui for xi, ui in zip(bp.x, u)]
        eps = self.ar.num(1) / (2 ** 24 if self.ar.exact else 2 ** 8)

        def at(s: Number) -> list[Number]:
            return [qi + s * eps * wi for qi, wi in zip(q, w)]

        fm, fp, fpp = self.ev.points([at(-1), at(1), at(2)])
        scale = max(max_abs(v) for v in (fm, fp, fpp))
        if self.ar.close_vec([b - a for a, b in zip(fm, fp)], [2 * (c - b) for b, c in zip(fp, fpp)], scale):
            return "silent", None
        fmm = self.ev.points([at(-2)])[0]
        scale = max(scale, max_abs(fmm))
        left0 = [2 * b - a for a, b in zip(fmm, fm)]          # the one-sided chords at q, and their slopes
        right0 = [2 * a - b for a, b in zip(fp, fpp)]         # (per eps) left minus right
        jump = [(b - a) - (d - c) for a, b, c, d in zip(fmm, fm, fp, fpp)]
        o = max(range(len(jump)), key=lambda i: abs(jump[i]))
        if jump[o] == 0:
            return "off", None
        s = (right0[o] - left0[o]) / jump[o]
        meet = self.ar.close_vec([lv + j * s for lv, j in zip(left0, jump)], right0, scale)
        if not meet or abs(s * eps) * max_abs(w) > self.ar.rel * 2 ** 12 * dist:
            return "off", None
        return "on", at(s)

    def refined(self, bp: BoundaryPoint, points: list[list]) -> BoundaryPoint:
        """With rounding: bp's plane refitted through located kinks on it: `points` (near kink first, then
        TestHyperplane's far pairs) and one far kink along each further direction of an orthogonal basis of
        the plane (either side; a direction silent on both is replaced by another), so that every direction
        in the plane is pinned down by a long lever.  A point farther from bp's plane than 2**6 times the
        oracle's rounding allows (a probe's kink is located from 4 queries and may take a neighbouring kink
        for its own: 10-20-20-1 seed 1 had one 1e-7 off) is left out."""
        points = [p for p in points if self.near_plane(bp, p)]
        basis = [list(bp.normal)]
        for p in points[1:]:
            v = [a - b for a, b in zip(p, bp.x)]
            w = _orthogonalised(v, basis)
            if max_abs(w) * 4 > max_abs(v):                  # not along a direction already pinned down
                basis.append(w)
        for _ in range(2 * len(bp.x)):
            if len(basis) == len(bp.x):
                break
            u = self.orthogonal_direction(basis)
            p = next((p for side in (u, [-c for c in u]) for status, p in [self.probe(bp, side)] if status == "on"),
                     None)
            if p is not None:
                points.append(p)
                basis.append(u)
        normal, bias = fit_plane(bp.normal, bp.bias, bp.x, points, self.ar)
        return BoundaryPoint(bp.x, tuple(normal), bias, bp.jac_plus, bp.jac_minus, bp.u)

    def near_plane(self, bp: BoundaryPoint, p: Sequence[Number]) -> bool:
        """p is on bp's plane within 2**6 times the rounding of outputs of p's size."""
        return abs(dot(bp.normal, p) + bp.bias) <= self.ar.rel * 2 ** 6 * (1 + max_abs(p))

    def orthogonal_direction(self, basis: list[list]) -> list[Number]:
        """A random direction orthogonal to every vector of `basis` (mutually orthogonal), max |u_i| == 1."""
        while True:
            v = _orthogonalised(self.random_vector(len(basis[0])), basis)
            if max_abs(v) > 0:
                return [vi / max_abs(v) for vi in v]


def fit_plane(normal: Sequence[Number], bias: Number, x: Sequence[Number], points: Sequence[Sequence[Number]],
              ar: Arith) -> tuple[list[Number], Number]:
    """The plane n.(y - x) + c = 0 through `points` nearest to (normal, bias), normalised, in the mode's numbers.

    Least squares (normal equations at the working mpmath precision) for a correction (dn, dc) with
    normal.dn == 0; a pull towards no correction, 2**-20 as strong, fixes directions the points leave
    open.  A kink located at p is off by about the rounding of outputs of size ~|p|, so its equation is
    weighted by 1 / (1 + |p|)."""
    n0 = [mpmath.mpf(v) for v in normal]
    x0 = [mpmath.mpf(v) for v in x]
    c0 = dot(n0, x0) + mpmath.mpf(bias)
    offsets = [[mpmath.mpf(v) - xi for v, xi in zip(p, x0)] for p in points]
    weights = [1 / (1 + max_abs(p)) for p in points]       # a located kink is off by ~ rounding of |p|
    span = max([max_abs(y) for y in offsets] + [mpmath.mpf(1)])
    rows = [[w * v for v in y] + [w * span] for w, y in zip(weights, offsets)]    # unknowns dn and dc / span
    rhs = [-w * (dot(n0, y) + c0) for w, y in zip(weights, offsets)]
    size = max(max_abs(r) for r in rows)
    rows.append([size * v for v in n0] + [0])
    rhs.append(0)
    for j in range(len(n0) + 1):
        rows.append([size * mpmath.mpf(2) ** -20 if k == j else 0 for k in range(len(n0) + 1)])
        rhs.append(0)
    sol = mpmath.lu_solve(mpmath.matrix(rows), mpmath.matrix(rhs))    # normal equations; well conditioned here
    nn = [v + sol[j] for j, v in enumerate(n0)]
    c = c0 + sol[len(n0)] * span
    back = float if ar.mode == "float" else mpmath.mpf
    return normalise([back(v) for v in nn], back(c - dot(nn, x0)))


def _orthogonalised(v: Sequence[Number], basis: Sequence[Sequence[Number]]) -> list[Number]:
    """v minus its projections on the (mutually orthogonal) vectors of `basis` (Gram-Schmidt step)."""
    v = list(v)
    for b in basis:
        c = dot(v, b) / dot(b, b)
        v = [vi - c * bi for vi, bi in zip(v, b)]
    return v


def _crossing(bp: BoundaryPoint, line: Line) -> Number | None:
    """The t where `line` crosses bp's plane (None if parallel)."""
    nd = dot(bp.normal, line.d)
    return None if nd == 0 else -(dot(bp.normal, line.p) + bp.bias) / nd


"""The first layer exactly (Algorithm 1 of the paper): PointsOnLine, InferHyperplane, TestHyperplane.

Lines: x(t) = p + t*d with p, d random rationals in [-1, 1]^n and |t| <= 2**12.  A first-layer
hyperplane w.x + b = 0 is crossed unless |w.d| < |w.p + b| / 2**12, i.e. unless d is within an angle of
about |w.p + b| / (2**12 |w| |d|) of being parallel to it: for the unit-scale targets of the paper's
experiments (He initialisation, |b| ~ 1) each line misses a given hyperplane with probability about
1e-3 * sqrt(n_in).  Lines are drawn until one line finds no new first-layer hyperplane (at least two
lines); a hyperplane is then missed only if every line misses it (each extra line multiplies the
miss probability by another factor ~1e-3), or if no line crosses it where a kink is visible.

InferHyperplane: the Jacobian of the output in each region between consecutive kinks (n_in queries,
checked against the exactly known slope along the line); at a kink the Jacobian jump is rank one,
u (x) n with n the boundary's local normal, and b = -n.x.
TestHyperplane: far from the kink on both sides along a random direction within the plane, a short
segment along the normal must have its kink exactly on the plane; a bent boundary fails.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence

import mpmath

from .arith import Arith, dot, max_abs, normalise
from .errors import BudgetExceeded
from .geometry import (Evaluator, Line, LineScan, geometric_grid, jacobian_at, points_on_line, rank_one_normal,
                       region_point)
from .oracle import Oracle

Number = Any
LINE_HALF_LENGTH = 2 ** 12
MAX_LINES = 8
PROBE_DISTANCE_BITS = (9, 9, 5, 5)      # probe distances 2**bits..2**(bits+2) times the scale of x


@dataclass
class BoundaryPoint:
    """A located boundary point x with its local plane normal.x + bias = 0 (max(|normal|, |bias|) = 1).

    jac_plus / jac_minus are the output Jacobians on the sides where normal.(y - x) > 0 / < 0, and
    jac_plus - jac_minus == outer(u, normal).
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


def extract_first_layer(oracle: Oracle, *, seed: int = 0) -> FirstLayerResult:
    """Recover the first-layer hyperplanes of the network behind `oracle` (exactly in exact mode).

    Budget exhaustion ends the search early: the result then lists it in `.undecided`.
    """
    ar = Arith(oracle.arithmetic, oracle.dps)
    with mpmath.workdps(oracle.dps):
        search = FirstLayerSearch(Evaluator(oracle, ar), random.Random(seed))
        try:
            search.run()
        except BudgetExceeded as e:
            search.undecided.append({"item": "first layer", "reason": f"budget exhausted: {e}"})
        return search.result()


class FirstLayerSearch:
    """State of Algorithm 1: accepted hyperplanes, rejected local planes, points for deeper layers."""

    def __init__(self, ev: Evaluator, rng: random.Random) -> None:
        self.ev = ev
        self.ar = ev.arith
        self.rng = rng
        self.start_queries = ev.queries
        self.accepted: list[BoundaryPoint] = []
        self.rejected: list[BoundaryPoint] = []
        self.undecided: list[dict] = []
        self.lines = 0

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
            arithmetic=self.ar.mode, hyperplane_points=list(self.accepted))

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
        """PointsOnLine + InferHyperplane + TestHyperplane on one line; returns the number of new hyperplanes."""
        half = self.ar.num(LINE_HALF_LENGTH)
        scan = points_on_line(self.ev, line, -half, half, grid=geometric_grid(half, self.ar), rng=self.rng)
        for a, b, why in scan.unresolved:
            self.undecided.append({"item": f"line {self.lines}, t in [{a}, {b}]", "reason": why})
        todo = [i for i, k in enumerate(scan.kinks) if not self.explained(k.x)]
        jacs = self.region_jacobians(scan, sorted({r for i in todo for r in (i, i + 1)}))
        new = 0
        for i in todo:
            bp = self.boundary_point(scan, i, jacs)
            if bp is None:
                continue
            new += self.classify(bp)
        return new

    def explained(self, x: Sequence[Number]) -> bool:
        """x lies on an already accepted first-layer hyperplane."""
        for bp in self.accepted:
            r = dot(bp.normal, x) + bp.bias
            if self.ar.close(r, 0, max_abs(bp.normal) * max_abs(x) * len(x) + abs(bp.bias)):
                return True
        return False

    def region_jacobians(self, scan: LineScan, wanted: Sequence[int]) -> dict[int, list]:
        """Jacobian of each wanted region of the scan (None where the checked steps failed)."""
        out: dict[int, list] = {}
        dmax = max_abs(scan.line.d)
        for r in wanted:
            lo, hi, piece = scan.regions[r]
            t = region_point(lo, hi, self.ar)
            x = scan.line.at(t)
            fx = piece.at(t) if self.ar.exact else self.ev.points([x])[0]
            reach = min((hi - lo) * dmax, self.ar.num(1))
            h = self.ar.simple_near(reach / 2 ** 12, reach / 2 ** 14) if self.ar.exact else reach / 8
            out[r] = jacobian_at(self.ev, x, fx, scan.line.d, piece.slope, h)
            if out[r] is None:
                self.undecided.append({"item": f"line {self.lines}, region t in [{lo}, {hi}]",
                                       "reason": "no coordinate step stayed inside the region (Jacobian check failed)"})
        return out

    def boundary_point(self, scan: LineScan, i: int, jacs: dict[int, list]) -> BoundaryPoint | None:
        """InferHyperplane at kink i: local plane from the rank-one Jacobian jump."""
        kink = scan.kinks[i]
        left, right = jacs.get(i), jacs.get(i + 1)
        if left is None or right is None:
            return None
        jump = [[r - lft for r, lft in zip(rr, lr)] for rr, lr in zip(right, left)]
        split = rank_one_normal(jump, self.ar)
        if split is None:
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

    # ---------------------------------------------------- classification
    def classify(self, bp: BoundaryPoint) -> int:
        """Accept bp's plane as a new first-layer hyperplane (returns 1) or keep bp for deeper layers (0)."""
        for known in self.accepted:
            if self.same_plane(known, bp):
                return 0
        if any(self.same_plane(r, bp) for r in self.rejected) or not self.test_hyperplane(bp):
            self.rejected.append(bp)
            return 0
        self.accepted.append(bp)
        return 1

    def same_plane(self, a: BoundaryPoint, b: BoundaryPoint) -> bool:
        """Equal normalised planes, up to sign."""
        va = list(a.normal) + [a.bias]
        vb = list(b.normal) + [b.bias]
        return self.ar.same_vec(va, vb) or self.ar.same_vec(va, [-v for v in vb])

    def test_hyperplane(self, bp: BoundaryPoint) -> bool:
        """TestHyperplane: for a random direction u in the plane, probes at x + D u and x - D' u both see
        a kink exactly on the plane.  Two far directions (D ~ 2**9..2**11 times the scale of x) are tried,
        then two nearer ones (2**5..2**7), since far away a narrow network may hide the kink.

        A bent boundary's flat piece would have to contain a long segment through x in both directions.
        A kink found near a probe point but not on the plane rejects at once; no kink at all (a part of
        the hyperplane that nothing downstream sees) only moves on to the next direction.
        """
        for bits in PROBE_DISTANCE_BITS:
            u = self.direction_in_plane(bp)
            first = self.probe(bp, u, bits)
            if first == "off":
                return False
            if first == "on":
                second = self.probe(bp, [-c for c in u], bits)
                if second == "on":
                    return True
                if second == "off":
                    return False
        return False

    def direction_in_plane(self, bp: BoundaryPoint) -> list[Number]:
        """A random direction u with normal.u == 0, scaled to max |u_i| == 1."""
        w = list(bp.normal)
        ww = dot(w, w)
        while True:
            r = self.random_vector(len(w))
            c = dot(r, w) / ww
            u = [ri - c * wi for ri, wi in zip(r, w)]
            if max_abs(u) > 0:
                m = max_abs(u)
                return [ui / m for ui in u]

    def probe(self, bp: BoundaryPoint, u: Sequence[Number], bits: int) -> str:
        """Along the normal through q = x + D u (a point of the plane): a kink exactly at q ("on"), a
        kink elsewhere nearby ("off") or none ("silent").  4 queries."""
        w = list(bp.normal)
        dist = self.ar.num(self.rng.randint(256, 1024)) * 2 ** (bits - 8) * (1 + max_abs(bp.x))
        q = [xi + dist * ui for xi, ui in zip(bp.x, u)]
        eps = self.ar.num(1) / (2 ** 24 if self.ar.exact else 2 ** 8)
        ys = self.ev.points([[qi + s * eps * wi for qi, wi in zip(q, w)] for s in (-2, -1, 1, 2)])
        left0 = [2 * b - a for a, b in zip(ys[0], ys[1])]
        right0 = [2 * a - b for a, b in zip(ys[2], ys[3])]
        dl = [b - a for a, b in zip(ys[0], ys[1])]
        dr = [b - a for a, b in zip(ys[2], ys[3])]
        scale = max(max_abs(v) for v in ys)
        if self.ar.close_vec(dl, dr, scale) and self.ar.close_vec(left0, right0, scale):
            return "silent"
        return "on" if self.ar.close_vec(left0, right0, scale) else "off"

"""Sound equivalence verdicts for two ReLU networks: "equivalent", "different" or "unknown".

* "equivalent" only with a proof: identical canonical forms (method "canonical"), or a complete
  exact enumeration of the joint linear regions over R^n or the box (method "regions", see
  `exactrev.regions`) in which every region's two affine maps are equal exactly -- or, with a
  tolerance, max |a - b| <= tolerance is proven exactly on every region.
* "different" always carries a rational witness x whose exact outputs differ (by more than the
  tolerance), re-checked by exact evaluation of both networks right before returning.
* "unknown" when the region or time limit runs out, or an LP proposal could not be verified; the
  certificate says how much was covered.

Cheap falsification runs first: exact evaluation at random rational points at many scales and at
the vertices of the first-layer hyperplane arrangements (where bumps of deeper neurons peak).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

from flint import fmpq, fmpq_mat

from .canonical import canonical_form
from .errors import ExactrevError, Interrupted
from .lp import Counter, dot, maximize
from .network import Network
from .probe_points import first_layer_vertices, random_points, region_representatives
from .numbers import format_rational, to_fraction
from .regions import Leaf, StopEnumeration, enumerate_regions, validate_box

VERDICTS = ("equivalent", "different", "unknown")
DEFAULT_LIMIT = 100_000
_VERTEX_BUDGET = 1024


@dataclass
class Certificate:
    """The answer of `certify`: verdict, how it was reached, the witness if any, and the cost."""

    verdict: str
    method: str
    witness: list[Fraction] | None
    reason: str
    outputs: tuple[list[Fraction], list[Fraction]] | None = None
    regions: int = 0
    lps: int = 0
    nodes: int = 0
    pruned: int = 0
    samples: int = 0
    seconds: float = 0.0
    complete: bool = False
    tolerance: Fraction = Fraction(0)
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready form; numbers as exact "p/q" strings."""
        fmt = (lambda v: [format_rational(x) for x in v]) if self.witness is not None else None
        return {
            "verdict": self.verdict, "method": self.method,
            "witness": fmt(self.witness) if fmt else None,
            "outputs": None if self.outputs is None else {"a": fmt(self.outputs[0]), "b": fmt(self.outputs[1])},
            "reason": self.reason, "regions": self.regions, "lps": self.lps, "nodes": self.nodes,
            "pruned": self.pruned, "samples": self.samples, "seconds": round(self.seconds, 4),
            "complete": self.complete, "tolerance": format_rational(self.tolerance), **self.details,
        }

    def to_text(self) -> str:
        """A few human-readable lines."""
        lines = [f"verdict: {self.verdict} (method {self.method})", f"reason: {self.reason}"]
        if self.witness is not None:
            lines.append("witness: " + ",".join(format_rational(v) for v in self.witness))
            if self.outputs is not None:
                lines.append("A(witness): " + ",".join(format_rational(v) for v in self.outputs[0]))
                lines.append("B(witness): " + ",".join(format_rational(v) for v in self.outputs[1]))
        lines.append(f"cost: {self.regions} regions, {self.lps} LPs, {self.samples} sample points, "
                     f"{self.seconds:.3f} s")
        return "\n".join(lines)


# ------------------------------------------------------------------ inputs
def _check_pair(a: Network, b: Network) -> None:
    for name, net in (("a", a), ("b", b)):
        if not isinstance(net, Network):
            raise ExactrevError(f"certify: {name} is a {type(net).__name__}, expected an exactrev.Network")
    if a.input_dim != b.input_dim:
        raise ExactrevError(f"certify: network A takes {a.input_dim} inputs but B takes {b.input_dim}")
    if a.output_dim != b.output_dim:
        raise ExactrevError(f"certify: network A has {a.output_dim} outputs but B has {b.output_dim}")


def _fix_coordinates(net: Network, fixed: dict[int, Fraction]) -> Network:
    """The network restricted to the affine slice where coordinates in `fixed` take their values."""
    free = [j for j in range(net.input_dim) if j not in fixed]
    w0 = [[row[j] for j in free] for row in net.weights[0]]
    b0 = [b + sum((row[j] * v for j, v in fixed.items()), Fraction(0)) for row, b in zip(net.weights[0], net.biases[0])]
    return Network([w0, *net.weights[1:]], [b0, *net.biases[1:]], source="restricted network")


def _gap(ya: Sequence[Fraction], yb: Sequence[Fraction]) -> Fraction:
    return max(abs(u - v) for u, v in zip(ya, yb))


class _Pair:
    """The two networks on the free coordinates of the box, and the map back to full inputs."""

    def __init__(self, a: Network, b: Network, box: list[tuple[fmpq, fmpq]] | None) -> None:
        self.full = (a, b)
        self.n_full = a.input_dim
        self.fixed: dict[int, Fraction] = {}
        if box:
            self.fixed = {j: Fraction(int(lo.p), int(lo.q)) for j, (lo, hi) in enumerate(box) if lo == hi}
        self.free = [j for j in range(self.n_full) if j not in self.fixed]
        if self.fixed and self.free:
            self.nets = (_fix_coordinates(a, self.fixed), _fix_coordinates(b, self.fixed))
        else:
            self.nets = (a, b)
        self.box = [box[j] for j in self.free] if box else None
        self.full_box = None if box is None else [(Fraction(int(lo.p), int(lo.q)), Fraction(int(hi.p), int(hi.q)))
                                                  for lo, hi in box]

    def expand(self, x: Sequence[Any]) -> list[Fraction]:
        full = [self.fixed.get(j, Fraction(0)) for j in range(self.n_full)]
        for j, v in zip(self.free, x):
            full[j] = to_fraction(v)
        return full

    def confirm(self, x: Sequence[Any], tol: Fraction) -> tuple[list[Fraction], list[Fraction], list[Fraction]] | None:
        """Exact re-check on the *original* networks: (x, A(x), B(x)) if x is in the box and the outputs
        differ by more than tol there."""
        full = self.expand(x)
        if self.full_box and not all(lo <= v <= hi for v, (lo, hi) in zip(full, self.full_box)):
            return None
        ya, yb = self.full[0](full), self.full[1](full)
        return (full, ya, yb) if _gap(ya, yb) > tol else None


# ------------------------------------------------------------------ falsification
def _falsify(pair: _Pair, tol: Fraction, samples: int, rng: random.Random,
            deadline: float | None = None) -> tuple[tuple | None, int]:
    """Exact evaluation at sample points, stopped at `deadline`; returns (confirmed witness or None, points tried)."""
    if samples <= 0:
        return None, 0
    a, b = pair.nets
    n = a.input_dim
    pts = random_points(n, samples, pair.box, rng)
    if pair.box is None:        # a difference only on whole small regions (a narrow cone far out)
        pts += [x for net in pair.nets for x in region_representatives(net, samples, rng)]
    verts = first_layer_vertices(pair.nets, _VERTEX_BUDGET, rng, deadline)
    if pair.box:
        box = [pair.full_box[j] for j in pair.free]
        verts = [v for v in verts if all(lo <= c <= hi for c, (lo, hi) in zip(v, box))]
    pts += verts
    for start in range(0, len(pts), 512):
        if deadline is not None and time.monotonic() > deadline:
            return None, start
        chunk = pts[start:start + 512]
        for x, ya, yb in zip(chunk, a.evaluate_batch(chunk), b.evaluate_batch(chunk)):
            if _gap(ya, yb) > tol:
                found = pair.confirm(x, tol)
                if found:
                    return found, len(pts)
    return None, len(pts)


# ------------------------------------------------------------------ per-region checks
class _LeafChecker:
    """Compares the two affine maps on each region; raises StopEnumeration with a witness."""

    def __init__(self, pair: _Pair, tol: Fraction, counter: Counter) -> None:
        self.pair = pair
        self.tol = tol
        self.tol_q = fmpq(tol.numerator, tol.denominator)
        self.counter = counter
        self.n = pair.nets[0].input_dim
        self.unresolved = 0
        self.witness: tuple | None = None

    def __call__(self, leaf: Leaf) -> None:
        D = leaf.outputs[0] - leaf.outputs[1]
        if self.tol == 0:
            if D == fmpq_mat(D.nrows(), D.ncols()):
                return
            cands = self._exact_mismatch_points(leaf, D)
        else:
            cands, ok = self._tolerance(leaf, D)
            if ok:
                return
        for x in cands:
            found = self.pair.confirm(x, self.tol)
            if found:
                self.witness = found
                raise StopEnumeration
        self.unresolved += 1

    def _exact_mismatch_points(self, leaf: Leaf, D: fmpq_mat) -> list[tuple[fmpq, ...]]:
        """An interior point where some output of the two maps differs (a gradient step if needed)."""
        p = leaf.point
        if p is None:
            return []
        n = self.n
        rows = D.tolist()
        if any(dot(r[:n], p) + r[n] != 0 for r in rows):
            return [p]
        d = next(r[:n] for r in rows if any(r[:n]))
        step = fmpq(1)
        for a, c in leaf.halfspaces:
            rate = dot(a, d)
            if rate > 0:
                step = min(step, (c - dot(a, p)) / rate)
        step /= 2
        return [tuple(u + step * v for u, v in zip(p, d))]

    def _tolerance(self, leaf: Leaf, D: fmpq_mat) -> tuple[list, bool]:
        """Prove max |D x| <= tol on the region, or propose points above it."""
        n = self.n
        box = self.pair.box
        cands: list[tuple[fmpq, ...]] = []
        ok = True
        center = tuple((lo + hi) / 2 for lo, hi in box)
        width = max(hi - lo for lo, hi in box)
        for row in D.tolist():
            for sign in (1, -1):
                g = [sign * v for v in row[:n]]
                const = sign * row[n]
                hi = const + sum((v * (h if v > 0 else lo) for v, (lo, h) in zip(g, box)), fmpq(0))
                if hi <= self.tol_q:
                    continue
                if leaf.point is not None and dot(g, leaf.point) + const > self.tol_q:
                    cands.append(leaf.point)
                    ok = False
                    continue
                point, bound = maximize(leaf.halfspaces, g, n, leaf.point or center, width or fmpq(1), self.counter)
                if point is not None and dot(g, point) + const > self.tol_q:
                    cands.append(point)
                    ok = False
                elif bound is None or bound + const > self.tol_q:
                    ok = False
        return cands, ok


# ------------------------------------------------------------------ certify
def certify(a: Network, b: Network, *, box: Sequence | None = None, tolerance: Any = 0,
            limit: int | None = DEFAULT_LIMIT, seconds: float | None = None, samples: int = 256,
            seed: int = 0, try_canonical: bool = True, progress: Callable[..., None] | None = None) -> Certificate:
    """Decide soundly whether networks a and b compute the same function on R^n (or on `box`).

    `box`: list of exact (lo, hi) pairs, one per input (or one pair for all).  `tolerance` > 0
    (needs a box) proves max_x max_j |a_j(x) - b_j(x)| <= tolerance instead of equality.
    `limit` caps the regions enumerated and `seconds` the time of the sampling and enumeration phases
    together; past either the verdict is "unknown" (the reason names the limit).
    `samples` random points (plus first-layer vertices and, without a box, one point in each of up to `samples`
    linear regions of each network) are tried first; 0 skips that phase.
    `progress(regions=, lps=, nodes=)` is called now and then during the region enumeration.
    """
    t0 = time.monotonic()
    _check_pair(a, b)
    try:
        tol = to_fraction(tolerance)
    except ValueError as e:
        raise ExactrevError(f"certify: tolerance {tolerance!r}: {e}") from None
    if tol < 0:
        raise ExactrevError(f"certify: tolerance {tol} is negative")
    pairs = validate_box(box, a.input_dim)
    if tol > 0 and pairs is None:
        raise ExactrevError("certify: a tolerance > 0 needs a box (a bound over all of R^n fails for any "
                            "two maps whose slopes differ anywhere)")
    if limit is not None and limit < 1:
        raise ExactrevError(f"certify: limit {limit} must be at least 1 region")
    if seconds is not None and not seconds > 0:
        raise ExactrevError(f"certify: seconds {seconds} must be positive")

    def done(verdict: str, method: str, reason: str, found: tuple | None = None, **cost: Any) -> Certificate:
        return Certificate(verdict, method, None if found is None else found[0], reason,
                           None if found is None else (found[1], found[2]), seconds=time.monotonic() - t0,
                           tolerance=tol, **cost)

    if try_canonical and canonical_form(a) == canonical_form(b):
        return done("equivalent", "canonical", "identical canonical forms (permutation and positive scaling)",
                    complete=True)
    pair = _Pair(a, b, pairs)
    rng = random.Random(seed)
    if not pair.free:
        found = pair.confirm([], tol)
        if found:
            return done("different", "sampling", "the box is a single point and the outputs differ there",
                        found, samples=1, complete=True)
        return done("equivalent", "regions", "the box is a single point and the outputs agree there",
                    samples=1, complete=True)
    deadline = None if seconds is None else t0 + seconds
    try:
        found, nsamples = _falsify(pair, tol, samples, rng, deadline)
    except KeyboardInterrupt as e:
        raise Interrupted(done("unknown", "sampling", "interrupted (Ctrl-C) while sampling, before the region "
                               "enumeration; nothing is proven")) from e
    what = "differ" if tol == 0 else f"differ by more than {format_rational(tol)}"
    if found:
        return done("different", "sampling", f"exact outputs {what} at a sample point", found,
                    samples=nsamples, complete=True)
    checker = _LeafChecker(pair, tol, Counter())
    left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    try:
        stats = enumerate_regions(pair.nets, checker, box=pair.box, max_regions=limit, seconds=left,
                                  progress=progress)
    except Interrupted as e:
        stats = e.partial
        if checker.witness is None:
            raise Interrupted(done("unknown", "regions", f"interrupted (Ctrl-C) after {stats.regions} regions "
                                   f"({stats.open_branches} unexplored branches left); no difference found in the "
                                   "covered part", regions=stats.regions, lps=stats.lps + checker.counter.lps,
                                   nodes=stats.nodes, pruned=stats.pruned, samples=nsamples)) from e
    cost = dict(regions=stats.regions, lps=stats.lps + checker.counter.lps, nodes=stats.nodes,
                pruned=stats.pruned, samples=nsamples)
    cost["details"] = {"exact_fixes": stats.exact_fixes, "exact_eliminations": stats.exact_eliminations, "unproven_regions": stats.unproven,
                       "unresolved_regions": checker.unresolved, "open_branches": stats.open_branches}
    if checker.witness:
        return done("different", "regions", f"exact outputs {what} inside linear region {stats.regions} "
                    "of the joint network", checker.witness, complete=True, **cost)
    where = "the box" if pairs else "R^n"
    if stats.complete and checker.unresolved == 0:
        claim = "agree exactly" if tol == 0 else f"differ by at most {format_rational(tol)}"
        return done("equivalent", "regions", f"all {stats.regions} joint linear regions covering {where} "
                    f"enumerated exactly; the two affine maps {claim} on each", complete=True, **cost)
    if not stats.complete:
        why = (f"{stats.stopped} limit reached after {stats.regions} regions ({stats.open_branches} "
               f"unexplored branches left); no difference found in the covered part of {where}")
    else:
        why = (f"all regions enumerated, but on {checker.unresolved} region(s) the maps differ and no "
               "exactly verified witness or bound could be produced")
    return done("unknown", "regions", why, complete=False, **cost)

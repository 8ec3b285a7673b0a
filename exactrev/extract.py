"""`extract`: an oracle in, an exact network out (architecture unknown in advance).

Layer 1 by Algorithm 1 (exactrev.first_layer); each further layer by walking the boundaries left
over (exactrev.deeper_layers) and solving the previous layer's signs with the new layer's biases
(exactrev.signs); a layer with no unexplained boundary points left is the last hidden layer, and the
output layer is then solved exactly as an affine map of relu(+-h) of that layer and verified on
extra points.  Budget exhaustion (exactrev.BudgetExceeded) ends in a partial result, never raises.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Callable, Iterator, Sequence

import mpmath
from flint import fmpq

from .arith import Arith, dot, max_abs, normalise
from .deeper_layers import (MEETING_LINES, MEETING_REACH, BoundaryWalker, KnownLayer, LayerNeuron, PartialNetwork,
                            Walk, WalkNeuron, parallel, search_point)
from .deeper_layers_numeric import NumLayer, unmet_weight_note
from .errors import BudgetExceeded, ExactrevError, Interrupted
from .first_layer import (LINE_HALF_LENGTH, BoundaryPoint, FirstLayerResult, FirstLayerSearch,
                          extract_first_layer)
from .extract_numeric import NumericLayers
from .geometry import (Evaluator, Line, LineScan, geometric_grid, points_on_line, points_on_line_predicted,
                       region_point)
from .layer_signs import SignSystem, sign_system
from .network import Network
from .output_bends import weights_from_line_kinks, weights_from_output_bends, weights_up_to_combination
from .output_cases import MAX_CASE_PAIRS, OutputCases, case_assignments, off_weight, weights_from_cases
from .numbers import format_rational, to_fmpq
from .oracle import Oracle
from .oracle_check import OracleCheck
from .probe_points import aimed_directions, first_layer_vertices, region_representatives
from .signs import UNDETERMINED, others_given_signs, solve_linear_exact, solve_signs, undetermined_columns

__all__ = ["ExtractResult", "extract", "extract_first_layer"]

MAX_HIDDEN_LAYERS = 12
MAX_ROUNDS = 16                # restarts after new first-layer neurons or unexplained verification kinks ...
STALL_ROUNDS = 3               # ... ending once this many rounds in a row found no more hidden neurons
ONE_SIDED_TESTS, ONE_SIDED_ON = 2, 4   # evidence for trying a plane TestHyperplane saw on one side only
VERIFY_LINES = 8
ENOUGH_LINES = 2            # fresh lines with unexplained kinks that end a round's scanning (80-40-20-1:
                            # 12,347 -> 11,278 queries; 1 or 3 took more on five networks)
UNSOLVED_LINES = 24         # more fresh lines in a round whose output layer is not solved (no point check then)
VERIFY_REGIONS = 768        # linear regions of the recovered network checked with one point each
VERIFY_VERTICES = 256      # first-layer arrangement vertices checked (each with a point next to it)
AIMED_CANDIDATES = 4096    # random directions among which aimed_lines picks its two per suspect
POINT_CHECK_BATCH = 32     # points of the point check in its first batch of queries (twice as many in each next)
EXTRA_CHECK_POINTS = 6
MAX_DISAGREEMENTS = 3          # points where the network disagreed though every kink was explained, fitted again
ORIENT_POINTS = 256           # random points that orient a neuron whose sign nothing determines (see mostly_on)
SEARCH_POINTS = 256            # random points searched for one where a neuron is on or off (see _points_where)
FOLD_ON_POINTS = 4             # points where each neuron of layer L-1 is on that fold_output fits (if found)
OUTPUT_POINT_TRIES = 4096      # random points drawn for the output layer, the first half kept only where unmeasured_off
MAX_REPORTED_POINTS = 2000
OFF_POINTS = 256               # random points (no queries) where an "off" pair's weight must keep z off (off_pair)
SETTLE_ATTEMPTS = 3            # tries at a neuron rejected with unmeasured weights (see settle)
FIRST_PROVISIONAL = 2          # layer-k walks before the first provisional sign solve (then after every walk, up to
                               # PROVISIONAL_EVERY, until it fixes every sign of layer k-1: later walks read weights
                               # off normals) ...
PROVISIONAL_EVERY = 8          # ... and at least this many between two later ones (a quarter more walks each time:
                               # see ProvisionalLayer)
CONTRADICTED_WALKS = 8         # layer-k walks (k >= 3) after which walking stops if they contradict every sign vector
                               # (once per set of known layers: a later round on the same ones walks every point)


@dataclass
class FirstPlane:
    """A first-layer neuron of extraction's rounds: its plane, a located point of it with the local normal,
    and its standing: "found" (by Algorithm 1, a walk or a verification line), "trial" (a plane seen on one
    side only, being tried: see Extraction.one_sided_planes) or "kept" (such a plane the rounds kept)."""

    row: list[fmpq]
    bias: fmpq
    anchor: tuple[list[fmpq], list[fmpq]]
    state: str = "found"


@dataclass
class Restart:
    """Walks proved flat boundaries: first-layer hyperplanes to add before extracting deeper layers again."""

    hyperplanes: list


@dataclass
class LayerStats:
    """Per-layer numbers for the report."""

    neurons: int
    queries: int
    max_rel_error: float | None = 0.0     # 0 in exact mode; None (unknown without the target) otherwise


@dataclass
class ExtractResult:
    """What `extract` recovered: an exact network, and everything it could not settle."""

    network: Network
    queries: int
    widths: list[int]
    status: str
    unidentified: list[dict]
    layers: list[LayerStats]
    oracle: str = "exact"
    seed: int = 0
    wall_seconds: float = 0.0
    hyperplanes: list[tuple[list, Any]] = field(default_factory=list)
    boundary_points: list[list[Any]] = field(default_factory=list)   # located points on boundaries (for plots)
    verification: dict = field(default_factory=dict)   # what the last check compared (see Extraction.verification)
    removed: list[dict] = field(default_factory=list)  # idle neurons dropped from a complete network

    def to_report(self) -> dict:
        """The JSON-ready report of `exactrev extract --report` (numbers as "p/q" strings)."""
        return {
            "queries": self.queries, "status": self.status, "widths": list(self.widths), "oracle": self.oracle,
            "seed": self.seed, "wall_seconds": round(self.wall_seconds, 3), "unidentified": list(self.unidentified),
            "layers": [{"neurons": s.neurons, "queries": s.queries, "max_rel_error": s.max_rel_error}
                       for s in self.layers],
            "hyperplanes": [{"weights": [format_rational(v) for v in w], "bias": format_rational(b)}
                            for w, b in self.hyperplanes],
            "boundary_points": [[format_rational(v) for v in x] for x in self.boundary_points],
            "verification": dict(self.verification), "removed": list(self.removed),
            "network": self.network.to_dict(),
        }


def extract(oracle: Oracle, *, seed: int = 0, budget: int | None = None, time_limit: float | None = None,
            progress: Callable[..., None] | None = None) -> ExtractResult:
    """Recover the whole network behind `oracle` (exactly for an exact oracle).

    The oracle is checked first (exactrev.oracle_check: OracleError if it is not a fixed piecewise linear
    function); the check's queries are asked again every RECHECK_EVERY queries and at the end (OracleError
    if an answer changed).
    `budget` caps the queries this call may use (on top of the oracle's own budget, if any); `time_limit`
    (seconds) its time, checked before each batch of queries: past either, the result is partial.
    `progress(stage=, layer=, neurons=, queries=)` is called as each stage starts (for progress bars).
    """
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or not time_limit > 0):
        raise ExactrevError(f"extract: time_limit={time_limit!r} must be a positive number of seconds")
    start = time.perf_counter()
    saved_budget = oracle.budget
    if budget is not None:
        cap = oracle.queries + budget
        oracle.budget = cap if saved_budget is None else min(saved_budget, cap)
    try:
        with mpmath.workdps(oracle.dps):
            result = Extraction(oracle, seed, progress, time_limit=time_limit).run()
    except Interrupted as e:
        e.partial.wall_seconds = time.perf_counter() - start
        raise
    finally:
        oracle.budget = saved_budget
    result.wall_seconds = time.perf_counter() - start
    return result


class Extraction:
    """The whole pipeline's state: known layers, pending boundary points, per-layer statistics."""

    def __init__(self, oracle: Oracle, seed: int, progress: Callable[..., None] | None = None, *,
                 time_limit: float | None = None) -> None:
        self.oracle = oracle
        self.progress = progress
        self.seed = seed
        self.time_limit = time_limit
        self.check = OracleCheck(oracle, seed=seed)
        guard = self.guard = _Guard(self.check, None if time_limit is None else time.monotonic() + time_limit)
        self.ar = Arith(oracle.arithmetic, oracle.dps)
        self.ev = _GuardedEvaluator(oracle, self.ar, guard)
        self.dev = _GuardedEvaluator(oracle, Arith("exact", fmpq_backend=True), guard) if self.ar.exact else self.ev
        self.rng = random.Random(seed)
        self.start_queries = oracle.queries
        self.layers: list[KnownLayer] = []
        self.stats: list[LayerStats] = []
        self.unidentified: list[dict] = []
        self.anchors: list[list[tuple[list[fmpq], list[fmpq]]]] = []   # per layer, per neuron: (x, grad)
        self.output: tuple[list[list[fmpq]], list[fmpq]] | None = None
        self.first: FirstLayerResult | None = None
        self.walk_cache: dict[tuple, Walk] = {}
        self.stopped: set[tuple] = set()   # known layers on which walking stopped early once (CONTRADICTED_WALKS)
        self.settled: dict[tuple, tuple] = {}     # see settle
        self.verify_scans: list[tuple[Line, LineScan]] = []   # verification lines scanned so far (see verification_points)
        self.checked_points = 0        # points compared by the last point_check
        self.far_lines = False         # UNSOLVED_LINES scanned (see verification_points)
        self.disagreements: list[list[fmpq]] = []   # points the output is fitted at again (see verification_points)
        self.refit = False             # this round found a new one: the next round solves the output with it
        self.verify_queries = 0        # queries of every round's verification (lines and points)
        self.rounds = 0                # rounds run (see run_layers)
        self.search: FirstLayerSearch | None = None
        self.not_hyperplanes: set[tuple] = set()     # flat walks' planes that TestHyperplane rejected
        self.unmeasured: dict[tuple[int, int], dict] = {}   # the last layer's (z, j) with W_zj unmeasured: its note
        self.stray: tuple | None = None              # (points, notes start, end) of a failed layer (hidden_layers)
        self.unoriented: set[tuple[int, int]] = set()  # (layer, neuron) whose sign nothing determined (next_layer)
        self.rejected: list[tuple[list[fmpq], fmpq]] = []   # the last layer's rejected complete walks (row, bias)
        self.suspects: list[tuple[int, list[fmpq]]] = []   # (layer before, row) of neurons likely missing (aimed_lines)
        self.aimed: list[tuple[int, list[fmpq]]] = []      # the suspects aimed_lines has scanned for, all rounds
        self.contradicted = False      # the last sign solve failed because no sign vector fits (sign_solution)

    # ------------------------------------------------------------- driver
    def run(self) -> ExtractResult:
        """Check the oracle (exactrev.oracle_check; its queries are asked again as extraction goes on and at
        the end: OracleError if an answer changed), then run every stage; a budget or the time limit running
        out or Ctrl-C ends in a partial result (the latter re-raised as exactrev.Interrupted carrying it).
        The check's queries count to the first layer, the final ones to the last."""
        checked = 0
        try:
            try:
                checked = self.check.run()
                self.run_layers()
                _final_checks(self)
            finally:
                if self.stats:
                    self.stats[0].queries += checked
        except BudgetExceeded as e:
            self.unidentified.append({"layer": len(self.layers) + 1, "neuron": None,
                                      "reason": f"budget exhausted: {e}"})
        except TimeLimitReached:
            self.unidentified.append({"layer": len(self.layers) + 1, "neuron": None, "reason":
                                      f"time limit of {self.time_limit:g} s reached after "
                                      f"{self.oracle.queries - self.start_queries} queries"})
        except KeyboardInterrupt:
            self.unidentified.append({"layer": len(self.layers) + 1, "neuron": None,
                                      "reason": f"interrupted (Ctrl-C) after {self.oracle.queries} queries"})
            raise Interrupted(self.result()) from None
        return self.result()

    def run_layers(self) -> None:
        search = self.search = FirstLayerSearch(self.ev, self.rng)
        self.report("first layer (lines)")
        try:
            search.run()
        finally:
            self.first = search.result()
        for u in self.first.undecided:
            self.unidentified.append({"layer": 1, "neuron": None, "reason": f"{u['item']}: {u['reason']}"})
        if not self.first.hyperplanes:
            self.unidentified.append({"layer": 1, "neuron": None, "reason": "no boundary found: the output looks affine"})
            return
        if not self.ar.exact:
            self.numeric_layers(NumLayer([list(w) for w, _ in self.first.hyperplanes],
                                         [b for _, b in self.first.hyperplanes]),
                                [(bp.x, bp.normal) for bp in self.first.hyperplane_points])
            return
        planes = [FirstPlane(_q(w), to_fmpq(b), (_q(bp.x), _q(bp.normal)))
                  for (w, b), bp in zip(self.first.hyperplanes, self.first.hyperplane_points)]
        first_queries = self.first.queries
        points = list(self.first.deeper_points)
        loop_start = self.ev.queries   # queries of discarded rounds are charged to the output layer's line
        most, stalled = 0, 0           # most hidden neurons found in a round; rounds since that grew
        tried = verified = False
        for rnd in range(MAX_ROUNDS):
            round_start, self.rounds = self.ev.queries, rnd + 1
            self.layers = [KnownLayer([list(p.row) for p in planes], [p.bias for p in planes], fixed=False)]
            self.anchors = [[p.anchor for p in planes]]
            self.stats = [LayerStats(len(planes), first_queries)]
            self.output = None
            self.unmeasured, self.stray, self.unoriented, self.rejected, self.suspects = {}, None, set(), [], []
            noted = len(self.unidentified)
            found = self.hidden_layers(points)
            self.stats[-1].queries += round_start - loop_start
            if found:
                # flat boundaries that cross known ones without bending: first-layer neurons TestHyperplane missed
                del self.unidentified[noted:]
                planes += [FirstPlane(normal, bias, (x, normal)) for normal, bias, x in found]
                continue
            before = self.ev.queries
            self.report("verifying")
            on_trial = sum(p.state == "trial" for p in planes)
            size = sum(len(layer.rows) for layer in self.layers) - on_trial
            new = self.verification_points(search, stuck=size <= most and stalled > 0) + self.settle_stray()
            self.stats[-1].queries += self.ev.queries - before
            self.verify_queries += self.ev.queries - before
            if not new and self.refit:       # the output disagreed where no boundary is missing: solve it again
                self.refit = False
                del self.unidentified[noted:]
                continue
            if not new and not (on_trial and len(self.unidentified) > noted):
                verified = True
                break
            missed = self.missed_hyperplanes(new, [p.row for p in planes]) if new else []
            if missed:      # first-layer neurons the lines of Algorithm 1 missed (hidden where downstream is off)
                del self.unidentified[noted:]
                planes += [FirstPlane(normal, bias, (x, normal)) for normal, bias, x in missed]
                points += _unseen_points(points, new)
                stalled = 0
                continue
            dropped = self.judge_trial(planes, size > most)
            if not new and not dropped:          # a verified round, with the planes on trial it kept
                verified = True
                break
            stalled = 0 if size > most else stalled + 1
            most = max(most, size)
            candidates = [] if tried or stalled < STALL_ROUNDS else self.one_sided_planes([p.row for p in planes])
            if (rnd == MAX_ROUNDS - 1 or stalled >= STALL_ROUNDS) and not candidates and not dropped:
                break                    # the last round's network is the result: keep what it says is missing
            del self.unidentified[noted:]
            points += _unseen_points(points, new)
            tried |= bool(candidates)    # stuck: try the planes seen on one side only
            planes += [FirstPlane(normal, bias, (x, normal), "trial") for normal, bias, x in candidates]
        if not verified:
            self.unidentified.append({"layer": None, "neuron": None, "reason": "verification lines still found "
                                      f"unexplained boundaries after {rnd + 1} rounds"})
        if self.unidentified:
            self.unidentified += [{"layer": 1, "neuron": i, "reason": "plane tried from kinks seen far away on one "
                                   "side only (TestHyperplane did not accept it) and kept: the rounds found more "
                                   "with it and layer-2 walks bend on it"}
                                  for i, p in enumerate(planes) if p.state != "found"]

    def judge_trial(self, planes: list[FirstPlane], grew: bool) -> bool:
        """Drop the planes on trial (see one_sided_planes) unless the round found more hidden neurons with them
        (`grew`) and a layer-2 walk bent on them; the others are kept.  Whether any was dropped."""
        used = {j for row in self.layers[1].rows for j, w in enumerate(row) if w != 0 and (1, j) not in
                self.unoriented} if grew and len(self.layers) > 1 else set()
        keep = [p for i, p in enumerate(planes) if p.state != "trial" or i in used]
        dropped = len(keep) < len(planes)
        planes[:] = keep
        for p in planes:
            if p.state == "trial":
                p.state = "kept"
        return dropped

    def settle_stray(self) -> list[BoundaryPoint]:
        """The points a failed layer was built from (see hidden_layers) that lie on no boundary of the network
        recovered without it: none means that layer was not needed, and its notes are dropped (no queries)."""
        if self.stray is None:
            return []
        points, start, end = self.stray
        self.stray = None
        net = self.network()
        pre = net.preactivations_batch([_q(bp.x) for bp in points]) if points else []
        left = [bp for bp, p in zip(points, pre) if not any(v == 0 for layer in p[:-1] for v in layer)]
        if not left:
            del self.unidentified[start:end]
        return left

    def one_sided_planes(self, rows1: Sequence[list[fmpq]]) -> list[tuple[list[fmpq], fmpq, list[fmpq]]]:
        """(normal, bias, x) of the planes no known first-layer neuron has that TestHyperplane saw "on" far away
        but never on both sides of a direction, in at least ONE_SIDED_TESTS tests and ONE_SIDED_ON probes: in
        a narrow network each side of a first-layer plane may show its kink only in some far directions.  A
        deeper boundary's flat piece can look the same (though less often), so they are tried only once the
        rounds are stuck, and kept only if the rounds then find more deeper neurons and a layer-2 walk bends on it."""
        evidence: dict[tuple, list] = {}           # plane (sign fixed) -> [tests, "on" probes, (normal, bias, x)]
        for bp, ons in self.search.one_sided:
            normal, bias = _q(bp.normal), to_fmpq(bp.bias)
            if _has_normal(rows1, normal):
                continue
            key = tuple(normal) + (bias,)
            key = max(key, tuple(-v for v in key))
            entry = evidence.setdefault(key, [0, 0, (normal, bias, _q(bp.x))])
            entry[0] += 1
            entry[1] += ons
        return [plane for tests, ons, plane in evidence.values() if tests >= ONE_SIDED_TESTS and ons >= ONE_SIDED_ON]

    def numeric_layers(self, layer1: NumLayer, anchors1: list) -> None:
        """Layers 2.. and the output with a rounding oracle (exactrev.extract_numeric): estimates, each layer with
        its measured relative residual as max_rel_error."""
        self.stats = [LayerStats(len(layer1.rows), self.first.queries, None)]
        found = NumericLayers(self.search, layer1, anchors1).run(self.first.deeper_points)
        self.layers = [KnownLayer(layer.rows, layer.bias, fixed=False) for layer in found.layers]
        self.stats += [LayerStats(n, q, err) for n, q, err in found.stats]
        self.unidentified += found.unidentified
        self.output = found.output

    def missed_hyperplanes(self, points: Sequence[BoundaryPoint], rows1: Sequence[list[fmpq]]) -> list:
        """(normal, bias, x) of the verification points whose local plane TestHyperplane accepts and no known
        first-layer neuron has: in narrow deep networks Algorithm 1's lines can miss first-layer neurons whose
        kinks show only where the layers above them are active."""
        return self.hyperplanes_among([(_q(bp.x), _q(bp.normal), to_fmpq(bp.bias)) for bp in points], rows1)

    def verification_points(self, search: FirstLayerSearch, stuck: bool = False) -> list[BoundaryPoint]:
        """Scan fresh random lines (VERIFY_LINES in the first round, half as many later, stopping once ENOUGH_LINES
        of them have kinks the network does not explain: the round after scans more, and only a round that finds
        nothing ends the run) and check again, at no cost in queries, the lines of earlier rounds; the recovered
        network must agree with every affine piece the oracle shows and have a boundary at every kink.  The
        recovered network's kinks on a fresh line are predicted to the scan (fewer queries; kinks nobody
        predicted are still found).  Returns boundary points
        of kinks it cannot explain (to extract them in another round).  Outputs that differ where every kink is
        explained mean an effect the output's fit did not see at its points (3-6-6-6-2 seed 11: a layer-3 neuron
        active only in a small bubble inside one layer-2 pattern, recovered as a layer-2 neuron whose effect
        reaches no layer-3 neuron): a point where they differ is kept in `disagreements` and `refit` asks for
        another round, whose output fit includes it; after MAX_DISAGREEMENTS such points the difference is
        recorded as unidentified.  If the lines find nothing, the point check follows; a round whose output
        layer is not solved cannot have one (it compares outputs), and its failed fit often means a neuron is
        missing below: it scans UNSOLVED_LINES more fresh lines instead, through points up to 128 units out
        (3-6-6-6-2 seed 7 found a layer-2 neuron active only beyond about 8 units this way); once per run also
        when the usual lines did find points but this round and the one before are `stuck` (no more hidden
        neurons than an earlier round; 4-6-6-6-1 seed 2 then completes).  Walking what far lines find is
        costly, hence once, and not after a single stuck round (5-8-8-8-1 seed 4: 60% more queries, same
        result)."""
        net = self.network()
        half = self.ar.num(LINE_HALF_LENGTH)
        new: list[BoundaryPoint] = []
        wrong: list[list[fmpq]] = []            # points where the network's output differs from the oracle's
        known = PartialNetwork(self.oracle.input_dim, self.layers)      # predicts the kinks of every line scanned
        busy = 0                                # fresh lines with kinks the network does not explain
        for _, scan in self.fresh_lines(search, known, VERIFY_LINES // 2 if self.verify_scans else VERIFY_LINES, 4):
            busy += bool(_unexplained_kinks(net, scan))
            if busy == ENOUGH_LINES:
                break
        self.aimed_lines(search, net, known)
        for line, scan in self.verify_scans:
            found = self.unexplained(net, scan, search)
            if found is not None:
                new += found
                continue
            ts = [region_point(lo, hi, self.ar) for lo, hi, _ in scan.regions]
            xs = [line.at(t) for t in ts]
            wrong += [_q(x) for x, t, mine, (_, _, p) in zip(xs, ts, net.evaluate_batch(xs), scan.regions)
                      if mine != p.at(t)]
        if self.output is None and (not new or (stuck and not self.far_lines)):
            self.far_lines = True
            for _, scan in list(self.fresh_lines(search, known, UNSOLVED_LINES, 8)):    # all scanned first
                new += self.unexplained(net, scan, search) or []
        if not new and self.output is not None:
            line = self.point_check(net, search)
            if line is not None:                    # a random point disagrees: scan a line through it
                scan = points_on_line(self.ev, line, -half, half, grid=geometric_grid(half, self.ar), rng=self.rng)
                new += self.unexplained(net, scan, search) or []
                wrong.append(_q(line.p))
        if wrong and not new and self.output is not None:
            if len(self.disagreements) < MAX_DISAGREEMENTS and self.rounds < MAX_ROUNDS:
                self.disagreements.append(wrong[0])
                self.refit = True
            else:
                self.unidentified.append({"layer": None, "neuron": None, "reason": "a verification line shows the "
                                          "recovered network differs from the target"})
        return new

    def fresh_lines(self, search: FirstLayerSearch, known: PartialNetwork, count: int,
                    reach: int) -> Iterator[tuple[Line, LineScan]]:
        """Up to `count` random lines through points up to 2^(reach-1) units out (line i at 2^(i % reach) times a
        random point), each scanned when the caller asks for the next (it may stop early)."""
        for i in range(count):
            base = search.random_line()
            yield self.verification_line(known, Line(tuple(2 ** (i % reach) * v for v in base.p), base.d))

    def aimed_lines(self, search: FirstLayerSearch, net: Network, known: PartialNetwork) -> None:
        """Scan, for each neuron likely missing (`suspects`: see _unseen_rows and fold_output), two lines through
        random points along the directions in which its row's value on the layer before falls and grows fastest
        (probe_points.aimed_directions): a nearly always active neuron's boundary, far out in a narrow cone
        that random lines miss (4-6-6-6-1 seed 8), is where its value meets minus its bias.  A suspect aimed at
        in an earlier round is not aimed at again (its lines are checked again with the others, no queries):
        a neuron that is truly always on (folded every round) has no boundary to find.  `net` and `known`: the
        network recovered so far, whole and as known layers."""
        for depth, row in self.suspects:
            if any(d == depth and len(r) == len(row) and parallel(r, row) for d, r in self.aimed):
                continue
            self.aimed.append((depth, row))
            for d in aimed_directions(net, depth, row, float(LINE_HALF_LENGTH), AIMED_CANDIDATES, self.rng):
                self.verification_line(known, Line(search.random_line().p, tuple(self.ar.num(v) for v in d)))

    def verification_line(self, known: PartialNetwork, line: Line) -> tuple[Line, LineScan]:
        """`line` scanned with the recovered network's kinks predicted, and kept in `verify_scans` (later rounds
        check it again for free)."""
        half = self.ar.num(LINE_HALF_LENGTH)
        span = to_fmpq(half)
        knots = [self.ar.num(t) for t in known.knots_on_line(_q(line.p), _q(line.d), -span, span)[1:-1]]
        if self.ar.exact:
            scan = points_on_line_predicted(self.ev, line, -half, half, knots, self.rng)
        else:
            scan = points_on_line(self.ev, line, -half, half, grid=geometric_grid(half, self.ar), rng=self.rng,
                                  expected=knots)
        self.verify_scans.append((line, scan))
        return line, scan

    def unexplained(self, net: Network, scan: LineScan, search: FirstLayerSearch) -> list[BoundaryPoint] | None:
        """Boundary points (local planes measured) of the scan's kinks that lie on no hidden boundary of `net`;
        None if every kink lies on one."""
        todo = _unexplained_kinks(net, scan)
        return search.boundary_points(scan, todo, _first_normals_on(net) if self.ar.exact else None) if todo else None

    def point_check(self, net: Network, search: FirstLayerSearch) -> Line | None:
        """Compare with the oracle at one random point in each of up to VERIFY_REGIONS linear regions of the
        recovered network (near and far: a neuron it lacks may be active only on whole small regions) and at
        the vertices of its first-layer arrangement (where a neuron active only on a small set peaks); a line
        through the first point that disagrees (None if all agree).  The points are asked in batches of
        POINT_CHECK_BATCH, then twice as many each time: a round that disagrees mostly does so early (5-8-8-8-1
        seed 0: three rounds disagreed at their 13th, 18th and 370th of 880 points, and each asked all 880)."""
        pts = [_q(x) for x in region_representatives(net, VERIFY_REGIONS, self.rng)
               + first_layer_vertices([net], VERIFY_VERTICES, self.rng)]
        self.checked_points, size = 0, POINT_CHECK_BATCH
        while self.checked_points < len(pts):
            batch = pts[self.checked_points:self.checked_points + size]
            for x, y, mine in zip(batch, self.dev.points(batch), net.evaluate_batch(batch)):
                self.checked_points += 1
                if [to_fmpq(v) for v in mine] != y:
                    return Line(tuple(self.ar.num(v) for v in self.closer_disagreement(net, x)),
                                search.random_line().d)
            size *= 2
        return None

    def closer_disagreement(self, net: Network, x: list[fmpq]) -> list[fmpq]:
        """x halved while the oracle still disagrees with `net` there: a point found as far out as 2^40 lies in a
        cone where a line of the usual length meets no boundary at all, while nearer in it crosses some."""
        while max_abs(x) > 1:
            half = [v / 2 for v in x]
            if [to_fmpq(v) for v in net.evaluate_batch([half])[0]] == self.dev.points([half])[0]:
                break
            x = half
        return x

    def network(self) -> Network:
        """The network as recovered so far (output weights 0 if the output layer is not solved)."""
        hidden = [(layer.rows, layer.bias) for layer in self.layers]
        n_out = self.oracle.output_dim
        if self.output is not None:
            out_w, out_b = self.output
        else:
            width = len(self.layers[-1].rows) if self.layers else 1
            out_w, out_b = [[fmpq(0)] * width for _ in range(n_out)], [fmpq(0)] * n_out
        if not hidden:
            hidden = [([[fmpq(0)] * self.oracle.input_dim], [fmpq(0)])]
        return Network([h[0] for h in hidden] + [out_w], [h[1] for h in hidden] + [out_b],
                       {"extracted_by": "exactrev", "seed": self.seed, "oracle": self.oracle.arithmetic})

    def report(self, stage: str) -> None:
        """Tell the progress callback (if any) which layer is being worked on and what is known so far."""
        if self.progress is not None:
            self.progress(stage=stage, layer=len(self.layers) + 1, neurons="-".join(str(len(l.rows)) for l in self.layers),
                          queries=self.oracle.queries)

    def hidden_layers(self, points: Sequence[BoundaryPoint]) -> list | None:
        """Layers 2.. and the output; returns new first-layer hyperplanes if some walk proved one (restart).
        If a layer k >= 3 cannot be built from the points left, the output is solved on the layers known and
        `stray` keeps those points and where that layer's notes start (see settle_stray)."""
        pending = [bp for bp in points if not any(v == 0 for v in
                   PartialNetwork(self.oracle.input_dim, self.layers).local(_q(bp.x))[0][0])]
        for _ in range(MAX_HIDDEN_LAYERS):
            if not pending:
                break
            before = self.ev.queries
            stray, noted = pending, len(self.unidentified)
            pending = self.next_layer(pending)
            if isinstance(pending, Restart):
                return pending.hyperplanes
            if pending is None and len(self.layers) < 2:
                return None
            if pending is None:         # solve the output anyway: the points left must then prove unnecessary
                self.stray = (stray, noted, len(self.unidentified))
                break
            self.stats.append(LayerStats(len(self.layers[-1].rows), self.ev.queries - before))
        before = self.ev.queries
        self.solve_output()
        self.stats.append(LayerStats(self.oracle.output_dim, self.ev.queries - before))
        return None

    # ----------------------------------------------------- deeper layers
    def next_layer(self, pending: Sequence[BoundaryPoint]) -> list[BoundaryPoint] | Restart | None:
        """Layer k from the pending points; returns the points left for layer k+1 (None: cannot go on)."""
        self.report("walking boundaries")
        k = len(self.layers) + 1
        known = PartialNetwork(self.oracle.input_dim, self.layers)
        walker = BoundaryWalker(self.dev, known, self.rng)
        signature = tuple((tuple(map(tuple, layer.rows)), tuple(layer.bias)) for layer in self.layers)
        walks: list[Walk] = []
        origin: dict[int, list[BoundaryPoint]] = {}     # per walk: its first point, then the points it explained
        formulas: dict[int, WalkNeuron] = {}            # per walk: its neuron before the signs (see on_walk)
        leftover: list[BoundaryPoint] = []
        provisional: ProvisionalLayer | None = None     # the walks' neurons with signs solved so far ...
        solve_at = FIRST_PROVISIONAL                     # ... again once there are this many walks
        points = [(_q(bp.x), _q(bp.normal)) for bp in pending]
        unwalked = 0                                     # points left when walking stopped (CONTRADICTED_WALKS)
        for i, bp in enumerate(pending):
            by = next((w for w in walks if self.on_walk(walker, w, formulas[id(w)], bp)), None)
            by = by or (provisional and provisional.explains(*points[i]))
            if by is not None:              # passed on with the walk's point if the walk is not layer k's
                origin[id(by)].append(bp)
                continue
            key = (signature, tuple(points[i][0]))
            if key not in self.walk_cache:          # later rounds re-use the walks of earlier ones
                self.walk_cache[key] = walker.walk(*points[i], signs=provisional.signs if provisional else None,
                                                   others=points[i + 1:])
            w = self.walk_cache[key]
            if w.status == "layer":
                walks.append(w)
                origin[id(w)] = [bp]
                formulas[id(w)] = WalkNeuron(known, w)
                if len(walks) >= solve_at:
                    provisional = self.provisional_layer(known, walks, k) or provisional
                    if provisional is None and self.contradicted and k >= 3 and len(walks) >= CONTRADICTED_WALKS \
                            and signature not in self.stopped:
                        unwalked = len(pending) - i - 1     # the final solve fails as this one did
                        self.stopped.add(signature)
                        break
                    signed = provisional is not None and None not in provisional.signs
                    later = max(len(walks) + PROVISIONAL_EVERY, len(walks) * 5 // 4)
                    solve_at = len(walks) + 1 if not signed and len(walks) < PROVISIONAL_EVERY else later
            else:
                leftover.append(bp)
        found = self.flat_hyperplanes([w for w in walks if w.crossings and
                                       all(a.grad == w.anchors[0].grad for a in w.anchors)])
        if found:
            return Restart(found)
        walks.sort(key=lambda w: sum(v is None for v in w.weights))     # the most complete first (see signs)
        if not walks:
            self.unidentified.append({"layer": k, "neuron": None,
                                      "reason": f"{len(pending)} boundary points could not be explained by a "
                                                f"layer-{k} neuron (walks failed or bent everywhere)"})
            return None
        solution = self.solve_layer_signs(known, walks, k)
        if solution is None:
            if unwalked:
                self.unidentified.append({"layer": k, "neuron": None, "reason": f"walking stopped after {len(walks)} "
                                          f"walks that contradict every sign vector, {unwalked} boundary points not "
                                          f"walked (layer {k - 1} is likely incomplete)"})
            return None
        leftover += pending[len(pending) - unwalked:]   # points not walked, should the solve fit after a stop
        used, signs, biases, inferred, sides, earlier = solution
        leftover += [bp for w in walks if not any(w is u for u in used) for bp in origin[id(w)]]
        walks = used
        for (z, j), p in earlier.items():       # layer k-1's weights its walks missed, from layer k's equations
            self.measured(z, j, p)
        if earlier:
            known = PartialNetwork(self.oracle.input_dim, self.layers)
            walker = BoundaryWalker(self.dev, known, self.rng)
        prev = self.layers[-1]
        for j, t in enumerate(signs):
            if t is None:
                t = -1 if self.mostly_on(known, j) else 1
                self.unoriented.add((k - 1, j))
                self.unidentified.append({"layer": k - 1, "neuron": j, "reason": "sign not determined by layer "
                                          f"{k} (no layer-{k} walk crosses its boundary); oriented to be off at "
                                          "most random points"})
            if t == -1:
                prev.rows[j] = [-v for v in prev.rows[j]]
                prev.bias[j] = -prev.bias[j]
        prev.fixed = True
        rows, unknown, bias = self.layer_rows(known, walks, signs, biases, inferred, sides)
        notes = [{j: unmet_weight_note(k, j, w.reason or "section 5.2") for j in missing}
                 for w, missing in zip(walks, unknown)]                    # per walk: why W_zj is 0
        # a deeper neuron's walk can look like a layer-k one: its boundary must be where its formula predicts
        confirmed, shown = self.settle_distinct(walker, walks, rows, bias, notes)
        self.rejected = [(r, b) for r, b, n, ok in zip(rows, bias, notes, confirmed) if ok is False and not n]
        leftover += [bp for w, ok in zip(walks, confirmed) if ok is False for bp in origin[id(w)]]
        rows, bias, walks, notes, shown = ([x for x, ok in zip(xs, confirmed) if ok]
                                           for xs in (rows, bias, walks, notes, shown))
        if not rows:
            self.unidentified.append({"layer": k, "neuron": None, "reason": "no walk's neuron predicted its "
                                      "boundary far from the walk (deeper neurons or invisible boundaries)"})
            return None
        distinct = _distinct_neurons(rows, bias)
        keep = self.not_refuted(walker, walks, rows, bias, distinct, shown)
        if not keep:
            self.unidentified.append({"layer": k, "neuron": None, "reason": "every walk's neuron was refuted where "
                                      "the layer's other neurons switch otherwise than along its walk (deeper "
                                      "neurons)"})
            return None
        leftover += [bp for i in distinct if i not in keep for bp in origin[id(walks[i])]]
        self.rejected += [(rows[i], bias[i]) for i in distinct if i not in keep and not notes[i]]
        self.layers.append(KnownLayer([rows[i] for i in keep], [bias[i] for i in keep], fixed=False))
        self.anchors.append([(walks[i].anchors[0].x, walks[i].anchors[0].grad) for i in keep])
        self.unmeasured = {(z, j): {"layer": k, "neuron": z, "reason": notes[i][j]}
                           for z, i in enumerate(keep) for j in sorted(notes[i])}
        self.unidentified += self.unmeasured.values()
        after = PartialNetwork(self.oracle.input_dim, self.layers)
        return [bp for bp in leftover if not any(v == 0 for v in after.local(_q(bp.x))[-1][0])]

    def not_refuted(self, walker: BoundaryWalker, walks: Sequence[Walk], rows: list, bias: list,
                    keep: list[int], shown: Sequence[list]) -> list[int]:
        """`keep` without the neurons whose boundary is not where their formula predicts it, at points where the
        other new neurons are on and off otherwise than along the walk (BoundaryWalker.refuted_elsewhere, which
        counts the points settle's probes showed on B_z, `shown`, first): deeper neurons that the checks of
        settle could not tell from a layer-k one."""
        fixed = PartialNetwork(self.oracle.input_dim, self.layers)
        layer = PartialNetwork(self.oracle.input_dim, self.layers + [
            KnownLayer([rows[i] for i in keep], [bias[i] for i in keep], fixed=False)])
        return [i for pos, i in enumerate(keep) if not walker.refuted_elsewhere(
            LayerNeuron(fixed, rows[i], bias[i]), layer, pos, walks[i], shown=shown[i])]

    def mostly_on(self, known: PartialNetwork, j: int) -> bool:
        """Neuron j of the last known layer is on at more than half of ORIENT_POINTS random points (boxes of
        half-width 1..32; no queries)."""
        pts = _points_in_boxes(self.oracle.input_dim, ORIENT_POINTS, self.rng)
        return 2 * sum(known.values(x)[-1][j] > 0 for x in pts) > len(pts)

    def settle_distinct(self, walker: BoundaryWalker, walks: Sequence[Walk], rows: list, bias: list,
                        notes: list) -> tuple[list[bool | None], list[list]]:
        """Settle each walk's neuron (rows and notes updated in place), the most complete walks first: True if
        confirmed, False if not, None for a walk whose neuron is one already confirmed (equal up to a factor on
        the bias and the weights both measured: not settled again); and per walk the points its probes showed on
        B_z.  Walks are told apart only now, with the biases known: a deeper neuron's walk where one neuron of
        layer k is active has that neuron's weights times a factor, and only its bias shows it is another
        neuron.  Weights a walk missed that another walk of the same neuron measured are taken from that walk
        first (_fill_from_twins)."""
        fixed = PartialNetwork(self.oracle.input_dim, self.layers)
        confirmed: list[bool | None] = [None] * len(rows)
        shown: list[list] = [[] for _ in rows]
        for i in sorted(range(len(rows)), key=lambda i: len(notes[i])):
            if any(confirmed[j] and _same_neuron((rows[i], bias[i], notes[i]), (rows[j], bias[j], notes[j]))
                   for j in range(len(rows))):
                continue
            _fill_from_twins(rows, bias, notes, i)
            rows[i], notes[i], confirmed[i], shown[i] = self.settle(walker, LayerNeuron(fixed, rows[i], bias[i]),
                                                                    notes[i], walks[i])
        return confirmed, shown

    def settle(self, walker: BoundaryWalker, neuron: LayerNeuron, notes: dict[int, str], walk: Walk) -> tuple:
        """(row, notes, confirmed, points its probes showed on B_z) of a walk's neuron after measure_unmet and
        BoundaryWalker.confirms (some of whose lines pass near the walk, see there), remembered for the rounds
        after (same known layers, same neuron: same answer, no queries) -- unless it was rejected with weights
        still unmeasured: a weight from a neuron active on a small part of B_z is easily missed, so later rounds
        try again, each with twice the random starts of the one before, farther out, up to SETTLE_ATTEMPTS
        times."""
        known = tuple((tuple(layer.rows[i]), layer.bias[i]) for layer in neuron.known.layers
                      for i in range(len(layer.rows)))
        key = (known, tuple(neuron.row), neuron.bias, tuple(sorted(notes)))
        attempts, verdict = self.settled.get(key, (0, None))
        if verdict is None or (verdict[2] is False and verdict[1] and attempts < SETTLE_ATTEMPTS):
            self.measure_unmet(walker, neuron, notes, attempts)
            visited = frozenset(neuron.known.region_key(a.x) for a in walk.anchors)
            shown: list[list[fmpq]] = []
            verdict = (neuron.row, notes, walker.confirms(neuron, sorted(notes), near=walk.anchors[0].x,
                                                          visited=visited, record=shown), shown)
            self.settled[key] = (attempts + 1, verdict)
        row, notes, ok, shown = verdict
        return list(row), dict(notes), ok, shown     # copies: the output's fit sets weights in the layer's rows

    def measure_unmet(self, walker: BoundaryWalker, neuron: LayerNeuron, notes: dict[int, str], attempt: int) -> None:
        """Weights set to 0 because the walk never met B_j (the keys of `notes`), measured where the neuron's
        formula predicts B_z to meet B_j (BoundaryWalker.weight_at_meeting; each attempt after the first starts
        from twice as many random points, in boxes four times as large), until no more can be: the neuron's row
        and `notes` are updated in place."""
        progress = True
        while notes and progress:
            progress = False
            for j in sorted(notes):
                w = walker.weight_at_meeting(neuron, j, sorted(notes), MEETING_LINES << attempt,
                                             near=self.anchors[-1][j][0], reach=MEETING_REACH + 2 * attempt)
                if w is not None:
                    neuron.row[j] = w
                    del notes[j]
                    progress = True

    def flat_hyperplanes(self, flat: Sequence[Walk]) -> list[tuple[list[fmpq], fmpq, list[fmpq]]]:
        """(normal, bias, x) of the walks that crossed known boundaries without bending, each kept only if
        TestHyperplane accepts it far away: a deeper boundary also crosses, unbent, the boundaries its
        neuron ignores (2-5-5-1 seed 1 took one for a first-layer neuron).  Rejected planes are remembered,
        and their walks are then treated as any other."""
        candidates = []
        for w in flat:
            x, g = w.anchors[0].x, w.anchors[0].grad
            candidates.append((x, *normalise(g, -dot(g, x))))
        return self.hyperplanes_among(candidates)

    def hyperplanes_among(self, candidates: Sequence[tuple[list[fmpq], list[fmpq], fmpq]],
                          known: Sequence[list[fmpq]] = ()) -> list[tuple[list[fmpq], fmpq, list[fmpq]]]:
        """(normal, bias, x) of the candidate planes (x, normal, bias) that TestHyperplane accepts, one per
        plane and none with a normal in `known`; rejected planes are remembered and not tested again."""
        found: list[tuple[list[fmpq], fmpq, list[fmpq]]] = []
        for x, normal, bias in candidates:
            key = tuple(normal) + (bias,)
            rows = list(known) + [f[0] for f in found]
            if key in self.not_hyperplanes or _has_normal(rows, normal):
                continue
            if self.search.is_hyperplane(x, normal, bias):
                found.append((normal, bias, x))
            else:
                self.not_hyperplanes.add(key)
        return found

    def on_walk(self, walker: BoundaryWalker, walk: Walk, neuron: WalkNeuron, bp: BoundaryPoint) -> bool:
        """bp lies on one of the walk's local planes in the same region of the known layers, or on B_z where the
        walk's formula reaches (WalkNeuron; for layer 2 only from a walk that measured every weight: a second walk
        of a layer-2 neuron is cheap and may measure what the first missed, and skipping it was not better)."""
        x = _q(bp.x)
        key = walker.known.region_key(x)
        for anchor, region in zip(walk.anchors, walk.regions):
            if region == key and dot(anchor.grad, [a - b for a, b in zip(x, anchor.x)]) == 0:
                return True
        deeper = len(walker.known.layers) > 1
        return (deeper or all(w is not None for w in walk.weights)) and neuron.on_boundary(x, _q(bp.normal))

    def provisional_layer(self, known: PartialNetwork, walks: Sequence[Walk], k: int) -> ProvisionalLayer | None:
        """The walks so far as formulas valid everywhere: layer k-1's signs and layer k's biases solved from them
        as at the end of the layer (solve_layer_signs, no queries), None if that fails."""
        ordered = sorted(walks, key=lambda w: sum(v is None for v in w.weights))
        solution = self.solve_layer_signs(known, ordered, k, note=False)
        if solution is None:
            return None
        used, signs, biases, inferred, sides, _ = solution
        prev = self.layers[-1]
        oriented = KnownLayer([[t * v for v in row] if t else row for row, t in zip(prev.rows, signs)],
                              [t * b if t else b for b, t in zip(prev.bias, signs)], fixed=True)
        fixed = PartialNetwork(self.oracle.input_dim, self.layers[:-1] + [oriented])
        neurons = []
        for w, row, missing, b in zip(used, *self.layer_rows(known, used, signs, biases, inferred, sides)):
            unknown = set(missing) | {j for j, v in enumerate(row) if signs[j] is None and v != 0}
            if k > 2 or all(v is not None for v in w.weights):    # layer 2: as on_walk, complete walks only
                neurons.append((w, LayerNeuron(fixed, row, b), unknown))
        return ProvisionalLayer(fixed, neurons, signs)

    def layer_rows(self, known: PartialNetwork, walks: Sequence[Walk], signs: Sequence[int | None],
                   biases: Sequence[fmpq | None], inferred: dict, sides: dict) -> tuple[list, list, list]:
        """Per walk, from the sign solve (solve_layer_signs): its row of weights, the j whose weight is not
        determined (0 in the row), and its bias (from its first point where the solve left it free)."""
        rows, unknown = [], []
        for wi, w in enumerate(walks):
            row, missing = [], []
            for j, v in enumerate(w.weights):
                if v is None and signs[j] is not None and signs[j] == sides.get((wi, j)) \
                        and inferred[(wi, j)] is not None:
                    v = inferred[(wi, j)] * signs[j]   # B_j never met, but j is active all along B_z
                elif v is None:
                    missing.append(j)
                    v = fmpq(0)
                row.append(v)
            rows.append(row)
            unknown.append(missing)
        bias = [b if b is not None else self.bias_from_anchor(known, w, signs) for w, b in zip(walks, biases)]
        return rows, unknown, bias

    def solve_layer_signs(self, known: PartialNetwork, walks: Sequence[Walk], k: int, note: bool = True):
        """Signs t of layer k-1, biases of layer k and the weights the walks could not reach (exactrev.signs).

        A weight W_zj whose boundary B_j the walk never met enters as u_zj = W_zj t_j [t_j == s_j], with s_j
        the (constant) side of B_j along the walk: linear, so it is solved with the rest.  If the walks
        together admit no sign vector, the largest consistent subset grown greedily from one of the first
        walks is used instead (a walk of a deeper neuron that never met an unknown boundary looks like a
        layer-k walk until its equations contradict the others).  A sign no equation uses is t_j = s_j if some
        walk's u_zj is not 0 (SignSystem.signs_from_weights).  With the signs known, u_zj = 0 wherever j is
        off all along the walk (t_j != s_j); that may pin down the u's the signs' system left free.
        Layer k-1's weights that its own walks could not measure are unknowns too (see SignSystem).
        Gradient equations come from anchors in distinct regions (a walk may cross one boundary back and forth).
        Returns (walks used, signs, biases per walk, u per (walk, j), s per (walk, j), layer k-1's weights
        measured here per (z, j)) or None (noted in `unidentified` if `note`).
        """
        sol, system = self.sign_solution(known, walks)
        if sol is None:
            best: list[int] = []
            for first in range(min(3, len(walks))):
                chosen, basis = [first], system.grow([], first)
                for wi in range(len(walks)):
                    self.guard.in_time()        # many walks make many exact solves, and no queries
                    grown = None if wi == first or basis is None else system.grow(basis, wi)
                    if grown is not None:
                        chosen.append(wi)
                        basis = grown
                if len(chosen) > len(best):
                    best = chosen
            walks = [walks[wi] for wi in best]
            sol, system = self.sign_solution(known, walks)
        if sol is None:
            if note:
                unseen = _unseen_rows(self.rejected, self.layers[-1].rows)
                self.suspects = [(k - 2, g[0][:-1]) for g in unseen]
                self.unidentified.append({"layer": k - 1, "neuron": None, "reason": "signs: no sign vector fits the "
                                          "layer's walks" + _unseen_neuron_note(unseen)})
            return None
        width = len(self.layers[-1].rows)
        sol = replace(sol, signs=system.signs_from_weights(sol.signs, sol.others, sol.loose))
        off = [c for (wi, j), c in system.col.items()
               if sol.signs[j] is not None and sol.signs[j] != system.sides[(wi, j)]]
        if sol.loose and off:       # u_zj = 0 where j is off all along the walk: may pin down the other u's
            t = [1 if v is None else v for v in sol.signs]
            sharper = others_given_signs(system.rows + [[fmpq(int(i == c)) for i in range(system.n)] for c in off],
                                         system.rhs + [fmpq(0)] * len(off), t, width, system.n - width)
            if sharper is not None:
                sol = replace(sol, others=sharper[0], loose=frozenset(sharper[1]))
        others = [None if i in sol.loose else v for i, v in enumerate(sol.others)]
        return (list(walks), sol.signs, others[:len(walks)], {key: others[c - width] for key, c in system.col.items()},
                system.sides, system.earlier_weights(sol.signs, others))

    def sign_solution(self, known: PartialNetwork, walks: Sequence[Walk]):
        """(solve_signs's solution, or None if it fixes no sign; the system).  `contradicted` then says whether no
        sign vector fits the equations at all, rather than none being fixed by them."""
        system = self.sign_system(known, walks)
        width = len(self.layers[-1].rows)
        sol = solve_signs(system.rows, system.rhs, width, system.n - width)
        failed = all(t is None for t in sol.signs) and bool(sol.reason)
        self.contradicted = failed and sol.reason != UNDETERMINED
        return (None if failed else sol), system

    def sign_system(self, known: PartialNetwork, walks: Sequence[Walk]) -> SignSystem:
        """layer_signs.sign_system, with layer k-1's weights its walks left unmeasured as unknowns."""
        return sign_system(known, walks, sorted(self.unmeasured))

    def bias_from_anchor(self, known: PartialNetwork, walk: Walk, signs: Sequence[int | None]) -> fmpq:
        """z(x) = 0 at the walk's first point, with the signs found (undetermined signs taken as found)."""
        vals, _ = known.local(walk.anchors[0].x)[-1]
        total = fmpq(0)
        for j, w in enumerate(walk.weights):
            t = signs[j] if signs[j] is not None else 1
            if w is not None and t * vals[j] > 0:
                total += w * t * vals[j]
        return -total

    # ------------------------------------------------------- output layer
    def solve_output(self) -> None:
        """The output layer exactly.  With h the last hidden layer (up to signs tau) and relu(tau h) =
        (tau h + |h|)/2:  y_o = sum_z b_oz |h_z| + sum_z b_oz tau_z h_z + c_o.  First the free fit
        y_o = sum a_oz h_z + sum b_oz |h_z| + c_o gives b exactly (the |h| columns are independent even
        when the h columns are not); then tau and c solve the linear remainder (exactrev.signs).  If the points
        where no unmeasured weight matters do not determine b, more such points are drawn farther out (boxes up
        to 2^7: more activation patterns), then the cases of those weights are tried on points where they
        matter (exactrev.output_cases); if none fits, whatever the reason, the fold (fold_output).  The points
        where an earlier round's network disagreed with the oracle (see verification_points) are fitted too."""
        known = PartialNetwork(self.oracle.input_dim, self.layers)
        width = len(self.layers[-1].rows)
        k = len(self.layers) + 1
        pts = self.output_points(known, width) + [list(x) for x in self.disagreements]
        ys = self.dev.points(pts)
        local = _last_two(known, pts)

        def more_points(keep: Callable[[list[fmpq]], bool], count: int) -> None:
            """`count` more points of the fit where `keep` holds (see _points_where), with their outputs."""
            extra = _points_where(self.oracle.input_dim, self.rng, keep, count)
            pts.extend(extra)
            ys.extend(self.dev.points(extra))
            local.extend(_last_two(known, extra))

        plain = OutputCases(width, sorted(self.unmeasured))
        fit = self.output_fit(local, ys, plain)
        if isinstance(fit, str) and fit.startswith("the sampled points") and self.unmeasured:
            more_points(lambda p: self.unmeasured_off(known, p), 2 * width + 1 + EXTRA_CHECK_POINTS)
            fit = self.output_fit(local, ys, plain)
        if isinstance(fit, str) and 0 < len(self.unmeasured) <= MAX_CASE_PAIRS:
            more_points(lambda p: not self.unmeasured_off(known, p),
                        2 * width + 1 + EXTRA_CHECK_POINTS + FOLD_ON_POINTS * len(self.unmeasured))
            fit = next((f for cases in case_assignments(width, self.unmeasured)
                        if not isinstance(f := self.output_fit(local, ys, cases), str)), fit)
        if isinstance(fit, str):
            if len(self.layers) >= 2 and self.fold_output(known, pts, ys):
                return
            self.unidentified.append({"layer": k - 1 if fit.startswith("signs") else k, "neuron": None,
                                      "reason": fit})
            self.output = None
            return
        cases, beta, vs, sol, loose = fit
        last = self.layers[-1]
        for (z, j), w in weights_from_cases(cases, beta, vs, sol.signs, loose).items():
            self.measured(z, j, w)
        for z, j in [p for p in cases.pairs if cases.on is not None and not cases.on[p]]:
            self.off_pair(known, local, z, j, sol.signs[z])
        for z, t in enumerate(sol.signs):
            if all(b[z] == 0 for b in beta):
                self.unidentified.append({"layer": k - 1, "neuron": z,
                                          "reason": "no effect on the output (dead or unseen downstream)"})
            elif t is None:
                self.unidentified.append({"layer": k - 1, "neuron": z, "reason": "sign not determined"})
            elif t == -1:
                last.rows[z] = [-v for v in last.rows[z]]
                last.bias[z] = -last.bias[z]
        last.fixed = True
        self.output = ([[2 * b[z] for z in range(width)] for b in beta], list(sol.others))
        if self.unmeasured:
            self.measure_by_output()

    def output_fit(self, local: Sequence[tuple[list[fmpq], list[fmpq]]], ys: list[list[fmpq]], cases: OutputCases):
        """(cases, b per output, V per output, sign solution, undetermined columns) of the output's fit under
        `cases` (exactrev.output_cases) at points where the last two hidden layers' values are `local` (see
        _last_two), or why it fails: a reason for `unidentified`, "signs: ..." if only the sign solve does."""
        width, n_out = len(self.layers[-1].rows), self.oracle.output_dim
        merged = cases.one_signed(local)
        feats = [[fmpq(0) if c in merged else v for c, v in enumerate(cases.features(h, prev))] for h, prev in local]
        loose = undetermined_columns(feats, cases.columns)
        if any(width <= j < 2 * width for j in loose):
            return "the sampled points do not determine the output weights"
        beta, vs, rows, rhs = [], [], [], []
        for o in range(n_out):
            x, _, _ = solve_linear_exact(feats, [y[o] for y in ys], cases.columns)
            if x is None:
                return ("output is not an affine function of relu of the last hidden layer (missing neurons or "
                        "layers)")
            beta.append([b / 2 if z in merged else b for z, b in enumerate(x[width:2 * width])])
            vs.append(x[2 * width + 1:])
            for (h, prev), y in zip(local, ys):
                coeffs, part = cases.sign_terms(h, prev, beta[-1], vs[-1])
                rows.append(coeffs + [fmpq(int(i == o)) for i in range(n_out)])
                rhs.append(y[o] - part)
        sol = solve_signs(rows, rhs, width, n_out)
        if all(t is None for t in sol.signs) and sol.reason:
            return f"signs: {sol.reason}"
        return cases, beta, vs, sol, loose

    def off_pair(self, known: PartialNetwork, local: Sequence[tuple[list[fmpq], list[fmpq]]], z: int, j: int,
                 sign: int | None) -> None:
        """W_zj of a pair the output's fit found "off" (z off at every point of the fit where j is on): set to a
        value that keeps z off where j is on (output_cases.off_weight; the target's function if that holds
        everywhere, when W_zj matters nowhere).  It stays unmeasured: the output's bends may still find that z
        is on somewhere where j is (near B_j, where no point of the fit was) and measure it."""
        if sign is None:
            return
        fit = [(h[z], prev[j]) for h, prev in local if prev[j] > 0]
        more = _last_two(known, _points_where(self.oracle.input_dim, self.rng, lambda p: True, OFF_POINTS))
        w = off_weight(fit + [(h[z], prev[j]) for h, prev in more if prev[j] > 0], sign, self.layers[-1].rows[z])
        self.layers[-1].rows[z][j] = w
        self.unmeasured[(z, j)]["reason"] = (
            f"weight from layer-{len(self.layers) - 1} neuron {j} not determined: neuron {z} is off at the "
            f"{len(fit)} points of the output's fit where neuron {j} is on, so it may matter nowhere (section "
            f"5.2 case 1); set to {format_rational(w)} to keep it off there (output_cases.off_weight)")

    def measure_by_output(self) -> None:
        """The last layer's weights that no walk measured, from the output's bends (exactrev.output_bends);
        each one found leaves `unidentified`.  Those the bends fix only in combination with others are then set
        to one exact solution and stay in `unidentified`, their reason saying so."""
        near = {j: x for j, (x, _) in enumerate(self.anchors[-2])}      # known points of the B_j
        for method, ev in ((weights_from_output_bends, self.dev), (weights_from_line_kinks, self.ev)):
            if not self.unmeasured:
                break
            known = PartialNetwork(self.oracle.input_dim, self.layers)     # with the weights measured so far
            for (z, j), w in method(ev, known, self.output[0], sorted(self.unmeasured), self.rng, near).items():
                self.measured(z, j, w)
        if self.unmeasured:
            known = PartialNetwork(self.oracle.input_dim, self.layers)
            found = weights_up_to_combination(self.dev, known, self.output[0], sorted(self.unmeasured), self.rng, near)
            for (z, j), (w, fixed) in found.items():
                if fixed:
                    self.measured(z, j, w)
                    continue
                self.layers[-1].rows[z][j] = w
                zs = sorted(z2 for (z2, j2) in found if j2 == j)
                self.unmeasured.pop((z, j))["reason"] = (
                    f"weight from layer-{len(self.layers) - 1} neuron {j} not determined alone: at every point of "
                    f"B_{j} seen, neurons {zs} of this layer are active together, so only sum_z U_oz W_zj over them "
                    "shows in the output; set to one exact solution (the same function if they are active "
                    f"together wherever neuron {j} is on)")

    def measured(self, z: int, j: int, w: fmpq) -> None:
        """Weight W_zj of the last layer is measured: set it, and its note leaves `unidentified`."""
        self.layers[-1].rows[z][j] = w
        note = self.unmeasured.pop((z, j))
        self.unidentified = [u for u in self.unidentified if u is not note]

    def fold_output(self, known: PartialNetwork, pts: list[list[fmpq]], ys: list[list[fmpq]]) -> bool:
        """Last resort when no fit of the output works (not a function of relu of the last hidden layer, or the
        points do not determine one, as when a neuron of that layer missing is on at all of them: 5-8-8-8-1
        seed 9): neurons of that layer that never change sign where we looked (no boundary to find) act
        linearly on layer L-1.
        Fit y = sum_z A_z relu(h_z) + sum_j g_j a_j + c with a = layer L-1's activations (signs of layer L
        taken as found: relu(-h) = relu(h) - h is absorbed by g and c), verified on extra points, and
        realise sum_j g_j a_j exactly by two always-active neurons (positive and negative parts, bias 1,
        output weights +1 and -1).  The points include FOLD_ON_POINTS where each a_j is on, if a search finds
        them (no queries to find them), and the fit must be unique on every feature nonzero at some point: a
        neuron of layer L-1 rarely on would otherwise get g_j = 0 unseen.  The function is then exact where the
        points reach; the architecture is not the target's.  Each output's sum_j g_j a_j is, with one neuron
        folded, that neuron's row times its output weight: a suspect for aimed_lines (3-6-6-6-2 seed 10)."""
        width = len(self.layers[-1].rows)
        prev_width = len(self.layers[-2].rows)
        extra = [_grid_point(self.oracle.input_dim, self.rng)
                 for _ in range(width + prev_width + 1 + EXTRA_CHECK_POINTS - len(pts))]
        for j in range(prev_width):
            missing = FOLD_ON_POINTS - sum(known.values(x)[-2][j] > 0 for x in pts + extra)
            extra += _points_where(self.oracle.input_dim, self.rng, lambda p: known.values(p)[-2][j] > 0, missing)
        pts += extra
        ys += self.dev.points(extra)
        feats = []
        for x in pts:
            local = known.local(x)
            feats.append([v if v > 0 else fmpq(0) for v in local[-1][0]] +
                         [v if v > 0 else fmpq(0) for v in local[-2][0]] + [fmpq(1)])
        columns = width + prev_width + 1
        sols = [solve_linear_exact(feats, [y[o] for y in ys], columns)[0] for o in range(self.oracle.output_dim)]
        if any(x is None for x in sols) or any(any(f[c] for f in feats) for c in undetermined_columns(feats, columns)):
            return False
        last = self.layers[-1]
        self.suspects += [(len(self.layers) - 1, x[width:columns - 1]) for x in sols if any(x[width:columns - 1])]
        for x in sols:                       # one fold pair per output, from that output's own coefficients
            for sign in (1, -1):
                last.rows.append([max(sign * x[width + j], fmpq(0)) for j in range(prev_width)])
                last.bias.append(fmpq(1))
        out_w = []
        for o, x in enumerate(sols):
            row = list(x[:width])
            for o2 in range(len(sols)):
                row += [fmpq(1), fmpq(-1)] if o2 == o else [fmpq(0), fmpq(0)]
            out_w.append(row)
        last.fixed = True
        self.output = (out_w, [x[-1] for x in sols])
        self.unidentified.append({"layer": len(self.layers), "neuron": None, "reason":
                                  "some neurons of this layer never change sign where the search looked (no boundary "
                                  "to walk); their linear effect is folded exactly into always-active neurons "
                                  f"{width}..{len(last.rows) - 1} (the same function wherever they do not change "
                                  "sign, as at every point fitted; not the target's architecture)"})
        return True

    def output_points(self, known: PartialNetwork, width: int) -> list[list[fmpq]]:
        """Points on both sides of each last-layer neuron's boundary (next to its walk's point, or found by a
        search if that one is where an unmeasured weight matters), plus random points for the check; all
        where the last layer's unmeasured weights do not matter (their layer-(L-1) neurons off), if enough
        such random points are found."""
        pts = []
        for x, g in self.anchors[-1]:
            step = fmpq(1, 2 ** 8) / max_abs(g)
            for s in (1, -1):
                pts.append([xi + s * step * gi for xi, gi in zip(x, g)])
        pts = [x for x in pts if self.unmeasured_off(known, x)]
        for z in range(width):           # both signs of every h_z, or its |h_z| column is not determined
            for side in (1, -1):
                if not any(side * known.values(x)[-1][z] > 0 for x in pts):
                    pts += _points_where(self.oracle.input_dim, self.rng, lambda p: side * known.values(p)[-1][z] > 0
                                         and self.unmeasured_off(known, p), 1)
        for tries in range(OUTPUT_POINT_TRIES):
            if len(pts) >= 2 * width + 1 + EXTRA_CHECK_POINTS:
                break
            x = _grid_point(self.oracle.input_dim, self.rng)
            if self.unmeasured_off(known, x) or tries >= OUTPUT_POINT_TRIES // 2:
                pts.append(x)
        return pts

    def unmeasured_off(self, known: PartialNetwork, x: Sequence[fmpq]) -> bool:
        """Every layer-(L-1) neuron j of an unmeasured last-layer weight W_zj is off at x."""
        prev = known.values(x)[-2] if self.unmeasured else []
        return all(prev[j] <= 0 for _, j in self.unmeasured)

    # ------------------------------------------------------------- result
    def result(self) -> ExtractResult:
        if self.output is None and self.layers:
            self.unidentified.append({"layer": len(self.layers) + 1, "neuron": None,
                                      "reason": "output layer not solved; its weights are set to 0"})
        net, removed = self.network(), []
        if self.output is not None and not self.unidentified:
            net, idle = net.without_idle_neurons()
            removed = [{"layer": k, "neuron": i, "reason": "all outgoing weights 0 (no effect on the output): removed"}
                       for k, i in idle]
            for stats, width in zip(self.stats, net.widths[1:]):
                stats.neurons = width
        first = self.first
        return ExtractResult(
            network=net, queries=self.oracle.queries - self.start_queries, widths=net.widths,
            status="complete" if not self.unidentified else "partial", unidentified=list(self.unidentified),
            layers=self.stats, oracle=self.oracle.arithmetic, seed=self.seed,
            hyperplanes=list(first.hyperplanes) if first else [], boundary_points=self.boundary_points(),
            verification=self.verification(), removed=removed)

    def verification(self) -> dict:
        """What the recovered network was last compared with the oracle on: the verification lines (every kink
        on them explained, every piece equal), their kinks, and the points of the last point check (one per
        linear region, near and far, and first-layer vertices; 0 if no check got that far); the rounds run, the
        points where the output was fitted again (see verification_points), the neurons likely missing that
        lines were aimed at (see aimed_lines) and the queries all rounds' verifications took (counted, with
        earlier rounds' work, in the last layer's)."""
        return {"lines": len(self.verify_scans), "kinks": sum(len(scan.kinks) for _, scan in self.verify_scans),
                "points": self.checked_points, "rounds": self.rounds, "refitted_at": len(self.disagreements),
                "aimed_at": len(self.aimed), "queries": self.verify_queries}

    def boundary_points(self) -> list[list[fmpq]]:
        """Every boundary point located exactly: layer-1 kinks, points left for deeper layers and the anchors of
        the boundary walks (at most MAX_REPORTED_POINTS, in the order found)."""
        first = self.first
        points = [] if first is None else [_q(bp.x) for bp in first.hyperplane_points + first.deeper_points]
        points += [a.x for w in self.walk_cache.values() for a in w.anchors]
        return points[:MAX_REPORTED_POINTS]


def _q(values) -> list[fmpq]:
    return [to_fmpq(v) for v in values]


def _unseen_points(points: Sequence[BoundaryPoint], new: Sequence[BoundaryPoint]) -> list[BoundaryPoint]:
    """The points of `new` at no position of `points` or of an earlier one of `new`: a round's verification
    returns again the kinks of earlier rounds' lines and the points of a layer that failed (settle_stray), and
    without this the list of points doubled round after round (5-8-8-8-1 seed 4: 914 points, 288 distinct)."""
    seen = {tuple(_q(bp.x)) for bp in points}
    unseen = []
    for bp in new:
        key = tuple(_q(bp.x))
        if key not in seen:
            seen.add(key)
            unseen.append(bp)
    return unseen


def _distinct_neurons(rows: Sequence[Sequence[fmpq]], bias: Sequence[fmpq]) -> list[int]:
    """Indices of the first neuron of each class of neurons equal up to a nonzero factor (one boundary)."""
    seen: list[list[fmpq]] = []
    keep = []
    for i, (r, b) in enumerate(zip(rows, bias)):
        v = list(r) + [b]
        scale = max_abs(v)
        if scale == 0:
            continue
        v = [c / scale for c in v]
        if v in seen or [-c for c in v] in seen:
            continue
        seen.append(v)
        keep.append(i)
    return keep


def _unseen_rows(rejected: Sequence[tuple[list[fmpq], fmpq]],
                 kept: Sequence[Sequence[fmpq]]) -> list[list[list[fmpq]]]:
    """Why layer k's signs may have no solution, if layer k-1's rejected walks show it: two or more walks taken for
    layer-(k-1) neurons and rejected whose rows are proportional, with biases that are not, and proportional to
    no neuron found -- deeper neurons' walks where one layer-(k-1) neuron, active at all of them, is the only one
    on: a neuron whose boundary was never found (nearly always active), so layer k's normals have a term no known
    neuron gives.  Per such row, the distinct (row + [bias]) of its walks."""
    groups: list[list[list[fmpq]]] = []          # per row direction: the distinct (row, bias) of its walks
    for row, bias in rejected:
        if not any(row) or any(parallel(row, r) for r in kept if any(r)):
            continue
        group = next((g for g in groups if parallel(row, g[0][:-1])), None)
        if group is None:
            groups.append([list(row) + [bias]])
        elif not any(parallel(list(row) + [bias], v) for v in group):
            group.append(list(row) + [bias])
    return [g for g in groups if len(g) >= 2]


def _unseen_neuron_note(groups: Sequence[list[list[fmpq]]]) -> str:
    """The note on each row `_unseen_rows` found ('' if none)."""
    return "".join(f"; {len(g)} rejected walks of deeper neurons have weights proportional to "
                   f"[{', '.join(f'{float(v / max_abs(g[0][:-1])):.4g}' for v in g[0][:-1])}] (rounded) with different "
                   "biases, a row no neuron found has: a neuron of this layer active at all of them whose boundary "
                   "was not found (nearly always active) is likely missing" for g in groups)


def _last_two(known: PartialNetwork, pts: Sequence[list[fmpq]]) -> list[tuple[list[fmpq], list[fmpq]]]:
    """Per point: (the last hidden layer's preactivations, the layer before's; [] with one hidden layer)."""
    return [(v[-1], v[-2] if len(v) > 1 else []) for v in (known.values(x) for x in pts)]


def _first_normals_on(net: Network) -> Callable[[Sequence[Any]], list[Sequence[Fraction]]]:
    """x -> the normals of `net`'s first-layer neurons not off at x.  Every Jacobian of the target at x has its
    rows in their span unless `net` misses a first-layer neuron on at x, so an unexplained kink's regions are
    measured with steps along them (geometry.jacobian_in_span; 80-40-20-1 spent 4,404 queries on 29 points)."""
    def normals(x: Sequence[Any]) -> list[Sequence[Fraction]]:
        pre = net.preactivations_batch([x])[0][0]
        return [row for row, v in zip(net.weights[0], pre) if v >= 0]
    return normals


def _grid_point(n: int, rng: random.Random) -> list[fmpq]:
    """A random point of the grid of step 1/256 in [-2, 2]^n (extra points for the output layer's fit)."""
    return [fmpq(rng.randint(-512, 512), 256) for _ in range(n)]


def _points_in_boxes(n: int, count: int, rng: random.Random) -> list[list[fmpq]]:
    """`count` random points, the i-th uniform in the box of half-width 2^(i mod 6) (1..32) at 0."""
    return [[fmpq(rng.randint(-1024, 1024), 1024) * 2 ** (i % 6) for _ in range(n)] for i in range(count)]


def _unexplained_kinks(net: Network, scan: LineScan) -> list[int]:
    """The indices of the scan's kinks that lie on no hidden boundary of `net`."""
    pre = net.preactivations_batch([k.x for k in scan.kinks]) if scan.kinks else []
    return [i for i, p in enumerate(pre) if not any(v == 0 for layer in p[:-1] for v in layer)]


def _points_where(n: int, rng: random.Random, keep: Callable[[list[fmpq]], bool], count: int) -> list[list[fmpq]]:
    """Up to `count` points where `keep` holds among SEARCH_POINTS random ones (deeper_layers.search_point:
    boxes of half-width 1..128 at 0); no queries."""
    found = (p for p, _ in (search_point(n, i, rng) for i in range(SEARCH_POINTS)) if keep(p))
    return list(itertools.islice(found, max(count, 0)))


def _has_normal(rows: Sequence[Sequence[fmpq]], normal: Sequence[fmpq]) -> bool:
    """`normal` is one of `rows` up to sign (planes normalised the same way)."""
    return any(normal == r or normal == [-v for v in r] for r in rows)


def _same_neuron(a: tuple, b: tuple) -> bool:
    """Two (row, bias, unmeasured weights) describe one neuron: proportional on the bias and the (at least one)
    weights both measured, by a nonzero factor."""
    return _twin_factor(a, b) is not None


def _twin_factor(a: tuple, b: tuple) -> fmpq | None:
    """The nonzero factor r with b = r a on the bias and the (at least one) weights both (row, bias, unmeasured
    weights) measured, if there is one: then they describe one neuron."""
    (row_a, bias_a, skip_a), (row_b, bias_b, skip_b) = a, b
    pairs = [(x, y) for j, (x, y) in enumerate(zip(row_a, row_b)) if j not in skip_a and j not in skip_b]
    pairs.append((bias_a, bias_b))
    if len(pairs) < 2 or not parallel([x for x, _ in pairs], [y for _, y in pairs]):
        return None
    return next(y / x for x, y in pairs if x != 0)


def _fill_from_twins(rows: list, bias: list, notes: list, i: int) -> None:
    """Walk i's weights that it could not measure but another walk of the same neuron (see _twin_factor) did, on
    walk i's scale: rows[i] and notes[i] updated in place.  Each walk meets the boundaries its own path leads
    to; two walks of one neuron together often measure what neither did alone (exact, no queries)."""
    for j in range(len(rows)):
        if j == i or not notes[i]:
            continue
        r = _twin_factor((rows[j], bias[j], notes[j]), (rows[i], bias[i], notes[i]))
        for m in [m for m in notes[i] if m not in notes[j]] if r is not None else ():
            rows[i][m] = r * rows[j][m]
            del notes[i][m]


class ProvisionalLayer:
    """Layer k's walks so far as formulas z = row . relu(h) + bias over layers 1..k-1 with the signs those walks
    fix (Extraction.provisional_layer): a pending point where some formula is exactly 0 with a gradient parallel
    to the point's normal lies on that walk's boundary and needs no walk of its own.  Unlike WalkNeuron this
    reaches every region, not only those of the walk's anchors' patterns, which wide layers seldom repeat; a
    weight the walk did not measure (or whose sign is not fixed) only blocks it where that neuron is on.
    Its `signs` (layer k-1's, None where not fixed) let later walks read weights off normals (decompose)."""

    def __init__(self, fixed: PartialNetwork, neurons: list[tuple[Walk, LayerNeuron, set[int]]],
                 signs: Sequence[int | None]) -> None:
        self.fixed, self.neurons, self.signs = fixed, neurons, signs

    def explains(self, x: list[fmpq], normal: list[fmpq]) -> Walk | None:
        """The walk whose formula has x on its boundary with `normal` (None if none; off every known boundary)."""
        vals = self.fixed.values(x)
        if any(v == 0 for layer in vals for v in layer):
            return None
        for walk, neuron, unknown in self.neurons:
            if any(vals[-1][j] > 0 for j in unknown) or neuron.value(x) != 0:
                continue
            if parallel(neuron.value_grad(x)[1], normal):
                return walk
        return None


class TimeLimitReached(ExactrevError):
    """extract's time limit passed (raised before a batch of queries; ends the extraction partial)."""


RECHECK_EVERY = 1000           # queries between two re-asked queries of the oracle check


class _Guard:
    """Called before each batch of extraction's queries: raises TimeLimitReached once `deadline`
    (time.monotonic) has passed, and every RECHECK_EVERY queries asks one of the oracle check's queries
    again, in turn (OracleError if its answer changed: a drifting oracle stops early, not at the end)."""

    def __init__(self, check: OracleCheck, deadline: float | None) -> None:
        self.check = check
        self.deadline = deadline
        self.asked = 0

    def __call__(self) -> None:
        self.in_time()
        oracle, answers = self.check.oracle, self.check.answers
        due = oracle.queries - self.check.answered_at >= (self.asked + 1) * RECHECK_EVERY
        if answers and due and (oracle.remaining is None or oracle.remaining > len(answers)):
            self.check.ask_again([self.asked % len(answers)])
            self.asked += 1

    def in_time(self) -> None:
        """TimeLimitReached once the deadline has passed (also called where long exact work asks no queries)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeLimitReached("time limit reached")


class _GuardedEvaluator(Evaluator):
    """An Evaluator that calls `guard()` before each batch of queries (time limit, re-asked queries)."""

    def __init__(self, oracle: Oracle, arith: Arith, guard: Callable[[], None]) -> None:
        super().__init__(oracle, arith)
        self.guard = guard

    def points(self, xs: Sequence[Sequence[Any]]) -> list[list]:
        if xs:
            self.guard()
        return super().points(xs)


def _final_checks(run: Extraction) -> None:
    """Ask the oracle check's queries again (if the budget allows): OracleError if an answer changed.
    For a rounded oracle whose first-layer checks failed, say whether its precision is too low."""
    before = run.oracle.queries
    if run.oracle.remaining is None or run.oracle.remaining >= len(run.check.answers):
        run.check.ask_again()
    if run.stats:
        run.stats[-1].queries += run.oracle.queries - before
    failed = run.first is not None and (run.first.undecided or not run.first.hyperplanes)
    note = _precision_note(run.ar, run.check.noise) if failed else None
    if note is not None:
        run.unidentified.append({"layer": 1, "neuron": None, "reason": note})


def _precision_note(ar: Arith, noise: Any) -> str | None:
    """A sentence saying the oracle's precision is too low, if the rounding OracleCheck saw in its answers
    (`noise`, a relative error of slopes over a step of 2^-10) exceeds the tolerance of extraction's
    checks (ar.rel); None otherwise.  The digits suggested make it fall below, as the tolerance tightens
    with 2/3 of the bits while the rounding falls with all of them (plus a margin of 4 bits)."""
    if ar.exact or noise is None or not noise > ar.rel:
        return None
    bits = ar.bits + 3 * math.log2(noise / ar.rel) + 4
    digits = math.ceil(bits / math.log2(10))
    seen = (f"slopes over a step of 2^-10 from its answers are uncertain by {float(noise):.1e} (relative; "
            "measured from second differences where the oracle is linear), above the tolerance "
            f"{float(ar.rel):.1e} of extraction's checks")
    if ar.mode == "mpmath":
        return (f"precision too low for the network: at dps={ar.dps} {seen}; use about dps={digits} or more "
                "(unless the answers carry noise)")
    return (f"precision too low for the network: with float64 answers {seen}; use an mpmath oracle with about "
            f"dps={digits} or an exact one (unless the answers carry noise)")

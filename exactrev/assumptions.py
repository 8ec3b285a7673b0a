"""The conditions under which Rolnick & Kording's theorems promise recovery, checked exactly.

Each check says "holds", "fails" or "unknown", with evidence.  Every "fails" rests on an exact
witness (a rational input, an exact rank, an exact zero); every "holds" about activity patterns
rests on a *complete* exact enumeration of the linear regions (exactrev.regions) -- past the
effort bound those checks say "unknown" unless a witness already settles them.

The functional dimension is the exact rank of the Jacobian of the parameters-to-outputs map over
inputs in every (or many) linear regions, compared with its generic upper bound #params - #hidden
neurons (one scaling symmetry per hidden neuron); a smaller rank means hidden symmetries or
unidentifiable parameters.  See B. Grigsby, K. Lindsey and D. Rolnick, "Hidden symmetries of ReLU
networks" (ICML 2023) and Grigsby, Lindsey, Meyerhoff & Wu, "Functional dimension of feedforward
ReLU neural networks" (2022).
"""

from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from flint import fmpq, fmpq_mat, fmpz_mat, nmod_mat

from .errors import ExactrevError
from .network import Network
from .numbers import integers_over_lcm
from .regions import ACTIVE, INACTIVE, ZERO_FN, Leaf, enumerate_regions

STATUSES = ("holds", "fails", "unknown")
_SHOW = 8              # items listed in the text evidence
_SUBSET_BUDGET = 3000  # exact rank computations for general position


@dataclass
class Check:
    """One assumption: its status, a sentence of evidence, and the offending items."""

    name: str
    title: str
    status: str
    evidence: str
    items: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "status": self.status,
                "evidence": self.evidence, "items": self.items}


@dataclass
class AssumptionReport:
    """All checks for one network, plus how much of R^n the region enumeration covered."""

    widths: list[int]
    checks: list[Check]
    regions: int
    exhaustive: bool

    def __getitem__(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def failed(self) -> list[str]:
        """Names of the checks that fail."""
        return [c.name for c in self.checks if c.status == "fails"]

    def to_dict(self) -> dict:
        return {"widths": self.widths, "regions": self.regions, "exhaustive": self.exhaustive,
                "checks": [c.to_dict() for c in self.checks]}

    def to_text(self) -> str:
        cover = (f"all {self.regions} linear regions enumerated exactly" if self.exhaustive else
                 f"{self.regions} linear regions enumerated before the effort bound (activity checks "
                 "without a witness say unknown)")
        lines = [f"assumptions ({cover}):"]
        for c in self.checks:
            lines.append(f"  [{c.status:7}] {c.title}: {c.evidence}")
        return "\n".join(lines)


def _name(k: int, j: int) -> str:
    return f"layer {k + 1} neuron {j + 1}"


def neuron_index(name: str) -> tuple[int, int]:
    """(layer, neuron), both from 1, of a neuron as a check's items name it ("layer 2 neuron 3")."""
    layer, neuron = re.fullmatch(r"layer (\d+) neuron (\d+)", name).groups()
    return int(layer), int(neuron)


def _listing(items: list[str]) -> str:
    more = f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else ""
    return "; ".join(items[:_SHOW]) + more


# ------------------------------------------------------------------ structural checks (exact, cheap)
def _zero_rows(net: Network) -> Check:
    items = [_name(k, j) for k, w in enumerate(net.weights[:-1]) for j, row in enumerate(w) if not any(row)]
    return _listed_check("zero_rows", "no hidden neuron with all-zero incoming weights", items,
                         "constant neurons (their ReLU is a constant): ",
                         "every hidden neuron has a nonzero incoming weight")


def _zero_columns(net: Network) -> Check:
    items = [_name(k, j) for k in range(len(net.weights) - 1) for j in range(len(net.weights[k]))
             if not any(row[j] for row in net.weights[k + 1])]
    return _listed_check("zero_columns", "no hidden neuron with all-zero outgoing weights", items,
                         "neurons with no effect on the output: ",
                         "every hidden neuron has a nonzero outgoing weight")


def _listed_check(name: str, title: str, items: list, failing: str, holding: str) -> Check:
    """"fails" with `failing` followed by the listed items when there are any, else "holds" with `holding`."""
    if items:
        return Check(name, title, "fails", failing + _listing(items), items)
    return Check(name, title, "holds", holding)


def _duplicates(net: Network) -> Check:
    """Hidden neurons of one layer whose (incoming weights, bias) rows are parallel (exact)."""
    items = []
    for k, (w, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        seen: dict[tuple, int] = {}
        for j, (row, bias) in enumerate(zip(w, b)):
            full = list(row) + [bias]
            if not any(full):
                continue
            lead = abs(next(v for v in full if v))
            key = tuple(v / lead for v in full)
            for other_key, kind in ((key, "duplicate: same orientation"), (tuple(-v for v in key), "opposite orientation")):
                if other_key in seen:
                    items.append(f"{_name(k, seen[other_key])} and {_name(k, j)} ({kind}, same boundary)")
            seen.setdefault(key, j)
    return _listed_check("duplicate_neurons", "no duplicate or parallel neurons in a layer", items, "",
                         "no two neurons of a layer have parallel (weights, bias) rows")


def _general_position(net: Network, rng: random.Random) -> Check:
    """First-layer hyperplanes: every min(n, n1) normals independent, no n+1 through one point."""
    title = "first-layer hyperplanes in general position"
    n = net.input_dim
    rows = [(row, b) for row, b in zip(net.weights[0], net.biases[0]) if any(row)]
    if len(net.weights) == 1:
        return Check("general_position", title, "holds", "no hidden layer")
    mats = [[fmpq(v.numerator, v.denominator) for v in row] for row, _ in rows]
    augs = [m + [fmpq(b.numerator, b.denominator)] for m, (_, b) in zip(mats, rows)]
    exhaustive = True
    tests = [(min(n, len(rows)), mats), (n + 1, augs)] if len(rows) > n else [(len(rows), mats)]
    for size, source in tests:
        total = math.comb(len(source), size)
        if total <= _SUBSET_BUDGET:
            subsets = itertools.combinations(range(len(source)), size)
        else:
            exhaustive = False
            subsets = (tuple(sorted(rng.sample(range(len(source)), size))) for _ in range(_SUBSET_BUDGET))
        for s in subsets:
            if fmpq_mat([source[i] for i in s]).rank() < size:
                what = ("normals are linearly dependent" if source is mats else "hyperplanes meet in one point")
                where = ", ".join(str(i + 1) for i in s)
                return Check("general_position", title, "fails",
                             f"first-layer neurons {where}: {what} (exact rank < {size})", [list(s)])
    if exhaustive:
        return Check("general_position", title, "holds", "every required subset has full exact rank")
    return Check("general_position", title, "unknown",
                 f"{_SUBSET_BUDGET} random subsets per condition have full exact rank; not all subsets checked")


# ------------------------------------------------------------------ activity (sampling + regions)
class _Activity:
    """Exact observations of neuron signs: from sample points and from enumerated regions."""

    def __init__(self, net: Network) -> None:
        self.sizes = [len(w) for w in net.weights[:-1]]
        self.offsets = np.cumsum([0] + self.sizes)
        self.seen: list[np.ndarray] = []      # rows of +1 (z > 0), -1 (z < 0), 0 (z = 0), proven
        self.maybe: list[np.ndarray] = []     # from regions not proven full-dimensional
        self.leaves: list[Leaf] = []

    def add_points(self, net: Network, points: list[list[Fraction]]) -> None:
        for pre in net.preactivations_batch(points):
            signs = [(v > 0) - (v < 0) for layer in pre[:-1] for v in layer]
            self.seen.append(np.array(signs, dtype=np.int8))

    def add_leaf(self, leaf: Leaf) -> None:
        codes = np.array([c for layer in leaf.patterns[0] for c in layer], dtype=np.int8)
        (self.seen if leaf.point is not None else self.maybe).append(codes)
        self.leaves.append(leaf)

    def matrix(self, rows: list[np.ndarray]) -> np.ndarray:
        return np.array(rows, dtype=np.int8) if rows else np.zeros((0, int(self.offsets[-1])), dtype=np.int8)


def _sample_points(net: Network, rng: random.Random, count: int) -> list[list[Fraction]]:
    n = net.input_dim
    pts = []
    for i in range(count):
        scale = Fraction(1 << (0, 2, 5, 10, 20)[i % 5])
        pts.append([Fraction(round(rng.gauss(0, 1) * (1 << 24)), 1 << 24) * scale for _ in range(n)])
    return pts


def silent_by_signs(net: Network) -> tuple[list[str], list[str]]:
    """The hidden neurons never active and those never inactive on all of R^n, proven from signs alone (no
    enumeration, so also where it cannot finish): a deeper layer's inputs are ReLU outputs, >= 0, and 0 for a dead
    neuron, so a neuron whose bias and every weight from a neuron not dead are <= 0 is dead, and one whose are all
    >= 0 is never inactive; in the first layer only a neuron with no weight at all is either."""
    dead: list[str] = []
    always: list[str] = []
    live: list[int] | None = None          # the previous layer's neurons not proven dead (None: the input)
    for k, (w, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        kept = []
        for j, (row, bias) in enumerate(zip(w, b)):
            ws = list(row) if live is None else [row[i] for i in live]
            never_up = not any(ws) if live is None else all(v <= 0 for v in ws)
            never_down = not any(ws) if live is None else all(v >= 0 for v in ws)
            if never_up and bias <= 0:
                dead.append(_name(k, j))
            else:
                kept.append(j)
            if never_down and bias >= 0:
                always.append(_name(k, j))
        live = kept
    return dead, always


def _activity_checks(act: _Activity, exhaustive: bool, by_signs: tuple[list[str], list[str]]) -> list[Check]:
    seen, maybe = act.matrix(act.seen), act.matrix(act.maybe)
    names = [_name(k, j) for k, size in enumerate(act.sizes) for j in range(size)]
    checks = []
    for (name, title, sign, what, bound), signed in zip(
            (("dead_neurons", "no dead neurons (never active on R^n)", 1, "never active", "<= 0"),
             ("always_active", "no always-active neurons", -1, "never inactive", ">= 0")), by_signs):
        proven = (seen == sign).any(axis=0)
        possible = proven | (maybe == sign).any(axis=0)
        bad = [names[i] for i in range(len(names)) if not possible[i]]
        open_ = [names[i] for i in range(len(names)) if not proven[i]]
        if exhaustive and bad:
            checks.append(Check(name, title, "fails", f"{what} on R^n: {_listing(bad)}", bad))
        elif signed:
            rest = [item for item in open_ if item not in signed]
            checks.append(Check(name, title, "fails", f"{what} on R^n (bias and every weight from a neuron not "
                                f"dead {bound}): {_listing(signed)}"
                                + (f"; no witness yet for {_listing(rest)}" if rest else ""), signed))
        elif not open_:
            checks.append(Check(name, title, "holds", f"every neuron has an exact witness input where it is "
                                f"{'active' if sign == 1 else 'inactive'}"))
        else:
            checks.append(Check(name, title, "unknown", f"no witness yet for {_listing(open_)}", open_))
    checks.extend(_section52(act, seen, maybe, exhaustive, names))
    return checks


_CASES = (
    (1, 1, 1, "whenever z is active, z' is inactive (the weight z->z' is not determined)"),
    (2, 1, -1, "whenever z is active, z' is active"),
    (3, -1, 1, "whenever z is inactive, z' is inactive"),
    (4, -1, -1, "whenever z is inactive, z' is active"),
)


def _section52(act: _Activity, seen: np.ndarray, maybe: np.ndarray, exhaustive: bool,
               names: list[str]) -> list[Check]:
    """The four cases of section 5.2 for every z in hidden layer k and z' in hidden layer k+1.

    Case c holds for (z, z') when no input has (sign z, sign z') equal to the case's forbidden
    combination: (+,+) for case 1, (+,-) for 2, (-,+) for 3, (-,-) for 4.
    """
    checks = []
    for case, sz, szp, text in _CASES:
        holds_pairs, open_pairs = [], []
        for k in range(len(act.sizes) - 1):
            lo, mid, hi = act.offsets[k], act.offsets[k + 1], act.offsets[k + 2]
            a_s = (seen[:, lo:mid] == sz).astype(np.int32)
            b_s = (seen[:, mid:hi] == szp).astype(np.int32)
            a_m = (maybe[:, lo:mid] == sz).astype(np.int32)
            b_m = (maybe[:, mid:hi] == szp).astype(np.int32)
            proven = a_s.T @ b_s > 0
            possible = proven | (a_m.T @ b_m > 0)
            for i in range(mid - lo):
                for j in range(hi - mid):
                    pair = f"{names[lo + i]} -> {names[mid + j]}"
                    if not possible[i, j] and exhaustive:
                        holds_pairs.append(pair)
                    elif not proven[i, j]:
                        open_pairs.append(pair)
        title = f"section 5.2 case {case} absent ({text})"
        name = f"section52_case{case}"
        if holds_pairs:
            checks.append(Check(name, title, "fails", f"case {case} holds for {_listing(holds_pairs)}", holds_pairs))
        elif open_pairs:
            checks.append(Check(name, title, "unknown", f"not excluded for {_listing(open_pairs)}", open_pairs))
        else:
            why = ("no consecutive hidden layers" if len(act.sizes) < 2 else
                   "an exact witness input excludes it for every consecutive-layer pair")
            checks.append(Check(name, title, "holds", why))
    return checks


# ------------------------------------------------------------------ functional dimension
def _fq(v: Fraction) -> fmpq:
    return fmpq(v.numerator, v.denominator)


def _jacobian_rows(net: Network, pattern: list[tuple[int, ...]], n: int) -> list[list[fmpq]]:
    """Rows spanning the parameter-Jacobian of the outputs over one linear region (exact).

    On a region the outputs' derivative w.r.t. W_k[i, j] is delta_k[o, i] * a_{k-1, j}(x), with
    a_{k-1} affine in x; its span over the region is that of the n+1 coefficient vectors.
    """
    layers = [(fmpq_mat([[_fq(v) for v in row] for row in w]), [_fq(v) for v in b])
              for w, b in zip(net.weights, net.biases)]
    acts = []                                           # a_{k}: n_k x (n+1) affine maps of x
    cur = fmpq_mat(n, n + 1)
    for j in range(n):
        cur[j, j] = fmpq(1)
    for k, (W, b) in enumerate(layers[:-1]):
        acts.append(cur)
        Z = W * cur
        for i in range(Z.nrows()):
            Z[i, n] += b[i]
            if pattern[k][i] != ACTIVE:
                for c in range(n + 1):
                    Z[i, c] = fmpq(0)
        cur = Z
    acts.append(cur)
    n_out = len(net.weights[-1])
    delta = fmpq_mat(n_out, n_out)
    for o in range(n_out):
        delta[o, o] = fmpq(1)
    deltas = [delta]
    for k in range(len(layers) - 1, 0, -1):
        d = deltas[0] * layers[k][0]
        for i in range(d.ncols()):
            if pattern[k - 1][i] != ACTIVE:
                for o in range(n_out):
                    d[o, i] = fmpq(0)
        deltas.insert(0, d)
    rows = []
    for o in range(n_out):
        for l in range(n + 1):
            row: list[fmpq] = []
            for k in range(len(layers)):
                d, a = deltas[k], acts[k]
                for i in range(d.ncols()):
                    row.extend(d[o, i] * a[j, l] for j in range(a.nrows()))
                row.extend(d[o, i] if l == n else fmpq(0) for i in range(d.ncols()))
            rows.append(row)
    return rows


_PRIME = (1 << 61) - 1
_EXACT_RANK_ENTRIES = 400_000   # largest rows x columns for an exact rank over Q
_PARTIAL_REGIONS = 400          # regions used for the rank when the enumeration is incomplete


def _mod_p(rows: list[list[fmpq]]) -> list[list[int]]:
    return [[int(v.p) % _PRIME * pow(int(v.q), -1, _PRIME) % _PRIME for v in r] for r in rows]


def _rank_q(rows: list[list[fmpq]]) -> int:
    """Exact rank over Q (rows scaled to integers, flint's fmpz_mat)."""
    return fmpz_mat([integers_over_lcm(r)[0] for r in rows]).rank()


def _functional_dimension(net: Network, act: _Activity, points: list[list[Fraction]], exhaustive: bool) -> Check:
    """Rank of the parameter Jacobian over the regions seen, mod a prime first (a lower bound of the
    rank over Q, enough to prove "holds"), exactly over Q when a deficit is to be claimed."""
    title = "functional dimension = #params - #hidden neurons"
    bound = net.functional_dimension_bound
    n, ncols = net.input_dim, net.num_params
    # The parameter map is not differentiable where a neuron is exactly 0: leave such regions out.
    # Sample points first: they are spread over R^n, while the depth-first regions cluster.
    patterns = [[tuple(ACTIVE if v > 0 else INACTIVE for v in layer) for layer in pre[:-1]]
                for pre in net.preactivations_batch(points) if all(v != 0 for layer in pre[:-1] for v in layer)]
    from_leaves = [leaf.patterns[0] for leaf in act.leaves
                   if leaf.point is not None and all(c != ZERO_FN for layer in leaf.patterns[0] for c in layer)]
    complete = len(from_leaves) == len(act.leaves)
    patterns += from_leaves
    unique = list({tuple(p): p for p in patterns}.values())
    if not exhaustive:
        unique = unique[:_PARTIAL_REGIONS]
    basis: list[list[int]] = []
    all_rows: list[list[fmpq]] = []
    rank, used = 0, 0
    for start in range(0, len(unique), 32):
        chunk = [r for p in unique[start:start + 32] for r in _jacobian_rows(net, p, n)]
        used = min(start + 32, len(unique))
        if len(all_rows) * ncols <= _EXACT_RANK_ENTRIES:
            all_rows.extend(chunk)
        rows = basis + _mod_p(chunk)
        reduced, rank = nmod_mat(len(rows), ncols, [v for r in rows for v in r], _PRIME).rref()
        basis = [[int(reduced[i, j]) for j in range(ncols)] for i in range(rank)]
        if rank == bound:
            break
    evidence = (f"Jacobian rank {rank} over {used} activation regions; bound {bound} = "
                f"{net.num_params} params - {sum(act.sizes)} hidden neurons")
    if rank == bound:
        return Check("functional_dimension", title, "holds", evidence)
    if exhaustive and complete and len(all_rows) * ncols <= _EXACT_RANK_ENTRIES and used == len(unique):
        rank = _rank_q(all_rows)
        if rank < bound:
            return Check("functional_dimension", title, "fails",
                         f"exact Jacobian rank {rank} over every activation region < bound {bound}: deficit "
                         f"{bound - rank} (hidden symmetries or unidentifiable parameters)", [rank, bound])
        return Check("functional_dimension", title, "holds", f"exact Jacobian rank {rank} = bound {bound}")
    return Check("functional_dimension", title, "unknown", evidence + " (more regions might raise the rank)",
                 [rank, bound])


def without_dead_neurons(net: Network, report: AssumptionReport) -> tuple[Network, list[tuple[int, int]]]:
    """`net` without the hidden neurons `report` (its check of `net`) proves never active, and the (layer, neuron)
    removed as in Network.without_idle_neurons.  The function is unchanged: such a neuron outputs 0 everywhere,
    so its outgoing weights are set to 0 and the idle neurons pruned.  No query sees a dead neuron: this network,
    not `net`, is what a complete extraction can recover."""
    dead = report["dead_neurons"]
    if dead.status != "fails":
        return net, []
    weights = [list(map(list, w)) for w in net.weights]
    for layer, neuron in map(neuron_index, dead.items):
        for row in weights[layer]:
            row[neuron - 1] = Fraction(0)
    return Network(weights, [list(b) for b in net.biases], net.meta).without_idle_neurons()


# ------------------------------------------------------------------ entry point
def check_assumptions(net: Network, *, max_regions: int = 2000, seconds: float | None = 10.0,
                      samples: int = 200, seed: int = 0) -> AssumptionReport:
    """Check the recovery assumptions of Rolnick & Kording for `net`, each holds / fails / unknown.

    Region-based checks are exact when the enumeration over R^n finishes within `max_regions`
    regions and `seconds`; otherwise only exact witnesses decide them.
    """
    if not isinstance(net, Network):
        raise ExactrevError(f"check_assumptions: expected an exactrev.Network, got {type(net).__name__}")
    rng = random.Random(seed)
    act = _Activity(net)
    points = _sample_points(net, rng, samples)
    exhaustive, regions = True, 0
    if len(net.weights) > 1:
        act.add_points(net, points)
        stats = enumerate_regions([net], act.add_leaf, max_regions=max_regions, seconds=seconds)
        exhaustive, regions = stats.complete, stats.regions
    checks = [_zero_rows(net), _zero_columns(net), _duplicates(net), _general_position(net, rng)]
    if len(net.weights) > 1:
        checks.extend(_activity_checks(act, exhaustive, silent_by_signs(net)))
    checks.append(_functional_dimension(net, act, points, exhaustive))
    return AssumptionReport(net.widths, checks, regions, exhaustive)

"""Weights of the last hidden layer that no walk could measure, from the output's bends (exact mode).

A walk along B_z measures W_zj where B_z crosses B_j (j in layer L-1).  When B_z lies wholly where neuron j
is off (section 5.2 case 1 or 2 along B_z) the walk cannot, yet W_zj still matters wherever j is on and z is
active: there the output changes with relu(h_j) through z.  With the output layer solved on points where
every such j is off (there the recovered z is the target's), the output's slope along grad h_j at a point p
of B_j jumps by  sum_z U_oz W_zj |grad h_j|^2  over the last-layer neurons z active at p: linear in the
unknown W_zj.  Points of B_j where z is on give enough equations; the solution is exact and checked at one
more point, or the weight stays unmeasured.

Where z and another z' are active together all along B_j, only U_oz W_zj + U_oz' W_z'j shows there; then
z's own boundary where j is on places W_zj (weights_from_line_kinks): a kink of the output on a line, where
j is on and no known boundary passes, lies on B_z for exactly one W_zj, and it is z's kink only if the output's
slope jumps there by exactly U_oz |grad z . d| for that W_zj.
"""

from __future__ import annotations

import random
from itertools import chain, combinations
from math import comb
from typing import Any, Sequence

from flint import fmpq, fmpq_mat

from .arith import dot, max_abs
from .deeper_layers import LayerNeuron, PartialNetwork, meeting_points, reject, room_at, search_point
from .geometry import Evaluator, Line, points_on_line
from .numbers import to_fmpq
from .signs import solve_linear_exact, undetermined_columns

Q = fmpq
BOUNDARY_LINES = 256     # random lines searched for points of B_j, per layer-(L-1) neuron j (a point costs
                         # queries only where some z is active)
CHECK_POINTS = 1         # points of B_j, past those that fix the weights, whose bends must agree exactly
COMBINATION_POINTS = 6  # points in a row adding no equation before weights_up_to_combination takes one solution
MEETING_STARTS = 32      # random starts, per layer-(L-1) neuron j, of the search for points of B_j where z's formula
                         # is 0 (then moved along B_j to where it is > 0; no queries)
EDGE_LINES = 64          # edges of the first-layer arrangement (n-1 of its planes meeting; all of them if there are
                         # no more) searched for points of B_j, per layer-(L-1) neuron j ...
EDGE_OFFSETS = 24        # ... and points of B_j tried around each point where B_j crosses one (no queries)
EDGE_MAX_INPUTS = 32     # input dimensions above which edges are not searched (n-1 planes: a large exact solve)
KINK_LINES = 16          # random lines scanned for kinks of B_z where j is on (weights_from_line_kinks)


def weights_from_output_bends(ev: Evaluator, known: PartialNetwork, out_w: Sequence[Sequence[Q]],
                              unmeasured: Sequence[tuple[int, int]], rng: random.Random,
                              near: dict[int, Sequence[Q]] | None = None) -> dict[tuple[int, int], Q]:
    """W_zj for the (z, j) in `unmeasured` that the output's bends across B_j determine exactly (layers of
    `known` all sign-fixed, the last one's unmeasured weights 0; out_w the output weights U; near[j] a known
    point of B_j, around which half the search goes: a neuron active only far out has its boundary there)."""
    return _each_neuron(ev, known, out_w, unmeasured, rng, near, particular=False)


def weights_up_to_combination(ev: Evaluator, known: PartialNetwork, out_w: Sequence[Sequence[Q]],
                              unmeasured: Sequence[tuple[int, int]], rng: random.Random,
                              near: dict[int, Sequence[Q]] | None = None) -> dict[tuple[int, int], tuple[Q, bool]]:
    """As weights_from_output_bends, but where the bends' equations stay underdetermined after COMBINATION_POINTS
    points in a row add nothing (last-layer neurons z, z' active together at every point of B_j seen, so only
    sum_z U_oz W_zj shows), one exact solution (the free weights 0): (W_zj, whether the equations fix it).
    Where those neurons are active together wherever j is on, every solution gives the same function."""
    return _each_neuron(ev, known, out_w, unmeasured, rng, near, particular=True)


def _each_neuron(ev: Evaluator, known: PartialNetwork, out_w: Sequence[Sequence[Q]],
                 unmeasured: Sequence[tuple[int, int]], rng: random.Random, near: dict[int, Sequence[Q]] | None,
                 particular: bool) -> dict[tuple[int, int], Any]:
    """_weights_for each layer-(L-1) neuron j of the unmeasured weights, the others' j off."""
    found: dict[tuple[int, int], Any] = {}
    for j in sorted({j for _, j in unmeasured}):
        zs = sorted(z for z, j2 in unmeasured if j2 == j)
        others = [j2 for _, j2 in unmeasured if j2 != j]
        found.update(_weights_for(ev, known, out_w, j, zs, others, rng, (near or {}).get(j), particular))
    return found


def _weights_for(ev: Evaluator, known: PartialNetwork, out_w: Sequence[Sequence[Q]], j: int, zs: Sequence[int],
                 others: Sequence[int], rng: random.Random, near: Sequence[Q] | None, particular: bool = False
                 ) -> dict[tuple[int, int], Any]:
    """The weights W_zj, z in zs, from bends at points of B_j where every `others` neuron is off (there the
    recovered last layer is exact but for W_.j): the weights of the z seen active at some point, once their
    equations have a unique solution that CHECK_POINTS further points also satisfy.  With `particular`, once
    COMBINATION_POINTS points in a row leave the rank as it was, one solution: (weight, determined) each."""
    rows: list[list[Q]] = []
    rhs: list[Q] = []
    since_unique, width, rank, stale = 0, 0, 0, 0
    for p in chain(_points_of_boundary(known, j, rng, near), _points_where_active(known, j, zs, rng, near),
                   _points_near_edges(known, j, zs, rng)):
        if any(known.values(p)[-2][o] >= 0 for o in others):
            continue
        eqs = _bend_equations(ev, known, out_w, j, zs, p)
        if eqs is None:
            continue
        rows += [row for row, _ in eqs]
        rhs += [r for _, r in eqs]
        seen = [c for c in range(len(zs)) if any(row[c] != 0 for row in rows)]
        system = [[row[c] for c in seen] for row in rows]
        x, pivots, unique = solve_linear_exact(system, rhs, len(seen))    # consistent: len(pivots) is the rank
        if x is None:
            return {}
        since_unique = 0 if not unique else 1 if len(seen) > width else since_unique + 1
        width = len(seen)
        if since_unique > CHECK_POINTS:
            return {(zs[c], j): (w, True) if particular else w for c, w in zip(seen, x)}
        stale = stale + 1 if len(pivots) == rank else 0
        rank = len(pivots)
        if particular and stale >= COMBINATION_POINTS:
            loose = undetermined_columns(system, len(seen))
            return {(zs[c], j): (w, c_i not in loose) for c_i, (c, w) in enumerate(zip(seen, x))}
    return {}


def _points_where_active(known: PartialNetwork, j: int, zs: Sequence[int], rng: random.Random,
                          near: Sequence[Q] | None):
    """Points of B_j where some z in zs is on: where z's formula (W_zj = 0: exact on B_j) meets B_j
    (deeper_layers.meeting_points, from MEETING_STARTS random starts), moved along B_j towards z > 0 halfway to
    the next boundary of the known layers.  B_j may meet {z > 0} only in a small piece that random lines
    rarely cross, while z then matters in the sliver of {h_j > 0} beside it."""
    starts = [search_point(known.n_in, i, rng, near)[0] for i in range(MEETING_STARTS)]
    neurons = _formulas(known, zs)
    for meetings in zip(*(meeting_points(neuron, j, starts) for neuron in neurons)):
        for neuron, q in zip(neurons, meetings):
            if q is None:
                continue
            _, jh = neuron.known.local_mats(q)[-1]
            _, G = neuron.value_grad(q)
            v = reject(G, [jh[j, c] for c in range(known.n_in)])      # along B_j, z rising
            if not any(v):
                continue
            v = [vi / max_abs(v) for vi in v]
            found = known.first_crossing(q, v)
            t = found[0] / 2 if found is not None else 1 + max_abs(q)
            yield [qi + t * vi for qi, vi in zip(q, v)]


def _points_near_edges(known: PartialNetwork, j: int, zs: Sequence[int], rng: random.Random):
    """Points of B_j where some z in zs is on (its formula, W_zj = 0), around the points where B_j crosses an
    edge of the first-layer arrangement (its sets of n-1 planes, EDGE_LINES random ones if there are more):
    in the small regions around such a point; B_j may meet {z > 0} only there (3-6-6-6-2 seed 8: certify's
    witness sits beside two first-layer planes and B_j at once).  Each point is the projection onto B_j,
    along grad h_j, of a small random offset, kept if it is exactly on B_j in the offset's region."""
    n = known.n_in
    first = known.layers[0]
    if not 1 < n <= EDGE_MAX_INPUTS or len(first.rows) < n - 1:
        return
    neurons = _formulas(known, zs)
    below = neurons[0].known
    pos = sum(len(layer.rows) for layer in below.layers[:-1])      # where layer L-1 starts in a region key
    m = len(first.rows)
    subsets = (combinations(range(m), n - 1) if comb(m, n - 1) <= EDGE_LINES
               else (rng.sample(range(m), n - 1) for _ in range(EDGE_LINES)))
    for picked in subsets:
        extra = [fmpq(rng.randint(-1024, 1024), 1024) for _ in range(n)]
        rows = fmpq_mat([first.rows[i] for i in picked] + [extra])
        try:
            x0 = rows.solve(fmpq_mat([[-first.bias[i]] for i in picked] + [[fmpq(0)]])).entries()
            d = rows.solve(fmpq_mat([[fmpq(0)]] * (n - 1) + [[fmpq(1)]])).entries()
        except ZeroDivisionError:
            continue
        span = 2 ** 10 * (1 + max_abs(x0)) / max_abs(d)
        for t in below.knots_on_line(x0, d, -span, span)[1:-1]:
            centre = [a + t * b for a, b in zip(x0, d)]
            if below.values(centre)[-1][j] != 0:
                continue
            for k in range(EDGE_OFFSETS):
                size = (1 + max_abs(centre)) / 2 ** (4 + 2 * (k % 8))      # regions near an edge may be very small
                y = [c + size * fmpq(rng.randint(-1024, 1024), 1024) for c in centre]
                vals, jh = below.local_mats(y)[-1]
                g = [jh[j, c] for c in range(n)]
                if not any(g):
                    continue
                x = [a - vals[j] / dot(g, g) * b for a, b in zip(y, g)]
                key_x, key_y, at = below.region_key(x), below.region_key(y), pos + j
                if key_x[:at] + key_x[at + 1:] != key_y[:at] + key_y[at + 1:] or below.values(x)[-1][j] != 0:
                    continue
                if any(neuron.value(x) > 0 for neuron in neurons):
                    yield x


def _formulas(known: PartialNetwork, zs: Sequence[int]) -> list[LayerNeuron]:
    """Last-layer neurons zs of `known` as formulas over the layers before (their unmeasured weights as set)."""
    below = PartialNetwork(known.n_in, known.layers[:-1])
    last = known.layers[-1]
    return [LayerNeuron(below, last.rows[z], last.bias[z]) for z in zs]


def _points_of_boundary(known: PartialNetwork, j: int, rng: random.Random, near: Sequence[Q] | None):
    """Points where layer-(L-1) neuron j's preactivation is 0, on random lines through boxes of half-width
    1..2^7, every other one around `near` (the knots of layers 1..L-1 on each line that are j's)."""
    below = PartialNetwork(known.n_in, known.layers[:-1])
    n = known.n_in
    for i in range(BOUNDARY_LINES):
        p, scale = search_point(n, i, rng, near)
        d = [fmpq(rng.randint(-1024, 1024), 1024) for _ in range(n)]
        for t in below.knots_on_line(p, d, fmpq(-8 * scale), fmpq(8 * scale))[1:-1]:
            x = [pi + t * di for pi, di in zip(p, d)]
            if below.values(x)[-1][j] == 0:
                yield x


def _bend_equations(ev: Evaluator, known: PartialNetwork, out_w: Sequence[Sequence[Q]], j: int, zs: Sequence[int],
                    p: list[Q]) -> list[tuple[list[Q], Q]] | None:
    """Per output o, one equation  sum_{z in zs active at p} U_oz W_zj = jump_o / |g|^2 - (the measured weights'
    part), from the output on p +- e g, p +- 2e g (g = grad h_j at p, e small enough that no other neuron
    changes sign); None where p is on another boundary, no z in zs is active, or the oracle has no kink at p."""
    room = room_at(known, p, skip=j, layer=-2)
    local = known.local_mats(p)
    pre, jh = local[-2]
    g = [jh[j, c] for c in range(known.n_in)]
    zl = local[-1][0]
    active = [z for z, v in enumerate(zl) if v > 0]
    if room == 0 or not any(g) or not any(z in active for z in zs):
        return None
    e = room / (4 * known.n_in * max_abs(g))
    ys = ev.points([[pi + s * e * gi for pi, gi in zip(p, g)] for s in (-2, -1, 1, 2)])
    if [2 * b - a for a, b in zip(ys[0], ys[1])] != [2 * a - b for a, b in zip(ys[2], ys[3])]:
        return None                      # the output is not continuous-with-a-kink at p: another boundary is near
    gg = dot(g, g)
    row_w = known.layers[-1].rows
    eqs = []
    for o, u in enumerate(out_w):
        jump = ((ys[3][o] - ys[2][o]) - (ys[1][o] - ys[0][o])) / (e * gg)
        measured = sum((u[z] * row_w[z][j] for z in active if z not in zs), fmpq(0))
        eqs.append(([u[z] if z in active else fmpq(0) for z in zs], jump - measured))
    return eqs


def weights_from_line_kinks(ev: Evaluator, known: PartialNetwork, out_w: Sequence[Sequence[Q]],
                            unmeasured: Sequence[tuple[int, int]], rng: random.Random,
                            near: dict[int, Sequence[Q]] | None = None) -> dict[tuple[int, int], Q]:
    """W_zj for the (z, j) in `unmeasured` found at kinks of B_z where j is on, on KINK_LINES random lines
    (through boxes of half-width 1..2^7, every other one around near[j] for one such j, each line through a
    point where some such j is on): at a kink x on no
    known boundary of layers < L with exactly one of z's unmeasured j on, W_zj = -z(x) / h_j(x) (z as known,
    that weight 0), kept if the output's slope jump at x is exactly U_.z |grad z(x) . d| with it."""
    below = PartialNetwork(known.n_in, known.layers[:-1])
    last = known.layers[-1]
    rows = {z: list(last.rows[z]) for z, _ in unmeasured}
    todo = set(unmeasured)
    for i in range(KINK_LINES):
        js = sorted({j for _, j in todo})
        found = _point_where_on(below, js, i, rng, (near or {}).get(rng.choice(js)))
        if found is None:
            continue
        p, scale = found
        d = [fmpq(rng.randint(-1024, 1024), 1024) for _ in range(known.n_in)]
        num, half = ev.arith.num, 8 * scale
        scan = points_on_line(ev, Line(tuple(map(num, p)), tuple(map(num, d))), num(-half), num(half), rng=rng)
        for kink in scan.kinks:
            x = [to_fmpq(v) for v in kink.x]
            values = below.values(x)
            if any(v == 0 for layer in values for v in layer):
                continue
            jump = [to_fmpq(r - l) for l, r in zip(kink.left.slope, kink.right.slope)]
            for z in sorted({z for z, _ in todo}):
                on = [j for z2, j in todo if z2 == z and values[-1][j] > 0]
                if len(on) != 1:
                    continue
                j = on[0]
                w = -LayerNeuron(below, rows[z], last.bias[z]).value(x) / values[-1][j]
                row = [w if c == j else v for c, v in enumerate(rows[z])]
                _, g = LayerNeuron(below, row, last.bias[z]).value_grad(x)
                slope = abs(dot(g, d))
                if w != 0 and slope != 0 and jump == [u[z] * slope for u in out_w]:
                    rows[z] = row
                    todo.discard((z, j))
        if not todo:
            break
    return {(z, j): rows[z][j] for z, j in unmeasured if (z, j) not in todo}


def _point_where_on(below: PartialNetwork, js: Sequence[int], i: int, rng: random.Random,
                    near: Sequence[Q] | None, tries: int = 64) -> tuple[list[Q], Q] | None:
    """(p, scale): a point of the i-th search box (see deeper_layers.search_point) where some neuron in js
    (last layer of `below`) is on."""
    for _ in range(tries):
        p, scale = search_point(below.n_in, i, rng, near)
        if any(below.values(p)[-1][j] > 0 for j in js):
            return p, scale
    return None

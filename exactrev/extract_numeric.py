"""`extract` past the first layer for rounding oracles (mpmath, float): layers 2.. by
exactrev.deeper_layers_numeric, then the output layer by least squares, each with its measured residual.

The exact pipeline (rounds, verification lines, confirmation far from the walks) proves what it returns; here
every answer is an estimate whose quality is measured instead: each layer reports the largest relative residual
of its fit to the oracle's measurements, and the output layer the largest relative difference between the
recovered network and the oracle at check points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .arith import max_abs
from .deeper_layers_numeric import (KnownLayers, LayerFit, NumLayer, NumWalk, NumericWalker, confirms, fit_layer, lstsq,
                                    num_array)
from .first_layer import LINE_HALF_LENGTH, BoundaryPoint, FirstLayerSearch
from .geometry import Line, geometric_grid, points_on_line

Num = Any
MAX_HIDDEN_LAYERS = 12
MAX_ROUNDS = 8               # rounds of fresh lines per layer, ending after STALL_ROUNDS in a row add no neuron
STALL_ROUNDS = 2
MAX_OUTPUT_ROUNDS = 6        # rounds of the whole deeper extraction while the output fit misses the oracle
POLISH_MAX_PARAMS = 3000     # float mode polishes networks up to this many parameters (its Jacobian is dense) ...
POLISH_EXTRA_POINTS = 64     # ... at 2 points per parameter and output, plus these
POLISH_STEPS = 6
ROUND_LINES = 4              # fresh lines scanned per round
CHECK_POINTS = 256           # random points where the output fit is checked, in boxes of half-width 2 to 64 (a neuron
                             # active only far out is seen only there; with 64, two of 20 float runs were "complete"
                             # without a layer-2 neuron on at about 2% of far points)
SIGN_TOLERANCE = 2 ** -10    # |a_oz| and |b_oz| of the output fit must agree this closely (relative) to give a sign


@dataclass
class NumericResult:
    """Hidden layers after layer 1 and the output layer as estimated, per-layer (neurons, queries, residual)."""

    layers: list[NumLayer]
    output: tuple[list[list[Num]], list[Num]] | None = None
    stats: list[tuple[int, int, float]] = field(default_factory=list)
    unidentified: list[dict] = field(default_factory=list)


class NumericLayers:
    """Layers 2.. and the output of the network behind a rounding oracle (see the module doc)."""

    def __init__(self, search: FirstLayerSearch, layer1: NumLayer, anchors1: list) -> None:
        self.search, self.ev, self.rng, self.ar = search, search.ev, search.rng, search.ev.arith
        self.n_in, self.n_out = self.ev.oracle.input_dim, self.ev.oracle.output_dim
        self.layer1 = layer1
        self.anchors1 = [(num_array(list(x), self.ar), num_array(list(g), self.ar)) for x, g in anchors1]
        self.walks: dict[tuple, NumWalk] = {}          # by known layers and starting point: later rounds re-use them
        self.found: list[BoundaryPoint] = []          # boundary points of fresh lines, for the rounds after
        self.misfits: list[np.ndarray] = []           # check points where the output fit missed the oracle
        self.result = NumericResult([layer1])

    def run(self, points: Sequence[BoundaryPoint]) -> NumericResult:
        """Rounds of: walk the unexplained boundary points layer by layer, then solve the output layer.  Where the
        output fit misses the oracle (a neuron no walk found), the kinks on a line through that point join the
        points of the next round (up to MAX_OUTPUT_ROUNDS)."""
        points, start = list(points), self.ev.queries
        for _ in range(MAX_OUTPUT_ROUNDS):
            self.result = NumericResult([NumLayer([list(r) for r in self.layer1.rows], list(self.layer1.bias))])
            self.anchors, self.found, self.misfits = list(self.anchors1), [], []
            self.hidden_layers(list(points))
            if self.ar.mode == "float" and self.result.output is not None and not self.misfits:
                self.polish()
            extra = self.found + [bp for x in self.misfits[:1] for bp in self.boundary_points(self.line_through(x))]
            if not self.misfits or not extra:
                break
            points += extra
        stats = self.result.stats
        if stats:                      # queries of the rounds before the last are charged to the last line
            n, q, err = stats[-1]
            stats[-1] = (n, q + self.ev.queries - start - sum(s[1] for s in stats), err)
        return self.result

    def hidden_layers(self, pending: list[BoundaryPoint]) -> None:
        """Layers 2.. from the pending points, then the output layer."""
        for _ in range(MAX_HIDDEN_LAYERS):
            known = KnownLayers(self.n_in, self.result.layers, self.ar)
            pending = [bp for bp in pending if not known.on_known_boundary(bp.x)]
            if not pending:
                break
            pending = self.next_layer(known, pending)
            if pending is None:
                return
        self.solve_output()

    def walk(self, walker: NumericWalker, bp: BoundaryPoint) -> NumWalk:
        """The walk from bp, remembered for later rounds (same known layers, same point: same walk)."""
        key = (tuple(tuple(row) + (b,) for layer in walker.known.layers for row, b in zip(layer.rows, layer.bias)),
               tuple(bp.x))
        if key not in self.walks:
            self.walks[key] = walker.walk(bp.x, bp.normal)
        return self.walks[key]

    def next_layer(self, known: KnownLayers, pending: list[BoundaryPoint]) -> list[BoundaryPoint] | None:
        """Layer k from walks of the pending points, then of kinks on fresh lines that the layer so far does not
        explain, round after round while a round adds neurons; returns the points it leaves for layer k+1 (None:
        cannot go on)."""
        k = len(self.result.layers) + 1
        start = self.ev.queries
        walker = NumericWalker(self.ev, known, self.rng)
        walks: list[NumWalk] = []
        todo, seen, fit, size, stalled = list(pending), list(pending), None, 0, 0
        for _ in range(MAX_ROUNDS):
            draft = fit                  # points on its boundaries are not walked
            for bp in todo:
                if any(_on_walk(known, w, bp) for w in walks) or (draft is not None and
                                                                  draft.explains(known, bp.x, bp.normal)):
                    continue
                w = self.walk(walker, bp)
                if w.status == "layer":
                    walks.append(w)
                    draft = fit_layer(known, walks, k, precise=False)
            fit = self.confirmed_fit(known, walks, k)
            stalled = stalled + 1 if fit is not None and len(fit.rows) <= size else 0
            if fit is None or stalled >= STALL_ROUNDS:
                break
            size = len(fit.rows)
            todo = self.fresh_points(known, fit)
            seen += todo
            self.found += todo
        if fit is None:
            self.result.unidentified.append({"layer": k, "neuron": None, "reason": f"{len(pending)} boundary points "
                                             f"could not be explained by a layer-{k} neuron (no walk fits one)"})
            return None
        self.result.layers[-1] = _signed(self.result.layers[-1], fit.signs)
        for j, t in enumerate(fit.signs):
            if t is None:
                self.result.unidentified.append({"layer": k - 1, "neuron": j, "reason": "sign not determined by "
                                                 f"layer {k} (no layer-{k} walk crossed its boundary); kept as found"})
        keep = self.distinct(fit)
        self.result.layers.append(NumLayer([list(fit.rows[i]) for i in keep], [fit.bias[i] for i in keep]))
        self.anchors = [fit.walks[i].anchors[0] for i in keep]
        self.result.unidentified += [{"layer": k, "neuron": z, "reason": fit.notes[i][j]}
                                     for z, i in enumerate(keep) for j in sorted(fit.notes[i])]
        self.result.stats.append((len(keep), self.ev.queries - start, fit.residual))
        after = KnownLayers(self.n_in, self.result.layers, self.ar)
        return [bp for bp in seen if not after.on_known_boundary(bp.x)]

    def confirmed_fit(self, known: KnownLayers, walks: list[NumWalk], k: int) -> LayerFit | None:
        """fit_layer, then without the walks whose neuron does not predict its boundary far away (confirms)."""
        walks = list(walks)
        while walks:
            fit = fit_layer(known, walks, k)
            if fit is None:
                return None
            fixed = KnownLayers(self.n_in, self.result.layers[:-1] + [_signed(self.result.layers[-1], fit.signs)],
                                self.ar)
            self.measure_unseen(fixed, fit)
            bad = {id(w) for w, row, b, note in zip(fit.walks, fit.rows, fit.bias, fit.notes)
                   if not confirms(self.ev, fixed, row, b, self.rng, sorted(note), near=w.anchors[0][0],
                                   visited=frozenset(fixed.region_key(x) for x, _ in w.anchors))}
            if not bad:
                return fit
            walks = [w for w in fit.walks if id(w) not in bad]
        return None

    def measure_unseen(self, fixed: KnownLayers, fit: LayerFit) -> None:
        """Weights the walks never saw (0 and noted), measured where each neuron's formula predicts B_z to meet
        B_j (NumericWalker.weight_at_meeting); the fit's rows and notes are updated in place."""
        walker = NumericWalker(self.ev, fixed, self.rng)
        for row, b, note in zip(fit.rows, fit.bias, fit.notes):
            for j in sorted(note):
                w = walker.weight_at_meeting(row, b, j, sorted(note))
                if w is not None:
                    row[j] = w
                    del note[j]

    def fresh_points(self, known: KnownLayers, fit: LayerFit) -> list[BoundaryPoint]:
        """Boundary points (local planes measured) of kinks on ROUND_LINES fresh lines that lie on no known
        boundary and that the fitted layer does not explain."""
        out = []
        for i in range(ROUND_LINES):
            base = self.search.random_line()
            line = Line(tuple(2 ** (i % 4) * v for v in base.p), base.d)   # through points up to 8 units out
            out += [bp for bp in self.boundary_points(line, known) if not fit.explains(known, bp.x, bp.normal)]
        return out

    def boundary_points(self, line: Line, known: KnownLayers | None = None) -> list[BoundaryPoint]:
        """Boundary points (local planes measured) of the kinks along the line that lie on no boundary of `known`."""
        half = self.ar.num(LINE_HALF_LENGTH)
        scan = points_on_line(self.ev, line, -half, half, grid=geometric_grid(half, self.ar), rng=self.rng)
        todo = [i for i, kink in enumerate(scan.kinks) if known is None or not known.on_known_boundary(kink.x)]
        return self.search.boundary_points(scan, todo)

    def line_through(self, x: np.ndarray) -> Line:
        """A line through x in a random direction."""
        return Line(tuple(x), self.search.random_line().d)

    def distinct(self, fit: LayerFit) -> list[int]:
        """Indices of one neuron per boundary, the most complete first: two walks of one neuron give proportional
        rows and biases (any sign) wherever both determined the weight."""
        kept: list[int] = []
        for i in sorted(range(len(fit.rows)), key=lambda i: len(fit.notes[i])):
            if not any(self.same_neuron(fit, i, j) for j in kept):
                kept.append(i)
        return sorted(kept)

    def same_neuron(self, fit: LayerFit, i: int, j: int) -> bool:
        """Rows i and j of the fit are proportional (bias included) on the weights both determined."""
        shared = [c for c in range(len(fit.rows[i])) if c not in fit.notes[i] and c not in fit.notes[j]]
        a = num_array([fit.rows[i][c] for c in shared] + [fit.bias[i]], self.ar)
        b = num_array([fit.rows[j][c] for c in shared] + [fit.bias[j]], self.ar)
        k = max(range(len(b)), key=lambda c: abs(b[c]))
        return len(shared) >= 1 and b[k] != 0 and max_abs(a - (a[k] / b[k]) * b) <= self.ar.loose * max_abs(a)

    # ------------------------------------------------------------------ output layer
    def solve_output(self) -> None:
        """y_o = sum_z a_oz h_z + b_oz |h_z| + c_o by least squares on points on both sides of every last-layer
        boundary and random points; a_oz = tau_z b_oz gives the last layer's signs tau, the output weights are
        2 b_oz.  The fit's largest relative difference from the oracle at CHECK_POINTS more points is measured."""
        known = KnownLayers(self.n_in, self.result.layers, self.ar)
        last = self.result.layers[-1]
        width = len(last.rows)
        pts = []
        for x, g in self.anchors:
            step = self.ar.num(1) / 8 / max_abs(g)
            pts += [x + step * g, x - step * g]
        while len(pts) < 2 * width + 1 + CHECK_POINTS:
            pts.append(self.random_point())
        check = [self.random_point(2 ** (i % 6)) for i in range(CHECK_POINTS)]
        start = self.ev.queries
        ys = self.ev.points([list(p) for p in pts + check])
        feats = [self.features(known, x) for x in pts + check]
        sols = [lstsq(feats[:len(pts)], [y[o] for y in ys[:len(pts)]], self.ar) for o in range(self.n_out)]
        residual = max(self.misfit(feat, sol, y[o]) for feat, y in zip(feats, ys) for o, sol in enumerate(sols))
        self.result.stats.append((self.n_out, self.ev.queries - start, residual))
        self.result.output = ([[2 * sol[width + z] for z in range(width)] for sol in sols], [sol[-1] for sol in sols])
        self.misfits = [x for x, feat, y in zip(pts + check, feats, ys)
                        if any(self.misfit(feat, sol, y[o]) > self.ar.loose for o, sol in enumerate(sols))]
        if residual > self.ar.loose:
            self.result.unidentified.append({"layer": len(self.result.layers) + 1, "neuron": None, "reason":
                                             "output is not an affine function of relu of the last hidden layer "
                                             f"(missing neurons or layers): relative misfit {residual:.1e}"})
            return
        size = max_abs(num_array([y for sol in sols for y in sol], self.ar))
        signs = []
        for z in range(width):
            big = max(range(self.n_out), key=lambda o: abs(sols[o][width + z]))
            a, b = sols[big][z], sols[big][width + z]
            reason = None
            if abs(b) <= self.ar.loose * size:
                reason = "no effect on the output: sign not determined, kept as found"
            elif abs(abs(a) - abs(b)) > SIGN_TOLERANCE * abs(b):
                reason = ("the output depends on this neuron as no ReLU does (its coefficients on h and |h| differ "
                          "in size: a leaky or other piecewise linear activation?); sign kept as found")
            if reason is not None:
                self.result.unidentified.append({"layer": len(self.result.layers), "neuron": z, "reason": reason})
            signs.append(-1 if reason is None and a * b < 0 else 1)
        self.result.layers[-1] = _signed(last, signs)

    def polish(self) -> None:
        """Float mode: Gauss-Newton on every parameter at once against the oracle at random points away from the
        boundaries (each layer's walks measured it alone, so errors add up layer by layer); kept only if the largest
        relative misfit at fresh check points goes down, which is then the output layer's reported error."""
        hidden = [(np.array(layer.rows, dtype=float), np.array(layer.bias, dtype=float))
                  for layer in self.result.layers]
        params = hidden + [(np.array(self.result.output[0], dtype=float), np.array(self.result.output[1], dtype=float))]
        size = sum(W.size + b.size for W, b in params)
        if size > POLISH_MAX_PARAMS:
            return
        count = 2 * size // self.n_out + POLISH_EXTRA_POINTS
        xs = [self.random_point() for _ in range(count)]
        xs += [self.random_point(2 ** (i % 6)) for i in range(CHECK_POINTS)]
        ys = np.array(self.ev.points([list(x) for x in xs]), dtype=float)
        X = np.array(xs, dtype=float)
        fit_x, fit_y, check_x, check_y = X[:count], ys[:count], X[count:], ys[count:]
        before = _misfit(params, check_x, check_y)
        theta = _flatten(params)
        for _ in range(POLISH_STEPS):
            current = _unflatten(theta, params)
            stable = _away_from_boundaries(current, fit_x)
            r, J = _residual_jacobian(current, fit_x[stable], fit_y[stable])
            step = np.linalg.lstsq(J, -r, rcond=None)[0]
            if not np.all(np.isfinite(step)):
                break
            theta = theta + step
            if np.abs(step).max() <= 1e-15 * np.abs(theta).max():
                break
        polished = _unflatten(theta, params)
        after = _misfit(polished, check_x, check_y)
        if after < before:
            for layer, (W, b) in zip(self.result.layers, polished):
                layer.rows, layer.bias = W.tolist(), b.tolist()
            self.result.output = (polished[-1][0].tolist(), polished[-1][1].tolist())
            n, q, _ = self.result.stats[-1]
            self.result.stats[-1] = (n, q + len(xs), after)

    def misfit(self, feat: Sequence[Num], sol: Sequence[Num], y: Num) -> float:
        """Relative difference between the output fit and the oracle's answer y at one point."""
        return float(abs(sum((f * c for f, c in zip(feat, sol)), self.ar.num(0)) - y) / (1 + abs(y)))

    def features(self, known: KnownLayers, x: np.ndarray) -> list[Num]:
        h = known.local(x)[-1][0]
        return list(h) + [abs(v) for v in h] + [self.ar.num(1)]

    def random_point(self, scale: int = 1) -> np.ndarray:
        """A random dyadic point in the box of half-width 2 * scale."""
        return num_array([self.ar.num(self.rng.randint(-512, 512)) / 256 * scale for _ in range(self.n_in)], self.ar)


def _forward(params: list, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Outputs, hidden preactivations and activations (input first) of the float network at the rows of X."""
    acts, pres, a = [X], [], X
    for W, b in params[:-1]:
        z = a @ W.T + b
        pres.append(z)
        a = np.maximum(z, 0)
        acts.append(a)
    W, b = params[-1]
    return a @ W.T + b, pres, acts


def _residual_jacobian(params: list, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residuals N(x) - y (point-major, outputs inner) and their Jacobian in the flattened parameters."""
    out, pres, acts = _forward(params, X)
    n_out = out.shape[1]
    blocks = []
    for o in range(n_out):
        grads = []
        delta = np.tile(params[-1][0][o], (X.shape[0], 1))          # d out_o / d last activations
        for layer in range(len(params) - 2, -1, -1):
            g = delta * (pres[layer] > 0)
            grads.append((g[:, :, None] * acts[layer][:, None, :], g))
            delta = g @ params[layer][0]
        gW = np.zeros((X.shape[0],) + params[-1][0].shape)
        gW[:, o, :] = acts[-1]
        gb = np.zeros((X.shape[0], n_out))
        gb[:, o] = 1
        parts = [p for gw, gbias in reversed(grads) for p in (gw.reshape(X.shape[0], -1), gbias)]
        blocks.append(np.hstack(parts + [gW.reshape(X.shape[0], -1), gb]))
    J = np.stack(blocks, axis=1).reshape(X.shape[0] * n_out, -1)
    return (out - Y).reshape(-1), J


def _away_from_boundaries(params: list, X: np.ndarray) -> np.ndarray:
    """Rows of X where no hidden preactivation is within 1e-6 (relative) of 0: small parameter changes keep their
    activation pattern, so the network is smooth in the parameters there."""
    _, pres, acts = _forward(params, X)
    keep = np.ones(X.shape[0], dtype=bool)
    for (W, b), z, a in zip(params, pres, acts):
        scale = np.abs(a) @ np.abs(W).T + np.abs(b) + 1e-300
        keep &= (np.abs(z) / scale).min(axis=1) > 1e-6
    return keep


def _misfit(params: list, X: np.ndarray, Y: np.ndarray) -> float:
    """Largest relative difference between the float network and the oracle's answers."""
    return float((np.abs(_forward(params, X)[0] - Y) / (1 + np.abs(Y))).max())


def _flatten(params: list) -> np.ndarray:
    return np.concatenate([p.reshape(-1) for W, b in params for p in (W, b)])


def _unflatten(theta: np.ndarray, like: list) -> list:
    out, i = [], 0
    for W, b in like:
        out.append((theta[i:i + W.size].reshape(W.shape), theta[i + W.size:i + W.size + b.size]))
        i += W.size + b.size
    return out


def _signed(layer: NumLayer, signs: Sequence[int | None]) -> NumLayer:
    """The layer with every neuron whose sign is -1 negated (h_j -> -h_j)."""
    flip = [-1 if t == -1 else 1 for t in signs]
    return NumLayer([[f * v for v in row] for f, row in zip(flip, layer.rows)],
                    [f * b for f, b in zip(flip, layer.bias)])


def _on_walk(known: KnownLayers, walk: NumWalk, bp: BoundaryPoint) -> bool:
    """bp lies on one of the walk's local planes, in the same region of the known layers (to the loose tolerance)."""
    ar = known.ar
    x = num_array(list(bp.x), ar)
    key = known.region_key(x)
    for ax, G in walk.anchors:
        if known.region_key(ax) == key and abs(G @ (x - ax)) <= ar.loose * max_abs(G) * (1 + max_abs(x - ax)):
            return True
    return False

"""Compare a recovered network with its (known) target, as the paper's figures do.

Used only by benchmarks, notebooks and tests, which know the target; extraction never does.
Neurons are matched layer by layer after scaling each to max-abs 1 (an optimal assignment on
float distances proposes the matching); errors are the paper's normalised errors
||W_hat - W|| / ||W_hat|| per layer, exactly 0 when the layers agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from .canonical import canonical_form
from .network import Network
from .numbers import to_fraction

Hyperplane = tuple[Sequence[Fraction], Fraction]


@dataclass
class LayerError:
    """Normalised weight and bias errors of one layer (None where the widths differ)."""

    layer: int
    weight: float | None
    bias: float | None

    @property
    def log10(self) -> float | None:
        """log10 of the larger of the two errors (-inf when exact)."""
        if self.weight is None or self.bias is None:
            return None
        worst = max(self.weight, self.bias)
        return -math.inf if worst == 0 else math.log10(worst)


def _normalised(row: Sequence, bias) -> list[Fraction]:
    """The row and bias as exact Fractions scaled to max-abs 1 (mpmath values read exactly, not at 15 digits)."""
    row, bias = [to_fraction(v) for v in row], to_fraction(bias)
    scale = max(max(abs(v) for v in row), abs(bias))
    return [v / scale for v in (*row, bias)] if scale else [Fraction(0)] * (len(row) + 1)


def _match(recovered: list[list[Fraction]], target: list[list[Fraction]], allow_sign: bool) -> list[tuple[int, int, int]]:
    """Optimal assignment of recovered rows to target rows: (recovered index, target index, sign)."""
    r = np.array([[float(v) for v in row] for row in recovered])
    t = np.array([[float(v) for v in row] for row in target])
    cost = np.linalg.norm(r[:, None, :] - t[None, :, :], axis=2)
    signs = np.ones_like(cost)
    if allow_sign:
        flipped = np.linalg.norm(-r[:, None, :] - t[None, :, :], axis=2)
        signs = np.where(flipped < cost, -1.0, 1.0)
        cost = np.minimum(cost, flipped)
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j), int(signs[i, j])) for i, j in zip(rows, cols)]


def _relative(diff: list[Fraction], ref: list[Fraction]) -> float:
    num = sum(v * v for v in diff)
    den = sum(v * v for v in ref)
    if num == 0:
        return 0.0
    return math.sqrt(float(num / den)) if den else math.inf


def hyperplane_error(found: Sequence[Hyperplane], target: Network) -> LayerError:
    """Error of recovered first-layer hyperplanes (up to order, scale and sign) against the target's layer 1."""
    rec = [_normalised(w, b) for w, b in found]
    tgt = [_normalised(w, b) for w, b in zip(target.weights[0], target.biases[0])]
    if len(rec) != len(tgt) or not rec:
        return LayerError(1, None, None)
    pairs = _match(rec, tgt, allow_sign=True)
    n = len(tgt[0]) - 1
    dw, db, rw, rb = [], [], [], []
    for i, j, s in pairs:
        dw += [s * rec[i][c] - tgt[j][c] for c in range(n)]
        db.append(s * rec[i][n] - tgt[j][n])
        rw += rec[i][:n]
        rb.append(rec[i][n])
    return LayerError(1, _relative(dw, rw), _relative(db, rb))


def layer_errors(recovered: Network, target: Network) -> list[LayerError]:
    """Per-layer normalised errors after matching neurons (permutation and scaling removed)."""
    rec, tgt = canonical_form(recovered), canonical_form(target)
    out: list[LayerError] = []
    perm: list[int] | None = list(range(rec.input_dim)) if rec.input_dim == tgt.input_dim else None
    for k, (rw, rb, tw, tb) in enumerate(zip(rec.weights, rec.biases, tgt.weights, tgt.biases)):
        if perm is None or len(rw) != len(tw) or len(perm) != len(tw[0]):
            out.append(LayerError(k + 1, None, None))
            perm = None
            continue
        rows = [[row[c] for c in perm] for row in rw]       # recovered columns in target order
        last = k == len(rec.weights) - 1
        if last:
            order = list(range(len(tw)))                     # the output layer is never permuted
        else:
            pairs = sorted(_match([_normalised(r, b) for r, b in zip(rows, rb)],
                                  [_normalised(r, b) for r, b in zip(tw, tb)], allow_sign=False), key=lambda p: p[1])
            order = [i for i, _, _ in pairs]
        dw = [rows[i][c] - tw[j][c] for j, i in enumerate(order) for c in range(len(tw[0]))]
        db = [rb[i] - tb[j] for j, i in enumerate(order)]
        out.append(LayerError(k + 1, _relative(dw, [v for i in order for v in rows[i]]),
                              _relative(db, [rb[i] for i in order])))
        perm = order
    return out

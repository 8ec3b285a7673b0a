"""The output layer's fit where last-layer weights are unmeasured, by the two cases of each (exact mode).

A walk along B_z that never meets B_j (j in layer L-1, neuron j off all along B_z: section 5.2 case 1 or 2) leaves
W_zj unmeasured, and the output's fit is then made only where j is off (there z is as known).  A neuron z'
that changes sign only where such a j is on leaves its |h_z'| column undetermined there.  If B_z stays where
j is off, z has one sign on all of {h_j > 0}: either off there (W_zj matters nowhere), or on, and then
relu(tau h_z) = tau (h_z + W_zj h_j) with h_z as known (the weight at 0).  Under one such case per pair, the
output at every point is linear in the unknowns: with relu(tau h) = (tau h + |h|)/2, y_o = c_o + the sum
over z of

    a_oz h_z + b_oz |h_z|             where none of z's unmeasured weights' j is on (z as known),
    0                                 where the j of one of its "off" pairs is on,
    2 a_oz h_z + sum_j V_ozj h_j      where only the j of its "on" pairs are on (V_ozj = 2 a_oz W_zj),

(a_oz = b_oz tau_z), so points where j is on enter the fit too.  A wrong case leaves the exact system
inconsistent (or the output weights undetermined); the first case assignment that fits gives b, then the signs
tau (exactrev.signs) and W_zj = V_ozj / (2 b_oz tau_z), the same for every output o, or it stays unmeasured.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from flint import fmpq

Q = Any
MAX_CASE_PAIRS = 6             # unmeasured pairs whose 2^n case assignments are tried
OFF_FACTOR = 16                # an "off" pair's weight is at least this times its row's largest (off_weight)


@dataclass
class OutputCases:
    """One case per unmeasured last-layer weight W_zj: `on[(z, j)]` True if z is on wherever j is on, False if
    off there; None for the plain fit (every point as known)."""

    width: int
    pairs: list[tuple[int, int]]
    on: dict[tuple[int, int], bool] | None = None

    @property
    def on_pairs(self) -> list[tuple[int, int]]:
        """The pairs of the case "on", each with a column V_zj of its own after the 2 width + 1 of the fit."""
        return [p for p in self.pairs if self.on and self.on[p]]

    @property
    def columns(self) -> int:
        return 2 * self.width + 1 + len(self.on_pairs)

    def mode(self, z: int, prev: Sequence[Q]) -> str | list[int]:
        """How z enters at a point where layer L-1's values are `prev`: "plain" (as known), "off", or the j of
        its "on" pairs that are on there."""
        if self.on is None:
            return "plain"
        js = [j for z2, j in self.pairs if z2 == z and prev[j] > 0]
        if not js:
            return "plain"
        return "off" if any(not self.on[(z, j)] for j in js) else js

    def features(self, h: Sequence[Q], prev: Sequence[Q]) -> list[Q]:
        """The row of the fit at a point (h: the last layer's values as known): columns a, b, c, V."""
        w, on_pairs = self.width, self.on_pairs
        row = [fmpq(0)] * self.columns
        row[2 * w] = fmpq(1)
        for z in range(w):
            mode = self.mode(z, prev)
            if mode == "plain":
                row[z], row[w + z] = h[z], abs(h[z])
            elif mode != "off":
                row[z] = 2 * h[z]
                for j in mode:
                    row[2 * w + 1 + on_pairs.index((z, j))] = prev[j]
        return row

    def one_signed(self, local: Sequence[tuple[Sequence[Q], Sequence[Q]]]) -> set[int]:
        """The z never "on" at these points (each as (h, prev), see features) and of one strict sign s wherever
        plain: there |h_z| = s h_z, so the fit cannot tell b_z from a_z.  But U_z relu(tau_z h_z) =
        b_z (tau_z h_z + |h_z|) is 2 b_z |h_z| there if tau_z = s and 0 if not: the fit drops z's column a, its
        |h_z| column's coefficient is 2 b_z, and the sign solve then gives tau_z = s (if b_z != 0).  Exact,
        though z was never seen with the other sign."""
        signs: dict[int, set[bool | None]] = {z: set() for z in range(self.width)}
        for h, prev in local:
            for z in range(self.width):
                mode = self.mode(z, prev)
                if mode == "plain":
                    signs[z].add(h[z] > 0 if h[z] != 0 else None)
                elif mode != "off":
                    signs[z].add(None)
        return {z for z, seen in signs.items() if len(seen) == 1 and None not in seen}

    def sign_terms(self, h: Sequence[Q], prev: Sequence[Q], b: Sequence[Q], v: Sequence[Q]) -> tuple[list[Q], Q]:
        """(coefficients of tau_z, the part of y_o known from b and V) at a point, for the sign solve."""
        coeffs, known = [], fmpq(0)
        on_pairs = self.on_pairs
        for z in range(self.width):
            mode = self.mode(z, prev)
            if mode == "plain":
                coeffs.append(b[z] * h[z])
                known += b[z] * abs(h[z])
            elif mode == "off":
                coeffs.append(fmpq(0))
            else:
                coeffs.append(2 * b[z] * h[z])
                known += sum((v[on_pairs.index((z, j))] * prev[j] for j in mode), fmpq(0))
        return coeffs, known


def case_assignments(width: int, pairs: Sequence[tuple[int, int]]) -> Iterator[OutputCases]:
    """Every assignment of the cases to the pairs (at most MAX_CASE_PAIRS), more pairs "on" first."""
    pairs = sorted(pairs)
    if len(pairs) > MAX_CASE_PAIRS:
        return
    for bits in sorted(itertools.product((True, False), repeat=len(pairs)), key=lambda bs: -sum(bs)):
        yield OutputCases(width, list(pairs), dict(zip(pairs, bits)))


def weights_from_cases(cases: OutputCases, beta: Sequence[Sequence[Q]], vs: Sequence[Sequence[Q]],
                       signs: Sequence[int | None], loose: set[int]) -> dict[tuple[int, int], Q]:
    """W_zj = V_ozj / (2 b_oz tau_z) of the "on" pairs whose column V the fit determines (not in `loose`),
    where every output with b_oz != 0 gives the same value (and tau_z is known)."""
    found = {}
    for i, (z, j) in enumerate(cases.on_pairs):
        if signs[z] is None or 2 * cases.width + 1 + i in loose:
            continue
        values = {v[i] / (2 * b[z] * signs[z]) for b, v in zip(beta, vs) if b[z] != 0}
        if len(values) == 1:
            found[(z, j)] = values.pop()
    return found


def off_weight(points: Sequence[tuple[Q, Q]], sign: int, row: Sequence[Q]) -> Q:
    """A weight for an "off" pair's W_zj that keeps z off where j is on: at the given points, each as (h_z as
    known, h_j), minus a power of 2 past the largest tau h_z / h_j, and in any case at least OFF_FACTOR times
    the row's largest weight (a ratio of weights within a neuron seldom exceeds that; points where the 0
    weight leaves z on may lie where none was sampled)."""
    worst = max([sign * hz / hj for hz, hj in points] + [max(abs(v) for v in row) * OFF_FACTOR])
    return -sign * fmpq(2) ** (_bits(worst) + 1)


def _bits(x: Q) -> int:
    """An integer e with x < 2^e (x > 0)."""
    return max(0, x.p.bit_length() - x.q.bit_length() + 1)

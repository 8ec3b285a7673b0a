"""`check_oracle`: a cheap test that a black box is a fixed, piecewise linear function before extraction
relies on it, so that a smooth, noisy, quantised or non-deterministic oracle is named as such.

At a random point x and direction d, a piecewise linear f has f(x - h d), f(x), f(x + h d) on one line, of
one slope, for every h smaller than the distance from x to the nearest kink.  A point is "linear" when that
holds (and f is not constant there) at several successive h, "flat" when f is constant there (a dead
ReLU region or a saturated smooth unit: proves nothing), and "curved" otherwise.  The oracle is refused
when half the points (at least two) are curved and none is linear; a genuine network is curved at a
random point only if a kink lies within the largest h of it.  Exact mode compares exactly at h = 2^-34 .. 2^-40, all of which must
agree (rounded values of a smooth function are collinear now and then; smaller h would let a black box
that rounds its inputs to float64 see three equal inputs).  With rounding, values are compared with the
tolerance of exactrev.arith (the one extraction uses) at h = 2^-2 .. 2^-10, two successive h sufficing:
at smaller h rounding hides the curvature of smooth functions.

When no point is linear but two flat points have different values, the segment between them is bisected
(JUMP_HALVINGS times, fewer with rounding: keeping the half whose ends differ more): for a continuous
function the difference shrinks with the interval, for outputs quantised on a grid it stays one grid step.
The oracle is refused when the difference did not shrink over the last JUMP_STEADY halvings: a genuine
network would need a slope of at least difference * 2^halvings / (segment length) there.

`OracleCheck` keeps the points and their first answers: `ask_again` repeats them later, so that answers
that change after the check are named too (extract asks one every 1000 queries and all at its end).

Not detected: noise below the tolerance, piecewise linear impostors (leaky ReLU, max-pooling: extraction's
exact solves refuse those), and changes between calls that `ask_again` does not see.  Refused wrongly: a
network that is flat at every point but rises steeper than the slope above (see the tests).
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import mpmath

from .arith import Arith, max_abs
from .errors import OracleError
from .oracle import Oracle

EXACT_SCALES = (34, 36, 38, 40)            # h = 2^-34 .. 2^-40, all collinear with one slope
ROUNDED_SCALES = tuple(range(2, 11, 2))    # h = 2^-2 .. 2^-10
JUMP_HALVINGS = 48
JUMP_STEADY = 16
SLOPE_STEP_BITS = 10                       # `noise` is the error of a slope over a step of 2^-10 (extraction's
                                           # Jacobian checks step 2^-3 .. 2^-10 in a region of unit reach)


def check_oracle(oracle: Oracle, *, seed: int = 0, points: int = 4) -> int:
    """Raise OracleError if `oracle` answers a repeated query differently or is not piecewise linear at any
    of `points` random points (see the module doc); returns the number of queries used."""
    return OracleCheck(oracle, seed=seed, points=points).run()


class OracleCheck:
    """check_oracle's probe of one oracle: its random points, their first answers (for `ask_again`) and
    `noise`: at the linear points, the relative error that the second differences seen there (zero for exact
    values; with rounding, its size) give a slope measured over a step of 2^-SLOPE_STEP_BITS (None if no point
    is linear).  Extraction compares it with its tolerance to say when the precision is too low."""

    def __init__(self, oracle: Oracle, *, seed: int = 0, points: int = 4) -> None:
        self.oracle = oracle
        self.ar = Arith(oracle.arithmetic, oracle.dps)
        rng = random.Random(f"check_oracle:{seed}")
        n = oracle.input_dim
        with mpmath.workdps(oracle.dps):
            self.xs = [[self.ar.num(rng.randint(-4096, 4096)) / 1024 for _ in range(n)] for _ in range(points)]
            self.ds = [[self.ar.num(rng.randint(-1024, 1024) or 1) / 1024 for _ in range(n)] for _ in range(points)]
        self.answers: list[list] = []
        self.answered_at = 0       # the oracle's query count when the points were first answered
        self.noise: Any = None

    def run(self) -> int:
        """The check (raises OracleError on a fault); returns the number of queries used."""
        with mpmath.workdps(self.oracle.dps):
            start = self.oracle.queries
            self.answered_at = start
            self.answers = self.oracle.batch(self.xs)
            self.compare(self.oracle.batch(self.xs), "twice with different outputs", range(len(self.xs)))
            self.shape()
            return self.oracle.queries - start

    def ask_again(self, indices: Sequence[int] | None = None) -> None:
        """Ask the checked queries `indices` (default all) again; OracleError if an answer changed since."""
        chosen = range(len(self.answers)) if indices is None else indices
        if not chosen:
            return
        with mpmath.workdps(self.oracle.dps):
            again = self.oracle.batch([self.xs[i] for i in chosen])
            later = self.oracle.queries - len(chosen) - self.answered_at
            self.compare(again, f"again {later} queries later with different outputs", chosen)

    def compare(self, again: Sequence[Sequence[Any]], when: str, indices: Sequence[int]) -> None:
        for i, y in zip(indices, again):
            if not self.ar.close_vec(self.answers[i], y):
                raise OracleError(f"the oracle answered the same query {when} (query at {_show(self.xs[i])}: "
                                  f"{_show(self.answers[i])} then {_show(y)}): its answers changed between calls, "
                                  "it is not a fixed function")

    def shape(self) -> None:
        """Refuse an oracle that is curved at many points or jumps between flat points (module doc)."""
        ar, points = self.ar, len(self.xs)
        scales = EXACT_SCALES if ar.exact else ROUNDED_SCALES
        kinds = [self.classify(x, d, fx, scales) for x, d, fx in zip(self.xs, self.ds, self.answers)]
        curved = [k for k in kinds if isinstance(k, tuple)]
        if len(curved) >= max(2, points // 2) and "linear" not in kinds:
            k, second = curved[0]
            where = "exactly" if ar.exact else f"within the {self.oracle.arithmetic} tolerance"
            raise OracleError(f"the oracle is not piecewise linear: at {len(curved)} of {points} random points "
                              f"f(x - h d), f(x), f(x + h d) do not lie on one line ({where}) for h = 2^-{scales[0]} "
                              f".. 2^-{k} (second difference {_show(second)} at h = 2^-{k}), and at none is f linear "
                              "and non-constant: a smooth activation, noise or rounding?")
        flat = [i for i, k in enumerate(kinds) if k == "flat"]
        pair = next(((i, j) for i in flat for j in flat if i < j
                     and not ar.close_vec(self.answers[i], self.answers[j])), None)
        if "linear" in kinds or pair is None:
            return
        jump = self.jump(*pair)
        if jump is not None:
            lo, hi, diff, halvings = jump
            raise OracleError(f"the oracle is not piecewise linear: it is locally constant at {len(flat)} of {points} "
                              "random points, yet its values differ between them: on the segment between two of "
                              f"them, from {_show(lo)} to {_show(hi)} (2^-{halvings} of its length), it jumps by "
                              f"{_show(diff)}, unchanged over the last {JUMP_STEADY} halvings: quantised or rounded "
                              "outputs?")

    def classify(self, x: list, d: list, fx: list, scales: Sequence[int]) -> str | tuple:
        """"linear" (collinear, not constant, with one slope at `need` successive h), "flat" (otherwise, but
        constant at some h), or (k, second difference at h = 2^-k).  One collinear triple is not enough:
        rounded values of a smooth function are collinear now and then (exact mode needs all its scales, with
        rounding two successive ones).  At a linear point the one-sided slopes' disagreement goes to `noise`."""
        ar = self.ar
        need = len(scales) if ar.exact else 2
        flat = False
        slope, run, seen = None, 0, []
        for k in scales:
            h = ar.num(1) / 2 ** k
            lo, hi = self.oracle.batch([[a - h * b for a, b in zip(x, d)], [a + h * b for a, b in zip(x, d)]])
            second = [u - 2 * v + w for u, v, w in zip(lo, fx, hi)]
            scale = max(abs(v) for v in list(lo) + list(fx) + list(hi))
            collinear = ar.close_vec(second, [0] * len(second), 4 * scale)
            if collinear and ar.close_vec(lo, hi, scale):
                flat = True
            new = [(w - u) / (2 * h) for u, w in zip(lo, hi)]
            if not collinear or ar.close_vec(lo, hi, scale):
                slope, run, seen = None, 0, []
            elif slope is not None and ar.close_vec(new, slope, 4 * scale / h):
                run += 1
            else:
                slope, run, seen = new, 1, []
            if run:
                seen.append(max_abs(second) * 2 ** SLOPE_STEP_BITS / max_abs(new))
            if run >= need:
                self.noise = max(seen) if self.noise is None else max(self.noise, *seen)
                return "linear"
        return "flat" if flat else (scales[-1], second)

    def jump(self, i: int, j: int) -> tuple[list, list, list, int] | None:
        """Bisect the segment between flat points i and j keeping the half whose ends differ more; (lo, hi,
        f(hi) - f(lo), halvings) if the difference stayed unchanged over the last JUMP_STEADY halvings, else
        None (also when the arithmetic cannot halve often enough)."""
        ar = self.ar
        halvings = JUMP_HALVINGS if ar.exact else min(JUMP_HALVINGS, ar.bits - 20)
        if halvings < 2 * JUMP_STEADY:
            return None
        lo, flo, hi, fhi = self.xs[i], self.answers[i], self.xs[j], self.answers[j]
        steady = 0
        for _ in range(halvings):
            before = max_abs([b - a for a, b in zip(flo, fhi)])
            mid = [(a + b) / 2 for a, b in zip(lo, hi)]
            fm = self.oracle.batch([mid])[0]
            left, right = max_abs([b - a for a, b in zip(flo, fm)]), max_abs([b - a for a, b in zip(fm, fhi)])
            if left >= right:
                hi, fhi, now = mid, fm, left
            else:
                lo, flo, now = mid, fm, right
            if ar.close_vec(flo, fhi):
                return None
            steady = steady + 1 if ar.close(now, before, before) else 0
        if steady < JUMP_STEADY:
            return None
        return lo, hi, [b - a for a, b in zip(flo, fhi)], halvings


def _show(values: Sequence[Any]) -> str:
    return "[" + ", ".join(f"{float(v):.17g}" for v in values) + "]"

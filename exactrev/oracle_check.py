"""`check_oracle`: a cheap test that a black box is a fixed, piecewise linear function before extraction
relies on it, so that a smooth, noisy or non-deterministic oracle is named as such.

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

Not detected: noise below that tolerance, outputs quantised on a grid (locally constant), piecewise
linear impostors (leaky ReLU, max-pooling: extraction's exact solves refuse those), and changes that set
in after the check.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import mpmath

from .arith import Arith
from .errors import OracleError
from .oracle import Oracle

EXACT_SCALES = (34, 36, 38, 40)            # h = 2^-34 .. 2^-40, all collinear with one slope
ROUNDED_SCALES = tuple(range(2, 11, 2))    # h = 2^-2 .. 2^-10


def check_oracle(oracle: Oracle, *, seed: int = 0, points: int = 4) -> int:
    """Raise OracleError if `oracle` answers a repeated query differently or is not piecewise linear at any
    of `points` random points (see the module doc); returns the number of queries used."""
    with mpmath.workdps(oracle.dps):
        return _check(oracle, seed, points)


def _check(oracle: Oracle, seed: int, points: int) -> int:
    ar = Arith(oracle.arithmetic, oracle.dps)
    rng = random.Random(f"check_oracle:{seed}")
    start = oracle.queries
    n = oracle.input_dim
    xs = [[ar.num(rng.randint(-4096, 4096)) / 1024 for _ in range(n)] for _ in range(points)]
    ds = [[ar.num(rng.randint(-1024, 1024) or 1) / 1024 for _ in range(n)] for _ in range(points)]
    first = oracle.batch(xs)
    again = oracle.batch(xs)
    for i, (y0, y1) in enumerate(zip(first, again)):
        if not ar.close_vec(y0, y1):
            raise OracleError(f"the oracle answered the same query twice with different outputs (query at "
                              f"{_show(xs[i])}: {_show(y0)} then {_show(y1)}); it is not a fixed function")
    scales = EXACT_SCALES if ar.exact else ROUNDED_SCALES
    kinds = [_classify(oracle, ar, x, d, fx, scales) for x, d, fx in zip(xs, ds, first)]
    curved = [k for k in kinds if isinstance(k, tuple)]
    if len(curved) >= max(2, points // 2) and "linear" not in kinds:
        k, second = curved[0]
        where = "exactly" if ar.exact else f"within the {oracle.arithmetic} tolerance"
        raise OracleError(f"the oracle is not piecewise linear: at {len(curved)} of {points} random points "
                          f"f(x - h d), f(x), f(x + h d) do not lie on one line ({where}) for h = 2^-{scales[0]} "
                          f".. 2^-{k} (second difference {_show(second)} at h = 2^-{k}), and at none is f linear "
                          "and non-constant: a smooth activation, noise or rounding?")
    return oracle.queries - start


def _classify(oracle: Oracle, ar: Arith, x: list, d: list, fx: list, scales: Sequence[int]) -> str | tuple:
    """"linear" (collinear, not constant, with one slope at `need` successive h), "flat" (otherwise, but
    constant at some h), or (k, second difference at h = 2^-k).  One collinear triple is not enough: rounded
    values of a smooth function are collinear now and then (exact mode needs all its scales, with rounding
    two successive ones)."""
    need = len(scales) if ar.exact else 2
    flat = False
    slope, run = None, 0
    for k in scales:
        h = ar.num(1) / 2 ** k
        lo, hi = oracle.batch([[a - h * b for a, b in zip(x, d)], [a + h * b for a, b in zip(x, d)]])
        second = [u - 2 * v + w for u, v, w in zip(lo, fx, hi)]
        scale = max(abs(v) for v in list(lo) + list(fx) + list(hi))
        collinear = ar.close_vec(second, [0] * len(second), 4 * scale)
        if collinear and ar.close_vec(lo, hi, scale):
            flat = True
        new = [(w - u) / (2 * h) for u, w in zip(lo, hi)]
        if not collinear or ar.close_vec(lo, hi, scale):
            slope, run = None, 0
        elif slope is not None and ar.close_vec(new, slope, 4 * scale / h):
            run += 1
        else:
            slope, run = new, 1
        if run >= need:
            return "linear"
    return "flat" if flat else (scales[-1], second)


def _show(values: Sequence[Any]) -> str:
    return "[" + ", ".join(f"{float(v):.17g}" for v in values) + "]"

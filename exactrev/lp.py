"""Linear programs that floats propose and rationals verify.

cvxpy (HiGHS) solves small LPs in float64 to *propose* a point or dual multipliers; every answer
used for a decision is then checked exactly with flint rationals:

* a strictly interior point x of {a_i . x <= c_i} (all inequalities strict, checked exactly), or
* a Gordan/Farkas certificate y >= 0, y != 0, sum y_i a_i = 0, sum y_i c_i <= 0, which proves that
  the strict system a_i . x < c_i has no solution (the closed polyhedron has empty interior), or
* an upper-bound certificate y >= 0, sum y_i a_i = g, proving max g . x <= sum y_i c_i.

A proposal that fails verification is retried after re-centring and re-scaling (iterative
refinement); if that fails too the caller gets "unknown", never a float's opinion.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import cvxpy as cp
import numpy as np
from flint import fmpq, fmpq_mat

Vec = tuple[fmpq, ...]
# A closed halfspace a . x <= c with exact rational a and c.
Halfspace = tuple[Vec, fmpq]

ZERO = fmpq(0)
_THRESHOLDS = (1e-9, 1e-6, 1e-3)
_REFINEMENTS = 4


def to_q(v: float) -> fmpq:
    """The exact dyadic value of a finite float."""
    return fmpq(*float(v).as_integer_ratio())


def dot(a: Sequence[fmpq], x: Sequence[fmpq]) -> fmpq:
    """Exact inner product."""
    s = ZERO
    for u, v in zip(a, x):
        if u:
            s += u * v
    return s


def strictly_inside(halfspaces: Sequence[Halfspace], x: Sequence[fmpq]) -> bool:
    """True when every a . x < c holds exactly."""
    return all(dot(a, x) < c for a, c in halfspaces)


def inside(halfspaces: Sequence[Halfspace], x: Sequence[fmpq]) -> bool:
    """True when every a . x <= c holds exactly."""
    return all(dot(a, x) <= c for a, c in halfspaces)


def is_gordan_certificate(halfspaces: Sequence[Halfspace], y: Sequence[fmpq]) -> bool:
    """Exact check that y proves {a_i . x < c_i for all i} empty: y >= 0, y != 0, y A = 0, y . c <= 0."""
    if len(y) != len(halfspaces) or any(v < 0 for v in y) or not any(y):
        return False
    if any(v and not any(a) for v, (a, _) in zip(y, halfspaces)):
        return False        # a row 0 . x <= 0 has interior points but no strict solutions: not allowed
    n = len(halfspaces[0][0])
    for j in range(n):
        if dot([a[j] for a, _ in halfspaces], y) != 0:
            return False
    return dot([c for _, c in halfspaces], y) <= 0


def upper_bound_from(halfspaces: Sequence[Halfspace], g: Sequence[fmpq], y: Sequence[fmpq]) -> fmpq | None:
    """If y >= 0 and y A = g exactly, return sum y_i c_i (an exact upper bound of g . x); else None."""
    if len(y) != len(halfspaces) or any(v < 0 for v in y):
        return None
    for j in range(len(g)):
        if dot([a[j] for a, _ in halfspaces], y) != g[j]:
            return None
    return dot([c for _, c in halfspaces], y)


# ------------------------------------------------------------------ float proposals (cvxpy)
@dataclass
class Proposal:
    """A float LP answer: status, primal point, objective value, row duals (all floats, unverified)."""

    status: str
    x: np.ndarray | None
    value: float | None
    duals: np.ndarray | None


class _Solver:
    """Parametrised cvxpy problems (maximise f . v subject to G v <= h), cached by padded shape."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], tuple] = {}
        self._silenced = False

    def _silence_banner(self) -> None:
        # HiGHS prints a banner on stdout when its first instance is created; keep stdout clean.
        self._silenced = True
        try:
            import highspy
        except ImportError:
            return
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 1)
                highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)

    def _problem(self, m: int, n: int) -> tuple:
        key = (m, n)
        if key not in self._cache:
            G, h, f = cp.Parameter((m, n)), cp.Parameter(m), cp.Parameter(n)
            v = cp.Variable(n)
            con = G @ v <= h
            self._cache[key] = (cp.Problem(cp.Maximize(f @ v), [con]), G, h, f, v, con)
        return self._cache[key]

    def solve(self, G: np.ndarray, h: np.ndarray, f: np.ndarray) -> Proposal:
        if not self._silenced:
            self._silence_banner()
        m, n = G.shape
        bucket = 8
        while bucket < m:
            bucket *= 2
        prob, Gp, hp, fp, v, con = self._problem(bucket, n)
        Gpad = np.zeros((bucket, n))
        Gpad[:m] = G
        hpad = np.ones(bucket)
        hpad[:m] = h
        Gp.value, hp.value, fp.value = Gpad, hpad, f
        try:
            prob.solve(solver="HIGHS")
        except (cp.error.SolverError, ValueError, ArithmeticError):
            return Proposal("error", None, None, None)
        status = prob.status
        if status == "optimal" and v.value is not None:
            duals = None if con.dual_value is None else np.asarray(con.dual_value)[:m]
            return Proposal("optimal", np.asarray(v.value), float(prob.value), duals)
        if status == "infeasible":
            duals = None if con.dual_value is None else np.asarray(con.dual_value)[:m]
            return Proposal("infeasible", None, None, duals)
        return Proposal(status, None, None, None)


_SOLVER = _Solver()


# ------------------------------------------------------------------ exact reconstruction
def _nullspace(rows: list[list[fmpq]], ncols: int) -> list[list[fmpq]]:
    """Basis of {y : R y = 0} over Q (rows of R given), as a list of column vectors."""
    if not rows:
        return [[fmpq(int(i == j)) for i in range(ncols)] for j in range(ncols)]
    R, rank = fmpq_mat(len(rows), ncols, [v for r in rows for v in r]).rref()
    pivots = []
    for i in range(rank):
        pivots.append(next(j for j in range(ncols) if R[i, j] != 0))
    free = [j for j in range(ncols) if j not in pivots]
    basis = []
    for fj in free:
        y = [ZERO] * ncols
        y[fj] = fmpq(1)
        for i, pj in enumerate(pivots):
            y[pj] = -R[i, fj]
        basis.append(y)
    return basis


def _rational(v: float) -> fmpq:
    """A nearby simple rational (denominator <= 2^40): rounding a float guide, never a decision."""
    f = Fraction(v).limit_denominator(1 << 40)
    return fmpq(f.numerator, f.denominator)


def _fit(basis: list[list[fmpq]], guide: np.ndarray) -> list[fmpq] | None:
    """The exact combination of `basis` whose float image is closest to `guide` (rounded coefficients)."""
    if not basis:
        return None
    B = np.array([[float(v) for v in col] for col in basis]).T
    alpha, *_ = np.linalg.lstsq(B, guide, rcond=None)
    scale = float(np.max(np.abs(alpha))) or 1.0
    coef = [_rational(float(a) / scale) for a in alpha]
    out = [ZERO] * len(guide)
    for c, col in zip(coef, basis):
        if c:
            for i, v in enumerate(col):
                out[i] += c * v
    return out


def reconstruct_gordan(halfspaces: Sequence[Halfspace], guide: np.ndarray) -> list[fmpq] | None:
    """Turn float multipliers into an exact Gordan certificate (verified), or None."""
    top = float(np.max(guide)) if len(guide) else 0.0
    if not top > 0:
        return None
    n = len(halfspaces[0][0])
    for thr in _THRESHOLDS:
        support = [i for i, v in enumerate(guide) if v > thr * top]
        cols = [halfspaces[i] for i in support]
        A_rows = [[a[j] for a, _ in cols] for j in range(n)]
        for rows in (A_rows, A_rows + [[c for _, c in cols]]):
            basis = _nullspace(rows, len(support))
            candidates = [_fit(basis, guide[support])]
            if len(basis) == 1:
                candidates += [basis[0], [-v for v in basis[0]]]
            for ys in candidates:
                if ys is None:
                    continue
                y = [ZERO] * len(halfspaces)
                for i, v in zip(support, ys):
                    y[i] = v
                if is_gordan_certificate(halfspaces, y):
                    return y
    return None


def reconstruct_upper_bound(halfspaces: Sequence[Halfspace], g: Sequence[fmpq], guide: np.ndarray
                            ) -> fmpq | None:
    """Turn float multipliers into an exact bound max g . x <= sum y_i c_i (verified), or None."""
    top = float(np.max(guide)) if len(guide) else 0.0
    n = len(g)
    for thr in _THRESHOLDS:
        support = [i for i, v in enumerate(guide) if v > thr * top] if top > 0 else []
        cols = [halfspaces[i] for i in support]
        # sum_{i in S} y_i a_i = g, homogenised: (y, w) in the nullspace of [A_S^T | -g], then divide by w.
        rows = [[a[j] for a, _ in cols] + [-g[j]] for j in range(n)]
        basis = _nullspace(rows, len(support) + 1)
        basis = [b for b in basis if b[-1] != 0] or basis
        ext_guide = np.append(guide[support], 1.0)
        for cand in ([_fit(basis, ext_guide)] + ([basis[0]] if len(basis) == 1 else [])):
            if cand is None or cand[-1] == 0:
                continue
            ys = [v / cand[-1] for v in cand[:-1]]
            y = [ZERO] * len(halfspaces)
            for i, v in zip(support, ys):
                y[i] = v
            bound = upper_bound_from(halfspaces, g, y)
            if bound is not None:
                return bound
    return None


# ------------------------------------------------------------------ exact fallback
_FM_MAX_ROWS = 4000


def fourier_motzkin(halfspaces: Sequence[Halfspace], n: int, max_rows: int = _FM_MAX_ROWS
                    ) -> tuple[str, object]:
    """Exact strict feasibility of {a_i . x < c_i} by Fourier-Motzkin elimination (small systems only).

    Every derived row carries its nonnegative multipliers over the original rows, so infeasibility
    comes with a Gordan certificate; feasibility with a point found by exact back-substitution.
    Returns ("unknown", None) when the elimination would exceed `max_rows` rows.
    """
    m = len(halfspaces)
    rows = [(list(a), c, {i: fmpq(1)}) for i, (a, c) in enumerate(halfspaces)]
    stages = []                                   # (variable eliminated, rows before elimination)
    remaining = list(range(n))
    while remaining:
        def cost(j: int) -> int:
            pos = sum(1 for a, _, _ in rows if a[j] > 0)
            return pos * (sum(1 for a, _, _ in rows if a[j] < 0) - 1)
        j = min(remaining, key=cost)
        remaining.remove(j)
        stages.append((j, rows))
        pos = [r for r in rows if r[0][j] > 0]
        neg = [r for r in rows if r[0][j] < 0]
        new = [r for r in rows if r[0][j] == 0]
        if len(new) + len(pos) * len(neg) > max_rows:
            return "unknown", None
        seen = set()
        for ap, c_p, yp in pos:
            for an, c_n, yn in neg:
                sp, sn = 1 / ap[j], -1 / an[j]
                a = [u * sp + v * sn for u, v in zip(ap, an)]
                c = c_p * sp + c_n * sn
                key = (tuple(a), c)
                if key in seen:
                    continue
                seen.add(key)
                y = {i: v * sp for i, v in yp.items()}
                for i, v in yn.items():
                    y[i] = y.get(i, ZERO) + v * sn
                new.append((a, c, y))
        rows = new
    for _, c, y in rows:                          # every row is now 0 < c
        if c <= 0:
            return "empty", [y.get(i, ZERO) for i in range(m)]
    x = [ZERO] * n
    for j, before in reversed(stages):
        lo, hi = None, None
        for a, c, _ in before:
            if a[j] == 0:
                continue
            rest = c - sum((a[k] * x[k] for k in range(n) if k != j), ZERO)
            bound = rest / a[j]                   # a_j x_j < rest
            if a[j] > 0:
                hi = bound if hi is None else min(hi, bound)
            else:
                lo = bound if lo is None else max(lo, bound)
        x[j] = ((lo + hi) / 2 if lo is not None and hi is not None else
                hi - 1 if hi is not None else lo + 1 if lo is not None else ZERO)
    return "point", tuple(x)


# ------------------------------------------------------------------ the two questions certify asks
@dataclass
class Counter:
    """How many LPs were proposed (each is then verified exactly), and exact eliminations run."""

    lps: int = 0
    exact: int = 0


def _norms(halfspaces: Sequence[Halfspace]) -> np.ndarray:
    return np.array([float(np.sqrt(sum(float(v) ** 2 for v in a))) or 1.0 for a, _ in halfspaces])


def _local_system(halfspaces: Sequence[Halfspace], x0: Sequence[fmpq], scale: fmpq
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows a_i/|a_i| . u <= (c_i - a_i . x0)/(s |a_i|) in the local coordinates u = (x - x0)/s."""
    norms = _norms(halfspaces)
    A = np.array([[float(v) for v in a] for a, _ in halfspaces]) / norms[:, None]
    r = np.array([float((c - dot(a, x0)) / scale) for a, c in halfspaces]) / norms
    return A, r, norms


def _point(x0: Sequence[fmpq], scale: fmpq, u: np.ndarray) -> tuple[fmpq, ...]:
    return tuple(p + scale * to_q(v) for p, v in zip(x0, u))


def interior_or_empty(halfspaces: Sequence[Halfspace], n: int, x0: Sequence[fmpq], scale: fmpq,
                      counter: Counter) -> tuple[str, object]:
    """Decide whether {a_i . x < c_i} is nonempty: ("point", x) / ("empty", y) / ("unknown", None).

    A strictly interior point or a Gordan certificate y is returned only after exact verification.
    Float LPs are tried first; when they cannot be verified (e.g. hyperplanes at an angle of 2^-60,
    which float64 cannot tell apart) exact Fourier-Motzkin elimination decides small systems.
    """
    kind, found = _float_interior_or_empty(halfspaces, n, x0, scale, counter)
    if kind != "unknown":
        return kind, found
    counter.exact += 1
    kind, found = fourier_motzkin(halfspaces, n)
    if kind == "point" and strictly_inside(halfspaces, found):
        return kind, found
    if kind == "empty" and is_gordan_certificate(halfspaces, found):
        return kind, found
    return "unknown", None


def _float_interior_or_empty(halfspaces: Sequence[Halfspace], n: int, x0: Sequence[fmpq], scale: fmpq,
                      counter: Counter) -> tuple[str, object]:
    """Float-proposed, exactly verified: ("point", x) / ("empty", y) / ("unknown", None).

    Maximises the Chebyshev-like margin t (rows normalised, t <= 1) around x0 at length scale
    `scale`; a positive margin is confirmed by an exactly verified strictly interior point, a
    non-positive one by an exactly verified Gordan certificate.  Up to a few re-centred, re-scaled
    attempts are made before giving up.
    """
    if not halfspaces:
        return "point", tuple(x0)
    x0 = tuple(x0)
    for _ in range(_REFINEMENTS):
        A, r, norms = _local_system(halfspaces, x0, scale)
        G = np.hstack([A, np.ones((len(r), 1))])
        G = np.vstack([G, np.eye(n + 1)[n]])           # t <= 1
        h = np.append(r, 1.0)
        counter.lps += 1
        prop = _SOLVER.solve(G, h, np.eye(n + 1)[n])
        if prop.status == "optimal":
            u, t = prop.x[:n], prop.x[n]
            if t > 0:
                x = _point(x0, scale, u)
                if strictly_inside(halfspaces, x):
                    return "point", x
                # Too small to see at this scale: re-centre there and zoom in.
                x0, scale = x, scale * to_q(max(min(t, 0.5), 1e-9))
                continue
            if prop.duals is not None:
                y = reconstruct_gordan(halfspaces, prop.duals[:-1] / norms)
                if y is not None:
                    return "empty", y
            if t > -1e-6:
                x0, scale = _point(x0, scale, u), scale * fmpq(1, 1 << 20)
                continue
            return "unknown", None
        if prop.status == "infeasible" and prop.duals is not None:
            y = reconstruct_gordan(halfspaces, prop.duals[:-1] / norms)
            if y is not None:
                return "empty", y
        return "unknown", None
    return "unknown", None


def maximize(halfspaces: Sequence[Halfspace], g: Sequence[fmpq], n: int, x0: Sequence[fmpq], scale: fmpq,
             counter: Counter) -> tuple[tuple[fmpq, ...] | None, fmpq | None]:
    """Propose a maximiser of g . x over the (bounded) polyhedron and prove an upper bound.

    `x0` must be strictly interior.  Returns (point, bound): `point` is an exactly feasible point
    (closed constraints) near the optimum or None, `bound` an exactly certified upper bound of
    g . x or None.
    """
    A, r, norms = _local_system(halfspaces, x0, scale)
    f = np.array([float(v) for v in g]) * float(scale)
    counter.lps += 1
    prop = _SOLVER.solve(A, r, f)
    if prop.status != "optimal":
        return None, None
    x = _point(x0, scale, prop.x)
    point = None
    for theta in (ZERO, fmpq(1, 1 << 40), fmpq(1, 1 << 20), fmpq(1, 1 << 10), fmpq(1, 2)):
        cand = tuple(v + theta * (p - v) for v, p in zip(x, x0))   # pull towards the interior point x0
        if inside(halfspaces, cand):
            point = cand
            break
    bound = None
    if prop.duals is not None:
        bound = reconstruct_upper_bound(halfspaces, g, prop.duals / norms / float(scale))
    return point, bound

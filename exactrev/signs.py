"""Sign vectors from exact linear equations: t in {-1, +1}^n with M t + B c = r for some free c.

Used for the signs of layer k-1 (Theorem 3, last part) and of the last hidden layer (output layer).
At a point x on B_z, with h_j the known (up to sign t_j) preactivations of layer k-1, s_j = sign h_j(x)
and W_zj the weights from the walk (relative to z's scale):
    grad z(x) = sum_j W_zj (t_j + s_j)/2 grad h_j(x)          (n_in equations)
    z(x) = 0  = sum_j W_zj (t_j h_j(x) + |h_j(x)|)/2 + b_z     (one equation)
since relu(t h) = (t h + |h|)/2.  Both are linear in (t, b).

1. The stacked system is solved exactly (flint); a unique solution must be a sign vector.
2. Otherwise (e.g. a first layer wider than the equations it meets) the other unknowns are eliminated,
   leaving integer equations C t = d; the sign vector is a very short vector of the lattice spanned by
   the rows (e_i, K C_i) and (0, K d) (a low-density subset-sum lattice), found by LLL (flint): one vector
   of the reduced basis, or several with disjoint supports when signs are fixed only in combination.
3. If LLL proposes nothing, cvxpy proposes t in the box [-1, 1], rounded to signs.
The other unknowns are eliminated block by block (`Eliminated`: a layer's walks each have unknowns of their
own, and one rref of the whole system took minutes with hundreds of walks); the equations left on t are
small, and each block gives its unknowns back from t.
Every proposal is accepted only if the signs satisfy every equation exactly (with the other unknowns
then solved exactly); otherwise the signs are reported undetermined, never guessed.  A sign of an accepted
vector that another solution flips (alone, or with one other sign) is reported undetermined too.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

from flint import fmpq, fmpq_mat, fmpz_mat

from .numbers import integers_over_lcm, to_fmpq

Q = Any
UNDETERMINED = "some signs are not fixed by the equations"
MAX_COVER_BLOCKS = 10       # reduced vectors combined with every choice of signs (see _disjoint_cover)


@dataclass
class SignSolution:
    """t (one sign per column, None where undetermined), the other unknowns, and how they were found."""

    signs: list[int | None]
    others: list[Q | None]
    method: str
    reason: str = ""
    loose: frozenset = frozenset()          # other unknowns (by index) that the equations leave free


def solve_linear_exact(rows: Sequence[Sequence[Q]], rhs: Sequence[Q], n: int
                       ) -> tuple[list[fmpq] | None, list[int], bool]:
    """Exact solution of rows @ x == rhs: (one solution or None if inconsistent, pivot columns, unique?)."""
    if not rows:
        return [fmpq(0)] * n, [], n == 0
    red, rank = rref(rows, rhs, n)
    pivots = []
    for i in range(rank):
        col = next(j for j in range(n + 1) if red[i, j] != 0)
        if col == n:
            return None, [], False
        pivots.append(col)
    x = [fmpq(0)] * n
    for i, col in enumerate(pivots):
        x[col] = red[i, n]
    return x, pivots, len(pivots) == n


def undetermined_columns(rows: Sequence[Sequence[Q]], n: int) -> set[int]:
    """Unknowns that the solution space of rows @ x == rhs does not pin down (moved by its null space)."""
    if not rows:
        return set(range(n))
    red, rank = rref(rows, None, n)
    pivots = [next(j for j in range(n) if red[i, j] != 0) for i in range(rank)]
    free = [j for j in range(n) if j not in pivots]
    moved = set(free)
    for f in free:
        for i, p in enumerate(pivots):
            if red[i, f] != 0:
                moved.add(p)
    return moved


def rref(rows: Sequence[Sequence[Q]], rhs: Sequence[Q] | None, n: int) -> tuple[fmpq_mat, int]:
    """The reduced row echelon form of rows (n columns, rhs appended as one more if given) and its rank."""
    width = n + (rhs is not None)
    cells = [to_fmpq(v) for i, r in enumerate(rows) for v in (*r, *((rhs[i],) if rhs is not None else ()))]
    return fmpq_mat(len(rows), width, cells).rref()


def solve_signs(rows: Sequence[Sequence[Q]], rhs: Sequence[Q], n_signs: int, n_other: int) -> SignSolution:
    """Solve for t in {-1, 1}^n_signs (the first columns) and the other unknowns (the last columns)."""
    system = Eliminated(rows, rhs, n_signs, n_other)
    t, _, unique = (None, [], False) if not system.consistent else solve_linear_exact(system.eqs, system.rhs, n_signs)
    if t is None:
        return SignSolution([None] * n_signs, [None] * n_other, "exact", "the sign equations are inconsistent")
    if unique:
        if all(v == 1 or v == -1 for v in t):
            others, loose = system.others([int(v) for v in t])
            return SignSolution([int(v) for v in t], others, "exact", loose=frozenset(loose))
        return SignSolution([None] * n_signs, [None] * n_other, "exact", "the unique solution is not a sign vector")
    unseen = [j for j in range(n_signs) if all(not r[j] for r in rows)]
    used = [j for j in range(n_signs) if j not in unseen]
    eqs, ds = _sign_equations(system.eqs, system.rhs, used)    # one elimination: the lattice and _flippable
    for method, proposed in (("lattice", _lattice_proposals(eqs, ds, used, n_signs)),
                             ("lp", _lp_proposals(system.eqs, system.rhs, n_signs))):
        for t in proposed:
            verified = system.others(t)
            if verified is not None:
                sol, loose = verified
                free = set(unseen) | _flippable(eqs, used, t)
                signs: list[int | None] = [None if j in free else t[j] for j in range(n_signs)]
                return SignSolution(signs, sol, method, UNDETERMINED if free else "",
                                    frozenset(loose))
    return SignSolution([None] * n_signs, [None] * n_other, "lattice+lp", "no sign vector satisfies the equations")


def others_given_signs(rows: Sequence[Sequence[Q]], rhs: Sequence[Q], t: Sequence[int], n_signs: int, n_other: int
                       ) -> tuple[list[fmpq], set[int]] | None:
    """The other unknowns given the signs t (and those left free), if the whole system then holds exactly."""
    return Eliminated(rows, rhs, n_signs, n_other).others(t)


class Eliminated:
    """rows @ (t, y) == rhs with the unknowns y after the signs eliminated block by block.  The y split into blocks
    that share no equation (a layer's walks each have a bias and weights of their own: hundreds of blocks); the
    rref of each block's equations, its y columns first, gives its y from t and, in its rows without y, equations
    on t alone (`eqs`, `rhs`).  The same solutions as one rref of the whole system (the pivots of a block diagonal
    matrix are its blocks' pivots), at a small fraction of its cost."""

    def __init__(self, rows: Sequence[Sequence[Q]], rhs: Sequence[Q], n_signs: int, n_other: int) -> None:
        self.n_signs, self.n_other = n_signs, n_other
        self.consistent = True
        self.eqs: list[list[fmpq]] = []
        self.rhs: list[fmpq] = []
        self.pivots: list[tuple[int, list[fmpq], fmpq, bool]] = []   # (y column, its t coefficients, value, loose)
        self.free: set[int] = set()                                  # y columns no equation pins down
        self.used: set[int] = set()                                  # y columns some equation has
        for block in _blocks(rows, n_signs, n_other):
            self._eliminate([rows[i] for i in block], [rhs[i] for i in block])
        self.free |= set(range(n_other)) - self.used

    def _eliminate(self, rows: Sequence[Sequence[Q]], rhs: Sequence[Q]) -> None:
        """One block: its y columns first, then the signs and the right-hand side."""
        n_signs = self.n_signs
        cols = sorted({c for r in rows for c in range(self.n_other) if r[n_signs + c]})
        self.used |= set(cols)
        red, rank = rref([[r[n_signs + c] for c in cols] + list(r[:n_signs]) for r in rows], rhs,
                         len(cols) + n_signs)
        width = len(cols) + n_signs
        cells = red.entries()
        pivots = []
        for i in range(rank):
            row = cells[i * (width + 1):(i + 1) * (width + 1)]
            first = next(j for j, v in enumerate(row) if v)
            if first == width:
                self.consistent = False
            elif first >= len(cols):
                self.eqs.append(row[len(cols):width])
                self.rhs.append(row[width])
            else:
                pivots.append((first, row))
        pivot_cols = {first for first, _ in pivots}
        free = {j for j in range(len(cols)) if j not in pivot_cols}
        self.free |= {cols[j] for j in free}
        for first, row in pivots:
            self.pivots.append((cols[first], row[len(cols):width], row[width], any(row[j] for j in free)))

    def others(self, t: Sequence[int]) -> tuple[list[fmpq], set[int]] | None:
        """(y, the y columns left free) given the signs t (free ones 0), if every equation then holds; else None."""
        if not self.consistent or any(sum((c * s for c, s in zip(row, t)), fmpq(0)) != d
                                      for row, d in zip(self.eqs, self.rhs)):
            return None
        y = [fmpq(0)] * self.n_other
        loose = set(self.free)
        for col, coeffs, value, moved in self.pivots:
            y[col] = value - sum((c * s for c, s in zip(coeffs, t) if c), fmpq(0))
            if moved:
                loose.add(col)
        return y, loose


def _blocks(rows: Sequence[Sequence[Q]], n_signs: int, n_other: int) -> list[list[int]]:
    """Indices of the rows grouped into blocks that share no unknown after the first n_signs (union-find on them);
    a row with none of those unknowns is a block of its own."""
    parent = list(range(n_other))

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    firsts: list[int | None] = []
    for r in rows:
        cols = [i for i, v in enumerate(r[n_signs:n_signs + n_other]) if v]
        for c in cols[1:]:
            parent[root(c)] = root(cols[0])
        firsts.append(cols[0] if cols else None)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(firsts):
        groups.setdefault(("row", i) if c is None else ("col", root(c)), []).append(i)
    return list(groups.values())


def _flippable(eqs: Sequence[Sequence[int]], used: Sequence[int], t: Sequence[int]) -> set[int]:
    """Signs that another solution flips, alone or with one other: those whose column of the equations on t
    alone (eqs, on the signs `used`; see _sign_equations) is 0, and pairs i, j with t_i C_i + t_j C_j = 0.
    Such a sign is a guess, not a finding, even though t satisfies every equation."""
    cols = [[row[i] for row in eqs] for i in range(len(used))]
    free = {used[i] for i, c in enumerate(cols) if not any(c)}
    for i, j in itertools.combinations(range(len(used)), 2):
        if any(cols[i]) and all(t[used[i]] * a + t[used[j]] * b == 0 for a, b in zip(cols[i], cols[j])):
            free |= {used[i], used[j]}
    return free


def _sign_equations(eqs: Sequence[Sequence[Q]], rhs: Sequence[Q], used: Sequence[int]
                    ) -> tuple[list[list[int]], list[int]]:
    """The equations on the signs (the other unknowns eliminated: Eliminated), reduced and in integers, on the
    signs `used`: C t_used = d."""
    if not eqs:
        return [], []
    red, rank = rref([[row[j] for j in used] for row in eqs], rhs, len(used))
    out, ds = [], []
    for i in range(rank):
        ints, _ = integers_over_lcm([red[i, j] for j in range(len(used) + 1)])
        out.append(ints[:-1])
        ds.append(ints[-1])
    return out, ds


def _lattice_proposals(eqs: Sequence[Sequence[int]], ds: Sequence[int], used: Sequence[int], n_signs: int):
    """Sign vectors read off an LLL-reduced basis of the subset-sum lattice of C t = d (on the signs `used`)."""
    if not eqs or not used:
        return
    m = len(used)
    big = 2 ** (m // 2 + 10)            # any vector off the equations is longer than LLL's slack
    basis = []
    for i in range(m):
        basis.append([int(i == j) for j in range(m)] + [big * row[i] for row in eqs])
    basis.append([0] * m + [big * d for d in ds])
    reduced = fmpz_mat(len(basis), len(basis[0]), [v for row in basis for v in row]).lll()
    vecs = [[int(reduced[i, j]) for j in range(reduced.ncols())] for i in range(reduced.nrows())]
    short = [vec[:m] for vec in vecs if not any(vec[m:]) and any(vec[:m]) and all(v in (1, 0, -1) for v in vec[:m])]
    for part in [v for v in short if all(v)] or _disjoint_cover(short, m, eqs, ds):
        for sgn in (1, -1):
            t = [1] * n_signs
            for j, v in zip(used, part):
                t[j] = sgn * v
            yield t


def _disjoint_cover(short: Sequence[Sequence[int]], m: int, eqs: Sequence[Sequence[int]], ds: Sequence[int]):
    """Sign vectors t with C t = d made of reduced vectors with disjoint supports that cover every sign, each
    taken with either sign (at most 2^MAX_COVER_BLOCKS).  When some signs are fixed only in combination (a zero
    column, two columns equal up to sign), LLL splits the solution into such blocks, none of them whole."""
    blocks, covered = [], set()
    for v in short:
        support = {i for i, x in enumerate(v) if x}
        if not support & covered:
            blocks.append(v)
            covered |= support
    if len(covered) < m or len(blocks) > MAX_COVER_BLOCKS:
        return
    for sgns in itertools.product((1, -1), repeat=len(blocks) - 1):
        t = [sum(s * v[i] for s, v in zip((1, *sgns), blocks)) for i in range(m)]
        if all(sum(c * x for c, x in zip(row, t)) == d for row, d in zip(eqs, ds)):
            yield t


def _lp_proposals(eqs, rhs, n_signs: int):
    """cvxpy: least absolute residual of the equations on the signs with t in [-1, 1] (an LP), rounded to signs."""
    import cvxpy as cp
    import numpy as np

    if not eqs:
        yield [1] * n_signs
        return
    a = np.array([[float(v) for v in r] for r in eqs])
    b = np.array([float(v) for v in rhs])
    var = cp.Variable(n_signs)
    try:
        with warnings.catch_warnings():      # "may be inaccurate": only a proposal, verified exactly by the caller
            warnings.simplefilter("ignore", UserWarning)
            cp.Problem(cp.Minimize(cp.norm1(a @ var - b)), [var <= 1, var >= -1]).solve()
    except cp.error.SolverError:
        return
    if var.value is None:
        return
    yield [1 if v >= 0 else -1 for v in var.value]

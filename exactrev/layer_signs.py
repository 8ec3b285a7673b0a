"""The linear system whose solution gives layer k-1's signs (Theorem 3, last part), from layer k's walks.

At a walk's anchor x on B_y (y in layer k; W_yz its weights from the walk, None where it never met B_z):
    grad y(x) = sum_z W_yz (t_z + s_z)/2 grad h_z(x)   and   y(x) = 0 = sum_z W_yz (t_z h_z + |h_z|)/2 + b_y,
with t_z the unknown signs, s_z = sign h_z(x) and b_y the bias (exactrev.signs solves for t).  A weight the
walk never measured enters as u_yz = W_yz t_z [t_z == s_z] (s_z is constant along such a walk).

Layer k-1's own walks may have missed a weight P_zj (z in layer k-1, j in layer k-2) because j is off all
along B_z (section 5.2 case 1 or 2); it was set to 0, yet it matters wherever j and z are on, as where a
mostly-on z meets layer k's walks.  There h_z = h_z(as known) + P_zj relu(h_j), which adds
    W_yz (t_z + s_z)/2 P_zj [h_j > 0] grad h_j  =  W_yz/2 (Q_zj + s_z P_zj) [h_j > 0] grad h_j
(Q_zj = t_z P_zj) to the gradient, and the same with relu(h_j) to the value: linear in (P, Q), shared by the
walks that measured W_yz; for a walk that did not, the term is R_yzj [h_j > 0] grad h_j with R_yzj = u_yz P_zj,
one unknown of its own.  The solution gives P_zj if every estimate (P with Q = t_z P, and each R / u) agrees
and the sign of h_z it assumed holds at every anchor; otherwise P_zj stays unmeasured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from flint import fmpq

from .deeper_layers import PartialNetwork, Walk
from .signs import Eliminated, rref

Q = Any


@dataclass
class SignSystem:
    """Equations rows @ (t, b, u, P/Q, R) == rhs: t the first `width` unknowns (signs), then one bias per walk,
    u per (walk, z) in `col`, then the columns of layer k-1's unmeasured weights `earlier`, made as they
    are first used (`shared`: (P, Q) per (z, j); `products`: R per (walk, z, j))."""

    width: int
    rows: list[list[Q]]
    rhs: list[Q]
    n: int
    col: dict[tuple[int, int], int]
    sides: dict[tuple[int, int], int] = field(default_factory=dict)
    earlier: Sequence[tuple[int, int]] = ()
    shared: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    products: dict[tuple[int, int, int], int] = field(default_factory=dict)
    assumed: list[tuple[int, int, Q, Q]] = field(default_factory=list)   # (z, j, h_z, h_j) where s_z was used
    walk_of: list[int] = field(default_factory=list)                     # the walk of each row
    _public: list[int] | None = field(default=None, init=False, repr=False)   # see _public_columns
    _reduced: dict = field(default_factory=dict, init=False, repr=False)     # see _walk_equations

    def new_row(self, wi: int) -> list[Q]:
        """A new equation of walk wi, all coefficients 0 (its right-hand side is appended by the caller)."""
        self.rows.append([fmpq(0)] * self.n)
        self.walk_of.append(wi)
        return self.rows[-1]

    def grow(self, basis: list[list[Q]], wi: int) -> list[list[Q]] | None:
        """The reduced equations (nonzero rows of the augmented rref) of `basis` (reduced equations of some
        walks, [] for none) together with walk wi's; None if they have no common solution.  Each walk's
        equations enter with the unknowns no other walk has eliminated (over the signs and the shared unknowns
        only), so growing a set of walks one at a time costs one small elimination each."""
        own = self._walk_equations(wi)
        if own is None:
            return None
        rows = basis + own
        if not rows:
            return []
        width = len(self._public_columns()) + 1
        red, rank = rref(rows, None, width)
        cells = red.entries()
        out = [cells[i * width:(i + 1) * width] for i in range(rank)]
        return None if any(not any(row[:-1]) for row in out) else out

    def _public_columns(self) -> list[int]:
        """The signs and the unknowns that equations of more than one walk have (computed once)."""
        if self._public is None:
            users: dict[int, set[int]] = {}
            for row, wi in zip(self.rows, self.walk_of):
                for c, v in enumerate(row[self.width:], self.width):
                    if v:
                        users.setdefault(c, set()).add(wi)
            self._public = list(range(self.width)) + sorted(c for c, ws in users.items() if len(ws) > 1)
        return self._public

    def _walk_equations(self, wi: int) -> list[list[Q]] | None:
        """Walk wi's equations with its own unknowns eliminated (signs.Eliminated): rows over the public columns
        and the right-hand side; None if they have no solution by themselves (computed once per walk)."""
        if wi not in self._reduced:
            public = self._public_columns()
            private = sorted(set(range(self.n)) - set(public))
            mine = [(row, c) for row, c, w in zip(self.rows, self.rhs, self.walk_of) if w == wi]
            system = Eliminated([[row[j] for j in public + private] for row, _ in mine], [c for _, c in mine],
                                len(public), len(private))
            self._reduced[wi] = [row + [c] for row, c in zip(system.eqs, system.rhs)] if system.consistent else None
        return self._reduced[wi]

    def _column(self) -> int:
        self.n += 1
        return self.n - 1

    def add_earlier(self, row: list[Q], wi: int, weights: Sequence[Q | None], vals: Sequence[Q],
                    below: tuple[list[Q], list[list[Q]]], coefficient: Callable[[tuple, int], Q]) -> None:
        """The terms of layer k-1's unmeasured weights in one equation of walk wi (weights: its W_y.) at an
        anchor where layer k-1's values are `vals` and layer k-2's (values, gradient rows) are `below`;
        coefficient(below, j): h_j's part of this equation (a gradient entry or the value)."""
        for z, j in self.earlier:
            if below[0][j] <= 0 or vals[z] == 0:
                continue
            c = coefficient(below, j)
            s = _sign(vals[z])
            if weights[z] is not None:
                if (z, j) not in self.shared:
                    self.shared[(z, j)] = (self._column(), self._column())
                p, q = self.shared[(z, j)]
                _add(row, q, weights[z] * c / 2)
                _add(row, p, s * weights[z] * c / 2)
            else:
                if (wi, z, j) not in self.products:
                    self.products[(wi, z, j)] = self._column()
                _add(row, self.products[(wi, z, j)], c)
            self.assumed.append((z, j, vals[z], below[0][j]))

    def pad(self) -> None:
        """Every row as long as the number of unknowns (columns made after it was started)."""
        for row in self.rows:
            row += [fmpq(0)] * (self.n - len(row))

    def signs_from_weights(self, signs: Sequence[int | None], others: Sequence[Q], loose: frozenset
                           ) -> list[int | None]:
        """The signs with those no equation uses (a zero column: the others do not depend on it) set where some
        walk's u_yz = W_yz t_z [t_z == s_z] is solved and not 0: then t_z = s_z, the same for every such walk."""
        out = list(signs)
        for z, t in enumerate(signs):
            if t is not None or any(row[z] != 0 for row in self.rows):
                continue
            sides = {self.sides[(wi, z2)] for (wi, z2), c in self.col.items()
                     if z2 == z and c - self.width not in loose and others[c - self.width] != 0}
            if len(sides) == 1 and 0 not in sides:
                out[z] = sides.pop()
        return out

    def earlier_weights(self, signs: Sequence[int | None], others: Sequence[Q | None]) -> dict[tuple[int, int], Q]:
        """P_zj for layer k-1's unmeasured weights that the solution (others: every unknown after the signs,
        None where not determined) fixes: every estimate agrees, and h_z keeps the sign assumed at each anchor."""
        def value(c: int) -> Q | None:
            return others[c - self.width]

        estimates: dict[tuple[int, int], set] = {}
        bad = {(z, j) for z, j in self.earlier if signs[z] is None}    # the others may move with a free sign
        for (z, j), (p, q) in self.shared.items():
            pv, qv = value(p), value(q)
            if pv is None or qv is None or (z, j) in bad:
                continue
            if qv != signs[z] * pv:
                bad.add((z, j))
            estimates.setdefault((z, j), set()).add(pv)
        for (wi, z, j), r in self.products.items():
            rv, uv = value(r), value(self.col[(wi, z)])
            if rv is None or uv is None or (z, j) in bad:
                continue
            if uv == 0:
                if rv != 0:
                    bad.add((z, j))
                continue
            estimates.setdefault((z, j), set()).add(rv / uv)
        found = {key: next(iter(e)) for key, e in estimates.items() if len(e) == 1 and key not in bad}
        for z, j, hz, hj in self.assumed:
            if (z, j) in found and (hz + found[(z, j)] * hj > 0) != (hz > 0):
                found.pop((z, j))
        return found


def _add(row: list[Q], c: int, v: Q) -> None:
    if len(row) <= c:
        row += [fmpq(0)] * (c + 1 - len(row))
    row[c] += v


def sign_system(known: PartialNetwork, walks: Sequence[Walk], earlier: Sequence[tuple[int, int]]) -> SignSystem:
    """The equations for these layer-k walks (known: layers 1..k-1, the last up to signs; earlier: layer k-1's
    (z, j) whose weight its walks left unmeasured).  Gradient equations come from anchors in distinct regions
    (a walk may cross one boundary back and forth), enough of them for its unknowns."""
    width, n_in = len(known.layers[-1].rows), known.n_in
    missing = [(wi, j) for wi, w in enumerate(walks) for j, v in enumerate(w.weights) if v is None]
    col = {key: width + len(walks) + i for i, key in enumerate(missing)}
    system = SignSystem(width, [], [], width + len(walks) + len(missing), col, earlier=earlier)
    for wi, w in enumerate(walks):
        unknown = sum(v is None for v in w.weights)
        regions = 3 + -(-unknown // n_in)
        known_j = [j for j in range(width) if w.weights[j] is not None]
        seen: list[list[Q]] = []
        for a in w.anchors[:2 * width + 4]:
            local = known.local(a.x)
            vals, grads = local[-1]
            below = local[-2] if earlier else ([], [])
            for j in range(width):
                if w.weights[j] is None:
                    system.sides.setdefault((wi, j), _sign(vals[j]))
            if len(seen) < regions and a.grad not in seen:
                seen.append(a.grad)
                for d in range(n_in):
                    row = system.new_row(wi)
                    for j in known_j:
                        row[j] = w.weights[j] * grads[j][d] / 2
                    for j in range(width):
                        if w.weights[j] is None:
                            row[col[(wi, j)]] = grads[j][d]
                    system.add_earlier(row, wi, w.weights, vals, below, lambda b, j2: b[1][j2][d])
                    system.rhs.append(a.grad[d] - sum((w.weights[j] * _sign(vals[j]) * grads[j][d] / 2
                                                       for j in known_j), fmpq(0)))
            row = system.new_row(wi)
            for j in known_j:
                row[j] = w.weights[j] * vals[j] / 2
            for j in range(width):
                if w.weights[j] is None:
                    row[col[(wi, j)]] = vals[j]
            row[width + wi] = fmpq(1)
            system.add_earlier(row, wi, w.weights, vals, below, lambda b, j2: b[0][j2])
            system.rhs.append(-sum((w.weights[j] * abs(vals[j]) / 2 for j in known_j), fmpq(0)))
    system.pad()
    return system


def _sign(v: Q) -> int:
    return 1 if v > 0 else -1 if v < 0 else 0

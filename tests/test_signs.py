"""exactrev.signs: the block-by-block elimination gives what one exact solve of the whole system gives."""

from __future__ import annotations

import random

from flint import fmpq
from hypothesis import given, settings, strategies as st

from exactrev.signs import Eliminated, others_given_signs, solve_linear_exact, solve_signs, undetermined_columns


def dense_others(rows, rhs, t, n_signs, n_other):
    """The other unknowns given t from one rref of the whole system (free ones 0), and those left free."""
    sub_rows = [list(r[n_signs:]) for r in rows]
    sub_rhs = [c - sum((r[i] * t[i] for i in range(n_signs)), fmpq(0)) for r, c in zip(rows, rhs)]
    x, _, unique = solve_linear_exact(sub_rows, sub_rhs, n_other)
    if x is None:
        return None
    return x, set() if unique else undetermined_columns(sub_rows, n_other)


def block_system(seed: int, n_signs: int, blocks: int):
    """Equations on signs t and unknowns of their own per block (a bias, weights), some blocks linked by a shared
    unknown, some unknowns left free (a column repeated, or never used); t and a solution planted."""
    rng = random.Random(seed)
    t = [rng.choice((-1, 1)) for _ in range(n_signs)]
    n_other, owners = 0, []
    for b in range(blocks):
        size = rng.randint(1, 3)
        owners.append(list(range(n_other, n_other + size)))
        n_other += size
    shared = n_other if rng.random() < 0.5 else None
    n_other += (shared is not None) + (rng.random() < 0.5)     # maybe one more unknown no equation uses
    y = [fmpq(rng.randint(-50, 50), rng.randint(1, 9)) for _ in range(n_other)]
    rows = []
    for cols in owners:
        twin = rng.random() < 0.3 and len(cols) > 1     # two columns always together: both free
        link = shared is not None and rng.random() < 0.5
        for _ in range(rng.randint(1, 2 * len(cols) + 3)):
            row = [fmpq(0)] * (n_signs + n_other)
            for j in rng.sample(range(n_signs), rng.randint(0, n_signs)):
                row[j] = fmpq(rng.randint(-9, 9), rng.randint(1, 5))
            for c in cols:
                row[n_signs + c] = fmpq(rng.randint(-9, 9), rng.randint(1, 5))
            if twin:
                row[n_signs + cols[1]] = 2 * row[n_signs + cols[0]]
            if link:
                row[n_signs + shared] = fmpq(rng.randint(-9, 9))
            rows.append(row)
    rhs = [sum((r[j] * t[j] for j in range(n_signs)), fmpq(0)) + sum((r[n_signs + c] * y[c] for c in range(n_other)),
                                                                      fmpq(0)) for r in rows]
    rng.shuffle(order := list(range(len(rows))))
    return [rows[i] for i in order], [rhs[i] for i in order], t, n_other


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10 ** 6), n_signs=st.integers(0, 6), blocks=st.integers(1, 6))
def test_eliminating_block_by_block_gives_what_one_whole_solve_gives(seed, n_signs, blocks):
    """For the planted signs, for each sign flipped and for the signs solve_signs returns: the same verdict, the
    same values and the same free unknowns as one rref of the whole system."""
    rows, rhs, t, n_other = block_system(seed, n_signs, blocks)
    trials = [t] + [[-v if i == j else v for i, v in enumerate(t)] for j in range(n_signs)]
    system = Eliminated(rows, rhs, n_signs, n_other)
    for s in trials:
        assert system.others(s) == dense_others(rows, rhs, s, n_signs, n_other)
        assert others_given_signs(rows, rhs, s, n_signs, n_other) == system.others(s)
    sol = solve_signs(rows, rhs, n_signs, n_other)
    if None not in sol.signs:
        x, loose = dense_others(rows, rhs, sol.signs, n_signs, n_other)
        assert (sol.others, set(sol.loose)) == (x, loose)
    whole, _, unique = solve_linear_exact(rows, rhs, n_signs + n_other)
    if unique:
        assert sol.signs == t and sol.others == whole[n_signs:]


def test_an_inconsistent_block_makes_the_whole_system_inconsistent():
    q = fmpq
    rows = [[q(1), q(1), q(0)], [q(1), q(1), q(0)], [q(0), q(0), q(1)]]       # t_0 + y_0 = 1 and = 2; y_1 = 5
    system = Eliminated(rows, [q(1), q(2), q(5)], 1, 2)
    assert not system.consistent and system.others([1]) is None and system.others([-1]) is None
    assert "inconsistent" in solve_signs(rows, [q(1), q(2), q(5)], 1, 2).reason

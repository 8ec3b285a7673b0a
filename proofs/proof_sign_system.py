"""Claim (the sign system): with the previous layer known only up to sign, the gradient of a next-layer
neuron z obeys  grad z(p) = sum_i W_i (t_i + s_i(p))/2 * grad hat h_i(p),  and the true signs t solve the
stacked system; so when the stacked system has a unique solution in the box [-1, 1]^n, it is the true t.

Notation.  hat h_i is the known preactivation of neuron i of the previous layer, known up to sign: the true
one is z_i = t_i hat h_i with t_i in {+1, -1} unknown.  s_i(p) = sign(hat h_i(p)) in {+1, -1} is known at
every point p off the boundaries.  z = sum_i W_i ReLU(z_i) + B, with W_i the true weights; the bend
equations (proof_bend_equations.py) give lambda * W_i for one unknown nonzero lambda, and the local normal of
B_z gives lambda * grad z(p); the system is homogeneous in (W, grad z), so lambda drops out.

Proved, with W_i, grad hat h_i, lambda general symbols (n = 2 inputs, 3 previous-layer neurons):
1. Identity, for all 2^3 * 2^3 sign cases (t, s): grad of W_i ReLU(t_i hat h_i) at a point where hat h_i has
   sign s_i, computed by sympy (d/dy Max(0, y) = Heaviside(y), evaluated on a signed positive symbol), equals
   W_i (t_i + s_i)/2 grad hat h_i.  It holds pointwise, so also for deeper layers where grad hat h_i(p)
   depends on p.
2. Existence: stacking the equations  sum_i (W_ji/2) grad hat h_i * t_i = grad z_j(p) - sum_i (W_ji s_i(p)/2)
   grad hat h_i  over every region p (all 8 patterns) and two next-layer neurons j, the true t satisfies all
   of them, for every true t in {+1, -1}^3, and also after multiplying (W_j, grad z_j) by any lambda_j.
   Hence: if the system has exactly one solution in [-1, 1]^3, that solution is the true t (t is in the box
   and solves it).  This step is pure logic; the tests check its premise exhaustively.
3. No other sign vector solves it: for every true t and every other t' in {+1, -1}^3 the residual of t' is a
   nonzero polynomial (one neuron j suffices), so a wrong vertex solves the system only on a measure-zero set.
4. Rank (layer 2, hat h_i affine, so grad hat h_i is the same in every region): one neuron gives the matrix
   G diag(W_j)/2 of rank <= n_in = 2 < 3, with an explicit nonzero null vector, so one neuron alone cannot pin
   t in R^3 (only the box can); stacking two neurons gives a 4x3 matrix with a nonzero 3x3 minor (a nonzero
   polynomial), so for all parameters off a measure-zero set the solution is unique in R^3, hence in the box.
"""

from __future__ import annotations

import functools
import itertools

import sympy as sp

N_IN, WIDTH = 2, 3
SIGNS = list(itertools.product((1, -1), repeat=WIDTH))
XS = list(sp.symbols(f"x1:{N_IN + 1}", real=True))
SIZES = sp.symbols(f"H1:{WIDTH + 1}", positive=True)
G = [sp.Matrix([sp.Symbol(f"g{i + 1}_{k + 1}", real=True) for k in range(N_IN)]) for i in range(WIDTH)]


def weights(j: int) -> list[sp.Symbol]:
    """Symbolic true weights W_j1..W_j3 of next-layer neuron j."""
    return list(sp.symbols(f"W{j}_1:{WIDTH + 1}", real=True))


@functools.lru_cache(maxsize=None)
def true_gradient(j: int, t: tuple[int, ...], s: tuple[int, ...]) -> sp.Matrix:
    """grad of sum_i W_ji ReLU(t_i hat h_i(x)) at an x where hat h_i = s_i H_i, derived by sympy from Max."""
    total = sp.zeros(N_IN, 1)
    for i, w in enumerate(weights(j)):
        g_dot_x, beta = (G[i].T * sp.Matrix(XS))[0], sp.Symbol(f"beta{i + 1}", real=True)
        term = w * sp.Max(0, t[i] * (g_dot_x + beta))                 # hat h_i(x) = g_i.x + beta_i
        grad = sp.Matrix([sp.diff(term, x) for x in XS])
        grad = grad.subs(beta, s[i] * SIZES[i] - g_dot_x)            # the point x has hat h_i(x) = s_i H_i
        assert not grad.has(sp.Heaviside), f"sign case not decided: {grad}"
        total += grad
    return total.applyfunc(sp.expand)


def system(w: list[sp.Symbol], s: tuple[int, ...], grad_z: sp.Matrix) -> tuple[sp.Matrix, sp.Matrix]:
    """(A, r) of the linear equations A t = r contributed by one neuron at one point."""
    a = sp.Matrix.hstack(*[w[i] / 2 * G[i] for i in range(WIDTH)])
    r = grad_z - sum((w[i] * s[i] / 2 * G[i] for i in range(WIDTH)), sp.zeros(N_IN, 1))
    return a, r


def test_relu_derivative_is_heaviside() -> None:
    """d/dy ReLU(y) = Heaviside(y), which sympy decides on signed positive symbols."""
    y, size = sp.Symbol("y", real=True), sp.Symbol("H", positive=True)
    assert sp.diff(sp.Max(0, y), y) == sp.Heaviside(y)
    assert sp.Heaviside(size) == 1 and sp.Heaviside(-size) == 0


def test_gradient_identity_every_sign_case() -> None:
    """Step 1: the identity for all 64 sign cases (t, s)."""
    w = weights(1)
    for t in SIGNS:
        for s in SIGNS:
            formula = sum((w[i] * sp.Rational(t[i] + s[i], 2) * G[i] for i in range(WIDTH)), sp.zeros(N_IN, 1))
            assert sp.expand(true_gradient(1, t, s) - formula) == sp.zeros(N_IN, 1)


def test_true_signs_solve_the_stacked_system() -> None:
    """Step 2: the true t solves the stacked system for every true t, also after rescaling by lambda_j."""
    lam = sp.symbols("lambda1:3", real=True, nonzero=True)
    for t in SIGNS:
        for j in (1, 2):
            w = weights(j)
            for s in SIGNS:                       # one point in every region
                a, r = system([lam[j - 1] * wi for wi in w], s, lam[j - 1] * true_gradient(j, t, s))
                assert sp.expand(a * sp.Matrix(t) - r) == sp.zeros(N_IN, 1)
        assert all(abs(ti) <= 1 for ti in t)     # the true t lies in the box [-1, 1]^3


def test_no_other_sign_vector_solves_the_system() -> None:
    """Step 3: every wrong sign vector leaves a nonzero polynomial residual."""
    w = weights(1)
    for t in SIGNS:
        for other in SIGNS:
            if other == t:
                continue
            residuals = []
            for s in SIGNS:
                a, r = system(w, s, true_gradient(1, t, s))
                residuals.extend(sp.expand(a * sp.Matrix(other) - r))
            assert any(e != 0 for e in residuals), f"{other} also solves the system for true {t}"


def test_stacking_neurons_gives_full_rank() -> None:
    """Step 4: one neuron has a null vector; two stacked neurons have a nonzero 3x3 minor."""
    a1 = sp.Matrix.hstack(*[weights(1)[i] / 2 * G[i] for i in range(WIDTH)])
    a2 = sp.Matrix.hstack(*[weights(2)[i] / 2 * G[i] for i in range(WIDTH)])
    null = a1.nullspace(simplify=True)
    assert len(null) == 1 and any(sp.simplify(e) != 0 for e in null[0])
    assert sp.simplify(a1 * null[0]) == sp.zeros(N_IN, 1)
    stacked = sp.Matrix.vstack(a1, a2)
    minors = [sp.expand(stacked.extract(list(rows), list(range(WIDTH))).det())
              for rows in itertools.combinations(range(2 * N_IN), WIDTH)]
    assert any(m != 0 for m in minors)

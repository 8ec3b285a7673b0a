"""Claim (first-layer boundaries): for a first-layer neuron z_i the boundary B_{z_i} is the hyperplane
w_i.x + b_i = 0, and the gradient of the network jumps across it by (outgoing effect) * w_i, so the jump
recovers the hyperplane's normal up to scale (for several outputs: the Jacobian jumps by the rank-one
outer product kappa w_i^T, kappa the vector of outgoing effects).

(The paper, section 4.1: "for z = z_i^1 in layer 1, the boundary B_z is a hyperplane with equation
W_i x + b_i = 0".  The issue calls this "Lemma 1"; the paper's own Lemma 1, scaling, is in
proof_isomorphisms.py.)

Networks, all parameters general real symbols, two outputs:
  (a) one hidden layer   N(x) = V ReLU(W1 x + b1) + c,                      widths n-3-2;
  (b) two hidden layers  N(x) = U ReLU(W2 ReLU(W1 x + b1) + b2) + c,        widths n-3-2-2;
with n = 2 and 3 inputs.

Assumptions.  The crossing point p lies on B_{z_i} and on no other boundary (true for almost every point
of B_{z_i}), so near p every other neuron keeps one activation state; w_i != 0.

Proof by explicit region case split.  On a region where neuron k has sign sigma_k, ReLU(h_k) = delta_k h_k
with delta_k = [sigma_k = +1]; the test of the first kind checks this against sympy's Max for both signs
(and h = 0, where both states give 0).  Then, for EVERY pattern of the other first-layer neurons and (b)
every pattern of the second layer:
1. z_i is affine (Hessian 0, gradient w_i): B_{z_i} = {w_i.x + b_i = 0}, a hyperplane as w_i != 0;
2. continuity: the two affine formulas of N (and, in (b), of every second-layer preactivation) on the two
   sides differ by (a multiple of) z_i(x), hence agree on B_{z_i}; so in (b) a second-layer neuron that is
   nonzero at p keeps its state on both sides, i.e. the same pattern applies on both sides;
3. jump: Jacobian N(active side) - Jacobian N(inactive side) = kappa w_i^T with kappa = V[:, i] in (a)
   and kappa_o = sum_j U_oj eps_j W2_ji in (b) (eps = second-layer pattern): every output's gradient jumps
   by a multiple of w_i, so any nonzero row of the jump is the normal of B_{z_i} up to scale.
The active side is the one w_i points into (w_i.x + b_i > 0), so the jump measured in direction +w_i is
kappa w_i^T.
"""

from __future__ import annotations

import itertools

import pytest
import sympy as sp


def relu(y: sp.Expr) -> sp.Expr:
    """ReLU as sympy's Max."""
    return sp.Max(0, y)


def symbol_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    """A rows x cols matrix of general real symbols."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def gradient(expr: sp.Expr, xs: list[sp.Symbol]) -> sp.Matrix:
    """Column gradient of expr with respect to xs."""
    return sp.Matrix([sp.diff(expr, x) for x in xs])


def jacobian(f: sp.Matrix, xs: list[sp.Symbol]) -> sp.Matrix:
    """Jacobian (one row per output) of the column f with respect to xs."""
    return f.jacobian(sp.Matrix(xs))


def on_region(pre: sp.Matrix, pattern: tuple[int, ...]) -> sp.Matrix:
    """ReLU(pre) on the region with activation pattern `pattern` (1 active, 0 inactive)."""
    return sp.Matrix([pattern[k] * pre[k] for k in range(len(pattern))])


def patterns_with(i: int, width: int, state: int) -> list[tuple[int, ...]]:
    """All activation patterns of `width` neurons with neuron i forced to `state`."""
    return [p for p in itertools.product((0, 1), repeat=width) if p[i] == state]


def test_region_relu_matches_max_for_every_sign() -> None:
    """The region case split agrees with sympy's Max: ReLU(h) = delta h for h > 0, h < 0, h = 0."""
    size = sp.Symbol("H", positive=True)
    for sign, state in ((1, 1), (-1, 0)):
        assert relu(sign * size) == state * sign * size
    zero = sp.Integer(0)
    assert relu(zero) == 0 * zero and relu(zero) == 1 * zero   # on the boundary both states give 0


@pytest.mark.parametrize("n", [2, 3])
def test_first_layer_boundary_is_a_hyperplane(n: int) -> None:
    """Step 1: a first-layer preactivation is affine with gradient w_i, so B_{z_i} is a hyperplane."""
    xs = list(sp.symbols(f"x1:{n + 1}", real=True))
    w1, b1 = symbol_matrix("W", 3, n), symbol_matrix("b", 3, 1)
    pre = w1 * sp.Matrix(xs) + b1
    for i in range(3):
        assert sp.hessian(pre[i], xs) == sp.zeros(n, n)
        assert gradient(pre[i], xs) == w1.row(i).T
        assert sp.expand(pre[i] - (w1.row(i) * sp.Matrix(xs))[0] - b1[i]) == 0


@pytest.mark.parametrize("n", [2, 3])
def test_jump_one_hidden_layer(n: int) -> None:
    """Steps 2-3 for n-3-2: continuity across B_{z_i} and Jacobian jump V[:, i] w_i^T, every pattern."""
    xs = list(sp.symbols(f"x1:{n + 1}", real=True))
    w1, b1 = symbol_matrix("W", 3, n), symbol_matrix("b", 3, 1)
    v, c = symbol_matrix("v", 2, 3), symbol_matrix("c", 2, 1)
    pre = w1 * sp.Matrix(xs) + b1
    cases = 0
    for i in range(3):
        for active in patterns_with(i, 3, 1):
            inactive = tuple(0 if k == i else s for k, s in enumerate(active))
            n_act = v * on_region(pre, active) + c
            n_ina = v * on_region(pre, inactive) + c
            assert sp.expand(n_act - n_ina - v.col(i) * pre[i]) == sp.zeros(2, 1)   # continuous across B_{z_i}
            jump = jacobian(n_act, xs) - jacobian(n_ina, xs)
            assert sp.expand(jump - v.col(i) * w1.row(i)) == sp.zeros(2, n)
            cases += 1
    assert cases == 3 * 4


@pytest.mark.parametrize("n", [2, 3])
def test_jump_two_hidden_layers(n: int) -> None:
    """Steps 2-3 for n-3-2-2: continuity of layer 2 and N, Jacobian jump kappa w_i^T, every pattern."""
    xs = list(sp.symbols(f"x1:{n + 1}", real=True))
    w1, b1 = symbol_matrix("W", 3, n), symbol_matrix("b", 3, 1)
    w2, b2 = symbol_matrix("V", 2, 3), symbol_matrix("a", 2, 1)
    u, c = symbol_matrix("u", 2, 2), symbol_matrix("c", 2, 1)
    pre1 = w1 * sp.Matrix(xs) + b1
    cases = 0
    for i in range(3):
        for active in patterns_with(i, 3, 1):
            inactive = tuple(0 if k == i else s for k, s in enumerate(active))
            pre2_act = w2 * on_region(pre1, active) + b2
            pre2_ina = w2 * on_region(pre1, inactive) + b2
            assert sp.expand(pre2_act - pre2_ina - w2.col(i) * pre1[i]) == sp.zeros(2, 1)
            for eps in itertools.product((0, 1), repeat=2):
                n_act = u * on_region(pre2_act, eps) + c
                n_ina = u * on_region(pre2_ina, eps) + c
                kappa = sp.Matrix([sum(u[o, j] * eps[j] * w2[j, i] for j in range(2)) for o in range(2)])
                assert sp.expand(n_act - n_ina - kappa * pre1[i]) == sp.zeros(2, 1)
                jump = jacobian(n_act, xs) - jacobian(n_ina, xs)
                assert sp.expand(jump - kappa * w1.row(i)) == sp.zeros(2, n)
                cases += 1
    assert cases == 3 * 4 * 4

"""Claim (Theorem 3's bend equations, layer 2): where the boundary B_z of a second-layer neuron
z = sum_k W_k ReLU(h_k) + B crosses the boundary of a first-layer neuron z', the change of normal of B_z
is W_{zz'} times the known gradient of z', whichever sign z' was parametrised with; solving the bend
equation along a walk therefore gives every W_{zz'} times one common unknown factor, i.e. the ratios
W_{zz'} / W_{zz''} exactly.

Setting.  First layer: h_k(x) = w_k.x + c_k, k = 1..3, general real symbols, n = 2 and 3 inputs.  The first
layer is known only up to sign: the algorithm holds hat h_k = t_k h_k with gradient hat w_k = t_k w_k,
t_k in {+1, -1} unknown.  On a region with activation pattern delta, grad z = g(delta) = sum_k W_k delta_k w_k.
The algorithm knows local normals of B_z only up to scale: v = lambda * g for an unknown nonzero lambda
(any sign: this includes the unknown sign t_z of z).

Proved, exhaustively over every activation pattern of the other first-layer neurons, both signs t_k, and
both walking directions:
1. Jump: grad z(side hat h_k > 0) - grad z(side hat h_k < 0) = W_k * hat w_k, for t_k = +1 and t_k = -1.
   It is a nonzero polynomial, so B_z bends at B_{z'} exactly when W_{zz'} != 0 (Theorem 1's converse).
2. Bend equation: with v_near = lambda g_near known and v_far = mu g_far any known normal on the far side,
   dir * (c v_far - v_near) = alpha * hat w_k  (dir = +1 when walking into increasing hat h_k, else -1)
   has the solution c = lambda / mu, alpha = lambda W_k, and it is the only one: the 2x2 minor of the
   system on the first two coordinates is a nonzero polynomial, so Cramer's rule gives the unique solution
   outside its (measure-zero) zero set; every coordinate, including the third for n = 3, is checked.
   So c * v_far = lambda g_far: the scale propagates exactly.
3. Walk A -> B -> C crossing B_{z_k1} then B_{z_k2}, starting from v_A = lambda g_A: the two bend
   equations give alpha_1 = lambda W_k1 and alpha_2 = lambda W_k2, hence alpha_1/alpha_2 = W_k1/W_k2.

Assumptions (and the cases excluded, counted in the tests): the crossing point lies on B_z and B_{z'} only;
grad z != 0 on the near side and grad z is not parallel to w_k on the far side.  In the excluded patterns
(no first-layer neuron active on the near side, or only z' active on the far side) B_z is constant or
parallel to B_{z'} there and does not cross it transversally, so no bend point exists.
"""

from __future__ import annotations

import itertools

import pytest
import sympy as sp

WIDTH = 3
SIZE = sp.Symbol("H", positive=True)


def relu(y: sp.Expr) -> sp.Expr:
    """ReLU as sympy's Max."""
    return sp.Max(0, y)


class Layer2:
    """A second-layer neuron over a symbolic first layer with n inputs."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.xs = list(sp.symbols(f"x1:{n + 1}", real=True))
        self.w = [sp.Matrix([sp.Symbol(f"w{k + 1}_{j + 1}", real=True) for j in range(n)]) for k in range(WIDTH)]
        self.c = sp.symbols(f"c1:{WIDTH + 1}", real=True)
        self.weight = sp.symbols(f"W1:{WIDTH + 1}", real=True)
        self.bias = sp.Symbol("B", real=True)

    def pre1(self, k: int) -> sp.Expr:
        """First-layer preactivation h_k(x)."""
        return (self.w[k].T * sp.Matrix(self.xs))[0] + self.c[k]

    def grad_z(self, pattern: tuple[int, ...]) -> sp.Matrix:
        """Gradient of z on the region with first-layer activation pattern `pattern`."""
        z = sum(self.weight[k] * pattern[k] * self.pre1(k) for k in range(WIDTH)) + self.bias
        return sp.Matrix([sp.diff(z, x) for x in self.xs])


def state_on_side(t_k: int, hat_sign: int) -> int:
    """Activation of neuron k where hat h_k has sign hat_sign, decided by sympy's Max on h_k = t_k hat h_k."""
    value = relu(t_k * hat_sign * SIZE)
    assert not value.has(sp.Max)
    return 0 if value == 0 else 1


def hat_sign_of(pattern: tuple[int, ...], k: int, t_k: int) -> int:
    """Sign of hat h_k on the region with `pattern` (h_k > 0 iff active)."""
    return t_k * (1 if pattern[k] else -1)


def with_state(pattern: tuple[int, ...], k: int, state: int) -> tuple[int, ...]:
    """The pattern with neuron k set to state."""
    return tuple(state if j == k else s for j, s in enumerate(pattern))


def is_zero(v: sp.Matrix) -> bool:
    """Every entry of v cancels to 0."""
    return all(sp.cancel(e) == 0 for e in v)


def transversal(near: tuple[int, ...], far: tuple[int, ...], k: int) -> bool:
    """The excluded degenerate crossings: z constant on the near side, or B_z parallel to B_{z_k} on the far side."""
    far_parallel = all(s == 0 for j, s in enumerate(far) if j != k)
    return any(near) and not far_parallel


def bend_step(
    v_near: sp.Matrix, v_far: sp.Matrix, w_hat: sp.Matrix, direction: int
) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Solve direction*(c v_far - v_near) = alpha w_hat by Cramer's rule on the first two coordinates.

    Returns (c_num, alpha_num, det) with c = c_num/det, alpha = alpha_num/det, all polynomials; asserts
    det is a nonzero polynomial (unique solution) and that every coordinate of the system holds."""
    col_c, col_alpha, rhs = direction * v_far, -w_hat, direction * v_near
    det = sp.expand(col_c[0] * col_alpha[1] - col_alpha[0] * col_c[1])
    assert det != 0, "bend equation not uniquely solvable"
    c_num = sp.expand(rhs[0] * col_alpha[1] - col_alpha[0] * rhs[1])
    alpha_num = sp.expand(col_c[0] * rhs[1] - rhs[0] * col_c[1])
    for i in range(len(rhs)):
        assert sp.expand(c_num * col_c[i] + alpha_num * col_alpha[i] - det * rhs[i]) == 0
    return c_num, alpha_num, det


@pytest.mark.parametrize("n", [2, 3])
def test_jump_is_weight_times_known_gradient_for_both_signs(n: int) -> None:
    """Step 1: the jump in direction +hat h_k is W_k hat w_k for t_k = +1 and -1, and it is nonzero."""
    net = Layer2(n)
    cases = 0
    for k in range(WIDTH):
        for t_k in (1, -1):
            w_hat = t_k * net.w[k]
            for others in itertools.product((0, 1), repeat=WIDTH):
                positive = with_state(others, k, state_on_side(t_k, 1))
                negative = with_state(others, k, state_on_side(t_k, -1))
                jump = net.grad_z(positive) - net.grad_z(negative)
                assert is_zero(jump - net.weight[k] * w_hat)
                assert not is_zero(jump)
                cases += 1
    assert cases == WIDTH * 2 * 2**WIDTH


@pytest.mark.parametrize("n", [2, 3])
def test_bend_equation_recovers_scale_and_weight(n: int) -> None:
    """Step 2: the bend equation has the unique solution c = lambda/mu, alpha = lambda W_k, both directions."""
    net = Layer2(n)
    lam, mu = sp.symbols("lambda mu", real=True, nonzero=True)
    solved = excluded = 0
    for k in range(WIDTH):
        for t_k in (1, -1):
            for near in itertools.product((0, 1), repeat=WIDTH):
                far = with_state(near, k, 1 - near[k])
                if not transversal(near, far, k):
                    excluded += 1
                    continue
                direction = -hat_sign_of(near, k, t_k)      # hat h_k increases iff it is negative here
                v_near, v_far = lam * net.grad_z(near), mu * net.grad_z(far)
                c_num, alpha_num, det = bend_step(v_near, v_far, t_k * net.w[k], direction)
                assert sp.expand(c_num * mu - lam * det) == 0                 # c = lambda/mu: c v_far = lambda g_far
                assert sp.expand(alpha_num - lam * net.weight[k] * det) == 0  # alpha = lambda W_k
                solved += 1
    assert solved + excluded == WIDTH * 2 * 2**WIDTH and solved > excluded


@pytest.mark.parametrize("n", [2, 3])
def test_walk_gives_weight_ratios(n: int) -> None:
    """Step 3: two bend equations along a walk give lambda W_k1 and lambda W_k2, hence their ratio."""
    net = Layer2(n)
    lam, mu1, mu2 = sp.symbols("lambda mu1 mu2", real=True, nonzero=True)
    walks = skipped = 0
    for k1, k2 in itertools.permutations(range(WIDTH), 2):
        for t1, t2 in itertools.product((1, -1), repeat=2):
            for start in itertools.product((0, 1), repeat=WIDTH):
                middle = with_state(start, k1, 1 - start[k1])
                end = with_state(middle, k2, 1 - middle[k2])
                if not (transversal(start, middle, k1) and transversal(middle, end, k2)):
                    skipped += 1
                    continue
                v_start = lam * net.grad_z(start)
                c1, a1, d1 = bend_step(v_start, mu1 * net.grad_z(middle), t1 * net.w[k1], -hat_sign_of(start, k1, t1))
                assert sp.expand(c1 * mu1 - lam * d1) == 0        # c1 * v_far = lambda * g_middle exactly, so:
                v_middle = lam * net.grad_z(middle)
                _, a2, d2 = bend_step(v_middle, mu2 * net.grad_z(end), t2 * net.w[k2], -hat_sign_of(middle, k2, t2))
                assert sp.expand(a1 - lam * net.weight[k1] * d1) == 0
                assert sp.expand(a2 - lam * net.weight[k2] * d2) == 0
                assert sp.expand(a1 * d2 * net.weight[k2] - a2 * d1 * net.weight[k1]) == 0   # alpha1/alpha2 = W_k1/W_k2
                walks += 1
    assert walks + skipped == 6 * 4 * 2**WIDTH and walks > skipped

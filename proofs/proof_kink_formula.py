"""Claim (kink formula): the boundary point on a line is where its two adjacent affine pieces meet,
t* = (a2 - a1) / (s1 - s2), and t* is a rational function of the parameters with integer coefficients.

Setting.  x(t) = p + t*d is a line in R^n (n = 2 and 3 here, every symbol general and real).  A neuron
with preactivation h(x) = w.x + b is crossed by the line at a kink of ReLU(h(x(t))); around that kink the
network restricted to the line reads N(t) = g(t) + v*ReLU(h(x(t))) with g(t) = a0 + s0*t affine (the rest
of the network keeps its activation pattern near the kink) and v != 0 the neuron's outgoing effect.

Assumptions.  w.d != 0 (the line is not parallel to the boundary) and v != 0 (the kink is visible).

Proved here, symbolically:
1. h(x(t)) = alpha + beta*t with alpha = w.p + b, beta = w.d; its zero is t0 = -alpha/beta.
2. Exhaustive sign split (beta > 0 or beta < 0, left or right of t0, by sympy's own Max): ReLU(h) is one
   affine piece on each side, and t* from those pieces equals t0, whichever piece is called "1"; the same
   with the affine rest g and the outgoing weight v added.
3. t* computed from four queries (two on each piece) equals t0: the kink is exact from query values; the
   reference-point form t_ref + (piece2(t_ref) - piece1(t_ref)) / (s1 - s2) (as exactrev.geometry.intersect
   computes it) is the same rational function.  With several outputs, every output whose outgoing effect
   v_o is nonzero gives the same t0 (step 2 holds for each v_o), so the outputs agree on t*.
4. Rationality: t0 = P/Q with P, Q in Z[w, b, p, d] (sympy reports domain ZZ), also in terms of rational
   line endpoints e0, e1 (p = e0, d = e1 - e0) and of the four query positions and values.  Hence t* is
   rational whenever the weights and endpoints are (Q is a field; Q != 0 by assumption); the point x(t*) is
   rational too and lies exactly on w.x + b = 0.
5. The same holds for the kink of a layer-2 neuron u.ReLU(W1 x + b1) + c on every activation pattern of a
   3-neuron first layer: both piece coefficients are in Z[parameters], so t* is in Q(parameters).
"""

from __future__ import annotations

import itertools

import pytest
import sympy as sp

T = sp.Symbol("t", real=True)


def relu(y: sp.Expr) -> sp.Expr:
    """ReLU as sympy's Max, so sign cases are decided by sympy, not by us."""
    return sp.Max(0, y)


def vec(name: str, n: int) -> sp.Matrix:
    """A column of n general real symbols name1..namen."""
    return sp.Matrix(sp.symbols(f"{name}1:{n + 1}", real=True))


def meeting_point(a1: sp.Expr, s1: sp.Expr, a2: sp.Expr, s2: sp.Expr) -> sp.Expr:
    """Where the affine pieces a1 + s1 t and a2 + s2 t meet (the formula under test)."""
    return (a2 - a1) / (s1 - s2)


def affine_coefficients(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(constant, slope) of an expression that must be affine in t; fails loudly otherwise."""
    poly = sp.Poly(sp.expand(expr), T)
    assert poly.degree() <= 1, f"not affine in t: {expr}"
    return poly.coeff_monomial(1), poly.coeff_monomial(T)


def assert_integer_polynomial(expr: sp.Expr, gens: list[sp.Symbol]) -> None:
    """expr is a polynomial in gens with integer coefficients."""
    poly = sp.Poly(expr, *gens)
    assert poly.domain == sp.ZZ, f"coefficients not integral: {poly.domain}"


@pytest.mark.parametrize("n", [2, 3])
def test_preactivation_is_affine_along_the_line(n: int) -> None:
    """Step 1: h(x(t)) = (w.p + b) + (w.d) t."""
    w, p, d, b = vec("w", n), vec("p", n), vec("d", n), sp.Symbol("b", real=True)
    h = (w.T * (p + T * d))[0] + b
    alpha, beta = affine_coefficients(h)
    assert sp.expand(alpha - ((w.T * p)[0] + b)) == 0
    assert sp.expand(beta - (w.T * d)[0]) == 0


@pytest.mark.parametrize("with_rest", [False, True])
def test_pieces_meet_at_the_zero_of_the_preactivation(with_rest: bool) -> None:
    """Step 2: the two pieces beside the kink meet at t0 = -alpha/beta, for both signs of beta."""
    alpha = sp.Symbol("alpha", real=True)
    slope_size, dist = sp.symbols("B E", positive=True)
    v = sp.Symbol("v", real=True, nonzero=True) if with_rest else sp.Integer(1)
    a0, s0 = sp.symbols("a0 s0", real=True) if with_rest else (sp.Integer(0), sp.Integer(0))
    for beta_sign in (1, -1):
        beta = beta_sign * slope_size
        t0 = -alpha / beta
        pieces = {}
        for side in (-1, 1):                      # left / right of t0, at any distance E > 0
            t_side = t0 + side * dist
            h_side = sp.simplify(alpha + beta * t_side)
            assert sp.simplify(h_side - beta_sign * side * slope_size * dist) == 0
            value = relu(h_side)                    # decided by sympy's Max on a signed positive symbol
            assert not value.has(sp.Max), f"sympy could not decide the sign case: {value}"
            active = value != 0
            assert active == (beta_sign * side == 1)
            a, s = (alpha, beta) if active else (sp.Integer(0), sp.Integer(0))
            a, s = a0 + v * a, s0 + v * s
            n_side = a0 + s0 * t_side + v * relu(h_side)
            assert sp.simplify(n_side - (a + s * t_side)) == 0
            pieces[side] = (a, s)
        (a1, s1), (a2, s2) = pieces[-1], pieces[1]
        assert sp.simplify(meeting_point(a1, s1, a2, s2) - t0) == 0
        assert sp.simplify(meeting_point(a2, s2, a1, s1) - t0) == 0


def test_kink_from_four_queries_is_exact() -> None:
    """Step 3: t* from two queries on each piece is exact, and an integer-coefficient rational function of them."""
    a1, s1, a2, s2 = sp.symbols("a1 s1 a2 s2", real=True)
    ts = sp.symbols("t1:5", real=True)
    fs = sp.symbols("f1:5", real=True)
    # slopes and intercepts as a query-based search computes them from N(t1), N(t2) and N(t3), N(t4)
    q_s1 = (fs[1] - fs[0]) / (ts[1] - ts[0])
    q_a1 = fs[0] - q_s1 * ts[0]
    q_s2 = (fs[3] - fs[2]) / (ts[3] - ts[2])
    q_a2 = fs[2] - q_s2 * ts[2]
    t_star = sp.cancel(meeting_point(q_a1, q_s1, q_a2, q_s2))
    num, den = sp.fraction(t_star)
    assert_integer_polynomial(num, [*ts, *fs])
    assert_integer_polynomial(den, [*ts, *fs])
    queried = {fs[0]: a1 + s1 * ts[0], fs[1]: a1 + s1 * ts[1], fs[2]: a2 + s2 * ts[2], fs[3]: a2 + s2 * ts[3]}
    assert sp.cancel(t_star.subs(queried) - meeting_point(a1, s1, a2, s2)) == 0


def test_reference_point_form_is_the_same_formula() -> None:
    """Step 3: t_ref + (piece2(t_ref) - piece1(t_ref)) / (s1 - s2) equals (a2 - a1) / (s1 - s2) for every t_ref."""
    a1, s1, a2, s2, t_ref = sp.symbols("a1 s1 a2 s2 t_ref", real=True)
    gap = (a2 + s2 * t_ref) - (a1 + s1 * t_ref)
    assert sp.cancel(t_ref + gap / (s1 - s2) - meeting_point(a1, s1, a2, s2)) == 0


@pytest.mark.parametrize("n", [2, 3])
def test_kink_is_rational_in_the_parameters(n: int) -> None:
    """Step 4: t* = P/Q with P, Q in Z[w, b, p, d] (and in Z[w, b, e0, e1]); x(t*) is on the hyperplane."""
    w, p, d, b = vec("w", n), vec("p", n), vec("d", n), sp.Symbol("b", real=True)
    e0, e1 = vec("e0_", n), vec("e1_", n)
    alpha, beta = affine_coefficients((w.T * (p + T * d))[0] + b)
    t_star = sp.cancel(meeting_point(sp.Integer(0), sp.Integer(0), alpha, beta))
    num, den = sp.fraction(t_star)
    gens = [*w, b, *p, *d]
    assert_integer_polynomial(num, gens)
    assert_integer_polynomial(den, gens)
    assert sp.expand(den**2 - ((w.T * d)[0]) ** 2) == 0      # the only denominator is +-w.d
    x_star = p + t_star * d
    assert sp.cancel((w.T * x_star)[0] + b) == 0
    from_endpoints = sp.cancel(t_star.subs({**dict(zip(p, e0)), **{d[i]: e1[i] - e0[i] for i in range(n)}}))
    for part in sp.fraction(from_endpoints):
        assert_integer_polynomial(part, [*w, b, *e0, *e1])


@pytest.mark.parametrize("n", [2, 3])
def test_layer_two_kink_is_rational_on_every_pattern(n: int) -> None:
    """Step 5: a layer-2 kink is in Q(parameters) on every first-layer activation pattern."""
    width = 3
    w1 = sp.Matrix(width, n, lambda i, j: sp.Symbol(f"W{i + 1}{j + 1}", real=True))
    b1, u = vec("b", width), vec("u", width)
    c = sp.Symbol("c", real=True)
    p, d = vec("p", n), vec("d", n)
    pre = w1 * (p + T * d) + b1
    gens = [*w1, *b1, *u, c, *p, *d]
    for pattern in itertools.product((0, 1), repeat=width):
        z = sum(u[i] * pattern[i] * pre[i] for i in range(width)) + c
        alpha, beta = affine_coefficients(z)
        assert_integer_polynomial(alpha, gens)
        assert_integer_polynomial(beta, gens)
        if beta == 0:                             # the all-inactive pattern: z is constant, no kink
            assert pattern == (0,) * width
            continue
        t_star = sp.cancel(-alpha / beta)
        assert sp.cancel(alpha + beta * t_star) == 0
        for part in sp.fraction(t_star):
            assert_integer_polynomial(part, gens)

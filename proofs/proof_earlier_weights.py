"""Claim (layer k-1's unmeasured weights in layer k's sign system, exactrev/layer_signs.py): if the known
preactivation hat h_z of a layer-(k-1) neuron lacks a term P relu(h_j) (h_z = hat h_z + P relu(h_j)), then at
a point where h_j > 0 and h_z has the sign s of hat h_z, the term W relu(t h_z) of a layer-k neuron adds
    W/2 (Q + s P) grad h_j   to its gradient   and   W/2 (Q + s P) h_j   to its value,   with Q = t P,
to what the known hat h_z gives (W (t + s)/2 grad hat h_z and W (t hat h_z + |hat h_z|)/2): linear in (P, Q)
for known W and s.  Where h_j <= 0 nothing is added.  For a walk whose W is unknown and enters as
u = W t [t == s], the added terms are R grad h_j and R h_j with R = u P.

Proved with sympy for both t and both s, with hat h_z and h_j affine in two inputs (general symbols): the
gradient and value of W Max(0, t h_z) are computed from Max at a point of the stated signs (signed positive
symbols), and the differences are the claimed terms exactly.
"""

from __future__ import annotations

import itertools

import sympy as sp

XS = list(sp.symbols("x1:3", real=True))
W, P = sp.symbols("W P", real=True)
HJ, HZ = sp.symbols("H_j H_z", positive=True)          # |h_j| and |h_z| at the point
A = sp.Matrix(sp.symbols("a1:3", real=True))            # grad hat h_z
G = sp.Matrix(sp.symbols("g1:3", real=True))            # grad h_j
ALPHA, BETA = sp.symbols("alpha beta", real=True)


def parts(t: int, s: int) -> tuple[sp.Expr, sp.Matrix, sp.Expr, sp.Matrix]:
    """(value, gradient) of W relu(t h_z) with and without the P relu(h_j) term, at a point where h_j = H_j > 0
    and hat h_z + P H_j = s H_z (the full h_z has sign s), hat h_z then having that sign too by assumption."""
    x = sp.Matrix(XS)
    h_j = (G.T * x)[0] + BETA
    hat = (A.T * x)[0] + ALPHA
    full = W * sp.Max(0, t * (hat + P * sp.Max(0, h_j)))
    known = W * sp.Max(0, t * hat)
    point = {BETA: HJ - (G.T * x)[0]}
    at_full = {**point, ALPHA: s * HZ - P * HJ - (A.T * x)[0]}      # full h_z = s H_z
    at_known = {**point, ALPHA: s * HZ - (A.T * x)[0]}              # hat h_z = s H_z
    grad = lambda e, at: sp.Matrix([sp.diff(e, xi) for xi in XS]).subs(at)   # noqa: E731
    return full.subs(at_full), grad(full, at_full), known.subs(at_known), grad(known, at_known)


def test_the_missing_weight_adds_a_term_linear_in_p_and_q() -> None:
    for t, s in itertools.product((1, -1), repeat=2):
        value, gradient, _, _ = parts(t, s)
        hat_value = s * HZ - P * HJ                     # hat h_z at the point
        q = t * P
        known_value = W * (t * hat_value + s * hat_value) / 2          # W (t hat h + |hat h|)/2, |hat h| = s hat h
        known_gradient = W * (t + s) * A / 2
        assert sp.simplify(value - known_value - W * (q + s * P) * HJ / 2) == 0
        assert sp.simplify(gradient - known_gradient - W * (q + s * P) * G / 2) == sp.zeros(2, 1)


def test_a_walk_with_an_unknown_weight_adds_r_times_the_same() -> None:
    """u = W t [t == s]: the added terms are u P grad h_j and u P h_j (0 when z is off, t != s)."""
    for t, s in itertools.product((1, -1), repeat=2):
        value, gradient, _, _ = parts(t, s)
        u = W * t if t == s else 0
        hat_value = s * HZ - P * HJ
        assert sp.simplify(value - u * hat_value - u * P * HJ) == 0
        assert sp.simplify(gradient - u * A - u * P * G) == sp.zeros(2, 1)


def test_nothing_is_added_where_j_is_off() -> None:
    x = sp.Matrix(XS)
    for t in (1, -1):
        full = W * sp.Max(0, t * ((A.T * x)[0] + ALPHA + P * sp.Max(0, (G.T * x)[0] + BETA)))
        known = W * sp.Max(0, t * ((A.T * x)[0] + ALPHA))
        off = {BETA: -HJ - (G.T * x)[0]}
        assert sp.simplify((full - known).subs(off)) == 0

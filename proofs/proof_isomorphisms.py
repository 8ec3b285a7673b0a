"""Claim (isomorphisms and the canonical form): permuting the neurons of a hidden layer and scaling a hidden
neuron's incoming weights and bias by c > 0 (outgoing by 1/c) leave the network function unchanged; the
canonical form of network-format.md is invariant under both; and two networks with the same canonical form
are related by permutation and positive scaling (after dropping all-zero neurons).

Networks: widths 2-3-2-1 with general real symbols, ReLU after both hidden layers; scales are positive
symbols.

Function invariance (the paper's section 3.1 and Appendix A, Lemma 1).  First, case split with sympy's Max:
ReLU(c*y) = c*ReLU(y) for c > 0 and y > 0, y < 0, y = 0 (all reals).  The network is then written with
`ReLU`, an undefined function whose only simplification is exactly that identity (positive factors move
out), so equality of the two symbolic networks holds for the true ReLU.  Checked for every permutation of
both hidden layers, all neurons scaled at once, and both combined.

Canonical form (spec: drop all-zero neurons; divide each neuron by m = max(|incoming|, |bias|) and multiply
its outgoing weights by m; sort lexicographically; layer by layer):
1. max-abs is positively homogeneous: max(|c v_l|) = c max(|v_l|) (case split over the argmax, by Max);
2. so the normalised row and normalised outgoing column are independent of c (and the row's max-abs is 1);
3. for a twin with layer 1 permuted by pi and scaled by c, layer 2 permuted by tau and scaled by d (every
   pi, tau), normalised item i of the twin equals normalised item pi(i) of the original, in both layers, and
   the output layers agree: the twin differs from the original only by the order of items, which sorting
   removes (finite check: sorting any order type of up to 5 distinct keys ignores the input order).
Completeness: the maps T(pi, c) (permute a layer by pi, scale by c > 0, compensate the next layer) are closed
under composition and inverse (symbolic, every pi, rho in S_3), maps on consecutive layers commute, and the
canonicalisation of a layer is one such map (scales 1/m > 0, order = the sort).  So canonical(N) = T_N(N)
and canonical(N') = T_N'(N') with equal left sides give N' = T_N'^{-1} T_N (N), a permutation and positive
scaling.  Dropped all-zero neurons contribute u * ReLU(0) = 0.

Assumption for invariance: within each hidden layer the normalised (incoming, bias) rows are pairwise
distinct.  With exact duplicates the sort has ties and the canonical form can depend on the input order
(duplicates are an additional isomorphism, outside this form's promise).
"""

from __future__ import annotations

import itertools

import sympy as sp

N_IN, N1, N2 = 2, 3, 2


class ReLU(sp.Function):
    """Undefined ReLU whose only rewrite is ReLU(c*y) -> c*ReLU(y) for c known positive (proved below)."""

    @classmethod
    def eval(cls, arg: sp.Expr) -> sp.Expr | None:
        factored = sp.factor_terms(arg)
        if not factored.is_Mul:
            return None
        positive = [f for f in factored.args if f.is_positive]
        if not positive:
            return None
        rest = [f for f in factored.args if not f.is_positive]
        return sp.Mul(*positive) * cls(sp.Mul(*rest))


def symbol_matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    """A rows x cols matrix of general real symbols name_ij."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def positive_symbols(name: str, n: int) -> list[sp.Symbol]:
    """n positive symbols name1..namen."""
    return list(sp.symbols(f"{name}1:{n + 1}", positive=True))


class Net:
    """A symbolic 2-3-2-1 network: weights[k] has one row per neuron of layer k+1, biases[k] a column."""

    def __init__(self, weights: list[sp.Matrix], biases: list[sp.Matrix]) -> None:
        self.weights, self.biases = weights, biases

    @classmethod
    def general(cls) -> "Net":
        """The 2-3-2-1 network with every parameter a general real symbol."""
        widths = [N_IN, N1, N2, 1]
        names = ("W", "V", "U")
        weights = [symbol_matrix(names[k], widths[k + 1], widths[k]) for k in range(3)]
        biases = [symbol_matrix(names[k].lower(), widths[k + 1], 1) for k in range(3)]
        return cls(weights, biases)

    def __call__(self, xs: list[sp.Symbol]) -> sp.Expr:
        """N(xs) as a symbolic expression."""
        act = sp.Matrix(xs)
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            pre = (w * act + b).applyfunc(sp.expand)
            act = pre.applyfunc(ReLU) if k < len(self.weights) - 1 else pre
        return sp.expand(act[0])

    def transformed(self, k: int, perm: tuple[int, ...], scales: list[sp.Expr]) -> "Net":
        """T(perm, scales) on hidden layer k: new neuron i is old neuron perm[i] scaled by scales[i]."""
        weights, biases = list(self.weights), list(self.biases)
        n = len(perm)
        weights[k] = sp.Matrix(n, weights[k].cols, lambda i, j: scales[i] * self.weights[k][perm[i], j])
        biases[k] = sp.Matrix(n, 1, lambda i, _: scales[i] * self.biases[k][perm[i]])
        nxt = self.weights[k + 1]
        weights[k + 1] = sp.Matrix(nxt.rows, n, lambda r, i: nxt[r, perm[i]] / scales[i])
        return Net(weights, biases)

    def same_as(self, other: "Net") -> bool:
        """Parameter-wise symbolic equality."""
        return all(sp.simplify(a - b) == sp.zeros(*a.shape)
                   for a, b in zip(self.weights + self.biases, other.weights + other.biases))


def inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    """The inverse permutation."""
    return tuple(sorted(range(len(perm)), key=perm.__getitem__))


def test_relu_positive_homogeneity_all_signs() -> None:
    """ReLU(c y) = c ReLU(y) for c > 0 in all three sign cases of y: the only rewrite ReLU uses."""
    c, size = sp.Symbol("c", positive=True), sp.Symbol("Y", positive=True)
    for y in (size, -size, sp.Integer(0)):
        lhs, rhs = sp.Max(0, c * y), c * sp.Max(0, y)
        assert not lhs.has(sp.Max) and not rhs.has(sp.Max)
        assert sp.simplify(lhs - rhs) == 0
    assert ReLU(c * sp.Symbol("y", real=True)) == c * ReLU(sp.Symbol("y", real=True))


def test_permutation_leaves_function_unchanged() -> None:
    """Every permutation of both hidden layers leaves N unchanged."""
    net, xs = Net.general(), list(sp.symbols("x1:3", real=True))
    reference = net(xs)
    ones1, ones2 = [sp.Integer(1)] * N1, [sp.Integer(1)] * N2
    for p1 in itertools.permutations(range(N1)):
        for p2 in itertools.permutations(range(N2)):
            twin = net.transformed(0, p1, ones1).transformed(1, p2, ones2)
            assert sp.expand(twin(xs) - reference) == 0


def test_scaling_and_permutation_leave_function_unchanged() -> None:
    """Positive scaling of every hidden neuron, alone and with permutations, leaves N unchanged."""
    net, xs = Net.general(), list(sp.symbols("x1:3", real=True))
    reference = net(xs)
    c, d = positive_symbols("c", N1), positive_symbols("d", N2)
    scaled = net.transformed(0, tuple(range(N1)), c).transformed(1, tuple(range(N2)), d)
    assert sp.expand(scaled(xs) - reference) == 0
    for p1 in itertools.permutations(range(N1)):
        twin = net.transformed(0, p1, c).transformed(1, (1, 0), d)
        assert sp.expand(twin(xs) - reference) == 0


def test_max_abs_is_positively_homogeneous() -> None:
    """Canonical step 1: max_l |c v_l| = c max_l |v_l| for c > 0 (case split over the argmax)."""
    c, top = sp.Symbol("c", positive=True), sp.Symbol("A", nonnegative=True)
    gaps = sp.symbols("e1:4", nonnegative=True)
    for argmax in range(3):                      # every vector has an entry of largest absolute value
        absolute = [top if l == argmax else top - gaps[l] for l in range(3)]
        scaled = sp.Max(*[c * a for a in absolute])
        assert not scaled.has(sp.Max) and sp.simplify(scaled - c * sp.Max(*absolute)) == 0
    v = sp.Symbol("v", real=True)
    assert sp.Abs(c * v) == c * sp.Abs(v)


def test_normalised_neuron_is_scale_free() -> None:
    """Canonical step 2: the normalised row and outgoing column do not depend on c > 0."""
    c, m = sp.Symbol("c", positive=True), sp.Symbol("M", positive=True)
    row = sp.Matrix(sp.symbols("w1 w2 b", real=True))
    out = sp.Matrix(sp.symbols("u1 u2", real=True))
    # the scaled neuron's max-abs is c*M (test_max_abs_is_positively_homogeneous)
    assert sp.simplify((c * row) / (c * m) - row / m) == sp.zeros(3, 1)
    assert sp.simplify((out / c) * (c * m) - out * m) == sp.zeros(2, 1)
    # and the normalised row has max-abs M/M = 1 (homogeneity with factor 1/M)
    assert sp.simplify(m / m) == 1


def normalise(w: sp.Matrix, b: sp.Matrix, nxt: sp.Matrix, maxabs: list[sp.Expr]) -> list[tuple[sp.Matrix, sp.Matrix]]:
    """Per neuron i: (normalised [incoming, bias] row, normalised outgoing column) = (row/m_i, column*m_i)."""
    return [(sp.Matrix.hstack(w.row(i), b.row(i)) / maxabs[i], nxt.col(i) * maxabs[i]) for i in range(w.rows)]


def same_items(a: tuple[sp.Matrix, sp.Matrix], b: tuple[sp.Matrix, sp.Matrix]) -> bool:
    """Both parts of two normalised items agree symbolically."""
    return all(sp.simplify(x - y) == sp.zeros(*x.shape) for x, y in zip(a, b))


def test_canonical_form_of_a_permuted_scaled_twin_is_the_same() -> None:
    """Canonical step 3: a permuted and scaled twin normalises to the same items, only reordered."""
    net = Net.general()
    c, d = positive_symbols("c", N1), positive_symbols("d", N2)
    m1, m2 = positive_symbols("M", N1), positive_symbols("K", N2)   # max-abs of the original's rows
    for p1 in itertools.permutations(range(N1)):
        for p2 in itertools.permutations(range(N2)):
            twin = net.transformed(0, p1, c).transformed(1, p2, d)
            # layer 1: the twin's max-abs are c_i * M_{p1(i)} by homogeneity
            orig1 = normalise(net.weights[0], net.biases[0], net.weights[1], m1)
            twin1 = normalise(twin.weights[0], twin.biases[0], twin.weights[1], [c[i] * m1[p1[i]] for i in range(N1)])
            # each normalised twin item i is the original item p1(i): the rows agree, the outgoing columns
            # agree up to the (layer-2) row permutation and scaling the twin still carries
            for i in range(N1):
                assert sp.simplify(twin1[i][0] - orig1[p1[i]][0]) == sp.zeros(1, N_IN + 1)
                expect = sp.Matrix(N2, 1, lambda j, _: d[j] * orig1[p1[i]][1][p2[j]])
                assert sp.simplify(twin1[i][1] - expect) == sp.zeros(N2, 1)
            # sorting (distinct rows) puts twin item p1^{-1}(k) where the original puts item k
            back = inverse(p1)
            orig_next = sp.Matrix.hstack(*[orig1[k][1] for k in range(N1)])
            twin_next = sp.Matrix.hstack(*[twin1[back[k]][1] for k in range(N1)])
            # layer 2: twin row j is d_j times original row p2(j); its max-abs is d_j * K_{p2(j)}
            orig2 = normalise(orig_next, net.biases[1], net.weights[2], m2)
            twin2 = normalise(twin_next, twin.biases[1], twin.weights[2], [d[j] * m2[p2[j]] for j in range(N2)])
            for j in range(N2):
                assert same_items(twin2[j], orig2[p2[j]])


def test_sorting_ignores_the_input_order() -> None:
    """Sorting distinct keys gives the same list for every input order (all order types up to 5)."""
    for n in range(1, 6):                        # every order type of n distinct keys is a permutation of range(n)
        base = sorted(range(n))
        assert all(sorted(order) == base for order in itertools.permutations(range(n)))


def test_transformations_form_a_group_and_commute_across_layers() -> None:
    """Completeness: T maps compose and invert within the class, commute across layers; normalising is a T map."""
    net = Net.general()
    c, e = positive_symbols("c", N1), positive_symbols("e", N1)
    d = positive_symbols("d", N2)
    identity1 = tuple(range(N1))
    for p in itertools.permutations(range(N1)):
        back = inverse(p)
        undo = [1 / c[back[i]] for i in range(N1)]
        assert all(s.is_positive for s in undo)
        assert net.transformed(0, p, c).transformed(0, back, undo).same_as(net)
        for r in itertools.permutations(range(N1)):
            twice = net.transformed(0, p, c).transformed(0, r, e)
            composed = tuple(p[r[i]] for i in range(N1))
            scales = [e[i] * c[r[i]] for i in range(N1)]
            assert all(s.is_positive for s in scales)
            assert twice.same_as(net.transformed(0, composed, scales))
        for q in itertools.permutations(range(N2)):
            assert (net.transformed(0, p, c).transformed(1, q, d)
                    .same_as(net.transformed(1, q, d).transformed(0, p, c)))
    m = positive_symbols("M", N1)
    canonicalise_scales = [1 / m[i] for i in identity1]            # the canonical scaling step is a T(id, 1/m)
    assert all(s.is_positive for s in canonicalise_scales)
    normalised = normalise(net.weights[0], net.biases[0], net.weights[1], m)
    step = net.transformed(0, identity1, canonicalise_scales)
    for i in range(N1):
        row = sp.Matrix.hstack(step.weights[0].row(i), step.biases[0].row(i))
        assert sp.simplify(row - normalised[i][0]) == sp.zeros(1, N_IN + 1)
        assert sp.simplify(step.weights[1].col(i) - normalised[i][1]) == sp.zeros(N2, 1)


def test_dropped_zero_neuron_contributes_nothing() -> None:
    """An all-zero neuron contributes u * ReLU(0) = 0, so dropping it keeps N."""
    u = sp.Symbol("u", real=True)
    xs = sp.symbols("x1:3", real=True)
    assert u * sp.Max(0, 0 * xs[0] + 0 * xs[1] + 0) == 0

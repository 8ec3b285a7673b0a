"""`Network`: a fully connected ReLU network with exact rational parameters, and its evaluation.

N(x) = W_L ReLU(... ReLU(W_1 x + b_1) ...) + b_L.  Parameters are Fractions at the surface; exact
evaluation runs on flint integer matrices (each layer scaled to one common denominator, each input
column carrying its own denominator), which is ~1000x faster than Python loops over Fractions.
When the first layer's integers are small enough, its product runs in float64 BLAS on limbs whose
every dot product stays below 2**53, hence exactly.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from itertools import repeat
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from flint import fmpq, fmpz_mat

from .errors import ExactrevError
from .numbers import shown, to_fraction

Matrix = tuple[tuple[Fraction, ...], ...]
Vector = tuple[Fraction, ...]
_INT, _FRACTION, _FLOAT, _FMPQ = {int}, {Fraction}, {float}, {fmpq}
_INT64_MIN = -2**63
# Fraction's slots are read directly in the hot loop (its public properties cost a Python call each).
_numerator, _denominator = ((operator.attrgetter("_numerator"), operator.attrgetter("_denominator"))
                            if hasattr(Fraction(1), "_numerator") and hasattr(Fraction(1), "_denominator") else
                            (operator.attrgetter("numerator"), operator.attrgetter("denominator")))
# First-layer weights with at most this many bits (after clearing denominators) use exact float64 BLAS.
_BLAS_WEIGHT_BITS = 40


class Network:
    """A fully connected ReLU network with exact parameters (ReLU after every layer but the last)."""

    __slots__ = ("weights", "biases", "meta", "_int_layers", "_float_layers", "_blas_first")

    def __init__(self, weights: Sequence[Any], biases: Sequence[Any], meta: dict | None = None,
                 *, source: str = "network") -> None:
        """Build from per-layer weight matrices (rows = neurons) and bias vectors, read exactly.

        `source` names the origin (e.g. a file) in error messages.
        """
        if len(weights) == 0:
            raise ExactrevError(f"{source}: a network needs at least one layer")
        if len(weights) != len(biases):
            raise ExactrevError(f"{source}: {len(weights)} weight matrices but {len(biases)} bias vectors")
        ws: list[Matrix] = []
        bs: list[Vector] = []
        fan_in: int | None = None
        for k, (w, b) in enumerate(zip(weights, biases)):
            rows = _rows_of(w, f"{source}: layers[{k}].weight")
            if len(rows) == 0:
                raise ExactrevError(f"{source}: layers[{k}].weight is empty (a layer needs at least one neuron)")
            mat = []
            for i, row in enumerate(rows):
                cells = _rows_of(row, f"{source}: layers[{k}].weight[{i}]")
                if fan_in is None:
                    fan_in = len(cells)
                    if fan_in == 0:
                        raise ExactrevError(f"{source}: layers[0].weight[0] is empty (0 inputs)")
                if len(cells) != fan_in:
                    what = "the input width" if k == 0 else f"the {fan_in} neurons of layers[{k - 1}]"
                    raise ExactrevError(f"{source}: layers[{k}].weight[{i}] has {len(cells)} columns, "
                                        f"expected {fan_in} ({what})")
                mat.append(tuple(_exact(v, f"{source}: layers[{k}].weight[{i}][{j}]") for j, v in enumerate(cells)))
            bvec = _rows_of(b, f"{source}: layers[{k}].bias")
            if len(bvec) != len(mat):
                raise ExactrevError(f"{source}: layers[{k}].bias has {len(bvec)} entries, "
                                    f"expected {len(mat)} (one per row of layers[{k}].weight)")
            ws.append(tuple(mat))
            bs.append(tuple(_exact(v, f"{source}: layers[{k}].bias[{i}]") for i, v in enumerate(bvec)))
            fan_in = len(mat)
        self.weights: tuple[Matrix, ...] = tuple(ws)
        self.biases: tuple[Vector, ...] = tuple(bs)
        self.meta: dict = dict(meta or {})
        self._int_layers: list[tuple[fmpz_mat, fmpz_mat, int]] | None = None
        self._float_layers: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._blas_first: tuple[np.ndarray | None] | None = None

    # ----------------------------------------------------------------- shape
    @property
    def widths(self) -> list[int]:
        """[n_in, n_1, ..., n_out]."""
        return [len(self.weights[0][0])] + [len(w) for w in self.weights]

    @property
    def input_dim(self) -> int:
        return len(self.weights[0][0])

    @property
    def output_dim(self) -> int:
        return len(self.weights[-1])

    @property
    def num_params(self) -> int:
        """Number of weights and biases."""
        w = self.widths
        return sum((w[k] + 1) * w[k + 1] for k in range(len(w) - 1))

    @property
    def num_hidden(self) -> int:
        """Number of hidden neurons (all layers but the output)."""
        return sum(self.widths[1:-1])

    @property
    def functional_dimension_bound(self) -> int:
        """#params - #hidden neurons: the generic functional dimension (scaling removes one per neuron)."""
        return self.num_params - self.num_hidden

    # ----------------------------------------------------------- evaluation
    def __call__(self, x: Sequence[Any]) -> list[Fraction]:
        """Exact outputs at one input (any exact-readable numbers)."""
        return self.evaluate_batch([x])[0]

    def evaluate_batch(self, xs: Sequence[Sequence[Any]]) -> list[list[Fraction]]:
        """Exact outputs at many inputs at once (flint integer matrix products; floats read exactly)."""
        num, dens, _ = self._forward_int(xs)
        return _columns_as_fractions(num, dens)

    def preactivations_batch(self, xs: Sequence[Sequence[Any]]) -> list[list[list[Fraction]]]:
        """Exact pre-activations of every layer (hidden and output) at many inputs: [point][layer][neuron]."""
        per_layer = [_columns_as_fractions(z, d) for z, d in self._forward_int(xs, collect=True)[2]]
        return [[layer[j] for layer in per_layer] for j in range(len(per_layer[0]))]

    def evaluate_float(self, xs: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
        """float64 evaluation with numpy (for proposals and float oracles of float networks only)."""
        h = np.asarray(xs, dtype=np.float64).T
        layers = self._floats()
        for k, (w, b) in enumerate(layers):
            h = w @ h + b[:, None]
            if k < len(layers) - 1:
                np.maximum(h, 0.0, out=h)
        return h.T

    def hidden_float(self, xs: np.ndarray, depth: int) -> np.ndarray:
        """float64 outputs of hidden layer `depth` (one row per input), for proposals only."""
        h = np.asarray(xs, dtype=np.float64).T
        for w, b in self._floats()[:depth]:
            h = np.maximum(w @ h + b[:, None], 0.0)
        return h.T

    def patterns_float(self, xs: np.ndarray, depth: int) -> np.ndarray:
        """float64 activation patterns (one row of booleans per input) of the first `depth` hidden layers,
        for proposing probe points only: a point near a boundary may be classified on the wrong side."""
        h, out = np.asarray(xs, dtype=np.float64).T, []
        for w, b in self._floats()[:depth]:
            h = np.maximum(w @ h + b[:, None], 0.0)
            out.append(h > 0)
        return np.concatenate(out).T

    def _ints(self) -> list[tuple[fmpz_mat, fmpz_mat, int]]:
        """Per layer: (integer weights, integer bias column, common denominator c) with W = Wn/c, b = bn/c."""
        if self._int_layers is None:
            layers = []
            for w, b in zip(self.weights, self.biases):
                c = math.lcm(*{v.denominator for row in w for v in row}, *{v.denominator for v in b})
                wn = fmpz_mat(len(w), len(w[0]), [v.numerator * (c // v.denominator) for row in w for v in row])
                bn = fmpz_mat(len(b), 1, [v.numerator * (c // v.denominator) for v in b])
                layers.append((wn, bn, c))
            self._int_layers = layers
        return self._int_layers

    def _first_weights_blas(self) -> np.ndarray | None:
        """The first layer's integer weights as float64 when they are small enough for exact BLAS products."""
        if self._blas_first is None:
            wn = self._ints()[0][0]
            entries = [int(v) for v in wn.entries()]
            bits = max(abs(v) for v in entries).bit_length()
            ok = bits <= _BLAS_WEIGHT_BITS
            self._blas_first = (np.array(entries, dtype=np.float64).reshape(wn.nrows(), wn.ncols()) if ok else None,)
        return self._blas_first[0]

    def _floats(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self._float_layers is None:
            self._float_layers = [(np.array([[float(v) for v in row] for row in w]), np.array([float(v) for v in b]))
                                  for w, b in zip(self.weights, self.biases)]
        return self._float_layers

    def _forward_int(self, xs: Sequence[Sequence[Any]], *, collect: bool = False
                     ) -> tuple[fmpz_mat, list[int], list[tuple[fmpz_mat, list[int]]]]:
        """Integer forward pass: column j of the result divided by dens[j] is the exact output.

        With `collect`, also returns every layer's pre-activations as (numerators, denominators).
        """
        if isinstance(xs, np.ndarray) and xs.dtype.kind == "f":
            xs = xs.astype(np.float64).tolist()  # widening to float64 is exact; Python floats take the fast path
        x, dens = _points_to_ints(xs, self.input_dim)
        batch = len(dens)
        pre: list[tuple[fmpz_mat, list[int]]] = []
        last = len(self.weights) - 1
        num = None
        for k, (wn, bn, c) in enumerate(self._ints()):
            product = _first_product(wn, self._first_weights_blas(), x, batch) if k == 0 else wn * num
            z = product + bn * fmpz_mat(1, batch, dens)
            dens = [d * c for d in dens]
            if collect:
                pre.append((z, dens))
            num = z if k == last else fmpz_mat(z.nrows(), batch, [v if v > 0 else 0 for v in z.entries()])
        return num, dens, pre

    # ------------------------------------------------------------ building
    @classmethod
    def from_arrays(cls, weights: Sequence[Any], biases: Sequence[Any], meta: dict | None = None) -> "Network":
        """From numpy arrays or nested lists; floats are read as the exact dyadic rationals they are."""
        return cls([np.asarray(w, dtype=object).tolist() if isinstance(w, np.ndarray) else w for w in weights],
                   [np.asarray(b, dtype=object).tolist() if isinstance(b, np.ndarray) else b for b in biases],
                   meta, source="arrays")

    @classmethod
    def load(cls, path: str | Path) -> "Network":
        """Read a network file (spec: network-format.md); errors name the file and location."""
        from .netformat import read_network_file
        return read_network_file(path)

    def save(self, path: str | Path) -> None:
        """Write the network file atomically, numbers as lowest-terms "p/q" strings."""
        from .netformat import write_network_file
        write_network_file(self, path)

    def to_torch(self, dtype: Any = None) -> Any:
        """This network as a torch nn.Sequential of Linear/ReLU (float64 unless `dtype`); needs torch."""
        from .interop import to_torch
        return to_torch(self, dtype)

    def to_dict(self) -> dict:
        from .netformat import network_to_dict
        return network_to_dict(self)

    def without_idle_neurons(self) -> tuple["Network", list[tuple[int, int]]]:
        """The same function without the hidden neurons whose outgoing weights are all 0 (nothing downstream
        sees them), and the (layer, neuron) removed (layers from 1, neurons numbered as in self).  Layers are
        pruned from the last, as removing a neuron may leave those feeding only it idle; each keeps one neuron."""
        weights = [list(map(list, w)) for w in self.weights]
        biases = [list(b) for b in self.biases]
        removed = []
        for k in range(len(weights) - 2, -1, -1):     # layer k's rows are still those of self here
            idle = [i for i in range(len(weights[k])) if all(row[i] == 0 for row in weights[k + 1])]
            idle = idle[:len(weights[k]) - 1]
            for i in reversed(idle):
                del weights[k][i], biases[k][i]
                for row in weights[k + 1]:
                    del row[i]
            removed += [(k + 1, i) for i in idle]
        if not removed:
            return self, []
        return Network(weights, biases, self.meta), sorted(removed)

    # ------------------------------------------------------------- identity
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Network) and self.weights == other.weights and self.biases == other.biases

    def __hash__(self) -> int:
        return hash((self.weights, self.biases))

    def __repr__(self) -> str:
        return f"Network(widths={self.widths})"


def _exact(v: Any, where: str) -> Fraction:
    try:
        return to_fraction(v)
    except (ValueError, TypeError, OverflowError) as e:
        raise ExactrevError(f"{where}: {e}") from None


def _rows_of(v: Any, where: str) -> list:
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple, np.ndarray)):
        raise ExactrevError(f"{where}: expected a list, got {type(v).__name__} {shown(v)}")
    return list(v)


def _points_to_ints(xs: Iterable[Sequence[Any]], n_in: int) -> tuple[np.ndarray | list[int], list[int]]:
    """Points -> integer numerators X (batch x n_in) and each point's common denominator d_j.

    X is an int64 array when every entry fits (the scaling to d_j then runs in numpy), else a
    row-major list of Python ints.  Points of ints, floats or Fractions are read without per-number
    calls (the hot path); anything else goes through to_fraction.
    """
    flat_p: list[int] = []
    flat_q: list[int] = []
    dens: list[int] = []
    for j, x in enumerate(xs):
        if not hasattr(x, "__len__") or isinstance(x, (str, bytes, dict)):
            raise ExactrevError(f"input {j} is {shown(x)}, not a sequence of coordinates")
        if len(x) != n_in:
            raise ExactrevError(f"input {j} has {len(x)} coordinates, the network takes {n_in}")
        types = set(map(type, x))
        if types == _INT:
            flat_p.extend(x)
            flat_q.extend(repeat(1, n_in))
            dens.append(1)
            continue
        if types == _FLOAT and all(map(math.isfinite, x)):
            nums, qs = zip(*map(float.as_integer_ratio, x))  # exact dyadic values
        elif types == _FMPQ:                                  # flint rationals are already in lowest terms
            nums, qs = [int(v.p) for v in x], [int(v.q) for v in x]
        else:
            fr = x if types == _FRACTION else [_exact(v, f"input {j}, coordinate {i}") for i, v in enumerate(x)]
            nums, qs = map(_numerator, fr), list(map(_denominator, fr))
        flat_p.extend(nums)
        flat_q.extend(qs)
        dens.append(math.lcm(*set(qs)))
    batch = len(dens)
    try:
        p = np.array(flat_p, dtype=np.int64).reshape(batch, n_in)
        mult = np.array(dens, dtype=np.int64)[:, None] // np.array(flat_q, dtype=np.int64).reshape(batch, n_in)
    except OverflowError:
        p = None
    # the float check bounds the exact product by 2**62 * (1 + 2**-50) < 2**63; INT64_MIN has no abs
    if p is not None and (not p.size or (p.min() > _INT64_MIN and
                                          (np.abs(p).astype(np.float64) * mult < 2.0**62).all())):
        return p * mult, dens
    return [v * (dens[i // n_in] // q) for i, (v, q) in enumerate(zip(flat_p, flat_q))], dens


def _first_product(wn: fmpz_mat, w_float: np.ndarray | None, x: np.ndarray | list[int], batch: int) -> fmpz_mat:
    """wn @ X^T for the points X (batch x n_in, int64 array or row-major list), exactly.

    When X is int64 and the weights small, X is cut into limbs of t bits so that every float64 dot
    product n_in * 2**(weight bits + t) < 2**53 is exact, and BLAS does the work; otherwise flint does.
    """
    n_in = wn.ncols()
    if isinstance(x, np.ndarray) and w_float is not None and x.size:
        w_bits = int(np.abs(w_float).max()).bit_length()
        t = 52 - w_bits - n_in.bit_length()
        x_bits = max(-int(x.min()), int(x.max())).bit_length() + 1  # Python ints: no abs(INT64_MIN) overflow
        if t >= 8 and w_bits + x_bits + n_in.bit_length() <= 62:
            xt = x.T
            total = np.zeros((wn.nrows(), batch), dtype=np.int64)
            for shift in range(0, x_bits, t):
                limb = (xt >> shift) if shift + t >= x_bits else (xt >> shift) & ((1 << t) - 1)
                total += (w_float @ limb.astype(np.float64)).astype(np.int64) << shift
            return fmpz_mat(total.tolist())
    flat = x.ravel().tolist() if isinstance(x, np.ndarray) else x
    return wn * fmpz_mat(batch, n_in, flat).transpose()


def _columns_as_fractions(num: fmpz_mat, dens: list[int]) -> list[list[Fraction]]:
    rows = num.nrows()
    batch = len(dens)
    entries = num.entries()
    return [[Fraction(int(entries[i * batch + j]), dens[j]) for i in range(rows)] for j in range(batch)]

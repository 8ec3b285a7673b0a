"""`Network`: a fully connected ReLU network with exact rational parameters, and its evaluation.

N(x) = W_L ReLU(... ReLU(W_1 x + b_1) ...) + b_L.  Parameters are Fractions at the surface; exact
evaluation runs on flint integer matrices (each layer scaled to one common denominator, each input
column carrying its own denominator), which is ~1000x faster than Python loops over Fractions.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from flint import fmpz, fmpz_mat

from .errors import ExactrevError
from .numbers import to_fraction

Matrix = tuple[tuple[Fraction, ...], ...]
Vector = tuple[Fraction, ...]


class Network:
    """A fully connected ReLU network with exact parameters (ReLU after every layer but the last)."""

    __slots__ = ("weights", "biases", "meta", "_int_layers", "_float_layers")

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
        """Exact outputs at many inputs at once (flint integer matrix products)."""
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

    def _ints(self) -> list[tuple[fmpz_mat, fmpz_mat, int]]:
        """Per layer: (integer weights, integer bias column, common denominator c) with W = Wn/c, b = bn/c."""
        if self._int_layers is None:
            layers = []
            for w, b in zip(self.weights, self.biases):
                c = math.lcm(*(v.denominator for row in w for v in row), *(v.denominator for v in b))
                wn = fmpz_mat(len(w), len(w[0]), [v.numerator * (c // v.denominator) for row in w for v in row])
                bn = fmpz_mat(len(b), 1, [v.numerator * (c // v.denominator) for v in b])
                layers.append((wn, bn, c))
            self._int_layers = layers
        return self._int_layers

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
        num, dens = _points_to_int_columns(xs, self.input_dim)
        batch = len(dens)
        pre: list[tuple[fmpz_mat, list[int]]] = []
        last = len(self.weights) - 1
        for k, (wn, bn, c) in enumerate(self._ints()):
            z = wn * num + bn * fmpz_mat(1, batch, dens)
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

    def to_dict(self) -> dict:
        from .netformat import network_to_dict
        return network_to_dict(self)

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
        raise ExactrevError(f"{where}: expected a list, got {type(v).__name__} {str(v)[:40]!r}")
    return list(v)


def _points_to_int_columns(xs: Iterable[Sequence[Any]], n_in: int) -> tuple[fmpz_mat, list[int]]:
    """Points -> integer matrix (n_in x batch) and the denominator of each column."""
    flat: list[int] = []
    dens: list[int] = []
    for j, x in enumerate(xs):
        if len(x) != n_in:
            raise ExactrevError(f"input {j} has {len(x)} coordinates, the network takes {n_in}")
        fr = [v if type(v) is Fraction else Fraction(v) if type(v) is int else to_fraction(v) for v in x]
        qs = [f.denominator for f in fr]
        d = math.lcm(*qs)
        flat.extend(f.numerator for f in fr) if d == 1 else flat.extend(
            f.numerator * (d // q) for f, q in zip(fr, qs))
        dens.append(d)
    return fmpz_mat(len(dens), n_in, flat).transpose(), dens


def _columns_as_fractions(num: fmpz_mat, dens: list[int]) -> list[list[Fraction]]:
    rows = num.nrows()
    batch = len(dens)
    entries = num.entries()
    return [[Fraction(int(entries[i * batch + j]), dens[j]) for i in range(rows)] for j in range(batch)]

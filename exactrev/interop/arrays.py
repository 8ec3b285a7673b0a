"""Exact reading of numeric arrays, and the Linear/ReLU chain that every model format is folded into.

Every binary float format (float16/32/64, bfloat16, float8) holds dyadic rationals, so each entry
is read as the exact Fraction it is (through float64, which holds all of them exactly), never
through a decimal repr.
"""

from __future__ import annotations

import importlib
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np
from flint import fmpq, fmpq_mat

from ..errors import ExactrevError, FormatError
from ..network import Network
from ..numbers import fmpq_to_fraction, to_fraction

# ml_dtypes' small float formats (as numpy returns them from onnx and safetensors): all fit float64.
_SMALL_FLOATS = ("bfloat16", "float8", "float6", "float4")

Rows = list[list[Fraction]]


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or say which extra to install for `purpose`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = "torch" if module == "torch" else "interop"
        raise ExactrevError(f"{purpose} needs the {module} package: pip install 'exactrev[{extra}]'") from None


def exact_values(arr: Any, where: str) -> list:
    """A numeric array as nested lists of Fractions, each the exact value of its entry; NaN/inf are errors."""
    arr = np.asarray(arr)
    dt = arr.dtype
    if (dt.kind == "f" and dt.itemsize <= 8) or dt.name.startswith(_SMALL_FLOATS):
        values = arr.astype(np.float64)  # exact: float64 contains every value of these formats
    elif dt.kind in "iuf":
        values = arr  # integers, and long doubles (read per entry through as_integer_ratio)
    else:
        raise FormatError(f"{where}: dtype {dt} is not a real number type")
    if values.dtype.kind == "f":
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            raise FormatError(f"{where}{''.join(f'[{i}]' for i in index)} is {values[index]}, not a finite number")
    if values.dtype.kind == "f" and values.dtype != np.float64:
        return _nest([to_fraction(v) for v in values.flat], values.shape)
    return _fractions(values.tolist())


def _fractions(obj: Any) -> Any:
    return [_fractions(v) for v in obj] if isinstance(obj, list) else to_fraction(obj)


def _nest(flat: list, shape: tuple[int, ...]) -> Any:
    if len(shape) <= 1:
        return flat if shape else flat[0]
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def file_error(path: Path, e: OSError) -> FormatError:
    """The FormatError for a file that cannot be opened, as netformat words it."""
    if isinstance(e, FileNotFoundError):
        return FormatError(f"{path}: no such file")
    if isinstance(e, IsADirectoryError):
        return FormatError(f"{path}: is a directory, not a network file")
    if isinstance(e, PermissionError):
        return FormatError(f"{path}: permission denied")
    return FormatError(f"{path}: cannot read: {e.strerror or e}")


def layers_network(layers: Sequence[tuple[str, np.ndarray, str, np.ndarray | None]], source: str,
                   meta: dict) -> Network:
    """Network from named (weight [out, in], bias [out] or None = zeros) arrays, checking every shape."""
    weights: list[Rows] = []
    biases: list[list[Fraction]] = []
    prev: str | None = None
    for wname, w, bname, b in layers:
        if w.ndim != 2 or 0 in w.shape:
            raise FormatError(f"{source}: {wname} has shape {tuple(w.shape)}; expected a non-empty 2-D "
                              "[out, in] matrix (as torch.nn.Linear.weight)")
        out, fan_in = w.shape
        if weights and fan_in != len(weights[-1]):
            width = len(weights[-1])
            looks = "; it looks transposed" if out == width else ""
            raise FormatError(f"{source}: {wname} has shape {tuple(w.shape)}: its {fan_in} columns must match the "
                              f"{width} rows of {prev} (weights are [out, in], as torch.nn.Linear.weight{looks})")
        if b is not None and b.shape != (out,):
            raise FormatError(f"{source}: {bname} has shape {tuple(b.shape)}, expected ({out},): "
                              f"one entry per row of {wname}")
        weights.append(exact_values(w, f"{source}: {wname}"))
        biases.append(exact_values(b, f"{source}: {bname}") if b is not None else [Fraction(0)] * out)
        prev = wname
    if not weights:
        raise FormatError(f"{source}: holds no layers")
    return Network(weights, biases, meta, source=source)


class LayerChain:
    """Affine maps and ReLUs in the order a model applies them, folded exactly into Network layers.

    Consecutive affine maps (MatMul then Add, or two Linear layers) compose into one layer; each
    ReLU closes a layer.  A model that ends in a ReLU gets an identity output layer.
    """

    def __init__(self, source: str, input_width: int | None = None) -> None:
        self.source = source
        self.width = input_width  # width of the current activation (None: not known yet)
        self.layers: list[tuple[Rows, list[Fraction]]] = []
        self.pending: tuple[Rows, list[Fraction]] | None = None  # the affine map since the last ReLU

    @property
    def at_input(self) -> bool:
        """True while nothing but the identity has been applied to the input."""
        return not self.layers and self.pending is None

    def affine(self, weight: Rows | None, bias: list[Fraction] | None, where: str) -> None:
        """Apply x -> weight x + bias (weight None: identity, bias None: zero) to the current activation."""
        if weight is None and bias is not None and self.pending is not None:  # Add after MatMul: fold the bias in
            a, c = self.pending
            self.pending = (a, [ci + bi for ci, bi in zip(c, bias)])
            return
        if weight is None:
            if self.width is None:
                raise FormatError(f"{where}: the input width is not declared, so a bias cannot be added to the input")
            weight = _identity(self.width)
        fan_in = len(weight[0])
        if self.width is not None and fan_in != self.width:
            raise FormatError(f"{where}: takes {fan_in} inputs but the activation before it has {self.width}")
        if bias is None:
            bias = [Fraction(0)] * len(weight)
        if self.pending is not None:
            a, c = self.pending
            bias = [sum((w * v for w, v in zip(row, c)), Fraction(0)) + bi for row, bi in zip(weight, bias)]
            weight = _matmul(weight, a)
        self.pending = (weight, list(bias))
        self.width = len(weight)

    def relu(self, where: str) -> None:
        """Close the current layer with a ReLU."""
        if self.pending is None:
            after = "the input" if not self.layers else "another ReLU"
            raise FormatError(f"{where}: a ReLU must follow a linear layer, but it follows {after}")
        self.layers.append(self.pending)
        self.pending = None

    def network(self, meta: dict) -> Network:
        """The folded network (exact parameters)."""
        layers = list(self.layers)
        if self.pending is not None:
            layers.append(self.pending)
        elif layers:
            layers.append((_identity(self.width), [Fraction(0)] * self.width))
        else:
            raise FormatError(f"{self.source}: no linear layer found")
        return Network([w for w, _ in layers], [b for _, b in layers], meta, source=self.source)


def _identity(n: int) -> Rows:
    return [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]


def _matmul(a: Rows, b: Rows) -> Rows:
    """Exact product of two Fraction matrices (flint fmpq_mat)."""
    ma = fmpq_mat(len(a), len(a[0]), [fmpq(v.numerator, v.denominator) for row in a for v in row])
    mb = fmpq_mat(len(b), len(b[0]), [fmpq(v.numerator, v.denominator) for row in b for v in row])
    prod = ma * mb
    return [[fmpq_to_fraction(prod[i, j]) for j in range(prod.ncols())] for i in range(prod.nrows())]

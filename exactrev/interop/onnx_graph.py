"""ONNX models made of Gemm / MatMul+Add / Relu (optionally Flatten or Identity), read exactly.

The graph must be one chain from its input to its output: every node reads the latest activation
and constants (initializers or Constant nodes).  Anything else -- other ops, branches, skip
connections -- is an error naming the node and its op type.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError
from ..network import Network
from ..numbers import to_fraction
from .arrays import LayerChain, Rows, exact_values, file_error, require

_OPS = "Gemm, MatMul, Add, Relu, Flatten and Identity"
_HINTS = {
    "BatchNormalization": "fold batch-norm into the neighbouring Gemm before export",
    "Conv": "convolutions are not ReLU fully connected layers",
    "Sigmoid": "only ReLU activations are supported",
    "Tanh": "only ReLU activations are supported",
    "LeakyRelu": "only ReLU activations are supported",
}


def read_onnx(path: str | Path) -> Network:
    """The exact network of an ONNX file of Gemm/MatMul+Add/Relu nodes; initializers read exactly."""
    p = Path(path)
    onnx = require("onnx", f"reading {p}")
    from google.protobuf.message import DecodeError
    try:
        model = onnx.load(str(p))
    except OSError as e:
        raise file_error(p, e) from None
    except (DecodeError, ValueError) as e:
        raise FormatError(f"{p}: not a valid ONNX model ({e})") from None
    return _GraphReader(model.graph, str(p)).network()


class _GraphReader:
    """Walks the nodes of one graph in order, feeding a LayerChain."""

    def __init__(self, graph: Any, source: str) -> None:
        from onnx import numpy_helper
        self.source = source
        self.to_array = numpy_helper.to_array
        if len(graph.sparse_initializer):
            raise FormatError(f"{source}: sparse initializers are not supported")
        self.consts: dict[str, np.ndarray] = {}
        for init in graph.initializer:
            self.consts[init.name] = self._tensor(init, f"initializer {init.name!r}")
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise FormatError(f"{source}: the graph has {len(inputs)} input(s) and {len(graph.output)} output(s); "
                              "expected one of each")
        self.input = inputs[0]
        self.output = graph.output[0].name
        self.nodes = list(graph.node)

    def _tensor(self, proto: Any, where: str) -> np.ndarray:
        try:
            return self.to_array(proto)
        except (ValueError, TypeError, OSError) as e:
            raise FormatError(f"{self.source}: {where} cannot be read: {e}") from None

    def _input_dims(self) -> list[int | None]:
        t = self.input.type
        if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
            return []
        return [d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim]

    def network(self) -> Network:
        """Fold the chain of nodes into a Network; errors name the node and its op type."""
        dims = self._input_dims()
        rank = len(dims) if dims else 2
        feature = dims[-1:] if rank == 1 else dims[1:]
        width = math.prod(feature) if feature and None not in feature else None
        current = self.input.name
        chain = LayerChain(self.source, width if rank <= 2 else None)
        flat = rank <= 2
        for number, node in enumerate(self.nodes):
            where = f"{self.source}: node {node.name or f'#{number}'} ({node.op_type})"
            acts = [n for n in node.input if n and n not in self.consts]
            if not acts:
                self._constant_node(node, where)
                continue
            if node.domain not in ("", "ai.onnx") or node.op_type not in ("Gemm", "MatMul", "Add", "Relu",
                                                                          "Flatten", "Identity"):
                hint = _HINTS.get(node.op_type)
                raise FormatError(f"{where} is not supported ({hint}); only {_OPS}" if hint
                                  else f"{where} is not supported: only {_OPS}")
            if len(node.output) != 1:
                raise FormatError(f"{where} has {len(node.output)} outputs, expected 1")
            if len(acts) > 1:
                raise FormatError(f"{where} combines two activations ({', '.join(map(repr, acts))}): "
                                  "skip connections and branches are not supported")
            if acts[0] != current:
                raise FormatError(f"{where} reads {acts[0]!r}, not the latest activation {current!r}: "
                                  "branches and skip connections are not supported")
            if node.op_type == "Flatten":
                if self._attr(node, "axis", 1) != 1:
                    raise FormatError(f"{where}: only axis=1 is supported")
                if not flat:
                    chain.width = width
                flat = True
            elif node.op_type == "Relu":
                chain.relu(where)
            elif node.op_type != "Identity":
                if not flat:
                    raise FormatError(f"{where} applies to the rank-{rank} input; flatten it first (Flatten axis=1)")
                weight, bias = self._affine(node, current, chain.width, where)
                chain.affine(weight, bias, where)
            current = node.output[0]
        if current != self.output:
            raise FormatError(f"{self.source}: the graph output {self.output!r} is not the end of the "
                              f"Gemm/MatMul/Add/Relu chain ({current!r})")
        return chain.network({"source": self.source, "format": "onnx"})

    def _constant_node(self, node: Any, where: str) -> None:
        """Constant nodes become constants; any other node computing on constants alone is unsupported."""
        value = [a for a in node.attribute if a.name == "value"]
        if node.op_type != "Constant" or node.domain not in ("", "ai.onnx") or not value:
            raise FormatError(f"{where} is not supported on constants: only Constant nodes with a tensor 'value' "
                              f"(and {_OPS} on the activation)")
        self.consts[node.output[0]] = self._tensor(value[0].t, f"Constant {node.output[0]!r}")

    @staticmethod
    def _attr(node: Any, name: str, default: Any) -> Any:
        from onnx import helper
        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def _affine(self, node: Any, current: str, width: int | None, where: str
                ) -> tuple[Rows | None, list[Fraction] | None]:
        """(weight [out, in], bias) of a Gemm, MatMul or Add node applied to the activation `current`."""
        ins = list(node.input)
        if node.op_type == "Add":
            const = ins[1] if ins[0] == current else ins[0]
            return None, self._bias(const, width, where)
        if ins[0] != current:
            raise FormatError(f"{where}: the activation must be the first operand (activation x weight)")
        if len(ins) < 2 or ins[1] not in self.consts:
            raise FormatError(f"{where}: the second operand must be a constant weight matrix")
        b = self.consts[ins[1]]
        if b.ndim != 2:
            raise FormatError(f"{where}: weight {ins[1]!r} has shape {tuple(b.shape)}; expected a 2-D matrix")
        if node.op_type == "MatMul":
            return exact_values(b.T, f"{where}: weight {ins[1]!r} (transposed)"), None
        if self._attr(node, "transA", 0):
            raise FormatError(f"{where}: transA=1 is not supported (the activation is [batch, features])")
        alpha = to_fraction(float(self._attr(node, "alpha", 1.0)))
        beta = to_fraction(float(self._attr(node, "beta", 1.0)))
        w = b if self._attr(node, "transB", 0) else b.T
        weight = [[alpha * v for v in row] for row in exact_values(w, f"{where}: weight {ins[1]!r}")]
        bias = None
        if len(ins) > 2 and ins[2]:
            bias = [beta * v for v in self._bias(ins[2], len(weight), where)]
        return weight, bias

    def _bias(self, name: str, width: int | None, where: str) -> list[Fraction]:
        """A constant broadcast along the features: a scalar, [n] or [1, n]."""
        c = self.consts[name]
        if c.size == 1 and width is not None:
            return [exact_values(c.reshape(()), f"{where}: {name!r}")] * width
        if c.ndim == 1 or (c.ndim == 2 and c.shape[0] == 1):
            vec = c.reshape(-1)
            if width is None or len(vec) == width:
                return exact_values(vec, f"{where}: {name!r}")
        raise FormatError(f"{where}: constant {name!r} has shape {tuple(c.shape)}; expected a scalar, "
                          f"[{width}] or [1, {width}] added to every row")

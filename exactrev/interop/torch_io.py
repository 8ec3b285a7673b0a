"""PyTorch: nn.Sequential of Linear/ReLU to and from Network, and .pt/.pth state dicts (weights_only).

torch is an optional extra, imported only here and only when one of these functions runs.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import ExactrevError, FormatError
from ..network import Network
from ..numbers import to_float
from .arrays import LayerChain, exact_values, file_error, require
from .weightfiles import state_dict_network

_UNPICKLER = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n\n|$)", re.DOTALL)
_SUPPORTED = "only Linear, ReLU, Identity and (at the input) Flatten layers are supported"


def tensor_to_numpy(t: Any) -> np.ndarray:
    """A tensor's values as a numpy array without rounding (small floats widened to float64, exactly)."""
    torch = require("torch", "reading a torch tensor")
    t = t.detach().cpu()
    if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float64)  # float16/bfloat16/float8 values are all float64 values
    return t.numpy()


def from_torch(module: Any) -> Network:
    """The exact network of an nn.Sequential of Linear and ReLU layers (float weights read as the dyadics they are)."""
    torch = require("torch", "from_torch")
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise ExactrevError(f"from_torch: expected a torch.nn.Sequential of Linear and ReLU layers, "
                            f"got {type(module).__name__}")
    chain = LayerChain("torch module")
    for name, layer in _flat_layers(module):
        where = f"torch module: layer {name} ({type(layer).__name__})"
        if isinstance(layer, nn.Linear):
            weight = exact_values(tensor_to_numpy(layer.weight), f"{where}.weight")
            bias = exact_values(tensor_to_numpy(layer.bias), f"{where}.bias") if layer.bias is not None else None
            chain.affine(weight, bias, where)
        elif type(layer) is nn.ReLU:
            chain.relu(where)
        elif isinstance(layer, nn.Identity) or (isinstance(layer, nn.Flatten) and chain.at_input):
            continue
        else:
            raise ExactrevError(f"{where} is not supported: {_SUPPORTED}")
    return chain.network({"source": "torch", "format": "torch"})


def _flat_layers(module: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Children of a Sequential in order, nested Sequentials flattened, with dotted names."""
    seq = type(module)
    for name, child in module.named_children():
        if isinstance(child, seq):
            yield from _flat_layers(child, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", child


def to_torch(net: Network, dtype: Any = None) -> Any:
    """nn.Sequential(Linear, ReLU, ..., Linear) computing `net`; parameters rounded to `dtype` (default float64).

    Exact whenever every parameter is representable in `dtype` (e.g. a network imported from torch).
    """
    torch = require("torch", "to_torch")
    dtype = torch.float64 if dtype is None else dtype
    layers: list[Any] = []
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        linear = torch.nn.Linear(len(w[0]), len(w), dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[to_float(v) for v in row] for row in w], dtype=torch.float64))
            linear.bias.copy_(torch.tensor([to_float(v) for v in b], dtype=torch.float64))
        layers.append(linear)
        if k < len(net.weights) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def read_torch_file(path: str | Path) -> Network:
    """A network from a .pt/.pth state dict of an nn.Sequential, loaded with torch.load(weights_only=True)."""
    p = Path(path)
    torch = require("torch", f"reading {p}")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except OSError as e:
        raise file_error(p, e) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise FormatError(f"{p}: not a state dict loadable with weights_only=True (save module.state_dict(); "
                          f"whole pickled modules are refused): {_load_failure(e)}") from None
    if not isinstance(obj, Mapping):
        raise FormatError(f"{p}: holds a {type(obj).__name__}, expected a state dict (module.state_dict())")
    tensors = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise FormatError(f"{p}: entry {key!r} is a {type(value).__name__}, expected a tensor of a state dict")
        tensors[key] = tensor_to_numpy(value)
    return state_dict_network(tensors, str(p), "torch")


def _load_failure(e: Exception) -> str:
    """The gist of a torch.load failure (torch's own text advises weights_only=False, which we never do)."""
    m = _UNPICKLER.search(str(e))
    return m.group(1).strip() if m else (str(e).strip().splitlines() or [type(e).__name__])[0]

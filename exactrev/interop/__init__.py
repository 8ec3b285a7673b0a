"""Targets from where users keep networks: PyTorch modules, .pt/.pth state dicts, .safetensors, .npz, ONNX.

Every weight is read as the exact rational it is (binary floats are dyadic rationals).  The optional
packages (torch; onnx, safetensors) are imported only when a file of their kind is read.
"""

from __future__ import annotations

from pathlib import Path

from ..network import Network
from .onnx_graph import read_onnx
from .torch_io import from_torch, read_torch_file, to_torch
from .weightfiles import read_npz, read_safetensors, state_dict_network

READERS = {
    ".npz": read_npz,
    ".safetensors": read_safetensors,
    ".onnx": read_onnx,
    ".pt": read_torch_file,
    ".pth": read_torch_file,
}


def load_target(path: str | Path) -> Network:
    """Load a network by file extension (.npz, .safetensors, .onnx, .pt/.pth); anything else is a network JSON."""
    reader = READERS.get(Path(path).suffix.lower(), Network.load)
    return reader(path)


__all__ = ["READERS", "from_torch", "load_target", "read_npz", "read_onnx", "read_safetensors",
           "read_torch_file", "state_dict_network", "to_torch"]

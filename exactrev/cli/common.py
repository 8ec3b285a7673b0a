"""Helpers shared by subcommands: loading targets, writing networks."""

from __future__ import annotations

from ..files import atomic_write_text
from ..interop import load_target
from ..netformat import network_to_json
from ..network import Network


def load_network(path: str) -> Network:
    """Load a target by extension: .npz, .safetensors, .onnx, .pt/.pth; anything else is a network JSON."""
    return load_target(path)


def emit_network(net: Network, out: str | None) -> None:
    """Write a network JSON to `out` atomically, or to stdout."""
    text = network_to_json(net)
    if out:
        atomic_write_text(out, text)
    else:
        print(text, end="")

"""Helpers shared by subcommands: loading targets, writing networks."""

from __future__ import annotations

from ..files import atomic_write_text
from ..netformat import network_to_json
from ..network import Network


def load_network(path: str) -> Network:
    """Load a network file (later issues extend this to .npz, .safetensors and .onnx by extension)."""
    return Network.load(path)


def emit_network(net: Network, out: str | None) -> None:
    """Write a network JSON to `out` atomically, or to stdout."""
    text = network_to_json(net)
    if out:
        atomic_write_text(out, text)
    else:
        print(text, end="")

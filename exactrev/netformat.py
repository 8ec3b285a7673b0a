"""The exactrev network file, version 1 (../shared/spec/network-format.md), read and written exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import ExactrevError, FormatError
from .files import atomic_write_text
from .network import Network
from .numbers import MAX_DIGITS, format_rational, shown

FORMAT_NAME = "exactrev-network"
FORMAT_VERSION = 1


def network_to_dict(net: Network) -> dict:
    """The spec's JSON object, every number a lowest-terms "p/q" or "p" string."""
    d: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "layers": [{"weight": [[format_rational(v) for v in row] for row in w],
                    "bias": [format_rational(v) for v in b]}
                   for w, b in zip(net.weights, net.biases)],
    }
    if net.meta:
        d["meta"] = net.meta
    return d


def network_to_json(net: Network) -> str:
    """The file's text: the spec's JSON object (meta values JSON cannot hold are written as text)."""
    return json.dumps(network_to_dict(net), indent=1, default=_meta_value) + "\n"


def _meta_value(v: Any) -> Any:
    """A JSON number read as Decimal goes back as a number; anything else json cannot write becomes text."""
    if isinstance(v, Decimal) and v.is_finite() and abs(v.adjusted()) < 300:
        return float(v)
    return str(v)


def write_network_file(net: Network, path: str | Path) -> None:
    """Atomically write `net` to `path` in the spec format."""
    atomic_write_text(path, network_to_json(net))


def _json_int(text: str) -> int | Decimal:
    """A JSON integer; one too long for Python's int() stays a Decimal, refused later with its location."""
    return int(text) if len(text) <= MAX_DIGITS else Decimal(text)


def parse_network_json(text: str, source: str) -> Network:
    """Parse the spec's JSON text; JSON numbers are read exactly from their decimal text.

    NaN/Infinity become non-finite Decimals so the error names the cell that holds them.
    """
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=_json_int, parse_constant=Decimal)
    except RecursionError:
        raise FormatError(f"{source}: not valid JSON: nested too deeply") from None
    except ValueError as e:
        raise FormatError(f"{source}: not valid JSON: {e}") from None
    return network_from_dict(data, source)


def network_from_dict(data: Any, source: str) -> Network:
    """Validate the top-level structure, then let Network validate the layers cell by cell."""
    if not isinstance(data, dict):
        raise FormatError(f"{source}: top level must be a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT_NAME:
        raise FormatError(f"{source}: \"format\" must be {FORMAT_NAME!r}, got {shown(data.get('format'))}")
    version = data.get("version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise FormatError(f"{source}: \"version\" must be {FORMAT_VERSION}, got {shown(version)}")
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise FormatError(f"{source}: \"layers\" must be a non-empty list")
    weights, biases = [], []
    for k, layer in enumerate(layers):
        if not isinstance(layer, dict) or "weight" not in layer or "bias" not in layer:
            raise FormatError(f"{source}: layers[{k}] must be an object with \"weight\" and \"bias\"")
        weights.append(layer["weight"])
        biases.append(layer["bias"])
    meta = data.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise FormatError(f"{source}: \"meta\" must be an object")
    try:
        return Network(weights, biases, meta, source=source)
    except FormatError:
        raise
    except ExactrevError as e:
        raise FormatError(str(e)) from None


def read_network_file(path: str | Path) -> Network:
    """Load a network file; every problem is a FormatError naming the file (and location)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise FormatError(f"{p}: is a directory, not a network file") from None
    except FileNotFoundError:
        raise FormatError(f"{p}: no such file") from None
    except PermissionError:
        raise FormatError(f"{p}: permission denied") from None
    except UnicodeDecodeError as e:
        raise FormatError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise FormatError(f"{p}: cannot read: {e.strerror}") from None
    except ValueError as e:  # e.g. an embedded NUL byte in the path
        raise FormatError(f"{shown(str(p))}: not a usable path: {e}") from None
    return parse_network_json(text, str(p))

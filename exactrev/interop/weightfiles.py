"""Weight files: NumPy .npz (W0, b0, W1, b1, ...) and state dicts of an nn.Sequential of Linear/ReLU
(.safetensors, and .pt/.pth through torch.load(weights_only=True)).  Nothing is ever unpickled.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..network import Network
from .arrays import file_error, layers_network, require

_NPZ_NAME = re.compile(r"^([Wb])(0|[1-9]\d*)$")
_STATE_KEY = re.compile(r"^(.*?)(0|[1-9]\d*)\.(weight|bias)$")
_BATCH_NORM = ("running_mean", "running_var", "num_batches_tracked")


def read_npz(path: str | Path) -> Network:
    """A network from an .npz of arrays W0, b0, W1, b1, ... (W as [out, in]), read exactly."""
    p = Path(path)
    try:
        data = np.load(p, allow_pickle=False)
    except OSError as e:
        raise file_error(p, e) from None
    except (ValueError, zipfile.BadZipFile, EOFError) as e:
        raise FormatError(f"{p}: not a NumPy .npz archive ({e})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise FormatError(f"{p}: holds a single .npy array, not an .npz archive of W0, b0, W1, b1, ...")
    with data:
        arrays = {}
        for name in data.files:
            try:
                arrays[name] = data[name]
            except (ValueError, zipfile.BadZipFile, EOFError, OSError) as e:
                raise FormatError(f"{p}: array {name!r} cannot be read without unpickling: {e}") from None
    return npz_arrays_network(arrays, str(p))


def npz_arrays_network(arrays: dict[str, np.ndarray], source: str) -> Network:
    """Check the names W0, b0, ..., W{L-1}, b{L-1} (no gaps, nothing else) and build the network."""
    unexpected = sorted(k for k in arrays if not _NPZ_NAME.match(k))
    if unexpected:
        raise FormatError(f"{source}: unexpected array(s) {', '.join(map(repr, unexpected))}; an .npz target "
                          "holds exactly W0, b0, W1, b1, ... (W as [out, in])")
    if not arrays:
        raise FormatError(f"{source}: holds no arrays; expected W0, b0, W1, b1, ...")
    depth = 1 + max(int(_NPZ_NAME.match(k).group(2)) for k in arrays)
    missing = [n for k in range(depth) for n in (f"W{k}", f"b{k}") if n not in arrays]
    if missing:
        raise FormatError(f"{source}: missing array(s) {', '.join(missing)} "
                          f"(expected W0, b0, ..., W{depth - 1}, b{depth - 1} with no gaps)")
    layers = [(f"W{k}", arrays[f"W{k}"], f"b{k}", arrays[f"b{k}"]) for k in range(depth)]
    return layers_network(layers, source, {"source": source, "format": "npz"})


def read_safetensors(path: str | Path) -> Network:
    """A network from a .safetensors state dict of an nn.Sequential ("0.weight", "0.bias", "2.weight", ...)."""
    p = Path(path)
    safetensors = require("safetensors", f"reading {p}")
    with contextlib.suppress(ImportError):   # ml_dtypes registers bfloat16 with numpy, so such tensors can be read
        import ml_dtypes  # noqa: F401
    tensors = {}
    try:
        with safetensors.safe_open(str(p), framework="np") as f:
            for key in f.keys():
                try:
                    tensors[key] = f.get_tensor(key)
                except (TypeError, AttributeError):
                    dtype = f.get_slice(key).get_dtype()
                    hint = " (install ml_dtypes)" if dtype == "BF16" else ""
                    raise FormatError(f"{p}: tensor {key!r} has dtype {dtype}, which numpy cannot represent{hint}"
                                      ) from None
    except OSError as e:
        raise file_error(p, e) from None
    except safetensors.SafetensorError as e:
        raise FormatError(f"{p}: not a valid safetensors file ({e})") from None
    return state_dict_network(tensors, str(p), "safetensors")


def state_dict_network(tensors: dict[str, np.ndarray], source: str, fmt: str) -> Network:
    """The network of a state dict of nn.Sequential(Linear, ReLU, Linear, ...), ReLU assumed between Linears.

    Keys may share a prefix ("net.0.weight"); a Linear without bias has zero bias.  Tensors of other
    layers (batch-norm statistics, convolution kernels, norm scales) are errors naming the key.
    """
    if not tensors:
        raise FormatError(f"{source}: holds no tensors")
    prefixes: dict[str, str] = {}
    found: dict[int, dict[str, str]] = {}
    for key in sorted(tensors):
        m = _STATE_KEY.match(key)
        if not m:
            hint = ("; it belongs to a batch-norm layer: fold it into the neighbouring Linear first"
                    if key.rsplit(".", 1)[-1] in _BATCH_NORM else "")
            raise FormatError(f"{source}: unexpected tensor {key!r}{hint}; expected the state dict of an "
                              "nn.Sequential of Linear and ReLU layers ('0.weight', '0.bias', '2.weight', ...)")
        prefix, index, kind = m.group(1), int(m.group(2)), m.group(3)
        prefixes.setdefault(prefix, key)
        found.setdefault(index, {})[kind] = key
    if len(prefixes) > 1:
        a, b = list(prefixes.values())[:2]
        raise FormatError(f"{source}: tensors {a!r} and {b!r} belong to different modules; expected one nn.Sequential")
    indices = sorted(found)
    for i, j in zip(indices, indices[1:]):
        if j == i + 1:
            raise FormatError(f"{source}: layers {found[i].get('weight', found[i].get('bias'))!r} and "
                              f"{found[j].get('weight', found[j].get('bias'))!r} are adjacent, so no ReLU "
                              "lies between them; expected Linear, ReLU, Linear, ...")
    layers = []
    for i in indices:
        names = found[i]
        if "weight" not in names:
            raise FormatError(f"{source}: {names['bias']!r} has no matching weight")
        wname = names["weight"]
        w = tensors[wname]
        if w.ndim != 2:
            what = ("a convolution kernel" if w.ndim >= 3 else "a normalization scale" if w.ndim == 1
                    else "a scalar")
            raise FormatError(f"{source}: {wname!r} has shape {tuple(w.shape)}, {what}; only Linear layers "
                              "(2-D [out, in] weights) are supported")
        bname = names.get("bias", f"{wname[:-len('weight')]}bias")
        layers.append((repr(wname), w, repr(bname), tensors[names["bias"]] if "bias" in names else None))
    return layers_network(layers, source, {"source": source, "format": fmt})

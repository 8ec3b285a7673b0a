"""The paper's experiments (Fig. 3: first layer vs its width; Fig. 4: second layer vs its width),
as functions returning tidy rows, so notebooks and benchmarks only call and plot them.

The targets are known here (to measure error); extraction itself sees only the oracle.
"""

from __future__ import annotations

import math
import time
from typing import Iterable, Sequence

import numpy as np

from .compare import hyperplane_error, layer_errors
from .extract import extract, extract_first_layer
from .network import Network
from .oracle import Oracle
from .random_net import random_network
from .training import memorisation_task, train_mlp

FIG3_KINDS = ("untrained", "memorisation", "digits")


def fig3_target(kind: str, first_width: int, seed: int, *, epochs: int | None = None) -> Network:
    """Fig. 3 targets: other layers 10 wide; untrained 10-n-10-10, memorisation 10-n-10-2, digits 64-n-10-10."""
    if kind == "untrained":
        return random_network([10, first_width, 10, 10], seed=seed)
    if kind == "memorisation":
        x, y = memorisation_task(1000, 10, seed=seed)
        return train_mlp([10, first_width, 10, 2], x, y, epochs=epochs or 1000, seed=seed).network
    if kind == "digits":
        from sklearn.datasets import load_digits
        digits = load_digits()
        return train_mlp([64, first_width, 10, 10], digits.data / 16.0, digits.target, epochs=epochs or 300,
                         seed=seed).network
    raise ValueError(f"kind {kind!r}: expected one of {', '.join(FIG3_KINDS)}")


def fig3_first_layer(kind: str, first_widths: Iterable[int], seeds: Iterable[int], oracles: Sequence[str] = ("exact",),
                     *, dps: int = 30, epochs: int | None = None) -> list[dict]:
    """Rows of (kind, width, seed, oracle, queries per first-layer parameter, log10 normalised error)."""
    rows = []
    for width in first_widths:
        for seed in seeds:
            target = fig3_target(kind, width, seed, epochs=epochs)
            params = width * (target.input_dim + 1)
            for mode in oracles:
                oracle = Oracle.from_network(target, mode, dps=dps)
                start = time.perf_counter()
                found = extract_first_layer(oracle, seed=seed)
                err = hyperplane_error(found.hyperplanes, target)
                rows.append({"kind": kind, "width": width, "seed": seed, "oracle": mode, "queries": found.queries,
                             "queries_per_param": found.queries / params, "neurons": len(found.hyperplanes),
                             "log10_error": err.log10, "seconds": time.perf_counter() - start})
    return rows


def fig4_second_layer(second_widths: Iterable[int], seeds: Iterable[int], oracles: Sequence[str] = ("exact",),
                      *, dps: int = 30, first_width: int = 10, n_in: int = 10) -> list[dict]:
    """Rows of (width, seed, oracle, layer-2 neurons found, log10 normalised layer-2 error, queries)."""
    rows = []
    for width in second_widths:
        for seed in seeds:
            target = random_network([n_in, first_width, width, 1], seed=seed)
            for mode in oracles:
                oracle = Oracle.from_network(target, mode, dps=dps)
                start = time.perf_counter()
                result = extract(oracle, seed=seed)
                found = result.widths[2] if len(result.widths) > 3 else 0
                errors = layer_errors(result.network, target)
                rows.append({"width": width, "seed": seed, "oracle": mode, "neurons_found": found,
                             "status": result.status, "queries": result.queries,
                             "log10_error": errors[1].log10 if len(errors) > 1 else None,
                             "seconds": time.perf_counter() - start})
    return rows


def summarise(rows: Sequence[dict], by: Sequence[str], value: str) -> list[dict]:
    """Mean and standard deviation of `value` grouped by the `by` keys (exact zeros kept as -inf for logs)."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        v = r.get(value)
        if v is not None:
            groups.setdefault(tuple(r[k] for k in by), []).append(float(v))
    out = []
    for key, values in sorted(groups.items()):
        arr = np.array(values)
        finite = arr[np.isfinite(arr)]
        mean = float(finite.mean()) if len(finite) == len(arr) else (-math.inf if np.all(arr == -math.inf) else math.nan)
        out.append({**dict(zip(by, key)), "mean": mean, "std": float(finite.std()) if len(finite) else 0.0,
                    "n": len(arr)})
    return out

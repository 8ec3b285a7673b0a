"""Exact batched evaluation vs float64 numpy, on 784-128-1 and 10-20-20-1, measured in one run.

    python3 benchmarks/bench_eval.py [--batch 1000] [--repeat 5]

Writes benchmarks/results/eval.json and eval.md.  Inputs: pixel-like rationals k/255 and dyadic
rationals m/2**24; exact evaluation also at batch size 1, and a pure-Fraction loop as the baseline
the flint path replaces.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable

import flint
import numpy as np

from exactrev import random_network
from exactrev.network import Network

RESULTS = Path(__file__).resolve().parent / "results"
ARCHITECTURES = ([784, 128, 1], [10, 20, 20, 1])


def best_time(fn: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Best time of `repeat` runs (the least disturbed by other processes); wall clock unless told."""
    best = float("inf")
    for _ in range(repeat):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


def fraction_loop(net: Network, x: list[Fraction]) -> list[Fraction]:
    """N(x) with Python loops over Fractions: what exact evaluation costs without flint."""
    h = x
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        h = [sum((a * v for a, v in zip(row, h)), Fraction(0)) + c for row, c in zip(w, b)]
        if k < len(net.weights) - 1:
            h = [max(v, Fraction(0)) for v in h]
    return h


def inputs(kind: str, n: int, batch: int, rng: np.random.Generator) -> tuple[list[list[Fraction]], np.ndarray]:
    """A batch of exact points and the same points as float64."""
    if kind == "pixels k/255":
        ks = rng.integers(0, 256, size=(batch, n))
        exact = [[Fraction(int(k), 255) for k in row] for row in ks]
    else:
        ms = rng.integers(-2**24, 2**24, size=(batch, n))
        exact = [[Fraction(int(m), 2**24) for m in row] for row in ms]
    return exact, np.array([[float(v) for v in row] for row in exact])


def measure(widths: list[int], kind: str, batch: int, repeat: int) -> dict:
    net = random_network(widths, seed=0, bits=24)
    rng = np.random.default_rng(1)
    exact, floats = inputs(kind, widths[0], batch, rng)
    net.evaluate_batch(exact[:2])
    net.evaluate_float(floats[:2])                      # build the cached integer / float layers first
    t_exact = best_time(lambda: net.evaluate_batch(exact), repeat)
    cpu_exact = best_time(lambda: net.evaluate_batch(exact), repeat, time.process_time)
    t_float = best_time(lambda: net.evaluate_float(floats), repeat)
    singles = exact[:20]
    t_single = best_time(lambda: [net(x) for x in singles], repeat) / len(singles)
    loop_points = exact[:3] if widths[0] > 100 else exact[:50]
    t_loop = best_time(lambda: [fraction_loop(net, x) for x in loop_points], 1) / len(loop_points)
    assert [fraction_loop(net, x) for x in exact[:3]] == net.evaluate_batch(exact[:3])
    exact_ms, float_ms = 1e3 * t_exact / batch, 1e3 * t_float / batch
    return {"widths": "-".join(map(str, widths)), "inputs": kind, "batch": batch,
            "exact_ms_per_point": exact_ms, "exact_cpu_ms_per_point": 1e3 * cpu_exact / batch,
            "float64_ms_per_point": float_ms, "ratio_exact_over_float": exact_ms / float_ms,
            "exact_unbatched_ms_per_point": 1e3 * t_single, "fraction_loop_ms_per_point": 1e3 * t_loop,
            "speedup_over_fraction_loop": t_loop / (t_exact / batch)}


def markdown(rows: list[dict], env: dict) -> str:
    lines = [f"# Exact vs float64 evaluation ({env['machine']}, {env['cpus']} cores, python {env['python']}, "
             f"python-flint {env['flint']}, numpy {env['numpy']})", "",
             "Wall-clock ms per point (best of the repeats); *exact CPU* is the process CPU time of the exact "
             "evaluation, a steadier figure when other processes share the machine.", "",
             "| network | inputs | batch | exact ms/point | exact CPU ms/point | float64 ms/point | exact/float | "
             "exact, batch 1 | Fraction loop | flint speed-up |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['widths']} | {r['inputs']} | {r['batch']} | {r['exact_ms_per_point']:.4f} | "
                     f"{r['exact_cpu_ms_per_point']:.4f} | "
                     f"{r['float64_ms_per_point']:.5f} | {r['ratio_exact_over_float']:.0f}x | "
                     f"{r['exact_unbatched_ms_per_point']:.3f} | {r['fraction_loop_ms_per_point']:.2f} | "
                     f"{r['speedup_over_fraction_loop']:.0f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
           "flint": flint.__version__, "numpy": np.__version__}
    rows = [measure(w, kind, args.batch, args.repeat) for w in ARCHITECTURES for kind in ("pixels k/255", "dyadic m/2^24")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "eval.json").write_text(json.dumps({"environment": env, "results": rows}, indent=1) + "\n")
    (RESULTS / "eval.md").write_text(markdown(rows, env))
    print(markdown(rows, env))


if __name__ == "__main__":
    main()

"""Cost growth of extraction: first-layer width sweep (the paper's Fig. 3 set-up: input 10, other
layers 10 wide, first layer 10..100) and depth sweep (10-10-...-10-1), exact and float oracles.

Writes benchmarks/results/scaling.json, scaling.md and scaling.png (queries per parameter and wall
time against size, so the scaling law is visible).

    python3 benchmarks/bench_scaling.py            # widths 10..100 step 10, depths 1..5, seed 0
    python3 benchmarks/bench_scaling.py --quick    # widths 10, 20, 30; depths 1..3
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import exactrev as er
from results_table import RESULTS, commit, write_results



def run_one(widths: list[int], mode: str, seed: int, time_limit: float) -> dict:
    """Extract one He-initialised target (partial past `time_limit` seconds); record queries, time, status
    and whether it is exact."""
    target = er.random_network(widths, seed=seed)
    oracle = er.Oracle.from_network(target, mode)
    start = time.perf_counter()
    result = er.extract(oracle, seed=seed, time_limit=time_limit)
    seconds = time.perf_counter() - start
    fd = target.num_params - target.num_hidden
    return {"widths": "-".join(map(str, widths)), "oracle": mode, "seed": seed, "params": target.num_params,
            "functional_dimension": fd, "queries": result.queries, "queries_per_param": result.queries / target.num_params,
            "queries_per_fd": result.queries / fd, "seconds": round(seconds, 3), "status": result.status,
            "canonical_match": er.canonical_form(result.network) == er.canonical_form(target)}


def plot(rows: list[dict], out: Path, meta: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for col, sweep in enumerate(("width", "depth")):
        for mode, style in (("exact", "o-"), ("float", "s--")):
            sel = [r for r in rows if r["sweep"] == sweep and r["oracle"] == mode]
            x = [r["size"] for r in sel]
            axes[0, col].plot(x, [r["queries_per_param"] for r in sel], style, label=mode)
            axes[1, col].plot(x, [r["seconds"] for r in sel], style, label=mode)
        label = "first-layer width (10-w-10-10)" if sweep == "width" else "hidden layers of width 10 (10-10-...-1)"
        axes[0, col].set(xlabel=label, ylabel="queries per parameter", title=f"{sweep} sweep: queries")
        axes[1, col].set(xlabel=label, ylabel="wall seconds", title=f"{sweep} sweep: time")
        for ax in axes[:, col]:
            ax.legend()
    fig.suptitle(f"exactrev scaling, {meta['date']}, commit {meta['commit']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds per extraction")
    args = parser.parse_args()
    meta = {"date": datetime.date.today().isoformat(), "commit": commit(), "time_limit": args.time_limit}
    widths = [10, 20, 30] if args.quick else list(range(10, 101, 10))
    depths = [1, 2, 3] if args.quick else [1, 2, 3, 4, 5]
    rows = []
    for w in widths:
        for mode in ("exact", "float"):
            rows.append({"sweep": "width", "size": w,
                         **run_one([10, w, 10, 10], mode, args.seed, args.time_limit)})
            print(rows[-1], flush=True)
    for d in depths:
        for mode in ("exact", "float"):
            rows.append({"sweep": "depth", "size": d,
                         **run_one([10] + [10] * d + [1], mode, args.seed, args.time_limit)})
            print(rows[-1], flush=True)
    keys = ["sweep", "size", "widths", "oracle", "params", "queries", "queries_per_param", "seconds", "status",
            "canonical_match"]
    columns = [(k, lambda r, k=k: f"{r[k]:.2f}" if isinstance(r[k], float) else r[k]) for k in keys]
    write_results("scaling", f"Scaling run {meta['date']}, commit {meta['commit']}", columns, rows,
                  payload={"meta": meta, "rows": rows})
    plot(rows, RESULTS / "scaling.png", meta)


if __name__ == "__main__":
    main()

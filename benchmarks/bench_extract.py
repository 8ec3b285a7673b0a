"""Whole-network extraction: queries, log2 queries, queries per functional dimension, wall time, status.

Exact oracle (float and mpmath oracles side by side: bench_issue7.py --stages whole).
Compares the recovered canonical form with the target's (the target is used only for that).
Writes results/extract.json and .md.

    python3 benchmarks/bench_extract.py [--nets 10-20-20-1,8-16-16-3] [--seeds 1]
"""

from __future__ import annotations

import argparse
import math
import time

from exactrev import Oracle, canonical_form, extract, random_network
from exactrev.random_net import parse_widths
from results_table import write_results

COLUMNS = [("network", lambda r: r["widths"]), ("seed", lambda r: r["seed"]), ("status", lambda r: r["status"]),
           ("recovered", lambda r: r["recovered_widths"]), ("canonical =", lambda r: r["canonical_equal"]),
           ("queries", lambda r: r["queries"]), ("log2 q", lambda r: r["log2_queries"]),
           ("q / fdim", lambda r: r["queries_per_fdim"]), ("per layer", lambda r: r["per_layer_queries"]),
           ("s", lambda r: r["seconds"])]
DEFAULT = "4-8-1,20-40-1,5-8-6-2,6-5-5-2,10-20-20-1,8-16-16-3,10-10-10-10-1"


def run(widths: list[int], seed: int) -> dict:
    net = random_network(widths, seed=seed)
    start = time.perf_counter()
    result = extract(Oracle.from_network(net), seed=seed)
    seconds = time.perf_counter() - start
    fdim = net.functional_dimension_bound
    return {"widths": "-".join(map(str, widths)), "seed": seed, "status": result.status,
            "recovered_widths": "-".join(map(str, result.widths)),
            "canonical_equal": canonical_form(result.network) == canonical_form(net),
            "queries": result.queries, "log2_queries": round(math.log2(result.queries), 2),
            "functional_dim": fdim, "queries_per_fdim": round(result.queries / fdim, 2),
            "per_layer_queries": [s.queries for s in result.layers], "unidentified": len(result.unidentified),
            "seconds": round(seconds, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default=DEFAULT)
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args()
    rows: list[dict] = []
    for text in args.nets.split(","):
        for seed in range(args.seeds):
            rows.append(run(parse_widths(text), seed))
            print(rows[-1], flush=True)
            write(rows)                    # after every network, so a long run keeps what it measured


def write(rows: list[dict]) -> None:
    write_results("extract", "# Whole-network extraction (exact oracle)", COLUMNS, rows)

if __name__ == "__main__":
    main()

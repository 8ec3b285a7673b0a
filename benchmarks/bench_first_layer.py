"""Layer 1 (Algorithm 1): queries per first-layer parameter and normalised error, exact vs float vs mpmath.

The paper's Fig. 3 (left: queries/parameter as the first layer widens; right: log10 normalised error).
Targets are random He-initialised 10-n-10-10 networks plus the issue's example networks; the target is
used only to measure the error, never by the algorithm.  Writes results/first_layer.json and .md.

    python3 benchmarks/bench_first_layer.py [--widths 5,10,20,40] [--seeds 3] [--quick]
"""

from __future__ import annotations

import argparse
import math
import time

from exactrev import Oracle, extract_first_layer, random_network
from exactrev.compare import hyperplane_error
from results_table import write_results

COLUMNS = [("network", lambda r: r["widths"]), ("seed", lambda r: r["seed"]), ("oracle", lambda r: r["oracle"]),
           ("found/neurons", lambda r: f"{r['found']}/{r['neurons']}"), ("queries", lambda r: r["queries"]),
           ("q/param", lambda r: r["queries_per_param"]), ("log10 error", lambda r: r["log10_error"]),
           ("undecided", lambda r: r["undecided"]), ("s", lambda r: r["seconds"])]
ISSUE_NETWORKS = ([10, 20, 20, 1], [10, 10, 10, 10, 1], [8, 16, 16, 3], [20, 40, 1])


def run(widths: list[int], seed: int, mode: str) -> dict:
    net = random_network(widths, seed=seed)
    oracle = Oracle.from_network(net, mode, dps=40)
    start = time.perf_counter()
    result = extract_first_layer(oracle, seed=seed)
    seconds = time.perf_counter() - start
    err = hyperplane_error(result.hyperplanes, net)
    params = widths[1] * (widths[0] + 1)
    return {"widths": "-".join(map(str, widths)), "seed": seed, "oracle": mode, "found": len(result.hyperplanes),
            "neurons": widths[1], "queries": result.queries, "queries_per_param": round(result.queries / params, 2),
            "log10_error": None if err.log10 is None else (err.log10 if math.isfinite(err.log10) else "exact"),
            "undecided": len(result.undecided), "seconds": round(seconds, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", default="5,10,20,40", help="first-layer widths of 10-n-10-10 targets")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one seed, issue networks only")
    args = ap.parse_args()
    nets = [list(w) for w in ISSUE_NETWORKS]
    if not args.quick:
        nets += [[10, int(n), 10, 10] for n in args.widths.split(",")]
    rows = []
    for widths in nets:
        for seed in range(1 if args.quick else args.seeds):
            for mode in ("exact", "float", "mpmath"):
                rows.append(run(widths, seed, mode))
                print(rows[-1], flush=True)
    write_results("first_layer", "# Layer 1: queries and error", COLUMNS, rows)

if __name__ == "__main__":
    main()

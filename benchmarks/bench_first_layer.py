"""Layer 1 (Algorithm 1): queries per first-layer parameter and normalised error, exact vs float vs mpmath.

The paper's Fig. 3 (left: queries/parameter as the first layer widens; right: log10 normalised error).
Targets are random He-initialised 10-n-10-10 networks plus the issue's example networks; the target is
used only to measure the error, never by the algorithm.  "float raw" is a float64 oracle without the
refinement of each plane through far kinks (extract_first_layer(refine=False)).  The per-stage columns
split the queries per parameter into PointsOnLine (lines), region Jacobians, TestHyperplane and the
refinement.  Writes results/first_layer.json and .md.

    python3 benchmarks/bench_first_layer.py [--widths 5,10,20,40] [--seeds 3] [--quick]

The committed table is `--quick` (the issue's networks, seeds 0-2).
"""

from __future__ import annotations

import argparse
import math
import time

from exactrev import Oracle, extract_first_layer, random_network
from exactrev.compare import hyperplane_error
from exactrev.numbers import to_fraction
from results_table import write_results

COLUMNS = [("network", lambda r: r["widths"]), ("seed", lambda r: r["seed"]), ("oracle", lambda r: r["oracle"]),
           ("found/neurons", lambda r: f"{r['found']}/{r['neurons']}"), ("queries", lambda r: r["queries"]),
           ("q/param", lambda r: r["queries_per_param"]),
           ("lines / jac / test / refine", lambda r: " / ".join(str(v) for v in r["stage_queries_per_param"].values())),
           ("log10 error", lambda r: r["log10_error"]), ("undecided", lambda r: r["undecided"]),
           ("s", lambda r: r["seconds"])]
ISSUE_NETWORKS = ([10, 20, 20, 1], [10, 10, 10, 10, 1], [8, 16, 16, 3], [20, 40, 1])
ORACLES = {"exact": ("exact", True), "float": ("float", True), "float raw": ("float", False),
           "mpmath": ("mpmath", True)}


def run(widths: list[int], seed: int, oracle: str) -> dict:
    mode, refine = ORACLES[oracle]
    net = random_network(widths, seed=seed)
    start = time.perf_counter()
    result = extract_first_layer(Oracle.from_network(net, mode, dps=40), seed=seed, refine=refine)
    seconds = time.perf_counter() - start
    planes = [([to_fraction(v) for v in w], to_fraction(b)) for w, b in result.hyperplanes]
    err = hyperplane_error(planes, net)           # exactly: mpmath numbers would be compared at 15 digits
    params = widths[1] * (widths[0] + 1)
    log10 = err.log10 if err.log10 is None or not math.isfinite(err.log10) else round(err.log10, 2)
    return {"widths": "-".join(map(str, widths)), "seed": seed, "oracle": oracle, "found": len(result.hyperplanes),
            "neurons": widths[1], "queries": result.queries, "queries_per_param": round(result.queries / params, 2),
            "stage_queries_per_param": {k: round(v / params, 2) for k, v in result.stage_queries.items()},
            "log10_error": "exact" if log10 == -math.inf else log10,
            "undecided": len(result.undecided), "lines": result.lines, "seconds": round(seconds, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", default="5,10,20,40", help="first-layer widths of 10-n-10-10 targets")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="issue networks only")
    args = ap.parse_args()
    nets = [list(w) for w in ISSUE_NETWORKS]
    if not args.quick:
        nets += [[10, int(n), 10, 10] for n in args.widths.split(",")]
    rows = []
    for widths in nets:
        for seed in range(args.seeds):
            for oracle in ORACLES:
                rows.append(run(widths, seed, oracle))
                print(rows[-1], flush=True)
    write_results("first_layer", "# Layer 1: queries and error", COLUMNS, rows)


if __name__ == "__main__":
    main()

"""Whole-network extraction: queries, log2 queries, queries per functional dimension, wall time, status.

Exact oracle (float and mpmath oracles side by side: bench_issue7.py --stages whole).
Compares the recovered canonical form with the target's (the target is used only for that).
Writes results/extract.json and .md (or results/NAME.json and .md with --out NAME).

    python3 benchmarks/bench_extract.py [--nets 10-20-20-1,8-16-16-3] [--seeds 1]
    python3 benchmarks/bench_extract.py --deep [--jobs 2]   # three hidden layers, 6 seeds each, 300 s limit,
                                                            # certified: extract_deep
    python3 benchmarks/bench_extract.py --deep --first-seed 6 --out extract_deep_6   # seeds 6-11
    python3 benchmarks/bench_extract.py --deep --extraction-seed 1 --out extract_deep_x1   # same targets, other
                                                            # random choices of the extraction (how much is chance)
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import time

from exactrev import Network, Oracle, canonical_form, certify, check_assumptions, extract, random_network
from exactrev.assumptions import AssumptionReport, neuron_index, without_dead_neurons
from exactrev.random_net import parse_widths
from results_table import commit, write_results

COLUMNS = [("network", lambda r: r["widths"]), ("seed", lambda r: r["seed"]), ("status", lambda r: r["status"]),
           ("recovered", lambda r: r["recovered_widths"]), ("canonical =", lambda r: r["canonical_equal"]),
           ("queries", lambda r: r["queries"]), ("log2 q", lambda r: r["log2_queries"]),
           ("q / fdim", lambda r: r["queries_per_fdim"]), ("per layer", lambda r: r["per_layer_queries"]),
           ("s", lambda r: r["seconds"])]
CHECK_COLUMNS = [("certify", lambda r: r["certify"]), ("target fails", lambda r: r["target_fails"]),
                 ("canonical = live", lambda r: r["canonical_equal_live"])]
DEFAULT = "4-8-1,20-40-1,5-8-6-2,6-5-5-2,10-20-20-1,8-16-16-3,10-10-10-10-1"
DEEP = "4-6-6-6-1,3-6-6-6-2,5-8-8-8-1"       # --deep: how often networks with 3 hidden layers complete


def run(widths: list[int], seed: int, time_limit: float | None = None, check: bool = False, offset: int = 0) -> dict:
    """One extraction; with `check`, also certify's verdict on the recovered network against the target (a
    partial result may still compute the target's function, e.g. with always-active neurons folded), the recovery
    assumptions the target fails (check_assumptions: dead and always-active neurons, section 5.2's cases; "(of N
    regions)" when the enumeration stopped early, so more may fail) and whether the recovered canonical form equals
    that of the target without its dead neurons (the part of it that queries can see).  The extraction's own seed
    is the target's plus `offset`."""
    net = random_network(widths, seed=seed)
    start = time.perf_counter()
    result = extract(Oracle.from_network(net), seed=seed + offset, time_limit=time_limit)
    seconds = time.perf_counter() - start
    fdim = net.functional_dimension_bound
    mine = canonical_form(result.network)
    verdict = _checks(net, result.network, mine) if check else {}
    return {"widths": "-".join(map(str, widths)), "seed": seed, "extraction_seed": seed + offset,
            "status": result.status, "recovered_widths": "-".join(map(str, result.widths)),
            "canonical_equal": mine == canonical_form(net),
            "queries": result.queries, "log2_queries": round(math.log2(result.queries), 2),
            "functional_dim": fdim, "queries_per_fdim": round(result.queries / fdim, 2),
            "per_layer_queries": [s.queries for s in result.layers], "unidentified": len(result.unidentified),
            "seconds": round(seconds, 2), **verdict}


def _checks(net: Network, recovered: Network, canonical: Network) -> dict:
    """run's checks against the target; `canonical`: the recovered network's canonical form."""
    report = check_assumptions(net, seconds=60.0, max_regions=100_000)
    live, _ = without_dead_neurons(net, report)
    return {"certify": certify(net, recovered).verdict, "target_fails": _failing(report),
            "canonical_equal_live": canonical == canonical_form(live)}


def _failing(report: AssumptionReport) -> str:
    """The activity checks the target fails, short: "dead L2-3; always on L3-1; 5.2 cases 1 3"; with the
    enumeration stopped early, the neurons not yet seen active ("dead? L3-4") or inactive ("always on? L3-1")."""
    def named(check: str) -> str:
        return " ".join("L{}-{}".format(*neuron_index(item)) for item in report[check].items)
    activity = (("dead_neurons", "dead"), ("always_active", "always on"))
    parts = [f"{label} {named(check)}" for check, label in activity if report[check].status == "fails"]
    parts += [f"{label}? {named(check)}" for check, label in activity if report[check].status == "unknown"]
    cases = [str(i) for i in range(1, 5) if report[f"section52_case{i}"].status == "fails"]
    parts += [f"5.2 cases {' '.join(cases)}"] if cases else []
    cover = "" if report.exhaustive else f" (of {report.regions} regions)"
    return "; ".join(parts) + cover if parts else "none" + cover


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default=DEFAULT)
    ap.add_argument("--seeds", type=int, default=1, help="how many seeds per network")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds FIRST_SEED .. FIRST_SEED + SEEDS - 1")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per extraction (partial past it)")
    ap.add_argument("--out", default="extract", help="results/OUT.json and .md")
    ap.add_argument("--jobs", type=int, default=1, help="extractions run at once (processes)")
    ap.add_argument("--extraction-seed", type=int, default=0,
                    help="offset: each extraction's seed is its target's seed plus this (0: the same)")
    ap.add_argument("--certify", action="store_true",
                    help="also certify each recovered network and check the target's recovery assumptions")
    ap.add_argument("--deep", action="store_true",
                    help=f"--nets {DEEP} --seeds 6 --time-limit 300 --certify (--out extract_deep unless given)")
    args = ap.parse_args()
    if args.deep:
        args.nets, args.seeds, args.time_limit, args.certify = DEEP, 6, 300.0, True
        args.out = "extract_deep" if args.out == "extract" else args.out
    jobs = [(parse_widths(text), seed, args.time_limit, args.certify, args.extraction_seed)
            for text in args.nets.split(",")
            for seed in range(args.first_seed, args.first_seed + args.seeds)]
    rows: list[dict] = []
    with multiprocessing.Pool(args.jobs) as pool:   # in order; times are each run's own (noisier with jobs > 1)
        for row in pool.imap(_run, jobs):
            rows.append(row)
            print(row, flush=True)
            write(rows, args.out, args.extraction_seed)   # after every network: a long run keeps what it measured


def _run(job: tuple) -> dict:
    return run(*job)


def write(rows: list[dict], name: str, offset: int = 0) -> None:
    seeds = f", extraction seed = target seed + {offset}" if offset else ""
    title = f"# Whole-network extraction (exact oracle, commit {commit()}{seeds})"
    write_results(name, title, COLUMNS + CHECK_COLUMNS * all("certify" in r for r in rows), rows)

if __name__ == "__main__":
    main()

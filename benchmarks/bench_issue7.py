"""Issue #7 benchmark: the issue's networks with exact, mpmath and float oracles, side by side with the
published query counts of Carlini et al. (CRYPTO 2020).

Each (network, oracle) is run twice, each time in a fresh child process (so its peak resident memory,
getrusage ru_maxrss, is its own; it includes the ~100 MiB of the interpreter and imports):
- "layer 1": exactrev.extract_first_layer (all three oracles recover layer 1, so the exact/float
  wall-time ratio is measured here on the same target in the same run);
- "whole": exactrev.extract with `--time-limit` (a run that does not finish ends "partial" with its time);
  float and mpmath oracles run the same algorithm with tolerances, and a whole-run exact/float ratio is
  given where the float run is complete.
Errors are the paper's normalised errors per layer (exactrev.compare; 0 = exactly equal), layer 1 from
the recovered hyperplanes, deeper layers where the recovered widths match the target's.  The target is
used only for these errors.  Writes results/issue7.{json,md} (results/issue7_big.* with --big).

    python3 benchmarks/bench_issue7.py                      # 10-10-10-1, 10-20-20-1, 40-20-10-10-1, 80-40-20-1
    python3 benchmarks/bench_issue7.py --big                # 784-128-1 (exact and float raw)
    python3 benchmarks/bench_issue7.py --nets 5-8-6-2,6-5-5-2,10-10-10-1,10-20-20-1,8-16-16-3 --stages whole \
        --out rounding                                      # every layer through float and mpmath oracles
    options: --nets A,B --oracles exact,float --stages "layer 1" --seed 0 --time-limit 900 --dps 30 --out NAME
"""

from __future__ import annotations

import argparse
import datetime
import math
import multiprocessing
import platform
import resource
import time

import flint

from exactrev import Oracle, extract, extract_first_layer, random_network
from exactrev.compare import LayerError, hyperplane_error, layer_errors
from exactrev.numbers import to_fraction
from exactrev.random_net import parse_widths
from results_table import commit, write_results

STANDARD = "10-10-10-1,10-20-20-1,40-20-10-10-1,80-40-20-1"
BIG = "784-128-1"
# Carlini, Jagielski, Mironov, "Cryptanalytic Extraction of Neural Network Models", CRYPTO 2020 (abstract).
PUBLISHED_LOG2_QUERIES = {"784-128-1": 21.5, "80-40-20-1": 18.5}
STAGES = ("layer 1", "whole")
# oracle name -> (arithmetic, refine): "float raw" skips the refit of each plane through far kinks, whose
# least squares in mpmath cost O(n_in^3) per neuron (infeasible for 784 inputs); layer 1 only.
ORACLES = {"exact": ("exact", True), "float": ("float", True), "float raw": ("float", False),
           "mpmath": ("mpmath", True)}


def _fmt_error(e: float | None) -> str:
    return "n/a" if e is None else "0" if e == 0 else f"{e:.1e}"


def _worst(err: LayerError) -> float | None:
    return None if err.weight is None or err.bias is None else max(err.weight, err.bias)


def errors_per_layer(net, planes, recovered=None, unsolved: frozenset[int] = frozenset()) -> list[float | None]:
    """Max normalised error of each layer: layer 1 from the hyperplanes; others where the widths match and
    the extraction did not report the layer as unsolved (None there: not recovered, so no error)."""
    first = _worst(hyperplane_error([([to_fraction(v) for v in w], to_fraction(b)) for w, b in planes], net))
    if recovered is None:
        return [first]
    if recovered.widths != net.widths:
        return [first] + [None] * (len(net.weights) - 1)
    rest = [_worst(e) for e in layer_errors(recovered, net)[1:]]
    return [first] + [None if k in unsolved else e for k, e in enumerate(rest, start=2)]


def measure(widths: list[int], oracle: str, stage: str, seed: int, dps: int, time_limit: float) -> dict:
    """One run in this process: queries, time, status, errors and this process's peak RSS."""
    net = random_network(widths, seed=seed)
    mode, refine = ORACLES[oracle]
    ora = Oracle.from_network(net, mode, dps=dps)
    start = time.perf_counter()
    if stage == "layer 1":
        res = extract_first_layer(ora, seed=seed, refine=refine)
        seconds = time.perf_counter() - start
        status = "complete" if len(res.hyperplanes) == widths[1] and not res.undecided else "partial"
        recovered_widths, errs, notes = f"{len(res.hyperplanes)} planes", errors_per_layer(net, res.hyperplanes), []
    else:
        res = extract(ora, seed=seed, time_limit=time_limit)
        seconds = time.perf_counter() - start
        status, recovered_widths = res.status, "-".join(map(str, res.widths))
        unsolved = frozenset(u["layer"] for u in res.unidentified if u["neuron"] is None)   # layer-wide gaps
        errs = errors_per_layer(net, res.hyperplanes, res.network, unsolved)
        notes = sorted({u["reason"][:120] for u in res.unidentified})[:3]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss          # KiB on Linux
    return {"status": status, "recovered": recovered_widths, "queries": res.queries, "seconds": round(seconds, 2),
            "peak_rss_mib": round(peak_kib / 1024, 1), "max_error_per_layer": errs, "notes": notes}


def _child(conn, *args) -> None:
    try:
        conn.send(measure(*args))
    except Exception as e:  # a failed run is recorded with its error, the benchmark goes on
        conn.send({"status": f"error: {type(e).__name__}: {str(e)[:200]}"})
    conn.close()


def run(widths: list[int], oracle: str, stage: str, args: argparse.Namespace) -> dict:
    """`measure` in a fresh child process (killed 120 s past the time limit: status "killed")."""
    net = random_network(widths, seed=args.seed)
    text = "-".join(map(str, widths))
    row = {"network": text, "oracle": oracle, "stage": stage, "seed": args.seed, "params": net.num_params,
           "functional_dim": net.functional_dimension_bound, "dps": args.dps if oracle == "mpmath" else None,
           "published_log2_queries": PUBLISHED_LOG2_QUERIES.get(text)}
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    start = time.perf_counter()
    proc = ctx.Process(target=_child, args=(send, widths, oracle, stage, args.seed, args.dps, args.time_limit))
    proc.start()
    send.close()
    if recv.poll(args.time_limit + 120):
        row.update(recv.recv())
    else:
        proc.kill()
        row.update(status="killed", seconds=round(time.perf_counter() - start, 2))
    proc.join()
    if "queries" in row:
        row["log2_queries"] = round(math.log2(row["queries"]), 2)
        row["queries_per_fdim"] = round(row["queries"] / row["functional_dim"], 2)
    return row


def add_ratios(rows: list[dict]) -> None:
    """Wall-time ratios to the float run ("float raw" where there is no "float" run) of the same network and
    stage, measured in this run; a whole-run ratio only where the float run is complete."""
    for r in rows:
        same = [f for f in rows if f["network"] == r["network"] and f["stage"] == r["stage"]]
        flt = next((f for name in ("float", "float raw") for f in same if f["oracle"] == name), None)
        comparable = (flt is not None and r is not flt and "queries" in r and "queries" in flt
                      and flt["seconds"] > 0 and (r["stage"] == "layer 1" or flt["status"] == "complete"))
        r["time_ratio_vs_float"] = round(r["seconds"] / flt["seconds"], 2) if comparable else None


def _cell(key: str):
    return lambda r: "—" if r.get(key) is None else r[key]


COLUMNS = [("network", _cell("network")), ("params", _cell("params")), ("fdim", _cell("functional_dim")),
           ("oracle", lambda r: r["oracle"] + (f" ({r['dps']} dps)" if r.get("dps") else "")),
           ("stage", _cell("stage")), ("status", _cell("status")), ("recovered", _cell("recovered")),
           ("queries", _cell("queries")), ("log2 q", _cell("log2_queries")), ("q / fdim", _cell("queries_per_fdim")),
           ("wall s", _cell("seconds")), ("÷ float s", _cell("time_ratio_vs_float")),
           ("peak RSS MiB", _cell("peak_rss_mib")),
           ("max error per layer", lambda r: " / ".join(map(_fmt_error, r.get("max_error_per_layer", [])))),
           ("Carlini 2020 log2 q", _cell("published_log2_queries"))]


def write(name: str, rows: list[dict], meta: dict) -> None:
    add_ratios(rows)
    title = (f"# Issue #7 benchmark ({meta['date']}, commit {meta['commit']}, seed {meta['seed']}, "
             f"time limit {meta['time_limit']:g} s)\n\n"
             "He-initialised targets. *layer 1* = `extract_first_layer`, *whole* = `extract` (float and mpmath "
             "oracles: the same algorithm with tolerances). The exact/float time ratio (÷ float s; against "
             "*float raw*, layer 1 without the refit of each plane, where there is no *float* run) is measured "
             "on the same target in the same run (whole runs: only where float is complete). Peak RSS = getrusage ru_maxrss of a fresh child process per run (includes ~100 MiB "
             "of interpreter and imports). Errors: normalised max(weight, bias) error per layer, 0 = exact, "
             "n/a = layer not recovered (the run reported it unsolved). Carlini et al. (CRYPTO 2020) counts "
             "are those of their abstract. "
             f"Machine: {meta['machine']}.")
    write_results(name, title, COLUMNS, rows, payload={"meta": meta, "rows": rows})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default=None, help=f"default {STANDARD} ({BIG} with --big)")
    ap.add_argument("--big", action="store_true", help=f"run {BIG} into results/issue7_big.*")
    ap.add_argument("--oracles", default=None, help=f"of {', '.join(ORACLES)}; default exact,float,mpmath "
                    "(exact,float raw with --big: the float refit is O(n_in^3) per neuron)")
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dps", type=int, default=30, help="mpmath oracle precision")
    ap.add_argument("--time-limit", type=float, default=900.0, help="seconds per whole extraction")
    ap.add_argument("--out", default=None, help="results/OUT.{json,md} (default issue7, or issue7_big with --big)")
    args = ap.parse_args()
    nets = args.nets or (BIG if args.big else STANDARD)
    oracles = (args.oracles or ("exact,float raw" if args.big else "exact,float,mpmath")).split(",")
    name = args.out or ("issue7_big" if args.big else "issue7")
    meta = {"date": datetime.date.today().isoformat(), "commit": commit(), "seed": args.seed, "dps": args.dps,
            "time_limit": args.time_limit, "python": platform.python_version(), "flint": flint.__version__,
            "machine": f"{multiprocessing.cpu_count()} cores, shared with other jobs during the run",
            "peak_memory": "resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh forked process per run"}
    rows: list[dict] = []
    for text in nets.split(","):
        widths = parse_widths(text)
        for stage in args.stages.split(","):
            for oracle in oracles:
                if stage == "whole" and not ORACLES[oracle][1]:
                    continue                     # extract always refines: "float raw" is a layer-1 variant
                rows.append(run(widths, oracle, stage, args))
                print({k: v for k, v in rows[-1].items() if k != "notes"}, flush=True)
                write(name, rows, meta)          # after every run, so a long run keeps what it measured


if __name__ == "__main__":
    main()

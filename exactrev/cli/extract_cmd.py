"""`exactrev extract TARGET`: recover a network from query access to TARGET (exit 0 complete, 1 partial, 2 bad input)."""

from __future__ import annotations

import argparse
import json
import time

from ..errors import ExactrevError, Interrupted
from ..extract import ExtractResult, extract
from ..files import atomic_write_text
from ..first_layer import extract_first_layer
from ..netformat import network_to_json
from ..numbers import format_rational
from ..oracle import Oracle
from ..progress import make_bar
from .common import load_network


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extract", help="recover a network from queries alone (exactly with --oracle exact)")
    p.add_argument("target", help="the target network (network JSON, .npz, .safetensors, .onnx)")
    p.add_argument("--oracle", choices=("exact", "mpmath", "float"), default="exact",
                   help="arithmetic of the oracle's answers (default exact)")
    p.add_argument("--dps", type=int, default=50, help="decimal digits of the mpmath oracle (default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=int, default=None, help="maximum number of queries (partial result beyond)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="maximum time of the extraction, checked between batches of queries (partial result beyond)")
    p.add_argument("--first-layer-only", action="store_true", help="only Algorithm 1: print the first-layer hyperplanes")
    p.add_argument("--out", help="write the recovered network here (required unless --first-layer-only)")
    p.add_argument("--report", help="write a JSON report here")
    p.add_argument("--quiet", action="store_true", help="print nothing on success (and no progress bar)")
    p.set_defaults(func=cmd_extract)


def cmd_extract(args: argparse.Namespace) -> int:
    if args.dps < 1:
        raise ExactrevError(f"--dps {args.dps}: must be a positive integer")
    if args.budget is not None and args.budget < 0:
        raise ExactrevError(f"--budget {args.budget}: must be a non-negative integer")
    if args.time_limit is not None and not args.time_limit > 0:
        raise ExactrevError(f"--time-limit {args.time_limit}: must be positive")
    if args.time_limit is not None and args.first_layer_only:
        raise ExactrevError("--time-limit applies to the whole extraction, not to --first-layer-only")
    if not args.first_layer_only and not args.out:
        raise ExactrevError("--out FILE is required (or use --first-layer-only)")
    target = load_network(args.target)
    oracle = Oracle.from_network(target, args.oracle, dps=args.dps, budget=args.budget)
    if args.first_layer_only:
        return first_layer_only(oracle, args)
    try:
        with make_bar(total=None, desc="extract", quiet=args.quiet) as bar:
            result = extract(oracle, seed=args.seed, time_limit=args.time_limit, progress=bar.status)
    except Interrupted as e:
        # Ctrl-C: what was found so far is a valid partial network and report; then exit 130 as usual.
        write_outputs(e.partial, args)
        raise
    write_outputs(result, args)
    if not args.quiet:
        print(f"{args.target}: {result.status}, widths {'-'.join(map(str, result.widths))}, "
              f"{result.queries} queries, {result.wall_seconds:.2f} s -> {args.out}")
        if result.status == "complete":
            v = result.verification
            print(f"  checked against the target on {v['lines']} lines ({v['kinks']} kinks) and {v['points']} points "
                  "(evidence; `exactrev certify` gives a proof)")
        for u in result.removed:
            print(f"  removed (layer {u['layer']}, neuron {u['neuron']}): {u['reason']}")
        for u in result.unidentified:
            where = f"layer {u['layer']}" + (f", neuron {u['neuron']}" if u.get("neuron") is not None else "")
            print(f"  unidentified ({where}): {u['reason']}")
    return 0 if result.status == "complete" else 1


def write_outputs(result: ExtractResult, args: argparse.Namespace) -> None:
    """The recovered network to --out and the JSON report to --report (atomic writes)."""
    atomic_write_text(args.out, network_to_json(result.network))
    if args.report:
        atomic_write_text(args.report, json.dumps(result.to_report(), indent=1) + "\n")


def first_layer_only(oracle: Oracle, args: argparse.Namespace) -> int:
    """Print (and optionally report) the first-layer hyperplanes; exit 1 if anything stayed undecided."""
    start = time.perf_counter()
    result = extract_first_layer(oracle, seed=args.seed)
    seconds = time.perf_counter() - start
    planes = [{"weights": [format_rational(v) for v in w], "bias": format_rational(b)} for w, b in result.hyperplanes]
    if args.report:
        report = {"queries": result.queries, "oracle": args.oracle, "seed": args.seed,
                  "wall_seconds": round(seconds, 3), "status": "partial" if result.undecided else "complete",
                  "hyperplanes": planes, "undecided": result.undecided, "lines": result.lines}
        atomic_write_text(args.report, json.dumps(report, indent=1) + "\n")
    if not args.quiet:
        for i, p in enumerate(planes):
            print(f"neuron {i}: weights [{', '.join(p['weights'])}], bias {p['bias']}")
        print(f"{len(planes)} first-layer hyperplanes, {result.queries} queries, {seconds:.2f} s")
        for u in result.undecided:
            print(f"  undecided ({u['item']}): {u['reason']}")
    return 1 if result.undecided else 0

"""`exactrev sweep CONFIG [--scheduler ADDRESS] [--workers N] [--quiet]`."""

from __future__ import annotations

import argparse
import sys

from ..progress import make_bar
from ..sweep import load_config, run_sweep


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run many extraction/certification jobs on Dask from a config")
    p.add_argument("config", help="JSON, TOML or YAML: architectures, seeds, oracles, output, ...")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: min(2, cores))")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Exit 0 when every job ran, 1 when some failed (they are in the table with their error)."""
    config = load_config(args.config)
    total = len(config.jobs())
    with make_bar(total=total, desc="sweep", quiet=args.quiet) as bar:
        rows = run_sweep(config, scheduler=args.scheduler, workers=args.workers,
                         on_row=lambda row, done, todo: bar.step(f"{row['job_id']}: {row.get('status')}"))
    failed = [r for r in rows if r.get("status") == "error"]
    print(f"{len(rows)} job(s) run, {total - len(rows)} already done, {len(failed)} failed -> {config.output}")
    for r in failed:
        print(f"failed: {r['job_id']}: {r['error']}", file=sys.stderr)
    return 1 if failed else 0

"""`exactrev sweep CONFIG [--scheduler ADDRESS] [--workers N] [--quiet]`."""

from __future__ import annotations

import argparse
import sys

from ..errors import ExactrevError
from ..progress import make_bar
from ..sweep import load_config, run_sweep


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run many extraction/certification jobs on Dask from a config")
    p.add_argument("config", help="JSON, TOML or YAML: architectures, seeds, oracles, output, ...")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: min(2, cores))")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


EXIT_INTERRUPTED = 130


def cmd_sweep(args: argparse.Namespace) -> int:
    """Exit 0 when every job ran, 1 when some failed (they are in the table with their error), 130 on
    Ctrl-C (the rows of jobs already finished stay in the table; the cluster is shut down)."""
    if args.workers is not None and args.workers < 1:
        raise ExactrevError(f"--workers {args.workers}: must be at least 1")
    config = load_config(args.config)
    total = len(config.jobs())
    finished: list[dict] = []

    def on_row(row: dict, done: int, todo: int) -> None:
        finished.append(row)
        bar.step(f"{row['job_id']}: {row.get('status')}")
    try:
        with make_bar(total=total, desc="sweep", quiet=args.quiet) as bar:
            rows = run_sweep(config, scheduler=args.scheduler, workers=args.workers, on_row=on_row)
    except KeyboardInterrupt:
        print(f"exactrev sweep: interrupted; {len(finished)} job(s) finished in this run are in {config.output} "
              "(run the same command again to do the rest)", file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = [r for r in rows if r.get("status") == "error"]
    print(f"{len(rows)} job(s) run, {total - len(rows)} already done, {len(failed)} failed -> {config.output}")
    for r in failed:
        print(f"failed: {r['job_id']}: {r['error']}", file=sys.stderr)
    return 1 if failed else 0

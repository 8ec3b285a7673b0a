"""`exactrev report RUN.json --html OUT.html [--png OUT.png]`."""

from __future__ import annotations

import argparse

from ..errors import ExactrevError
from ..report import load_run, write_html, write_png


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render a run report (from extract --report) as HTML and/or PNG")
    p.add_argument("run", help="the JSON report written by `exactrev extract --report`")
    p.add_argument("--html", metavar="OUT.html")
    p.add_argument("--png", metavar="OUT.png")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    if not args.html and not args.png:
        raise ExactrevError("report: give --html OUT.html and/or --png OUT.png")
    report = load_run(args.run)
    if args.html:
        write_html(report, args.html)
    if args.png:
        write_png(report, args.png)
    return 0

"""The `exactrev` command.  Each subcommand lives in its own module and registers itself here.

Exit codes: 0 success; 1 a negative answer (partial extraction, different networks, failed jobs);
2 bad input (one line on stderr naming the file and location, never a traceback); 3 unknown;
130 interrupted by Ctrl-C (one line on stderr; no partial output file; certify prints the "unknown"
certificate of what it covered, sweep keeps the rows of finished jobs).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Sequence

from ..errors import ExactrevError
from . import basic, certify_cmd, extract_cmd, report_cmd, sweep_cmd

EXIT_OK, EXIT_NEGATIVE, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3
EXIT_INTERRUPTED = 130

# Modules that define register(subparsers); each parser sets `func(args) -> int`.
COMMAND_MODULES = [basic, certify_cmd, extract_cmd, report_cmd, sweep_cmd]


MAX_MESSAGE = 400


def one_line(message: str) -> str:
    """An error message as one bounded line (whitespace collapsed, at most MAX_MESSAGE characters)."""
    text = " ".join(message.split())
    return text if len(text) <= MAX_MESSAGE else f"{text[:MAX_MESSAGE - 3]}..."


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line on stderr and exit 2.

    Arguments like "-1,2" or "-1/2" are values (points), not unknown options.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> None:  # type: ignore[override]
        print(one_line(f"{self.prog}: {message}"), file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="exactrev", description="Exact reverse-engineering of deep ReLU networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ExactrevError as e:
        print(one_line(f"exactrev {args.command}: {e}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"exactrev {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(one_line(f"exactrev {args.command}: {where}{e.strerror or e}"), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""A benchmark's rows written to benchmarks/results/: NAME.json (the data) and NAME.md (a markdown table)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable, Sequence

RESULTS = Path(__file__).resolve().parent / "results"
Column = tuple[str, Callable[[dict], Any]]


def write_results(name: str, title: str, columns: Sequence[Column], rows: Sequence[dict], payload: Any = None) -> None:
    """Write `payload` (default: the rows) as JSON and the rows as a table with one (header, cell) per column."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(list(rows) if payload is None else payload, indent=1) + "\n")
    lines = ["| " + " | ".join(header for header, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell(r)) for _, cell in columns) + " |" for r in rows]
    (RESULTS / f"{name}.md").write_text(f"{title}\n\n" + "\n".join(lines) + "\n")


def commit() -> str:
    """The checked-out commit's short hash, "-dirty" if the work tree has changes (results' headers), or "unknown"."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except OSError:
        return "unknown"

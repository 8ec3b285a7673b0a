"""Progress display for long commands: a tqdm bar on a terminal's stderr, silent otherwise.

Algorithms report through a plain callback `progress(**fields)` (layer, neurons, queries, ...),
so they never depend on how (or whether) progress is shown.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

ProgressCallback = Callable[..., None]


class Bar:
    """A context manager wrapping tqdm (or nothing when quiet / not a terminal)."""

    def __init__(self, total: int | None, desc: str, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm
            # Open-ended work (extract, certify) shows elapsed time and the status fields only.
            fmt = None if total is not None else "{desc} [{elapsed}]{postfix}"
            self._bar = tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True, bar_format=fmt)

    def step(self, status: str = "", n: int = 1) -> None:
        """Advance by n and show a short status."""
        if self._bar is not None:
            self._bar.update(n)
            if status:
                self._bar.set_postfix_str(status, refresh=False)

    def status(self, **fields: Any) -> None:
        """Show fields (e.g. layer=2, neurons=15, queries=1234) without advancing: a ProgressCallback."""
        if self._bar is not None:
            self._bar.set_postfix(fields, refresh=True)

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def make_bar(total: int | None, desc: str, quiet: bool) -> Bar:
    """A bar on stderr when stderr is a terminal and not `quiet`; nothing goes to stdout."""
    return Bar(total, desc, enabled=not quiet and sys.stderr.isatty())

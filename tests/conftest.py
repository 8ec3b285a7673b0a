"""Shared test fixtures (keep small: only what several test files need)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import settings

# CI runs the same examples every time (reproducible verdicts); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    """Run `python3 -m exactrev ARGS...` in a subprocess (cwd optional); returns the completed process."""
    def run(*args: str, cwd: str | Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "exactrev", *map(str, args)], cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)
    return run

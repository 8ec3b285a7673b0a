"""`exactrev sweep`: many extraction (and certification) jobs from a small config, run on Dask.

A config (JSON, TOML or YAML) names architectures x seeds x oracle modes; each job builds the
He-initialised target, extracts it through an oracle, optionally certifies the result, and becomes
one row of a tidy CSV table.  Rows are appended as jobs finish, so an interrupted sweep keeps what
it did; a re-run skips the jobs already recorded without error.  A failing job is recorded with its
error and does not stop the others.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import signal
import threading
import time
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .errors import ExactrevError
from .numbers import ARITHMETICS
from .random_net import parse_widths, validate_widths

COLUMNS = [
    "job_id", "widths", "seed", "oracle", "dps", "status", "queries", "wall_seconds",
    "recovered_widths", "canonical_match", "unidentified", "max_rel_error", "verdict",
    "certify_method", "certify_seconds", "error",
]


@dataclass(frozen=True)
class Job:
    """One extraction job of a sweep."""

    widths: tuple[int, ...]
    seed: int
    oracle: str
    dps: int = 50
    bits: int = 24
    budget: int | None = None
    certify: bool = True

    @property
    def job_id(self) -> str:
        return f"{'-'.join(map(str, self.widths))}/seed={self.seed}/{self.oracle}" + (
            f"/dps={self.dps}" if self.oracle == "mpmath" else "")


@dataclass
class SweepConfig:
    """Architectures x seeds x oracle modes, plus where the table goes."""

    architectures: list[tuple[int, ...]]
    seeds: list[int]
    oracles: list[str]
    output: Path
    dps: int = 50
    bits: int = 24
    budget: int | None = None
    certify: bool = True

    def jobs(self) -> list[Job]:
        return [Job(w, s, o, self.dps, self.bits, self.budget, self.certify)
                for w in self.architectures for o in self.oracles for s in self.seeds]


def load_config(path: str | Path) -> SweepConfig:
    """Read a sweep config; errors name the file and the key at fault."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ExactrevError(f"{p}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    data = _parse_config_text(text, p)
    if not isinstance(data, dict):
        raise ExactrevError(f"{p}: the config must be a mapping (architectures, seeds, oracles, output)")
    known = {"architectures", "seeds", "oracles", "output", "dps", "bits", "budget", "certify"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ExactrevError(f"{p}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    archs = data.get("architectures")
    if not isinstance(archs, list) or not archs:
        raise ExactrevError(f"{p}: 'architectures' must be a non-empty list like [\"10-10-10-1\", [4, 8, 1]]")
    architectures = []
    for i, a in enumerate(archs):
        try:
            if isinstance(a, str):
                architectures.append(tuple(parse_widths(a)))
            else:
                validate_widths(a)
                architectures.append(tuple(int(w) for w in a))
        except (ExactrevError, TypeError) as e:
            raise ExactrevError(f"{p}: architectures[{i}]: {e}") from None
    seeds = data.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ExactrevError(f"{p}: 'seeds' must be a count or a non-empty list of integers")
    oracles = data.get("oracles", ["exact"])
    if not isinstance(oracles, list) or not oracles or any(o not in ARITHMETICS for o in oracles):
        raise ExactrevError(f"{p}: 'oracles' must be a non-empty list drawn from {', '.join(ARITHMETICS)}")
    output = Path(data.get("output", p.with_suffix(".csv").name))
    if not output.is_absolute():
        output = p.parent / output
    if output.is_dir() or not output.parent.is_dir():
        raise ExactrevError(f"{p}: 'output' {output}: " + ("is a directory, expected a CSV file name" if output.is_dir()
                                                          else f"directory {output.parent} does not exist"))
    for key in ("dps", "bits"):
        if key in data and (not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 1):
            raise ExactrevError(f"{p}: '{key}' must be a positive integer")
    budget = data.get("budget")
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 1):
        raise ExactrevError(f"{p}: 'budget' must be a positive integer")
    return SweepConfig(architectures, seeds, oracles, output, dps=data.get("dps", 50), bits=data.get("bits", 24),
                       budget=budget, certify=bool(data.get("certify", True)))


def _parse_config_text(text: str, p: Path) -> Any:
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            import yaml
            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as e:  # each parser has its own error type; all mean "malformed config"
        raise ExactrevError(f"{p}: not valid {suffix.lstrip('.') or 'JSON'}: {e}") from None


def run_job(job: Job) -> dict:
    """Run one job; never raises — an error becomes the row's `error` field."""
    from .canonical import canonical_form
    from .certify import certify
    from .extract import extract
    from .oracle import Oracle
    from .random_net import random_network

    row: dict[str, Any] = {"job_id": job.job_id, "widths": "-".join(map(str, job.widths)), "seed": job.seed,
                           "oracle": job.oracle, "dps": job.dps if job.oracle == "mpmath" else ""}
    try:
        target = random_network(list(job.widths), seed=job.seed, bits=job.bits)
        oracle = Oracle.from_network(target, job.oracle, dps=job.dps)
        start = time.perf_counter()
        result = extract(oracle, seed=job.seed, budget=job.budget)
        row["wall_seconds"] = round(time.perf_counter() - start, 4)
        report = result.to_report()
        row.update(status=result.status, queries=result.queries,
                   recovered_widths="-".join(map(str, result.widths)),
                   unidentified=len(result.unidentified),
                   max_rel_error=max((layer.get("max_rel_error") or 0 for layer in report.get("layers", [])), default=0))
        if job.oracle == "exact":
            row["canonical_match"] = canonical_form(result.network) == canonical_form(target)
        if job.certify:
            start = time.perf_counter()
            tolerance = tolerance_for(job)
            box = None if tolerance == 0 else [(-1, 1)] * target.input_dim
            cert = certify(result.network, target, box=box, tolerance=tolerance)
            row.update(verdict=cert.verdict, certify_method=cert.method,
                       certify_seconds=round(time.perf_counter() - start, 4))
    except Exception as e:  # a failed job is data, not a crash of the sweep
        row["status"] = "error"
        row["error"] = f"{type(e).__name__}: {e}".replace("\n", " ")[:500]
    return row


def tolerance_for(job: Job) -> Fraction:
    """Certification tolerance: 0 (over all of R^n) for exact recovery; on the unit box 1e-6 for float
    and 10^-(dps/2) for mpmath oracles."""
    if job.oracle == "exact":
        return Fraction(0)
    return Fraction(1, 10 ** 6) if job.oracle == "float" else Fraction(1, 10 ** max(job.dps // 2, 6))


def read_done(output: Path) -> dict[str, dict]:
    """Rows already recorded without error, by job id."""
    if not output.exists():
        return {}
    with output.open(newline="", encoding="utf-8") as f:
        return {r["job_id"]: r for r in csv.DictReader(f) if r.get("status") != "error"}


def run_sweep(config: SweepConfig, *, scheduler: str | None = None, workers: int | None = None,
              on_row: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """Run the jobs not yet done on Dask (a LocalCluster unless `scheduler` is given); returns this run's rows."""
    done = read_done(config.output)
    todo = [j for j in config.jobs() if j.job_id not in done]
    rows: list[dict] = []
    if not todo:
        return rows
    _rewrite_without_errors(config.output, done)
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        with _workers_ignore_sigint():
            # only CRITICAL log lines: a loaded machine can make a worker's heartbeat fail while the cluster
            # shuts down after Ctrl-C, an ERROR line that is noise (a job's own error is kept in the table)
            cluster = LocalCluster(n_workers=workers or min(2, os.cpu_count() or 1), threads_per_worker=1,
                                   processes=True, dashboard_address=None, silence_logs=logging.CRITICAL)
    client = Client(scheduler or cluster)
    try:
        futures = [client.submit(run_job, job, key=f"exactrev-{job.job_id}-{i}", pure=False)
                   for i, job in enumerate(todo)]
        for future in as_completed(futures):
            row = future.result()
            _append_row(config.output, row)
            rows.append(row)
            if on_row:
                on_row(row, len(rows), len(todo))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return rows


@contextlib.contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Start worker processes with SIGINT ignored (inherited through exec), so that Ctrl-C in a terminal
    (sent to the whole process group) interrupts only this process, which then shuts the cluster down
    cleanly instead of every worker printing a traceback.  A Ctrl-C during the start itself is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _rewrite_without_errors(output: Path, done: dict[str, dict]) -> None:
    """Drop previously failed rows (they are re-run), keeping the good ones."""
    if output.exists():
        from .files import atomic_write_text
        atomic_write_text(output, _csv_text(done.values()))


def _csv_text(rows: Iterable[dict]) -> str:
    import io
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def _append_row(output: Path, row: dict) -> None:
    """Append one row (and the header to a new file) with a single write, so an interruption never
    leaves half a row."""
    text = _csv_text([row])
    if output.exists():
        text = text.split("\n", 1)[1]              # the header line is already there
    with output.open("a", newline="", encoding="utf-8") as f:
        f.write(text)

"""Resource limits and Ctrl-C: certification ends "unknown" and extraction "partial" naming the limit;
interrupted commands exit 130 with one line on stderr, keep what was finished (sweep rows, the certify
coverage) and leave no process behind."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import pytest

from exactrev import (ExactrevError, Interrupted, Network, Oracle, canonical_form, certify, extract,
                      random_isomorphic_twin, random_network)
from exactrev.cli import main


def sawtooth(depth: int) -> Network:
    """x -> the depth-fold composition of the tent map on [0, 1]: 2^depth linear pieces (y is ignored)."""
    tent = [[Fraction(2), Fraction(-4)], [Fraction(2), Fraction(-4)]]
    weights = [[[Fraction(1), Fraction(0)], [Fraction(1), Fraction(0)]]] + [tent] * (depth - 1) + [[tent[0]]]
    biases = [[Fraction(0), Fraction(-1, 2)]] * depth + [[Fraction(0)]]
    return Network(weights, biases)


def split_first_neuron(net: Network) -> Network:
    """The same function with hidden neuron 0 of layer 1 split into two halves (a different canonical form)."""
    w = [list(map(list, m)) for m in net.weights]
    b = [list(v) for v in net.biases]
    w[0].append(list(w[0][0]))
    b[0].append(b[0][0])
    for row in w[1]:
        row[0], half = row[0] / 2, row[0] / 2
        row.append(half)
    return Network(w, b)


SAW = sawtooth(20)
SAW_TWIN = split_first_neuron(SAW)


def test_the_twin_is_equal_but_not_canonically():
    small = sawtooth(4)
    assert certify(small, split_first_neuron(small)).verdict == "equivalent"
    assert canonical_form(SAW) != canonical_form(SAW_TWIN)


def test_region_limit_ends_unknown_naming_it_in_bounded_memory():
    tracemalloc.start()
    try:
        cert = certify(SAW, SAW_TWIN, limit=40)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cert.verdict == "unknown" and not cert.complete and cert.witness is None
    assert cert.regions == 40 and "regions limit reached after 40 regions" in cert.reason
    assert peak < 64 * 2 ** 20          # the search keeps one path of the region tree, not the regions


def test_time_limit_ends_unknown_naming_it():
    cert = certify(SAW, random_isomorphic_twin(SAW, seed=1), try_canonical=False, limit=None, seconds=0.5)
    assert cert.verdict == "unknown" and "time limit reached" in cert.reason
    assert cert.regions < 2 ** 20   # it stopped: nowhere near the 2^20 regions


@pytest.mark.parametrize("kwargs, message", [({"seconds": 0}, "seconds 0 must be positive"),
                                             ({"seconds": -1.0}, "seconds -1.0 must be positive"),
                                             ({"limit": 0}, "limit 0 must be at least 1 region")])
def test_bad_limits_are_errors(kwargs, message):
    with pytest.raises(Exception, match=message):
        certify(SAW, SAW_TWIN, **kwargs)


def test_ctrl_c_during_the_enumeration_carries_an_unknown_certificate():
    calls = [0]

    def progress(**_):
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt
    with pytest.raises(Interrupted) as info:
        certify(SAW, SAW_TWIN, progress=progress)
    cert = info.value.partial
    assert isinstance(info.value, KeyboardInterrupt)
    assert cert.verdict == "unknown" and not cert.complete and cert.regions > 0
    assert cert.reason.startswith(f"interrupted (Ctrl-C) after {cert.regions} regions")


@pytest.fixture(scope="module")
def saw_files(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("saw")
    SAW.save(d / "a.json")
    SAW_TWIN.save(d / "b.json")
    return d / "a.json", d / "b.json"


@pytest.mark.parametrize("flags, needle", [(["--limit", "25"], "regions limit reached after 25 regions"),
                                           (["--limit", "1000000", "--seconds", "0.5"], "time limit reached")])
def test_certify_cli_limits_exit_3_with_the_reason(run_cli, saw_files, flags, needle):
    done = run_cli("certify", *saw_files, *flags)
    assert done.returncode == 3, done.stderr
    assert "verdict: unknown" in done.stdout and needle in done.stdout and done.stderr == ""


@pytest.mark.parametrize("flags, needle", [(["--limit", "0"], "--limit 0: must be at least 1 region"),
                                           (["--seconds", "0"], "--seconds 0.0: must be positive"),
                                           (["--seconds", "nan"], "--seconds nan: must be positive")])
def test_certify_cli_bad_limits_exit_2(run_cli, saw_files, flags, needle):
    done = run_cli("certify", *saw_files, *flags)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and needle in done.stderr


def group_alive(pgid: int, wait: float) -> bool:
    """Some process of the group still exists after `wait` seconds (exited workers may stay zombies
    for a moment until they are reaped)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.2)
    return True


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default action.  A suite started in the background by a
    shell without job control (`pytest &`) inherits SIGINT ignored, and a Python started so never turns
    Ctrl-C into KeyboardInterrupt: the command would run on to its end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(args: list[str], cwd: Path, ready) -> subprocess.CompletedProcess:
    """Start `exactrev ARGS` in its own process group, wait until ready(), send SIGINT to the whole group
    (as Ctrl-C in a terminal does), and check that no process of the group survives."""
    proc = subprocess.Popen([sys.executable, "-m", "exactrev", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 120
        while not ready() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, "the command ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not group_alive(proc.pid, wait=20), "a process of the command (a Dask worker?) survived"
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_ctrl_c_on_certify_prints_the_partial_certificate_and_exits_130(saw_files, tmp_path):
    start = time.monotonic()
    done = interrupt(["certify", *saw_files, "--json"], tmp_path, lambda: time.monotonic() - start > 6)
    assert done.returncode == 130
    assert done.stderr == "exactrev certify: interrupted\n"
    cert = json.loads(done.stdout)
    assert cert["verdict"] == "unknown" and cert["reason"].startswith("interrupted (Ctrl-C)")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_on_sweep_keeps_finished_rows_and_shuts_the_cluster_down(tmp_path, run_cli):
    out = tmp_path / "table.csv"
    config = {"architectures": ["2-3-1", "5-8-6-1"], "seeds": 6, "oracles": ["exact"], "output": out.name}
    (tmp_path / "sweep.json").write_text(json.dumps(config))

    def rows() -> list[dict]:
        if not out.exists():
            return []
        with out.open(newline="") as f:
            return list(csv.DictReader(f))
    done = interrupt(["sweep", "sweep.json", "--quiet"], tmp_path, lambda: len(rows()) >= 1)
    assert done.returncode == 130, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("exactrev sweep: interrupted; ")
    kept = rows()
    assert f"; {len(kept)} job(s) finished in this run are in" in done.stderr
    assert 1 <= len(kept) < 12 and all(r["status"] in ("complete", "partial") for r in kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.json", "table.csv"]


def test_ctrl_c_during_extraction_carries_a_partial_result():
    net = random_network([3, 5, 4, 1], seed=0)
    calls = [0]

    def fn(x):
        calls[0] += 1
        if calls[0] == 400:
            raise KeyboardInterrupt
        return net(x)
    try:
        extract(Oracle(fn, 3, 1), seed=0)
    except Interrupted as e:
        result = e.partial
    except KeyboardInterrupt:            # not re-raised: pytest would end the whole session
        pytest.fail("extract let a bare KeyboardInterrupt through, without the partial result")
    else:
        pytest.fail("extract did not re-raise the KeyboardInterrupt")
    assert result.status == "partial" and result.queries == 400   # the interrupted query was sent, so it counts
    assert any("interrupted" in u["reason"] for u in result.unidentified)


@pytest.fixture(scope="module")
def wide() -> Network:
    """A target whose extraction takes minutes (see tests/test_extract.py::test_issue_networks)."""
    return random_network([10, 20, 20, 1], seed=0)


def test_extract_time_limit_ends_partial_naming_it(wide):
    oracle = Oracle.from_network(wide)
    result = extract(oracle, seed=0, time_limit=0.5)
    assert result.status == "partial" and 0 < result.queries == oracle.queries
    reason = f"time limit of 0.5 s reached after {result.queries} queries"
    assert any(u["reason"] == reason for u in result.unidentified)
    assert result.network.input_dim == 10 and result.network.output_dim == 1   # what was found so far, loadable


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), True, "1"])
def test_extract_bad_time_limit_is_an_error(value):
    with pytest.raises(ExactrevError, match=r"extract: time_limit=.* must be a positive number of seconds"):
        extract(Oracle.from_network(sawtooth(2)), time_limit=value)


def test_extract_cli_time_limit_exits_1_with_the_reason(wide, tmp_path, capsys):
    wide.save(tmp_path / "t.json")
    out, rep = tmp_path / "out.json", tmp_path / "rep.json"
    assert main(["extract", str(tmp_path / "t.json"), "--out", str(out), "--report", str(rep),
                 "--time-limit", "0.5"]) == 1
    report = json.loads(rep.read_text())
    assert report["status"] == "partial" and Network.load(out).input_dim == 10
    assert any(u["reason"].startswith("time limit of 0.5 s reached") for u in report["unidentified"])
    assert "time limit of 0.5 s reached" in capsys.readouterr().out


@pytest.mark.parametrize("flags, needle", [(["--time-limit", "0"], "--time-limit 0.0: must be positive"),
                                           (["--time-limit", "nan"], "--time-limit nan: must be positive"),
                                           (["--time-limit", "1", "--first-layer-only"],
                                            "--time-limit applies to the whole extraction, not to --first-layer-only")])
def test_extract_cli_bad_time_limit_exits_2(flags, needle, tmp_path, capsys):
    sawtooth(2).save(tmp_path / "t.json")
    assert main(["extract", str(tmp_path / "t.json"), "--out", str(tmp_path / "o.json"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and not (tmp_path / "o.json").exists()

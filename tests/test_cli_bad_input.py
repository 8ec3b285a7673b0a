"""Bad files and arguments for `certify`, `report` and `sweep`: exit 2, one stderr line naming the file and the
place at fault, nothing on stdout, nothing left behind (tests/test_cli_basic.py covers the other commands)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from exactrev import random_network
from exactrev.cli import main


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch) -> Path:
    """A directory with good and bad inputs; the test runs inside it."""
    random_network([2, 3, 1], seed=0).save(tmp_path / "a.json")
    random_network([2, 3, 1], seed=1).save(tmp_path / "b.json")
    random_network([3, 3, 1], seed=0).save(tmp_path / "three.json")
    random_network([2, 3, 2], seed=0).save(tmp_path / "two_out.json")
    (tmp_path / "run.json").write_text(json.dumps({"queries": 5, "status": "complete", "layers": []}))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe")
    (tmp_path / "dir").mkdir()
    (tmp_path / "sweep_out_dir.json").write_text(json.dumps({"architectures": ["2-2-1"], "output": "dir"}))
    (tmp_path / "sweep_no_parent.json").write_text(json.dumps({"architectures": ["2-2-1"], "output": "no/t.csv"}))
    (tmp_path / "sweep.yaml").write_text("architectures: [2-2-1\n")
    (tmp_path / "sweep.toml").write_text("architectures = [\n")
    (tmp_path / "sweep_bad_oracle.json").write_text(json.dumps({"architectures": ["2-2-1"], "oracles": ["fp16"]}))
    (tmp_path / "sweep_zero_width.json").write_text(json.dumps({"architectures": ["2-0-1"]}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


CASES = [
    (["certify", "broken.json", "a.json"], ["broken.json", "not valid JSON", "line 1 column 2"]),
    (["certify", "a.json", "binary.json"], ["binary.json", "not UTF-8"]),
    (["certify", "a.json", "dir"], ["dir", "directory"]),
    (["certify", "a.json", "missing.json"], ["missing.json", "no such file"]),
    (["certify", "a.json", "three.json"], ["a.json has 2 inputs but three.json has 3"]),
    (["certify", "a.json", "two_out.json"], ["a.json has 1 outputs but two_out.json has 2"]),
    (["certify", "a.json", "b.json", "--box", "1,0"], ["--box '1,0'", "coordinate 1 has lo 1 > hi 0"]),
    (["certify", "a.json", "b.json", "--box", "0,1;0,1;0,1"], ["--box", "3 intervals for 2 input coordinates"]),
    (["certify", "a.json", "b.json", "--box", "0,x"], ["--box", "interval 1", "'x' is not a rational"]),
    (["certify", "a.json", "b.json", "--tolerance", "1e-3x"], ["--tolerance"]),
    (["certify", "a.json", "b.json", "--tolerance", "1/1000"], ["tolerance > 0 needs a box"]),
    (["certify", "a.json", "b.json", "--limit", "-5"], ["--limit -5"]),
    (["certify", "a.json", "b.json", "--seconds", "inf", "--limit", "x"], ["--limit", "invalid int value: 'x'"]),
    (["certify", "a.json", "b.json", "--no-such-flag"], ["unrecognized arguments: --no-such-flag"]),
    (["report", "broken.json", "--html", "o.html"], ["broken.json", "not valid JSON"]),
    (["report", "a.json", "--html", "o.html"], ["a.json", "not an exactrev run report"]),
    (["report", "missing.json", "--html", "o.html"], ["missing.json", "No such file"]),
    (["report", "dir", "--html", "o.html"], ["dir", "directory"]),
    (["report", "run.json"], ["--html OUT.html and/or --png OUT.png"]),
    (["report", "run.json", "--html", "dir"], ["dir", "cannot write"]),
    (["report", "run.json", "--html", "no/such/o.html"], ["no/such/o.html", "cannot write"]),
    (["sweep", "broken.json"], ["broken.json", "not valid json"]),
    (["sweep", "binary.json"], ["binary.json", "cannot read"]),
    (["sweep", "missing.json"], ["missing.json", "cannot read"]),
    (["sweep", "dir"], ["dir", "cannot read"]),
    (["sweep", "a.json"], ["a.json", "unknown key(s) format"]),
    (["sweep", "sweep.yaml"], ["sweep.yaml", "not valid yaml"]),
    (["sweep", "sweep.toml"], ["sweep.toml", "not valid toml"]),
    (["sweep", "sweep_bad_oracle.json"], ["sweep_bad_oracle.json", "'oracles'"]),
    (["sweep", "sweep_zero_width.json"], ["sweep_zero_width.json", "architectures[0]", "entry 1 is 0"]),
    (["sweep", "sweep_out_dir.json"], ["sweep_out_dir.json", "'output'", "is a directory"]),
    (["sweep", "sweep_no_parent.json"], ["sweep_no_parent.json", "'output'", "does not exist"]),
    (["sweep", "sweep_zero_width.json", "--workers", "0"], ["--workers 0: must be at least 1"]),
]


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def run(args: list[str]) -> int:
    """main(args), with argparse's SystemExit turned into its code."""
    try:
        return main(args)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("args, needles", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_exit_2_with_one_line_naming_the_fault(workdir, capsys, args, needles):
    before = listing(workdir)
    code = run(args)
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    assert listing(workdir) == before


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(box=st.text(alphabet="0123456789-/,;.xe ", max_size=14), tol=st.text(alphabet="0123456789-/.e", max_size=6))
def test_any_box_and_tolerance_text_is_a_verdict_or_one_line_exit_2(workdir, capsys, box, tol):
    code = run(["certify", "a.json", "b.json", "--box", box, "--tolerance", tol or "0", "--quiet"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2, 3) and out == ""
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("exactrev certify: ") and "Traceback" not in err
    else:
        assert err == ""

"""The basic commands (random, eval, canonical, check, demo) and bad input: exit 2, one line, no leftovers."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactrev import Network, canonical_form
from exactrev.cli import main
from exactrev.numbers import MAX_DIGITS

GOOD = {"format": "exactrev-network", "version": 1,
        "layers": [{"weight": [["1/2", "-3/4"], ["5", "0"], ["-1/8", "7/16"]], "bias": ["0", "-1/3", "2"]},
                   {"weight": [["1", "-2", "3/5"]], "bias": ["1/7"]}]}


def assert_bad_input(proc, *needles: str) -> None:
    """Exit 2, exactly one line on stderr containing every needle, no traceback, nothing on stdout."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert len(lines[0]) <= 400
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_readme_walk_through(run_cli, tmp_path: Path) -> None:
    r = run_cli("random", "10-20-20-1", "--seed", "1", "--out", "a.json", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    net = Network.load(tmp_path / "a.json")
    assert net.widths == [10, 20, 20, 1]
    r = run_cli("canonical", "a.json", cwd=tmp_path)
    assert r.returncode == 0
    data = json.loads(r.stdout)
    (tmp_path / "c.json").write_text(r.stdout)
    assert data["format"] == "exactrev-network" and Network.load(tmp_path / "c.json") == canonical_form(net)
    r = run_cli("eval", "a.json", "1,2,3,4,5,6,7,8,9,10", cwd=tmp_path)
    assert r.returncode == 0
    (value,) = r.stdout.splitlines()
    assert Fraction(value) == net(list(range(1, 11)))[0]
    assert sorted(os.listdir(tmp_path)) == ["a.json", "c.json"]     # no temporary files left


def test_random_is_deterministic_and_stdout_matches_file(run_cli, tmp_path: Path) -> None:
    a = run_cli("random", "3-4-2", "--seed", "5", "--bits", "8")
    b = run_cli("random", "3-4-2", "--seed", "5", "--bits", "8", "--out", tmp_path / "n.json")
    assert a.returncode == b.returncode == 0
    assert a.stdout == (tmp_path / "n.json").read_text()
    net = Network.load(tmp_path / "n.json")
    assert all((v * 256).denominator == 1 for w in net.weights for row in w for v in row)
    assert run_cli("random", "3-4-2", "--seed", "6").stdout != a.stdout


def test_eval_prints_exact_lowest_terms_one_line_per_point(run_cli, tmp_path: Path) -> None:
    (tmp_path / "g.json").write_text(json.dumps(GOOD))
    net = Network.load(tmp_path / "g.json")
    points = ["1/2,-3", "-1,0.25", "-.5,1e-3", "0,0"]
    r = run_cli("eval", tmp_path / "g.json", *points)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    for line, p in zip(lines, points):
        expected = net([Fraction(v) for v in p.split(",")])[0]
        assert line == (str(expected.numerator) if expected.denominator == 1
                        else f"{expected.numerator}/{expected.denominator}")
    assert lines[3] == "47/35"                      # 3/5 * ReLU(2) + 1/7


def test_check_prints_widths_and_parameter_count(run_cli, tmp_path: Path) -> None:
    (tmp_path / "g.json").write_text(json.dumps(GOOD))
    r = run_cli("check", tmp_path / "g.json")
    assert r.returncode == 0 and "2-3-1" in r.stdout and "13 parameters" in r.stdout


def test_demo_extracts_and_certifies_and_writes_the_report(run_cli, tmp_path: Path) -> None:
    """The first thing a new user runs: both networks complete, certified equivalent, report written."""
    r = run_cli("demo", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("complete  equivalent") == 2
    assert "Traceback" not in r.stderr
    assert (tmp_path / "exactrev-demo" / "boundaries-2-5-5-1.png").read_bytes()[:4] == b"\x89PNG"
    assert "data:image/png;base64," in (tmp_path / "exactrev-demo" / "report-2-5-5-1.html").read_text()


def _with(path: tuple, value) -> dict:
    data = json.loads(json.dumps(GOOD))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


W = ("layers", 0, "weight")
MALFORMED_FILES = [
    ("not json", "not valid JSON"),
    ("", "not valid JSON"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ([1, 2], "top level must be a JSON object"),
    (_with(("format",), "onnx"), "\"format\" must be"),
    (_with(("version",), 2), "\"version\" must be 1"),
    (_with(("version",), True), "\"version\" must be 1"),
    (_with(("layers",), []), "\"layers\" must be a non-empty list"),
    (_with(("layers", 1), {"weight": []}), "layers[1] must be an object"),
    (_with(W, [["1/2", "-3/4"], ["5"], ["-1/8", "7/16"]]), "layers[0].weight[1] has 1 columns, expected 2"),
    (_with(("layers", 1, "weight"), [["1", "-2"]]), "layers[1].weight[0] has 2 columns, expected 3"),
    (_with(W, []), "layers[0].weight is empty"),
    (_with(("layers", 1, "weight"), []), "layers[1].weight is empty"),
    (_with(W, [[], [], []]), "layers[0].weight[0] is empty (0 inputs)"),
    (_with(W + (2, 1), "seven"), "layers[0].weight[2][1]"),
    (_with(W + (2, 1), "1/0"), "layers[0].weight[2][1]"),
    (_with(W + (0, 0), True), "layers[0].weight[0][0]: True is a boolean"),
    (_with(W + (1, 0), None), "layers[0].weight[1][0]"),
    (_with(W + (1, 0), ["1"]), "layers[0].weight[1][0]"),
    (_with(W + (1, 0), {"p": 1}), "layers[0].weight[1][0]"),
    (_with(W + (1,), "5,0"), "layers[0].weight[1]: expected a list"),
    (_with(("layers", 0, "bias"), ["0", "1"]), "layers[0].bias has 2 entries, expected 3"),
    (_with(("layers", 0, "bias"), "0"), "layers[0].bias: expected a list"),
    (_with(("layers", 1, "bias", 0), "1" * 10**6), f"layers[1].bias[0]"),
    (_with(("layers", 1, "bias", 0), f"1e-{MAX_DIGITS + 1}"), "layers[1].bias[0]"),
    (_with(("meta",), "x"), "\"meta\" must be an object"),
]
RAW_FILES = [  # texts json.dumps cannot produce
    (json.dumps(GOOD).replace('"-3/4"', "NaN"), "layers[0].weight[0][1]: NaN is not finite"),
    (json.dumps(GOOD).replace('"-3/4"', "-Infinity"), "layers[0].weight[0][1]: -Infinity is not finite"),
    (json.dumps(GOOD).replace('"-3/4"', "7" * 10**6), "layers[0].weight[0][1]"),
    (json.dumps(GOOD).replace('"-3/4"', "0." + "3" * 10**6), "layers[0].weight[0][1]"),
    (json.dumps(GOOD).replace('"-3/4"', "1e99999999999"), "layers[0].weight[0][1]"),
]


@pytest.mark.parametrize("content, where", MALFORMED_FILES + RAW_FILES,
                         ids=[w[:40] for _, w in MALFORMED_FILES + RAW_FILES])
def test_every_malformed_file_is_exit_2_naming_file_and_location(run_cli, tmp_path: Path, content, where) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content if isinstance(content, str) else json.dumps(content))
    out = tmp_path / "out.json"
    assert_bad_input(run_cli("canonical", bad, "--out", out), str(bad), where)
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["bad.json"]


def test_malformed_file_is_reported_by_every_command(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_with(W + (2, 1), "x")))
    for args in (["check", bad], ["eval", bad, "1,2"], ["canonical", bad]):
        assert_bad_input(run_cli(*args), str(bad), "layers[0].weight[2][1]")


def test_bad_paths(run_cli, tmp_path: Path) -> None:
    assert_bad_input(run_cli("check", tmp_path / "missing.json"), "missing.json", "no such file")
    assert_bad_input(run_cli("check", tmp_path), str(tmp_path), "is a directory")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    assert_bad_input(run_cli("eval", tmp_path / "bin.json", "1"), "bin.json", "not UTF-8")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(run_cli, tmp_path: Path) -> None:
    p = tmp_path / "secret.json"
    p.write_text(json.dumps(GOOD))
    p.chmod(0)
    assert_bad_input(run_cli("check", p), "secret.json", "permission denied")


def test_unreadable_file_in_process(tmp_path: Path, monkeypatch, capsys) -> None:
    p = tmp_path / "secret.json"
    p.write_text(json.dumps(GOOD))

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(Path, "read_text", denied)
    assert main(["check", str(p)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "secret.json: permission denied" in err[0]


@pytest.mark.parametrize("args, needles", [
    (["random", "10-x-1"], ["widths", "10-x-1"]),
    (["random", "10"], ["widths", "at least an input and an output"]),
    (["random", "10-0-1"], ["widths", "entry 1"]),
    (["random", "10--1"], ["widths"]),
    (["random", "100000-100000-1"], ["widths", "parameters"]),
    (["random", "3-4-1", "--seed", "-1"], ["seed"]),
    (["random", "3-4-1", "--seed", "x"], ["--seed"]),
    (["random", "3-4-1", "--bits", "100000"], ["bits"]),
    (["random", "3-4-1", "--colour"], ["unrecognized arguments: --colour"]),
    (["random", "3-4-1", "--seed", "9" * 10**5], ["--seed"]),
    (["frobnicate"], ["invalid choice"]),
    ([], ["required"]),
    (["eval", "NET", "1,2,3"], ["point 1", "3 coordinates", "takes 2"]),
    (["eval", "NET", "1,2", "1,x"], ["point 2", "coordinate 2", "'x'"]),
    (["eval", "NET", "1,"], ["point 1", "coordinate 2"]),
    (["eval", "NET", "1,1/0"], ["point 1", "coordinate 2", "zero denominator"]),
    (["eval", "NET", "1," + "2" * 10**5], ["point 1", "coordinate 2", "digits"]),
    (["eval", "NET"], ["X"]),
    (["canonical", "NET", "--out"], ["--out"]),
    (["check", "NET", "--verbose"], ["unrecognized arguments"]),
])
def test_bad_arguments_are_exit_2_naming_the_argument(run_cli, tmp_path: Path, args: list, needles: list) -> None:
    (tmp_path / "g.json").write_text(json.dumps(GOOD))
    args = [str(tmp_path / "g.json") if a == "NET" else a for a in args]
    assert_bad_input(run_cli(*args, cwd=tmp_path), *needles)
    assert sorted(os.listdir(tmp_path)) == ["g.json"]


def test_bad_out_paths_leave_nothing_behind(run_cli, tmp_path: Path) -> None:
    (tmp_path / "g.json").write_text(json.dumps(GOOD))
    missing = tmp_path / "no" / "such" / "dir" / "x.json"
    assert_bad_input(run_cli("random", "3-4-1", "--out", missing), str(missing), "cannot write")
    (tmp_path / "d").mkdir()
    assert_bad_input(run_cli("canonical", tmp_path / "g.json", "--out", tmp_path / "d"), str(tmp_path / "d"),
                     "cannot write")
    assert sorted(os.listdir(tmp_path)) == ["d", "g.json"] and os.listdir(tmp_path / "d") == []


def test_out_file_is_replaced_atomically_with_normal_permissions(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "n.json"
    out.write_text("old")
    assert run_cli("random", "2-2-1", "--out", out).returncode == 0
    assert Network.load(out).widths == [2, 2, 1]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4), st.data(),
       st.sampled_from(["x", "", "1/0", "NaN", True, None, [], {}, "1" * 5000, "0x1f", "1e99999"]))
def test_any_bad_cell_is_named_exactly(tmp_path: Path, capsys, widths: list[int], data, bad) -> None:
    layers = [{"weight": [["1"] * a for _ in range(b)], "bias": ["0"] * b} for a, b in zip(widths, widths[1:])]
    k = data.draw(st.integers(0, len(layers) - 1))
    in_bias = data.draw(st.booleans())
    i = data.draw(st.integers(0, widths[k + 1] - 1))
    if in_bias:
        layers[k]["bias"][i] = bad
        where = f"layers[{k}].bias[{i}]"
    else:
        j = data.draw(st.integers(0, widths[k] - 1))
        layers[k]["weight"][i][j] = bad
        where = f"layers[{k}].weight[{i}][{j}]"
    path = tmp_path / "cell.json"
    path.write_text(json.dumps({"format": "exactrev-network", "version": 1, "layers": layers}))
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and f"{path}: {where}:" in lines[0] and captured.out == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(["1/2", "-3", "0.25", "1e-3"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["weight", "bias", "x"]), inner, max_size=3),
    max_leaves=12)
SLOTS = [("format",), ("version",), ("layers",), ("layers", 0), ("layers", 1), ("layers", 0, "weight"),
         ("layers", 0, "bias"), ("layers", 1, "weight"), ("layers", 0, "weight", 1), ("layers", 1, "weight", 0, 2),
         ("layers", 0, "bias", 2), ("meta",)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SLOTS), json_values)
def test_arbitrary_json_anywhere_is_ok_or_one_line_exit_2(tmp_path: Path, capsys, slot: tuple, value) -> None:
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(_with(slot, value)))
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    if code == 0:
        assert captured.err == "" and "valid exactrev network" in captured.out
    else:
        lines = captured.err.splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith(f"exactrev check: {path}")

"""`exactrev extract`: exit codes, output files and reports."""

from __future__ import annotations

import json

from exactrev import Network, canonical_form, random_network
from exactrev.cli import main


def target(tmp_path, widths, seed=0):
    path = tmp_path / "target.json"
    random_network(widths, seed=seed).save(path)
    return path


def test_complete_extraction_exit_0(tmp_path, capsys):
    t = target(tmp_path, [3, 5, 2])
    out, rep = tmp_path / "out.json", tmp_path / "rep.json"
    assert main(["extract", str(t), "--out", str(out), "--report", str(rep), "--seed", "1"]) == 0
    assert canonical_form(Network.load(out)) == canonical_form(Network.load(t))
    report = json.loads(rep.read_text())
    assert report["status"] == "complete" and report["oracle"] == "exact" and report["seed"] == 1
    assert report["widths"] == [3, 5, 2] and report["queries"] > 0 and report["unidentified"] == []
    assert [layer["max_rel_error"] for layer in report["layers"]] == [0.0, 0.0]
    check = report["verification"]      # what "complete" rests on: lines with kinks, and points
    assert check["lines"] >= 8 and check["kinks"] > 0 and check["points"] > 0 and check["rounds"] >= 1
    assert check["points"] <= check["queries"] <= report["layers"][-1]["queries"]
    printed = capsys.readouterr().out
    assert "complete" in printed and f"{check['points']} points" in printed


def test_budget_exit_1_with_partial_network(tmp_path, capsys):
    t = target(tmp_path, [4, 6, 1])
    out = tmp_path / "out.json"
    assert main(["extract", str(t), "--out", str(out), "--budget", "40", "--quiet"]) == 1
    assert Network.load(out).input_dim == 4
    assert capsys.readouterr().out == ""


def test_first_layer_only(tmp_path, capsys):
    t = target(tmp_path, [4, 6, 5, 1])
    rep = tmp_path / "rep.json"
    assert main(["extract", str(t), "--first-layer-only", "--report", str(rep)]) == 0
    report = json.loads(rep.read_text())
    assert len(report["hyperplanes"]) == 6
    assert set(report) >= {"queries", "oracle", "seed", "wall_seconds", "hyperplanes"}
    assert "6 first-layer hyperplanes" in capsys.readouterr().out


def test_float_oracle_first_layer(tmp_path):
    t = target(tmp_path, [4, 6, 5, 1])
    assert main(["extract", str(t), "--first-layer-only", "--oracle", "float", "--quiet"]) == 0


def test_bad_input_exit_2(tmp_path, run_cli):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for args in ([str(bad), "--out", str(tmp_path / "o.json")],
                 [str(tmp_path / "missing.json"), "--out", str(tmp_path / "o.json")],
                 [str(target(tmp_path, [2, 3, 1])), "--budget", "-1", "--out", str(tmp_path / "o.json")],
                 [str(target(tmp_path, [2, 3, 1]))]):
        proc = run_cli("extract", *args)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.json").exists()

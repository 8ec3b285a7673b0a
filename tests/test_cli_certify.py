"""`exactrev certify A B`: exit 0 equivalent / 1 different / 3 unknown / 2 bad input; --json is one object."""

from __future__ import annotations

import json

import pytest

from exactrev import Network, degenerate, random_isomorphic_twin, random_network
from exactrev.cli import main
from exactrev.numbers import parse_rational


@pytest.fixture
def files(tmp_path):
    a = random_network([2, 4, 3, 1], seed=5, bits=8)
    case = degenerate.section52_case3()
    paths = {}
    for name, net in (("a", a), ("twin", random_isomorphic_twin(a, seed=1)), ("other", random_network([2, 4, 3, 1], seed=6)),
                      ("case", case.network), ("case_twin", case.twin), ("wide", random_network([3, 2, 1], seed=0))):
        paths[name] = tmp_path / f"{name}.json"
        net.save(paths[name])
    return paths


def run(capsys, *args):
    code = main(["certify", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_codes_and_text(files, capsys):
    code, out, _ = run(capsys, files["a"], files["twin"])
    assert code == 0 and "equivalent" in out and "canonical" in out
    code, out, _ = run(capsys, files["case"], files["case_twin"])
    assert code == 0 and "method regions" in out
    code, out, _ = run(capsys, files["a"], files["other"])
    assert code == 1 and "witness:" in out
    code, out, _ = run(capsys, files["case"], files["case_twin"], "--limit", "1", "--quiet")
    assert code == 3 and out == ""


def test_json_witness_is_exact_and_rechecks(files, capsys):
    code, out, _ = run(capsys, files["a"], files["other"], "--json")
    d = json.loads(out)
    assert code == 1 and d["verdict"] == "different"
    x = [parse_rational(s) for s in d["witness"]]
    assert Network.load(files["a"])(x) != Network.load(files["other"])(x)
    assert {"verdict", "method", "witness", "reason", "regions", "lps", "seconds"} <= set(d)
    code, out, _ = run(capsys, files["case"], files["case_twin"], "--json")
    d = json.loads(out)
    assert code == 0 and d["witness"] is None and d["regions"] > 0


def test_box_and_tolerance(files, capsys):
    code, out, _ = run(capsys, files["a"], files["other"], "--box", "0,1", "--tolerance", "1000", "--json")
    assert code == 0 and json.loads(out)["method"] == "regions"
    code, out, _ = run(capsys, files["a"], files["other"], "--box", "0,1;-1/2,1/2", "--tolerance", "1/1024", "--json")
    d = json.loads(out)
    assert code == 1
    x = [parse_rational(s) for s in d["witness"]]
    assert 0 <= x[0] <= 1 and -0.5 <= x[1] <= 0.5


@pytest.mark.parametrize("extra, needle", [
    (["--box", "0,1,2"], "LO,HI"),
    (["--box", "1,0"], "lo"),
    (["--box", "0,x"], "--box"),
    (["--tolerance", "1/2"], "needs a box"),
    (["--tolerance", "abc"], "--tolerance"),
])
def test_bad_options_exit_2_with_one_line(files, capsys, extra, needle):
    code, out, err = run(capsys, files["a"], files["other"], *extra)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and needle in err


def test_mismatched_dimensions_and_missing_file_are_bad_input(files, capsys, tmp_path):
    code, out, err = run(capsys, files["a"], files["wide"])
    assert code == 2 and "inputs" in err and len(err.splitlines()) == 1
    code, out, err = run(capsys, files["a"], tmp_path / "missing.json")
    assert code == 2 and "missing.json" in err


def test_subprocess_json_stdout_is_one_object(files, run_cli):
    proc = run_cli("certify", files["case"], files["case_twin"], "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "equivalent"

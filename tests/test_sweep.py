"""exactrev sweep: config validation, failures recorded as rows, a real Dask run that re-runs nothing twice."""

import csv
import json

import pytest

from exactrev.cli import main
from exactrev.errors import ExactrevError
from exactrev.sweep import Job, load_config, run_job


def _config(tmp_path, **overrides):
    data = {"architectures": ["2-3-1", [3, 2, 1]], "seeds": 2, "oracles": ["exact"], "output": "out.csv",
            "certify": False, **overrides}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(data))
    return path


def test_config_expands_architectures_seeds_and_oracles(tmp_path):
    cfg = load_config(_config(tmp_path, oracles=["exact", "float"]))
    jobs = cfg.jobs()
    assert len(jobs) == 2 * 2 * 2 and len({j.job_id for j in jobs}) == 8
    assert cfg.output == tmp_path / "out.csv"


def test_toml_and_yaml_configs_read_the_same(tmp_path):
    (tmp_path / "s.toml").write_text('architectures = ["2-3-1"]\nseeds = [4, 5]\noracles = ["float"]\n')
    (tmp_path / "s.yaml").write_text('architectures: ["2-3-1"]\nseeds: [4, 5]\noracles: [float]\n')
    assert [j.job_id for j in load_config(tmp_path / "s.toml").jobs()] == \
           [j.job_id for j in load_config(tmp_path / "s.yaml").jobs()] == ["2-3-1/seed=4/float", "2-3-1/seed=5/float"]


@pytest.mark.parametrize("overrides, fragment", [
    ({"architectures": []}, "architectures"),
    ({"architectures": ["2-x-1"]}, "architectures[0]"),
    ({"seeds": "three"}, "seeds"),
    ({"oracles": ["quantum"]}, "oracles"),
    ({"budget": -1}, "budget"),
    ({"colour": "red"}, "unknown key"),
])
def test_bad_configs_name_the_key(tmp_path, overrides, fragment):
    with pytest.raises(ExactrevError, match=fragment.replace("[", r"\[")):
        load_config(_config(tmp_path, **overrides))


def test_a_failing_job_becomes_a_row_with_its_error():
    row = run_job(Job(widths=(2, 0, 1), seed=0, oracle="exact", certify=False))
    assert row["status"] == "error" and "width" in row["error"]


def test_sweep_runs_on_dask_and_a_rerun_skips_done_jobs(tmp_path, capsys):
    path = _config(tmp_path)
    assert main(["sweep", str(path), "--quiet", "--workers", "1"]) == 0
    with (tmp_path / "out.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["job_id"] for r in rows) == ["2-3-1/seed=0/exact", "2-3-1/seed=1/exact",
                                                 "3-2-1/seed=0/exact", "3-2-1/seed=1/exact"]
    assert all(r["status"] in ("complete", "partial") and int(r["queries"]) > 0 for r in rows)
    capsys.readouterr()
    assert main(["sweep", str(path), "--quiet"]) == 0
    assert "0 job(s) run, 4 already done" in capsys.readouterr().out

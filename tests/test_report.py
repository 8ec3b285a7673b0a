"""Reports: the boundary picture is drawn from the network's real pre-activations, and the CLI writes files."""

import json

import numpy as np
import pytest

import exactrev as er
from exactrev.cli import main
from exactrev.netformat import network_to_dict
from exactrev.report import boundary_grid, load_run, render_html


def _run_report(net):
    return {"queries": 10, "status": "complete", "widths": net.widths, "oracle": "exact", "seed": 0,
            "wall_seconds": 0.1, "unidentified": [{"layer": 2, "neuron": 1, "reason": "never active"}],
            "removed": [{"layer": 1, "neuron": 3, "reason": "all outgoing weights 0"}],
            "layers": [{"neurons": w, "queries": 5, "max_rel_error": 0} for w in net.widths[1:]],
            "network": network_to_dict(net), "boundary_points": [[0.5, 0.25]],
            "certificate": {"verdict": "equivalent", "method": "canonical", "reason": "identical canonical forms",
                            "witness": None}}


def test_boundary_grid_matches_exact_preactivations():
    net = er.random_network([2, 3, 3, 1], seed=4)
    X, Y, layers = boundary_grid(net, extent=2.0, resolution=5)
    exact = net.preactivations_batch([[X[i, j], Y[i, j]] for i in range(5) for j in range(5)])
    for k, z in enumerate(layers):
        want = np.array([[float(v) for v in exact[p][k]] for p in range(25)]).T.reshape(z.shape)
        assert np.allclose(z, want, atol=1e-12)


def test_report_command_writes_html_and_png(tmp_path):
    net = er.random_network([2, 4, 3, 1], seed=2)
    run = tmp_path / "run.json"
    run.write_text(json.dumps(_run_report(net)))
    html_out, png_out = tmp_path / "r.html", tmp_path / "r.png"
    assert main(["report", str(run), "--html", str(html_out), "--png", str(png_out)]) == 0
    page = html_out.read_text()
    assert page.count("data:image/png;base64,") == 2      # boundary picture + per-layer statistics
    assert "never active" in page and "equivalent" in page and "all outgoing weights 0" in page
    assert png_out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_of_a_many_input_network_has_only_the_layer_figure():
    net = er.random_network([5, 4, 1], seed=0)
    assert render_html(_run_report(net)).count("data:image/png;base64,") == 1


@pytest.mark.parametrize("content, fragment", [("{not json", "not valid JSON"), ('{"a": 1}', "not an exactrev run report")])
def test_bad_run_files_exit_2_naming_the_file(tmp_path, capsys, content, fragment):
    run = tmp_path / "bad.json"
    run.write_text(content)
    assert main(["report", str(run), "--html", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json" in err[0] and fragment in err[0]
    assert not (tmp_path / "x.html").exists()
    with pytest.raises(er.ExactrevError):
        load_run(run)

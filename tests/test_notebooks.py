"""The notebooks run top to bottom in their SMALL setting (their own asserts check the results)."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", ["fig1_boundaries", "fig3_first_layer", "fig4_second_layer", "degenerate_cases"])
def test_notebook_runs_in_small_setting(name, monkeypatch, tmp_path):
    monkeypatch.delenv("EXACTREV_FULL", raising=False)
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbclient.NotebookClient(book, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors

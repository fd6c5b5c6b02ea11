"""Execute the Colab notebooks in notebooks/ on tiny settings (GSL_JAX_NOTEBOOK_TINY=1) with
nbclient, and check that each one's install cell is guarded and that its last cell produced
output."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat (dev extra)")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient (dev extra)")
pytest.importorskip("ipykernel", reason="notebook tests need ipykernel (dev extra)")


def test_the_three_notebooks_exist_and_install_only_when_needed():
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_library.ipynb",
        "03_envpool.ipynb",
    ]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert "git+" in first_code.source and 'find_spec("gsl_jax") is None' in first_code.source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_tiny_settings(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GSL_JAX_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # the kernel inherits the environment set above
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert code[-1].outputs, f"{path.name}: the last cell printed or showed nothing"

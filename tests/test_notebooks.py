"""The class notebooks run from top to bottom on a small synthetic data set."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run_notebook(name: str, env: dict[str, str], monkeypatch) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    return notebook


@pytest.mark.slow
def test_explore_notebook_runs_on_synthetic_data(utk_folder, tmp_path, monkeypatch):
    notebook = run_notebook(
        "01_explore_utkface.ipynb",
        {
            "UTKFACE_SOURCE": str(utk_folder),
            "UTKFACE_PREPARED": str(tmp_path / "prepared"),
        },
        monkeypatch,
    )
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert sum("image/png" in out.get("data", {}) for out in outputs) >= 4
    assert (tmp_path / "prepared" / "report.json").is_file()

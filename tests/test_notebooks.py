"""The class notebooks run from top to bottom on a small synthetic data set."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from faces.runtime import UNSAFE_IMPORT_WARNING

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
    errors, pictures = _errors_and_pictures(notebook)
    assert not errors
    assert pictures >= 4
    assert (tmp_path / "prepared" / "report.json").is_file()


@pytest.fixture(scope="module")
def prepared_at_model_size(utk_folder, tmp_path_factory, detector) -> Path:
    """The synthetic set prepared at the shipped models' input size."""
    from data_prep import PrepareConfig, prepare
    from model.shipped import run_info

    prepared = tmp_path_factory.mktemp("prepared_at_model_size")
    size = run_info("cropped", "age")["input_size"]
    prepare(utk_folder, prepared, PrepareConfig(size=size), detector)
    return prepared


def _errors_and_pictures(notebook) -> tuple[list, int]:
    """Error outputs, including the warning of TensorFlow imported before the project (whose
    oneDNN path can crash on some AVX-512 CPUs), and the number of pictures."""
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [
        out
        for out in outputs
        if out.output_type == "error" or UNSAFE_IMPORT_WARNING in out.get("text", "")
    ]
    return errors, sum("image/png" in out.get("data", {}) for out in outputs)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name)
def test_shipped_notebook_outputs_show_no_error(path):
    errors, _ = _errors_and_pictures(nbformat.read(path, as_version=4))
    assert not errors


@pytest.mark.slow
def test_train_and_evaluate_notebook_runs_on_synthetic_data(prepared_at_model_size, monkeypatch):
    notebook = run_notebook(
        "02_train_and_evaluate.ipynb",
        {"UTKFACE_PREPARED": str(prepared_at_model_size), "SHORT_RUN_IMAGES": "16"},
        monkeypatch,
    )
    errors, pictures = _errors_and_pictures(notebook)
    assert not errors
    assert pictures >= 5


@pytest.mark.slow
def test_explain_notebook_runs_on_synthetic_data(prepared_at_model_size, monkeypatch):
    notebook = run_notebook(
        "03_explain.ipynb",
        {"UTKFACE_PREPARED": str(prepared_at_model_size), "SANITY_FACES": "2"},
        monkeypatch,
    )
    errors, pictures = _errors_and_pictures(notebook)
    assert not errors
    assert pictures >= 8

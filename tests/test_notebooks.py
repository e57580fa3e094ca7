"""Every script opens as a notebook: jupytext converts it, nbclient runs its
cells in order in a Jupyter kernel, with one added cell that sets small
constants (as a learner edits the configuration cell), and the figures show
under their cells."""

import json
from pathlib import Path

import pytest
from conftest import ROOT, sparse_digits

# Each script as a notebook, in a Jupyter kernel of its own.
pytestmark = pytest.mark.slow

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

QUICK = "LIMIT = 128\nEPOCHS = 1\nBATCH_SIZE = 32\nIMAGES_PER_EPOCH = 128\nPRECISION = 'float32'\n"
NOTEBOOKS = {
    # script: (constants set in the added cell, files it must write)
    "denoise_transpose_mnist.py": (QUICK, {"reconstructions.png", "progress.png", "history.png",
                                           "metrics.json", "model.keras"}),
    "denoise_upsampling_notmnist.py": (QUICK, {"reconstructions.png", "progress.png", "metrics.json",
                                              "model.keras"}),
    "upsampling_demo.py": ("", {"smoothing.png", "generator.png", "interpolations.png"}),
    "transpose_demo.py": ("", {"unit_kernel.png", "stamps.png", "generators.png", "checkerboard.png"}),
    "compare_decoders.py": ("LIMIT = 256\nEPOCHS = 1\nSEEDS = 1\nIMAGES_PER_EPOCH = 256\n",
                            {"results.md", "results.json", "comparison.png", "artifacts.png"}),
}


def notebook_of(script: str, constants: str):
    """The script as a notebook, with a cell setting `constants` right before the
    cell that reads the flags (in a notebook, the flags are the cells)."""
    from nbformat.v4 import new_code_cell

    notebook = jupytext.read(ROOT / script)
    cells = notebook.cells
    flags_cell = next(i for i, cell in enumerate(cells) if "cli.override_from_flags(" in cell.source)
    cells.insert(flags_cell, new_code_cell(constants))
    return notebook


@pytest.mark.parametrize("script", list(NOTEBOOKS))
def test_the_script_runs_as_a_notebook(script, tmp_path):
    data = sparse_digits(tmp_path / "data", 600, seed=5, names=("mnist", "notmnist"))
    out = tmp_path / "out"
    constants, written = NOTEBOOKS[script]
    constants += f"DATA_DIR = {str(data)!r}\nOUTPUT_DIR = {str(out)!r}\n"
    if script == "transpose_demo.py":
        constants = f"OUTPUT_DIR = {str(out)!r}\n"  # It reads no data.
    notebook = notebook_of(script, constants)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # Raises CellExecutionError, with the cell and its traceback, if a cell fails.

    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code_cells] == list(range(1, len(code_cells) + 1))
    assert written <= {p.name for p in out.iterdir()}
    figures = [cell for cell in code_cells if any("image/png" in output.get("data", {})
                                                   for output in cell.outputs)]
    assert figures, "no figure showed under its cell"
    # The cells ran as the constants say, not with the kernel's own arguments.
    if (out / "metrics.json").exists():
        settings = json.loads((out / "metrics.json").read_text())["settings"]
        assert settings["EPOCHS"] == 1 and settings["LIMIT"] == 128 and Path(settings["OUTPUT_DIR"]) == out


def test_the_playground_shows_inline_in_a_notebook(tmp_path):
    """playground.py as a notebook: the page shows under its last cell (an
    iframe of the local address), and that address answers while the kernel runs."""
    from nbformat.v4 import new_code_cell

    notebook = notebook_of("playground.py", f"PORT = 0\nMODELS_DIR = {str(tmp_path)!r}\n")
    notebook.cells.append(new_code_cell(
        "import urllib.request\n"
        "print('status', urllib.request.urlopen(app.local_url, timeout=30).status, app.local_url)\n"
        "app.close()"))
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()

    launch_cell, check_cell = notebook.cells[-2], notebook.cells[-1]
    assert "app.launch(" in launch_cell.source
    html = "".join(output.get("data", {}).get("text/html", "") for output in launch_cell.outputs)
    printed = "".join(output.get("text", "") for output in check_cell.outputs)
    assert printed.startswith("status 200 http://127.0.0.1:")
    address = printed.split()[-1]
    assert "<iframe" in html and address.rstrip("/") in html

"""Every script opens as a notebook: jupytext converts it, nbclient runs its
cells in order in a Jupyter kernel, with one added cell that sets small
constants (as a learner edits the configuration cell), and the figures show
under their cells.

In the project folder (the kit imports from beside the scripts), and alone in
a folder of its own outside the project, as in Colab or a learner's own
folder: the two demos with no kit at all, the others with the kit installed
from the project (`pip install .`), and without it, one line that says how to
get it."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, learner_env, sparse_digits

# Each script as a notebook, in a Jupyter kernel of its own.
pytestmark = pytest.mark.slow

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

QUICK = "LIMIT = 128\nEPOCHS = 1\nBATCH_SIZE = 32\nIMAGES_PER_EPOCH = 128\nPRECISION = 'float32'\n"
NOTEBOOKS = {
    # script: (constants set in the added cell, files it must write)
    "denoise_transpose_mnist.py": (QUICK, {"noisy_inputs.png", "reconstructions.png", "progress.png",
                                           "history.png", "metrics.json", "model.keras"}),
    "denoise_upsampling_notmnist.py": (QUICK, {"noisy_inputs.png", "reconstructions.png", "progress.png",
                                              "metrics.json", "model.keras"}),
    "upsampling_demo.py": ("", {"smoothing.png", "interpolations.png"}),
    "transpose_demo.py": ("", {"unit_kernel.png", "stamps.png", "checkerboard.png"}),
    "compare_decoders.py": ("LIMIT = 256\nEPOCHS = 1\nSEEDS = 1\nIMAGES_PER_EPOCH = 256\n",
                            {"results.md", "results.json", "comparison.png", "artifacts.png"}),
}
# Keras, numpy, matplotlib and the standard library only: they run where the kit is not.
DEMOS = ("upsampling_demo.py", "transpose_demo.py")
KIT_SCRIPTS = [script for script in NOTEBOOKS if script not in DEMOS]
DENOISERS = ("denoise_transpose_mnist.py", "denoise_upsampling_notmnist.py")

# A first cell that makes the kit unimportable, even where it is installed beside the kernel:
# `import denoise_kit` (or denoise_kit.anything) then fails as where no kit is installed, with
# ModuleNotFoundError("No module named 'denoise_kit'", name="denoise_kit").
NO_KIT = """import sys


class NoKit:  # As where the kit is not installed.
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] == "denoise_kit":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoKit)
"""
# A last cell: where the kernel ran, where it looked for modules, and where the kit came from.
PROBE = ("import json, os, sys\n"
         "kit = sys.modules.get('denoise_kit')\n"
         "print(json.dumps({'cwd': os.getcwd(), 'path': sys.path, 'kit': getattr(kit, '__file__', None)}))\n")


def notebook_of(script: str, constants: str, first_cell: str | None = None):
    """The script as a notebook, with `constants` set as a learner edits them: in the
    cell that reads the flags (in a notebook, the flags are the cells), right before
    that line, or, in a script without one (the demos), in a cell of their own right
    after the configuration cell, the first that sets OUTPUT_DIR; nothing if
    `constants` is empty. `first_cell`, if given, goes before all others."""
    from nbformat.v4 import new_code_cell

    notebook = jupytext.read(ROOT / script)
    cells = notebook.cells
    code = [i for i, cell in enumerate(cells) if cell.cell_type == "code"]
    flags = [i for i in code if "cli.override_from_flags(" in cells[i].source]
    if constants and flags:
        cell = cells[flags[0]]
        before, line, after = cell.source.partition("CONFIG = cli.override_from_flags(")
        cell.source = before + constants + line + after
    elif constants:
        at = 1 + next(i for i in code if re.search(r"^OUTPUT_DIR\b[^=\n]*=", cells[i].source, re.MULTILINE))
        cells.insert(at, new_code_cell(constants))
    if first_cell is not None:
        cells.insert(0, new_code_cell(first_cell))
    return notebook


def kernel_env(site: Path | None = None) -> dict[str, str]:
    """A learner's Jupyter kernel's environment: figures inline (no MPLBACKEND), and
    PYTHONPATH only `site`, the kit installed there, or none: never the project."""
    env = learner_env()
    env.pop("MPLBACKEND")
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return env


def run_alone(notebook, name: str, folder: Path, env: dict[str, str]):
    """Write `notebook` as `name`.ipynb alone into the empty `folder`, and run it
    there: the kernel's current folder, and the notebook's, is `folder`."""
    folder.mkdir()
    path = folder / f"{name}.ipynb"
    jupytext.write(notebook, path)
    assert [p.name for p in folder.iterdir()] == [path.name]
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    try:
        client.execute(cwd=str(folder), env=env)  # The kernel manager's start_kernel takes both.
    finally:
        jupytext.write(notebook, path)  # With its outputs, to look at after a failure.
    return notebook


def ran_in_order_and_showed_figures(notebook, script: str) -> list:
    """Check that every code cell ran once, in order, and that figures showed under
    their cells: in a demo, one per PNG it saves. Returns the code cells."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code_cells] == list(range(1, len(code_cells) + 1))
    shown = sum("image/png" in output.get("data", {}) for cell in code_cells for output in cell.outputs)
    assert shown, "no figure showed under its cell"
    if script in DEMOS:  # Each figure it saves shows once, under the cell that drew it.
        pictures = {name for name in NOTEBOOKS[script][1] if name.endswith(".png")}
        assert shown == len(pictures), (shown, pictures)
    if "noisy_inputs.png" in NOTEBOOKS[script][1]:  # The denoisers' preview, drawn in view.
        preview = next(cell for cell in code_cells
                       if "noisy_inputs.png" in cell.source and "show_images(" in cell.source)
        assert any("image/png" in output.get("data", {}) for output in preview.outputs), preview.outputs
    return code_cells


@pytest.fixture(scope="module")
def kit_site(tmp_path_factory) -> Path:
    """The kit installed from the project, as `pip install .` does, into a folder of
    its own (<tmp>/site), offline. It builds from a copy of the project without its
    build leftovers (setuptools builds in the source folder, and a wheel takes all
    of build/lib, a module since deleted too) and without data, outputs or venvs."""
    work = tmp_path_factory.mktemp("kit")
    source, site = work / "project", work / "site"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "data", "outputs", "build", "*.egg-info", "__pycache__", ".*_cache"))
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                             "--no-index", "--disable-pip-version-check", "--quiet", "--target", str(site),
                             str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    # Only the kit installs: not the scripts, the tests or the benchmarks.
    installed = sorted(p.name for p in site.iterdir())
    assert installed[0] == "denoise_kit" and re.fullmatch(r"denoise_kit-.+\.dist-info", installed[1])
    assert len(installed) == 2, installed
    return site


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
    # A kernel started from a terminal with MPLBACKEND=Agg (as CI's): the figures still show under
    # their cells. The notebooks run alone below start without it, as a fresh Jupyter does.
    # Raises CellExecutionError, with the cell and its traceback, if a cell fails.
    client.execute(env=learner_env())

    ran_in_order_and_showed_figures(notebook, script)
    assert written <= {p.name for p in out.iterdir()}
    # The cells ran as the constants say, not with the kernel's own arguments.
    if (out / "metrics.json").exists():
        settings = json.loads((out / "metrics.json").read_text())["settings"]
        assert settings["EPOCHS"] == 1 and settings["LIMIT"] == 128 and Path(settings["OUTPUT_DIR"]) == out


@pytest.mark.parametrize("script", list(NOTEBOOKS))
def test_the_notebook_runs_alone_in_another_folder(script, tmp_path, request):
    """The .ipynb alone in an empty folder outside the project, its kernel started
    there: the demos with no kit importable at all, the others with the kit
    installed from the project (kit_site) and nothing else of the project's.
    Each writes its files where its OUTPUT_DIR says, outputs/<script> in that folder."""
    from nbformat.v4 import new_code_cell

    demo = script in DEMOS
    site = None if demo else request.getfixturevalue("kit_site")
    constants, written = NOTEBOOKS[script]
    if not demo:  # The demos read no data.
        data = sparse_digits(tmp_path / "data", 600, seed=5, names=("mnist", "notmnist"))
        constants += f"DATA_DIR = {str(data)!r}\n"
    notebook = notebook_of(script, constants, first_cell=NO_KIT if demo else None)
    notebook.cells.append(new_code_cell(PROBE))
    folder = tmp_path / "elsewhere"
    notebook = run_alone(notebook, Path(script).stem, folder, kernel_env(site))

    code_cells = ran_in_order_and_showed_figures(notebook, script)
    out = folder / "outputs" / Path(script).stem
    if script in DENOISERS:  # Its constants differ from the page's: a folder inside, named by them.
        (out,) = [path.parent for path in out.glob("*/metrics.json")]
        assert out.name.startswith("epochs-1+images_per_epoch-128+batch_size-32+limit-128")
    assert out.is_dir() and written <= {p.name for p in out.iterdir()}
    if (out / "metrics.json").exists():
        settings = json.loads((out / "metrics.json").read_text())["settings"]
        assert settings["EPOCHS"] == 1 and settings["LIMIT"] == settings["IMAGES_PER_EPOCH"] == 128

    probe = json.loads("".join(output.get("text", "") for output in code_cells[-1].outputs))
    assert Path(probe["cwd"]).resolve() == folder.resolve()
    # "" is the kernel's folder: the project is nowhere on its path (the venv may be inside it).
    assert ROOT not in {(folder / entry).resolve() for entry in probe["path"]}, probe["path"]
    if demo:
        assert probe["kit"] is None
    else:  # From the install, not from the project.
        assert Path(probe["kit"]).resolve().is_relative_to(site.resolve()), probe["kit"]


@pytest.mark.parametrize("script", [*KIT_SCRIPTS, "playground.py"])
def test_without_the_kit_a_notebook_says_how_to_get_it(script, tmp_path):
    """A notebook that needs the kit, where the kit is not: its first code cell
    fails with one line that says how to install it."""
    folder = tmp_path / "elsewhere"
    with pytest.raises(nbclient.exceptions.CellExecutionError) as failure:
        run_alone(notebook_of(script, "", first_cell=NO_KIT), Path(script).stem, folder, kernel_env())

    error = failure.value
    notebook = jupytext.read(folder / f"{Path(script).stem}.ipynb")  # As it ran, with its outputs.
    assert error.ename == "ModuleNotFoundError", str(error)[-2000:]
    assert "pip install" in error.evalue and "\n" not in error.evalue.strip(), error.evalue
    failed = [i for i, cell in enumerate(notebook.cells)
              if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.outputs)]
    # The script's first code cell that runs code (before it: its docstring, prose and NO_KIT).
    first_of_script = next(i for i, cell in enumerate(notebook.cells[1:], 1)
                           if cell.cell_type == "code" and "import" in cell.source)
    assert failed == [first_of_script]


@pytest.mark.parametrize("where", ["project", "elsewhere"])
def test_the_playground_shows_inline_in_a_notebook(where, tmp_path, request):
    """playground.py as a notebook: the page shows under its last cell (an
    iframe of the local address), and that address answers while the kernel runs;
    in the project folder, and alone in another folder with the kit installed."""
    from nbformat.v4 import new_code_cell

    models = tmp_path / "models"
    models.mkdir()
    notebook = notebook_of("playground.py", f"PORT = 0\nMODELS_DIR = {str(models)!r}\n")
    notebook.cells.append(new_code_cell(
        "import urllib.request\n"
        "print('status', urllib.request.urlopen(app.local_url, timeout=30).status, app.local_url)\n"
        "app.close()"))
    if where == "project":
        client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(ROOT)}})
        client.execute()
    else:
        site = request.getfixturevalue("kit_site")
        notebook.cells.append(new_code_cell(PROBE))
        notebook = run_alone(notebook, "playground", tmp_path / "elsewhere", kernel_env(site))
        probe = json.loads("".join(output.get("text", "") for output in notebook.cells[-1].outputs))
        assert Path(probe["kit"]).resolve().is_relative_to(site.resolve()), probe["kit"]
        notebook.cells.pop()

    launch_cell, check_cell = notebook.cells[-2], notebook.cells[-1]
    assert "app.launch(" in launch_cell.source
    html = "".join(output.get("data", {}).get("text/html", "") for output in launch_cell.outputs)
    printed = "".join(output.get("text", "") for output in check_cell.outputs)
    assert printed.startswith("status 200 http://127.0.0.1:")
    address = printed.split()[-1]
    assert "<iframe" in html and address.rstrip("/") in html


def test_a_constant_edited_and_the_cells_run_again_go_to_a_run_of_their_own(tmp_path, kit_site):
    """A learner runs the denoiser's notebook, edits KERNEL_SIZE and runs its cells again in the same
    kernel: the second run keeps its own folder, the first's stays, and the end compares the two."""
    data = sparse_digits(tmp_path / "data", 600, seed=5)
    quick = NOTEBOOKS["denoise_transpose_mnist.py"][0] + f"DATA_DIR = {str(data)!r}\n"
    first = notebook_of("denoise_transpose_mnist.py", quick)
    again = notebook_of("denoise_transpose_mnist.py", quick + "KERNEL_SIZE = 4\n")
    first.cells += again.cells
    client = nbclient.NotebookClient(first, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(cwd=str(tmp_path), env=kernel_env(kit_site))  # A learner's folder, the kit installed.

    base = tmp_path / "outputs" / "denoise_transpose_mnist"
    runs = sorted(path.parent for path in base.glob("*/metrics.json"))
    assert [folder.name[:62] for folder in runs] == [
        "epochs-1+images_per_epoch-128+batch_size-32+kernel_size-4+limi",  # Long names are cut.
        "epochs-1+images_per_epoch-128+batch_size-32+limit-128+precisio"]
    kept = [json.loads((folder / "metrics.json").read_text()) for folder in reversed(runs)]
    assert [m["settings"]["KERNEL_SIZE"] for m in kept] == [3, 4]
    assert all((folder / "model.keras").is_file() for folder in runs)
    printed = "".join(output.get("text", "") for cell in first.cells if cell.cell_type == "code"
                      for output in cell.outputs)
    assert f"previous run  {kept[0]['psnr_denoised']:>10.2f}" in printed
    assert printed.count("Every run: outputs/runs.md, outputs/runs.png") == 2

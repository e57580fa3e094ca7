"""The shape the kit's scripts keep, read from their source: how much of a
denoiser is calls into the kit, what stands in view, and what a notebook
without the kit says in its first cell. (What the demos import:
tests/test_demos.py.)"""

import ast
import sys

import jupytext
import pytest
from conftest import ROOT

DENOISERS = ("denoise_transpose_mnist.py", "denoise_upsampling_notmnist.py")
KIT_SCRIPTS = (*DENOISERS, "compare_decoders.py", "playground.py")
MAX_KIT_CALLS = 8  # Per denoiser: the lesson stays in view, the plumbing behind a few calls.


def kit_calls(script: str) -> list[str]:
    """Every call into a denoise_kit module in the script, as `module.name` (one per call site)."""
    tree = ast.parse((ROOT / script).read_text())
    kit_modules = {alias.asname or alias.name for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.module == "denoise_kit"
                   for alias in node.names}
    return [f"{node.func.value.id}.{node.func.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id in kit_modules]


@pytest.mark.parametrize("script", DENOISERS)
def test_a_denoiser_calls_the_kit_at_most_eight_times(script):
    calls = kit_calls(script)
    assert "datasets.load_data" in calls and "results.save" in calls
    assert 0 < len(calls) <= MAX_KIT_CALLS, calls


@pytest.mark.parametrize("script", DENOISERS)
def test_a_denoiser_scales_splits_and_scores_in_view(script):
    """Data in and results out stand on the page: the kit only loads the uint8 arrays and writes files."""
    source = (ROOT / script).read_text()
    for step in ('astype("float32")', "/ 255", "x_val, x_train = x_train[:n_val], x_train[n_val:]",
                 "peak_signal_noise_ratio(", "structural_similarity(", "noisy_inputs.png"):
        assert step in source, step


class _NoKit:
    """An import finder for which denoise_kit does not exist, wherever it is installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "denoise_kit":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@pytest.mark.parametrize("script", KIT_SCRIPTS)
def test_without_the_kit_the_first_cell_says_how_to_install_it(script, monkeypatch):
    """The first code cell that imports (after the title's docstring), run where
    denoise_kit can't be imported, stops with one line that says how to get it."""
    notebook = jupytext.read(ROOT / script)
    first = next(cell.source for cell in notebook.cells
                 if cell.cell_type == "code" and "import" in cell.source)
    for name in [name for name in sys.modules if name.split(".")[0] == "denoise_kit"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NoKit(), *sys.meta_path])
    with pytest.raises(ModuleNotFoundError) as error:
        exec(compile(first, script, "exec"), {})
    message = str(error.value)
    assert "\n" not in message and "`pip install .` in a clone of the project" in message
    assert error.value.__suppress_context__  # `from None`: the one line, not a chain of tracebacks.


LESSON_KNOBS = {"DATASET", "NOISE_FACTOR", "EPOCHS", "IMAGES_PER_EPOCH", "MIN_IMAGES_PER_EPOCH",
                "EPOCH_FRACTION", "BATCH_SIZE", "FILTERS", "DECODER_FILTERS", "KERNEL_SIZE", "INTERPOLATION",
                "LEARNING_RATE", "SEED"}


def constants_by_cell(script: str) -> list[set[str]]:
    """The UPPERCASE names each code cell assigns, cell by cell."""
    cells = [cell.source for cell in jupytext.read(ROOT / script).cells if cell.cell_type == "code"]
    return [{target.id for node in ast.parse(source).body if isinstance(node, ast.Assign | ast.AnnAssign)
             for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(target, ast.Name) and target.id.isupper()} for source in cells]


@pytest.mark.parametrize("script", DENOISERS)
def test_the_lesson_knobs_and_how_it_runs_are_two_cells(script):
    cells = constants_by_cell(script)
    lesson = next(names for names in cells if "DATASET" in names)
    how_it_runs = next(names for names in cells if "OUTPUT_DIR" in names)
    assert {"DATASET", "NOISE_FACTOR", "EPOCHS", "IMAGES_PER_EPOCH", "BATCH_SIZE", "FILTERS", "KERNEL_SIZE",
            "LEARNING_RATE", "SEED"} <= lesson <= LESSON_KNOBS
    assert {"PRECISION", "STEPS_PER_EXECUTION", "VALIDATION_FRACTION", "MAX_VALIDATION_IMAGES", "DATA_DIR",
            "OUTPUT_DIR", "VALIDATION_NOISE_SEED", "TEST_NOISE_SEED", "DENOISE", "TENSORBOARD"} <= how_it_runs
    assert not how_it_runs & LESSON_KNOBS

"""The shape the kit's scripts keep, read from their source: how much of a
denoiser is calls into the kit, what stands in view, and what a notebook
without the kit says in its first cell. (What the demos import:
tests/test_demos.py.)"""

import ast
import sys

import jupytext
import pytest
from conftest import ROOT, page_stats

from denoise_kit import cli

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


LESSON_KNOBS = ["DATASET", "NOISE_FACTOR", "EPOCHS", "IMAGES_PER_EPOCH", "BATCH_SIZE", "FILTERS",
                "DECODER_FILTERS", "KERNEL_SIZE", "INTERPOLATION", "LEARNING_RATE", "SEED"]
HOW_IT_RUNS = ["VALIDATION_FRACTION", "MAX_VALIDATION_IMAGES", "VALIDATION_NOISE_SEED", "TEST_NOISE_SEED",
               "LIMIT", "DATA_DIR", "OUTPUT_DIR"]


def constants_in_order(script: str) -> list[list[str]]:
    """The UPPERCASE names each code cell assigns, cell by cell, in the order they are set."""
    cells = [cell.source for cell in jupytext.read(ROOT / script).cells if cell.cell_type == "code"]
    return [[target.id for node in ast.parse(source).body if isinstance(node, ast.Assign | ast.AnnAssign)
             for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(target, ast.Name) and target.id.isupper()] for source in cells]


@pytest.mark.parametrize("script", DENOISERS)
def test_the_knobs_come_first_then_how_the_script_runs_then_the_flags(script):
    """One cell: the lesson's knobs, then the constants the page itself reads on how it runs,
    then CONFIG (the flags); how the kit runs (precision, --denoise, TensorBoard) is kit flags."""
    names = next(names for names in constants_in_order(script) if "DATASET" in names)
    lesson = [name for name in names if name in LESSON_KNOBS]
    assert names == [*lesson, *HOW_IT_RUNS, "CONFIG"], names
    assert {"DATASET", "NOISE_FACTOR", "EPOCHS", "IMAGES_PER_EPOCH", "BATCH_SIZE", "FILTERS", "KERNEL_SIZE",
            "LEARNING_RATE", "SEED"} <= set(lesson)
    assert {"PRECISION", "STEPS_PER_EXECUTION", "DENOISE", "ADD_NOISE", "INVERT",
            "TENSORBOARD"} == set(cli.DENOISER_RUN_FLAGS)
    assert "run_flags=cli.DENOISER_RUN_FLAGS" in (ROOT / script).read_text()


# Each page's budget: at most so many lines and prose words, and its lesson (the first `.fit(`, or for
# the demos the first UpSampling2D / Conv2DTranspose layer) by that line. keras.io's denoising example:
# 175 lines, about 300 words of prose, fit at line 132.
PAGE_BUDGETS = {
    "denoise_transpose_mnist.py": (250, 1000, "fit", 150),
    "denoise_upsampling_notmnist.py": (250, 1000, "fit", 150),
    "compare_decoders.py": (250, 900, None, None),
    "upsampling_demo.py": (220, 900, "first_layer", 60),
    "transpose_demo.py": (330, 1400, "first_layer", 70),
}


@pytest.mark.parametrize("script", PAGE_BUDGETS)
def test_a_page_stays_within_its_budget(script):
    max_lines, max_words, lesson, by_line = PAGE_BUDGETS[script]
    stats = page_stats(script)
    assert stats["lines"] <= max_lines and stats["prose_words"] <= max_words, stats
    if lesson:
        assert stats[lesson] is not None and stats[lesson] <= by_line, stats


@pytest.mark.parametrize("script", DENOISERS)
def test_a_denoiser_meets_the_ideas_in_the_order_of_the_lesson(script):
    headings = [line for line in (ROOT / script).read_text().splitlines() if line.startswith("# ## ")]
    lesson_order = ["The knobs", "The data", "The noise", "The model", "Training", "Results",
                    "Your own image", "Going further"]
    assert headings == [f"# ## {heading}" for heading in lesson_order], headings


@pytest.mark.parametrize("script", DENOISERS)
def test_a_denoisers_going_further_stays_short(script):
    """What a learner needs only when they ask: at most 150 words, at the end."""
    source = (ROOT / script).read_text()
    going_further = source[source.index("# ## Going further"):]
    assert len(" ".join(line.lstrip("#") for line in going_further.splitlines()).split()) <= 150

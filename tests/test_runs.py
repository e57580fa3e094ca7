"""Every run kept: a tweak's own folder, named by what differs from the page's
defaults; at its end, what the change did against earlier runs; and
outputs/runs.md and runs.png listing every finished run. Quick: the folders
and tables from metrics.json files made here (tests/test_run_comparison.py runs
the scripts)."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from denoise_kit import cli, folders, run_folders, runs

PAGES = ("denoise_transpose_mnist", "denoise_upsampling_notmnist")
MNIST = "denoise_transpose_mnist"


def page_constants(script: str) -> dict:
    """The UPPERCASE constants a page sets at its top level, as its source has them."""
    constants = {}
    for node in ast.parse((ROOT / f"{script}.py").read_text()).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id.isupper() and target.id != "CONFIG":
            constants[target.id] = ast.literal_eval(node.value)
    return constants


@pytest.mark.parametrize("script", PAGES)
def test_the_kit_knows_each_pages_defaults(script):
    """The folders are named against the published constants: they must be the page's."""
    assert list(run_folders.PAGE_DEFAULTS[script].items()) == list(page_constants(script).items())


def config_of(script=MNIST, **changes):
    return {**run_folders.PAGE_DEFAULTS[script], "PRECISION": "auto", "TENSORBOARD": False, **changes}


RUN_FLAGS = {name: default for name, (default, _) in cli.DENOISER_RUN_FLAGS.items()}


@pytest.mark.parametrize(("changes", "folder"), [
    ({}, "outputs/denoise_transpose_mnist"),
    ({"KERNEL_SIZE": 4}, "outputs/denoise_transpose_mnist/kernel_size-4"),
    # In the page's order, whatever order they were given in; tuples and floats as flags spell them.
    ({"KERNEL_SIZE": 4, "NOISE_FACTOR": 0.8, "FILTERS": (16, 32)},
     "outputs/denoise_transpose_mnist/noise_factor-0.8+filters-16,32+kernel_size-4"),
    ({"PRECISION": "float32"}, "outputs/denoise_transpose_mnist/precision-float32"),
    # The same values written otherwise, or what only changes where the run reads and logs: the defaults.
    ({"LEARNING_RATE": 0.002, "FILTERS": [32, 64], "TENSORBOARD": True, "DATA_DIR": "elsewhere"},
     "outputs/denoise_transpose_mnist"),
    # An OUTPUT_DIR of one's own is the run's folder, tweaked or not.
    ({"KERNEL_SIZE": 4, "OUTPUT_DIR": "mine/k4"}, "mine/k4"),
])
def test_a_run_goes_to_the_folder_its_constants_name(changes, folder):
    place = run_folders.place(MNIST, config_of(**changes), RUN_FLAGS)
    assert Path(place["folder"]) == Path(folder)
    assert place["label"] == (Path(folder).name if "+" in folder or "-" in Path(folder).name
                              and "OUTPUT_DIR" not in changes else place["label"])
    # Runs under outputs/ are listed together; an own folder elsewhere lists its own, writing nothing outside.
    assert Path(place["runs_root"]) == (Path("outputs") if folder.startswith("outputs") else Path(folder))


def test_an_own_folder_inside_outputs_is_listed_with_the_others(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    place = run_folders.place(MNIST, config_of(OUTPUT_DIR="outputs/mine", KERNEL_SIZE=4), RUN_FLAGS)
    assert (place["folder"], place["runs_root"]) == ("outputs/mine", "outputs")
    # The default folder spelled another way is still the default: the tweak gets its own folder.
    spelled = config_of(OUTPUT_DIR=str(tmp_path / "outputs" / "denoise_transpose_mnist"), KERNEL_SIZE=4)
    assert Path(run_folders.place(MNIST, spelled, RUN_FLAGS)["folder"]).name == "kernel_size-4"


def test_a_constant_the_page_lacks_is_a_change():
    """A learner who adds DROPOUT = 0.2 to the page gets a folder of its own, not the defaults'."""
    place = run_folders.place(MNIST, config_of(DROPOUT=0.2), RUN_FLAGS)
    assert place["label"] == "dropout-0.2" and place["changes"] == {"DROPOUT": 0.2}


def test_a_notebook_that_runs_only_the_flags_line_again_starts_from_the_pages_folder():
    """KERNEL_SIZE = 5 set in a cell of its own, then the flags line: OUTPUT_DIR is still the last
    tweak's folder in the notebook's globals, and must not be taken as an own choice."""
    first = run_folders.place(MNIST, config_of(KERNEL_SIZE=4), RUN_FLAGS)
    again = run_folders.place(MNIST, config_of(KERNEL_SIZE=5, OUTPUT_DIR=first["folder"]), RUN_FLAGS)
    assert Path(again["folder"]) == Path("outputs/denoise_transpose_mnist/kernel_size-5")


def test_a_long_name_is_cut_and_stays_distinct():
    many = {"EPOCHS": 3, "IMAGES_PER_EPOCH": 512, "BATCH_SIZE": 32, "FILTERS": (8, 16), "KERNEL_SIZE": 5,
            "LEARNING_RATE": 1e-3, "SEED": 7, "VALIDATION_FRACTION": 0.2}
    one = run_folders.place(MNIST, config_of(**many), RUN_FLAGS)["label"]
    other = run_folders.place(MNIST, config_of(**{**many, "SEED": 8}), RUN_FLAGS)["label"]
    assert len(one) == len(other) == run_folders.MAX_NAME and one != other


def test_a_page_is_known_by_its_file_or_in_a_notebook_by_its_constants():
    mnist, notmnist = config_of(), config_of("denoise_upsampling_notmnist")
    assert run_folders.script_of({"__file__": "x/denoise_transpose_mnist.py"}, mnist) == MNIST
    assert run_folders.script_of({"__file__": "x/compare_decoders.py"}, mnist) is None
    assert run_folders.script_of({}, mnist) == MNIST  # A notebook has no __file__.
    assert run_folders.script_of({}, {**notmnist, "OUTPUT_DIR": "mine"}) == "denoise_upsampling_notmnist"
    assert run_folders.script_of({}, {"DATASET": "mnist", "SEEDS": 3}) is None  # compare_decoders.py


def page_namespace(tmp_path, **constants):
    """A page's globals as a program has them, its file in tmp_path (run there, as outputs/ is relative)."""
    return {"__file__": str(tmp_path / f"{MNIST}.py"), **run_folders.PAGE_DEFAULTS[MNIST], **constants}


@pytest.mark.parametrize(("flags", "expected"), [
    ([], "outputs/denoise_transpose_mnist"),
    (["--kernel-size", "4"], "outputs/denoise_transpose_mnist/kernel_size-4"),
    (["--kernel-size", "4", "--output-dir", "mine"], "mine"),
    (["--kernel-size", "4", "--denoise", "a.png"], "outputs/denoise_transpose_mnist"),  # The default model.
])
def test_the_flags_call_gives_the_page_its_run_folder(flags, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = page_namespace(tmp_path)
    config = cli.override_from_flags(namespace, flags, run_flags=cli.DENOISER_RUN_FLAGS)
    try:
        assert Path(config["OUTPUT_DIR"]) == Path(namespace["OUTPUT_DIR"]) == Path(expected)
        held = [folder.relative_to(tmp_path.resolve()) for folder in folders.held()]
        assert held == ([] if "--denoise" in flags else [Path(expected)])  # The run's own folder is locked.
    finally:
        folders.release(config["OUTPUT_DIR"])


def test_a_notebook_that_edits_a_constant_gets_the_tweak_folder(tmp_path, monkeypatch):
    """In a notebook the cell sets the constant; the page's OUTPUT_DIR global follows."""
    monkeypatch.chdir(tmp_path)
    namespace = {k: v for k, v in page_namespace(tmp_path, NOISE_FACTOR=0.8).items() if k != "__file__"}
    config = cli.override_from_flags(namespace, run_flags=cli.DENOISER_RUN_FLAGS)
    folders.release(config["OUTPUT_DIR"])
    assert namespace["OUTPUT_DIR"] == str(Path("outputs/denoise_transpose_mnist/noise_factor-0.8"))
    assert config["run"]["changes"] == {"NOISE_FACTOR": 0.8}


# ------------------------------------------------------------------------ finished runs


TEST_SET = {"dataset": "mnist", "noise_factor": 0.5, "noise_seed": 43, "images": 2000, "fingerprint": "aaaa"}


def finished_run(root: Path, label: str, psnr: float, minute: int, *, script: str = MNIST, seconds=100.0,
                 test_set=TEST_SET, **changes) -> Path:
    """A folder with the metrics.json a finished run writes."""
    place = run_folders.place(script, config_of(script, **changes), RUN_FLAGS)
    assert place["label"] == label
    folder = root / Path(place["folder"]).relative_to("outputs")
    folder.mkdir(parents=True, exist_ok=True)
    metrics = {"psnr_denoised": psnr, "ssim_denoised": psnr / 25, "train_seconds": seconds,
               "train_images_per_second": 70_400 / seconds, "finished_at": f"2026-12-07T10:{minute:02d}:00",
               "test_set": test_set, "settings": {**config_of(script, **changes), "run": place}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


@pytest.fixture
def outputs(tmp_path):
    root = tmp_path / "outputs"
    finished_run(root, "defaults", 20.06, 1)
    finished_run(root, "kernel_size-4", 20.20, 2, seconds=120.0, KERNEL_SIZE=4)
    finished_run(root, "noise_factor-0.8", 17.5, 3, NOISE_FACTOR=0.8,
                 test_set={**TEST_SET, "noise_factor": 0.8, "fingerprint": "bbbb"})
    finished_run(root, "defaults", 18.80, 4, script="denoise_upsampling_notmnist",
                 test_set={**TEST_SET, "dataset": "notmnist", "fingerprint": "cccc"})
    return root


def test_every_finished_run_is_found_oldest_first_and_a_damaged_one_is_one_line(outputs):
    (outputs / "broken").mkdir()
    (outputs / "broken" / "metrics.json").write_text("{not json")
    (outputs / "foreign" / "deeper").mkdir(parents=True)
    (outputs / "foreign" / "deeper" / "metrics.json").write_text('{"loss": 1}')
    (outputs / "upsampling_demo").mkdir()  # No metrics.json: not a run, and nothing to say.
    found, skipped = runs.find(outputs)
    assert [(run.script, run.label) for run in found] == [
        (MNIST, "defaults"), (MNIST, "kernel_size-4"), (MNIST, "noise_factor-0.8"),
        ("denoise_upsampling_notmnist", "defaults")]
    assert skipped == [f"skipped {outputs / 'broken'}: metrics.json can't be read (JSONDecodeError)",
                       f"skipped {outputs / 'foreign' / 'deeper'}: its metrics.json is not a denoiser "
                       "run's (no 'settings')"]


def test_the_end_of_a_run_compares_it_with_the_previous_run_and_the_best(outputs):
    this = finished_run(outputs, "batch_size-16", 19.90, 5, seconds=60.0, BATCH_SIZE=16)
    found, _ = runs.find(outputs)
    lines = runs.comparison(runs.read(this), found)
    # The previous run of this script (noise 0.8) was scored on other test images: said, not compared.
    assert lines[0] == ("The previous run of denoise_transpose_mnist (noise_factor-0.8) was scored on other "
                        "test images (noise factor 0.8, this run's 0.5): not compared.")
    assert lines[1] == "Against earlier runs on the same 2,000 test images (mnist, noise 0.5):"
    rows = {line[:14].strip(): line[14:].split(None, 4) for line in lines[3:]}
    assert rows == {"this run": ["19.90", "0.796", "60.0", "1,173", f"batch_size-16 ({MNIST})"],
                    "best so far": ["20.20", "0.808", "120.0", "587", "batch_size 8, kernel_size 4"]}


def test_the_previous_run_on_the_same_images_is_compared(outputs):
    this = finished_run(outputs, "noise_factor-0.8+seed-7", 19.95, 5, SEED=7, NOISE_FACTOR=0.8,
                        test_set={**TEST_SET, "noise_factor": 0.8, "fingerprint": "bbbb"})
    lines = runs.comparison(runs.read(this), runs.find(outputs)[0])
    assert lines[0].startswith("Against earlier runs on the same 2,000 test images (mnist, noise 0.8)")
    assert lines[3].startswith("previous run       17.50") and lines[3].endswith("  seed 42")
    assert lines[4].endswith("  this run")  # 19.95 beats 17.50: this run is the best so far.


def test_a_run_on_new_test_images_has_nothing_to_compare(outputs):
    this = finished_run(outputs, "dataset-fashion_mnist", 18.0, 5, DATASET="fashion_mnist",
                        test_set={**TEST_SET, "dataset": "fashion_mnist", "fingerprint": "dddd"})
    lines = runs.comparison(runs.read(this), runs.find(outputs)[0])
    assert lines[-1] == "No earlier finished run on these test images: nothing to compare yet."
    assert "dataset mnist, this run's fashion_mnist" in lines[0]


def test_runs_md_and_runs_png_list_every_finished_run(outputs, capsys):
    (outputs / "broken").mkdir()
    (outputs / "broken" / "metrics.json").write_text("")
    this = finished_run(outputs, "kernel_size-5", 20.1, 5, KERNEL_SIZE=5)
    runs.report(this, outputs)
    printed = capsys.readouterr().out
    assert f"skipped {outputs / 'broken'}: metrics.json can't be read (JSONDecodeError)" in printed
    table = (outputs / "runs.md").read_text().splitlines()
    rows = [line.split(" | ") for line in table if line.startswith("| 2026")]
    assert [(row[1], row[2], row[3]) for row in rows] == [
        (MNIST, "defaults", "20.06"), (MNIST, "kernel_size-4", "20.20"), (MNIST, "noise_factor-0.8", "17.50"),
        ("denoise_upsampling_notmnist", "defaults", "18.80"), (MNIST, "kernel_size-5", "20.10")]
    assert rows[1][7] == str(outputs / "denoise_transpose_mnist" / "kernel_size-4")
    figure = runs.draw(runs.find(outputs)[0])
    ax = figure.axes[0]
    points = np.concatenate([collection.get_offsets() for collection in ax.collections])
    assert sorted(map(tuple, points.tolist())) == sorted(
        [(100.0, 20.06), (120.0, 20.2), (100.0, 17.5), (100.0, 18.8), (100.0, 20.1)])
    assert sorted(text.get_text() for text in ax.texts) == sorted(
        ["defaults", "kernel_size-4", "noise_factor-0.8", "defaults", "kernel_size-5"])
    assert len(ax.collections) == 3  # A colour per test set: MNIST at 0.5 and 0.8, notMNIST.
    assert (outputs / "runs.png").stat().st_size > 10_000


def test_a_run_from_before_runs_were_compared_is_listed_but_never_compared(outputs):
    old = outputs / "denoise_transpose_mnist" / "metrics.json"
    metrics = json.loads(old.read_text())
    for field in ("finished_at", "test_set"):
        del metrics[field]
    del metrics["settings"]["run"]
    metrics["test_images"] = 2000
    old.write_text(json.dumps(metrics))
    found, skipped = runs.find(outputs)
    assert skipped == []
    (listed,) = [run for run in found if run.folder == old.parent]
    assert (listed.script, listed.label, listed.test_set["fingerprint"]) == (MNIST, MNIST, None)
    this = finished_run(outputs, "kernel_size-5", 20.1, 5, KERNEL_SIZE=5)
    lines = runs.comparison(runs.read(this), runs.find(outputs)[0])
    assert "20.06" not in "\n".join(lines)  # Its test images can't be known to be these.


def test_a_table_that_cant_be_written_is_one_line_and_the_run_stands(outputs, capsys):
    (outputs / runs.TABLE).mkdir()  # Where runs.md goes, a folder: writing it fails.
    this = finished_run(outputs, "kernel_size-5", 20.1, 5, KERNEL_SIZE=5)
    lines = runs.report(this, outputs)
    assert lines[-1].startswith("runs.md and runs.png were not updated (")
    assert lines[-1].endswith("the run's own files are complete; the next run rewrites them")
    assert not list(outputs.glob("runs*.partial*"))

"""Every benchmark runs: the quick look that docs/speed.md gives for it, in a new
process, each writing its JSON into the test's folder (--json), never over the
committed results. Each exits 0, ends with its one-line summary, with a number,
and writes what its tables say. playground_latency.py measures the small models
tests/playground_models.py trains; the others need the real data
($DENOISE_DATA_DIR) and are skipped without it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL_DATA, ROOT, learner_env, real_data_dir
from test_doc_commands import DATA_ENV, benchmark_quick_looks, needs_data, split_passed_on

# The first words of each benchmark's last line, its one-line summary.
SUMMARIES = {
    "recipe_baseline.py": "recipe",
    "speed.py": "speed",
    "batch_size.py": "batch size",
    "data_loading.py": "data loading",
    "where_time_goes.py": "where the time goes",
    "playground_latency.py": "playground latency",
    "machinecurve_autoencoders.py": "machinecurve",
}
# The real datasets each loads (the others: MNIST, through the script they run).
DATASETS = {"recipe_baseline": ("mnist", "notmnist"), "data_loading": ("mnist", "notmnist")}
RUN_TIMEOUT_S = 600


def test_every_benchmark_has_a_quick_look_in_the_docs():
    """docs/speed.md gives one quick look per benchmark, and this file knows each one's summary."""
    benchmarks = sorted(path.name for path in (ROOT / "benchmarks").glob("*.py"))
    quick_looks = [Path(command.script).name for command in benchmark_quick_looks()]
    assert sorted(quick_looks) == benchmarks
    assert sorted(SUMMARIES) == benchmarks


@pytest.fixture(scope="module")
def playground_models(tmp_path_factory) -> Path:
    """Both denoisers' model.keras, trained for seconds on drawn strokes."""
    from playground_models import train_playground_models

    return train_playground_models(tmp_path_factory.mktemp("outputs"), tmp_path_factory.mktemp("strokes"))


def run_benchmark(command, tmp_path: Path, *more: str) -> tuple[str, dict]:
    """The doc's command, its JSON sent to the test's folder: (its output, its JSON)."""
    out = tmp_path / "results.json"
    own, passed_on = split_passed_on(command.flags)
    args = [*own, *more, "--json", str(out), *(("--", *passed_on) if passed_on else ())]
    env = {DATA_ENV: REAL_DATA} if REAL_DATA else {}
    finished = subprocess.run([sys.executable, str(ROOT / command.script), *args], cwd=tmp_path,
                              env=learner_env(**env), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, (f"{command.where} `{command.text}` exit {finished.returncode}:\n"
                                      f"{output[-3000:]}")
    label = SUMMARIES[Path(command.script).name]
    last = finished.stdout.strip().splitlines()[-1]
    assert re.match(rf"{label}: .*\d", last), f"{command.where}: its last line is not its summary: {last!r}"
    assert out.is_file(), f"{command.where}: no JSON at {out}"
    return finished.stdout, json.loads(out.read_text())


def check_speed(report: dict, flags: dict) -> None:
    # The images rebuilt from metrics.json are the script's: its noisy test PSNR, and its last
    # validation PSNR from its saved model.
    for name, pair in report["rebuilt_images_check"].items():
        assert abs(pair["script"] - pair["rebuilt"]) < 0.01, (name, pair)
    assert report["train_images"] + report["validation_images"] == int(flags["--limit"])
    project, recipe = report["project"], report["recipe"]
    assert len(project["epoch_seconds"]) == int(flags["--epochs"])
    assert len(recipe["epoch_seconds"]) == int(flags["--recipe-epochs"])
    assert project["images_per_epoch"] == int(flags["--images-per-epoch"])
    assert report["throughput_ratio"] > 0 and project["wall_seconds"] > sum(project["epoch_seconds"])


def check_recipe_baseline(report: list, flags: dict) -> None:
    assert [(row["dataset"], row["decoder"]) for row in report] == [("mnist", "transpose"),
                                                                     ("notmnist", "upsampling")]
    for row in report:  # One epoch of a few images need not beat the noisy input: its scores only are.
        assert row["train_images"] == int(flags["--limit"]) and row["epochs"] == int(flags["--epochs"])
        assert -1 <= row["ssim_denoised"] <= 1 and 0 < row["psnr_denoised"] < 100, row


def check_batch_size(report: dict, flags: dict) -> None:
    assert [row["batch_size"] for row in report["rows"]] == [int(b) for b in flags["--batch-sizes"].split()]
    for row in report["rows"]:
        assert row["epochs"] == int(flags["--epochs"]) and row["psnr"] > 0 and row["wall_seconds"] > 0


def check_data_loading(report: list, flags: dict) -> None:
    timed = {row["what"]: row for row in report}
    assert timed["MNIST, IDX .gz files"]["seconds"] > 0
    assert timed["notMNIST_small, cached load"]["seconds"] > 0
    parsed = timed["notMNIST_small folder, first load (parse + cache)"]
    generated = f"{int(flags['--pngs']):,} generated PNGs"
    assert parsed["seconds"] > 0 and parsed["note"] in ("the real folder", generated), parsed


def check_where_time_goes(report: dict, flags: dict) -> None:
    assert len(report["runs"]) == int(flags["--runs"])
    for run in report["runs"]:
        assert 0 < run["phases"]["total"] <= run["wall_s"], run  # Inside the process, within its wall time.


def check_playground_latency(report: dict, flags: dict) -> None:
    for name, result in report["results"].items():
        assert result["updates"] == int(flags["--updates"]) and result["median_ms"] > 0, (name, result)


def check_machinecurve_autoencoders(report: dict, flags: dict) -> None:
    seeds = flags["--seeds"].split()
    assert len(report["runs"]) == 2 * len(seeds)  # Each model at batch 25, each seed.
    assert report["train_images"] == int(flags["--limit"])
    assert all(0 < run["final_loss"] < 1 for run in report["runs"])


def flag_values(flags: tuple[str, ...]) -> dict[str, str]:
    """--name -> its values, space-separated ("" for a flag without one)."""
    values: dict[str, list[str]] = {}
    name = None
    for word in flags:
        if word.startswith("--"):
            name = word
            values[name] = []
        elif name:
            values[name].append(word)
    return {name: " ".join(words) for name, words in values.items()}


@pytest.mark.slow
@pytest.mark.parametrize("command", benchmark_quick_looks(), ids=lambda command: Path(command.script).stem)
def test_each_benchmark_runs_its_quick_look(command, tmp_path, request):
    name = Path(command.script).stem
    more = []
    if name == "playground_latency":  # Against small trained models, not outputs/'s.
        more = ["--models-dir", str(request.getfixturevalue("playground_models"))]
    elif needs_data(command.script):
        for dataset in DATASETS.get(name, ("mnist",)):
            real_data_dir(dataset)  # A skip, with that reason, where it is absent.
    output, report = run_benchmark(command, tmp_path, *more)
    own, passed_on = split_passed_on(command.flags)
    globals()[f"check_{name}"](report, flag_values(own))

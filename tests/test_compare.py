"""compare_decoders.py: paired statistics, verdict, checkerboard measure, time
left, classical baselines, its flags, its models, resuming and the noise sweep.
No test imports the script (that would run it): it runs as a program, in this
process with runpy (which gives back its variables), or cell by cell up to the
cell a test needs."""

import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from unittest import mock

import jupytext
import keras
import numpy as np
import pytest
from conftest import learner_env, run_in_process, run_program, script_command, sparse_digits
from test_script_shape import kit_calls

from denoise_kit import baselines, batches, cli, compare, metrics, quiet, timing
from denoise_kit.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def neural(name, psnr, seeds=None):
    seeds = list(seeds or range(42, 42 + len(psnr)))
    return compare.Result(name, "neural", "100", psnr=list(psnr), ssim=[0.8] * len(psnr), seeds=seeds)


def classical(name, psnr):
    return compare.Result(name, "classical", "size = 3", psnr=[psnr], ssim=[0.5])


# ------------------------------------------------------------------ paired statistics
# The page computes each gap's 95% interval (interval_95); compare.verdict words it.


def test_mean_and_sample_sd():
    assert compare.mean_sd([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert compare.mean_sd([5.0]) == (5.0, 0.0)


def page_cells(script, *names):
    """The first code cell that imports and the cells that define `names`, run alone: a
    function of the page, without the training around it."""
    cells = [cell.source for cell in jupytext.read(ROOT / script).cells if cell.cell_type == "code"]
    variables = {"__name__": "page"}
    exec(compile(next(source for source in cells if "import" in source), script, "exec"), variables)
    for name in names:
        cell = next(source for source in cells if f"def {name}(" in source)
        exec(compile(cell, script, "exec"), variables)
    return variables


@pytest.fixture(scope="module")
def interval_95():
    return page_cells("compare_decoders.py", "interval_95")["interval_95"]


def gaps_of(interval_95, best, *others):
    """{other: Paired} as the page's answer cell makes them: best - other, seed by seed."""
    return compare.paired({other.method: (np.subtract(best.psnr, other.psnr),
                                          interval_95(np.subtract(best.psnr, other.psnr)))
                           for other in others})


def test_the_interval_worked_by_hand(interval_95):
    # Differences 0.1, 0.2, 0.3: mean 0.2; deviations -0.1, 0, 0.1, so
    # sd = sqrt((0.01 + 0 + 0.01) / 2) = 0.1; se = 0.1 / sqrt(3) = 0.05774;
    # margin = t(2) * se = 4.3027 * 0.05774 = 0.2484 > 0.2: a tie.
    low, high = interval_95(np.array([0.1, 0.2, 0.3]))
    assert (low, high) == (pytest.approx(0.2 - 0.248414, abs=1e-5), pytest.approx(0.2 + 0.248414, abs=1e-5))
    assert compare.Paired((0.1, 0.2, 0.3), low, high).tie
    # Differences 0.5, 0.6, 0.4: the same spread around 0.5 > 0.2484: a real gap.
    low, high = interval_95(np.array([0.5, 0.6, 0.4]))
    assert low == pytest.approx(0.5 - 0.248414, abs=1e-5)
    assert not compare.Paired((0.5, 0.6, 0.4), low, high).tie
    # Two seeds: t(1) = 12.706, the table's value; differences 1.0 and 2.0: se 0.5.
    assert interval_95(np.array([1.0, 2.0]))[1] == pytest.approx(1.5 + 12.706 * 0.5, abs=1e-3)
    # One seed: no spread, so the interval is unbounded and nothing is decided.
    single = compare.Paired((0.7,), *interval_95(np.array([0.7])))
    assert single.sd == 0.0 and math.isinf(single.high) and single.tie


def test_pairing_finds_a_gap_that_the_seed_spread_hides(interval_95):
    # Each seed moves both decoders alike (sd 0.5 over seeds), yet B is 0.1 dB
    # behind with every seed: paired differences 0.1, 0.1, 0.1 have sd 0.
    best, other = neural("A", [19.0, 19.5, 20.0]), neural("B", [18.9, 19.4, 19.9])
    paired = gaps_of(interval_95, best, other)
    assert paired["B"].mean == pytest.approx(0.1) and paired["B"].sd == pytest.approx(0.0, abs=1e-12)
    assert not paired["B"].tie
    text = compare.verdict([other, best], "mnist", 0.5, "A", paired)
    assert text.startswith("On mnist with noise 0.5, A scores best: 19.50 ± 0.50 dB over 3 seed(s).")
    assert "B: 0.10 dB behind, not a tie (per-seed differences 0.10 to 0.10 dB" in text


def test_paired_differences_that_straddle_zero_are_a_tie(interval_95):
    best, other = neural("A", [19.3, 19.2, 19.4]), neural("B", [19.0, 19.3, 19.3])
    text = compare.verdict([best, other, classical("median filter", 14.2)], "notmnist", 0.3, "A",
                           gaps_of(interval_95, best, other))
    # Differences 0.3, -0.1, 0.1: mean 0.1, sd 0.2, margin 4.3027 * 0.2 / sqrt(3) = 0.50.
    assert ("B: a tie (0.10 dB behind on average; per-seed differences -0.10 to 0.30 dB, "
            "standard deviation 0.200, 95% interval -0.40 to 0.60 dB)") in text
    assert ("Every decoder beats the best classical filter (median filter, 14.20 dB) "
            "by at least 5.00 dB") in text  # B: mean 19.20 dB.


def test_the_verdict_lists_the_others_best_first(interval_95):
    a, b, c = neural("A", [19.0, 19.1]), neural("B", [18.0, 18.3]), neural("C", [18.5, 18.4])
    text = compare.verdict([b, a, c], "mnist", 0.5, "A", gaps_of(interval_95, a, b, c))
    lines = text.splitlines()
    assert lines[1].startswith("  C: ") and lines[2].startswith("  B: ")


def test_one_seed_gives_no_spread_to_judge_by(interval_95):
    best, other = neural("A", [19.0]), neural("B", [18.0])
    text = compare.verdict([best, other], "mnist", 0.5, "A", gaps_of(interval_95, best, other))
    assert "B: 1.00 dB behind; with one seed there is no spread" in text
    assert compare.paired({"B": ([1.0], interval_95(np.array([1.0])))})["B"].as_json("B")["interval_95"] == [
        None, None]  # results.json: JSON has no infinity.


def test_classical_beating_a_decoder_is_said():
    text = compare.verdict([neural("A", [12.0]), classical("median filter", 14.0)], "mnist", 0.5, "A", {})
    assert "The best classical filter (median filter, 14.00 dB) beats A (12.00 dB)" in text


def test_sweep_summary_names_the_winner_per_level():
    assert compare.sweep_summary({0.8: "A", 0.2: "A"}) == "At every noise level (0.2, 0.8), A scores best."
    assert compare.sweep_summary({0.8: "B", 0.2: "A"}) == (
        "The best decoder changes with the noise level (0.2: A; 0.8: B).")


def test_table_sorts_by_psnr_and_shows_spread():
    table = compare.results_table([classical("median filter", 14.2), neural("A", [19.0, 19.2])])
    lines = table.splitlines()
    assert lines[0].startswith("| method | params | PSNR (dB) | SSIM |")
    assert lines[2].startswith("| A | 100 | 19.10 ± 0.14 |")
    assert lines[3].startswith("| median filter | size = 3 | 14.20 |")


# ------------------------------------------------------------------------ time left


def test_time_left_from_the_mean_of_finished_trainings():
    # 2 trained here (100 s and 140 s: mean 120 s), 3 skipped: 5 of 12 done, 7 left.
    assert compare.time_left([100.0, 140.0], done=5, total=12) == pytest.approx(840.0)
    assert compare.time_left([], done=3, total=12) is None
    assert compare.time_left([60.0], done=12, total=12) == 0.0


def test_durations_read_naturally():
    assert compare.format_duration(45) == "45 s"
    assert compare.format_duration(840) == "14 min"
    assert compare.format_duration(3900) == "1 h 05 min"


# ---------------------------------------------------------------------- checkerboard

ROWS, COLS = np.mgrid[:28, :28]


def test_stride_bins_of_a_28_pixel_image():
    mask = compare.stride_frequency_mask((28, 28))
    # Periods 2 and 4 sit at bins 14 and 7, 21 of each axis; with 0 that is
    # 4 x 4 combinations less the DC bin.
    assert mask.sum() == 15 and not mask[0, 0]
    assert mask[14, 0] and mask[0, 7] and mask[21, 14] and not mask[1, 0]
    assert compare.white_noise_share((28, 28)) == pytest.approx(15 / 783)


def test_a_period_4_pattern_scores_high_even_when_its_phase_varies():
    rng = np.random.default_rng(0)
    phases = rng.integers(0, 4, size=50)
    errors = np.stack([np.cos(np.pi / 2 * (COLS + p)) + np.cos(np.pi / 2 * (ROWS - p)) for p in phases])
    assert compare.checkerboard_share(errors) == pytest.approx(1.0)
    # The mean error image nearly cancels (phases differ), yet each image is a pattern.
    assert np.abs(errors.mean(axis=0)).max() < 0.5 * np.abs(errors).max()
    assert compare.checkerboard_share((-1.0) ** (ROWS + COLS)) == pytest.approx(1.0)


def test_white_noise_scores_near_the_reference():
    noise = np.random.default_rng(1).normal(size=(400, 28, 28, 1))
    share = compare.checkerboard_share(noise)
    assert share == pytest.approx(compare.white_noise_share((28, 28)), rel=0.1)


def test_a_smooth_error_scores_low():
    smooth = np.exp(-((ROWS - 14) ** 2 + (COLS - 12) ** 2) / 50)
    assert compare.checkerboard_share(np.stack([smooth, 0.5 * smooth])) < 1e-4
    mixed = smooth + 0.05 * (-1.0) ** (ROWS + COLS)
    assert 0.01 < compare.checkerboard_share(mixed) < 0.5
    # Perfect images have no error to measure and are left out of the average.
    assert compare.checkerboard_share(np.zeros((3, 28, 28))) == 0.0
    assert compare.checkerboard_share(np.stack([np.zeros((28, 28)), smooth])) < 1e-4


def test_mean_error_spectrum_is_a_distribution_over_bins():
    noise = np.random.default_rng(2).normal(size=(5, 28, 28))
    spectrum = compare.mean_error_spectrum(noise)
    assert spectrum.shape == (28, 28) and spectrum[0, 0] == pytest.approx(0.0)
    assert spectrum.sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------- baselines


@pytest.mark.parametrize("method", baselines.METHODS, ids=lambda m: m.name)
def test_each_baseline_improves_a_noisy_constant_image(method):
    clean = np.full((4, 28, 28, 1), 0.5, dtype=np.float32)
    noisy = np.clip(clean + 0.2 * np.random.default_rng(0).normal(size=clean.shape), 0, 1)
    tuned = baselines.tune(method, clean, noisy)
    assert tuned.value in method.grid
    denoised, ms = baselines.apply(tuned, noisy)
    assert denoised.shape == noisy.shape and ms > 0
    before = np.mean(metrics.psnr_per_image(clean, noisy))
    after = np.mean(metrics.psnr_per_image(clean, denoised))
    assert after > before + 3


def test_tuning_picks_the_best_grid_value():
    clean = np.zeros((3, 28, 28, 1), dtype=np.float32)
    clean[:, 8:20, 8:20] = 1.0
    noisy = np.clip(clean + 0.3 * np.random.default_rng(1).normal(size=clean.shape), 0, 1)
    method = baselines.METHODS[1]  # Gaussian filter
    tuned = baselines.tune(method, clean, noisy)
    scores = {v: np.mean(metrics.psnr_per_image(clean, np.clip(method.make(v)(noisy), 0, 1)))
              for v in method.grid}
    assert tuned.value == max(scores, key=scores.get)


def test_bm3d_is_skipped_with_a_note_when_absent(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "bm3d" else real_find_spec(name))
    methods, notes = baselines.available_methods()
    assert "BM3D" not in [m.name for m in methods]
    assert notes == ["BM3D skipped: the optional `bm3d` package is not installed"]


# ------------------------------------------------------------- timing and warnings


class _FakeOptimizer:
    iterations = 0


def test_training_seconds_leave_out_the_first_call_into_the_graph(monkeypatch):
    clock = iter([0.0, 10.0, 12.0])  # Begin; first call (16 steps, tracing) done; end after 16 more.
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    timer = timing.WarmTimer()
    timer.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    timer.model.optimizer = _FakeOptimizer()
    timer.on_train_begin()
    timer.model.optimizer.iterations = 16
    timer.on_train_batch_end(15)
    timer.model.optimizer.iterations = 32
    timer.on_train_end()
    assert timer.seconds == pytest.approx(4.0)  # 2 s per 16 warm steps, for all 32 steps.


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="counts TensorFlow traces")
def test_inference_is_timed_after_every_trace(monkeypatch, configuration):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    traces_when_timed = []
    real_clock = timing.time.perf_counter

    def clock():
        traces_when_timed.append(model.predict_function.experimental_get_tracing_count())
        return real_clock()

    monkeypatch.setattr(timing.time, "perf_counter", clock)
    batch = configuration["INFERENCE_BATCH"]
    x = np.zeros((batch + 20, 28, 28, 1), dtype=np.float32)
    denoised, ms = timing.predict_timed(model, x, batch)
    assert denoised.shape == x.shape and ms > 0
    assert len(traces_when_timed) == 2 and traces_when_timed[0] == traces_when_timed[1] > 0


def test_only_retracing_notices_are_dropped():
    keep = quiet.WithoutRetracingNotices()

    def record(message):
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    assert not keep.filter(record("5 out of the last 9 calls to <f> triggered tf.function retracing."))
    assert keep.filter(record("Something else went wrong"))


# ------------------------------------------------------------ the script's cells


def run_cells_until(script, name, *args):
    """Run `script`'s code cells in this process, as `python script ARGS` would,
    up to the one that defines `name`, and return its variables: the cells
    after it (the training) never run."""
    path = ROOT / script
    variables = {"__file__": str(path), "__name__": "__main__"}
    with mock.patch.object(sys, "argv", [str(path), *args]):
        for cell in jupytext.read(path).cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, str(path), "exec"), variables)
                if name in variables:
                    return variables
    raise AssertionError(f"no cell of {script} defines {name}")


@pytest.fixture(scope="module")
def configuration():
    """compare_decoders.py's constants, as its configuration cell sets them (no flags read yet)."""
    return run_cells_until("compare_decoders.py", "OUTPUT_DIR")


def flags_error(configuration, capsys, *flags):
    """The one line compare_decoders.py stops with, given `flags`."""
    try:
        cli.override_from_flags(dict(configuration), list(flags))
    except ConfigError as error:
        return f"error: {error}"
    except SystemExit as stop:  # argparse: a flag it can't read.
        assert stop.code == 2
        return capsys.readouterr().err.strip()
    raise AssertionError(f"{flags} were accepted")


def test_noise_factors_are_flags_and_checked(configuration, capsys, tmp_path):
    out = ["--output-dir", str(tmp_path)]
    given = dict(configuration)
    config = cli.override_from_flags(given, ["--noise-factors", "0.8, 0.2,0.5,0.2", *out])
    assert config["NOISE_FACTORS"] == given["NOISE_FACTORS"] == (0.8, 0.2, 0.5, 0.2)  # The script sorts them.
    assert cli.override_from_flags(dict(configuration), out)["NOISE_FACTORS"] is None  # NOISE_FACTOR alone.
    for bad in ("0.2,x", ",", "0.2,-0.1", "nan", "0.5,inf"):
        line = flags_error(configuration, capsys, "--noise-factors", bad, *out)
        assert line.startswith("error: ") and "noise-factors" in line and "\n" not in line
    too_far = flags_error(configuration, capsys, "--seed", "4294967295", "--seeds", "2", *out)
    assert "goes past 4294967295" in too_far
    assert "--seeds must be at least 1" in flags_error(configuration, capsys, "--seeds", "0", *out)
    assert "--shown must be at least 1" in flags_error(configuration, capsys, "--shown", "0", *out)
    last_seeds = cli.override_from_flags(dict(configuration), ["--seed", "4294967294", "--seeds", "2", *out])
    assert last_seeds["SEEDS"] == 2
    assert "--denoise" in flags_error(configuration, capsys, "--denoise", "a.png", *out)  # Not a flag here.


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """60 small random 'images' (mostly black, like digits) for both datasets."""
    return sparse_digits(tmp_path_factory.mktemp("data"), 60, seed=5, names=("mnist", "notmnist"))


def layers_of(model, leave_out=()):
    """Each layer's type and settings, without its name (or the settings in `leave_out`)."""
    return [(type(layer).__name__, {k: v for k, v in layer.get_config().items()
                                    if k != "name" and k not in leave_out}) for layer in model.layers]


@pytest.mark.slow
def test_the_decoders_are_the_denoising_scripts_models(tiny_data, tmp_path):
    """compare_decoders builds its own models; they are the scripts' (at the scripts'
    defaults): UpSampling2D nearest exactly, Conv2DTranspose k3 with the narrower
    decoder widths all four share."""
    flags = ["--data-dir", str(tiny_data), "--precision", "float32"]
    decoders = run_cells_until("compare_decoders.py", "DECODERS", *flags, "--output-dir",
                               str(tmp_path / "compare"))["DECODERS"]
    if "# %%" not in (ROOT / "denoise_upsampling_notmnist.py").read_text():
        pytest.skip("denoise_upsampling_notmnist.py is not in cells yet")
    upsampling = run_cells_until("denoise_upsampling_notmnist.py", "build_autoencoder", *flags,
                                 "--output-dir", str(tmp_path / "upsampling"))["build_autoencoder"]()
    transpose = run_cells_until("denoise_transpose_mnist.py", "build_autoencoder", *flags,
                                "--output-dir", str(tmp_path / "transpose"))["build_autoencoder"]()

    nearest = decoders["UpSampling2D nearest + Conv2D"]()
    assert layers_of(nearest) == layers_of(upsampling)
    assert nearest.count_params() == upsampling.count_params()

    k3 = decoders["Conv2DTranspose k3 s2"]()
    assert layers_of(k3, leave_out=("filters",)) == layers_of(transpose, leave_out=("filters",))
    widths = lambda model: [layer.filters for layer in model.layers  # noqa: E731
                            if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert widths(k3) == [32, 16] and widths(transpose) == [64, 32]  # The script mirrors its encoder.
    encoder = slice(0, [type(layer) for layer in k3.layers].index(keras.layers.Conv2DTranspose))
    assert [layer.count_params() for layer in k3.layers[encoder]] == [
        layer.count_params() for layer in transpose.layers[encoder]]

    params = [build().count_params() for build in decoders.values()]
    assert max(params) / min(params) < 1.0002  # The same parameter budget within 0.02%.


# ------------------------------------------------------ resuming and the noise sweep


@pytest.fixture
def tiny_comparison(monkeypatch, tmp_path, tiny_data):
    """compare_decoders.py run in this process on 60 tiny images, with two quick
    classical filters and a fake `fit` that records what it was asked to train
    (noise factor, seed) and trains nothing: what is under test is what gets
    trained, saved and written, not the learning."""
    monkeypatch.setattr(baselines, "available_methods", lambda: (baselines.METHODS[:2], []))
    seeds, calls = [], []

    def recording_batches(images, *, seed, **kwargs):
        seeds.append(seed)
        return None  # Nothing to train on: `fit` is fake.

    def fake_fit(model, *args, callbacks=(), **kwargs):
        calls.append((model.layers[0].noise_factor, seeds[-1]))  # layers[0]: FreshNoise.
        if len(calls) == run.fail_at:
            raise KeyboardInterrupt
        for callback in callbacks:
            if isinstance(callback, timing.WarmTimer):
                callback.seconds = 0.5

    monkeypatch.setattr(batches, "image_batches", recording_batches)
    monkeypatch.setattr(keras.Model, "fit", fake_fit)

    def run(*flags, fail_at=None):
        calls.clear()
        run.fail_at = fail_at
        return run_in_process("compare_decoders.py", "--output-dir", str(run.out),
                              "--data-dir", str(tiny_data), "--epochs", "1", "--batch-size", "4",
                              "--images-per-epoch", "16", "--precision", "float32",
                              "--shown", "2", *flags)  # 2 images in comparison.png: quicker to draw.

    run.calls = calls
    run.out = tmp_path / "out"
    return run


def written(out):
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # .lock: folders.hold


@pytest.mark.slow
def test_an_interrupted_run_trains_only_the_rest(tiny_comparison, capsys):
    with pytest.raises(KeyboardInterrupt):
        tiny_comparison("--seeds", "1", fail_at=4)  # 4 trainings to do; stopped during the fourth.
    saved = json.loads((tiny_comparison.out / "progress.json").read_text())
    trainings = sorted(k for k in saved["entries"] if " | seed " in k)
    assert trainings == ["noise 0.5 | Conv2DTranspose k3 s2 | seed 42",
                         "noise 0.5 | Conv2DTranspose k4 s2 | seed 42",
                         "noise 0.5 | UpSampling2D nearest + Conv2D | seed 42"]
    assert not (tiny_comparison.out / "results.json").exists()
    # What Ctrl-C prints (denoise_kit.quiet): where the finished trainings are, and what to do.
    with pytest.raises(SystemExit) as stop:
        quiet._excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert stop.value.code == 130
    assert capsys.readouterr().err.strip() == (
        f"interrupted: the finished trainings are saved in {tiny_comparison.out / 'progress.json'}; "
        "run the same command again to train only the rest")

    variables = tiny_comparison("--seeds", "1")
    assert tiny_comparison.calls == [(0.5, 42)]  # Only UpSampling2D bilinear, seed 42, was left.
    printed = capsys.readouterr().out
    assert "3 of 4 trainings already finished" in printed
    assert "UpSampling2D bilinear + Conv2D seed 42" in printed and "4/4 done" in printed
    results = json.loads((tiny_comparison.out / "results.json").read_text())
    neural = [r for r in results["levels"][0]["results"] if r["kind"] == "neural"]
    assert [(r["method"], r["seeds"]) for r in neural] == [(name, [42]) for name in variables["DECODERS"]]
    assert [r.method for r in variables["run"].levels()[0].results if r.kind == "neural"] == list(
        variables["DECODERS"])
    assert results["verdict"].splitlines()[0] in printed  # The verdict is printed.

    # The same command once more trains nothing; a second seed trains only that seed.
    tiny_comparison("--seeds", "1")
    assert tiny_comparison.calls == []
    tiny_comparison("--seeds", "2")
    assert tiny_comparison.calls == [(0.5, 43)] * 4
    results = json.loads((tiny_comparison.out / "results.json").read_text())
    assert all(r["seeds"] == [42, 43] for r in results["levels"][0]["results"] if r["kind"] == "neural")


@pytest.mark.slow
def test_other_settings_start_afresh_and_say_so(tiny_comparison, capsys):
    tiny_comparison("--seeds", "1")
    capsys.readouterr()
    tiny_comparison("--seeds", "1", "--epochs", "2")
    lines = [line for line in capsys.readouterr().out.splitlines() if "other settings" in line]
    assert len(lines) == 1 and "(epochs 1 -> 2)" in lines[0] and "starting afresh" in lines[0]
    assert tiny_comparison.calls == [(0.5, 42)] * 4
    saved = json.loads((tiny_comparison.out / "progress.json").read_text())
    assert saved["settings"]["epochs"] == 2


@pytest.mark.slow
def test_a_noise_sweep_draws_psnr_against_noise(tiny_comparison):
    variables = tiny_comparison("--seeds", "2", "--noise-factors", "0.6,0.2,0.6")
    assert variables["noise_factors"] == [0.2, 0.6]  # Sorted, each once.
    assert sorted(set(tiny_comparison.calls)) == [(0.2, 42), (0.2, 43), (0.6, 42), (0.6, 43)]
    assert len(tiny_comparison.calls) == 16  # 4 decoders x 2 seeds x 2 levels.
    out = tiny_comparison.out
    assert written(out) == [
        "artifacts.png", "comparison_noise_0.2.png", "comparison_noise_0.6.png", "progress.json",
        "psnr_vs_noise.png", "results.json", "results.md"]
    assert (out / "psnr_vs_noise.png").read_bytes().startswith(b"\x89PNG")
    results = json.loads((out / "results.json").read_text())
    assert results["noise_factors"] == [0.2, 0.6]
    assert [level["noise_factor"] for level in results["levels"]] == [0.2, 0.6]
    # More noise, a noisier input: the sweep really scored two different test sets.
    assert results["levels"][0]["noisy_psnr"] > results["levels"][1]["noisy_psnr"] + 3
    assert [level.noise_factor for level in variables["run"].levels()] == [0.2, 0.6]
    assert results["verdict"].splitlines()[-1].startswith(("At every noise level", "The best decoder"))
    for level in results["levels"]:  # The page's paired differences and intervals, as the verdict gives them.
        psnr = {r["method"]: np.array(r["psnr"]) for r in level["results"] if r["kind"] == "neural"}
        assert level["best"] == max(psnr, key=lambda name: psnr[name].mean())
        assert [c["method"] for c in level["compared"]] == [name for name in psnr if name != level["best"]]
        for c in level["compared"]:
            assert c["differences"] == pytest.approx(psnr[level["best"]] - psnr[c["method"]])
            low, high = c["interval_95"]
            assert low <= c["mean"] <= high and c["tie"] == (low <= 0 <= high)
            assert f"95% interval {low:.2f} to {high:.2f} dB" in level["verdict"]


@pytest.mark.slow
def test_a_single_noise_level_draws_no_sweep(tiny_comparison):
    variables = tiny_comparison("--seeds", "1")
    assert variables["noise_factors"] == [variables["NOISE_FACTOR"]]
    assert written(tiny_comparison.out) == [
        "artifacts.png", "comparison.png", "progress.json", "results.json", "results.md"]


# ------------------------------------------------------------------------ the script


def test_the_page_calls_the_kit_at_most_ten_times():
    """The comparison stands on the page; the bookkeeping goes behind at most ten calls."""
    calls = kit_calls("compare_decoders.py")
    assert "comparison.write_results" in calls and "cli.override_from_flags" in calls
    assert 0 < len(calls) <= 10, calls
    source = (ROOT / "compare_decoders.py").read_text()
    for step in (".compile(", ".fit(", "stats.t.ppf(", "keras.utils.set_random_seed(seed)"):
        assert step in source, step


def test_going_further_stays_short():
    cells = [cell.source for cell in jupytext.read(ROOT / "compare_decoders.py").cells
             if cell.cell_type == "markdown"]
    assert cells[-1].startswith("## Going further")
    assert len(cells[-1].replace("#", " ").split()) <= 150


@pytest.mark.slow
def test_a_second_comparison_into_the_same_folder_gets_one_line(tmp_path, tiny_data):
    out = tmp_path / "out"
    holder = subprocess.Popen(  # Another comparison, holding the folder.
        [sys.executable, "-c", "import sys; from denoise_kit import folders; folders.hold(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.read()", str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run_program("compare_decoders.py", "--data-dir", str(tiny_data), "--output-dir", str(out),
                             check=False, timeout=120)
    finally:
        holder.communicate("")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: another run (process {holder.pid}) is using {out.resolve()}: "
                                     "wait for it to finish, or choose another output folder (--output-dir)")
    assert written(out) == []


@pytest.mark.slow
def test_compare_decoders_end_to_end(tmp_path):
    data_dir = sparse_digits(tmp_path / "data", 600, seed=5)
    out = tmp_path / "out"
    result = subprocess.run(
        script_command("compare_decoders.py", "--data-dir", str(data_dir), "--output-dir", str(out),
                       "--limit", "256", "--epochs", "1", "--images-per-epoch", "256", "--seeds", "1"),
        capture_output=True, text=True, timeout=300, env=learner_env(KERAS_HOME=str(tmp_path / "keras_home")))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # No framework warnings (retracing notices included).
    assert written(out) == ["artifacts.png", "comparison.png", "progress.json", "results.json", "results.md"]
    saved = json.loads((out / "results.json").read_text())
    names = [r["method"] for r in saved["levels"][0]["results"]]
    assert names[-4:] == ["Conv2DTranspose k3 s2", "Conv2DTranspose k4 s2",
                          "UpSampling2D nearest + Conv2D", "UpSampling2D bilinear + Conv2D"]
    assert {"median filter", "Gaussian filter", "total variation", "non-local means"} <= set(names)
    neural = [r for r in saved["levels"][0]["results"] if r["kind"] == "neural"]
    params = [int(r["params"].replace(",", "")) for r in neural]
    assert max(params) / min(params) < 1.0002  # The same parameter budget within 0.02%.
    assert all(r["seeds"] == [42] and r["train_seconds"][0] > 0 for r in neural)
    assert saved["checkerboard_white_noise"] == pytest.approx(15 / 783)
    assert saved["verdict"] in (out / "results.md").read_text()
    assert saved["verdict"].splitlines()[0] in result.stdout
    assert "1/4 done, about" in result.stdout and "4/4 done" in result.stdout

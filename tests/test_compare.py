"""compare_decoders.py: paired statistics, verdict, checkerboard measure, time
left, classical baselines, resuming and the noise sweep."""

import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import sparse_digits

import compare_decoders
from denoise_kit import baselines, compare, datasets, metrics, training

ROOT = Path(__file__).resolve().parent.parent


def neural(name, psnr, seeds=None):
    seeds = list(seeds or range(42, 42 + len(psnr)))
    return compare.Result(name, "neural", "100", psnr=list(psnr), ssim=[0.8] * len(psnr), seeds=seeds)


def classical(name, psnr):
    return compare.Result(name, "classical", "size = 3", psnr=[psnr], ssim=[0.5])


# ------------------------------------------------------------------ paired statistics


def test_mean_and_sample_sd():
    assert compare.mean_sd([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert compare.mean_sd([5.0]) == (5.0, 0.0)


def test_t_critical_values_match_the_tables():
    assert compare.t_critical_95(1) == pytest.approx(12.706, abs=1e-3)
    assert compare.t_critical_95(2) == pytest.approx(4.303, abs=1e-3)
    assert compare.t_critical_95(10) == pytest.approx(2.228, abs=1e-3)


def test_differences_are_paired_by_seed():
    a = {44: 19.6, 42: 19.5, 43: 19.7, 45: 30.0}  # Seed 45 has no partner: left out.
    b = {42: 19.3, 43: 19.6, 44: 19.2}
    assert compare.paired_differences(a, b) == pytest.approx([0.2, 0.1, 0.4])
    with pytest.raises(ValueError, match="share no seed"):
        compare.paired_stats(compare.paired_differences({1: 1.0}, {2: 1.0}))


def test_paired_stats_worked_by_hand():
    # Differences 0.1, 0.2, 0.3: mean 0.2; deviations -0.1, 0, 0.1, so
    # sd = sqrt((0.01 + 0 + 0.01) / 2) = 0.1; se = 0.1 / sqrt(3) = 0.05774;
    # margin = t(2) * se = 4.3027 * 0.05774 = 0.2484 > 0.2: a tie.
    tie = compare.paired_stats([0.1, 0.2, 0.3])
    assert (tie.n, tie.mean, tie.sd) == (3, pytest.approx(0.2), pytest.approx(0.1))
    assert tie.se == pytest.approx(0.057735, abs=1e-6)
    assert tie.margin == pytest.approx(0.248414, abs=1e-5)
    assert tie.tie
    # Differences 0.5, 0.6, 0.4: the same spread around 0.5 > 0.2484: a real gap.
    gap = compare.paired_stats([0.5, 0.6, 0.4])
    assert gap.mean == pytest.approx(0.5) and gap.margin == pytest.approx(0.248414, abs=1e-5)
    assert not gap.tie
    # One seed: no spread, so the interval is unbounded and nothing is decided.
    single = compare.paired_stats([0.7])
    assert single.sd == 0.0 and math.isinf(single.margin) and single.tie


def test_pairing_finds_a_gap_that_the_seed_spread_hides():
    # Each seed moves both decoders alike (sd 0.5 over seeds), yet B is 0.1 dB
    # behind with every seed: paired differences 0.1, 0.1, 0.1 have sd 0.
    best, other = neural("A", [19.0, 19.5, 20.0]), neural("B", [18.9, 19.4, 19.9])
    paired = compare.compare_two(best, other)
    assert paired.mean == pytest.approx(0.1) and paired.sd == pytest.approx(0.0, abs=1e-12)
    assert not paired.tie
    text = compare.verdict([other, best], "mnist", 0.5)
    assert text.startswith("On mnist with noise 0.5, A scores best: 19.50 ± 0.50 dB over 3 seed(s).")
    assert "B: 0.10 dB behind, beyond the seed-to-seed spread (per-seed differences 0.10 to 0.10 dB" in text


def test_paired_differences_that_straddle_zero_are_a_tie():
    best, other = neural("A", [19.3, 19.2, 19.4]), neural("B", [19.0, 19.3, 19.3])
    text = compare.verdict([best, other, classical("median filter", 14.2)], "notmnist", 0.3)
    # Differences 0.3, -0.1, 0.1: mean 0.1, sd 0.2, margin 4.3027 * 0.2 / sqrt(3) = 0.50.
    assert ("B: a tie (0.10 dB behind on average; per-seed differences -0.10 to 0.30 dB, "
            "standard deviation 0.200, 95% interval -0.40 to 0.60 dB)") in text
    assert ("Every decoder beats the best classical filter (median filter, 14.20 dB) "
            "by at least 5.00 dB") in text  # B: mean 19.20 dB.


def test_one_seed_gives_no_spread_to_judge_by():
    text = compare.verdict([neural("A", [19.0]), neural("B", [18.0])], "mnist", 0.5)
    assert "B: 1.00 dB behind; with one seed there is no spread" in text


def test_classical_beating_a_decoder_is_said():
    text = compare.verdict([neural("A", [12.0]), classical("median filter", 14.0)], "mnist", 0.5)
    assert "The best classical filter (median filter, 14.00 dB) beats A (12.00 dB)" in text


def test_sweep_summary_names_the_winner_per_level():
    same = {0.2: [neural("A", [20.0]), neural("B", [19.0])], 0.8: [neural("A", [15.0]), neural("B", [14.0])]}
    assert compare.sweep_summary(same) == "At every noise level (0.2, 0.8), A scores best."
    moved = {0.8: [neural("A", [14.0]), neural("B", [15.0])], 0.2: [neural("A", [20.0]), neural("B", [19.0])]}
    assert compare.sweep_summary(moved) == "The best decoder changes with the noise level (0.2: A; 0.8: B)."


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


# ------------------------------------------------------- timing, warnings, arguments


class _FakeOptimizer:
    iterations = 0


def test_training_seconds_leave_out_the_first_call_into_the_graph(monkeypatch):
    clock = iter([0.0, 10.0, 12.0])  # Begin; first call (16 steps, tracing) done; end after 16 more.
    monkeypatch.setattr(training.time, "perf_counter", lambda: next(clock))
    timer = training.WarmTimer()
    timer.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    timer.model.optimizer = _FakeOptimizer()
    timer.on_train_begin()
    timer.model.optimizer.iterations = 16
    timer.on_train_batch_end(15)
    timer.model.optimizer.iterations = 32
    timer.on_train_end()
    assert timer.seconds == pytest.approx(4.0)  # 2 s per 16 warm steps, for all 32 steps.


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="counts TensorFlow traces")
def test_inference_is_timed_after_every_trace(monkeypatch):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    traces_when_timed = []
    real_clock = training.time.perf_counter

    def clock():
        traces_when_timed.append(model.predict_function.experimental_get_tracing_count())
        return real_clock()

    monkeypatch.setattr(training.time, "perf_counter", clock)
    x = np.zeros((compare_decoders.INFERENCE_BATCH + 20, 28, 28, 1), dtype=np.float32)
    denoised, ms = training.predict_timed(model, x, compare_decoders.INFERENCE_BATCH)
    assert denoised.shape == x.shape and ms > 0
    assert len(traces_when_timed) == 2 and traces_when_timed[0] == traces_when_timed[1] > 0


def test_only_retracing_notices_are_dropped():
    keep = training.WithoutRetracingNotices()

    def record(message):
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    assert not keep.filter(record("5 out of the last 9 calls to <f> triggered tf.function retracing."))
    assert keep.filter(record("Something else went wrong"))


def test_noise_factors_are_parsed_and_checked(tmp_path):
    args = compare_decoders.parse_args(["--noise-factors", "0.8, 0.2,0.5,0.2", "--output-dir", str(tmp_path)])
    assert args.noise_factors == [0.2, 0.5, 0.8]
    assert compare_decoders.parse_args(["--output-dir", str(tmp_path)]).noise_factors == [
        compare_decoders.NOISE_FACTOR]
    for bad in ("0.2,x", ",", "0.2,-0.1", "nan", "0.5,inf"):
        with pytest.raises(compare_decoders.ConfigError, match="noise"):
            compare_decoders.parse_args(["--noise-factors", bad, "--output-dir", str(tmp_path)])
    with pytest.raises(compare_decoders.ConfigError, match="goes past 4294967295"):
        compare_decoders.parse_args(["--seed", "4294967295", "--seeds", "2", "--output-dir", str(tmp_path)])
    assert compare_decoders.parse_args(["--seed", "4294967294", "--seeds", "2",
                                        "--output-dir", str(tmp_path)]).seeds == 2


# ------------------------------------------------------ resuming and the noise sweep


def tiny_decoder(filters):
    def build():
        inputs = keras.Input((28, 28, 1))
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x))

    return build


@pytest.fixture
def tiny_comparison(monkeypatch, tmp_path):
    """compare_decoders with two tiny decoders, two quick filters and a fake
    `train` that records its calls (an untrained model, nothing fitted)."""
    monkeypatch.setattr(compare_decoders, "DECODERS", {"wide": tiny_decoder(4), "narrow": tiny_decoder(2)})
    monkeypatch.setattr(baselines, "available_methods", lambda: (baselines.METHODS[:2], []))
    rng = np.random.default_rng(3)
    images = (rng.random((52, 28, 28, 1)) > 0.7).astype(np.float32)
    data = datasets.DenoisingData(images[:36], images[36:40], images[40:], np.zeros(12), ("x",))
    calls = []

    def fake_train(build, data, args, seed, fail_at=None):
        calls.append((args.noise_factor, seed))
        if len(calls) == fail_at:
            raise KeyboardInterrupt
        keras.utils.set_random_seed(seed)
        return build(), 0.5

    def run(*flags, fail_at=None):
        calls.clear()
        monkeypatch.setattr(compare_decoders, "train",
                            lambda *a: fake_train(*a, fail_at=fail_at))
        args = compare_decoders.parse_args(["--output-dir", str(tmp_path / "out"), "--data-dir",
                                            str(tmp_path), "--epochs", "1", "--batch-size", "4", *flags])
        return compare_decoders.compare_all(args, data, "float32")

    run.calls = calls
    run.out = tmp_path / "out"
    return run


def test_an_interrupted_run_trains_only_the_rest(tiny_comparison, capsys):
    with pytest.raises(KeyboardInterrupt):
        tiny_comparison("--seeds", "2", fail_at=4)  # 4 trainings to do; stopped during the fourth.
    saved = json.loads((tiny_comparison.out / "progress.json").read_text())
    trainings = sorted(k for k in saved["entries"] if " | seed " in k)
    assert trainings == ["noise 0.5 | narrow | seed 42", "noise 0.5 | wide | seed 42",
                         "noise 0.5 | wide | seed 43"]
    assert not (tiny_comparison.out / "results.json").exists()
    capsys.readouterr()

    levels = tiny_comparison("--seeds", "2")
    assert tiny_comparison.calls == [(0.5, 43)]  # Only narrow, seed 43, was left.
    printed = capsys.readouterr().out
    assert "3 of 4 trainings already finished" in printed
    assert "narrow" in printed and "4/4 done" in printed
    results = json.loads((tiny_comparison.out / "results.json").read_text())
    neural = [r for r in results["levels"][0]["results"] if r["kind"] == "neural"]
    assert [(r["method"], r["seeds"]) for r in neural] == [("wide", [42, 43]), ("narrow", [42, 43])]
    assert [r.method for r in levels[0].results if r.kind == "neural"] == ["wide", "narrow"]

    # The same command once more trains nothing; a third seed trains only that seed.
    tiny_comparison("--seeds", "2")
    assert tiny_comparison.calls == []
    tiny_comparison("--seeds", "3")
    assert tiny_comparison.calls == [(0.5, 44), (0.5, 44)]


def test_other_settings_start_afresh_and_say_so(tiny_comparison, capsys):
    tiny_comparison("--seeds", "1")
    capsys.readouterr()
    tiny_comparison("--seeds", "1", "--epochs", "2")
    lines = [line for line in capsys.readouterr().out.splitlines() if "other settings" in line]
    assert len(lines) == 1 and "(epochs 1 -> 2)" in lines[0] and "starting afresh" in lines[0]
    assert tiny_comparison.calls == [(0.5, 42), (0.5, 42)]
    saved = json.loads((tiny_comparison.out / "progress.json").read_text())
    assert saved["settings"]["epochs"] == 2


def test_a_noise_sweep_draws_psnr_against_noise(tiny_comparison):
    levels = tiny_comparison("--seeds", "2", "--noise-factors", "0.2,0.6")
    assert sorted(set(tiny_comparison.calls)) == [(0.2, 42), (0.2, 43), (0.6, 42), (0.6, 43)]
    out = tiny_comparison.out
    assert sorted(p.name for p in out.iterdir()) == [
        "artifacts.png", "comparison_noise_0.2.png", "comparison_noise_0.6.png", "progress.json",
        "psnr_vs_noise.png", "results.json", "results.md"]
    assert (out / "psnr_vs_noise.png").read_bytes().startswith(b"\x89PNG")
    results = json.loads((out / "results.json").read_text())
    assert results["noise_factors"] == [0.2, 0.6]
    assert [level["noise_factor"] for level in results["levels"]] == [0.2, 0.6]
    # More noise, a noisier input: the sweep really scored two different test sets.
    assert results["levels"][0]["noisy_psnr"] > results["levels"][1]["noisy_psnr"] + 3
    assert [level.noise_factor for level in levels] == [0.2, 0.6]
    assert results["verdict"].splitlines()[-1].startswith(("At every noise level", "The best decoder"))


def test_a_single_noise_level_draws_no_sweep(tiny_comparison):
    tiny_comparison("--seeds", "1")
    names = sorted(p.name for p in tiny_comparison.out.iterdir())
    assert names == ["artifacts.png", "comparison.png", "progress.json", "results.json", "results.md"]


# ------------------------------------------------------------------------ the script


def test_compare_decoders_end_to_end(tmp_path):
    data_dir = sparse_digits(tmp_path / "data", 600, seed=5)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(ROOT / "compare_decoders.py"), "--data-dir", str(data_dir),
         "--output-dir", str(out), "--limit", "256", "--epochs", "1", "--images-per-epoch", "256",
         "--seeds", "1"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"), "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # No framework warnings (retracing notices included).
    assert sorted(p.name for p in out.iterdir()) == [
        "artifacts.png", "comparison.png", "progress.json", "results.json", "results.md"]
    saved = json.loads((out / "results.json").read_text())
    names = [r["method"] for r in saved["levels"][0]["results"]]
    assert names[-4:] == ["Conv2DTranspose k3 s2", "Conv2DTranspose k4 s2",
                          "UpSampling2D nearest + Conv2D", "UpSampling2D bilinear + Conv2D"]
    assert {"median filter", "Gaussian filter", "total variation", "non-local means"} <= set(names)
    neural = [r for r in saved["levels"][0]["results"] if r["kind"] == "neural"]
    params = [int(r["params"].replace(",", "")) for r in neural]
    assert max(params) / min(params) < 1.05  # The same parameter budget within 5%.
    assert all(r["seeds"] == [42] and r["train_seconds"][0] > 0 for r in neural)
    assert saved["checkerboard_white_noise"] == pytest.approx(15 / 783)
    assert saved["verdict"] in (out / "results.md").read_text()
    assert saved["verdict"].splitlines()[0] in result.stdout
    assert "1/4 done, about" in result.stdout and "4/4 done" in result.stdout

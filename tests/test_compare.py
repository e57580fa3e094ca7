"""compare_decoders.py: verdict logic, checkerboard measure, classical baselines."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import digits, write_mnist_idx

from denoise_kit import baselines, compare, metrics

ROOT = Path(__file__).resolve().parent.parent


def neural(name, psnr):
    return compare.Result(name, "neural", "100", psnr=list(psnr), ssim=[0.8] * len(psnr))


def classical(name, psnr):
    return compare.Result(name, "classical", "size = 3", psnr=[psnr], ssim=[0.5])


# --------------------------------------------------------------------------- verdict


def test_mean_and_sample_sd():
    assert compare.mean_sd([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert compare.mean_sd([5.0]) == (5.0, 0.0)


def test_difference_within_the_spread_is_a_tie():
    best, other = neural("A", [19.0, 19.2, 19.4]), neural("B", [18.9, 19.1, 19.3])
    difference, spread, tie = compare.compare_two(best, other)
    assert difference == pytest.approx(0.1) and spread == pytest.approx(0.2) and tie
    text = compare.verdict([other, best], "mnist", 0.5)
    assert text.startswith("On mnist with noise 0.5, A scores best: 19.20 ± 0.20 dB over 3 seed(s).")
    assert "B: a tie (0.10 dB behind, within the seed spread of 0.20 dB)" in text


def test_difference_beyond_the_spread_is_a_win():
    best, other = neural("A", [19.50, 19.55, 19.60]), neural("B", [19.00, 19.05, 19.10])
    assert not compare.compare_two(best, other)[2]
    text = compare.verdict([best, other, classical("median filter", 14.2)], "notmnist", 0.3)
    assert "B: 0.50 dB behind, more than the seed spread of 0.05 dB" in text
    assert ("Every decoder beats the best classical filter (median filter, 14.20 dB) "
            "by at least 4.85 dB") in text


def test_one_seed_gives_no_spread_to_judge_by():
    text = compare.verdict([neural("A", [19.0]), neural("B", [18.0])], "mnist", 0.5)
    assert "with one seed there is no spread" in text


def test_classical_beating_a_decoder_is_said():
    text = compare.verdict([neural("A", [12.0]), classical("median filter", 14.0)], "mnist", 0.5)
    assert "The best classical filter (median filter, 14.00 dB) beats A (12.00 dB)" in text


def test_table_sorts_by_psnr_and_shows_spread():
    table = compare.results_table([classical("median filter", 14.2), neural("A", [19.0, 19.2])])
    lines = table.splitlines()
    assert lines[0].startswith("| method | params | PSNR (dB) | SSIM |")
    assert lines[2].startswith("| A | 100 | 19.10 ± 0.14 |")
    assert lines[3].startswith("| median filter | size = 3 | 14.20 |")


# ---------------------------------------------------------------------- checkerboard


def test_checkerboard_energy_of_stride_2_patterns():
    rows, cols = np.mgrid[:28, :28]
    assert compare.checkerboard_energy((-1.0) ** (rows + cols)) == pytest.approx(1.0)
    assert compare.checkerboard_energy((-1.0) ** cols) == pytest.approx(1.0)
    smooth = np.exp(-((rows - 14) ** 2 + (cols - 14) ** 2) / 50)
    assert compare.checkerboard_energy(smooth) < 1e-6
    mixed = smooth + 0.05 * (-1.0) ** (rows + cols)
    assert 0.01 < compare.checkerboard_energy(mixed) < 0.5
    assert compare.checkerboard_energy(np.zeros((28, 28))) == 0.0


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


# ------------------------------------------------------------------------ the script


def test_compare_decoders_end_to_end(tmp_path):
    data_dir = tmp_path / "data"
    images, labels = digits(600, seed=5)
    write_mnist_idx(data_dir / "mnist", "t10k", np.where(images > 200, images, 0), labels)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(ROOT / "compare_decoders.py"), "--data-dir", str(data_dir),
         "--output-dir", str(out), "--limit", "256", "--epochs", "1", "--seeds", "1"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_HOME": str(tmp_path / "keras_home"), "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "artifacts.png", "comparison.png", "results.json", "results.md"]
    saved = json.loads((out / "results.json").read_text())
    names = [r["method"] for r in saved["results"]]
    assert names[-4:] == ["Conv2DTranspose k3 s2", "Conv2DTranspose k4 s2",
                          "UpSampling2D nearest + Conv2D", "UpSampling2D bilinear + Conv2D"]
    assert {"median filter", "Gaussian filter", "total variation", "non-local means"} <= set(names)
    params = [int(r["params"].replace(",", "")) for r in saved["results"] if r["kind"] == "neural"]
    assert max(params) / min(params) < 1.05  # The same parameter budget within 5%.
    assert saved["verdict"] in (out / "results.md").read_text()
    assert saved["verdict"].splitlines()[0] in result.stdout

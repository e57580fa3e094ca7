"""Whole runs on the active Keras backend. CI runs this file, with the demos'
tests, under KERAS_BACKEND=jax and KERAS_BACKEND=torch as well (see .ci/run)."""

import json

import keras
import numpy as np
import pytest
from conftest import run_program, sparse_digits

# Whole runs of every script, each in a new process.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("script", ["denoise_transpose_mnist.py", "denoise_upsampling_notmnist.py"])
def test_denoiser_trains_and_scores_on_this_backend(script, tmp_path):
    data = sparse_digits(tmp_path / "data", 600, seed=5, names=("mnist", "notmnist"))
    out = tmp_path / "out"
    result = run_program(script, "--data-dir", str(data), "--output-dir", str(out),
                         "--limit", "256", "--epochs", "2", "--images-per-epoch", "256")
    backend = keras.backend.backend()
    results = json.loads((out / "metrics.json").read_text())
    assert results["backend"] == backend and f"Training on {backend}" in result.stdout
    # PyTorch's trainer runs one step per call; the others take the script's 16.
    steps = 1 if backend == "torch" else 16
    assert f"{steps} step(s) per execution" in results["device"]
    assert np.isfinite(results["psnr_denoised"]) and 0 <= results["ssim_denoised"] <= 1
    written = {p.name for p in out.iterdir()}
    assert {"model.keras", "progress.png", "history.png", "reconstructions.png"} <= written


def test_compare_decoders_runs_on_this_backend(tmp_path):
    data = sparse_digits(tmp_path / "data", 600, seed=5)
    out = tmp_path / "out"
    result = run_program("compare_decoders.py", "--data-dir", str(data), "--output-dir", str(out),
                         "--limit", "256", "--epochs", "1", "--images-per-epoch", "256", "--seeds", "1")
    backend = keras.backend.backend()
    saved = json.loads((out / "results.json").read_text())
    assert saved["backend"] == backend and f"Training on {backend}, " in result.stdout
    # PyTorch's trainer runs one step per call; the others take the script's 16.
    steps = 1 if backend == "torch" else 16
    assert saved["device"].endswith(f"{steps} step(s) per execution")
    assert saved["images_per_epoch"] == 256  # A whole number of executions of 16 x 16 images.
    neural = [r for r in saved["levels"][0]["results"] if r["kind"] == "neural"]
    assert len(neural) == 4 and all(np.isfinite(r["psnr"][0]) for r in neural)
    assert all(f"{r['method']:31}seed 42: " in result.stdout for r in neural)  # One line per training.
    assert (out / "comparison.png").is_file() and (out / "artifacts.png").is_file()


def test_tensorboard_where_tensorflow_is_installed_and_one_line_where_not(tmp_path):
    """keras.callbacks.TensorBoard writes through tf.summary on every backend: with TensorFlow
    and TensorBoard installed beside the backend the run logs; without them it stops at once."""
    import importlib.util

    data = sparse_digits(tmp_path / "data", 300, seed=5)
    out = tmp_path / "out"
    installed = all(importlib.util.find_spec(m) for m in ("tensorflow", "tensorboard"))
    result = run_program("denoise_transpose_mnist.py", "--data-dir", str(data), "--output-dir", str(out),
                         "--limit", "128", "--epochs", "1", "--images-per-epoch", "64", "--tensorboard",
                         check=installed)
    if installed:
        (run,) = (out / "tensorboard").iterdir()  # Keras' curves, the pictures, and in the run's own
        logged = {p.parent.name for p in run.rglob("events.out.tfevents.*")}  # folder HParams and scores.
        assert logged == {"train", "validation", "images", run.name}
    else:
        assert result.returncode == 2 and not out.exists()
        missing = [name for name in ("tensorflow", "tensorboard") if not importlib.util.find_spec(name)]
        verb = "is" if len(missing) == 1 else "are"
        assert result.stderr.strip().splitlines() == [
            f"error: --tensorboard writes TensorFlow's summaries, and {' and '.join(missing)} {verb} missing "
            f"beside the {keras.backend.backend()} backend: pip install {' '.join(missing)}"]

"""Whole runs on the active Keras backend. CI runs this file, with the demos'
tests, under KERAS_BACKEND=jax and KERAS_BACKEND=torch as well (see .ci/run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
from conftest import digits, write_mnist_idx

ROOT = Path(__file__).resolve().parent.parent


def test_denoiser_trains_and_scores_on_this_backend(tmp_path):
    images, labels = digits(600, seed=5)
    write_mnist_idx(tmp_path / "data" / "mnist", "t10k", np.where(images > 200, images, 0).astype(np.uint8),
                    labels)
    out = tmp_path / "out"
    env = {**os.environ, "MPLBACKEND": "Agg", "KERAS_HOME": str(tmp_path / "keras_home")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "denoise_transpose_mnist.py"), "--data-dir", str(tmp_path / "data"),
         "--output-dir", str(out), "--limit", "256", "--epochs", "2",
         "--images-per-epoch", "256"],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    backend = keras.backend.backend()
    results = json.loads((out / "metrics.json").read_text())
    assert results["backend"] == backend and f"Training on {backend}" in result.stdout
    # PyTorch's trainer runs one step per call; the others take the script's 16.
    steps = 1 if backend == "torch" else 16
    assert f"{steps} step(s) per execution" in results["device"]
    assert np.isfinite(results["psnr_denoised"]) and 0 <= results["ssim_denoised"] <= 1
    written = {p.name for p in out.iterdir()}
    assert {"model.keras", "progress.png", "history.png", "reconstructions.png"} <= written

"""Trained denoisers for the playground's tests, made in seconds: both scripts,
run in this process on synthetic strokes (light lines and rings on black, as
digits are), with a small budget."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
from conftest import run_in_process, write_mnist_idx

from denoise_kit import playground_app

QUICK_TRAINING = ("--epochs", "2", "--images-per-epoch", "1024", "--batch-size", "16", "--limit", "1500",
                  "--precision", "float32")


def stroke_images(n: int, seed: int) -> np.ndarray:
    """n 28x28 uint8 images of one to three light strokes on black."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        picture = Image.new("L", (28, 28))
        pen = ImageDraw.Draw(picture)
        for _ in range(rng.integers(1, 4)):
            x0, y0, x1, y1 = (int(v) for v in rng.integers(4, 24, size=4))
            width = int(rng.integers(2, 4))
            if rng.random() < 0.3:
                pen.ellipse((min(x0, x1), min(y0, y1), max(x0, x1) + 2, max(y0, y1) + 2), outline=255,
                            width=width)
            else:
                pen.line((x0, y0, x1, y1), fill=255, width=width)
        images[i] = np.asarray(picture)
    return images


def train_playground_models(outputs: Path, data: Path) -> Path:
    """outputs/<script>/model.keras for both denoisers, as the scripts save them."""
    images = stroke_images(1500, seed=3)
    for name in ("mnist", "notmnist"):
        write_mnist_idx(data / name, "t10k", images, (np.arange(len(images)) % 10).astype(np.uint8))
    for spec in playground_app.DENOISERS:
        run_in_process(f"{spec.script}.py", "--data-dir", str(data), "--output-dir",
                       str(outputs / spec.script), *QUICK_TRAINING)
    return outputs


def free_port() -> int:
    """A port nothing on this machine listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

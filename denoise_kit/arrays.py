"""Feeding single small images to Keras layers, for the demos."""

from __future__ import annotations

import keras
import numpy as np


def as_batch(image: np.ndarray) -> np.ndarray:
    """(H, W) -> (1, H, W, 1): one image with one channel, as Keras layers expect."""
    return np.asarray(image, dtype="float32").reshape(1, *np.shape(image), 1)


def predict(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """Run one (H, W) image through `model` and return the (H', W') result."""
    return keras.ops.convert_to_numpy(model(as_batch(image)))[0, :, :, 0]

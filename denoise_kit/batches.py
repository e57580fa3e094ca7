"""Training batches that depend only on (seed, step), so a resumed run is exact.

Keras' own shuffling can't be resumed. On TensorFlow, once a global seed is
set, `fit(shuffle=True)` replays the same order every epoch
(tensorflow/tensorflow#26179); on JAX and PyTorch it draws from NumPy's global
generator, which no backup holds. Here pass p over the images follows a
permutation seeded by (seed, p), the passes follow each other endlessly, and
`fit(steps_per_epoch=...)` cuts epochs of a fixed number of images out of
that stream. A run resumed at epoch e starts the stream at step
e * steps_per_epoch and sees exactly the batches it would have seen.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from denoise_kit.errors import ConfigError

PREFETCH_IMAGES = 512  # Images tf.data keeps ready (four calls into the graph at 16 steps of 8).


def steps_per_epoch(images_per_epoch: int, batch_size: int, steps_per_execution: int = 1) -> int:
    """Batches in an epoch of about `images_per_epoch` images.

    A whole number of `steps_per_execution` chunks: Keras runs every chunk
    in full, so any other count would train more steps than it reports.
    """
    chunks = max(1, round(images_per_epoch / (batch_size * steps_per_execution)))
    return chunks * steps_per_execution


def image_batches(images: np.ndarray, *, batch_size: int, seed: int, first_step: int = 0) -> Any:
    """An endless stream of (clean, clean) batches for `model.fit`.

    `first_step` is where the stream starts: 0 for a new run, the number of
    steps already trained for a resumed one. TensorFlow gets a tf.data
    pipeline (a Python generator there runs several times slower); JAX and
    PyTorch get a generator over NumPy arrays. Their orders differ.
    """
    if batch_size > len(images):
        raise ConfigError(f"batch size {batch_size} is larger than the {len(images):,} training images: "
                          "lower --batch-size or raise --limit")
    first_image = first_step * batch_size
    if keras.backend.backend() == "tensorflow":
        return _tf_batches(images, batch_size, seed, first_image)
    return _numpy_batches(images, batch_size, seed, first_image)


def numpy_pass_order(seed: int, pass_index: int, size: int) -> np.ndarray:
    """The order of the images in pass `pass_index` (JAX and PyTorch)."""
    return np.random.default_rng((seed, pass_index)).permutation(size)


def _numpy_batches(images: np.ndarray, batch_size: int, seed: int,
                   first_image: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    first_pass, offset = divmod(first_image, len(images))

    def indices() -> Iterator[int]:  # Image indices, pass after pass, without end.
        skip = offset
        for pass_index in itertools.count(first_pass):
            yield from numpy_pass_order(seed, pass_index, len(images))[skip:].tolist()
            skip = 0

    stream = indices()
    while True:
        batch = images[np.fromiter(itertools.islice(stream, batch_size), dtype=np.int64, count=batch_size)]
        yield batch, batch


def _tf_batches(images: np.ndarray, batch_size: int, seed: int, first_image: int) -> Any:
    import tensorflow as tf

    first_pass, offset = divmod(first_image, len(images))
    pixels = tf.constant(images)

    def pass_order(pass_index):  # A stateless permutation: the same for the same (seed, pass).
        pass_seed = tf.stack([tf.constant(seed, tf.int64), pass_index])
        keys = tf.random.stateless_uniform([len(images)], seed=pass_seed)
        return tf.argsort(keys)

    def clean_pair(indices):  # Inputs and targets are the same clean images.
        batch = tf.gather(pixels, indices)
        return batch, batch

    indices = (tf.data.Dataset.range(first_pass, sys.maxsize)
               .map(pass_order).unbatch().skip(offset)
               .batch(batch_size, drop_remainder=True))
    # No tf.data autotuning: its thread, asleep for up to a minute between tunings, held up
    # the end of `fit` by 23-42 s in 3 of 4 runs with TensorFlow's oneDNN kernels on (the
    # default on CPUs with AVX512-VNNI, AVX512-BF16 or AMX): the iterator, deleted as `fit`
    # returns, waits for it. A fixed prefetch trains as fast (docs/speed.md#where-the-time-goes).
    options = tf.data.Options()
    options.autotune.enabled = False
    prefetch = max(2, PREFETCH_IMAGES // batch_size)
    # AUTOTUNE parallelism without autotuning: as many parallel calls as there are cores.
    return (indices.map(clean_pair, num_parallel_calls=tf.data.AUTOTUNE).prefetch(prefetch)
            .with_options(options))

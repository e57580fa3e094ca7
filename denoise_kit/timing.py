"""Timing training and inference fairly, for comparisons (compare_decoders.py)."""

from __future__ import annotations

import time

import keras


class WarmTimer(keras.callbacks.Callback):
    """Training seconds without building and tracing the graph (`seconds`).

    The first call into a compiled training graph builds and traces it, which
    can take longer than many steps. The timer starts the clock when that call
    returns and counts the steps it covered at the speed of the others.
    """

    def on_train_begin(self, logs=None):
        self._begin = time.perf_counter()
        self._first_done = None

    def on_train_batch_end(self, batch, logs=None):
        if self._first_done is None:
            self._first_done = time.perf_counter()
            self._first_steps = int(self.model.optimizer.iterations)

    def on_train_end(self, logs=None):
        end, steps = time.perf_counter(), int(self.model.optimizer.iterations)
        if self._first_done is None or steps <= self._first_steps:
            self.seconds = end - self._begin  # A single call into the graph: nothing to separate.
        else:
            self.seconds = (end - self._first_done) * steps / (steps - self._first_steps)


def predict_timed(model: keras.Model, images, batch_size: int = 256):
    """The model's outputs and the warm inference time in milliseconds per image.

    The warm-up runs the model on a few images with the batch shapes of the
    timed run (full batches and the last, shorter one), so no backend traces or
    compiles anything while the clock runs.
    """
    remainder = len(images) % batch_size if len(images) > batch_size else 0
    model.predict(images[: min(len(images), batch_size) + remainder], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    outputs = model.predict(images, batch_size=batch_size, verbose=0)
    return outputs, 1000 * (time.perf_counter() - start) / len(images)

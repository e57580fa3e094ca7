"""Watching a denoiser learn: a PSNR metric for model.compile, and a callback
that denoises the same few validation images as training goes on.

    model.compile(..., metrics=[progress.psnr_metric])   # logs psnr and val_psnr
    model.fit(..., callbacks=[..., progress.ProgressSnapshots(x_val, x_val_noisy, output_dir),
                              keras.callbacks.CSVLogger(...)])   # Logs epoch_seconds too.

The callback keeps its snapshots in ``progress.npz`` in the output folder
(rewritten atomically after each snapshot), so a run interrupted and resumed
with BackupAndRestore keeps the pictures of the epochs it had already
finished. When training ends it draws ``progress.png``: the clean images, their
noisy versions, then the denoiser's output before training and after a few of
the epochs, each image titled with its PSNR. Given a `tensorboard_dir` (the
log folder of a keras.callbacks.TensorBoard), it also writes the same images,
clean, noisy and denoised, as an image summary after every epoch. It marks
where training begins and ends for phases.py.
"""

from __future__ import annotations

import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import ops

from denoise_kit import metrics, phases, plots
from denoise_kit.files import atomic_path

SNAPSHOT_FILE = "progress.npz"
FIGURE_FILE = "progress.png"
MAX_SNAPSHOTS = 10  # Rows of denoised images in progress.png, "before training" included.
IMAGES_SHOWN = 8
TENSORBOARD_IMAGES = "validation images: clean, noisy, denoised"  # The image summary's tag.
TENSORBOARD_IMAGES_DIR = "images"  # Beside keras.callbacks.TensorBoard's train/ and validation/.


# ----------------------------------------------------------------------------- the metric


def psnr_metric(y_true, y_pred):
    """PSNR in dB of each image in the batch, data range 1.0.

    The same definition as denoise_kit.metrics.psnr_per_image (a perfect image
    scores metrics.MAX_PSNR instead of infinity), in keras.ops so it runs inside
    the compiled training step on any backend. Returning one value per image,
    as Keras' own metric functions do, lets Keras average over images, not
    batches: the logged "val_psnr" is the mean PSNR of the validation images,
    whatever the size of the last batch. Keras logs it as "psnr" and "val_psnr".
    """
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    pixel_axes = tuple(range(1, len(y_true.shape)))
    mse = ops.mean(ops.square(y_true - y_pred), axis=pixel_axes)
    # The floor only keeps log() finite; a zero error is replaced by MAX_PSNR below.
    psnr = -10.0 * ops.log(ops.maximum(mse, 1e-20)) / np.log(10.0)
    return ops.where(mse > 0, psnr, metrics.MAX_PSNR)


psnr_metric.__name__ = "psnr"  # Keras names a metric function's log columns after __name__.


# ----------------------------------------------------------------------------- snapshots


def snapshot_epochs(epochs: int, max_snapshots: int = MAX_SNAPSHOTS) -> list[int]:
    """Which finished-epoch counts get a snapshot: 0 (before training), the last
    epoch, and evenly spaced ones between, `max_snapshots` at most in all."""
    if epochs + 1 <= max_snapshots:
        return list(range(epochs + 1))
    spread = np.round(np.linspace(1, epochs, max(max_snapshots - 1, 1))).astype(int)
    return sorted({0, epochs, *spread.tolist()})


@dataclass
class Snapshots:
    """Fixed clean and noisy images, and the denoiser's output for them after
    each snapshotted epoch (0 = before training)."""

    clean: np.ndarray
    noisy: np.ndarray
    denoised: dict[int, np.ndarray] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write all of it as one .npz, atomically (keys clean, noisy, epoch_<k>)."""
        path = Path(path)
        arrays = {f"epoch_{k}": v for k, v in sorted(self.denoised.items())}
        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, clean=self.clean, noisy=self.noisy, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Snapshots | None:
        """The snapshots saved at `path`, or None if there is no readable file."""
        try:
            with np.load(path) as saved:
                denoised = {int(k.removeprefix("epoch_")): saved[k] for k in saved.files
                            if k.startswith("epoch_")}
                return cls(saved["clean"], saved["noisy"], denoised)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None


def progress_figure(snapshots: Snapshots, path: str | os.PathLike[str],
                    title: str | None = None) -> Path:
    """Rows: clean, noisy, then the denoised images after each snapshotted
    epoch, every image titled with its PSNR against the clean one.

    Each row is one strip of images in one axes: a dozen axes draw in a
    fraction of the time of a hundred, and this runs at the end of training.
    """
    import matplotlib.pyplot as plt

    rows = [("clean", snapshots.clean, None), ("noisy", snapshots.noisy, _psnr(snapshots, snapshots.noisy))]
    for epoch, denoised in sorted(snapshots.denoised.items()):
        rows.append(("before\ntraining" if epoch == 0 else f"epoch {epoch}", denoised,
                     _psnr(snapshots, denoised)))
    count, height, width = snapshots.clean.shape[:3]
    fig, axes = plt.subplots(len(rows), 1, figsize=(1.1 * count + 0.9, 1.28 * len(rows) + 0.5),
                             squeeze=False)
    for ax, (name, images, psnr) in zip(axes[:, 0], rows, strict=True):
        plots.show_image(ax, _strip(images))
        ax.text(-0.01, 0.5, name, transform=ax.transAxes, ha="right", va="center", fontsize=10)
        for i, value in enumerate(psnr if psnr is not None else []):
            ax.text((i + 0.5) * (width + _GAP) - _GAP / 2, -1, f"{value:.1f} dB", ha="center",
                    va="bottom", fontsize=8)
    if title:
        fig.suptitle(f"{title}\n(PSNR of each image against the clean one)", fontsize=11)
    fig.tight_layout()
    return plots.save_figure(fig, path)


_GAP = 3  # Blank pixels between the images of a strip.


def _strip(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 1) images side by side as one (H, N * (W + gap) - gap) array, NaN (blank) between."""
    images = np.asarray(images, dtype=np.float32)[..., 0]
    gap = np.full((images.shape[1], _GAP), np.nan, dtype=np.float32)
    return np.concatenate([part for image in images for part in (image, gap)][:-1], axis=1)


def _psnr(snapshots: Snapshots, images: np.ndarray) -> np.ndarray:
    return metrics.psnr_per_image(snapshots.clean, images)


class ProgressSnapshots(keras.callbacks.Callback):
    """Denoises the same `count` noisy validation images before training and
    after a few epochs (every epoch when there are at most `max_snapshots` - 1),
    always including the last one; writes progress.npz as it goes and
    progress.png when training ends. It also adds each epoch's seconds to the
    epoch's logs (`epoch_seconds`), so a CSVLogger after it in the callbacks
    list keeps the training time of every epoch, across resumed runs too.

    The model being fitted is called directly, with training=False (a
    FreshNoise layer in front of the denoiser then passes images through): an
    eager call on a few images, so no graph is traced for it.

    Resuming: the first epoch this run starts from tells a fresh run (epoch 0:
    earlier snapshots are discarded) from a resumed one (its snapshots up to
    that epoch are kept, and the restored weights fill in that epoch's
    snapshot if the interruption came before it was saved).

    With `tensorboard_dir`, every epoch's denoised images also go to
    `tensorboard_dir/images` as one image summary (three rows: clean, noisy,
    denoised) at the epoch's step (0 for the first epoch, as
    keras.callbacks.TensorBoard counts them).
    """

    def __init__(self, clean: np.ndarray, noisy: np.ndarray, output_dir: str | os.PathLike[str],
                 title: str | None = None, count: int = IMAGES_SHOWN,
                 max_snapshots: int = MAX_SNAPSHOTS,
                 tensorboard_dir: str | os.PathLike[str] | None = None):
        super().__init__()
        # A folder of its own: TensorBoard reads one growing event file per folder.
        self.images_dir = None if tensorboard_dir is None else Path(tensorboard_dir) / TENSORBOARD_IMAGES_DIR
        self._writer = None
        self._epoch_times: list[float] = []
        self.clean = np.asarray(clean[:count], dtype="float32")
        self.noisy = np.asarray(noisy[:count], dtype="float32")
        self.snapshot_path = Path(output_dir) / SNAPSHOT_FILE
        self.figure_path = Path(output_dir) / FIGURE_FILE
        self.title = title
        self.max_snapshots = max_snapshots
        self.snapshots = Snapshots(self.clean, self.noisy)
        self._schedule: set[int] = set()
        self._finished: int | None = None  # Epochs finished so far; None until training starts.

    def on_train_begin(self, logs=None):
        phases.mark("model")  # Everything since the data was loaded, up to training.
        self._schedule = set(snapshot_epochs(self.params["epochs"], self.max_snapshots))
        self._finished = None
        self._epoch_times = []

    def on_epoch_begin(self, epoch, logs=None):
        if self._finished is None:  # The first epoch of this run: weights are restored by now.
            self._start(finished=epoch)
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._epoch_start
        self._epoch_times.append(seconds)
        if logs is not None:  # Before the snapshot: the training (and validation) time alone.
            logs["epoch_seconds"] = seconds
        self._finished = epoch + 1
        if self._finished in self._schedule:
            self._snapshot(self._finished)
        if self.images_dir is not None:
            self._write_images(epoch)

    def on_train_end(self, logs=None):
        phases.mark("training")
        # The first epoch's extra time over the others: tracing and compiling the graphs.
        if len(self._epoch_times) > 1:
            phases.move(self._epoch_times[0] - float(np.median(self._epoch_times[1:])), "training", "tracing")
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._finished is None:  # Nothing left to train: a resumed run that had finished.
            saved = Snapshots.load(self.snapshot_path)
            if saved is not None and not self.figure_path.is_file():  # Its figure was never written.
                progress_figure(saved, self.figure_path, self.title)
        else:
            if self._finished not in self.snapshots.denoised:  # Stopped early: show where it ended.
                self._snapshot(self._finished)
            progress_figure(self.snapshots, self.figure_path, self.title)
        phases.mark("files")

    def _start(self, finished: int) -> None:
        self._finished = finished
        saved = Snapshots.load(self.snapshot_path) if finished > 0 else None
        if saved is not None and _same_images(saved, self.snapshots):
            self.snapshots.denoised = {k: v for k, v in saved.denoised.items() if k <= finished}
        else:
            self.snapshots.denoised = {}
        if finished in self._schedule and finished not in self.snapshots.denoised:
            self._snapshot(finished)

    def _snapshot(self, finished: int) -> None:
        self.snapshots.denoised[finished] = self._denoise()
        self.snapshots.save(self.snapshot_path)

    def _denoise(self) -> np.ndarray:
        return ops.convert_to_numpy(ops.cast(self.model(self.noisy, training=False), "float32"))

    def _write_images(self, epoch: int) -> None:
        """The clean, noisy and denoised images as one picture, at the epoch's step (as
        keras.callbacks.TensorBoard logs epochs), flushed at once: a killed run keeps it."""
        import tensorflow as tf

        denoised = self.snapshots.denoised.get(epoch + 1)
        if denoised is None:
            denoised = self._denoise()
        clean, noisy, denoised = (_strip(images) for images in (self.clean, self.noisy, denoised))
        gap = np.full((_GAP, clean.shape[1]), np.nan, dtype=np.float32)
        rows = np.concatenate([clean, gap, noisy, gap, denoised], axis=0)
        picture = np.nan_to_num(rows, nan=1.0)[np.newaxis, :, :, np.newaxis]  # White between the images.
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.images_dir))
        with self._writer.as_default():
            tf.summary.image(TENSORBOARD_IMAGES, picture, step=epoch)
        self._writer.flush()


def _same_images(first: Snapshots, second: Snapshots) -> bool:
    """Whether two runs watch the same images (a resumed run always does)."""
    return (first.noisy.shape == second.noisy.shape and np.array_equal(first.noisy, second.noisy)
            and np.array_equal(first.clean, second.clean))

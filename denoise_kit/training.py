"""What a denoiser's `fit` needs besides the lesson, behind one call:

    run = training.resumable_run(CONFIG, machine, x_train, x_val, x_val_noisy, steps_per_epoch,
                                 "Conv2DTranspose")
    trainer.fit(run.clean_batches, steps_per_epoch=steps_per_epoch, epochs=EPOCHS,
                validation_data=(x_val_noisy, x_val), callbacks=run.callbacks)

`run.callbacks`, in this order:
- ProgressSnapshots (progress.py): progress.png, the validation images
  denoised epoch by epoch, and each epoch's seconds in the logs;
- keras.callbacks.CSVLogger: training_log.csv, one row per epoch;
- a keras.callbacks.BackupAndRestore made kill-proof (resume.py): stop a run
  at any time, run the same command again, and it resumes from the last
  finished epoch with the numbers an unbroken run gives;
- keras.callbacks.TerminateOnNaN;
- with TENSORBOARD, keras.callbacks.TensorBoard, in
  OUTPUT_DIR/tensorboard/<the run's start time> (`run.tensorboard_dir`).

The figures' title names the decoder, the dataset and the noise.

`run.clean_batches`: the training images as an endless, shuffled stream of
(clean, clean) batches (batches.py), started where a resumed run stopped.
`run.settings`: what the backup checks before it resumes, and what
metrics.json records (results.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from denoise_kit import batches, files, progress, resume
from denoise_kit.hardware import Hardware


@dataclass
class TrainingRun:
    """What `resumable_run` made: the callbacks and the stream for `fit`, and what the results record."""

    output_dir: Path
    settings: dict[str, Any]
    device: str
    title: str
    train_images: int
    validation_images: int
    callbacks: list[keras.callbacks.Callback] = field(default_factory=list)
    clean_batches: Any = None
    tensorboard_dir: str | None = None  # With TENSORBOARD: this run's logs.


def resumable_run(config: dict[str, Any], machine: Hardware, x_train: np.ndarray, x_val: np.ndarray,
                  x_val_noisy: np.ndarray, steps_per_epoch: int, decoder: str) -> TrainingRun:
    """The callbacks and the batch stream of a run into OUTPUT_DIR that resumes where it stopped."""
    output_dir = config["OUTPUT_DIR"]
    title = f"{decoder} denoiser on {config['DATASET']}, noise {config['NOISE_FACTOR']:g}"
    settings = {**config, "trained_images_per_epoch": steps_per_epoch * config["BATCH_SIZE"],
                "policy": machine.policy, "steps_per_execution": machine.steps_per_execution}
    backup = resume.KillProofBackupAndRestore(output_dir, settings)
    tensorboard_dir = backup.tensorboard_dir if config.get("TENSORBOARD") else None
    log = Path(output_dir) / "training_log.csv"
    if backup.resuming:  # A kill after an epoch's log line but before its backup: that epoch runs again.
        keep_first_epochs(log, backup.finished_epochs)
    callbacks: list[keras.callbacks.Callback] = [
        # It adds each epoch's seconds to the logs, so it goes before the CSVLogger.
        progress.ProgressSnapshots(x_val, x_val_noisy, output_dir, title=title,
                                   tensorboard_dir=tensorboard_dir),
        keras.callbacks.CSVLogger(str(log), append=backup.resuming),
        backup,  # After the log line: the backup's epoch always has its line (see keep_first_epochs).
        keras.callbacks.TerminateOnNaN(),
    ]
    if tensorboard_dir:  # Per epoch: loss, PSNR and their validation values, the learning rate, seconds.
        callbacks.append(keras.callbacks.TensorBoard(log_dir=tensorboard_dir))
    clean_batches = batches.image_batches(x_train, batch_size=config["BATCH_SIZE"], seed=config["SEED"],
                                          first_step=backup.finished_epochs * steps_per_epoch)
    return TrainingRun(Path(output_dir), settings, machine.description, title, len(x_train), len(x_val),
                       callbacks, clean_batches, tensorboard_dir)


def keep_first_epochs(log: Path, epochs: int) -> None:
    """Cut training_log.csv to its header and first `epochs` lines: the epochs the backup holds."""
    if not log.is_file():
        return
    lines = log.read_text().splitlines(keepends=True)
    complete = [line for line in lines[:epochs + 1] if line.endswith("\n")]
    if len(complete) < len(lines):
        files.write_text(log, "".join(complete))

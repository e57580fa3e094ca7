"""Resuming: a BackupAndRestore whose backup survives a kill at any instant.

    backup = resume.KillProofBackupAndRestore(OUTPUT_DIR, settings=CONFIG)
    model.fit(..., callbacks=[backup, ...])

Stop a run at any time (Ctrl-C, a kill, a crash) and run the same command
again: training continues from the last finished epoch, with the weights,
the optimizer and the noise generator as they were, and ends with the
numbers an unbroken run gives. The backup records the settings it was made
with: other settings give one line instead of silently mixing two runs.
One run at a time writes into an output folder (folders.py).

Each run has a name, the time it began (e.g. "20261203-141502"), kept in the
backup so that a resumed run has the same: `backup.tensorboard_dir` is
OUTPUT_DIR/tensorboard/<name>, and a resumed run's TensorBoard logs go on
in the same folder, from the epoch where it stopped.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from denoise_kit import errors, folders
from denoise_kit.errors import ConfigError
from denoise_kit.files import atomic_path, write_json, write_text

BACKUP_DIR = "backup"
SETTINGS_FILE = "settings.json"
METADATA_FILE = "training_metadata.json"
RUN_NAME_FILE = "run_name.txt"
TENSORBOARD_DIR = "tensorboard"
NOT_COMPARED = ("TENSORBOARD",)  # Settings a resumed run may change.


class KillProofBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup survives a kill at any instant, that
    refuses to resume a run made with other settings, and that holds the
    output folder for this run alone.

    Keras writes the weights, then training_metadata.json in place, so a
    kill mid-write leaves a file the next start cannot read. Here each
    epoch's weights go to a new file, and the metadata naming them is
    replaced atomically afterwards: whatever the metadata says is complete.
    The noise generators' states are kept beside the weights, so a resumed
    run draws the noise an unbroken one would.
    """

    def __init__(self, output_dir: str | os.PathLike[str], settings: dict[str, Any]):
        output_dir = Path(output_dir)
        folders.hold(output_dir)  # A second run into this folder stops here, with one line.
        backup_dir = output_dir / BACKUP_DIR
        settings = json.loads(json.dumps(settings, default=str))  # Paths and tuples as JSON has them.
        for name in NOT_COMPARED:  # Logging changes no number: a resumed run may turn it on or off.
            settings.pop(name, None)
        metadata = read_backup_metadata(backup_dir)
        self.resuming = metadata is not None
        self.finished_epochs = int(metadata["epoch"]) if metadata else 0
        if self.resuming:
            _check_same_settings(backup_dir, settings)
            print(f"Resuming from {backup_dir}: {self.finished_epochs} epoch(s) already finished", flush=True)
        else:
            if (backup_dir / METADATA_FILE).exists():
                print(f"{backup_dir} holds no complete epoch (a run stopped while saving its first "
                      "one): starting afresh", flush=True)
            folders.remove_own_folder(backup_dir)  # An empty, half-made or damaged backup of ours.
            folders.make_own_folder(backup_dir)
            write_json(backup_dir / SETTINGS_FILE, settings)
            write_text(backup_dir / RUN_NAME_FILE, _new_run_name(output_dir / TENSORBOARD_DIR))
        self.run_name = _run_name(backup_dir)
        self.tensorboard_dir = str(output_dir / TENSORBOARD_DIR / self.run_name)
        errors.INTERRUPTED_HINT = "run the same command again to resume from the last finished epoch"
        # Kept when training ends: results.save removes it once every result file is
        # written, so a run that fails after training (a full disk) still resumes.
        super().__init__(str(backup_dir), delete_checkpoint=False)

    def _save_model(self):
        folder = Path(self.backup_dir)
        weights = folder / f"epoch-{self._current_epoch}.weights.h5"
        random_state = folder / f"epoch-{self._current_epoch}.random-state.npz"
        self.model.save_weights(weights, overwrite=True)  # New names: no complete file is touched.
        with atomic_path(random_state) as tmp:
            with open(tmp, "wb") as file:
                np.savez(file, *[keras.ops.convert_to_numpy(v) for v in random_states(self.model)])
        write_json(folder / METADATA_FILE,
                   {"epoch": self._current_epoch, "batch": 0, "weights": weights.name,
                    "random_state": random_state.name})
        for old in folder.glob("epoch-*"):
            if old not in (weights, random_state):
                old.unlink()

    def _load_model(self):
        metadata = read_backup_metadata(Path(self.backup_dir))
        if metadata is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(Path(self.backup_dir) / metadata["weights"])
        with np.load(Path(self.backup_dir) / metadata["random_state"]) as saved:
            for variable, key in zip(random_states(self.model), saved.files, strict=True):
                variable.assign(saved[key])
        self.model._initial_epoch = metadata["epoch"]


def _new_run_name(taken_in: Path) -> str:
    """The time now, e.g. "20261203-141502", with "-2", "-3"... if a run of that second has it."""
    name = time.strftime("%Y%m%d-%H%M%S")
    suffix = 1
    while (taken_in / (name if suffix == 1 else f"{name}-{suffix}")).exists():
        suffix += 1
    return name if suffix == 1 else f"{name}-{suffix}"


def _run_name(backup_dir: Path) -> str:
    """The name the run got when it began (a backup from before names were kept: its start)."""
    try:
        return (backup_dir / RUN_NAME_FILE).read_text().strip()
    except OSError:
        settings = backup_dir / SETTINGS_FILE
        started = settings.stat().st_mtime if settings.exists() else None
        return time.strftime("%Y%m%d-%H%M%S", time.localtime(started))


def _check_same_settings(backup_dir: Path, settings: dict[str, Any]) -> None:
    try:
        saved = json.loads((backup_dir / SETTINGS_FILE).read_text())
    except (OSError, ValueError):
        saved = None
    if saved != settings:
        saved = saved if isinstance(saved, dict) else {}
        changed = sorted(k for k in settings.keys() | saved.keys()  # Also those one of them lacks.
                         if k not in settings or k not in saved or saved[k] != settings[k])
        raise ConfigError(
            f"{backup_dir} holds an unfinished run with other settings ({', '.join(changed)}): "
            "run again with those settings to resume, or delete that folder to start afresh")


def remove_backup(output_dir: str | os.PathLike[str]) -> None:
    """The run is over (or diverged): its backup goes."""
    folders.remove_own_folder(Path(output_dir) / BACKUP_DIR)


def random_states(model: keras.Model) -> list:
    """The SeedGenerator states of a model's layers (FreshNoise's, Dropout's...).

    `save_weights` leaves them out, so a resumed run would start its noise
    over from the seed; the backup keeps them beside the weights.
    """
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def finished_epochs(output_dir: str | os.PathLike[str]) -> int:
    """Epochs the backup in `output_dir` holds: where a resumed run starts (0 if none)."""
    metadata = read_backup_metadata(Path(output_dir) / BACKUP_DIR)
    return 0 if metadata is None else int(metadata["epoch"])


def read_backup_metadata(backup_dir: Path) -> dict[str, Any] | None:
    """The backup's metadata, or None if it holds no complete epoch."""
    try:
        metadata = json.loads((backup_dir / METADATA_FILE).read_text())
        if all((backup_dir / metadata[key]).is_file() for key in ("weights", "random_state")):
            return metadata
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None

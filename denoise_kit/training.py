"""Training plumbing: device and precision, multi-GPU scope, resumable
callbacks and atomic model saving. Works with any Keras 3 backend."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from denoise_kit.errors import ConfigError, UserError
from denoise_kit.files import atomic_path, write_json

BACKUP_DIR = "backup"


class TrainingDiverged(UserError):
    """The loss became NaN: nothing is saved, the user lowers the learning rate."""


SETTINGS_FILE = "settings.json"


def cpu_threads() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        return os.cpu_count() or 1


def gpu_names() -> list[str]:
    """Names of the GPUs the active backend sees (empty on a CPU-only machine)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def _cpuinfo() -> str:
    """Linux's /proc/cpuinfo, or '' elsewhere."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU's model name, e.g. 'AMD EPYC' or 'Intel(R) Xeon(R) Platinum 8480+'."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_has_native_bfloat16() -> bool:
    """True on CPUs with bfloat16 arithmetic in hardware (AVX512-BF16 or AMX)."""
    flags = _cpuinfo()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def set_precision(precision: str = "auto") -> str:
    """Pick and set the Keras dtype policy; return its name.

    "float32" always computes in float32. "mixed" computes in float16 on a
    GPU (with loss scaling, the Keras default) and in bfloat16 on a CPU.
    "auto" is "mixed" where the hardware does it natively (a GPU, or a CPU
    with AVX512-BF16 or AMX) and float32 elsewhere, where emulated bfloat16
    would only be slower.
    """
    if precision not in ("auto", "float32", "mixed"):
        raise ConfigError(f"precision must be auto, float32 or mixed, got {precision!r}")
    policy = "float32"
    if precision == "mixed" or (precision == "auto" and (gpu_names() or cpu_has_native_bfloat16())):
        policy = "mixed_float16" if gpu_names() else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def steps_per_execution(wanted: int) -> int:
    """`wanted`, or 1 where Keras can't run several steps per call: on PyTorch,
    whose trainer has one step per call, and on TensorFlow over several devices
    (MirroredStrategy fails with "You must feed a value for placeholder
    tensor", keras-team/keras#19246)."""
    if keras.backend.backend() == "torch":
        return 1
    if keras.backend.backend() == "tensorflow" and parallel_devices():
        return 1
    return wanted


def describe_device(policy: str | None = None, steps_per_execution: int | None = None) -> str:
    """e.g. 'CPU (2 threads), mixed_bfloat16 (native bfloat16 on this CPU)', with
    ', 16 step(s) per execution' when `steps_per_execution` is given."""
    policy = policy or keras.mixed_precision.global_policy().name
    gpus = gpu_names()
    if gpus:
        where = f"GPU {gpus[0]}" if len(gpus) == 1 else f"{len(gpus)} GPUs ({gpus[0]})"
    else:
        where = f"CPU ({cpu_threads()} threads)"
    if policy == "mixed_bfloat16" and not gpus:
        policy += " (native bfloat16 on this CPU)" if cpu_has_native_bfloat16() else " (emulated bfloat16)"
    steps = "" if steps_per_execution is None else f", {steps_per_execution} step(s) per execution"
    return f"{where}, {policy}{steps}"


def parallel_devices() -> list[str]:
    """The devices data-parallel training spreads over: several GPUs, or the CPU
    split into several logical devices (as the tests do); [] for one device.

    On PyTorch, Keras' fit trains on one device, so this is always [].
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        names = [d.name for d in devices]
    elif backend == "jax":
        names = keras.distribution.list_devices()  # "cpu:0", "gpu:1"...: what DataParallel takes.
    else:
        names = []
    return names if len(names) > 1 else []


@functools.cache
def _distribution() -> Any:
    """The one distribution every `distribution_scope` enters (None for one device)."""
    devices = parallel_devices()
    if devices and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy(devices)
    if devices and keras.backend.backend() == "jax":
        return keras.distribution.DataParallel(devices=devices)
    return None


def distribution_scope():
    """Build the model, and fit it, in this scope to train data-parallel on
    every device `parallel_devices` finds; with one device it does nothing.

    TensorFlow: a MirroredStrategy scope. JAX: Keras' DataParallel scope,
    which shards each batch in fit. Outside the scope, a model trained by
    JAX predicts without splitting the batch, so on any number of images.
    """
    distribution = _distribution()
    return contextlib.nullcontext() if distribution is None else distribution.scope()


KERAS_VALIDATION_BATCH = 32  # The batch size Keras' fit validates arrays in.


def split_evenly(data: Any, batch_size: int) -> Any:
    """`data` whose every batch splits evenly over the devices, or one line saying
    what to change; with one device `data` comes back as it is.

    Data-parallel training gives each device an equal share of every batch.
    JAX's DataParallel stops with an IndivisibleError on any batch that doesn't
    divide; Keras' TensorFlow trainer on a first batch that doesn't (it averages
    that batch over the devices to build the model). So the batch size and
    Keras' validation batch must divide by the device count, and the validation
    set is cut to a whole multiple of it (at most devices - 1 images fewer).
    The test set stays whole: the model predicts it outside the distribution.
    """
    devices = len(parallel_devices())
    if devices <= 1:
        return data
    if KERAS_VALIDATION_BATCH % devices:
        raise ConfigError(f"Keras' validation batches of {KERAS_VALIDATION_BATCH} don't split evenly "
                          f"over {devices} devices: train on a number that divides {KERAS_VALIDATION_BATCH} "
                          "(e.g. CUDA_VISIBLE_DEVICES=0,1)")
    if batch_size % devices:
        raise ConfigError(f"each batch is split evenly over the {devices} devices: use a --batch-size "
                          f"that divides by {devices}, got {batch_size}")
    n_val = len(data.x_val) - len(data.x_val) % devices
    if n_val == 0:
        raise ConfigError(f"the validation set needs at least {devices} images, one per device: "
                          "raise --limit")
    return dataclasses.replace(data, x_val=data.x_val[:n_val])


def describe_parallelism() -> str:
    """'' for one device, else e.g. ', data-parallel over 2 devices (MirroredStrategy)'."""
    distribution = _distribution()
    if distribution is None:
        return ""
    return f", data-parallel over {len(parallel_devices())} devices ({type(distribution).__name__})"


class PerReplicaSeedGenerator(keras.random.SeedGenerator):
    """A SeedGenerator that gives each MirroredStrategy replica its own draws.

    Under MirroredStrategy every replica runs the layer on its share of the
    batch with the same seed state, so a plain SeedGenerator gives every
    replica the same noise. Here replica r offsets the seed by r * 1,000,003.
    On one device, and on JAX (whose DataParallel draws the whole batch's
    noise at once), the draws are a plain SeedGenerator's.
    """

    def next(self, ordered: bool = True):
        seed = super().next(ordered)
        if keras.backend.backend() != "tensorflow":
            return seed
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        offset = tf.cast(context.replica_id_in_sync_group, seed.dtype) * 1_000_003
        return seed + tf.stack([offset, tf.zeros_like(offset)])


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` to each epoch's logs, so the CSV log keeps the
    training time of every epoch, also across interrupted and resumed runs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


OWNED_MARKER = ".made-by-denoise-kit"  # In every folder this project may delete.


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup survives a kill at any instant.

    Keras writes the weights, then training_metadata.json in place, so a
    kill mid-write leaves a file the next start cannot read. Here each
    epoch's weights go to a new file, and the metadata naming them is
    replaced atomically afterwards: whatever the metadata says is complete.
    """

    def _save_model(self):
        folder = Path(self.backup_dir)
        weights = folder / f"epoch-{self._current_epoch}.weights.h5"
        random_state = folder / f"epoch-{self._current_epoch}.random-state.npz"
        self.model.save_weights(weights, overwrite=True)  # New names: no complete file is touched.
        with atomic_path(random_state) as tmp:
            with open(tmp, "wb") as file:
                np.savez(file, *[keras.ops.convert_to_numpy(v) for v in random_states(self.model)])
        write_json(folder / "training_metadata.json",
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
        metadata = json.loads((backup_dir / "training_metadata.json").read_text())
        if all((backup_dir / metadata[key]).is_file() for key in ("weights", "random_state")):
            return metadata
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def remove_own_folder(folder: Path) -> None:
    """Delete `folder` only if this project made it (its marker file is inside)."""
    if not folder.exists():
        return
    if not (folder / OWNED_MARKER).is_file():
        raise ConfigError(f"{folder} exists and was not made by these scripts: move it away or "
                          "choose another --output-dir")
    shutil.rmtree(folder)


class StopOnNaN(keras.callbacks.TerminateOnNaN):
    """TerminateOnNaN that remembers it fired, so the script can end with an error."""

    epoch: int | None = None

    def on_batch_end(self, batch, logs=None):
        super().on_batch_end(batch, logs)
        if self.model.stop_training and self.epoch is None:
            self.epoch = self._epoch + 1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


def resumable_callbacks(output_dir: str | os.PathLike[str], settings: dict[str, Any]) -> list:
    """A kill-proof BackupAndRestore, a timed CSV log and StopOnNaN, set up to resume.

    The backup folder records the settings it was made with. Running again
    with the same settings continues from the last finished epoch; other
    settings give a clear error instead of silently mixing two runs. A
    damaged backup (a kill in the middle of its first write) is said in one
    line and training starts afresh.
    """
    output_dir = Path(output_dir)
    backup_dir = output_dir / BACKUP_DIR
    settings_file = backup_dir / SETTINGS_FILE
    settings = json.loads(json.dumps(settings, default=str))  # Paths and tuples as JSON has them.
    metadata = read_backup_metadata(backup_dir)
    resuming = metadata is not None
    if resuming:
        try:
            saved = json.loads(settings_file.read_text())
        except (OSError, ValueError):
            saved = None
        if saved != settings:
            changed = sorted(k for k in settings if (saved or {}).get(k) != settings[k])
            raise ConfigError(
                f"{backup_dir} holds an unfinished run with other settings ({', '.join(changed)}): "
                "run again with those settings to resume, or delete that folder to start afresh"
            )
        print(f"Resuming from {backup_dir}: {metadata['epoch']} epoch(s) already finished", flush=True)
    else:
        if (backup_dir / "training_metadata.json").exists():
            print(f"{backup_dir} holds no complete epoch (a run stopped while saving its first "
                  "one): starting afresh", flush=True)
        remove_own_folder(backup_dir)  # An empty, half-made or damaged backup of ours.
        backup_dir.mkdir(parents=True)
        (backup_dir / OWNED_MARKER).write_text("Made by the denoising scripts; deleted when training ends.\n")
        write_json(settings_file, settings)
    log = output_dir / "training_log.csv"
    if not resuming and log.exists():
        log.unlink()  # Our own log of an earlier, finished run.
    return [
        # First, so the backup is on disk before the log says the epoch is done.
        AtomicBackupAndRestore(str(backup_dir)),
        EpochTimer(),  # Before the logger, which writes the time it adds.
        keras.callbacks.CSVLogger(str(log), append=True),
        StopOnNaN(),
    ]


def check_finite(callbacks: list) -> None:
    """After fit: a one-line error if StopOnNaN ended training."""
    for callback in callbacks:
        if isinstance(callback, StopOnNaN) and callback.epoch is not None:
            raise TrainingDiverged(
                f"the loss became NaN in epoch {callback.epoch}, so training stopped: lower "
                "--learning-rate (or --noise-factor) and run again; model.keras and metrics.json "
                "were left as they were")


def save_model(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Save a .keras file atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def announce(model: keras.Model, data: Any, *, policy: str, steps_per_execution: int = 1) -> str:
    """Print the one line before training; return the device description."""
    x_train, x_val, x_test = data.x_train, data.x_val, data.x_test
    device = describe_device(policy, steps_per_execution) + describe_parallelism()
    print(f"Training on {keras.backend.backend()}, {device}: {len(x_train):,} train / "
          f"{len(x_val):,} validation / {len(x_test):,} test images, "
          f"{model.count_params():,} parameters", flush=True)
    return device


def settings_of(args: Any, **constants: Any) -> dict[str, Any]:
    """What a resumed run must share with the interrupted one: the flags
    (but not where outputs go) and the script's other constants."""
    settings = {k: v for k, v in vars(args).items() if k != "output_dir"}
    return {**settings, **{k.lower(): v for k, v in constants.items()}}


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


class WithoutRetracingNotices(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" notice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def quiet_retracing_notices() -> None:
    """For scripts that train many models: each new model, whose training and predict
    functions must be traced once. TensorFlow counts traces by source line
    across all models and, after five in a few calls, warns of "retracing":
    here a false alarm, so that one notice is dropped (every other still shows)."""
    logging.getLogger("tensorflow").addFilter(WithoutRetracingNotices())

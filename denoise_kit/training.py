"""Training plumbing: device and precision, multi-GPU scope, resumable
callbacks and atomic model saving. Works with any Keras 3 backend."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import keras

from denoise_kit.errors import ConfigError
from denoise_kit.files import atomic_path, write_json

BACKUP_DIR = "backup"
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


def cpu_has_native_bfloat16() -> bool:
    """True on CPUs with bfloat16 arithmetic in hardware (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
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
    """`wanted`, or 1 on PyTorch, whose trainer runs one step per call."""
    return 1 if keras.backend.backend() == "torch" else wanted


def describe_device(policy: str | None = None) -> str:
    """e.g. 'tensorflow on CPU (2 threads), mixed_bfloat16 (native bfloat16)'."""
    policy = policy or keras.mixed_precision.global_policy().name
    gpus = gpu_names()
    if gpus:
        where = f"GPU {gpus[0]}" if len(gpus) == 1 else f"{len(gpus)} GPUs ({gpus[0]})"
    else:
        where = f"CPU ({cpu_threads()} threads)"
    if policy == "mixed_bfloat16" and not gpus:
        policy += " (native bfloat16 on this CPU)" if cpu_has_native_bfloat16() else " (emulated bfloat16)"
    return f"{where}, {policy}"


def distribution_scope():
    """MirroredStrategy's scope on several GPUs (TensorFlow backend), else a no-op."""
    if keras.backend.backend() == "tensorflow" and len(gpu_names()) > 1:
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` to each epoch's logs, so the CSV log keeps the
    training time of every epoch, also across interrupted and resumed runs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


def resumable_callbacks(output_dir: str | os.PathLike[str], settings: dict[str, Any]) -> list:
    """BackupAndRestore, a timed CSV log and TerminateOnNaN, set up to resume.

    The backup folder records the settings it was made with. Running again
    with the same settings continues from the last finished epoch; other
    settings give a clear error instead of silently mixing two runs.
    """
    output_dir = Path(output_dir)
    backup_dir = output_dir / BACKUP_DIR
    settings_file = backup_dir / SETTINGS_FILE
    settings = json.loads(json.dumps(settings, default=str))  # Paths and tuples as JSON has them.
    resuming = (backup_dir / "training_metadata.json").is_file()
    if resuming:
        saved = json.loads(settings_file.read_text()) if settings_file.is_file() else None
        if saved != settings:
            changed = sorted(k for k in settings if (saved or {}).get(k) != settings[k])
            raise ConfigError(
                f"{backup_dir} holds an unfinished run with other settings ({', '.join(changed)}): "
                "run again with those settings to resume, or delete that folder to start afresh"
            )
        finished = json.loads((backup_dir / "training_metadata.json").read_text()).get("epoch", 0)
        print(f"Resuming from {backup_dir}: {finished} epoch(s) already finished", flush=True)
    else:
        shutil.rmtree(backup_dir, ignore_errors=True)  # Ours: an empty or half-made backup.
        backup_dir.mkdir(parents=True)
        write_json(settings_file, settings)
    log = output_dir / "training_log.csv"
    if not resuming and log.exists():
        log.unlink()  # Our own log of an earlier, finished run.
    return [
        # First, so the backup is on disk before the log says the epoch is done;
        # double_checkpoint keeps the previous backup in case of a kill mid-save.
        keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True),
        EpochTimer(),  # Before the logger, which writes the time it adds.
        keras.callbacks.CSVLogger(str(log), append=True),
        keras.callbacks.TerminateOnNaN(),
    ]


def save_model(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Save a .keras file atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def announce(model: keras.Model, policy: str, x_train, x_val, x_test, steps: int = 1) -> str:
    """Print the one line before training; return the device description."""
    device = f"{describe_device(policy)}, {steps} step(s) per execution"
    print(f"Training on {keras.backend.backend()}, {device}: {len(x_train):,} train / "
          f"{len(x_val):,} validation / {len(x_test):,} test images, "
          f"{model.count_params():,} parameters", flush=True)
    return device


def settings_of(args: Any, **constants: Any) -> dict[str, Any]:
    """What a resumed run must share with the interrupted one: the flags
    (but not where outputs go) and the script's other constants."""
    settings = {k: v for k, v in vars(args).items() if k != "output_dir"}
    return {**settings, **{k.lower(): v for k, v in constants.items()}}

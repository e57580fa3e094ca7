"""Precision and device: what the run computes in, and on what.

    machine = hardware.configure("auto", batch_size=8, steps_per_execution=16, steps_per_epoch=880)
    machine = hardware.configure_for(CONFIG, steps_per_epoch)   # the same, from a denoiser's flags

sets Keras' dtype policy ("auto": mixed precision where the hardware does it
natively, float32 elsewhere), spreads training over several devices when
there are several (parallel.py), and prints one line saying what it chose.
Works with any Keras 3 backend.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from denoise_kit import parallel
from denoise_kit.errors import ConfigError


@dataclass(frozen=True)
class Hardware:
    """What `configure` chose."""

    policy: str  # Keras' dtype policy: "float32", "mixed_bfloat16" or "mixed_float16".
    devices: int  # Devices that share every batch (1: no data parallelism).
    steps_per_execution: int  # Training steps per call into the compiled graph.
    description: str  # e.g. 'CPU (2 threads), float32, 16 step(s) per execution'.


def configure(precision: str = "auto", *, batch_size: int = 1, steps_per_execution: int = 1,
              steps_per_epoch: int | None = None, verbose: bool = True) -> Hardware:
    """Set the dtype policy and the data parallelism for this run; print and return what was chosen.

    With `steps_per_epoch`, the steps per execution divide it: Keras runs every
    call into the graph whole, so any other count would train more steps than
    an epoch has."""
    policy = set_precision(precision)
    distribution = parallel.spread_over_devices(batch_size)
    steps = allowed_steps_per_execution(steps_per_execution, distribution)
    if steps_per_epoch:
        steps = max(d for d in range(1, min(steps, steps_per_epoch) + 1) if steps_per_epoch % d == 0)
    description = describe_device(policy, steps) + parallel.describe(distribution)
    if verbose:
        print(f"Training on {keras.backend.backend()}, {description}", flush=True)
    return Hardware(policy, parallel.device_count(distribution), steps, description)


def configure_for(config: dict[str, Any], steps_per_epoch: int) -> Hardware:
    """`configure` with a denoiser's PRECISION, BATCH_SIZE and STEPS_PER_EXECUTION (cli.py)."""
    return configure(config["PRECISION"], batch_size=config["BATCH_SIZE"],
                     steps_per_execution=config["STEPS_PER_EXECUTION"], steps_per_epoch=steps_per_epoch)


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


def allowed_steps_per_execution(wanted: int, distribution: object | None = None) -> int:
    """`wanted`, or 1 where Keras can't run several steps per call: on PyTorch,
    whose trainer has one step per call, and on TensorFlow over several devices
    (MirroredStrategy fails with "You must feed a value for placeholder
    tensor", keras-team/keras#19246)."""
    if keras.backend.backend() == "torch":
        return 1
    if keras.backend.backend() == "tensorflow" and distribution is not None:
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

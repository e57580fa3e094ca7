"""Precision and device: the dtype policy chosen, steps per execution, the one-line description."""

import keras
import pytest

from denoise_kit import hardware, parallel
from denoise_kit.errors import ConfigError


@pytest.fixture(autouse=True)
def float32_after(monkeypatch):
    """A machine with no GPU and no native bfloat16, on 2 threads; the policy put back after."""
    monkeypatch.setattr(hardware, "gpu_names", lambda: [])
    monkeypatch.setattr(hardware, "cpu_has_native_bfloat16", lambda: False)
    monkeypatch.setattr(hardware, "cpu_threads", lambda: 2)
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_precision_flag_picks_the_policy(monkeypatch):
    assert hardware.set_precision("auto") == "float32"
    assert hardware.set_precision("float32") == "float32"
    assert hardware.set_precision("mixed") == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # Set, not only named.
    assert "emulated bfloat16" in hardware.describe_device("mixed_bfloat16")
    monkeypatch.setattr(hardware, "cpu_has_native_bfloat16", lambda: True)
    assert hardware.set_precision("auto") == "mixed_bfloat16"
    assert "native bfloat16 on this CPU" in hardware.describe_device("mixed_bfloat16")
    monkeypatch.setattr(hardware, "gpu_names", lambda: ["H100"])
    assert hardware.set_precision("auto") == "mixed_float16"
    assert hardware.set_precision("mixed") == "mixed_float16"
    assert hardware.set_precision("float32") == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(ConfigError, match="precision must be auto, float32 or mixed, got 'half'"):
        hardware.set_precision("half")


def test_the_device_in_one_line(monkeypatch):
    assert hardware.describe_device("float32") == "CPU (2 threads), float32"
    assert hardware.describe_device("float32", 16) == "CPU (2 threads), float32, 16 step(s) per execution"
    monkeypatch.setattr(hardware, "gpu_names", lambda: ["H100"])
    assert hardware.describe_device("mixed_float16", 1) == "GPU H100, mixed_float16, 1 step(s) per execution"
    monkeypatch.setattr(hardware, "gpu_names", lambda: ["H100", "H100"])
    assert hardware.describe_device("mixed_float16") == "2 GPUs (H100), mixed_float16"


@pytest.mark.parametrize(("backend", "several_devices", "expected"), [
    ("tensorflow", False, 16),
    ("tensorflow", True, 1),  # MirroredStrategy fails with several steps per call (keras#19246).
    ("jax", False, 16),
    ("jax", True, 16),
    ("torch", False, 1),  # Its trainer runs one step per call.
    ("torch", True, 1),
])
def test_allowed_steps_per_execution(monkeypatch, backend, several_devices, expected):
    monkeypatch.setattr(keras.backend, "backend", lambda: backend)
    distribution = object() if several_devices else None
    assert hardware.allowed_steps_per_execution(16, distribution) == expected
    assert hardware.allowed_steps_per_execution(1, distribution) == 1


def test_configure_sets_the_policy_and_prints_one_line(monkeypatch, capsys):
    monkeypatch.setattr(parallel, "parallel_devices", lambda: [])  # One device.
    machine = hardware.configure("mixed", batch_size=8, steps_per_execution=16)
    steps = hardware.allowed_steps_per_execution(16)
    description = f"CPU (2 threads), mixed_bfloat16 (emulated bfloat16), {steps} step(s) per execution"
    assert machine == hardware.Hardware("mixed_bfloat16", 1, steps, description)
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert capsys.readouterr().out == f"Training on {keras.backend.backend()}, {description}\n"
    hardware.configure("float32", verbose=False)
    assert capsys.readouterr().out == ""
    with pytest.raises(ConfigError):
        hardware.configure("half")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("wanted", "steps_per_epoch", "expected"), [
    (16, 880, 16), (16, 250, 10), (16, 12, 12), (16, 7, 7), (16, 997, 1), (1, 880, 1)])
def test_the_steps_per_execution_divide_an_epoch(wanted, steps_per_epoch, expected):
    """Keras runs every call into the graph whole: more steps per call than divide an epoch
    would train more steps than the epoch has."""
    machine = hardware.configure("float32", steps_per_execution=wanted, steps_per_epoch=steps_per_epoch,
                                 verbose=False)
    assert machine.steps_per_execution == expected and steps_per_epoch % expected == 0

"""Where a denoiser's run keeps its files: a folder named by what differs from the defaults.

The run with a page's defaults keeps `outputs/<script>/`; any other run gets
a folder inside it named by the constants it changed, in the page's order:

    python denoise_transpose_mnist.py                     -> outputs/denoise_transpose_mnist/
    python denoise_transpose_mnist.py --kernel-size 4     -> outputs/denoise_transpose_mnist/kernel_size-4/
    KERNEL_SIZE = 4; NOISE_FACTOR = 0.8 (a notebook cell) -> .../noise_factor-0.8+kernel_size-4/

So the same constants always find the same folder (and resume there), and
other constants never touch it. An OUTPUT_DIR other than the default
(`--output-dir X`) is an explicit choice: the run goes exactly there.

The defaults are the pages' constants as published, kept here because the
page itself is what a learner edits (tests/test_runs.py checks that they
match the pages).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

PAGE_DEFAULTS: dict[str, dict[str, Any]] = {  # In the pages' order.
    "denoise_transpose_mnist": {
        "DATASET": "mnist", "NOISE_FACTOR": 0.5, "EPOCHS": 10, "IMAGES_PER_EPOCH": 7_040, "BATCH_SIZE": 8,
        "FILTERS": (32, 64), "KERNEL_SIZE": 3, "LEARNING_RATE": 2e-3, "SEED": 42,
        "VALIDATION_FRACTION": 0.1, "MAX_VALIDATION_IMAGES": 1_000, "VALIDATION_NOISE_SEED": 42,
        "TEST_NOISE_SEED": 43, "LIMIT": None, "DATA_DIR": None,
        "OUTPUT_DIR": "outputs/denoise_transpose_mnist"},
    "denoise_upsampling_notmnist": {
        "DATASET": "notmnist", "NOISE_FACTOR": 0.5, "EPOCHS": 10, "IMAGES_PER_EPOCH": 9_984, "BATCH_SIZE": 16,
        "FILTERS": (32, 64), "DECODER_FILTERS": (32, 16), "INTERPOLATION": "nearest", "KERNEL_SIZE": 3,
        "LEARNING_RATE": 2e-3, "SEED": 42, "VALIDATION_FRACTION": 0.1, "MAX_VALIDATION_IMAGES": 1_000,
        "VALIDATION_NOISE_SEED": 42, "TEST_NOISE_SEED": 43, "LIMIT": None, "DATA_DIR": None,
        "OUTPUT_DIR": "outputs/denoise_upsampling_notmnist"},
}
# Where the run reads from, writes to or what it logs: none of them changes what is trained.
NOT_A_TWEAK = ("OUTPUT_DIR", "DATA_DIR", "TENSORBOARD", "DENOISE", "ADD_NOISE", "INVERT")
MAX_NAME = 80  # Characters; a longer name keeps its start and gets a short hash.


def script_of(namespace: dict[str, Any], config: dict[str, Any]) -> str | None:
    """The page's name (as PAGE_DEFAULTS has it): from its file, or in a notebook from its constants."""
    if "__file__" in namespace:
        stem = Path(namespace["__file__"]).stem
        return stem if stem in PAGE_DEFAULTS else None
    pages = [script for script, defaults in PAGE_DEFAULTS.items() if set(defaults) <= set(config)]
    return max(pages, key=lambda script: len(PAGE_DEFAULTS[script]), default=None)


def changes(script: str, config: dict[str, Any], run_flags: dict[str, Any] | None = None) -> dict[str, Any]:
    """The constants (and run flags) of `config` that differ from the page's defaults, in page order;
    a constant the page's defaults lack (one a learner added) is a change too."""
    defaults = {**(run_flags or {}), **PAGE_DEFAULTS[script]}
    return {name: value for name, value in config.items() if name not in NOT_A_TWEAK
            and (name not in defaults or _same(value) != _same(defaults[name]))}


def label(changed: dict[str, Any]) -> str:
    """'kernel_size-4+noise_factor-0.8', or 'defaults'."""
    if not changed:
        return "defaults"
    name = "+".join(f"{key.lower()}-{_spell(value)}" for key, value in changed.items())
    if len(name) > MAX_NAME:
        name = f"{name[:MAX_NAME - 9]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return name


def place(script: str, config: dict[str, Any], run_flags: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where this run goes, and what it is: {"script", "changes", "label", "folder", "runs_root"}.

    The folder is OUTPUT_DIR for the defaults or for an explicit OUTPUT_DIR, else
    OUTPUT_DIR/<label>. `runs_root` holds the runs listed and compared together:
    the default outputs/ for any folder inside it, else the explicit folder itself
    (so nothing is written outside it).
    """
    changed = changes(script, config, run_flags)
    base = Path(_placed.get(str(config["OUTPUT_DIR"]), str(config["OUTPUT_DIR"])))
    default = Path(PAGE_DEFAULTS[script]["OUTPUT_DIR"])
    explicit = base.resolve() != default.resolve()
    folder = base if explicit or not changed else base / label(changed)
    inside = folder.resolve().is_relative_to(default.parent.resolve())
    _placed[str(folder)] = str(base)
    return {"script": script, "changes": changed, "label": label(changed), "folder": str(folder),
            "runs_root": str(default.parent if inside else folder)}


# A folder placed earlier in this process -> its OUTPUT_DIR: a notebook that sets a constant in a
# cell of its own and runs only the flags line again finds the page's OUTPUT_DIR, not the last tweak's.
_placed: dict[str, str] = {}


def _same(value: Any) -> Any:
    """Tuples and lists alike, ints and equal floats alike (2e-3 == 0.002)."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _spell(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_spell(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value).lower() if value is None or isinstance(value, bool) else str(value)  # none, true
    return re.sub(r"[^A-Za-z0-9._,-]", "_", text)  # Safe in a folder name on every OS.

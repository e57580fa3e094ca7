"""TensorBoard's HParams dashboard: a run's constants beside its final scores.

With TENSORBOARD, results.save calls `log` once the run is scored: the run's
constants (every UPPERCASE setting but where it reads and writes) as the
session's hyperparameters, and its test scores and training time as scalars,
in the run's own TensorBoard folder. `tensorboard --logdir outputs` then
lists every such run in the HParams tab's table and parallel-coordinates
view, labelled by what differs from the defaults.
"""

from __future__ import annotations

from typing import Any

from denoise_kit.run_folders import NOT_A_TWEAK, PAGE_DEFAULTS  # NOT_A_TWEAK: not hyperparameters.

SCORES = ("psnr_denoised", "ssim_denoised", "psnr_noisy", "train_seconds", "train_images_per_second")
METRICS = (  # (tag, the run's subfolder, column title): the scores above and Keras' last validation PSNR.
    ("test/psnr_denoised", "", "test PSNR (dB)"), ("test/ssim_denoised", "", "test SSIM"),
    ("epoch_psnr", "validation", "validation PSNR (dB)"), ("train_seconds", "", "training time (s)"),
    ("train_images_per_second", "", "images/s"))


def hyperparameters(settings: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """The constants as the HParams plugin takes them: tuples as "32,64", None as "None"."""
    values: dict[str, bool | int | float | str] = {}
    for name, value in settings.items():
        if not name.isupper() or name in NOT_A_TWEAK:
            continue
        if isinstance(value, list | tuple):
            value = ",".join(map(str, value))
        values[name.lower()] = value if isinstance(value, bool | int | float | str) else str(value)
    return values


def log(tensorboard_dir: str, settings: dict[str, Any], results: dict[str, Any]) -> None:
    """Write the run's hyperparameters and final scores into `tensorboard_dir`."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    run = settings.get("run", {})
    values = hyperparameters(settings)
    step = int(results.get("epochs_run", 0))
    with tf.summary.create_file_writer(tensorboard_dir).as_default():
        # The dashboard's columns: every page's constants, then these scores (not every logged curve).
        # Each run writes the same, so whichever run TensorBoard reads it from, the columns are alike.
        names = dict.fromkeys([*(n.lower() for page in PAGE_DEFAULTS.values() for n in page), *values])
        columns = [hp.Metric(tag, group=group, display_name=title) for tag, group, title in METRICS]
        hp.hparams_config(hparams=[hp.HParam(name) for name in names if name.upper() not in NOT_A_TWEAK],
                          metrics=columns)
        hp.hparams(values, trial_id=f"{run.get('label', 'run')} ({run.get('script', '?')})")
        for name in SCORES:
            tf.summary.scalar(f"test/{name}" if name.startswith(("psnr", "ssim")) else name,
                              float(results[name]), step=step)

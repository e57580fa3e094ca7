"""The results of a denoising run, once the script has scored its test set and
drawn reconstructions.png: history.png, model.keras and metrics.json written,
then the closing table.

    results.save(run, denoiser, scores, test_images=x_test_noisy)

`run` is what training.resumable_run made for `fit`; `test_images`, the noisy
images `scores` were measured on. Then what the run changed, against earlier
runs (runs.py), and with TENSORBOARD its constants and scores for the HParams
dashboard (hparams.py).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from denoise_kit import folders, hparams, metrics, phases, plots, resume, runs
from denoise_kit.errors import TrainingDiverged
from denoise_kit.files import atomic_path
from denoise_kit.training import TrainingRun


def read_log(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """The CSV log of every finished epoch, as columns."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def evaluate(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray) -> dict[str, float]:
    """Mean PSNR and SSIM of the noisy input and of the denoised output (the benchmarks' scores)."""
    before, after = metrics.quality(clean, noisy), metrics.quality(clean, denoised)
    return {"psnr_noisy": before["psnr"], "psnr_denoised": after["psnr"],
            "ssim_noisy": before["ssim"], "ssim_denoised": after["ssim"]}


def write_results(output_dir: str | os.PathLike[str], model, results: dict[str, Any], title: str,
                  loss_name: str = "loss") -> dict[str, Path]:
    """Write every result file atomically and return their paths.

    model.keras and metrics.json are written to temporary files first and
    only then both renamed: a failed write (a full disk) leaves the earlier
    pair as it was, never a new model beside old metrics.
    """
    output_dir = Path(output_dir)
    log = read_log(output_dir / "training_log.csv")
    paths = {
        "history": plots.loss_curves(log, output_dir / "history.png", title=f"{title}: training history",
                                     ylabel=loss_name),
        "model": output_dir / "model.keras",
        "metrics": output_dir / "metrics.json",
    }
    with atomic_path(paths["model"]) as model_tmp, atomic_path(paths["metrics"]) as metrics_tmp:
        model.save(model_tmp)
        metrics_tmp.write_text(json.dumps(results, indent=2) + "\n")
    return paths


def training_time(output_dir: str | os.PathLike[str], images_per_epoch: int) -> dict[str, float]:
    """Epochs run, seconds and images per second, summed over the CSV log."""
    log = read_log(Path(output_dir) / "training_log.csv")
    seconds = float(sum(log.get("epoch_seconds", [])))
    epochs = len(log.get("loss", []))
    return {
        "epochs_run": epochs,
        "train_seconds": round(seconds, 2),
        "train_images_per_second": round(images_per_epoch * epochs / seconds, 1) if seconds else 0.0,
    }


def print_summary(results: dict[str, Any], paths: dict[str, Path]) -> None:
    """The closing table: quality before and after, speed, and the files written."""
    print()
    print(f"{'':12}{'PSNR (dB)':>11}{'SSIM':>8}")
    print(f"{'noisy':12}{results['psnr_noisy']:>11.2f}{results['ssim_noisy']:>8.3f}")
    print(f"{'denoised':12}{results['psnr_denoised']:>11.2f}{results['ssim_denoised']:>8.3f}")
    print(f"trained {results['epochs_run']} epochs in {results['train_seconds']:.1f} s "
          f"({results['train_images_per_second']:,.0f} images/s) on {results['device']}")
    cwd = Path.cwd()
    for name, path in paths.items():
        shown = path.relative_to(cwd) if path.is_relative_to(cwd) else path
        print(f"{name:>16}: {shown}")


def save(run: TrainingRun, denoiser, scores: dict[str, float], *, test_images: np.ndarray,
         loss_name: str = "binary cross-entropy") -> dict[str, Any]:
    """Write history.png, model.keras and metrics.json (`scores` and the run's
    settings), print the closing table, and return what metrics.json holds.

    `scores`: the test set's mean "psnr_noisy", "psnr_denoised", "ssim_noisy" and
    "ssim_denoised". A loss that became NaN (TerminateOnNaN stopped training) ends
    here with one line instead, and what an earlier run left is kept as it was.
    """
    import keras

    output_dir, settings = run.output_dir, run.settings
    phases.mark("scoring")  # The end of fit, the script's predict and its scores.
    try:
        check_finite(output_dir / "training_log.csv")
    except TrainingDiverged:
        resume.remove_backup(output_dir)  # NaN weights: a run with a lower learning rate starts afresh.
        raise
    results = {
        **{name: float(value) for name, value in scores.items()},
        "params": denoiser.count_params(),
        **training_time(output_dir, settings["trained_images_per_epoch"]),
        "backend": keras.backend.backend(),
        "device": run.device,
        "noise_factor": settings["NOISE_FACTOR"],
        "seed": settings["SEED"],
        "train_images": run.train_images,
        "validation_images": run.validation_images,
        "test_images": len(test_images),
        "test_set": runs.test_set(test_images, settings),  # Which runs were scored alike (runs.py).
        "finished_at": runs.finished_now(),
        "settings": json.loads(json.dumps(settings, default=str)),  # Paths and tuples as JSON has them.
        # Seconds of each phase so far and the total (phases.py): the exit adds the files and the last cell.
        "phase_seconds": phases.seconds(),
    }
    paths = write_results(output_dir, denoiser, results, run.title, loss_name)
    phases.mark("files")
    phases.report_at_exit(paths["metrics"])  # Adds the last phases to metrics.json, and prints the total.
    for picture in ("noisy_inputs", "progress", "reconstructions"):  # Drawn by the script and its callbacks.
        if (output_dir / f"{picture}.png").is_file():
            paths[picture] = output_dir / f"{picture}.png"
    print_summary(results, paths)
    if run.tensorboard_dir:
        hparams.log(run.tensorboard_dir, settings, results)
    resume.remove_backup(output_dir)  # Only now: a failed write above leaves the run resumable.
    runs.report(output_dir, settings.get("run", {}).get("runs_root", output_dir.parent))
    folders.release(output_dir)  # The run is over: another may use the folder (a notebook's kernel lives on).
    return results


def check_finite(log_path: Path) -> None:
    """A one-line error if the last logged loss is NaN (TerminateOnNaN ended training)."""
    log = read_log(log_path) if log_path.is_file() else {}
    losses = log.get("loss", [])
    if losses and not np.isfinite(losses[-1]):
        raise TrainingDiverged(
            f"the loss became NaN in epoch {len(losses)}, so TerminateOnNaN stopped training: lower "
            "LEARNING_RATE (--learning-rate) or NOISE_FACTOR and run again; model.keras and "
            "metrics.json were left as they were")



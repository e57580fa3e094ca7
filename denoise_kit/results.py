"""The results of a denoising run, once the script has scored its test set:
every result file written (reconstructions.png, history.png, model.keras,
metrics.json), then the closing table.

    results.save(OUTPUT_DIR, denoiser, scores, x_test, x_test_noisy, x_test_denoised, y_test,
                 train_images=len(x_train), settings=settings, device=machine.description, title=title)
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from denoise_kit import folders, metrics, phases, plots, resume
from denoise_kit.errors import TrainingDiverged
from denoise_kit.files import atomic_path


def read_log(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """The CSV log of every finished epoch, as columns."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def example_indices(labels: np.ndarray, count: int = 10) -> list[int]:
    """Fixed test images to show: the first of each class, then the next ones."""
    chosen = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)][:count]
    extra = [i for i in range(len(labels)) if i not in chosen]
    return sorted(chosen + extra[: count - len(chosen)], key=lambda i: (labels[i], i))


def evaluate(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray) -> dict[str, float]:
    """Mean PSNR and SSIM of the noisy input and of the denoised output."""
    before, after = metrics.quality(clean, noisy), metrics.quality(clean, denoised)
    return {
        "psnr_noisy": before["psnr"],
        "psnr_denoised": after["psnr"],
        "ssim_noisy": before["ssim"],
        "ssim_denoised": after["ssim"],
    }


def save_reconstructions(path: str | os.PathLike[str], clean: np.ndarray, noisy: np.ndarray,
                         denoised: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                         title: str) -> Path:
    """Three rows (clean, noisy, denoised), each image titled with its class or PSNR."""
    shown = example_indices(labels)
    psnr_noisy = metrics.psnr_per_image(clean[shown], noisy[shown])
    psnr_denoised = metrics.psnr_per_image(clean[shown], denoised[shown])
    return plots.image_rows(
        [("clean", clean[shown]), ("noisy", noisy[shown]), ("denoised", denoised[shown])],
        path,
        titles=[
            [f"'{class_names[labels[i]]}'" for i in shown],
            [f"{p:.1f} dB" for p in psnr_noisy],
            [f"{p:.1f} dB" for p in psnr_denoised],
        ],
        suptitle=title,
    )


def write_results(output_dir: str | os.PathLike[str], model, results: dict[str, Any],
                  clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray, labels: np.ndarray,
                  class_names: Sequence[str], title: str, loss_name: str = "loss") -> dict[str, Path]:
    """Write every result file atomically and return their paths.

    model.keras and metrics.json are written to temporary files first and
    only then both renamed: a failed write (a full disk) leaves the earlier
    pair as it was, never a new model beside old metrics.
    """
    output_dir = Path(output_dir)
    log = read_log(output_dir / "training_log.csv")
    paths = {
        "reconstructions": save_reconstructions(output_dir / "reconstructions.png", clean, noisy,
                                                denoised, labels, class_names, title),
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


def save(output_dir: str | os.PathLike[str], denoiser, scores: dict[str, float], clean: np.ndarray,
         noisy: np.ndarray, denoised: np.ndarray, labels: np.ndarray, *, train_images: int,
         settings: dict[str, Any], device: str, title: str,
         loss_name: str = "binary cross-entropy") -> dict[str, Any]:
    """Write every result file (metrics.json with `scores` and the settings of the
    run), print the closing table, and return what metrics.json holds.

    `scores`: the test set's mean "psnr_noisy", "psnr_denoised", "ssim_noisy" and
    "ssim_denoised". A loss that became NaN (TerminateOnNaN stopped training) ends
    here with one line instead, and what an earlier run left is kept as it was.
    """
    import keras

    from denoise_kit.datasets import CLASS_NAMES

    output_dir = Path(output_dir)
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
        "device": device,
        "noise_factor": settings["NOISE_FACTOR"],
        "seed": settings["SEED"],
        "train_images": train_images,
        "test_images": len(clean),
        "settings": json.loads(json.dumps(settings, default=str)),  # Paths and tuples as JSON has them.
        # Seconds of each phase so far and the total (phases.py): the exit adds the files and the last cell.
        "phase_seconds": phases.seconds(),
    }
    paths = write_results(output_dir, denoiser, results, clean, noisy, denoised, labels,
                          CLASS_NAMES[settings["DATASET"]], title, loss_name)
    phases.mark("files")
    phases.report_at_exit(paths["metrics"])  # Adds the last phases to metrics.json, and prints the total.
    progress_png = output_dir / "progress.png"
    if progress_png.is_file():
        paths["progress"] = progress_png
    print_summary(results, paths)
    resume.remove_backup(output_dir)  # Only now: a failed write above leaves the run resumable.
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



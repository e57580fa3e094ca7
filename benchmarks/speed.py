"""
Title: Training speed: denoise_transpose_mnist.py against the keras.io recipe
Description: denoise_transpose_mnist.py's defaults against the keras.io
recipe as published, on the same images, float32:

0. The machine: CPU model, threads, bfloat16 units or not, GPUs, backend.
1. The project's default run: `python denoise_transpose_mnist.py --precision
   float32 --output-dir <temporary folder>` in a new process, as a learner
   runs it, at its defaults otherwise (batch 8, fresh noise in the model, 16
   steps per execution), timed from outside. Its epoch seconds and validation
   PSNR come from its training_log.csv, its test PSNR and its settings from
   its metrics.json.
2. The keras.io recipe as published (numpy arrays, noise drawn once, batch
   128, validated every epoch), trained --recipe-epochs epochs on the
   script's training images and validated on the script's noisy validation
   images, with the script's PSNR metric; then scored on the script's noisy
   test images. Those images are rebuilt here from metrics.json's settings
   (the dataset, LIMIT, the validation split, the noise factor and seeds),
   and checked against the run: the rebuilt noisy test images must give the
   noisy PSNR its metrics.json reports, and its saved model must score on the
   rebuilt noisy validation images the validation PSNR of its last epoch.

Two tables. Throughput: training images per second of a median epoch, the
first epoch of each (graph tracing) left out. Both pipelines' epoch seconds
include validating the same images every epoch; the script's also include
its per-epoch backup. They train different models at different batch sizes:
this compares the two setups, not the pipelines on one architecture. Time to
quality: seconds of training (summed epoch seconds) until the VALIDATION
PSNR first reaches what the recipe's reaches after its last epoch; the test
PSNR of both after training is beside it.

    DENOISE_DATA_DIR=../shared/data python benchmarks/speed.py
    DENOISE_DATA_DIR=../shared/data python benchmarks/speed.py --epochs 2 --images-per-epoch 1024 \\
        --recipe-epochs 2 --limit 1000

Prints two tables and a one-line summary, writes speed.json next to this file (or to --json).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "denoise_transpose_mnist.py"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up log lines)

import keras
import numpy as np
from keras import ops
from recipe_baseline import add_noise, published_recipe

from denoise_kit import datasets, files, hardware, metrics, progress, results

RECIPE_SEED = 0
# How far the rebuilt images' PSNR may be from the script's: float rounding, not another image.
TOLERANCE_DB = 0.001


class EpochClock(keras.callbacks.Callback):
    """Seconds of each epoch, its validation included (Keras validates before on_epoch_end)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def run_script(flags, output_dir):
    """`python denoise_transpose_mnist.py --precision float32 --output-dir OUTPUT_DIR FLAGS`, in a new
    process: its training log, its metrics.json and the run's wall seconds, start-up included."""
    command = [sys.executable, str(SCRIPT), *flags, "--output-dir", str(output_dir)]
    start = time.perf_counter()
    finished = subprocess.run(command)  # Its lines go to this terminal, as when a learner runs it.
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        sys.exit(f"speed: {SCRIPT.name} {' '.join(command[2:])} failed (exit {finished.returncode})")
    log = results.read_log(output_dir / "training_log.csv")
    scores = json.loads((output_dir / "metrics.json").read_text())
    return log, scores, seconds


def validation_count(scores, train_images):
    """How many of the training images the script kept for validation: metrics.json's count, or
    its rule (a share of them, at most a maximum; one device)."""
    settings = scores["settings"]
    for where in (scores, settings):
        if where.get("validation_images") is not None:
            return int(where["validation_images"])
    share = round(settings["VALIDATION_FRACTION"] * train_images)
    return max(1, min(share, settings["MAX_VALIDATION_IMAGES"]))


def script_noise(images, noise_factor, seed):
    """The script's fixed noise: clip(x + noise_factor * N(0, 1), 0, 1), drawn with keras.random
    from the seed, as its add_noise draws the validation and test images' noise."""
    images = ops.convert_to_tensor(images)
    noise = keras.random.normal(ops.shape(images), seed=seed, dtype=images.dtype)
    return ops.convert_to_numpy(ops.clip(images + noise_factor * noise, 0.0, 1.0))


def rebuild_images(scores):
    """The script's training, validation and test images, clean and noisy, from its metrics.json:
    loaded and cut as the script loads and cuts them."""
    settings = scores["settings"]
    (x_train, _), (x_test, _) = datasets.load_data(settings["DATASET"], settings["DATA_DIR"], verbose=False)
    x_train = (x_train.astype("float32")[..., np.newaxis] / 255)[: settings["LIMIT"]]
    x_test = x_test.astype("float32")[..., np.newaxis] / 255
    n_val = validation_count(scores, len(x_train))
    x_val, x_train = x_train[:n_val], x_train[n_val:]
    noise = settings["NOISE_FACTOR"]
    return {"x_train": x_train, "x_val": x_val, "x_test": x_test,
            "x_val_noisy": script_noise(x_val, noise, settings["VALIDATION_NOISE_SEED"]),
            "x_test_noisy": script_noise(x_test, noise, settings["TEST_NOISE_SEED"])}


def check_rebuilt(images, scores, log, model_path):
    """The rebuilt images against the run: the noisy test PSNR its metrics.json gives, and the
    last epoch's validation PSNR of its log, from its saved model on the rebuilt validation images.
    Ends the benchmark with one line if either differs: the script's data, split or noise changed."""
    model = keras.saving.load_model(model_path)
    denoised_val = model.predict(images["x_val_noisy"], batch_size=256, verbose=0)
    checks = {
        "test_psnr_noisy": {"script": scores["psnr_noisy"], "rebuilt": float(np.mean(
            metrics.psnr_per_image(images["x_test"], images["x_test_noisy"])))},
        "last_val_psnr": {"script": log["val_psnr"][-1], "rebuilt": float(np.mean(
            metrics.psnr_per_image(images["x_val"], denoised_val)))},
    }
    for name, pair in checks.items():
        if abs(pair["script"] - pair["rebuilt"]) > TOLERANCE_DB:
            sys.exit(f"speed: the images rebuilt from {SCRIPT.name}'s metrics.json are not its own: "
                     f"{name} {pair['rebuilt']:.4f} dB here, {pair['script']:.4f} dB in the run "
                     "(did the script's loading, validation split or noise change? see rebuild_images)")
    return checks


def recipe_run(x_train, x_val, x_val_noisy, epochs, noise_factor):
    """keras.io as published: noise drawn once with numpy, float32, batch 128, validated every epoch."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(RECIPE_SEED)
    model = published_recipe("transpose", metrics=[progress.psnr_metric])  # The script's val_psnr.
    clock = EpochClock()
    history = model.fit(add_noise(x_train, noise_factor, RECIPE_SEED), x_train, epochs=epochs, batch_size=128,
                        shuffle=True, validation_data=(x_val_noisy, x_val), verbose=0, callbacks=[clock])
    return model, clock.seconds, history.history["val_psnr"]


def warm_median(seconds):
    """The median epoch, the first one (tracing) left out when there are others."""
    return statistics.median(seconds[1:] or seconds)


def first_reaching(seconds, psnr, target):
    """Summed epoch seconds when the PSNR first reaches `target`, and that epoch; (None, None) if never."""
    for epoch, value in enumerate(psnr):
        if value >= target:
            return sum(seconds[: epoch + 1]), epoch + 1
    return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--recipe-epochs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=None, help="passed on to the script (default: its own)")
    parser.add_argument("--images-per-epoch", type=int, default=None, help="passed on to the script")
    parser.add_argument("--limit", type=int, default=None, help="passed on to the script, for a quick look")
    parser.add_argument("--data-dir", type=Path, default=None, help="passed on to the script")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("speed.json"),
                        help="where to write the results")
    args = parser.parse_args()
    flags = ["--precision", "float32"]
    for flag in ("epochs", "images_per_epoch", "limit", "data_dir"):
        if getattr(args, flag) is not None:
            flags += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]

    native_bfloat16 = hardware.cpu_has_native_bfloat16()
    gpus = hardware.gpu_names()
    machine = (f"{hardware.cpu_model()}, {hardware.cpu_threads()} threads, "
               f"bfloat16 units: {'yes' if native_bfloat16 else 'no'}; GPUs: {', '.join(gpus) or 'none'}; "
               f"{keras.backend.backend()} backend")
    print(f"Machine: {machine}", flush=True)

    # 1. The project's defaults: the script itself, in float32; then its images, rebuilt and checked.
    with tempfile.TemporaryDirectory(prefix="speed_") as output_dir:
        log, scores, script_wall = run_script(flags, Path(output_dir))
        images = rebuild_images(scores)
        checks = check_rebuilt(images, scores, log, Path(output_dir) / "model.keras")
    settings = scores["settings"]
    project = {"epoch_seconds": log["epoch_seconds"], "val_psnr": log["val_psnr"],
               "test_psnr": scores["psnr_denoised"], "batch_size": settings["BATCH_SIZE"],
               "images_per_epoch": settings["trained_images_per_epoch"], "wall_seconds": script_wall}
    x_train, x_val, x_test = images["x_train"], images["x_val"], images["x_test"]
    if scores["train_images"] != len(x_train):
        sys.exit(f"speed: {len(x_train):,} training images rebuilt, {scores['train_images']:,} in the run")

    # 2. The recipe, on the script's images.
    print(f"\nThe keras.io recipe, {args.recipe_epochs} epochs...", flush=True)
    model, seconds, val_psnr = recipe_run(x_train, x_val, images["x_val_noisy"], args.recipe_epochs,
                                          settings["NOISE_FACTOR"])
    denoised = model.predict(images["x_test_noisy"], batch_size=256, verbose=0)
    recipe = {"epoch_seconds": seconds, "val_psnr": val_psnr, "batch_size": 128,
              "images_per_epoch": len(x_train),
              "test_psnr": float(np.mean(metrics.psnr_per_image(x_test, denoised)))}

    pipelines = {"keras.io recipe": recipe, "denoise_transpose_mnist.py": project}
    for run in pipelines.values():
        run["images_per_second"] = run["images_per_epoch"] / warm_median(run["epoch_seconds"])
    ratio = project["images_per_second"] / recipe["images_per_second"]
    print(f"\nThroughput, float32, {len(x_train):,} training images, {len(x_val):,} validation images")
    print(f"{'pipeline':30}{'batch':>7}{'epochs':>8}{'images/epoch':>14}{'median epoch s':>16}"
          f"{'images/s':>10}{'ratio':>8}")
    for name, run in pipelines.items():
        print(f"{name:30}{run['batch_size']:>7}{len(run['epoch_seconds']):>8}{run['images_per_epoch']:>14,}"
              f"{warm_median(run['epoch_seconds']):>16.2f}{run['images_per_second']:>10,.0f}"
              f"{run['images_per_second'] / recipe['images_per_second']:>7.2f}x")

    target = recipe["val_psnr"][-1]
    for run in pipelines.values():
        run["seconds_to_target"], run["epoch_reaching_target"] = first_reaching(
            run["epoch_seconds"], run["val_psnr"], target)
    print(f"\nTime to {target:.2f} dB validation PSNR (the recipe's after {args.recipe_epochs} epochs), "
          "float32")
    print(f"{'pipeline':30}{'reached at epoch':>18}{'train s':>9}{'final val PSNR':>16}{'test PSNR':>11}")
    for name, run in pipelines.items():
        epoch, seconds = run["epoch_reaching_target"], run["seconds_to_target"]
        reached = ("never", "") if seconds is None else (epoch, f"{seconds:.1f}")
        print(f"{name:30}{reached[0]:>18}{reached[1]:>9}"
              f"{run['val_psnr'][-1]:>16.2f}{run['test_psnr']:>11.2f}")
    print(f"(denoise_transpose_mnist.py's whole run, start-up to its last file: {script_wall:.1f} s)")

    time_ratio = (None if project["seconds_to_target"] is None
                  else project["seconds_to_target"] / recipe["seconds_to_target"])
    files.write_json(args.json, {
        "machine": machine, "train_images": len(x_train), "validation_images": len(x_val),
        "test_images": len(x_test), "script_flags": flags, "recipe_epochs": args.recipe_epochs,
        "target_val_psnr": target, "throughput_ratio": ratio, "time_to_target_ratio": time_ratio,
        "rebuilt_images_check": checks, "recipe": recipe, "project": project})
    reach = "never reaches it" if time_ratio is None else f"reaches it in {time_ratio:.2f}x its training time"
    print(f"speed: denoise_transpose_mnist.py's defaults (batch {project['batch_size']}) train "
          f"{ratio:.2f}x the recipe's images/s (batch 128), float32; against the recipe's "
          f"{args.recipe_epochs}-epoch validation PSNR ({target:.2f} dB) it {reach}; test PSNR "
          f"{project['test_psnr']:.2f} dB against {recipe['test_psnr']:.2f} dB")


if __name__ == "__main__":
    main()

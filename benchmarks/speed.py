"""
Title: Training speed: denoise_transpose_mnist.py against the keras.io recipe
Description: denoise_transpose_mnist.py's defaults against the keras.io
recipe as published, in one process, on the same images, float32:

0. The machine: CPU model, threads, bfloat16 units or not, GPUs, backend.
1. The project's default run: denoise_transpose_mnist.py run whole, as
   `python denoise_transpose_mnist.py --precision float32 --output-dir <tmp>`
   runs it (runpy, with sys.argv set), at its defaults otherwise (batch 8,
   fresh noise in the model, 16 steps per execution). Its epoch seconds and
   validation PSNR come from its training_log.csv, its test PSNR from its
   metrics.json.
2. The keras.io recipe as published (numpy arrays, noise drawn once, batch
   128, validated every epoch), trained --recipe-epochs epochs on the
   script's training images and validated on the script's noisy validation
   images, with the script's PSNR metric; then scored on the script's noisy
   test images.

Two tables. Throughput: training images per second of a median epoch, the
first epoch of each (graph tracing) left out. Both pipelines' epoch seconds
include validating the same images every epoch; the script's also include
its per-epoch backup. They train different models at different batch sizes:
this compares the two setups, not the pipelines on one architecture. Time to
quality: seconds of training (summed epoch seconds) until the VALIDATION
PSNR first reaches what the recipe's reaches after its last epoch; the test
PSNR of both after training is beside it.

    DENOISE_DATA_DIR=../shared/data python benchmarks/speed.py
    DENOISE_DATA_DIR=../shared/data python benchmarks/speed.py --epochs 1 --recipe-epochs 2 --limit 2000

Prints two tables and a one-line summary, writes speed.json next to this file.
"""

import argparse
import json
import runpy
import statistics
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
from recipe_baseline import add_noise, published_recipe

from denoise_kit import files, hardware, metrics, progress, results

RECIPE_SEED = 0


class EpochClock(keras.callbacks.Callback):
    """Seconds of each epoch, its validation included (Keras validates before on_epoch_end)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def run_script(flags):
    """denoise_transpose_mnist.py run whole in this process, as `python SCRIPT FLAGS` runs it:
    its globals, its training log and metrics.json, and the run's wall seconds."""
    with tempfile.TemporaryDirectory(prefix="speed_") as output_dir:
        argv = sys.argv
        sys.argv = [str(SCRIPT), "--precision", "float32", "--output-dir", output_dir, *flags]
        try:
            start = time.perf_counter()
            script = runpy.run_path(str(SCRIPT), run_name="__main__")
            seconds = time.perf_counter() - start
        finally:
            sys.argv = argv
        log = results.read_log(Path(output_dir) / "training_log.csv")
        scores = json.loads((Path(output_dir) / "metrics.json").read_text())
    return script, log, scores, seconds


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
    parser.add_argument("--limit", type=int, default=None, help="passed on to the script, for a quick look")
    parser.add_argument("--data-dir", type=Path, default=None, help="passed on to the script")
    args = parser.parse_args()
    flags = []
    for flag in ("epochs", "limit", "data_dir"):
        if getattr(args, flag) is not None:
            flags += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]

    native_bfloat16 = hardware.cpu_has_native_bfloat16()
    gpus = hardware.gpu_names()
    machine = (f"{hardware.cpu_model()}, {hardware.cpu_threads()} threads, "
               f"bfloat16 units: {'yes' if native_bfloat16 else 'no'}; GPUs: {', '.join(gpus) or 'none'}; "
               f"{keras.backend.backend()} backend")
    print(f"Machine: {machine}", flush=True)

    # 1. The project's defaults: the script itself, in float32.
    script, log, scores, script_wall = run_script(flags)
    data, config = script["data"], script["CONFIG"]
    project = {"epoch_seconds": log["epoch_seconds"], "val_psnr": log["val_psnr"],
               "test_psnr": scores["psnr_denoised"], "batch_size": config["BATCH_SIZE"],
               "images_per_epoch": scores["settings"]["trained_images_per_epoch"],
               "wall_seconds": script_wall}
    # 2. The recipe, on the script's images.
    print(f"\nThe keras.io recipe, {args.recipe_epochs} epochs...", flush=True)
    model, seconds, val_psnr = recipe_run(data.x_train, data.x_val, script["x_val_noisy"], args.recipe_epochs,
                                          config["NOISE_FACTOR"])
    denoised = model.predict(script["x_test_noisy"], batch_size=256, verbose=0)
    recipe = {"epoch_seconds": seconds, "val_psnr": val_psnr, "batch_size": 128,
              "images_per_epoch": len(data.x_train),
              "test_psnr": float(np.mean(metrics.psnr_per_image(data.x_test, denoised)))}

    pipelines = {"keras.io recipe": recipe, "denoise_transpose_mnist.py": project}
    for run in pipelines.values():
        run["images_per_second"] = run["images_per_epoch"] / warm_median(run["epoch_seconds"])
    ratio = project["images_per_second"] / recipe["images_per_second"]
    print(f"\nThroughput, float32, {len(data.x_train):,} training images, "
          f"{len(data.x_val):,} validation images")
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
    print(f"(denoise_transpose_mnist.py's whole run, start to end: {script_wall:.1f} s)")

    time_ratio = (None if project["seconds_to_target"] is None
                  else project["seconds_to_target"] / recipe["seconds_to_target"])
    files.write_json(Path(__file__).with_name("speed.json"), {
        "machine": machine, "train_images": len(data.x_train), "validation_images": len(data.x_val),
        "test_images": len(data.x_test), "script_flags": ["--precision", "float32", *flags],
        "recipe_epochs": args.recipe_epochs, "target_val_psnr": target,
        "throughput_ratio": ratio, "time_to_target_ratio": time_ratio, "recipe": recipe, "project": project})
    reach = "never reaches it" if time_ratio is None else f"reaches it in {time_ratio:.2f}x its training time"
    print(f"speed: denoise_transpose_mnist.py's defaults (batch {project['batch_size']}) train "
          f"{ratio:.2f}x the recipe's images/s (batch 128), float32; against the recipe's "
          f"{args.recipe_epochs}-epoch validation PSNR ({target:.2f} dB) it {reach}; test PSNR "
          f"{project['test_psnr']:.2f} dB against {recipe['test_psnr']:.2f} dB")


if __name__ == "__main__":
    main()

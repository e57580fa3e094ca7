"""
Title: Training speed: the project's MNIST pipeline vs the keras.io recipe
Description: Two measurements, in one process, on the same data:

1. Throughput on the same architecture (the recipe's 32-filter model): the
   recipe as published (numpy arrays, noise drawn once, batch 128, float32)
   against the project's pipeline (fresh noise in the model, its batch size
   and steps per execution, bfloat16 where the CPU has it), in alternating
   runs; median epoch time, first epoch of each run excluded. A third row
   runs the project's pipeline at the recipe's batch size, to tell what the
   pipeline's levers buy apart from its (smaller, quality-tuned) batch.
2. Time to quality: seconds of training until the test PSNR first reaches
   what the recipe reaches after 30 epochs, for the recipe itself and for
   denoise_transpose_mnist.py's defaults. Evaluation time is not counted.

    DENOISE_DATA_DIR=../shared/data python benchmarks/speed.py

Prints two tables and a one-line summary, writes speed.json next to this file.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up log lines)

import keras
import numpy as np
from recipe_baseline import published_recipe

import denoise_transpose_mnist as project
from denoise_kit import datasets, files, metrics, training


class EpochClock(keras.callbacks.Callback):
    """Training seconds of each epoch and, when given test data, the test PSNR
    after it (evaluated outside the timed part)."""

    def __init__(self, x_test=None, x_test_noisy=None):
        super().__init__()
        self.x_test, self.x_test_noisy = x_test, x_test_noisy
        self.seconds, self.psnr = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        if self.x_test is not None:
            denoised = self.model.predict(self.x_test_noisy, batch_size=500, verbose=0)
            self.psnr.append(float(np.mean(metrics.psnr_per_image(self.x_test, denoised))))


def recipe_run(x_train, epochs, seed, noise_factor, clock):
    """keras.io as published: noise drawn once with numpy, float32, batch 128."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(seed)
    noisy = np.clip(x_train + noise_factor * np.random.default_rng(seed).normal(size=x_train.shape), 0, 1)
    model = published_recipe("transpose")
    model.fit(noisy.astype("float32"), x_train, epochs=epochs, batch_size=128, shuffle=True,
              verbose=0, callbacks=[clock])
    return model


def project_run(x_train, epochs, seed, noise_factor, clock, denoiser, batch_size=project.BATCH_SIZE):
    """The project's pipeline around any denoiser, as in denoise_transpose_mnist.py."""
    training.set_precision(project.PRECISION)
    keras.utils.set_random_seed(seed)
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    model = project.fresh_noise_trainer(denoiser(), noise_factor, seed, steps)
    model.fit(x_train, x_train, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[clock])
    return model


def recipe_architecture():
    model = published_recipe("transpose")
    return keras.Model(model.inputs, model.outputs)  # Uncompiled copy of the same graph.


def first_reaching(clock, target):
    """Cumulative training seconds when the PSNR first reaches `target`, and the epoch."""
    for epoch, psnr in enumerate(clock.psnr):
        if psnr >= target:
            return sum(clock.seconds[: epoch + 1]), epoch + 1
    return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=4, help="alternating throughput runs of each")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per throughput run")
    parser.add_argument("--recipe-epochs", type=int, default=30)
    parser.add_argument("--noise-factor", type=float, default=0.5)
    args = parser.parse_args()
    data = datasets.denoising_splits("mnist", args.data_dir)
    x_train, x_test = data.x_train, data.x_test
    x_test_noisy = keras.ops.convert_to_numpy(project.add_noise(x_test, args.noise_factor, project.SEED + 1))
    device = training.describe_device(training.set_precision(project.PRECISION))

    # 1. Throughput on the same architecture, alternating runs.
    batches = {"keras.io recipe": 128, "project pipeline": project.BATCH_SIZE, "project, batch 128": 128}
    epoch_times = {name: [] for name in batches}
    for seed in range(args.rounds):
        for name, batch_size in batches.items():
            clock = EpochClock()
            if name == "keras.io recipe":
                recipe_run(x_train, args.epochs, seed, args.noise_factor, clock)
            else:
                project_run(x_train, args.epochs, seed, args.noise_factor, clock, recipe_architecture,
                            batch_size)
            epoch_times[name] += clock.seconds[1:]
    speed = {name: len(x_train) / statistics.median(times) for name, times in epoch_times.items()}
    ratios = {name: speed[name] / speed["keras.io recipe"] for name in speed}
    speed_ratio = ratios["project pipeline"]
    print(f"\nThroughput on the recipe's architecture, {len(x_train):,} images, {device}")
    print(f"{'pipeline':22}{'batch':>7}{'median epoch s':>16}{'middle half':>13}{'images/s':>10}{'ratio':>8}")
    for name, times in epoch_times.items():
        first_quartile, _, third_quartile = statistics.quantiles(times, n=4)
        print(f"{name:22}{batches[name]:>7}{statistics.median(times):>16.2f}"
              f"{f'{first_quartile:.2f}-{third_quartile:.2f}':>13}{speed[name]:>10,.0f}{ratios[name]:>7.2f}x")

    # 2. Time to the recipe's 30-epoch quality.
    recipe_clock = EpochClock(x_test, x_test_noisy)
    recipe_run(x_train, args.recipe_epochs, 0, args.noise_factor, recipe_clock)
    target = recipe_clock.psnr[-1]
    project_clock = EpochClock(x_test, x_test_noisy)
    project_run(x_train, project.EPOCHS, project.SEED, args.noise_factor, project_clock,
                project.build_autoencoder)
    recipe_seconds, recipe_epoch = first_reaching(recipe_clock, target)
    project_seconds, project_epoch = first_reaching(project_clock, target)
    print(f"\nTime to {target:.2f} dB (the recipe's PSNR after {args.recipe_epochs} epochs)")
    print(f"{'pipeline':22}{'epochs':>8}{'train s':>9}{'final PSNR':>12}")
    print(f"{'keras.io recipe':22}{recipe_epoch:>8}{recipe_seconds:>9.1f}{recipe_clock.psnr[-1]:>12.2f}")
    if project_seconds is None:
        print(f"{'project pipeline':22}{'never':>8}{'':>9}{project_clock.psnr[-1]:>12.2f}")
        time_ratio = None
    else:
        time_ratio = project_seconds / recipe_seconds
        final = project_clock.psnr[-1]
        print(f"{'project pipeline':22}{project_epoch:>8}{project_seconds:>9.1f}{final:>12.2f}")
        print(f"ratio: {time_ratio:.2f} of the recipe's time")

    files.write_json(Path(__file__).with_name("speed.json"), {
        "device": device, "train_images": len(x_train), "epoch_seconds": epoch_times,
        "batch_sizes": batches,
        "images_per_second": speed, "throughput_ratios": ratios, "throughput_ratio": speed_ratio,
        "target_psnr": target,
        "recipe": {"epoch_seconds": recipe_clock.seconds, "psnr": recipe_clock.psnr},
        "project": {"epoch_seconds": project_clock.seconds, "psnr": project_clock.psnr},
        "time_to_quality_ratio": time_ratio})
    reach = f"{time_ratio:.2f} of its time" if time_ratio is not None else "never"
    print(f"speed: {speed_ratio:.2f}x the recipe's images/s on the same architecture "
          f"({ratios['project, batch 128']:.2f}x at its batch size); reaches its "
          f"{args.recipe_epochs}-epoch PSNR ({target:.2f} dB) in {reach}")


if __name__ == "__main__":
    main()

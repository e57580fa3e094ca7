"""
Title: Training speed: the project's MNIST pipeline vs the keras.io recipe
Description: Two measurements, in one process, on the same data:

0. The machine: CPU model, threads, and whether it has bfloat16 units.
1. Throughput on the same architecture (the recipe's 32-filter model): the
   recipe as published (numpy arrays, noise drawn once, batch 128, float32)
   against the project's pipeline (fresh noise in the model, steps per
   execution) in float32 at the same batch 128, at the project's own batch,
   and in bfloat16 where the CPU has it natively; alternating runs, median
   epoch time, first epoch of each run excluded.
2. Time to quality: seconds of training until the test PSNR first reaches
   what the recipe reaches after 30 epochs, for the recipe itself and for
   denoise_transpose_mnist.py's defaults, in float32. Evaluation time is
   not counted.
3. denoise_transpose_mnist.py's defaults before its float32 speed-up against
   today's: training seconds and test PSNR, float32, one after the other.

    DENOISE_DATA_DIR=../shared/data python benchmarks/speed.py

Prints three tables and a one-line summary, writes speed.json next to this file.
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
from denoise_kit import batches, datasets, files, metrics, training


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


def project_run(x_train, epochs, seed, noise_factor, clock, denoiser, batch_size=project.BATCH_SIZE,
                precision="float32", images_per_epoch=None):
    """The project's pipeline around any denoiser, as in denoise_transpose_mnist.py;
    an epoch is one pass over `x_train` unless `images_per_epoch` says otherwise."""
    training.set_precision(precision)
    keras.utils.set_random_seed(seed)
    steps_per_execution = training.steps_per_execution(project.STEPS_PER_EXECUTION)
    steps = batches.steps_per_epoch(images_per_epoch or len(x_train), batch_size, steps_per_execution)
    model = project.fresh_noise_trainer(denoiser(), noise_factor, seed, total_steps=epochs * steps)
    model.fit(batches.image_batches(x_train, batch_size=batch_size, seed=seed), steps_per_epoch=steps,
              epochs=epochs, shuffle=False, verbose=0, callbacks=[clock])
    return model, steps * batch_size


def defaults_before_issue_9():
    """The denoiser the script trained before its float32 speed-up: a decoder
    mirroring the encoder and a 3x3 output convolution (now 1x1), with 20 passes
    over the training images at batch 32. Kept here for the comparison only."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = inputs
    for n in (32, 64):
        x = keras.layers.Conv2D(n, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D(2, padding="same")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    for n in (64, 32):
        x = keras.layers.Conv2DTranspose(n, 3, strides=2, activation="relu", padding="same")(x)
    outputs = keras.layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs)


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
    parser.add_argument("--limit", type=int, default=None, help="at most N images, for a quick look")
    args = parser.parse_args()
    data = datasets.denoising_splits("mnist", args.data_dir, limit=args.limit)
    x_train, x_test = data.x_train, data.x_test
    x_test_noisy = keras.ops.convert_to_numpy(
        project.add_noise(x_test, args.noise_factor, seed=project.TEST_NOISE_SEED))
    native_bfloat16 = training.cpu_has_native_bfloat16() and not training.gpu_names()
    hardware = (f"{training.cpu_model()}, {training.cpu_threads()} threads, "
                f"bfloat16 units: {'yes' if native_bfloat16 else 'no'}; {keras.backend.backend()} backend")
    print(f"Machine: {hardware}", flush=True)

    # 1. Throughput on the same architecture at the same batch size, alternating runs.
    runs = {  # name: (batch size, precision); None is the recipe itself.
        "keras.io recipe": (128, None),
        "project, float32": (128, "float32"),
        f"project, float32, batch {project.BATCH_SIZE}": (project.BATCH_SIZE, "float32"),
    }
    if native_bfloat16:  # Emulated bfloat16 is slower than float32: only where it is native.
        runs["project, bfloat16"] = (128, "mixed")
    epoch_times = {name: [] for name in runs}
    images = {}
    for seed in range(args.rounds):
        for name, (batch_size, precision) in runs.items():
            clock = EpochClock()
            if precision is None:
                recipe_run(x_train, args.epochs, seed, args.noise_factor, clock)
                images[name] = len(x_train)
            else:
                _, images[name] = project_run(x_train, args.epochs, seed, args.noise_factor, clock,
                                              recipe_architecture, batch_size, precision)
            epoch_times[name] += clock.seconds[1:]
    speed = {name: images[name] / statistics.median(times) for name, times in epoch_times.items()}
    ratios = {name: speed[name] / speed["keras.io recipe"] for name in speed}
    print(f"\nThroughput on the recipe's architecture, {len(x_train):,} images")
    print(f"{'pipeline':30}{'batch':>7}{'median epoch s':>16}{'middle half':>13}{'images/s':>10}{'ratio':>8}")
    for name, times in epoch_times.items():
        first_quartile, _, third_quartile = statistics.quantiles(times, n=4)
        print(f"{name:30}{runs[name][0]:>7}{statistics.median(times):>16.2f}"
              f"{f'{first_quartile:.2f}-{third_quartile:.2f}':>13}{speed[name]:>10,.0f}{ratios[name]:>7.2f}x")

    # 2. Time to the recipe's 30-epoch quality, float32.
    recipe_clock = EpochClock(x_test, x_test_noisy)
    recipe_run(x_train, args.recipe_epochs, 0, args.noise_factor, recipe_clock)
    target = recipe_clock.psnr[-1]
    project_clock = EpochClock(x_test, x_test_noisy)
    project_run(x_train, project.EPOCHS, project.SEED, args.noise_factor, project_clock,
                project.build_autoencoder, images_per_epoch=project.IMAGES_PER_EPOCH)
    recipe_seconds, recipe_epoch = first_reaching(recipe_clock, target)
    project_seconds, project_epoch = first_reaching(project_clock, target)
    print(f"\nTime to {target:.2f} dB (the recipe's PSNR after {args.recipe_epochs} epochs), float32")
    print(f"{'pipeline':30}{'epochs':>8}{'train s':>9}{'final PSNR':>12}")
    print(f"{'keras.io recipe':30}{recipe_epoch:>8}{recipe_seconds:>9.1f}{recipe_clock.psnr[-1]:>12.2f}")
    time_ratio = None if project_seconds is None else project_seconds / recipe_seconds
    reached = ("never", "") if project_seconds is None else (project_epoch, f"{project_seconds:.1f}")
    print(f"{'project defaults':30}{reached[0]:>8}{reached[1]:>9}{project_clock.psnr[-1]:>12.2f}")

    # 3. The defaults before the float32 speed-up against today's, float32, same data.
    before_clock = EpochClock(x_test, x_test_noisy)
    project_run(x_train, 20, project.SEED, args.noise_factor, before_clock, defaults_before_issue_9,
                batch_size=32)
    defaults = {"before (20 passes, batch 32, 3x3 output)": before_clock,
                f"today ({project.EPOCHS} x {project.IMAGES_PER_EPOCH:,} images, batch {project.BATCH_SIZE})":
                    project_clock}
    print(f"\ndenoise_transpose_mnist.py's defaults, float32, {len(x_train):,} training images")
    print(f"{'defaults':48}{'train s':>9}{'PSNR':>8}{'ratio':>8}")
    for name, clock in defaults.items():
        print(f"{name:48}{sum(clock.seconds):>9.1f}{clock.psnr[-1]:>8.2f}"
              f"{sum(clock.seconds) / sum(before_clock.seconds):>7.2f}x")

    files.write_json(Path(__file__).with_name("speed.json"), {
        "machine": hardware, "train_images": len(x_train), "epoch_seconds": epoch_times,
        "runs": runs, "images_per_second": speed, "throughput_ratios": ratios,
        "target_psnr": target, "time_to_quality_ratio": time_ratio,
        "recipe": {"epoch_seconds": recipe_clock.seconds, "psnr": recipe_clock.psnr},
        "project": {"epoch_seconds": project_clock.seconds, "psnr": project_clock.psnr},
        "defaults_before": {"epoch_seconds": before_clock.seconds, "psnr": before_clock.psnr}})
    reach = f"{time_ratio:.2f} of its time" if time_ratio is not None else "never"
    print(f"speed: {ratios['project, float32']:.2f}x the recipe's images/s on the same architecture and "
          f"batch, float32; reaches its {args.recipe_epochs}-epoch PSNR ({target:.2f} dB) in {reach}; "
          f"today's defaults train in {sum(project_clock.seconds) / sum(before_clock.seconds):.2f}x the "
          "time of the earlier ones")


if __name__ == "__main__":
    main()

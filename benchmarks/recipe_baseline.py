"""
Title: The posts' original recipe, scored like the project's scripts
Description: Trains the keras.io denoising autoencoder as published (32
filters, kernel 3, batch 128, noise drawn once, binary cross-entropy, Adam,
10 epochs, float32) on the training split of denoise_transpose_mnist.py and
denoise_upsampling_notmnist.py (the images they keep for validation
included), and scores it on their clean test images, with its own noise:
clip(x + noise_factor * N(0, 1), 0, 1), drawn with numpy from --seed (the
training images) and --seed + 1 (the test images). That is the scripts'
noise model and noise factor but not their draw (they draw theirs with
keras.random), so the scores compare on average, not image for image. The
notMNIST run uses the UpSampling2D + Conv2D decoder, as its post does.

    DENOISE_DATA_DIR=../shared/data python benchmarks/recipe_baseline.py
    DENOISE_DATA_DIR=../shared/data python benchmarks/recipe_baseline.py --epochs 1 --limit 2000

Prints a table, writes recipe_baseline.json next to this file (or to --json).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up log lines)

import keras
import numpy as np
from keras import layers

from denoise_kit import datasets, files, results
from denoise_kit.hardware import describe_device

SEED = 42  # As the scripts' SEED; the test noise uses SEED + 1.


def published_recipe(decoder, metrics=()):
    """keras.io's denoising autoencoder; `decoder` is "transpose" or "upsampling".
    `metrics` only adds what Keras reports; training is as published."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(inputs)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    for _ in range(2):
        if decoder == "transpose":
            x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
        else:
            x = layers.UpSampling2D((2, 2))(x)
            x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    outputs = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=list(metrics))
    return model


def add_noise(images, noise_factor, seed):
    """clip(x + noise_factor * N(0, 1), 0, 1), drawn once with numpy, as published."""
    noise = np.random.default_rng(seed).normal(size=images.shape)
    return np.clip(images + noise_factor * noise, 0, 1).astype("float32")


def run(dataset, decoder, epochs, noise_factor, seed, data_dir, limit=None):
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(seed)
    (x_train, _), (x_test, _) = datasets.load_dataset(dataset, data_dir, verbose=False)
    x_train = x_train[:limit]  # The test set stays whole, as in the scripts.
    x_train_noisy = add_noise(x_train, noise_factor, seed)
    x_test_noisy = add_noise(x_test, noise_factor, seed + 1)
    model = published_recipe(decoder)
    start = time.perf_counter()
    model.fit(x_train_noisy, x_train, epochs=epochs, batch_size=128, shuffle=True,
              validation_data=(x_test_noisy, x_test), verbose=0)
    seconds = time.perf_counter() - start
    denoised = model.predict(x_test_noisy, batch_size=256, verbose=0)
    return {
        "dataset": dataset, "decoder": decoder, "epochs": epochs, "params": model.count_params(),
        **results.evaluate(x_test, x_test_noisy, denoised),
        "train_seconds": round(seconds, 1),
        "train_images_per_second": round(len(x_train) * epochs / seconds, 1),
        "train_images": len(x_train), "test_images": len(x_test),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--noise-factor", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--limit", type=int, default=None, help="at most N training images, for a quick look")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("recipe_baseline.json"),
                        help="where to write the results")
    args = parser.parse_args()
    rows = [run(dataset, decoder, args.epochs, args.noise_factor, args.seed, args.data_dir, args.limit)
            for dataset, decoder in (("mnist", "transpose"), ("notmnist", "upsampling"))]
    device = describe_device("float32")
    print(f"\nkeras.io recipe, {args.epochs} epochs, noise {args.noise_factor}, on {device}")
    print(f"{'dataset':10}{'decoder':12}{'params':>8}{'PSNR noisy':>12}{'PSNR':>8}{'SSIM':>8}"
          f"{'train s':>9}{'img/s':>8}")
    for r in rows:
        print(f"{r['dataset']:10}{r['decoder']:12}{r['params']:>8,}{r['psnr_noisy']:>12.2f}"
              f"{r['psnr_denoised']:>8.2f}{r['ssim_denoised']:>8.3f}{r['train_seconds']:>9.1f}"
              f"{r['train_images_per_second']:>8,.0f}")
    files.write_json(args.json, rows)
    print("recipe: " + "; ".join(f"{r['dataset']} {r['psnr_denoised']:.2f} dB / SSIM "
                                 f"{r['ssim_denoised']:.3f} in {r['train_seconds']:.0f} s" for r in rows))


if __name__ == "__main__":
    main()

"""
Title: Why batch 8? Quality and training time of the MNIST denoiser per batch size
Description: Trains denoise_transpose_mnist.py's model with its defaults
(budget in images, learning rate and its cosine decay, fresh noise,
precision), changing only the batch size, and scores each run on the
script's own noisy test images. Larger batches take fewer steps, each a
little cheaper per image; on a small model and a CPU they save less time
than they cost in quality.

    DENOISE_DATA_DIR=../shared/data python benchmarks/batch_size.py

Prints a table and a one-line summary, writes batch_size.json next to this file.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up log lines)

import keras

import denoise_transpose_mnist as project
from compare_decoders import steps_per_epoch, train  # Trains a denoiser as the scripts do.
from denoise_kit import datasets, files, report, training


def train_and_score(data, x_test_noisy, batch_size, epochs, images_per_epoch, noise_factor):
    settings = argparse.Namespace(epochs=epochs, images_per_epoch=images_per_epoch, batch_size=batch_size,
                                  noise_factor=noise_factor)
    denoiser, seconds = train(project.build_autoencoder, data, settings, project.SEED)
    denoised = denoiser.predict(x_test_noisy, batch_size=256, verbose=0)
    scores = report.evaluate(data.x_test, x_test_noisy, denoised)
    images = epochs * steps_per_epoch(settings) * batch_size
    return {"batch_size": batch_size, "psnr": scores["psnr_denoised"], "ssim": scores["ssim_denoised"],
            "train_seconds": seconds, "images_per_second": images / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--epochs", type=int, default=project.EPOCHS)
    parser.add_argument("--images-per-epoch", type=int, default=project.IMAGES_PER_EPOCH)
    parser.add_argument("--noise-factor", type=float, default=project.NOISE_FACTOR)
    parser.add_argument("--precision", choices=("auto", "float32", "mixed"), default=project.PRECISION)
    args = parser.parse_args()
    data = datasets.denoising_splits("mnist", args.data_dir, validation_fraction=project.VALIDATION_FRACTION,
                                     max_validation=project.MAX_VALIDATION_IMAGES)
    x_test_noisy = keras.ops.convert_to_numpy(
        project.add_noise(data.x_test, args.noise_factor, seed=project.TEST_NOISE_SEED))
    device = training.describe_device(training.set_precision(args.precision))  # Once, for all runs.
    device += f" on {training.cpu_model()}"

    rows = [train_and_score(data, x_test_noisy, b, args.epochs, args.images_per_epoch, args.noise_factor)
            for b in args.batch_sizes]
    print(f"\n{args.epochs} x {args.images_per_epoch:,} noisy images for the MNIST denoiser "
          f"({len(data.x_train):,} training images), {device}")
    print(f"{'batch':>6}{'PSNR dB':>9}{'SSIM':>7}{'train s':>9}{'images/s':>10}")
    for row in rows:
        print(f"{row['batch_size']:>6}{row['psnr']:>9.2f}{row['ssim']:>7.3f}{row['train_seconds']:>9.1f}"
              f"{row['images_per_second']:>10,.0f}")
    files.write_json(Path(__file__).with_name("batch_size.json"), {
        "device": device, "epochs": args.epochs, "images_per_epoch": args.images_per_epoch,
        "noise_factor": args.noise_factor, "runs": rows})
    best = max(rows, key=lambda row: row["psnr"])
    fastest = min(rows, key=lambda row: row["train_seconds"])
    print(f"batch size: {best['batch_size']} scores best ({best['psnr']:.2f} dB); batch "
          f"{fastest['batch_size']} trains fastest ({fastest['train_seconds']:.1f} s vs "
          f"{best['train_seconds']:.1f} s) at {fastest['psnr']:.2f} dB")


if __name__ == "__main__":
    main()

"""
Title: UpSampling2D or Conv2DTranspose? A measured answer
Description: Trains the same denoising autoencoder with four decoders (same
encoder, same number of parameters within 5%, same data, noise and training
budget) over several seeds, scores them against classical denoisers on the
same noisy test images, and says which wins and whether the difference is
larger than the seed-to-seed spread.

Run it:
    python compare_decoders.py                      # MNIST, 10 epochs, 3 seeds
    python compare_decoders.py --dataset notmnist --noise-factor 0.3
    python compare_decoders.py --limit 1000 --epochs 2 --seeds 1   # a quick look

It writes results.md, results.json, comparison.png and artifacts.png to
outputs/compare_decoders/.
"""

from denoise_kit import cli

cli.quiet_tensorflow()

import time

import keras
import numpy as np

import denoise_transpose_mnist as transpose_script
import denoise_upsampling_notmnist as upsampling_script
from denoise_kit import baselines, compare, datasets, files, metrics, plots, training
from denoise_kit.errors import ConfigError

# ## Configuration

DATASET = "mnist"  # "mnist" or "notmnist"
NOISE_FACTOR = 0.5
EPOCHS = 10  # The same training budget for every decoder.
BATCH_SIZE = transpose_script.BATCH_SIZE
SEEDS = 3  # Trainings per decoder; their spread decides what counts as a tie.
SEED = transpose_script.SEED  # The scripts' seed: the same noisy test images as theirs.
TUNING_IMAGES = 300  # Training images used to tune each classical filter's parameter.
SHOWN = 8  # Test images in comparison.png.
MIXED_PRECISION = transpose_script.MIXED_PRECISION


# ## The four decoders, built by the two denoising scripts' own functions
# Kernel 4 gets narrower decoder layers (36 instead of 64 filters first) so that
# all four have the same number of parameters.

DECODERS = {
    "Conv2DTranspose k3 s2": lambda: transpose_script.build_autoencoder(),
    "Conv2DTranspose k4 s2": lambda: transpose_script.build_autoencoder(
        decoder_kernel_size=4, decoder_filters=(36, transpose_script.FILTERS[0])),
    "UpSampling2D nearest + Conv2D": lambda: upsampling_script.build_autoencoder(interpolation="nearest"),
    "UpSampling2D bilinear + Conv2D": lambda: upsampling_script.build_autoencoder(interpolation="bilinear"),
}


def train(build, data, args, seed):
    """Train one decoder exactly as the scripts do; return it and its training seconds."""
    keras.utils.set_random_seed(seed)
    denoiser = build()
    steps = args.epochs * int(np.ceil(len(data.x_train) / args.batch_size))
    model = transpose_script.fresh_noise_trainer(denoiser, args.noise_factor, seed, steps)
    start = time.perf_counter()
    model.fit(data.x_train, data.x_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    return denoiser, time.perf_counter() - start


def main():
    parser = cli.training_parser(__file__, __doc__, epochs=EPOCHS, batch_size=BATCH_SIZE,
                                 noise_factor=NOISE_FACTOR, seed=SEED)
    parser.add_argument("--dataset", choices=sorted(datasets.CLASS_NAMES), default=DATASET)
    parser.add_argument("--seeds", type=int, default=SEEDS, help="trainings per decoder")
    args = parser.parse_args()
    cli.check_training_args(args)
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    plots.setup_matplotlib()
    policy = training.set_precision(MIXED_PRECISION)

    # ## Data and noise: the scripts' split and the scripts' test noise
    data = datasets.denoising_splits(args.dataset, args.data_dir, limit=args.limit)
    cli.check_training_args(args, len(data.x_train))
    add_noise = transpose_script.add_noise
    x_test_noisy = keras.ops.convert_to_numpy(add_noise(data.x_test, args.noise_factor, seed=args.seed + 1))
    tuning_clean = data.x_train[:TUNING_IMAGES]
    tuning_noisy = keras.ops.convert_to_numpy(add_noise(tuning_clean, args.noise_factor, seed=args.seed + 2))
    shown = list(range(SHOWN))
    rows = [("clean", data.x_test[shown]), ("noisy", x_test_noisy[shown])]
    titles = [[""] * SHOWN, [f"{p:.1f} dB" for p in metrics.psnr_per_image(data.x_test[shown],
                                                                           x_test_noisy[shown])]]
    results = []

    def record(result, denoised, name):
        rows.append((name, denoised[shown]))
        titles.append([f"{p:.1f} dB" for p in metrics.psnr_per_image(data.x_test[shown], denoised[shown])])
        results.append(result)

    # ## Classical denoisers, each with its one parameter tuned on training images
    methods, notes = baselines.available_methods()
    for method in methods:
        tuned = baselines.tune(method, tuning_clean, tuning_noisy)
        denoised, ms = baselines.apply(tuned, x_test_noisy)
        score = metrics.quality(data.x_test, denoised)
        print(f"{method.name:32} {method.parameter} = {tuned.value:g}: {score['psnr']:.2f} dB", flush=True)
        record(compare.Result(method.name, "classical", f"{method.parameter} = {tuned.value:g}",
                              [score["psnr"]], [score["ssim"]], inference_ms=[ms]),
               denoised, method.name.split(" (")[0].replace(" ", "\n", 1))
    for note in notes:
        print(note)

    # ## The four decoders, each trained with every seed
    device = training.describe_device(policy)
    print(f"\nTraining {len(DECODERS)} decoders x {args.seeds} seed(s), {args.epochs} epochs each, "
          f"on {keras.backend.backend()}, {device}: {len(data.x_train):,} train / "
          f"{len(data.x_test):,} test images", flush=True)
    error_images = {}
    for name, build in DECODERS.items():
        result = compare.Result(name, "neural", "")
        error_sum = np.zeros(data.x_test.shape[1:3])
        for i in range(args.seeds):
            denoiser, seconds = train(build, data, args, args.seed + i)
            start = time.perf_counter()
            denoised = denoiser.predict(x_test_noisy, batch_size=256, verbose=0)
            result.inference_ms.append(1000 * (time.perf_counter() - start) / len(x_test_noisy))
            score = metrics.quality(data.x_test, denoised)
            result.psnr.append(score["psnr"])
            result.ssim.append(score["ssim"])
            result.train_seconds.append(seconds)
            result.images_per_second.append(len(data.x_train) * args.epochs / seconds)
            error_sum += (denoised - data.x_test).mean(axis=0)[..., 0]
            if i == 0:
                first_run = denoised
            print(f"{name:32} seed {args.seed + i}: {score['psnr']:.2f} dB, SSIM {score['ssim']:.3f}, "
                  f"{seconds:.0f} s", flush=True)
        result.params = f"{denoiser.count_params():,}"
        error_images[name] = error_sum / args.seeds
        result.checkerboard = compare.checkerboard_energy(error_images[name])
        record(result, first_run, name.replace(" + Conv2D", "").replace(" ", "\n", 1))

    # ## Results
    out = args.output_dir
    answer = compare.verdict(results, args.dataset, args.noise_factor)
    header = (f"# UpSampling2D or Conv2DTranspose on {args.dataset}, noise {args.noise_factor:g}\n\n"
              f"{args.epochs} epochs, batch {args.batch_size}, {args.seeds} seed(s) per decoder, "
              f"{len(data.x_train):,} training and {len(data.x_test):,} test images, {device}. "
              "PSNR and SSIM are means over the test set; ± is the standard deviation over seeds. "
              "Checkerboard: share of the mean error image's spectrum at the stride-2 frequencies.\n\n")
    files.write_text(out / "results.md", header + compare.results_table(results) + "\n\n"
                     + "\n".join(notes + [""]) + "\n" + answer + "\n")
    files.write_json(out / "results.json", {
        "dataset": args.dataset, "noise_factor": args.noise_factor, "epochs": args.epochs,
        "batch_size": args.batch_size, "seeds": args.seeds, "device": device,
        "train_images": len(data.x_train), "test_images": len(data.x_test), "notes": notes,
        "verdict": answer, "results": [vars(r) for r in results]})
    plots.image_rows(rows, out / "comparison.png", titles=titles,
                     suptitle=f"{args.dataset}, noise {args.noise_factor:g}: PSNR of each test image")
    energies = {r.method: r.checkerboard for r in results if r.kind == "neural"}
    plots.error_maps(error_images, out / "artifacts.png", energies)
    print("\n" + compare.results_table(results) + "\n\n" + answer)
    for name in ("results.md", "results.json", "comparison.png", "artifacts.png"):
        print(f"wrote {out / name}")


if __name__ == "__main__":
    cli.run(main)

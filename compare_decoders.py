"""
Title: UpSampling2D or Conv2DTranspose? A measured answer
Description: Trains the same denoising autoencoder with four decoders (same
encoder, same number of parameters within 5%, same data, noise and training
budget) with the same seeds, scores them against classical denoisers on the
same noisy test images, and says which wins and whether the difference is
larger than the seed-to-seed spread.

Run it:
    python compare_decoders.py                      # MNIST, 5 x 8,000 images, 3 seeds
    python compare_decoders.py --dataset notmnist --noise-factor 0.3
    python compare_decoders.py --noise-factors 0.2,0.5,0.8   # how it changes with the noise
    python compare_decoders.py --limit 1000 --epochs 2 --seeds 1   # a quick look

It writes results.md, results.json, comparison.png (one per noise level with
--noise-factors), artifacts.png and, for several noise levels,
psnr_vs_noise.png to outputs/compare_decoders/. Every finished training is
saved in progress.json there: stop it at any time (Ctrl-C) and run the same
command again to train only the rest.
"""

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field

import denoise_kit.quiet  # noqa: F401  (before keras: hides TensorFlow's start-up log lines)

import keras
import numpy as np

import denoise_transpose_mnist as transpose_script
import denoise_upsampling_notmnist as upsampling_script
from denoise_kit import (
    baselines,
    batches,
    cli,
    compare,
    datasets,
    files,
    finished_work,
    metrics,
    plots,
    training,
)
from denoise_kit.errors import ConfigError

# ## Configuration

DATASET = "mnist"  # "mnist" or "notmnist"
NOISE_FACTOR = 0.5
EPOCHS = 5  # The same training budget for every decoder:
IMAGES_PER_EPOCH = 8_000  # EPOCHS x IMAGES_PER_EPOCH noisy images,
BATCH_SIZE = 16  # Not the Conv2DTranspose script's 8: 4 decoders x 3 seeds train faster at 16.
SEEDS = 3  # Trainings per decoder, the same seeds for each; their spread decides what counts as a tie.
SEED = transpose_script.SEED  # First training seed; the others follow it.
TEST_NOISE_SEED = transpose_script.TEST_NOISE_SEED  # The scripts' noisy test images, whatever --seed is.
TUNING_NOISE_SEED = 44  # The noisy training images the classical filters are tuned on.
TUNING_IMAGES = 300  # Training images used to tune each classical filter's parameter.
SHOWN = 8  # Test images in comparison.png.
INFERENCE_BATCH = 256  # Images per predict step when scoring the test set.
PRECISION = transpose_script.PRECISION  # "auto", "float32" or "mixed", as in the scripts.
PROGRESS_FILE = "progress.json"  # Finished trainings, so an interrupted run resumes.


# ## The four decoders, built by the two denoising scripts' own functions
# All four get the UpSampling2D script's decoder widths (32 then 16 filters);
# kernel 4 gets 18 filters first instead of 32, so that all four have the same
# number of parameters.

DECODER_FILTERS = upsampling_script.DECODER_FILTERS
DECODERS = {
    "Conv2DTranspose k3 s2": lambda: transpose_script.build_autoencoder(decoder_filters=DECODER_FILTERS),
    "Conv2DTranspose k4 s2": lambda: transpose_script.build_autoencoder(
        decoder_kernel_size=4, decoder_filters=(18, DECODER_FILTERS[1])),
    "UpSampling2D nearest + Conv2D": lambda: upsampling_script.build_autoencoder(
        interpolation="nearest", decoder_filters=DECODER_FILTERS),
    "UpSampling2D bilinear + Conv2D": lambda: upsampling_script.build_autoencoder(
        interpolation="bilinear", decoder_filters=DECODER_FILTERS),
}


# ## Training, timed at full speed (training.WarmTimer leaves out building and tracing the graph)


def steps_per_epoch(args):
    steps_per_execution = training.steps_per_execution(transpose_script.STEPS_PER_EXECUTION)
    return batches.steps_per_epoch(args.images_per_epoch, args.batch_size, steps_per_execution)


def train(build, data, args, seed):
    """Train one decoder as the scripts do, on this script's fixed budget; return
    it and its training seconds without building and tracing the graph (see WarmTimer)."""
    keras.utils.set_random_seed(seed)
    denoiser = build()
    steps = steps_per_epoch(args)
    model = transpose_script.fresh_noise_trainer(denoiser, args.noise_factor, seed,
                                                 total_steps=args.epochs * steps)
    timer = training.WarmTimer()
    model.fit(batches.image_batches(data.x_train, batch_size=args.batch_size, seed=seed),
              steps_per_epoch=steps, epochs=args.epochs, shuffle=False, verbose=0, callbacks=[timer])
    return denoiser, timer.seconds


# ## Finished work, saved as it is done
# progress.json holds every finished training and classical score, keyed by
# noise level, method and seed, under the settings they were made with. A run
# with the same settings skips them; other settings start a fresh file.


def run_settings(args, data, policy):
    """What a resumed run must share with the one it continues: every flag
    except where outputs go, the noise levels and the number of seeds (those
    only add entries), plus the data actually used and the precision."""
    per_entry = {"output_dir", "noise_factor", "noise_factors", "seeds"}
    settings = {k: v for k, v in vars(args).items() if k not in per_entry}
    settings.update(data_dir=datasets.resolve_data_dir(args.data_dir), dtype_policy=policy,
                    train_images=len(data.x_train), test_images=len(data.x_test),
                    tuning_images=TUNING_IMAGES)
    return json.loads(json.dumps(settings, default=str))  # As a saved copy reads back: comparable.


# ## One noise level: the test noise and everything scored on it


@dataclass
class Level:
    noise_factor: float
    x_noisy: np.ndarray
    tuning_clean: np.ndarray
    tuning_noisy: np.ndarray
    results: list = field(default_factory=list)
    shown: list = field(default_factory=list)  # (row label, denoised shown images)
    errors: dict = field(default_factory=dict)  # decoder -> (mean error, error spectrum, share)

    @property
    def label(self):
        return f"noise {self.noise_factor:g}"


def make_level(data, noise_factor):
    """The scripts' test noise and the classical filters' tuning noise at one level."""
    add_noise = transpose_script.add_noise
    tuning_clean = data.x_train[:TUNING_IMAGES]
    return Level(
        noise_factor,
        keras.ops.convert_to_numpy(add_noise(data.x_test, noise_factor, seed=TEST_NOISE_SEED)),
        tuning_clean,
        keras.ops.convert_to_numpy(add_noise(tuning_clean, noise_factor, seed=TUNING_NOISE_SEED)),
    )


def scores(clean, denoised):
    """PSNR, SSIM and the checkerboard share of the error, per image then averaged."""
    quality = metrics.quality(clean, denoised)
    return {"psnr": quality["psnr"], "ssim": quality["ssim"],
            "checkerboard": compare.checkerboard_share(denoised - clean)}


# ## Classical denoisers, each with its one parameter tuned on training images


def score_classical(level, data, methods, progress):
    print(f"Classical filters at {level.label}, each parameter tuned on {len(level.tuning_clean)} "
          "training images:", flush=True)
    for method in methods:
        key = f"{level.label} | {method.name}"
        entry = progress.get(key)
        if entry is None:
            tuned = baselines.tune(method, level.tuning_clean, level.tuning_noisy)
            denoised, ms = baselines.apply(tuned, level.x_noisy)
            entry = {"value": tuned.value, "inference_ms": ms, **scores(data.x_test, denoised),
                     "shown": finished_work.packed_images(denoised[:SHOWN])}
            progress.save(key, entry)
        print(f"  {method.name:30} {method.parameter} = {entry['value']:g}: "
              f"{entry['psnr']:.2f} dB", flush=True)
        level.results.append(compare.Result(
            method.name, "classical", f"{method.parameter} = {entry['value']:g}", [entry["psnr"]],
            [entry["ssim"]], inference_ms=[entry["inference_ms"]], checkerboard=entry["checkerboard"]))
        row_label = method.name.split(" (")[0].replace(" ", "\n", 1)
        level.shown.append((row_label, finished_work.unpacked_images(entry["shown"])))


# ## The four decoders, each trained with every seed


def score_decoder(build, level, data, args, seed):
    """Train one decoder at one noise level with one seed; its scores as a dict."""
    level_args = argparse.Namespace(**{**vars(args), "noise_factor": level.noise_factor})
    denoiser, seconds = train(build, data, level_args, seed)
    denoised, ms = training.predict_timed(denoiser, level.x_noisy, INFERENCE_BATCH)
    error = denoised - data.x_test
    trained_images = args.epochs * steps_per_epoch(args) * args.batch_size
    entry = {"train_seconds": seconds, "images_per_second": trained_images / seconds,
             "inference_ms": ms, "params": denoiser.count_params(), **scores(data.x_test, denoised),
             "mean_error": finished_work.packed(error.mean(axis=0)[..., 0]),
             "spectrum": finished_work.packed(compare.mean_error_spectrum(error))}
    if seed == args.seed:
        entry["shown"] = finished_work.packed_images(denoised[:SHOWN])
    return entry


def train_decoders(levels, data, args, progress):
    """Every decoder at every level with every seed; one line per training, with the time left."""
    seeds = [args.seed + i for i in range(args.seeds)]
    todo = [(level, name, seed) for level in levels for name in DECODERS for seed in seeds]
    done = sum(progress.get(training_key(level, name, seed)) is not None for level, name, seed in todo)
    if done:
        print(f"{done} of {len(todo)} trainings already finished in {progress.path}: training the rest",
              flush=True)
    finished_seconds = []
    for level, name, seed in todo:
        key = training_key(level, name, seed)
        if progress.get(key) is not None:
            continue
        start = time.perf_counter()
        entry = score_decoder(DECODERS[name], level, data, args, seed)
        progress.save(key, entry)
        finished_seconds.append(time.perf_counter() - start)
        done += 1
        left = compare.time_left(finished_seconds, done, len(todo))
        where = f"{level.label}, " if len(levels) > 1 else ""
        print(f"{name:31}{where}seed {seed}: {entry['psnr']:.2f} dB, SSIM {entry['ssim']:.3f}, "
              f"trained in {entry['train_seconds']:.0f} s | {done}/{len(todo)} done"
              + (f", about {compare.format_duration(left)} left" if done < len(todo) else ""), flush=True)
    for level in levels:
        for name in DECODERS:
            entries = [progress.get(training_key(level, name, seed)) for seed in seeds]
            add_decoder_result(level, name, entries, seeds)


def training_key(level, name, seed):
    return f"{level.label} | {name} | seed {seed}"


def add_decoder_result(level, name, entries, seeds):
    """One Result per decoder from its per-seed entries; errors averaged over seeds."""
    column = lambda k: [float(e[k]) for e in entries]  # noqa: E731
    level.results.append(compare.Result(
        name, "neural", f"{entries[0]['params']:,}", column("psnr"), column("ssim"),
        column("train_seconds"), column("images_per_second"), column("inference_ms"),
        checkerboard=float(np.mean(column("checkerboard"))), seeds=list(seeds)))
    level.errors[name] = (np.mean([finished_work.unpacked(e["mean_error"]) for e in entries], axis=0),
                          np.mean([finished_work.unpacked(e["spectrum"]) for e in entries], axis=0),
                          float(np.mean(column("checkerboard"))))
    row_label = name.replace(" + Conv2D", "").replace(" ", "\n", 1)
    level.shown.append((row_label, finished_work.unpacked_images(entries[0]["shown"])))


# ## The whole comparison


def compare_all(args, data, policy):
    """Score every method at every noise level, saving as it goes; write the results."""
    progress = finished_work.FinishedWork(args.output_dir / PROGRESS_FILE, run_settings(args, data, policy))
    levels = [make_level(data, noise) for noise in args.noise_factors]
    methods, notes = baselines.available_methods()
    for level in levels:
        score_classical(level, data, methods, progress)
    for note in notes:
        print(note)
    device = training.describe_device(
        policy, training.steps_per_execution(transpose_script.STEPS_PER_EXECUTION))
    print(f"\nTraining {len(DECODERS)} decoders x {args.seeds} seed(s) x {len(levels)} noise level(s), "
          f"{args.epochs} epoch(s) each, on {keras.backend.backend()}, {device}: "
          f"{len(data.x_train):,} train / {len(data.x_test):,} test images", flush=True)
    train_decoders(levels, data, args, progress)
    write_results(levels, data, args, device, notes)
    return levels


# ## Results


def write_results(levels, data, args, device, notes):
    out = args.output_dir
    shape = data.x_test.shape[1:3]
    white, mask = compare.white_noise_share(shape), compare.stride_frequency_mask(shape)
    verdicts = [compare.verdict(level.results, args.dataset, level.noise_factor) for level in levels]
    if len(levels) > 1:
        verdicts.append(compare.sweep_summary({level.noise_factor: level.results for level in levels}))
    answer = "\n\n".join(verdicts)
    noisy_psnr = {level.noise_factor: metrics.quality(data.x_test, level.x_noisy) for level in levels}
    noises = ", ".join(f"{level.noise_factor:g}" for level in levels)
    header = (
        f"# UpSampling2D or Conv2DTranspose on {args.dataset}, noise {noises}\n\n"
        f"{args.epochs} epochs, batch {args.batch_size}, seeds {args.seed} to {args.seed + args.seeds - 1} "
        f"for every decoder, {len(data.x_train):,} training and {len(data.x_test):,} test images, {device}. "
        "PSNR and SSIM are means over the test set; ± is the standard deviation over seeds. "
        "Train s: training time without building and tracing the graph; inference: after a warm-up run. "
        f"{compare.TIE_RULE}\n\n"
        "Checkerboard: the share of each test image's error power (mean removed) at the frequencies "
        "of patterns that repeat every 2 or 4 pixels, along rows, columns or both (what the two "
        "stride-2 layers of a 28->7->28 decoder can leave), averaged over the images. White noise "
        f"puts {white:.4f} there ({mask.sum()} of the {mask.size - 1} frequency bins other than 0): "
        "a value near that is no "
        "pattern; several times more is one (artifacts.png).\n")
    sections = []
    for level, text in zip(levels, verdicts, strict=False):
        noisy = noisy_psnr[level.noise_factor]
        sections.append(f"## Noise {level.noise_factor:g}\n\nNoisy input: {noisy['psnr']:.2f} dB, "
                        f"SSIM {noisy['ssim']:.3f}.\n\n{compare.results_table(level.results)}\n\n{text}\n")
    footer = "\n".join(notes + ([verdicts[-1]] if len(levels) > 1 else []))
    files.write_text(out / "results.md", "\n".join([header, *sections, footer]).rstrip() + "\n")
    files.write_json(out / "results.json", {
        "dataset": args.dataset, "noise_factors": [level.noise_factor for level in levels],
        "epochs": args.epochs, "images_per_epoch": steps_per_epoch(args) * args.batch_size,
        "batch_size": args.batch_size, "seeds": args.seeds, "seed": args.seed, "limit": args.limit,
        "precision": args.precision, "backend": keras.backend.backend(), "device": device,
        "train_images": len(data.x_train),
        "test_images": len(data.x_test), "notes": notes, "tie_rule": compare.TIE_RULE,
        "checkerboard_white_noise": white, "verdict": answer,
        "levels": [{"noise_factor": level.noise_factor, "noisy_psnr": noisy_psnr[level.noise_factor]["psnr"],
                    "noisy_ssim": noisy_psnr[level.noise_factor]["ssim"], "verdict": text,
                    "results": [vars(r) for r in level.results]}
                   for level, text in zip(levels, verdicts, strict=False)]})
    written = ["results.md", "results.json"]
    for level in levels:
        name = "comparison.png" if len(levels) == 1 else f"comparison_noise_{level.noise_factor:g}.png"
        draw_comparison(level, data, args.dataset, out / name)
        written.append(name)
    plots.error_maps({level.label: level.errors for level in levels}, out / "artifacts.png",
                     mask, white)
    written.append("artifacts.png")
    if len(levels) > 1:
        draw_psnr_vs_noise(levels, noisy_psnr, args.dataset, args.epochs, out / "psnr_vs_noise.png")
        written.append("psnr_vs_noise.png")
    print("\n" + "\n\n".join(s.rstrip() for s in sections) + "\n")
    if len(levels) > 1:
        print(verdicts[-1] + "\n")
    for name in written:
        print(f"wrote {out / name}")


def draw_comparison(level, data, dataset, path):
    clean, noisy = data.x_test[:SHOWN], level.x_noisy[:SHOWN]
    rows = [("clean", clean), ("noisy", noisy), *level.shown]
    titles = [[""] * SHOWN] + [[f"{p:.1f} dB" for p in metrics.psnr_per_image(clean, images)]
                               for _, images in rows[1:]]
    plots.image_rows(rows, path, titles=titles,
                     suptitle=f"{dataset}, noise {level.noise_factor:g}: PSNR of each test image")


def draw_psnr_vs_noise(levels, noisy_psnr, dataset, epochs, path):
    decoders = {name: ([], []) for name in DECODERS}
    classical = []
    for level in levels:
        for r in level.results:
            if r.kind == "neural":
                decoders[r.method][0].append(r.psnr_mean)
                decoders[r.method][1].append(r.psnr_sd)
        best = max((r for r in level.results if r.kind == "classical"), key=lambda r: r.psnr_mean)
        classical.append((best.method, best.psnr_mean))
    seeds = len(levels[0].results[-1].psnr)
    plots.psnr_vs_noise([level.noise_factor for level in levels], decoders, classical, path,
                        noisy=[noisy_psnr[level.noise_factor]["psnr"] for level in levels],
                        title=f"{dataset}, {epochs} epoch(s): test PSNR against noise level "
                              f"(error bars: ± 1 standard deviation over {seeds} seed(s))")


def noise_factors_of(args):
    """--noise-factors as a sorted list, else the single --noise-factor."""
    if args.noise_factors is None:
        return [args.noise_factor]
    try:
        values = [float(v) for v in args.noise_factors.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise ConfigError(f"--noise-factors takes numbers separated by commas, e.g. 0.2,0.5,0.8; "
                          f"got {args.noise_factors!r}")
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise ConfigError(f"--noise-factors must be numbers, 0 or more, got {args.noise_factors}")
    return sorted(set(values))


def parse_args(argv=None):
    parser = cli.training_parser(__file__, __doc__, epochs=EPOCHS, images_per_epoch=IMAGES_PER_EPOCH,
                                 batch_size=BATCH_SIZE,
                                 noise_factor=NOISE_FACTOR, seed=SEED, dataset=DATASET, precision=PRECISION)
    parser.add_argument("--seeds", type=int, default=SEEDS,
                        help="trainings per decoder, with seeds SEED, SEED+1, ... for every decoder")
    parser.add_argument("--noise-factors", default=None, metavar="A,B,...",
                        help="compare at each of these noise levels (overrides --noise-factor) "
                             "and draw psnr_vs_noise.png")
    args = parser.parse_args(argv)
    cli.check_training_args(args)
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    if args.seed + args.seeds > 2**32:  # Seeds seed, seed + 1, ...: each one numpy must take.
        raise ConfigError(f"--seed {args.seed} with --seeds {args.seeds} goes past 4294967295: "
                          "choose a smaller --seed")
    if getattr(args, "denoise", None):  # A flag the training scripts share; nothing to do here.
        raise ConfigError("--denoise is for the denoising scripts: compare_decoders.py trains and "
                          "scores every decoder (run denoise_transpose_mnist.py --denoise ... instead)")
    args.noise_factors = noise_factors_of(args)
    return args


def main():
    args = parse_args()
    plots.setup_matplotlib()
    training.quiet_retracing_notices()
    policy = training.set_precision(args.precision)
    data = datasets.denoising_splits(args.dataset, args.data_dir, limit=args.limit)
    cli.check_training_args(args, len(data.x_train))
    try:
        compare_all(args, data, policy)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the finished trainings are saved in {args.output_dir / PROGRESS_FILE}; "
              "run the same command again to train only the rest", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    cli.run(main)

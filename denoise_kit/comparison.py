"""The bookkeeping of compare_decoders.py: what is finished, what is left, how
long each training took, and the results written from it.

    run = comparison.Comparison(CONFIG, machine, data, x_test_noisy, decoders=list(DECODERS),
                                images_per_epoch=steps_per_epoch * BATCH_SIZE)
    for noise_factor, name, seed in run.trainings_to_do():    # only what progress.json lacks
        ...
        trainer.fit(..., callbacks=run.callbacks(noise_factor, name, seed))  # timed
        x_denoised = run.predict(denoiser, x_test_noisy[noise_factor])        # timed, warm
        run.save_training(noise_factor, name, seed, denoiser, x_denoised, psnr)
    run.score_classical_filters(x_tuning, x_tuning_noisy)     # tuned, scored and saved
    psnr = run.psnr_by_seed(noise_factor)                     # decoder -> PSNR per seed
    print(comparison.write_results(run, gaps))                # each level's table and verdict

The script itself computes each training's PSNR and, per noise level, the
per-seed differences and their 95% intervals (`gaps`): this module only
records them and puts them into words.

Every classical score and every finished training goes into progress.json in
the output folder as soon as it is done, under the settings it was made with
(finished_work.py): the same command, run again after a stop, trains only the
rest; other settings start afresh. One run at a time writes into a folder
(folders.py).

`write_results` writes results.md (the tables and the verdict in words),
results.json (every number), comparison.png (the shown test images denoised
by every method; one per noise level for several), artifacts.png (where each
decoder's errors sit, and how much of them is a checkerboard) and, for
several noise levels, psnr_vs_noise.png.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from denoise_kit import baselines, compare, datasets, errors, files, finished_work, folders, metrics, plots
from denoise_kit.errors import UserError
from denoise_kit.hardware import Hardware
from denoise_kit.timing import WarmTimer, predict_timed

PROGRESS_FILE = "progress.json"
# Constants a resumed run may change: they only say where results go, or add entries to them.
ADDS_ENTRIES = ("OUTPUT_DIR", "NOISE_FACTOR", "NOISE_FACTORS", "SEEDS", "TENSORBOARD")
NEURAL_SCORES = ("psnr", "ssim", "train_seconds", "images_per_second", "inference_ms", "checkerboard")
# Per noise level: the best decoder, and each other decoder's per-seed PSNR differences
# (best - other, in seed order) with their 95% confidence interval (low, high).
Gaps = Mapping[float, tuple[str, Mapping[str, tuple[Sequence[float], tuple[float, float]]]]]


@dataclass
class Level:
    """One noise level: its noisy test images and every method's results on them."""

    noise_factor: float
    x_noisy: np.ndarray
    results: list[compare.Result] = field(default_factory=list)
    shown: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (row label, denoised shown images)
    errors: dict[str, tuple[np.ndarray, np.ndarray, float]] = field(default_factory=dict)
    # decoder -> (mean error image, mean error spectrum, checkerboard share), means over seeds

    @property
    def label(self) -> str:
        return level_label(self.noise_factor)


def level_label(noise_factor: float) -> str:
    return f"noise {noise_factor:g}"


def training_key(noise_factor: float, decoder: str, seed: int) -> str:
    return f"{level_label(noise_factor)} | {decoder} | seed {seed}"


def scores(clean: np.ndarray, denoised: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM and the checkerboard share of the error, per image then averaged."""
    quality = metrics.quality(clean, denoised)
    return {"psnr": quality["psnr"], "ssim": quality["ssim"],
            "checkerboard": compare.checkerboard_share(denoised - clean)}


class Comparison:
    """One comparison: its noise levels, decoders and seeds, and what progress.json holds of it.

    `config` is the script's CONFIG (its constants as they run); `machine` what
    hardware.configure chose; `x_test_noisy` the noisy test images by noise factor.
    """

    def __init__(self, config: Mapping[str, Any], machine: Hardware, data: datasets.DenoisingData,
                 x_test_noisy: Mapping[float, np.ndarray], *, decoders: Sequence[str],
                 images_per_epoch: int) -> None:
        self.config = dict(config)
        self.machine = machine
        self.data = data
        self.x_test_noisy = dict(sorted(x_test_noisy.items()))
        self.decoders = list(decoders)
        self.seeds = [config["SEED"] + i for i in range(config["SEEDS"])]
        self.images_per_epoch = images_per_epoch
        self.shown = config["SHOWN"]
        self.methods, self.notes = baselines.available_methods()
        self.output_dir = Path(config["OUTPUT_DIR"])
        folders.hold(self.output_dir)  # A second comparison into this folder stops here, with one line.
        self.progress = finished_work.FinishedWork(self.output_dir / PROGRESS_FILE, self.settings())
        errors.INTERRUPTED_HINT = (f"the finished trainings are saved in {self.progress.path}; "
                                   "run the same command again to train only the rest")
        self._finished_seconds: list[float] = []
        self._done = self._total = 0
        self._started = time.perf_counter()
        self._timer: WarmTimer | None = None  # The last training's, from `callbacks`.
        self._inference_ms = math.nan  # The last `predict`'s.

    def settings(self) -> dict[str, Any]:
        """What a resumed run must share with the one it continues: every constant
        except those in ADDS_ENTRIES, the data actually used, the precision and the backend."""
        settings = {name.lower(): value for name, value in self.config.items() if name not in ADDS_ENTRIES}
        settings.update(data_dir=datasets.resolve_data_dir(self.config["DATA_DIR"]),
                        dtype_policy=self.machine.policy, backend=keras.backend.backend(),
                        train_images=len(self.data.x_train), test_images=len(self.data.x_test))
        return json.loads(json.dumps(settings, default=str))  # As a saved copy reads back: comparable.

    # ------------------------------------------------------------------ classical filters

    def score_classical_filters(self, x_tuning: np.ndarray,
                                x_tuning_noisy: Mapping[float, np.ndarray]) -> None:
        """Tune each classical filter's one parameter on (x_tuning, its noisy version
        at each level), score it on the noisy test images, print one line each."""
        for noise_factor, x_noisy in self.x_test_noisy.items():
            label = level_label(noise_factor)
            print(f"Classical filters at {label}, each parameter tuned on {len(x_tuning)} "
                  "training images:", flush=True)
            for method in self.methods:
                key = f"{label} | {method.name}"
                entry = self.progress.get(key)
                if entry is None:
                    tuned = baselines.tune(method, x_tuning, x_tuning_noisy[noise_factor])
                    denoised, ms = baselines.apply(tuned, x_noisy)
                    entry = {"value": tuned.value, "inference_ms": ms, **scores(self.data.x_test, denoised),
                             "shown": finished_work.packed_images(denoised[:self.shown])}
                    self.progress.save(key, entry)
                print(f"  {method.name:30} {method.parameter} = {entry['value']:g}: "
                      f"{entry['psnr']:.2f} dB", flush=True)
        for note in self.notes:
            print(note)

    # ------------------------------------------------------------------------ trainings

    def trainings_to_do(self) -> Iterator[tuple[float, str, int]]:
        """(noise factor, decoder, seed) of every training progress.json lacks, in order."""
        todo = [(noise, name, seed) for noise in self.x_test_noisy for name in self.decoders
                for seed in self.seeds]
        left = [job for job in todo if self.progress.get(training_key(*job)) is None]
        self._done, self._total = len(todo) - len(left), len(todo)
        if self._done:
            print(f"{self._done} of {self._total} trainings already finished in {self.progress.path}: "
                  "training the rest", flush=True)
        for job in left:
            self._started = time.perf_counter()
            yield job

    def callbacks(self, noise_factor: float, name: str, seed: int) -> list[keras.callbacks.Callback]:
        """For one training's `fit`: a timer that leaves out building and tracing the graph
        (save_training reads it), and with TENSORBOARD a TensorBoard run of its own."""
        self._timer = WarmTimer()
        callbacks: list[keras.callbacks.Callback] = [self._timer]
        if self.config["TENSORBOARD"]:  # Loss, PSNR and the learning rate per epoch.
            callbacks.append(keras.callbacks.TensorBoard(self.tensorboard_dir(noise_factor, name, seed)))
        return callbacks

    def predict(self, denoiser: keras.Model, x_noisy: np.ndarray) -> np.ndarray:
        """The denoiser's outputs for `x_noisy`, INFERENCE_BATCH images per step, timed after
        a warm-up run (save_training reads the time)."""
        x_denoised, ms = predict_timed(denoiser, x_noisy, self.config["INFERENCE_BATCH"])
        self._inference_ms = ms
        return x_denoised

    def tensorboard_dir(self, noise_factor: float, name: str, seed: int) -> str:
        """OUTPUT_DIR/tensorboard/noise-0.5/<decoder>-seed-42: one TensorBoard run per training,
        emptied first (a training stopped halfway starts over, and so do its logs)."""
        decoder = re.sub(r"[^A-Za-z0-9.]+", "-", name)
        folder = self.output_dir / "tensorboard" / f"noise-{noise_factor:g}" / f"{decoder}-seed-{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        for events in folder.rglob("events.out.tfevents.*"):  # Only TensorBoard's own files.
            events.unlink()
        return str(folder)

    def save_training(self, noise_factor: float, name: str, seed: int, denoiser: keras.Model,
                      x_denoised: np.ndarray, psnr: float) -> None:
        """Save one trained decoder's test PSNR with its SSIM, checkerboard share and the
        times of the last `callbacks` and `predict`, and print its line with the time left."""
        error = x_denoised - self.data.x_test
        trained_images = self.config["EPOCHS"] * self.images_per_epoch
        if self._timer is None:
            raise UserError("train with callbacks=run.callbacks(...) in fit: it times the training")
        train_seconds = self._timer.seconds
        entry = {"train_seconds": train_seconds, "images_per_second": trained_images / train_seconds,
                 "inference_ms": self._inference_ms, "params": denoiser.count_params(),
                 "psnr": float(psnr),
                 "ssim": float(np.mean(metrics.ssim_per_image(self.data.x_test, x_denoised))),
                 "checkerboard": compare.checkerboard_share(error),
                 "mean_error": finished_work.packed(error.mean(axis=0)[..., 0]),
                 "spectrum": finished_work.packed(compare.mean_error_spectrum(error))}
        if seed == self.seeds[0]:
            entry["shown"] = finished_work.packed_images(x_denoised[:self.shown])
        self.progress.save(training_key(noise_factor, name, seed), entry)
        self._finished_seconds.append(time.perf_counter() - self._started)
        self._done += 1
        left = compare.time_left(self._finished_seconds, self._done, self._total)
        where = f"{level_label(noise_factor)}, " if len(self.x_test_noisy) > 1 else ""
        print(f"{name:31}{where}seed {seed}: {entry['psnr']:.2f} dB, SSIM {entry['ssim']:.3f}, "
              f"trained in {entry['train_seconds']:.0f} s | {self._done}/{self._total} done"
              + (f", about {compare.format_duration(left)} left" if self._done < self._total else ""),
              flush=True)

    # --------------------------------------------------------------------- the results

    def psnr_by_seed(self, noise_factor: float) -> dict[str, np.ndarray]:
        """Each decoder's test PSNR at `noise_factor`, one value per seed, the seeds in the same
        order for every decoder; one line if a training is not finished yet."""
        return {name: np.array([self._entry(training_key(noise_factor, name, seed))["psnr"]
                                for seed in self.seeds], dtype=float) for name in self.decoders}

    def levels(self) -> list[Level]:
        """Every level with every method's results, from the finished work; one
        line if something is not finished yet."""
        return [self._level(noise_factor, x_noisy) for noise_factor, x_noisy in self.x_test_noisy.items()]

    def _entry(self, key: str) -> Any:
        entry = self.progress.get(key)
        if entry is None:
            raise UserError(f"{key} is not finished yet: run the cells that train the decoders "
                            "and score the classical filters first")
        return entry

    def _level(self, noise_factor: float, x_noisy: np.ndarray) -> Level:
        level = Level(noise_factor, x_noisy)
        for method in self.methods:
            entry = self._entry(f"{level.label} | {method.name}")
            level.results.append(compare.Result(
                method.name, "classical", f"{method.parameter} = {entry['value']:g}", [entry["psnr"]],
                [entry["ssim"]], inference_ms=[entry["inference_ms"]], checkerboard=entry["checkerboard"]))
            row_label = method.name.split(" (")[0].replace(" ", "\n", 1)
            level.shown.append((row_label, finished_work.unpacked_images(entry["shown"])))
        for name in self.decoders:
            entries = [self._entry(training_key(noise_factor, name, seed)) for seed in self.seeds]
            per_seed = {key: [float(e[key]) for e in entries] for key in NEURAL_SCORES}
            checkerboard = float(np.mean(per_seed["checkerboard"]))
            level.results.append(compare.Result(
                name, "neural", f"{entries[0]['params']:,}", per_seed["psnr"], per_seed["ssim"],
                per_seed["train_seconds"], per_seed["images_per_second"], per_seed["inference_ms"],
                checkerboard=checkerboard, seeds=list(self.seeds)))
            level.errors[name] = (
                np.mean([finished_work.unpacked(e["mean_error"]) for e in entries], axis=0),
                np.mean([finished_work.unpacked(e["spectrum"]) for e in entries], axis=0), checkerboard)
            row_label = name.replace(" + Conv2D", "").replace(" ", "\n", 1)
            level.shown.append((row_label, finished_work.unpacked_images(entries[0]["shown"])))
        return level


# ----------------------------------------------------------------------------- the results

CHECKERBOARD_NOTE = (
    "Checkerboard: the share of each test image's error power (mean removed) at the frequencies "
    "of patterns that repeat every 2 or 4 pixels, along rows, columns or both (what the two "
    "stride-2 layers of a 28->7->28 decoder can leave), averaged over the images. White noise "
    "puts {white:.4f} there ({bins} of the {others} frequency bins other than 0): a value near that is no "
    "pattern; several times more is one (artifacts.png).\n")


def write_results(run: Comparison, gaps: Gaps) -> str:
    """Write every results file of `run`, with the verdict in words from the script's
    `gaps`; return what to print: each level's table and verdict, the sweep's summary
    for several levels, and the files written."""
    config, data, out = run.config, run.data, run.output_dir
    levels = run.levels()
    shape = data.x_test.shape[1:3]
    white, mask = compare.white_noise_share(shape), compare.stride_frequency_mask(shape)
    best = {level.noise_factor: gaps[level.noise_factor][0] for level in levels}
    compared = {level.noise_factor: compare.paired(gaps[level.noise_factor][1]) for level in levels}
    verdicts = [compare.verdict(level.results, config["DATASET"], noise, best[noise], compared[noise])
                for level in levels for noise in [level.noise_factor]]
    sweep = len(levels) > 1
    if sweep:
        verdicts.append(compare.sweep_summary(best))
    noisy = {level.noise_factor: metrics.quality(data.x_test, level.x_noisy) for level in levels}
    noises = ", ".join(f"{level.noise_factor:g}" for level in levels)
    last_seed = config["SEED"] + config["SEEDS"] - 1
    header = (
        f"# UpSampling2D or Conv2DTranspose on {config['DATASET']}, noise {noises}\n\n"
        f"{config['EPOCHS']} epochs, batch {config['BATCH_SIZE']}, seeds {config['SEED']} to {last_seed} "
        f"for every decoder, {len(data.x_train):,} training and {len(data.x_test):,} test images, "
        f"{run.machine.description}. "
        "PSNR and SSIM are means over the test set; ± is the standard deviation over seeds. "
        "Train s: training time without building and tracing the graph; inference: after a warm-up run. "
        f"{compare.TIE_RULE}\n\n"
        + CHECKERBOARD_NOTE.format(white=white, bins=mask.sum(), others=mask.size - 1))
    sections = [f"## Noise {level.noise_factor:g}\n\nNoisy input: {noisy[level.noise_factor]['psnr']:.2f} "
                f"dB, SSIM {noisy[level.noise_factor]['ssim']:.3f}.\n\n{compare.results_table(level.results)}"
                f"\n\n{text}\n" for level, text in zip(levels, verdicts, strict=False)]
    footer = "\n".join(run.notes + ([verdicts[-1]] if sweep else []))
    files.write_text(out / "results.md", "\n".join([header, *sections, footer]).rstrip() + "\n")
    files.write_json(out / "results.json", {
        "dataset": config["DATASET"], "noise_factors": [level.noise_factor for level in levels],
        "epochs": config["EPOCHS"], "images_per_epoch": run.images_per_epoch,
        "batch_size": config["BATCH_SIZE"], "seeds": config["SEEDS"], "seed": config["SEED"],
        "limit": config["LIMIT"], "precision": config["PRECISION"], "backend": keras.backend.backend(),
        "device": run.machine.description, "train_images": len(data.x_train),
        "test_images": len(data.x_test), "notes": run.notes, "tie_rule": compare.TIE_RULE,
        "checkerboard_white_noise": white, "verdict": "\n\n".join(verdicts),
        "levels": [{"noise_factor": level.noise_factor, "noisy_psnr": noisy[level.noise_factor]["psnr"],
                    "noisy_ssim": noisy[level.noise_factor]["ssim"], "verdict": text,
                    "best": best[level.noise_factor],
                    "compared": [p.as_json(name) for name, p in compared[level.noise_factor].items()],
                    "results": [vars(r) for r in level.results]}
                   for level, text in zip(levels, verdicts, strict=False)]})
    written = ["results.md", "results.json"]
    for level in levels:
        name = f"comparison_noise_{level.noise_factor:g}.png" if sweep else "comparison.png"
        draw_comparison(level, data.x_test, run.shown, config["DATASET"], out / name)
        written.append(name)
    plots.error_maps({level.label: level.errors for level in levels}, out / "artifacts.png", mask, white)
    written.append("artifacts.png")
    if sweep:
        draw_psnr_vs_noise(levels, run.decoders, [noisy[level.noise_factor]["psnr"] for level in levels],
                           config["DATASET"], config["EPOCHS"], out / "psnr_vs_noise.png")
        written.append("psnr_vs_noise.png")
    printed = ["\n" + "\n\n".join(s.rstrip() for s in sections) + "\n"]
    if sweep:
        printed.append(verdicts[-1] + "\n")
    return "\n".join(printed + [f"wrote {out / name}" for name in written])


def draw_comparison(level: Level, x_test: np.ndarray, shown: int, dataset: str, path: Path) -> None:
    """Rows: the first `shown` clean and noisy test images, then each method's
    denoised ones, every image titled with its PSNR."""
    clean, noisy = x_test[:shown], level.x_noisy[:shown]
    rows = [("clean", clean), ("noisy", noisy), *level.shown]
    titles = [[""] * shown] + [[f"{p:.1f} dB" for p in metrics.psnr_per_image(clean, images)]
                               for _, images in rows[1:]]
    plots.image_rows(rows, path, titles=titles,
                     suptitle=f"{dataset}, noise {level.noise_factor:g}: PSNR of each test image")


def draw_psnr_vs_noise(levels: list[Level], decoders: list[str], noisy_psnr: list[float], dataset: str,
                       epochs: int, path: Path) -> None:
    """Each decoder's PSNR against the noise level, with the best classical filter and the noisy input."""
    curves: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in decoders}
    classical = []
    for level in levels:
        for r in level.results:
            if r.kind == "neural":
                curves[r.method][0].append(r.psnr_mean)
                curves[r.method][1].append(r.psnr_sd)
        best = max((r for r in level.results if r.kind == "classical"), key=lambda r: r.psnr_mean)
        classical.append((best.method, best.psnr_mean))
    seeds = len(levels[0].results[-1].psnr)
    plots.psnr_vs_noise([level.noise_factor for level in levels], curves, classical, path, noisy=noisy_psnr,
                        title=f"{dataset}, {epochs} epoch(s): test PSNR against noise level "
                              f"(error bars: ± 1 standard deviation over {seeds} seed(s))")

"""Verdict, tables and checkerboard measure for compare_decoders.py.

Every decoder is trained with the same seeds, so two decoders are compared
seed by seed: the per-seed PSNR differences cancel what a seed does to both
(the same initial encoder weights, noise and shuffling order). The
script computes those differences and the 95% confidence interval of their
mean (mean ± t × standard error, Student's t for seeds - 1 degrees of
freedom); here a gap counts when that interval leaves out 0, otherwise it
is a tie, and the verdict says so in words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CHECKERBOARD_PERIODS = (2, 4)  # A 28->7->28 decoder has two stride-2 layers: periods 2 and 4.


@dataclass
class Result:
    """One method's scores; neural methods have one entry per seed, in `seeds` order."""

    method: str
    kind: str  # "neural" or "classical"
    params: str
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    images_per_second: list[float] = field(default_factory=list)
    inference_ms: list[float] = field(default_factory=list)
    checkerboard: float | None = None
    seeds: list[int] = field(default_factory=list)

    @property
    def psnr_mean(self) -> float:
        return mean_sd(self.psnr)[0]

    @property
    def psnr_sd(self) -> float:
        return mean_sd(self.psnr)[1]


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


# ------------------------------------------------------------------ paired differences


@dataclass(frozen=True)
class Paired:
    """The per-seed PSNR differences best - other, and the 95% confidence interval
    of their mean as the script computed it ((-inf, inf) for one seed)."""

    differences: tuple[float, ...]
    low: float
    high: float

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return mean_sd(self.differences)[0]

    @property
    def sd(self) -> float:
        return mean_sd(self.differences)[1]

    @property
    def tie(self) -> bool:
        """True when the 95% interval of the mean difference includes 0."""
        return self.low <= 0 <= self.high

    def as_json(self, method: str) -> dict[str, Any]:
        """For results.json: an unbounded interval (one seed) as null."""
        def bound(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        return {"method": method, "differences": list(self.differences), "mean": self.mean,
                "interval_95": [bound(self.low), bound(self.high)], "tie": self.tie}


def paired(gaps: Mapping[str, tuple[Sequence[float], tuple[float, float]]]) -> dict[str, Paired]:
    """{decoder: (per-seed differences, (low, high))}, the script's, as Paired."""
    return {name: Paired(tuple(float(d) for d in differences), float(low), float(high))
            for name, (differences, (low, high)) in gaps.items()}


# --------------------------------------------------------------------------- verdict

TIE_RULE = ("Decoders are compared seed by seed (all are trained with the same seeds): a gap "
            "counts when the 95% confidence interval of the mean per-seed PSNR difference "
            "(mean ± t × standard error, Student's t with seeds - 1 degrees of freedom) leaves "
            "out 0; otherwise it is a tie.")


def _compared_line(other: str, paired: Paired) -> str:
    if paired.n < 2:
        return (f"  {other}: {paired.mean:.2f} dB behind; with one seed there is no "
                "spread to judge it by (use --seeds 3).")
    low, high = paired.low, paired.high
    spread = (f"per-seed differences {min(paired.differences):.2f} to {max(paired.differences):.2f} dB, "
              f"standard deviation {paired.sd:.3f}, 95% interval {low:.2f} to {high:.2f} dB")
    if paired.tie:
        return f"  {other}: a tie ({paired.mean:.2f} dB behind on average; {spread})."
    return f"  {other}: {paired.mean:.2f} dB behind, not a tie ({spread})."


def verdict(results: list[Result], dataset: str, noise_factor: float, best_method: str,
            compared: Mapping[str, Paired]) -> str:
    """The answer in plain words: `best_method` against each decoder in `compared`
    (its paired differences and interval), best PSNR first, then the classical filters."""
    neural = sorted((r for r in results if r.kind == "neural"), key=lambda r: -r.psnr_mean)
    classical = sorted((r for r in results if r.kind == "classical"), key=lambda r: -r.psnr_mean)
    best = next(r for r in neural if r.method == best_method)
    lines = [f"On {dataset} with noise {noise_factor:g}, {best.method} scores best: "
             f"{best.psnr_mean:.2f} ± {best.psnr_sd:.2f} dB over {len(best.psnr)} seed(s)."]
    lines += [_compared_line(r.method, compared[r.method]) for r in neural if r.method in compared]
    if classical:
        top = classical[0]
        worst = neural[-1]
        if worst.psnr_mean > top.psnr_mean:
            lines.append(f"Every decoder beats the best classical filter ({top.method}, "
                         f"{top.psnr_mean:.2f} dB) by at least {worst.psnr_mean - top.psnr_mean:.2f} dB.")
        else:
            lines.append(f"The best classical filter ({top.method}, {top.psnr_mean:.2f} dB) beats "
                         f"{worst.method} ({worst.psnr_mean:.2f} dB): train longer.")
    return "\n".join(lines)


def sweep_summary(best: Mapping[float, str]) -> str:
    """One line on how the best decoder moves with the noise level ({noise factor: best})."""
    winners = dict(sorted(best.items()))
    noises = ", ".join(f"{noise:g}" for noise in winners)
    if len(set(winners.values())) == 1:
        return f"At every noise level ({noises}), {next(iter(winners.values()))} scores best."
    each = "; ".join(f"{noise:g}: {method}" for noise, method in winners.items())
    return f"The best decoder changes with the noise level ({each})."


def results_table(results: list[Result]) -> str:
    """A markdown table, best PSNR first."""
    def cell(values: list[float], digits: int) -> str:
        if not values:
            return "–"
        mean, sd = mean_sd(values)
        return f"{mean:.{digits}f} ± {sd:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"

    columns = ["method", "params", "PSNR (dB)", "SSIM", "train s", "images/s", "inference ms/image",
               "checkerboard"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for r in sorted(results, key=lambda r: -r.psnr_mean):
        board = "–" if r.checkerboard is None else f"{r.checkerboard:.4f}"
        lines.append(f"| {r.method} | {r.params} | {cell(r.psnr, 2)} | {cell(r.ssim, 3)} | "
                     f"{cell(r.train_seconds, 1)} | {cell(r.images_per_second, 0)} | "
                     f"{cell(r.inference_ms, 3)} | {board} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- checkerboard
# A stride-2 layer can leave a pattern that repeats every 2 pixels; two of them
# in a row (7 -> 14 -> 28) one that repeats every 4. In an image's spectrum
# those patterns sit at a few frequency bins: period p along an axis of n
# pixels is bin n/p (and its mirror n - n/p). The measure is the share of an
# error image's power (its mean removed, so the DC bin is left out) that falls
# on those bins, along rows, columns or both, averaged over the images. It is
# computed per image because a pattern whose phase differs from image to image
# cancels out of the mean error image but not out of each image's spectrum.


def stride_frequency_mask(shape: tuple[int, int],
                          periods: Sequence[int] = CHECKERBOARD_PERIODS) -> np.ndarray:
    """Boolean (H, W) mask of the FFT bins where patterns of the given periods
    (along rows, columns or both) put their power; the DC bin is excluded."""
    def bins(n: int) -> np.ndarray:
        chosen = np.zeros(n, dtype=bool)
        chosen[0] = True  # Frequency 0 along this axis: a pattern along the other axis only.
        for period in periods:
            k = round(n / period)
            chosen[k % n] = chosen[(n - k) % n] = True
        return chosen

    mask = bins(shape[0])[:, np.newaxis] & bins(shape[1])[np.newaxis, :]
    mask[0, 0] = False
    return mask


def white_noise_share(shape: tuple[int, int], periods: Sequence[int] = CHECKERBOARD_PERIODS) -> float:
    """The checkerboard share expected by chance: white noise spreads its power
    evenly over the bins, so the share is (bins of those periods) / (non-DC bins);
    15 / 783 = 0.0192 for 28x28 images and periods 2 and 4."""
    height, width = shape
    return float(stride_frequency_mask(shape, periods).sum() / (height * width - 1))


def error_power_shares(errors: np.ndarray) -> np.ndarray:
    """Each image's power spectrum (mean removed) divided by its total power,
    shape (N, H, W); an image with no error at all gets zeros."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim == 4:
        errors = errors[..., 0]
    if errors.ndim == 2:
        errors = errors[np.newaxis]
    centred = errors - errors.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(centred)) ** 2
    total = power.sum(axis=(1, 2), keepdims=True)
    return np.divide(power, total, out=np.zeros_like(power), where=total > 0)


def mean_error_spectrum(errors: np.ndarray) -> np.ndarray:
    """(H, W) mean over images of each image's power share per frequency bin
    (images with no error left out); sums to 1 unless every image is perfect."""
    shares = error_power_shares(errors)
    has_error = shares.sum(axis=(1, 2)) > 0
    if not has_error.any():
        return np.zeros(shares.shape[1:])
    return shares[has_error].mean(axis=0)


def checkerboard_share(errors: np.ndarray, periods: Sequence[int] = CHECKERBOARD_PERIODS) -> float:
    """Share of each error image's power at the stride frequencies, averaged
    over images: about 1 for a pure period-2 or period-4 pattern,
    `white_noise_share` for white noise, about 0 for a smooth error."""
    spectrum = mean_error_spectrum(errors)
    return float(spectrum[stride_frequency_mask(spectrum.shape, periods)].sum())


# ------------------------------------------------------------------------ time left


def time_left(seconds_per_finished: Sequence[float], done: int, total: int) -> float | None:
    """Seconds left: the mean time of the trainings finished in this run times
    the ones still to do (`done` counts skipped ones too); None before the first."""
    if not seconds_per_finished:
        return None
    return float(np.mean(seconds_per_finished)) * max(total - done, 0)


def format_duration(seconds: float) -> str:
    """'45 s', '3 min', '1 h 05 min'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"

"""Statistics, verdict and checkerboard measure for compare_decoders.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Result:
    """One method's scores; neural methods have one entry per seed."""

    method: str
    kind: str  # "neural" or "classical"
    params: str
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    images_per_second: list[float] = field(default_factory=list)
    inference_ms: list[float] = field(default_factory=list)
    checkerboard: float | None = None

    @property
    def psnr_mean(self) -> float:
        return mean_sd(self.psnr)[0]

    @property
    def psnr_sd(self) -> float:
        return mean_sd(self.psnr)[1]


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def checkerboard_energy(image: np.ndarray) -> float:
    """Share of an image's (mean-removed) spectral power at the stride-2
    frequencies: half the sampling rate along rows, columns or both. About 1
    for a pattern that repeats every 2 pixels, about 0 for a smooth image."""
    image = np.asarray(image, dtype=float).squeeze()
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    total = power.sum()
    if total == 0:
        return 0.0
    half_h, half_w = image.shape[0] // 2, image.shape[1] // 2
    return float((power[half_h, 0] + power[0, half_w] + power[half_h, half_w]) / total)


def compare_two(better: Result, other: Result) -> tuple[float, float, bool]:
    """PSNR difference, the larger seed spread of the two, and whether it is a tie."""
    difference = better.psnr_mean - other.psnr_mean
    spread = max(better.psnr_sd, other.psnr_sd)
    return difference, spread, difference <= spread


def verdict(results: list[Result], dataset: str, noise_factor: float) -> str:
    """The answer in plain words, derived from the numbers."""
    neural = sorted((r for r in results if r.kind == "neural"), key=lambda r: -r.psnr_mean)
    classical = sorted((r for r in results if r.kind == "classical"), key=lambda r: -r.psnr_mean)
    best = neural[0]
    seeds = len(best.psnr)
    lines = [f"On {dataset} with noise {noise_factor:g}, {best.method} scores best: "
             f"{best.psnr_mean:.2f} ± {best.psnr_sd:.2f} dB over {seeds} seed(s)."]
    for other in neural[1:]:
        difference, spread, tie = compare_two(best, other)
        if seeds < 2:
            lines.append(f"  {other.method}: {difference:.2f} dB behind; with one seed there is no "
                         "spread to judge it by (use --seeds 3).")
        elif tie:
            lines.append(f"  {other.method}: a tie ({difference:.2f} dB behind, within the seed "
                         f"spread of {spread:.2f} dB).")
        else:
            lines.append(f"  {other.method}: {difference:.2f} dB behind, more than the seed "
                         f"spread of {spread:.2f} dB.")
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

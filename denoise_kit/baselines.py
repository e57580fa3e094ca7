"""Classical denoisers from SciPy and scikit-image, each with one parameter
tuned on a few training images, as a yardstick for the neural networks."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet, estimate_sigma

from denoise_kit import metrics

Batch = np.ndarray  # (N, 28, 28, 1) floats in [0, 1]


def _per_image(denoise: Callable[[np.ndarray], np.ndarray]) -> Callable[[Batch], Batch]:
    def run(batch: Batch) -> Batch:
        return np.stack([denoise(image[..., 0]) for image in batch])[..., np.newaxis]

    return run


def median(size: int) -> Callable[[Batch], Batch]:
    return lambda batch: ndimage.median_filter(batch, size=(1, size, size, 1))


def gaussian(sigma: float) -> Callable[[Batch], Batch]:
    return lambda batch: ndimage.gaussian_filter(batch, sigma=(0, sigma, sigma, 0))


def total_variation(weight: float) -> Callable[[Batch], Batch]:
    return _per_image(lambda image: denoise_tv_chambolle(image, weight=weight))


def wavelet(sigma: float) -> Callable[[Batch], Batch]:
    return _per_image(lambda image: denoise_wavelet(image, sigma=sigma, method="BayesShrink",
                                                    mode="soft", rescale_sigma=True))


def non_local_means(h_factor: float) -> Callable[[Batch], Batch]:
    """Non-local means with the noise level estimated per image.

    Given the nominal noise level instead, non-local means degenerates into a
    box blur: clipping to [0, 1] makes the real noise far weaker than nominal,
    so every patch looks alike.
    """

    def denoise(image: np.ndarray) -> np.ndarray:
        sigma = float(estimate_sigma(image))
        return denoise_nl_means(image, h=h_factor * sigma, sigma=sigma, patch_size=3,
                                patch_distance=5, fast_mode=True)

    return _per_image(denoise)


def bm3d_filter(sigma: float) -> Callable[[Batch], Batch]:
    import bm3d

    return _per_image(lambda image: bm3d.bm3d(image, sigma_psd=sigma))


@dataclass
class Method:
    name: str
    parameter: str
    grid: Sequence[float]
    make: Callable[[float], Callable[[Batch], Batch]]


METHODS = [
    Method("median filter", "size", (3, 5), median),
    Method("Gaussian filter", "sigma", (0.5, 0.75, 1.0, 1.25, 1.5, 2.0), gaussian),
    Method("total variation", "weight", (0.05, 0.1, 0.2, 0.3, 0.5, 0.8), total_variation),
    Method("wavelet (BayesShrink)", "sigma", (0.1, 0.2, 0.3, 0.4, 0.5), wavelet),
    Method("non-local means", "h / estimated sigma", (0.4, 0.6, 0.8, 1.0, 1.3), non_local_means),
]
BM3D = Method("BM3D", "sigma", (0.1, 0.2, 0.3, 0.4), bm3d_filter)


def available_methods() -> tuple[list[Method], list[str]]:
    """The methods to run, and notes on the ones left out."""
    if importlib.util.find_spec("bm3d") is not None:
        return [*METHODS, BM3D], []
    return list(METHODS), ["BM3D skipped: the optional `bm3d` package is not installed"]


@dataclass
class Tuned:
    method: Method
    value: float
    denoise: Callable[[Batch], Batch]


def tune(method: Method, clean: Batch, noisy: Batch) -> Tuned:
    """The grid value with the best mean PSNR on (clean, noisy)."""
    scores = [np.mean(metrics.psnr_per_image(clean, np.clip(method.make(v)(noisy), 0, 1)))
              for v in method.grid]
    value = method.grid[int(np.argmax(scores))]
    return Tuned(method, value, method.make(value))


def apply(tuned: Tuned, noisy: Batch) -> tuple[Batch, float]:
    """Denoised images (clipped to [0, 1]) and milliseconds per image."""
    start = time.perf_counter()
    denoised = np.clip(tuned.denoise(noisy), 0, 1).astype(np.float32)
    return denoised, 1000 * (time.perf_counter() - start) / len(noisy)

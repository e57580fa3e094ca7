"""Image quality metrics from scikit-image, averaged over a batch.

PSNR and SSIM use a data range of 1.0 (images in [0, 1]). SSIM follows Wang
et al. (2004): an 11x11 Gaussian window with sigma 1.5, the same definition
as ``tf.image.ssim``.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

MAX_PSNR = 100.0  # Reported for a perfect reconstruction instead of infinity.


def psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """PSNR in dB of one image (any shape), data range 1.0."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if np.array_equal(reference, estimate):
        return MAX_PSNR
    return float(peak_signal_noise_ratio(reference, estimate, data_range=1.0))


def ssim(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SSIM of one grey image of shape (H, W) or (H, W, 1), data range 1.0."""
    return float(
        structural_similarity(
            np.asarray(reference, dtype=np.float64).squeeze(),
            np.asarray(estimate, dtype=np.float64).squeeze(),
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def psnr_per_image(references: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """PSNR of each image in a batch."""
    return np.array([psnr(r, e) for r, e in zip(references, estimates, strict=True)])


def ssim_per_image(references: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """SSIM of each image in a batch."""
    return np.array([ssim(r, e) for r, e in zip(references, estimates, strict=True)])


def quality(references: np.ndarray, estimates: np.ndarray) -> dict[str, float]:
    """Mean PSNR and SSIM over a batch."""
    return {
        "psnr": float(np.mean(psnr_per_image(references, estimates))),
        "ssim": float(np.mean(ssim_per_image(references, estimates))),
    }

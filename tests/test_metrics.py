"""The batched SSIM is skimage's SSIM, image by image."""

import numpy as np
import pytest
from conftest import digits

from denoise_kit import metrics


@pytest.mark.parametrize("shape", [(12, 28, 28, 1), (5, 28, 28), (3, 20, 33)])
def test_batched_ssim_is_skimages_image_by_image(shape):
    rng = np.random.default_rng(3)
    clean = rng.random(shape)
    noisy = np.clip(clean + 0.3 * rng.standard_normal(shape), 0, 1)
    expected = [metrics.ssim(c, n) for c, n in zip(clean, noisy, strict=True)]
    np.testing.assert_allclose(metrics.ssim_per_image(clean, noisy), expected, rtol=0, atol=1e-12)


def test_batched_ssim_on_digits_and_their_edge_cases():
    images, _ = digits(8, seed=2)
    clean = (images / 255.0).astype("float32")[..., None]
    blurred = np.roll(clean, 1, axis=2)
    blank = np.zeros_like(clean)
    for estimate in (blurred, blank, clean):
        expected = [metrics.ssim(c, e) for c, e in zip(clean, estimate, strict=True)]
        np.testing.assert_allclose(metrics.ssim_per_image(clean, estimate), expected, rtol=0, atol=1e-12)
    assert metrics.ssim_per_image(clean, clean) == pytest.approx(np.ones(8))
    assert metrics.ssim_per_image(clean, blank).max() < 0.1  # A blank guess scores near 0, not 1.


def test_a_big_batch_is_scored_in_chunks_with_the_same_result(monkeypatch):
    rng = np.random.default_rng(4)
    clean, estimate = rng.random((7, 28, 28, 1)), rng.random((7, 28, 28, 1))
    whole = metrics.ssim_per_image(clean, estimate)
    monkeypatch.setattr(metrics, "SSIM_CHUNK", 3)
    np.testing.assert_array_equal(metrics.ssim_per_image(clean, estimate), whole)


def test_images_smaller_than_the_window_are_refused_as_skimage_does():
    small = np.zeros((2, 10, 28))
    with pytest.raises(ValueError, match="at least 11x11 pixels"):
        metrics.ssim_per_image(small, small)
    with pytest.raises(ValueError):
        metrics.ssim(small[0], small[0])

"""Every number the two demo scripts print, checked against the posts."""

import numpy as np
import pytest

import transpose_demo
import upsampling_demo
from denoise_kit import plots

plots.setup_matplotlib(show=False)


# ----------------------------------------------------------------- upsampling_demo


def test_nearest_repeats_each_pixel_into_a_2x2_block():
    model, output = upsampling_demo.nearest_example(verbose=False)
    np.testing.assert_array_equal(output, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    assert model.count_params() == 0
    assert model.output_shape == (None, 4, 4, 1)


def test_size_2_by_3():
    output = upsampling_demo.size_example(verbose=False)
    assert output.shape == (4, 6)
    np.testing.assert_array_equal(output, np.kron(upsampling_demo.INPUT, np.ones((2, 3))))


def test_bilinear_uses_half_pixel_centres_and_clamps_edges():
    output = upsampling_demo.bilinear_example(verbose=False)
    row_weights = np.array([0, 0.25, 0.75, 1])  # Positions -0.25, 0.25, 0.75, 1.25, clamped.
    top = 1 + row_weights  # Between 1 and 2
    expected = top[None, :] + 2 * row_weights[:, None]  # Rows go from 1.. to 3..
    np.testing.assert_allclose(output, expected, atol=1e-6)
    assert not np.array_equal(output, upsampling_demo.nearest_example(verbose=False)[1])


def test_smoothing_example(tmp_path):
    output = upsampling_demo.smoothing_example(tmp_path, verbose=False)
    assert output.shape == (64, 64)
    assert output.min() == pytest.approx(0) and output.max() == pytest.approx(1.5)
    assert len(np.unique(output)) > 100  # A gradient, not 4 flat blocks.
    assert (tmp_path / "smoothing.png").stat().st_size > 5000


def test_upsampling_generator(tmp_path):
    model, image = upsampling_demo.generator_example(tmp_path, verbose=False)
    assert model.count_params() == 324_353
    assert model.output_shape == (None, 10, 10, 1)
    assert image.shape == (10, 10) and image.std() > 0
    np.testing.assert_array_equal(image, upsampling_demo.generator_example(tmp_path, verbose=False)[1])
    assert (tmp_path / "generator.png").is_file()


def test_interpolations_differ(tmp_path):
    grown = upsampling_demo.interpolation_example(tmp_path, verbose=False)
    assert {k: v.shape for k, v in grown.items()} == {m: (28, 28) for m in ("nearest", "bilinear", "bicubic")}
    assert len(np.unique(grown["nearest"])) <= 49  # Still the 7x7 blocks.
    assert len(np.unique(grown["bilinear"])) > 49
    assert not np.allclose(grown["bilinear"], grown["bicubic"])
    assert (tmp_path / "interpolations.png").is_file()


# ------------------------------------------------------------------ transpose_demo


def test_unit_kernel_stride_2_interleaves_zeros():
    model, output = transpose_demo.unit_kernel_example(verbose=False)
    np.testing.assert_array_equal(output, [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    assert model.count_params() == 2


def test_3x3_kernel_same_and_valid_sizes():
    outputs = transpose_demo.padding_example(verbose=False)
    assert outputs["same"].shape == (4, 4)
    assert outputs["valid"].shape == (5, 5)
    # With an all-ones kernel the valid output's total is 9 times the input's.
    assert outputs["valid"].sum() == pytest.approx(9 * transpose_demo.INPUT.sum())


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4])
@pytest.mark.parametrize("strides", [1, 2, 3])
def test_output_size_rule_matches_keras(n, kernel_size, strides, padding):
    model = transpose_demo.transpose_model((n, n), kernel_size, strides=strides, padding=padding)
    expected = transpose_demo.output_size(n, kernel_size, strides, padding)
    assert model.output_shape == (None, expected, expected, 1)


def test_transpose_generator():
    model, image = transpose_demo.generator_example(verbose=False)
    assert model.count_params() == 324_353
    assert model.output_shape == (None, 10, 10, 1)
    assert image.shape == (10, 10)


def test_checkerboard_ratios(tmp_path):
    outputs, ratios = transpose_demo.checkerboard_example(tmp_path, verbose=False)
    k3, k4, resize = ratios.values()
    assert k3 == pytest.approx(4)
    assert k4 == pytest.approx(1)
    assert resize == pytest.approx(1)
    inner = transpose_demo.interior(outputs["Conv2DTranspose k=3, s=2"], 4)
    assert set(np.unique(inner)) == {1, 2, 4}
    assert (tmp_path / "checkerboard.png").is_file()


def test_advice_quotes_the_measured_ratios():
    text = transpose_demo.advice({"a": 4.0, "b": 1.0, "c": 1.0})
    assert "4x brighter" in text and "ratio 1" in text
    assert "5x brighter" in transpose_demo.advice({"a": 5.0, "b": 1.0, "c": 1.0})


def test_sample_image_is_a_real_digit_when_there_is_data(tmp_path):
    from conftest import write_mnist_idx

    image, what = upsampling_demo.sample_image(tmp_path)
    assert what == "a drawn ring" and image.shape == (28, 28)
    digit = np.zeros((5, 28, 28), np.uint8)
    for i in range(5):  # Five different strokes: duplicates would be removed.
        digit[i, 10:18, 12 + i] = 255
    write_mnist_idx(tmp_path / "mnist", "t10k", digit, np.arange(5, dtype=np.uint8))
    image, what = upsampling_demo.sample_image(tmp_path)
    assert what == "an MNIST digit" and image.max() == 1.0 and image[0, 0] == 0.0

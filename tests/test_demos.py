"""Every number the two demo scripts print, checked against the posts."""

import numpy as np
import pytest

import transpose_demo
import upsampling_demo
from denoise_kit import plots
from denoise_kit.arrays import predict

plots.setup_matplotlib(show=False)


def assert_real_picture(path, min_side=200):
    """The PNG exists, decodes, is figure-sized and is not one flat colour."""
    import matplotlib.pyplot as plt

    pixels = plt.imread(path)
    assert min(pixels.shape[:2]) >= min_side
    assert pixels[..., :3].std() > 0.05
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 20


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
    assert_real_picture(tmp_path / "smoothing.png")


def test_upsampling_generator(tmp_path):
    model, image = upsampling_demo.generator_example(tmp_path, verbose=False)
    assert model.count_params() == 324_353
    assert model.output_shape == (None, 10, 10, 1)
    assert image.shape == (10, 10) and image.std() > 0
    np.testing.assert_array_equal(image, upsampling_demo.generator_example(tmp_path, verbose=False)[1])
    assert_real_picture(tmp_path / "generator.png")


def test_interpolations_differ(tmp_path):
    grown = upsampling_demo.interpolation_example(tmp_path, verbose=False)
    assert {k: v.shape for k, v in grown.items()} == {m: (28, 28) for m in ("nearest", "bilinear", "bicubic")}
    assert len(np.unique(grown["nearest"])) <= 49  # Still the 7x7 blocks.
    assert len(np.unique(grown["bilinear"])) > 49
    assert not np.allclose(grown["bilinear"], grown["bicubic"])
    assert_real_picture(tmp_path / "interpolations.png")


# ------------------------------------------------------------------ transpose_demo


def test_unit_kernel_stride_2_interleaves_zeros(tmp_path):
    model, output = transpose_demo.unit_kernel_example(tmp_path, verbose=False)
    np.testing.assert_array_equal(output, [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    # The same, stated as the rule: input pixels at even positions, zeros everywhere else.
    np.testing.assert_array_equal(output[::2, ::2], transpose_demo.INPUT)
    odd = np.ones(output.shape, bool)
    odd[::2, ::2] = False
    assert not output[odd].any()
    assert model.count_params() == 2
    assert_real_picture(tmp_path / "unit_kernel.png")


def test_3x3_kernel_stamps_add_up_to_the_layer_output(tmp_path):
    outputs, stamped = transpose_demo.padding_example(tmp_path, verbose=False)
    assert outputs["valid"].shape == (5, 5)
    assert outputs["same"].shape == (4, 4)
    # With an all-ones kernel the valid output's total is 9 times the input's.
    assert outputs["valid"].sum() == pytest.approx(9 * transpose_demo.INPUT.sum())
    for padding in ("valid", "same"):
        assert list(stamped[padding]) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        np.testing.assert_array_equal(sum(stamped[padding].values()), outputs[padding])
    for (row, col), stamp in stamped["valid"].items():  # Whole 3x3 stamps, 2 cells apart.
        value = transpose_demo.INPUT[row, col]
        footprint = stamp[2 * row : 2 * row + 3, 2 * col : 2 * col + 3]
        np.testing.assert_array_equal(footprint, np.full((3, 3), value))
        assert stamp.sum() == 9 * value
    # "same" with k=3, s=2 keeps the first 4 rows and columns of "valid".
    np.testing.assert_array_equal(outputs["same"], outputs["valid"][:4, :4])
    assert_real_picture(tmp_path / "stamps.png")


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("strides", [1, 2, 3])
def test_stamps_match_conv2d_transpose_for_any_kernel(kernel_size, strides, padding):
    rng = np.random.default_rng(kernel_size * 10 + strides)
    image = rng.integers(-5, 6, size=(3, 2)).astype("float32")  # Not square: rows and columns apart.
    kernel = rng.integers(-3, 4, size=(kernel_size, kernel_size)).astype("float32")  # Not symmetric.
    model = transpose_demo.transpose_model(image.shape, kernel_size, strides=strides, padding=padding,
                                           kernel=kernel)
    by_hand = sum(transpose_demo.stamps(image, kernel, strides, padding).values())
    np.testing.assert_allclose(by_hand, predict(model, image), atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4])
@pytest.mark.parametrize("strides", [1, 2, 3])
def test_output_size_rule_matches_keras(n, kernel_size, strides, padding):
    model = transpose_demo.transpose_model((n, n), kernel_size, strides=strides, padding=padding)
    expected = transpose_demo.output_size(n, kernel_size, strides, padding)
    assert model.output_shape == (None, expected, expected, 1)
    if kernel_size >= strides:  # The rules the figure writes out.
        assert expected == ((n - 1) * strides + kernel_size if padding == "valid" else n * strides)


def test_footprint_count_is_the_checkerboard(tmp_path):
    """The all-ones image through the all-ones k=3, s=2 kernel counts the stamps over each pixel."""
    counts = transpose_demo.footprint_count((transpose_demo.CONSTANT_SIZE,) * 2)
    outputs, _ = transpose_demo.checkerboard_example(tmp_path, verbose=False)
    np.testing.assert_array_equal(counts, outputs["Conv2DTranspose k=3, s=2"])
    inner = transpose_demo.interior(counts, 1)  # Starts at row and column 1.
    assert (inner[1::2, 1::2] == 4).all()  # Even rows and columns: 4 stamps meet.
    assert (inner[::2, ::2] == 1).all()  # Odd ones: a single stamp.
    assert (inner[1::2, ::2] == 2).all() and (inner[::2, 1::2] == 2).all()


def test_transpose_generator_beside_the_upsampling_one(tmp_path):
    models, images, spreads = transpose_demo.generator_example(tmp_path, verbose=False)
    assert list(models) == ["Conv2DTranspose", "UpSampling2D + Conv2D"]
    for model in models.values():
        assert model.count_params() == 324_353
        assert model.output_shape == (None, 10, 10, 1)
    for image in images.values():
        assert image.shape == (10, 10) and image.std() > 0
    # Built from one seed: the same Dense weights feed both upsamplers.
    dense = [m.layers[0].get_weights()[0] for m in models.values()]
    np.testing.assert_array_equal(*dense)
    # It is upsampling_demo.py's generator, with upsampling_demo.py's picture.
    _, upsampling_image = upsampling_demo.generator_example(tmp_path, verbose=False)
    np.testing.assert_allclose(images["UpSampling2D + Conv2D"], upsampling_image, atol=1e-5)
    # Same seed, same numbers.
    _, again, spreads_again = transpose_demo.generator_example(tmp_path, verbose=False)
    for name in images:
        np.testing.assert_array_equal(images[name], again[name])
    assert spreads == spreads_again
    # Pixels under more stamps vary more (about 2x in std from 1 to 4 stamps); not so without them.
    transpose, upsampling = spreads["Conv2DTranspose"], spreads["UpSampling2D + Conv2D"]
    assert list(transpose) == [4, 2, 1]
    assert transpose[4] > transpose[2] > transpose[1] and transpose[4] / transpose[1] > 1.6
    assert 0.75 < upsampling[4] / upsampling[1] < 1.33
    assert_real_picture(tmp_path / "generators.png")


def test_checkerboard_ratios(tmp_path):
    outputs, ratios = transpose_demo.checkerboard_example(tmp_path, verbose=False)
    k3, k4, resize = ratios.values()
    assert k3 == pytest.approx(4)
    assert k4 == pytest.approx(1)
    assert resize == pytest.approx(1)
    inner = transpose_demo.interior(outputs["Conv2DTranspose k=3, s=2"], 4)
    assert set(np.unique(inner)) == {1, 2, 4}
    assert_real_picture(tmp_path / "checkerboard.png")


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


@pytest.mark.parametrize("script", ["upsampling_demo.py", "transpose_demo.py"])
def test_an_output_dir_that_is_a_file_gives_one_line(script, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    taken = tmp_path / "taken"
    taken.write_text("mine")
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent.parent / script), "--output-dir", str(taken)],
        capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: --output-dir {taken} is a file, not a folder: choose another path" in result.stderr
    assert taken.read_text() == "mine"


def test_a_data_dir_that_is_a_file_is_said_not_replaced_by_the_drawn_ring(tmp_path):
    from denoise_kit.errors import ConfigError

    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("mine")
    with pytest.raises(ConfigError, match="--data-dir is a file, not a folder"):
        upsampling_demo.sample_image(not_a_folder)
    assert not_a_folder.read_text() == "mine"

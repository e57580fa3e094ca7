"""Every number the two demo scripts print, checked against the posts.

Nothing imports a script (importing one runs it): each runs whole, once per
module, as `python script.py --output-dir ...` would, and runpy hands back its
globals, so the tests read the variables the examples leave behind.
"""

import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import learner_env, run_in_process, script_command, write_mnist_idx

from denoise_kit.arrays import predict
from denoise_kit.datasets import DATA_DIR_ENV


def run_offline(folder, script, *flags):
    """`run_in_process` with its figures in `folder`/outputs and no Keras cache of
    MNIST to find (the module fixtures come before conftest's `offline`)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KERAS_HOME", str(folder / "keras_home"))
        env.delenv(DATA_DIR_ENV, raising=False)
        return run_in_process(script, "--output-dir", str(folder / "outputs"), *flags)


@pytest.fixture(scope="module")
def upsampling(tmp_path_factory):
    """upsampling_demo.py's globals, run with no MNIST in its data folder."""
    folder = tmp_path_factory.mktemp("upsampling_demo")
    (folder / "data").mkdir()
    return run_offline(folder, "upsampling_demo.py", "--data-dir", str(folder / "data"))


@pytest.fixture(scope="module")
def upsampling_on_mnist(tmp_path_factory):
    """upsampling_demo.py's globals, run with (five) MNIST test digits in its data folder."""
    folder = tmp_path_factory.mktemp("upsampling_demo_on_mnist")
    digits = np.zeros((5, 28, 28), np.uint8)
    for i in range(5):  # Five different strokes: duplicates would be removed.
        digits[i, 10:18, 12 + i] = 255
    write_mnist_idx(folder / "data" / "mnist", "t10k", digits, np.arange(5, dtype=np.uint8))
    return run_offline(folder, "upsampling_demo.py", "--data-dir", str(folder / "data"))


@pytest.fixture(scope="module")
def transpose(tmp_path_factory):
    """transpose_demo.py's globals."""
    return run_offline(tmp_path_factory.mktemp("transpose_demo"), "transpose_demo.py")


@pytest.fixture(scope="module")
def refused_runs(tmp_path_factory):
    """The runs given a file where a folder belongs, started all at once (each
    spends seconds importing TensorFlow before it stops): (script, flag) ->
    (that file, the finished run)."""
    folder = tmp_path_factory.mktemp("refused")
    taken = folder / "taken"
    taken.write_text("mine")
    flags = {
        ("upsampling_demo.py", "--output-dir"): ["--output-dir", str(taken)],
        ("transpose_demo.py", "--output-dir"): ["--output-dir", str(taken)],
        ("upsampling_demo.py", "--data-dir"): ["--data-dir", str(taken), "--output-dir", str(folder / "out")],
    }
    started = {run: subprocess.Popen(script_command(run[0], *args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=learner_env())
               for run, args in flags.items()}
    finished = {}
    try:
        for run, process in started.items():
            printed, errors = process.communicate(timeout=300)
            result = subprocess.CompletedProcess(process.args, process.returncode, printed, errors)
            finished[run] = taken, result
    finally:
        for process in started.values():
            process.kill()  # Only one still running, after a timeout: none is left behind.
    return finished


def figure(namespace, name):
    """The path of a figure the script saved."""
    return Path(namespace["OUTPUT_DIR"]) / name


def assert_real_picture(path, min_side=200):
    """The PNG exists, decodes, is figure-sized and is not one flat colour."""
    import matplotlib.pyplot as plt

    pixels = plt.imread(path)
    assert min(pixels.shape[:2]) >= min_side
    assert pixels[..., :3].std() > 0.05
    red, green, blue = np.moveaxis(np.round(pixels[..., :3] * 255).astype(np.uint32), -1, 0)
    assert len(np.unique(red << 16 | green << 8 | blue)) > 20  # Colours, each packed into one number.


# ----------------------------------------------------------------- upsampling_demo


def test_nearest_repeats_each_pixel_into_a_2x2_block(upsampling):
    output = upsampling["nearest_output"]
    np.testing.assert_array_equal(output, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    assert upsampling["nearest_model"].count_params() == 0
    assert upsampling["nearest_model"].output_shape == (None, 4, 4, 1)


def test_size_2_by_3(upsampling):
    output = upsampling["size_2x3_output"]
    assert output.shape == (4, 6)
    np.testing.assert_array_equal(output, np.kron(upsampling["INPUT"], np.ones((2, 3))))


def test_bilinear_uses_half_pixel_centres_and_clamps_edges(upsampling):
    output = upsampling["bilinear_output"]
    row_weights = np.array([0, 0.25, 0.75, 1])  # Positions -0.25, 0.25, 0.75, 1.25, clamped.
    top = 1 + row_weights  # Between 1 and 2
    expected = top[None, :] + 2 * row_weights[:, None]  # Rows go from 1.. to 3..
    np.testing.assert_allclose(output, expected, atol=1e-6)
    assert not np.array_equal(output, upsampling["nearest_output"])


def test_smoothing_example(upsampling):
    output = upsampling["smoothed"]
    assert output.shape == (64, 64)
    assert output.min() == pytest.approx(0) and output.max() == pytest.approx(1.5)
    assert len(np.unique(output)) > 100  # A gradient, not 4 flat blocks.
    assert_real_picture(figure(upsampling, "smoothing.png"))


def test_upsampling_generator(upsampling, upsampling_on_mnist):
    model, image = upsampling["generator"], upsampling["generator_image"]
    assert model.count_params() == 324_353
    assert model.output_shape == (None, 10, 10, 1)
    assert image.shape == (10, 10) and image.std() > 0
    # Another run, same seed: the same picture.
    np.testing.assert_array_equal(image, upsampling_on_mnist["generator_image"])
    assert_real_picture(figure(upsampling, "generator.png"))


def test_interpolations_differ(upsampling):
    grown = upsampling["grown"]
    assert {k: v.shape for k, v in grown.items()} == {m: (28, 28) for m in ("nearest", "bilinear", "bicubic")}
    assert len(np.unique(grown["nearest"])) <= 49  # Still the 7x7 blocks.
    assert len(np.unique(grown["bilinear"])) > 49
    assert not np.allclose(grown["bilinear"], grown["bicubic"])
    assert_real_picture(figure(upsampling, "interpolations.png"))


def test_sample_image_is_a_real_digit_when_there_is_data(upsampling, upsampling_on_mnist):
    assert upsampling["sample_name"] == "a drawn ring" and upsampling["sample"].shape == (28, 28)
    digit = upsampling_on_mnist["sample"]
    assert upsampling_on_mnist["sample_name"] == "an MNIST digit"
    assert digit.shape == (28, 28) and digit.max() == 1.0 and digit[0, 0] == 0.0
    assert_real_picture(figure(upsampling_on_mnist, "interpolations.png"))


def test_a_data_dir_that_is_a_file_is_said_not_replaced_by_the_drawn_ring(refused_runs):
    not_a_folder, result = refused_runs["upsampling_demo.py", "--data-dir"]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: --data-dir {not_a_folder} is a file, not a folder: give the folder that holds the dataset"]
    assert not_a_folder.read_text() == "mine"
    assert not (not_a_folder.parent / "out").exists()  # Stopped before anything was written.


# ------------------------------------------------------------------ transpose_demo


def test_unit_kernel_stride_2_interleaves_zeros(transpose):
    output = transpose["unit_output"]
    np.testing.assert_array_equal(output, [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    # The same, stated as the rule: input pixels at even positions, zeros everywhere else.
    np.testing.assert_array_equal(output[::2, ::2], transpose["INPUT"])
    odd = np.ones(output.shape, bool)
    odd[::2, ::2] = False
    assert not output[odd].any()
    assert transpose["unit_model"].count_params() == 2
    assert_real_picture(figure(transpose, "unit_kernel.png"))


def test_3x3_kernel_stamps_add_up_to_the_layer_output(transpose):
    outputs, stamped, image = transpose["padding_outputs"], transpose["stamped"], transpose["INPUT"]
    assert outputs["valid"].shape == (5, 5)
    assert outputs["same"].shape == (4, 4)
    # With an all-ones kernel the valid output's total is 9 times the input's.
    assert outputs["valid"].sum() == pytest.approx(9 * image.sum())
    for padding in ("valid", "same"):
        assert list(stamped[padding]) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        np.testing.assert_array_equal(sum(stamped[padding].values()), outputs[padding])
    for (row, col), stamp in stamped["valid"].items():  # Whole 3x3 stamps, 2 cells apart.
        value = image[row, col]
        footprint = stamp[2 * row : 2 * row + 3, 2 * col : 2 * col + 3]
        np.testing.assert_array_equal(footprint, np.full((3, 3), value))
        assert stamp.sum() == 9 * value
    # "same" with k=3, s=2 keeps the first 4 rows and columns of "valid".
    np.testing.assert_array_equal(outputs["same"], outputs["valid"][:4, :4])
    assert_real_picture(figure(transpose, "stamps.png"))


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("strides", [1, 2, 3])
def test_stamps_match_conv2d_transpose_for_any_kernel(transpose, kernel_size, strides, padding):
    rng = np.random.default_rng(kernel_size * 10 + strides)
    image = rng.integers(-5, 6, size=(3, 2)).astype("float32")  # Not square: rows and columns apart.
    kernel = rng.integers(-3, 4, size=(kernel_size, kernel_size)).astype("float32")  # Not symmetric.
    model = transpose["transpose_model"](image.shape, kernel_size, strides=strides, padding=padding,
                                         kernel=kernel)
    by_hand = sum(transpose["stamps"](image, kernel, strides, padding).values())
    np.testing.assert_allclose(by_hand, predict(model, image), atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4])
@pytest.mark.parametrize("strides", [1, 2, 3])
def test_output_size_rule_matches_keras(transpose, n, kernel_size, strides, padding):
    model = transpose["transpose_model"]((n, n), kernel_size, strides=strides, padding=padding)
    expected = transpose["output_size"](n, kernel_size, strides, padding)
    assert model.output_shape == (None, expected, expected, 1)
    if kernel_size >= strides:  # The rules the figure writes out.
        assert expected == ((n - 1) * strides + kernel_size if padding == "valid" else n * strides)


def test_footprint_count_is_the_checkerboard(transpose):
    """The all-ones image through the all-ones k=3, s=2 kernel counts the stamps over each pixel."""
    counts = transpose["footprint_count"]((transpose["CONSTANT_SIZE"],) * 2)
    np.testing.assert_array_equal(counts, transpose["checkerboard_outputs"]["Conv2DTranspose k=3, s=2"])
    inner = transpose["interior"](counts, 1)  # Starts at row and column 1.
    assert (inner[1::2, 1::2] == 4).all()  # Even rows and columns: 4 stamps meet.
    assert (inner[::2, ::2] == 1).all()  # Odd ones: a single stamp.
    assert (inner[1::2, ::2] == 2).all() and (inner[::2, 1::2] == 2).all()


def test_transpose_generator_beside_the_upsampling_one(transpose, upsampling):
    models, images, spreads = transpose["generators"], transpose["generator_images"], transpose["spreads"]
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
    np.testing.assert_allclose(images["UpSampling2D + Conv2D"], upsampling["generator_image"], atol=1e-5)
    # Same seed, same numbers: each generator built again from SEED gives the same pictures and spreads.
    spread_by_footprints, stamp_counts = transpose["spread_by_footprints"], transpose["stamp_counts"]
    for name, build in transpose["builders"].items():
        keras.utils.set_random_seed(transpose["SEED"])
        outputs = keras.ops.convert_to_numpy(build()(transpose["latents"]))[:, :, :, 0]
        np.testing.assert_array_equal(outputs[0], images[name])
        assert spread_by_footprints(outputs.std(axis=0), stamp_counts) == spreads[name]
    # Pixels under more stamps vary more (about 2x in std from 1 to 4 stamps); not so without them.
    transposed, upsampled = spreads["Conv2DTranspose"], spreads["UpSampling2D + Conv2D"]
    assert list(transposed) == [4, 2, 1]
    assert transposed[4] > transposed[2] > transposed[1] and transposed[4] / transposed[1] > 1.6
    assert 0.75 < upsampled[4] / upsampled[1] < 1.33
    assert_real_picture(figure(transpose, "generators.png"))


def test_checkerboard_ratios(transpose):
    k3, k4, resize = transpose["checkerboard_ratios"].values()
    assert k3 == pytest.approx(4)
    assert k4 == pytest.approx(1)
    assert resize == pytest.approx(1)
    inner = transpose["interior"](transpose["checkerboard_outputs"]["Conv2DTranspose k=3, s=2"], 4)
    assert set(np.unique(inner)) == {1, 2, 4}
    assert_real_picture(figure(transpose, "checkerboard.png"))


def test_advice_quotes_the_measured_ratios(transpose):
    advice = transpose["advice"]
    text = advice({"a": 4.0, "b": 1.0, "c": 1.0})
    assert "4x brighter" in text and "ratio 1" in text
    assert "5x brighter" in advice({"a": 5.0, "b": 1.0, "c": 1.0})
    assert advice(transpose["checkerboard_ratios"]) == text  # The script measured 4, 1 and 1.


# ------------------------------------------------------------------------- both


@pytest.mark.parametrize("script", ["upsampling_demo.py", "transpose_demo.py"])
def test_an_output_dir_that_is_a_file_gives_one_line(script, refused_runs):
    taken, result = refused_runs[script, "--output-dir"]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: --output-dir {taken} is a file, not a folder: choose another path" in result.stderr
    assert taken.read_text() == "mine"

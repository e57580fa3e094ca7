"""Every number the two demo scripts print, checked against the posts they follow.

Nothing imports a script (importing one runs it): each runs whole, once per module, from an empty
temporary folder, as `python script.py` run there would (its figures go to outputs/... in that
folder). runpy hands back the script's globals, so the tests read the variables the examples
leave behind, and what the script printed is captured too.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import pytest
from conftest import ROOT, learner_env, run_in_process, script_command

DEMOS = ("upsampling_demo.py", "transpose_demo.py")
FIGURES = {"upsampling_demo.py": {"smoothing.png", "interpolations.png"},
           "transpose_demo.py": {"unit_kernel.png", "stamps.png", "checkerboard.png"}}

# ------------------------------------------------------------------ what the posts print

# MachineLearningMastery, "How to use the UpSampling2D and Conv2DTranspose Layers in Keras"
# (2019-06-23, https://machinelearningmastery.com/upsampling-and-transpose-convolution-layers-for-
# generative-adversarial-networks/), transcribed from the post. Its input is an integer array, so
# it prints without decimal points; the models' outputs are float32.
MLM_INPUT = "[[1 2]\n [3 4]]"
MLM_UPSAMPLING_OUTPUT = "[[1. 1. 2. 2.]\n [1. 1. 2. 2.]\n [3. 3. 4. 4.]\n [3. 3. 4. 4.]]"
MLM_TRANSPOSE_OUTPUT = "[[1. 0. 2. 0.]\n [0. 0. 0. 0.]\n [3. 0. 4. 0.]\n [0. 0. 0. 0.]]"
MLM_SIZE_2X3_SHAPE = (4, 6)  # "a 4×6 output image", in words: the post prints no array for it.
# Drawn in the post as "Output = (1, 2 / 3, 4)" (stride 1) and as the input with zeros inserted
# (stride 2), not printed by code.
MLM_STRIDE_1_OUTPUT = [[1, 2], [3, 4]]
MLM_ZEROS_INSERTED = [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]
MLM_VALID_GENERATOR_SIDE = 11  # "a slightly larger than doubled width and height ... (11×11)".
# Its model summaries: (output shape, parameters) per layer, then the total.
MLM_UPSAMPLING_SUMMARY = ([("(None, 4, 4, 1)", "0")], "0")
MLM_TRANSPOSE_SUMMARY = ([("(None, 4, 4, 1)", "2")], "2")
MLM_UPSAMPLING_GENERATOR_SUMMARY = ([("(None, 3200)", "323,200"), ("(None, 5, 5, 128)", "0"),
                                     ("(None, 10, 10, 128)", "0"), ("(None, 10, 10, 1)", "1,153")], "324,353")
MLM_TRANSPOSE_GENERATOR_SUMMARY = ([("(None, 3200)", "323,200"), ("(None, 5, 5, 128)", "0"),
                                    ("(None, 10, 10, 1)", "1,153")], "324,353")

# MachineCurve, "UpSampling2D: how to use upsampling with Keras?" (2019-12-11), transcribed: the
# input it prints, flat and as a 2x2 image, and its one layer, UpSampling2D((32, 32),
# interpolation='bilinear') (the output it only draws).
MC_INPUT_FLAT = "[0. 0.5 1. 1.5]"
MC_INPUT = "[[0. 0.5]\n [1. 1.5]]"
MC_SIZE = 32


def printed_array(text: str) -> np.ndarray:
    """The array a NumPy print shows (the posts' text): one row per innermost [...]."""
    rows = re.findall(r"\[([^\[\]]+)\]", text)
    return np.array([[float(value) for value in row.split()] for row in rows], dtype="float32").squeeze()


def one_line(text: str) -> str:
    return " ".join(text.split())


def assert_printed(printed: str, values) -> None:
    """The run printed these values as NumPy prints a float32 array (spacing aside)."""
    shown = str(np.asarray(values, dtype="float32"))
    assert one_line(shown) in one_line(printed), f"not printed:\n{shown}"


def assert_summary(printed: str, model, summary) -> None:
    """The model has the post's output shapes and parameter counts, layer by layer, and its
    printed summary shows each (shape and count on one line) and the post's total."""
    rows, total = summary
    assert [(str(layer.output.shape), f"{layer.count_params():,}") for layer in model.layers] == rows
    assert f"{model.count_params():,}" == total
    lines = printed.splitlines()
    for shape, params in rows:
        shown = [line for line in lines if shape in line]
        assert any(re.findall(r"[\d,]+", line)[-1] == params for line in shown), (shape, params)
    assert f"Total params: {total} " in printed


# ------------------------------------------------------------------ running the demos


class DemoRun(NamedTuple):
    globals: dict
    printed: str
    folder: Path


def run_demo(script: str, folder: Path) -> DemoRun:
    """`python script` run from `folder`: its globals and what it printed."""
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.chdir(folder)
        namespace = run_in_process(script)
    return DemoRun(namespace, printed.getvalue(), folder)


@pytest.fixture(scope="module")
def upsampling_run(tmp_path_factory):
    return run_demo("upsampling_demo.py", tmp_path_factory.mktemp("upsampling_demo"))


@pytest.fixture(scope="module")
def transpose_run(tmp_path_factory):
    return run_demo("transpose_demo.py", tmp_path_factory.mktemp("transpose_demo"))


@pytest.fixture(scope="module")
def upsampling(upsampling_run):
    return upsampling_run.globals


@pytest.fixture(scope="module")
def transpose(transpose_run):
    return transpose_run.globals


@pytest.fixture
def runs(upsampling_run, transpose_run):
    return {"upsampling_demo.py": upsampling_run, "transpose_demo.py": transpose_run}


def figure(run: DemoRun, name: str) -> Path:
    """The path of a figure the script saved."""
    return run.folder / run.globals["OUTPUT_DIR"] / name


def assert_real_picture(path, min_side=200):
    """The PNG exists, decodes, is figure-sized and is not one flat colour."""
    import matplotlib.pyplot as plt

    pixels = plt.imread(path)
    assert min(pixels.shape[:2]) >= min_side
    assert pixels[..., :3].std() > 0.05
    red, green, blue = np.moveaxis(np.round(pixels[..., :3] * 255).astype(np.uint32), -1, 0)
    assert len(np.unique(red << 16 | green << 8 | blue)) > 20  # Colours, each packed into one number.


def upsample(model, image):
    """One (rows, columns) image through `model`, as the demos do it in view."""
    return model.predict(image.reshape((1, *image.shape, 1)), verbose=0)[0, :, :, 0]


# ----------------------------------------------------------------- upsampling_demo


def test_nearest_prints_the_posts_output(upsampling_run):
    demo, printed = upsampling_run.globals, upsampling_run.printed
    post_input = printed_array(MLM_INPUT)
    np.testing.assert_array_equal(demo["INPUT"], post_input)
    assert_printed(printed, post_input)  # As float32: [[1. 2.] [3. 4.]].
    np.testing.assert_array_equal(demo["nearest_output"], printed_array(MLM_UPSAMPLING_OUTPUT))
    assert MLM_UPSAMPLING_OUTPUT in printed  # Character for character, as the post prints it.
    assert_summary(printed, demo["nearest_model"], MLM_UPSAMPLING_SUMMARY)


def test_size_2_by_3_doubles_the_rows_and_triples_the_columns(upsampling_run):
    demo = upsampling_run.globals
    output = demo["size_2x3_output"]
    assert output.shape == MLM_SIZE_2X3_SHAPE
    np.testing.assert_array_equal(output, np.kron(demo["INPUT"], np.ones((2, 3))))
    assert_printed(upsampling_run.printed, output)


def test_bilinear_uses_half_pixel_centres_and_clamps_edges(upsampling_run):
    output = upsampling_run.globals["bilinear_output"]
    weights = np.array([0, 0.25, 0.75, 1])  # Positions -0.25, 0.25, 0.75, 1.25, clamped to [0, 1].
    expected = (1 + weights)[None, :] + 2 * weights[:, None]  # 1 to 2 across, 1 to 3 down.
    np.testing.assert_allclose(output, expected, atol=1e-6)
    # The values the demo's markdown gives.
    np.testing.assert_allclose(output, [[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5],
                                        [3, 3.25, 3.75, 4]], atol=1e-6)
    assert_printed(upsampling_run.printed, expected)
    # The markdown's positions, (j + 0.5)/s - 0.5 with s = 2, and its worked pixel, row by row.
    text = markdown_section("upsampling_demo.py", "MachineLearningMastery does not print this one")
    *positions, last = [f"{position:g}" for position in (np.arange(4) + 0.5) / 2 - 0.5]
    assert "(j + 0.5)/s - 0.5" in text and f"here {', '.join(positions)} and {last}" in text
    image = upsampling_run.globals["INPUT"]
    top, bottom = (row[0] + 0.25 * (row[1] - row[0]) for row in image)  # A quarter across each row,
    assert top + 0.25 * (bottom - top) == pytest.approx(output[1, 1])  # then a quarter down.
    assert "`bilinear_output[1, 1]` sits at (0.25, 0.25)" in text
    assert (f"a quarter of the way from 1 to 2 is {top:g}, from 3 to 4 is {bottom:g}, and a quarter of the "
            f"way down from {top:g} to {bottom:g} is {output[1, 1]:g}") in text


def test_machinecurve_smoothing(upsampling_run):
    demo, printed = upsampling_run.globals, upsampling_run.printed
    post_input = printed_array(MC_INPUT)
    np.testing.assert_array_equal(post_input.ravel(), printed_array(MC_INPUT_FLAT))
    np.testing.assert_array_equal(demo["smoothing_input"], post_input)
    assert one_line(MC_INPUT) in one_line(printed)
    output = demo["smoothed"]
    assert output.shape == (2 * MC_SIZE, 2 * MC_SIZE) == (64, 64)
    assert output.min() == pytest.approx(0) and output.max() == pytest.approx(1.5)
    assert len(np.unique(output)) > 100  # A gradient, not 4 flat blocks.
    # Half-pixel centres: every output pixel between the edge and a corner pixel's centre (16 of
    # the 32 that pixel became, in each direction) is clamped to that corner's value.
    half = MC_SIZE // 2
    for (row, col), value in np.ndenumerate(post_input):
        block = output[row * 3 * half : row * 3 * half + half, col * 3 * half : col * 3 * half + half]
        np.testing.assert_allclose(block, value, atol=1e-6)
    assert output[0, half] > 0  # And only those.
    assert "Output shape: (64, 64)" in printed and "Smallest and largest value: 0.0 1.5" in printed
    assert_real_picture(figure(upsampling_run, "smoothing.png"))
    text = markdown_section("upsampling_demo.py", "MachineCurve prints this input")
    assert f"a flat {half}x{half} block" in text  # What the markdown says of those corners.
    values = len(np.unique(output))
    assert f"Different values: {values}\n" in printed
    if keras.backend.backend() == "tensorflow":  # The count the markdown quotes, measured on TensorFlow.
        assert f"a gradient of {values} values (printed above)" in text


# What docs/how-it-works.md says the posts' Keras 2 (2.2, 2.3) computed for the 2x2 bilinear example.
KERAS_2_BILINEAR = "[[1 1.5 2 2] [2 2.5 3 3] [3 3.5 4 4] [3 3.5 4 4]]"


def test_the_posts_keras_resized_without_half_pixel_centres(upsampling):
    """Keras 2.2 and 2.3 called TensorFlow's resize_bilinear with its defaults, which TensorFlow keeps as
    tf.compat.v1.image.resize_bilinear: output pixel j at input position j / s. What the demo's
    markdown and docs/how-it-works.md say it gives, and that Keras 3 gives something else."""
    tf = pytest.importorskip("tensorflow")  # Only TensorFlow has the old resize.

    def keras_2(image, size, resize=tf.compat.v1.image.resize_bilinear):
        return resize(image.reshape((1, *image.shape, 1)), size).numpy()[0, :, :, 0]

    old = keras_2(upsampling["INPUT"], (4, 4))
    np.testing.assert_allclose(old, printed_array(KERAS_2_BILINEAR), atol=1e-6)
    assert not np.allclose(old, upsampling["bilinear_output"])
    nearest = keras_2(upsampling["INPUT"], (4, 4), tf.compat.v1.image.resize_nearest_neighbor)
    np.testing.assert_array_equal(nearest, printed_array(MLM_UPSAMPLING_OUTPUT))  # The same either way.
    # MachineCurve's: a ramp from the top-left pixel, flat over the last 32 rows and columns.
    old = keras_2(upsampling["smoothing_input"], (2 * MC_SIZE, 2 * MC_SIZE))
    position = np.minimum(np.arange(2 * MC_SIZE) / MC_SIZE, 1)  # j / s, the edge pixel past the last.
    np.testing.assert_allclose(old, position[:, None] * 1 + position[None, :] * 0.5, atol=1e-6)
    assert old[0, 0] == 0 and old[0, 1] > 0 and old[1, 0] > 0
    assert (old[MC_SIZE:] == old[MC_SIZE]).all() and (old[:, MC_SIZE:] == old[:, [MC_SIZE]]).all()
    assert (old[MC_SIZE - 1] < old[MC_SIZE]).all()  # Flat from row 32 on, not before.
    assert not np.allclose(old, upsampling["smoothed"])
    docs = one_line((ROOT / "docs" / "how-it-works.md").read_text())
    assert f"`{KERAS_2_BILINEAR}`" in docs and "last 32 rows and columns" in docs
    text = markdown_section("upsampling_demo.py", "MachineCurve prints this input")
    assert "input position j/32" in text and "flat over the last 32 rows and columns" in text
    assert "so its picture would have one flat corner, 32x32 at the bottom right" in text  # As above.
    text = markdown_section("upsampling_demo.py", "MachineLearningMastery does not print this one")
    top_row = ", ".join(f"{value:g}" for value in keras_2(upsampling["INPUT"], (4, 4))[0])
    assert f"j/2: {top_row} across the top" in text


def test_upsampling_generator_matches_the_posts_summary(upsampling_run):
    demo = upsampling_run.globals
    model = demo["generator"]
    assert_summary(upsampling_run.printed, model, MLM_UPSAMPLING_GENERATOR_SUMMARY)
    assert model.output_shape == (None, 10, 10, 1)
    image = model.predict(np.random.default_rng(0).normal(size=(1, demo["LATENT_DIM"])), verbose=0)
    assert image.shape == (1, 10, 10, 1) and image.std() > 0  # Untrained, it still draws something.
    # Keras numbers the layers of each kind as it builds them: the generator's UpSampling2D is the
    # demo's fifth, `up_sampling2d_4` in a fresh process (as docs/how-it-works.md says).
    def number(layer):
        return int(re.fullmatch(r"up_sampling2d(?:_(\d+))?", layer.name).group(1) or 0)

    upsampling_layer = next(layer for layer in model.layers if isinstance(layer, keras.layers.UpSampling2D))
    assert number(upsampling_layer) == number(demo["nearest_model"].layers[0]) + 4
    assert number(demo["nearest_model"].layers[0]) == 0  # A fresh run, as docs/how-it-works.md says:
    docs = one_line((ROOT / "docs" / "how-it-works.md").read_text())
    assert "the demo's first is `up_sampling2d` and the generator's, the fifth, `up_sampling2d_4`" in docs
    # The markdown's parameter counts: all in the Dense and Conv2D layers, none in UpSampling2D.
    text = markdown_section("upsampling_demo.py", "The same shapes and parameter counts")
    assert "(layer names differ: Keras numbers them as it builds them)" in text
    counts = {type(layer).__name__: f"{layer.count_params():,}" for layer in model.layers}
    assert counts["UpSampling2D"] == "0"
    assert (f"of {model.count_params():,} parameters, the Dense layer holds {counts['Dense']}" in text
            and f"the Conv2D {counts['Conv2D']}" in text)


def test_interpolations_differ(upsampling_run):
    demo = upsampling_run.globals
    grown, shrunk, ring = demo["grown"], demo["shrunk"], demo["ring"]
    assert ring.shape == (28, 28) and shrunk.shape == (7, 7)
    np.testing.assert_allclose(shrunk, ring.reshape(7, 4, 7, 4).mean(axis=(1, 3)), atol=1e-6)
    assert {k: v.shape for k, v in grown.items()} == {m: (28, 28) for m in ("nearest", "bilinear", "bicubic")}
    np.testing.assert_array_equal(grown["nearest"], np.kron(shrunk, np.ones((4, 4))))  # The 7x7 blocks.
    assert len(np.unique(grown["bilinear"])) > 49
    assert not np.allclose(grown["bilinear"], grown["bicubic"])
    # Nearest and bilinear stay within the input's range; bicubic overshoots it (both kernels,
    # TensorFlow and JAX's a = -0.5 and PyTorch's a = -0.75).
    for method in ("nearest", "bilinear"):
        assert shrunk.min() - 1e-6 <= grown[method].min() and grown[method].max() <= shrunk.max() + 1e-6
    assert grown["bicubic"].min() < -0.01
    if keras.backend.backend() == "tensorflow":  # The numbers docs/how-it-works.md quotes.
        assert round(float(grown["bicubic"].min()), 2) == -0.07
        assert grown["bicubic"].max() < shrunk.max()  # Below 0, but not above the brightest pixel.
        assert "bicubic: grown to (28, 28), values from -0.068 to 0.584" in upsampling_run.printed
        docs = one_line((ROOT / "docs" / "how-it-works.md").read_text())
        assert "On TensorFlow they dip to -0.068 and stay below the brightest pixel" in docs
    path = figure(upsampling_run, "interpolations.png")
    assert_real_picture(path)
    # The overshoot shows: the figure outlines bicubic's pixels below 0 in red, and only those. An
    # outline, not a fill: a dip to -0.07 draws as black (as 0 does), with red round it.
    import matplotlib.pyplot as plt

    pixels = plt.imread(path)[..., :3]
    red = (pixels[..., 0] > 0.9) & (pixels[..., 1] < 0.1) & (pixels[..., 2] < 0.1)
    panel_width = pixels.shape[1] / 5  # ring, shrunk, nearest, bilinear, bicubic
    columns = np.nonzero(red.any(axis=0))[0]
    assert red.sum() > 100 and columns.min() > 4 * panel_width  # All in the last panel.
    rows = np.nonzero(red.any(axis=1))[0]
    box = red[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]  # The red's bounding box.
    negative = float((grown["bicubic"] < 0).mean())
    assert negative > 0.3 and box.mean() < negative / 4  # Far less red than the area below 0.


def test_the_posts_input_shape_argument_only_warns(upsampling):
    """The posts' way, the shape given to the first layer (`input_shape=`, and `input_dim=100` for
    the generator's Dense), builds the same models as keras.Input, with a warning, as the markdown says."""
    with pytest.warns(UserWarning, match="input_shape"):
        posts_way = keras.Sequential([keras.layers.UpSampling2D(input_shape=(2, 2, 1))])
    np.testing.assert_array_equal(upsample(posts_way, upsampling["INPUT"]), upsampling["nearest_output"])
    assert posts_way.output_shape == upsampling["nearest_model"].output_shape
    with pytest.warns(UserWarning, match="input_dim"):
        posts_dense = keras.layers.Dense(128 * 5 * 5, input_dim=100)
    posts_generator = keras.Sequential([posts_dense, keras.layers.Reshape((5, 5, 128)),
                                        keras.layers.UpSampling2D(),
                                        keras.layers.Conv2D(1, (3, 3), padding="same")])
    rows, total = MLM_UPSAMPLING_GENERATOR_SUMMARY
    for model in (posts_generator, upsampling["generator"]):
        assert [(str(layer.output.shape), f"{layer.count_params():,}") for layer in model.layers] == rows
        assert f"{model.count_params():,}" == total
    text = markdown_section("upsampling_demo.py", "MachineLearningMastery's post prints the same array")
    assert "`input_shape=(2, 2, 1)`, which Keras 3 still accepts with a warning" in text
    assert "only difference" not in text
    assert "`input_dim=100`" in markdown_section("upsampling_demo.py", "The same shapes and parameter counts")


# ------------------------------------------------------------------ transpose_demo


def test_unit_kernel_prints_the_posts_output(transpose_run):
    demo, printed = transpose_run.globals, transpose_run.printed
    np.testing.assert_array_equal(demo["INPUT"], printed_array(MLM_INPUT))
    assert_printed(printed, printed_array(MLM_INPUT))
    output = demo["unit_output"]
    np.testing.assert_array_equal(output, printed_array(MLM_TRANSPOSE_OUTPUT))
    assert MLM_TRANSPOSE_OUTPUT in printed
    assert_summary(printed, demo["unit_model"], MLM_TRANSPOSE_SUMMARY)
    # The same, stated as the rule: input pixels at even positions, zeros everywhere else.
    np.testing.assert_array_equal(output[::2, ::2], demo["INPUT"])
    odd = np.ones(output.shape, bool)
    odd[::2, ::2] = False
    assert not output[odd].any()
    assert_real_picture(figure(transpose_run, "unit_kernel.png"))


def test_stride_1_and_the_zeros_inserted_are_the_posts(transpose_run):
    demo = transpose_run.globals
    np.testing.assert_array_equal(demo["stride_1_output"], MLM_STRIDE_1_OUTPUT)
    np.testing.assert_array_equal(demo["spaced_out"], MLM_ZEROS_INSERTED)
    np.testing.assert_array_equal(demo["spaced_out"], demo["unit_output"])
    assert_printed(transpose_run.printed, MLM_STRIDE_1_OUTPUT)
    assert_printed(transpose_run.printed, MLM_ZEROS_INSERTED)
    assert "The same as the stride-2 output: True" in transpose_run.printed


def test_3x3_kernel_stamps_add_up_to_the_layer_output(transpose_run):
    demo = transpose_run.globals
    outputs, stamped, image = demo["padding_outputs"], demo["stamped"], demo["INPUT"]
    assert outputs["valid"].shape == (5, 5)
    assert outputs["same"].shape == (4, 4)  # Doubled, as the post says "same" makes it.
    # With an all-ones kernel the valid output's total is 9 times the input's.
    assert outputs["valid"].sum() == pytest.approx(9 * image.sum())
    for padding in ("valid", "same"):
        assert list(stamped[padding]) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        np.testing.assert_array_equal(sum(stamped[padding].values()), outputs[padding])
        assert_printed(transpose_run.printed, outputs[padding])
        checked = f'padding="{padding}": the 4 stamps add up to the layer\'s output: True'
        assert checked in transpose_run.printed
    for (row, col), stamp in stamped["valid"].items():  # Whole 3x3 stamps, 2 cells apart.
        value = image[row, col]
        footprint = stamp[2 * row : 2 * row + 3, 2 * col : 2 * col + 3]
        np.testing.assert_array_equal(footprint, np.full((3, 3), value))
        assert stamp.sum() == 9 * value
    # "same" with k=3, s=2 keeps the first 4 rows and columns of "valid", as its markdown says.
    np.testing.assert_array_equal(outputs["same"], outputs["valid"][:4, :4])
    np.testing.assert_array_equal(stamped["same"][0, 0][:3, :3], np.ones((3, 3)))  # None cut at the top.
    text = markdown_section("transpose_demo.py", "The centre's 10 is where all four stamps meet")
    assert 'Where "same" cuts: `max(k - s, 0) // 2` rows at the top (here 0), the rest at the bottom' in text
    assert "its 4x4 is the 5x5 without the last row and column" in text
    assert_real_picture(figure(transpose_run, "stamps.png"))


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
    np.testing.assert_allclose(by_hand, upsample(model, image), atol=1e-5)
    np.testing.assert_allclose(transpose["apply_model"](model, image), upsample(model, image), atol=1e-6)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4])
@pytest.mark.parametrize("strides", [1, 2, 3])
def test_output_size_rule_matches_keras(transpose, n, kernel_size, strides, padding):
    model = transpose["transpose_model"]((n, n), kernel_size, strides=strides, padding=padding)
    expected = transpose["output_size"](n, kernel_size, strides, padding)
    assert model.output_shape == (None, expected, expected, 1)
    if kernel_size >= strides:  # The short form, for kernels at least as big as the stride.
        assert expected == ((n - 1) * strides + kernel_size if padding == "valid" else n * strides)


def test_the_output_size_rule_is_stated_right(transpose_run):
    output_size = transpose_run.globals["output_size"]
    assert output_size(2, 1, 2, "valid") == 4  # Example 1: 4x4, not (n - 1) * s + k = 3.
    assert output_size(5, 3, 2, "valid") == MLM_VALID_GENERATOR_SIDE  # The post's 11x11.
    assert output_size(5, 3, 2, "same") == 10
    # The markdown gives one rule, and works it for section 1 and section 2; the generator's
    # layer says what "valid" would give it.
    text = markdown_section("transpose_demo.py", "## 2. A 3x3 kernel")
    assert '`padding="valid"` gives `n * s + max(k - s, 0)`' in text
    assert '`padding="same"` cuts the overhang off: `n * s`' in text
    for n, k in ((2, 1), (2, 3)):
        assert f"{n} * 2 + {max(k - 2, 0)} = {output_size(n, k, 2, 'valid')}" in text
    assert f"or {output_size(2, 3, 2, 'same')} (\"same\")" in text
    side, source = MLM_VALID_GENERATOR_SIDE, (ROOT / "transpose_demo.py").read_text()
    assert f'padding="same"),  # "valid" would give {side}x{side}.' in source


def test_zeros_between_padding_and_a_flipped_kernel_give_the_layers_output(transpose_run):
    demo, printed = transpose_run.globals, transpose_run.printed
    kernel, image = demo["ramp_kernel"], demo["INPUT"]
    assert len(np.unique(kernel)) == kernel.size == 9  # Every weight different: flipping changes it.
    model = demo["transpose_model"](image.shape, 3, kernel=kernel)
    np.testing.assert_array_equal(demo["layer_output"], upsample(model, image))
    np.testing.assert_array_equal(demo["between"], [[1, 0, 2], [0, 0, 0], [3, 0, 4]])  # Zeros only between.
    assert demo["padded"].shape == (7, 7) and demo["padded"][2:5, 2:5].tolist() == demo["between"].tolist()
    np.testing.assert_array_equal(demo["convolved"], demo["layer_output"])
    assert demo["convolved"].shape == (5, 5)
    assert_printed(printed, demo["layer_output"])
    assert "Equal: True\nEqual without the flip: False\n" in printed
    # Section 1's 4x4 (zeros after the last pixel too), padded the same, would give 6x6: zeros only
    # between for k >= s, while section 1's trailing zeros are the gap Keras keeps when k < s.
    wrong = np.lib.stride_tricks.sliding_window_view(np.pad(demo["spaced_out"], 2), (3, 3))
    assert wrong.shape[:2] == (6, 6) != demo["layer_output"].shape
    text = markdown_section("transpose_demo.py", "The post also quotes")
    assert "For the \"valid\" output with k >= s" in text and "s - 1 zeros *between* the pixels" in text
    assert "(none after the last)" in text
    assert demo["output_size"](2, 1, 2, "valid") == demo["unit_output"].shape[0] == 4  # That gap: k=1 < s=2.
    assert ("With a 1x1 kernel, stride 2 is as if a row and a column of zeros followed each pixel, the last "
            "one's too: Keras makes the output n * s wide") in markdown_section("transpose_demo.py",
                                                                               "As in the post: output shape")
    assert "## 2b. The same with a plain Conv2D" in text  # Its own heading, not under the stamps'.
    # The plain convolution is a Keras Conv2D, as the post says: flipped, it gives the layer's output.
    assert demo["plain_conv"].__class__ is keras.layers.Conv2D and demo["plain_conv"].padding == "valid"
    assert not demo["plain_conv"].use_bias


@pytest.mark.parametrize(("kernel_size", "strides"),
                         [(k, s) for k in (1, 2, 3, 4, 5) for s in (1, 2, 3) if k >= s])
def test_the_plain_convolution_recipe_holds_for_kernels_at_least_the_stride(transpose, kernel_size, strides):
    """The markdown's recipe, for every kernel at least as big as the stride (smaller ones keep the
    gap after the last pixel, section 1's case): s - 1 zeros between pixels, k - 1 zeros all round,
    the kernel flipped, a plain convolution."""
    rng = np.random.default_rng(kernel_size * 10 + strides)
    image = rng.integers(-5, 6, size=(3, 2)).astype("float32")  # Not square: rows and columns apart.
    kernel = rng.integers(-3, 4, size=(kernel_size, kernel_size)).astype("float32")
    between = np.zeros([(n - 1) * strides + 1 for n in image.shape], "float32")
    between[::strides, ::strides] = image
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(between, kernel_size - 1), kernel.shape)
    convolved = (windows * kernel[::-1, ::-1]).sum(axis=(2, 3))
    model = transpose["transpose_model"](image.shape, kernel_size, strides=strides, kernel=kernel)
    np.testing.assert_allclose(convolved, upsample(model, image), atol=1e-5)


def test_transpose_generator_matches_the_posts_summary(transpose_run):
    model = transpose_run.globals["transpose_generator"]
    assert_summary(transpose_run.printed, model, MLM_TRANSPOSE_GENERATOR_SUMMARY)
    assert 'Model: "transpose_generator"' in transpose_run.printed  # Named, like upsampling_demo's.
    assert model.output_shape == (None, 10, 10, 1)


def test_the_checkerboard_counts_the_stamps(transpose):
    """An all-ones image through the all-ones k=3, s=2 kernel: each pixel holds the stamps over it."""
    size = transpose["ONES_IMAGE_SIZE"]
    canvases = transpose["stamps"](np.ones((size, size), "float32"), np.ones((3, 3)), 2, "same")
    counts = sum((canvas > 0).astype(int) for canvas in canvases.values())
    np.testing.assert_array_equal(counts, transpose["checkerboard_outputs"]["Conv2DTranspose k=3, s=2"])
    assert transpose["EDGE"] == 1
    inner = transpose["interior"](counts)  # Starts at row and column 1.
    assert (inner[1::2, 1::2] == 4).all()  # Even rows and columns: 4 stamps meet.
    assert (inner[::2, ::2] == 1).all()  # Odd ones: a single stamp.
    assert (inner[1::2, ::2] == 2).all() and (inner[::2, 1::2] == 2).all()


def test_the_generator_has_the_upsampling_ones_parameter_count(transpose, upsampling):
    model = transpose["transpose_generator"]
    assert model.count_params() == upsampling["generator"].count_params() == 324_353
    text = markdown_section("transpose_demo.py", "## 3. The post's generator")
    counts = [f"{layer.count_params():,}" for layer in model.layers]
    assert counts == ["323,200", "0", "1,153"] and 1_153 == 3 * 3 * 128 + 1
    assert ("323,200 parameters in Dense, 1,153 (3 x 3 x 128 weights and a bias) in Conv2DTranspose, "
            "324,353 in all, as many as the UpSampling2D one") in text


# ------------------------------------------------ docs/results.md: untrained generators' spread

SPREAD_SEEDS = range(1, 21)
SPREAD_SAMPLES = 256


def by_stamp_count(transpose, per_pixel):
    """A 10x10 per-pixel value averaged over the interior pixels that 4, 2 or 1 stamps of a 3x3,
    stride-2 Conv2DTranspose cover (over a 5x5 input, counted by the demo's stamps)."""
    canvases = transpose["stamps"](np.ones((5, 5), "float32"), np.ones((3, 3)), 2, "same")
    counts, inner = transpose["interior"](sum(canvases.values())), transpose["interior"](per_pixel)
    return {c: float(inner[counts == c].mean()) for c in (4, 2, 1)}


def untrained_generators(transpose, seed):
    """The demo's generator and its UpSampling2D + Conv2D twin, each built after set_random_seed(seed)."""
    keras.utils.set_random_seed(seed)
    transposed = keras.models.clone_model(transpose["transpose_generator"])  # New weights, drawn now.
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    resized = keras.Sequential([keras.Input(shape=(transpose["LATENT_DIM"],)), layers.Dense(128 * 5 * 5),
                                layers.Reshape((5, 5, 128)), layers.UpSampling2D(),
                                layers.Conv2D(1, (3, 3), padding="same")])
    return {"Conv2DTranspose k3 s2": transposed, "UpSampling2D + Conv2D": resized}


def test_untrained_generators_vary_by_the_stamp_count(transpose):
    """The measurement docs/results.md reports: each output pixel's standard deviation over random
    inputs, by stamp count; the ratios' causes (the kernel, the Dense layer, the sampling); 20 seeds."""
    latent_dim = transpose["LATENT_DIM"]

    def measure(model, seed):
        latents = np.random.default_rng(seed).normal(size=(SPREAD_SAMPLES, latent_dim)).astype("float32")
        sampled = keras.ops.convert_to_numpy(model(latents))[..., 0].std(axis=0)
        # Linear in its input (no activation, zero biases): each pixel's exact spread is the norm of
        # its column of the map from the 100 inputs.
        assert not keras.ops.convert_to_numpy(model(np.zeros((1, latent_dim), "float32"))).any()
        columns = keras.ops.convert_to_numpy(model(np.eye(latent_dim, dtype="float32")))[..., 0]
        exact = np.sqrt((columns**2).sum(axis=0))
        return by_stamp_count(transpose, sampled), by_stamp_count(transpose, exact)

    ratios = {}
    for seed in SPREAD_SEEDS:
        spread, _ = measure(untrained_generators(transpose, seed)["Conv2DTranspose k3 s2"], seed)
        ratios[seed] = spread[4] / spread[1]
    mean = float(np.mean(list(ratios.values())))
    assert abs(mean - 2) < 0.1  # sqrt(4) = 2, on average over seeds, on any backend.

    first = SPREAD_SEEDS[0]
    models = untrained_generators(transpose, first)
    (transposed, exact), (resized, _) = (measure(model, first) for model in models.values())
    assert transposed[4] > transposed[2] > transposed[1]
    assert 0.75 < resized[4] / resized[1] < 1.33  # No 1-2-4 pattern.
    kernel = models["Conv2DTranspose k3 s2"].layers[-1].get_weights()[0][:, :, 0, :]  # (3, 3, 128 maps)
    squared = (kernel**2).sum(axis=-1)
    corners = squared[0, 0] + squared[0, 2] + squared[2, 0] + squared[2, 2]
    kernel_only = float(np.sqrt(corners / squared[1, 1]))

    docs = one_line((ROOT / "docs" / "results.md").read_text())
    text = markdown_section("transpose_demo.py", "## Going further")
    assert "pixels under 4 stamps have about twice, sqrt(4), the standard deviation of those under 1" in text
    assert f"seeds {first} to {SPREAD_SEEDS[-1]}" in docs and f"fed {SPREAD_SAMPLES} random vectors" in docs
    assert f"`keras.utils.set_random_seed({first})`" in docs
    if keras.backend.backend() == "tensorflow":  # The numbers it gives, measured on TensorFlow.
        for name, spread in zip(models, (transposed, resized), strict=True):
            row = " | ".join(f"{spread[c]:.3f}" for c in (4, 2, 1))
            assert f"| {name} | {row} | {spread[4] / spread[1]:.2f} | {spread[2] / spread[1]:.2f} |" in docs
        sampled = transposed[4] / transposed[1]
        assert ratios[first] == sampled and max(ratios, key=ratios.get) == first
        assert f"= {kernel_only:.2f}." in docs
        assert f"weights: {exact[4] / exact[1]:.2f} (and {exact[2] / exact[1]:.2f})" in docs
        assert f"add the last {sampled - exact[4] / exact[1]:.2f}" in docs
        assert (f"averages {mean:.2f}, from {min(ratios.values()):.2f} to {max(ratios.values()):.2f}: "
                f"seed {first} is the highest") in docs
        spread_range = max(resized.values()) / min(resized.values()) - 1
        assert f"lie within {spread_range:.0%} of each other" in docs


def test_checkerboard_ratios(transpose_run):
    demo = transpose_run.globals
    k3, k4, resize = demo["checkerboard_ratios"].values()
    assert k3 == pytest.approx(4)
    assert k4 == pytest.approx(1)
    assert resize == pytest.approx(1)
    outputs, edge = demo["checkerboard_outputs"], demo["EDGE"]
    inner = demo["interior"](outputs["Conv2DTranspose k=3, s=2"])
    assert inner.shape == (2 * demo["ONES_IMAGE_SIZE"] - 2 * edge,) * 2
    assert set(np.unique(inner)) == {1, 2, 4}
    assert_printed(transpose_run.printed, inner)
    # EDGE, as its comment says: the zeros past the image reach the outermost row and column only.
    for name in ("Conv2DTranspose k=4, s=2", "UpSampling2D + Conv2D k=3"):
        output = outputs[name]
        inside = output[edge, edge]
        assert (output[edge:-edge, edge:-edge] == inside).all()  # Flat inside the border,
        assert output[0].max() < inside and output[:, -1].max() < inside  # lower all along it.
    assert_real_picture(figure(transpose_run, "checkerboard.png"))


def markdown_section(script: str, heading: str) -> str:
    """The text of the markdown cell that opens with `heading`, comment marks removed."""
    cells = re.split(r"^# %%.*$", (ROOT / script).read_text(), flags=re.MULTILINE)
    cell = next(cell for cell in cells if f"# {heading}" in cell)
    return " ".join(line.removeprefix("#").strip() for line in cell.strip().splitlines())


def test_the_advice_quotes_the_ratios_printed_above_it(transpose_run):
    """"When to prefer which" is markdown: the ratios it quotes, in order (k=3, k=4, UpSampling2D +
    Conv2D), are the ones the checkerboard test printed, and its claim about training is docs/results.md's."""
    ratios = transpose_run.globals["checkerboard_ratios"]
    assert list(ratios.values()) == [4, 1, 1]
    for name, ratio in ratios.items():
        assert f"  {name:28} {ratio:g}\n" in transpose_run.printed
    text = markdown_section("transpose_demo.py", "## 5. When to prefer which")
    assert [float(r) for r in re.findall(r"ratio (\d+(?:\.\d+)?)", text)] == list(ratios.values())
    assert f"{ratios['Conv2DTranspose k=3, s=2']:g} times brighter" in text
    assert "the upsampling itself has nothing to learn" in text and "slower" not in text
    assert "compare_decoders.py finds no measurable checkerboard" in text
    assert "In this project's small MNIST denoisers, training learned that away" in text  # Not in general.
    results = one_line((ROOT / "docs" / "results.md").read_text())
    assert "No decoder leaves a checkerboard after training" in results
    # The gaps it quotes are the two Conv2DTranspose decoders' in docs/results.md, where each paired
    # interval over the seeds leaves out 0: behind, not "within" reach.
    assert ("Conv2DTranspose's PSNR is 0.09 dB (kernel 4) and 0.13 dB (kernel 3) below UpSampling2D "
            "(nearest) + Conv2D; over three seeds both gaps' 95% intervals exclude zero") in text
    assert "Bilinear UpSampling2D + Conv2D came last, 0.48 dB behind" in text
    assert "within" not in text
    assert "Conv2DTranspose k4 is 0.09 dB behind (95% interval" in results and "k3 0.13 dB" in results
    assert "and bilinear upsampling 0.48 dB" in results
    assert "each interval leaves out 0, so no gap is a tie" in results
    # The parameter counts it quotes are the table's, and MachineCurve's opposite ranking is the one
    # docs/results.md explains by size and compression.
    assert "MNIST denoisers (78,849 parameters; 78,835 for kernel 4, with fewer filters to match)" in text
    assert "decoder_filters=(18, 16)" in (ROOT / "compare_decoders.py").read_text()  # Not 32: fewer filters.
    assert "| Conv2DTranspose k3 s2 (the posts') | 78,849 |" in results
    assert "| Conv2DTranspose k4 s2 | 78,835 |" in results
    assert "| UpSampling2D nearest + Conv2D | 78,849 |" in results
    assert "wins (loss 0.05 against 0.11)" in text
    assert "differ ninefold in parameters and thirtyfold in their narrowest layer" in text
    assert "4x4x8 = 128 numbers" in results and "22x22x8 = 3,872 numbers" in results
    assert round(12_785 / 1_393) == 9 and round(3_872 / 128) == 30
    assert "its Conv2DTranspose layers have stride 1, so none doubles the map" in text
    assert "Its transposed convolutions have stride 1" in results
    assert "None of them doubles the map" in results
    assert "UpSampling2D (0.11) vs Conv2DTranspose (0.05)" in results
    assert "1,393 against 12,785, nine times as many" in results
    assert "how much each model has to compress, not how it upsamples" in results


# Where each figure is drawn: the section whose lesson it shows.
FIGURE_SECTIONS = {"upsampling_demo.py": {"smoothing.png": "# ## 4. ", "interpolations.png": "# ## 6. "},
                   "transpose_demo.py": {"unit_kernel.png": "# ## 1. ", "stamps.png": "# ## 2. ",
                                         "checkerboard.png": "# ## 4. "}}
DRAWING_HELPERS = {"upsampling_demo.py": {"save_figure"}, "transpose_demo.py": {"save_figure", "draw_array"}}


def names_in(tree: ast.AST, context: type) -> set[str]:
    """The names code stores (context ast.Store: functions and arguments too) or reads (ast.Load)."""
    found = {node.id for node in ast.walk(tree)
             if isinstance(node, ast.Name) and isinstance(node.ctx, context)}
    if context is ast.Store:
        found |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        found |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    return found


def check_layout(script: str, layer: str, first_layer_by: int, last_section: str,
                 helpers_before: str) -> None:
    """The page's layout, the same on both demos: a setup cell (imports, one comment line) and a
    configuration cell, then the lesson, whose first code cell holds the first `layer` (by line
    `first_layer_by`), with no prose before it speaking of figures. The drawing helpers are one
    cell, after a one-line markdown label, just before the heading of the first figure's section
    (or, where that section opens the lesson, just before the figure); each figure has a cell of
    its own, right after the lesson code it draws (the helpers aside) and before the prose that
    follows, and draws only what its own section computed. Nothing else draws. "Going further"
    (at most 150 words) closes the page, after the last section."""
    source = (ROOT / script).read_text()
    parts = re.split(r"^(# %%.*)$", source, flags=re.MULTILINE)
    cells = [(marker, body.strip()) for marker, body in zip(parts[1::2], parts[2::2], strict=True)]
    first_layer = next(number for number, line in enumerate(source.splitlines(), 1)
                       if f"layers.{layer}(" in line and not line.lstrip().startswith("#"))
    assert first_layer <= first_layer_by
    assert [marker for marker, _ in cells[:3]] == ["# %%", "# %%", "# %% [markdown]"]
    setup, configuration = cells[0][1], cells[1][1]
    assert sum(line.startswith("#") for line in setup.splitlines()) <= 1  # The KERAS_BACKEND line.
    assert configuration == configuration_cell(script).strip()
    code = [i for i, (marker, _) in enumerate(cells) if marker == "# %%"]
    assert f"layers.{layer}(" in cells[code[2]][1]  # The third code cell is the lesson's first.
    prose_before = " ".join(body for marker, body in cells[: code[2]] if marker != "# %%")
    assert not re.search(r"figure|draw|plot|png|picture", prose_before, flags=re.IGNORECASE)

    section, heading = [], None  # The heading of the section each cell is in.
    for marker, body in cells:
        if marker != "# %%":
            heading = next((line for line in body.splitlines() if line.startswith("# ## ")), heading)
        section.append(heading)
    [helpers] = [i for i in code if "def save_figure(" in cells[i][1]]
    tree = ast.parse(cells[helpers][1])
    assert {node.name for node in tree.body if isinstance(node, ast.FunctionDef)} == DRAWING_HELPERS[script]
    assert not re.search(r"subplots\(|^save_figure\(", cells[helpers][1], flags=re.MULTILINE)  # No figure.
    label_marker, label = cells[helpers - 1]
    assert label_marker == "# %% [markdown]" and label.startswith("# Drawing code, not the lesson: ")
    assert len(label.splitlines()) <= 2 and "##" not in label  # A short label, not a section.
    drawing = [i for i in code if i != helpers
               and re.search(r"\bplt\.|save_figure\(|Rectangle\(|imshow\(|contour\(", cells[i][1])]
    assert "plt." not in setup + configuration
    if helpers_before == "figure":  # The helpers, then the figure.
        assert drawing[0] == helpers + 1
    else:  # The helpers, then the heading of the first figure's section, its code, its figure.
        heading_marker, heading = cells[helpers + 1]
        assert heading_marker == "# %% [markdown]" and heading.startswith(helpers_before)
        assert section[drawing[0]].startswith(helpers_before) and drawing[0] == helpers + 3
    lesson_names = {}  # Each name the lesson code stores, and the section that first stores it.
    for i in code:
        if i not in drawing and i != helpers:
            for name in names_in(ast.parse(cells[i][1]), ast.Store):
                lesson_names.setdefault(name, section[i])
    saved = {}
    for i in drawing:
        [name] = re.findall(r'^save_figure\(fig, "([\w.]+)"\)$', cells[i][1], flags=re.MULTILINE)
        saved[name] = i
        lesson = i - 3 if i == helpers + 1 else i - 1  # The lesson code it draws, label and helpers aside.
        assert section[i].startswith(FIGURE_SECTIONS[script][name])  # In the section it draws,
        assert lesson in code and lesson not in drawing and section[lesson] == section[i]  # after its code,
        assert cells[i + 1][0] == "# %% [markdown]"  # before the prose that follows it,
        tree = ast.parse(cells[i][1])
        drawn = names_in(tree, ast.Load) - names_in(tree, ast.Store)  # and from its section's arrays:
        assert {lesson_names[name] for name in drawn if name in lesson_names} <= {None, section[i]}, name
        # the lesson cell just before made them, or the section's lesson ends there.
        assert drawn & names_in(ast.parse(cells[lesson][1]), ast.Store) or section[i + 1] != section[i], name
        assert not [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert set(saved) == FIGURES[script] and len(drawing) == len(saved)
    assert cells[-1][1].splitlines()[0] == "# ## Going further" and cells[-1][0] == "# %% [markdown]"
    assert section[-2].startswith(last_section) and len(cells[-1][1].replace("#", " ").split()) <= 150


def test_upsampling_demo_opens_on_the_lesson():
    check_layout("upsampling_demo.py", "UpSampling2D", first_layer_by=60, last_section="# ## 6. ",
                 helpers_before="# ## 4. ")


def test_transpose_demo_opens_on_the_lesson():
    check_layout("transpose_demo.py", "Conv2DTranspose", first_layer_by=70, last_section="# ## 5. ",
                 helpers_before="figure")  # Section 1 draws first, and the page opens on its layer.


# ------------------------------------------------------------------------- both


def test_both_demos_share_their_helpers():
    """One idiom on both pages: the same `apply_model` (the model called on one image) and the same
    `save_figure`, word for word."""
    sources = {script: (ROOT / script).read_text() for script in DEMOS}
    for helper in ("apply_model", "save_figure"):
        [upsampling], [transpose] = ([ast.get_source_segment(source, node) for node in ast.parse(source).body
                                      if isinstance(node, ast.FunctionDef) and node.name == helper]
                                     for source in sources.values())
        assert upsampling == transpose, helper
    for script in DEMOS:
        source = (ROOT / script).read_text()
        assert ".predict(" not in source and "logging" not in source  # Models called, no log filter.


def imported_modules(script: str) -> set[str]:
    tree = ast.parse((ROOT / script).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("script", DEMOS)
def test_imports_only_keras_numpy_matplotlib_and_the_standard_library(script):
    """A notebook made from the script runs alone (in Colab, say): no project package."""
    modules = imported_modules(script)
    assert {"keras", "numpy", "matplotlib"} <= modules
    # IPython only inside the notebook branch: a notebook's kernel always has it.
    assert modules - {"keras", "numpy", "matplotlib", "IPython"} <= set(sys.stdlib_module_names)
    source = (ROOT / script).read_text()
    assert source.count("from IPython") == 1 and "if IN_NOTEBOOK:\n" in source.split("from IPython")[0][-400:]
    assert "denoise_kit" not in source


def configuration_cell(script: str) -> str:
    """The `# %%` cell that assigns OUTPUT_DIR (tests/test_notebooks.py adds its own after it)."""
    cells = re.split(r"^# %%.*$", (ROOT / script).read_text(), flags=re.MULTILINE)
    return next(cell for cell in cells if re.search(r"^OUTPUT_DIR = ", cell, flags=re.MULTILINE))


@pytest.mark.parametrize(("script", "constants", "in_their_sections"), [
    ("upsampling_demo.py", ["INPUT", "SHOW", "OUTPUT_DIR"], {"LATENT_DIM": "generator = "}),
    ("transpose_demo.py", ["INPUT", "SHOW", "OUTPUT_DIR"],
     {"LATENT_DIM": "transpose_generator = ", "ONES_IMAGE_SIZE": "ones_image = "}),
])
def test_the_constants_are_plain_assignments_in_one_cell(script, constants, in_their_sections, runs):
    cell = configuration_cell(script)
    assigned = re.findall(r"^([A-Z_]+) = ", cell, flags=re.MULTILINE)
    assert assigned == constants
    # Assigned nowhere else, so that a cell added after this one changes them for the whole run.
    source = (ROOT / script).read_text()
    for name in constants:
        assert len(re.findall(rf"^{name} = ", source, flags=re.MULTILINE)) == 1
    # The section-only ones: set once, in the cell that uses them, on the line before that use.
    for name, user in in_their_sections.items():
        [cell] = [cell for cell in re.split(r"^# %%.*$", source, flags=re.MULTILINE) if f"\n{user}" in cell]
        assert re.search(rf"^{name} = .*\n{user}", cell, flags=re.MULTILINE)
        assert len(re.findall(rf"^{name} = ", source, flags=re.MULTILINE)) == 1
    namespace = runs[script].globals
    assert namespace["SHOW"] is False
    assert not Path(namespace["OUTPUT_DIR"]).is_absolute()
    assert "CONFIG" not in namespace and "DATA_DIR" not in namespace  # Nothing unused, no data read.


@pytest.mark.parametrize("script", DEMOS)
def test_figures_go_under_the_folder_it_runs_from(script, runs):
    run, expected = runs[script], FIGURES[script]
    assert [p.name for p in run.folder.iterdir()] == ["outputs"]  # Nothing else written there.
    saved = run.folder / run.globals["OUTPUT_DIR"]
    assert {p.name for p in saved.iterdir()} == expected  # No temporary file left behind.
    for name in expected:
        assert f"saved {Path(run.globals['OUTPUT_DIR']) / name}" in run.printed


@pytest.mark.parametrize("script", DEMOS)
def test_a_figure_is_saved_whole_or_not_at_all(script, runs, monkeypatch):
    """A save that fails half-way leaves the figure that was there, and no temporary file: the
    PNG is written under another name in the same folder (so the rename is atomic), then moved."""
    import matplotlib.pyplot as plt

    run = runs[script]
    monkeypatch.chdir(run.folder)
    saved = run.folder / run.globals["OUTPUT_DIR"]
    name = sorted(p.name for p in saved.iterdir())[0]
    before = {p.name: p.read_bytes() for p in saved.iterdir()}

    fig = plt.figure()
    written = []

    def fails_half_way(path, **options):
        written.append(Path(path).resolve())
        Path(path).write_bytes(b"\x89PNG half a picture")
        raise OSError("No space left on device")

    monkeypatch.setattr(fig, "savefig", fails_half_way)
    with pytest.raises(OSError, match="No space left"):
        run.globals["save_figure"](fig, name)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    [partial] = written
    assert partial.is_relative_to(saved.resolve()) and partial != (saved / name).resolve()

    fig = plt.figure()  # A save that works replaces the file.
    path = run.globals["save_figure"](fig, "new.png")
    assert (run.folder / path).read_bytes().startswith(b"\x89PNG")
    (run.folder / path).unlink()
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before  # Nothing else left there.


@pytest.mark.slow
def test_both_run_from_a_terminal_in_an_empty_folder(tmp_path):
    """`python script.py` in an empty folder, as a learner types it (both at once: each spends
    seconds importing its backend): exit 0, the figures there, the posts' arrays printed, and
    neither TensorFlow's start-up notices nor its retracing notice."""
    folders = {script: tmp_path / script.removesuffix(".py") for script in DEMOS}
    for folder in folders.values():
        folder.mkdir()
    started = {script: subprocess.Popen(script_command(script), cwd=folders[script], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=learner_env())
               for script in DEMOS}
    finished = {}
    try:
        for script, process in started.items():
            printed, errors = process.communicate(timeout=300)
            finished[script] = subprocess.CompletedProcess(process.args, process.returncode, printed, errors)
    finally:
        for process in started.values():
            process.kill()  # Only one still running, after a timeout: none is left behind.
    for script, result in finished.items():
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        assert "tf.function retracing" not in result.stderr
        assert "cpu_feature_guard" not in result.stderr  # Hidden by TF_CPP_MIN_LOG_LEVEL=2.
        saved = folders[script] / "outputs" / script.removesuffix(".py")
        assert {p.name for p in saved.iterdir()} == FIGURES[script]
    assert MLM_UPSAMPLING_OUTPUT in finished["upsampling_demo.py"].stdout
    assert MLM_TRANSPOSE_OUTPUT in finished["transpose_demo.py"].stdout

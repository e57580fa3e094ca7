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
FIGURES = {"upsampling_demo.py": {"smoothing.png", "generator.png", "interpolations.png"},
           "transpose_demo.py": {"unit_kernel.png", "stamps.png", "generators.png", "checkerboard.png"}}

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


def test_upsampling_generator_matches_the_posts_summary(upsampling_run):
    demo = upsampling_run.globals
    model, image = demo["generator"], demo["generator_image"]
    assert_summary(upsampling_run.printed, model, MLM_UPSAMPLING_GENERATOR_SUMMARY)
    assert model.output_shape == (None, 10, 10, 1)
    assert image.shape == (10, 10) and image.std() > 0
    # Built again from SEED, fed the same random vector: the same picture.
    keras.utils.set_random_seed(demo["SEED"])
    again = demo["build_generator"]().predict(demo["latent"], verbose=0)
    np.testing.assert_array_equal(again.reshape((10, 10)), image)
    assert_real_picture(figure(upsampling_run, "generator.png"))


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
    if keras.backend.backend() == "tensorflow":  # The numbers its markdown and comment quote.
        assert round(float(grown["bicubic"].min()), 2) == -0.07
        assert grown["bicubic"].max() < shrunk.max()  # Below 0, but not above the brightest pixel.
        assert "bicubic: grown to (28, 28), values from -0.068 to 0.584" in upsampling_run.printed
    assert_real_picture(figure(upsampling_run, "interpolations.png"))


def test_the_posts_input_shape_argument_only_warns(upsampling):
    """The post's way, the shape given to the layer, builds the same model as keras.Input, with a
    warning: the one difference the demos' markdown names."""
    with pytest.warns(UserWarning, match="input_shape"):
        posts_way = keras.Sequential([keras.layers.UpSampling2D(input_shape=(2, 2, 1))])
    np.testing.assert_array_equal(upsample(posts_way, upsampling["INPUT"]), upsampling["nearest_output"])
    assert posts_way.output_shape == upsampling["nearest_model"].output_shape


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
        assert f'padding="{padding}": {outputs[padding].shape[0]}x' in transpose_run.printed
    assert transpose_run.printed.count("the 4 stamps add up to the layer's output: True") == 2
    for (row, col), stamp in stamped["valid"].items():  # Whole 3x3 stamps, 2 cells apart.
        value = image[row, col]
        footprint = stamp[2 * row : 2 * row + 3, 2 * col : 2 * col + 3]
        np.testing.assert_array_equal(footprint, np.full((3, 3), value))
        assert stamp.sum() == 9 * value
    # "same" with k=3, s=2 keeps the first 4 rows and columns of "valid", as its markdown says.
    np.testing.assert_array_equal(outputs["same"], outputs["valid"][:4, :4])
    assert demo["same_crop"](3, 2) == 0
    text = markdown_section("transpose_demo.py", 'Where "same" cuts')
    assert "half of k - s, rounded down, from the top and left" in text
    assert "without its last row and column" in text
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
    np.testing.assert_allclose(transpose["upsample"](model, image), upsample(model, image), atol=1e-6)


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
    assert '11x11 with "valid", 10x10 with "same"' in transpose_run.printed
    # The markdown states the general rule first, then the short form.
    source = (ROOT / "transpose_demo.py").read_text()
    assert source.index("`(n - 1) * s + max(k, s)`") < source.index("`(n - 1) * s + k`")
    assert "`n * s`" in source


def test_transpose_generator_matches_the_posts_summary(transpose_run):
    model = transpose_run.globals["transpose_generator"]
    assert_summary(transpose_run.printed, model, MLM_TRANSPOSE_GENERATOR_SUMMARY)
    assert model.output_shape == (None, 10, 10, 1)


def test_footprint_count_is_the_checkerboard(transpose):
    """The all-ones image through the all-ones k=3, s=2 kernel counts the stamps over each pixel."""
    counts = transpose["footprint_count"]((transpose["CONSTANT_SIZE"],) * 2)
    np.testing.assert_array_equal(counts, transpose["checkerboard_outputs"]["Conv2DTranspose k=3, s=2"])
    assert transpose["EDGE"] == 1
    inner = transpose["interior"](counts)  # Starts at row and column 1.
    assert (inner[1::2, 1::2] == 4).all()  # Even rows and columns: 4 stamps meet.
    assert (inner[::2, ::2] == 1).all()  # Odd ones: a single stamp.
    assert (inner[1::2, ::2] == 2).all() and (inner[::2, 1::2] == 2).all()


def test_transpose_generator_beside_the_upsampling_one(transpose_run, upsampling):
    transpose = transpose_run.globals
    models, images, spreads = transpose["generators"], transpose["generator_images"], transpose["spreads"]
    assert list(models) == ["Conv2DTranspose", "UpSampling2D + Conv2D"]
    for model in models.values():
        assert model.count_params() == 324_353
        assert model.output_shape == (None, 10, 10, 1)
    assert "The UpSampling2D + Conv2D generator: 324,353 parameters" in transpose_run.printed
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
        outputs = build().predict(transpose["latents"], verbose=0)[:, :, :, 0]
        np.testing.assert_array_equal(outputs[0], images[name])
        assert spread_by_footprints(outputs.std(axis=0), stamp_counts) == spreads[name]
    # Pixels under more stamps vary more: about sqrt(4) = 2x in std from 1 to 4 stamps. Not so
    # without them: UpSampling2D + Conv2D's three averages stay close (within about 10% with SEED = 1
    # on TensorFlow, as its markdown says; the other backends draw other weights).
    transposed, upsampled = spreads["Conv2DTranspose"], spreads["UpSampling2D + Conv2D"]
    assert list(transposed) == [4, 2, 1]
    assert transposed[4] > transposed[2] > transposed[1] and 1.6 < transposed[4] / transposed[1] < 3
    assert 0.75 < upsampled[4] / upsampled[1] < 1.33
    resized_range = max(upsampled.values()) / min(upsampled.values()) - 1
    if keras.backend.backend() == "tensorflow" and transpose["SEED"] == 1:
        assert resized_range < 0.12
    for name, by_count in spreads.items():  # The table it prints.
        row = f"  {name:24}" + "".join(f"{value:10.3f}" for value in by_count.values())
        assert row in transpose_run.printed
    # And the ratios it quotes, from those numbers.
    assert transpose["spread_ratio"] == transposed[4] / transposed[1]
    four, two = transposed[4] / transposed[1], transposed[2] / transposed[1]
    assert transpose["spread_ratio_2"] == two
    assert (f"pixels under 4 stamps vary {four:.2f}x as much as under 1 (sqrt(4) = 2),\n"
            f"  pixels under 2 stamps {two:.2f}x as much") in transpose_run.printed
    # Said as expectations, with this run's own numbers printed beside them (not written in the markdown).
    assert (f"(SEED = {transpose['SEED']}, {keras.backend.backend()} backend) give {four:.2f} and {two:.2f}"
            in transpose_run.printed)
    text = markdown_section("transpose_demo.py", "One run need not land on those")
    assert "in expectation" in markdown_section("transpose_demo.py", "Why more stamps mean more spread")
    assert f"{four:.2f}" not in text and "scatter around 2 and 1.41" in text
    assert f"its three averages lie within {resized_range:.0%} of each other" in transpose_run.printed
    assert_real_picture(figure(transpose_run, "generators.png"))


def test_checkerboard_ratios(transpose_run):
    demo = transpose_run.globals
    k3, k4, resize = demo["checkerboard_ratios"].values()
    assert k3 == pytest.approx(4)
    assert k4 == pytest.approx(1)
    assert resize == pytest.approx(1)
    outputs, edge = demo["checkerboard_outputs"], demo["EDGE"]
    inner = demo["interior"](outputs["Conv2DTranspose k=3, s=2"])
    assert inner.shape == (2 * demo["CONSTANT_SIZE"] - 2 * edge,) * 2
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
    results = one_line((ROOT / "docs" / "results.md").read_text())
    assert "No decoder leaves a checkerboard after training" in results
    # The gap it quotes is the largest of the two Conv2DTranspose decoders' in docs/results.md.
    assert "within 0.13 dB of the best decoder" in text
    assert "Conv2DTranspose k4 is 0.09 dB behind" in results and "k3 0.13 dB" in results


@pytest.mark.parametrize(("script", "primitives", "calls"), [
    ("upsampling_demo.py", {"save_figure", "draw_array", "draw_image"},
     {"smoothing_figure": "## 4.", "generator_figure": "## 5.", "interpolations_figure": "## 6."}),
    ("transpose_demo.py", {"save_figure", "draw_array", "outline_cells"},
     {"unit_kernel_figure": "## 1.", "stamps_figure": "## 2.", "generators_figure": "## 3.",
      "checkerboard_figure": "## 4."}),
])
def test_each_figure_shows_at_the_end_of_its_section(script, primitives, calls):
    """The helpers cell right after the configuration holds only the drawing primitives; each figure's
    function is defined, then called, in one cell: the last cell of the section that teaches what it
    draws, so no figure's code comes before its lesson."""
    source = (ROOT / script).read_text()
    cells = [cell.strip() for cell in re.split(r"^# %%.*$", source, flags=re.MULTILINE)]
    configuration = cells.index(configuration_cell(script).strip())
    assert cells[configuration + 1].startswith("# ## Drawing helpers")
    helpers = ast.parse(cells[configuration + 2]).body
    assert {node.name for node in helpers if isinstance(node, ast.FunctionDef)} == primitives
    # Every figure-drawing function in the script is one of those below (save_figure is a primitive).
    defined = set(re.findall(r"^def (\w+_figure)\(", source, flags=re.MULTILINE)) - {"save_figure"}
    assert defined == set(calls)
    headings = [i for i, cell in enumerate(cells) if cell.startswith("# ## ")]
    for call, section in calls.items():
        at = [i for i, cell in enumerate(cells) if re.search(rf"^def {call}\(", cell, flags=re.MULTILINE)]
        assert len(at) == 1, call
        body = ast.parse(cells[at[0]]).body
        assert len(body) == 2, call  # The function, then the one call that draws it.
        assert isinstance(body[0], ast.FunctionDef) and body[0].name == call
        assert isinstance(body[1], ast.Expr) and isinstance(body[1].value, ast.Call)
        assert isinstance(body[1].value.func, ast.Name) and body[1].value.func.id == call
        assert len(re.findall(rf"^{call}\(", source, flags=re.MULTILINE)) == 1, f"{call} is called elsewhere"
        opened = max(i for i in headings if i < at[0])
        assert cells[opened].startswith(f"# {section}"), (call, cells[opened][:40])
        assert at[0] + 1 in headings, f"{call} is not the last cell of its section"


# ------------------------------------------------------------------------- both


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


@pytest.mark.parametrize(("script", "constants"), [
    ("upsampling_demo.py", ["SEED", "LATENT_DIM", "INPUT", "SHOW", "OUTPUT_DIR"]),
    ("transpose_demo.py", ["SEED", "LATENT_DIM", "INPUT", "CONSTANT_SIZE", "SPREAD_SAMPLES", "SHOW",
                           "OUTPUT_DIR"]),
])
def test_the_constants_are_plain_assignments_in_one_cell(script, constants, runs):
    cell = configuration_cell(script)
    assigned = re.findall(r"^([A-Z_]+) = ", cell, flags=re.MULTILINE)
    assert assigned == constants
    # Assigned nowhere else, so that a cell added after this one changes them for the whole run.
    source = (ROOT / script).read_text()
    for name in constants:
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

"""
Title: Conv2DTranspose, step by step, and its checkerboard artifacts
Description: What Keras' Conv2DTranspose layer does to a tiny image. With strides=(2, 2) it spreads
each input pixel over the output through a kernel it learns. The first examples are
MachineLearningMastery's ("How to use the UpSampling2D and Conv2DTranspose Layers in Keras", 2019),
checked number by number; the last ones show why a kernel that the stride does not divide draws a
checkerboard (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts", Distill, 2016).
Accelerator: None (seconds on a CPU; no data, no training)

Run it as a program, from the folder where its pictures should go:

    python transpose_demo.py

It prints each example's arrays and writes unit_kernel.png, stamps.png, generators.png and
checkerboard.png to outputs/transpose_demo/ under that folder. Or run it cell by cell as a notebook
(`jupytext --to ipynb transpose_demo.py`, or VS Code's "Run Cell"): it needs only Keras, NumPy and
Matplotlib, so the notebook alone also runs in Colab.
"""

# %% [markdown]
# ## Setup

# %%
import logging
import os
import sys
import tempfile

# Keras 3 runs on TensorFlow (the default), JAX or PyTorch. To pick another, set KERAS_BACKEND
# before Keras is imported: uncomment the next line, or run `KERAS_BACKEND=jax python <script>`.
# os.environ["KERAS_BACKEND"] = "jax"

# On TensorFlow, its C++ core prints notices while it starts: level 2 hides its info and warning
# lines and keeps its errors. A few lines may still print before the level takes hold (on a machine
# without a GPU: that CUDA was not found), and, when the first model is built, `E0000 ... failed
# call to cuInit ...`: its E marks an error, but on a CPU it is harmless. Set this before Keras
# loads TensorFlow, or it has no effect.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from keras import layers
from matplotlib.patches import Rectangle

# Several tiny models below each call predict once. TensorFlow takes that for needless retracing (the
# same work redone again and again) and warns; it is harmless here, so that one warning is dropped.
logging.getLogger("tensorflow").addFilter(lambda record: "tf.function retracing" not in record.getMessage())

# %% [markdown]
# ## Configuration
#
# The constants the code below reads. To change one, edit it here: the script takes no
# command-line flags. `OUTPUT_DIR` is relative to the folder you run from (in a notebook, the
# notebook's folder).

# %%
# Draws the generators' weights (TensorFlow, JAX and PyTorch each draw different weights from it) and
# their random inputs.
SEED = 1
# A generator, the image-making half of a GAN (generative adversarial network), turns a random
# vector into an image (section 3). This is that vector's length, as in the post.
LATENT_DIM = 100
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # The post's image; keep it 2x2, as the examples are.
CONSTANT_SIZE = 6  # Side of the all-ones image of the checkerboard experiment.
SPREAD_SAMPLES = 256  # Random inputs that show how much each generator pixel varies.
SHOW = False  # Run as a program: also open each figure in a window (a notebook shows them anyway).
OUTPUT_DIR = "outputs/transpose_demo"  # Where the figures go.

# %% [markdown]
# ## Drawing helpers
#
# Drawing code, not the lesson: skip it. Only the pieces the pictures are made of are here:
# `save_figure` saves a figure as a PNG in `OUTPUT_DIR` and, in a notebook, shows it under the cell
# that drew it; `draw_array` draws a small array with its values written in, `outline_cells` boxes
# some of its cells, and `PIXEL_COLOURS` gives each input pixel its colour. Each section with a
# picture ends with one cell that defines the function drawing that picture, then calls it, once the
# section has shown what the picture draws.

# %%
IN_NOTEBOOK = "ipykernel" in sys.modules  # Jupyter, Colab and VS Code run cells in an IPython kernel.
if not (SHOW or IN_NOTEBOOK):
    matplotlib.use("Agg")  # Off-screen: no window opens, and no display is needed.

# One colour per input pixel (they repeat past nine pixels).
PIXEL_COLOURS = ("tab:orange", "tab:cyan", "tab:green", "tab:red", "tab:purple", "tab:olive", "tab:pink",
                 "tab:blue", "tab:brown")


def save_figure(fig, name):
    """Save `fig` as OUTPUT_DIR/name, show it (in a notebook, or in a window with SHOW), close it."""
    os.makedirs(OUTPUT_DIR, exist_ok=True)
    path = os.path.join(OUTPUT_DIR, name)
    # Written in a temporary folder beside it, then moved into place: a run that stops half-way
    # never leaves half a PNG under the figure's name (and an error removes the temporary folder).
    with tempfile.TemporaryDirectory(dir=OUTPUT_DIR) as scratch:
        partial = os.path.join(scratch, name)
        fig.savefig(partial, dpi=120, bbox_inches="tight")
        os.replace(partial, path)
    print(f"saved {path}")
    if IN_NOTEBOOK:
        # The saved PNG under the cell: it shows whatever matplotlib backend the kernel started with
        # (plt.show() shows nothing where MPLBACKEND=Agg). A notebook's kernel always has IPython.
        from IPython.display import Image, display

        display(Image(filename=path))
    elif SHOW:
        plt.show()
    plt.close(fig)
    return path


def draw_array(ax, array, title, fmt="{:g}"):
    """A small array as grey cells, each with its value written in it."""
    ax.imshow(array, cmap="gray", interpolation="nearest")
    middle = (array.min() + array.max()) / 2
    fontsize = max(5, 12 - array.shape[1] // 2)  # Smaller numbers in wider arrays.
    for (row, col), value in np.ndenumerate(array):
        ax.text(col, row, fmt.format(round(float(value), 2)), ha="center", va="center", fontsize=fontsize,
                color="black" if value > middle else "white")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def outline_cells(ax, top, left, height=1, width=1, colour="tab:orange", linestyle="-", linewidth=2.5,
                  inset=0.0):
    """A box around cells [top, top + height) x [left, left + width) of a `draw_array` picture.
    `inset` (in cells) pulls it inwards, so the boxes of neighbouring cells don't overlap."""
    ax.add_patch(Rectangle((left - 0.5 + inset, top - 0.5 + inset), width - 2 * inset, height - 2 * inset,
                           fill=False, edgecolor=colour, linestyle=linestyle, linewidth=linewidth,
                           clip_on=False))  # Not clipped: a box on the array's edge is drawn whole.


# %% [markdown]
# ## 1. A 1x1 kernel with stride 2: each pixel lands 2 apart, zeros fill the gaps
#
# The image goes in as a batch of one image with one channel, shape (1, 2, 2, 1). The model is a
# single Conv2DTranspose layer: 1 filter, a 1x1 kernel, stride 2. Its kernel would start random
# (and its bias at 0); setting the one kernel weight to 1 and the bias to 0 makes each value pass
# through unchanged,
# so the output shows only where each pixel lands. The output comes back as (1, 4, 4, 1);
# dropping the batch and channel axes gives the 4x4 image.
#
# The post gives the layer the input's shape itself, with `input_shape=`. Keras 3 wants a
# `keras.Input(shape=...)` first in the model instead; the old argument still works, but warns.
# That is the main difference from the post's models, here and in the examples below (its
# generators also take `input_dim=` and are built with `Sequential().add`).

# %%
print("Input:")
print(INPUT)
batch = INPUT.reshape((1, 2, 2, 1))  # One image, 2x2, one channel.

unit_model = keras.Sequential(
    [keras.Input(shape=(2, 2, 1)), layers.Conv2DTranspose(1, (1, 1), strides=(2, 2))]
)
unit_model.summary()

# The kernel's shape is (rows, columns, output channels, input channels); the bias has one value.
unit_model.set_weights([np.ones((1, 1, 1, 1), dtype="float32"), np.zeros(1, dtype="float32")])
upsampled = unit_model.predict(batch, verbose=0)  # verbose=0: no progress bar for one image.
unit_output = upsampled.reshape((4, 4))  # (1, 4, 4, 1) -> (4, 4).
print("Conv2DTranspose(1, (1, 1), strides=(2, 2)) with weight 1 and bias 0:")
print(unit_output)

# %% [markdown]
# What the MachineLearningMastery post prints for this example, and what we get:
#
# - The input: the post's is an integer array, `[[1 2] [3 4]]`; ours is float32,
#   `[[1. 2.] [3. 4.]]`. Same values.
# - The summary: one Conv2DTranspose layer, output shape `(None, 4, 4, 1)`, 2 parameters (the
#   weight and the bias), as in the post.
# - The output, the same in both: `[[1. 0. 2. 0.] [0. 0. 0. 0.] [3. 0. 4. 0.] [0. 0. 0. 0.]]`.
#
# Like UpSampling2D, each input pixel gets a 2x2 block of the output; unlike it, only the block's
# top-left cell gets the pixel (times the weight), and the other three stay 0 (plus the bias).

# %% [markdown]
# The post explains this output in two steps, both easy to check. With stride 1 the same layer
# gives the image back unchanged. Stride 2 is as if each pixel were followed by a column and a row
# of zeros, which the 1x1 kernel then reads as they are.

# %%
stride_1_model = keras.Sequential(
    [keras.Input(shape=(2, 2, 1)), layers.Conv2DTranspose(1, (1, 1), strides=(1, 1))]
)
stride_1_model.set_weights([np.ones((1, 1, 1, 1), dtype="float32"), np.zeros(1, dtype="float32")])
stride_1_output = stride_1_model.predict(batch, verbose=0).reshape((2, 2))
print("Stride 1:")
print(stride_1_output)

spaced_out = np.zeros((4, 4), dtype="float32")
spaced_out[::2, ::2] = INPUT  # Each pixel at (2*row, 2*col), zeros in between.
print("The input with zeros in between:")
print(spaced_out)
print("The same as the stride-2 output:", np.array_equal(spaced_out, unit_output))

# %% [markdown]
# The post draws both as arrays: stride 1 gives `1, 2 / 3, 4`, and the zeros go in as
# `1, 0, 2, 0 / 0, 0, 0, 0 / 3, 0, 4, 0 / 0, 0, 0, 0`, which is also the stride-2 output above.
# The picture (`unit_kernel.png`) outlines where each pixel lands and the 2x2 block it gets.

# %%
def unit_kernel_figure(image, output):
    """The input and the 4x4 output, each pixel outlined where it lands and around its 2x2 block."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.9), gridspec_kw={"width_ratios": [1, 2]})
    draw_array(left, image, f"input {image.shape[0]}x{image.shape[1]}")
    draw_array(right, output, f"output {output.shape[0]}x{output.shape[1]}")
    for i, ((row, col), _) in enumerate(np.ndenumerate(image)):
        colour = PIXEL_COLOURS[i % len(PIXEL_COLOURS)]
        outline_cells(left, row, col, colour=colour, inset=0.04)
        outline_cells(right, 2 * row, 2 * col, colour=colour, inset=0.08)  # Where the pixel lands,
        outline_cells(right, 2 * row, 2 * col, 2, 2, colour=colour, linestyle="--", linewidth=1.5,
                      inset=0.03)  # and its block.
    fig.suptitle("Conv2DTranspose(1, (1, 1), strides=(2, 2)), weight 1, bias 0:\n"
                 "pixel (row, col) lands at (2*row, 2*col); the rest of its 2x2 block stays 0", fontsize=11)
    fig.tight_layout()
    save_figure(fig, "unit_kernel.png")


unit_kernel_figure(INPUT, unit_output)

# %% [markdown]
# ## 2. A 3x3 kernel: the pixels' footprints overlap, and padding sets the size
#
# With a bigger kernel, each input pixel stamps a copy of the kernel, scaled by the pixel's value,
# with its top-left corner at (row * s, col * s); where stamps overlap, they add up. For an input
# of n pixels across, kernel size k and stride s, the output is
#
# - `(n - 1) * s + max(k, s)` with `padding="valid"`: every stamp kept whole. When the kernel is
#   at least as big as the stride this is `(n - 1) * s + k`; when it is smaller (example 1: k = 1,
#   s = 2) the gap after the last pixel is kept too, so 2x2 becomes 4x4, not 3x3;
# - `n * s` with `padding="same"`: trimmed to exactly s times the input.
#
# Section 1's view, zeros in between, still works for a bigger kernel, with two more steps: pad
# k - 1 rows and columns of zeros around the spaced-out image, flip the kernel, and slide it over
# as an ordinary convolution does. For a 1x1 kernel both steps do nothing, so section 1 needed
# neither. The stamps give the same numbers with fewer steps, so the rest of this file uses them.
#
# MachineLearningMastery uses `padding="same"` with a 3x3 kernel to get an output of exactly
# twice the input's size. Here are both paddings, with every kernel weight set to 1 so that the
# numbers are easy to follow.

# %%
ones_kernel = np.ones((3, 3), dtype="float32")
padding_outputs = {}
for padding in ("valid", "same"):
    model = keras.Sequential(
        [keras.Input(shape=(2, 2, 1)), layers.Conv2DTranspose(1, (3, 3), strides=(2, 2), padding=padding)]
    )
    model.set_weights([ones_kernel.reshape((3, 3, 1, 1)), np.zeros(1, dtype="float32")])
    upsampled = model.predict(batch, verbose=0)  # (1, 5, 5, 1) or (1, 4, 4, 1)
    padding_outputs[padding] = upsampled[0, :, :, 0]  # Drop the batch and channel axes.
    print(f'Conv2DTranspose(1, (3, 3), strides=(2, 2), padding="{padding}"), all-ones kernel:')
    print(padding_outputs[padding])

# %% [markdown]
# The post shows only the layer for this one. The output sizes follow the rule: "valid" gives
# (2 - 1) * 2 + 3 = 5, "same" gives 2 * 2 = 4. Each number adds up the stamps over that pixel:
# the centre, 10, is where all four pixels' stamps meet (1 + 2 + 3 + 4).
#
# Where "same" cuts: it keeps n * s of the "valid" output's rows and columns and cuts the other
# k - s (none when k is at most s): half of k - s, rounded down, from the top and left
# (`(k - s) // 2`), the rest from the bottom
# and right. For k = 3 and s = 2 that is 0 at the top and left and 1 at the bottom and right, so
# here "same" keeps the first 4 rows and columns: the printed 4x4 is the 5x5 "valid" output
# without its last row and column.
#
# The functions below do the same by hand, stamp by stamp, to check the layer against.

# %%
def output_size(n, kernel_size, strides, padding):
    """The side of Conv2DTranspose's output, for an input side n."""
    if padding == "valid":
        return (n - 1) * strides + max(kernel_size, strides)
    return n * strides


def same_crop(kernel_size, strides):
    """Rows (or columns) that padding="same" cuts off the start of the "valid" output; the rest
    come off the end."""
    return max(kernel_size - strides, 0) // 2


def stamps(image, kernel, strides, padding):
    """Conv2DTranspose by hand: one canvas per input pixel, keyed by (row, col), holding the kernel
    times the pixel's value with its top-left corner at (row * s, col * s). The canvases add up to
    the layer's output. With padding="same" each is the "valid" canvas cut to n * s."""
    kernel = np.asarray(kernel, dtype="float32")
    s = strides
    (n_rows, n_cols), (k_rows, k_cols) = image.shape, kernel.shape
    whole = (output_size(n_rows, k_rows, s, "valid"), output_size(n_cols, k_cols, s, "valid"))
    size = (output_size(n_rows, k_rows, s, padding), output_size(n_cols, k_cols, s, padding))
    top, left = (same_crop(k_rows, s), same_crop(k_cols, s)) if padding == "same" else (0, 0)
    canvases = {}
    for (row, col), value in np.ndenumerate(image):
        canvas = np.zeros(whole, dtype="float32")
        canvas[row * s : row * s + k_rows, col * s : col * s + k_cols] = value * kernel
        canvases[row, col] = canvas[top : top + size[0], left : left + size[1]]
    return canvases


stamped = {padding: stamps(INPUT, ones_kernel, 2, padding) for padding in ("valid", "same")}
for padding, canvases in stamped.items():
    by_hand = sum(canvases.values())
    print(f'padding="{padding}": {by_hand.shape[0]}x{by_hand.shape[1]} '
          f"(the rule: {output_size(2, 3, 2, padding)}); the {len(canvases)} stamps add up to the layer's "
          f"output: {np.array_equal(by_hand, padding_outputs[padding])}")

# %% [markdown]
# The picture (`stamps.png`) draws each pixel's stamp and their sum, for both paddings.

# %%
def stamps_figure(image, outputs, stamped, k=3, s=2):
    """One row per padding: each input pixel's stamp, then their sum (the layer's output)."""
    n = image.shape[0]
    fig, axes = plt.subplots(2, image.size + 1, figsize=(2.6 * (image.size + 1), 6.6))
    for ax_row, padding in zip(axes, ("valid", "same"), strict=True):
        start = same_crop(k, s) if padding == "same" else 0
        size = output_size(n, k, s, padding)
        for i, (ax, ((row, col), canvas)) in enumerate(zip(ax_row, stamped[padding].items(), strict=False)):
            top, left = row * s - start, col * s - start  # The stamp's corner on this canvas.
            cut = [edge for edge, off in (("top", top < 0), ("bottom", top + k > size),
                                          ("left", left < 0), ("right", left + k > size)) if off]
            title = f"{image[row, col]:g} x kernel at ({top}, {left})"
            draw_array(ax, canvas, title + (f"\n{' and '.join(cut)} edge cut off" if cut else "\n"))
            bottom, right = min(top + k, size), min(left + k, size)
            top, left = max(top, 0), max(left, 0)
            colour = PIXEL_COLOURS[i % len(PIXEL_COLOURS)]
            outline_cells(ax, top, left, bottom - top, right - left, colour=colour)
            ax.text(1.12, 0.5, "=" if i == image.size - 1 else "+", transform=ax.transAxes, ha="center",
                    va="center", fontsize=18)
        total = outputs[padding]
        draw_array(ax_row[-1], total, f"sum = the layer's output\n{total.shape[0]}x{total.shape[1]}")
        rule = (f"(n-1)*s + max(k, s)\n= ({n}-1)*{s} + {max(k, s)}" if padding == "valid"
                else f"n*s\n= {n}*{s}")
        ax_row[0].set_ylabel(f'padding="{padding}"\nsize {rule} = {size}', fontsize=11, rotation=0,
                             ha="right", va="center", labelpad=12)
    shown_input = "[" + ", ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in image) + "]"
    fig.suptitle(f"Conv2DTranspose(1, (3, 3), strides=(2, 2)) on {shown_input}, all-ones "
                 f"kernel (n = {n} input, k = {k} kernel, s = {s} stride)\n"
                 f"Each pixel stamps the kernel times its value, {s} cells from its neighbour's stamp, "
                 f"and overlapping stamps add up.\n"
                 f'"valid" keeps every stamp whole; "same" keeps n*s = {n * s} rows and columns, cutting '
                 f"(k-s)//2 = {same_crop(k, s)} at the top and left and the rest at the bottom and right.",
                 fontsize=12)
    fig.tight_layout()
    save_figure(fig, "stamps.png")


stamps_figure(INPUT, padding_outputs, stamped)

# %% [markdown]
# ## 3. The tiny generator again, with Conv2DTranspose doing the upsampling, and where its pixels vary
#
# First, upsampling_demo.py's generator, copied here so that this file runs alone: Dense ->
# Reshape to 128 maps of 5x5 -> UpSampling2D, which doubles 5x5 to 10x10 for free -> Conv2D,
# which learns what to draw.

# %%
def build_upsampling_generator():
    return keras.Sequential(
        [
            keras.Input(shape=(LATENT_DIM,)),
            layers.Dense(128 * 5 * 5),
            layers.Reshape((5, 5, 128)),
            layers.UpSampling2D(),
            layers.Conv2D(1, (3, 3), padding="same"),
        ],
        name="upsampling_generator",
    )


# %% [markdown]
# MachineLearningMastery's second generator replaces UpSampling2D + Conv2D with one learned
# layer, a Conv2DTranspose with stride 2. A 3x3 kernel with `padding="valid"` would grow 5x5 to
# (5 - 1) * 2 + 3 = 11x11; `padding="same"` gives exactly 10x10.

# %%
def build_transpose_generator():
    return keras.Sequential(
        [
            keras.Input(shape=(LATENT_DIM,)),
            layers.Dense(128 * 5 * 5),
            layers.Reshape((5, 5, 128)),
            layers.Conv2DTranspose(1, (3, 3), strides=(2, 2), padding="same"),
        ],
        name="transpose_generator",
    )


keras.utils.set_random_seed(SEED)
transpose_generator = build_transpose_generator()
transpose_generator.summary()
print(f"The UpSampling2D + Conv2D generator: {build_upsampling_generator().count_params():,} parameters")
print("5x5 through a 3x3 kernel with stride 2: "
      f'{output_size(5, 3, 2, "valid")}x{output_size(5, 3, 2, "valid")} with "valid", '
      f'{output_size(5, 3, 2, "same")}x{output_size(5, 3, 2, "same")} with "same"')

# %% [markdown]
# The post's summary and ours list the same shapes and parameter counts:
#
# | layer | output shape | parameters |
# | --- | --- | --- |
# | Dense | (None, 3200) | 323,200 = 100 x 3,200 weights + 3,200 biases |
# | Reshape | (None, 5, 5, 128) | 0 |
# | Conv2DTranspose | (None, 10, 10, 1) | 1,153 = 3 x 3 x 128 weights + 1 bias |
#
# 324,353 parameters in all: the same as the UpSampling2D + Conv2D generator, whose Conv2D has
# the same 3 x 3 x 128 weights and one bias (printed below).

# %% [markdown]
# Side by side, untrained, from the same seed: one output of each is just noise, but over many
# random inputs the transposed convolution's pixels vary more where more kernel stamps overlap,
# a checkerboard before any training. The stamps of an all-ones image through an all-ones kernel
# count how many cover each pixel.

# %%
def footprint_count(image_shape, kernel_size=3, strides=2, padding="same"):
    """How many kernel stamps cover each output pixel: the stamps of an all-ones image through an
    all-ones kernel, added up."""
    ones_kernel = np.ones((kernel_size, kernel_size), dtype="float32")
    return sum(stamps(np.ones(image_shape, dtype="float32"), ones_kernel, strides, padding).values())


# Rows and columns left out at each border. There the kernel reaches past the image into zeros: a
# stamp that an input pixel beyond the edge would give is missing, and the Conv2D after UpSampling2D
# reads its zero padding. With stride 2 and the kernels of this file (3 here, 3 and 4 in section
# 4), that touches only the outermost row or column, so 1 is enough (a bigger kernel would need more).
EDGE = 1


def interior(output):
    """`output` without its EDGE outermost rows and columns."""
    return output[EDGE:-EDGE, EDGE:-EDGE]


def spread_by_footprints(spread, counts):
    """Per-pixel standard deviations, averaged over the pixels that each number of stamps covers,
    most stamps first, border left out (`interior`)."""
    spread, counts = interior(spread), interior(counts)
    return {int(c): float(spread[counts == c].mean()) for c in sorted(np.unique(counts), reverse=True)}


# Both generators from the same seed, fed SPREAD_SAMPLES random vectors: the first one's output
# is the picture, and all of them show how much each pixel varies.
latents = np.random.default_rng(SEED).normal(size=(SPREAD_SAMPLES, LATENT_DIM)).astype("float32")
stamp_counts = footprint_count((5, 5))  # Over the 10x10 output of a 5x5 input.
builders = {"Conv2DTranspose": build_transpose_generator, "UpSampling2D + Conv2D": build_upsampling_generator}
generators, generator_images, spread_maps = {}, {}, {}
for name, build in builders.items():
    keras.utils.set_random_seed(SEED)  # The same Dense weights in both.
    generators[name] = build()
    outputs = generators[name].predict(latents, verbose=0)[:, :, :, 0]  # (SPREAD_SAMPLES, 10, 10)
    generator_images[name], spread_maps[name] = outputs[0], outputs.std(axis=0)
spreads = {name: spread_by_footprints(spread, stamp_counts) for name, spread in spread_maps.items()}

print("Stamps over each pixel of the 10x10 output:")
print(stamp_counts.astype(int))
print(f"Each output pixel's standard deviation over {SPREAD_SAMPLES} random inputs, averaged by how many")
print("Conv2DTranspose kernel stamps cover the pixel (border left out):")
headers = [f"{c} stamp{'s' if c > 1 else ''}" for c in spreads["Conv2DTranspose"]]
print(f"  {'':24}" + "".join(f"{header:>10}" for header in headers))
for name, by_count in spreads.items():
    print(f"  {name:24}" + "".join(f"{value:10.3f}" for value in by_count.values()))

transposed, resized = spreads["Conv2DTranspose"], spreads["UpSampling2D + Conv2D"]
spread_ratio = transposed[4] / transposed[1]  # 4 stamps against 1: sqrt(4) = 2 in expectation.
spread_ratio_2 = transposed[2] / transposed[1]  # 2 stamps against 1: sqrt(2) = 1.41 in expectation.
resized_range = max(resized.values()) / min(resized.values()) - 1  # How far apart its 3 averages are.
print(f"Conv2DTranspose: pixels under 4 stamps vary {spread_ratio:.2f}x as much as under 1 (sqrt(4) = 2),")
print(f"  pixels under 2 stamps {spread_ratio_2:.2f}x as much (sqrt(2) = 1.41): sqrt(c) is what to expect,")
print(f"  and this run's random weights (SEED = {SEED}, {keras.backend.backend()} backend) give "
      f"{spread_ratio:.2f} and {spread_ratio_2:.2f}")
print(f"UpSampling2D + Conv2D: its three averages lie within {resized_range:.0%} of each other")

# %% [markdown]
# Why more stamps mean more spread: each stamp over a pixel adds its own random contribution (a
# different feature-map pixel times a different part of the kernel), roughly independent of the
# others and of about the same size. The variances of independent contributions add up, so a pixel
# under c stamps has about c times the variance of a pixel under one stamp, and about sqrt(c) times
# its standard deviation, in expectation: 2x for 4 stamps against 1, 1.41x for 2.
#
# One run need not land on those: the lines printed just above give this run's ratios (with
# SEED = 1 on TensorFlow, a little above both). Each group of pixels reads its own kernel
# positions: under 1 stamp, the kernel's centre; under 4, its four corners; under 2, the middle
# cells of two opposite edges. The random weights at those positions differ in size, so the ratios
# scatter around 2 and 1.41 from one seed (or backend) to the next.
#
# UpSampling2D + Conv2D has no 1-2-4 count: every output pixel reads a whole 3x3 window of the
# upsampled maps. So its spread stays about the same over the three groups of pixels, with no 1-2-4
# pattern: with SEED = 1 on TensorFlow, its three averages lie within about 10% of each other (the
# last line printed; JAX and PyTorch draw other weights, so other numbers). The picture
# (`generators.png`) shows one output of each generator and how much each of its pixels varies.

# %%
def generators_figure(images, spread_maps, spreads):
    """Top: one output of each untrained generator. Bottom: how much each pixel varies."""
    upsamplers = {"Conv2DTranspose": "Conv2DTranspose(1, 3, strides=2)",
                  "UpSampling2D + Conv2D": "UpSampling2D() + Conv2D(1, 3)"}
    fig, axes = plt.subplots(2, 2, figsize=(10, 11), layout="constrained")
    for (top, bottom), name in zip(axes.T, images, strict=True):
        draw_array(top, images[name], f"{upsamplers[name]}\none random input: the 10x10 output", fmt="{:.2f}")
        ratio = spreads[name][4] / spreads[name][1]
        # The groups are Conv2DTranspose's stamp counts, for both: UpSampling2D + Conv2D has no stamps.
        groups = ("pixels under 4 stamps" if name == "Conv2DTranspose"
                  else "pixels Conv2DTranspose covers 4 times")
        draw_array(bottom, spread_maps[name],
                   f"{upsamplers[name]}\nstandard deviation of each pixel over {SPREAD_SAMPLES} "
                   f"inputs\n{groups} vary {ratio:.2f}x as much as under 1", fmt="{:.2f}")
    transposed, resized = spreads["Conv2DTranspose"], spreads["UpSampling2D + Conv2D"]
    ratio = transposed[4] / transposed[1]  # 4 stamps against 1: sqrt(4) = 2 in expectation.
    resized_range = max(resized.values()) / min(resized.values()) - 1  # How far apart its 3 averages are.
    fig.suptitle("Two untrained generators, Dense -> Reshape 5x5 -> upsampling, from the same seed\n"
                 "Conv2DTranspose's k=3, s=2 stamps cover each pixel 4, 2 or 1 times, each adding its own\n"
                 f"random part: under 4 a pixel varies {ratio:.2f}x as much as under 1\n"
                 "(sqrt(4) = 2 expected; the random weights behind the stamps scatter it).\n"
                 f"UpSampling2D + Conv2D has no such count: its spread stays within {resized_range:.0%}, "
                 "with no 1-2-4 pattern.", fontsize=12)
    save_figure(fig, "generators.png")


generators_figure(generator_images, spread_maps, spreads)

# %% [markdown]
# ## 4. Checkerboard artifacts
#
# Feed an all-ones image through upsampling layers whose kernels are all ones. A perfect
# upsampler would give a flat result. Kernel 3 with stride 2 does not: output pixels are covered
# by 1, 2 or 4 kernel stamps in turn, so even a flat input comes out as a checkerboard. Kernel 4
# (which the stride divides) covers every interior pixel equally, and so does resize-convolution
# (UpSampling2D followed by Conv2D). The border (`EDGE`, defined above) is left out of the
# ratios: there the kernel reaches past the image into zeros.
#
# Three models, so the steps of the examples above go into three functions: `transpose_model` and
# `resize_convolution_model` build the two kinds of model with fixed kernels, and `upsample` runs an
# image through either.

# %%
def transpose_model(image_shape, kernel_size, strides=(2, 2), padding="valid", kernel=1.0):
    """One Conv2DTranspose layer with a fixed kernel (a number fills it, an array gives every
    weight) and zero bias, so that its output can be worked out by hand."""
    layer = layers.Conv2DTranspose(1, kernel_size, strides=strides, padding=padding)
    model = keras.Sequential([keras.Input(shape=(*image_shape, 1)), layer])
    rows, cols = layer.kernel.shape[:2]  # Then output channels, input channels: 1 and 1.
    weights = np.broadcast_to(np.asarray(kernel, dtype="float32"), (rows, cols)).reshape((rows, cols, 1, 1))
    layer.set_weights([weights, np.zeros(1, dtype="float32")])
    return model


def upsample(model, image):
    """One (rows, columns) image through `model`: made a batch of one, predicted, the batch and
    channel axes dropped again."""
    batch = image.reshape((1, *image.shape, 1))
    return model.predict(batch, verbose=0)[0, :, :, 0]


def resize_convolution_model(image_shape, kernel_size=3):
    """UpSampling2D, then a Conv2D with an all-ones kernel and zero bias."""
    conv = layers.Conv2D(1, kernel_size, padding="same")
    model = keras.Sequential([keras.Input(shape=(*image_shape, 1)), layers.UpSampling2D(), conv])
    conv.set_weights([np.ones((kernel_size, kernel_size, 1, 1), "float32"), np.zeros(1, "float32")])
    return model


ones_image = np.ones((CONSTANT_SIZE, CONSTANT_SIZE), dtype="float32")
checkerboard_models = {
    "Conv2DTranspose k=3, s=2": transpose_model(ones_image.shape, 3, padding="same"),
    "Conv2DTranspose k=4, s=2": transpose_model(ones_image.shape, 4, padding="same"),
    "UpSampling2D + Conv2D k=3": resize_convolution_model(ones_image.shape),
}
checkerboard_outputs = {name: upsample(model, ones_image) for name, model in checkerboard_models.items()}
checkerboard_ratios = {name: float(interior(output).max() / interior(output).min())
                       for name, output in checkerboard_outputs.items()}
print("Checkerboard test: all-ones input, all-ones kernels, interior max/min")
for name, ratio in checkerboard_ratios.items():
    print(f"  {name:28} {ratio:g}")
print("Interior of k=3, s=2 (the 1-2-4 pattern):")
print(interior(checkerboard_outputs["Conv2DTranspose k=3, s=2"]))

# %%
def checkerboard_figure(outputs, ratios):
    fig, axes = plt.subplots(1, len(outputs), figsize=(15, 5.4))
    for ax, (name, output) in zip(axes, outputs.items(), strict=True):
        draw_array(ax, output, f"{name}\ninterior max/min = {ratios[name]:g}")
    fig.suptitle(f"An all-ones {CONSTANT_SIZE}x{CONSTANT_SIZE} image through all-ones kernels: "
                 "only k=3, s=2 makes a checkerboard")
    save_figure(fig, "checkerboard.png")


checkerboard_figure(checkerboard_outputs, checkerboard_ratios)

# %% [markdown]
# ## 5. When to prefer which
#
# Kernel 3 with stride 2 is the common choice: it is the posts' generator, and keras.io's
# denoising autoencoder decodes with `Conv2DTranspose(32, (3, 3), strides=2, padding="same")`. Its
# stamps overlap unevenly: in the checkerboard test above, a flat input comes out 4 times brighter
# in some pixels than in others (ratio 4). Training can learn the checkerboard away:
# compare_decoders.py finds no measurable checkerboard in its trained MNIST denoisers, kernel 3
# included, and scores Conv2DTranspose with kernel 3 or 4 within 0.13 dB of the best decoder,
# UpSampling2D (nearest) + Conv2D (docs/results.md, on 2,000 test digits). Distill's article shows the
# checkerboard surviving training in generated images, which this project does not measure.
#
# MachineLearningMastery calls Conv2DTranspose the preferred layer, perhaps for simpler generators
# and better results, without measuring either. MachineCurve's Conv2DTranspose autoencoder reaches
# a lower loss than its UpSampling2D one (about 0.05 against 0.11): rebuilt and retrained here, the
# gap comes from how much each model compresses, not from the upsampling
# (benchmarks/machinecurve_autoencoders.py, docs/results.md).
#
# So if you want Conv2DTranspose, a kernel that the stride divides (k=4, s=2: ratio 1) makes the
# stamps overlap evenly; its weights can still differ from one group of pixels to the next, so
# Distill finds that it helps but does not rule artifacts out. UpSampling2D + Conv2D (ratio 1)
# covers every pixel evenly whatever its weights: the upsampling itself has nothing to learn, so it
# cannot learn an uneven pattern.

"""
Title: UpSampling2D, step by step
Description: What Keras' UpSampling2D layer does to a tiny image. It has no weights: it repeats
pixels, or interpolates between them. The examples are those of two posts, checked number by number:
MachineLearningMastery's "How to use the UpSampling2D and Conv2DTranspose Layers in Keras" (2019) and
MachineCurve's "UpSampling2D: how to use upsampling with Keras?" (2019).
Accelerator: None (seconds on a CPU; no data, no training)

Run it as a program, from the folder where its pictures should go:

    python upsampling_demo.py

It prints each example's arrays and writes smoothing.png, generator.png and interpolations.png to
outputs/upsampling_demo/ under that folder. Or run it cell by cell as a notebook (`jupytext --to ipynb
upsampling_demo.py`, or VS Code's "Run Cell"): it needs only Keras, NumPy and Matplotlib, so the
notebook alone also runs in Colab.
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
# Draws the weights and the random input of the tiny generator of section 5 (TensorFlow, JAX and
# PyTorch each draw different weights from it).
SEED = 1
LATENT_DIM = 100  # Length of the section 5 generator's random input vector, as in the post.
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # The posts' image; keep it 2x2, as the examples are.
SHOW = False  # Run as a program: also open each figure in a window (a notebook shows them anyway).
OUTPUT_DIR = "outputs/upsampling_demo"  # Where the figures go.

# %% [markdown]
# ## Drawing helpers
#
# Drawing code, not the lesson: skip it. Only the pieces the pictures are made of are here:
# `save_figure` saves a figure as a PNG in `OUTPUT_DIR` and, in a notebook, shows it under the cell
# that drew it; `draw_array` draws a small array with its values written in, `draw_image` a grey
# image. Each section with a picture ends with one cell that defines the function drawing that
# picture, then calls it, once the section has shown what the picture draws.

# %%
IN_NOTEBOOK = "ipykernel" in sys.modules  # Jupyter, Colab and VS Code run cells in an IPython kernel.
if not (SHOW or IN_NOTEBOOK):
    matplotlib.use("Agg")  # Off-screen: no window opens, and no display is needed.


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


def draw_array(ax, array, title):
    """A small array as grey cells, each with its value written in it."""
    ax.imshow(array, cmap="gray", interpolation="nearest")
    middle = (array.min() + array.max()) / 2
    for (row, col), value in np.ndenumerate(array):
        ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=12,
                color="black" if value > middle else "white")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def draw_image(ax, image, title, vmin=0.0, vmax=1.0):
    """A grey image, without axes."""
    ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)


# %% [markdown]
# ## 1. Nearest neighbour: every pixel becomes a 2x2 block
#
# A Keras layer works on a batch of images, each with a channels axis, so the 2x2 image goes in
# as an array of shape (1, 2, 2, 1): one image, 2 rows, 2 columns, 1 channel. The model is the
# `UpSampling2D()` layer alone, which by default doubles the rows and the columns. What comes out
# has the same four axes; dropping the first and the last gives the 4x4 image back.
#
# The post gives the layer the input's shape itself, with `input_shape=`. Keras 3 wants a
# `keras.Input(shape=...)` first in the model instead; the old argument still works, but warns.
# That is the only difference from the post's model, here and in the examples below.

# %%
print("Input:")
print(INPUT)
batch = INPUT.reshape((1, 2, 2, 1))  # One image, 2x2, one channel.

nearest_model = keras.Sequential([keras.Input(shape=(2, 2, 1)), layers.UpSampling2D()])
nearest_model.summary()

upsampled = nearest_model.predict(batch, verbose=0)  # verbose=0: no progress bar for one image.
nearest_output = upsampled.reshape((4, 4))  # (1, 4, 4, 1) -> (4, 4): drop the batch and channel axes.
print("UpSampling2D() output:")
print(nearest_output)

# %% [markdown]
# What the MachineLearningMastery post prints for this example, and what we get:
#
# - The input: the post's is an integer array, so it prints `[[1 2] [3 4]]`; ours is float32, so
#   it prints `[[1. 2.] [3. 4.]]`. Same values.
# - The summary: one UpSampling2D layer, output shape `(None, 4, 4, 1)`, 0 parameters in total,
#   as in the post. Keras 3 draws the table differently and names the layer `up_sampling2d`
#   where the post's older Keras wrote `up_sampling2d_1`.
# - The output, the same in both (the model computes in float32):
#   `[[1. 1. 2. 2.] [1. 1. 2. 2.] [3. 3. 4. 4.] [3. 3. 4. 4.]]`.

# %% [markdown]
# ## 2. `size=(2, 3)`: 2 times the rows, 3 times the columns
#
# `size` gives the factor for the rows first, then for the columns, so each pixel becomes a block
# 2 rows high and 3 columns wide.

# %%
size_2x3_model = keras.Sequential([keras.Input(shape=(2, 2, 1)), layers.UpSampling2D(size=(2, 3))])
upsampled = size_2x3_model.predict(batch, verbose=0)
size_2x3_output = upsampled.reshape((4, 6))  # (1, 4, 6, 1) -> (4, 6).
print("UpSampling2D(size=(2, 3)) output, shape", size_2x3_output.shape)
print(size_2x3_output)

# %% [markdown]
# The post shows only the layer for this one and gives the output's shape, 4x6, which is what
# we get. (Its text calls this doubling the width and tripling the height; Keras reads `size` as
# (rows, columns), so it is the height that doubles and the width that triples, as printed above.)

# %% [markdown]
# ## 3. Bilinear interpolation
#
# `interpolation="bilinear"` blends the neighbouring pixels instead of repeating them. The values
# are not simply 1, 1.5, 2: Keras places each output pixel at its centre, so the 4 output columns
# sit at input positions -0.25, 0.25, 0.75 and 1.25 (half-pixel centres). A position beyond the
# edge is clamped to the edge pixel, which is why the four corners keep the input's values 1, 2, 3
# and 4, and the outer rows and columns blend only the two pixels at their ends.

# %%
bilinear_model = keras.Sequential(
    [keras.Input(shape=(2, 2, 1)), layers.UpSampling2D(interpolation="bilinear")]
)
upsampled = bilinear_model.predict(batch, verbose=0)
bilinear_output = upsampled.reshape((4, 4))
print('UpSampling2D(interpolation="bilinear") output:')
print(bilinear_output)

# %% [markdown]
# The post shows the setting but not its output. By the rule above, the positions -0.25, 0.25,
# 0.75 and 1.25 are clamped to 0, 0.25, 0.75 and 1 (past the edge, the edge pixel repeats), and
# each output pixel takes that share of the step to the next pixel: across the top row, of the step
# from 1 to 2 (1, 1.25, 1.75, 2); down the columns, of the step of 2 from the top row to the bottom
# one. One pixel worked out: row 1, column 1 sits at (0.25, 0.25), so it is 1 + 0.25 x (2 - 1) +
# 0.25 x (3 - 1) = 1.75. TensorFlow, JAX and PyTorch all print the same:
# `[[1. 1.25 1.75 2.] [1.5 1.75 2.25 2.5] [2.5 2.75 3.25 3.5] [3. 3.25 3.75 4.]]`.

# %% [markdown]
# ## 4. Smoothing: 4 pixels become a smooth gradient
#
# MachineCurve's example: the values 0, 0.5, 1 and 1.5 as a 2x2 image, upsampled 32 times in
# each direction with bilinear interpolation, which turns 4 flat squares into 64x64 pixels that
# change gradually (`smoothing.png`, drawn at the end of this section).

# %%
smoothing_input = np.array([[0.0, 0.5], [1.0, 1.5]], dtype="float32")
print("Input:")
print(smoothing_input)

smoothing_model = keras.Sequential(
    [keras.Input(shape=(2, 2, 1)), layers.UpSampling2D(size=(32, 32), interpolation="bilinear")]
)
upsampled = smoothing_model.predict(smoothing_input.reshape((1, 2, 2, 1)), verbose=0)
smoothed = upsampled.reshape((64, 64))
print("Output shape:", smoothed.shape)
print("Smallest and largest value:", smoothed.min(), smoothed.max())
print("Different values:", len(np.unique(smoothed)))
print("Top row, every 8th pixel:", smoothed[0, ::8])

# %% [markdown]
# The MachineCurve post prints only its input, first as the flat list `[0. 0.5 1. 1.5]` and then
# as the 2x2 image `[[0. 0.5] [1. 1.5]]`, the same values as ours; the rest it shows as a
# picture. The facts behind that picture: its model is this one layer (one UpSampling2D with
# size 32, although its text says the layer is used five times), the output is 64x64, and its
# values run from 0 to 1.5 through well over a hundred steps instead of 4. An output pixel whose
# centre lies between the image's edge and a corner pixel's centre, in both directions, is
# clamped to that pixel, so each corner keeps a 16x16 block of its input value.

# %%
def smoothing_figure(original, smoothed):
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4.2))
    draw_array(left, original, "original 2x2")
    draw_image(right, smoothed, f"bilinear, size=32: {smoothed.shape[0]}x{smoothed.shape[1]}",
               vmin=original.min(), vmax=original.max())
    fig.suptitle("UpSampling2D smooths a tiny image into a gradient")
    save_figure(fig, "smoothing.png")


smoothing_figure(smoothing_input, smoothed)

# %% [markdown]
# ## 5. A tiny generator: Dense -> Reshape -> UpSampling2D -> Conv2D
#
# A GAN's (generative adversarial network's) generator grows an image from a random vector. In
# MachineLearningMastery's example, a Dense layer turns 100 random numbers into 128 feature maps
# of 5x5, UpSampling2D doubles them to 10x10 for free, and a Conv2D learns what to draw from them,
# one 10x10 image.

# %%
def build_generator():
    return keras.Sequential(
        [
            keras.Input(shape=(LATENT_DIM,)),
            layers.Dense(128 * 5 * 5),  # 3,200 numbers, enough for 128 maps of 5x5.
            layers.Reshape((5, 5, 128)),
            layers.UpSampling2D(),  # 5x5 -> 10x10, nothing to learn.
            layers.Conv2D(1, (3, 3), padding="same"),  # 128 maps -> the one image.
        ],
        name="upsampling_generator",
    )


keras.utils.set_random_seed(SEED)  # The same weights on every run.
generator = build_generator()
generator.summary()

latent = np.random.default_rng(SEED).normal(size=(1, LATENT_DIM)).astype("float32")
generated = generator.predict(latent, verbose=0)  # (1, 10, 10, 1)
generator_image = generated.reshape((10, 10))
print("Generator output shape:", generator.output_shape)

# %% [markdown]
# The post's summary and ours list the same shapes and parameter counts:
#
# | layer | output shape | parameters |
# | --- | --- | --- |
# | Dense | (None, 3200) | 323,200 = 100 x 3,200 weights + 3,200 biases |
# | Reshape | (None, 5, 5, 128) | 0 |
# | UpSampling2D | (None, 10, 10, 128) | 0 |
# | Conv2D | (None, 10, 10, 1) | 1,153 = 3 x 3 x 128 weights + 1 bias |
#
# 324,353 parameters in all, every one trainable. Untrained, the generator draws noise
# (`generator.png`, below); transpose_demo.py puts it beside one that upsamples with Conv2DTranspose.

# %%
def generator_figure(image):
    fig, ax = plt.subplots(figsize=(3.6, 3.8))
    draw_image(ax, image, f"untrained generator: {image.shape[0]}x{image.shape[1]}",
               vmin=image.min(), vmax=image.max())
    save_figure(fig, "generator.png")


generator_figure(generator_image)

# %% [markdown]
# ## 6. Nearest, bilinear and bicubic on a drawn image
#
# A 28x28 ring, shrunk to 7x7 by averaging 4x4 blocks, then grown back 4 times with each
# interpolation (`interpolations.png`, at the end of this section). "nearest" gives back the 7x7
# blocks; "bilinear" blends them; "bicubic" blends over 4x4 neighbours and can overshoot the
# input's range. In this run it dips below 0, to about -0.07, and stays below the brightest shrunk
# pixel (the printed ranges show both); the figure clips it at 0, so that the grey scale starts at 0.
#
# "bicubic" goes beyond the posts. The backends use slightly different bicubic formulas (PyTorch's
# is sharper), so on KERAS_BACKEND=torch its pixels differ by a few hundredths. Nearest and bilinear
# give the same on all three.

# %%
rows, cols = np.mgrid[:28, :28]
distance = np.hypot(rows - 13.5, cols - 13.5)  # From the image's centre.
# 1 (the brightest) at 8 pixels from the centre, fading to 0 within 2.5 pixels on either side.
ring = np.clip(1 - np.abs(distance - 8) / 2.5, 0, 1).astype("float32")

shrink = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.AveragePooling2D(pool_size=4)])
shrunk_batch = shrink.predict(ring.reshape((1, 28, 28, 1)), verbose=0)  # (1, 7, 7, 1)
shrunk = shrunk_batch.reshape((7, 7))
print(f"Shrunk to {shrunk.shape}: values from {shrunk.min():.3f} to {shrunk.max():.3f}")

grown = {}
for method in ("nearest", "bilinear", "bicubic"):
    grow = keras.Sequential([keras.Input(shape=(7, 7, 1)), layers.UpSampling2D(size=4, interpolation=method)])
    grown[method] = grow.predict(shrunk_batch, verbose=0).reshape((28, 28))
    print(f"{method:>8}: grown to {grown[method].shape}, values from "
          f"{grown[method].min():.3f} to {grown[method].max():.3f}")

# %%
def interpolations_figure(original, shrunk, grown):
    fig, axes = plt.subplots(1, 2 + len(grown), figsize=(12.5, 3.2))
    draw_image(axes[0], original, "original 28x28")
    draw_image(axes[1], shrunk, "shrunk to 7x7")
    for ax, (method, image) in zip(axes[2:], grown.items(), strict=True):
        # Bicubic dips a little below 0 (to about -0.07 in this run): clipped, so that the grey
        # scale starts at 0, as in the other panels.
        draw_image(ax, np.clip(image, 0, None), f'UpSampling2D(4,\n"{method}")')
    fig.suptitle("Three ways to grow a drawn ring back from 7x7 to 28x28")
    save_figure(fig, "interpolations.png")


interpolations_figure(ring, shrunk, grown)

# %% [markdown]
# ## More from the posts
#
# MachineCurve's post goes on to train a small MNIST autoencoder whose decoder upsamples with
# UpSampling2D + Conv2D. `benchmarks/machinecurve_autoencoders.py` retrains it, and the section
# "MachineCurve's autoencoders" of `docs/results.md` compares the post's 1,393-parameter
# UpSampling2D autoencoder with its Conv2DTranspose counterpart, both trained as the posts do.

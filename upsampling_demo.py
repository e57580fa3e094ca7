"""
Title: UpSampling2D, step by step
Description: What Keras' UpSampling2D layer does to a tiny image: it repeats pixels or blends them,
and has no weights. The examples of MachineLearningMastery's "How to use the UpSampling2D and
Conv2DTranspose Layers in Keras" and MachineCurve's "UpSampling2D: how to use upsampling with Keras?"
(both 2019), checked number by number.
Accelerator: None (under a minute on a CPU; no data, no training)

`python upsampling_demo.py` prints each example and writes two figures to outputs/upsampling_demo/.
As a notebook (`jupytext --to ipynb upsampling_demo.py`) it needs only Keras, NumPy and Matplotlib.
"""

# %%
import logging
import os
import sys
import tempfile

# os.environ["KERAS_BACKEND"] = "jax"  # Or "torch"; before Keras is imported. TensorFlow by default.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Quieter; "failed call to cuInit" only means no GPU.

import keras
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

# Each tiny model below predicts once, which TensorFlow needlessly warns about.
logging.getLogger("tensorflow").addFilter(lambda record: "tf.function retracing" not in record.getMessage())

# %%
LATENT_DIM = 100  # Length of the generator's random input, as in MachineLearningMastery's.
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # The posts' 2x2 image.
SHOW = False  # Run as a program: also open each figure in a window.
OUTPUT_DIR = "outputs/upsampling_demo"  # Where the figures go, relative to the folder it runs from.

# %% [markdown]
# ## 1. Nearest neighbour: every pixel becomes a 2x2 block
#
# A Keras layer takes a batch of images with a channels axis, so the 2x2 image goes in with shape
# (1, 2, 2, 1). By default `UpSampling2D()` doubles the rows and the columns.

# %%
print("Input:")
print(INPUT)
batch = INPUT.reshape((1, 2, 2, 1))  # One image, 2 rows, 2 columns, 1 channel.

nearest_model = keras.Sequential([keras.Input(shape=(2, 2, 1)), layers.UpSampling2D()])
nearest_model.summary()
nearest_output = nearest_model.predict(batch, verbose=0).reshape((4, 4))  # Drop batch and channel axes.
print("UpSampling2D() output:")
print(nearest_output)

# %% [markdown]
# MachineLearningMastery's post prints the same array and summary (output shape `(None, 4, 4, 1)`,
# 0 parameters); its input is an integer array, printed as `[[1 2] [3 4]]`. Its first layer takes the
# input's shape (`input_shape=(2, 2, 1)`): Keras 3 wants `keras.Input(shape=...)` first instead, and
# warns about the old argument, which still works.
#
# ## 2. `size=(2, 3)`: 2 times the rows, 3 times the columns

# %%
size_2x3_model = keras.Sequential([keras.Input(shape=(2, 2, 1)), layers.UpSampling2D(size=(2, 3))])
size_2x3_output = size_2x3_model.predict(batch, verbose=0).reshape((4, 6))
print("UpSampling2D(size=(2, 3)) output, shape", size_2x3_output.shape)
print(size_2x3_output)

# %% [markdown]
# MachineLearningMastery gives only the shape, 4x6, and says the width doubles and the height
# triples: `size` is (rows, columns), so it is the other way round.
#
# ## 3. Bilinear interpolation
#
# `interpolation="bilinear"` blends neighbouring pixels instead of repeating them.

# %%
bilinear_model = keras.Sequential([keras.Input(shape=(2, 2, 1)),
                                   layers.UpSampling2D(interpolation="bilinear")])
bilinear_output = bilinear_model.predict(batch, verbose=0).reshape((4, 4))
print('UpSampling2D(interpolation="bilinear") output:')
print(bilinear_output)

# %% [markdown]
# MachineLearningMastery does not print this one. Keras 3 puts output column j at input position
# (j + 0.5)/2 - 0.5, rows likewise: -0.25, 0.25, 0.75 and 1.25. Positions past the edge take the edge
# pixel, so the corners keep 1, 2, 3 and 4; `[1, 1]` sits at (0.25, 0.25): 1 + 0.25 x (2 - 1) +
# 0.25 x (3 - 1) = 1.75. The posts' Keras (2.2, 2.3) put column j at j/2: 1, 1.5, 2, 2 across the top.
#
# ## 4. Smoothing: 4 pixels become a gradient
#
# MachineCurve's example: 0, 0.5, 1 and 1.5 as a 2x2 image, upsampled 32 times each way.

# %%
smoothing_input = np.array([[0.0, 0.5], [1.0, 1.5]], dtype="float32")
print("Input:")
print(smoothing_input)

smoothing_model = keras.Sequential([keras.Input(shape=(2, 2, 1)),
                                    layers.UpSampling2D(size=(32, 32), interpolation="bilinear")])
smoothed = smoothing_model.predict(smoothing_input.reshape((1, 2, 2, 1)), verbose=0).reshape((64, 64))
print("Output shape:", smoothed.shape)
print("Smallest and largest value:", smoothed.min(), smoothed.max())
print("Different values:", len(np.unique(smoothed)))

# %% [markdown]
# MachineCurve prints this input and shows its output only as a picture. Ours (`smoothing.png`, at
# the end) changes in well over a hundred steps, but with size 32 the first and last 16 output pixels
# of each row and column lie past the edge pixels' centres, so each corner is a flat 16x16 block. The
# posts' Keras put output pixel j at input position j/32 instead: a ramp from the top-left pixel,
# flat over the last 32 rows and columns.
#
# ## 5. A tiny generator: Dense -> Reshape -> UpSampling2D -> Conv2D
#
# In MachineLearningMastery's GAN generator, a Dense layer turns 100 random numbers into 128 maps
# of 5x5, UpSampling2D doubles them to 10x10, and a Conv2D learns to draw one 10x10 image from them.

# %%
generator = keras.Sequential([
    keras.Input(shape=(LATENT_DIM,)),
    layers.Dense(128 * 5 * 5),
    layers.Reshape((5, 5, 128)),
    layers.UpSampling2D(),  # 5x5 -> 10x10, nothing to learn.
    layers.Conv2D(1, (3, 3), padding="same"),  # 128 maps -> 1 image.
], name="upsampling_generator")
generator.summary()

# %% [markdown]
# The same shapes and parameter counts as MachineLearningMastery's summary (names aside: Keras numbers
# the layers of each kind as it builds them): of 324,353 parameters, the Dense layer holds 323,200
# (100 x 3,200 weights + 3,200 biases) and the Conv2D 1,153 (3 x 3 x 128 + 1); UpSampling2D holds
# none. The post's Dense takes `input_dim=100` where we put `keras.Input`, as in section 1.
# transpose_demo.py sets this generator beside a Conv2DTranspose one.
#
# ## 6. Nearest, bilinear and bicubic on a synthetic ring
#
# A 28x28 ring, shrunk to 7x7 by averaging 4x4 blocks, then grown back 4x each way by each method.
# None gets the sharp ring back: compare how each draws its edges.

# %%
distance_from_centre = np.hypot(*(np.mgrid[:28, :28] - 13.5))
ring = np.clip(1 - np.abs(distance_from_centre - 8) / 2.5, 0, 1).astype("float32")  # Radius 8, 2.5 wide.

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

# %% [markdown]
# "nearest" gives back the 7x7 blocks and "bilinear" blends them, both within the shrunk image's
# range. "bicubic", which the posts don't use, blends 4x4 neighbours along curves that overshoot:
# it dips below 0, as printed above (red in `interpolations.png`).
#
# ## The pictures
#
# Drawing code, not the lesson: `save_figure` writes each PNG to `OUTPUT_DIR` and shows it.

# %%
IN_NOTEBOOK = "ipykernel" in sys.modules  # Jupyter, Colab and VS Code run cells in an IPython kernel.
if not (SHOW or IN_NOTEBOOK):
    matplotlib.use("Agg")  # Off-screen: no window, no display needed.


def save_figure(fig, name):
    """Save `fig` as OUTPUT_DIR/name, show it (in a notebook, or in a window with SHOW), close it."""
    os.makedirs(OUTPUT_DIR, exist_ok=True)
    path = os.path.join(OUTPUT_DIR, name)
    with tempfile.TemporaryDirectory(dir=OUTPUT_DIR) as scratch:  # Never half a PNG under `name`.
        fig.savefig(os.path.join(scratch, name), dpi=120, bbox_inches="tight")
        os.replace(os.path.join(scratch, name), path)
    print(f"saved {path}")
    if IN_NOTEBOOK:
        from IPython.display import Image, display  # The PNG, whatever backend the kernel has.
        display(Image(filename=path))
    elif SHOW:
        plt.show()
    plt.close(fig)
    return path


fig, (before, after, top_row) = plt.subplots(1, 3, figsize=(12, 3.8))
for ax, image, title in [(before, smoothing_input, "2x2 input: 0, 0.5, 1, 1.5"),
                         (after, smoothed, "64x64, flat corners boxed")]:
    ax.imshow(image, cmap="gray", vmin=0, vmax=1.5, interpolation="nearest")
    ax.set(title=title, xticks=[], yticks=[])
for corner in [(-0.5, -0.5), (47.5, -0.5), (-0.5, 47.5), (47.5, 47.5)]:
    after.add_patch(plt.Rectangle(corner, 16, 16, fill=False, color="red", linestyle="--"))
top_row.plot(smoothed[0], marker=".")
top_row.set(title="top row: flat for 16 pixels at each end", xlabel="column", ylabel="value")
save_figure(fig, "smoothing.png")

fig, axes = plt.subplots(1, 5, figsize=(14, 3.4))
for ax, (title, image) in zip(axes, [("ring", ring), ("shrunk", shrunk), *grown.items()], strict=True):
    rgb = np.repeat(np.clip(image, 0, 1)[..., None], 3, axis=-1)
    rgb[image < 0] = (1, 0, 0)  # The overshoot, in red.
    ax.imshow(rgb, interpolation="nearest")
    ax.set(title=f"{title}\n{image.min():.3f} to {image.max():.3f}", xticks=[], yticks=[])
save_figure(fig, "interpolations.png")

# %% [markdown]
# ## Going further
#
# - MachineCurve's post goes on to an MNIST autoencoder that upsamples with UpSampling2D + Conv2D:
#   `benchmarks/machinecurve_autoencoders.py` retrains it, and [docs/results.md](docs/results.md)
#   compares it with its Conv2DTranspose counterpart.
# - [docs/how-it-works.md](docs/how-it-works.md#what-upsampling_demopy-computes): how the posts'
#   2019 Keras resized, and how the backends' bicubic differ.

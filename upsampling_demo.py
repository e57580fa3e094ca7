"""
Title: UpSampling2D, step by step
Description: What Keras' UpSampling2D layer does to a tiny image: it repeats pixels or blends them,
and has no weights. The examples of MachineLearningMastery's "How to use the UpSampling2D and
Conv2DTranspose Layers in Keras" and MachineCurve's "UpSampling2D: how to use upsampling with Keras?"
(both 2019), checked number by number.
Accelerator: None (under a minute on a CPU; no data, no training)

`python upsampling_demo.py` prints each example and writes two figures to outputs/upsampling_demo/.
As a notebook (`jupytext --to ipynb upsampling_demo.py`) it needs only Keras (and its backend,
TensorFlow by default), NumPy and Matplotlib.
"""

# %%
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

# %%
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # MachineLearningMastery's 2x2 image.
SHOW = False  # True: also open each figure in a window when run as a program.
OUTPUT_DIR = "outputs/upsampling_demo"  # Where the figures go, under the folder you run from.

# %% [markdown]
# ## 1. Nearest neighbour: every pixel becomes a 2x2 block
#
# A Keras layer takes a batch of images with a channels axis: `apply_model` passes the 2x2 image as
# shape (1, 2, 2, 1). By default `UpSampling2D()` doubles the rows and the columns.

# %%
def apply_model(model, image):
    """One 2-D image through `model`, as a batch of one with one channel; the output image."""
    batch = image[None, :, :, None]  # (1, rows, columns, 1)
    return keras.ops.convert_to_numpy(model(batch))[0, :, :, 0]  # Called, not predict: one tiny batch.


print("Input:", INPUT, sep="\n")
nearest_model = keras.Sequential([keras.Input(shape=(2, 2, 1)), layers.UpSampling2D()])
nearest_model.summary()
nearest_output = apply_model(nearest_model, INPUT)
print("UpSampling2D() output:", nearest_output, sep="\n")

# %% [markdown]
# MachineLearningMastery's post prints the same array and summary (output shape `(None, 4, 4, 1)`,
# 0 parameters); its input is an integer array, printed as `[[1 2] [3 4]]`. Its first layer takes
# `input_shape=(2, 2, 1)`, which Keras 3 still accepts with a warning.
#
# ## 2. `size=(2, 3)`: 2 times the rows, 3 times the columns

# %%
size_2x3_model = keras.Sequential([keras.Input(shape=(2, 2, 1)), layers.UpSampling2D(size=(2, 3))])
size_2x3_output = apply_model(size_2x3_model, INPUT)
print("UpSampling2D(size=(2, 3)) output, shape", size_2x3_output.shape)
print(size_2x3_output)

# %% [markdown]
# MachineLearningMastery gives only the shape: its 4x6 is right, but it says (2, 3) doubles the
# width and triples the height. `size` is (rows, columns): the height doubles, the width triples.
#
# ## 3. Bilinear interpolation
#
# `interpolation="bilinear"` blends neighbouring pixels instead of repeating them.

# %%
bilinear_model = keras.Sequential([keras.Input(shape=(2, 2, 1)),
                                   layers.UpSampling2D(interpolation="bilinear")])
bilinear_output = apply_model(bilinear_model, INPUT)
print('UpSampling2D(interpolation="bilinear") output:', bilinear_output, sep="\n")

# %% [markdown]
# MachineLearningMastery does not print this one; its Keras (2.2, 2.3) put column j at input
# position j/2: 1, 1.5, 2, 2 across the top. With size s, Keras 3 puts output column j at input
# position (j + 0.5)/s - 0.5, rows likewise: here -0.25, 0.25, 0.75 and 1.25. Positions past the
# edge pixels' centres take the edge pixel, so the corners keep 1, 2, 3 and 4.
# `bilinear_output[1, 1]` sits at (0.25, 0.25): a quarter of the way from 1 to 2 is 1.25, from 3 to
# 4 is 3.25, and a quarter of the way down from 1.25 to 3.25 is 1.75.

# %% [markdown]
# Drawing code, not the lesson: `save_figure` writes each figure to `OUTPUT_DIR` and shows it.

# %%
IN_NOTEBOOK = "ipykernel" in sys.modules  # Jupyter, Colab and VS Code run an IPython kernel.
if not (SHOW or IN_NOTEBOOK):
    matplotlib.use("Agg")  # No window, so no display needed.


def save_figure(fig, name):
    """Save as OUTPUT_DIR/name (written aside, then moved: never half a PNG), show, close."""
    os.makedirs(OUTPUT_DIR, exist_ok=True)
    path = os.path.join(OUTPUT_DIR, name)
    with tempfile.TemporaryDirectory(dir=OUTPUT_DIR) as scratch:
        fig.savefig(os.path.join(scratch, name), dpi=120, bbox_inches="tight")
        os.replace(os.path.join(scratch, name), path)
    print(f"saved {path}")
    if IN_NOTEBOOK:
        from IPython.display import Image, display  # Shows the PNG under any matplotlib backend.
        display(Image(filename=path))
    elif SHOW:
        plt.show()
    plt.close(fig)
    return path


# %% [markdown]
# ## 4. Smoothing: 4 pixels become a gradient
#
# MachineCurve's example: 0, 0.5, 1 and 1.5 as a 2x2 image, upsampled 32 times each way.

# %%
smoothing_input = np.array([[0.0, 0.5], [1.0, 1.5]], dtype="float32")
print("Input:", smoothing_input, sep="\n")

smoothing_model = keras.Sequential([keras.Input(shape=(2, 2, 1)),
                                    layers.UpSampling2D(size=(32, 32), interpolation="bilinear")])
smoothed = apply_model(smoothing_model, smoothing_input)
print("Output shape:", smoothed.shape)
print("Smallest and largest value:", smoothed.min(), smoothed.max())
print("Different values:", len(np.unique(smoothed)))

# %%
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

# %% [markdown]
# MachineCurve prints this input and shows its output only as a picture. Ours is a gradient of 148
# values (printed above). With size 32, the first and last 16 output pixels of each row and column
# lie past the edge pixels' centres, so each corner is a flat 16x16 block. MachineCurve's Keras put
# output pixel j at input position j/32 instead: a ramp from the top-left pixel, flat over the last
# 32 rows and columns, so its picture would have one flat corner, 32x32 at the bottom right.
#
# ## 5. A tiny generator: Dense -> Reshape -> UpSampling2D -> Conv2D
#
# MachineLearningMastery's generator (the image-making half of a GAN): a Dense layer turns 100
# random numbers into 3,200, Reshape makes them 128 maps of 5x5, UpSampling2D doubles them to 10x10,
# and a Conv2D learns to draw one 10x10 image from them.

# %%
LATENT_DIM = 100  # Length of the generator's random input, as in MachineLearningMastery's generator.
generator = keras.Sequential([
    keras.Input(shape=(LATENT_DIM,)),
    layers.Dense(128 * 5 * 5),
    layers.Reshape((5, 5, 128)),
    layers.UpSampling2D(),  # 5x5 -> 10x10, nothing to learn.
    layers.Conv2D(1, (3, 3), padding="same"),  # 128 maps -> 1 image.
], name="upsampling_generator")
generator.summary()

# %% [markdown]
# The same shapes and parameter counts as MachineLearningMastery's summary: of 324,353 parameters,
# the Dense layer holds 323,200 (100 x 3,200 weights + 3,200 biases) and the Conv2D 1,153 (3 x 3 x
# 128 + 1); UpSampling2D holds none (layer names differ: Keras numbers them as it builds them).
# The post's Dense takes `input_dim=100` where we put `keras.Input`, as in section 1.
# transpose_demo.py compares this generator with a Conv2DTranspose one.
#
# ## 6. Nearest, bilinear and bicubic on a synthetic ring
#
# Not in the posts: a 28x28 ring, shrunk to 7x7 by averaging 4x4 blocks, then grown back 4x each
# way by each method. None gets the sharp ring back: compare how each draws its edges.

# %%
rows, columns = np.mgrid[:28, :28]
distance_from_radius_8 = np.abs(np.hypot(rows - 13.5, columns - 13.5) - 8)
ring = np.clip(1 - distance_from_radius_8 / 2.5, 0, 1).astype("float32")  # Fades to 0 within 2.5 px.

shrink = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.AveragePooling2D(pool_size=4)])
shrunk = apply_model(shrink, ring)
print(f"Shrunk to {shrunk.shape}: values from {shrunk.min():.3f} to {shrunk.max():.3f}")

grown = {}
for method in ("nearest", "bilinear", "bicubic"):
    grow = keras.Sequential([keras.Input(shape=(7, 7, 1)), layers.UpSampling2D(size=4, interpolation=method)])
    grown[method] = apply_model(grow, shrunk)
    print(f"{method:>8}: grown to {grown[method].shape}, values from "
          f"{grown[method].min():.3f} to {grown[method].max():.3f}")

# %%
fig, axes = plt.subplots(1, 5, figsize=(14, 3.4))
for ax, (title, image) in zip(axes, [("ring", ring), ("shrunk", shrunk), *grown.items()], strict=True):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")  # Below 0 draws black.
    if image.min() < 0:  # The overshoot, outlined in red.
        ax.contour(image < 0, levels=[0.5], colors="red", linewidths=1.5)
    ax.set(title=f"{title}\n{image.min():.3f} to {image.max():.3f}", xticks=[], yticks=[])
save_figure(fig, "interpolations.png")

# %% [markdown]
# "nearest" repeats each of the 7x7 pixels as a 4x4 block and "bilinear" blends them, both within
# the shrunk image's range. "bicubic" blends 4x4 neighbours along curves that overshoot: it dips
# below 0 (the minimum printed above) in the centre hole and along the border, on the dark side of
# the red lines.

# %% [markdown]
# ## Going further
#
# - MachineCurve's post goes on to an MNIST autoencoder that upsamples with UpSampling2D + Conv2D:
#   `benchmarks/machinecurve_autoencoders.py` retrains it, and [docs/results.md](docs/results.md)
#   compares it with a different Conv2DTranspose model.
# - [docs/how-it-works.md](docs/how-it-works.md#what-upsampling_demopy-computes): how the posts'
#   2019 Keras resized, and how the backends' bicubic differ.

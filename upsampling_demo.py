"""
Title: UpSampling2D, step by step
Description: What Keras' UpSampling2D layer does to a tiny image: it has no
weights and simply repeats (or interpolates) pixels. Every example prints what
the tutorial prints, and the pictures go to outputs/upsampling_demo/.
Accelerator: none (seconds on a CPU, no data or training needed)

Run it:
    python upsampling_demo.py
    python upsampling_demo.py --show    # also open each figure in a window

It writes smoothing.png, generator.png and interpolations.png to
outputs/upsampling_demo/. Open it as a notebook to run it cell by cell:
`jupytext --to ipynb upsampling_demo.py`, or VS Code's "Run Cell".
"""

# %% [markdown]
# ## Setup

# %%
import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up lines; fixable errors print one line)

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from denoise_kit import cli, datasets, plots
from denoise_kit.arrays import as_batch, predict
from denoise_kit.errors import DataError

# %% [markdown]
# ## Configuration
#
# Edit the constants here, or replace any of them for one run with the flag of
# the same name: `--show`, `--output-dir figures` (`--help` lists them all).

# %%
SEED = 1  # For the generator's weights (each backend draws its own from it) and its latent vector.
LATENT_DIM = 100  # Size of the generator's random input vector.
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # The 2x2 image of every example.
SHOW = False  # Also open each figure in a window.
DATA_DIR: str | None = None  # Where to look for MNIST (no download); None: $DENOISE_DATA_DIR, else data/.
OUTPUT_DIR = "outputs/upsampling_demo"  # Where the figures go.

# %%
# Flags replace the constants for one run, each value is checked (a bad one: one line, exit 2).
# In a notebook, nothing changes.
CONFIG = cli.override_from_flags(globals())
plots.setup_matplotlib(SHOW)

# %% [markdown]
# ## A model that is one layer
#
# UpSampling2D has no weights, so a model made of that layer alone shows
# exactly what it does to an image.

# %%
def upsampling_model(image_shape, size=(2, 2), interpolation="nearest"):
    """A model that is nothing but one UpSampling2D layer."""
    return keras.Sequential(
        [keras.Input(shape=(*image_shape, 1)), layers.UpSampling2D(size, interpolation=interpolation)]
    )


# %% [markdown]
# ## 1. Nearest neighbour: every pixel becomes a 2x2 block
#
# The default, `UpSampling2D()`, doubles the height and the width by repeating
# each pixel. The model has no parameters at all.

# %%
nearest_model = upsampling_model(INPUT.shape)
nearest_output = predict(nearest_model, INPUT)
print("Input:")
print(INPUT)
nearest_model.summary()
print("UpSampling2D() output:")
print(nearest_output)

# %% [markdown]
# ## 2. `size=(2, 3)`: each pixel is repeated 2 rows down and 3 columns across

# %%
size_2x3_output = predict(upsampling_model(INPUT.shape, size=(2, 3)), INPUT)
print("\nUpSampling2D(size=(2, 3)) output, shape", size_2x3_output.shape)
print(size_2x3_output)

# %% [markdown]
# ## 3. Bilinear interpolation
#
# The values are not simply 1, 1.5, 2: Keras places each output pixel at its
# centre, so the 4 output columns sit at input positions -0.25, 0.25, 0.75 and
# 1.25 (half-pixel centres). Positions beyond the edge are clamped to the edge
# pixel, which is why each row starts and ends with the original values.

# %%
bilinear_output = predict(upsampling_model(INPUT.shape, interpolation="bilinear"), INPUT)
print('\nUpSampling2D(interpolation="bilinear") output:')
print(bilinear_output)

# %% [markdown]
# ## 4. Smoothing: bilinear upsampling turns 4 pixels into a smooth gradient

# %%
smoothing_input = np.array([[0, 0.5], [1, 1.5]], dtype="float32")
smoothed = predict(upsampling_model(smoothing_input.shape, size=(32, 32), interpolation="bilinear"),
                   smoothing_input)

fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4.2))
plots.show_array(left, smoothing_input, "original 2x2")
plots.show_image(right, smoothed, "bilinear, size=32: 64x64", vmin=0.0, vmax=1.5, fontsize=10)
fig.suptitle("UpSampling2D smooths a tiny image into a gradient")
path = plots.save_figure(fig, f"{OUTPUT_DIR}/smoothing.png")
print(f"\nSmoothing example: 2x2 -> {smoothed.shape[0]}x{smoothed.shape[1]}, saved {path}")

# %% [markdown]
# ## 5. A tiny generator: Dense -> Reshape -> UpSampling2D -> Conv2D
#
# A generator grows an image from a random vector. UpSampling2D doubles 5x5 to
# 10x10 for free; the Conv2D after it learns what to draw. Untrained, it draws
# noise; transpose_demo.py puts it beside one that upsamples with
# Conv2DTranspose.

# %%
def build_generator():
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


keras.utils.set_random_seed(SEED)  # The same weights on every run.
generator = build_generator()
latent = np.random.default_rng(SEED).normal(size=(1, LATENT_DIM)).astype("float32")
generator_image = keras.ops.convert_to_numpy(generator(latent))[0, :, :, 0]

fig, ax = plt.subplots(figsize=(3.6, 3.8))
plots.show_image(ax, generator_image, "untrained generator: 10x10", vmin=generator_image.min(),
                 vmax=generator_image.max(), fontsize=10)
path = plots.save_figure(fig, f"{OUTPUT_DIR}/generator.png")
print()
generator.summary()
print(f"Generator output shape {generator.output_shape}, saved {path}")

# %% [markdown]
# ## 6. Nearest, bilinear and bicubic on a real image
#
# Shrink a 28x28 image to 7x7, then grow it back 4x with each interpolation.
# The image is the first MNIST test digit if MNIST is on this machine (it is
# never downloaded here), else a drawn ring.
#
# "bicubic" is backend-dependent: TensorFlow and JAX use Keys' cubic kernel with
# a = -0.5, PyTorch uses a = -0.75 (sharper), so on KERAS_BACKEND=torch its
# pixels differ by a few hundredths. Nearest and bilinear agree everywhere.

# %%
try:
    (_, _), (mnist_test, _) = datasets.load_mnist(DATA_DIR, verbose=False, download=False)
    sample, sample_name = mnist_test[0, :, :, 0], "an MNIST digit"
except DataError:
    rows, cols = np.mgrid[:28, :28]
    radius = np.hypot(rows - 13.5, cols - 13.5)
    sample, sample_name = np.clip(1 - np.abs(radius - 8) / 2.5, 0, 1).astype("float32"), "a drawn ring"

shrunk = keras.ops.convert_to_numpy(layers.AveragePooling2D(4)(as_batch(sample)))
methods = ("nearest", "bilinear", "bicubic")
grown = {method: keras.ops.convert_to_numpy(layers.UpSampling2D(4, interpolation=method)(shrunk))[0, :, :, 0]
         for method in methods}

fig, axes = plt.subplots(1, 5, figsize=(12.5, 3.2))
plots.show_image(axes[0], sample, "original 28x28", fontsize=10)
plots.show_image(axes[1], shrunk[0], "shrunk to 7x7", fontsize=10)
for ax, method in zip(axes[2:], methods, strict=True):
    plots.show_image(ax, np.clip(grown[method], 0, 1), f'UpSampling2D(4,\n"{method}")', fontsize=10)
fig.suptitle(f"Three ways to grow {sample_name} back from 7x7 to 28x28")
path = plots.save_figure(fig, f"{OUTPUT_DIR}/interpolations.png")
print(f"\nInterpolation comparison on {sample_name}, saved {path}")

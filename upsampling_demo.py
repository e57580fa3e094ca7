"""
Title: UpSampling2D, step by step
Description: What Keras' UpSampling2D layer does to a tiny image: it has no
weights and simply repeats (or interpolates) pixels. Every example prints what
the tutorial prints, and the pictures go to outputs/upsampling_demo/.

Run it (seconds on a CPU, no data or training needed):
    python upsampling_demo.py
    python upsampling_demo.py --show    # also open each figure in a window
"""

import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up log lines)

import keras
import numpy as np
from keras import layers

from denoise_kit import cli, datasets, plots
from denoise_kit.arrays import as_batch, predict
from denoise_kit.errors import DataError

# ## Configuration

SEED = 1  # For the generator's weights (each backend draws its own from it) and its latent vector.
LATENT_DIM = 100  # Size of the generator's random input vector.
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # The 2x2 image of every example.


def upsampling_model(image_shape, size=(2, 2), interpolation="nearest"):
    """A model that is nothing but one UpSampling2D layer."""
    return keras.Sequential(
        [keras.Input(shape=(*image_shape, 1)), layers.UpSampling2D(size, interpolation=interpolation)]
    )


# ## 1. Nearest neighbour: every pixel becomes a 2x2 block


def nearest_example(verbose=True):
    model = upsampling_model(INPUT.shape)
    output = predict(model, INPUT)
    if verbose:
        print("Input:")
        print(INPUT)
        model.summary()
        print("UpSampling2D() output:")
        print(output)
    return model, output


# ## 2. size=(2, 3): each pixel is repeated 2 rows down and 3 columns across


def size_example(verbose=True):
    model = upsampling_model(INPUT.shape, size=(2, 3))
    output = predict(model, INPUT)
    if verbose:
        print("\nUpSampling2D(size=(2, 3)) output, shape", output.shape)
        print(output)
    return output


# ## 3. Bilinear interpolation
# The values are not simply 1, 1.5, 2: Keras places each output pixel at its
# centre, so the 4 output columns sit at input positions -0.25, 0.25, 0.75 and
# 1.25 (half-pixel centres). Positions beyond the edge are clamped to the edge
# pixel, which is why each row starts and ends with the original values.


def bilinear_example(verbose=True):
    model = upsampling_model(INPUT.shape, interpolation="bilinear")
    output = predict(model, INPUT)
    if verbose:
        print('\nUpSampling2D(interpolation="bilinear") output:')
        print(output)
    return output


# ## 4. Smoothing: bilinear upsampling turns 4 pixels into a smooth gradient


def smoothing_example(output_dir, verbose=True):
    image = np.array([[0, 0.5], [1, 1.5]], dtype="float32")
    model = upsampling_model(image.shape, size=(32, 32), interpolation="bilinear")
    output = predict(model, image)
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4.2))
    plots.show_array(left, image, "original 2x2")
    plots.show_image(right, output, "bilinear, size=32: 64x64", vmin=0.0, vmax=1.5, fontsize=10)
    fig.suptitle("UpSampling2D smooths a tiny image into a gradient")
    path = plots.save_figure(fig, output_dir / "smoothing.png")
    if verbose:
        print(f"\nSmoothing example: 2x2 -> {output.shape[0]}x{output.shape[1]}, saved {path}")
    return output


# ## 5. A tiny generator: Dense -> Reshape -> UpSampling2D -> Conv2D
# UpSampling2D doubles 5x5 to 10x10 for free; the Conv2D after it learns what to draw.


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


def generator_example(output_dir, verbose=True):
    keras.utils.set_random_seed(SEED)
    model = build_generator()
    latent = np.random.default_rng(SEED).normal(size=(1, LATENT_DIM)).astype("float32")
    image = keras.ops.convert_to_numpy(model(latent))[0, :, :, 0]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 3.8))
    plots.show_image(ax, image, "untrained generator: 10x10", vmin=image.min(), vmax=image.max(),
                     fontsize=10)
    path = plots.save_figure(fig, output_dir / "generator.png")
    if verbose:
        print()
        model.summary()
        print(f"Generator output shape {model.output_shape}, saved {path}")
    return model, image


# ## 6. Nearest, bilinear and bicubic on a real image
# "bicubic" is backend-dependent: TensorFlow and JAX use Keys' cubic kernel with
# a = -0.5, PyTorch uses a = -0.75 (sharper), so on KERAS_BACKEND=torch its
# pixels differ by a few hundredths. Nearest and bilinear agree everywhere.


def sample_image(data_dir=None):
    """A 28x28 digit from local MNIST if there is one, else a drawn ring."""
    try:
        (_, _), (x_test, _) = datasets.load_mnist(data_dir, verbose=False, download=False)
        return x_test[0, :, :, 0], "an MNIST digit"
    except DataError:
        rows, cols = np.mgrid[:28, :28]
        radius = np.hypot(rows - 13.5, cols - 13.5)
        return np.clip(1 - np.abs(radius - 8) / 2.5, 0, 1).astype("float32"), "a drawn ring"


def interpolation_example(output_dir, data_dir=None, verbose=True):
    """Shrink an image to 7x7, then grow it back 4x with each interpolation."""
    image, what = sample_image(data_dir)
    small = keras.layers.AveragePooling2D(4)(as_batch(image))
    methods = ("nearest", "bilinear", "bicubic")
    grown = {m: keras.ops.convert_to_numpy(layers.UpSampling2D(4, interpolation=m)(small))[0, :, :, 0]
             for m in methods}
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(12.5, 3.2))
    plots.show_image(axes[0], image, "original 28x28", fontsize=10)
    plots.show_image(axes[1], keras.ops.convert_to_numpy(small)[0], "shrunk to 7x7", fontsize=10)
    for ax, method in zip(axes[2:], methods, strict=True):
        plots.show_image(ax, np.clip(grown[method], 0, 1), f'UpSampling2D(4,\n"{method}")', fontsize=10)
    fig.suptitle(f"Three ways to grow {what} back from 7x7 to 28x28")
    path = plots.save_figure(fig, output_dir / "interpolations.png")
    if verbose:
        print(f"\nInterpolation comparison on {what}, saved {path}")
    return grown


def main():
    args = cli.demo_args(__file__, __doc__, uses_data=True)
    nearest_example()
    size_example()
    bilinear_example()
    smoothing_example(args.output_dir)
    generator_example(args.output_dir)
    interpolation_example(args.output_dir, args.data_dir)


if __name__ == "__main__":
    cli.run(main)

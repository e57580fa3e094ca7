"""
Title: Conv2DTranspose, step by step, and its checkerboard artifacts
Description: What Keras' Conv2DTranspose does to a 2x2 image, checked against MachineLearningMastery's
post, and why a 3x3 kernel with stride 2 draws a checkerboard (Distill, 2016).
Accelerator: None (under a minute on a CPU; no data, no training)

`python transpose_demo.py` prints each example and writes three figures to outputs/transpose_demo/.
As a notebook (`jupytext --to ipynb transpose_demo.py`) it needs only Keras (and its backend,
TensorFlow by default), NumPy and Matplotlib: Colab runs it.
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
from matplotlib.patches import Polygon, Rectangle

# %%
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # The post's 2x2 image.
SHOW = False  # True: also open each figure in a window when run as a program.
OUTPUT_DIR = "outputs/transpose_demo"  # Where the figures go, under the folder you run from.

# %% [markdown]
# ## 1. A 1x1 kernel with stride 2: each pixel lands 2 apart
#
# One Conv2DTranspose layer: one filter, a 1x1 kernel, stride 2. With weight 1 and bias 0 it
# passes each value through unchanged, so the output shows only where each pixel lands.

# %%
def apply_model(model, image):
    """One 2-D image through `model`, as a batch of one with one channel; the output image."""
    batch = image[None, :, :, None]  # (1, rows, columns, 1)
    return keras.ops.convert_to_numpy(model(batch))[0, :, :, 0]  # Called, not predict: one tiny batch.


unit_model = keras.Sequential([keras.Input(shape=(2, 2, 1)),
                               layers.Conv2DTranspose(1, (1, 1), strides=(2, 2))])
unit_model.summary()

# Kernel shape (rows, columns, output channels, input channels): Conv2D's has the last two swapped.
unit_model.set_weights([np.ones((1, 1, 1, 1), dtype="float32"), np.zeros(1, dtype="float32")])
unit_output = apply_model(unit_model, INPUT)
print("Input:", INPUT, "Output:", unit_output, sep="\n")

# %% [markdown]
# As in the post: output shape (None, 4, 4, 1), 2 parameters (the weight and the bias), and the same
# 4x4 array. Each pixel owns a 2x2 block of the output but fills only its top-left cell. The post
# explains it in two steps. With stride 1 the layer gives the image back. With a 1x1 kernel, stride 2
# is as if a row and a column of zeros followed each pixel, the last one's too: Keras makes the output
# n * s wide for n pixels (bigger kernels: section 2).

# %%
stride_1_model = keras.Sequential([keras.Input(shape=(2, 2, 1)), layers.Conv2DTranspose(1, (1, 1))])
stride_1_model.set_weights([np.ones((1, 1, 1, 1), dtype="float32"), np.zeros(1, dtype="float32")])
stride_1_output = apply_model(stride_1_model, INPUT)
print("Stride 1:", stride_1_output, sep="\n")

spaced_out = np.zeros((4, 4), dtype="float32")
spaced_out[::2, ::2] = INPUT  # Each pixel at (2*row, 2*col), zeros after it.
print("The input with zeros after each pixel:", spaced_out, sep="\n")
print("The same as the stride-2 output:", np.array_equal(spaced_out, unit_output))

# %% [markdown]
# Drawing code, not the lesson: `save_figure` writes each figure to `OUTPUT_DIR` and shows it;
# `draw_array` draws an array, each value in its cell.

# %%
IN_NOTEBOOK = "ipykernel" in sys.modules  # Jupyter, Colab and VS Code run an IPython kernel.
if not (SHOW or IN_NOTEBOOK):
    matplotlib.use("Agg")  # No window, so no display needed.
COLOURS = ("tab:orange", "tab:cyan", "tab:green", "tab:red")  # One per input pixel.


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


def draw_array(ax, array, title, boxes=(), vmax=None):
    """Greys from 0 (to vmax), each value in its cell; boxes: (top, left, side, colour, linestyle)."""
    image = ax.imshow(array, cmap="gray", vmin=0, vmax=vmax)
    for (row, col), value in np.ndenumerate(array):
        dark = image.norm(value) < 0.5
        ax.text(col, row, f"{value:g}", ha="center", va="center", color="white" if dark else "black")
    for top, left, side, colour, linestyle in boxes:
        ax.add_patch(Rectangle((left - 0.45, top - 0.45), side - 0.1, side - 0.1, fill=False,
                               edgecolor=colour, linewidth=2.5, linestyle=linestyle))
    ax.set(xticks=[], yticks=[], title=title)


# %%
pixels = list(zip(np.ndindex(INPUT.shape), COLOURS, strict=True))  # ((row, col), colour) each.
fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 4.2), width_ratios=[1, 2], layout="constrained")
draw_array(left, INPUT, "input 2x2", [(row, col, 1, colour, "-") for (row, col), colour in pixels])
draw_array(right, unit_output, "output 4x4", [(2 * row, 2 * col, side, colour, linestyle)
                                              for (row, col), colour in pixels
                                              for side, linestyle in ((1, "-"), (2, "--"))])
fig.suptitle("Conv2DTranspose(1, (1, 1), strides=(2, 2)), weight 1, bias 0:\n"
             "pixel (row, col) lands at (2*row, 2*col); the rest of its 2x2 block stays 0")
save_figure(fig, "unit_kernel.png")

# %% [markdown]
# ## 2. A 3x3 kernel: stamps that overlap, and padding that sets the size
#
# With a bigger kernel, each input pixel stamps the kernel, times its value, onto the output, s
# pixels (the stride) from its neighbour's stamp; where stamps overlap they add up. For n input
# pixels across and a kernel of k, `padding="valid"` gives `n * s + max(k - s, 0)`, the last stamp
# overhanging by k - s; `padding="same"` cuts the overhang off: `n * s`. Section 1: 2 * 2 + 0 = 4;
# here 2 * 2 + 1 = 5 ("valid") or 4 ("same"), which the post uses to get exactly twice the input.
# Here are both, with every kernel weight 1 so that the sums are easy to follow.

# %%
def transpose_model(image_shape, kernel_size, strides=2, padding="valid", kernel=1.0):
    """Section 1's layer for any image size, kernel size and stride: a fixed kernel, zero bias."""
    layer = layers.Conv2DTranspose(1, kernel_size, strides=strides, padding=padding)
    model = keras.Sequential([keras.Input(shape=(*image_shape, 1)), layer])
    weights = np.broadcast_to(np.asarray(kernel, dtype="float32"), layer.kernel.shape[:2])
    layer.set_weights([weights.reshape(layer.kernel.shape), np.zeros(1, dtype="float32")])
    return model


padding_outputs = {}
for padding in ("valid", "same"):
    all_ones_model = transpose_model(INPUT.shape, kernel_size=3, padding=padding)
    padding_outputs[padding] = apply_model(all_ones_model, INPUT)
    print(f'Conv2DTranspose(1, (3, 3), strides=(2, 2), padding="{padding}"), all-ones kernel:',
          padding_outputs[padding], sep="\n")

# %% [markdown]
# The centre's 10 is where all four stamps meet (1 + 2 + 3 + 4). Where "same" cuts: `max(k - s, 0)
# // 2` rows at the top (here 0), the rest at the bottom, and columns alike, so its 4x4 is the 5x5
# without the last row and column. The same sums by hand, stamp by stamp:

# %%
def output_size(n, kernel_size, strides, padding):
    """The side of Conv2DTranspose's output for an input side n."""
    overhang = max(kernel_size - strides, 0) if padding == "valid" else 0  # "same" cuts it off.
    return n * strides + overhang


def stamps(image, kernel, strides, padding):
    """One canvas per input pixel, keyed by (row, col): the square kernel times the pixel's value,
    its top-left corner at (row * strides, col * strides). They add up to the layer's output."""
    kernel, s, k = np.asarray(kernel, dtype="float32"), strides, len(kernel)
    rows, cols = (output_size(n, k, s, padding) for n in image.shape)
    top = max(k - s, 0) // 2 if padding == "same" else 0  # Rows (and columns) "same" cuts at the top.
    canvases = {}
    for (row, col), value in np.ndenumerate(image):
        canvas = np.zeros([output_size(n, k, s, "valid") for n in image.shape], dtype="float32")
        canvas[row * s : row * s + k, col * s : col * s + k] = value * kernel
        canvases[row, col] = canvas[top : top + rows, top : top + cols]
    return canvases


stamped = {padding: stamps(INPUT, kernel=np.ones((3, 3)), strides=2, padding=padding)
           for padding in padding_outputs}
for padding, canvases in stamped.items():
    print(f'padding="{padding}": the 4 stamps add up to the layer\'s output:',
          np.array_equal(sum(canvases.values()), padding_outputs[padding]))

# %%
fig, axes = plt.subplots(2, 5, figsize=(13, 6.4), layout="constrained")
brightest = padding_outputs["valid"].max()  # One grey scale for every panel.
for ax_row, (padding, canvases) in zip(axes, stamped.items(), strict=True):
    for ax, ((row, col), canvas), colour in zip(ax_row, canvases.items(), COLOURS, strict=False):
        whole_stamp = (2 * row, 2 * col, 3, colour, "-")  # "same" cuts none of it at the top here.
        draw_array(ax, canvas, f"{INPUT[row, col]:g} x kernel", [whole_stamp], vmax=brightest)
        ax.text(1.1, 0.5, "=" if ax is ax_row[3] else "+", transform=ax.transAxes, ha="center", fontsize=18)
    draw_array(ax_row[4], padding_outputs[padding], "sum: the layer's output", vmax=brightest)
    if padding == "same":  # Hatch the row and column "same" cuts off, under the stamps' outlines.
        cut = [(-0.5, 4.5), (-0.5, 3.5), (3.5, 3.5), (3.5, -0.5), (4.5, -0.5), (4.5, 4.5)]  # An L.
        for ax in ax_row:
            ax.set(xlim=(-0.5, 4.5), ylim=(4.5, -0.5))
            ax.add_patch(Polygon(cut, fc="lightgrey", ec="grey", hatch="//", zorder=0.5))
    side = len(padding_outputs[padding])
    ax_row[0].set_ylabel(f'padding="{padding}"\n{side}x{side}', rotation=0, ha="right", va="center")
fig.suptitle("Each pixel of [[1, 2], [3, 4]] stamps the all-ones 3x3 kernel, times its value, "
             "2 cells from its neighbour's stamp")
save_figure(fig, "stamps.png")

# %% [markdown]
# ## 2b. The same with a plain Conv2D
#
# The post also quotes that a plain convolution can do a transposed one, on an input with zeros
# added. For the "valid" output with k >= s: put s - 1 zeros *between* the pixels (none after the
# last), pad k - 1 zeros all round, and slide a Conv2D over it with the kernel flipped. A kernel of
# nine different weights shows the flip matters.

# %%
ramp_kernel = np.arange(1, 10, dtype="float32").reshape((3, 3))
layer_output = apply_model(transpose_model(INPUT.shape, kernel_size=3, kernel=ramp_kernel), INPUT)

between = np.zeros((3, 3), dtype="float32")
between[::2, ::2] = INPUT  # 1 zero between pixels: 3x3.
padded = np.pad(between, 3 - 1)  # k - 1 zeros all round: 7x7.
plain_conv = layers.Conv2D(1, (3, 3), use_bias=False)  # padding="valid": 5x5 out.
conv_model = keras.Sequential([keras.Input(shape=(7, 7, 1)), plain_conv])
plain_conv.set_weights([ramp_kernel[::-1, ::-1].reshape((3, 3, 1, 1))])  # The kernel flipped both ways.
convolved = apply_model(conv_model, padded)
print('Conv2DTranspose, padding="valid":', layer_output, sep="\n")
print("Zeros between, padded, through a Conv2D with the flipped kernel:", convolved, sep="\n")
print("Equal:", np.array_equal(convolved, layer_output))
plain_conv.set_weights([ramp_kernel.reshape((3, 3, 1, 1))])
print("Equal without the flip:", np.array_equal(apply_model(conv_model, padded), layer_output))

# %% [markdown]
# ## 3. The post's generator, with Conv2DTranspose doing the upsampling
#
# In the post's generator (the image-making half of a GAN), one Conv2DTranspose doubles 5x5 maps to
# 10x10 and learns what to draw, where upsampling_demo.py uses UpSampling2D + Conv2D. The summary is
# the post's, layer names aside: 323,200 parameters in Dense, 1,153 (3 x 3 x 128 weights and a bias)
# in Conv2DTranspose, 324,353 in all, as many as the UpSampling2D one.

# %%
LATENT_DIM = 100  # Length of the generator's random input vector, as in the post.
transpose_generator = keras.Sequential([
    keras.Input(shape=(LATENT_DIM,)),
    layers.Dense(128 * 5 * 5),
    layers.Reshape((5, 5, 128)),  # 128 maps of 5x5.
    layers.Conv2DTranspose(1, (3, 3), strides=(2, 2), padding="same"),  # "valid" would give 11x11.
], name="transpose_generator")
transpose_generator.summary()

# %% [markdown]
# ## 4. Checkerboard artifacts
#
# Feed an all-ones image through upsamplers whose kernels are all ones: if the stamps overlap evenly,
# the output is flat. With k = 3 and s = 2 they don't: inside the border each axis alternates 1, 2
# stamps, and in 2-D 1, 2, 4: a checkerboard. Kernel 4, which the stride divides, covers every pixel 4
# times; UpSampling2D + Conv2D (resize-convolution) reads a whole 3x3 window per pixel. The max/min
# ratios printed below leave out the border, where k=4's stamps thin out and Conv2D reads zeros.

# %%
def resize_convolution_model(image_shape, kernel_size=3):
    """UpSampling2D, then a Conv2D with an all-ones kernel and zero bias."""
    conv = layers.Conv2D(1, kernel_size, padding="same")
    model = keras.Sequential([keras.Input(shape=(*image_shape, 1)), layers.UpSampling2D(), conv])
    conv.set_weights([np.ones((kernel_size, kernel_size, 1, 1), "float32"), np.zeros(1, "float32")])
    return model


EDGE = 1  # Border rows and columns left out: with stride 2 and these kernels, the outermost only.


def interior(output):
    return output[EDGE:-EDGE, EDGE:-EDGE]


ONES_IMAGE_SIZE = 6  # Side of the all-ones image; playground.py's Upsampling tab tries others.
ones_image = np.ones((ONES_IMAGE_SIZE, ONES_IMAGE_SIZE), dtype="float32")
checkerboard_models = {
    "Conv2DTranspose k=3, s=2": transpose_model(ones_image.shape, kernel_size=3, padding="same"),
    "Conv2DTranspose k=4, s=2": transpose_model(ones_image.shape, kernel_size=4, padding="same"),
    "UpSampling2D + Conv2D k=3": resize_convolution_model(ones_image.shape),
}
checkerboard_outputs = {name: apply_model(model, ones_image) for name, model in checkerboard_models.items()}
checkerboard_ratios = {name: float(interior(output).max() / interior(output).min())
                       for name, output in checkerboard_outputs.items()}
print("Checkerboard test: all-ones input, all-ones kernels, interior max/min")
for name, ratio in checkerboard_ratios.items():
    print(f"  {name:28} {ratio:g}")
print("Interior of k=3, s=2 (the 1-2-4 pattern):")
print(interior(checkerboard_outputs["Conv2DTranspose k=3, s=2"]))

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 5.4), layout="constrained")
for ax, (name, output) in zip(axes, checkerboard_outputs.items(), strict=True):
    inside = (EDGE, EDGE, len(output) - 2 * EDGE, "tab:red", "--")
    draw_array(ax, output, f"{name}\ninterior (dashed) max/min = {checkerboard_ratios[name]:g}", [inside])
fig.suptitle(f"An all-ones {ONES_IMAGE_SIZE}x{ONES_IMAGE_SIZE} image through all-ones kernels: "
             "only k=3, s=2 makes a checkerboard")
save_figure(fig, "checkerboard.png")

# %% [markdown]
# ## 5. When to prefer which
#
# Kernel 3 with stride 2 is the common choice: the post's generator and keras.io's denoising
# autoencoder use it. With all-ones kernels a flat input comes out 4 times brighter in some pixels
# than in others (ratio 4). In this project's small MNIST denoisers, training learned that away
# (compare_decoders.py finds no measurable checkerboard, kernel 3 included); Distill's GANs keep it.
#
# MachineLearningMastery prefers Conv2DTranspose, perhaps for better results; this project measures
# otherwise. In compare_decoders.py's MNIST denoisers (78,849 parameters; 78,835 for kernel 4, with
# fewer filters to match), Conv2DTranspose's PSNR is 0.09 dB (kernel 4) and 0.13 dB (kernel 3) below
# UpSampling2D (nearest) + Conv2D; over three seeds both gaps' 95% intervals exclude zero. Bilinear
# UpSampling2D + Conv2D came last, 0.48 dB behind.
#
# MachineCurve's "Conv2DTranspose: using 2D transposed convolutions with Keras" autoencoder wins
# (loss 0.05 against 0.11), but its Conv2DTranspose layers have stride 1, so none doubles the map,
# and the two models differ ninefold in parameters and thirtyfold in their narrowest layer
# ([docs/results.md](docs/results.md)).
#
# MachineCurve also says the right stride and kernel avoid the checkerboard. Only in part: a kernel
# that the stride divides (k=4, s=2: ratio 1) makes the stamps overlap evenly, but each of the 4
# positions in a 2x2 output block reads its own interleaved 2x2 subset of the kernel, and unequal ones
# draw a checkerboard (Distill). UpSampling2D + Conv2D (ratio 1) covers every pixel evenly whatever
# its weights: the upsampling itself has nothing to learn.

# %% [markdown]
# ## Going further
#
# - Distill's [Deconvolution and Checkerboard Artifacts](https://distill.pub/2016/deconv-checkerboard/)
#   shows the checkerboard in trained generators, and resize-convolution as the fix.
# - Dumoulin and Visin's [guide to convolution arithmetic](https://arxiv.org/abs/1603.07285) works
#   out the zeros and padding of that plain convolution for every kernel, stride and padding.
# - With random weights the 1-2-4 count shows too: in the untrained generator of section 3, pixels
#   under 4 stamps have about twice, sqrt(4), the standard deviation of those under 1
#   ([docs/results.md](docs/results.md#untrained-generators-where-their-pixels-vary)).
# - `python playground.py`: its Upsampling tab redraws section 4's test for other n, k and s.

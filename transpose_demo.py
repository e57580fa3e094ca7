"""
Title: Conv2DTranspose, step by step, and its checkerboard artifacts
Description: What Keras' Conv2DTranspose layer does to a tiny image: with
strides=(2, 2) it spreads each input pixel over the output through a learned
kernel. The examples print what the tutorial prints; the last one shows why a
kernel that the stride does not divide draws a checkerboard (Odena, Dumoulin
and Olah, "Deconvolution and Checkerboard Artifacts", Distill, 2016).
Accelerator: none (seconds on a CPU, no data or training needed)

Run it:
    python transpose_demo.py
    python transpose_demo.py --show    # also open each figure in a window

It writes unit_kernel.png, stamps.png, generators.png and checkerboard.png,
one per example, to outputs/transpose_demo/. Open it as a notebook to run it
cell by cell: `jupytext --to ipynb transpose_demo.py`, or VS Code's "Run Cell".
"""

# %% [markdown]
# ## Setup

# %%
import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up lines; fixable errors print one line)

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from denoise_kit import cli, plots
from denoise_kit.arrays import predict

# %% [markdown]
# ## Configuration
#
# Edit the constants here, or replace any of them for one run with the flag of
# the same name: `--show`, `--constant-size 8` (`--help` lists them all).

# %%
SEED = 1  # For the generators' weights (each backend draws its own from it) and latent vectors.
LATENT_DIM = 100  # Size of the generator's random input vector.
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # The 2x2 image of the first examples.
CONSTANT_SIZE = 6  # Side of the all-ones image of the checkerboard experiment.
SPREAD_SAMPLES = 256  # Random inputs that show how much each generator pixel varies.
SHOW = False  # Also open each figure in a window.
OUTPUT_DIR = "outputs/transpose_demo"  # Where the figures go.

# %%
# Flags replace the constants for one run, each value is checked (a bad one: one line, exit 2).
# In a notebook, nothing changes.
CONFIG = cli.override_from_flags(globals())
plots.setup_matplotlib(SHOW)

# %% [markdown]
# ## A layer whose output can be worked out by hand
#
# A Conv2DTranspose layer with one filter, a kernel we choose and zero bias:
# every number it outputs can then be checked with pencil and paper.

# %%
def transpose_model(image_shape, kernel_size, strides=(2, 2), padding="valid", kernel=1.0):
    """One Conv2DTranspose layer with a fixed kernel (a number fills it, an
    array gives every weight) and zero bias, so its output can be worked out by hand."""
    layer = layers.Conv2DTranspose(1, kernel_size, strides=strides, padding=padding)
    model = keras.Sequential([keras.Input(shape=(*image_shape, 1)), layer])
    kernel_shape = tuple(np.broadcast_to(kernel_size, 2))
    weights = np.broadcast_to(np.asarray(kernel, dtype="float32"), kernel_shape).reshape(*kernel_shape, 1, 1)
    layer.set_weights([weights, np.zeros(1, dtype="float32")])
    return model


# %% [markdown]
# ## 1. A 1x1 kernel with stride 2: each pixel lands 2 apart, zeros fill the gaps
#
# Like UpSampling2D, every input pixel gets a 2x2 block of the output; unlike
# it, only the block's top-left cell gets the pixel (times the weight), and the
# other three stay 0 (plus the bias).

# %%
unit_model = transpose_model(INPUT.shape, (1, 1))
unit_output = predict(unit_model, INPUT)
print("Input:")
print(INPUT)
unit_model.summary()
print("Conv2DTranspose(1, (1, 1), strides=(2, 2)) with weight 1 and bias 0:")
print(unit_output)

# One colour per input pixel in the figures (they repeat past nine pixels).
pixel_colours = ("tab:orange", "tab:cyan", "tab:green", "tab:red", "tab:purple", "tab:olive", "tab:pink",
                 "tab:blue", "tab:brown")

fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.9), gridspec_kw={"width_ratios": [1, 2]})
plots.show_array(left, INPUT, "input 2x2")
plots.show_array(right, unit_output, "output 4x4")
for i, ((row, col), _) in enumerate(np.ndenumerate(INPUT)):
    colour = pixel_colours[i % len(pixel_colours)]
    plots.outline_cells(left, row, col, colour=colour, inset=0.04)
    plots.outline_cells(right, 2 * row, 2 * col, colour=colour, inset=0.08)  # Where the pixel lands,
    plots.outline_cells(right, 2 * row, 2 * col, 2, 2, colour=colour, linestyle="--",  # in its block.
                        linewidth=1.5, inset=0.03)
fig.suptitle("Conv2DTranspose(1, (1, 1), strides=(2, 2)), weight 1, bias 0:\n"
             "pixel (row, col) lands at (2*row, 2*col); the rest of its 2x2 block stays 0",
             fontsize=11)
fig.tight_layout()
path = plots.save_figure(fig, f"{OUTPUT_DIR}/unit_kernel.png")
print(f"saved {path}")

# %% [markdown]
# ## 2. A 3x3 kernel: the pixels' footprints overlap, and padding sets the size
#
# Each input pixel stamps a copy of the kernel, scaled by the pixel's value,
# with its top-left corner at (row * s, col * s); where stamps overlap they add
# up. With input size n, kernel k and stride s, the output is
#
# - `(n - 1) * s + k` with `padding="valid"` (every stamp kept whole),
# - `n * s` with `padding="same"` (trimmed to exactly s times the input).
#
# (With a kernel smaller than the stride, "valid" keeps the gaps:
# `(n - 1) * s + max(k, s)`.) The functions below do it by hand, for the layer
# to be checked against.

# %%
def output_size(n, kernel_size, strides, padding):
    if padding == "valid":
        return (n - 1) * strides + max(kernel_size, strides)
    return n * strides


def same_crop(n, kernel_size, strides):
    """Rows (or columns) that padding="same" cuts off the "valid" output, at the
    start: the rest are cut at the end. The same split as the forward Conv2D
    padding it undoes."""
    return max(kernel_size - strides, 0) // 2


def stamps(image, kernel, strides, padding):
    """Conv2DTranspose by hand: each input pixel stamps a copy of the kernel,
    scaled by the pixel's value, with its top-left corner at (row * s, col * s).
    Returns one canvas per input pixel, keyed by (row, col); their sum is the
    layer's output. With padding="same" each canvas is the "valid" one cut to n * s."""
    kernel = np.asarray(kernel, dtype="float32")
    s = strides
    full, start, size = zip(*((output_size(n, k, s, "valid"),
                               same_crop(n, k, s) if padding == "same" else 0,
                               output_size(n, k, s, padding))
                              for n, k in zip(image.shape, kernel.shape, strict=True)), strict=True)
    canvases = {}
    for (row, col), value in np.ndenumerate(image):
        canvas = np.zeros(full, dtype="float32")
        canvas[row * s : row * s + kernel.shape[0], col * s : col * s + kernel.shape[1]] = value * kernel
        canvases[row, col] = canvas[start[0] : start[0] + size[0], start[1] : start[1] + size[1]]
    return canvases


# %% [markdown]
# The layer with an all-ones 3x3 kernel, both paddings, beside the sum of the
# stamps.

# %%
size_rules = {"valid": "(n-1)*s + k", "same": "n*s"}
ones_kernel = np.ones((3, 3), dtype="float32")
padding_outputs, stamped = {}, {}
for padding in ("valid", "same"):
    model = transpose_model(INPUT.shape, (3, 3), padding=padding, kernel=ones_kernel)
    padding_outputs[padding] = predict(model, INPUT)
    stamped[padding] = stamps(INPUT, ones_kernel, 2, padding)
    rule = output_size(INPUT.shape[0], 3, 2, padding)
    matches = np.array_equal(sum(stamped[padding].values()), padding_outputs[padding])
    print(f'\nConv2DTranspose(1, (3, 3), strides=(2, 2), padding="{padding}"), all-ones kernel: '
          f"{padding_outputs[padding].shape[0]}x{padding_outputs[padding].shape[1]} "
          f"(rule: {size_rules[padding]} = {rule})")
    print(padding_outputs[padding])
    print(f"Sum of the {len(stamped[padding])} kernel stamps equals it: {matches}")

# %% [markdown]
# The stamps drawn one by one, one row per padding: "same" cuts the same
# stamps off at the edges.

# %%
def stamps_figure(outputs, stamped, path):
    """One row per padding: each input pixel's stamp, then their sum."""
    n, k, s = INPUT.shape[0], 3, 2
    n_stamps = INPUT.size
    fig, axes = plt.subplots(2, n_stamps + 1, figsize=(2.6 * (n_stamps + 1), 6.6))
    for ax_row, padding in zip(axes, ("valid", "same"), strict=True):
        start, size = (same_crop(n, k, s) if padding == "same" else 0), output_size(n, k, s, padding)
        for i, (ax, ((row, col), canvas)) in enumerate(zip(ax_row, stamped[padding].items(), strict=False)):
            top, left = row * s - start, col * s - start  # The stamp's corner on this canvas.
            cut = [edge for edge, off in (("top", top < 0), ("bottom", top + k > size),
                                          ("left", left < 0), ("right", left + k > size)) if off]
            title = f"{INPUT[row, col]:g} x kernel at ({top}, {left})"
            plots.show_array(ax, canvas, title + (f"\n{' and '.join(cut)} edge cut off" if cut else "\n"))
            bottom, right = min(top + k, size), min(left + k, size)
            top, left = max(top, 0), max(left, 0)
            plots.outline_cells(ax, top, left, bottom - top, right - left,
                                colour=pixel_colours[i % len(pixel_colours)])
            ax.text(1.12, 0.5, "=" if i == n_stamps - 1 else "+", transform=ax.transAxes, ha="center",
                    va="center", fontsize=18)
        total = outputs[padding]
        plots.show_array(ax_row[-1], total, f"sum = the layer's output\n{total.shape[0]}x{total.shape[1]}")
        formula = f"({n}-1)*{s} + {k}" if padding == "valid" else f"{n}*{s}"
        ax_row[0].set_ylabel(f'padding="{padding}"\nsize {size_rules[padding]}\n= {formula} = {size}',
                             fontsize=11, rotation=0, ha="right", va="center", labelpad=12)
    shown_input = "[" + ", ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in INPUT) + "]"
    fig.suptitle(f"Conv2DTranspose(1, (3, 3), strides=(2, 2)) on {shown_input}, all-ones "
                 f"kernel (n = {n} input, k = {k} kernel, s = {s} stride)\n"
                 f"Each pixel stamps the kernel times its value, {s} cells from its neighbour's stamp, "
                 f"and overlapping stamps add up.\n"
                 f'"valid" keeps every stamp whole; "same" keeps only n*s = {n * s} rows and columns.',
                 fontsize=12)
    fig.tight_layout()
    return plots.save_figure(fig, path)


path = stamps_figure(padding_outputs, stamped, f"{OUTPUT_DIR}/stamps.png")
print(f"saved {path}")

# %% [markdown]
# ## 3. The tiny generator again, with Conv2DTranspose doing the upsampling
#
# First, upsampling_demo.py's generator: Dense -> Reshape 5x5 -> UpSampling2D,
# which doubles 5x5 to 10x10 for free, -> Conv2D, which learns what to draw.

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
# One learned layer replaces UpSampling2D + Conv2D, with the same 324,353
# parameters: a Conv2DTranspose with stride 2.

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


# %% [markdown]
# Side by side, untrained, from the same seed: one output is just noise, but
# over many random inputs the transposed convolution's pixels vary more where
# more kernel stamps overlap, a checkerboard before any training. The stamps of
# an all-ones image through an all-ones kernel count how many cover each pixel.

# %%
def footprint_count(image_shape, kernel_size=3, strides=2, padding="same"):
    """How many kernel stamps cover each output pixel: the stamps of an
    all-ones image through an all-ones kernel, added up."""
    ones_kernel = np.ones((kernel_size, kernel_size), dtype="float32")
    return sum(stamps(np.ones(image_shape, dtype="float32"), ones_kernel, strides, padding).values())


def interior(output, margin):
    """Drop `margin` pixels at each border, where zero padding also plays a part."""
    return output[margin:-margin, margin:-margin]


def spread_by_footprints(spread, counts):
    """A map of per-pixel standard deviations averaged over the pixels that
    `counts` stamps cover. The one-pixel border is left out: there the zero
    padding of the UpSampling2D model's Conv2D plays a part."""
    spread, counts = interior(spread, 1), interior(counts, 1)
    return {int(c): float(spread[counts == c].mean()) for c in sorted(np.unique(counts), reverse=True)}


# Both generators from the same seed, fed one random vector (one picture each)
# and SPREAD_SAMPLES of them (how much each pixel varies).
latents = np.random.default_rng(SEED).normal(size=(SPREAD_SAMPLES, LATENT_DIM)).astype("float32")
stamp_counts = footprint_count((5, 5))  # Over the 10x10 output of a 5x5 input.
builders = {"Conv2DTranspose": build_transpose_generator, "UpSampling2D + Conv2D": build_upsampling_generator}
generators, generator_images, spread_maps = {}, {}, {}
for name, build in builders.items():
    keras.utils.set_random_seed(SEED)  # The same Dense weights in both.
    generators[name] = build()
    outputs = keras.ops.convert_to_numpy(generators[name](latents))[:, :, :, 0]
    generator_images[name], spread_maps[name] = outputs[0], outputs.std(axis=0)
spreads = {name: spread_by_footprints(spread, stamp_counts) for name, spread in spread_maps.items()}

print()
generators["Conv2DTranspose"].summary()
print(f"Generator output shape {generators['Conv2DTranspose'].output_shape}")
print(f"\nEach output pixel's standard deviation over {SPREAD_SAMPLES} random inputs, averaged by "
      "how many\nConv2DTranspose kernel stamps cover the pixel (border left out):")
headers = [f"{c} stamp{'s' if c > 1 else ''}" for c in spreads["Conv2DTranspose"]]
print(f"  {'':24}" + "".join(f"{header:>10}" for header in headers))
for name, by_count in spreads.items():
    print(f"  {name:24}" + "".join(f"{value:10.3f}" for value in by_count.values()))

# %% [markdown]
# Top: one output of each untrained generator. Bottom: how much each pixel varies.

# %%
upsamplers = {"Conv2DTranspose": "Conv2DTranspose(1, 3, strides=2)",
              "UpSampling2D + Conv2D": "UpSampling2D() + Conv2D(1, 3)"}
fig, axes = plt.subplots(2, 2, figsize=(10, 11), layout="constrained")
for (top, bottom), name in zip(axes.T, generator_images, strict=True):
    plots.show_array(top, generator_images[name], f"{upsamplers[name]}\none random input: the 10x10 output",
                     fmt="{:.2f}")
    ratio = spreads[name][4] / spreads[name][1]
    plots.show_array(bottom, spread_maps[name],
                     f"{upsamplers[name]}\nstandard deviation of each pixel over {SPREAD_SAMPLES} "
                     f"inputs\npixels under 4 stamps vary {ratio:.2f}x as much as under 1", fmt="{:.2f}")
fig.suptitle("Two untrained generators, Dense -> Reshape 5x5 -> upsampling, from the same seed\n"
             "Conv2DTranspose's k=3, s=2 stamps cover each pixel 4, 2 or 1 times, so even before\n"
             "training its pixels vary in a checkerboard pattern; UpSampling2D + Conv2D's do not.",
             fontsize=12)
path = plots.save_figure(fig, f"{OUTPUT_DIR}/generators.png")
print(f"saved {path}")

# %% [markdown]
# ## 4. Checkerboard artifacts
#
# Feed an all-ones image through upsampling layers whose kernels are all ones.
# A perfect upsampler would give a flat result. Kernel 3 with stride 2 does not:
# output pixels are covered by 1, 2 or 4 kernel footprints in turn, so even a
# flat input comes out as a checkerboard. Kernel 4 (divisible by the stride)
# covers every interior pixel equally, and so does resize-convolution
# (UpSampling2D followed by Conv2D). The border is left out of the ratios:
# there zero padding plays a part.

# %%
def resize_convolution_model(image_shape, kernel_size=3):
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
checkerboard_outputs = {name: predict(model, ones_image) for name, model in checkerboard_models.items()}
checkerboard_ratios = {name: float(interior(output, 4).max() / interior(output, 4).min())
                       for name, output in checkerboard_outputs.items()}
print("\nCheckerboard test: all-ones input, all-ones kernels, interior max/min")
for name, ratio in checkerboard_ratios.items():
    print(f"  {name:28} {ratio:g}")
print("Interior of k=3, s=2 (the 1-2-4 pattern):")
print(interior(checkerboard_outputs["Conv2DTranspose k=3, s=2"], 4))

fig, axes = plt.subplots(1, 3, figsize=(15, 5.4))
for ax, (name, output) in zip(axes, checkerboard_outputs.items(), strict=True):
    plots.show_array(ax, output, f"{name}\ninterior max/min = {checkerboard_ratios[name]:g}")
fig.suptitle(f"An all-ones {CONSTANT_SIZE}x{CONSTANT_SIZE} image through all-ones kernels: "
             "only k=3, s=2 makes a checkerboard")
path = plots.save_figure(fig, f"{OUTPUT_DIR}/checkerboard.png")
print(f"saved {path}")

# %% [markdown]
# ## 5. When to prefer which

# %%
def advice(ratios):
    """The recommendation, quoting the measured max/min ratios (k=3, k=4, resize-convolution)."""
    k3, k4, resize = (ratios[name] for name in ratios)
    return (
        "\nWhich to use?\n"
        f"  Conv2DTranspose learns its upsampling in one layer, but with kernel 3 and stride 2 its\n"
        f"  footprints overlap unevenly: a flat input comes out {k3:g}x brighter in some pixels than\n"
        f"  others. Training can learn to hide this, yet the pattern tends to come back as faint\n"
        f"  checkerboards in generated or denoised images.\n"
        f"  Pick a kernel the stride divides (k=4, s=2: ratio {k4:g}) if you want Conv2DTranspose,\n"
        f"  or UpSampling2D + Conv2D (ratio {resize:g}), which cannot make the pattern at all and has\n"
        f"  the same weights as a Conv2D. The upsampling costs nothing to learn; the Conv2D after it\n"
        f"  runs at the larger size, so it is a little slower than a transposed convolution."
    )


print(advice(checkerboard_ratios))

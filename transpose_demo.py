"""
Title: Conv2DTranspose, step by step, and its checkerboard artifacts
Description: What Keras' Conv2DTranspose layer does to a tiny image: with
strides=(2, 2) it spreads each input pixel over the output through a learned
kernel. The examples print what the tutorial prints; the last one shows why a
kernel that the stride does not divide draws a checkerboard (Odena, Dumoulin
and Olah, "Deconvolution and Checkerboard Artifacts", Distill, 2016).
Pictures go to outputs/transpose_demo/.

Run it (seconds on a CPU, no data or training needed):
    python transpose_demo.py
    python transpose_demo.py --show    # also open each figure in a window
"""

from denoise_kit import cli

cli.quiet_tensorflow()

import keras
import numpy as np
from keras import layers

from denoise_kit import plots
from denoise_kit.arrays import predict

# ## Configuration

SEED = 1  # For the generator's weights and its random latent vector.
LATENT_DIM = 100  # Size of the generator's random input vector.
INPUT = np.array([[1, 2], [3, 4]], dtype="float32")  # The 2x2 image of the first examples.
CONSTANT_SIZE = 6  # Side of the all-ones image of the checkerboard experiment.


def transpose_model(image_shape, kernel_size, strides=(2, 2), padding="valid", kernel_value=1.0):
    """One Conv2DTranspose layer with a constant kernel and zero bias, so its
    output can be worked out by hand."""
    layer = layers.Conv2DTranspose(1, kernel_size, strides=strides, padding=padding)
    model = keras.Sequential([keras.Input(shape=(*image_shape, 1)), layer])
    kernel = np.full((*np.broadcast_to(kernel_size, 2), 1, 1), kernel_value, dtype="float32")
    layer.set_weights([kernel, np.zeros(1, dtype="float32")])
    return model


# ## 1. A 1x1 kernel with stride 2: each pixel lands 2 apart, zeros fill the gaps


def unit_kernel_example(verbose=True):
    model = transpose_model(INPUT.shape, (1, 1))
    output = predict(model, INPUT)
    if verbose:
        print("Input:")
        print(INPUT)
        model.summary()
        print("Conv2DTranspose(1, (1, 1), strides=(2, 2)) with weight 1 and bias 0:")
        print(output)
    return model, output


# ## 2. A 3x3 kernel: the pixels' footprints overlap, and padding sets the size
# With input size n, kernel k and stride s, the output is
#   (n - 1) * s + k   with padding="valid"  (every footprint kept whole)
#   n * s             with padding="same"   (trimmed to exactly s times the input)
# (With a kernel smaller than the stride, "valid" keeps the gaps: (n - 1) * s + max(k, s).)


def output_size(n, kernel_size, strides, padding):
    if padding == "valid":
        return (n - 1) * strides + max(kernel_size, strides)
    return n * strides


def padding_example(verbose=True):
    outputs = {}
    for padding in ("same", "valid"):
        outputs[padding] = predict(transpose_model(INPUT.shape, (3, 3), padding=padding), INPUT)
        if verbose:
            rule = output_size(2, 3, 2, padding)
            print(f'\nConv2DTranspose(1, (3, 3), strides=(2, 2), padding="{padding}"), all-ones kernel: '
                  f"{outputs[padding].shape[0]}x{outputs[padding].shape[1]} "
                  f"(rule: {'(n-1)*s + k' if padding == 'valid' else 'n*s'} = {rule})")
            print(outputs[padding])
    return outputs


# ## 3. The tiny generator again, with Conv2DTranspose doing the upsampling
# One learned layer replaces UpSampling2D + Conv2D, with the same 324,353 parameters.


def build_generator():
    return keras.Sequential(
        [
            keras.Input(shape=(LATENT_DIM,)),
            layers.Dense(128 * 5 * 5),
            layers.Reshape((5, 5, 128)),
            layers.Conv2DTranspose(1, (3, 3), strides=(2, 2), padding="same"),
        ],
        name="transpose_generator",
    )


def generator_example(verbose=True):
    keras.utils.set_random_seed(SEED)
    model = build_generator()
    latent = np.random.default_rng(SEED).normal(size=(1, LATENT_DIM)).astype("float32")
    image = keras.ops.convert_to_numpy(model(latent))[0, :, :, 0]
    if verbose:
        print()
        model.summary()
        print(f"Generator output shape {model.output_shape}")
    return model, image


# ## 4. Checkerboard artifacts
# Feed an all-ones image through upsampling layers whose kernels are all ones.
# A perfect upsampler would give a flat result. Kernel 3 with stride 2 does not:
# output pixels are covered by 1, 2 or 4 kernel footprints in turn, so even a
# flat input comes out as a checkerboard. Kernel 4 (divisible by the stride)
# covers every interior pixel equally, and so does resize-convolution
# (UpSampling2D followed by Conv2D).


def resize_convolution_model(image_shape, kernel_size=3):
    conv = layers.Conv2D(1, kernel_size, padding="same")
    model = keras.Sequential([keras.Input(shape=(*image_shape, 1)), layers.UpSampling2D(), conv])
    conv.set_weights([np.ones((kernel_size, kernel_size, 1, 1), "float32"), np.zeros(1, "float32")])
    return model


def interior(output, margin):
    """Drop `margin` pixels at each border, where zero padding also plays a part."""
    return output[margin:-margin, margin:-margin]


def checkerboard_example(output_dir, verbose=True):
    ones = np.ones((CONSTANT_SIZE, CONSTANT_SIZE), dtype="float32")
    cases = {
        "Conv2DTranspose k=3, s=2": transpose_model(ones.shape, 3, padding="same"),
        "Conv2DTranspose k=4, s=2": transpose_model(ones.shape, 4, padding="same"),
        "UpSampling2D + Conv2D k=3": resize_convolution_model(ones.shape),
    }
    outputs = {name: predict(model, ones) for name, model in cases.items()}
    ratios = {name: float(interior(out, 4).max() / interior(out, 4).min()) for name, out in outputs.items()}
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 5.4))
    for ax, (name, output) in zip(axes, outputs.items(), strict=True):
        plots.show_array(ax, output, f"{name}\ninterior max/min = {ratios[name]:g}")
    fig.suptitle(f"An all-ones {CONSTANT_SIZE}x{CONSTANT_SIZE} image through all-ones kernels: "
                 "only k=3, s=2 makes a checkerboard")
    path = plots.save_figure(fig, output_dir / "checkerboard.png")
    if verbose:
        print("\nCheckerboard test: all-ones input, all-ones kernels, interior max/min")
        for name, ratio in ratios.items():
            print(f"  {name:28} {ratio:g}")
        print("Interior of k=3, s=2 (the 1-2-4 pattern):")
        print(interior(outputs["Conv2DTranspose k=3, s=2"], 4))
        print(f"saved {path}")
    return outputs, ratios


# ## 5. When to prefer which


def advice(ratios):
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


def main():
    args = cli.demo_args(__file__, __doc__)
    unit_kernel_example()
    padding_example()
    generator_example()
    _, ratios = checkerboard_example(args.output_dir)
    print(advice(ratios))


if __name__ == "__main__":
    cli.run(main)

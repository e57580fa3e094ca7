"""
Title: Denoising MNIST digits with a Conv2DTranspose autoencoder
Description: keras.io's denoising autoencoder, changed in six ways (README, "What differs from
keras.io"). Conv2D + MaxPooling2D take each digit down to 7x7, and strided Conv2DTranspose layers
grow it back, clean: MNIST with Conv2DTranspose, as Rahman's part 3 was announced (not public).
Accelerator: optional (minutes on a 2-core CPU: docs/speed.md)
"""

# %%
try:  # First: hides TensorFlow's start-up lines; errors you can fix print as one line.
    import denoise_kit.quiet  # noqa: F401  (the project's helper package: downloads, backups, files)
except ModuleNotFoundError as missing:
    raise (missing if missing.name != "denoise_kit" else ModuleNotFoundError("denoise_kit is not "
           "installed: run `pip install .` in a clone of the project (README, Notebooks)")) from None

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers, ops
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from denoise_kit import cli, datasets, hardware, own_images, parallel, plots, progress, results, training

# %% [markdown]
# ## The knobs
#
# Edit them here, or change one for a single run with its flag: `--noise-factor
# 0.8`. `--help` lists these and a few more on how it runs (`--tensorboard`).

# %%
DATASET = "mnist"  # "mnist", "notmnist" or "fashion_mnist".
NOISE_FACTOR = 0.5  # Standard deviation of the Gaussian noise; pixels are in [0, 1].
EPOCHS = 10  # Each ends with validation and a backup.
IMAGES_PER_EPOCH = 7_040  # Noisy images per epoch, whatever the dataset's size (not one pass over it).
BATCH_SIZE = 8  # Images per training step.
FILTERS = (32, 64)  # Filters per encoder level (28 -> 14 -> 7); the decoder mirrors them.
KERNEL_SIZE = 3  # Height and width of every convolution kernel.
LEARNING_RATE = 2e-3  # Adam's starting learning rate, decayed to 0 along a cosine.
SEED = 42  # Weights, training noise and order: the same seed gives the same numbers.
VALIDATION_FRACTION = 0.1  # Share of the training images kept aside, scored every epoch...
MAX_VALIDATION_IMAGES = 1_000  # ...up to this many.
VALIDATION_NOISE_SEED = 42  # Fixed noise for the validation images, whatever SEED is.
TEST_NOISE_SEED = 43  # Fixed noise for the test images: every run is scored on the same ones.
LIMIT: int | None = None  # At most this many training images (validation included).
DATA_DIR: str | None = None  # Dataset folder; None: $DENOISE_DATA_DIR, else data/ (docs/data.md).
OUTPUT_DIR = "outputs/denoise_transpose_mnist"  # Pictures, metrics, model; a tweak: a folder inside.

CONFIG = cli.override_from_flags(globals(), run_flags=cli.DENOISER_RUN_FLAGS)  # One run per OUTPUT_DIR.
if CONFIG["DENOISE"]:  # Run flag --denoise my_digit.png: train nothing ("Your own image").
    own_images.denoise_and_exit(CONFIG)
steps_per_epoch = IMAGES_PER_EPOCH // BATCH_SIZE  # 880 with the defaults.
machine = hardware.configure_for(CONFIG, steps_per_epoch)  # Precision and devices: one printed line.

# %% [markdown]
# ## The data
#
# `datasets.load_data` returns arrays as `keras.datasets.mnist.load_data()` does, downloading MNIST
# the first time. With only its 10,000 test digits offline, it holds out a fixed fifth (docs/data.md).

# %%
(x_train, _), (x_test, y_test) = datasets.load_data(DATASET, DATA_DIR)  # y_test: to show one per class.
# Pixels to [0, 1], and the channel axis Conv2D wants: (N, 28, 28, 1).
x_train, x_test = (x.astype("float32")[..., np.newaxis] / 255 for x in (x_train[:LIMIT], x_test))
n_val = min(round(VALIDATION_FRACTION * len(x_train)), MAX_VALIDATION_IMAGES)
n_val = max(machine.devices, n_val - n_val % machine.devices)  # Several devices share it evenly.
x_val, x_train = x_train[:n_val], x_train[n_val:]
print(f"{len(x_train):,} train / {len(x_val):,} validation / {len(x_test):,} test images")

# %% [markdown]
# ## The noise
#
# Each pixel gets its own Gaussian noise, clipped to [0, 1]: once for the validation and test
# images, so every run is scored alike; anew at every step, by a layer (GaussianNoise doesn't clip).

# %%
def add_noise(images, noise_factor, seed):
    """A number as `seed` gives the same noise at every call; a SeedGenerator gives new noise."""
    images = ops.convert_to_tensor(images)
    noise = keras.random.normal(ops.shape(images), seed=seed, dtype=images.dtype)
    return ops.clip(images + noise_factor * noise, 0.0, 1.0)


class FreshNoise(layers.Layer):
    def __init__(self, noise_factor, seed=None, **kwargs):
        super().__init__(**kwargs)  # A keras.random.SeedGenerator that differs on each of several GPUs:
        self.noise_factor, self.seed_generator = noise_factor, parallel.PerDeviceSeedGenerator(seed)

    def call(self, images, training=False):  # True in fit's training steps, not its validation.
        return add_noise(images, self.noise_factor, self.seed_generator) if training else images


def show_images(rows, path):  # A row of images per (label, images) pair, saved as a PNG, shown in a notebook.
    fig, axes = plt.subplots(len(rows), len(rows[0][1]), figsize=(1.3 * len(rows[0][1]), 1.4 * len(rows)),
                             squeeze=False)  # Always rows of axes, even for one image.
    for ax_row, (label, images) in zip(axes, rows, strict=True):
        for ax, image in zip(ax_row, images, strict=True):
            ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
        ax_row[0].set_title(label, loc="left", fontsize=9)
    plots.save_figure(fig, path)


x_val_noisy = ops.convert_to_numpy(add_noise(x_val, NOISE_FACTOR, seed=VALIDATION_NOISE_SEED))
x_test_noisy = ops.convert_to_numpy(add_noise(x_test, NOISE_FACTOR, seed=TEST_NOISE_SEED))
show_images([("clean: the target", x_train[:8]),
             ("noisy: the input", ops.convert_to_numpy(add_noise(x_train[:8], NOISE_FACTOR, seed=SEED)))],
            f"{OUTPUT_DIR}/noisy_inputs.png")

# %% [markdown]
# ## The model
#
# MaxPooling2D halves the image; `Conv2DTranspose(strides=2)`, a convolution that learns its own
# upsampling, doubles it back (transpose_demo.py). The 7x7 map's 64 channels hold 3,136 numbers
# for 784 pixels: no bottleneck; the noise, not the size, keeps the model from learning to copy.

# %%
def build_autoencoder(input_shape=(None, None, 1)):
    x = inputs = keras.Input(shape=input_shape)  # Two levels: any multiple of 4; three: 28, 36, 44...
    for n in FILTERS:  # Encoder: 28x28 -> 14x14 -> 7x7
        x = layers.Conv2D(n, KERNEL_SIZE, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(FILTERS[-1], KERNEL_SIZE, activation="relu", padding="same")(x)  # On the 7x7 map
    for n in reversed(FILTERS):  # Decoder: 7x7 -> 14x14 -> 28x28
        x = layers.Conv2DTranspose(n, KERNEL_SIZE, strides=2, activation="relu", padding="same")(x)
    x = layers.Cropping2D(2)(x) if len(FILTERS) > 2 else x  # 3+ levels: 28 -> ... 4 grows back to 32.
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32")(x)  # In [0, 1], float32 always.
    return keras.Model(inputs, outputs, name="denoiser")


build_autoencoder(input_shape=(28, 28, 1)).summary()  # At 28x28, to show the shapes.

# %% [markdown]
# ## Training
#
# `fit` gets clean inputs and targets; FreshNoise makes the inputs noisy. `run` holds the shuffled
# batches and the callbacks: BackupAndRestore (rerun to resume), CSVLogger, TerminateOnNaN, and so on.

# %%
run = training.resumable_run(CONFIG, machine, x_train, x_val, x_val_noisy, steps_per_epoch,
                             decoder="Conv2DTranspose")  # For the figures' titles.
keras.utils.set_random_seed(SEED)  # The same starting weights.
denoiser = build_autoencoder()
trainer = keras.Sequential([keras.Input(shape=(28, 28, 1)), FreshNoise(NOISE_FACTOR, seed=SEED), denoiser])
learning_rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=EPOCHS * steps_per_epoch)
trainer.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                metrics=[progress.psnr_metric], steps_per_execution=machine.steps_per_execution)
trainer.fit(run.clean_batches, steps_per_epoch=steps_per_epoch, epochs=EPOCHS,
            validation_data=(x_val_noisy, x_val), callbacks=run.callbacks, shuffle=False)  # Shuffled already.

# %% [markdown]
# ## Results
#
# Two scores of the noisy and the denoised test images against the clean
# ones, averaged over the images: PSNR (in dB, higher is closer) and SSIM (1
# is a perfect match). With the defaults, on the offline copy of MNIST's test digits (docs/data.md):
# 9.38 -> 20.06 dB, SSIM 0.41 -> 0.86. A download trains on more distinct digits and will score
# differently; its score was never measured (docs/results.md).

# %%
x_test_denoised = denoiser.predict(x_test_noisy, batch_size=256, verbose=0)  # The denoiser alone.


def mean_psnr_and_ssim(clean, images):
    psnr = [peak_signal_noise_ratio(c, i, data_range=1.0) for c, i in zip(clean, images, strict=True)]
    # SSIM as Wang et al. (2004) define it, and tf.image.ssim computes it: an 11x11 Gaussian window.
    ssim = [structural_similarity(c[..., 0], i[..., 0], data_range=1.0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False) for c, i in zip(clean, images, strict=True)]
    return float(np.mean(psnr)), float(np.mean(ssim))


psnr_noisy, ssim_noisy = mean_psnr_and_ssim(x_test, x_test_noisy)
psnr_denoised, ssim_denoised = mean_psnr_and_ssim(x_test, x_test_denoised)
one_per_class = [np.flatnonzero(y_test == label)[0] for label in np.unique(y_test)]
show_images([("clean", x_test[one_per_class]),
             (f"noisy, test mean {psnr_noisy:.2f} dB", x_test_noisy[one_per_class]),
             (f"denoised, test mean {psnr_denoised:.2f} dB", x_test_denoised[one_per_class])],
            f"{OUTPUT_DIR}/reconstructions.png")

# Writes history.png, model.keras and metrics.json; prints the closing table and what changed.
scores = {"psnr_noisy": psnr_noisy, "psnr_denoised": psnr_denoised, "ssim_noisy": ssim_noisy,
          "ssim_denoised": ssim_denoised}
results.save(run, denoiser, scores, test_images=x_test_noisy)

# %% [markdown]
# ## Your own image
#
# Only convolutions and pooling, no Dense layer: the saved model takes other sizes
# too (two levels: any multiple of 4). Here, three noisy test digits side by side
# make one 28x84 image, scored below. For your own files: `python denoise_transpose_mnist.py
# --denoise my_digit.png --add-noise` (light strokes on dark, as MNIST; add
# `--invert` for dark on light).

# %%
saved_denoiser = keras.saving.load_model(f"{OUTPUT_DIR}/model.keras")
three_noisy, three_clean = np.concatenate(x_test_noisy[:3], axis=1), np.concatenate(x_test[:3], axis=1)
three_denoised = saved_denoiser.predict(three_noisy[np.newaxis], verbose=0)[0]  # A batch of one image.
print(f"One {three_noisy.shape[0]}x{three_noisy.shape[1]} image: "
      f"noisy {peak_signal_noise_ratio(three_clean, three_noisy, data_range=1.0):.2f} dB -> "
      f"denoised {peak_signal_noise_ratio(three_clean, three_denoised, data_range=1.0):.2f} dB")

# %% [markdown]
# ## Going further
#
# - Stop a run (Ctrl-C) and rerun it: it resumes at the last finished epoch
#   and ends as an unbroken run would.
# - `--tensorboard`, then `tensorboard --logdir outputs`: curves and pictures.
# - `--kernel-size 4` (every layer but the 1x1 output, the encoder's too): with stride 2 each output
#   pixel gets the same number of stamps, transpose_demo.py's cure for the checkerboard.
# - compare_decoders.py swaps whole decoders (narrower, on shorter runs) on one encoder: there
#   Conv2DTranspose with kernel 4 and 3 ends 0.09 and 0.13 dB behind UpSampling2D (nearest) + Conv2D.
#   MachineCurve's plain autoencoders rank them the other way; its Conv2DTranspose one never
#   compresses (docs/results.md).
# - Batch 8 and the 1x1 output layer were not tuned: docs/results.md
#   ("Why these defaults"); fresh noise: docs/how-it-works.md.

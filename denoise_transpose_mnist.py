"""
Title: Denoising MNIST digits with a Conv2DTranspose autoencoder
Description: A convolutional autoencoder learns to remove Gaussian noise from
handwritten digits. Conv2D + MaxPooling2D shrink the image to a small code;
strided Conv2DTranspose layers learn to grow it back, noise-free.
Accelerator: optional (139 s on a 2-core AMD EPYC CPU with the offline MNIST copy: docs/speed.md)

Run it:
    python denoise_transpose_mnist.py                       # the tuned defaults below
    python denoise_transpose_mnist.py --noise-factor 0.8    # a harder task
    python denoise_transpose_mnist.py --epochs 2 --images-per-epoch 2000   # a quick look
    python denoise_transpose_mnist.py --denoise my_digit.png --add-noise   # your own image

It writes noisy_inputs.png, progress.png, reconstructions.png, history.png,
metrics.json, training_log.csv and model.keras to
outputs/denoise_transpose_mnist/ (and, with --tensorboard, a tensorboard/
folder). Stop it at any time (Ctrl-C) and run the same command again:
training resumes from the last finished epoch and ends with the numbers an
unbroken run gives. Open it as a notebook to run it cell by cell: `jupytext
--to ipynb denoise_transpose_mnist.py`, or VS Code's "Run Cell"; in Colab or
another folder, install the helper package first (README, "Notebooks").
"""

# %% [markdown]
# ## Setup
#
# The recipe is keras.io's "Convolutional autoencoder for image denoising"
# (https://keras.io/examples/vision/autoencoder/: MNIST, noise 0.4 added once,
# batch 128, Adam, binary cross-entropy: two Conv2D(32, 3) + MaxPooling2D
# levels down, two Conv2DTranspose(32, 3, strides=2) up, a 3x3 sigmoid Conv2D
# out, 50 epochs copying clean images, then 100 denoising). Ashrafur Rahman's "Autoencoder:
# Denoise image using UpSampling2D and Conv2DTranspose Layers" (Medium, 2021)
# announces this pairing, MNIST with a Conv2DTranspose decoder, as its part 3;
# its code is not public. Six things differ from keras.io:
#
# 1. the noise is drawn anew for every batch, so the model never sees the same
#    noisy image twice;
# 2. training is a fixed budget of small steps: batch 8, and Adam with a
#    learning rate that decays along a cosine;
# 3. the model is wider (32, then 64 filters down, 64, then 32 up), with one
#    more Conv2D on the 7x7 code;
# 4. the noise is 0.5, a harder task than 0.4;
# 5. keras.io first trains its model to copy clean images, then to denoise;
#    here it learns to denoise from the first step;
# 6. the output layer is a 1x1 convolution, not a 3x3 one.
#
# docs/results.md measures the batch size and the budget. Its scores use the
# 1x1 output layer, which costs a ninth of a 3x3 one; the two were not
# compared. The other changes are not measured against keras.io's recipe. The training images
# lend a tenth, at most 1,000 images, to validation, watched every epoch; the test images are only
# used for the final scores.
#
# `denoise_kit` is this project's helper package: the plumbing that is not the
# lesson (downloads, backups, figures, files). Beside this script it is found
# as it is; anywhere else it must be installed first.

# %%
try:  # First: hides TensorFlow's start-up lines; errors you can fix print as one line, no traceback.
    import denoise_kit.quiet  # noqa: F401
except ModuleNotFoundError as missing:
    if missing.name != "denoise_kit":
        raise
    raise ModuleNotFoundError("denoise_kit, the project's helper package, is not installed: run "
                              "`pip install .` in a clone of the project (Colab: `!pip install "
                              "git+URL-of-the-repository`: README, Notebooks)") from None

import math
import os
import sys
import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers, ops
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from denoise_kit import batches, cli, datasets, hardware, parallel, progress, results, resume

# %% [markdown]
# ## Configuration
#
# The knobs to play with. Edit them here, or replace any of them for one run
# with the flag of the same name: `--noise-factor 0.8`, `--images-per-epoch
# 2000` (`--help` lists them all). An epoch here is a number of noisy images,
# not one pass over the data: at least 7,000, or a sixth of a large training
# set (the cell under "The data" works it out).

# %%
DATASET = "mnist"  # "mnist", "notmnist" or "fashion_mnist".
NOISE_FACTOR = 0.5  # Standard deviation of the Gaussian noise; pixels are in [0, 1].
EPOCHS = 10  # Epochs of IMAGES_PER_EPOCH noisy images; each ends with validation and a backup.
IMAGES_PER_EPOCH: int | None = None  # Noisy images per epoch; None: the rule of the next two lines.
MIN_IMAGES_PER_EPOCH = 7_000  # The rule: at least this many images per epoch...
EPOCH_FRACTION = 1 / 6  # ...or this share of a training set big enough for that to be more.
BATCH_SIZE = 8  # Images per training step: in a fixed budget, more smaller steps learned more.
FILTERS = (32, 64)  # Filters per encoder level (28->14->7); the decoder mirrors them.
KERNEL_SIZE = 3  # Height and width of every convolution kernel.
LEARNING_RATE = 2e-3  # Adam's starting learning rate, decayed to 0 along a cosine.
SEED = 42  # Weights, training noise and shuffling: same seed, same numbers (on one machine).

# %% [markdown]
# How the script runs: validation, the fixed noise of the scored images,
# hardware, files. These change no lesson; they are flags too.

# %%
VALIDATION_FRACTION = 0.1  # Share of the training images kept aside to watch overfitting.
MAX_VALIDATION_IMAGES = 1_000  # Validation images at most: scored every epoch, more only costs time.
VALIDATION_NOISE_SEED = 42  # The validation images' fixed noise: its own seed, whatever SEED is.
TEST_NOISE_SEED = 43  # The test images' fixed noise: every run is scored on the same noisy images.
PRECISION = "auto"  # "float32", "mixed", or "auto": mixed only where the hardware is native.
STEPS_PER_EXECUTION = 16  # Training steps per call into the compiled graph: less Python per step.
LIMIT: int | None = None  # At most this many training images (validation included; same budget).
DATA_DIR: str | None = None  # Dataset folder; None: $DENOISE_DATA_DIR, else data/.
OUTPUT_DIR = "outputs/denoise_transpose_mnist"  # Where the pictures, metrics and model go.
DENOISE: tuple[str, ...] = ()  # Your own PNG/JPEG files: train nothing, denoise them with model.keras.
ADD_NOISE = False  # With DENOISE: add NOISE_FACTOR noise to them first, to see the denoiser at work.
INVERT = False  # With DENOISE: for dark strokes on a light background.
TENSORBOARD = False  # Also log curves and pictures to OUTPUT_DIR/tensorboard/<start time> (see the README).

# %%
# As a program, flags rewrite the UPPERCASE constants above, in place; in a notebook no flags are
# read (after editing a constant, run this cell again: CONFIG is what metrics.json records). Every
# value is checked: a bad one ends the run with one line. While this run goes on, another run
# started into the same OUTPUT_DIR stops here at once, with one line (run the same command again
# after a stop, and it resumes). With DENOISE (--denoise my.png), the script denoises your images
# and stops here.
CONFIG = cli.override_from_flags(globals())

# %% [markdown]
# ## Hardware
#
# On a plain CPU this changes nothing. On a GPU (or a CPU with bfloat16
# units), `PRECISION = "auto"` turns on mixed precision, and several GPUs
# share every batch (data-parallel training): docs/backends-and-devices.md.

# %%
# machine: the precision policy, the number of devices and the steps per execution to use
# (STEPS_PER_EXECUTION on one device with TensorFlow or JAX; 1 on PyTorch or several TF devices).
machine = hardware.configure(PRECISION, batch_size=BATCH_SIZE, steps_per_execution=STEPS_PER_EXECUTION)

# %% [markdown]
# ## The data
#
# `datasets.load_data` gives what `keras.datasets.mnist.load_data()` gives:
# uint8 images of shape (N, 28, 28) and their labels, for training and test.
# It finds the files (data/, $DENOISE_DATA_DIR or DATA_DIR: see
# docs/data.md), downloads them the first time and checks their hashes. A
# folder with only MNIST's 10,000 test images, like the offline copy the tests
# use, works too: the loader then holds out a fixed fifth of them as the test
# set, and says so.

# %%
# The labels are not learned: y_test only picks one test image of each class for the pictures.
(x_train, _), (x_test, y_test) = datasets.load_data(DATASET, DATA_DIR)

# Pixels from 0..255 to float32 in [0, 1], and a channel axis: Conv2D takes (N, 28, 28, 1).
x_train = x_train.astype("float32")[..., np.newaxis] / 255
x_test = x_test.astype("float32")[..., np.newaxis] / 255
x_train = x_train[:LIMIT]  # LIMIT None: all of them.

# Validation: the first tenth of the training images, at most MAX_VALIDATION_IMAGES. With
# several devices each validates an equal share, so their number must divide it.
n_val = min(round(VALIDATION_FRACTION * len(x_train)), MAX_VALIDATION_IMAGES)
n_val = max(machine.devices, n_val - n_val % machine.devices)
x_val, x_train = x_train[:n_val], x_train[n_val:]
print(f"{len(x_train):,} train / {len(x_val):,} validation / {len(x_test):,} test images")

# The training budget follows the data's size, slowly: 7,000 noisy images per epoch,
# or a sixth of a training set over 42,000 images (a full download's 59,000: 9,833).
images_per_epoch = IMAGES_PER_EPOCH or max(MIN_IMAGES_PER_EPOCH, round(EPOCH_FRACTION * len(x_train)))

# %% [markdown]
# ## The noise
#
# Every pixel gets its own Gaussian noise, and clipping keeps the result a
# valid image: `x_noisy = clip(x + NOISE_FACTOR * N(0, 1), 0, 1)`.

# %%
def add_noise(images, noise_factor, seed):
    """x_noisy = clip(x + noise_factor * N(0, 1), 0, 1).

    `seed`: a number gives the same noise at every call; a
    keras.random.SeedGenerator new noise at every call."""
    images = ops.convert_to_tensor(images)
    noise = keras.random.normal(ops.shape(images), seed=seed, dtype=images.dtype)
    return ops.clip(images + noise_factor * noise, 0.0, 1.0)


# The validation and test noise is drawn once, from fixed seeds: every run is
# scored on exactly the same noisy images.
x_val_noisy = ops.convert_to_numpy(add_noise(x_val, NOISE_FACTOR, seed=VALIDATION_NOISE_SEED))
x_test_noisy = ops.convert_to_numpy(add_noise(x_test, NOISE_FACTOR, seed=TEST_NOISE_SEED))

# %% [markdown]
# What the denoiser will learn: noisy images in (bottom row), the clean ones
# out (top row). Eight training images, with one draw of the noise. The small
# drawing function is not the lesson: skip it.

# %%
def show_images(rows, path):
    """One row per (label, images) pair, shown under the cell in a notebook and saved as PNG."""
    fig, axes = plt.subplots(len(rows), len(rows[0][1]), figsize=(1.3 * len(rows[0][1]), 1.4 * len(rows)),
                             squeeze=False)
    for ax_row, (label, images) in zip(axes, rows, strict=True):
        for ax, image in zip(ax_row, images, strict=True):
            ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
        ax_row[0].set_title(label, loc="left", fontsize=9)
    # Saved beside its place, then moved in whole: a crash never leaves half a PNG (the folder goes too).
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as folder:
        fig.savefig(f"{folder}/figure.png", format="png", dpi=100, bbox_inches="tight")
        os.replace(f"{folder}/figure.png", path)
    if "ipykernel" in sys.modules:  # A notebook: the saved PNG under the cell, whatever matplotlib's backend.
        from IPython.display import Image, display

        display(Image(filename=path))
    plt.close(fig)


first_eight = x_train[:8]
first_eight_noisy = ops.convert_to_numpy(add_noise(first_eight, NOISE_FACTOR, seed=SEED))
show_images([("clean (the target)", first_eight), ("noisy (the input)", first_eight_noisy)],
            f"{OUTPUT_DIR}/noisy_inputs.png")

# %% [markdown]
# The training images get new noise every time they are seen, so the model
# never sees the same noisy image twice. A layer in front of the denoiser does
# it, inside the compiled training step; outside training it passes images
# through unchanged. (Keras' own GaussianNoise layer does the same but doesn't
# clip: its noisy pixels leave [0, 1].)

# %%
class FreshNoise(layers.Layer):
    """Adds new noise to every training batch; passes images through otherwise."""

    def __init__(self, noise_factor, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.noise_factor = noise_factor
        # A keras.random.SeedGenerator; on several GPUs each one draws its own noise.
        self.seed_generator = parallel.PerDeviceSeedGenerator(seed)

    def call(self, images, training=False):  # Keras passes training=True inside fit only.
        if not training:
            return images
        return add_noise(images, self.noise_factor, self.seed_generator)


# %% [markdown]
# ## The model
#
# The encoder halves the image at each level with MaxPooling2D; the decoder
# doubles it back with `Conv2DTranspose(strides=2)`, a convolution that learns
# its own upsampling. Its input is `(None, None, 1)`: the saved model denoises
# images of any size that the pooling levels divide (multiples of 4).
#
# A third level (`FILTERS = (32, 64, 128)`) would grow 4x4 back to 32x32: a
# Cropping2D layer then cuts it to 28x28 (none at the default two levels).
#
# A transposed convolution whose kernel size the stride doesn't divide (here
# 3 and 2) covers its output pixels unevenly, and can print a checkerboard
# pattern (Odena et al., "Deconvolution and Checkerboard Artifacts", Distill
# 2016; transpose_demo.py shows it). compare_decoders.py measures none in its
# trained decoders (docs/results.md); this script's own model was not
# measured. `--kernel-size 4` gives a kernel the stride divides.

# %%
def build_autoencoder(input_shape=(None, None, 1), filters=FILTERS, kernel_size=KERNEL_SIZE):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for n in filters:  # Encoder: 28x28 -> 14x14 -> 7x7
        x = layers.Conv2D(n, kernel_size, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(filters[-1], kernel_size, activation="relu", padding="same")(x)  # On the 7x7 code
    for n in reversed(filters):  # Decoder: 7x7 -> 14x14 -> 28x28
        x = layers.Conv2DTranspose(n, kernel_size, strides=2, activation="relu", padding="same")(x)
    # Rows and columns the decoder grows beyond 28: 0 at two levels, 4 at three (such a model
    # takes sizes 28, 36, 44, ...: 28 plus multiples of 8).
    excess = 2 ** len(filters) * math.ceil(28 / 2 ** len(filters)) - 28
    if excess:
        x = layers.Cropping2D(((excess // 2, excess - excess // 2),) * 2)(x)
    # A 1x1 convolution mixes the last feature maps into one grey value per pixel. keras.io's
    # output layer is a 3x3 Conv2D: the 1x1 does a ninth of its multiply-adds, on the
    # full-size image. Sigmoid keeps pixels in [0, 1]; under mixed precision, dtype="float32"
    # keeps this last layer (the sigmoid and the loss) in full precision.
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="denoiser")


# A copy built for 28x28 images, only to show the shapes: 28 -> 14 -> 7 -> 14 -> 28.
# The one trained below takes any size.
build_autoencoder(input_shape=(28, 28, 1)).summary()

# %% [markdown]
# ## Training
#
# The model that is trained is FreshNoise followed by the denoiser: `fit`
# gives it clean images, FreshNoise turns each batch into noisy images, the
# denoiser cleans them, and the loss compares its output with the clean
# targets. So `fit` gets (clean, clean) pairs, and the denoiser still learns
# noisy in, clean out. Validation gives the fixed noisy images as inputs
# (FreshNoise passes them through), against their clean versions. Besides the
# loss, Keras reports PSNR, the peak signal-to-noise ratio in dB (higher is
# closer to the clean image): the score a learner reads in the progress bar.
#
# First the bookkeeping, which is not the lesson: the training images come as
# an endless shuffled stream, pass after pass, cut into epochs of a fixed
# number of noisy images whatever the dataset's size. The callbacks back the
# run up after every epoch (stop it, run the same command again, and it
# resumes), log every epoch, stop on a NaN loss, and draw the denoiser's
# progress. With `TENSORBOARD = True` (`--tensorboard`), Keras' TensorBoard
# callback also logs the loss, PSNR and learning rate per epoch, and
# ProgressSnapshots logs a picture of the validation images each epoch: view
# them with `tensorboard --logdir outputs` (in a notebook: `%load_ext
# tensorboard`, then `%tensorboard --logdir outputs`).

# %%
# About images_per_epoch images, rounded to whole calls of steps_per_execution steps (Keras
# always runs a call whole).
executions = max(1, round(images_per_epoch / (BATCH_SIZE * machine.steps_per_execution)))
steps_per_epoch = executions * machine.steps_per_execution
# What the backup checks before it resumes a run, and metrics.json records.
settings = {**CONFIG, "images_per_epoch": images_per_epoch,
            "trained_images_per_epoch": steps_per_epoch * BATCH_SIZE,
            "policy": machine.policy, "steps_per_execution": machine.steps_per_execution}
title = f"Conv2DTranspose denoiser on {DATASET}, noise {NOISE_FACTOR:g}"

# Keras' BackupAndRestore, made safe against a kill mid-save, that also restores FreshNoise's
# random state: resumes a stopped run (with the same settings: others get one line).
backup = resume.KillProofBackupAndRestore(OUTPUT_DIR, settings)
# OUTPUT_DIR/tensorboard/<start time>: the backup keeps the run's name, so a resumed run logs on there.
tensorboard_dir = backup.tensorboard_dir if TENSORBOARD else None
callbacks = [
    backup,  # First: the backup is on disk before the log says the epoch is done.
    # progress.png; it also adds each epoch's seconds to the logs, so it goes before the CSVLogger.
    progress.ProgressSnapshots(x_val, x_val_noisy, OUTPUT_DIR, title=title,
                               tensorboard_dir=tensorboard_dir),  # With TENSORBOARD: a picture per epoch.
    keras.callbacks.CSVLogger(f"{OUTPUT_DIR}/training_log.csv", append=backup.resuming),
    keras.callbacks.TerminateOnNaN(),
]
if TENSORBOARD:  # Per epoch: loss, PSNR and their validation values, the learning rate, epoch_seconds.
    callbacks.append(keras.callbacks.TensorBoard(log_dir=tensorboard_dir))
# A resumed run picks the stream up where it stopped: the same batches as an unbroken run.
clean_batches = batches.image_batches(x_train, batch_size=BATCH_SIZE, seed=SEED,
                                      first_step=backup.finished_epochs * steps_per_epoch)

# %% [markdown]
# Then the lesson: the seed, the model, `compile` and `fit`.

# %%
keras.utils.set_random_seed(SEED)  # The same starting weights (noise and order take SEED themselves).
denoiser = build_autoencoder()
# The trainer: noise, then the denoiser. Training it trains the denoiser's own weights.
trainer = keras.Sequential([keras.Input(shape=(28, 28, 1)), FreshNoise(NOISE_FACTOR, seed=SEED), denoiser],
                           name="fresh_noise_training")
trainer.compile(
    optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE,
                                                                           EPOCHS * steps_per_epoch)),
    # Binary cross-entropy, as keras.io uses: pixels in [0, 1] as targets.
    loss="binary_crossentropy",
    metrics=[progress.psnr_metric],  # What a learner cares about, in dB, in the progress bar.
    steps_per_execution=machine.steps_per_execution,
)
trainer.fit(
    clean_batches,  # (clean, clean) pairs: FreshNoise, inside the trainer, makes the noisy inputs.
    steps_per_epoch=steps_per_epoch,
    epochs=EPOCHS,
    shuffle=False,  # The stream is already shuffled.
    validation_data=(x_val_noisy, x_val),  # Noisy in, clean out: FreshNoise passes them through.
    callbacks=callbacks,
)

# %% [markdown]
# ## Results
#
# How much cleaner is the test set? Two scores from scikit-image, for the
# noisy and the denoised test images against the clean ones, averaged over
# the images: PSNR (peak signal-to-noise ratio, in dB: higher is closer to
# the clean image) and SSIM (structural similarity, 1 for a perfect match).
# With the defaults, on the offline MNIST copy (2,000 test digits), float32 on
# a 2-core AMD EPYC: noisy 9.38 dB and SSIM 0.412, denoised 20.06 dB and
# 0.863 (docs/results.md). To score on that same copy, point DATA_DIR (or
# $DENOISE_DATA_DIR) at a folder holding only MNIST's test files (docs/data.md);
# a downloaded MNIST trains on more digits and is scored on 10,000 test digits,
# and its numbers are not measured here.

# %%
# The denoiser alone (no FreshNoise), with the weights the trainer just trained.
x_test_denoised = denoiser.predict(x_test_noisy, batch_size=256, verbose=0)


def mean_psnr_and_ssim(clean, images):
    """Mean PSNR and SSIM over a set of images; pixels in [0, 1]."""
    psnr = [peak_signal_noise_ratio(c, i, data_range=1.0) for c, i in zip(clean, images, strict=True)]
    # SSIM as Wang et al. (2004) define it, and tf.image.ssim computes it: an 11x11 Gaussian window.
    ssim = [structural_similarity(c[..., 0], i[..., 0], data_range=1.0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False) for c, i in zip(clean, images, strict=True)]
    return float(np.mean(psnr)), float(np.mean(ssim))


psnr_noisy, ssim_noisy = mean_psnr_and_ssim(x_test, x_test_noisy)
psnr_denoised, ssim_denoised = mean_psnr_and_ssim(x_test, x_test_denoised)
scores = {"psnr_noisy": psnr_noisy, "psnr_denoised": psnr_denoised,
          "ssim_noisy": ssim_noisy, "ssim_denoised": ssim_denoised}

# Shows and writes reconstructions.png (clean, noisy and denoised test images: y_test, the labels,
# picks one of each class), history.png, model.keras and metrics.json, then prints the closing
# table of these scores. A loss that became NaN (TerminateOnNaN) ends the run here instead, with
# one line.
results.save(OUTPUT_DIR, denoiser, scores, x_test, x_test_noisy, x_test_denoised, y_test,
             train_images=len(x_train), settings=settings, device=machine.description, title=title)

# %% [markdown]
# ## Your own image
#
# The denoiser has no Dense layer: only convolutions and pooling, so the
# model trained on 28x28 digits takes other sizes too (any multiple of 4 with
# two pooling levels; 28, 36, 44, ... with three). The saved model holds its
# own architecture: two lines denoise any batch of such images.
#
#     denoiser = keras.saving.load_model("outputs/denoise_transpose_mnist/model.keras")
#     denoised = denoiser.predict(noisy_images)  # (N, H, W, 1) in, the same shape out
#
# Here, three noisy test digits side by side make one 28x84 image. For your
# own PNG or JPEG files: `python denoise_transpose_mnist.py --denoise
# my_digit.png --add-noise` (light strokes on a dark background, as MNIST has;
# `--invert` for dark on light).

# %%
saved_denoiser = keras.saving.load_model(f"{OUTPUT_DIR}/model.keras")
three_noisy = np.concatenate(x_test_noisy[:3], axis=1)  # (28, 84, 1): three digits side by side.
three_clean = np.concatenate(x_test[:3], axis=1)
three_denoised = saved_denoiser.predict(three_noisy[np.newaxis], verbose=0)[0]  # A batch of one image.
noisy_db = peak_signal_noise_ratio(three_clean, three_noisy, data_range=1.0)  # Pixels in [0, 1].
denoised_db = peak_signal_noise_ratio(three_clean, three_denoised, data_range=1.0)
print(f"One {three_noisy.shape[0]}x{three_noisy.shape[1]} image: noisy {noisy_db:.2f} dB "
      f"-> denoised {denoised_db:.2f} dB")

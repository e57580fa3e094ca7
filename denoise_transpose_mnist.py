"""
Title: Denoising MNIST digits with a Conv2DTranspose autoencoder
Description: A convolutional autoencoder learns to remove Gaussian noise from
handwritten digits. Conv2D + MaxPooling2D shrink the image to a small code;
strided Conv2DTranspose layers learn to grow it back, noise-free.
Accelerator: optional (a CPU trains it in about two minutes)

Run it:
    python denoise_transpose_mnist.py                       # the tuned defaults below
    python denoise_transpose_mnist.py --noise-factor 0.8    # a harder task
    python denoise_transpose_mnist.py --epochs 2 --images-per-epoch 2000   # a quick look
    python denoise_transpose_mnist.py --denoise my_digit.png --add-noise   # your own image

It writes reconstructions.png, progress.png, history.png, metrics.json,
training_log.csv and model.keras to outputs/denoise_transpose_mnist/ (and, with --tensorboard, a
tensorboard/ folder). Stop it
at any time (Ctrl-C) and run the same command again: training resumes from
the last finished epoch and ends with the numbers an unbroken run gives.
Open it as a notebook to run it cell by cell: `jupytext --to ipynb
denoise_transpose_mnist.py`, or VS Code's "Run Cell".
"""

# %% [markdown]
# ## Setup
#
# How this differs from the keras.io example (which trains 28x28 MNIST with
# noise 0.4 drawn once, batch 128 and plain "adam"): the noise is drawn anew
# for every batch (the model never sees the same noisy image twice, so it
# overfits less), training is a fixed budget of small steps (batch 8, Adam
# with a cosine-decayed learning rate: more, smaller steps learn more in the
# same time), and the encoder is wider (32, then 64 filters) with one more
# Conv2D on the 7x7 code. The noise is 0.5 (a harder task than 0.4); there
# is no first clean-to-clean training; validation images come from the
# training split, and the test set is kept for the final scores. The numbers
# behind these choices are in docs/results.md.

# %%
import math

# First: hides TensorFlow's start-up lines, and shows an error you can fix (a bad setting,
# missing data, a full disk) as one line instead of a traceback.
import denoise_kit.quiet  # noqa: F401

import keras
import numpy as np
from keras import layers, ops
from skimage.metrics import peak_signal_noise_ratio  # For your own image, in the last cell.

from denoise_kit import batches, cli, datasets, hardware, parallel, progress, results, resume

# %% [markdown]
# ## Configuration
#
# The knobs to play with. Edit them here, or replace any of them for one run
# with the flag of the same name: `--noise-factor 0.8`, `--images-per-epoch
# 2000` (`--help` lists them all). An epoch here is a number of noisy images,
# not one pass over the data: the budget stays the same whatever the
# dataset's size (a full 60,000-image download or the 10,000-image offline copy).

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

# How it runs: validation, seeds, hardware, files.
VALIDATION_FRACTION = 0.1  # Share of the training images kept aside to watch overfitting.
MAX_VALIDATION_IMAGES = 1_000  # Validation images at most: scored every epoch, more only costs time.
SEED = 42  # Weights, training noise and shuffling: same seed, same numbers (on one machine).
VALIDATION_NOISE_SEED = 42  # The validation images' fixed noise: its own seed, whatever SEED is.
TEST_NOISE_SEED = 43  # The test images' fixed noise: every run is scored on the same noisy images.
PRECISION = "auto"  # "float32", "mixed", or "auto": mixed only where the hardware is native.
STEPS_PER_EXECUTION = 16  # Training steps per call into the compiled graph: less Python per step.
LIMIT: int | None = None  # Use at most this many images (fewer distinct ones, same budget); None: all.
DATA_DIR: str | None = None  # Dataset folder; None: $DENOISE_DATA_DIR, else data/.
OUTPUT_DIR = "outputs/denoise_transpose_mnist"  # Where the pictures, metrics and model go.
DENOISE: tuple[str, ...] = ()  # Your own PNG/JPEG files: train nothing, denoise them with model.keras.
ADD_NOISE = False  # With DENOISE: add NOISE_FACTOR noise to them first, to see the denoiser at work.
INVERT = False  # With DENOISE: for dark strokes on a light background.
TENSORBOARD = False  # Also log curves and pictures to OUTPUT_DIR/tensorboard/<start time> (see the README).

# %%
# Flags rewrite the UPPERCASE constants above for one run, in place (in a notebook no flags are
# read: the cell above is the configuration). Every value is checked: a bad one ends the run
# with one line. With DENOISE (--denoise my.png), the script denoises your images and stops here.
CONFIG = cli.override_from_flags(globals())

# %% [markdown]
# ## Hardware
#
# `"auto"` precision computes in mixed precision (bfloat16 or float16, with
# float32 weights) only where the hardware does it natively: a GPU, or a CPU
# with AVX512-BF16 or AMX. Elsewhere emulated bfloat16 would only be slower.
# With several GPUs, every model built from here on trains data-parallel:
# each GPU gets an equal share of every batch (so the batch size must divide
# by their number). On PyTorch, and on TensorFlow over several devices, Keras
# can't run several steps per call into the graph: the steps per execution drop to 1.

# %%
machine = hardware.configure(PRECISION, batch_size=BATCH_SIZE, steps_per_execution=STEPS_PER_EXECUTION)

# %% [markdown]
# ## The data
#
# Images as float32 in [0, 1], shape (N, 28, 28, 1). A tenth of the training
# images, at most MAX_VALIDATION_IMAGES, is kept aside for validation; the test set is only used for the final
# scores. The first run downloads MNIST into data/ (or reads the folder in
# $DENOISE_DATA_DIR or DATA_DIR: see docs/data.md). A folder that holds only
# MNIST's 10,000 test images, like the offline copy the tests use, works too:
# the loader then holds out a fixed fifth of them as the test set, and says so.

# %%
data = datasets.denoising_splits(DATASET, DATA_DIR, limit=LIMIT, validation_fraction=VALIDATION_FRACTION,
                                 max_validation=MAX_VALIDATION_IMAGES,
                                 shared_by=machine.devices)  # Validation: an equal share per device.
print(f"{len(data.x_train):,} train / {len(data.x_val):,} validation / {len(data.x_test):,} test images")

# The training budget follows the data's size, slowly: 7,000 noisy images per epoch,
# or a sixth of a training set over 42,000 images (a full download's 59,000: 9,833).
images_per_epoch = IMAGES_PER_EPOCH or max(MIN_IMAGES_PER_EPOCH, round(EPOCH_FRACTION * len(data.x_train)))

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
x_val_noisy = ops.convert_to_numpy(add_noise(data.x_val, NOISE_FACTOR, seed=VALIDATION_NOISE_SEED))
x_test_noisy = ops.convert_to_numpy(add_noise(data.x_test, NOISE_FACTOR, seed=TEST_NOISE_SEED))

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
    # 0 at the default two levels (no layer added). Three levels: 28 pools to 14, 7, then 4
    # ("same" pooling rounds up) and grows back to 32, so crop the extra 4; such a model
    # takes sizes 28, 36, 44, ... (28 plus multiples of 8).
    excess = 2 ** len(filters) * math.ceil(28 / 2 ** len(filters)) - 28
    if excess:
        x = layers.Cropping2D(((excess // 2, excess - excess // 2),) * 2)(x)
    # A 1x1 convolution mixes the last feature maps into one grey value per pixel
    # (a ninth of the multiply-adds of the posts' 3x3, on the full-size image). Sigmoid keeps
    # pixels in [0, 1]; float32 keeps the output exact under mixed precision.
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
# (FreshNoise passes them through), against their clean versions.
#
# The training images come as an endless shuffled stream, pass after pass,
# cut into epochs of `images_per_epoch` noisy images whatever the dataset's
# size. The callbacks back the run up after every epoch (stop it, run the same
# command again, and it resumes), log every epoch, stop on a NaN loss, and
# draw the denoiser's progress. With `TENSORBOARD = True` (`--tensorboard`),
# Keras' TensorBoard callback also logs the loss, PSNR and learning rate per
# epoch, and ProgressSnapshots a picture of its validation images: view them
# with `tensorboard --logdir outputs` (in a notebook: `%load_ext tensorboard`,
# then `%tensorboard --logdir outputs`).

# %%
# Keras runs `steps_per_execution` steps per call into the compiled graph and always whole
# calls, so an epoch is a whole number of them (any other count would train more steps than
# an epoch says): about images_per_epoch images.
executions = max(1, round(images_per_epoch / (BATCH_SIZE * machine.steps_per_execution)))
steps_per_epoch = executions * machine.steps_per_execution
# What the backup checks before it resumes a run, and metrics.json records.
settings = {**CONFIG, "images_per_epoch": images_per_epoch,
            "trained_images_per_epoch": steps_per_epoch * BATCH_SIZE,
            "policy": machine.policy, "steps_per_execution": machine.steps_per_execution}
title = f"Conv2DTranspose denoiser on {DATASET}, noise {NOISE_FACTOR:g}"

# Keras' BackupAndRestore, made safe against a kill mid-save, that also restores FreshNoise's
# random state: resumes a stopped run (with the same settings: others get one line), and keeps
# OUTPUT_DIR for this run alone (a second run into it gets one line).
backup = resume.KillProofBackupAndRestore(OUTPUT_DIR, settings)
# OUTPUT_DIR/tensorboard/<start time>: the backup keeps the run's name, so a resumed run logs on there.
tensorboard_dir = backup.tensorboard_dir if TENSORBOARD else None
callbacks = [
    backup,  # First: the backup is on disk before the log says the epoch is done.
    # progress.png; it also adds each epoch's seconds to the logs, so it goes before the CSVLogger.
    progress.ProgressSnapshots(data.x_val, x_val_noisy, OUTPUT_DIR, title=title,
                               tensorboard_dir=tensorboard_dir),  # With TENSORBOARD: a picture per epoch.
    keras.callbacks.CSVLogger(f"{OUTPUT_DIR}/training_log.csv", append=backup.resuming),
    keras.callbacks.TerminateOnNaN(),
]
if TENSORBOARD:  # Per epoch: loss, PSNR and their validation values, the learning rate, epoch_seconds.
    callbacks.append(keras.callbacks.TensorBoard(log_dir=tensorboard_dir))
# A resumed run picks the stream up where it stopped: the same batches as an unbroken run.
clean_batches = batches.image_batches(data.x_train, batch_size=BATCH_SIZE, seed=SEED,
                                      first_step=backup.finished_epochs * steps_per_epoch)

keras.utils.set_random_seed(SEED)  # The same starting weights (noise and order take SEED themselves).
denoiser = build_autoencoder()
# The trainer: noise, then the denoiser. Training it trains the denoiser's own weights.
trainer = keras.Sequential([keras.Input(shape=(28, 28, 1)), FreshNoise(NOISE_FACTOR, seed=SEED), denoiser],
                           name="fresh_noise_training")
trainer.compile(
    optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE,
                                                                           EPOCHS * steps_per_epoch)),
    # Cross-entropy, as in the posts: it pulls background pixels firmly to 0 and strokes to 1.
    loss="binary_crossentropy",
    metrics=[progress.psnr_metric],  # What a learner cares about, in dB, in the progress bar.
    steps_per_execution=machine.steps_per_execution,
)
trainer.fit(
    clean_batches,  # (clean, clean) pairs: FreshNoise, inside the trainer, makes the noisy inputs.
    steps_per_epoch=steps_per_epoch,
    epochs=EPOCHS,
    shuffle=False,  # The stream is already shuffled.
    validation_data=(x_val_noisy, data.x_val),  # Noisy in, clean out: FreshNoise passes them through.
    callbacks=callbacks,
)

# %% [markdown]
# ## Results
#
# How much cleaner is the test set? PSNR (peak signal-to-noise ratio, in dB:
# higher is closer to the clean image) and SSIM (structural similarity, 1 for
# a perfect match) of the noisy and the denoised test images, and the pictures.

# %%
# The denoiser alone (no FreshNoise), with the weights the trainer just trained.
x_test_denoised = denoiser.predict(x_test_noisy, batch_size=256, verbose=0)
# Scores them, prints the table, and writes reconstructions.png, history.png, model.keras and
# metrics.json; a loss that became NaN (TerminateOnNaN) ends the run here instead, with one line.
results.score_and_save(OUTPUT_DIR, denoiser, data, x_test_noisy, x_test_denoised,
                       settings=settings, device=machine.description, title=title)

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
three_clean = np.concatenate(data.x_test[:3], axis=1)
three_denoised = saved_denoiser.predict(three_noisy[np.newaxis], verbose=0)[0]  # A batch of one image.
noisy_db = peak_signal_noise_ratio(three_clean, three_noisy, data_range=1.0)  # Pixels in [0, 1].
denoised_db = peak_signal_noise_ratio(three_clean, three_denoised, data_range=1.0)
print(f"One {three_noisy.shape[0]}x{three_noisy.shape[1]} image: noisy {noisy_db:.2f} dB "
      f"-> denoised {denoised_db:.2f} dB")

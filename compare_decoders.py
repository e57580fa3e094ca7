"""
Title: UpSampling2D or Conv2DTranspose? A measured answer
Description: Trains the same denoising autoencoder with four decoders (same
encoder, same number of parameters within 5%, same data, noise and training
budget) with the same seeds, scores them against classical denoisers on the
same noisy test images, and says which wins and whether the difference is
larger than the seed-to-seed spread.
Accelerator: optional (a 2-core CPU took 16 minutes for the 12 trainings, 4 decoders x 3
seeds, while another job shared it: a rough time, docs/speed.md)

"The scripts" below are denoise_transpose_mnist.py and
denoise_upsampling_notmnist.py: the keras.io denoising autoencoder with a
wider encoder (32 then 64 filters, and one more Conv2D on the 7x7 code),
fresh noise for every batch and a 1x1 output layer. This notebook keeps their encoder, loss,
optimizer and fresh noise, gives every decoder one smaller budget (5 epochs
of 8,000 images at batch 16) and the UpSampling2D script's decoder widths,
and changes only how the decoder upsamples.

Run it:
    python compare_decoders.py                      # MNIST, 5 x 8,000 images, 3 seeds
    python compare_decoders.py --dataset notmnist --noise-factor 0.3
    python compare_decoders.py --noise-factors 0.2,0.5,0.8   # how it changes with the noise
    python compare_decoders.py --limit 1000 --epochs 2 --seeds 1   # a quick look

It writes results.md, results.json, comparison.png (one per noise level with
--noise-factors), artifacts.png and, for several noise levels,
psnr_vs_noise.png to outputs/compare_decoders/. Every finished training is
saved in progress.json there: stop it at any time (Ctrl-C) and run the same
command again to train only the rest. Open it as a notebook to run it cell by
cell: `jupytext --to ipynb compare_decoders.py`, or VS Code's "Run Cell".
"""

# %% [markdown]
# ## Setup

# %%
try:  # First: hides TensorFlow's start-up lines, and shows an error you can fix as one line.
    import denoise_kit.quiet  # noqa: F401
except ModuleNotFoundError as missing:
    if missing.name != "denoise_kit":
        raise
    raise ModuleNotFoundError("denoise_kit, the project's helper package, is not installed: run "
                              "`pip install .` in a clone of the project (Colab: `!pip install "
                              "git+URL-of-the-repository`: README, Notebooks)") from None

import keras
from keras import layers, ops

from denoise_kit import batches, cli, comparison, datasets, hardware, parallel, progress, timing

# %% [markdown]
# ## Configuration
#
# One training budget for every decoder, and the seeds they all train with.
# Edit the constants here, or replace any of them for one run with the flag of
# the same name: `--seeds 5`, `--noise-factors 0.2,0.5,0.8` (`--help` lists
# them all).

# %%
DATASET = "mnist"  # "mnist", "notmnist" or "fashion_mnist".
NOISE_FACTOR = 0.5  # Standard deviation of the Gaussian noise; pixels are in [0, 1].
NOISE_FACTORS: tuple[float, ...] | None = None  # Noise levels to compare at instead, e.g. 0.2,0.5,0.8.
EPOCHS = 5  # Training rounds of every decoder: the same budget for each.
IMAGES_PER_EPOCH = 8_000  # Noisy images per epoch, whatever the dataset's size.
BATCH_SIZE = 16  # Images per step (not the Conv2DTranspose script's 8: 4 decoders x 3 seeds train faster).
LEARNING_RATE = 2e-3  # Adam's starting learning rate, decayed to 0 along a cosine, as in the scripts.
SEEDS = 3  # Trainings per decoder, the same seeds for each; their spread decides what counts as a tie.
SEED = 42  # First training seed; the others follow it (SEED + 1, ...).
TEST_NOISE_SEED = 43  # Seed of the test images' noise: the scripts' noisy test images, whatever SEED is.
TUNING_NOISE_SEED = 44  # The noisy training images the classical filters are tuned on.
TUNING_IMAGES = 300  # Training images used to tune each classical filter's parameter.
SHOWN = 8  # Test images shown in comparison.png.
INFERENCE_BATCH = 256  # Images per predict step when scoring the test set.
PRECISION = "auto"  # "float32", "mixed", or "auto": mixed only where the hardware is native.
STEPS_PER_EXECUTION = 16  # Training steps per call into the compiled graph: less Python per step.
LIMIT: int | None = None  # Train on at most this many images (a quick look); None: all of them.
DATA_DIR: str | None = None  # Dataset folder; None: $DENOISE_DATA_DIR, else data/.
OUTPUT_DIR = "outputs/compare_decoders"  # Where the results, the pictures and progress.json go.
TENSORBOARD = False  # Also log every training to OUTPUT_DIR/tensorboard (`tensorboard --logdir outputs`).

# %%
# Flags replace the constants for one run, each value is checked (a bad one: one line, exit 2).
# In a notebook, nothing changes.
CONFIG = cli.override_from_flags(globals())

# %% [markdown]
# ## Hardware
#
# As in the scripts: mixed precision only where the hardware computes it
# natively, and with several GPUs every model trains data-parallel.

# %%
machine = hardware.configure(PRECISION, batch_size=BATCH_SIZE, steps_per_execution=STEPS_PER_EXECUTION)

# %% [markdown]
# ## The data
#
# The scripts' images, float32 in [0, 1], shape (N, 28, 28, 1). Every decoder
# trains on the same images, for the same number of steps.

# %%
# The scripts' split: the first tenth of the training images is held out for validation (unused
# here), so every decoder trains on exactly the scripts' training images. shared_by: with several
# devices, that tenth is rounded to a multiple of their number, as in the scripts.
data = datasets.denoising_splits(DATASET, DATA_DIR, limit=LIMIT, shared_by=machine.devices)

# About IMAGES_PER_EPOCH images: a whole number of executions (Keras runs each one in full).
steps_per_epoch = batches.steps_per_epoch(IMAGES_PER_EPOCH, BATCH_SIZE, machine.steps_per_execution)

# %% [markdown]
# ## The noise
#
# The scripts' noise, `x_noisy = clip(x + NOISE_FACTOR * N(0, 1), 0, 1)`. The
# test images get it once, from a fixed seed: every method is scored on the
# same noisy images, at each noise level.

# %%
def add_noise(images, noise_factor, seed):
    """x_noisy = clip(x + noise_factor * N(0, 1), 0, 1)."""
    images = ops.convert_to_tensor(images)
    noise = keras.random.normal(ops.shape(images), seed=seed, dtype=images.dtype)
    return ops.clip(images + noise_factor * noise, 0.0, 1.0)


noise_factors = sorted(set(NOISE_FACTORS or (NOISE_FACTOR,)))
x_test_noisy = {noise: ops.convert_to_numpy(add_noise(data.x_test, noise, seed=TEST_NOISE_SEED))
                for noise in noise_factors}

# %% [markdown]
# The training images get new noise every time they are seen, from a layer in
# front of the denoiser, inside the compiled training step.

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
# ## Four decoders behind one encoder
#
# Every model has the scripts' encoder: Conv2D + MaxPooling2D per level
# (28 -> 14 -> 7) and a bottleneck Conv2D. Only the way back up changes:
#
# - `Conv2DTranspose(strides=2)` learns its own upsampling, with a 3x3 or a
#   4x4 kernel (a kernel the stride divides: often suggested against
#   checkerboard patterns, though Distill finds it not always enough);
# - `UpSampling2D` repeats pixels (nearest) or interpolates them (bilinear),
#   and a Conv2D after it learns what to draw.
#
# All four decoders are 32 then 16 filters wide (the UpSampling2D script's
# widths); the 4x4 kernel gets 18 filters first instead of 32, so that all
# four have the same number of parameters within 5% (4*4*64*18 weights
# instead of 3*3*64*32; the table prints each count). The same 1x1 sigmoid Conv2D makes
# the output.

# %%
def encoder(inputs, filters=(32, 64), kernel_size=3):
    """The scripts' encoder: 28x28 -> 14x14 -> 7x7, then the bottleneck."""
    x = inputs
    for n in filters:
        x = layers.Conv2D(n, kernel_size, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    return layers.Conv2D(filters[-1], kernel_size, activation="relu", padding="same")(x)


def denoiser_from(inputs, x):
    # One grey value per pixel, in [0, 1]; float32 keeps the output exact under mixed precision.
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="denoiser")


def build_transpose(kernel_size=3, decoder_filters=(32, 16)):
    inputs = keras.Input(shape=(None, None, 1))
    x = encoder(inputs)
    for n in decoder_filters:  # 7x7 -> 14x14 -> 28x28, a learned upsampling
        x = layers.Conv2DTranspose(n, kernel_size, strides=2, activation="relu", padding="same")(x)
    return denoiser_from(inputs, x)


def build_upsampling(interpolation, decoder_filters=(32, 16), kernel_size=3):
    inputs = keras.Input(shape=(None, None, 1))
    x = encoder(inputs)
    for n in decoder_filters:  # 7x7 -> 14x14 -> 28x28: fixed upsampling, then a learned convolution
        x = layers.UpSampling2D(2, interpolation=interpolation)(x)
        x = layers.Conv2D(n, kernel_size, activation="relu", padding="same")(x)
    return denoiser_from(inputs, x)


DECODERS = {
    "Conv2DTranspose k3 s2": lambda: build_transpose(kernel_size=3),
    "Conv2DTranspose k4 s2": lambda: build_transpose(kernel_size=4, decoder_filters=(18, 16)),
    "UpSampling2D nearest + Conv2D": lambda: build_upsampling("nearest"),
    "UpSampling2D bilinear + Conv2D": lambda: build_upsampling("bilinear"),
}

# %% [markdown]
# ## Finished work, saved as it is done
#
# progress.json in OUTPUT_DIR holds every classical score and every finished
# training, under the settings they were made with. Stop the comparison at any
# time and run it again: only what is missing is trained. More seeds or
# another noise level only add trainings; other settings start afresh.

# %%
# The ledger: every classical score and finished training, kept in progress.json; write_results
# reads it at the end.
run = comparison.Comparison(CONFIG, machine, data, x_test_noisy, decoders=list(DECODERS),
                            images_per_epoch=steps_per_epoch * BATCH_SIZE)  # As trained, after rounding.

# %% [markdown]
# ## The yardstick: classical denoisers
#
# No post has these. They answer another question: is either decoder worth
# training at all, against a filter that needs no training? Each has one
# parameter, picked for the best mean PSNR on TUNING_IMAGES noisy training
# images (with noise of their own): the median filter its window size, the
# Gaussian filter its sigma, total variation (smooths while keeping edges)
# its weight, the wavelet filter (drops small wavelet coefficients) its noise
# sigma, non-local means (averages similar patches) its h, a multiple of the
# estimated noise. BM3D joins them if installed.

# %%
x_tuning = data.x_train[:TUNING_IMAGES]
x_tuning_noisy = {noise: ops.convert_to_numpy(add_noise(x_tuning, noise, seed=TUNING_NOISE_SEED))
                  for noise in noise_factors}
run.score_classical_filters(x_tuning, x_tuning_noisy)

# %% [markdown]
# ## Training every decoder with every seed
#
# Each training is the scripts' own: clean images in and out of `fit`, the
# FreshNoise layer making the noisy inputs, binary cross-entropy, Adam with a
# cosine decay. Setting the seed first gives every decoder the same luck: the
# same noise and the same order of images. The timer leaves out the time spent
# building and tracing the graph; then the trained denoiser cleans the same
# noisy test images as every other method.

# %%
print(f"\nTraining {len(DECODERS)} decoders x {SEEDS} seed(s) x {len(noise_factors)} noise level(s), "
      f"{EPOCHS} epoch(s) each, on {keras.backend.backend()}, {machine.description}: "
      f"{len(data.x_train):,} train / {len(data.x_test):,} test images", flush=True)
for noise_factor, name, seed in run.trainings_to_do():  # Only those progress.json lacks.
    keras.utils.set_random_seed(seed)
    denoiser = DECODERS[name]()
    # The trainer wraps the denoiser (the same weights): the denoiser alone is scored below.
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), FreshNoise(noise_factor, seed=seed), denoiser],
                             name="fresh_noise_training")
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE,
                                                                               EPOCHS * steps_per_epoch)),
        loss="binary_crossentropy",
        metrics=[progress.psnr_metric],  # The scripts' metric too: the same work per step as theirs.
        steps_per_execution=machine.steps_per_execution,
    )
    timer = timing.WarmTimer()
    callbacks = [timer]
    if TENSORBOARD:  # One TensorBoard run per training: loss, PSNR and the learning rate per epoch.
        callbacks.append(keras.callbacks.TensorBoard(run.tensorboard_dir(noise_factor, name, seed)))
    model.fit(batches.image_batches(data.x_train, batch_size=BATCH_SIZE, seed=seed),  # (clean, clean) pairs
              steps_per_epoch=steps_per_epoch, epochs=EPOCHS, shuffle=False,  # The stream is shuffled.
              verbose=0, callbacks=callbacks)
    x_denoised, inference_ms = timing.predict_timed(denoiser, x_test_noisy[noise_factor], INFERENCE_BATCH)
    # Scores x_denoised (PSNR, SSIM, checkerboard share) and records it in progress.json.
    run.save_training(noise_factor, name, seed, denoiser, x_denoised, timer.seconds, inference_ms)

# %% [markdown]
# ## The answer
#
# A gap between two decoders counts only when it is larger than what changing
# the seed does: both are compared seed by seed, and a difference whose 95%
# confidence interval includes 0 is a tie. The table also says how fast each
# one trains and denoises, and its checkerboard. For that, each test image's
# error is Fourier-transformed: of a 28x28 image's 783 non-constant
# frequencies, 15 are patterns that repeat every 2 or 4 pixels (what stride-2
# upsampling can leave), along rows, columns or both. White noise spreads its
# power evenly, so 15/783 = 0.019 of it lands there: near that means no
# pattern, several times more a pattern, far below an error smoother than
# noise (artifacts.png shows where; details in docs/how-it-works.md, "How
# compare_decoders.py decides").
#
# At the defaults (docs/results.md, 3 seeds), UpSampling2D nearest + Conv2D
# scored best, 19.34 dB, with Conv2DTranspose kernel 4 0.09 dB behind, kernel
# 3 0.13 dB and bilinear upsampling 0.48 dB, each gap beyond the seed spread,
# and no decoder left a checkerboard. MachineCurve's post found
# Conv2DTranspose clearly better, but its two models differ in size and
# design (benchmarks/machinecurve_autoencoders.py); with equal parameters the
# gap here is a tenth of a dB, the other way.

# %%
# Per noise level: mean and standard deviation over the seeds, the paired 95% intervals (t with
# SEEDS - 1 degrees of freedom) and the verdict; results.md, results.json, comparison.png, artifacts.png.
summary = comparison.write_results(run)
print(summary)  # Each noise level's table and verdict.

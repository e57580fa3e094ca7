"""
Title: UpSampling2D or Conv2DTranspose? A measured answer
Description: Trains the denoisers' autoencoder (denoise_transpose_mnist.py,
denoise_upsampling_notmnist.py) with four decoders: the same encoder, data,
noise, training budget and seeds, parameter counts within 0.02%. Scores them
against classical denoisers on the same noisy test images, and says which wins
and which gaps, paired seed by seed, are ties.
Accelerator: optional (16 minutes on a 2-core CPU, slowed by another job: docs/speed.md)

Run it:
    python compare_decoders.py                      # MNIST: 4 decoders x 3 seeds x 5 epochs of 7,936 images
    python compare_decoders.py --dataset notmnist
    python compare_decoders.py --noise-factors 0.2,0.5,0.8   # how it changes with the noise
    python compare_decoders.py --epochs 2 --images-per-epoch 1024 --seeds 1   # a quick look, no verdict
"""

# %% [markdown]
# ## Setup

# %%
try:  # First: hides TensorFlow's start-up lines, and turns errors you can fix into one line.
    import denoise_kit.quiet  # noqa: F401
except ModuleNotFoundError as missing:
    if missing.name != "denoise_kit":
        raise
    raise ModuleNotFoundError("denoise_kit, the project's helper package, is not installed: run "
                              "`pip install .` in a clone of the project (Colab: `!pip install "
                              "git+URL-of-the-repository`: README, Notebooks)") from None

import keras
import numpy as np
from keras import layers, ops
from scipy import stats

from denoise_kit import batches, cli, comparison, datasets, hardware, metrics, parallel, progress

# %% [markdown]
# ## Configuration
#
# Each constant is also a flag for one run (`--seeds 5`; `--help` lists them).

# %%
DATASET = "mnist"  # "mnist", "notmnist" or "fashion_mnist".
NOISE_FACTOR = 0.5  # Standard deviation of the Gaussian noise; pixels are in [0, 1].
NOISE_FACTORS: tuple[float, ...] | None = None  # Noise levels to compare at instead, e.g. 0.2,0.5,0.8.
EPOCHS = 5  # Training rounds, the same for every decoder (the denoisers train 10).
IMAGES_PER_EPOCH = 7_936  # Noisy images per epoch, whatever the dataset's size.
BATCH_SIZE = 16  # Images per step.
LEARNING_RATE = 2e-3  # Adam's starting learning rate, decayed to 0 along a cosine.
SEEDS = 3  # Trainings per decoder, with the same seeds for each.
SEED = 42  # First training seed; then SEED + 1, ... (also noise seeds, harmlessly)
TEST_NOISE_SEED = 43  # Fixed noise for the test images: the denoisers'.
TUNING_NOISE_SEED = 44  # Seed of the noise the classical filters are tuned on.
TUNING_IMAGES = 300  # Training images used to tune each classical filter's parameter.
SHOWN = 8  # Test images shown in comparison.png.
INFERENCE_BATCH = 256  # Images per predict step when scoring the test set.
PRECISION = "auto"  # "float32", "mixed", or "auto": mixed where the chip has bfloat16/float16 units.
STEPS_PER_EXECUTION = 16  # Training steps per call into the compiled graph.
LIMIT: int | None = None  # The first LIMIT training images; unset: all.
DATA_DIR: str | None = None  # Dataset folder; unset: $DENOISE_DATA_DIR, else data/.
OUTPUT_DIR = "outputs/compare_decoders"  # Where the results, the pictures and progress.json go.
TENSORBOARD = False  # Also log every training to OUTPUT_DIR/tensorboard.

# %%
CONFIG = cli.override_from_flags(globals())  # Flags replace the constants; in a notebook, nothing changes.
machine = hardware.configure(PRECISION, batch_size=BATCH_SIZE, steps_per_execution=STEPS_PER_EXECUTION)

# %% [markdown]
# ## The data and the noise
#
# The denoisers' training images, in [0, 1], shape (N, 28, 28, 1),
# and their noise, `clip(x + noise_factor * N(0, 1), 0, 1)`: drawn once for
# the test images, from a fixed seed, so every method cleans the same ones.

# %%
data = datasets.denoising_splits(DATASET, DATA_DIR, limit=LIMIT, max_validation=1_000)  # As the denoisers.
steps_per_epoch = batches.steps_per_epoch(IMAGES_PER_EPOCH, BATCH_SIZE, machine.steps_per_execution)


def add_noise(images, noise_factor, seed):
    images = ops.convert_to_tensor(images)
    noise = keras.random.normal(ops.shape(images), seed=seed, dtype=images.dtype)
    return ops.clip(images + noise_factor * noise, 0.0, 1.0)


noise_factors = sorted(set(NOISE_FACTORS or (NOISE_FACTOR,)))
x_test_noisy = {noise: ops.convert_to_numpy(add_noise(data.x_test, noise, seed=TEST_NOISE_SEED))
                for noise in noise_factors}


class FreshNoise(layers.Layer):
    """New noise on every training batch, inside the compiled step; images pass through otherwise."""

    def __init__(self, noise_factor, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.noise_factor = noise_factor
        self.seed_generator = parallel.PerDeviceSeedGenerator(seed)  # Its own noise on each GPU.

    def call(self, images, training=False):
        return add_noise(images, self.noise_factor, self.seed_generator) if training else images


# %% [markdown]
# ## Four decoders behind one encoder
#
# Every model has the denoisers' encoder (28 -> 14 -> 7, then one more Conv2D
# on the 7x7 map). Only the way back up changes. `Conv2DTranspose(strides=2)`
# (s2) learns its upsampling with a 3x3 kernel (k3: keras.io's and
# MachineLearningMastery's) or a 4x4 one (k4), which stride 2 divides evenly
# (transpose_demo.py). `UpSampling2D` repeats (nearest) or interpolates
# (bilinear) pixels and a Conv2D after it learns what to draw.
# Decoders are 32 then 16 filters wide, as in the UpSampling2D denoiser (the
# Conv2DTranspose one has 64 then 32); the 4x4 one gets 18 then 16, so
# parameter counts agree within 0.02% (compute does not: docs/how-it-works.md).

# %%
def encoder(inputs, filters=(32, 64), kernel_size=3):
    x = inputs
    for n in filters:
        x = layers.Conv2D(n, kernel_size, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    return layers.Conv2D(filters[-1], kernel_size, activation="relu", padding="same")(x)


def denoiser_from(inputs, x):
    # One grey value per pixel, in [0, 1], in float32 even under mixed precision.
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="denoiser")


def build_transpose(kernel_size=3, decoder_filters=(32, 16)):
    inputs = keras.Input(shape=(None, None, 1))  # Any size the pooling divides, as the denoisers'.
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
# ## Training every decoder with every seed
#
# Each training is the denoisers' recipe on a smaller budget: clean images in
# and out of `fit`, FreshNoise making the noisy inputs, binary cross-entropy,
# Adam with a cosine decay. The seed gives every decoder the same encoder
# weights, noise and order of images. Each is scored by its test images' PSNR.

# %%
run = comparison.Comparison(CONFIG, machine, data, x_test_noisy, decoders=list(DECODERS),
                            images_per_epoch=steps_per_epoch * BATCH_SIZE)  # Scores, times, progress.json.
for noise_factor, name, seed in run.trainings_to_do():  # Only those progress.json lacks.
    keras.utils.set_random_seed(seed)
    denoiser = DECODERS[name]()
    trainer = keras.Sequential(
        [keras.Input(shape=(28, 28, 1)), FreshNoise(noise_factor, seed=seed), denoiser])
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, EPOCHS * steps_per_epoch)
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy",
                    metrics=[progress.psnr_metric],  # As in the denoisers, so their images/s compare.
                    steps_per_execution=machine.steps_per_execution)
    trainer.fit(batches.image_batches(data.x_train, batch_size=BATCH_SIZE, seed=seed),  # (clean, clean)
                steps_per_epoch=steps_per_epoch, epochs=EPOCHS, shuffle=False, verbose=0,
                callbacks=run.callbacks(noise_factor, name, seed))  # Timing (and TensorBoard).
    x_denoised = run.predict(denoiser, x_test_noisy[noise_factor])  # Timed, after a warm-up.
    psnr = metrics.psnr_per_image(data.x_test, x_denoised).mean()
    run.save_training(noise_factor, name, seed, denoiser, x_denoised, psnr)  # With SSIM and checkerboard.

# %% [markdown]
# ## The yardstick: classical denoisers
#
# Is any decoder worth training at all? Median, Gaussian, total variation,
# wavelet and non-local means filters (and BM3D, if installed) each get their one parameter tuned on
# TUNING_IMAGES noisy training images.

# %%
x_tuning = data.x_train[:TUNING_IMAGES]
x_tuning_noisy = {noise: ops.convert_to_numpy(add_noise(x_tuning, noise, seed=TUNING_NOISE_SEED))
                  for noise in noise_factors}
run.score_classical_filters(x_tuning, x_tuning_noisy)

# %% [markdown]
# ## The answer
#
# The best decoder is compared with each other one seed by seed: the
# differences reduce what a seed does to both. A gap is a tie when the 95%
# interval of their mean, mean ± t × standard error, includes 0; it is not
# adjusted for picking the best.

# %%
def interval_95(differences):
    """The 95% confidence interval of the mean of `differences`."""
    if len(differences) < 2:
        return -np.inf, np.inf  # One seed: no spread to judge a gap by.
    margin = stats.t.ppf(0.975, df=len(differences) - 1) * stats.sem(differences)
    return np.mean(differences) - margin, np.mean(differences) + margin


# %%
gaps = {}  # Per noise level: the best decoder, and each other one's differences and (low, high).
for noise_factor in noise_factors:
    per_seed = run.psnr_by_seed(noise_factor)  # {decoder: its test PSNR with each seed, in seed order}
    best = max(per_seed, key=lambda name: per_seed[name].mean())
    behind = {name: per_seed[best] - per_seed[name] for name in per_seed if name != best}
    gaps[noise_factor] = best, {name: (d, interval_95(d)) for name, d in behind.items()}

# The tables, the verdict in words, results.json and the pictures.
print(comparison.write_results(run, gaps))

# %% [markdown]
# ## Going further
#
# - At the defaults, UpSampling2D nearest + Conv2D scores best, 0.09 and 0.13 dB
#   ahead of k4 and k3, no gap a tie; no error holds more checkerboard than noise:
#   [docs/results.md](docs/results.md#upsampling2d-or-conv2dtranspose-the-comparison).
# - The posts' claims, measured: Conv2DTranspose, preferred by
#   MachineLearningMastery (for GANs), Rahman and, for "relatively similar data
#   (such as the MNIST digits)", MachineCurve, does not win here; bilinear,
#   no different from nearest for MachineCurve, is last (0.48 dB behind);
#   UpSampling2D + Conv2D, MachineCurve's checkerboard cure (nearest, in the
#   autoencoder note's), has nothing to cure.
#   [Distill](https://distill.pub/2016/deconv-checkerboard/), generating images, also did best
#   with nearest and had trouble with bilinear, but saw trained transposed convolutions keep
#   checkerboards; these do not.
# - MachineCurve found Conv2DTranspose clearly ahead, with two models of
#   different size and design (`benchmarks/machinecurve_autoencoders.py`).
# - The checkerboard score, the filters' grids and the timing:
#   [docs/how-it-works.md](docs/how-it-works.md#how-compare_decoderspy-decides).

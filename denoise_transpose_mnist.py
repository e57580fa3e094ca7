"""
Title: Denoising MNIST digits with a Conv2DTranspose autoencoder
Description: A convolutional autoencoder learns to remove Gaussian noise from
handwritten digits. Conv2D + MaxPooling2D shrink the image to a small code;
strided Conv2DTranspose layers learn to grow it back, noise-free.

Run it:
    python denoise_transpose_mnist.py                    # the tuned defaults below
    python denoise_transpose_mnist.py --noise-factor 0.8 # a harder task
    python denoise_transpose_mnist.py --epochs 2 --limit 2000   # a quick look
    python denoise_transpose_mnist.py --denoise my_digit.png    # your own image

It writes reconstructions.png, progress.png, history.png, metrics.json,
training_log.csv and model.keras to outputs/denoise_transpose_mnist/. Stop it
at any time (Ctrl-C) and run the same command again: training resumes from
the last finished epoch and ends with the numbers an unbroken run gives.
"""

import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up log lines)

import keras
from keras import layers, ops

from denoise_kit import batches, cli, datasets, own_images, progress, report, training

# ## Configuration: the knobs to play with (each one is also a flag: --help)

DATASET = "mnist"  # "mnist", "notmnist" or "fashion_mnist".
NOISE_FACTOR = 0.5  # Standard deviation of the Gaussian noise; pixels are in [0, 1].
EPOCHS = 10  # Training rounds; each ends with validation, a snapshot and a backup.
IMAGES_PER_EPOCH = 7_000  # Noisy images per epoch, or on a bigger training set
EPOCH_FRACTION = 1 / 6  # this share of it: 8x the images (a full download) train 1.4x as long.
BATCH_SIZE = 8  # Images per step: more, smaller steps learn more from each image.
FILTERS = (32, 64)  # Filters per encoder level (28->14->7); the decoder mirrors them.
KERNEL_SIZE = 3  # Height and width of every convolution kernel.
LEARNING_RATE = 2e-3  # Adam's starting learning rate, decayed to 0 along a cosine.
VALIDATION_FRACTION = 0.1  # Share of the training images kept aside to watch overfitting,
MAX_VALIDATION_IMAGES = 1_000  # at most: scored every epoch, more would only cost time.
SEED = 42  # Weights, training noise and shuffling: same seed, same numbers (on one machine).
VALIDATION_NOISE_SEED = 42  # The fixed noise of the validation and test images: the same
TEST_NOISE_SEED = 43  # whatever --seed is, so every run is scored on the same noisy images.
PRECISION = "auto"  # "float32", "mixed", or "auto": mixed only where the hardware is native.
STEPS_PER_EXECUTION = 16  # Steps per call into the compiled graph: less Python overhead per step.


# ## The noise
# Every pixel gets its own Gaussian noise; clipping keeps the result a valid image.


def add_noise(images, noise_factor, seed):
    """x_noisy = clip(x + noise_factor * N(0, 1), 0, 1)."""
    images = ops.convert_to_tensor(images)
    noise = keras.random.normal(ops.shape(images), seed=seed, dtype=images.dtype)
    return ops.clip(images + noise_factor * noise, 0.0, 1.0)


class FreshNoise(layers.Layer):
    """Adds new noise to every training batch, so the model never sees the same
    noisy image twice; outside training it passes images through unchanged."""

    def __init__(self, noise_factor, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.noise_factor = noise_factor
        # A keras.random.SeedGenerator that, on several devices, gives each its own noise.
        self.seed_generator = training.PerReplicaSeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        return add_noise(images, self.noise_factor, self.seed_generator)


# ## The model
# The encoder halves the image at each level; the decoder doubles it back with
# Conv2DTranspose(strides=2), a convolution that learns its own upsampling.


def build_autoencoder(filters=FILTERS, kernel_size=KERNEL_SIZE, input_shape=(28, 28, 1),
                      decoder_kernel_size=None, decoder_filters=None):
    """The decoder mirrors the encoder unless told otherwise (compare_decoders.py
    tries kernel 4 with fewer filters, at the same number of parameters)."""
    decoder_kernel_size = decoder_kernel_size or kernel_size
    decoder_filters = decoder_filters or tuple(reversed(filters))
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for n in filters:  # Encoder: 28x28 -> 14x14 -> 7x7
        x = layers.Conv2D(n, kernel_size, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(filters[-1], kernel_size, activation="relu", padding="same")(x)  # Bottleneck
    for n in decoder_filters:  # Decoder: 7x7 -> 14x14 -> 28x28
        x = layers.Conv2DTranspose(n, decoder_kernel_size, strides=2, activation="relu", padding="same")(x)
    excess = x.shape[1] - input_shape[0]  # Three or more levels: 7 pools to 4, grows to 32.
    if excess:
        x = layers.Cropping2D(((excess // 2, excess - excess // 2),) * 2)(x)
    # A 1x1 convolution mixes the last feature maps into one grey value per pixel (a
    # 3x3 one took ~30% of the training time on a CPU, for 0.1 dB). Sigmoid keeps
    # pixels in [0, 1]; float32 keeps the output exact under mixed precision.
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="denoiser")


# ## The training set-up
# Noise goes inside the model, in front of the denoiser, so every batch gets
# new noise; the learning rate decays to 0 along a cosine over `total_steps`.


def fresh_noise_trainer(denoiser, noise_factor, seed, total_steps, learning_rate=LEARNING_RATE):
    model = keras.Sequential(
        [keras.Input(shape=denoiser.input_shape[1:]), FreshNoise(noise_factor, seed=seed), denoiser],
        name="fresh_noise_training",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)),
        # Cross-entropy pulls background pixels firmly to 0 and strokes to 1;
        # MSE behind a sigmoid tends to get stuck at an all-black image.
        loss="binary_crossentropy",
        metrics=[progress.psnr_metric],  # What a learner cares about, in dB, in the progress bar.
        steps_per_execution=training.steps_per_execution(STEPS_PER_EXECUTION),
    )
    return model


def parse_args():
    parser = cli.training_parser(__file__, __doc__, dataset=DATASET, epochs=EPOCHS,
                                 images_per_epoch=IMAGES_PER_EPOCH, epoch_fraction=EPOCH_FRACTION,
                                 batch_size=BATCH_SIZE,
                                 noise_factor=NOISE_FACTOR, seed=SEED,
                                 precision=PRECISION, filters=FILTERS, kernel_size=KERNEL_SIZE,
                                 learning_rate=LEARNING_RATE)
    return parser.parse_args()


def main():
    args = parse_args()
    cli.check_training_args(args)
    if args.denoise:  # Your own images, through the model trained before: see own_images.py.
        return own_images.denoise_files(
            args.denoise, args.output_dir / "model.keras",
            build=lambda shape: build_autoencoder(args.filters, args.kernel_size, input_shape=shape),
            output_dir=args.output_dir, invert=args.invert, seed=TEST_NOISE_SEED,
            noise_factor=args.noise_factor if cli.given("--noise-factor") else None,
            train_command=cli.command_of(__file__, args.output_dir))
    keras.utils.set_random_seed(args.seed)
    policy = training.set_precision(args.precision)

    # ## The data: images in [0, 1], shape (N, 28, 28, 1)
    data = datasets.denoising_splits(args.dataset, args.data_dir, limit=args.limit,
                                     validation_fraction=VALIDATION_FRACTION,
                                     max_validation=MAX_VALIDATION_IMAGES)
    data = training.split_evenly(data, args.batch_size)  # Several devices: an equal share each.
    # The budget follows the data, slowly: 7,000 noisy images per epoch, or a
    # sixth of a training set over 42,000 images (a full download's 59,000: 9,833).
    if not cli.given("--images-per-epoch"):
        args.images_per_epoch = max(IMAGES_PER_EPOCH, round(EPOCH_FRACTION * len(data.x_train)))
    cli.check_training_args(args, len(data.x_train))

    # Validation and test noise are drawn once, from fixed seeds: every run and
    # every script is scored on exactly the same noisy images.
    x_val_noisy = ops.convert_to_numpy(add_noise(data.x_val, args.noise_factor, seed=VALIDATION_NOISE_SEED))
    x_test_noisy = ops.convert_to_numpy(add_noise(data.x_test, args.noise_factor, seed=TEST_NOISE_SEED))

    # ## The model, trained behind a FreshNoise layer; the denoiser alone is saved.
    steps_per_execution = training.steps_per_execution(STEPS_PER_EXECUTION)
    steps_per_epoch = batches.steps_per_epoch(args.images_per_epoch, args.batch_size, steps_per_execution)
    with training.distribution_scope():
        denoiser = build_autoencoder(args.filters, args.kernel_size)
        model = fresh_noise_trainer(denoiser, args.noise_factor, args.seed,
                                    total_steps=args.epochs * steps_per_epoch,
                                    learning_rate=args.learning_rate)
    denoiser.summary()  # Watch the shapes: 28x28 -> 14x14 -> 7x7 -> 14x14 -> 28x28.
    device = training.announce(denoiser, data, policy=policy, steps_per_execution=steps_per_execution)

    # ## Training: the clean images are the targets; the noise is added inside the model.
    title = f"Conv2DTranspose denoiser on {args.dataset}, noise {args.noise_factor:g}"
    settings = training.settings_of(args, POLICY=policy, STEPS_PER_EXECUTION=steps_per_execution,
                                    VALIDATION_FRACTION=VALIDATION_FRACTION,
                                    MAX_VALIDATION_IMAGES=MAX_VALIDATION_IMAGES,
                                    VALIDATION_NOISE_SEED=VALIDATION_NOISE_SEED,
                                    TEST_NOISE_SEED=TEST_NOISE_SEED)
    callbacks = [*training.resumable_callbacks(args.output_dir, settings),
                 progress.ProgressSnapshots(data.x_val, x_val_noisy, args.output_dir, title=title)]
    # Shuffled clean images, pass after pass, cut into epochs of --images-per-epoch
    # noisy images, however many the dataset has. A resumed run picks the stream
    # up where it stopped.
    clean_batches = batches.image_batches(
        data.x_train, batch_size=args.batch_size, seed=args.seed,
        first_step=training.finished_epochs(args.output_dir) * steps_per_epoch)
    with training.distribution_scope():  # Several devices: each trains on a share of every batch.
        model.fit(
            clean_batches,
            steps_per_epoch=steps_per_epoch,
            epochs=args.epochs,
            shuffle=False,  # The stream is already shuffled.
            validation_data=(x_val_noisy, data.x_val),
            callbacks=callbacks,
        )
    training.check_finite(callbacks)  # A loss that became NaN ends here, with one line.

    # ## Results: how much cleaner is the test set?
    x_test_denoised = denoiser.predict(x_test_noisy, batch_size=256, verbose=0)
    report.finish(args, denoiser, data, noisy=x_test_noisy, denoised=x_test_denoised,
                  device=device, settings=settings, title=title, loss_name="binary cross-entropy",
                  images_per_epoch=steps_per_epoch * args.batch_size)


if __name__ == "__main__":
    cli.run(main, resumable=True)

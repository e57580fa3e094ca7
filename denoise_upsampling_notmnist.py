"""
Title: Denoising notMNIST letters with an UpSampling2D autoencoder
Description: A convolutional autoencoder learns to remove Gaussian noise from
letters A-J drawn in hundreds of fonts. Conv2D + MaxPooling2D shrink the image
to a small code; UpSampling2D grows it back by repeating (or interpolating)
pixels and a Conv2D after each step learns to fill in the detail.

Run it:
    python denoise_upsampling_notmnist.py                     # the tuned defaults below
    python denoise_upsampling_notmnist.py --noise-factor 0.8  # a harder task
    python denoise_upsampling_notmnist.py --epochs 2 --limit 2000    # a quick look
    python denoise_upsampling_notmnist.py --denoise my_letter.png   # your own image

It writes reconstructions.png, progress.png, history.png, metrics.json,
training_log.csv and model.keras to outputs/denoise_upsampling_notmnist/. Stop it
at any time (Ctrl-C) and run the same command again: training resumes from
the last finished epoch and ends with the numbers an unbroken run gives.
"""

import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up log lines)

import keras
from keras import layers, ops

from denoise_kit import batches, cli, datasets, own_images, progress, report, training

# ## Configuration: the knobs to play with (each one is also a flag: --help)

DATASET = "notmnist"  # "mnist", "notmnist" or "fashion_mnist".
NOISE_FACTOR = 0.5  # Standard deviation of the Gaussian noise; pixels are in [0, 1].
EPOCHS = 10  # Training rounds; each ends with validation, a snapshot and a backup.
IMAGES_PER_EPOCH = 10_000  # Noisy images per epoch, whatever the dataset's size.
BATCH_SIZE = 16  # Images per step: more, smaller steps learn more from each image.
FILTERS = (32, 64)  # Filters per encoder level (28->14->7).
DECODER_FILTERS = (32, 16)  # Filters per decoder level (7->14->28), after each UpSampling2D.
KERNEL_SIZE = 3  # Height and width of every convolution kernel.
INTERPOLATION = "nearest"  # How UpSampling2D fills new pixels: "nearest" or "bilinear".
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
# UpSampling2D, which has no weights, and a Conv2D that learns what to draw.


def build_autoencoder(filters=FILTERS, kernel_size=KERNEL_SIZE, interpolation=INTERPOLATION,
                      input_shape=(28, 28, 1), decoder_filters=DECODER_FILTERS):
    """The decoder's Conv2D layers work at the upsampled size, 4x the pixels of
    the encoder layer they mirror: narrower ones keep that cost in check."""
    decoder_filters = decoder_filters or tuple(reversed(filters))
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for n in filters:  # Encoder: 28x28 -> 14x14 -> 7x7
        x = layers.Conv2D(n, kernel_size, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(filters[-1], kernel_size, activation="relu", padding="same")(x)  # Bottleneck
    for n in decoder_filters:  # Decoder: 7x7 -> 14x14 -> 28x28
        x = layers.UpSampling2D(2, interpolation=interpolation)(x)
        x = layers.Conv2D(n, kernel_size, activation="relu", padding="same")(x)
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
        # Cross-entropy pulls background pixels firmly to 0 and ink to 1;
        # MSE behind a sigmoid tends to get stuck at an all-black image.
        loss="binary_crossentropy",
        metrics=[progress.psnr_metric],  # What a learner cares about, in dB, in the progress bar.
        steps_per_execution=training.steps_per_execution(STEPS_PER_EXECUTION),
    )
    return model


def parse_args():
    parser = cli.training_parser(__file__, __doc__, dataset=DATASET, epochs=EPOCHS,
                                 images_per_epoch=IMAGES_PER_EPOCH, batch_size=BATCH_SIZE,
                                 noise_factor=NOISE_FACTOR, seed=SEED,
                                 precision=PRECISION, filters=FILTERS, kernel_size=KERNEL_SIZE,
                                 learning_rate=LEARNING_RATE)
    parser.add_argument("--decoder-filters", type=cli.int_list, default=DECODER_FILTERS, metavar="N,N",
                        help="filters of the Conv2D after each UpSampling2D, one per level")
    parser.add_argument("--interpolation", choices=("nearest", "bilinear"), default=INTERPOLATION,
                        help="how UpSampling2D fills the new pixels")
    return parser.parse_args()


def main():
    args = parse_args()
    cli.check_training_args(args)
    if args.denoise:  # Your own images, through the model trained before: see own_images.py.
        return own_images.denoise_files(
            args.denoise, args.output_dir / "model.keras",
            build=lambda shape: build_autoencoder(args.filters, args.kernel_size, args.interpolation,
                                                    input_shape=shape, decoder_filters=args.decoder_filters),
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
    cli.check_training_args(args, len(data.x_train))

    # Validation and test noise are drawn once, from fixed seeds: every run and
    # every script is scored on exactly the same noisy images.
    x_val_noisy = ops.convert_to_numpy(add_noise(data.x_val, args.noise_factor, seed=VALIDATION_NOISE_SEED))
    x_test_noisy = ops.convert_to_numpy(add_noise(data.x_test, args.noise_factor, seed=TEST_NOISE_SEED))

    # ## The model, trained behind a FreshNoise layer; the denoiser alone is saved.
    steps_per_execution = training.steps_per_execution(STEPS_PER_EXECUTION)
    steps_per_epoch = batches.steps_per_epoch(args.images_per_epoch, args.batch_size, steps_per_execution)
    with training.distribution_scope():
        denoiser = build_autoencoder(args.filters, args.kernel_size, args.interpolation,
                                     decoder_filters=args.decoder_filters)
        model = fresh_noise_trainer(denoiser, args.noise_factor, args.seed,
                                    total_steps=args.epochs * steps_per_epoch,
                                    learning_rate=args.learning_rate)
    denoiser.summary()  # Watch the shapes: 28x28 -> 14x14 -> 7x7 -> 14x14 -> 28x28.
    device = training.announce(denoiser, data, policy=policy, steps_per_execution=steps_per_execution)

    # ## Training: the clean images are the targets; the noise is added inside the model.
    title = f"UpSampling2D ({args.interpolation}) denoiser on {args.dataset}, noise {args.noise_factor:g}"
    settings = training.settings_of(args, POLICY=policy, STEPS_PER_EXECUTION=steps_per_execution,
                                    VALIDATION_FRACTION=VALIDATION_FRACTION,
                                    MAX_VALIDATION_IMAGES=MAX_VALIDATION_IMAGES,
                                    VALIDATION_NOISE_SEED=VALIDATION_NOISE_SEED,
                                    TEST_NOISE_SEED=TEST_NOISE_SEED)
    callbacks = [*training.resumable_callbacks(args.output_dir, settings),
                 progress.ProgressSnapshots(data.x_val, x_val_noisy, args.output_dir, title=title)]
    # Shuffled clean images, pass after pass, cut into epochs of IMAGES_PER_EPOCH:
    # the full 60,000-image download trains as fast as the offline sample, it just
    # shows more different images. A resumed run picks the stream up where it stopped.
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

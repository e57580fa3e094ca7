"""Several devices: data-parallel training, each device on a share of every batch.

With several GPUs (or a CPU split into several logical devices, as the tests
do), `spread_over_devices` sets a distribution for the whole run:
TensorFlow's MirroredStrategy as the default strategy, or Keras'
DataParallel on JAX. Models built after it train on every device; with one
device it does nothing. On PyTorch, Keras' fit trains on one device.
"""

from __future__ import annotations

from typing import Any

import keras

from denoise_kit.errors import ConfigError

KERAS_VALIDATION_BATCH = 32  # The batch size Keras' fit validates arrays in.


def parallel_devices() -> list[str]:
    """The devices data-parallel training spreads over; [] for one device."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        names = [d.name for d in devices]
    elif backend == "jax":
        names = keras.distribution.list_devices()  # "cpu:0", "gpu:1"...: what DataParallel takes.
    else:
        names = []
    return names if len(names) > 1 else []


def spread_over_devices(batch_size: int) -> Any:
    """Train every model built from now on data-parallel over all devices; return
    the distribution (None for one device), or one line saying what to change.

    Each device gets an equal share of every batch, so the batch size and
    Keras' validation batch must divide by the device count (JAX stops on any
    batch that doesn't; Keras' TensorFlow trainer on a first one that doesn't).
    """
    devices = parallel_devices()
    if not devices:
        return None
    if KERAS_VALIDATION_BATCH % len(devices):
        raise ConfigError(f"Keras' validation batches of {KERAS_VALIDATION_BATCH} don't split evenly "
                          f"over {len(devices)} devices: train on a number that divides "
                          f"{KERAS_VALIDATION_BATCH} (e.g. CUDA_VISIBLE_DEVICES=0,1)")
    if batch_size % len(devices):
        raise ConfigError(f"each batch is split evenly over the {len(devices)} devices: use a --batch-size "
                          f"that divides by {len(devices)}, got {batch_size}")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        strategy = _mirrored_strategy_for_any_batch()(devices)
        tf.distribute.experimental_set_strategy(strategy)
        return strategy
    distribution = _ShardEvenBatches(devices=devices)
    keras.distribution.set_distribution(distribution)
    return distribution


def _mirrored_strategy_for_any_batch() -> type:
    """MirroredStrategy whose predictions never give a device an empty batch.

    MirroredStrategy splits each batch over the devices, so a batch with fewer
    images than devices (one picture, or a last short batch) leaves some with
    none. TensorFlow's oneDNN convolutions, on by default on CPUs with
    AVX512-VNNI, AVX512-BF16 or AMX, fail on an empty batch ("input depth must
    be evenly divisible by filter depth"). So in Keras' predict step a device
    with no image gets one black image, and its output is dropped again.
    """
    import tensorflow as tf

    class MirroredStrategy(tf.distribute.MirroredStrategy):  # Its name is what `describe` prints.
        def run(self, fn, args=(), kwargs=None, options=None):
            if "make_predict_function" in getattr(fn, "__qualname__", ""):  # Keras' predict step only.
                fn = _never_empty(fn)
            return super().run(fn, args=args, kwargs=kwargs, options=options)

    return MirroredStrategy


def _never_empty(predict_step):
    """`predict_step(images)` that runs on one black image when `images` is empty
    and returns its output cut back to no rows."""
    import tensorflow as tf

    def step(images):
        rows = tf.shape(tf.nest.flatten(images)[0])[0]
        missing = tf.maximum(1 - rows, 0)  # 1 for an empty batch, else 0.

        def pad(x):
            return tf.concat([x, tf.zeros(tf.concat([[missing], tf.shape(x)[1:]], 0), x.dtype)], 0)

        outputs = predict_step(tf.nest.map_structure(pad, images))
        return tf.nest.map_structure(lambda y: y[:rows], outputs)

    return step


class _ShardEvenBatches(keras.distribution.DataParallel):
    """DataParallel that gives every device the whole of a batch it can't split
    evenly (the last, shorter batch of a predict), instead of stopping."""

    def get_data_layout(self, data_shape):
        layout = super().get_data_layout(data_shape)
        if data_shape and data_shape[0] is not None and data_shape[0] % len(self.device_mesh.devices.flat):
            return keras.distribution.TensorLayout([None] * len(data_shape), self.device_mesh)
        return layout


def device_count(distribution: Any) -> int:
    """Devices sharing every batch: 1 without a distribution."""
    return len(parallel_devices()) if distribution is not None else 1


def describe(distribution: Any) -> str:
    """'' for one device, else e.g. ', data-parallel over 2 devices (MirroredStrategy)'."""
    if distribution is None:
        return ""
    name = "DataParallel" if isinstance(distribution, keras.distribution.DataParallel) else type(
        distribution).__name__
    return f", data-parallel over {device_count(distribution)} devices ({name})"


class PerDeviceSeedGenerator(keras.random.SeedGenerator):
    """A keras.random.SeedGenerator that gives each device its own draws.

    Under MirroredStrategy every device runs the layer on its share of the
    batch with the same seed state, so a plain SeedGenerator gives every
    device the same noise. Here device r offsets the seed by r * 1,000,003.
    On one device, and on JAX (whose DataParallel draws the whole batch's
    noise at once), the draws are a plain SeedGenerator's.
    """

    def next(self, ordered: bool = True):
        seed = super().next(ordered)
        if keras.backend.backend() != "tensorflow":
            return seed
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        offset = tf.cast(context.replica_id_in_sync_group, seed.dtype) * 1_000_003
        return seed + tf.stack([offset, tf.zeros_like(offset)])

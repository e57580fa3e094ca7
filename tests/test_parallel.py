"""Several devices: the checks before data-parallel training, and the noise each device draws.

Training over real devices (two logical CPUs) is tests/test_devices.py's job;
here the device list is made up, and nothing is spread over it for real.
"""

import keras
import numpy as np
import pytest

from denoise_kit import parallel
from denoise_kit.errors import ConfigError


class MadeUpDistribution:
    """Stands in for Keras' DataParallel: records the devices it was given."""

    def __init__(self, devices):
        self.devices = devices


@pytest.fixture
def devices(monkeypatch):
    """`devices(n)` makes the machine look like n devices; the distributions set are recorded."""
    installed = []
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")  # DataParallel's path, made up below.
    monkeypatch.setattr(parallel, "_ShardEvenBatches", MadeUpDistribution)
    monkeypatch.setattr(keras.distribution, "set_distribution", installed.append)

    def make(n):
        names = [f"cpu:{i}" for i in range(n)] if n > 1 else []
        monkeypatch.setattr(parallel, "parallel_devices", lambda: names)
        return names, installed

    return make


def test_one_device_spreads_nothing(devices):
    _, installed = devices(1)
    assert parallel.spread_over_devices(15) is None
    assert installed == []
    assert parallel.device_count(None) == 1 and parallel.describe(None) == ""


@pytest.mark.parametrize(("count", "batch_size"), [(2, 16), (4, 16), (2, 2)])
def test_batches_that_split_evenly_spread_over_every_device(devices, count, batch_size):
    names, installed = devices(count)
    distribution = parallel.spread_over_devices(batch_size)
    assert isinstance(distribution, MadeUpDistribution) and distribution.devices == names
    assert installed == [distribution]  # Set for the whole run: every model built after trains on all.
    assert parallel.device_count(distribution) == count
    assert parallel.describe(distribution) == f", data-parallel over {count} devices (MadeUpDistribution)"


@pytest.mark.parametrize(("count", "batch_size", "error"), [
    (2, 15, "each batch is split evenly over the 2 devices: use a --batch-size that divides by 2, got 15"),
    (4, 18, "use a --batch-size that divides by 4, got 18"),
    (3, 15, "Keras' validation batches of 32 don't split evenly over 3 devices"),
    (3, 12, "Keras' validation batches of 32 don't split evenly over 3 devices"),
])
def test_batches_that_do_not_split_evenly_give_one_line(devices, count, batch_size, error):
    _, installed = devices(count)
    with pytest.raises(ConfigError, match=error) as raised:
        parallel.spread_over_devices(batch_size)
    assert "\n" not in str(raised.value)
    assert installed == []  # Nothing was set up.


def test_per_device_seeds_draw_as_a_plain_generator_on_one_device():
    draws = keras.random.normal((3, 5), seed=parallel.PerDeviceSeedGenerator(7))
    plain = keras.random.normal((3, 5), seed=keras.random.SeedGenerator(7))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(draws), keras.ops.convert_to_numpy(plain))
    generator = parallel.PerDeviceSeedGenerator(7)
    first = keras.ops.convert_to_numpy(keras.random.normal((3,), seed=generator))
    assert not np.array_equal(first, keras.ops.convert_to_numpy(keras.random.normal((3,), seed=generator)))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MirroredStrategy is TensorFlow's")
def test_a_device_with_no_image_predicts_on_one_black_image_and_returns_none():
    """What the MirroredStrategy of spread_over_devices does to Keras' predict step on each
    device: an empty share becomes one black image, whose output is dropped again."""
    import tensorflow as tf

    seen = []

    def predict_step(images):
        seen.append(int(tf.shape(images)[0]))
        return images * 2 + 1

    step = parallel._never_empty(predict_step)
    empty = tf.zeros((0, 4, 4, 1))
    assert tuple(step(empty).shape) == (0, 4, 4, 1) and seen == [1]
    three = tf.ones((3, 4, 4, 1))
    np.testing.assert_array_equal(step(three).numpy(), np.full((3, 4, 4, 1), 3.0))
    assert seen == [1, 3]  # A share with images runs as it is.

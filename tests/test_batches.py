"""The training stream: shuffled passes, cut into epochs, resumable to the step."""

import itertools

import keras
import numpy as np
import pytest

from denoise_kit import batches

IMAGES = np.arange(10, dtype="float32").reshape(10, 1, 1, 1)  # Image i holds the value i.


def implementations():
    yield "numpy", batches._numpy_batches
    if keras.backend.backend() == "tensorflow":
        yield "tensorflow", batches._tf_batches


def image_ids(stream_of, first_image, n_batches, batch_size=3, seed=7):
    """The ids of the images in the first `n_batches` batches of a stream."""
    ids = []
    for inputs, targets in itertools.islice(stream_of(IMAGES, batch_size, seed, first_image), n_batches):
        inputs, targets = np.asarray(inputs), np.asarray(targets)
        np.testing.assert_array_equal(inputs, targets)  # Clean images are their own targets.
        ids += inputs.reshape(-1).astype(int).tolist()
    return ids


@pytest.mark.parametrize(("name", "stream_of"), list(implementations()))
def test_every_pass_shows_each_image_once_in_a_new_order(name, stream_of):
    ids = image_ids(stream_of, 0, 10)  # 30 images: three passes.
    passes = [ids[0:10], ids[10:20], ids[20:30]]
    for one_pass in passes:
        assert sorted(one_pass) == list(range(10))
    assert passes[0] != passes[1] != passes[2]  # Unlike Keras' shuffle on TensorFlow with a seed.
    assert passes[0] != list(range(10))


@pytest.mark.parametrize(("name", "stream_of"), list(implementations()))
def test_the_stream_depends_only_on_the_seed(name, stream_of):
    assert image_ids(stream_of, 0, 8, seed=7) == image_ids(stream_of, 0, 8, seed=7)
    assert image_ids(stream_of, 0, 8, seed=7) != image_ids(stream_of, 0, 8, seed=8)


@pytest.mark.parametrize(("name", "stream_of"), list(implementations()))
@pytest.mark.parametrize("skipped_batches", [1, 3, 4, 7])
def test_a_stream_started_later_continues_exactly(name, stream_of, skipped_batches):
    whole = image_ids(stream_of, 0, 12)
    later = image_ids(stream_of, skipped_batches * 3, 12 - skipped_batches)
    assert later == whole[skipped_batches * 3:]


def test_image_batches_starts_at_the_given_step():
    whole = image_ids(lambda x, b, s, f: batches.image_batches(x, batch_size=b, seed=s, first_step=f // b),
                      0, 9)
    later = image_ids(lambda x, b, s, f: batches.image_batches(x, batch_size=b, seed=s, first_step=f // b),
                      6, 7)
    assert later == whole[6:]


@pytest.mark.parametrize(("images", "batch", "chunk", "expected"),
                         [(8000, 32, 16, 256), (8000, 32, 1, 250), (100, 64, 16, 16), (7200, 128, 16, 64)])
def test_steps_per_epoch_is_a_whole_number_of_executions(images, batch, chunk, expected):
    assert batches.steps_per_epoch(images, batch, chunk) == expected


def test_fit_trains_exactly_epochs_times_steps_per_epoch():
    spe = 4 if keras.backend.backend() != "torch" else 1
    steps = batches.steps_per_epoch(35, 5, spe)
    model = keras.Sequential([keras.Input((1, 1, 1)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=spe)
    model.fit(batches.image_batches(IMAGES, batch_size=5, seed=1), steps_per_epoch=steps, epochs=3,
              shuffle=False, verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 3 * steps

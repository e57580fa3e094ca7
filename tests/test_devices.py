"""Data-parallel training on two devices, tested without GPUs: the CPU is split
in two (tests/two_cpu_devices.py), as several GPUs would be. TensorFlow spreads
over them with MirroredStrategy, JAX with DataParallel. CI runs this file under
both; on PyTorch, Keras' fit trains on one device, which test_backends covers."""

import json

import keras
import numpy as np
import pytest
from conftest import ROOT, png_bytes, real_data_dir, run_program, sparse_digits

# Each test runs a script or a probe in a new process, on two devices.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(keras.backend.backend() == "torch",
                                reason="Keras' fit has no data parallelism on PyTorch")]

# Runs a noise layer like the scripts' FreshNoise (a PerDeviceSeedGenerator
# feeding keras.random.normal) on 16 identical images spread over the devices,
# as fit does in training, and prints how many different noisy images came out.
NOISE_PROBE = '''
import json
import sys
sys.path.insert(0, PROJECT_ROOT)  # The project's kit.
import keras
import numpy as np
from denoise_kit import parallel


class Noise(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.seed_generator = parallel.PerDeviceSeedGenerator(1)

    def call(self, images, training=False):
        return images + keras.random.normal(keras.ops.shape(images), seed=self.seed_generator)


images = np.full((16, 28, 28, 1), 0.5, "float32")
parallel.spread_over_devices(batch_size=16)
if True:
    layer = Noise()
    layer.build(images.shape)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        strategy = tf.distribute.get_strategy()  # The MirroredStrategy spread_over_devices set.
        batch = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(images))))
        noisy = strategy.run(tf.function(lambda x: layer(x, training=True)), args=(batch,))
        noisy = np.concatenate([t.numpy() for t in strategy.experimental_local_results(noisy)])
        devices = strategy.num_replicas_in_sync
    else:  # JAX: the batch is sharded over the devices, as DataParallel does in fit.
        layout = keras.distribution.distribution().get_data_layout(images.shape)
        noisy = layer(keras.distribution.distribute_tensor(images, layout), training=True)
        devices = len(noisy.sharding.device_set)
        noisy = np.asarray(noisy)
print(json.dumps({"devices": devices, "different": len({image.tobytes() for image in noisy})}))
'''


def test_each_device_draws_its_own_noise(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(NOISE_PROBE.replace("PROJECT_ROOT", repr(str(ROOT))))
    result = run_program(str(probe), two_devices=True)
    # A plain SeedGenerator under MirroredStrategy gives both devices the same
    # noise: 8 different images out of 16.
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"devices": 2, "different": 16}


# Predicts with a small convolutional model, built after spread_over_devices, on
# fewer images than devices (1), on an odd count (3) and with a last batch of one
# (257 at batch 256), then the same after saving and loading it, and compares each
# with the model called on one device. tests/two_cpu_devices.py turns TensorFlow's
# oneDNN kernels on, which fail on an empty share (as on a Xeon with AMX).
PREDICT_PROBE = '''
import json
import sys
sys.path.insert(0, PROJECT_ROOT)
import keras
import numpy as np
from denoise_kit import parallel

parallel.spread_over_devices(batch_size=8)
inputs = keras.Input((None, None, 1))
x = keras.layers.Conv2D(8, 3, activation="relu", padding="same")(inputs)
x = keras.layers.MaxPooling2D(2, padding="same")(x)
x = keras.layers.Conv2D(16, 3, activation="relu", padding="same")(x)
x = keras.layers.Conv2DTranspose(8, 3, strides=2, activation="relu", padding="same")(x)
model = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid")(x))
model.save(OUTPUT)
loaded = keras.saving.load_model(OUTPUT)
errors = {}
for name, m in (("built", model), ("loaded", loaded)):
    for count in COUNTS:
        images = np.random.default_rng(count).random((count, 28, 84, 1), dtype="float32")
        predicted = m.predict(images, batch_size=256, verbose=0)
        assert predicted.shape == images.shape, (name, count, predicted.shape)
        errors[f"{name} {count}"] = float(np.abs(predicted - keras.ops.convert_to_numpy(m(images))).max())
print(json.dumps({"devices": len(parallel.parallel_devices()), "errors": errors}))
'''


def test_fewer_images_than_devices_predict(tmp_path):
    # JAX: Keras lays every batch of a predict out as its first one, so a last batch of one
    # after full ones can't be split over two devices; that case is TensorFlow's only here.
    counts = (1, 3) if keras.backend.backend() == "jax" else (1, 3, 257)
    probe = tmp_path / "probe.py"
    probe.write_text(PREDICT_PROBE.replace("PROJECT_ROOT", repr(str(ROOT)))
                     .replace("OUTPUT", repr(str(tmp_path / "model.keras"))).replace("COUNTS", repr(counts)))
    result = run_program(str(probe), two_devices=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["devices"] == 2
    assert sorted(report["errors"]) == sorted(f"{m} {n}" for m in ("built", "loaded") for n in counts)
    assert max(report["errors"].values()) < 1e-5, report["errors"]


def test_denoise_one_picture_after_training_on_two_devices(tmp_path):
    """--denoise of a single picture, with a model trained on two devices."""
    data = sparse_digits(tmp_path / "data", 200, seed=7)
    out = tmp_path / "out"
    common = ("--data-dir", str(data), "--output-dir", str(out))
    run_program("denoise_transpose_mnist.py", *common, "--limit", "100", "--epochs", "1",
                "--images-per-epoch", "64", two_devices=True)
    picture = tmp_path / "digit.png"
    picture.write_bytes(png_bytes(np.where(np.arange(28 * 28).reshape(28, 28) % 29 < 4, 255, 0)
                                  .astype(np.uint8)))
    result = run_program("denoise_transpose_mnist.py", *common, "--denoise", str(picture), two_devices=True)
    assert "Traceback" not in result.stderr
    assert (out / "digit.denoised.png").is_file() and "1 of 1 image(s) denoised" in result.stdout

def test_denoiser_trains_on_two_devices_with_uneven_sets(tmp_path):
    """121 test and 25 validation images: batches that don't split in two.
    Validation keeps 24 images (Keras can't start it on uneven shares), the
    25th trains; every test image is still scored."""
    data = sparse_digits(tmp_path / "data", 605, seed=5)
    out = tmp_path / "out"
    result = run_program("denoise_transpose_mnist.py", "--data-dir", str(data), "--output-dir", str(out),
                         "--limit", "251", "--epochs", "2", "--images-per-epoch", "256", two_devices=True)
    jax = keras.backend.backend() == "jax"
    results = json.loads((out / "metrics.json").read_text())
    how = "DataParallel" if jax else "MirroredStrategy"
    assert f"data-parallel over 2 devices ({how})" in results["device"]
    assert "data-parallel over 2 devices" in result.stdout
    assert "227 train / 24 validation / 121 test images" in result.stdout
    assert results["test_images"] == 121
    assert np.isfinite(results["psnr_denoised"]) and (out / "model.keras").is_file()


def test_batch_size_that_does_not_split_over_two_devices(tmp_path):
    """Batches of 15 can't be shared evenly by two devices, which both JAX and
    Keras' TensorFlow trainer need: one line before training, nothing made."""
    data = sparse_digits(tmp_path / "data", 100, seed=6)
    out = tmp_path / "out"
    result = run_program("denoise_transpose_mnist.py", "--data-dir", str(data), "--output-dir", str(out),
                         "--limit", "64", "--epochs", "1", "--batch-size", "15", two_devices=True,
                         check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: each batch is split evenly over the 2 devices: use a --batch-size that "
        "divides by 2, got 15")
    assert "Traceback" not in result.stderr and not (out / "backup").exists()


def test_two_devices_learn_as_well_as_one(tmp_path):
    """Same images, same order, same global batch; only the noise draws
    differ, so the scores must be close (real MNIST digits)."""
    data = real_data_dir("mnist")
    scores = {}
    for devices in (1, 2):
        out = tmp_path / f"out{devices}"
        run_program("denoise_transpose_mnist.py", "--data-dir", str(data), "--output-dir", str(out),
                    "--limit", "2000", "--epochs", "2", "--images-per-epoch", "2048",
                    two_devices=devices == 2)
        scores[devices] = json.loads((out / "metrics.json").read_text())
    for score in scores.values():  # Both really learned...
        assert score["psnr_denoised"] > score["psnr_noisy"] + 5
    assert abs(scores[2]["psnr_denoised"] - scores[1]["psnr_denoised"]) < 0.5  # ...about as well.

"""Denoising your own image files with a trained model (nothing is trained)."""

import hashlib

import keras
import numpy as np
import pytest
from PIL import Image

from denoise_kit import own_images
from denoise_kit.errors import ConfigError, DataError


def tiny_autoencoder(input_shape=(28, 28, 1), filters=(4, 8)):
    """The scripts' layer structure (two pooling levels), with few filters."""
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for n in filters:
        x = keras.layers.Conv2D(n, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D(2, padding="same")(x)
    x = keras.layers.Conv2D(filters[-1], 3, activation="relu", padding="same")(x)
    for n in reversed(filters):
        x = keras.layers.Conv2DTranspose(n, 3, strides=2, activation="relu", padding="same")(x)
    outputs = keras.layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """An untrained but fixed model saved as the scripts save theirs."""
    keras.utils.set_random_seed(3)
    path = tmp_path_factory.mktemp("trained") / "model.keras"
    tiny_autoencoder().save(path)
    return path


def write_png(path, pixels, mode=None):
    image = Image.fromarray(pixels)
    (image.convert(mode) if mode else image).save(path)
    return path


def drawing(height, width, seed=0):
    """A light stroke on a dark background, as MNIST digits are."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((height, width), np.uint8)
    pixels[height // 4: 3 * height // 4, width // 2 - 2: width // 2 + 2] = 255
    pixels[rng.random((height, width)) > 0.97] = 128
    return pixels


def read_png(path):
    return np.asarray(Image.open(path), dtype=np.float32) / 255.0


def denoise(paths, model_path, output_dir, **kwargs):
    return own_images.denoise_files(paths, model_path, tiny_autoencoder, output_dir, **kwargs)


# ----------------------------------------------------------------------------- sizes and weights


@pytest.mark.parametrize(("height", "width"), [(28, 28), (37, 53), (1, 5), (64, 48)])
def test_any_size_is_denoised_at_its_own_size_with_the_trained_weights(model_path, tmp_path, height, width):
    source = write_png(tmp_path / "digit.png", drawing(height, width))
    written = denoise([source], model_path, tmp_path / "out")
    assert [p.name for p in written] == ["digit.denoised.png", "digit.comparison.png"]
    output = read_png(written[0])
    assert output.shape == (height, width)

    # The same numbers as the trained model itself on the edge-mirrored, padded image.
    image = np.asarray(Image.open(source), dtype=np.float32) / 255.0
    padded = own_images.pad_to_multiple(image, 4)
    net = tiny_autoencoder(padded.shape + (1,))
    net.set_weights(keras.saving.load_model(model_path).get_weights())
    expected = keras.ops.convert_to_numpy(net(padded[None, :, :, None]))[0, :height, :width, 0]
    np.testing.assert_allclose(output, expected, atol=0.5 / 255 + 1e-6)
    assert written[1].stat().st_size > 0


def test_a_28x28_image_gives_what_the_saved_model_gives(model_path, tmp_path):
    pixels = drawing(28, 28, seed=4)
    source = write_png(tmp_path / "digit.png", pixels)
    output = read_png(denoise([source], model_path, tmp_path / "out")[0])
    model = keras.saving.load_model(model_path)
    expected = model.predict((pixels / 255.0).astype("float32")[None, :, :, None], verbose=0)[0, :, :, 0]
    np.testing.assert_allclose(output, expected, atol=0.5 / 255 + 1e-6)


def test_padding_mirrors_the_edges_to_a_multiple_of_four():
    image = np.arange(15, dtype=np.float32).reshape(3, 5)
    padded = own_images.pad_to_multiple(image, 4)
    assert padded.shape == (4, 8)
    np.testing.assert_array_equal(padded[:3, :5], image)
    np.testing.assert_array_equal(padded[3, :5], image[1])  # Reflected about the last row.


# ----------------------------------------------------------------------------- file modes


def test_colour_is_read_as_its_luminance(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    grey = own_images.read_grey(write_png(tmp_path / "colour.png", rgb))
    expected = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32) / 255
    np.testing.assert_array_equal(grey, expected)
    assert grey.dtype == np.float32 and grey.shape == (9, 7)
    np.testing.assert_allclose(own_images.read_grey(write_png(tmp_path / "palette.png", rgb, "P")),
                               expected, atol=0.2)  # A palette has at most 256 of the colours.


def test_transparent_parts_are_laid_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # Black everywhere...
    rgba[:2, :, 3] = 255  # ...opaque in the top half, fully transparent below.
    grey = own_images.read_grey(write_png(tmp_path / "alpha.png", rgba))
    np.testing.assert_array_equal(grey[:2], 0.0)
    np.testing.assert_array_equal(grey[2:], 1.0)


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    pixels = np.array([[0, 32768, 65535]], dtype=np.uint16)
    path = write_png(tmp_path / "deep.png", pixels)
    assert Image.open(path).mode.startswith("I")
    np.testing.assert_allclose(own_images.read_grey(path), [[0.0, 0.5, 1.0]], atol=1e-4)


def test_jpeg_and_rgba_files_are_denoised(model_path, tmp_path):
    jpeg = tmp_path / "photo.jpg"
    Image.fromarray(np.stack([drawing(30, 41)] * 3, axis=-1)).save(jpeg, quality=90)
    rgba = write_png(tmp_path / "sketch.png", np.dstack([np.stack([drawing(20, 20)] * 3, axis=-1),
                                                         np.full((20, 20), 255, np.uint8)]))
    written = denoise([jpeg, rgba], model_path, tmp_path / "out")
    assert [p.name for p in written] == ["photo.denoised.png", "photo.comparison.png",
                                         "sketch.denoised.png", "sketch.comparison.png"]
    assert Image.open(written[0]).size == (41, 30) and Image.open(written[0]).mode == "L"
    assert Image.open(written[2]).size == (20, 20)


# ----------------------------------------------------------------------------- bad input


def test_no_model_yet_gives_one_line_saying_to_train_first(tmp_path):
    source = write_png(tmp_path / "digit.png", drawing(28, 28))
    with pytest.raises(ConfigError) as error:
        denoise([source], tmp_path / "outputs" / "model.keras", tmp_path / "out",
                train_command="python denoise_transpose_mnist.py")
    message = str(error.value)
    assert "\n" not in message and "model.keras" in message
    assert "train one first with `python denoise_transpose_mnist.py`" in message
    assert not (tmp_path / "out").exists()


def test_an_unreadable_file_stops_before_anything_is_written(model_path, tmp_path):
    good = write_png(tmp_path / "good.png", drawing(28, 28))
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:60])
    for broken in (bad, truncated, tmp_path / "missing.png"):
        with pytest.raises(DataError) as error:
            denoise([good, broken], model_path, tmp_path / "out")
        assert str(broken) in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_too_many_pixels_is_refused_with_the_size(monkeypatch, tmp_path):
    monkeypatch.setattr(own_images, "MAX_PIXELS", 100)
    path = write_png(tmp_path / "big.png", drawing(20, 30))
    with pytest.raises(DataError, match="big.png is 30x20 pixels: scale it down"):
        own_images.read_grey(path)


def test_a_model_of_another_architecture_is_refused(model_path, tmp_path):
    source = write_png(tmp_path / "digit.png", drawing(28, 28))
    with pytest.raises(ConfigError, match="another architecture"):
        own_images.denoise_files([source], model_path, lambda shape: tiny_autoencoder(shape, (4, 16)),
                                 tmp_path / "out")


def test_a_negative_noise_factor_is_refused(model_path, tmp_path):
    source = write_png(tmp_path / "digit.png", drawing(28, 28))
    with pytest.raises(ConfigError, match="noise factor must be 0 or more"):
        denoise([source], model_path, tmp_path / "out", noise_factor=-0.1)


# ----------------------------------------------------------------------------- noise


def test_noise_is_clipped_gaussian_and_seeded():
    image = np.full((200, 200), 0.5, np.float32)
    noisy = own_images.add_noise(image, 0.1, seed=1)
    assert noisy.std() == pytest.approx(0.1, rel=0.05) and noisy.mean() == pytest.approx(0.5, abs=0.01)
    np.testing.assert_array_equal(noisy, own_images.add_noise(image, 0.1, seed=1))
    assert not np.array_equal(noisy, own_images.add_noise(image, 0.1, seed=2))
    strong = own_images.add_noise(image, 2.0, seed=1)
    assert strong.min() == 0.0 and strong.max() == 1.0


def test_noise_factor_denoises_a_noisy_copy_and_reports_psnr(model_path, tmp_path, capsys):
    source = write_png(tmp_path / "digit.png", drawing(37, 53))
    clean_run = read_png(denoise([source], model_path, tmp_path / "plain")[0])
    capsys.readouterr()
    noisy_runs = [read_png(denoise([source], model_path, tmp_path / "noisy", noise_factor=0.5, seed=7)[0])
                  for _ in range(2)]
    assert not np.allclose(noisy_runs[0], clean_run, atol=2 / 255)  # The noise went in.
    np.testing.assert_array_equal(noisy_runs[0], noisy_runs[1])  # Same seed, same noise.
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "noisy " in lines[0] and "dB -> denoised " in lines[0]
    assert sorted(p.name for p in (tmp_path / "noisy").iterdir()) == [
        "digit.comparison-2.png", "digit.comparison.png", "digit.denoised-2.png", "digit.denoised.png"]


# ----------------------------------------------------------------------------- files on disk


def hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def test_no_file_already_there_is_changed(model_path, tmp_path):
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "model.keras").write_bytes(model_path.read_bytes())
    (folder / "training_log.csv").write_text("epoch,loss\n0,0.2\n")
    (folder / "digit.denoised.png").write_bytes(b"someone's own picture")
    source = write_png(folder / "digit.png", drawing(28, 28))
    before = hashes(folder)

    first = denoise([source], folder / "model.keras", folder)
    second = denoise([source], folder / "model.keras", folder)
    after = hashes(folder)
    assert {name: after[name] for name in before} == before
    assert [p.name for p in first] == ["digit.denoised-2.png", "digit.comparison-2.png"]
    assert [p.name for p in second] == ["digit.denoised-3.png", "digit.comparison-3.png"]
    assert set(after) - set(before) == {p.name for p in first + second}
    assert not list(folder.glob("*partial*"))


def test_light_images_get_a_hint_and_invert_flips_around_the_network(model_path, tmp_path, capsys):
    dark_on_light = 255 - drawing(28, 32)
    source = write_png(tmp_path / "paper.png", dark_on_light)
    straight = read_png(denoise([source], model_path, tmp_path / "a")[0])
    assert "try --invert" in capsys.readouterr().out

    inverted = read_png(denoise([source], model_path, tmp_path / "b", invert=True)[0])
    assert "try --invert" not in capsys.readouterr().out
    negative = write_png(tmp_path / "negative.png", 255 - dark_on_light)
    through_negative = read_png(denoise([negative], model_path, tmp_path / "c")[0])
    np.testing.assert_allclose(inverted, 1 - through_negative, atol=1.01 / 255)
    assert not np.allclose(inverted, straight, atol=2 / 255)

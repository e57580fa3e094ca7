"""Denoising your own image files with a saved model (nothing is rebuilt or trained)."""

import hashlib
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from denoise_kit import own_images
from denoise_kit.errors import ConfigError, DataError


def tiny_autoencoder(filters=(4, 8)):
    """The scripts' layer structure (two pooling levels, any input size), with few filters."""
    inputs = keras.Input(shape=(None, None, 1))
    x = inputs
    for n in filters:
        x = keras.layers.Conv2D(n, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D(2, padding="same")(x)
    x = keras.layers.Conv2D(filters[-1], 3, activation="relu", padding="same")(x)
    for n in reversed(filters):
        x = keras.layers.Conv2DTranspose(n, 3, strides=2, activation="relu", padding="same")(x)
    outputs = keras.layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(inputs, outputs)


def three_level_autoencoder():
    """Three pooling levels: 28 pools to 4 and grows back to 32, cropped by 2 on each side."""
    inputs = keras.Input(shape=(None, None, 1))
    x = inputs
    for n in (4, 4, 8):
        x = keras.layers.Conv2D(n, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D(2, padding="same")(x)
    for n in (8, 4, 4):
        x = keras.layers.UpSampling2D(2)(x)
        x = keras.layers.Conv2D(n, 3, activation="relu", padding="same")(x)
    x = keras.layers.Cropping2D(2)(x)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """An untrained but fixed model saved as the scripts save theirs."""
    keras.utils.set_random_seed(3)
    path = tmp_path_factory.mktemp("trained") / "model.keras"
    tiny_autoencoder().save(path)
    return path


@pytest.fixture(scope="module")
def saved(model_path):
    return keras.saving.load_model(model_path)


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
    """denoise_files, which must read every file; the files it wrote, as {name: path}."""
    output_dir = Path(output_dir)
    before = set(output_dir.iterdir()) if output_dir.is_dir() else set()
    assert own_images.denoise_files(paths, model_path, output_dir, **kwargs) == 0
    return {p.name: p for p in set(output_dir.iterdir()) - before}


def mirrored(image, height, width):
    """`image` padded at the bottom and right to height x width by mirroring its edges."""
    padding = ((0, height - image.shape[0]), (0, width - image.shape[1]))
    return np.pad(image, padding, mode="reflect" if min(image.shape) > 1 else "edge")


def predicted(model, image):
    return model.predict(image[None, :, :, None].astype("float32"), verbose=0)[0, :, :, 0]


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(("height", "width", "padded"), [(28, 28, (28, 28)), (37, 53, (40, 56)),
                                                         (1, 5, (4, 8)), (2, 3, (4, 4)), (64, 48, (64, 48))])
def test_any_size_is_denoised_at_its_own_size(model_path, saved, tmp_path, height, width, padded):
    source = write_png(tmp_path / "digit.png", drawing(height, width))
    written = denoise([source], model_path, tmp_path / "out")
    assert sorted(written) == ["digit.comparison.png", "digit.denoised.png"]
    output = read_png(written["digit.denoised.png"])
    assert output.shape == (height, width)
    assert (own_images.accepted_size(saved, height), own_images.accepted_size(saved, width)) == padded

    # What the saved model gives on the edge-mirrored, padded image, cropped back.
    image = read_png(source)
    expected = predicted(saved, mirrored(image, *padded))[:height, :width]
    np.testing.assert_allclose(output, expected, atol=0.5 / 255 + 1e-6)
    assert written["digit.comparison.png"].stat().st_size > 0


def test_a_28x28_image_gives_what_the_saved_model_gives(model_path, saved, tmp_path):
    pixels = drawing(28, 28, seed=4)
    source = write_png(tmp_path / "digit.png", pixels)
    output = read_png(denoise([source], model_path, tmp_path / "out")["digit.denoised.png"])
    np.testing.assert_allclose(output, predicted(saved, pixels / 255.0), atol=0.5 / 255 + 1e-6)


def test_the_saved_model_predicts_any_multiple_of_four(model_path):
    model = keras.saving.load_model(model_path)
    images = np.random.default_rng(0).random((2, 36, 44, 1)).astype("float32")
    output = model.predict(images, verbose=0)
    assert output.shape == (2, 36, 44, 1)
    assert 0.0 <= output.min() and output.max() <= 1.0


class RecordingModel:
    """Takes a size only if it is a multiple of 4, like two pooling levels; gives back its input."""

    def compute_output_shape(self, shape):
        return shape if shape[1] % 4 == 0 else (shape[0], shape[1] + 1, shape[2] + 1, shape[3])

    def __call__(self, batch, training=False):
        assert training is False
        self.seen = batch
        return batch


def test_padding_mirrors_the_edges_and_is_cropped_back():
    model = RecordingModel()
    image = np.arange(15, dtype=np.float32).reshape(3, 5)
    output = own_images.denoise_image(model, image)
    padded = model.seen[0, :, :, 0]
    assert padded.shape == (4, 8)
    np.testing.assert_array_equal(padded[:3, :5], image)
    np.testing.assert_array_equal(padded[3, :5], image[1])  # Reflected about the last row...
    np.testing.assert_array_equal(padded[:3, 5:], image[:, [3, 2, 1]])  # ...and the last column.
    np.testing.assert_array_equal(output, image)  # Cropped back to 3x5.
    one_row = own_images.denoise_image(model, np.array([[1, 2, 3]], np.float32))
    np.testing.assert_array_equal(model.seen[0, :, :, 0], [[1, 2, 3, 3]] * 4)  # One pixel high: repeated.
    assert one_row.shape == (1, 3)


def test_a_three_level_model_is_padded_to_the_sizes_it_takes(tmp_path):
    keras.utils.set_random_seed(5)
    three_level_autoencoder().save(tmp_path / "three.keras")
    model = own_images.load_denoiser(tmp_path / "three.keras")
    assert [own_images.accepted_size(model, n) for n in (28, 29, 30, 36, 37, 44, 50)] == [
        28, 36, 36, 36, 44, 44, 52]  # 4 more than a multiple of 8.
    source = write_png(tmp_path / "wide.png", drawing(30, 50))
    written = denoise([source], tmp_path / "three.keras", tmp_path / "out")
    output = read_png(written["wide.denoised.png"])
    assert output.shape == (30, 50)
    expected = predicted(model, mirrored(read_png(source), 36, 52))[:30, :50]
    np.testing.assert_allclose(output, expected, atol=0.5 / 255 + 1e-6)


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
    assert sorted(written) == ["photo.comparison.png", "photo.denoised.png",
                               "sketch.comparison.png", "sketch.denoised.png"]
    photo = Image.open(written["photo.denoised.png"])
    assert photo.size == (41, 30) and photo.mode == "L"
    assert Image.open(written["sketch.denoised.png"]).size == (20, 20)


# ----------------------------------------------------------------------------- bad input


def test_no_model_yet_gives_one_line_saying_to_train_first(tmp_path):
    source = write_png(tmp_path / "digit.png", drawing(28, 28))
    with pytest.raises(ConfigError) as error:
        own_images.denoise_files([source], tmp_path / "outputs" / "model.keras", tmp_path / "out",
                                 train_command="python denoise_transpose_mnist.py")
    message = str(error.value)
    assert "\n" not in message and "model.keras" in message
    assert "train one first with `python denoise_transpose_mnist.py`" in message
    assert not (tmp_path / "out").exists()


def test_a_damaged_model_gives_one_line(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"half a zip file")
    with pytest.raises(ConfigError, match="^cannot load .*model.keras .*: delete it and train again$"):
        own_images.load_denoiser(tmp_path / "model.keras")


@pytest.mark.parametrize("broken", ["notes.png", "cut.png", "missing.png"])
def test_an_unreadable_file_is_skipped_and_the_others_denoised(model_path, tmp_path, capsys, broken):
    good = write_png(tmp_path / "good.png", drawing(28, 28))
    other = write_png(tmp_path / "other.png", drawing(20, 24, seed=1))
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    bad = tmp_path / broken
    capsys.readouterr()
    assert own_images.denoise_files([bad, good, other], model_path, tmp_path / "out") == 1
    captured = capsys.readouterr()
    (skipped,) = captured.err.splitlines()
    assert skipped.startswith("skipped: ") and str(bad) in skipped
    assert captured.out.splitlines()[-1] == "2 of 3 image(s) denoised; 1 could not be read"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "good.comparison.png", "good.denoised.png", "other.comparison.png", "other.denoised.png"]


def test_nothing_readable_writes_nothing(model_path, tmp_path, capsys):
    assert own_images.denoise_files([tmp_path / "a.png", tmp_path / "b.png"], model_path,
                                    tmp_path / "out") == 2
    captured = capsys.readouterr()
    assert len(captured.err.splitlines()) == 2
    assert captured.out == "0 of 2 image(s) denoised; 2 could not be read\n"
    assert not (tmp_path / "out").exists()


def test_too_many_pixels_is_refused_with_the_size(model_path, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(own_images, "MAX_PIXELS", 100)
    path = write_png(tmp_path / "big.png", drawing(20, 30))
    with pytest.raises(DataError, match="big.png is 30x20 pixels: scale it down"):
        own_images.read_grey(path)
    assert own_images.denoise_files([path], model_path, tmp_path / "out") == 1
    assert "skipped: " in capsys.readouterr().err


def test_a_negative_noise_factor_or_no_file_is_refused(model_path, tmp_path):
    source = write_png(tmp_path / "digit.png", drawing(28, 28))
    with pytest.raises(ConfigError, match="noise factor must be 0 or more"):
        own_images.denoise_files([source], model_path, tmp_path / "out", noise_factor=-0.1)
    with pytest.raises(ConfigError, match="give at least one image file"):
        own_images.denoise_files([], model_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


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
    clean_run = read_png(denoise([source], model_path, tmp_path / "plain")["digit.denoised.png"])
    capsys.readouterr()
    first = denoise([source], model_path, tmp_path / "noisy", noise_factor=0.5, seed=7)
    second = denoise([source], model_path, tmp_path / "noisy", noise_factor=0.5, seed=7)
    noisy_runs = [read_png(first["digit.denoised.png"]), read_png(second["digit.denoised-2.png"])]
    assert not np.allclose(noisy_runs[0], clean_run, atol=2 / 255)  # The noise went in.
    np.testing.assert_array_equal(noisy_runs[0], noisy_runs[1])  # Same seed, same noise.
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[1] == lines[3] == "1 of 1 image(s) denoised"
    for line in lines[0], lines[2]:
        assert line.startswith("digit.png (53x37): noisy ") and "dB -> denoised " in line
    assert sorted(p.name for p in (tmp_path / "noisy").iterdir()) == [
        "digit.comparison-2.png", "digit.comparison.png", "digit.denoised-2.png", "digit.denoised.png"]
    other_seed = denoise([source], model_path, tmp_path / "seed8", noise_factor=0.5, seed=8)
    assert not np.array_equal(read_png(other_seed["digit.denoised.png"]), noisy_runs[0])


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
    assert sorted(first) == ["digit.comparison-2.png", "digit.denoised-2.png"]
    assert sorted(second) == ["digit.comparison-3.png", "digit.denoised-3.png"]
    assert set(after) - set(before) == set(first) | set(second)
    assert not list(folder.glob("*partial*"))


def test_light_images_get_a_hint_and_invert_flips_around_the_network(model_path, tmp_path, capsys):
    dark_on_light = 255 - drawing(28, 32)
    source = write_png(tmp_path / "paper.png", dark_on_light)
    straight = read_png(denoise([source], model_path, tmp_path / "a")["paper.denoised.png"])
    assert "try --invert" in capsys.readouterr().out

    inverted = read_png(denoise([source], model_path, tmp_path / "b", invert=True)["paper.denoised.png"])
    assert "try --invert" not in capsys.readouterr().out
    negative = write_png(tmp_path / "negative.png", 255 - dark_on_light)
    through_negative = read_png(denoise([negative], model_path, tmp_path / "c")["negative.denoised.png"])
    np.testing.assert_allclose(inverted, 1 - through_negative, atol=1.01 / 255)
    assert not np.allclose(inverted, straight, atol=2 / 255)

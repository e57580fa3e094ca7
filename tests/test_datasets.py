import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import digits, make_tar_gz, real_data_dir, write_mnist_idx

from denoise_kit import datasets
from denoise_kit.errors import ConfigError, DataError
from denoise_kit.idx import write_idx

ROOT = Path(__file__).resolve().parent.parent


def assert_images(x, n):
    assert x.shape == (n, 28, 28, 1)
    assert x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0


def flat_set(x):
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def save_keras_npz(path, n_train=30, n_test=10):
    (x_train, y_train), (x_test, y_test) = digits(n_train, seed=2), digits(n_test, seed=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return x_train, x_test


# ----------------------------------------------------------------------------- MNIST


def test_keras_npz_with_both_splits_is_used_as_published(tmp_path, capsys):
    x_train_raw, x_test_raw = save_keras_npz(tmp_path / "mnist.npz")
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(tmp_path)
    assert_images(x_train, 30)
    assert_images(x_test, 10)
    assert y_train.dtype == np.uint8
    np.testing.assert_allclose(x_train[..., 0], x_train_raw / 255.0, atol=1e-7)
    assert "mnist.npz (Keras npz)" in capsys.readouterr().out


def test_idx_folder_with_one_split_is_deduplicated_then_split(tmp_path, capsys):
    images, labels = digits(48)
    images = np.concatenate([images, images[:2]])  # Two exact duplicates.
    labels = np.concatenate([labels, labels[:2]])
    write_mnist_idx(tmp_path / "mnist", "t10k", images, labels, gz=False)
    (x_train, _), (x_test, _) = datasets.load_mnist(tmp_path)
    assert (len(x_train), len(x_test)) == (38, 10)  # 48 unique, 20% held out.
    assert not flat_set(x_train) & flat_set(x_test)
    line = capsys.readouterr().out
    assert "test split only" in line and "2 exact duplicates removed" in line
    assert "38 train / 10 test" in line


def test_too_few_unique_images_to_split(tmp_path):
    images, labels = digits(1)
    write_mnist_idx(tmp_path / "mnist", "t10k", np.repeat(images, 4, axis=0), np.repeat(labels, 4))
    with pytest.raises(DataError, match="holds only 1 unique image"):
        datasets.load_mnist(tmp_path)


def test_split_depends_on_split_seed_only(tmp_path):
    write_mnist_idx(tmp_path / "mnist", "t10k", *digits(40))
    first = datasets.load_mnist(tmp_path, verbose=False)[1][0]
    again = datasets.load_mnist(tmp_path, verbose=False)[1][0]
    other = datasets.load_mnist(tmp_path, split_seed=1, verbose=False)[1][0]
    np.testing.assert_array_equal(first, again)
    assert flat_set(first) != flat_set(other)


def test_idx_folder_with_both_splits(tmp_path):
    write_mnist_idx(tmp_path / "mnist", "train", *digits(20, seed=4))
    write_mnist_idx(tmp_path / "mnist", "t10k", *digits(7, seed=5), gz=False)
    (x_train, _), (x_test, _) = datasets.load_mnist(tmp_path, verbose=False)
    assert (len(x_train), len(x_test)) == (20, 7)


def test_own_npz_wins_over_idx_and_keras_cache_is_used_last(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path / "mnist", "t10k", *digits(40))
    save_keras_npz(tmp_path / "mnist.npz", n_train=12)
    assert len(datasets.load_mnist(tmp_path, verbose=False)[0][0]) == 12
    empty = tmp_path / "empty"
    empty.mkdir()
    save_keras_npz(datasets.keras_cache_dir() / "mnist.npz", n_train=14)
    assert len(datasets.load_mnist(empty, verbose=False)[0][0]) == 14


def test_data_dir_from_environment(tmp_path, monkeypatch):
    save_keras_npz(tmp_path / "mnist.npz", n_train=11)
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path))
    assert datasets.resolve_data_dir() == tmp_path
    assert len(datasets.load_mnist(verbose=False)[0][0]) == 11
    assert datasets.resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"


def test_images_and_labels_of_different_counts(tmp_path):
    images, labels = digits(10)
    write_mnist_idx(tmp_path / "mnist", "t10k", images, labels[:9])
    with pytest.raises(DataError, match="10 images but its labels file 9 labels"):
        datasets.load_mnist(tmp_path)


def test_wrong_image_shape(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte", np.zeros((3, 32, 32), np.uint8))
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=r"shape \(32, 32\), not 28x28"):
        datasets.load_mnist(tmp_path)


def test_images_without_labels(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match="no matching t10k-labels file"):
        datasets.load_mnist(tmp_path)


def test_corrupt_npz_is_reported_and_kept(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(DataError, match="mnist.npz is truncated or corrupt"):
        datasets.load_mnist(tmp_path)
    assert (tmp_path / "mnist.npz").read_bytes().startswith(b"PK")


def test_no_data_and_no_network_says_what_to_do(tmp_path):
    data_dir = tmp_path / "data"
    with pytest.raises(DataError) as error:
        datasets.load_mnist(data_dir)
    message = str(error.value)
    assert message.startswith(f"MNIST not found in {data_dir}/ and the download from file:")
    assert "put mnist.npz in" in message and "IDX files in" in message
    assert "\n" not in message
    assert list(data_dir.iterdir()) == []  # Nothing half-downloaded left behind.


def test_download_when_nothing_is_local(tmp_path, monkeypatch):
    server = tmp_path / "server" / "mnist.npz"
    save_keras_npz(server, n_train=16)
    from denoise_kit.download import sha256_of

    monkeypatch.setattr(datasets, "MNIST_URL", server.as_uri())
    monkeypatch.setattr(datasets, "MNIST_SHA256", sha256_of(server))
    data_dir = tmp_path / "data"
    assert len(datasets.load_mnist(data_dir, verbose=False)[0][0]) == 16
    assert sorted(p.name for p in data_dir.iterdir()) == ["mnist.npz"]


# -------------------------------------------------------------------------- notMNIST


def test_png_folder_skips_bad_files_removes_duplicates_and_caches(png_folder, capsys):
    data_dir = png_folder.parent
    (x_train, y_train), (x_test, _) = datasets.load_notmnist(data_dir)
    assert len(x_train) + len(x_test) == 37  # 40 readable, 3 duplicates.
    assert len(x_test) == round(37 * 0.2)
    assert not flat_set(x_train) & flat_set(x_test)
    assert set(np.unique(y_train)) <= set(range(10))
    line = capsys.readouterr().out
    assert "unreadable 1 skipped" in line and "wrong size 1 skipped" in line
    assert "40 images, 3 exact duplicates removed" in line
    assert (data_dir / datasets.NOTMNIST_CACHE).is_file()

    start = time.perf_counter()
    cached = datasets.load_notmnist(data_dir)
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(cached[1][0], x_test)
    line = capsys.readouterr().out
    assert "(cache of" in line and "unreadable 1 skipped" in line


def test_labels_follow_the_letter_folders(tmp_path):
    from conftest import png_bytes

    root = tmp_path / "notMNIST_small"
    for letter in "ACJ":
        (root / letter).mkdir(parents=True)
        (root / letter / "x.png").write_bytes(png_bytes(np.full((28, 28), ord(letter), np.uint8)))
    raw = datasets._read_png_folder(root)
    images, labels = raw.splits["train"]
    assert [datasets.CLASS_NAMES["notmnist"][i] for i in labels] == ["A", "C", "J"]
    assert [chr(int(img[0, 0])) for img in images] == ["A", "C", "J"]


def test_tar_gz_gives_the_same_images_as_the_folder(tmp_path, png_files, png_folder):
    archive_dir = tmp_path / "archive"
    make_tar_gz(archive_dir / "notMNIST_small.tar.gz", png_files)
    from_folder = datasets.load_notmnist(png_folder.parent, verbose=False)
    from_archive = datasets.load_notmnist(archive_dir, verbose=False)
    np.testing.assert_array_equal(from_folder[0][0], from_archive[0][0])
    np.testing.assert_array_equal(from_folder[1][1], from_archive[1][1])


def test_truncated_tar_gz_is_reported_and_kept(tmp_path, png_files):
    archive = make_tar_gz(tmp_path / "notMNIST_small.tar.gz", png_files)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        datasets.load_notmnist(tmp_path)
    assert archive.stat().st_size == len(data) // 2


def test_unreadable_cache_is_rebuilt(png_folder, capsys):
    cache = png_folder.parent / datasets.NOTMNIST_CACHE
    cache.write_bytes(b"garbage")
    (x_train, _), _ = datasets.load_notmnist(png_folder.parent)
    assert len(x_train) == 30
    assert "ignoring" in capsys.readouterr().out
    assert cache.read_bytes()[:2] == b"PK"


def test_read_only_data_folder_loads_without_cache(png_folder, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(np, "savez", read_only)
    data_dir = png_folder.parent
    (x_train, _), _ = datasets.load_notmnist(data_dir, verbose=False)
    assert len(x_train) == 30
    assert not (data_dir / datasets.NOTMNIST_CACHE).exists()


def test_notmnist_idx_folder(tmp_path):
    write_mnist_idx(tmp_path / "notmnist", "t10k", *digits(25))
    (x_train, _), (x_test, _) = datasets.load_notmnist(tmp_path, verbose=False)
    assert (len(x_train), len(x_test)) == (20, 5)


def test_notmnist_archive_download(tmp_path, png_files, monkeypatch):
    server = make_tar_gz(tmp_path / "server" / "notMNIST_small.tar.gz", png_files)
    monkeypatch.setattr(datasets, "NOTMNIST_URL", server.as_uri())
    monkeypatch.setattr(datasets, "NOTMNIST_SIZE", server.stat().st_size)
    monkeypatch.setattr(datasets, "NOTMNIST_MD5", md5_of(server))
    data_dir = tmp_path / "data"
    (x_train, _), (x_test, _) = datasets.load_notmnist(data_dir, verbose=False)
    assert len(x_train) + len(x_test) == 37
    assert (data_dir / "notMNIST_small.tar.gz").read_bytes() == server.read_bytes()


def md5_of(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_notmnist_google_copy_when_the_first_host_fails(tmp_path, png_files, monkeypatch, capsys):
    good = make_tar_gz(tmp_path / "google" / "notMNIST_small.tar.gz", png_files)
    # Same size, other bytes: only the MD5 tells them apart.
    wrong = tmp_path / "first" / "notMNIST_small.tar.gz"
    wrong.parent.mkdir()
    wrong.write_bytes(bytes(good.stat().st_size))
    monkeypatch.setattr(datasets, "NOTMNIST_URL", wrong.as_uri())
    monkeypatch.setattr(datasets, "NOTMNIST_GOOGLE_URL", good.as_uri())
    monkeypatch.setattr(datasets, "NOTMNIST_SIZE", good.stat().st_size)
    monkeypatch.setattr(datasets, "NOTMNIST_MD5", md5_of(good))
    data_dir = tmp_path / "data"
    (x_train, _), (x_test, _) = datasets.load_notmnist(data_dir, verbose=False)
    assert len(x_train) + len(x_test) == 37
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"notMNIST: the download from {wrong.as_uri()} failed (the file does not "
                     f"match its MD5); trying the copy at {good.as_uri()}"]
    assert sorted(p.name for p in data_dir.iterdir()) == sorted([
        datasets.NOTMNIST_CACHE, "notMNIST_small.tar.gz"])


def test_notmnist_falls_back_to_the_idx_mirror(tmp_path, monkeypatch, capsys):
    from denoise_kit.download import sha256_of

    mirror = tmp_path / "mirror"
    write_mnist_idx(mirror, "t10k", *digits(30))
    monkeypatch.setattr(datasets, "NOTMNIST_MIRROR_URL", mirror.as_uri() + "/")
    monkeypatch.setattr(datasets, "NOTMNIST_MIRROR_FILES", {
        p.name: sha256_of(p, gunzip=True) for p in sorted(mirror.iterdir())})
    data_dir = tmp_path / "data"
    (x_train, _), (x_test, _) = datasets.load_notmnist(data_dir)
    assert (len(x_train), len(x_test)) == (24, 6)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # One per failed source, then where the data came from.
    assert "notMNIST_small.tar.gz failed (No such file" in lines[0]
    assert lines[0].endswith(f"trying the copy at {datasets.NOTMNIST_GOOGLE_URL}")
    assert "google/notMNIST_small.tar.gz failed (No such file" in lines[1]
    assert lines[1].endswith(f"trying the IDX mirror at {mirror.as_uri()}/")
    assert sorted(p.name for p in (data_dir / "notmnist").iterdir()) == sorted(
        p.name for p in mirror.iterdir())
    assert sorted(p.name for p in data_dir.iterdir()) == ["notmnist"]  # No staging folder left.


def test_notmnist_nowhere_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"notMNIST not found in .* put notMNIST_small.tar.gz"):
        datasets.load_notmnist(tmp_path)
    assert not any(tmp_path.rglob("*.download"))


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        datasets.load_dataset("cifar")


def test_denoising_splits_limit_and_validation(tmp_path):
    write_mnist_idx(tmp_path / "mnist", "t10k", *digits(100))
    data = datasets.denoising_splits("mnist", tmp_path, limit=50, validation_fraction=0.1)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (45, 5, 20)
    assert data.class_names[3] == "3"
    capped = datasets.denoising_splits("mnist", tmp_path, validation_fraction=0.1, max_validation=3)
    assert (len(capped.x_train), len(capped.x_val)) == (77, 3)  # 8 by the fraction, 3 at most.
    np.testing.assert_array_equal(capped.x_val, data.x_val[:3])


@pytest.mark.parametrize(("shared_by", "kept"), [(1, 25), (2, 24), (4, 24), (5, 25), (25, 25), (26, None)])
def test_validation_set_is_cut_to_a_share_per_device(tmp_path, shared_by, kept):
    write_mnist_idx(tmp_path / "mnist", "t10k", *digits(100))  # 80 train / 20 test.
    whole = datasets.denoising_splits("mnist", tmp_path, validation_fraction=0.3125)  # 25 validation.
    if kept is None:
        with pytest.raises(ConfigError, match=f"^the validation set needs at least {shared_by} images, "
                                              "one per device: raise --limit$"):
            datasets.denoising_splits("mnist", tmp_path, validation_fraction=0.3125, shared_by=shared_by)
        return
    data = datasets.denoising_splits("mnist", tmp_path, validation_fraction=0.3125, shared_by=shared_by)
    assert len(whole.x_val) == 25 and len(data.x_val) == kept
    np.testing.assert_array_equal(data.x_val, whole.x_val[:kept])  # At most shared_by - 1 images fewer.
    np.testing.assert_array_equal(data.x_train, whole.x_train)  # The images cut go nowhere else:
    np.testing.assert_array_equal(data.x_test, whole.x_test)  # the test set stays whole.


def test_one_validation_image_cannot_be_shared(tmp_path):
    write_mnist_idx(tmp_path / "mnist", "t10k", *digits(100))
    assert len(datasets.denoising_splits("mnist", tmp_path, limit=10, shared_by=1).x_val) == 1
    with pytest.raises(ConfigError, match="the validation set needs at least 2 images"):
        datasets.denoising_splits("mnist", tmp_path, limit=10, shared_by=2)


# ---------------------------------------------------------------------- Fashion-MNIST


def write_fashion_set(folder, n_train=30, n_test=10):
    """The four .gz files Keras names, with distinct random images."""
    write_mnist_idx(folder, "train", *digits(n_train, seed=6))
    write_mnist_idx(folder, "t10k", *digits(n_test, seed=7))
    return folder


def serve_fashion_set(folder, monkeypatch, n_train=30):
    from denoise_kit.download import sha256_of

    write_fashion_set(folder, n_train=n_train)
    monkeypatch.setattr(datasets, "FASHION_MNIST_URL", folder.as_uri() + "/")
    monkeypatch.setattr(datasets, "FASHION_MNIST_FILES", {
        name: sha256_of(folder / name, gunzip=True) for name in datasets.FASHION_MNIST_FILES})
    return folder


def test_fashion_mnist_idx_folder_is_used_as_published(tmp_path, capsys):
    write_fashion_set(tmp_path / "fashion_mnist")
    (x_train, y_train), (x_test, y_test) = datasets.load_fashion_mnist(tmp_path)
    assert_images(x_train, 30)
    assert_images(x_test, 10)
    assert y_train.tolist() == [i % 10 for i in range(30)]
    line = capsys.readouterr().out
    assert line.startswith(f"Fashion-MNIST from {tmp_path / 'fashion_mnist'}/ (IDX)")
    assert "train and test splits as published: 30 train / 10 test" in line
    data = datasets.denoising_splits("fashion_mnist", tmp_path)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (27, 3, 10)
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
    assert len(set(data.class_names)) == 10


def test_fashion_mnist_keras_cache(tmp_path):
    cache = datasets.keras_cache_dir() / "fashion-mnist"
    assert cache.parent == tmp_path / "keras_home" / "datasets"  # $KERAS_HOME is honoured.
    write_fashion_set(cache, n_train=12)
    empty = tmp_path / "empty"
    assert len(datasets.load_fashion_mnist(empty, verbose=False)[0][0]) == 12
    write_fashion_set(tmp_path / "own" / "fashion_mnist", n_train=14)
    assert len(datasets.load_fashion_mnist(tmp_path / "own", verbose=False)[0][0]) == 14


def test_fashion_mnist_half_filled_keras_cache_is_not_a_dataset(tmp_path):
    cache = datasets.keras_cache_dir() / "fashion-mnist"
    write_mnist_idx(cache, "train", *digits(20))  # Keras was stopped before the test files.
    with pytest.raises(DataError, match="Fashion-MNIST not found in"):
        datasets.load_fashion_mnist(tmp_path / "data")


def test_fashion_mnist_download(tmp_path, monkeypatch):
    server = serve_fashion_set(tmp_path / "server", monkeypatch, n_train=16)
    data_dir = tmp_path / "data"
    (x_train, _), (x_test, _) = datasets.load_fashion_mnist(data_dir, verbose=False)
    assert (len(x_train), len(x_test)) == (16, 10)
    assert [p.name for p in data_dir.iterdir()] == ["fashion_mnist"]
    assert sorted(p.name for p in (data_dir / "fashion_mnist").iterdir()) == sorted(
        p.name for p in server.iterdir())


def test_fashion_mnist_half_download_is_kept_aside_and_resumed(tmp_path, monkeypatch):
    server = serve_fashion_set(tmp_path / "server", monkeypatch)
    last = list(datasets.FASHION_MNIST_FILES)[-1]
    good = (server / last).read_bytes()
    (server / last).write_bytes(good[: len(good) // 2])
    data_dir = tmp_path / "data"
    with pytest.raises(DataError, match=f"the download from .*{last} failed .*truncated or corrupt"):
        datasets.load_fashion_mnist(data_dir)
    # No half set where it would be read as a dataset; the verified files wait.
    assert [p.name for p in data_dir.iterdir()] == ["fashion_mnist.download"]
    assert len(list((data_dir / "fashion_mnist.download").iterdir())) == 3
    for name in list(datasets.FASHION_MNIST_FILES)[:-1]:
        (server / name).unlink()  # Fetched already: the next run must not need them.
    (server / last).write_bytes(good)
    (x_train, _), (x_test, _) = datasets.load_fashion_mnist(data_dir, verbose=False)
    assert (len(x_train), len(x_test)) == (30, 10)
    assert [p.name for p in data_dir.iterdir()] == ["fashion_mnist"]


def test_fashion_mnist_nowhere_says_what_to_do(tmp_path):
    data_dir = tmp_path / "data"
    with pytest.raises(DataError) as error:
        datasets.load_fashion_mnist(data_dir)
    message = str(error.value)
    assert message.startswith(f"Fashion-MNIST not found in {data_dir}/ and the download from file:")
    assert message.endswith(f"in {data_dir / 'fashion_mnist'}/") and "train-images-idx3-ubyte.gz" in message
    assert "\n" not in message
    assert list(data_dir.iterdir()) == []


# ------------------------------------------------------------------- the real data


def test_real_mnist_test_split():
    data_dir = real_data_dir("mnist")
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(data_dir, verbose=False)
    assert_images(x_train, 8000)
    assert_images(x_test, 2000)
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_notmnist_sample():
    data_dir = real_data_dir("notmnist")
    (x_train, y_train), (x_test, _) = datasets.load_notmnist(data_dir, verbose=False)
    assert len(x_train) + len(x_test) == 9804
    assert (len(x_train), len(x_test)) == (7843, 1961)
    assert_images(x_test, 1961)
    assert not flat_set(x_train) & flat_set(x_test)
    assert set(np.unique(y_train)) == set(range(10))


def test_real_fashion_mnist_full_dataset():
    data_dir = real_data_dir("fashion_mnist")
    (_, y_train), (_, y_test) = datasets.load_fashion_mnist(data_dir, verbose=False)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    data = datasets.denoising_splits("fashion_mnist", data_dir)
    assert_images(data.x_train, 54_000)
    assert_images(data.x_val, 6_000)
    assert_images(data.x_test, 10_000)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.class_names == datasets.CLASS_NAMES["fashion_mnist"]


ALL_LOADERS = [datasets.load_mnist, datasets.load_notmnist, datasets.load_fashion_mnist]


@pytest.mark.parametrize("load", ALL_LOADERS)
def test_local_only_never_downloads(tmp_path, load, monkeypatch):
    monkeypatch.setattr(datasets, "download", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(DataError, match="downloads were not allowed"):
        load(tmp_path, download=False)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ the data folder


@pytest.mark.parametrize("load", ALL_LOADERS)
def test_data_dir_that_is_a_file(tmp_path, load, monkeypatch):
    monkeypatch.setattr(datasets, "download", lambda *a, **k: pytest.fail("downloaded"))
    not_a_folder = tmp_path / "mnist.npz"
    not_a_folder.write_bytes(b"user's file")
    with pytest.raises(ConfigError, match=r"^--data-dir is a file, not a folder: .*mnist.npz;"):
        load(not_a_folder)
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(not_a_folder))
    with pytest.raises(ConfigError, match=r"^\$DENOISE_DATA_DIR is a file, not a folder: "):
        load()
    assert not_a_folder.read_bytes() == b"user's file"


def test_data_dir_that_is_a_file_gives_one_line_from_the_command_line(tmp_path):
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("")
    code = ("import denoise_kit.quiet; from denoise_kit import datasets; "
            f"datasets.denoising_splits('mnist', {str(not_a_folder)!r})")
    # Another backend: denoise_kit.quiet then skips TensorFlow's start-up (seconds); its one-line
    # errors are the same on every backend.
    env = {**os.environ, "KERAS_BACKEND": "numpy", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"error: --data-dir is a file, not a folder: {not_a_folder}; " \
        "give the folder that holds the datasets (or should receive them)\n"


@pytest.mark.parametrize("load", ALL_LOADERS)
def test_data_dir_inside_a_file(tmp_path, load):
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match=r"not found in .*file/data/ and cannot download into "
                                        r".*file/data/ \(Not a directory") as error:
        load(tmp_path / "file" / "data")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("load", ALL_LOADERS)
def test_unwritable_data_dir_when_a_download_is_needed(tmp_path, load, monkeypatch, capsys):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)  # What a read-only folder does.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pytest.raises(DataError, match=r"not found in .*data/ and cannot download into "
                                        r".*data/ \(Permission denied\): put ") as error:
        load(data_dir)
    assert "\n" not in str(error.value)
    assert capsys.readouterr().out == ""  # No source was tried.
    assert list(data_dir.iterdir()) == []

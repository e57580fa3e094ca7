"""MNIST, notMNIST and Fashion-MNIST loaders that work offline, online and
with messy files.

``load_data`` returns what ``keras.datasets.mnist.load_data()`` returns:
``(x_train, y_train), (x_test, y_test)``, uint8 images of shape (N, 28, 28)
and uint8 labels. ``load_dataset`` returns the same images as float32 in
[0, 1] with shape (N, 28, 28, 1). Both print one line saying where the data
came from and how it was split.

Where the data is looked for, first hit wins:

MNIST
  1. ``<data>/mnist.npz`` (Keras' format)
  2. ``<data>/mnist/`` with IDX files (``train-*`` and/or ``t10k-*``, plain or .gz)
  3. Keras' cache, ``~/.keras/datasets/mnist.npz``
  4. a download of Keras' ``mnist.npz`` into ``<data>/``

notMNIST (labels 0..9 stand for the letters A..J)
  1. ``<data>/notmnist*.npz``, a cache written by an earlier run
  2. ``<data>/notMNIST_small/``, the extracted folder of PNGs
  3. ``<data>/notMNIST_small.tar.gz``
  4. ``<data>/notmnist/`` with IDX files
  5. a download of ``notMNIST_small.tar.gz`` (checked by size and MD5) from its
     author's site, else from the Google-hosted copy, else of the IDX mirror's
     test files into ``<data>/notmnist/``

Fashion-MNIST (labels 0..9 stand for T-shirt/top .. Ankle boot)
  1. ``<data>/fashion_mnist/`` with IDX files (``train-*`` and/or ``t10k-*``)
  2. Keras' cache, ``~/.keras/datasets/fashion-mnist/`` (all four .gz files)
  3. a download of the four .gz files from Keras' address into
     ``<data>/fashion_mnist/`` (each checked by the SHA-256 of its content)

Keras' cache is ``$KERAS_HOME/datasets/`` where $KERAS_HOME is set.
Downloads time out (see denoise_kit.download). A set of IDX files is
downloaded into ``<folder>.download/`` and moved into place only once all
of them passed their checks, so a half set is never read as a dataset.

A source with only one split (notMNIST_small always; the MNIST test split
alone) has its exact duplicate images removed, then a seeded 20% held out
as the test set, so no image is in both splits.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from denoise_kit import phases
from denoise_kit.download import DownloadError, download, ensure_writable_folder
from denoise_kit.errors import ConfigError, DataError
from denoise_kit.idx import read_idx

DATA_DIR_ENV = "DENOISE_DATA_DIR"
_PROJECT = Path(__file__).resolve().parent.parent
# data/ beside the scripts in a clone of the project (an editable install too); an installed
# copy of the kit (a notebook in Colab or another folder) uses data/ in the current folder.
DEFAULT_DATA_DIR = _PROJECT / "data" if (_PROJECT / "pyproject.toml").is_file() else Path("data")
TEST_FRACTION = 0.2
SPLIT_SEED = 0  # Fixed, so changing a script's SEED never moves the test set.
IMAGE_SHAPE = (28, 28)

CLASS_NAMES = {
    "mnist": tuple("0123456789"),
    "notmnist": tuple("ABCDEFGHIJ"),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

NOTMNIST_URL = "http://yaroslavvb.com/upload/notMNIST/notMNIST_small.tar.gz"
NOTMNIST_GOOGLE_URL = "https://commondatastorage.googleapis.com/books1000/notMNIST_small.tar.gz"
NOTMNIST_SIZE = 8_458_043
NOTMNIST_MD5 = "c9890a473a9769fda4bdf314aaf500dd"
NOTMNIST_MIRROR_URL = "https://github.com/davidflanagan/notMNIST-to-MNIST/raw/master/"
# SHA-256 of the decompressed mirror files (gzip headers carry timestamps).
NOTMNIST_MIRROR_FILES = {
    "t10k-images-idx3-ubyte.gz": "8e7f38ae95cc8f48e0986175ffc9137e5007ebcf3d8fdf6656c904eb9dab198b",
    "t10k-labels-idx1-ubyte.gz": "5f8e6012f2ce730700d8d05fca098bc47f71d25b890e4bec7ac5ebfd614a4001",
}
NOTMNIST_CACHE = "notmnist_small.npz"

FASHION_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FASHION_MNIST_KERAS_SUBDIR = "fashion-mnist"  # Under keras_cache_dir(), as Keras names it.
# SHA-256 of the decompressed files, in the order Keras fetches them.
FASHION_MNIST_FILES = {
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
}

Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class RawData:
    """uint8 images and labels as read from one source, before splitting."""

    source: str
    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # "train" and/or "test"
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The --data-dir flag, else $DENOISE_DATA_DIR, else data/ beside the scripts.

    The folder need not exist yet (a download creates it); a file there is a
    ConfigError (not a DataError, which means "no data here").
    """
    if data_dir is not None:
        origin = "--data-dir"
    elif os.environ.get(DATA_DIR_ENV):
        origin, data_dir = f"${DATA_DIR_ENV}", os.environ[DATA_DIR_ENV]
    else:
        origin, data_dir = "the default data folder", DEFAULT_DATA_DIR
    path = Path(data_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{origin} is a file, not a folder: {path}; "
                        "give the folder that holds the datasets (or should receive them)")
    return path


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded datasets ($KERAS_HOME or ~/.keras)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser() / "datasets"


def load_data(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    split_seed: int = SPLIT_SEED,
    verbose: bool = True,
    download: bool = True,
) -> Splits:
    """Load "mnist", "notmnist" or "fashion_mnist" as keras.datasets.mnist.load_data()
    loads MNIST: uint8 images (N, 28, 28) and labels, train and test.

    The files come from the first source found (see the module docstring), each
    download checked by its hash; a source with one split has its duplicates removed
    and a fixed fifth held out as the test set. With ``download=False`` only local
    files are tried."""
    finders = {
        "mnist": ("MNIST", _find_mnist),
        "notmnist": ("notMNIST", _find_notmnist),
        "fashion_mnist": ("Fashion-MNIST", _find_fashion_mnist),
    }
    if name not in finders:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(finders)}")
    phases.mark("start-up")  # Python, the imports, the flags and the devices: all before the data.
    title, find = finders[name]
    splits = _finish(title, find(resolve_data_dir(data_dir), download), split_seed, verbose)
    phases.mark("data")
    return splits


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None, **options: Any) -> Splits:
    """`load_data`, with the images as float32 in [0, 1] and shape (N, 28, 28, 1)."""
    (x_train, y_train), (x_test, y_test) = load_data(name, data_dir, **options)
    return (_to_float(x_train), y_train), (_to_float(x_test), y_test)


# --------------------------------------------------------------------------- MNIST


def load_mnist(data_dir: str | os.PathLike[str] | None = None, **options) -> Splits:
    """Load MNIST; `options` as for `load_dataset`."""
    return load_dataset("mnist", data_dir, **options)


def _find_mnist(data_dir: Path, allow_download: bool = True) -> RawData:
    own_npz = data_dir / "mnist.npz"
    if own_npz.is_file():
        return _read_keras_npz(own_npz)
    idx_dir = data_dir / "mnist"
    if _has_idx_files(idx_dir):
        return _read_idx_dir(idx_dir)
    cached = keras_cache_dir() / "mnist.npz"
    if cached.is_file():
        return _read_keras_npz(cached)
    if not allow_download:
        raise DataError(f"MNIST not found in {data_dir}/ (downloads were not allowed)")
    try:
        download(MNIST_URL, own_npz, sha256=MNIST_SHA256)
    except DownloadError as e:
        raise DataError(
            f"MNIST not found in {data_dir}/ and {e}: "
            f"put mnist.npz in {data_dir}/ or the IDX files in {idx_dir}/"
        ) from None
    return _read_keras_npz(own_npz)


def _read_keras_npz(path: Path) -> RawData:
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path) as f:
            missing = [k for k in keys if k not in f]
            if missing:
                raise DataError(
                    f"{path} lacks {', '.join(missing)}: it is not Keras' mnist.npz; "
                    "move it away and run again"
                )
            arrays = {k: f[k] for k in keys}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is truncated or corrupt ({e}): move it away and run again") from None
    return RawData(
        f"{path} (Keras npz)",
        {
            "train": _checked(arrays["x_train"], arrays["y_train"], str(path)),
            "test": _checked(arrays["x_test"], arrays["y_test"], str(path)),
        },
    )


# ------------------------------------------------------------------------ IDX files


IDX_PREFIXES = {"train": "train", "test": "t10k"}


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _has_idx_files(folder: Path) -> bool:
    return folder.is_dir() and any(
        _idx_file(folder, f"{prefix}-{kind}") for prefix in IDX_PREFIXES.values()
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")
    )


def _read_idx_dir(folder: Path) -> RawData:
    splits = {}
    for split, prefix in IDX_PREFIXES.items():
        images = _idx_file(folder, f"{prefix}-images-idx3-ubyte")
        labels = _idx_file(folder, f"{prefix}-labels-idx1-ubyte")
        if images is None and labels is None:
            continue
        if images is None or labels is None:
            present, missing = (images, "labels") if labels is None else (labels, "images")
            raise DataError(
                f"{present} has no matching {prefix}-{missing} file in {folder}/: add it or remove the other"
            )
        splits[split] = _checked(read_idx(images, ndim=3), read_idx(labels, ndim=1), str(images))
    only = "" if len(splits) == 2 else f", {next(iter(splits))} split only"
    return RawData(f"{folder}/ (IDX{only})", splits)


def _download_idx_set(base_url: str, files: dict[str, str], folder: Path) -> None:
    """Download `files` ({name: SHA-256 of its content}) from `base_url` into
    `folder`. They go to ``<folder>.download/`` first and move into `folder`
    only once all of them passed their checks: a half set in `folder` would be
    read as a one-split dataset on the next run. Files already verified there
    by an earlier, interrupted run are not fetched again."""
    staging = folder.with_name(f"{folder.name}.download")
    try:
        for name, digest in files.items():
            if not (staging / name).is_file():
                download(base_url + name, staging / name, content_sha256=digest)
        folder.mkdir(parents=True, exist_ok=True)
        for name in files:
            if not (folder / name).exists():  # Called only when folder has no IDX files.
                os.replace(staging / name, folder / name)
    finally:
        with contextlib.suppress(OSError):
            staging.rmdir()  # Only when empty: verified files wait for the next run.


def _checked(images: np.ndarray, labels: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{name} holds images of shape {images.shape[1:]}, not 28x28")
    if len(images) != len(labels):
        raise DataError(
            f"{name} holds {len(images):,} images but its labels file {len(labels):,} labels: "
            "the two files belong to different datasets"
        )
    return images.astype(np.uint8, copy=False), labels.astype(np.uint8, copy=False).reshape(-1)


# ------------------------------------------------------------------------- notMNIST


def load_notmnist(data_dir: str | os.PathLike[str] | None = None, **options) -> Splits:
    """Load notMNIST; `options` as for `load_dataset`."""
    return load_dataset("notmnist", data_dir, **options)


def _find_notmnist(data_dir: Path, allow_download: bool = True) -> RawData:
    for cache in sorted(data_dir.glob("notmnist*.npz")):
        raw = _read_cache(cache)
        if raw is not None:
            return raw
    folder = data_dir / "notMNIST_small"
    if folder.is_dir():
        return _cached(_read_png_folder(folder), data_dir)
    archive = data_dir / "notMNIST_small.tar.gz"
    if archive.is_file():
        return _cached(_read_png_archive(archive), data_dir)
    idx_dir = data_dir / "notmnist"
    if _has_idx_files(idx_dir):
        return _read_idx_dir(idx_dir)
    if not allow_download:
        raise DataError(f"notMNIST not found in {data_dir}/ (downloads were not allowed)")
    return _download_notmnist(data_dir, archive, idx_dir)


def _download_notmnist(data_dir: Path, archive: Path, idx_dir: Path) -> RawData:
    def not_found(error: DownloadError) -> DataError:
        return DataError(
            f"notMNIST not found in {data_dir}/ and {error}: put notMNIST_small.tar.gz "
            f"(or its extracted folder) in {data_dir}/, or the IDX files in {idx_dir}/"
        )

    try:
        ensure_writable_folder(data_dir)  # A folder problem is not worth trying every source.
    except DownloadError as e:
        raise not_found(e) from None
    # Read at call time, so each source can be replaced (tests point them at local files).
    sources = [(NOTMNIST_URL, f"the copy at {NOTMNIST_GOOGLE_URL}"),
               (NOTMNIST_GOOGLE_URL, f"the IDX mirror at {NOTMNIST_MIRROR_URL}")]
    for url, next_source in sources:
        try:
            download(url, archive, size=NOTMNIST_SIZE, md5=NOTMNIST_MD5)
        except DownloadError as e:
            print(f"notMNIST: {e}; trying {next_source}", flush=True)
        else:
            return _cached(_read_png_archive(archive), data_dir)
    try:
        _download_idx_set(NOTMNIST_MIRROR_URL, NOTMNIST_MIRROR_FILES, idx_dir)
    except DownloadError as e:
        raise not_found(e) from None
    return _read_idx_dir(idx_dir)


def _letter_of(parts: tuple[str, ...]) -> int | None:
    """Class index from the folder a PNG sits in (A..J), or None."""
    if len(parts) >= 2 and parts[-2] in CLASS_NAMES["notmnist"]:
        return CLASS_NAMES["notmnist"].index(parts[-2])
    return None


def _decode_png(data: bytes) -> np.ndarray | None | str:
    """The 28x28 grey image, or "unreadable" / "wrong size"."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.size != IMAGE_SHAPE:
                return "wrong size"
            return np.asarray(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return "unreadable"


class _PngCollector:
    def __init__(self) -> None:
        self.images: list[np.ndarray] = []
        self.labels: list[int] = []
        self.skipped = {"unreadable": 0, "wrong size": 0}

    def add(self, data: bytes, label: int) -> None:
        result = _decode_png(data)
        if isinstance(result, str):
            self.skipped[result] += 1
        else:
            self.images.append(result)
            self.labels.append(label)

    def result(self, source: str) -> RawData:
        if not self.images:
            raise DataError(f"{source} holds no readable 28x28 PNGs in folders A..J")
        images = np.stack(self.images)
        labels = np.asarray(self.labels, dtype=np.uint8)
        return RawData(source, {"train": (images, labels)}, self.skipped)


def _read_png_folder(folder: Path) -> RawData:
    collector = _PngCollector()
    for path in sorted(folder.glob("*/*.png")):
        label = _letter_of(path.parts)
        if label is not None:
            collector.add(path.read_bytes(), label)
    return collector.result(f"{folder}/ (PNG folder)")


def _read_png_archive(archive: Path) -> RawData:
    collector = _PngCollector()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = sorted((m for m in tar if m.isfile() and m.name.endswith(".png")),
                             key=lambda m: m.name)
            for member in members:
                label = _letter_of(tuple(member.name.split("/")))
                if label is not None:
                    collector.add(tar.extractfile(member).read(), label)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DataError(
            f"{archive} is truncated or corrupt ({e}): move it away and run again to download it"
        ) from None
    return collector.result(f"{archive} (PNG archive)")


def _cached(raw: RawData, data_dir: Path) -> RawData:
    """Save the parsed images so later runs load in well under a second."""
    from denoise_kit.files import atomic_path

    try:
        with atomic_path(data_dir / NOTMNIST_CACHE) as tmp:
            images, labels = raw.splits["train"]
            np.savez(tmp, images=images, labels=labels, source=raw.source,
                     unreadable=raw.skipped["unreadable"], wrong_size=raw.skipped["wrong size"])
    except OSError:
        pass  # A read-only data folder just means no cache.
    return raw


def _read_cache(path: Path) -> RawData | None:
    try:
        with np.load(path) as f:
            images, labels = f["images"], f["labels"]
            skipped = {"unreadable": int(f["unreadable"]), "wrong size": int(f["wrong_size"])}
            source = str(f["source"])
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error):
        print(f"notMNIST: ignoring {path}, which is not a readable cache", flush=True)
        return None
    images, labels = _checked(images, labels, str(path))
    return RawData(f"{path} (cache of {source})", {"train": (images, labels)}, skipped)


# -------------------------------------------------------------------- Fashion-MNIST


def load_fashion_mnist(data_dir: str | os.PathLike[str] | None = None, **options) -> Splits:
    """Load Fashion-MNIST; `options` as for `load_dataset`."""
    return load_dataset("fashion_mnist", data_dir, **options)


def _find_fashion_mnist(data_dir: Path, allow_download: bool = True) -> RawData:
    idx_dir = data_dir / "fashion_mnist"
    if _has_idx_files(idx_dir):
        return _read_idx_dir(idx_dir)
    # Keras fetches the four files one by one; a half-filled cache is an
    # interrupted download, not a dataset.
    cached = keras_cache_dir() / FASHION_MNIST_KERAS_SUBDIR
    if all((cached / name).is_file() for name in FASHION_MNIST_FILES):
        return _read_idx_dir(cached)
    if not allow_download:
        raise DataError(f"Fashion-MNIST not found in {data_dir}/ (downloads were not allowed)")
    try:
        ensure_writable_folder(data_dir)  # Names the data folder, not the staging one.
        _download_idx_set(FASHION_MNIST_URL, FASHION_MNIST_FILES, idx_dir)
    except DownloadError as e:
        raise DataError(
            f"Fashion-MNIST not found in {data_dir}/ and {e}: put the IDX files "
            f"({', '.join(FASHION_MNIST_FILES)}) in {idx_dir}/"
        ) from None
    return _read_idx_dir(idx_dir)


# ------------------------------------------------------------------ shared last step


def deduplicate(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Drop exact duplicate images, keeping each first occurrence in order."""
    flat = images.reshape(len(images), -1)
    _, first = np.unique(flat, axis=0, return_index=True)
    keep = np.sort(first)
    return images[keep], labels[keep], len(images) - len(keep)


def holdout_split(n: int, seed: int, fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Seeded indices (train, test) with round(n * fraction) test items."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = round(n * fraction)
    return order[n_test:], order[:n_test]


def _to_float(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def _finish(name: str, raw: RawData, split_seed: int, verbose: bool) -> Splits:
    notes = [f"{k} {v:,} skipped" for k, v in raw.skipped.items() if v]
    if len(raw.splits) == 2:
        (x_train, y_train), (x_test, y_test) = raw.splits["train"], raw.splits["test"]
        notes.append("train and test splits as published")
    else:
        images, labels = next(iter(raw.splits.values()))
        images, labels, n_duplicates = deduplicate(images, labels)
        train, test = holdout_split(len(images), split_seed)
        if len(train) == 0 or len(test) == 0:
            raise DataError(f"{raw.source} holds only {len(images)} unique image(s): too few to hold "
                            f"out {TEST_FRACTION:.0%} as a test set; use the full dataset")
        x_train, y_train, x_test, y_test = images[train], labels[train], images[test], labels[test]
        notes.append(
            f"{len(images) + n_duplicates:,} images, {n_duplicates:,} exact duplicates removed, "
            f"{TEST_FRACTION:.0%} held out as test (split seed {split_seed})"
        )
    if verbose:
        print(
            f"{name} from {raw.source}: {'; '.join(notes)}: "
            f"{len(x_train):,} train / {len(x_test):,} test",
            flush=True,
        )
    return (x_train, y_train), (x_test, y_test)


# -------------------------------------------------------------- for training scripts


@dataclass
class DenoisingData:
    """Images for a denoising run: train, validation (carved from train) and test."""

    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]


def denoising_splits(name: str, data_dir: str | os.PathLike[str] | None = None, *,
                     limit: int | None = None, validation_fraction: float = 0.1,
                     max_validation: int | None = None, shared_by: int = 1) -> DenoisingData:
    """Load a dataset, keep at most `limit` training images and set the first
    `validation_fraction` of them, at most `max_validation`, aside for
    validation. The test set is left whole, so scores stay comparable
    whatever the limit.

    `shared_by` devices (data-parallel training) each validate an equal
    share: the validation set is cut to a whole multiple of their number (at
    most shared_by - 1 images fewer; Keras' TensorFlow trainer stops on a
    validation batch that doesn't split evenly)."""
    (x_train, _), (x_test, y_test) = load_dataset(name, data_dir)
    x_train = x_train[:limit]
    n_val = round(len(x_train) * validation_fraction)
    if max_validation is not None:
        n_val = min(n_val, max_validation)
    n_val = max(1, n_val)
    x_train, x_val = x_train[n_val:], x_train[:n_val]
    x_val = x_val[: len(x_val) - len(x_val) % shared_by]
    if len(x_val) == 0:
        raise ConfigError(f"the validation set needs at least {shared_by} images, one per device: "
                          "raise --limit")
    return DenoisingData(x_train, x_val, x_test, y_test, CLASS_NAMES[name])

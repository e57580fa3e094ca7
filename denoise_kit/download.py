"""Verified downloads that never leave a partial file behind.

A download goes to ``<name>.download`` beside its destination, is checked
(SHA-256 of the file, its size, or SHA-256 of its decompressed content), and
only then renamed to its final name. A failed attempt is removed and tried
once more. An existing destination is never touched.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import zlib
from pathlib import Path

from denoise_kit.errors import DataError


class DownloadError(DataError):
    """The file could not be fetched or did not pass its check."""


def sha256_of(path: str | os.PathLike[str], *, gunzip: bool = False) -> str:
    """SHA-256 of a file, or of its decompressed content with ``gunzip=True``."""
    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str,
    destination: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    size: int | None = None,
    content_sha256: str | None = None,
    attempts: int = 2,
) -> Path:
    """Fetch `url` to `destination` with ``keras.utils.get_file`` and verify it.

    `sha256` checks the file itself; `size` its length in bytes;
    `content_sha256` the SHA-256 of its gunzipped content (a gzip header holds
    a timestamp, so mirrors of the same data can differ in their raw bytes).
    Raises DownloadError naming the last reason after `attempts` tries.
    """
    destination = Path(destination)
    if destination.exists():
        raise DownloadError(f"{destination} already exists: it is used as it is, never replaced")
    folder = destination.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise DownloadError(f"cannot download into {folder}: the folder is not writable")
    partial = folder / f"{destination.name}.download"

    from keras.utils import get_file  # Imported here: reading local files needs no Keras.

    reason = "no attempt was made"
    for _ in range(attempts):
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()  # Ours, from an earlier interrupted attempt.
        try:
            get_file(
                fname=partial.name,
                origin=url,
                cache_dir=str(folder),
                cache_subdir="",
                file_hash=sha256,
                hash_algorithm="sha256",
            )
            _check(partial, size=size, content_sha256=content_sha256)
        except Exception as e:  # get_file raises bare Exception for network errors.
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            continue
        else:
            os.replace(partial, destination)
            return destination
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    raise DownloadError(f"the download from {url} failed ({reason})")


def _check(path: Path, *, size: int | None, content_sha256: str | None) -> None:
    if size is not None and path.stat().st_size != size:
        raise DownloadError(f"got {path.stat().st_size:,} bytes, expected {size:,}")
    if content_sha256 is not None:
        try:
            actual = sha256_of(path, gunzip=True)
        except (EOFError, OSError, zlib.error) as e:
            raise DownloadError(f"the gzip stream is truncated or corrupt: {e}") from None
        if actual != content_sha256:
            raise DownloadError("the decompressed content does not match its SHA-256")

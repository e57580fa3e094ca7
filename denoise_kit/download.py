"""Verified downloads that never leave a partial file behind.

A download is streamed to ``<name>.download`` beside its destination, is
checked (SHA-256 or MD5 of the file, its size, or SHA-256 of its decompressed
content), and only then renamed to its final name. A failed attempt is removed
and tried once more. An existing destination is never touched. Every network
read has a timeout, so a network that never answers gives one line of error
instead of a hang.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from denoise_kit.errors import DataError
from denoise_kit.files import make_writable_folder

# Seconds to wait for the connection and for each read. Two attempts of a
# server that never answers end in about a minute.
TIMEOUT_S = 30.0
BLOCK_SIZE = 1 << 16


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


def ensure_writable_folder(folder: str | os.PathLike[str]) -> Path:
    """Create `folder` if needed and check a file can be written in it.

    Raises DownloadError with the reason (a file in the way, no permission,
    a read-only disk) before anything is fetched.
    """
    try:
        return make_writable_folder(folder)
    except FileExistsError:
        raise DownloadError(f"{folder} is a file, not a folder: cannot download into it") from None
    except OSError as e:
        raise DownloadError(f"cannot download into {folder}/ ({_reason(e)})") from None


def download(
    url: str,
    destination: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    content_sha256: str | None = None,
    attempts: int = 2,
    timeout: float | None = None,
) -> Path:
    """Fetch `url` (http, https or file) to `destination` and verify it.

    `sha256` and `md5` check the file itself; `size` its length in bytes;
    `content_sha256` the SHA-256 of its gunzipped content (a gzip header holds
    a timestamp, so mirrors of the same data can differ in their raw bytes).
    `timeout` is in seconds per connection and per read (default TIMEOUT_S).
    Raises DownloadError naming the last reason after `attempts` tries.
    """
    destination = Path(destination)
    if destination.exists():
        raise DownloadError(f"{destination} already exists: it is used as it is, never replaced")
    folder = ensure_writable_folder(destination.parent)
    partial = folder / f"{destination.name}.download"
    timeout = TIMEOUT_S if timeout is None else timeout

    reason = "no attempt was made"
    for _ in range(attempts):
        try:
            digests = _fetch(url, partial, timeout)
            _check(partial, digests, sha256=sha256, md5=md5, size=size,
                   content_sha256=content_sha256)
            if destination.exists():  # Put there while we downloaded: used as it is.
                return destination
            os.replace(partial, destination)
            return destination
        except (OSError, http.client.HTTPException, ValueError, DownloadError) as e:
            reason = _reason(e, timeout)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    raise DownloadError(f"the download from {url} failed ({reason})")


def _fetch(url: str, partial: Path, timeout: float) -> dict[str, str]:
    """Stream `url` into `partial`; return its SHA-256 and MD5."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()  # Ours, from an earlier interrupted attempt.
    received = 0
    with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "xb") as out:
        promised = response.headers.get("Content-Length")
        for block in iter(lambda: response.read(BLOCK_SIZE), b""):
            out.write(block)
            sha256.update(block)
            md5.update(block)
            received += len(block)
    # http.client ends a body that stops early without an error: check its length.
    if promised is not None and promised.isdigit() and received != int(promised):
        raise DownloadError(f"the connection closed after {received:,} of {int(promised):,} bytes")
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def _check(path: Path, digests: dict[str, str], *, sha256: str | None, md5: str | None,
           size: int | None, content_sha256: str | None) -> None:
    if size is not None and path.stat().st_size != size:
        raise DownloadError(f"got {path.stat().st_size:,} bytes, expected {size:,}")
    for name, expected in (("SHA-256", sha256), ("MD5", md5)):
        if expected is not None and digests[name.replace("-", "").lower()] != expected.lower():
            raise DownloadError(f"the file does not match its {name}")
    if content_sha256 is not None:
        try:
            actual = sha256_of(path, gunzip=True)
        except (EOFError, OSError, zlib.error) as e:
            raise DownloadError(f"the gzip stream is truncated or corrupt: {e}") from None
        if actual != content_sha256:
            raise DownloadError("the decompressed content does not match its SHA-256")


def _reason(error: BaseException, timeout: float | None = None) -> str:
    """A short, one-line reason for a failed attempt."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        if not isinstance(error.reason, BaseException):
            return str(error.reason)
        error = error.reason  # The network or file error underneath.
    if isinstance(error, TimeoutError) and timeout is not None:
        return f"no answer within {timeout:g} s"
    if isinstance(error, http.client.IncompleteRead):
        return f"the connection closed after {len(error.partial):,} bytes of the file"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror if error.filename is None else f"{error.strerror}: {error.filename}"
    text = str(error).splitlines()[0] if str(error) else ""
    return text or type(error).__name__

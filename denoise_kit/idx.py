"""The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/).

A file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values. MNIST uses
type 0x08 (unsigned byte): images have 3 dimensions, labels 1.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from denoise_kit.errors import DataError

UBYTE = 0x08


def read_idx(path: str | os.PathLike[str], ndim: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (plain or ``.gz``) into a uint8 array.

    Raises DataError for a truncated or corrupt gzip stream, a wrong magic
    number, an unexpected number of dimensions, or a size that does not match
    the header.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(
            f"{path} is truncated or corrupt ({e}): delete it and download it again"
        ) from None
    return parse_idx(raw, name=str(path), ndim=ndim)


def parse_idx(raw: bytes, name: str = "IDX data", ndim: int | None = None) -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file (see `read_idx`)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != UBYTE:
        raise DataError(
            f"{name} is not an MNIST-format IDX file of unsigned bytes "
            f"(magic number {raw[:4].hex() or 'missing'}): replace it with the original file"
        )
    dims = raw[3]
    if ndim is not None and dims != ndim:
        raise DataError(
            f"{name} has {dims} dimensions where {ndim} were expected: "
            "are the image and label files swapped?"
        )
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{name} ends inside its header: replace it with the original file")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError(
            f"{name} holds {len(raw) - header} bytes of data but its header "
            f"promises {expected} (shape {shape}): replace it with the original file"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write a uint8 array as IDX (gzip-compressed when the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())

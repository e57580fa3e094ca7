import gzip

import numpy as np
import pytest

from denoise_kit.errors import DataError
from denoise_kit.idx import parse_idx, read_idx, write_idx


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_plain_and_gz(tmp_path, name):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / name, images)
    np.testing.assert_array_equal(read_idx(tmp_path / name, ndim=3), images)


def test_wrong_magic_number(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x09\x03" + bytes(12))
    with pytest.raises(DataError, match="magic number 00000903"):
        read_idx(tmp_path / "bad")


def test_size_that_does_not_match_header():
    raw = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(9)
    with pytest.raises(DataError, match="holds 9 bytes of data but its header promises 10"):
        parse_idx(raw)


def test_labels_where_images_were_expected(tmp_path):
    write_idx(tmp_path / "labels", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="1 dimensions where 3 were expected"):
        read_idx(tmp_path / "labels", ndim=3)


def test_truncated_gzip(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((50, 28, 28), np.uint8))
    data = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(tmp_path / "x.gz")


def test_gzip_of_a_truncated_file(tmp_path):
    raw = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (3, 28, 28)) + bytes(100)
    (tmp_path / "x.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(DataError, match="header promises 2352"):
        read_idx(tmp_path / "x.gz")

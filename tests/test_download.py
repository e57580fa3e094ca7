import gzip

import pytest

from denoise_kit.download import DownloadError, download, sha256_of


@pytest.fixture
def served(tmp_path):
    source = tmp_path / "server" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(b"0123456789" * 1000)
    return source


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_success_with_hash(tmp_path, served):
    target = tmp_path / "data" / "file.bin"
    download(served.as_uri(), target, sha256=sha256_of(served))
    assert target.read_bytes() == served.read_bytes()
    assert leftovers(target.parent) == ["file.bin"]


def test_hash_mismatch_leaves_nothing(tmp_path, served):
    target = tmp_path / "data" / "file.bin"
    with pytest.raises(DownloadError, match="failed"):
        download(served.as_uri(), target, sha256="0" * 64)
    assert leftovers(target.parent) == []


def test_truncated_file_fails_size_check(tmp_path, served):
    truncated = served.with_name("short.bin")
    truncated.write_bytes(served.read_bytes()[:5000])
    target = tmp_path / "data" / "file.bin"
    with pytest.raises(DownloadError, match="got 5,000 bytes, expected 10,000"):
        download(truncated.as_uri(), target, size=10_000)
    with pytest.raises(DownloadError, match="does not match"):
        download(truncated.as_uri(), target, sha256=sha256_of(served))
    assert leftovers(target.parent) == []


def test_truncated_gzip_fails_content_check(tmp_path, served):
    packed = served.with_suffix(".gz")
    packed.write_bytes(gzip.compress(served.read_bytes()))
    good_digest = sha256_of(packed, gunzip=True)
    target = tmp_path / "data" / "file.gz"
    download(packed.as_uri(), target, content_sha256=good_digest)
    assert sha256_of(target, gunzip=True) == good_digest
    packed.write_bytes(packed.read_bytes()[:-20])
    with pytest.raises(DownloadError, match="truncated or corrupt"):
        download(packed.as_uri(), tmp_path / "data" / "other.gz", content_sha256=good_digest)
    assert leftovers(target.parent) == ["file.gz"]


def test_unreachable_address(tmp_path):
    target = tmp_path / "data" / "file.bin"
    with pytest.raises(DownloadError, match=r"the download from file:.*nothing.bin failed"):
        download((tmp_path / "nothing.bin").as_uri(), target)
    assert leftovers(target.parent) == []


def test_failed_attempt_is_retried_once(tmp_path, served, monkeypatch):
    import keras

    calls = []
    real_get_file = keras.utils.get_file

    def flaky(*args, **kwargs):
        calls.append(kwargs["origin"])
        if len(calls) == 1:
            raise Exception("connection reset")
        return real_get_file(*args, **kwargs)

    monkeypatch.setattr(keras.utils, "get_file", flaky)
    target = tmp_path / "data" / "file.bin"
    download(served.as_uri(), target, sha256=sha256_of(served))
    assert len(calls) == 2
    assert target.is_file()


def test_users_file_survives_every_failure(tmp_path, served):
    target = tmp_path / "data" / "file.bin"
    target.parent.mkdir()
    target.write_bytes(b"mine")
    for kwargs in ({"sha256": "0" * 64}, {"size": 1}, {}):
        with pytest.raises(DownloadError, match="already exists"):
            download(served.as_uri(), target, **kwargs)
    with pytest.raises(DownloadError):
        download((tmp_path / "nothing").as_uri(), target)
    assert target.read_bytes() == b"mine"
    assert leftovers(target.parent) == ["file.bin"]

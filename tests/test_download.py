import contextlib
import gzip
import hashlib
import http.server
import socket
import tempfile
import threading
import time
from types import SimpleNamespace

import pytest

import denoise_kit.download as fetching
from denoise_kit.download import DownloadError, download, ensure_writable_folder, sha256_of

# Every server below listens on loopback only and is stopped within seconds.
LOOPBACK = "127.0.0.1"


@pytest.fixture
def served(tmp_path):
    source = tmp_path / "server" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(b"0123456789" * 1000)
    return source


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch):
    monkeypatch.setenv("no_proxy", LOOPBACK)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def http_site(tmp_path):
    """An http.server on 127.0.0.1 serving tmp_path/www; `fail_next` requests
    are answered 503 first, and every requested path is recorded."""
    root = tmp_path / "www"
    root.mkdir()
    site = SimpleNamespace(root=root, requests=[], fail_next=0)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            site.requests.append(self.path)
            if site.fail_next:
                site.fail_next -= 1
                self.send_error(503, "Busy")
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    site.url = f"http://{LOOPBACK}:{server.server_address[1]}/"
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def read_request(conn: socket.socket) -> None:
    conn.settimeout(2)
    request = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk


@contextlib.contextmanager
def raw_server(reply: bytes, *, close_after_reply: bool, hold_s: float = 5.0):
    """A TCP server on 127.0.0.1 that accepts every connection, sends `reply`
    (perhaps nothing) and then holds the connection open or closes it. A held
    connection is closed after `hold_s`, so a client without a timeout fails
    its test instead of hanging it."""
    stop = threading.Event()
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.05)
    connections = []

    def serve():
        while not stop.is_set():
            for conn, accepted in connections:
                if time.monotonic() - accepted > hold_s:
                    conn.close()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append((conn, time.monotonic()))
            if reply:
                read_request(conn)  # Unread bytes would turn our close into a reset.
                conn.sendall(reply)
            if close_after_reply:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://{LOOPBACK}:{listener.getsockname()[1]}/file.bin",
                              connections=connections)
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn, _ in connections:
            conn.close()
        listener.close()


# ------------------------------------------------------------------- file:// URLs


def test_success_with_hash(tmp_path, served):
    target = tmp_path / "data" / "file.bin"
    download(served.as_uri(), target, sha256=sha256_of(served))
    assert target.read_bytes() == served.read_bytes()
    assert leftovers(target.parent) == ["file.bin"]


def test_hash_mismatch_leaves_nothing(tmp_path, served):
    target = tmp_path / "data" / "file.bin"
    with pytest.raises(DownloadError, match=r"failed \(the file does not match its SHA-256\)"):
        download(served.as_uri(), target, sha256="0" * 64)
    assert leftovers(target.parent) == []


def test_md5_is_checked(tmp_path, served):
    good = hashlib.md5(served.read_bytes()).hexdigest()
    target = tmp_path / "data" / "file.bin"
    with pytest.raises(DownloadError, match="does not match its MD5"):
        download(served.as_uri(), target, size=10_000, md5="0" * 32)
    assert leftovers(target.parent) == []
    download(served.as_uri(), target, size=10_000, md5=good.upper())
    assert target.read_bytes() == served.read_bytes()


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
    with pytest.raises(DownloadError, match=r"the download from file:.*nothing.bin failed \(No such file"):
        download((tmp_path / "nothing.bin").as_uri(), target)
    assert leftovers(target.parent) == []


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


def test_stale_partial_file_is_replaced(tmp_path, served):
    target = tmp_path / "data" / "file.bin"
    target.parent.mkdir()
    (target.parent / "file.bin.download").write_bytes(b"from an interrupted run")
    download(served.as_uri(), target, size=10_000)
    assert target.read_bytes() == served.read_bytes()
    assert leftovers(target.parent) == ["file.bin"]


# ----------------------------------------------------------------- the destination


def test_destination_folder_is_a_file(tmp_path, served):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(DownloadError, match=r"data is a file, not a folder"):
        download(served.as_uri(), blocker / "file.bin")
    with pytest.raises(DownloadError, match=r"cannot download into .*data/deeper/ \(Not a directory"):
        download(served.as_uri(), blocker / "deeper" / "file.bin")
    assert blocker.read_text() == "a file where the folder should be"


def test_unwritable_folder_fails_before_fetching(tmp_path, http_site, monkeypatch):
    (http_site.root / "file.bin").write_bytes(b"x" * 100)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    with pytest.raises(DownloadError, match=r"cannot download into .*data/ \(Permission denied\)"):
        download(http_site.url + "file.bin", tmp_path / "data" / "file.bin")
    assert http_site.requests == []
    assert leftovers(tmp_path / "data") == []


def test_writable_folder_is_created(tmp_path):
    folder = ensure_writable_folder(tmp_path / "a" / "b")
    assert folder.is_dir() and leftovers(folder) == []


# ------------------------------------------------------------------- over HTTP


def test_http_download(tmp_path, http_site, served):
    (http_site.root / "file.bin").write_bytes(served.read_bytes())
    target = tmp_path / "data" / "file.bin"
    download(http_site.url + "file.bin", target, size=10_000, sha256=sha256_of(served),
             md5=hashlib.md5(served.read_bytes()).hexdigest())
    assert target.read_bytes() == served.read_bytes()
    assert http_site.requests == ["/file.bin"]
    assert leftovers(target.parent) == ["file.bin"]


def test_http_error_is_retried_once_then_reported(tmp_path, http_site):
    target = tmp_path / "data" / "file.bin"
    with pytest.raises(DownloadError, match=r"failed \(HTTP 404 File not found\)"):
        download(http_site.url + "file.bin", target)
    assert http_site.requests == ["/file.bin", "/file.bin"]
    assert leftovers(target.parent) == []


def test_failed_attempt_is_retried_once(tmp_path, http_site, served):
    (http_site.root / "file.bin").write_bytes(served.read_bytes())
    http_site.fail_next = 1
    target = tmp_path / "data" / "file.bin"
    download(http_site.url + "file.bin", target, sha256=sha256_of(served))
    assert http_site.requests == ["/file.bin", "/file.bin"]
    assert target.read_bytes() == served.read_bytes()


def test_server_that_never_answers_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(fetching, "TIMEOUT_S", 0.5)
    target = tmp_path / "data" / "file.bin"
    with raw_server(b"", close_after_reply=False) as server:
        start = time.monotonic()
        with pytest.raises(DownloadError, match=r"failed \(no answer within 0.5 s\)") as error:
            download(server.url, target)
        elapsed = time.monotonic() - start
        assert len(server.connections) == 2  # The one retry.
    assert 0.9 < elapsed < 5
    assert "\n" not in str(error.value)
    assert leftovers(target.parent) == []


def test_server_that_stalls_mid_file_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setattr(fetching, "TIMEOUT_S", 0.5)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000
    target = tmp_path / "data" / "file.bin"
    with raw_server(head, close_after_reply=False) as server:
        start = time.monotonic()
        with pytest.raises(DownloadError, match="no answer within 0.5 s"):
            download(server.url, target)
        assert time.monotonic() - start < 5
    assert leftovers(target.parent) == []


def test_connection_closed_early_fails_length_check(tmp_path):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000
    target = tmp_path / "data" / "file.bin"
    with raw_server(head, close_after_reply=True) as server:
        with pytest.raises(DownloadError, match="connection closed after 1,000 of 100,000 bytes"):
            download(server.url, target)
    assert leftovers(target.parent) == []

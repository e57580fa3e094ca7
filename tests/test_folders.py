"""One run per output folder (folders.hold), on every operating system: Windows's byte-range lock
faked on Linux, and the real lock between two processes."""

import errno
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from denoise_kit import folders
from denoise_kit.errors import ConfigError


def refusal(pid, folder):
    return (f"another run (process {pid}) is using {folder.resolve()}: wait for it to finish, "
            "or choose another output folder (--output-dir)")


class ByteRangeLocks:
    """Windows's locks, faked: a lock covers some bytes of a file for the handle (here the descriptor)
    that took it; another handle can neither lock nor read those bytes (ERROR_LOCK_VIOLATION)."""

    def __init__(self):
        self.taken = []  # (file, first byte, byte after the last, descriptor)
        self.real_read = os.read

    def _clash(self, fd, start, end):
        file = os.fstat(fd).st_ino
        return any(f == file and s < end and start < e and owner != fd for f, s, e, owner in self.taken)

    def lock(self, fd, start, length):
        if self._clash(fd, start, start + length):
            return False
        self.taken.append((os.fstat(fd).st_ino, start, start + length, fd))
        return True

    def lock_descriptor(self, fd, *, blocking=True):  # filelock's on Windows: byte 0, wherever fd is.
        assert blocking is False  # A second run is refused at once, it never waits.
        return self.lock(fd, 0, 1)

    def unlock_descriptor(self, fd):
        self.taken = [t for t in self.taken if t[3] != fd]

    def read(self, fd, n):
        at = os.lseek(fd, 0, os.SEEK_CUR)
        if self._clash(fd, at, at + n):
            raise PermissionError(errno.EACCES, "The process cannot access the file (locked)")
        return self.real_read(fd, n)


@pytest.fixture
def windows_locks(monkeypatch):
    locks = ByteRangeLocks()
    monkeypatch.setattr(folders, "lock_descriptor", locks.lock_descriptor)
    monkeypatch.setattr(folders, "unlock_descriptor", locks.unlock_descriptor)
    monkeypatch.setattr(os, "read", locks.read)
    return locks


def test_the_fake_lets_a_second_run_in_where_a_lock_at_the_end_of_the_file_did(tmp_path):
    """What an "a+" file and msvcrt.locking did: lock the byte at the file's end. The first run's PID
    moved the end, so a second run locked another byte and got in too. The fake must show that."""
    locks = ByteRangeLocks()
    path = tmp_path / folders.LOCK_FILE
    first = os.open(path, os.O_RDWR | os.O_CREAT)
    second = os.open(path, os.O_RDWR)
    try:
        assert locks.lock(first, os.fstat(first).st_size, 1)
        os.write(first, b"4242\n")
        assert locks.lock(second, os.fstat(second).st_size, 1)  # Both in: what folders.hold must prevent.
        assert not locks.lock(second, 0, 1)  # Byte 0 is one byte for all.
        os.lseek(second, 0, os.SEEK_SET)
        with pytest.raises(PermissionError):
            locks.read(second, 5)  # The first run's locked byte can't be read by another.
    finally:
        os.close(first)
        os.close(second)


def test_a_second_run_is_refused_after_the_first_wrote_its_pid_and_is_told_that_pid(
        tmp_path, monkeypatch, windows_locks):
    folder = tmp_path / "run"
    with monkeypatch.context() as first_run:
        first_run.setattr(os, "getpid", lambda: 123456789)  # Longer than any real PID.
        folders.hold(folder)
    assert (folder / folders.LOCK_FILE).stat().st_size > 1  # The PID is written: the file grew.
    with monkeypatch.context() as second_run:
        second_run.setattr(folders, "_held", {})  # This process plays another one: no folder held.
        for _ in range(2):  # Refused again: the first refusal changed nothing.
            with pytest.raises(ConfigError) as error:
                folders.hold(folder)
            assert str(error.value) == refusal(123456789, folder)
    folders.release(folder)  # The first run ends: its byte is free.
    assert windows_locks.taken == []
    with monkeypatch.context() as second_run:
        second_run.setattr(folders, "_held", {})
        folders.hold(folder)  # Now the second run gets in, and its PID replaces the first's.
        assert (folder / folders.LOCK_FILE).read_text().split() == [str(os.getpid())]
        folders.release(folder)


def test_a_real_second_process_is_refused_with_the_holders_pid(tmp_path):
    folder = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from denoise_kit import folders; folders.hold(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.read()", str(folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ConfigError) as error:
            folders.hold(folder)
        assert str(error.value) == refusal(holder.pid, folder)
        assert folders.held() == []
    finally:
        holder.communicate("")  # Its stdin closed: it ends, and the lock with it.
    folders.hold(folder)
    assert folders.held() == [folder.resolve()]
    assert (folder / folders.LOCK_FILE).read_text().split() == [str(os.getpid())]

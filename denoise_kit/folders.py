"""Output folders: one run at a time in each, and deleting only what we made.

`hold(folder)` takes an operating-system lock on `folder/.lock` for this
process. A second run into the same folder gets one line saying which process
holds it; the lock goes when the process ends, however it ends (a kill
included), so no stale lock is ever left behind. Reading a folder, as
`--denoise` does, needs no lock.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from filelock import lock_descriptor, unlock_descriptor

from denoise_kit.errors import ConfigError

LOCK_FILE = ".lock"
OWNED_MARKER = ".made-by-denoise-kit"  # In every folder this project may delete.

# The lock is on byte 0 of LOCK_FILE, whatever the file's size or position: flock takes the whole file on
# Unix, LockFileEx byte 0 on Windows, so the PID the holder writes can't move it to a byte a second run
# could lock. Windows keeps other processes from reading a locked byte, so the PID goes after byte 0,
# where a refused run can read it for its one line.
_PID_AT = 1

_held: dict[Path, int] = {}  # Folder -> its lock file's open descriptor, while this process holds it.


def hold(folder: str | os.PathLike[str]) -> None:
    """Make `folder` this process's until it ends (or `release`); one line if another process has it."""
    folder = Path(folder).resolve()
    if folder in _held:
        return  # Ours already: a notebook cell run again.
    folder.mkdir(parents=True, exist_ok=True)
    # O_BINARY: no newline translation on Windows; the descriptor stays open, the lock lives with it.
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        if not lock_descriptor(fd, blocking=False):
            os.lseek(fd, _PID_AT, os.SEEK_SET)
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            raise ConfigError(f"another run (process {holder}) is using {folder}: wait for it to finish, "
                              "or choose another output folder (--output-dir)")
        text = f"\n{os.getpid()}\n".encode()  # Byte 0 a newline, the PID from _PID_AT on.
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, text)
        os.ftruncate(fd, len(text))  # A longer PID of an earlier holder's leaves no digits behind.
    except BaseException:
        os.close(fd)  # Refused, or the PID could not be written: closing lets go of any lock taken.
        raise
    _held[folder] = fd


def release(folder: str | os.PathLike[str]) -> None:
    """Let other runs use `folder` again (the end of a run in a notebook)."""
    fd = _held.pop(Path(folder).resolve(), None)
    if fd is not None:
        unlock_descriptor(fd)  # Windows frees a closed file's locks only "eventually": unlock first.
        os.close(fd)


def held() -> list[Path]:
    """The folders this process holds."""
    return list(_held)


def make_own_folder(folder: Path) -> None:
    """Create `folder` with the marker that lets `remove_own_folder` delete it later."""
    folder.mkdir(parents=True)
    (folder / OWNED_MARKER).write_text("Made by the denoising scripts; deleted when training ends.\n")


def remove_own_folder(folder: Path) -> None:
    """Delete `folder` only if this project made it (its marker file is inside)."""
    if not folder.exists():
        return
    if not (folder / OWNED_MARKER).is_file():
        raise ConfigError(f"{folder} exists and was not made by these scripts: move it away or "
                          "choose another --output-dir")
    shutil.rmtree(folder)

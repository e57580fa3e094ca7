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
from typing import IO

from denoise_kit.errors import ConfigError

LOCK_FILE = ".lock"
OWNED_MARKER = ".made-by-denoise-kit"  # In every folder this project may delete.

_held: dict[Path, IO[str]] = {}  # Folder -> its open lock file, for as long as this process holds it.


def hold(folder: str | os.PathLike[str]) -> None:
    """Make `folder` this process's until it ends (or `release`); one line if another process has it."""
    folder = Path(folder).resolve()
    if folder in _held:
        return  # Ours already: a notebook cell run again.
    folder.mkdir(parents=True, exist_ok=True)
    lock = open(folder / LOCK_FILE, "a+")  # noqa: SIM115  (kept open: the lock lives with it)
    if not _try_lock(lock):
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise ConfigError(f"another run (process {holder}) is using {folder}: wait for it to finish, "
                          "or choose another output folder (--output-dir)")
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    _held[folder] = lock


def release(folder: str | os.PathLike[str]) -> None:
    """Let other runs use `folder` again (the end of a run in a notebook)."""
    lock = _held.pop(Path(folder).resolve(), None)
    if lock is not None:
        lock.close()  # Closing the file releases the lock.


def held() -> list[Path]:
    """The folders this process holds."""
    return list(_held)


def _try_lock(file: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


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

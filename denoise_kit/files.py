"""Atomic writes (a crash never leaves a half-written output file) and
writable folders, checked before any work."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], shared: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` on success.

    The temporary name keeps the final suffix (``model.partial.keras``,
    ``plot.partial.png``) because Keras and matplotlib pick the format from it.
    If the body raises, the temporary file is removed and `path` is untouched.
    `shared`: a file other processes may write at the same time (outputs/runs.md):
    the temporary name carries this process's id, so two writers never mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}{f'.{os.getpid()}' if shared else ''}.partial{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def write_text(path: str | os.PathLike[str], text: str, shared: bool = False) -> None:
    """Write `text`, atomically (`shared`: see atomic_path)."""
    with atomic_path(path, shared) as tmp:
        tmp.write_text(text)


def make_writable_folder(folder: str | os.PathLike[str]) -> Path:
    """Create `folder` if needed and prove a file can be written in it.

    Raises FileExistsError when a file is in its place, another OSError when
    it can't be made or written to. The probe is an unnamed temporary file:
    nothing is left behind, even on a crash.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)  # FileExistsError if a file is there.
    with tempfile.TemporaryFile(dir=folder):
        pass
    return folder

"""Finished work of compare_decoders.py (its progress.json): every finished
training and score, saved atomically as it is done, under the settings it was
made with, so an interrupted comparison resumes where it stopped."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from denoise_kit import files


class FinishedWork:
    """progress.json: `entries` by key, saved (atomically) after each one."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        self.path, self.settings, self.entries = path, settings, {}
        if not path.is_file():
            return
        try:
            saved = json.loads(path.read_text())
        except ValueError:
            saved = None
        if not isinstance(saved, dict):
            print(f"{path} is not readable JSON: starting afresh (it is replaced after the first result)")
            return
        if saved.get("settings") == settings:
            self.entries = saved.get("entries", {})
            return
        old = saved.get("settings") or {}
        changed = ", ".join(f"{k} {old.get(k)} -> {settings.get(k)}"
                            for k in sorted(set(old) | set(settings)) if old.get(k) != settings.get(k))
        print(f"{path} holds results made with other settings ({changed}): starting afresh "
              "(it is replaced after the first result)")

    def get(self, key: str) -> Any:
        return self.entries.get(key)

    def save(self, key: str, entry: Any) -> None:
        self.entries[key] = entry
        files.write_json(self.path, {"settings": self.settings, "entries": self.entries})


def packed(array: np.ndarray, dtype: str = "float32") -> dict[str, Any]:
    """An array in a few bytes of JSON: its shape, dtype and raw bytes in base64
    (as nested lists, the indented JSON would take a line per number)."""
    array = np.ascontiguousarray(array, dtype=dtype)
    return {"shape": list(array.shape), "dtype": dtype, "base64": base64.b64encode(array.tobytes()).decode()}


def unpacked(value: dict[str, Any]) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(value["base64"]), dtype=value["dtype"])
    return data.reshape(value["shape"])


def packed_images(images: np.ndarray) -> dict[str, Any]:
    """Shown images to 8 bits: all a picture needs."""
    return packed(np.round(np.clip(images, 0, 1) * 255), "uint8")


def unpacked_images(value: dict[str, Any]) -> np.ndarray:
    return unpacked(value).astype(np.float32) / 255

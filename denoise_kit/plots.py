"""Figures the scripts save: image grids, small annotated arrays, loss curves.

Every figure is written atomically (temporary file, then rename) and closed.
Scripts call `setup_matplotlib(show)` first: without --show, or without a
display, matplotlib renders off-screen with the Agg backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

from denoise_kit.files import atomic_path

_SHOW = False


def setup_matplotlib(show: bool = False) -> None:
    """Render off-screen unless `show` is asked for and a display exists."""
    global _SHOW
    has_display = os.name == "nt" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    _SHOW = show and has_display
    if not _SHOW:
        matplotlib.use("Agg", force=True)


def save_figure(fig, path: str | os.PathLike[str]) -> Path:
    """Save `fig` as PNG atomically; show it too when --show was given."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    if _SHOW:
        plt.show()
    plt.close(fig)
    return path


def show_image(ax, image: np.ndarray, title: str | None = None, vmin: float = 0.0,
               vmax: float = 1.0, fontsize: int = 9) -> None:
    """Draw one grey image without axes."""
    ax.imshow(np.asarray(image).squeeze(), cmap="gray", vmin=vmin, vmax=vmax,
              interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=fontsize)


def show_array(ax, array: np.ndarray, title: str | None = None, fmt: str = "{:g}") -> None:
    """Draw a small 2-D array as grey cells with each value written in it."""
    array = np.asarray(array, dtype=float).squeeze()
    lo, hi = float(array.min()), float(array.max())
    ax.imshow(array, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    middle = (lo + hi) / 2
    fontsize = max(5, 12 - array.shape[1] // 2)
    for (row, col), value in np.ndenumerate(array):
        ax.text(col, row, fmt.format(round(value, 2)), ha="center", va="center",
                fontsize=fontsize, color="black" if value > middle else "white")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def image_rows(
    rows: Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike[str],
    titles: Sequence[Sequence[str]] | None = None,
    suptitle: str | None = None,
) -> Path:
    """A grid with one labelled row per (name, images) pair; optional per-image titles."""
    import matplotlib.pyplot as plt

    n_cols = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.25 * n_cols, 1.45 * len(rows) + 0.4),
                             squeeze=False)
    for r, (name, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(images):
                ax.set_axis_off()
                continue
            title = titles[r][c] if titles and titles[r] else None
            show_image(ax, images[c], title, fontsize=8)
        axes[r, 0].text(-0.08, 0.5, name, transform=axes[r, 0].transAxes,
                        ha="right", va="center", fontsize=9)
    fig.tight_layout()
    if suptitle:
        fig.suptitle(suptitle, fontsize=11, y=1.0, va="bottom")
    return save_figure(fig, path)


def loss_curves(history: dict[str, Sequence[float]], path: str | os.PathLike[str],
                title: str = "Training history", ylabel: str = "loss") -> Path:
    """Training and validation loss per epoch, the best validation epoch marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    loss = list(history.get("loss", []))
    val = list(history.get("val_loss", []))
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, "o-", label="training loss (fresh noise each batch)")
    if val:
        ax.plot(epochs[: len(val)], val, "s-", label="validation loss (fixed noise)")
        best = int(np.argmin(val))
        ax.axvline(best + 1, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"best: epoch {best + 1}\n{val[best]:.4g}", (best + 1, val[best]),
                    textcoords="offset points", xytext=(8, 18), fontsize=9,
                    arrowprops={"arrowstyle": "->", "color": "grey"})
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(epochs) <= 20:
        ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def error_maps(errors: dict[str, np.ndarray], path: str | os.PathLike[str],
               energies: dict[str, float]) -> Path:
    """Mean signed error images side by side, on one symmetric colour scale,
    each titled with its checkerboard energy."""
    import matplotlib.pyplot as plt

    limit = max(float(np.abs(e).max()) for e in errors.values()) or 1.0
    fig, axes = plt.subplots(1, len(errors), figsize=(3.6 * len(errors), 4.2), squeeze=False)
    for ax, (name, error) in zip(axes[0], errors.items(), strict=True):
        shown = ax.imshow(np.asarray(error).squeeze(), cmap="RdBu_r", vmin=-limit, vmax=limit,
                          interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"{name}\ncheckerboard energy {energies[name]:.4f}", fontsize=9)
    fig.colorbar(shown, ax=axes[0].tolist(), shrink=0.8, label="mean error (denoised - clean)")
    fig.suptitle("Mean error over the test set: a checkerboard would show as a 2-pixel pattern")
    return save_figure(fig, path)

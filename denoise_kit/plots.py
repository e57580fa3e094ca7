"""Figures the scripts save: image grids, loss curves, error maps.

Every figure is written atomically (temporary file, then rename) and closed.
In a notebook it also shows under its cell. As a program, matplotlib renders
off-screen (Agg).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np

from denoise_kit.files import atomic_path
from denoise_kit.notebook import running_in_notebook

if not running_in_notebook() and "MPLBACKEND" not in os.environ:
    matplotlib.use("Agg")  # Off-screen: no window, no display needed, faster.


def save_figure(fig, path: str | os.PathLike[str]) -> Path:
    """Save `fig` as PNG atomically; in a notebook, show it under the cell too."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    if running_in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))  # Under the cell that made it, whatever the backend.
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
                title: str = "Training history", ylabel: str = "loss",
                noisy_psnr: float | None = None) -> Path:
    """Loss per epoch (left) and, when the log has PSNR columns, PSNR (right).

    `history` holds the columns of training_log.csv ("loss", "val_loss",
    "psnr", "val_psnr"). The best epoch, the highest validation PSNR (or the
    lowest validation loss when there is no PSNR), is marked on both panels.
    `noisy_psnr`, if given, draws the noisy input's PSNR as a reference line.
    """
    import matplotlib.pyplot as plt

    column = lambda name: [float(v) for v in history.get(name, [])]  # noqa: E731
    loss, val_loss, psnr, val_psnr = column("loss"), column("val_loss"), column("psnr"), column("val_psnr")
    has_psnr = bool(psnr or val_psnr)
    best = int(np.argmax(val_psnr)) + 1 if val_psnr else int(np.argmin(val_loss)) + 1 if val_loss else None
    fig, axes = plt.subplots(1, 2 if has_psnr else 1, figsize=(11, 4.2) if has_psnr else (6.4, 4),
                             squeeze=False)

    loss_ax = axes[0, 0]
    _epoch_curve(loss_ax, loss, "o-", "training (fresh noise each batch)")
    _epoch_curve(loss_ax, val_loss, "s-", "validation (fixed noise)")
    _mark_best(loss_ax, best, val_loss, "{:.4g}", above=True)
    loss_ax.set_ylabel(ylabel)
    loss_ax.set_title("loss (lower is better)" if has_psnr else title)

    if has_psnr:
        psnr_ax = axes[0, 1]
        _epoch_curve(psnr_ax, psnr, "o-", "training (fresh noise each batch)")
        _epoch_curve(psnr_ax, val_psnr, "s-", "validation (fixed noise)")
        if noisy_psnr is not None:
            psnr_ax.axhline(noisy_psnr, color="tab:red", linestyle="--", linewidth=1,
                            label=f"noisy input ({noisy_psnr:.1f} dB)")
        _mark_best(psnr_ax, best, val_psnr, "{:.2f} dB", above=False)
        psnr_ax.set_ylabel("PSNR (dB)")
        psnr_ax.set_title("PSNR of the denoised images (higher is better)")
        fig.suptitle(title)

    n_epochs = max(map(len, (loss, val_loss, psnr, val_psnr)))
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        if n_epochs <= 20:
            ax.set_xticks(np.arange(1, n_epochs + 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def _epoch_curve(ax, values: Sequence[float], style: str, label: str) -> None:
    if values:
        ax.plot(np.arange(1, len(values) + 1), values, style, markersize=4, label=label)


def _mark_best(ax, best: int | None, values: Sequence[float], fmt: str, above: bool) -> None:
    """A dotted line at the best epoch; its value pointed out when this panel has one."""
    if best is None:
        return
    ax.axvline(best, color="grey", linestyle=":", linewidth=1)
    if best > len(values):
        return
    value = values[best - 1]
    left = best > (len(values) + 1) / 2  # Keep the note inside the axes, away from the edge.
    ax.plot([best], [value], marker="*", markersize=13, color="gold", markeredgecolor="black",
            linestyle="none", zorder=5)
    ax.annotate(f"best: epoch {best}\n{fmt.format(value)}", (best, value),
                textcoords="offset points", xytext=(-12 if left else 12, 22 if above else -34),
                ha="right" if left else "left", fontsize=9,
                arrowprops={"arrowstyle": "->", "color": "grey"})


def error_maps(levels: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray, float]]],
               path: str | os.PathLike[str], stride_mask: np.ndarray, white_share: float) -> Path:
    """Where each decoder's errors sit, two rows per noise level.

    `levels` maps a row label ("noise 0.5") to {decoder: (mean signed error
    image, mean per-image error power share per FFT bin, checkerboard share)}.
    The first row shows the mean error on one symmetric colour scale; the
    second the error spectrum (zero frequency in the middle) relative to white
    noise, so 1 is the level chance gives, with the bins of `stride_mask`
    (period 2 and 4) outlined: a checkerboard lights those up.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    names = list(next(iter(levels.values())))
    limit = max(float(np.abs(v[0]).max()) for row in levels.values() for v in row.values()) or 1.0
    relative = {label: {name: np.fft.fftshift(v[1]) * (v[1].size - 1) for name, v in row.items()}
                for label, row in levels.items()}
    top = max(float(r.max()) for row in relative.values() for r in row.values())
    norm = LogNorm(vmin=1e-2, vmax=max(top, 10.0))
    fig, axes = plt.subplots(2 * len(levels), len(names), figsize=(2.7 * len(names) + 1.2, 5.6 * len(levels)),
                             squeeze=False, layout="constrained")
    marked = np.argwhere(np.fft.fftshift(stride_mask))
    zero_frequency = np.zeros(stride_mask.shape, dtype=bool)  # Removed with the mean: drawn grey.
    zero_frequency[stride_mask.shape[0] // 2, stride_mask.shape[1] // 2] = True
    for i, (label, row) in enumerate(levels.items()):
        error_axes, spectrum_axes = axes[2 * i], axes[2 * i + 1]
        for col, name in enumerate(names):
            error, _, share = row[name]
            shown = error_axes[col].imshow(np.asarray(error).squeeze(), cmap="RdBu_r", vmin=-limit,
                                           vmax=limit, interpolation="nearest")
            error_axes[col].set_xticks([])
            error_axes[col].set_yticks([])
            error_axes[col].set_title(name if i == 0 else "", fontsize=9)
            ax = spectrum_axes[col]
            cmap = matplotlib.colormaps["magma"].with_extremes(bad="lightgrey", under="black")
            spectrum = ax.imshow(np.ma.masked_array(relative[label][name], mask=zero_frequency), cmap=cmap,
                                 norm=norm, interpolation="nearest")
            for r, c in marked:
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="cyan", linewidth=0.8))
            _period_ticks(ax, stride_mask.shape)
            ax.set_title(f"checkerboard {share:.4f} ({share / white_share:.1f}x white noise)", fontsize=8)
        error_axes[0].set_ylabel(f"{label}\nmean error", fontsize=9)
        spectrum_axes[0].set_ylabel(f"{label}\nerror spectrum\nperiod (pixels)", fontsize=9)
        fig.colorbar(shown, ax=error_axes.tolist(), shrink=0.9, label="denoised - clean")
        fig.colorbar(spectrum, ax=spectrum_axes.tolist(), shrink=0.9, extend="min",
                     label="power relative to white noise")
    fig.suptitle("Errors of each decoder, means over seeds. Outlined: the frequencies of patterns that "
                 "repeat\nevery 2 or 4 pixels, where a checkerboard puts its power "
                 f"(white noise puts {white_share:.4f} of its power there)")
    return save_figure(fig, path)


def _period_ticks(ax, shape: tuple[int, int]) -> None:
    """Label a centred spectrum's axes with the period, in pixels, of a few frequencies."""
    for size, set_ticks in zip(shape, (ax.set_yticks, ax.set_xticks), strict=True):
        centre = size // 2
        ticks = [0, size // 4, centre, centre + size // 4]  # Periods 2, 4, none (zero frequency), 4.
        set_ticks(ticks, ["2", "4", "∞", "4"], fontsize=8)


def psnr_vs_noise(noise_factors: Sequence[float],
                  decoders: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                  classical: Sequence[tuple[str, float]], path: str | os.PathLike[str],
                  noisy: Sequence[float] | None = None, title: str = "") -> Path:
    """PSNR against noise level: each decoder (mean, error bar = standard
    deviation over seeds), the best classical filter at each level (named at
    its points) and, if given, the noisy input."""
    import matplotlib.pyplot as plt

    x = np.asarray(noise_factors, dtype=float)
    span = float(x.max() - x.min()) or 1.0
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for i, (name, (means, sds)) in enumerate(decoders.items()):
        dodge = (i - (len(decoders) - 1) / 2) * 0.008 * span  # Side by side: no error bar hides another.
        ax.errorbar(x + dodge, means, yerr=sds, marker="o", markersize=4, capsize=3, linewidth=1.5,
                    label=name)
    ax.plot(x, [psnr for _, psnr in classical], "s--", color="dimgrey", markersize=4,
            label="best classical filter")
    for xi, (method, psnr) in zip(x, classical, strict=True):
        ax.annotate(method.split(" (")[0], (xi, psnr), textcoords="offset points", xytext=(0, -13),
                    ha="center", fontsize=7, color="dimgrey")
    if noisy is not None:
        ax.plot(x, noisy, ":", color="tab:red", marker="x", label="noisy input")
    ax.set_xticks(x)
    ax.set_xlabel("noise factor (standard deviation of the added Gaussian noise)")
    ax.set_ylabel("test PSNR (dB), higher is better")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)

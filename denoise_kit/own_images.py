"""Denoise your own pictures with a trained model. A denoiser's `--denoise a.png`:

    if DENOISE:
        own_images.denoise_and_exit(CONFIG)

or, from any code:

    own_images.denoise_files(["drawing.png"], "outputs/denoise_transpose_mnist/model.keras",
                             output_dir="outputs/denoise_transpose_mnist", noise_factor=0.5)

Any PNG or JPEG (any format Pillow reads), of any size and mode, becomes one
grey image in [0, 1]: colour by its luminance, transparent parts laid on white
(as a page or a browser shows them), 16-bit images scaled by 65535. The
saved model is fully convolutional and takes any size its pooling levels
divide, so it runs on the picture as it is: padded by mirroring the edges to
the next size it takes, cropped back after. Nothing is rebuilt or trained.

For each picture it writes ``<name>.denoised.png`` (the output, grey, at the
original size) and ``<name>.comparison.png`` (input, noisy version if noise was
added, output). It never changes a file that is already there: if either name
is taken, both get the first free number, ``<name>.denoised-2.png`` and
``<name>.comparison-2.png``, and so on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import keras
import numpy as np

from denoise_kit import metrics, plots
from denoise_kit.errors import ConfigError, DataError
from denoise_kit.files import atomic_path
from denoise_kit.notebook import running_in_notebook

MAX_PIXELS = 4_000_000  # Beyond this the activations of one image need several GB of memory.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def read_grey(path: str | os.PathLike[str], max_pixels: int | None = None) -> np.ndarray:
    """An image file as a float32 (H, W) array in [0, 1]; DataError if unreadable."""
    return read_grey_with_notes(path, max_pixels)[0]


def read_grey_with_notes(path: str | os.PathLike[str],
                         max_pixels: int | None = None) -> tuple[np.ndarray, list[str]]:
    """As `read_grey`, with what was done to make it one grey layer ("colour turned
    grey by its luminance", "transparent parts laid on white"), for a page to show.
    Pictures of more than `max_pixels` (default MAX_PIXELS) are refused unread."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            # The size is in the header: refuse a huge picture before decoding its pixels.
            _check_size(path, image.size, MAX_PIXELS if max_pixels is None else max_pixels)
            image.load()  # Pillow reads lazily: a truncated file fails here, not later.
            image = ImageOps.exif_transpose(image)  # Phone photos: upright, as viewers show them.
            notes = _conversion_notes(image)
            grey = _to_grey(image)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read {path} as an image ({type(e).__name__}: {e}): "
                        "give a PNG or JPEG file") from None
    return grey, notes


def _check_size(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        limit = (f"{max_pixels / 1_000_000:g} megapixel{'s' if max_pixels != 1_000_000 else ''}"
                 if max_pixels >= 1_000_000 else f"{max_pixels:,} pixels")
        raise DataError(f"{path} is {width}x{height} pixels: scale it down to at most {limit} "
                        "(the models learned from 28x28 digits)")


def _conversion_notes(image) -> list[str]:
    notes = []
    if image.mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "P", "PA", "RGBa"):
        notes.append("colour turned grey by its luminance")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        notes.append("transparent parts laid on white")
    return notes


def _to_grey(image) -> np.ndarray:
    from PIL import Image

    if image.mode in SIXTEEN_BIT_MODES:  # Pillow's convert("L") would clip these at 255.
        return np.clip(np.asarray(image, dtype=np.float32) / 65535.0, 0.0, 1.0)
    if image.mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


DIGIT_SIZE = 28  # MNIST's images...
DIGIT_BOX = 20  # ...hold each digit scaled into a 20x20 box, centred by its centre of mass.
INK_THRESHOLD = 0.1  # Canvas pixels brighter than this are ink.


def drawing_as_digit(canvas: np.ndarray) -> np.ndarray:
    """A drawing of light strokes on dark, any size, as a 28x28 image made the
    way MNIST's were: cropped to the ink, scaled so its longer side is 20
    pixels, and centred by its centre of mass. DataError on an empty canvas."""
    from PIL import Image

    canvas = np.asarray(canvas, dtype=np.float32)
    rows, cols = np.nonzero(canvas > INK_THRESHOLD)
    if rows.size == 0:
        raise DataError("the canvas is empty: draw a digit (light strokes on the dark square)")
    ink = canvas[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = DIGIT_BOX / max(ink.shape)
    height, width = (max(1, round(side * scale)) for side in ink.shape)
    small = np.asarray(Image.fromarray(ink).resize((width, height), Image.Resampling.BOX))
    digit = np.zeros((DIGIT_SIZE, DIGIT_SIZE), dtype=np.float32)
    top, left = (DIGIT_SIZE - height) // 2, (DIGIT_SIZE - width) // 2
    digit[top : top + height, left : left + width] = small
    mass = digit.sum()
    centre = np.array([np.arange(DIGIT_SIZE) @ digit.sum(axis=1), np.arange(DIGIT_SIZE) @ digit.sum(axis=0)])
    shift = np.round((DIGIT_SIZE - 1) / 2 - centre / mass).astype(int)
    # Move the centre of mass to the middle, as far as the box allows without cutting ink off.
    shift[0] = np.clip(shift[0], -top, DIGIT_SIZE - top - height)
    shift[1] = np.clip(shift[1], -left, DIGIT_SIZE - left - width)
    return np.clip(np.roll(digit, tuple(shift), axis=(0, 1)), 0.0, 1.0)


def add_noise(image: np.ndarray, noise_factor: float, seed: int) -> np.ndarray:
    """clip(x + noise_factor * N(0, 1), 0, 1), the scripts' noise, from a numpy seed."""
    noise = np.random.default_rng(seed).standard_normal(image.shape).astype(np.float32)
    return np.clip(image + noise_factor * noise, 0.0, 1.0)


def load_denoiser(model_path: str | os.PathLike[str], train_command: str | None = None) -> keras.Model:
    """The model a script saved, as it was saved: it takes images of any size its
    pooling levels divide (see `accepted_size`)."""
    model_path = Path(model_path)
    if not model_path.is_file():
        how = f"`{train_command}`" if train_command else "the script without --denoise"
        raise ConfigError(f"no trained model at {model_path}: train one first with {how}, "
                          "then run this again")
    try:
        return keras.saving.load_model(model_path, compile=False)
    except Exception as e:  # Keras raises many kinds for a damaged or foreign file.
        raise ConfigError(f"cannot load {model_path} ({type(e).__name__}): "
                          "delete it and train again") from None


def accepted_size(model: keras.Model, size: int, step: int = 4) -> int:
    """The smallest height (or width) >= `size` that `model` gives back unchanged.

    Two pooling levels take any multiple of 4; three take 28, 36, 44...
    (4 more than a multiple of 8: the decoder grows 7 -> 4 back to 32 and
    crops 4), and so on.
    """
    for candidate in range(size, size + 16 * step):
        try:
            shape = model.compute_output_shape((1, candidate, candidate, 1))
        except Exception:  # Sizes whose layers don't line up.
            continue
        if shape[1] == candidate:
            return candidate
    raise ConfigError(f"the model gives no image size near {size} back unchanged: train it again")


def denoise_image(model: keras.Model, image: np.ndarray, traced: bool = False) -> np.ndarray:
    """Denoise one (H, W) image in [0, 1] at its own size: padded at the bottom
    and right (mirroring the edge) to a size the model takes, cropped back after.

    Eagerly by default: nothing to trace for a one-off picture. With `traced`,
    through Keras' compiled predict step: the first image of each size is
    traced (slower), the next ones run several times faster (a page that
    denoises on every slider move)."""
    height, width = image.shape
    padded_height, padded_width = accepted_size(model, height), accepted_size(model, width)
    padding = ((0, padded_height - height), (0, padded_width - width))
    padded = np.pad(image, padding, mode="reflect" if min(height, width) > 1 else "edge")[None, :, :, None]
    output = model.predict_on_batch(padded) if traced else model(padded, training=False)
    output = keras.ops.convert_to_numpy(keras.ops.cast(output, "float32"))
    return output[0, :height, :width, 0]


def denoise_files(
    paths: Sequence[str | os.PathLike[str]],
    model_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    noise_factor: float | None = None,
    seed: int = 0,
    invert: bool = False,
    train_command: str | None = None,
) -> int:
    """Denoise image files with the model saved at `model_path`; return how many
    could not be read.

    With `noise_factor`, that much Gaussian noise is added first (seeded by
    `seed`), and the figure gives the PSNR of the noisy and denoised images
    against your image. With `invert`, images are turned negative before
    denoising and back after (for dark strokes on a light background). A file
    that can't be read gets one line and the others are denoised; a last line
    counts them.
    """
    if noise_factor is not None and noise_factor < 0:
        raise ConfigError(f"noise factor must be 0 or more, got {noise_factor}")
    if not paths:
        raise ConfigError("give at least one image file to denoise")
    model = load_denoiser(model_path, train_command)
    output_dir = Path(output_dir)
    failed = 0
    for path in map(Path, paths):
        try:
            image = read_grey(path)
        except DataError as error:
            print(f"skipped: {error}", file=sys.stderr)
            failed += 1
            continue
        if not invert and image.mean() > 0.5:
            print(f"{path.name}: mostly light (mean {image.mean():.2f}), but the models learned light "
                  "strokes on a dark background: if it looks wrong, try --invert")
        denoise_one(path, image, model, output_dir, noise_factor, seed, invert)
    done = len(paths) - failed
    print(f"{done} of {len(paths)} image(s) denoised" + (f"; {failed} could not be read" if failed else ""))
    return failed


def denoise_one(path: Path, image: np.ndarray, model: keras.Model, output_dir: Path,
                noise_factor: float | None, seed: int, invert: bool) -> list[Path]:
    """Denoise one grey image and write its two files; print one line about it."""
    flip = (lambda x: 1.0 - x) if invert else (lambda x: x)
    noisy = add_noise(image, noise_factor, seed) if noise_factor is not None else None
    denoised = flip(denoise_image(model, flip(noisy if noisy is not None else image)))
    output_dir.mkdir(parents=True, exist_ok=True)
    output_path, figure_path = free_names(output_dir, path.stem)
    with atomic_path(output_path) as tmp:
        _save_grey_png(denoised, tmp)
    comparison_figure(image, noisy, denoised, noise_factor, figure_path, title=path.name)
    line = f"{path.name} ({image.shape[1]}x{image.shape[0]})"
    if noisy is not None:
        line += (f": noisy {metrics.psnr(image, noisy):.1f} dB -> denoised "
                 f"{metrics.psnr(image, denoised):.1f} dB")
    print(f"{line}  ->  {output_path}, {figure_path.name}")
    return [output_path, figure_path]


def free_names(output_dir: Path, stem: str) -> tuple[Path, Path]:
    """<stem>.denoised.png and <stem>.comparison.png, or the first pair
    numbered -2, -3, ... of which neither file (nor its temporary name) exists."""
    number = 1
    while True:
        suffix = "" if number == 1 else f"-{number}"
        pair = (output_dir / f"{stem}.denoised{suffix}.png", output_dir / f"{stem}.comparison{suffix}.png")
        taken = [p for p in pair for name in (p.name, f"{p.stem}.partial.png") if (p.parent / name).exists()]
        if not taken:
            return pair
        number += 1


def _save_grey_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")


def comparison_figure(image: np.ndarray, noisy: np.ndarray | None, denoised: np.ndarray,
                      noise_factor: float | None, path: Path, title: str) -> Path:
    """Your image, its noisy version (if any) and the denoised output side by
    side, framed (a white image would vanish into the page otherwise)."""
    import matplotlib.pyplot as plt

    panels = [("your image", image, "")]
    if noisy is not None:
        panels.append((f"with noise {noise_factor:g}", noisy, f"{metrics.psnr(image, noisy):.1f} dB"))
        panels.append(("denoised", denoised, f"{metrics.psnr(image, denoised):.1f} dB"))
    else:
        panels.append(("denoised", denoised, ""))
    height, width = image.shape
    panel_width = 3.2
    panel_height = min(max(panel_width * height / width, 1.2), 6.0) + 0.6
    fig, axes = plt.subplots(1, len(panels), figsize=(panel_width * len(panels), panel_height))
    for ax, (name, shown, score) in zip(axes, panels, strict=True):
        # imshow itself, not plots.show_image: its squeeze() would flatten a one-pixel-high image.
        ax.imshow(shown, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}\n{score}" if score else name, fontsize=10)
    note = "PSNR against your image" if noisy is not None else "no noise added"
    fig.tight_layout()
    fig.suptitle(f"{title}  ({width}x{height} pixels; {note})", fontsize=10, y=1.0, va="bottom")
    return plots.save_figure(fig, path)


def denoise_and_exit(config: dict[str, Any]) -> NoReturn:
    """A denoiser's `--denoise a.png b.png`: the files through OUTPUT_DIR/model.keras,
    with ADD_NOISE, INVERT and TEST_NOISE_SEED as the script has them; then the script stops."""
    as_program = not running_in_notebook()
    failed = denoise_files(
        config["DENOISE"], Path(config["OUTPUT_DIR"]) / "model.keras", output_dir=config["OUTPUT_DIR"],
        noise_factor=config["NOISE_FACTOR"] if config.get("ADD_NOISE") else None,
        seed=config.get("TEST_NOISE_SEED", 0), invert=config.get("INVERT", False),
        train_command=_train_command(config) if as_program else None)
    raise SystemExit(1 if failed else 0)


def _train_command(config: dict[str, Any]) -> str:
    """How to train the model --denoise needs: the script, with its --output-dir if not the default."""
    script = Path(sys.argv[0]).name
    command = f"python {script}"
    if Path(config["OUTPUT_DIR"]) != Path("outputs") / Path(script).stem:
        command += f" --output-dir {config['OUTPUT_DIR']}"
    return command

"""How an upsampling layer's kernel covers its output: the playground's
overlap explorer (after Distill's "Deconvolution and Checkerboard Artifacts").

    result = overlap.explore(input_size=6, kernel_size=3, stride=2, padding="same",
                             layer="Conv2DTranspose")
    result.output          # what the Keras layer gives for an all-ones image and kernel
    result.coverage        # how many kernel stamps (or taps) land on each output pixel
    result.interior_ratio  # max/min away from the border: 4 here, a checkerboard

The output comes from the real Keras layers, as transpose_demo.py computes
it; the coverage is counted by hand, stamp by stamp, and for an all-ones
image through an all-ones kernel the two agree. "Interior" leaves out the
border, where the image ends and fewer stamps (or zero padding) play a part.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

LAYERS = ("Conv2DTranspose", "UpSampling2D (nearest) + Conv2D", "UpSampling2D (bilinear) + Conv2D")
PADDINGS = ("same", "valid")
MAX_INPUT_SIZE = 16  # Bigger arrays no longer fit their numbers on a screen.
MAX_KERNEL_SIZE = 7
MAX_STRIDE = 4


@dataclass(frozen=True)
class Overlap:
    """One setting of the explorer and what it gives."""

    input_size: int
    kernel_size: int
    stride: int
    padding: str
    layer: str
    output: np.ndarray  # (H, W) float32, from the Keras layer
    coverage: np.ndarray  # (H, W) int, stamps (Conv2DTranspose) or kernel taps (Conv2D) per pixel
    interior: tuple[slice, slice]  # The pixels away from the border
    size_rule: str  # The output-size rule, worked out for these settings

    @property
    def interior_ratio(self) -> float:
        """max/min of the output away from the border: 1 is even, 4 is k=3, s=2's checkerboard,
        infinite with gaps of zeros (a kernel smaller than the stride); NaN with no interior."""
        inside = self.output[self.interior]
        if inside.size == 0:
            return float("nan")
        return float(inside.max() / inside.min()) if inside.min() > 0 else float("inf")


def check_settings(input_size: int, kernel_size: int, stride: int, padding: str, layer: str) -> None:
    """A ValueError, in words a learner can act on, for settings the explorer can't draw."""
    for name, value, high in (("input size", input_size, MAX_INPUT_SIZE),
                              ("kernel size", kernel_size, MAX_KERNEL_SIZE), ("stride", stride, MAX_STRIDE)):
        if int(value) != value or not 1 <= value <= high:
            raise ValueError(f"{name} must be a whole number from 1 to {high}, got {value}")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    if layer != LAYERS[0] and padding == "valid" and kernel_size > input_size * stride:
        raise ValueError(f"a {kernel_size}x{kernel_size} 'valid' Conv2D does not fit in the "
                         f"{input_size * stride}x{input_size * stride} upsampled image: "
                         "use a smaller kernel, a larger input or 'same' padding")


def explore(input_size: int, kernel_size: int, stride: int, padding: str, layer: str) -> Overlap:
    """An all-ones input_size x input_size image through `layer` with an all-ones kernel."""
    check_settings(input_size, kernel_size, stride, padding, layer)
    n, k, s = int(input_size), int(kernel_size), int(stride)
    ones = np.ones((1, n, n, 1), dtype="float32")
    output = keras.ops.convert_to_numpy(upsampling_model(n, k, s, padding, layer)(ones))[0, :, :, 0]
    if layer == LAYERS[0]:
        coverage, interior = _stamp_coverage(n, k, s, padding), _transpose_interior(n, k, s, padding)
        rule = _transpose_rule(n, k, s, padding)
    else:
        coverage, interior = _tap_coverage(n, k, s, padding), _conv_interior(n, k, s, padding)
        rule = _resize_rule(n, k, s, padding)
    return Overlap(n, k, s, padding, layer, output.astype("float32"), coverage, interior, rule)


def upsampling_model(n: int, k: int, s: int, padding: str, layer: str) -> keras.Model:
    """The layer(s) with all-ones kernels and zero bias, for an n x n one-channel input."""
    inputs = keras.Input(shape=(n, n, 1))
    if layer == LAYERS[0]:
        conv = keras.layers.Conv2DTranspose(1, k, strides=s, padding=padding)
        outputs = conv(inputs)
    else:
        interpolation = "bilinear" if "bilinear" in layer else "nearest"
        conv = keras.layers.Conv2D(1, k, padding=padding)
        outputs = conv(keras.layers.UpSampling2D(size=s, interpolation=interpolation)(inputs))
    conv.set_weights([np.ones((k, k, 1, 1), "float32"), np.zeros(1, "float32")])
    return keras.Model(inputs, outputs)


# ----------------------------------------------------------------- Conv2DTranspose


def _transpose_size(n: int, k: int, s: int, padding: str) -> int:
    return n * s if padding == "same" else (n - 1) * s + max(k, s)


def _same_crop(k: int, s: int) -> int:
    """What "same" cuts off the start of the "valid" output (the rest goes at the end)."""
    return max(k - s, 0) // 2


def _stamp_coverage(n: int, k: int, s: int, padding: str) -> np.ndarray:
    """Each input pixel stamps the kernel with its corner at (row * s, col * s): count the stamps."""
    full = (n - 1) * s + max(k, s)
    along = np.zeros(full, dtype=int)  # One axis; the 2-D count is the outer product.
    for i in range(n):
        along[i * s : i * s + k] += 1
    start = _same_crop(k, s) if padding == "same" else 0
    along = along[start : start + _transpose_size(n, k, s, padding)]
    return np.outer(along, along)


def _transpose_interior(n: int, k: int, s: int, padding: str) -> tuple[slice, slice]:
    """Valid-output pixels x with max(k - s, 0) <= x <= n * s - 1 get every stamp an
    endless image would give them; shifted by what "same" crops."""
    start = _same_crop(k, s) if padding == "same" else 0
    size = _transpose_size(n, k, s, padding)
    low, high = max(k - s, 0) - start, n * s - start  # high is one past the last.
    inside = slice(max(low, 0), max(min(high, size), 0))
    return inside, inside


def _transpose_rule(n: int, k: int, s: int, padding: str) -> str:
    if padding == "same":
        return f'padding="same": n*s = {n}*{s} = {n * s}'
    if k >= s:
        return f'padding="valid": (n-1)*s + k = ({n}-1)*{s} + {k} = {(n - 1) * s + k}'
    return (f'padding="valid": (n-1)*s + max(k, s) = ({n}-1)*{s} + {s} = {(n - 1) * s + s} '
            f"(a kernel smaller than the stride leaves gaps of zeros)")


# ------------------------------------------------------------- UpSampling2D + Conv2D


def _conv_pad_before(k: int, padding: str) -> int:
    return (k - 1) // 2 if padding == "same" else 0


def _tap_coverage(n: int, k: int, s: int, padding: str) -> np.ndarray:
    """How many of the Conv2D's k x k taps land on the upsampled image (not its zero padding)."""
    m = n * s
    before = _conv_pad_before(k, padding)
    size = m if padding == "same" else m - k + 1
    along = np.array([min(x - before + k, m) - max(x - before, 0) for x in range(size)])
    return np.outer(along, along)


def _conv_interior(n: int, k: int, s: int, padding: str) -> tuple[slice, slice]:
    """The pixels whose whole k x k window lies on the upsampled image."""
    m = n * s
    before = _conv_pad_before(k, padding)
    size = m if padding == "same" else m - k + 1
    inside = slice(min(before, size), max(min(size, m - k + 1 + before), 0))
    return inside, inside


def _resize_rule(n: int, k: int, s: int, padding: str) -> str:
    if padding == "same":
        return f'UpSampling2D: n*s = {n}*{s} = {n * s}; Conv2D padding="same" keeps it: {n * s}'
    return (f'UpSampling2D: n*s = {n}*{s} = {n * s}; Conv2D padding="valid": n*s - k + 1 = '
            f"{n * s} - {k} + 1 = {n * s - k + 1}")

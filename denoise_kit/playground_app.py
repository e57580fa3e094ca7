"""The playground's web page (Gradio): draw a digit and watch the trained
denoisers clean it; move an upsampling layer's kernel and stride and watch
the checkerboard appear.

    app = playground_app.build(models_dir="outputs", data_dir=None, noise_factor=0.5, seed=0)
    app.launch(server_name="127.0.0.1", server_port=7860, **playground_app.LAUNCH_OPTIONS)

The page reads the `model.keras` files the denoisers saved (again whenever
one changes on disk) and never writes under `outputs/`: Gradio keeps the
pictures it serves in its own temporary folder. Every handler answers bad
input with a short message in the page, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # No calls home: the page works offline.

import gradio as gr  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from denoise_kit import datasets, metrics, overlap, own_images  # noqa: E402
from denoise_kit.errors import ConfigError, UserError  # noqa: E402

MAX_UPLOAD_PIXELS = 1_000_000  # An update stays interactive (well under a second) up to about this size.
MAX_UPLOAD_BYTES = "20mb"  # Larger files are refused by the server before they are read.
CANVAS_SIZE = 280  # The drawing square, 10 canvas pixels per digit pixel.
BRUSH_SIZE = 12  # Starting brush radius, in canvas pixels: about MNIST's stroke width.
DATASET_TITLES = {"mnist": "MNIST digits", "notmnist": "notMNIST letters",
                  "fashion_mnist": "Fashion-MNIST clothes"}
DOWNLOAD_COMMANDS = {"mnist": "python denoise_transpose_mnist.py",
                     "notmnist": "python denoise_upsampling_notmnist.py",
                     "fashion_mnist": "python denoise_transpose_mnist.py --dataset fashion_mnist"}
DATASET_NAMES = {"mnist": "MNIST", "notmnist": "notMNIST", "fashion_mnist": "Fashion-MNIST"}
# Fonts the browser has: a page that asks for web fonts waits for them offline.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])
CSS = """
.pixels img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated;
              padding-top: 34px; box-sizing: border-box; }  /* Below the label. */
#overlap-array textarea { font-family: ui-monospace, monospace; }
"""
LAUNCH_OPTIONS: dict[str, Any] = {"theme": THEME, "css": CSS, "max_file_size": MAX_UPLOAD_BYTES,
                                  "ssr_mode": False}


@dataclass(frozen=True)
class DenoiserSpec:
    """One of the scripts' trained denoisers, as the page names it."""

    key: str  # The page's element ids: out-<key>
    script: str  # The script that trains it; its output folder has the same name.
    decoder: str
    layer: str  # The decoder's upsampling layer, for short labels.
    default_dataset: str  # The script's DATASET, when no metrics.json says otherwise.


DENOISERS = (
    DenoiserSpec("transpose", "denoise_transpose_mnist", "Conv2DTranspose decoder", "Conv2DTranspose",
                 "mnist"),
    DenoiserSpec("upsampling", "denoise_upsampling_notmnist", "UpSampling2D + Conv2D decoder",
                 "UpSampling2D+Conv2D", "notmnist"),
)


@dataclass
class Denoiser:
    """A saved model, loaded once and again whenever its file changes."""

    spec: DenoiserSpec
    folder: Path
    _stamp: tuple[int, int] | None = None
    _model: keras.Model | None = None
    _problem: str | None = None
    _dataset: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> Path:
        return self.folder / "model.keras"

    @property
    def command(self) -> str:
        default = Path("outputs") / self.spec.script
        folder = "" if self.folder == default else f" --output-dir {self.folder}"
        return f"python {self.spec.script}.py{folder}"

    def title(self) -> str:
        """"Conv2DTranspose decoder, trained on MNIST digits"."""
        return f"{self.spec.decoder}, trained on {DATASET_TITLES.get(self.dataset, self.dataset)}"

    def label(self) -> str:
        """"Conv2DTranspose, MNIST": short enough for a picture's label."""
        return f"{self.spec.layer}, {DATASET_NAMES.get(self.dataset, self.dataset)}"

    @property
    def dataset(self) -> str:
        return self._dataset or self.spec.default_dataset

    def model(self) -> tuple[keras.Model | None, str | None]:
        """The model, or None and what to do about it."""
        with self._lock:  # Two tabs may ask at once; load it only once.
            try:
                stat = self.path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                stamp = None
            if stamp != self._stamp or (stamp is None and self._problem is None):
                self._stamp = stamp
                self._model, self._problem = self._load(stamp is not None)
                self._dataset = self._trained_on()
            return self._model, self._problem

    def _load(self, exists: bool) -> tuple[keras.Model | None, str | None]:
        if not exists:
            return None, f"no trained model at `{self.path}`: train it with `{self.command}`"
        try:
            return keras.saving.load_model(self.path, compile=False), None
        except Exception as error:  # Keras raises many kinds for a damaged or foreign file.
            return None, (f"`{self.path}` can't be read ({type(error).__name__}): "
                          f"delete it and train again with `{self.command}`")

    def _trained_on(self) -> str | None:
        try:
            return json.loads((self.folder / "metrics.json").read_text())["settings"]["DATASET"]
        except (OSError, ValueError, KeyError, TypeError):
            return None


@dataclass
class Playground:
    """What the page's handlers share: the denoisers and the test sets."""

    denoisers: list[Denoiser]
    data_dir: str | None
    _test_sets: dict[str, np.ndarray] = field(default_factory=dict)

    def test_images(self, dataset: str) -> np.ndarray:
        """The dataset's held-out test images, (N, 28, 28) in [0, 1], from local files only."""
        if dataset not in self._test_sets:
            (_, _), (x_test, _) = datasets.load_dataset(dataset, self.data_dir, verbose=False, download=False)
            self._test_sets[dataset] = x_test[..., 0]
        return self._test_sets[dataset]


# ----------------------------------------------------------------------- the inputs


@dataclass(frozen=True)
class CleanImage:
    """The picture being denoised, and where it came from."""

    image: np.ndarray  # (H, W) in [0, 1]
    source: str  # "drawing", "upload" or "test image"
    description: str
    invertible: bool = False  # An upload: the invert switch applies to it.


def from_drawing(sketch: Any) -> CleanImage:
    """The Sketchpad's picture (light strokes on dark) made into a 28x28 MNIST-style digit."""
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        raise UserError("the canvas is empty: draw a digit (light strokes on the dark square)")
    canvas = np.asarray(composite, dtype=np.float32)
    if canvas.ndim == 3:  # RGB(A) from a browser that sent colour: its luminance, as an upload gets.
        canvas = canvas[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    digit = own_images.drawing_as_digit(canvas / 255.0)
    return CleanImage(digit, "drawing",
                      "your drawing, cropped, scaled and centred to 28x28 as MNIST's digits were")


def from_upload(path: str | os.PathLike[str] | None) -> CleanImage:
    """An uploaded picture at its own size, grey; its conversion said in words."""
    if path is None:
        raise UserError("no file: choose a PNG or JPEG picture")
    path = Path(path)
    try:
        image, notes = own_images.read_grey_with_notes(path, max_pixels=MAX_UPLOAD_PIXELS)
    except UserError as error:  # The file's temporary folder means nothing to the reader.
        raise UserError(str(error).replace(str(path), path.name)) from None
    height, width = image.shape
    description = f"{path.name}, {width}x{height} pixels" + "".join(f"; {note}" for note in notes)
    return CleanImage(image, "upload", description, invertible=True)


def from_test_set(playground: Playground, dataset: str, seed: int) -> CleanImage:
    """One test image of `dataset`, picked by `seed`."""
    try:
        images = playground.test_images(dataset)
    except UserError as error:
        raise UserError(f"{error}: run `{DOWNLOAD_COMMANDS[dataset]}` once (it downloads the data), "
                        f"or set ${datasets.DATA_DIR_ENV}") from None
    index = int(np.random.default_rng(seed).integers(len(images)))
    return CleanImage(images[index], "test image", f"{DATASET_TITLES[dataset]} test image #{index}")


# ------------------------------------------------------------------------ denoising


@dataclass
class Denoised:
    """What one update shows."""

    clean: np.ndarray
    noisy: np.ndarray
    noisy_psnr: float
    outputs: list[tuple[Denoiser, np.ndarray | None, float | None, str | None]]  # output, PSNR, problem


def denoise(playground: Playground, clean: CleanImage, noise_factor: float, seed: int,
            invert: bool) -> Denoised:
    """Add noise to the clean picture and run it through every denoiser at its own
    size (padded as --denoise pads, cropped back after); PSNR against the clean one."""
    if not 0 <= noise_factor <= 1:
        raise UserError(f"noise must be from 0 to 1, got {noise_factor}")
    flip = clean.invertible and invert  # The models learned light strokes on dark.
    noisy = own_images.add_noise(clean.image, noise_factor, int(seed))
    outputs = []
    for denoiser in playground.denoisers:
        model, problem = denoiser.model()
        if model is None:
            outputs.append((denoiser, None, None, problem))
            continue
        try:
            denoised = own_images.denoise_image(model, 1.0 - noisy if flip else noisy, traced=True)
        except Exception as error:  # A model.keras that is not one of these denoisers: this one only.
            outputs.append((denoiser, None, None, f"`{denoiser.path}` can't denoise this picture "
                            f"({type(error).__name__}): train it again with `{denoiser.command}`"))
            continue
        denoised = 1.0 - denoised if flip else denoised
        outputs.append((denoiser, denoised, metrics.psnr(clean.image, denoised), None))
    return Denoised(clean.image, noisy, metrics.psnr(clean.image, noisy), outputs)


# ----------------------------------------------------------------------- the page


def build(models_dir: str | os.PathLike[str] = "outputs", data_dir: str | None = None,
          noise_factor: float = 0.5, seed: int = 0) -> gr.Blocks:
    """The whole page: a Denoise tab and an Upsampling tab."""
    if not 0 <= noise_factor <= 1:
        raise ConfigError(f"the noise slider goes from 0 to 1: --noise-factor can't be {noise_factor}")
    playground = Playground([Denoiser(spec, Path(models_dir) / spec.script) for spec in DENOISERS], data_dir)
    for denoiser in playground.denoisers:  # Loaded now: the labels name their training data.
        denoiser.model()
    with gr.Blocks(title="Denoising autoencoders: playground") as app:
        gr.Markdown("# Playground: denoisers and upsampling layers")
        with gr.Tab("Denoise", id="denoise"):
            _denoise_tab(playground, noise_factor, seed)
        with gr.Tab("Upsampling", id="upsampling"):
            _upsampling_tab()
    app.playground = playground  # For tests and notebooks: the models and data the page uses.
    return app


def _denoise_tab(playground: Playground, noise_factor: float, seed: int) -> None:
    gr.Markdown("Draw light strokes on the dark square (as MNIST has them), upload a picture, or take a "
                "test image; then turn the noise up. Every change updates the pictures below.")
    with gr.Row():
        with gr.Column(scale=3):
            sketch = gr.Sketchpad(
                value={"background": np.zeros((CANVAS_SIZE, CANVAS_SIZE), np.uint8), "layers": [],
                       "composite": None},
                canvas_size=(CANVAS_SIZE, CANVAS_SIZE), fixed_canvas=True, image_mode="L", type="numpy",
                brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=BRUSH_SIZE),
                layers=False, transforms=(), format="png", label="Draw here", elem_id="sketch")
        with gr.Column(scale=2):
            upload = gr.File(label="...or upload a picture (PNG/JPEG, up to 1 megapixel)", type="filepath",
                             elem_id="upload")
            invert = gr.Checkbox(label="My upload has dark strokes on a light background (invert)",
                                 elem_id="invert")
            with gr.Row():
                dataset = gr.Dropdown([(title, key) for key, title in DATASET_TITLES.items()], value="mnist",
                                      label="Test set", scale=2)
                pick = gr.Button("Random test image", elem_id="random-test-image", scale=1)
            noise = gr.Slider(0, 1, value=noise_factor, step=0.05, label="Noise (standard deviation)",
                              elem_id="noise")
            seed_box = gr.Number(value=seed, precision=0, minimum=0, label="Noise seed", elem_id="seed")
    message = gr.Markdown(elem_id="message")
    with gr.Row():
        clean_out = gr.Image(label="clean", format="png", elem_id="out-clean", elem_classes="pixels",
                             interactive=False, height=200, buttons=[])
        noisy_out = gr.Image(label="noisy", format="png", elem_id="out-noisy", elem_classes="pixels",
                             interactive=False, height=200, buttons=[])
        model_outs = [gr.Image(label=denoiser.label(), format="png", elem_id=f"out-{denoiser.spec.key}",
                               elem_classes="pixels", interactive=False, height=200, buttons=[])
                      for denoiser in playground.denoisers]
    scores = gr.Markdown(elem_id="scores")
    models_note = gr.Markdown(_models_note(playground), elem_id="models")
    current = gr.State(None)  # The CleanImage on show, one per browser tab.

    shown = [current, message, clean_out, noisy_out, *model_outs, scores, models_note]

    def show(clean: CleanImage | None, invert_: bool, noise_: float, seed_: float | None,
             new: bool = False) -> list[Any]:
        """Noise and denoise `clean`; a new picture also replaces the one kept for this tab
        and the clean picture shown (a slider move leaves both, one image less to send)."""
        keep = [gr.skip()] * len(shown)
        if clean is None:
            return keep
        try:
            result = denoise(playground, clean, float(noise_), _seed(seed_), bool(invert_))
        except Exception as error:
            return [keep[0], _message(error), *keep[2:]]
        clean_picture, *others = _pictures(result)
        return [clean if new else gr.skip(), _describe(clean, invert_), clean_picture if new else gr.skip(),
                *others, _scores(result), _models_note(playground)]

    def new_picture(read, *args) -> list[Any]:
        *sources, invert_, noise_, seed_ = args
        try:
            clean = read(*sources)
        except Exception as error:  # The pictures on show stay as they were.
            return [gr.skip(), _message(error), *[gr.skip()] * (len(shown) - 2)]
        return show(clean, invert_, noise_, seed_, new=True)

    settings = [invert, noise, seed_box]
    # Only the latest stroke or value; straight to the handler, not through the queue (half the wait).
    quick = {"trigger_mode": "always_last", "show_progress": "hidden", "queue": False}

    def drawn(sketch_: Any, invert_: bool, noise_: float, seed_: float | None) -> list[Any]:
        if not isinstance(sketch_, dict) or sketch_.get("composite") is None:
            return [gr.skip()] * len(shown)  # The pen just touched the canvas: the stroke follows.
        try:
            clean = from_drawing(sketch_)
        except UserError as error:  # Cleared: forget the drawing and its pictures.
            return [None, _message(error), *[None] * (len(shown) - 4), "", _models_note(playground)]
        return show(clean, invert_, noise_, seed_, new=True)

    # The Sketchpad's input event: each stroke, and "clear" (its change event waits for "save").
    sketch.input(drawn, [sketch, *settings], shown, api_name="draw", **quick)
    upload.upload(lambda *a: new_picture(from_upload, *a), [upload, *settings], shown, api_name="upload")
    pick.click(lambda *a: new_picture(lambda name: from_test_set(playground, name, _pick_seed()), *a),
               [dataset, *settings], shown, api_name="test_image")
    gr.on([noise.change, invert.change, seed_box.change], show, [current, *settings], shown,
          api_name="settings", **quick)


def _message(error: Exception) -> str:
    """A short line for the page: the words of an error the learner can fix, else what failed."""
    if isinstance(error, UserError):
        return f"**{error}**"
    return (f"**Something went wrong ({type(error).__name__}: {error}); "
            "the pictures on show are the last good ones.**")


def _seed(value: float | None) -> int:
    if value is None or value < 0 or value != int(value):
        raise UserError(f"the noise seed must be a whole number, 0 or more, got {value}")
    return int(value)


def _pick_seed() -> int:
    return int(np.random.default_rng().integers(2**32))  # A generator per call: sessions run in threads.


def _describe(clean: CleanImage, invert: bool) -> str:
    line = f"Denoising {clean.description}."
    if clean.invertible and not invert and clean.image.mean() > 0.5:
        line += (f" It is mostly light (mean {clean.image.mean():.2f}), but the models learned light "
                 "strokes on dark: if the output looks wrong, tick *invert*.")
    return line


def _pictures(result: Denoised) -> list[Any]:
    # Updates, not new components: Gradio re-describes a new component's whole API each time.
    pictures = [gr.update(value=_pixels(result.clean), label="clean"),
                gr.update(value=_pixels(result.noisy), label=f"noisy: {result.noisy_psnr:.1f} dB")]
    for denoiser, output, psnr, _ in result.outputs:
        if output is None:
            pictures.append(gr.update(value=None, label=f"{denoiser.label()}: not trained yet"))
        else:
            pictures.append(gr.update(value=_pixels(output), label=f"{denoiser.label()}: {psnr:.1f} dB"))
    return pictures


def _pixels(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def _scores(result: Denoised) -> str:
    """A small table: PSNR against the clean picture, higher is closer."""
    height, width = result.clean.shape
    rows = [f"| noisy input | {result.noisy_psnr:.2f} dB |"]
    for denoiser, _, psnr, _ in result.outputs:
        score = f"{psnr:.2f} dB" if psnr is not None else "no model"
        rows.append(f"| {denoiser.title()} | {score} |")
    return (f"PSNR against the clean {width}x{height} picture (higher is closer):\n\n"
            "| picture | PSNR |\n| --- | --- |\n" + "\n".join(rows))


def _models_note(playground: Playground) -> str:
    problems = [f"- {denoiser.spec.decoder}: {problem}" for denoiser in playground.denoisers
                for _, problem in [denoiser.model()] if problem]
    return "\n".join(["**Missing models** (the rest of the page works without them):", *problems]) \
        if problems else ""


# --------------------------------------------------------------- the Upsampling tab


def _upsampling_tab() -> None:
    gr.Markdown("An all-ones image through an upsampling layer whose kernel is all ones. Conv2DTranspose: "
                "each input pixel stamps the kernel on the output, and where the stamps overlap unevenly a "
                "flat image comes out as a checkerboard (Odena, Dumoulin and Olah, Distill 2016). "
                "UpSampling2D + Conv2D: the map counts the Conv2D's kernel taps that land on the upsampled "
                "image (on an all-ones image nearest and bilinear upsampling give the same ones). Faded in "
                "the map: the border, where an output pixel gets fewer stamps than inside an endless image. "
                "The settings start at `transpose_demo.py`'s checkerboard example (which crops a fixed 4 "
                "pixels instead), with the same numbers.")
    with gr.Row():
        with gr.Column(scale=1):
            layer = gr.Radio(list(overlap.LAYERS), value=overlap.LAYERS[0], label="Layer", elem_id="layer")
            size = gr.Slider(1, overlap.MAX_INPUT_SIZE, value=6, step=1, label="Input size n",
                             elem_id="input-size")
            kernel = gr.Slider(1, overlap.MAX_KERNEL_SIZE, value=3, step=1, label="Kernel size k",
                               elem_id="kernel-size")
            stride = gr.Slider(1, overlap.MAX_STRIDE, value=2, step=1, label="Stride s (UpSampling2D's size)",
                               elem_id="stride")
            padding = gr.Radio(list(overlap.PADDINGS), value="same", label="Padding", elem_id="padding")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="overlap-summary")
            with gr.Row():
                stamp_map = gr.HTML(label="Stamps (or kernel taps) on each output pixel", show_label=True,
                                    container=True, elem_id="overlap-map")
                checkerboard = gr.Image(label="The output as a picture", format="png", interactive=False,
                                        elem_id="overlap-picture", elem_classes="pixels", height=320,
                                        buttons=["download", "fullscreen"])
    array = gr.Textbox(label="The layer's output", lines=8, max_lines=20, elem_id="overlap-array",
                       interactive=False)
    # When the page opens, and whenever a control moves.
    gr.on(None, explore, [size, kernel, stride, padding, layer], [summary, stamp_map, checkerboard, array],
          api_name="explore", trigger_mode="always_last", show_progress="hidden")


def explore(size: float, kernel: float, stride: float, padding: str, layer: str) -> list[Any]:
    """The Upsampling tab's update: words, stamp map, picture and array; a message for
    settings that can't work (the rest stays as it was)."""
    try:
        result = overlap.explore(int(size), int(kernel), int(stride), padding, layer)
    except (ValueError, TypeError) as error:
        return [f"**{error}**", gr.skip(), gr.skip(), gr.skip()]
    picture = _pixels(result.output / max(float(result.output.max()), 1e-6))
    return [overlap_summary(result), stamp_map(result), picture,
            np.array2string(result.output, max_line_width=400, threshold=result.output.size)]


def overlap_summary(result: overlap.Overlap) -> str:
    height, width = result.output.shape
    ratio = result.interior_ratio
    verdict = ("even: no checkerboard" if ratio == 1 else
               "gaps of zeros between the stamps" if ratio == float("inf") else
               "no interior: every pixel is at the border" if np.isnan(ratio) else
               "uneven: a checkerboard")
    counts = sorted({int(c) for c in np.unique(result.coverage[result.interior])}, reverse=True)
    return (f"**Output {height}x{width}**: `{result.size_rule}`.\n\n"
            f"Away from the border (faded in the map), each pixel gets {', '.join(map(str, counts)) or 'no'} "
            f"{'stamp(s)' if result.layer == overlap.LAYERS[0] else 'kernel tap(s)'}: "
            f"**interior max/min = {ratio:g}** ({verdict}).")


def stamp_map(result: overlap.Overlap) -> str:
    """The count of stamps (or taps) on each output pixel as a table of shaded cells,
    the border faded: an HTML table, drawn at once at any size."""
    coverage = result.coverage
    rows, cols = result.interior
    top = max(int(coverage.max()), 1)
    cell = max(12, min(36, 360 // max(coverage.shape)))
    lines = [f'<table class="stamp-map" style="border-collapse: collapse; margin-top: 30px; '
             f'font-size: {cell * 0.45:.0f}px; '
             'font-family: ui-monospace, monospace;">']
    for r, row in enumerate(coverage):
        lines.append("<tr>")
        for c, count in enumerate(row):
            grey = round(255 * count / top)
            ink = "black" if grey > 128 else "white"
            inside = rows.start <= r < rows.stop and cols.start <= c < cols.stop
            faded = "" if inside else " opacity: 0.45;"  # The border, where the image ends.
            lines.append(f'<td style="width: {cell}px; height: {cell}px; padding: 0; text-align: center; '
                         f'background: rgb({grey},{grey},{grey}); color: {ink}; '
                         f'border: 1px solid #888;{faded}">'
                         f"{count}</td>")
        lines.append("</tr>")
    lines.append("</table>")
    return "".join(lines)


def serve(app: gr.Blocks, host: str, port: int) -> None:
    """Start the page on host:port (0: the first free port from 7860) and print its address;
    a port in use or a host that isn't this machine's is a ConfigError, one line."""
    if hasattr(sys.stdout, "reconfigure"):  # The address shows at once, even through a pipe or a log file.
        sys.stdout.reconfigure(line_buffering=True)
    try:
        app.launch(server_name=host, server_port=port or None, **LAUNCH_OPTIONS)
    except OSError:  # Gradio says "Cannot find empty port in range: 7860-7860", and how to set it.
        raise ConfigError(f"can't serve the page on {host}:{port or 'any port from 7860'} (the port is in "
                          "use, or the host is not an address of this machine): choose another port "
                          "(--port; 0: the first free one) or host (--host)") from None

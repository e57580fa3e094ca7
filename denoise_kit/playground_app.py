"""The playground's web page (Gradio): draw a digit and watch the trained
denoisers clean it, beside any other runs you trained; see every finished
run's scores; move an upsampling layer's kernel and stride and watch the
checkerboard appear.

    app = playground_app.build(models_dir="outputs", data_dir=None, noise_factor=0.5, seed=0)
    app.launch(server_name="127.0.0.1", server_port=7860, **playground_app.LAUNCH_OPTIONS)

The page reads the `model.keras` files the denoisers saved (again whenever
one changes on disk), looks for newly finished runs while it is open, and
never writes under `outputs/`: Gradio keeps the pictures it serves in its own
temporary folder. Every handler answers bad input with a short message in the
page, never a traceback.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # No calls home: the page works offline.

import gradio as gr  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402

from denoise_kit import cli, datasets, metrics, overlap, own_images, run_folders, runs  # noqa: E402
from denoise_kit.errors import ConfigError, UserError  # noqa: E402

MAX_UPLOAD_PIXELS = 1_000_000  # An update stays interactive (well under a second) up to about this size.
MAX_UPLOAD_BYTES = "20mb"  # Larger files are refused by the server before they are read.
CANVAS_SIZE = 280  # The drawing square, 10 canvas pixels per digit pixel.
BRUSH_SIZE = 12  # Starting brush radius, in canvas pixels: about MNIST's stroke width.
MAX_SHOWN = 4  # Models on show at once: four take 20-30 ms an update on a 2-core CPU (docs/speed.md).
REFRESH_S = 3.0  # How often an open page looks for runs that finished since it opened.
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
/* The Denoise tab's pictures: the label under the picture, on as many lines as it needs. */
.captioned { display: flex; flex-direction: column-reverse; justify-content: flex-end; }
.captioned label[data-testid="block-label"] { position: static; }
.captioned label[data-testid="block-label"] span { display: none; }  /* An HTML block's icon. */
.captioned .html-container { height: 150px; padding: 0 !important; }
.captioned img { width: 100%; height: 150px; margin: 0; object-fit: contain; image-rendering: pixelated; }
#overlap-array textarea { font-family: ui-monospace, monospace; }
#runs-table td:first-child, #runs-table td:nth-child(n+4):nth-child(-n+6) { white-space: nowrap; }
"""
LAUNCH_OPTIONS: dict[str, Any] = {"theme": THEME, "css": CSS, "max_file_size": MAX_UPLOAD_BYTES,
                                  "ssr_mode": False}


@dataclass(frozen=True)
class DenoiserSpec:
    """One of the scripts' trained denoisers, as the page names it."""

    key: str  # The page's element ids for its default run: out-<key>
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
SPECS = {spec.script: spec for spec in DENOISERS}
# The run flags' defaults: what a tweak's folder name leaves out (run_folders.changes).
RUN_FLAG_DEFAULTS = {name: default for name, (default, _) in cli.DENOISER_RUN_FLAGS.items()}


@dataclass(eq=False)  # One object per run, its model loaded once for every browser tab.
class Denoiser:
    """A saved model, loaded once and again whenever its file changes."""

    spec: DenoiserSpec
    folder: Path
    name: str  # Its folder inside the models folder, e.g. "denoise_transpose_mnist/kernel_size-4".
    tweak: str | None = None  # What differs from the defaults, e.g. "kernel_size-4"; None: a default run.
    changes: dict[str, Any] = field(default_factory=dict)  # The constants behind the tweak.
    trained_on: str | None = None  # The dataset its metrics.json names, known before the model loads.
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
        """The command that trains this run again (its flags, and its folder unless the usual one)."""
        flags = "".join(f" {_as_flag(name, value)}" for name, value in self.changes.items())
        usual = Path("outputs") / self.spec.script / (self.tweak or "")
        folder = "" if self.folder == usual else f" --output-dir {self.folder}"
        return f"python {self.spec.script}.py{flags}{folder}"

    def title(self) -> str:
        """"Conv2DTranspose decoder, trained on MNIST digits (kernel_size-4)"."""
        tweak = f" ({self.tweak})" if self.tweak else ""
        return f"{self.spec.decoder}, trained on {DATASET_TITLES.get(self.dataset, self.dataset)}{tweak}"

    def label(self) -> str:
        """"Conv2DTranspose, MNIST: kernel_size-4": short enough for a picture's label."""
        tweak = f": {self.tweak}" if self.tweak else ""
        return f"{self.spec.layer}, {DATASET_NAMES.get(self.dataset, self.dataset)}{tweak}"

    @property
    def dataset(self) -> str:
        return self._dataset or self.trained_on or self.spec.default_dataset

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


def _as_flag(name: str, value: Any) -> str:
    """KERNEL_SIZE 4 -> "--kernel-size 4", as the scripts' flags spell values (cli.py)."""
    flag = cli.flag_of(name)
    if isinstance(value, bool):
        return flag if value else flag.replace("--", "--no-", 1)
    if isinstance(value, tuple | list):
        return f"{flag} {','.join(map(str, value))}"
    return f"{flag} {value}"


@dataclass
class Playground:
    """What the page's handlers share: the denoisers and the test sets."""

    denoisers: list[Denoiser]  # The two scripts' default runs, always listed first.
    data_dir: str | None
    models_dir: Path | None = None  # Where the other runs are looked for; None: the default runs only.
    _test_sets: dict[str, np.ndarray] = field(default_factory=dict)
    _others: dict[Path, Denoiser] = field(default_factory=dict)  # Every other run seen, by its folder.
    _listed: list[Denoiser] = field(default_factory=list)  # The last list: what each name stands for.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def test_images(self, dataset: str) -> np.ndarray:
        """The dataset's held-out test images, (N, 28, 28) in [0, 1], from local files only."""
        if dataset not in self._test_sets:
            (_, _), (x_test, _) = datasets.load_dataset(dataset, self.data_dir, verbose=False, download=False)
            self._test_sets[dataset] = x_test[..., 0]
        return self._test_sets[dataset]

    def models(self) -> tuple[list[Denoiser], list[str]]:
        """Every model the page offers, looked up on disk now: the default runs, then the
        other trained runs; and a line for each folder left out, saying why."""
        found, skipped = trained_runs(self.models_dir) if self.models_dir else ([], [])
        with self._lock:
            others = [self._other(spec, run) for spec, run in found]
        self._listed = [*self.denoisers, *others]
        return self._listed, skipped

    def chosen(self, names: Sequence[str] | None) -> list[Denoiser]:
        """The models with these names, in the list's order (looked up again if one is new to it)."""
        wanted = set(names or ())
        if not wanted <= {model.name for model in self._listed}:
            self.models()
        return [model for model in self._listed if model.name in wanted]

    def _other(self, spec: DenoiserSpec, run: runs.FinishedRun) -> Denoiser:
        """The run's Denoiser: the one made before (its model loaded once) unless the run changed."""
        name = run.folder.relative_to(self.models_dir).as_posix()
        tweak = name if run.label == "defaults" else run.label  # The defaults, in a folder given to them.
        known = self._others.get(run.folder)
        if known is None or known.spec != spec or known.tweak != tweak:
            changes = run_folders.changes(run.script, run.constants, RUN_FLAG_DEFAULTS)
            known = Denoiser(spec, run.folder, name, tweak, changes, run.constants.get("DATASET"))
            self._others[run.folder] = known
        return known


def trained_runs(models_dir: Path) -> tuple[list[tuple[DenoiserSpec, runs.FinishedRun]], list[str]]:
    """The finished runs with a model.keras one or two folders under models_dir, but for the
    scripts' default runs: script by script, oldest first. And a line per such folder left out."""
    defaults = {models_dir / spec.script for spec in DENOISERS}
    found, skipped = [], []
    for model in sorted([*models_dir.glob("*/model.keras"), *models_dir.glob("*/*/model.keras")]):
        folder, where = model.parent, model.parent.relative_to(models_dir).as_posix()
        if folder in defaults:
            continue
        if not (folder / "metrics.json").is_file():
            skipped.append(f"{where}: no metrics.json (a run still going, or not a denoiser's)")
            continue
        try:
            run = runs.read(folder)
        except ValueError as reason:
            skipped.append(f"{where}: {reason}")
            continue
        if run.script not in SPECS:
            skipped.append(f"{where}: made by {run.script}, not by one of the two denoisers")
            continue
        found.append((SPECS[run.script], run))
    scripts = list(SPECS)
    found.sort(key=lambda pair: (scripts.index(pair[0].script), pair[1].finished_at, str(pair[1].folder)))
    return found, skipped


def model_choices(playground: Playground) -> tuple[list[tuple[str, str]], list[str]]:
    """The Denoise tab's list, (label, name) per model, defaults first; and the folders left out."""
    models, skipped = playground.models()
    labels = [model.label() for model in models]
    return [(f"{label} ({model.name})" if labels.count(label) > 1 else label, model.name)
            for label, model in zip(labels, models, strict=True)], skipped


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
            invert: bool, models: Sequence[Denoiser] | None = None) -> Denoised:
    """Add noise to the clean picture and run it through each model (the default runs
    unless `models` says) at its own size (padded as --denoise pads, cropped back
    after); PSNR against the clean one."""
    if not 0 <= noise_factor <= 1:
        raise UserError(f"noise must be from 0 to 1, got {noise_factor}")
    flip = clean.invertible and invert  # The models learned light strokes on dark.
    noisy = own_images.add_noise(clean.image, noise_factor, int(seed))
    outputs = []
    for denoiser in playground.denoisers if models is None else models:
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
    """The whole page: the Denoise, Runs and Upsampling tabs."""
    if not 0 <= noise_factor <= 1:
        raise ConfigError(f"the noise slider goes from 0 to 1: --noise-factor can't be {noise_factor}")
    models_dir = Path(models_dir)
    defaults = [Denoiser(spec, models_dir / spec.script, spec.script) for spec in DENOISERS]
    playground = Playground(defaults, data_dir, models_dir)
    for denoiser in playground.denoisers:  # Loaded now: the labels name their training data.
        denoiser.model()
    with gr.Blocks(title="Denoising autoencoders: playground") as app:
        gr.Markdown("# Playground: denoisers and upsampling layers")
        with gr.Tab("Denoise", id="denoise"):
            _denoise_tab(app, playground, noise_factor, seed)
        with gr.Tab("Runs", id="runs") as runs_tab:
            _runs_tab(runs_tab, models_dir)
        with gr.Tab("Upsampling", id="upsampling"):
            _upsampling_tab()
    app.playground = playground  # For tests and notebooks: the models and data the page uses.
    return app


def _picture(label: str, elem_id: str, visible: bool = True) -> gr.HTML:
    """A place for a picture: HTML holding it inline (_inline_png), its label below it."""
    return gr.HTML(None, label=label, show_label=True, container=True, elem_id=elem_id,
                   elem_classes="captioned", visible=visible, js_on_load=None)


def _inline_png(image: np.ndarray) -> str:
    """An <img> carrying its pixels as a PNG data: URL. Sent inside the answer, not as a file the
    browser fetches after it (gr.Image's way), the browser draws an update 40-60 ms sooner on a
    2-core CPU, with two models or four (benchmarks/playground_latency.py's Chromium rows)."""
    png = io.BytesIO()
    PIL.Image.fromarray(_pixels(image)).save(png, format="png")
    return f'<img src="data:image/png;base64,{base64.b64encode(png.getvalue()).decode("ascii")}" alt="">'


def _denoise_tab(app: gr.Blocks, playground: Playground, noise_factor: float, seed: int) -> None:
    gr.Markdown("Draw light strokes on the dark square (as MNIST has them), upload a picture, or take a "
                "test image; then turn the noise up. Every change updates the pictures below. Tick the "
                "trained models to compare: each run keeps its folder under the models folder, and a run "
                "that finishes while the page is open joins the list.")
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
    listing = list(model_choices(playground))  # [choices, folders left out]
    defaults = [denoiser.name for denoiser in playground.denoisers]
    chosen = gr.CheckboxGroup(listing[0], value=defaults, label="Models to show",
                              info=_choice_info(listing[1]), elem_id="model-choice")
    message = gr.Markdown(elem_id="message")
    with gr.Row(equal_height=True):
        clean_out = _picture("clean", "out-clean")
        noisy_out = _picture("noisy", "out-noisy")
        # The default runs keep their own places; the other runs chosen take the next free ones.
        places = [*[_picture(d.label(), f"out-{d.spec.key}") for d in playground.denoisers],
                  *[_picture("", f"out-run-{i}", visible=False) for i in range(1, MAX_SHOWN + 1)]]
    scores = gr.Markdown(elem_id="scores")
    models_note = gr.Markdown(_models_note(playground), elem_id="models")
    current = gr.State(None)  # The CleanImage on show, one per browser tab.
    accepted = gr.State(defaults)  # This tab's models as last accepted: a tick past MAX_SHOWN is undone.
    listed = gr.State(listing)  # What this tab's list shows, to refresh it only when that changes.

    shown = [current, message, clean_out, noisy_out, *places, scores, models_note]

    def show(clean: CleanImage | None, invert_: bool, noise_: float, seed_: float | None,
             chosen_: list[str] | None, new: bool = False) -> list[Any]:
        """Noise `clean` and denoise it with the chosen models; a new picture also replaces
        the one kept for this tab and the clean picture shown (a slider move leaves both,
        one image less to send)."""
        keep = [gr.skip()] * len(shown)
        if clean is None:
            return keep
        models = playground.chosen(chosen_)[:MAX_SHOWN]
        try:
            result = denoise(playground, clean, float(noise_), _seed(seed_), bool(invert_), models)
        except Exception as error:
            return [keep[0], _message(error), *keep[2:]]
        clean_picture, noisy_picture, *outputs = _pictures(result)
        return [clean if new else gr.skip(), _describe(clean, invert_), clean_picture if new else gr.skip(),
                noisy_picture, *_places(playground, dict(zip(models, outputs, strict=True))),
                _scores(result), _models_note(playground, models)]

    def new_picture(read, *args) -> list[Any]:
        *sources, invert_, noise_, seed_, chosen_ = args
        try:
            clean = read(*sources)
        except Exception as error:  # The pictures on show stay as they were.
            return [gr.skip(), _message(error), *[gr.skip()] * (len(shown) - 2)]
        return show(clean, invert_, noise_, seed_, chosen_, new=True)

    settings = [invert, noise, seed_box, chosen]
    # Only the latest stroke or value; straight to the handler, not through the queue (half the wait).
    quick = {"trigger_mode": "always_last", "show_progress": "hidden", "queue": False}

    def drawn(sketch_: Any, invert_: bool, noise_: float, seed_: float | None,
              chosen_: list[str] | None) -> list[Any]:
        if not isinstance(sketch_, dict) or sketch_.get("composite") is None:
            return [gr.skip()] * len(shown)  # The pen just touched the canvas: the stroke follows.
        try:
            clean = from_drawing(sketch_)
        except UserError as error:  # Cleared: forget the drawing and its pictures.
            note = _models_note(playground, playground.chosen(chosen_))
            return [None, _message(error), *[None] * (len(shown) - 4), "", note]
        return show(clean, invert_, noise_, seed_, chosen_, new=True)

    def pick_models(clean: CleanImage | None, invert_: bool, noise_: float, seed_: float | None,
                    chosen_: list[str] | None, accepted_: list[str]) -> list[Any]:
        """A tick in the list: the pictures follow it; a tick past MAX_SHOWN is undone."""
        chosen_ = chosen_ or []
        if len(chosen_) > MAX_SHOWN:
            too_many = f"**At most {MAX_SHOWN} models at once: untick one first.**"
            return [accepted_, gr.skip(), gr.skip(), too_many, *[gr.skip()] * (len(shown) - 2)]
        if clean is None:  # Nothing drawn yet: the chosen models' places, empty.
            models = playground.chosen(chosen_)
            empty = {model: gr.update(value=None, label=model.label(), visible=True) for model in models}
            return [gr.skip(), chosen_, gr.skip(), "", gr.skip(), gr.skip(), *_places(playground, empty),
                    gr.skip(), _models_note(playground, models)]
        return [gr.skip(), chosen_, *show(clean, invert_, noise_, seed_, chosen_)]

    def refresh(chosen_: list[str] | None, listed_: list[Any]) -> list[Any]:
        """The list again, when a run has finished (or gone) since this tab last showed it."""
        choices, skipped = model_choices(playground)
        if [choices, skipped] == listed_:
            return [gr.skip()] * 3
        names = {name for _, name in choices}
        kept = [name for name in chosen_ or [] if name in names]
        return [gr.update(choices=choices, value=kept, info=_choice_info(skipped)), kept, [choices, skipped]]

    # The Sketchpad's input event: each stroke, and "clear" (its change event waits for "save").
    sketch.input(drawn, [sketch, *settings], shown, api_name="draw", **quick)
    upload.upload(lambda *a: new_picture(from_upload, *a), [upload, *settings], shown, api_name="upload")
    pick.click(lambda *a: new_picture(lambda name: from_test_set(playground, name, _pick_seed()), *a),
               [dataset, *settings], shown, api_name="test_image")
    gr.on([noise.change, invert.change, seed_box.change], show, [current, *settings], shown,
          api_name="settings", **quick)
    chosen.input(pick_models, [current, *settings, accepted], [chosen, accepted, *shown], api_name="models",
                 **quick)
    gr.on([app.load, gr.Timer(REFRESH_S).tick], refresh, [chosen, listed], [chosen, accepted, listed],
          api_name="list_models", show_progress="hidden", queue=False)


def _choice_info(skipped: list[str]) -> str:
    left_out = f" Left out: {'; '.join(skipped)}." if skipped else ""
    return f"Up to {MAX_SHOWN} at once; the first two are the scripts' default runs.{left_out}"


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
    """The clean and noisy pictures, then each model's output, labelled with their PSNR."""
    # Updates, not new components: Gradio re-describes a new component's whole API each time.
    pictures = [gr.update(value=_inline_png(result.clean), label="clean"),
                gr.update(value=_inline_png(result.noisy), label=f"noisy: {result.noisy_psnr:.1f} dB")]
    for denoiser, output, psnr, _ in result.outputs:
        if output is None:
            why = "not trained yet" if not denoiser.path.exists() else "can't be used (below)"
            pictures.append(gr.update(value=None, label=f"{denoiser.label()}: {why}", visible=True))
        else:
            pictures.append(gr.update(value=_inline_png(output), label=f"{denoiser.label()}: {psnr:.1f} dB",
                                      visible=True))
    return pictures


def _places(playground: Playground, pictures: dict[Denoiser, Any]) -> list[Any]:
    """An update for each place a model's picture can go: the default runs' own (hidden
    when not chosen), then the other models chosen in turn, the places left over hidden."""
    own = [pictures.get(denoiser, gr.update(visible=False)) for denoiser in playground.denoisers]
    others = [picture for denoiser, picture in pictures.items() if denoiser not in playground.denoisers]
    return [*own, *others, *[gr.update(value=None, visible=False)] * (MAX_SHOWN - len(others))]


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


def _models_note(playground: Playground, models: Sequence[Denoiser] | None = None) -> str:
    """What is wrong with the models on show (the default runs unless `models` says), and how to fix it."""
    problems = [f"- {denoiser.label()}: {problem}"
                for denoiser in (playground.denoisers if models is None else models)
                for _, problem in [denoiser.model()] if problem]
    return "\n".join(["**Missing models** (the rest of the page works without them):", *problems]) \
        if problems else ""


# --------------------------------------------------------------------- the Runs tab


def _runs_tab(tab: gr.Tab, models_dir: Path) -> None:
    gr.Markdown(f"Every finished denoiser run under `{models_dir}`, oldest first: the table and the picture "
                "each run's end writes to `runs.md` and `runs.png`. Compare PSNR only between runs scored on "
                "the same test images (the last column).")
    table = gr.Markdown(elem_id="runs-table")
    plot = gr.Image(label="Test PSNR against training time (as runs.png)", format="png", interactive=False,
                    elem_id="runs-plot", buttons=["download", "fullscreen"], visible=False)
    tab.select(lambda: runs_page(models_dir), None, [table, plot], api_name="runs", show_progress="hidden",
               queue=False)


def runs_page(models_dir: Path) -> list[Any]:
    """The Runs tab, read now: the table of finished runs, and their picture drawn afresh
    (runs.py's, as runs.png has it: whichever folder a run wrote its runs.png to)."""
    import matplotlib.pyplot as plt

    found, _ = runs.find(models_dir)
    plot = None
    if found:
        figure = runs.draw(found)
        figure.canvas.draw()
        plot = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
        plt.close(figure)
    return [runs_table(models_dir), gr.update(value=plot, visible=plot is not None)]


def runs_table(models_dir: Path) -> str:
    """Every finished run under models_dir as a markdown table, the best PSNR on each set of
    test images in bold (where runs share one); then the folders left out."""
    found, skipped = runs.find(models_dir)
    left_out = "".join(f"\n- {line}" for line in skipped)
    if not found:
        return (f"No finished run under `{models_dir}` yet: train one, e.g. "
                f"`python denoise_transpose_mnist.py`.{left_out}")
    alike = Counter(_test_images(run) for run in found)
    best: dict[str, float] = {}
    for run in found:
        best[_test_images(run)] = max(run.psnr, best.get(_test_images(run), run.psnr))
    lines = ["| finished | model | what differs from the defaults | PSNR (dB) | SSIM | train (s) "
             "| test images |", "| --- | --- | --- | ---: | ---: | ---: | --- |"]
    for run in found:
        psnr = f"{run.psnr:.2f}"
        if alike[_test_images(run)] > 1 and run.psnr == best[_test_images(run)]:
            psnr = f"**{psnr}**"
        finished = run.finished_at.replace("T", " ")[:16]  # To the minute.
        lines.append(f"| {finished} | {_model_name(run)} | {run.label} | {psnr} | {run.ssim:.3f} "
                     f"| {run.train_seconds:.1f} | {_test_images(run)} |")
    return "\n".join(lines) + (f"\n\nLeft out:{left_out}" if skipped else "")


def _test_images(run: runs.FinishedRun) -> str:
    """"2,000 MNIST, noise 0.5 (ee31ac)": the run's noisy test images, their fingerprint's start."""
    test = run.test_set
    dataset = DATASET_NAMES.get(test.get("dataset"), test.get("dataset"))
    return (f"{test.get('images', 0):,} {dataset}, noise {test.get('noise_factor')} "
            f"({str(test.get('fingerprint'))[:6]})")


def _model_name(run: runs.FinishedRun) -> str:
    """"Conv2DTranspose, MNIST" for a denoiser's run."""
    spec = SPECS.get(run.script)
    if spec is None:
        return run.script
    dataset = run.test_set.get("dataset") or spec.default_dataset
    return f"{spec.layer}, {DATASET_NAMES.get(dataset, dataset)}"


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

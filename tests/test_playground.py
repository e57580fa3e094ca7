"""playground.py's page, without a browser: the overlap explorer against
transpose_demo.py, the inputs (drawings, uploads, bad files), the denoisers
(missing, damaged, trained), the list of every trained run and the Runs tab,
and two sessions at once through gradio_client.
tests/test_playground_browser.py drives the same page in Chromium."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import refusal_in_process, run_in_process
from playground_models import free_port, stroke_images, train_playground_models

from denoise_kit import metrics, overlap, own_images, playground_app
from denoise_kit.errors import UserError

TRANSPOSE, NEAREST, BILINEAR = overlap.LAYERS


@pytest.fixture(scope="module")
def trained_outputs(tmp_path_factory) -> Path:
    """An outputs/ folder holding both denoisers, trained for seconds on strokes."""
    return train_playground_models(tmp_path_factory.mktemp("outputs"), tmp_path_factory.mktemp("strokes"))


@pytest.fixture(scope="module")
def transpose_demo(tmp_path_factory) -> dict:
    """transpose_demo.py's globals, run from an empty folder (its figures go there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("demo"))
        return run_in_process("transpose_demo.py")


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def a_drawing(size: int = playground_app.CANVAS_SIZE) -> dict:
    """What the Sketchpad sends: a "7" of light strokes on the dark canvas."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (size, size))
    pen = ImageDraw.Draw(canvas)
    pen.line((70, 60, 210, 60), fill=255, width=22)
    pen.line((210, 60, 120, 230), fill=255, width=22)
    return {"background": np.zeros((size, size), np.uint8), "layers": [], "composite": np.asarray(canvas)}


def pixels_in(html: str) -> np.ndarray:
    """The pixels of a picture the page shows: an <img> with its PNG inside, as a data: URL."""
    from PIL import Image

    png = re.fullmatch(r'<img src="data:image/png;base64,([^"]+)" alt="">', html).group(1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(png))))


def write_png(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(array).save(path)
    return path


# ------------------------------------------------------------------ the overlap explorer


def test_the_explorer_gives_transpose_demos_numbers(transpose_demo):
    """At the demo's settings (an all-ones 6x6 image, k=3 and k=4 with s=2, and
    resize-convolution k=3) the explorer gives the demo's arrays and ratios."""
    size = transpose_demo["ONES_IMAGE_SIZE"]
    demo_outputs, demo_ratios = transpose_demo["checkerboard_outputs"], transpose_demo["checkerboard_ratios"]
    for demo_name, (kernel, layer) in {"Conv2DTranspose k=3, s=2": (3, TRANSPOSE),
                                      "Conv2DTranspose k=4, s=2": (4, TRANSPOSE),
                                      "UpSampling2D + Conv2D k=3": (3, NEAREST)}.items():
        result = overlap.explore(size, kernel, 2, "same", layer)
        np.testing.assert_array_equal(result.output, demo_outputs[demo_name])
        assert result.interior_ratio == demo_ratios[demo_name]
    assert demo_ratios["Conv2DTranspose k=3, s=2"] == 4
    # The demo's stamps over a 5x5 input (its generator's), all ones, add up to the explorer's coverage.
    stamps = transpose_demo["stamps"](np.ones((5, 5), "float32"), np.ones((3, 3)), 2, "same")
    np.testing.assert_array_equal(overlap.explore(5, 3, 2, "same", TRANSPOSE).coverage, sum(stamps.values()))


def test_the_size_rule_is_the_demos_and_the_layers(transpose_demo):
    demo_size = transpose_demo["output_size"]
    for n, k, s, padding in itertools.product((1, 2, 5), (1, 2, 3, 4, 5), (1, 2, 3), overlap.PADDINGS):
        result = overlap.explore(n, k, s, padding, TRANSPOSE)
        assert result.output.shape == (demo_size(n, k, s, padding),) * 2
        assert result.size_rule.endswith(f"= {result.output.shape[0]}") or "gaps" in result.size_rule
    # The demo's first example: kernel 1, stride 2 on a 2x2 image gives 4x4, not (n-1)*s + k = 3.
    assert overlap.explore(2, 1, 2, "valid", TRANSPOSE).size_rule.startswith(
        'padding="valid": (n-1)*s + max(k, s) = (2-1)*2 + 2 = 4')


def test_the_layers_output_is_the_stamp_count_at_every_setting():
    """The count made by hand, stamp by stamp, equals what Keras computes."""
    for n, k, s, padding, layer in itertools.product((1, 3, 6), (1, 2, 3, 4, 7), (1, 2, 3), overlap.PADDINGS,
                                                     overlap.LAYERS):
        try:
            result = overlap.explore(n, k, s, padding, layer)
        except ValueError:
            assert layer != TRANSPOSE and padding == "valid" and k > n * s
            continue
        np.testing.assert_array_equal(result.output, result.coverage, err_msg=f"{n, k, s, padding, layer}")


@pytest.mark.parametrize(("kernel", "stride", "layer", "ratio"), [
    (3, 2, TRANSPOSE, 4.0),  # 1, 2 or 4 stamps: Distill's checkerboard.
    (4, 2, TRANSPOSE, 1.0),  # The stride divides the kernel: even.
    (5, 3, TRANSPOSE, 4.0),  # Overlaps of 2 columns in every 3.
    (1, 2, TRANSPOSE, float("inf")),  # Gaps of zeros between the pixels.
    (3, 2, NEAREST, 1.0),
    (5, 3, BILINEAR, 1.0),
])
def test_interior_max_over_min(kernel, stride, layer, ratio):
    assert overlap.explore(8, kernel, stride, "same", layer).interior_ratio == ratio


def test_settings_that_cannot_work_get_a_message_and_keep_the_pictures():
    summary, *kept = playground_app.explore(1, 7, 2, "valid", NEAREST)
    assert "does not fit" in summary and "use a smaller kernel" in summary
    assert kept == [{"__type__": "update"}] * 3  # gr.skip(): the map, picture and array stay as they were.
    summary, *_ = playground_app.explore(6, 9, 2, "same", TRANSPOSE)
    assert summary.startswith("**kernel size must be a whole number from 1 to 7, got 9")


def test_the_page_shows_the_rule_the_ratio_the_map_and_the_picture():
    summary, stamp_map, picture, array = playground_app.explore(6, 3, 2, "same", TRANSPOSE)
    assert "**Output 12x12**" in summary and "`padding=\"same\": n*s = 6*2 = 12`" in summary
    assert "interior max/min = 4**" in summary and "a checkerboard" in summary
    output = overlap.explore(6, 3, 2, "same", TRANSPOSE).output
    shown = np.array(array.replace("[", " ").replace("]", " ").split(), dtype=float).reshape(12, 12)
    np.testing.assert_array_equal(shown, output)
    assert sorted(np.unique(shown[1:11, 1:11])) == [1, 2, 4]
    cells = re.findall(r"<td [^>]*>(\d+)</td>", stamp_map)
    assert [int(c) for c in cells] == output.astype(int).ravel().tolist()
    assert stamp_map.count("opacity") == 12 * 12 - 11 * 11  # The border row and column are faded.
    np.testing.assert_array_equal(picture, np.round(output / 4 * 255).astype(np.uint8))


# ------------------------------------------------------------------------ the inputs


def test_a_drawing_becomes_a_digit_as_mnist_made_them():
    clean = playground_app.from_drawing(a_drawing())
    digit = clean.image
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    rows, cols = np.nonzero(digit > own_images.INK_THRESHOLD)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (20, 21)  # The 20-pixel box.
    centre = np.array([np.arange(28) @ digit.sum(axis=1), np.arange(28) @ digit.sum(axis=0)]) / digit.sum()
    np.testing.assert_allclose(centre, 13.5, atol=1.0)
    assert clean.source == "drawing" and not clean.invertible


@pytest.mark.parametrize("sketch", [None, {"composite": None},
                                    {"composite": np.zeros((280, 280), np.uint8)}])
def test_an_empty_canvas_gets_a_message(sketch):
    with pytest.raises(UserError, match="the canvas is empty: draw a digit"):
        playground_app.from_drawing(sketch)


def test_an_upload_that_is_not_an_image_gets_a_message_naming_the_file(tmp_path):
    for name in ("notes.txt", "fake.png"):
        (tmp_path / name).write_text("not a picture")
        with pytest.raises(UserError) as refused:
            playground_app.from_upload(tmp_path / name)
        assert str(refused.value).startswith(f"cannot read {name} as an image")
        assert str(tmp_path) not in str(refused.value)  # The server's temporary folder means nothing.
    with pytest.raises(UserError, match="no file: choose a PNG or JPEG picture"):
        playground_app.from_upload(None)


def test_a_huge_image_is_refused_before_its_pixels_are_read(tmp_path, monkeypatch):
    from PIL import Image

    path = write_png(tmp_path / "poster.png", np.zeros((1001, 1000), np.uint8))
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda image: decoded.append(image))
    refusal = "poster.png is 1000x1001 pixels: scale it down to at most 1 megapixel \\(the models"
    with pytest.raises(UserError, match=refusal):
        playground_app.from_upload(path)
    assert decoded == []


def test_colour_and_transparent_uploads_are_made_grey_and_say_so(tmp_path):
    colour = np.zeros((30, 40, 3), np.uint8)
    colour[..., 0] = 255  # Pure red: luminance 0.299.
    clean = playground_app.from_upload(write_png(tmp_path / "red.png", colour))
    assert clean.image.shape == (30, 40)
    np.testing.assert_allclose(clean.image, 76 / 255, atol=1 / 255)
    assert clean.description == "red.png, 40x30 pixels; colour turned grey by its luminance"

    rgba = np.zeros((30, 40, 4), np.uint8)  # Fully transparent black: a page shows white.
    clean = playground_app.from_upload(write_png(tmp_path / "clear.png", rgba))
    np.testing.assert_allclose(clean.image, 1.0)
    assert "transparent parts laid on white" in clean.description
    grey = playground_app.from_upload(write_png(tmp_path / "grey.png", np.full((5, 6), 128, np.uint8)))
    assert grey.description == "grey.png, 6x5 pixels" and grey.invertible


# ---------------------------------------------------------------------- the denoisers


def playground_for(outputs: Path) -> playground_app.Playground:
    return playground_app.build(outputs).playground


@pytest.mark.slow
def test_both_trained_denoisers_clean_a_drawing(trained_outputs):
    playground = playground_for(trained_outputs)
    clean = playground_app.from_drawing(a_drawing())
    result = playground_app.denoise(playground, clean, noise_factor=0.5, seed=0, invert=False)
    np.testing.assert_array_equal(result.noisy, own_images.add_noise(clean.image, 0.5, 0))
    assert result.noisy_psnr == pytest.approx(metrics.psnr(clean.image, result.noisy))
    assert [d.spec.key for d, *_ in result.outputs] == ["transpose", "upsampling"]
    for denoiser, output, psnr, problem in result.outputs:
        assert problem is None and output.shape == (28, 28)
        assert psnr > result.noisy_psnr + 3, denoiser.title()


@pytest.mark.slow
def test_an_upload_is_denoised_at_its_own_size_as_denoise_does_it(trained_outputs, tmp_path):
    playground = playground_for(trained_outputs)
    dark_on_light = 255 - np.kron(stroke_images(1, seed=5)[0], np.ones((2, 2), np.uint8))[:45, :50]
    clean = playground_app.from_upload(write_png(tmp_path / "mine.png", dark_on_light))
    result = playground_app.denoise(playground, clean, noise_factor=0.3, seed=2, invert=True)
    for denoiser, output, _, _ in result.outputs:
        model, _ = denoiser.model()
        expected = 1.0 - own_images.denoise_image(model, 1.0 - own_images.add_noise(clean.image, 0.3, 2))
        assert output.shape == (45, 50)
        np.testing.assert_allclose(output, expected, atol=1e-6)


@pytest.mark.slow
def test_the_labels_say_decoder_and_training_data(trained_outputs):
    titles = [d.title() for d in playground_for(trained_outputs).denoisers]
    assert titles == ["Conv2DTranspose decoder, trained on MNIST digits",
                      "UpSampling2D + Conv2D decoder, trained on notMNIST letters"]


@pytest.mark.slow
def test_a_missing_or_damaged_model_is_named_and_the_other_still_works(trained_outputs, tmp_path):
    outputs = tmp_path / "outputs"
    (outputs / "denoise_transpose_mnist").mkdir(parents=True)
    (outputs / "denoise_transpose_mnist" / "model.keras").write_bytes(b"half a zip file")
    upsampling = outputs / "denoise_upsampling_notmnist"
    upsampling.mkdir()
    source = trained_outputs / "denoise_upsampling_notmnist" / "model.keras"
    (upsampling / "model.keras").write_bytes(source.read_bytes())
    playground = playground_for(outputs)
    result = playground_app.denoise(playground, playground_app.from_drawing(a_drawing()), 0.5, 0, False)
    (_, broken, _, problem), (_, working, psnr, none) = result.outputs
    assert broken is None and problem.startswith(f"`{outputs}/denoise_transpose_mnist/model.keras` can't be "
                                                 "read (")
    assert problem.endswith(f"delete it and train again with `python denoise_transpose_mnist.py "
                            f"--output-dir {outputs}/denoise_transpose_mnist`")
    assert working.shape == (28, 28) and psnr > result.noisy_psnr and none is None

    (upsampling / "model.keras").unlink()  # Gone while the page runs: named, with its command.
    note = playground_app._models_note(playground)
    assert f"no trained model at `{upsampling}/model.keras`: train it with `python " \
           f"denoise_upsampling_notmnist.py --output-dir {upsampling}`" in note
    pictures = playground_app._pictures(playground_app.denoise(playground, result_clean(), 0.5, 0, False))
    assert [p["label"] for p in pictures[2:]] == [
        "Conv2DTranspose, MNIST: can't be used (below)",
        "UpSampling2D+Conv2D, notMNIST: not trained yet"]

    (upsampling / "model.keras").write_bytes(source.read_bytes())  # Trained again: picked up at once.
    assert playground.denoisers[1].model()[1] is None


def result_clean() -> playground_app.CleanImage:
    return playground_app.from_drawing(a_drawing())


def test_the_default_folders_give_the_plain_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    note = playground_app._models_note(playground_for(Path("outputs")))
    assert "train it with `python denoise_transpose_mnist.py`" in note
    assert "train it with `python denoise_upsampling_notmnist.py`" in note


@pytest.mark.slow
def test_bad_inputs_leave_outputs_untouched_and_the_page_answering(trained_outputs, tmp_path):
    before = tree_digest(trained_outputs)
    app = playground_app.build(trained_outputs)
    playground = app.playground
    (tmp_path / "notes.txt").write_text("hello")
    for read in (lambda: playground_app.from_upload(tmp_path / "notes.txt"),
                 lambda: playground_app.from_drawing({"composite": np.zeros((280, 280), np.uint8)}),
                 lambda: playground_app.from_upload(write_png(tmp_path / "big.png",
                                                               np.zeros((1200, 1200), np.uint8)))):
        with pytest.raises(UserError):
            read()
    with pytest.raises(UserError, match="noise must be from 0 to 1"):
        playground_app.denoise(playground, result_clean(), 1.5, 0, False)
    result = playground_app.denoise(playground, result_clean(), 0.5, 0, False)  # Still answering.
    assert all(output is not None for _, output, _, _ in result.outputs)
    assert tree_digest(trained_outputs) == before


def test_a_test_image_without_local_data_says_how_to_get_it(tmp_path):
    playground = playground_app.Playground([], str(tmp_path / "empty"))
    command = "run `python denoise_transpose_mnist.py` once .*or set \\$DENOISE_DATA_DIR"
    with pytest.raises(UserError, match=command):
        playground_app.from_test_set(playground, "mnist", seed=0)


def test_a_test_image_comes_from_the_held_out_test_set(tmp_path):
    from conftest import sparse_digits

    from denoise_kit import datasets

    data = sparse_digits(tmp_path, 50, seed=4)
    playground = playground_app.Playground([], str(data))
    clean = playground_app.from_test_set(playground, "mnist", seed=1)
    (_, _), (x_test, _) = datasets.load_dataset("mnist", data, verbose=False, download=False)
    assert any(np.array_equal(clean.image, image[..., 0]) for image in x_test)
    assert clean.description.startswith("MNIST digits test image #")


# ------------------------------------------------------------------- the served page


@pytest.mark.slow
def test_two_sessions_at_once_each_get_their_own_pictures(trained_outputs, tmp_path):
    """Two browser tabs are two sessions: each keeps its own picture, and
    updates sent at the same time all come back, each with its own noise."""
    from gradio_client import Client, handle_file
    from PIL import Image

    app = playground_app.build(trained_outputs)
    app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
               **playground_app.LAUNCH_OPTIONS)
    try:
        drawing = tmp_path / "drawing.png"
        Image.fromarray(a_drawing()["composite"]).save(drawing)
        sketch = {"background": handle_file(drawing), "layers": [], "composite": handle_file(drawing),
                  "id": None}
        mirrored = tmp_path / "mirrored.png"
        Image.fromarray(a_drawing()["composite"][:, ::-1]).save(mirrored)
        sketches = {1: sketch, 2: {**sketch, "composite": handle_file(mirrored)}}
        cleans = {1: playground_app.from_drawing(a_drawing()).image,
                  2: playground_app.from_drawing({"composite": a_drawing()["composite"][:, ::-1]}).image}
        assert not np.array_equal(cleans[1], cleans[2])
        answers: dict[int, list] = {}

        def session(seed: int) -> None:
            client = Client(app.local_url, verbose=False)
            client.predict(sketches[seed], False, 0.5, seed, api_name="/draw")
            answers[seed] = [client.predict(False, 0.5 + step / 10, seed, api_name="/settings")
                             for step in range(3)]

        threads = [threading.Thread(target=session, args=(seed,)) for seed in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for seed, replies in answers.items():
            for step, reply in enumerate(replies):
                message, _, noisy, *pictures, scores, _ = reply
                expected = own_images.add_noise(cleans[seed], 0.5 + step / 10, seed)  # Its own picture.
                shown = pixels_in(noisy["value"])
                np.testing.assert_array_equal(shown, np.round(expected * 255).astype(np.uint8))
                assert message.startswith("Denoising your drawing") and scores.count(" dB |") == 3
        assert sorted(answers) == [1, 2]
    finally:
        app.close()


def test_flags_are_checked_before_the_page_starts(tmp_path):
    code, stderr = refusal_in_process("playground.py", "--port", "70000")
    assert code == 2 and "--port must be a port number from 0 to 65535" in stderr
    (tmp_path / "a_file").write_text("")
    code, stderr = refusal_in_process("playground.py", "--models-dir", str(tmp_path / "a_file"))
    assert code == 2 and "is a file, not a folder" in stderr


@pytest.mark.slow
def test_a_model_that_is_not_a_denoiser_fails_alone(trained_outputs, tmp_path):
    """A model.keras that loads but can't take these pictures: that picture gets
    its message, the other denoiser still answers."""
    import keras

    outputs = tmp_path / "outputs"
    foreign = outputs / "denoise_transpose_mnist"
    foreign.mkdir(parents=True)
    classifier = keras.Sequential([keras.Input((28, 28, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    classifier.save(foreign / "model.keras")
    (outputs / "denoise_upsampling_notmnist").mkdir()
    source = trained_outputs / "denoise_upsampling_notmnist" / "model.keras"
    (outputs / "denoise_upsampling_notmnist" / "model.keras").write_bytes(source.read_bytes())
    result = playground_app.denoise(playground_for(outputs), result_clean(), 0.5, 0, False)
    (_, none, _, problem), (_, working, psnr, _) = result.outputs
    assert none is None and f"`{foreign}/model.keras` can't denoise this picture (" in problem
    assert working.shape == (28, 28) and psnr > result.noisy_psnr


def test_a_noise_factor_past_the_slider_and_a_busy_port_are_one_line(tmp_path):
    from denoise_kit.errors import ConfigError

    with pytest.raises(ConfigError, match="the noise slider goes from 0 to 1: --noise-factor can't be 2"):
        playground_app.build(tmp_path, noise_factor=2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = playground_app.build(tmp_path)
        refusal = f"can't serve the page on 127.0.0.1:{port} .*choose another port"
        with pytest.raises(ConfigError, match=refusal):
            playground_app.serve(app, "127.0.0.1", port)


# ------------------------------------------------------------ every trained run, side by side

TWEAKED = "denoise_transpose_mnist/kernel_size-4"


@pytest.fixture(scope="module")
def copying_model(tmp_path_factory) -> bytes:
    """A model.keras that gives its input back (a 1x1 convolution of weight 1): its output
    is the noisy picture, so its PSNR is the noisy one's. Saved in a second, not trained."""
    import keras

    layer = keras.layers.Conv2D(1, 1, kernel_initializer="ones", bias_initializer="zeros")
    path = tmp_path_factory.mktemp("copying") / "model.keras"
    keras.Sequential([keras.Input((None, None, 1)), layer]).save(path)
    return path.read_bytes()


def a_run(outputs: Path, name: str, model: bytes | None = b"not a model", script: str | None = None,
          finished_at: str = "2026-01-01T10:00", psnr: float = 20.0, **constants) -> Path:
    """outputs/<name>/ as a finished run leaves it: model.keras and the parts of metrics.json that
    the list and the Runs tab read. `name` is "<script>/<label>" unless `script` says; the
    constants are the ones that differ from the defaults."""
    folder_script, _, label = name.partition("/")
    script = script or folder_script
    folder = outputs / name
    folder.mkdir(parents=True, exist_ok=True)
    if model is not None:
        (folder / "model.keras").write_bytes(model)
    dataset = constants.get("DATASET", "mnist" if "transpose" in script else "notmnist")
    metrics_json = {"settings": {"DATASET": dataset, **constants,
                                 "run": {"script": script, "label": label or "defaults"}},
                    "finished_at": finished_at, "psnr_denoised": psnr, "ssim_denoised": 0.8,
                    "train_seconds": 60.0, "train_images_per_second": 900.0,
                    "test_set": {"dataset": dataset, "noise_factor": 0.5, "noise_seed": 43, "images": 2000,
                                 "fingerprint": f"{dataset}0123456789"}}
    (folder / "metrics.json").write_text(json.dumps(metrics_json))
    return folder


def test_the_list_has_the_default_runs_first_then_each_script_s_other_runs(tmp_path):
    outputs = tmp_path / "outputs"
    a_run(outputs, "denoise_upsampling_notmnist/interpolation-bilinear", finished_at="2026-01-01T09:00",
          INTERPOLATION="bilinear")
    a_run(outputs, "denoise_transpose_mnist/epochs-2", finished_at="2026-01-02T10:00", EPOCHS=2)
    a_run(outputs, TWEAKED, finished_at="2026-01-01T10:00", KERNEL_SIZE=4)
    a_run(outputs, "mine", script="denoise_transpose_mnist", finished_at="2026-01-03T10:00",  # --output-dir
          DATASET="fashion_mnist")
    a_run(outputs, "comparison", script="compare_decoders")
    choices, skipped = playground_app.model_choices(playground_for(outputs))
    assert choices == [("Conv2DTranspose, MNIST", "denoise_transpose_mnist"),
                       ("UpSampling2D+Conv2D, notMNIST", "denoise_upsampling_notmnist"),
                       ("Conv2DTranspose, MNIST: kernel_size-4", TWEAKED),
                       ("Conv2DTranspose, MNIST: epochs-2", "denoise_transpose_mnist/epochs-2"),
                       ("Conv2DTranspose, Fashion-MNIST: mine", "mine"),
                       ("UpSampling2D+Conv2D, notMNIST: interpolation-bilinear",
                        "denoise_upsampling_notmnist/interpolation-bilinear")]
    assert skipped == ["comparison: made by compare_decoders, not by one of the two denoisers"]


def test_a_damaged_or_unfinished_run_is_left_out_with_a_line(tmp_path):
    outputs = tmp_path / "outputs"
    a_run(outputs, TWEAKED, KERNEL_SIZE=4)
    (a_run(outputs, "denoise_transpose_mnist/epochs-2", EPOCHS=2) / "metrics.json").write_text("{half")
    (outputs / "denoise_transpose_mnist" / "going").mkdir()
    (outputs / "denoise_transpose_mnist" / "going" / "model.keras").write_bytes(b"")  # Still training.
    a_run(outputs, "denoise_transpose_mnist/epochs-3", model=None, EPOCHS=3)  # Scores, but no model.
    choices, skipped = playground_app.model_choices(playground_for(outputs))
    assert [name for _, name in choices][2:] == [TWEAKED]
    assert skipped == [
        "denoise_transpose_mnist/epochs-2: metrics.json can't be read (JSONDecodeError)",
        "denoise_transpose_mnist/going: no metrics.json (a run still going, or not a denoiser's)"]
    assert "Left out: denoise_transpose_mnist/epochs-2: metrics.json can't be read" in \
        playground_app._choice_info(skipped)


def test_a_run_that_finishes_later_joins_the_list_of_the_page_already_built(tmp_path):
    outputs = tmp_path / "outputs"
    playground = playground_for(outputs)
    assert len(playground_app.model_choices(playground)[0]) == 2
    a_run(outputs, TWEAKED, KERNEL_SIZE=4)
    choices, _ = playground_app.model_choices(playground)
    assert choices[-1] == ("Conv2DTranspose, MNIST: kernel_size-4", TWEAKED)
    first = playground.chosen([TWEAKED])
    playground_app.model_choices(playground)  # Listed again: the same model, not loaded twice.
    assert playground.chosen([TWEAKED])[0] is first[0]
    # A name the list has not shown yet is looked for at once; one whose folder went is not shown.
    a_run(outputs, "denoise_transpose_mnist/epochs-2", EPOCHS=2)
    assert [m.name for m in playground.chosen(["denoise_transpose_mnist/epochs-2", "gone"])] == [
        "denoise_transpose_mnist/epochs-2"]


def test_a_chosen_run_is_denoised_beside_the_defaults_in_the_next_place(tmp_path, copying_model):
    outputs = tmp_path / "outputs"  # No default run trained: their places say so, as before.
    a_run(outputs, TWEAKED, model=copying_model, KERNEL_SIZE=4)
    playground = playground_for(outputs)
    models = playground.chosen(["denoise_transpose_mnist", "denoise_upsampling_notmnist", TWEAKED])
    result = playground_app.denoise(playground, result_clean(), 0.5, 0, False, models)
    _, _, *pictures = playground_app._pictures(result)
    places = playground_app._places(playground, dict(zip(models, pictures, strict=True)))
    assert [(p.get("label"), p["visible"]) for p in places] == [
        ("Conv2DTranspose, MNIST: not trained yet", True),
        ("UpSampling2D+Conv2D, notMNIST: not trained yet", True),
        (f"Conv2DTranspose, MNIST: kernel_size-4: {result.noisy_psnr:.1f} dB", True),
        (None, False), (None, False), (None, False)]
    np.testing.assert_array_equal(pixels_in(places[2]["value"]), playground_app._pixels(result.noisy))
    row = f"| Conv2DTranspose decoder, trained on MNIST digits (kernel_size-4) | {result.noisy_psnr:.2f} dB |"
    assert row in playground_app._scores(result)
    # Unticked, the default runs give up their places; the run keeps the first free one.
    places = playground_app._places(playground, {models[2]: {"label": "its picture"}})
    assert [p["visible"] for p in places[:2]] == [False, False] and places[2] == {"label": "its picture"}


def test_a_damaged_run_says_the_command_that_trains_it_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a_run(Path("outputs"), TWEAKED, FILTERS=[16, 32], KERNEL_SIZE=4)  # In the page's order.
    playground = playground_for(Path("outputs"))
    note = playground_app._models_note(playground, playground.chosen([TWEAKED]))
    assert note.startswith("**Missing models**")
    assert f"- Conv2DTranspose, MNIST: kernel_size-4: `outputs/{TWEAKED}/model.keras` can't be read (" in note
    assert note.endswith("again with `python denoise_transpose_mnist.py --filters 16,32 --kernel-size 4`")


def test_the_runs_tab_shows_every_finished_run_and_its_plot(tmp_path):
    outputs = tmp_path / "outputs"
    table, plot = playground_app.runs_page(outputs)
    assert table.startswith(f"No finished run under `{outputs}` yet: train one") and not plot["visible"]
    a_run(outputs, "denoise_transpose_mnist", psnr=20.0, finished_at="2026-01-01T09:00")
    a_run(outputs, TWEAKED, psnr=21.5, finished_at="2026-01-01T10:00", KERNEL_SIZE=4)
    a_run(outputs, "denoise_upsampling_notmnist", psnr=19.0, finished_at="2026-01-01T11:00")
    (a_run(outputs, "denoise_transpose_mnist/epochs-2") / "metrics.json").write_text("{half")
    table, plot = playground_app.runs_page(outputs)
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| 2026")]
    assert [row[:4] for row in rows] == [
        ["| 2026-01-01 09:00", "Conv2DTranspose, MNIST", "defaults", "20.00"],
        ["| 2026-01-01 10:00", "Conv2DTranspose, MNIST", "kernel_size-4", "**21.50**"],  # Best on its images.
        ["| 2026-01-01 11:00", "UpSampling2D+Conv2D, notMNIST", "defaults", "19.00"]]  # Alone on its own.
    assert [row[-1] for row in rows] == ["2,000 MNIST, noise 0.5 (mnist0) |"] * 2 + [
        "2,000 notMNIST, noise 0.5 (notmni) |"]
    assert table.endswith(f"Left out:\n- skipped {outputs}/denoise_transpose_mnist/epochs-2: metrics.json "
                          "can't be read (JSONDecodeError)")
    # runs.png's picture, drawn from the runs found now: as wide as runs.py draws it, in colour.
    assert plot["visible"] and plot["value"].shape[2] == 3 and plot["value"].shape[1] > 500
    assert not (outputs / "runs.png").exists()  # The page writes nothing under outputs/.


def test_the_page_lists_a_new_run_shows_it_when_ticked_and_undoes_a_fifth_tick(tmp_path, copying_model):
    """Through the served page: a run that finishes while the page is open joins the list at
    its next look (the page looks every few seconds), a tick shows its picture in the first
    free place, and a fifth tick is undone with a message."""
    from gradio_client import Client, handle_file

    outputs = tmp_path / "outputs"
    app = playground_app.build(outputs)
    app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
               **playground_app.LAUNCH_OPTIONS)
    try:
        client = Client(app.local_url, verbose=False)
        assert client.predict(api_name="/list_models") == {"__type__": "update"}  # Nothing new yet.
        tweaks = [f"denoise_transpose_mnist/{label}" for label in ("kernel_size-4", "epochs-2", "epochs-3")]
        for minute, name in enumerate(tweaks):
            a_run(outputs, name, model=copying_model, finished_at=f"2026-01-01T10:0{minute}")
        listed = client.predict(api_name="/list_models")
        defaults = ["denoise_transpose_mnist", "denoise_upsampling_notmnist"]
        assert [name for _, name in listed["choices"]] == [*defaults, *tweaks]
        assert listed["value"] == defaults  # The ticks stay.

        drawing = write_png(tmp_path / "drawing.png", a_drawing()["composite"])
        sketch = {"background": handle_file(drawing), "layers": [], "composite": handle_file(drawing),
                  "id": None}
        client.predict(sketch, False, 0.5, 0, api_name="/draw")
        box, message, _, noisy, *places, scores, _ = client.predict(False, 0.5, 0, [*defaults, tweaks[1]],
                                                                    api_name="/models")
        assert box == {"__type__": "update"} and message.startswith("Denoising your drawing")
        assert places[2]["label"] == f"Conv2DTranspose, MNIST: epochs-2: {noisy['label'].split(': ')[1]}"
        np.testing.assert_array_equal(pixels_in(places[2]["value"]), pixels_in(noisy["value"]))  # A copy.
        assert not any(place.get("visible", True) for place in places[3:])
        noisy_score = re.search(r"\| noisy input \| (\S+ dB) \|", scores).group(1)
        assert scores.endswith(f"trained on MNIST digits (epochs-2) | {noisy_score} |")

        box, message, *_ = client.predict(False, 0.5, 0, [*defaults, *tweaks], api_name="/models")
        assert box == [*defaults, tweaks[1]] and message == "**At most 4 models at once: untick one first.**"
    finally:
        app.close()

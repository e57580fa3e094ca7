"""The two denoising scripts, run as a learner runs them: noise, models, and
whole runs on fixture data. No test imports a script (that would run it):
each runs as a program, or in this process with runpy, which gives back the
script's variables."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import (
    learner_env,
    refusal_in_process,
    run_in_process,
    run_program,
    script_command,
    sparse_digits,
)

from denoise_kit import datasets, metrics, results

SCRIPTS = {"mnist": "denoise_transpose_mnist.py", "notmnist": "denoise_upsampling_notmnist.py"}


# --------------------------------------------------------------- the scripts' cells


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    """2,500 small random 'images' (mostly black, like digits) for both datasets."""
    return sparse_digits(tmp_path_factory.mktemp("data"), 2500, seed=11, names=("mnist", "notmnist"))


@pytest.fixture(scope="module")
def scripts(fixture_data, tmp_path_factory):
    """Each script's variables after a tiny run in this process: its functions,
    layers and constants, as a learner's notebook holds them."""
    quick = ("--limit", "64", "--epochs", "1", "--images-per-epoch", "16", "--batch-size", "16",
             "--precision", "float32")
    return {dataset: run_in_process(SCRIPTS[dataset], "--data-dir", str(fixture_data),
                                    "--output-dir", str(tmp_path_factory.mktemp(dataset)), *quick)
            for dataset in SCRIPTS}


@pytest.fixture(scope="module")
def transpose_script(scripts):
    return scripts["mnist"]


@pytest.fixture(scope="module")
def upsampling_script(scripts):
    return scripts["notmnist"]


# ----------------------------------------------------------------------------- noise


def test_noise_is_clipped_to_valid_pixels(transpose_script):
    images = np.full((200, 28, 28, 1), 0.5, dtype="float32")
    noisy = keras.ops.convert_to_numpy(transpose_script["add_noise"](images, 0.5, seed=0))
    assert noisy.min() == 0.0 and noisy.max() == 1.0
    # 0.5 + 0.5 * z leaves [0, 1] when |z| > 1: about 15.9% of pixels at each end.
    assert np.mean(noisy == 0.0) == pytest.approx(0.159, abs=0.01)
    assert np.mean(noisy == 1.0) == pytest.approx(0.159, abs=0.01)
    assert noisy.mean() == pytest.approx(0.5, abs=0.01)


def test_noise_factor_sets_the_spread(transpose_script):
    add_noise = transpose_script["add_noise"]
    images = np.full((100, 28, 28, 1), 0.5, dtype="float32")
    small = keras.ops.convert_to_numpy(add_noise(images, 0.1, seed=0))
    assert small.std() == pytest.approx(0.1, rel=0.05)  # Hardly ever clipped at 0.1.
    np.testing.assert_array_equal(add_noise(images, 0.0, seed=0), images)


def test_test_noise_is_reproducible_from_the_seed(transpose_script):
    add_noise = transpose_script["add_noise"]
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    first = keras.ops.convert_to_numpy(add_noise(images, 0.5, seed=7))
    again = keras.ops.convert_to_numpy(add_noise(images, 0.5, seed=7))
    other = keras.ops.convert_to_numpy(add_noise(images, 0.5, seed=8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("dataset", ["mnist", "notmnist"])
def test_fresh_noise_every_training_batch_and_none_at_inference(dataset, scripts):
    layer = scripts[dataset]["FreshNoise"](0.5, seed=1)
    images = np.full((2, 28, 28, 1), 0.5, dtype="float32")
    first = keras.ops.convert_to_numpy(layer(images, training=True))
    second = keras.ops.convert_to_numpy(layer(images, training=True))
    assert not np.allclose(first, second)
    assert 0.0 <= first.min() and first.max() <= 1.0
    np.testing.assert_array_equal(layer(images, training=False), images)


# ----------------------------------------------------------------------------- models


@pytest.mark.parametrize(
    ("dataset", "options"),
    [
        ("mnist", {}),
        ("notmnist", {}),
        ("notmnist", {"interpolation": "bilinear"}),
        ("mnist", {"filters": (8, 16, 16), "kernel_size": 4}),
    ],
    ids=["transpose", "upsampling-nearest", "upsampling-bilinear", "transpose-3-levels-k4"],
)
def test_output_shape_equals_input_shape(dataset, options, scripts, monkeypatch):
    if dataset == "notmnist" and "filters" in options:
        options = {**options, "decoder_filters": (16, 8, 4)}
    build = scripts[dataset]["build_autoencoder"]
    for name, value in options.items():  # As a learner edits the knobs and reruns the cells.
        monkeypatch.setitem(build.__globals__, name.upper(), value)
    model = build()
    images = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    output = keras.ops.convert_to_numpy(model(images))
    assert output.shape == images.shape
    assert 0.0 <= output.min() and output.max() <= 1.0


@pytest.mark.parametrize("dataset", ["mnist", "notmnist"])
@pytest.mark.parametrize(("height", "width"), [(28, 28), (36, 44), (4, 8), (56, 28)])
def test_the_model_takes_any_multiple_of_four(dataset, height, width, scripts):
    model = scripts[dataset]["build_autoencoder"]()
    images = np.random.default_rng(0).random((2, height, width, 1)).astype("float32")
    assert model.predict(images, verbose=0).shape == images.shape


def test_the_decoders_are_what_the_scripts_say(scripts):
    names = lambda m: {type(layer).__name__ for layer in m.layers}  # noqa: E731
    transpose = scripts["mnist"]["build_autoencoder"]()
    upsampling = scripts["notmnist"]["build_autoencoder"]()
    assert "Conv2DTranspose" in names(transpose) and "UpSampling2D" not in names(transpose)
    assert "UpSampling2D" in names(upsampling) and "Conv2DTranspose" not in names(upsampling)


# -------------------------------------------------------------------- whole scripts


def flags_of(data_dir, output_dir, *flags):
    """A denoiser's flags for these folders, on small epochs (256 images) unless the flags say otherwise."""
    if "--images-per-epoch" not in flags:
        flags = (*flags, "--images-per-epoch", "256")
    return ("--data-dir", str(data_dir), "--output-dir", str(output_dir), *flags)


def run_script(dataset, data_dir, output_dir, *flags, check=True):
    """Run a denoiser as a program, on small epochs."""
    return run_program(SCRIPTS[dataset], *flags_of(data_dir, output_dir, *flags), check=check, timeout=300)


def refusal(dataset, data_dir, output_dir, *flags):
    """How a denoiser refuses these flags: exit code and stderr (a run in this process)."""
    return refusal_in_process(SCRIPTS[dataset], *flags_of(data_dir, output_dir, *flags))


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["mnist", "notmnist"])
def test_script_runs_end_to_end_and_writes_its_outputs(dataset, fixture_data, tmp_path, scripts):
    out = tmp_path / "out"
    started = time.monotonic()
    result = run_script(dataset, fixture_data, out, "--limit", "256", "--epochs", "2",
                        "--batch-size", "32")
    wall = time.monotonic() - started
    assert {p.name for p in out.iterdir()} >= {
        "reconstructions.png", "progress.png", "history.png", "metrics.json", "model.keras",
        "training_log.csv"}
    assert not list(out.glob("*.partial*"))
    assert not (out / "backup").exists()  # Removed once training finished.

    results = json.loads((out / "metrics.json").read_text())
    assert set(results) == {
        "psnr_noisy", "psnr_denoised", "ssim_noisy", "ssim_denoised", "params", "epochs_run",
        "train_seconds", "train_images_per_second", "backend", "device", "noise_factor", "seed",
        "train_images", "validation_images", "test_images", "test_set", "finished_at", "settings",
        "phase_seconds"}
    # Where the time went: every phase, adding up to the run's time, which the last line gives.
    phases = results["phase_seconds"]
    assert list(phases) == ["start-up", "data", "model", "tracing", "training", "scoring", "files",
                            "own image", "total"]
    assert sum(phases.values()) - phases["total"] == pytest.approx(phases["total"], abs=0.05)
    assert phases["total"] <= wall and phases["training"] > 0
    assert result.stdout.strip().splitlines()[-1].startswith(f"wall time {phases['total']:.1f} s: ")
    assert 5 < results["psnr_noisy"] < 20 and 5 < results["psnr_denoised"] < 40
    assert -1 <= results["ssim_denoised"] <= 1
    assert results["epochs_run"] == 2 and results["train_images"] == 230
    assert results["validation_images"] == 26
    assert results["test_images"] == 500 and results["train_seconds"] > 0
    assert results["backend"] == "tensorflow" and results["seed"] == 42
    assert "Training on tensorflow" in result.stdout
    # The summary shows the shapes the lesson is about: 28 -> 14 -> 7 -> 14 -> 28.
    for shape in ("(None, 28, 28, 32)", "(None, 14, 14, 64)", "(None, 7, 7, 64)", "(None, 28, 28, 1)"):
        assert shape in result.stdout
    # Validation PSNR is a compiled metric: in the progress bar and in the CSV log.
    assert "val_psnr" in result.stdout
    log_header = (out / "training_log.csv").read_text().splitlines()[0].split(",")
    assert {"psnr", "val_psnr", "loss", "val_loss"} <= set(log_header)
    # metrics.json records every constant as it ran: the script's, and those the flags set.
    settings, script = results["settings"], scripts[dataset]
    assert settings["FILTERS"] == list(script["FILTERS"]) and settings["KERNEL_SIZE"] == script["KERNEL_SIZE"]
    assert settings["LEARNING_RATE"] == script["LEARNING_RATE"] and settings["PRECISION"] == "auto"
    assert settings["IMAGES_PER_EPOCH"] == 256 and settings["EPOCHS"] == 2 and settings["BATCH_SIZE"] == 32
    # An epoch is IMAGES_PER_EPOCH // BATCH_SIZE = 8 steps, run as one call of 8 (a divisor of 8, at most 16).
    assert settings["trained_images_per_epoch"] == 256 and settings["steps_per_execution"] == 8
    assert results["train_images_per_second"] == pytest.approx(2 * 256 / results["train_seconds"], rel=0.01)
    assert settings["DATASET"] == dataset and settings["LIMIT"] == 256
    assert settings["TEST_NOISE_SEED"] == script["TEST_NOISE_SEED"]
    assert "PSNR (dB)" in result.stdout and "metrics.json" in result.stdout
    assert "Traceback" not in result.stderr and "cuInit" not in result.stderr, result.stderr

    # The saved model alone reproduces the reported PSNR on the same noisy test set.
    (_, _), (x_test, _) = datasets.load_dataset(dataset, fixture_data, verbose=False)
    x_noisy = keras.ops.convert_to_numpy(script["add_noise"](x_test, 0.5, seed=script["TEST_NOISE_SEED"]))
    model = keras.models.load_model(out / "model.keras")
    denoised = model.predict(x_noisy, verbose=0)
    assert np.mean(metrics.psnr_per_image(x_test, denoised)) == pytest.approx(
        results["psnr_denoised"], abs=0.01)


@pytest.mark.slow
def test_same_seed_same_numbers(fixture_data, tmp_path):
    flags = ("--limit", "128", "--epochs", "1", "--batch-size", "32", "--seed", "3")
    run_script("mnist", fixture_data, tmp_path / "a", *flags)
    run_script("mnist", fixture_data, tmp_path / "b", *flags)
    first, second = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in "ab")
    assert first["psnr_denoised"] == second["psnr_denoised"]
    assert first["ssim_denoised"] == second["ssim_denoised"]


@pytest.mark.slow
def test_killed_run_resumes_exactly_where_it_stopped(fixture_data, tmp_path):
    """SIGKILL after the first epoch, run again: the same numbers as a run never stopped."""
    flags = ("--limit", "2000", "--epochs", "3", "--batch-size", "16", "--images-per-epoch", "1024")
    out = tmp_path / "out"
    env = learner_env()
    command = script_command(SCRIPTS["mnist"], "--data-dir", str(fixture_data), "--output-dir", str(out),
                             *flags, *tensorboard_flag())
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    log = out / "training_log.csv"
    deadline = time.monotonic() + 240
    try:
        while not (out / "backup" / "training_metadata.json").exists():  # Epoch 1 logged, then backed up.
            assert process.poll() is None, "the run ended before its first epoch"
            assert time.monotonic() < deadline, "no epoch finished in time"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert len(log.read_text().splitlines()) == 2  # Header and epoch 1, nothing more.
    assert not (out / "model.keras").exists()

    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 epoch(s) already finished" in resumed.stdout
    assert "Epoch 2/3" in resumed.stdout and "Epoch 1/3" not in resumed.stdout
    epochs = [line.split(",")[0] for line in log.read_text().splitlines()[1:]]
    assert epochs == ["0", "1", "2"]

    run_script("mnist", fixture_data, tmp_path / "never_stopped", *flags)
    interrupted, uninterrupted = (json.loads((d / "metrics.json").read_text())
                                  for d in (out, tmp_path / "never_stopped"))
    for key in ("psnr_denoised", "ssim_denoised", "psnr_noisy", "epochs_run"):
        assert interrupted[key] == uninterrupted[key], key
    losses = [[row.split(",")[2:] for row in (d / "training_log.csv").read_text().splitlines()[1:]]
              for d in (out, tmp_path / "never_stopped")]
    assert losses[0] == losses[1]  # Loss, PSNR, validation loss and PSNR of every epoch.
    if tensorboard_flag():  # The resumed run went on in the killed run's TensorBoard folder.
        from test_tensorboard import events

        (run_dir,) = (out / "tensorboard").iterdir()
        scalars, _, steps = events(run_dir / "train")
        # No step twice; the killed run's last values may be lost if its writer hadn't flushed.
        assert steps["epoch_loss"] == sorted(set(steps["epoch_loss"])) and {1, 2} <= set(steps["epoch_loss"])
        log = results.read_log(log)
        for step, loss in scalars["epoch_loss"].items():
            assert loss == pytest.approx(log["loss"][step], rel=1e-6)


def tensorboard_flag() -> tuple[str, ...]:
    """--tensorboard where TensorFlow and TensorBoard are installed."""
    import importlib.util

    installed = all(importlib.util.find_spec(name) for name in ("tensorflow", "tensorboard"))
    return ("--tensorboard",) if installed else ()


def test_resume_with_other_settings_is_refused(fixture_data, tmp_path):
    from denoise_kit import folders, resume

    out = tmp_path / "out"
    resume.KillProofBackupAndRestore(out, {"EPOCHS": 3})
    folders.release(out)  # This test process is not the run: the script must get the folder.
    (out / "backup" / "epoch-1.weights.h5").write_bytes(b"weights")
    (out / "backup" / "epoch-1.random-state.npz").write_bytes(b"state")
    (out / "backup" / "training_metadata.json").write_text(
        '{"epoch": 1, "weights": "epoch-1.weights.h5", "random_state": "epoch-1.random-state.npz"}')
    code, stderr = refusal("mnist", fixture_data, out, "--epochs", "2", "--limit", "256")
    assert code == 2
    assert "unfinished run with other settings" in stderr
    assert (out / "backup" / "training_metadata.json").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--noise-factor", "-0.5"), "--noise-factor must be a number, 0 or more, got -0.5"),
        (("--noise-factor", "nan"), "--noise-factor must be a number, 0 or more, got nan"),
        (("--epochs", "0"), "--epochs must be at least 1, got 0"),
        (("--learning-rate", "0"), "--learning-rate must be a number above 0, got 0.0"),
        (("--learning-rate", "inf"), "--learning-rate must be a number above 0, got inf"),
        (("--kernel-size", "0"), "--kernel-size must be at least 1, got 0"),
        (("--seed", "-1"), "--seed must be a whole number from 0 to 4294967295, got -1"),
        (("--images-per-epoch", "4"), "--images-per-epoch must be at least the batch size (8), got 4"),
        (("--images-per-epoch", "-1"), "--images-per-epoch must be at least the batch size (8), got -1"),
        (("--batch-size", "500", "--limit", "100", "--images-per-epoch", "500"),
         "batch size 500 is larger than the 90 training images"),
    ],
)
def test_bad_settings_give_one_line(flags, message, fixture_data, tmp_path):
    code, stderr = refusal("mnist", fixture_data, tmp_path / "out", *flags)
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {message}"] or message in lines[0]


def test_decoder_filters_need_one_value_per_level(fixture_data, tmp_path):
    code, stderr = refusal("notmnist", fixture_data, tmp_path / "out", "--filters", "8,16",
                           "--decoder-filters", "8")
    assert code == 2
    assert stderr == "error: --decoder-filters needs one value per encoder level (2), got 8\n"


@pytest.mark.slow
def test_missing_data_gives_one_line_in_the_terminal(tmp_path):
    """The whole path as a learner meets it: a new process, TensorFlow started, one line."""
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03junk")
    result = run_script("mnist", tmp_path / "data", tmp_path / "out", check=False)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and str(tmp_path / "data") in line


@pytest.mark.parametrize(("flags", "message"), [
    (("--filters", "32,x"), "expected whole numbers separated by commas"),
    (("--filters", "0,8"), "every value must be at least 1"),
    (("--precision", "half"), "invalid choice: 'half'"),
    (("--epochs", "nan"), "argument --epochs: invalid int value: 'nan'"),
    (("--no-such-flag",), "unrecognized arguments: --no-such-flag"),
])
def test_bad_flag_values_are_refused_by_the_parser(flags, message, tmp_path):
    """One line, not argparse's usage block, and exit code 2, before anything is made."""
    code, stderr = refusal_in_process(SCRIPTS["mnist"], "--output-dir", str(tmp_path / "out"), *flags)
    assert code == 2
    [line] = stderr.splitlines()
    assert line.startswith("error: ") and message in line
    assert line.endswith("(see python denoise_transpose_mnist.py --help)")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_bad_flag_is_one_line_in_the_terminal(tmp_path):
    result = run_program(SCRIPTS["mnist"], "--output-dir", str(tmp_path / "out"), "--epochs", "nan",
                         check=False)
    assert result.returncode == 2
    assert result.stderr == ("error: argument --epochs: invalid int value: 'nan' "
                             "(see python denoise_transpose_mnist.py --help)\n")
    assert not (tmp_path / "out").exists()


def test_output_dir_that_is_a_file_gives_one_line(fixture_data, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    code, stderr = refusal("mnist", fixture_data, taken, "--limit", "64")
    assert code == 2 and "is a file, not a folder" in stderr
    assert taken.read_text() == "mine"


def unwritable_folder(tmp_path):
    """A folder nobody may write to: permissions, or /proc for root, whom they don't stop."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        return locked / "out"
    return Path("/proc/denoise-kit-test/out")


@pytest.mark.parametrize("where", ["under a file", "unwritable"])
def test_output_dir_that_cannot_be_written_gives_one_line(where, fixture_data, tmp_path):
    (tmp_path / "a-file").write_text("mine")
    out = tmp_path / "a-file" / "out" if where == "under a file" else unwritable_folder(tmp_path)
    code, stderr = refusal("mnist", fixture_data, out, "--limit", "64")
    assert code == 2, stderr[-2000:]
    assert f"error: --output-dir {out} can't be written to (" in stderr
    assert "choose a folder you can write to" in stderr
    assert (tmp_path / "a-file").read_text() == "mine"


@pytest.mark.parametrize("dataset", ["mnist", "notmnist"])
def test_every_constant_is_a_flag_whose_default_is_the_constant(dataset, scripts):
    """--help lists a flag for every UPPERCASE constant, with the constant as its default."""
    script = scripts[dataset]
    text = help_of(SCRIPTS[dataset])
    flat = " ".join(text.split())
    constants = [name for name in script["CONFIG"] if name.isupper()]
    assert {"DATASET", "NOISE_FACTOR", "EPOCHS", "IMAGES_PER_EPOCH", "BATCH_SIZE", "FILTERS", "KERNEL_SIZE",
            "LEARNING_RATE", "SEED", "PRECISION", "LIMIT", "DATA_DIR", "OUTPUT_DIR", "DENOISE",
            "ADD_NOISE", "INVERT"} <= set(constants)
    for name in constants:
        flag = "--" + name.lower().replace("_", "-")
        assert flag in text, flag
    assert "(default: 0.002)" in flat and "(default: (32, 64))" in flat
    assert "Adam's starting learning rate, decayed to 0 along a cosine. (default: 0.002)" in flat


def help_of(script):
    """What `python script --help` prints (run in this process), and that it exits with 0."""
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), pytest.raises(SystemExit) as end:
        run_in_process(script, "--help")
    assert end.value.code == 0
    return stdout.getvalue()


def test_help_starts_with_the_title():
    text = help_of(SCRIPTS["mnist"])
    description = text.split("\n\n")[1]
    assert description.startswith("Denoising MNIST digits with a Conv2DTranspose autoencoder")
    assert "Title:" not in text


@pytest.mark.slow
def test_flags_change_the_model_that_is_trained(fixture_data, tmp_path):
    out = tmp_path / "out"
    run_script("notmnist", fixture_data, out, "--limit", "128", "--epochs", "1", "--filters", "8,16",
               "--kernel-size", "5", "--interpolation", "bilinear", "--precision", "float32",
               "--decoder-filters", "12,6")
    model = keras.models.load_model(out / "model.keras")
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [8, 16, 16, 12, 6, 1]
    assert all(c.kernel_size == (5, 5) for c in convs[:-1])
    assert convs[-1].kernel_size == (1, 1)  # One grey value per pixel from the last feature maps.
    assert {layer.interpolation for layer in model.layers if hasattr(layer, "interpolation")} == {"bilinear"}
    results = json.loads((out / "metrics.json").read_text())
    assert "float32" in results["device"] and results["settings"]["INTERPOLATION"] == "bilinear"


@pytest.mark.slow
def test_denoise_own_images_through_the_script(fixture_data, tmp_path):
    from PIL import Image

    out = tmp_path / "out"
    drawing = np.zeros((45, 61, 3), dtype=np.uint8)  # A colour image, not 28x28.
    drawing[10:35, 28:34] = (255, 200, 90)
    Image.fromarray(drawing).save(tmp_path / "stroke.png")
    code, stderr = refusal("mnist", fixture_data, out, "--denoise", str(tmp_path / "stroke.png"))
    assert code == 2
    assert "train one first with `python denoise_transpose_mnist.py" in stderr
    assert f"--output-dir {out}" in stderr and not out.exists()

    run_in_process(SCRIPTS["mnist"], *flags_of(fixture_data, out, "--limit", "128", "--epochs", "1"))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    run_script("mnist", fixture_data, out, "--denoise", str(tmp_path / "stroke.png"), "--add-noise",
               "--noise-factor", "0.3")
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert set(after) - set(before) == {"stroke.denoised.png", "stroke.comparison.png"}
    assert all(after[name] == data for name, data in before.items())  # Nothing trained or replaced.
    with Image.open(out / "stroke.denoised.png") as denoised:
        assert denoised.size == (61, 45) and denoised.mode == "L"


@pytest.mark.parametrize(("flags", "trained_images", "steps_per_execution"), [
    (("--images-per-epoch", "200", "--batch-size", "8"), 200, 5),  # 25 steps: calls of 5.
    (("--images-per-epoch", "100", "--batch-size", "8"), 96, 12),  # 12 steps: one call of 12.
    (("--images-per-epoch", "512", "--batch-size", "16"), 512, 16),  # 32 steps: calls of 16.
])
@pytest.mark.slow
def test_an_epoch_is_images_per_epoch_whatever_the_dataset(flags, trained_images, steps_per_execution,
                                                           fixture_data, tmp_path):
    """Keras' steps_per_epoch is IMAGES_PER_EPOCH // BATCH_SIZE, at any dataset size; the steps per
    execution divide it, since Keras runs each call into the graph whole."""
    out = tmp_path / "out"
    run_in_process(SCRIPTS["mnist"], "--data-dir", str(fixture_data), "--output-dir", str(out),
                   "--epochs", "1", "--limit", "300", *flags)
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert settings["trained_images_per_epoch"] == trained_images
    assert settings["steps_per_execution"] == steps_per_execution
    log = results.read_log(out / "training_log.csv")
    assert len(log["loss"]) == 1


@pytest.mark.slow
def test_a_run_with_a_single_training_image_draws_its_pictures(fixture_data, tmp_path):
    """The smallest run the flags allow (one training image, one validation image): the pictures
    get one column of axes, not a crash."""
    out = tmp_path / "out"
    run_script("mnist", fixture_data, out, "--limit", "2", "--batch-size", "1", "--epochs", "1",
               "--images-per-epoch", "4", "--precision", "float32")
    assert json.loads((out / "metrics.json").read_text())["train_images"] == 1
    for picture in ("noisy_inputs.png", "reconstructions.png"):
        assert (out / picture).stat().st_size > 0

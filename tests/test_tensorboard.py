"""--tensorboard: the event files a run writes, read back with TensorBoard's own
reader and checked against training_log.csv; the validation images' picture
every epoch; one folder per run (per training in compare_decoders.py); and
one line where TensorFlow is missing."""

import importlib.util
import json
import re

import keras
import numpy as np
import pytest
from conftest import refusal_in_process, run_in_process, sparse_digits

from denoise_kit import progress, results

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None
                                or importlib.util.find_spec("tensorflow") is None,
                                reason="--tensorboard needs TensorFlow and TensorBoard (test_backends "
                                       "checks the one-line refusal where they are missing)")

EPOCHS = 3


def events(run_dir):
    """{tag: {step: value}} of one run folder's scalars, {tag: {step: (width, height)}} of its images
    as TensorBoard itself reads them (duplicated steps would show as repeated steps)."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator

    reader = EventAccumulator(str(run_dir), size_guidance={TENSORS: 0})
    reader.Reload()
    scalars, images, steps = {}, {}, {}
    for tag in reader.Tags()["tensors"]:
        for event in reader.Tensors(tag):
            value = tf.make_ndarray(event.tensor_proto)
            steps.setdefault(tag, []).append(event.step)
            if value.dtype != object and value.shape == ():
                scalars.setdefault(tag, {})[event.step] = float(value)
            elif value.dtype == object and value.shape == (3,):  # An image summary: width, height, PNG.
                images.setdefault(tag, {})[event.step] = (int(value[0]), int(value[1]))
    return scalars, images, steps


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    data = sparse_digits(tmp_path_factory.mktemp("data"), 600, seed=9)
    out = tmp_path_factory.mktemp("out")
    variables = run_in_process("denoise_transpose_mnist.py", "--data-dir", str(data),
                               "--output-dir", str(out), "--limit", "300", "--epochs", str(EPOCHS),
                               "--images-per-epoch", "256", "--precision", "float32", "--tensorboard")
    return out, variables


@pytest.mark.slow
def test_scalars_equal_the_training_log(logged_run):
    out, _ = logged_run
    (run_dir,) = (out / "tensorboard").iterdir()  # One folder for the run.
    log = results.read_log(out / "training_log.csv")
    train, _, train_steps = events(run_dir / "train")
    validation, _, validation_steps = events(run_dir / "validation")
    for tag, column in (("epoch_loss", "loss"), ("epoch_psnr", "psnr")):
        assert train_steps[tag] == list(range(EPOCHS)), tag  # Each epoch once, in order.
        np.testing.assert_allclose([train[tag][e] for e in range(EPOCHS)], log[column], rtol=1e-6)
        assert validation_steps[tag] == list(range(EPOCHS)), tag
        np.testing.assert_allclose([validation[tag][e] for e in range(EPOCHS)], log[f"val_{column}"],
                                   rtol=1e-6)


@pytest.mark.slow
def test_learning_rate_follows_the_cosine_decay(logged_run):
    out, variables = logged_run
    (run_dir,) = (out / "tensorboard").iterdir()
    train, _, _ = events(run_dir / "train")
    steps = variables["steps_per_epoch"]
    schedule = keras.optimizers.schedules.CosineDecay(variables["LEARNING_RATE"], EPOCHS * steps)
    expected = [float(schedule((epoch + 1) * steps)) for epoch in range(EPOCHS)]  # At each epoch's end.
    np.testing.assert_allclose([train["epoch_learning_rate"][e] for e in range(EPOCHS)], expected, rtol=1e-5)
    assert expected[-1] < 1e-9 < expected[0]  # It did decay, to 0.


@pytest.mark.slow
def test_validation_images_every_epoch(logged_run):
    out, _ = logged_run
    (run_dir,) = (out / "tensorboard").iterdir()
    _, images, steps = events(run_dir / progress.TENSORBOARD_IMAGES_DIR)
    pictures = images[progress.TENSORBOARD_IMAGES]
    assert steps[progress.TENSORBOARD_IMAGES] == list(range(EPOCHS))
    count, gap = progress.IMAGES_SHOWN, 3
    # Three rows (clean, noisy, denoised) of 8 digits, 3 blank pixels between them.
    assert set(pictures.values()) == {(count * 28 + (count - 1) * gap, 3 * 28 + 2 * gap)}


@pytest.mark.slow
def test_every_new_run_gets_a_folder_of_its_own(tmp_path):
    data = sparse_digits(tmp_path / "data", 200, seed=3)
    for _ in range(2):  # Within the same second too.
        run_in_process("denoise_transpose_mnist.py", "--data-dir", str(data), "--output-dir", str(tmp_path),
                       "--limit", "100", "--epochs", "1", "--images-per-epoch", "64", "--tensorboard")
    runs = sorted((tmp_path / "tensorboard").iterdir())
    assert len(runs) == 2
    for run_dir in runs:  # Each holds one run's epoch: step 0, once.
        assert events(run_dir / "train")[2]["epoch_loss"] == [0]


@pytest.mark.slow
def test_compare_decoders_logs_each_training_as_a_run(tmp_path):
    data = sparse_digits(tmp_path / "data", 300, seed=4)
    flags = ("--data-dir", str(data), "--output-dir", str(tmp_path / "out"), "--limit", "128",
             "--epochs", "2", "--images-per-epoch", "256", "--seeds", "1", "--tuning-images", "8",
             "--tensorboard")
    variables = run_in_process("compare_decoders.py", *flags)
    runs = sorted((tmp_path / "out" / "tensorboard" / "noise-0.5").iterdir())
    assert [run.name for run in runs] == sorted(
        re.sub(r"[^A-Za-z0-9.]+", "-", name) + "-seed-42" for name in variables["DECODERS"])
    for run_dir in runs:
        scalars, _, steps = events(run_dir / "train")
        assert steps["epoch_loss"] == [0, 1] and steps["epoch_learning_rate"] == [0, 1]
        assert scalars["epoch_loss"][1] < scalars["epoch_loss"][0]


def test_without_tensorflow_it_is_one_line_before_any_work(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real_find_spec(name, *a))
    out = tmp_path / "out"
    code, stderr = refusal_in_process("denoise_transpose_mnist.py", "--output-dir", str(out),
                                      "--data-dir", str(tmp_path / "nothing"), "--tensorboard")
    assert code == 2
    assert stderr.strip().splitlines() == [
        "error: --tensorboard writes TensorFlow's summaries, and tensorflow is missing beside the "
        f"{keras.backend.backend()} backend: pip install tensorflow"]
    assert not out.exists()  # Refused before anything was made or loaded.


def logged_hparams(run_dir):
    """The HParams plugin's session as TensorBoard reads it: {name: value}, and the trial's name."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    reader = EventAccumulator(str(run_dir))
    reader.Reload()
    (content,) = [content for content in reader.PluginTagToContent("hparams").values()
                  if plugin_data_pb2.HParamsPluginData.FromString(content).HasField("session_start_info")]
    session = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    values = {name: getattr(value, value.WhichOneof("kind")) for name, value in session.hparams.items()}
    return values, session.group_name


def logged_experiment(run_dir):
    """The HParams plugin's experiment (its columns), as TensorBoard reads it."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    reader = EventAccumulator(str(run_dir))
    reader.Reload()
    content = reader.PluginTagToContent("hparams")[metadata.EXPERIMENT_TAG]
    return metadata.parse_experiment_plugin_data(content)


def test_a_runs_constants_and_scores_read_back_from_the_hparams_plugin(tmp_path):
    from denoise_kit import hparams

    settings = {"KERNEL_SIZE": 4, "FILTERS": (16, 32), "LEARNING_RATE": 2e-3, "LIMIT": None, "SHOW": True,
                "OUTPUT_DIR": "outputs/x", "TENSORBOARD": True, "policy": "float32",
                "run": {"script": "denoise_transpose_mnist", "label": "kernel_size-4"}}
    scores = {"psnr_denoised": 20.5, "ssim_denoised": 0.87, "psnr_noisy": 9.4, "train_seconds": 12.5,
              "train_images_per_second": 563.0, "epochs_run": 10}
    hparams.log(str(tmp_path), settings, scores)
    values, trial = logged_hparams(tmp_path)
    # Numbers as numbers (the parallel-coordinates view plots them); where it wrote: not a hyperparameter.
    assert values == {"kernel_size": 4.0, "filters": "16,32", "learning_rate": 2e-3, "limit": "None",
                      "show": True}
    assert trial == "kernel_size-4 (denoise_transpose_mnist)"
    # The dashboard's columns: the pages' constants, then the scores (not every curve Keras logs).
    experiment = logged_experiment(tmp_path)
    assert [info.display_name for info in experiment.metric_infos] == [
        "test PSNR (dB)", "test SSIM", "validation PSNR (dB)", "training time (s)", "images/s"]
    columns = [info.name for info in experiment.hparam_infos]
    assert columns[:3] == ["dataset", "noise_factor", "epochs"] and "decoder_filters" in columns
    assert "output_dir" not in columns and "show" in columns  # Where it wrote: not a hyperparameter.
    scalars, _, _ = events(tmp_path)  # At the last epoch's step.
    assert {tag: value[10] for tag, value in scalars.items()} == pytest.approx(
        {"test/psnr_denoised": 20.5, "test/ssim_denoised": 0.87, "test/psnr_noisy": 9.4,
         "train_seconds": 12.5, "train_images_per_second": 563.0})


@pytest.mark.slow
def test_a_run_with_tensorboard_logs_its_constants_and_scores_for_the_hparams_dashboard(logged_run):
    out, variables = logged_run
    (run_dir,) = (out / "tensorboard").iterdir()
    values, trial = logged_hparams(run_dir)
    metrics = json.loads((out / "metrics.json").read_text())
    assert values["epochs"] == EPOCHS and values["limit"] == 300 and values["noise_factor"] == 0.5
    assert values["filters"] == "32,64" and "output_dir" not in values and "data_dir" not in values
    assert trial == f"{metrics['settings']['run']['label']} (denoise_transpose_mnist)"
    scalars, _, _ = events(run_dir)
    assert scalars["test/psnr_denoised"] == {EPOCHS: pytest.approx(metrics["psnr_denoised"])}
    assert scalars["train_seconds"] == {EPOCHS: pytest.approx(metrics["train_seconds"])}

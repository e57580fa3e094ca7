"""Training plumbing: NaN stops, kill-proof backups, folders the project may delete."""

import json

import keras
import numpy as np
import pytest

from denoise_kit import training
from denoise_kit.errors import ConfigError


def tiny_model():
    # GaussianNoise draws from a SeedGenerator, like the scripts' FreshNoise.
    model = keras.Sequential([keras.Input((4,)), keras.layers.GaussianNoise(0.1, seed=5),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_nan_loss_ends_with_one_line_and_no_results(tmp_path):
    callbacks = training.resumable_callbacks(tmp_path, {"run": 1})
    x = np.ones((8, 4), dtype="float32")
    x[3, 0] = np.nan  # A NaN input makes a NaN loss in the first epoch.
    tiny_model().fit(x, np.ones((8, 1)), epochs=3, batch_size=4, verbose=0, callbacks=callbacks)
    with pytest.raises(training.TrainingDiverged, match="the loss became NaN in epoch 1"):
        training.check_finite(callbacks)


def test_a_finite_run_passes_the_check(tmp_path):
    callbacks = training.resumable_callbacks(tmp_path, {"run": 1})
    tiny_model().fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=callbacks)
    training.check_finite(callbacks)  # Raises if StopOnNaN fired.
    assert [c.epoch for c in callbacks if isinstance(c, training.StopOnNaN)] == [None]


def test_backup_resumes_from_its_last_complete_epoch(tmp_path):
    model = tiny_model()
    callbacks = training.resumable_callbacks(tmp_path, {"run": 1})
    model.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=callbacks[:1])
    # Simulate a kill after epoch 2's backup: save it again without finishing training.
    backup = callbacks[0]
    backup._current_epoch = 2
    (tmp_path / "backup").mkdir(exist_ok=True)
    (tmp_path / "backup" / training.OWNED_MARKER).write_text("")
    (tmp_path / "backup" / training.SETTINGS_FILE).write_text(json.dumps({"run": 1}))
    backup._save_model()
    assert sorted(p.name for p in (tmp_path / "backup").glob("*.weights.h5")) == ["epoch-2.weights.h5"]
    resumed = tiny_model()
    again = training.resumable_callbacks(tmp_path, {"run": 1})
    again[0].set_model(resumed)
    again[0].on_train_begin()
    assert resumed._initial_epoch == 2
    for a, b in zip(model.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The noise goes on where it stopped instead of starting over from the seed.
    (state,) = training.random_states(model)
    (restored,) = training.random_states(resumed)
    assert keras.ops.convert_to_numpy(state)[1] > 0  # Two epochs of draws.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(state), keras.ops.convert_to_numpy(restored))
    assert training.finished_epochs(tmp_path) == 2


@pytest.mark.parametrize("damage", ["", '{"epoch": 3', '{"epoch": 3, "weights": "missing.h5"}',
                                    '{"epoch": 3, "weights": "settings.json", "random_state": "gone.npz"}'])
def test_a_damaged_backup_is_said_in_one_line_and_training_starts_afresh(tmp_path, capsys, damage):
    training.resumable_callbacks(tmp_path, {"run": 1})
    (tmp_path / "backup" / "training_metadata.json").write_text(damage)  # Killed mid-write.
    callbacks = training.resumable_callbacks(tmp_path, {"run": 1})
    assert "holds no complete epoch" in capsys.readouterr().out
    model = tiny_model()
    callbacks[0].set_model(model)
    callbacks[0].on_train_begin()
    assert getattr(model, "_initial_epoch", None) is None
    assert training.finished_epochs(tmp_path) == 0


def test_a_folder_the_project_did_not_make_is_never_deleted(tmp_path):
    theirs = tmp_path / "backup"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match="was not made by these scripts"):
        training.resumable_callbacks(tmp_path, {"run": 1})
    assert (theirs / "thesis.tex").read_text() == "years of work"


def test_precision_flag_picks_the_policy(monkeypatch):
    monkeypatch.setattr(training, "gpu_names", lambda: [])
    monkeypatch.setattr(training, "cpu_has_native_bfloat16", lambda: False)
    try:
        assert training.set_precision("auto") == "float32"
        assert training.set_precision("float32") == "float32"
        assert training.set_precision("mixed") == "mixed_bfloat16"
        assert "emulated bfloat16" in training.describe_device("mixed_bfloat16")
        monkeypatch.setattr(training, "cpu_has_native_bfloat16", lambda: True)
        assert training.set_precision("auto") == "mixed_bfloat16"
        monkeypatch.setattr(training, "gpu_names", lambda: ["H100"])
        assert training.set_precision("auto") == "mixed_float16"
        assert training.set_precision("float32") == "float32"
        with pytest.raises(ConfigError):
            training.set_precision("half")
    finally:
        keras.mixed_precision.set_global_policy("float32")


def split_data(n_val: int):
    from denoise_kit.datasets import DenoisingData

    images = np.zeros((n_val, 28, 28, 1), "float32")
    return DenoisingData(images, images, images[:7], np.zeros(7, "uint8"), ("0",))


@pytest.mark.parametrize("devices, batch_size, n_val, kept_or_error", [
    (1, 15, 25, 25),  # One device: nothing to split.
    (2, 16, 25, 24),  # The validation set loses its odd image; the test set stays whole.
    (4, 16, 25, 24),
    (2, 15, 25, "use a --batch-size that divides by 2, got 15"),
    (2, 16, 1, "the validation set needs at least 2 images"),
    (3, 15, 25, "Keras' validation batches of 32 don't split evenly over 3 devices"),
])
def test_batches_split_evenly_over_the_devices(monkeypatch, devices, batch_size, n_val, kept_or_error):
    names = [f"cpu:{i}" for i in range(devices)] if devices > 1 else []
    monkeypatch.setattr(training, "parallel_devices", lambda: names)
    data = split_data(n_val)
    if isinstance(kept_or_error, str):
        with pytest.raises(ConfigError, match=kept_or_error):
            training.split_evenly(data, batch_size)
    else:
        split = training.split_evenly(data, batch_size)
        assert (len(split.x_val), len(split.x_test), len(split.x_train)) == (kept_or_error, 7, n_val)

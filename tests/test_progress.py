"""The PSNR metric, the progress snapshots (across a resumed run) and history.png."""

import keras
import numpy as np
import pytest
from stop_after import StopAfter

from denoise_kit import metrics, plots, progress

# ----------------------------------------------------------------------------- psnr_metric


@pytest.mark.parametrize("shape", [(5, 28, 28, 1), (3, 37, 53, 1), (4, 16)])
def test_psnr_metric_matches_the_metrics_module(shape):
    rng = np.random.default_rng(0)
    clean = rng.random(shape).astype("float32")
    estimate = np.clip(clean + rng.normal(0, rng.uniform(0.01, 0.3, (shape[0],) + (1,) * (len(shape) - 1)),
                                          shape), 0, 1).astype("float32")
    estimate[0] = clean[0]  # A perfect image scores MAX_PSNR, not infinity.
    per_image = keras.ops.convert_to_numpy(progress.psnr_metric(clean, estimate))
    expected = metrics.psnr_per_image(clean, estimate)
    assert per_image[0] == metrics.MAX_PSNR
    np.testing.assert_allclose(per_image, expected, rtol=1e-4)


def tiny_denoiser(seed=0, shape=(28, 28, 1)):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=shape)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    clean = (rng.random((n, 28, 28, 1)) > 0.8).astype("float32")
    noisy = np.clip(clean + 0.5 * rng.standard_normal(clean.shape), 0, 1).astype("float32")
    return clean, noisy


def test_psnr_metric_is_logged_as_psnr_and_val_psnr_averaged_over_images():
    model = tiny_denoiser()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[progress.psnr_metric])
    clean, noisy = images(23)
    history = model.fit(noisy[:16], clean[:16], validation_data=(noisy[16:], clean[16:]),
                        batch_size=4, epochs=1, verbose=0)  # 7 validation images: batches of 4 and 3.
    assert {"psnr", "val_psnr"} <= set(history.history)
    denoised = model.predict(noisy[16:], verbose=0)
    assert history.history["val_psnr"][0] == pytest.approx(
        np.mean(metrics.psnr_per_image(clean[16:], denoised)), abs=1e-3)


# ----------------------------------------------------------------------------- schedule


@pytest.mark.parametrize("epochs", [1, 2, 9, 10, 20, 37, 200])
def test_snapshot_epochs_span_the_run_in_at_most_ten(epochs):
    chosen = progress.snapshot_epochs(epochs)
    assert chosen[0] == 0 and chosen[-1] == epochs
    assert chosen == sorted(set(chosen)) and len(chosen) <= progress.MAX_SNAPSHOTS
    if epochs < progress.MAX_SNAPSHOTS:
        assert chosen == list(range(epochs + 1))
    else:
        assert chosen[:2] == [0, 1]  # Before training and after the first epoch, where most changes.
        gaps = np.diff(chosen[1:])
        assert len(chosen) >= progress.MAX_SNAPSHOTS - 1 and gaps.max() - gaps.min() <= 1  # Evenly spread.


# ----------------------------------------------------------------------------- callback


def fit(model, clean, noisy, output_dir, epochs, extra_callbacks=(), backup_dir=None):
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    callbacks = [progress.ProgressSnapshots(clean, noisy, output_dir, title="test")]
    if backup_dir is not None:
        callbacks.insert(0, keras.callbacks.BackupAndRestore(str(backup_dir)))
    return model.fit(noisy, clean, batch_size=8, epochs=epochs, verbose=0,
                     callbacks=[*callbacks, *extra_callbacks])


@pytest.fixture
def drawn_rows(monkeypatch):
    """The row labels and per-image titles of progress.png, read from its
    figure on the way to the real save."""
    drawn = {}
    real_save = plots.save_figure

    def spy(fig, path):
        texts = [[t.get_text() for t in ax.texts] for ax in fig.axes]
        drawn.update(names=[t[0] for t in texts], titles=[t[1:] for t in texts])
        return real_save(fig, path)

    monkeypatch.setattr(plots, "save_figure", spy)
    return drawn


def test_snapshots_every_epoch_and_a_figure_at_the_end(tmp_path, drawn_rows, caplog):
    clean, noisy = images(16)
    model = tiny_denoiser()
    before = keras.ops.convert_to_numpy(model(noisy[:8]))
    fit(model, clean, noisy, tmp_path, epochs=3)

    saved = progress.Snapshots.load(tmp_path / progress.SNAPSHOT_FILE)
    assert sorted(saved.denoised) == [0, 1, 2, 3]
    np.testing.assert_array_equal(saved.clean, clean[:8])
    np.testing.assert_array_equal(saved.noisy, noisy[:8])
    np.testing.assert_allclose(saved.denoised[0], before, atol=1e-6)
    np.testing.assert_allclose(saved.denoised[3], keras.ops.convert_to_numpy(model(noisy[:8])), atol=1e-6)
    assert not np.allclose(saved.denoised[0], saved.denoised[3])  # It learned something.

    assert (tmp_path / progress.FIGURE_FILE).stat().st_size > 0
    assert drawn_rows["names"] == ["clean", "noisy", "before\ntraining", "epoch 1", "epoch 2", "epoch 3"]
    psnr_after = metrics.psnr_per_image(clean[:8], saved.denoised[3])
    assert drawn_rows["titles"][-1] == [f"{p:.1f} dB" for p in psnr_after]
    assert not list(tmp_path.glob("*.partial*"))
    assert "retracing" not in caplog.text


@pytest.mark.parametrize("lost_last_snapshot", [False, True])
def test_a_resumed_run_keeps_the_snapshots_of_the_interrupted_one(tmp_path, drawn_rows,
                                                                  lost_last_snapshot):
    clean, noisy = images(16)
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_denoiser(seed=1), clean, noisy, tmp_path, epochs=4, backup_dir=backup,
            extra_callbacks=[StopAfter(2)])
    first = progress.Snapshots.load(tmp_path / progress.SNAPSHOT_FILE)
    assert sorted(first.denoised) == [0, 1, 2]
    assert not (tmp_path / progress.FIGURE_FILE).exists()
    if lost_last_snapshot:  # Killed after the backup of epoch 2, before its snapshot was saved.
        progress.Snapshots(first.clean, first.noisy, {k: first.denoised[k] for k in (0, 1)}).save(
            tmp_path / progress.SNAPSHOT_FILE)

    resumed_model = tiny_denoiser(seed=2)  # Other weights, until BackupAndRestore restores them.
    fit(resumed_model, clean, noisy, tmp_path, epochs=4, backup_dir=backup)
    final = progress.Snapshots.load(tmp_path / progress.SNAPSHOT_FILE)
    assert sorted(final.denoised) == [0, 1, 2, 3, 4]
    for epoch in (0, 1, 2):  # Kept from the interrupted run (epoch 2 redone from the restored weights).
        np.testing.assert_allclose(final.denoised[epoch], first.denoised[epoch], atol=1e-6)
    np.testing.assert_allclose(final.denoised[4], keras.ops.convert_to_numpy(resumed_model(noisy[:8])),
                               atol=1e-6)
    assert drawn_rows["names"][2:] == ["before\ntraining", "epoch 1", "epoch 2", "epoch 3", "epoch 4"]


def test_a_fresh_run_discards_the_snapshots_of_an_earlier_one(tmp_path):
    clean, noisy = images(16)
    old = progress.Snapshots(clean[:8], noisy[:8], {0: clean[:8], 5: clean[:8], 9: clean[:8]})
    old.save(tmp_path / progress.SNAPSHOT_FILE)
    fit(tiny_denoiser(), clean, noisy, tmp_path, epochs=2)
    saved = progress.Snapshots.load(tmp_path / progress.SNAPSHOT_FILE)
    assert sorted(saved.denoised) == [0, 1, 2]
    assert not np.array_equal(saved.denoised[0], clean[:8])


def test_many_epochs_keep_at_most_ten_snapshots_including_the_last(tmp_path, drawn_rows):
    clean, noisy = images(8)
    fit(tiny_denoiser(), clean, noisy, tmp_path, epochs=13)
    saved = progress.Snapshots.load(tmp_path / progress.SNAPSHOT_FILE)
    assert sorted(saved.denoised) == progress.snapshot_epochs(13)
    assert len(drawn_rows["names"]) == 2 + progress.MAX_SNAPSHOTS
    assert drawn_rows["names"][-1] == "epoch 13"


def test_a_damaged_snapshot_file_reads_as_none(tmp_path):
    (tmp_path / "progress.npz").write_bytes(b"not a zip")
    assert progress.Snapshots.load(tmp_path / "progress.npz") is None
    assert progress.Snapshots.load(tmp_path / "missing.npz") is None


# ----------------------------------------------------------------------------- history.png


@pytest.fixture
def drawn_figure(monkeypatch):
    """The figure loss_curves draws, kept open for inspection (and still saved)."""
    drawn = {}
    real_save = plots.save_figure

    def spy(fig, path):
        drawn["axes"] = fig.axes
        drawn["suptitle"] = fig._suptitle.get_text() if fig._suptitle else None
        return real_save(fig, path)

    monkeypatch.setattr(plots, "save_figure", spy)
    return drawn


def marked_epochs(ax):
    """x positions of the vertical lines (axvline) in a panel."""
    return [line.get_xdata()[0] for line in ax.lines
            if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]]


def test_history_has_loss_and_psnr_panels_with_the_best_psnr_epoch_marked(tmp_path, drawn_figure):
    log = {"epoch": [0, 1, 2, 3], "loss": [0.3, 0.2, 0.15, 0.14], "val_loss": [0.25, 0.18, 0.16, 0.161],
           "psnr": [12.0, 15.0, 16.5, 16.8], "val_psnr": [13.0, 16.0, 17.2, 17.1],
           "epoch_seconds": [1.0, 1.0, 1.0, 1.0]}
    path = plots.loss_curves(log, tmp_path / "history.png", title="MNIST", ylabel="binary cross-entropy",
                             noisy_psnr=9.4)
    assert path.stat().st_size > 0
    loss_ax, psnr_ax = drawn_figure["axes"]
    assert marked_epochs(loss_ax) == [3] and marked_epochs(psnr_ax) == [3]  # Highest val_psnr.
    assert loss_ax.get_ylabel() == "binary cross-entropy" and psnr_ax.get_ylabel() == "PSNR (dB)"
    assert len([t for t in psnr_ax.get_legend().get_texts() if "validation" in t.get_text()]) == 1
    assert any("noisy input (9.4 dB)" in t.get_text() for t in psnr_ax.get_legend().get_texts())
    assert any("17.20 dB" in t.get_text() for t in psnr_ax.texts)
    assert drawn_figure["suptitle"] == "MNIST"


def test_history_without_psnr_marks_the_lowest_validation_loss(tmp_path, drawn_figure):
    log = {"loss": [0.3, 0.2, 0.15], "val_loss": [0.25, 0.18, 0.19]}
    plots.loss_curves(log, tmp_path / "history.png", title="old log")
    (ax,) = drawn_figure["axes"]
    assert marked_epochs(ax) == [2]
    assert ax.get_title() == "old log"

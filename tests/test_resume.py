"""Resuming and the output folder: NaN stops, kill-proof backups, one run per
folder, and folders the project may delete."""

import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from stop_after import StopAfter

from denoise_kit import errors, folders, results, resume, training
from denoise_kit.errors import ConfigError, TrainingDiverged

ROOT = Path(__file__).resolve().parent.parent


def tiny_model():
    # GaussianNoise draws from a SeedGenerator, like the scripts' FreshNoise.
    model = keras.Sequential([keras.Input((4,)), keras.layers.GaussianNoise(0.1, seed=5),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def some_data(n=16):
    rng = np.random.default_rng(0)
    return rng.random((n, 4)).astype("float32"), rng.random((n, 1)).astype("float32")


class Killed(Exception):
    """What a kill does to the running fit: it stops, and nothing after runs."""


def killed_run(output_dir, settings, epochs_done, model=None):
    """A run of 4 epochs into `output_dir`, killed after `epochs_done` of them."""
    model = model or tiny_model()
    backup = resume.KillProofBackupAndRestore(output_dir, settings)
    x, y = some_data()
    with pytest.raises(Killed):
        model.fit(x, y, epochs=4, batch_size=4, shuffle=False, verbose=0,
                  callbacks=[backup, StopAfter(epochs_done, Killed)])
    return model


def numbers(variables):
    return [keras.ops.convert_to_numpy(v) for v in variables]


# ----------------------------------------------------------------------------- NaN


def nan_batches(first_nan_step):
    """Endless (x, y) batches of 4, whose inputs hold a NaN from step `first_nan_step` on."""
    step = 0
    while True:
        x = np.ones((4, 4), "float32")
        if step >= first_nan_step:
            x[0, 0] = np.nan
        step += 1
        yield x, np.ones((4, 1), "float32")


@pytest.mark.parametrize("nan_epoch", [1, 2])
def test_a_nan_loss_ends_with_one_line_and_no_results(tmp_path, nan_epoch):
    (tmp_path / "metrics.json").write_text('{"earlier": "run"}\n')  # What an earlier run left.
    backup = resume.KillProofBackupAndRestore(tmp_path, {"run": 1})
    callbacks = [backup, keras.callbacks.CSVLogger(str(tmp_path / "training_log.csv")),
                 keras.callbacks.TerminateOnNaN()]
    x, y = some_data(8)
    model = tiny_model()
    model.fit(nan_batches(first_nan_step=2 * (nan_epoch - 1)), steps_per_epoch=2, epochs=4, shuffle=False,
              verbose=0, validation_data=(x, y), callbacks=callbacks)
    log = results.read_log(tmp_path / "training_log.csv")
    assert len(log["loss"]) == nan_epoch  # TerminateOnNaN stopped training in that epoch.
    assert np.isnan(log["loss"][-1]) and np.all(np.isfinite(log["loss"][:-1]))

    said = f"^the loss became NaN in epoch {nan_epoch}, so TerminateOnNaN stopped training: lower "
    with pytest.raises(TrainingDiverged, match=said) as error:
        results.check_finite(tmp_path / "training_log.csv")
    assert "\n" not in str(error.value)

    # results.save stops there, before writing anything, and drops the backup of NaN
    # weights: the next run (with a lower learning rate) starts afresh.
    with pytest.raises(TrainingDiverged, match=f"epoch {nan_epoch}"):
        run = training.TrainingRun(tmp_path, {"trained_images_per_epoch": 8}, "CPU", "t", 8, 2)
        results.save(run, model, {}, test_images=np.zeros((8, 28, 28, 1)))
    assert (tmp_path / "metrics.json").read_text() == '{"earlier": "run"}\n'
    assert not [p.name for p in tmp_path.iterdir() if p.suffix in (".keras", ".png")]
    assert not (tmp_path / resume.BACKUP_DIR).exists()


def test_a_finite_run_passes_the_check(tmp_path):
    backup = resume.KillProofBackupAndRestore(tmp_path, {"run": 1})
    x, y = some_data(8)
    tiny_model().fit(x, y, epochs=2, verbose=0, validation_data=(x, y),
                     callbacks=[backup, keras.callbacks.CSVLogger(str(tmp_path / "training_log.csv"))])
    assert len(results.read_log(tmp_path / "training_log.csv")["loss"]) == 2
    results.check_finite(tmp_path / "training_log.csv")  # Raises if a loss was NaN.
    results.check_finite(tmp_path / "no_log_yet.csv")  # Nothing logged: nothing to say.
    # The backup outlives training: a failed write of the results (a full disk) can still resume.
    assert resume.finished_epochs(tmp_path) == 2
    resume.remove_backup(tmp_path)  # What results.save does once everything is written.
    assert not (tmp_path / resume.BACKUP_DIR).exists()


# ----------------------------------------------------------------------------- resuming


def test_backup_resumes_from_its_last_complete_epoch_with_weights_and_noise(tmp_path, capsys):
    x, y = some_data()
    keras.utils.set_random_seed(1)
    start = tiny_model().get_weights()
    unbroken = tiny_model()
    unbroken.set_weights(start)
    unbroken.fit(x, y, epochs=4, batch_size=4, shuffle=False, verbose=0)

    killed = tiny_model()
    killed.set_weights(start)
    killed_run(tmp_path, {"run": 1}, epochs_done=2, model=killed)
    backup_dir = tmp_path / resume.BACKUP_DIR
    assert sorted(p.name for p in backup_dir.glob("epoch-*")) == ["epoch-2.random-state.npz",
                                                                 "epoch-2.weights.h5"]
    (backup_dir / "epoch-3.weights.h5").write_bytes(b"\x89HDF half")  # Killed while saving epoch 3.
    assert resume.finished_epochs(tmp_path) == 2
    capsys.readouterr()

    resumed = tiny_model()  # Fresh weights: the backup must bring the killed run's.
    backup = resume.KillProofBackupAndRestore(tmp_path, {"run": 1})
    assert (backup.resuming, backup.finished_epochs) == (True, 2)
    assert capsys.readouterr().out == f"Resuming from {backup_dir}: 2 epoch(s) already finished\n"
    assert "resume from the last finished epoch" in errors.INTERRUPTED_HINT  # What Ctrl-C now says.
    backup.set_model(resumed)
    backup.on_train_begin()
    assert resumed._initial_epoch == 2
    for a, b in zip(killed.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The noise goes on where it stopped instead of starting over from the seed.
    (state,) = numbers(resume.random_states(killed))
    (restored,) = numbers(resume.random_states(resumed))
    assert state[1] > 0  # Two epochs of draws.
    np.testing.assert_array_equal(state, restored)

    history = resumed.fit(x, y, epochs=4, batch_size=4, shuffle=False, verbose=0, callbacks=[backup])
    assert history.epoch == [2, 3]  # Only the epochs the killed run had left.
    assert int(resumed.optimizer.iterations) == int(unbroken.optimizer.iterations) == 16
    for a, b in zip(unbroken.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # The numbers an unbroken run gives.


@pytest.mark.parametrize("damage", ["", '{"epoch": 3', '{"epoch": 3, "weights": "missing.h5"}',
                                    '{"epoch": 3, "weights": "settings.json", "random_state": "gone.npz"}'])
def test_a_damaged_backup_is_said_in_one_line_and_training_starts_afresh(tmp_path, capsys, damage):
    resume.KillProofBackupAndRestore(tmp_path, {"run": 1})
    (tmp_path / "backup" / resume.METADATA_FILE).write_text(damage)  # Killed mid-write.
    capsys.readouterr()
    backup = resume.KillProofBackupAndRestore(tmp_path, {"run": 1})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "holds no complete epoch" in lines[0] and "starting afresh" in lines[0]
    assert (backup.resuming, backup.finished_epochs) == (False, 0)
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == [
        folders.OWNED_MARKER, resume.RUN_NAME_FILE, resume.SETTINGS_FILE]
    model = tiny_model()
    backup.set_model(model)
    backup.on_train_begin()
    assert getattr(model, "_initial_epoch", None) is None
    assert resume.finished_epochs(tmp_path) == 0


def test_resume_with_other_settings_is_refused_in_one_line(tmp_path, capsys):
    settings = {"NOISE_FACTOR": 0.5, "FILTERS": (32, 64), "OUTPUT_DIR": tmp_path, "EPOCHS": 4}
    killed_run(tmp_path, settings, epochs_done=1)
    backup_dir = tmp_path / resume.BACKUP_DIR
    before = {p.name: p.read_bytes() for p in backup_dir.iterdir()}

    for changed in ({"NOISE_FACTOR": 0.8}, {"NOISE_FACTOR": 0.8, "FILTERS": (16, 32)}):
        with pytest.raises(ConfigError) as error:
            resume.KillProofBackupAndRestore(tmp_path, {**settings, **changed})
        message = str(error.value)
        assert message == (f"{backup_dir} holds an unfinished run with other settings "
                           f"({', '.join(sorted(changed))}): run again with those settings to resume, "
                           "or delete that folder to start afresh")
    assert {p.name: p.read_bytes() for p in backup_dir.iterdir()} == before  # Kept for that resume.

    # A setting the new run no longer has (or a new one) is named too.
    fewer = {k: v for k, v in settings.items() if k != "EPOCHS"}
    with pytest.raises(ConfigError, match=r"with other settings \(EPOCHS\): "):
        resume.KillProofBackupAndRestore(tmp_path, fewer)
    with pytest.raises(ConfigError, match=r"with other settings \(SEED\): "):
        resume.KillProofBackupAndRestore(tmp_path, {**settings, "SEED": 42})

    # The same settings (tuples and paths as JSON keeps them) resume.
    capsys.readouterr()
    backup = resume.KillProofBackupAndRestore(tmp_path, dict(settings))
    assert (backup.resuming, backup.finished_epochs) == (True, 1)

    (backup_dir / resume.SETTINGS_FILE).write_text('{"NOISE_FACTOR": 0.')  # Unreadable: nothing matches.
    with pytest.raises(ConfigError, match=r"other settings \(EPOCHS, FILTERS, NOISE_FACTOR, OUTPUT_DIR\)"):
        resume.KillProofBackupAndRestore(tmp_path, settings)


def test_a_folder_the_project_did_not_make_is_never_deleted(tmp_path):
    theirs = tmp_path / "backup"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match="backup exists and was not made by these scripts"):
        resume.KillProofBackupAndRestore(tmp_path, {"run": 1})
    assert sorted(p.name for p in theirs.iterdir()) == ["thesis.tex"]
    assert (theirs / "thesis.tex").read_text() == "years of work"

    ours = tmp_path / "ours"
    folders.make_own_folder(ours)
    (ours / "epoch-1.weights.h5").write_bytes(b"weights")
    folders.remove_own_folder(ours)
    assert not ours.exists()
    folders.remove_own_folder(ours)  # Already gone: nothing to do.


# ----------------------------------------------------------------------------- one run per folder


HOLD_AND_WAIT = ("import sys, time; from denoise_kit import folders; folders.hold(sys.argv[1]); "
                 "print('held', flush=True); time.sleep(120)")
TRY_TO_HOLD = ("import sys; from denoise_kit import folders; from denoise_kit.errors import ConfigError\n"
               "try:\n    folders.hold(sys.argv[1])\nexcept ConfigError as e:\n    print(e)\n"
               "else:\n    print('held')")


def kit_python(code, *args, **options):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, **options)


def test_a_second_process_is_told_which_one_holds_the_folder(tmp_path):
    folder = tmp_path / "run"
    holder = kit_python(HOLD_AND_WAIT, folder)
    try:
        assert holder.stdout.readline() == "held\n"
        for attempt in (lambda: folders.hold(folder), lambda: resume.KillProofBackupAndRestore(folder, {})):
            with pytest.raises(ConfigError) as error:
                attempt()
            assert str(error.value) == (f"another run (process {holder.pid}) is using {folder}: wait for "
                                        "it to finish, or choose another output folder (--output-dir)")
        assert sorted(p.name for p in folder.iterdir()) == [folders.LOCK_FILE]  # No backup started.
    finally:
        holder.kill()  # SIGKILL: the holder gets no chance to clean up.
        holder.wait(timeout=30)
        holder.stdout.close()
    # No stale lock: the folder is free as soon as its holder is gone.
    folders.hold(folder)
    assert (folder / folders.LOCK_FILE).read_text().split() == [str(os.getpid())]


def test_the_same_process_may_hold_a_folder_twice_and_release_it(tmp_path):
    folder = tmp_path / "run"
    folders.hold(folder)
    folders.hold(folder)  # A notebook cell run again.
    folders.hold(tmp_path / "." / "run")  # The same folder, spelt otherwise.
    other = kit_python(TRY_TO_HOLD, folder)
    out, _ = other.communicate(timeout=60)
    assert out == f"another run (process {os.getpid()}) is using {folder.resolve()}: wait for it to " \
                  "finish, or choose another output folder (--output-dir)\n"
    folders.release(folder)
    other = kit_python(TRY_TO_HOLD, folder)
    assert other.communicate(timeout=60)[0] == "held\n"
    assert (folder / folders.LOCK_FILE).read_text().split() == [str(other.pid)]  # The last holder's number.


def test_a_resumed_run_keeps_its_name_and_its_tensorboard_folder(tmp_path):
    settings = {"NOISE_FACTOR": 0.5, "TENSORBOARD": False}
    killed_run(tmp_path, settings, epochs_done=1)
    name = (tmp_path / resume.BACKUP_DIR / resume.RUN_NAME_FILE).read_text()
    # Logging changes no number: turning TensorBoard on for the rest of the run still resumes.
    backup = resume.KillProofBackupAndRestore(tmp_path, {**settings, "TENSORBOARD": True})
    assert backup.resuming and backup.run_name == name
    assert backup.tensorboard_dir == str(tmp_path / resume.TENSORBOARD_DIR / name)
    resume.remove_backup(tmp_path)  # The run ended; the next one is new and named anew.
    time.sleep(1.01)  # Names are the start time, to the second.
    assert resume.KillProofBackupAndRestore(tmp_path, settings).run_name != name


@pytest.mark.parametrize(("text", "epochs", "kept"), [
    ("epoch,loss\n0,0.5\n1,0.4\n2,0.3\n", 2, "epoch,loss\n0,0.5\n1,0.4\n"),  # Killed before backup 3.
    ("epoch,loss\n0,0.5\n1,0.4\n2,0.", 2, "epoch,loss\n0,0.5\n1,0.4\n"),  # A line cut by a full disk.
    ("epoch,loss\n0,0.5\n1,0.", 2, "epoch,loss\n0,0.5\n"),
    ("epoch,loss\n0,0.5\n", 1, "epoch,loss\n0,0.5\n"),  # As it should be: untouched.
])
def test_a_resumed_log_keeps_only_the_epochs_the_backup_holds(tmp_path, text, epochs, kept):
    from denoise_kit import training

    log = tmp_path / "training_log.csv"
    log.write_text(text)
    training.keep_first_epochs(log, epochs)
    assert log.read_text() == kept

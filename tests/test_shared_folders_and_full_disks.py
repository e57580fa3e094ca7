"""Two runs in one folder, a disk that fills up, a bad picture among good ones:
each ends with one line, and nothing already on disk is lost."""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, learner_env, run_in_process, run_program, script_command, sparse_digits

# Whole runs in new processes: two at once, full disks.
pytestmark = pytest.mark.slow

SCRIPT = "denoise_transpose_mnist.py"
QUICK = ("--limit", "256", "--batch-size", "32", "--images-per-epoch", "256", "--precision", "float32")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return sparse_digits(tmp_path_factory.mktemp("data"), 600, seed=5)


def train(data, out, *flags, check=True, launcher=()):
    command = [*launcher, SCRIPT] if launcher else [SCRIPT]
    return run_program(*command, "--data-dir", str(data), "--output-dir", str(out), *QUICK, *flags,
                       check=check)


def train_again(data, out, *flags):
    """The same command again (space freed, or the first run killed), run in this process to
    spare a TensorFlow start-up; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run_in_process(SCRIPT, "--data-dir", str(data), "--output-dir", str(out), *QUICK, *flags)
    return printed.getvalue()


def psnr_of(folder):
    return json.loads((Path(folder) / "metrics.json").read_text())["psnr_denoised"]


@pytest.fixture(scope="module")
def unbroken(data, tmp_path_factory):
    """Three epochs never stopped: what every interrupted run must end with."""
    out = tmp_path_factory.mktemp("unbroken")
    train(data, out, "--epochs", "3")
    return psnr_of(out)


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    """A folder holding an earlier, finished two-epoch run."""
    out = tmp_path_factory.mktemp("finished") / "out"
    train(data, out, "--epochs", "2")
    return out


# ------------------------------------------------------------------------ two runs


def test_a_second_run_into_the_same_folder_gets_one_line_and_changes_nothing(data, tmp_path, unbroken):
    out = tmp_path / "out"
    command = script_command(SCRIPT, "--data-dir", str(data), "--output-dir", str(out), *QUICK,
                             "--epochs", "3")
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=learner_env())
    try:
        deadline = time.monotonic() + 120
        while not (out / "backup" / "settings.json").exists():  # The first run holds the folder now.
            assert first.poll() is None and time.monotonic() < deadline, "the first run never started"
            time.sleep(0.01)
        # Paused while the second starts (8 s), the first can't finish and let go of the folder before
        # the second asks for it; the pause changes nothing of what it computes.
        first.send_signal(signal.SIGSTOP)
        try:
            assert first.poll() is None, "the first run ended before it could be paused"
            second = subprocess.run(command, capture_output=True, text=True, env=learner_env(), timeout=300)
        finally:
            first.send_signal(signal.SIGCONT)
    finally:
        stdout, stderr = first.communicate(timeout=300)
    assert second.returncode == 2
    # Refused before anything was loaded or printed: the refusal is its only line.
    assert second.stdout == ""
    assert second.stderr.strip().splitlines() == [
        f"error: another run (process {first.pid}) is using {out.resolve()}: wait for it to finish, "
        "or choose another output folder (--output-dir)"]
    assert first.returncode == 0, stderr[-2000:]
    assert psnr_of(out) == unbroken  # The second run touched nothing of the first's.
    assert len((out / "training_log.csv").read_text().splitlines()) == 4  # Header and 3 epochs, once.


def test_a_killed_run_leaves_no_lock_behind(data, tmp_path):
    out = tmp_path / "out"
    command = script_command(SCRIPT, "--data-dir", str(data), "--output-dir", str(out), *QUICK,
                             "--epochs", "2")
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=learner_env())
    deadline = time.monotonic() + 120
    while not (out / "backup" / "settings.json").exists():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    first.kill()
    first.wait()
    train_again(data, out, "--epochs", "2")  # Runs: the operating system let go of the lock.


# ------------------------------------------------------------------------ a full disk


@pytest.mark.parametrize("point", ["preview", "backup", "log", "picture", "model", "results"])
def test_a_full_disk_ends_with_one_line_keeps_what_was_there_and_resumes(point, data, finished, unbroken,
                                                                          tmp_path):
    out = tmp_path / "out"
    shutil.copytree(finished, out)  # An earlier run's model.keras and metrics.json.
    earlier = {name: (out / name).read_bytes() for name in ("model.keras", "metrics.json")}
    failed = train(data, out, "--epochs", "3", check=False,
                   launcher=(str(ROOT / "tests" / "failing_writes.py"), point))
    assert failed.returncode == 2, failed.stderr[-2000:]
    assert "Traceback" not in failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: could not write in {out}") and "(No space left on device)" in last
    assert last.endswith("free some space and run the same command again "
                         "(a training run resumes from its last finished epoch)")
    assert {name: (out / name).read_bytes() for name in earlier} == earlier
    assert not list(out.rglob("*.partial*")) and not list(out.glob("tmp*"))  # No half-written file.

    again = train_again(data, out, "--epochs", "3")  # Space freed: the same command.
    # The backup of epoch 2 failed there, and the preview before any training; elsewhere training
    # had gone further.
    if point not in ("backup", "preview"):
        assert "epoch(s) already finished" in again
    assert psnr_of(out) == unbroken
    assert not (out / "backup").exists()


def mount_small_filesystem(folder: Path, size: str) -> bool:
    """A tmpfs of `size` at `folder` (root only); False where it can't be mounted."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def test_a_real_full_filesystem(data, tmp_path, unbroken):
    """A 2.5 MB filesystem holds one epoch's backup but not the next one beside it."""
    disk = tmp_path / "disk"
    if not mount_small_filesystem(disk, "2500k"):
        pytest.skip("mounting a small filesystem needs root and a tmpfs")
    try:
        out = disk / "out"
        failed = train(data, out, "--epochs", "3", check=False)
        assert failed.returncode == 2, failed.stderr[-2000:]  # Not a crash (a segfault is -11 or 139).
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: could not write in {out}") and "free some space" in last
        assert "Traceback" not in failed.stderr
        subprocess.run(["mount", "-o", "remount,size=50m", str(disk)], check=True)  # Space freed.
        again = train_again(data, out, "--epochs", "3")
        assert "1 epoch(s) already finished" in again
        assert psnr_of(out) == unbroken
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            # Still busy (a process not yet gone): detach it now, so no mount outlives the test.
            subprocess.run(["umount", "--lazy", str(disk)], capture_output=True)


# ------------------------------------------------------------- a bad picture among good


def test_every_readable_picture_is_denoised(data, finished, tmp_path):
    from PIL import Image

    out = tmp_path / "out"
    shutil.copytree(finished, out)
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    other = tmp_path / "other.png"
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(other)
    result = run_program(SCRIPT, "--output-dir", str(out), "--denoise", str(bad), str(good), str(other),
                         check=False)
    assert result.returncode == 1
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 1 and "bad.png" in skipped[0] and "Traceback" not in result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2 of 3 image(s) denoised; 1 could not be read"
    assert (out / "good.denoised.png").is_file() and (out / "other.denoised.png").is_file()
    assert not (out / "bad.denoised.png").exists()

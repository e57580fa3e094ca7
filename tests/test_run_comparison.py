"""Tweak and rerun from a terminal, as a learner does: each run with other
constants keeps its own folder under outputs/denoise_transpose_mnist/, its end
says what the change did, outputs/runs.md and runs.png list them all, and a
killed tweak resumes in its own folder."""

import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import learner_env, script_command, sparse_digits

# Whole runs in new processes.
pytestmark = pytest.mark.slow

SCRIPT = "denoise_transpose_mnist.py"
QUICK = ("--limit", "256", "--batch-size", "32", "--images-per-epoch", "256")
BASE = Path("outputs") / "denoise_transpose_mnist"
QUICK_RUN = "images_per_epoch-256+batch_size-32+limit-256"  # QUICK, in the page's order.
KERNEL_4 = "images_per_epoch-256+batch_size-32+kernel_size-4+limit-256"


def learner(folder: Path, data: Path, *flags: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python denoise_transpose_mnist.py FLAGS` in `folder`, its outputs/ relative to it."""
    result = subprocess.run(script_command(SCRIPT, "--data-dir", str(data), *QUICK, *flags), cwd=folder,
                            capture_output=True, text=True, env=learner_env(), timeout=600)
    if check:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A quick run, then the same with --kernel-size 4, in a learner's folder."""
    home = tmp_path_factory.mktemp("learner")
    data = sparse_digits(tmp_path_factory.mktemp("data"), 600, seed=5)
    first = learner(home, data, "--epochs", "2")
    second = learner(home, data, "--epochs", "2", "--kernel-size", "4")
    return home, data, first, second


def test_two_runs_with_different_constants_keep_both(two_runs):
    home, _, first, second = two_runs
    quick_run, kernel_4 = home / BASE / QUICK_RUN.replace("images", "epochs-2+images"), \
        home / BASE / KERNEL_4.replace("images", "epochs-2+images")
    for folder, kernel in ((quick_run, 3), (kernel_4, 4)):
        assert {"model.keras", "metrics.json", "training_log.csv", "history.png", "progress.png",
                "reconstructions.png", "noisy_inputs.png"} <= {p.name for p in folder.iterdir()}
        assert metrics(folder)["settings"]["KERNEL_SIZE"] == kernel
        assert not (folder / "backup").exists()  # A finished run keeps no backup.
    assert f"metrics: {BASE / kernel_4.name / 'metrics.json'}" in second.stdout


def test_the_end_of_a_run_says_what_the_change_did(two_runs):
    home, _, first, second = two_runs
    before = metrics(home / BASE / QUICK_RUN.replace("images", "epochs-2+images"))
    after = metrics(home / BASE / KERNEL_4.replace("images", "epochs-2+images"))
    assert "No earlier finished run on these test images: nothing to compare yet." in first.stdout
    lines = second.stdout.splitlines()
    start = lines.index(f"Against earlier runs on the same {after['test_images']:,} test images "
                        "(mnist, noise 0.5):")
    this, previous, best = lines[start + 2:start + 5]
    assert this.split()[2:6] == [f"{after['psnr_denoised']:.2f}", f"{after['ssim_denoised']:.3f}",
                                 f"{after['train_seconds']:.1f}", f"{after['train_images_per_second']:,.0f}"]
    assert previous.split()[2:4] == [f"{before['psnr_denoised']:.2f}", f"{before['ssim_denoised']:.3f}"]
    assert previous.endswith("  kernel_size 3")  # What the previous run had where this one differs.
    best_run = max((before, after), key=lambda m: m["psnr_denoised"])
    assert best.split()[3] == f"{best_run['psnr_denoised']:.2f}"


def test_runs_md_and_runs_png_list_every_finished_run(two_runs):
    home, *_ = two_runs
    rows = [line.split(" | ") for line in (home / "outputs" / "runs.md").read_text().splitlines()
            if line.startswith("| 20")]
    assert [row[2] for row in rows] == [f"epochs-2+{QUICK_RUN}", f"epochs-2+{KERNEL_4}"]
    assert (home / "outputs" / "runs.png").stat().st_size > 10_000


def test_another_noise_is_not_compared_as_if_alike(two_runs):
    home, data, *_ = two_runs
    third = learner(home, data, "--epochs", "1", "--noise-factor", "0.8")
    assert ("(noise factor 0.5, this run's 0.8): not compared." in third.stdout
            and "No earlier finished run on these test images" in third.stdout)


def test_a_killed_tweak_run_resumes_into_its_own_folder(two_runs, tmp_path):
    home, data, *_ = two_runs
    other = home / BASE / KERNEL_4.replace("images", "epochs-2+images")
    untouched = (other / "metrics.json").read_bytes()
    tweak = home / BASE / KERNEL_4.replace("images", "epochs-4+images")
    command = script_command(SCRIPT, "--data-dir", str(data), *QUICK, "--epochs", "4", "--kernel-size", "4")
    first = subprocess.Popen(command, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=learner_env())
    deadline = time.monotonic() + 300
    while not (tweak / "backup" / "training_metadata.json").exists():  # An epoch is backed up.
        assert first.poll() is None and time.monotonic() < deadline, "the run never finished an epoch"
        time.sleep(0.05)
    first.kill()
    first.wait()
    resumed = learner(home, data, "--epochs", "4", "--kernel-size", "4")
    assert f"Resuming from {BASE / tweak.name / 'backup'}" in resumed.stdout
    assert metrics(tweak)["epochs_run"] == 4 and not (tweak / "backup").exists()
    assert (other / "metrics.json").read_bytes() == untouched

"""Every finished denoiser run under outputs/, side by side.

At the end of each run (results.save), `report` prints what the change did
(this run against the previous finished run of the same script, and against
the best so far on the same test images), then rewrites outputs/runs.md (a
row per finished run) and outputs/runs.png (test PSNR against training time).

A finished run is a folder with the metrics.json a denoiser wrote:
outputs/<script>/ and outputs/<script>/<tweak>/ (run_folders.py). Runs are
compared only when they were scored on the very same noisy test images (their
fingerprint, a hash of those images, is in metrics.json): another dataset,
noise, data folder or backend says so instead. A metrics.json this project
can't read is skipped with one line.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from denoise_kit.files import atomic_path, write_text
from denoise_kit.run_folders import NOT_A_TWEAK

TABLE = "runs.md"
PLOT = "runs.png"


@dataclass(frozen=True)
class FinishedRun:
    """What one run's metrics.json says, for comparing it with the others."""

    folder: Path
    script: str
    label: str  # What differs from the defaults: "kernel_size-4", or "defaults".
    constants: dict[str, Any]
    finished_at: str
    psnr: float
    ssim: float
    train_seconds: float
    images_per_second: float
    test_set: dict[str, Any]

    @property
    def name(self) -> str:
        """'denoise_transpose_mnist, kernel_size-4'."""
        return f"{self.script}, {self.label}"


def test_set(images: np.ndarray, config: dict[str, Any]) -> dict[str, Any]:
    """The noisy test images a run was scored on: described, and fingerprinted to tell them apart."""
    images = np.ascontiguousarray(images, dtype=np.float32)
    return {"dataset": config["DATASET"], "noise_factor": config["NOISE_FACTOR"],
            "noise_seed": config["TEST_NOISE_SEED"], "images": len(images),
            "fingerprint": hashlib.sha256(images.tobytes()).hexdigest()[:16]}


def finished_now() -> str:
    """The time a run finished, as metrics.json records it."""
    return datetime.datetime.now().isoformat(timespec="seconds")


def read(folder: Path) -> FinishedRun:
    """The run whose metrics.json is in `folder`; ValueError (the reason) if it is not a denoiser's.

    A metrics.json written before runs were compared (no finished_at, no test_set) is listed,
    with its file's time, and never compared: its test images' fingerprint is unknown.
    """
    path = folder / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
        settings = metrics["settings"]
        run = settings.get("run", {})
        test = metrics.get("test_set") or {
            "dataset": settings["DATASET"], "noise_factor": settings["NOISE_FACTOR"],
            "noise_seed": settings.get("TEST_NOISE_SEED"), "images": metrics.get("test_images", 0),
            "fingerprint": None}
        if not isinstance(test, dict):
            raise TypeError("test_set is not a mapping")
        finished = metrics.get("finished_at") or datetime.datetime.fromtimestamp(
            path.stat().st_mtime).isoformat(timespec="seconds")
        return FinishedRun(
            folder=folder, script=run.get("script", folder.name), label=run.get("label", folder.name),
            constants={k: _plain(v) for k, v in settings.items() if k.isupper() and k not in NOT_A_TWEAK},
            finished_at=finished, psnr=float(metrics["psnr_denoised"]),
            ssim=float(metrics["ssim_denoised"]), train_seconds=float(metrics["train_seconds"]),
            images_per_second=float(metrics["train_images_per_second"]), test_set=test)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"metrics.json can't be read ({error.__class__.__name__})") from None
    except KeyError as missing:
        raise ValueError(f"its metrics.json is not a denoiser run's (no {missing})") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"its metrics.json is not a denoiser run's ({error})") from None


def find(root: str | os.PathLike[str]) -> tuple[list[FinishedRun], list[str]]:
    """Every finished run in root, root/* and root/*/* (oldest first), and a line per folder skipped."""
    root = Path(root)
    runs, skipped = [], []
    for path in sorted(path for depth in ("", "*/", "*/*/") for path in root.glob(f"{depth}metrics.json")):
        try:
            runs.append(read(path.parent))
        except ValueError as reason:
            skipped.append(f"skipped {path.parent}: {reason}")
    return sorted(runs, key=lambda run: (run.finished_at, str(run.folder))), skipped


def comparison(this: FinishedRun, runs: list[FinishedRun]) -> list[str]:
    """A few lines: this run against the previous finished one of its script and the best so far."""
    others = [run for run in runs if run.folder.resolve() != this.folder.resolve()]
    earlier = [run for run in others if run.script == this.script]
    previous = earlier[-1] if earlier else None
    alike = [run for run in others if run.test_set.get("fingerprint") == this.test_set["fingerprint"]]
    best = max([this, *alike], key=lambda run: run.psnr)
    lines = []
    if previous is not None and previous not in alike:
        lines.append(f"The previous run of {this.script} ({previous.label}) was scored on other test images "
                     f"({describe_difference(previous.test_set, this.test_set)}): not compared.")
    if not alike:
        return [*lines, "No earlier finished run on these test images: nothing to compare yet."]
    lines += [f"Against earlier runs on the same {this.test_set['images']:,} test images "
              f"({this.test_set['dataset']}, noise {this.test_set['noise_factor']:g}):",
              f"{'':14}{'PSNR (dB)':>10}{'SSIM':>8}{'train (s)':>11}{'images/s':>10}  constants"]
    rows = [("this run", this)]
    if previous in alike:
        rows.append(("previous run", previous))
    rows.append(("best so far", best))
    for title, run in rows:
        if title == "this run":
            what = f"{this.label} ({this.script})"
        else:
            what = "this run" if run is this else differences(run, this) or "the same constants"
        lines.append(f"{title:14}{run.psnr:>10.2f}{run.ssim:>8.3f}{run.train_seconds:>11.1f}"
                     f"{run.images_per_second:>10,.0f}  {what}")
    return lines


def differences(run: FinishedRun, this: FinishedRun) -> str:
    """'kernel_size 3, noise_factor 0.5': `run`'s constants where they differ from `this` one's."""
    names = [name for name in {**this.constants, **run.constants}
             if run.constants.get(name) != this.constants.get(name)]
    return ", ".join(f"{name.lower()} {_spell(run.constants.get(name))}" for name in names)


def describe_difference(theirs: dict[str, Any], ours: dict[str, Any]) -> str:
    """What makes two test sets differ, as far as their descriptions say."""
    described = ("dataset", "noise_factor", "noise_seed", "images")
    keys = [key for key in described if theirs.get(key) != ours.get(key)]
    parts = [f"{key.replace('_', ' ')} {theirs.get(key)}, this run's {ours.get(key)}" for key in keys]
    return "; ".join(parts) or "another data folder or backend"


def test_images(test: dict[str, Any]) -> str:
    """'2,000 mnist, noise 0.5': a run's test images, as runs.md and runs.png name them."""
    return f"{test.get('images', 0):,} {test.get('dataset')}, noise {test.get('noise_factor')}"


def write_table(root: Path, runs: list[FinishedRun]) -> Path:
    """outputs/runs.md: a row per finished run, oldest first."""
    lines = ["# Every finished run", "",
             "Rewritten at the end of each run. PSNR and SSIM are means over each run's noisy test images;",
             "compare only rows with the same test images (the last column).", "",
             "| finished | script | what differs from the defaults | PSNR (dB) | SSIM | train (s) "
             "| images/s | folder | test images |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for run in runs:
        test = run.test_set
        lines.append(f"| {run.finished_at.replace('T', ' ')} | {run.script} | {run.label} | {run.psnr:.2f} "
                     f"| {run.ssim:.3f} | {run.train_seconds:.1f} | {run.images_per_second:,.0f} "
                     f"| {_shown(run.folder)} | {test_images(test)} ({test.get('fingerprint')}) |")
    path = root / TABLE
    write_text(path, "\n".join(lines) + "\n", shared=True)  # Two runs may finish at once.
    return path


def draw(runs: list[FinishedRun]):
    """Test PSNR against training time: a point per run, labelled by what differs, a colour per test set."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, fingerprint in enumerate(dict.fromkeys(run.test_set.get("fingerprint") for run in runs)):
        group = [run for run in runs if run.test_set.get("fingerprint") == fingerprint]
        test = group[0].test_set
        ax.scatter([run.train_seconds for run in group], [run.psnr for run in group], color=f"C{i}",
                   label=f"{group[0].script}: {test_images(test)}")
        middle = (min(r.train_seconds for r in runs) + max(r.train_seconds for r in runs)) / 2
        for run in group:  # Labels right of the points in the left half, left of them in the right half.
            right = run.train_seconds > middle
            ax.annotate(run.label, (run.train_seconds, run.psnr), textcoords="offset points",
                        xytext=(-4 if right else 4, 4), ha="right" if right else "left", fontsize=7)
    ax.margins(0.15)  # Room for the labels.
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("test PSNR, denoised (dB)")
    ax.set_title("Every finished run: higher is better, further left is faster", fontsize=10)
    ax.grid(alpha=0.3)
    if runs:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def write_plot(root: Path, runs: list[FinishedRun]) -> Path:
    """outputs/runs.png: the picture `draw` makes, written atomically."""
    import matplotlib.pyplot as plt

    fig = draw(runs)
    path = root / PLOT
    with atomic_path(path, shared=True) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def report(output_dir: str | os.PathLike[str], root: str | os.PathLike[str]) -> list[str]:
    """After a run's closing table: print what it changed, rewrite runs.md and runs.png; the lines.
    The run is over by then: a table that can't be written (a full disk) is one line, not an error."""
    root = Path(root)
    runs, skipped = find(root)
    this = read(Path(output_dir))
    lines = [*skipped, "", *comparison(this, runs)]
    try:
        lines.append(f"Every run: {_shown(write_table(root, runs))}, {_shown(write_plot(root, runs))}")
    except OSError as error:
        lines.append(f"runs.md and runs.png were not updated ({error.strerror or error}): the run's own "
                     "files are complete; the next run rewrites them")
    print("\n".join(lines))
    return lines


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _spell(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(path: Path) -> str:
    cwd = Path.cwd()
    return str(path.relative_to(cwd)) if path.is_absolute() and path.is_relative_to(cwd) else str(path)

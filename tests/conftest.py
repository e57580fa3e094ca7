"""Fixtures that build small datasets in every format the loaders read."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tokenize
from pathlib import Path

import numpy as np
import pytest

import denoise_kit.download as fetching
from denoise_kit import datasets
from denoise_kit.idx import write_idx

# As this run was started (the imports above don't load keras): `import keras` sets
# TF_CPP_MIN_LOG_LEVEL=1 in this process, which the scripts run by the tests must not inherit.
STARTED_WITH_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
REAL_DATA = os.environ.get(datasets.DATA_DIR_ENV)
ROOT = Path(__file__).resolve().parent.parent


def real_data_dir(name: str) -> Path:
    """The offline copy of a real dataset, or skip when it is absent."""
    if not REAL_DATA or not (Path(REAL_DATA) / name).is_dir():
        pytest.skip(f"real {name} data not present (set {datasets.DATA_DIR_ENV})")
    return Path(REAL_DATA)


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test reads the user's Keras cache or reaches the network: every
    download address is a missing local file, and a download that reaches a
    server anyway gives up after seconds, not minutes."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(fetching, "TIMEOUT_S", 2.0)
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    unreachable = (tmp_path / "nowhere").as_uri()
    monkeypatch.setattr(datasets, "MNIST_URL", unreachable + "/mnist.npz")
    monkeypatch.setattr(datasets, "NOTMNIST_URL", unreachable + "/notMNIST_small.tar.gz")
    monkeypatch.setattr(datasets, "NOTMNIST_GOOGLE_URL", unreachable + "/google/notMNIST_small.tar.gz")
    monkeypatch.setattr(datasets, "NOTMNIST_MIRROR_URL", unreachable + "/")
    monkeypatch.setattr(datasets, "FASHION_MNIST_URL", unreachable + "/fashion/")


@pytest.fixture(autouse=True)
def kit_state_as_new():
    """Each test starts with the kit as a new process has it: a script run in this
    process (runpy, also in a module-scoped fixture) leaves output folders held,
    changes what an interrupted run is told and would report its phases at exit."""
    from denoise_kit import errors, folders, phases

    def as_new() -> None:
        for folder in folders.held():
            folders.release(folder)
        errors.INTERRUPTED_HINT = errors.START_OVER_HINT
        phases.forget()  # No report at this process's exit of a run made in it.

    as_new()
    yield
    as_new()


def digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n distinct random 28x28 uint8 images and labels 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return images, (np.arange(n) % 10).astype(np.uint8)


def sparse_digits(folder: Path, n: int, seed: int, names: tuple[str, ...] = ("mnist",)) -> Path:
    """n random 'images', mostly black like digits, as the t10k files of each
    dataset in `names` under `folder`: data a denoiser can run on."""
    images, labels = digits(n, seed=seed)
    images = np.where(images > 200, images, 0).astype(np.uint8)
    for name in names:
        write_mnist_idx(folder / name, "t10k", images, labels)
    return folder


def script_command(script: str, *args: str, two_devices: bool = False) -> list[str]:
    """The command that runs one of the project's scripts, optionally with the
    CPU split into two devices (tests/two_cpu_devices.py)."""
    launcher = [str(ROOT / "tests" / "two_cpu_devices.py")] if two_devices else []
    return [sys.executable, *launcher, str(ROOT / script), *args]


def learner_env(**changes: str) -> dict[str, str]:
    """The environment a learner's terminal has: this one, with figures to files and
    TensorFlow's log level as the run was started (see STARTED_WITH_TF_LOG_LEVEL)."""
    env = {**os.environ, "MPLBACKEND": "Agg", **changes}
    if STARTED_WITH_TF_LOG_LEVEL is None and "TF_CPP_MIN_LOG_LEVEL" not in changes:
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def run_program(script: str, *args: str, check: bool = True, two_devices: bool = False,
                timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a script as a learner would (figures to files, no window); with
    `check`, fail the test with its last error lines if it fails."""
    result = subprocess.run(script_command(script, *args, two_devices=two_devices), capture_output=True,
                            text=True, env=learner_env(), timeout=timeout)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_in_process(script: str, *args: str) -> dict:
    """Run a script in this process, as `python script.py ARGS` would, and return
    its variables (runpy gives back the script's globals)."""
    import runpy
    import signal
    from unittest import mock

    import keras

    path = str(ROOT / script)
    sigterm, excepthook = signal.getsignal(signal.SIGTERM), sys.excepthook
    policy = keras.config.dtype_policy()  # --precision auto sets mixed precision on bfloat16 CPUs.
    try:
        with mock.patch.object(sys, "argv", [path, *args]):
            return runpy.run_path(path, run_name="__main__")
    finally:  # denoise_kit.quiet set them for a learner's terminal, not for pytest.
        signal.signal(signal.SIGTERM, sigterm)
        sys.excepthook = excepthook
        keras.config.set_dtype_policy(policy)


def refusal_in_process(script: str, *args: str) -> tuple[int, str]:
    """The exit code and stderr of `python script ARGS` when it refuses its input, from a
    run in this process: the line denoise_kit.quiet prints for the error, or argparse's
    own exit. Seconds faster than a new process, which starts TensorFlow first
    (tests/test_quiet.py holds the terminal's one-line printing itself)."""
    import contextlib

    from denoise_kit import quiet

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            run_in_process(script, *args)
    except SystemExit as end:
        return end.code, stderr.getvalue()
    except Exception as error:
        line = quiet.one_line(error)
        if line is None:
            raise
        return 2, stderr.getvalue() + line + "\n"
    raise AssertionError(f"{script} {' '.join(args)} ran to its end instead of refusing")


def write_mnist_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray,
                    gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def png_files() -> dict[str, bytes]:
    """A notMNIST_small-like tree: 40 good PNGs (3 of them duplicates), a
    zero-byte PNG, a 32x32 PNG and a file outside the A..J folders."""
    images, labels = digits(37, seed=1)
    files = {}
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        files[f"{'ABCDEFGHIJ'[label]}/img{i:03d}.png"] = png_bytes(image)
    for i in range(3):  # Exact copies of the first three images, in other files.
        files[f"{'ABCDEFGHIJ'[labels[i]]}/copy{i}.png"] = png_bytes(images[i])
    files["A/RGVtb2NyYXRpY2FCb2xkT2xkc3R5bGUgQm9sZC50dGY=.png"] = b""
    files["B/big.png"] = png_bytes(np.zeros((32, 32), np.uint8))
    files["README.txt"] = b"not an image"
    return files


@pytest.fixture
def png_folder(tmp_path, png_files) -> Path:
    root = tmp_path / "data" / "notMNIST_small"
    for name, data in png_files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def make_tar_gz(path: Path, files: dict[str, bytes], top: str = "notMNIST_small") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def page_stats(script: str) -> dict[str, int | None]:
    """How heavy a page is: its lines, its prose words (comments, docstrings and markdown cells,
    without the `# %%` markers), and the line of the first `.fit(` call and of the first
    UpSampling2D/Conv2DTranspose layer in its code."""
    source = (ROOT / script).read_text()
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    stats: dict[str, int | None] = {"lines": len(source.splitlines()), "prose_words": 0, "fit": None,
                                    "first_layer": None}
    for i, token in enumerate(tokens):
        if token.type == tokenize.COMMENT and not token.string.startswith("# %%"):
            stats["prose_words"] += len(token.string.lstrip("#").split())
        elif token.type == tokenize.STRING and token.string.lstrip("rbuRBU").startswith(('"""', "'''")):
            stats["prose_words"] += len(token.string.strip("rbuRBU\"'").split())
        elif token.type == tokenize.NAME and i + 1 < len(tokens) and tokens[i + 1].string == "(":
            if stats["fit"] is None and token.string == "fit" and tokens[i - 1].string == ".":
                stats["fit"] = token.start[0]
            if stats["first_layer"] is None and token.string in ("UpSampling2D", "Conv2DTranspose"):
                stats["first_layer"] = token.start[0]
    return stats

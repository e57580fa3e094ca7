"""denoise_kit.quiet: TensorFlow's start-up lines hidden unless asked for, and
errors you can fix, Ctrl-C and SIGTERM as one line with their exit codes."""

import errno
import importlib.util
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import denoise_kit.quiet as quiet

import pytest

from denoise_kit import errors

# What a terminal shows: each test starts TensorFlow in a new process.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# What TensorFlow prints while it starts, in lower case: CUDA and CPU-feature notices.
START_UP = ("cuda", "onednn", "cpu_feature_guard", "tensorflow binary is optimized", "absl::initializelog")
IMPORT_KERAS = "import denoise_kit.quiet; import keras"
LEVELS = (None, "2", "3", "0")  # TF_CPP_MIN_LOG_LEVEL; None: unset.


def kit_env(level=None, backend="tensorflow"):
    """A learner's environment: the kit importable, TF_CPP_MIN_LOG_LEVEL as given (this test
    process's own was set by its `import keras`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": backend}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    return env


def start_up_lines(stderr):
    return [line for line in stderr.splitlines() if any(mark in line.lower() for mark in START_UP)]


@pytest.fixture(scope="module")
def keras_started(tmp_path_factory):
    """stderr of `import denoise_kit.quiet; import keras` at each level (the runs side by side:
    TensorFlow takes seconds to start)."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed")
    keras_home = str(tmp_path_factory.mktemp("keras_home"))  # Not the user's Keras settings.
    runs = {level: subprocess.Popen([sys.executable, "-c", IMPORT_KERAS], cwd=ROOT,
                                    env={**kit_env(level), "KERAS_HOME": keras_home},
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for level in LEVELS}
    started = {}
    for level, run in runs.items():
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-2000:]
        started[level] = stderr
    return started


@pytest.mark.parametrize("level", [None, "2", "3"])
def test_tensorflow_starts_quietly(keras_started, level):
    assert start_up_lines(keras_started[level]) == []


def test_log_level_0_shows_the_start_up_lines(keras_started):
    if not start_up_lines(keras_started["0"]):
        plain = subprocess.run([sys.executable, "-c", "import keras"], cwd=ROOT, env=kit_env("0"),
                               capture_output=True, text=True, timeout=300)
        if not start_up_lines(plain.stderr):
            pytest.skip("this TensorFlow prints no start-up lines here, even at level 0")
        pytest.fail(f"hidden at level 0, though TensorFlow prints: {start_up_lines(plain.stderr)}")


# ----------------------------------------------------------------------------- one-line errors


def run_kit(code, backend="numpy", **options):
    """`code` run after `import denoise_kit.quiet`. Another backend than TensorFlow by default:
    quiet then skips TensorFlow's start-up (seconds), and its one-line errors are the same."""
    return subprocess.run([sys.executable, "-c", f"import denoise_kit.quiet\n{code}"], cwd=ROOT,
                          env=kit_env(backend=backend), capture_output=True, text=True, timeout=120,
                          **options)


@pytest.mark.parametrize("kind", ["ConfigError", "DataError", "TrainingDiverged"])
def test_an_error_you_can_fix_is_one_line_and_exit_code_2(kind):
    result = run_kit(f"from denoise_kit.errors import {kind}\nraise {kind}('x')")
    assert (result.returncode, result.stderr, result.stdout) == (2, "error: x\n", "")


def test_a_full_disk_is_one_line_naming_the_folder():
    result = run_kit("import errno\n"
                     "raise OSError(errno.ENOSPC, 'No space left on device', '/some/dir/file.h5')")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: could not write in /some/dir (No space left on device): ")
    assert "free some space and run the same command again" in line


@pytest.mark.parametrize(("number", "fix"), [
    (errno.ENOSPC, "free some space"), (errno.EDQUOT, "free some space"),
    (errno.EROFS, "make it writable"), (errno.EACCES, "make it writable"),
])
def test_each_write_error_says_what_to_do(number, fix):
    line = quiet.one_line(OSError(number, os.strerror(number), "/data/out/model.keras"))
    assert line == (f"error: could not write in /data/out ({os.strerror(number)}): {fix} and run the same "
                    "command again (a training run resumes from its last finished epoch)")
    assert "in the output folder" in quiet.one_line(OSError(number, os.strerror(number)))


def test_a_bug_keeps_its_traceback():
    assert quiet.one_line(OSError(errno.ENOENT, "No such file or directory", "x")) is None
    assert quiet.one_line(ValueError("a bug")) is None
    result = run_kit("raise ValueError('a bug')")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback") and result.stderr.endswith("ValueError: a bug\n")


def test_ctrl_c_is_one_line_and_exit_code_130():
    result = run_kit("raise KeyboardInterrupt")
    assert result.returncode == 130
    assert result.stderr == f"\ninterrupted: {errors.START_OVER_HINT}\n"


def test_sigterm_is_one_line_and_exit_code_130():
    code = "import denoise_kit.quiet, time\nprint('ready', flush=True)\ntime.sleep(60)"
    run = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=kit_env(backend="numpy"), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert run.stdout.readline() == "ready\n"
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 130
    assert stderr == f"\ninterrupted: {errors.START_OVER_HINT}\n"


def test_only_the_retracing_notice_is_dropped():
    def record(message):
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    keep = quiet.WithoutRetracingNotices()
    assert not keep.filter(record("5 out of the last 5 calls to <f> triggered tf.function retracing."))
    assert keep.filter(record("Your input ran out of data"))
    assert any(isinstance(f, quiet.WithoutRetracingNotices) for f in logging.getLogger("tensorflow").filters)

"""cli.override_from_flags: a script's UPPERCASE constants are its flags."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from denoise_kit import cli
from denoise_kit.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

LESSON = '''"""
Title: A tiny lesson
Description: Constants and their flags, for the tests of
denoise_kit.cli.
"""

import denoise_kit.quiet  # noqa: F401

from denoise_kit import cli

EPOCHS = {epochs}  # Training rounds.
BATCH_SIZE = 8  # Images per step.
LIMIT: int | None = None  # Train on at most this many images; None: all of them.
FILTERS = (32, 64)  # Filters per encoder level.
SHOW = True  # Show the figures in a window (100% optional).
LEARNING_RATE = 2e-3  # Adam's starting learning rate.
OUTPUT_DIR = {output_dir!r}  # Where the results go.
helper = "not a constant"
NAMES = ["a", "b"]  # A list: not a flag.

CONFIG = cli.override_from_flags(globals())
print("ran with", CONFIG)
'''
CONSTANTS = ["EPOCHS", "BATCH_SIZE", "LIMIT", "FILTERS", "SHOW", "LEARNING_RATE", "OUTPUT_DIR"]


@pytest.fixture
def lesson(tmp_path):
    """`lesson(epochs=3)`: the path of a small script with constants, writing into tmp_path/out."""
    def write(epochs=3):
        path = tmp_path / "lesson.py"
        path.write_text(LESSON.format(epochs=epochs, output_dir=str(tmp_path / "out")))
        return path
    return write


def run_in_process(script, *args, monkeypatch):
    """The script run as `python script ARGS` would, in this process; its globals."""
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    return runpy.run_path(str(script), run_name="__main__")


def run_program(script, *args):
    # Another backend: denoise_kit.quiet then skips TensorFlow's start-up (seconds); its
    # one-line errors are the same on every backend.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "numpy"}
    return subprocess.run([sys.executable, str(script), *args], cwd=script.parent, env=env,
                          capture_output=True, text=True, timeout=120)


def test_without_flags_the_constants_run_as_written(lesson, tmp_path, monkeypatch):
    names = run_in_process(lesson(), monkeypatch=monkeypatch)
    assert names["CONFIG"] == {"EPOCHS": 3, "BATCH_SIZE": 8, "LIMIT": None, "FILTERS": (32, 64), "SHOW": True,
                               "LEARNING_RATE": 2e-3, "OUTPUT_DIR": str(tmp_path / "out")}
    assert list(names["CONFIG"]) == CONSTANTS  # In the script's order; no list, no lower-case name.
    assert (tmp_path / "out").is_dir()  # Checked writable before any work.


def test_flags_replace_the_constants(lesson, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    names = run_in_process(lesson(), "--epochs", "5", "--limit", "50", "--filters", "16,32", "--no-show",
                           "--learning-rate", "0.01", "--output-dir", str(elsewhere), monkeypatch=monkeypatch)
    running = {"EPOCHS": 5, "BATCH_SIZE": 8, "LIMIT": 50, "FILTERS": (16, 32), "SHOW": False,
               "LEARNING_RATE": 0.01, "OUTPUT_DIR": str(elsewhere)}
    assert {name: names[name] for name in CONSTANTS} == running  # The script's variables changed...
    assert names["CONFIG"] == running  # ...and the dict returned is what now runs.
    assert type(names["LIMIT"]) is int and type(names["LEARNING_RATE"]) is float
    assert names["helper"] == "not a constant" and names["NAMES"] == ["a", "b"]
    assert elsewhere.is_dir() and not (tmp_path / "out").exists()
    assert run_in_process(lesson(), "--show", monkeypatch=monkeypatch)["SHOW"] is True


def test_help_shows_each_constant_with_its_comment_and_default(lesson, monkeypatch, capsys):
    with pytest.raises(SystemExit) as done:
        run_in_process(lesson(), "--help", monkeypatch=monkeypatch)
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # Without argparse's line breaks.
    assert "A tiny lesson Constants and their flags, for the tests of denoise_kit.cli." in shown
    for flag, comment, default in [
        ("--epochs EPOCHS", "Training rounds.", "3"),
        ("--batch-size BATCH_SIZE", "Images per step.", "8"),
        ("--limit LIMIT", "Train on at most this many images; None: all of them.", "None"),
        ("--filters N,N", "Filters per encoder level.", "(32, 64)"),
        ("--show, --no-show", "Show the figures in a window (100% optional).", "True"),
        ("--learning-rate LEARNING_RATE", "Adam's starting learning rate.", "0.002"),
    ]:
        assert f"{flag} {comment} (default: {default})" in shown
    assert "--names" not in shown and "--helper" not in shown and "--config" not in shown


@pytest.mark.parametrize(("args", "line"), [
    (["--epochs", "0"], "error: --epochs must be at least 1, got 0"),
    (["--batch-size", "0"], "error: --batch-size must be at least 1, got 0"),
    (["--limit", "1"], "error: --limit must be at least 2 (a training and a validation image), got 1"),
    (["--learning-rate", "0"], "error: --learning-rate must be a number above 0, got 0.0"),
    (["--epochs", "x"], "error: argument --epochs: invalid int value: 'x' (see python lesson.py --help)"),
    (["--filters", "0,4"], "error: argument --filters: every value must be at least 1, got '0,4' "
                           "(see python lesson.py --help)"),
    (["--bogus"], "error: unrecognized arguments: --bogus (see python lesson.py --help)"),
])
def test_a_bad_value_is_one_line_and_exit_code_2_before_anything_is_written(lesson, tmp_path, args, line):
    result = run_program(lesson(), *args)
    assert (result.returncode, result.stderr, result.stdout) == (2, line + "\n", "")
    assert not (tmp_path / "out").exists()


def test_a_bad_constant_in_the_script_is_checked_too(lesson, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"^--epochs must be at least 1, got 0$"):
        run_in_process(lesson(epochs=0), monkeypatch=monkeypatch)
    assert run_in_process(lesson(epochs=0), "--epochs", "2", monkeypatch=monkeypatch)["EPOCHS"] == 2
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ConfigError, match="^--output-dir .*a_file is a file, not a folder"):
        run_in_process(lesson(), "--output-dir", str(tmp_path / "a_file"), monkeypatch=monkeypatch)


def notebook_cell(tmp_path, **changes):
    """The globals of a notebook whose cells set these constants: no __file__."""
    return {"__name__": "__main__", "EPOCHS": 3, "BATCH_SIZE": 8, "LIMIT": None, "FILTERS": (32, 64),
            "OUTPUT_DIR": str(tmp_path / "out"), "model": object(), **changes}


def test_in_a_notebook_the_kernels_arguments_are_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", "/run/kernel-1.json"])
    namespace = notebook_cell(tmp_path, EPOCHS=2)
    config = cli.override_from_flags(namespace)
    assert config == {"EPOCHS": 2, "BATCH_SIZE": 8, "LIMIT": None, "FILTERS": (32, 64),
                      "OUTPUT_DIR": str(tmp_path / "out")}
    assert cli.override_from_flags(namespace, argv=["--epochs", "5"]) == config  # Flags aren't read.
    assert namespace["EPOCHS"] == 2


@pytest.mark.parametrize(("changes", "message"), [
    ({"EPOCHS": 0}, "EPOCHS must be at least 1, got 0"),
    ({"LIMIT": 1}, "LIMIT must be at least 2 (a training and a validation image), got 1"),
    ({"FILTERS": ()}, "FILTERS needs at least one level, each of at least 1 filter, got ()"),
])
def test_in_a_notebook_constants_are_checked_by_their_own_names(tmp_path, changes, message):
    with pytest.raises(ConfigError) as error:
        cli.override_from_flags(notebook_cell(tmp_path, **changes), argv=[])
    assert str(error.value) == message


def test_a_script_run_in_a_jupyter_kernel_ignores_the_kernels_arguments(lesson, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "running_in_notebook", lambda: True)  # e.g. %run lesson.py in Jupyter.
    names = run_in_process(lesson(), "-f", "/run/kernel-1.json", monkeypatch=monkeypatch)
    assert names["CONFIG"]["EPOCHS"] == 3
    with pytest.raises(ConfigError, match="^EPOCHS must be at least 1, got 0$"):
        run_in_process(lesson(epochs=0), monkeypatch=monkeypatch)


RUN_FLAGS = {"PRECISION": ("auto", "float32, mixed or auto"),
             "TENSORBOARD": (False, "also log to TensorBoard")}


def test_run_flags_are_flags_the_page_need_not_define(lesson, tmp_path, monkeypatch):
    """A denoiser's flags on how it runs: in --help, in CONFIG, and never made names of the page."""
    script = lesson()
    script.write_text(script.read_text().replace(
        "cli.override_from_flags(globals())", "cli.override_from_flags(globals(), run_flags=RUN_FLAGS)")
        .replace("from denoise_kit import cli", f"from denoise_kit import cli\n\nRUN_FLAGS = {RUN_FLAGS!r}"))
    names = run_in_process(script, "--precision", "float32", "--tensorboard", monkeypatch=monkeypatch)
    assert names["CONFIG"]["PRECISION"] == "float32" and names["CONFIG"]["TENSORBOARD"] is True
    assert "PRECISION" not in names and "TENSORBOARD" not in names  # Only in CONFIG.
    assert run_in_process(script, monkeypatch=monkeypatch)["CONFIG"]["PRECISION"] == "auto"
    help_text = run_program(script, "--help").stdout
    assert "--precision" in help_text
    assert "float32, mixed or auto (default: auto)" in " ".join(help_text.split())
    assert "--tensorboard, --no-tensorboard" in help_text
    with pytest.raises(SystemExit):  # Checked like any constant: "half" is not a precision.
        run_in_process(script, "--precision", "half", monkeypatch=monkeypatch)


def test_a_run_flag_set_on_the_page_is_the_pages(tmp_path, monkeypatch):
    """In a notebook a learner sets one as a constant (TENSORBOARD = True): the page's value wins."""
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py"])
    namespace = notebook_cell(tmp_path, TENSORBOARD=True)
    config = cli.override_from_flags(namespace, run_flags=RUN_FLAGS)
    assert config["TENSORBOARD"] is True and config["PRECISION"] == "auto"
    assert "PRECISION" not in namespace


def test_denoise_takes_no_lock_on_the_output_folder(tmp_path, monkeypatch):
    """--denoise only reads the folder's model: it may run while a training holds the folder."""
    from denoise_kit import folders

    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py"])
    namespace = notebook_cell(tmp_path, DENOISE=("a.png",))
    cli.override_from_flags(namespace)
    assert Path(namespace["OUTPUT_DIR"]).resolve() not in [p.resolve() for p in folders.held()]
    namespace = notebook_cell(tmp_path)
    cli.override_from_flags(namespace)
    assert Path(namespace["OUTPUT_DIR"]).resolve() in [p.resolve() for p in folders.held()]
    folders.release(namespace["OUTPUT_DIR"])


def test_help_keeps_a_description_line_that_starts_like_a_label():
    """Only keras.io's header labels start a field: a wrapped line such as "changes: ..." stays."""
    doc = ("Title: A lesson\nDescription: one page with four\nchanges: the data and the decoder.\n"
           "Accelerator: none")
    assert cli.help_text(doc) == "A lesson\n\none page with four changes: the data and the decoder."

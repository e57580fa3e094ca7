"""Import this module first, before keras: the terminal shows the lesson, not noise.

- TensorFlow's start-up lines (CUDA and CPU-feature notices, printed while
  it initialises, before its own log level applies) are hidden: stderr is
  silenced for that moment. TF_CPP_MIN_LOG_LEVEL=0 or 1 shows them (e.g. to
  debug a GPU set-up); unset, 2 or 3 hide them. The scripts print the device
  they use either way.
- TensorFlow's "triggered tf.function retracing" notice is dropped: scripts
  that train several models trace each one's functions once, which it
  mistakes for retracing (every other warning still shows).
- An error you can fix (denoise_kit.errors.UserError) ends the script with
  one line, `error: ...`, and exit code 2; so does a write that fails for
  lack of space or permission. Ctrl-C and SIGTERM end it with one line and
  exit code 130. In a notebook the cell shows the same one line.
"""

import errno
import logging
import os
import signal
import sys

from denoise_kit import errors
from denoise_kit.notebook import running_in_notebook

SHOWN_LOG_LEVELS = ("0", "1")  # TF_CPP_MIN_LOG_LEVEL values that ask for TensorFlow's start-up lines.
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def quiet_tensorflow() -> None:
    """Silence stderr while TensorFlow initialises, unless its start-up lines were asked for."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") in SHOWN_LOG_LEVELS:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # Where the CUDA notices are printed.
    except ImportError:
        pass  # `import keras` right after reports it, with stderr back.
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class WithoutRetracingNotices(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" notice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def one_line(error: BaseException) -> str | None:
    """The line an error ends the script with, or None for a real bug (a traceback)."""
    if isinstance(error, errors.UserError):
        return f"error: {error}"
    if isinstance(error, OSError) and error.errno in WRITE_ERRNOS:
        fix = "free some space" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "make it writable"
        return (f"error: could not write in {_folder_of(error)} ({os.strerror(error.errno)}): {fix} and "
                "run the same command again (a training run resumes from its last finished epoch)")
    return None


def _folder_of(error: OSError) -> str:
    """The folder a failed write was in: from the error, else the output folder this run holds."""
    if error.filename:
        return os.path.dirname(os.path.abspath(os.fsdecode(error.filename)))
    from denoise_kit import folders

    held = folders.held()
    return ", ".join(map(str, held)) if held else "the output folder"


def _excepthook(kind, error, traceback) -> None:
    if issubclass(kind, KeyboardInterrupt):
        print(f"\ninterrupted: {errors.INTERRUPTED_HINT}", file=sys.stderr)
        sys.exit(130)
    line = one_line(error)
    if line is None:
        sys.__excepthook__(kind, error, traceback)
        return
    print(line, file=sys.stderr)
    sys.exit(2)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def one_line_errors() -> None:
    """Errors you can fix print as one line: in a terminal, and in a notebook cell."""
    if running_in_notebook():
        def show(shell, kind, error, traceback, tb_offset=None):
            line = one_line(error)
            if line is None:
                return shell.showtraceback((kind, error, traceback), tb_offset=tb_offset)
            print(line, file=sys.stderr)
            return None

        sys.modules["IPython"].get_ipython().set_custom_exc((errors.UserError, OSError), show)
        return
    sys.excepthook = _excepthook
    signal.signal(signal.SIGTERM, _interrupt)


quiet_tensorflow()
logging.getLogger("tensorflow").addFilter(WithoutRetracingNotices())
one_line_errors()

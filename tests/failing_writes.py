"""Run a script with one kind of write failing for lack of space, as on a full
disk:  python tests/failing_writes.py POINT SCRIPT [ARGS...]

POINT is where: "backup" (the second epoch's backup), "log" (the second
epoch's line of training_log.csv), "preview" (the first figure: the noisy
inputs, before training), "picture" (the second figure, once training has
begun), "model" (model.keras) or "results" (metrics.json). The write raises OSError ENOSPC,
as the operating system does when the disk is full.
"""

import errno
import os
import runpy
import sys
from pathlib import Path


def full_disk(name: str | os.PathLike[str] | None = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), None if name is None else str(name))


def fail_on_call(owner, method: str, call: int, filename_arg: bool = True) -> None:
    """owner.method raises ENOSPC from its `call`-th call on."""
    original, calls = getattr(owner, method), [0]

    def failing(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] >= call:
            raise full_disk(args[0] if filename_arg and args else None)
        return original(self, *args, **kwargs)

    setattr(owner, method, failing)


point, script = sys.argv[1], Path(sys.argv[2]).resolve()
sys.path.insert(0, str(script.parent))
import denoise_kit.quiet  # noqa: E402, F401  (as the script does first: before keras)

if point in ("backup", "model", "log"):
    import keras

    if point == "backup":
        fail_on_call(keras.Model, "save_weights", call=2)
    elif point == "model":
        fail_on_call(keras.Model, "save", call=1)
    else:
        fail_on_call(keras.callbacks.CSVLogger, "on_epoch_end", call=2, filename_arg=False)
elif point in ("preview", "picture"):
    import matplotlib.figure

    fail_on_call(matplotlib.figure.Figure, "savefig", call=1 if point == "preview" else 2)
elif point == "results":
    original_write_text = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.startswith("metrics"):
            raise full_disk(self)
        return original_write_text(self, *args, **kwargs)

    Path.write_text = write_text
else:
    sys.exit(f"unknown point {point!r}")

sys.argv = sys.argv[2:]
runpy.run_path(str(script), run_name="__main__")

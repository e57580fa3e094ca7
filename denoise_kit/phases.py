"""Where a run's time goes: its wall time cut into phases, from the moment
the process started.

The kit's calls that a script already makes mark where each phase ends:

    phases.mark("data")  # The seconds since the last mark went to loading the data.

so the phases always add up to the run's time. They are start-up (Python,
the imports, the flags, the devices), data, model (the fixed noise,
building and compiling, until training begins), tracing (the first epoch's
extra time, when the graphs are traced and compiled), training, scoring,
files and own image (the script's last cell). A run from a terminal counts
from the moment the process started; in a notebook, or for a second run in
one process, the clock starts when the flags are read (`start_run`).
results.py writes the phases to metrics.json; at the end of a run from a
terminal, `report_at_exit` rewrites metrics.json with the last phase and
prints the total as the run's last line. In a notebook nothing is printed
at exit: the kernel outlives the run.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
import time
from pathlib import Path

from denoise_kit.files import write_json
from denoise_kit.notebook import running_in_notebook


def _seconds_since_process_start() -> float:
    """How long this process has run; 0 where the system doesn't say (not Linux)."""
    try:
        # Field 22 of /proc/self/stat: the start, in clock ticks after boot. The name
        # (field 2) may hold spaces, so count from the last ')'.
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


PHASES = ("start-up", "data", "model", "tracing", "training", "scoring", "files", "own image")

_started = time.perf_counter() - _seconds_since_process_start()
_last_mark = _started
_seconds: dict[str, float] = {}
_exit_report: dict[str, Path] = {}
_registered = False  # Whether _report is registered with atexit (once per process).
_runs = 0  # Runs begun in this process.


def start_run(in_notebook: bool = False) -> None:
    """A run begins (cli.override_from_flags calls it). The first run of a program counts
    from the process's start; in a notebook (the kernel waited for you) or for a later run
    in the same process, the clock starts now and the earlier phases are dropped."""
    global _runs
    _runs += 1
    if in_notebook or _runs > 1:
        forget()


def mark(phase: str) -> None:
    """The time since the last mark (or since the process started) went to `phase`."""
    global _last_mark
    now = time.perf_counter()
    _seconds[phase] = _seconds.get(phase, 0.0) + now - _last_mark
    _last_mark = now


def move(seconds: float, from_phase: str, to_phase: str) -> None:
    """Count `seconds` of `from_phase` as `to_phase` instead (the tracing within the first epoch)."""
    seconds = min(max(seconds, 0.0), _seconds.get(from_phase, 0.0))
    _seconds[from_phase] = _seconds.get(from_phase, 0.0) - seconds
    _seconds[to_phase] = _seconds.get(to_phase, 0.0) + seconds


def seconds() -> dict[str, float]:
    """The phases so far, in the order of PHASES, and `total`: the run's time so far."""
    order = {name: i for i, name in enumerate(PHASES)}
    names = sorted(_seconds, key=lambda name: order.get(name, len(order)))
    return {**{name: round(_seconds[name], 2) for name in names},
            "total": round(time.perf_counter() - _started, 2)}


def summary_line(phases: dict[str, float], biggest: int = 3) -> str:
    """e.g. 'wall time 64.2 s: training 52.0 s, start-up 6.1 s, tracing 2.4 s'."""
    named = sorted(((v, k) for k, v in phases.items() if k != "total"), reverse=True)[:biggest]
    return f"wall time {phases['total']:.1f} s: " + ", ".join(f"{k} {v:.1f} s" for v, k in named)


def report_at_exit(metrics_path: str | os.PathLike[str]) -> None:
    """When this process ends, count the time since the last mark as the script's last
    cell ('own image'), store every phase in metrics.json and print the total and the
    biggest phases. Only from a terminal: in a notebook the kernel outlives the run."""
    global _registered
    if running_in_notebook():
        return
    if not _registered:
        atexit.register(_report)
        _registered = True
    _exit_report["metrics"] = Path(metrics_path)


def forget() -> None:
    """No phases so far, the clock started now and no report at exit (a new run in this
    process; tests that run several scripts in one process)."""
    global _started, _last_mark
    _started = _last_mark = time.perf_counter()
    _seconds.clear()
    _exit_report.clear()


def _report() -> None:
    path = _exit_report.pop("metrics", None)
    # Nothing after an error or Ctrl-C in the last cell: its one line stays the last.
    if path is None or getattr(sys, "last_value", None) is not None:
        return
    mark("own image")
    phases = seconds()
    try:
        metrics = json.loads(path.read_text())
        metrics["phase_seconds"] = phases
        write_json(path, metrics)
    except (OSError, ValueError):
        return  # The folder went away (a temporary one): nothing to report on.
    try:
        print(summary_line(phases), flush=True)
    except OSError:  # Nobody reads the output any more (a closed pipe).
        return
    # What is left is Python's shutdown. Its last garbage collections walk every object
    # TensorFlow made (1.4 s measured, on a 2-core AMD EPYC); frozen, they are skipped
    # (0.15 s), so the total above stays the run's wall time.
    gc.freeze()

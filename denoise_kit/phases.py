"""Where a run's time goes: its wall time cut into phases, from the moment
the process started.

The kit's calls that a script already makes mark where each phase ends:

    phases.mark("data")  # The seconds since the last mark went to loading the data.

so the phases always add up to the time since the process started. They are
start-up (Python, the imports, the flags, the devices), data, model (the
fixed noise, building and compiling, until training begins), tracing (the
first epoch's extra time, when the graphs are traced and compiled), training,
scoring, files and own image (the script's last cell). results.py writes
them to metrics.json; at the end of a run from a terminal, `report_at_exit`
rewrites metrics.json with the last phase and prints the total as the run's
last line. In a notebook nothing is printed at exit: the kernel outlives the run.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import time
from pathlib import Path

from denoise_kit.files import write_json


def _seconds_since_process_start() -> float:
    """How long this process has run; 0 where the system doesn't say (not Linux)."""
    try:
        # Field 22 of /proc/self/stat: the start, in clock ticks after boot. The name
        # (field 2) may hold spaces, so count from the last ')'.
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


_started = time.perf_counter() - _seconds_since_process_start()
_last_mark = _started
_seconds: dict[str, float] = {}
_exit_report: dict[str, Path] = {}


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
    """The phases so far, in the order they began, and `total`: the time since the process started."""
    phases = {name: round(value, 2) for name, value in _seconds.items()}
    return {**phases, "total": round(time.perf_counter() - _started, 2)}


def summary_line(phases: dict[str, float], biggest: int = 3) -> str:
    """e.g. 'wall time 64.2 s: training 52.0 s, start-up 6.1 s, tracing 2.4 s'."""
    named = sorted(((v, k) for k, v in phases.items() if k != "total"), reverse=True)[:biggest]
    return f"wall time {phases['total']:.1f} s: " + ", ".join(f"{k} {v:.1f} s" for v, k in named)


def report_at_exit(metrics_path: str | os.PathLike[str]) -> None:
    """When this process ends, count the time since the last mark as the script's last
    cell ('own image'), store every phase in metrics.json and print the total and the
    biggest phases. Only from a terminal: in a notebook the kernel outlives the run."""
    from denoise_kit import notebook

    if notebook.running_in_notebook():
        return
    if not _exit_report:
        atexit.register(_report)
    _exit_report["metrics"] = Path(metrics_path)


def forget() -> None:
    """As a new process: no phases and no report at exit (tests that run several scripts in one process)."""
    global _started, _last_mark
    _started = _last_mark = time.perf_counter()
    _seconds.clear()
    _exit_report.clear()


def _report() -> None:
    path = _exit_report.pop("metrics", None)
    if path is None:
        return
    mark("own image")
    phases = seconds()
    try:
        metrics = json.loads(path.read_text())
        metrics["phase_seconds"] = phases
        write_json(path, metrics)
    except (OSError, ValueError):
        return  # The folder went away (a temporary one): nothing to report on.
    print(summary_line(phases), flush=True)
    # What is left is Python's shutdown. Its last garbage collections walk every object
    # TensorFlow made (1.4 s measured, on a 2-core AMD EPYC); frozen, they are skipped
    # (0.15 s), so the total above stays the run's wall time.
    gc.freeze()

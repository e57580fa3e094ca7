"""
Title: Where a default run's time goes
Description: Runs `python denoise_transpose_mnist.py` at its defaults several
times, one after another, alternating the precision (float32, mixed) or,
with `--alternate onednn`, TensorFlow's oneDNN kernels (off, on: TensorFlow
turns them on by itself only on CPUs with AVX512-VNNI, AVX512-BF16 or AMX),
each into a temporary output folder, and prints every run's wall time (measured
from outside, around the process) beside the phases its metrics.json
records (measured inside, from the process's start). Each line the run
prints is timestamped as it arrives, so a pause shows as the longest gap
between two lines, with the line that ended it.

    DENOISE_DATA_DIR=../shared/data python benchmarks/where_time_goes.py --runs 8
    DENOISE_DATA_DIR=../shared/data python benchmarks/where_time_goes.py --runs 8 --alternate onednn
    DENOISE_DATA_DIR=../shared/data python benchmarks/where_time_goes.py --runs 2 -- --epochs 2
    DENOISE_DATA_DIR=../shared/data python benchmarks/where_time_goes.py --runs 1 -- --epochs 1 \\
        --images-per-epoch 128 --limit 300

Flags after `--` go to the script. Prints one table and a one-line summary, and
writes where_time_goes.json next to this file (or to --json).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "denoise_transpose_mnist.py"
sys.path.insert(0, str(ROOT))

import denoise_kit.quiet  # noqa: E402, F401  (the kit, found through sys.path above; hides TensorFlow's start-up lines)

from denoise_kit.hardware import cpu_model  # noqa: E402
from denoise_kit.phases import PHASES  # noqa: E402


def one_run(variant: str, extra: list[str]) -> dict:
    """One default run in a new process: its wall time, phases and longest pause between lines.
    `variant`: a precision, or "onednn=0" / "onednn=1" (the default precision)."""
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        flags = ["--output-dir", out, *extra]
        if variant.startswith("onednn="):
            env["TF_ENABLE_ONEDNN_OPTS"] = variant[-1]
        else:
            flags = ["--precision", variant, *flags]
        command = [sys.executable, "-u", str(SCRIPT), *flags]
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=env, cwd=ROOT)
        last, gap, gap_line, lines = start, 0.0, "", []
        for line in process.stdout:  # Keras' progress bar ends its lines with \r: one line per epoch.
            now = time.perf_counter()
            if now - last > gap:
                gap, gap_line = now - last, line.strip()[-90:]
            last = now
            lines.append(line)
        process.wait()
        wall = time.perf_counter() - start
        if process.returncode:
            raise SystemExit("".join(lines[-20:]))
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    precision = metrics["settings"]["policy"]
    variant = precision + (f", {variant}" if variant.startswith("onednn") else "")
    return {"variant": variant, "wall_s": round(wall, 2),
            "phases": metrics["phase_seconds"], "psnr": round(metrics["psnr_denoised"], 3),
            "longest_pause_s": round(gap, 2), "pause_ended_by": gap_line, "last_line": lines[-1].strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="default runs, alternating precision")
    parser.add_argument("--alternate", choices=("precision", "onednn"), default="precision",
                        help="what changes from one run to the next")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_suffix(".json"),
                        help="where to write the results")
    parser.add_argument("extra", nargs="*", help="flags for the script, after --")
    args = parser.parse_args()
    print(f"{cpu_model()}, {os.cpu_count()} threads; {args.runs} runs of {SCRIPT.name} "
          f"{' '.join(args.extra)}", flush=True)
    runs = []
    for i in range(args.runs):
        variants = ("float32", "mixed") if args.alternate == "precision" else ("onednn=0", "onednn=1")
        run = one_run(variants[i % 2], args.extra)
        runs.append(run)
        print(f"run {i + 1}: {run['wall_s']:.1f} s, {run['variant']}, {run['psnr']:.2f} dB; "
              f"longest pause {run['longest_pause_s']:.1f} s, ended by: {run['pause_ended_by']}", flush=True)

    header = ["run", "run as", "wall (outside)", "total (inside)", *PHASES, "longest pause"]
    print("\n| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for i, run in enumerate(runs, 1):
        cells = [str(i), run["variant"], f"{run['wall_s']:.1f}", f"{run['phases']['total']:.1f}",
                 *(f"{run['phases'].get(p, 0):.1f}" for p in PHASES), f"{run['longest_pause_s']:.1f}"]
        print("| " + " | ".join(cells) + " |")
    for variant in sorted({r["variant"] for r in runs}):
        walls = [r["wall_s"] for r in runs if r["variant"] == variant]
        print(f"{variant}: median wall {statistics.median(walls):.1f} s, "
              f"range {min(walls):.1f}-{max(walls):.1f} s")
    gaps = [r["wall_s"] - r["phases"]["total"] for r in runs]
    print(f"outside minus inside: {min(gaps):.2f} to {max(gaps):.2f} s (starting the process, "
          "and Python's shutdown after the last line)")
    args.json.write_text(json.dumps(
        {"cpu": cpu_model(), "threads": os.cpu_count(), "alternate": args.alternate, "flags": args.extra,
         "runs": runs}, indent=2) + "\n")
    training = sum(r["phases"].get("training", 0) for r in runs) / sum(r["phases"]["total"] for r in runs)
    wall = statistics.median(r["wall_s"] for r in runs)
    print(f"where the time goes: {len(runs)} runs, median wall {wall:.1f} s, training {training:.0%} of "
          f"it; longest pause {max(r['longest_pause_s'] for r in runs):.1f} s")


if __name__ == "__main__":
    main()

"""
Title: Why batch 8? Quality and training time of the MNIST denoiser per batch size
Description: Runs denoise_transpose_mnist.py as a learner does, once per batch
size and repeat:

    python denoise_transpose_mnist.py --batch-size B --precision float32 --output-dir <temporary folder>

everything else at the script's defaults (budget in images, learning rate and
its cosine decay, fresh noise), and reads each run's metrics.json. The table
has the whole run's wall time (start-up, loading, training, scoring and
saving; the median of --repeats runs, which alternate between the batch
sizes), the training images/s of metrics.json (the images trained over the
summed epoch seconds of training_log.csv, each epoch's validation included),
and the test PSNR and SSIM on the script's own noisy test images. Larger
batches take fewer steps, each a little cheaper per image; on a small model
and a CPU they save less time than they cost in quality.

    DENOISE_DATA_DIR=../shared/data python benchmarks/batch_size.py
    DENOISE_DATA_DIR=../shared/data python benchmarks/batch_size.py --batch-sizes 8 16 --epochs 1 --limit 2000

Prints a table and a one-line summary, writes batch_size.json next to this file (or to --json).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "denoise_transpose_mnist.py"
sys.path.insert(0, str(ROOT))

from denoise_kit import files


def run_script(batch_size, passed_on):
    """One whole run of the script at `batch_size`, float32: (wall seconds, its metrics.json)."""
    with tempfile.TemporaryDirectory(prefix="batch_size_") as output_dir:
        command = [sys.executable, str(SCRIPT), "--batch-size", str(batch_size), "--precision", "float32",
                   "--output-dir", output_dir, *passed_on]
        start = time.perf_counter()
        finished = subprocess.run(command, capture_output=True, text=True)  # In this folder, as typed.
        seconds = time.perf_counter() - start
        if finished.returncode != 0:
            sys.exit(f"{' '.join(command[1:])} failed (exit {finished.returncode}):\n"
                     f"{finished.stderr.strip() or finished.stdout.strip()}")
        return seconds, json.loads((Path(output_dir) / "metrics.json").read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each batch size (medians)")
    parser.add_argument("--epochs", type=int, default=None, help="passed on to the script (default: its own)")
    parser.add_argument("--images-per-epoch", type=int, default=None, help="passed on to the script")
    parser.add_argument("--limit", type=int, default=None, help="passed on to the script, for a quick look")
    parser.add_argument("--data-dir", type=Path, default=None, help="passed on to the script")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("batch_size.json"),
                        help="where to write the results")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    passed_on = []
    for flag in ("epochs", "images_per_epoch", "limit", "data_dir"):
        if getattr(args, flag) is not None:
            passed_on += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]

    runs = {b: [] for b in args.batch_sizes}
    for repeat in range(args.repeats):  # Alternating, so a busier moment of the machine hits all sizes.
        for b in args.batch_sizes:
            print(f"batch {b}, run {repeat + 1} of {args.repeats}...", flush=True)
            seconds, metrics = run_script(b, passed_on)
            runs[b].append({"wall_seconds": round(seconds, 1), **metrics})

    rows = []
    for b, done in runs.items():
        rows.append({
            "batch_size": b,
            "wall_seconds": statistics.median(r["wall_seconds"] for r in done),
            "images_per_second": statistics.median(r["train_images_per_second"] for r in done),
            "psnr": statistics.median(r["psnr_denoised"] for r in done),
            "ssim": statistics.median(r["ssim_denoised"] for r in done),
            "epochs": done[0]["epochs_run"],
            "images_per_epoch": done[0]["settings"]["trained_images_per_epoch"],
            "runs": done,
        })
    first = runs[args.batch_sizes[0]][0]
    median = " (medians)" if args.repeats > 1 else ""
    print(f"\ndenoise_transpose_mnist.py per batch size, float32, {first['train_images']:,} training images, "
          f"{first['device']}{median}")
    print(f"{'batch':>6}{'epochs x images':>17}{'PSNR dB':>9}{'SSIM':>7}{'wall s':>8}{'train img/s':>13}")
    for row in rows:
        budget = f"{row['epochs']} x {row['images_per_epoch']:,}"
        print(f"{row['batch_size']:>6}{budget:>17}{row['psnr']:>9.2f}{row['ssim']:>7.3f}"
              f"{row['wall_seconds']:>8.1f}{row['images_per_second']:>13,.0f}")
    files.write_json(args.json, {
        "device": first["device"], "passed_on": passed_on, "repeats": args.repeats, "rows": rows})
    best = max(rows, key=lambda row: row["psnr"])
    fastest = min(rows, key=lambda row: row["wall_seconds"])
    print(f"batch size: {best['batch_size']} scores best ({best['psnr']:.2f} dB); batch "
          f"{fastest['batch_size']} runs fastest ({fastest['wall_seconds']:.1f} s vs "
          f"{best['wall_seconds']:.1f} s) at {fastest['psnr']:.2f} dB")


if __name__ == "__main__":
    main()

"""
Title: How long loading the data takes
Description: First load and cached load of each dataset from each kind of
source (MNIST, the notMNIST sample and the full 70,000-image Fashion-MNIST from
their IDX .gz files), and the parsing time of a notMNIST_small-sized folder of
18,724 PNGs (plus its two zero-byte files), built from the real notMNIST sample
when the real folder is absent. Medians of --repeats runs.

    DENOISE_DATA_DIR=../shared/data python benchmarks/data_loading.py
    DENOISE_DATA_DIR=../shared/data python benchmarks/data_loading.py --repeats 1 --pngs 1000   # a quick look

Prints a table, writes data_loading.json next to this file (or to --json).
"""

import argparse
import io
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from denoise_kit import datasets, files

READABLE_PNGS = 18_724  # As in the real notMNIST_small.
ZERO_BYTE_PNGS = 2


def timed(load, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        load()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def png_tree(images, labels, count=READABLE_PNGS):
    """{relative path: PNG bytes} shaped like notMNIST_small: `count` PNGs and two empty ones."""
    from PIL import Image

    tree = {}
    for i in range(count):
        buffer = io.BytesIO()
        Image.fromarray(images[i % len(images)]).save(buffer, format="PNG")
        tree[f"{'ABCDEFGHIJ'[labels[i % len(labels)]]}/{i:05d}.png"] = buffer.getvalue()
    tree["A/RGVtb2NyYXRpY2FCb2xkT2xkc3R5bGUgQm9sZC50dGY=.png"] = b""
    tree["F/Q3Jvc3NvdmVyIEJvbGRPYmxpcXVlLnR0Zg==.png"] = b""
    return tree


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pngs", type=int, default=READABLE_PNGS,
                        help="readable PNGs in the generated folder, when the real one is absent")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("data_loading.json"),
                        help="where to write the results")
    args = parser.parse_args()
    data_dir = datasets.resolve_data_dir(args.data_dir)
    rows = []
    quiet = {"verbose": False, "download": False}

    def add(what, seconds, note=""):
        rows.append({"what": what, "seconds": None if seconds is None else round(seconds, 3),
                     "note": note})
        shown = f"{'-':>8}  " if seconds is None else f"{seconds:>8.3f} s"
        print(f"{what:52}{shown}  {note}", flush=True)

    print(f"{'load':52}{'median':>8}")
    add("MNIST, IDX .gz files", timed(lambda: datasets.load_mnist(data_dir, **quiet), args.repeats),
        str(data_dir / "mnist"))
    add("notMNIST sample, IDX .gz files",
        timed(lambda: datasets.load_notmnist(data_dir, **quiet), args.repeats), str(data_dir / "notmnist"))
    fashion = data_dir / "fashion_mnist"
    if fashion.is_dir():
        add("Fashion-MNIST, IDX .gz files (60,000 + 10,000)",
            timed(lambda: datasets.load_fashion_mnist(data_dir, **quiet), args.repeats), str(fashion))
    else:  # Optional: the table is still printed without it.
        add("Fashion-MNIST, IDX .gz files (60,000 + 10,000)", None, f"skipped: no {fashion}/")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (x_train, y_train), (x_test, y_test) = datasets.load_mnist(data_dir, **quiet)
        as_bytes = lambda x: np.round(x[..., 0] * 255).astype(np.uint8)  # noqa: E731
        np.savez(tmp / "mnist.npz", x_train=as_bytes(x_train), y_train=y_train,
                 x_test=as_bytes(x_test), y_test=y_test)
        add("MNIST, Keras mnist.npz (the Keras cache)",
            timed(lambda: datasets.load_mnist(tmp, **quiet), args.repeats))

        real, archive = data_dir / "notMNIST_small", None
        if real.is_dir():
            source, note = real, "the real folder"
        else:
            (a, ay), (b, by) = datasets.load_notmnist(data_dir, **quiet)
            tree = png_tree(np.concatenate([as_bytes(a), as_bytes(b)]), np.concatenate([ay, by]), args.pngs)
            source, note = tmp / "png" / "notMNIST_small", f"{args.pngs:,} generated PNGs"
            for name, data in tree.items():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                (source / name).write_bytes(data)
            archive = tmp / "tar" / "notMNIST_small.tar.gz"
            archive.parent.mkdir()
            with tarfile.open(archive, "w:gz") as tar:
                tar.add(source, arcname="notMNIST_small")

        def first_load(folder):
            for cache in folder.parent.glob("notmnist*.npz"):
                cache.unlink()
            datasets.load_notmnist(folder.parent, **quiet)

        add("notMNIST_small folder, first load (parse + cache)", timed(lambda: first_load(source),
                                                                      args.repeats), note)
        add("notMNIST_small, cached load", timed(lambda: datasets.load_notmnist(source.parent, **quiet),
                                                 args.repeats), datasets.NOTMNIST_CACHE)
        if archive is not None:
            add("notMNIST_small.tar.gz, first load (parse + cache)",
                timed(lambda: first_load(archive), args.repeats), f"{archive.stat().st_size:,} bytes")
        shutil.rmtree(tmp / "png", ignore_errors=True)

    files.write_json(args.json, rows)
    slowest = max((r for r in rows if r["seconds"] is not None), key=lambda r: r["seconds"])
    cached = next(r for r in rows if r["what"] == "notMNIST_small, cached load")
    print(f"data loading: slowest {slowest['what']} {slowest['seconds']:.2f} s; "
          f"notMNIST cached {cached['seconds']:.3f} s")


if __name__ == "__main__":
    main()

"""Command-line scaffolding: flags that override a script's constants, and
a runner that turns user errors and interrupts into one clear line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from denoise_kit.errors import ConfigError, UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_output_dir(script_file: str) -> Path:
    """outputs/<script name>/ beside the scripts."""
    return PROJECT_ROOT / "outputs" / Path(script_file).stem


def parser_for(script_file: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser whose description is the script's first docstring paragraph."""
    summary = (doc or "").strip().split("\n\n")[0]
    return argparse.ArgumentParser(
        prog=f"python {Path(script_file).name}",
        description=summary,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def demo_args(script_file: str, doc: str | None, uses_data: bool = False) -> argparse.Namespace:
    """Parse a demo's flags (--show, --output-dir, and --data-dir if it reads
    data) and set matplotlib up for them."""
    from denoise_kit.plots import setup_matplotlib

    parser = parser_for(script_file, doc)
    if uses_data:
        parser.add_argument("--data-dir", type=Path, default=None,
                            help="where to look for MNIST (default: $DENOISE_DATA_DIR, else data/)")
    parser.add_argument("--show", action="store_true", help="also open each figure in a window")
    parser.add_argument("--output-dir", type=Path, default=default_output_dir(script_file),
                        help="where the figures are written")
    args = parser.parse_args()
    setup_matplotlib(args.show)
    return args


def training_parser(script_file: str, doc: str | None, *, epochs: int, batch_size: int,
                    noise_factor: float, seed: int) -> argparse.ArgumentParser:
    """The flags every training script shares, defaulting to its constants."""
    parser = parser_for(script_file, doc)
    parser.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="images per training step")
    parser.add_argument("--noise-factor", type=float, default=noise_factor,
                        help="standard deviation of the Gaussian noise (images are in [0, 1])")
    parser.add_argument("--seed", type=int, default=seed, help="seed for weights, noise and shuffling")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="dataset folder (default: $DENOISE_DATA_DIR, else data/ beside the scripts)")
    parser.add_argument("--output-dir", type=Path, default=default_output_dir(script_file),
                        help="where plots, metrics and the model are written")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on at most N images (quick runs and tests)")
    return parser


def check_training_args(args: argparse.Namespace, n_train: int | None = None) -> None:
    """One-line errors for values that cannot work."""
    if args.epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {args.batch_size}")
    if args.noise_factor < 0:
        raise ConfigError(f"noise factor must be 0 or more, got {args.noise_factor}")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if n_train is not None and args.batch_size > n_train:
        raise ConfigError(
            f"batch size {args.batch_size} is larger than the {n_train:,} training images: "
            "lower --batch-size or raise --limit"
        )


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run(main: Callable[[], object]) -> None:
    """Run `main`, ending with one line (not a traceback) on a user error or Ctrl-C/SIGTERM."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume from the last finished epoch",
              file=sys.stderr)
        sys.exit(130)


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ start-up chatter (call before importing keras).

    TensorFlow 2.21 logs oneDNN and CUDA notices at start-up whatever
    TF_CPP_MIN_LOG_LEVEL says, so stderr is silenced while it initialises.
    Set TF_CPP_MIN_LOG_LEVEL yourself to see everything (e.g. to debug a GPU
    set-up); the scripts print the device they use either way.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
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

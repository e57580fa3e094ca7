"""Command-line scaffolding: flags that override a script's constants, and
a runner that turns user errors and interrupts into one clear line."""

from __future__ import annotations

import argparse
import fractions
import math
import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from denoise_kit.errors import ConfigError, UserError
from denoise_kit.files import make_writable_folder

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_output_dir(script_file: str) -> Path:
    """outputs/<script name>/ beside the scripts."""
    return PROJECT_ROOT / "outputs" / Path(script_file).stem


def help_text(doc: str | None) -> str:
    """The docstring's title and description as --help shows them: the
    keras.io header ("Title: ...", "Description: ...") without its labels."""
    header = (doc or "").strip().split("\n\n")[0]
    title, _, description = header.partition("\nDescription:")
    title = title.removeprefix("Title:").strip()
    description = textwrap.fill(" ".join(description.split()), 79)
    return f"{title}\n\n{description}" if description else title


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each flag; the description's paragraphs kept."""


class _OneLineErrors(argparse.ArgumentParser):
    """A flag argparse can't read gets one line and exit code 2, like every
    other bad input, instead of the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parser_for(script_file: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser whose --help starts with the script's title and description."""
    return _OneLineErrors(prog=command_of(script_file), description=help_text(doc),
                          formatter_class=_HelpFormatter,
                          allow_abbrev=False)  # Flags typed in full: `given` can tell which were.


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
    check_output_dir(args.output_dir)
    setup_matplotlib(args.show)
    return args


def int_list(text: str) -> tuple[int, ...]:
    """'32,64' -> (32, 64), for --filters."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        message = f"expected whole numbers separated by commas, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"every value must be at least 1, got {text!r}")
    return values


def training_parser(script_file: str, doc: str | None, *, epochs: int, batch_size: int,
                    noise_factor: float, seed: int, dataset: str, precision: str,
                    images_per_epoch: int | None = None, epoch_fraction: float | None = None,
                    filters: tuple[int, ...] | None = None, kernel_size: int | None = None,
                    learning_rate: float | None = None) -> argparse.ArgumentParser:
    """The flags every training script shares, defaulting to its constants."""
    from denoise_kit.datasets import CLASS_NAMES

    parser = parser_for(script_file, doc)
    parser.add_argument("--dataset", choices=sorted(CLASS_NAMES), default=dataset,
                        help="which images to denoise")
    parser.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    if images_per_epoch is not None:
        grows = ""
        if epoch_fraction:
            share = fractions.Fraction(epoch_fraction).limit_denominator(100)
            grows = f", or {share} of the training images when that is more; typed in, exactly this"
        parser.add_argument("--images-per-epoch", type=int, default=images_per_epoch,
                            help=f"noisy images per epoch (default: %(default)s{grows})")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="images per training step")
    parser.add_argument("--noise-factor", type=float, default=noise_factor,
                        help="standard deviation of the Gaussian noise (images are in [0, 1])")
    if filters is not None:
        parser.add_argument("--filters", type=int_list, default=filters, metavar="N,N",
                            help="filters per encoder level, e.g. 32,64 (each level halves the image)")
    if kernel_size is not None:
        parser.add_argument("--kernel-size", type=int, default=kernel_size,
                            help="height and width of every convolution kernel")
    if learning_rate is not None:
        parser.add_argument("--learning-rate", type=float, default=learning_rate,
                            help="Adam's starting learning rate")
    parser.add_argument("--precision", choices=("auto", "float32", "mixed"), default=precision,
                        help="auto: mixed precision where the hardware computes it natively "
                             "(GPU, bfloat16 CPU), else float32")
    parser.add_argument("--seed", type=int, default=seed, help="seed for weights, noise and shuffling")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="dataset folder (default: $DENOISE_DATA_DIR, else data/ beside the scripts)")
    parser.add_argument("--output-dir", type=Path, default=default_output_dir(script_file),
                        help="where plots, metrics and the model are written")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on at most N images (quick runs and tests)")
    parser.add_argument("--denoise", type=Path, nargs="+", metavar="IMAGE",
                        help="train nothing: denoise these PNG/JPEG files with the model trained "
                             "before (with --noise-factor, add that noise first)")
    parser.add_argument("--invert", action="store_true",
                        help="with --denoise: for dark strokes on a light background")
    return parser


def command_of(script_file: str, output_dir: Path | None = None) -> str:
    """How a learner runs the script: 'python denoise_transpose_mnist.py',
    with --output-dir when that is not the default."""
    command = f"python {Path(script_file).name}"
    if output_dir is not None and Path(output_dir) != default_output_dir(script_file):
        command += f" --output-dir {output_dir}"
    return command


def given(flag: str, argv: list[str] | None = None) -> bool:
    """Whether `flag` (e.g. "--noise-factor") was typed on the command line."""
    argv = sys.argv[1:] if argv is None else argv
    return any(arg == flag or arg.startswith(f"{flag}=") for arg in argv)


def check_training_args(args: argparse.Namespace, n_train: int | None = None) -> None:
    """One-line errors for values that cannot work."""
    if args.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    images_per_epoch = getattr(args, "images_per_epoch", None)
    if images_per_epoch is not None and images_per_epoch < args.batch_size:
        raise ConfigError(f"--images-per-epoch must be at least the batch size ({args.batch_size}), "
                          f"got {images_per_epoch}")
    if not 0 <= args.seed < 2**32:  # What numpy's seeding takes.
        raise ConfigError(f"--seed must be a whole number from 0 to {2**32 - 1}, got {args.seed}")
    if not (math.isfinite(args.noise_factor) and args.noise_factor >= 0):
        raise ConfigError(f"--noise-factor must be a number, 0 or more, got {args.noise_factor}")
    learning_rate = getattr(args, "learning_rate", None)
    if learning_rate is not None and not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ConfigError(f"--learning-rate must be a number above 0, got {learning_rate}")
    decoder_filters = getattr(args, "decoder_filters", None)
    if decoder_filters is not None and len(decoder_filters) != len(args.filters):
        raise ConfigError(f"--decoder-filters needs one value per encoder level ({len(args.filters)}), "
                          f"got {','.join(map(str, decoder_filters))}")
    kernel_size = getattr(args, "kernel_size", None)
    if kernel_size is not None and kernel_size < 1:
        raise ConfigError(f"--kernel-size must be at least 1, got {kernel_size}")
    if args.limit is not None and args.limit < 2:
        raise ConfigError(f"--limit must be at least 2 (a training and a validation image), "
                          f"got {args.limit}")
    if not getattr(args, "denoise", None):  # --denoise only reads a model there if it exists.
        check_output_dir(args.output_dir)
    if n_train is not None and args.batch_size > n_train:
        raise ConfigError(
            f"batch size {args.batch_size} is larger than the {n_train:,} training images: "
            "lower --batch-size or raise --limit"
        )


def check_output_dir(folder: Path) -> None:
    """Make `folder` if needed and prove a file can be written there, before
    any work: a file in its place, or a place nobody may write to, gets one line."""
    try:
        make_writable_folder(folder)
    except FileExistsError:
        raise ConfigError(f"--output-dir {folder} is a file, not a folder: choose another path") from None
    except OSError as error:
        raise ConfigError(f"--output-dir {folder} can't be written to ({error.strerror}): "
                          "choose a folder you can write to") from None


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run(main: Callable[[], object], resumable: bool = False) -> None:
    """Run `main`, ending with one line (not a traceback) on a user error or
    Ctrl-C/SIGTERM; only a `resumable` script offers to resume."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        then = ("run the same command again to resume from the last finished epoch" if resumable
                else "nothing was lost: run the same command again to start over")
        print(f"\ninterrupted: {then}", file=sys.stderr)
        sys.exit(130)

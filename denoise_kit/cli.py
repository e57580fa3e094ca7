"""Flags: every UPPERCASE constant of a script is also a flag of the same name.

    CONFIG = cli.override_from_flags(globals())

`IMAGES_PER_EPOCH` becomes `--images-per-epoch`, `OUTPUT_DIR` `--output-dir`,
a boolean `SHOW` `--show` (and `--no-show`), a tuple `FILTERS = (32, 64)`
`--filters 32,64`. The comment on the constant's line is the flag's help, and
the constant is its default. Every value is checked, from a flag or as the
script (or a notebook cell) set it: one that cannot work ends the run with
one line and exit code 2 before anything is written. In a notebook the
kernel's own arguments are ignored and the constants stay as the cells set them.

A denoiser's run with other constants than the page's defaults goes to a
folder of its own inside OUTPUT_DIR, named by what differs (run_folders.py):
OUTPUT_DIR and the page's global of that name become that folder.

A run of a script with an OUTPUT_DIR takes that folder for itself here,
before anything is loaded or printed: a second run into it stops at once,
with one line (folders.py). A denoiser given `--denoise a.png` (its constant
`DENOISE`) only reads the folder's model, and takes no lock
(own_images.denoise_and_exit).
"""

from __future__ import annotations

import argparse
import io
import math
import re
import sys
import textwrap
import tokenize
import types
import typing
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from denoise_kit import folders, phases, run_folders
from denoise_kit.errors import ConfigError
from denoise_kit.files import make_writable_folder
from denoise_kit.notebook import running_in_notebook

MAX_SEED = 2**32 - 1  # What numpy's seeding takes.
SIMPLE_TYPES = (bool, int, float, str, tuple, type(None))

CHOICES = {
    "DATASET": ("mnist", "notmnist", "fashion_mnist"),
    "PRECISION": ("auto", "float32", "mixed"),
    "INTERPOLATION": ("nearest", "bilinear"),
}


# How a denoiser runs, not what it teaches: flags of its own, set on the page only to change them.
# NAME: (default, help).
DENOISER_RUN_FLAGS: dict[str, tuple[Any, str]] = {
    "PRECISION": ("auto", '"float32", "mixed", or "auto": mixed precision where the hardware is native'),
    "STEPS_PER_EXECUTION": (16, "training steps per call into the compiled graph (a divisor of an epoch's)"),
    "TENSORBOARD": (False, "also log curves, pictures and the run's constants to OUTPUT_DIR/tensorboard"),
    "DENOISE": ((), "your own PNG/JPEG files: train nothing, denoise them with OUTPUT_DIR/model.keras"),
    "ADD_NOISE": (False, "with DENOISE: add NOISE_FACTOR noise to them first"),
    "INVERT": (False, "with DENOISE: for dark strokes on a light background"),
}


def override_from_flags(namespace: MutableMapping[str, Any], argv: list[str] | None = None,
                        run_flags: dict[str, tuple[Any, str]] | None = None) -> dict[str, Any]:
    """Replace the script's constants in `namespace` by the flags given, check
    every value, and return the constants as they now run.

    `namespace` is the script's `globals()`. As a program, `argv` defaults to
    sys.argv[1:]; in a notebook the flags are not read at all. `run_flags`
    (e.g. DENOISER_RUN_FLAGS) adds flags the page need not define: their values
    are in the returned dict only, unless the page sets them as constants.
    """
    phases.start_run(in_notebook=running_in_notebook())  # The run's clock (metrics.json's phase_seconds).
    extra = {name: spec for name, spec in (run_flags or {}).items() if name not in namespace}
    names = constant_names(namespace)
    as_program = "__file__" in namespace and not running_in_notebook()
    config = {name: namespace[name] for name in names}
    config.update({name: default for name, (default, _) in extra.items()})
    if as_program:
        parser = flag_parser(namespace, names, extra)
        given = vars(parser.parse_args(sys.argv[1:] if argv is None else argv))
        config = {name: given[name.lower()] for name in config}
        namespace.update({name: config[name] for name in names})
    check(config, spell=flag_of if as_program else str)
    script = run_folders.script_of(namespace, config)
    if script and not config.get("DENOISE"):  # --denoise reads the default run's model (or --output-dir's).
        config["run"] = run_folders.place(script, config, {n: d for n, (d, _) in (run_flags or {}).items()})
        config["OUTPUT_DIR"] = config["run"]["folder"]  # A tweak's own folder (run_folders.py),
        namespace["OUTPUT_DIR"] = config["OUTPUT_DIR"]  # where the page's cells write too.
    if "OUTPUT_DIR" in config and not config.get("DENOISE"):  # --denoise only reads the folder's model.
        folders.hold(config["OUTPUT_DIR"])  # This run's alone until it ends (a second run: one line).
    return config


def constant_names(namespace: MutableMapping[str, Any]) -> list[str]:
    """The script's configuration: its UPPERCASE names bound to plain values, in order."""
    return [name for name, value in namespace.items()
            if re.fullmatch(r"[A-Z][A-Z0-9_]*", name) and isinstance(value, SIMPLE_TYPES)]


def flag_of(name: str) -> str:
    """IMAGES_PER_EPOCH -> --images-per-epoch."""
    return "--" + name.lower().replace("_", "-")


# ----------------------------------------------------------------------------- the parser


def flag_parser(namespace: MutableMapping[str, Any], names: list[str],
                extra: dict[str, tuple[Any, str]] | None = None) -> argparse.ArgumentParser:
    """One flag per constant, its help the comment on the constant's line; then the `extra` ones."""
    script = Path(namespace["__file__"])
    comments = line_comments(script)
    annotations = namespace.get("__annotations__", {})
    parser = _OneLineErrors(prog=f"python {script.name}", description=help_text(namespace.get("__doc__")),
                            formatter_class=_HelpFormatter, allow_abbrev=False)
    for name in names:
        default = namespace[name]
        options = _flag_options(name, default, annotations.get(name))
        parser.add_argument(flag_of(name), dest=name.lower(), default=default,
                            help=comments.get(name, "").replace("%", "%%") or " ", **options)
    for name, (default, help_) in (extra or {}).items():
        parser.add_argument(flag_of(name), dest=name.lower(), default=default, help=help_.replace("%", "%%"),
                            **_flag_options(name, default, None))
    return parser


def _flag_options(name: str, default: Any, annotation: Any) -> dict[str, Any]:
    kind = _value_type(default, annotation)
    if name in CHOICES:
        return {"choices": CHOICES[name], "type": str}
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    if name == "DENOISE":
        return {"nargs": "+", "metavar": "IMAGE", "type": str}
    if kind == "ints":
        return {"type": int_list, "metavar": "N,N"}
    if kind == "floats":
        return {"type": float_list, "metavar": "X,X"}
    return {"type": kind}


def _value_type(default: Any, annotation: Any) -> Any:
    """bool, int, float, str, "ints" or "floats" (comma-separated tuples)."""
    if annotation is not None:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            annotation = args[0]
            args = list(typing.get_args(annotation))
        if typing.get_origin(annotation) is tuple:
            return {int: "ints", float: "floats"}.get(args[0] if args else str, str)
        return annotation
    if isinstance(default, tuple):
        return "floats" if any(isinstance(v, float) for v in default) else "ints"
    return type(default)


def line_comments(script: Path) -> dict[str, str]:
    """NAME -> the comment on the line that sets NAME at the top level of `script`."""
    comments: dict[str, str] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(script.read_text()).readline))
    except (OSError, tokenize.TokenError, SyntaxError):
        return comments
    for i, token in enumerate(tokens):
        starts_line = i == 0 or tokens[i - 1].type in (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT)
        if token.type == tokenize.NAME and token.start[1] == 0 and starts_line:
            for later in tokens[i:]:
                if later.type == tokenize.COMMENT and later.start[0] == token.start[0]:
                    comments[token.string] = later.string.lstrip("#").strip()
                    break
                if later.start[0] != token.start[0]:
                    break
    return comments


def help_text(doc: str | None) -> str:
    """The docstring's title and description as --help shows them: the
    keras.io header ("Title: ...", "Description: ...") without its labels."""
    # Only keras.io's own labels start a field: a wrapped line may begin "changes: ..." too.
    label = r"(?:Title|Author|Date created|Last modified|Description|Accelerator)"
    fields = dict(re.findall(rf"^({label}): (.*(?:\n(?!{label}: ).+)*)", (doc or "").strip(), re.M))
    title = fields.get("Title", "").strip()
    description = textwrap.fill(" ".join(fields.get("Description", "").split()), 79)
    return f"{title}\n\n{description}" if description else title


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each flag; the description's paragraphs kept."""


class _OneLineErrors(argparse.ArgumentParser):
    """A flag argparse can't read gets one line and exit code 2, like every
    other bad input, instead of the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


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


def float_list(text: str) -> tuple[float, ...]:
    """'0.2,0.5' -> (0.2, 0.5), for --noise-factors."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, e.g. 0.2,0.5,0.8; got {text!r}")
    return values


# ----------------------------------------------------------------------------- the checks


Spell = Callable[[str], str]


def check(config: dict[str, Any], spell: Spell = flag_of) -> None:
    """A ConfigError naming the first value that cannot work (as `spell` writes its name)."""
    for name, rule in RULES.items():
        if name in config:
            problem = rule(config[name], config)
            if problem:
                raise ConfigError(f"{spell(name)} {problem}")
    for name, choices in CHOICES.items():
        if name in config and config[name] not in choices:
            raise ConfigError(f"{spell(name)} must be one of {', '.join(choices)}, got {config[name]!r}")
    if config.get("DENOISE"):
        return  # Denoising only reads a model: the output folder need not be writable.
    for name in ("OUTPUT_DIR",):
        if name in config:
            check_output_dir(config[name], spell(name))


def _at_least(low: int) -> Callable[[Any, dict], str | None]:
    def rule(value, config):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            return f"must be at least {low}, got {value}"
        return None
    return rule


def _number(low: float, above: bool = False) -> Callable[[Any, dict], str | None]:
    def rule(value, config):
        ok = (isinstance(value, int | float) and math.isfinite(value)
              and (value > low if above else value >= low))
        bound = f" above {low:g}" if above else f", {low:g} or more"
        return None if ok else f"must be a number{bound}, got {value}"
    return rule


def _images_per_epoch(value, config):
    batch = config.get("BATCH_SIZE", 1)
    if value is not None and (not isinstance(value, int) or value < batch):
        return f"must be at least the batch size ({batch}), got {value}"
    return None


def _seed(value, config):
    last = value + config.get("SEEDS", 1) - 1 if isinstance(value, int) else value
    if not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        return f"must be a whole number from 0 to {MAX_SEED}, got {value}"
    if last > MAX_SEED:
        return f"with SEEDS = {config['SEEDS']} goes past {MAX_SEED}: choose a smaller seed"
    return None


def _filters(value, config):
    if not value or min(value) < 1:
        return f"needs at least one level, each of at least 1 filter, got {value}"
    if len(value) > 5:  # 28 -> 14 -> 7 -> 4 -> 2 -> 1: a sixth pooling level has nothing to halve.
        return f"has at most 5 levels (28 pixels halve to 1 in five), got {len(value)}"
    return None


def _decoder_filters(value, config):
    if len(value) != len(config.get("FILTERS", value)):
        return (f"needs one value per encoder level ({len(config['FILTERS'])}), "
                f"got {','.join(map(str, value))}")
    return None


def _limit(value, config):
    if value is not None and (not isinstance(value, int) or value < 2):
        return f"must be at least 2 (a training and a validation image), got {value}"
    return None


def _fraction(value, config):
    if not (isinstance(value, int | float) and 0 < value < 1):
        return f"must be a number between 0 and 1, got {value}"
    return None


def _noise_factors(value, config):
    if value is not None and not all(math.isfinite(v) and v >= 0 for v in value):
        return f"must be numbers, 0 or more, got {','.join(f'{v:g}' for v in value)}"
    return None


def _folder(what: str) -> Callable[[Any, dict], str | None]:
    """A folder to read from (None: the default one): a file there gets one line."""
    def rule(value, config):
        if value is not None and Path(value).is_file():
            return f"{value} is a file, not a folder: give the folder {what}"
        return None
    return rule


def _port(value, config):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        return f"must be a port number from 0 to 65535 (0: the first free one), got {value}"
    return None


def _tensorboard(value, config):
    """keras.callbacks.TensorBoard writes through TensorFlow's tf.summary, whatever the backend."""
    import importlib.util

    missing = [name for name in ("tensorflow", "tensorboard") if not importlib.util.find_spec(name)]
    if value and missing:
        import keras

        return (f"writes TensorFlow's summaries, and {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing beside the {keras.backend.backend()} "
                f"backend: pip install {' '.join(missing)}")
    return None


RULES: dict[str, Callable[[Any, dict], str | None]] = {
    "EPOCHS": _at_least(1),
    "BATCH_SIZE": _at_least(1),
    "IMAGES_PER_EPOCH": _images_per_epoch,
    "SEEDS": _at_least(1),
    "SEED": _seed,
    "NOISE_FACTOR": _number(0),
    "NOISE_FACTORS": _noise_factors,
    "LEARNING_RATE": _number(0, above=True),
    "FILTERS": _filters,
    "DECODER_FILTERS": _decoder_filters,
    "KERNEL_SIZE": _at_least(1),
    "LIMIT": _limit,
    "VALIDATION_FRACTION": _fraction,
    "STEPS_PER_EXECUTION": _at_least(1),
    "DATA_DIR": _folder("that holds the dataset"),
    "MODELS_DIR": _folder("the scripts saved their outputs in"),
    "PORT": _port,
    "TENSORBOARD": _tensorboard,
    "TUNING_IMAGES": _at_least(1),  # compare_decoders.py: each classical filter needs images to tune on,
    "SHOWN": _at_least(1),  # a picture at least one image wide,
    "INFERENCE_BATCH": _at_least(1),  # and batches to predict in.
}


def check_output_dir(folder: str | Path, name: str = "--output-dir") -> None:
    """Make `folder` if needed and prove a file can be written there, before
    any work: a file in its place, or a place nobody may write to, gets one line."""
    try:
        make_writable_folder(folder)
    except FileExistsError:
        raise ConfigError(f"{name} {folder} is a file, not a folder: choose another path") from None
    except OSError as error:
        raise ConfigError(f"{name} {folder} can't be written to ({error.strerror}): "
                          "choose a folder you can write to") from None

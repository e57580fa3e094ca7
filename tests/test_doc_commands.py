"""Every command a reader may copy from the README and docs/ works.

The commands are the `python ...` lines of the ```bash blocks of README.md and
docs/*.md (with their `VAR=value` prefixes, `export` lines, `&&` chains,
trailing `# comments` and `\\` continuations). The quick test checks each
without starting TensorFlow: the script is there, and its flags parse with
the script's own parser, rebuilt from its source: for a script, its UPPERCASE
constants through denoise_kit.cli.flag_parser (NOISE_FACTOR -> --noise-factor),
as the script builds it; for a benchmark, its `add_argument` calls.

The slow test runs each distinct command in a new process, in an empty folder
(so what it writes lands there), with the real data of $DENOISE_DATA_DIR:
- at its quick size: as typed when the doc calls it "a quick look" (in its
  comment or the sentence before its block), else with the flags of the doc's quick
  command for the same script appended (the later flags win);
- with `--help` otherwise (a server, a full training), checking that the
  help lists every flag the command names;
- a script that takes no flags (the demos, seconds each) runs as typed.
`python -m pytest` lines are not run (they are this test run). The benchmark
commands that have a quick look in docs/speed.md are run, with their output
checked, by tests/test_benchmarks.py.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from conftest import REAL_DATA, ROOT, learner_env, real_data_dir

from denoise_kit import cli

DOCS = ("README.md", "docs/*.md")
DATA_ENV = "DENOISE_DATA_DIR"
RUN_TIMEOUT_S = 900
QUICK = re.compile(r"\bquick look\b", re.IGNORECASE)
SHELL_BLOCK = re.compile(r"^\s*```\s*(bash|sh|shell)\s*$")


@dataclass(frozen=True)
class DocCommand:
    """One `python ...` command of a doc, where it is and how it reads."""

    doc: str  # The doc's path from the project's root.
    line: int  # Its first line in the doc, from 1.
    text: str  # As written, comment included.
    args: tuple[str, ...]  # After `python`: the script (or -m MODULE) and its arguments.
    env: tuple[tuple[str, str], ...] = ()  # VAR=value prefixes and earlier `export`s of its block.
    quick: bool = False  # The doc calls it a quick one.

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def module(self) -> str | None:
        return self.args[1] if self.args[:1] == ("-m",) and len(self.args) > 1 else None

    @property
    def script(self) -> str:
        return self.args[0]

    @property
    def flags(self) -> tuple[str, ...]:
        return self.args[1:]


# ----------------------------------------------------------------------------- reading the docs


def doc_paths() -> list[Path]:
    return [path for pattern in DOCS for path in sorted(ROOT.glob(pattern))]


def split_comment(line: str) -> tuple[str, str]:
    """(the command, the comment after its `#`), quotes respected."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def shell_blocks(text: str):
    """(first line number, lines, the prose just before) of each ```bash block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if SHELL_BLOCK.match(lines[i]):
            before = []
            for earlier in reversed(lines[:i]):
                if not earlier.strip():
                    if before:
                        break
                    continue
                before.insert(0, earlier)
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```")),
                       len(lines))
            yield i + 2, lines[i + 1:end], " ".join(before)
            i = end
        i += 1


def commands_in(doc: Path, root: Path = ROOT) -> list[DocCommand]:
    found = []
    relative = doc.relative_to(root).as_posix()
    for first, lines, before in shell_blocks(doc.read_text()):
        exports: dict[str, str] = {}
        block_quick = bool(QUICK.search(before))
        i = 0
        while i < len(lines):
            start, text = i, lines[i]
            while text.rstrip().endswith("\\") and i + 1 < len(lines):  # A continued line.
                i += 1
                text = text.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
            command, comment = split_comment(text)
            try:
                words = shlex.split(command)
            except ValueError as error:
                raise AssertionError(f"{relative}:{first + start}: can't read {command!r}: {error}") from None
            for segment in _segments(words):
                env = dict(exports)
                while segment and re.fullmatch(r"[A-Za-z_]\w*=.*", segment[0]):
                    name, value = segment.pop(0).split("=", 1)
                    env[name] = value
                if segment[:1] == ["export"]:
                    exports.update(word.split("=", 1) for word in segment[1:] if "=" in word)
                elif segment[:1] in (["python"], ["python3"]) and len(segment) > 1:
                    found.append(DocCommand(relative, first + start, text.strip(), tuple(segment[1:]),
                                            tuple(sorted(env.items())),
                                            block_quick or bool(QUICK.search(comment))))
    return found


def _segments(words: list[str]):
    """The simple commands of a line: split at &&, ||, ; and |."""
    segment: list[str] = []
    for word in words:
        if word in ("&&", "||", ";", "|"):
            if segment:
                yield segment
            segment = []
        else:
            segment.append(word)
    if segment:
        yield segment


@cache
def doc_commands() -> tuple[DocCommand, ...]:
    return tuple(command for doc in doc_paths() for command in commands_in(doc))


def script_commands() -> list[DocCommand]:
    return [command for command in doc_commands() if command.module is None]


# ----------------------------------------------------------------------------- the scripts' parsers


class RefusedFlags(Exception):
    """What argparse said about the flags."""


@dataclass
class ScriptParser:
    """A script's command line, read from its source without running it."""

    parser: argparse.ArgumentParser | None  # None: the script reads no flags.
    passes_on_to: str | None = None  # A benchmark's SCRIPT, which gets the flags after `--`.
    needs_data: bool = False  # It loads a dataset (a DATA_DIR constant or a --data-dir flag).
    writes_json: bool = False  # A benchmark with --json.
    option_strings: set[str] = field(default_factory=set)

    def parse(self, flags: tuple[str, ...]) -> argparse.Namespace:
        """The flags as the script reads them; RefusedFlags with argparse's message."""
        assert self.parser is not None
        flags = tuple(flag for flag in flags if flag not in ("-h", "--help"))
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                return self.parser.parse_args(list(flags))
        except SystemExit:
            raise RefusedFlags(stderr.getvalue().strip() or "refused") from None


@cache
def script_parser(path: Path) -> ScriptParser:
    tree = ast.parse(path.read_text(), str(path))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    if any(_called(call) == "override_from_flags" for call in calls):
        parser, needs_data = _constants_parser(path, tree)
    elif _parser_calls(calls):
        parser, needs_data = _argparse_parser(path, calls)
    else:
        return ScriptParser(None)
    options = {option for action in parser._actions for option in action.option_strings}
    return ScriptParser(parser, _passed_on_to(path, tree), needs_data, "--json" in options, options)


def _called(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)


def _parser_calls(calls: list[ast.Call]) -> list[ast.Call]:
    """`parser.add_argument(...)` calls (not a browser's `options.add_argument`)."""
    return [call for call in calls if _called(call) == "add_argument"
            and "parser" in getattr(call.func.value, "id", "")]


def _constants_parser(path: Path, tree: ast.Module) -> tuple[argparse.ArgumentParser, bool]:
    """denoise_kit.cli's parser, from the UPPERCASE constants set before the script's
    `cli.override_from_flags(globals(), run_flags=...)` (those whose values Python alone can
    compute), and the run flags it names from the kit."""
    namespace: dict = {"__file__": str(path), "__doc__": ast.get_docstring(tree, clean=False),
                       "__annotations__": {}}
    run_flags: dict = {}
    for statement in tree.body:
        override = next((node for node in ast.walk(statement)
                         if isinstance(node, ast.Call) and _called(node) == "override_from_flags"), None)
        if override is not None:
            for keyword in override.keywords:
                if keyword.arg == "run_flags":  # E.g. cli.DENOISER_RUN_FLAGS.
                    run_flags = eval(compile(ast.Expression(keyword.value), str(path), "eval"),
                                     {"cli": cli, **vars(cli)})
            break
        target = statement.targets[0] if isinstance(statement, ast.Assign) else getattr(statement, "target",
                                                                                            None)
        if not isinstance(target, ast.Name) or getattr(statement, "value", None) is None:
            continue
        try:
            namespace[target.id] = eval(compile(ast.Expression(statement.value), str(path), "eval"),
                                        {"__builtins__": __builtins__}, namespace)
            if isinstance(statement, ast.AnnAssign):
                namespace["__annotations__"][target.id] = eval(
                    compile(ast.Expression(statement.annotation), str(path), "eval"), {}, namespace)
        except Exception:  # A value made by an import (an array, a Path): not a flag.
            namespace.pop(target.id, None)
    names = cli.constant_names(namespace)
    extra = {name: spec for name, spec in (run_flags or {}).items() if name not in namespace}
    parser = cli.flag_parser(namespace, names, extra) if extra else cli.flag_parser(namespace, names)
    parser.error = _refuse  # An instance's own error(): argparse calls it for every refusal.
    return parser, "DATA_DIR" in names


def _argparse_parser(path: Path, calls: list[ast.Call]) -> tuple[argparse.ArgumentParser, bool]:
    """A parser with the benchmark's `add_argument` calls, their arguments as far as Python
    alone can compute them (type, nargs, action, choices)."""
    parser = argparse.ArgumentParser(prog=path.name, allow_abbrev=False)  # A doc spells flags out.
    parser.error = _refuse
    names = {"int": int, "float": float, "str": str, "Path": Path}
    for call in _parser_calls(calls):
        args = [ast.literal_eval(arg) for arg in call.args]
        options = {}
        for keyword in call.keywords:
            if keyword.arg in ("type", "nargs", "action", "choices", "dest"):
                try:
                    options[keyword.arg] = eval(compile(ast.Expression(keyword.value), str(path), "eval"),
                                                {"__builtins__": {}}, names)
                except Exception:  # choices=list(BUILDERS): any value goes.
                    pass
        parser.add_argument(*args, **options)
    return parser, "--data-dir" in parser._option_string_actions


def _refuse(message: str):
    raise RefusedFlags(message)


def _passed_on_to(path: Path, tree: ast.Module) -> str | None:
    """A benchmark's `SCRIPT = ROOT / "x.py"`: the script that gets the flags after `--`."""
    for statement in tree.body:
        value = getattr(statement, "value", None)
        if (isinstance(statement, ast.Assign) and getattr(statement.targets[0], "id", None) == "SCRIPT"
                and isinstance(value, ast.BinOp) and isinstance(value.right, ast.Constant)):
            return value.right.value
    return None


def split_passed_on(flags: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the benchmark's own flags, those after `--` for its script)."""
    if "--" in flags:
        at = flags.index("--")
        return flags[:at], flags[at + 1:]
    return flags, ()


def flag_problems(command: DocCommand) -> list[str]:
    """What is wrong with a script command as the doc writes it (nothing: [])."""
    path = ROOT / command.script
    if not path.is_file():
        return [f"{command.script} is not in the project"]
    parsed = script_parser(path)
    own, passed_on = split_passed_on(command.flags)
    if parsed.parser is None:
        return [f"{command.script} takes no flags, the doc gives {' '.join(command.flags)}"] if own else []
    problems = []
    try:
        parsed.parse(own)
    except RefusedFlags as refusal:
        problems.append(f"{command.script}: {refusal}")
    if passed_on and parsed.passes_on_to:
        problems += flag_problems(DocCommand(command.doc, command.line, command.text,
                                             (parsed.passes_on_to, *passed_on)))
    return problems


# ----------------------------------------------------------------------------- how each one runs


@dataclass(frozen=True)
class Run:
    """A command as the slow test runs it."""

    script: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    how: str  # "quick", "help" or "typed".
    sources: tuple[DocCommand, ...] = ()

    def key(self):
        """Runs that do the same work: the script, the environment and the flags as parsed."""
        parsed = script_parser(ROOT / self.script)
        own, passed_on = split_passed_on(self.args)
        env = tuple((name, value) for name, value in self.env if name != DATA_ENV)  # The real data's, always.
        if parsed.parser is None or self.how == "help":
            return self.script, self.args, env
        flags = tuple(sorted((name, repr(value)) for name, value in vars(parsed.parse(own)).items()))
        return self.script, flags, passed_on, env


def quick_command_for(command: DocCommand) -> DocCommand | None:
    """The doc's quick command for the same script: this one if it is quick, else the nearest."""
    if command.quick:
        return command
    quick = [other for other in script_commands()
             if other.quick and other.doc == command.doc and other.script == command.script]
    return min(quick, key=lambda other: abs(other.line - command.line)) if quick else None


def names_your_own_file(command: DocCommand) -> bool:
    """A command for the reader's own file (`--denoise my_digit.png`), which the project lacks."""
    return any(re.fullmatch(r"[\w./-]+\.(png|jpe?g|gif|bmp|npz|gz|keras)", arg) and not (ROOT / arg).exists()
               for arg in command.flags)


def run_of(command: DocCommand) -> Run:
    parsed = script_parser(ROOT / command.script)
    if parsed.parser is None:
        return Run(command.script, command.flags, command.env, "typed", (command,))
    quick = quick_command_for(command)
    if quick is None or names_your_own_file(command):
        own, passed_on = split_passed_on(command.flags)
        return Run(command.script, (*own, "--help"), command.env, "help", (command,))
    if quick is command:
        return Run(command.script, command.flags, command.env, "quick", (command,))
    own, passed_on = split_passed_on(command.flags)
    quick_own, quick_passed_on = split_passed_on(quick.flags)
    tail = ("--", *passed_on, *quick_passed_on) if passed_on or quick_passed_on else ()
    return Run(command.script, (*own, *quick_own, *tail), command.env, "quick", (command,))


def benchmark_quick_looks() -> list[DocCommand]:
    """docs/speed.md's quick commands of the benchmarks, which tests/test_benchmarks.py runs."""
    return [command for command in script_commands()
            if command.doc == "docs/speed.md" and command.quick and command.script.startswith("benchmarks/")]


def distinct_runs() -> list[Run]:
    """Each distinct run once, with the doc lines that lead to it; the benchmarks' quick looks
    left to tests/test_benchmarks.py."""
    left_out = {run_of(command).key() for command in benchmark_quick_looks() if not flag_problems(command)}
    runs: dict = {}
    for command in script_commands():
        if not (ROOT / command.script).is_file():
            continue  # The quick test names it.
        run = run_of(command)
        try:
            key = run.key()
        except RefusedFlags:
            continue  # Its flags, or its doc's quick ones, are wrong: the quick test names them.
        if key in left_out:
            continue
        if key in runs:
            first = runs[key]
            runs[key] = Run(first.script, first.args, first.env, first.how, (*first.sources, command))
        else:
            runs[key] = run
    return list(runs.values())


# ----------------------------------------------------------------------------- the tests


def test_the_docs_have_commands():
    """The reading works: the README's first command and the benchmarks' quick looks are found."""
    commands = doc_commands()
    assert any(command.doc == "README.md" for command in commands)
    assert benchmark_quick_looks(), "docs/speed.md has no quick look of the benchmarks"
    assert not [command for command in commands if not command.args or command.args[0].startswith("-")
                and command.module is None], "a python command without a script"


@pytest.mark.parametrize("command", doc_commands(), ids=lambda command: command.where)
def test_each_command_names_a_script_and_its_flags(command):
    if command.module is not None:
        assert importlib.util.find_spec(command.module), (
            f"{command.where}: `{command.text}`: no module {command.module}")
        return
    problems = flag_problems(command)
    assert not problems, f"{command.where}: `{command.text}`: " + "; ".join(problems)


def test_a_misspelt_flag_is_named_with_its_doc_line(tmp_path):
    """The check above fails where a doc names a flag a script lacks, and says where."""
    doc = tmp_path / "doc.md"
    doc.write_text("Text.\n\n```bash\nexport DENOISE_DATA_DIR=/data\n"
                   "python denoise_transpose_mnist.py --epochz 2   # a quick look\n```\n")
    (command,) = commands_in(doc, root=tmp_path)
    assert (command.where, command.quick, command.env) == ("doc.md:5", True, (("DENOISE_DATA_DIR", "/data"),))
    problems = flag_problems(command)
    assert problems and "--epochz" in problems[0], problems


def test_flags_parse_as_the_scripts_read_them():
    """The rebuilt parsers give a script's constant as its flag's default, and refuse a bad value."""
    parsed = script_parser(ROOT / "denoise_transpose_mnist.py")
    assert parsed.needs_data and not parsed.writes_json
    assert parsed.parse(("--noise-factor", "0.8")).noise_factor == 0.8
    with pytest.raises(RefusedFlags, match="invalid float"):
        parsed.parse(("--noise-factor", "high"))
    benchmark = script_parser(ROOT / "benchmarks" / "where_time_goes.py")
    assert benchmark.writes_json and benchmark.passes_on_to == "denoise_transpose_mnist.py"


def needs_data(script: str) -> bool:
    """The script loads a dataset, or runs one that does."""
    parsed = script_parser(ROOT / script)
    return parsed.needs_data or (parsed.passes_on_to is not None and needs_data(parsed.passes_on_to))


def dataset_of(script: str, flags: tuple[str, ...]) -> str:
    """The dataset a run loads: its --dataset (or its script's, after `--`), else MNIST."""
    parsed = script_parser(ROOT / script)
    own, passed_on = split_passed_on(flags)
    if parsed.parser is not None and "--dataset" in parsed.option_strings:
        return parsed.parse(own).dataset
    return dataset_of(parsed.passes_on_to, passed_on) if parsed.passes_on_to else "mnist"


@pytest.mark.slow
@pytest.mark.parametrize("run", distinct_runs(), ids=lambda run: f"{run.sources[0].where}-{run.how}")
def test_each_command_runs(run, tmp_path):
    where = ", ".join(f"{command.where} `{command.text}`" for command in run.sources)
    env = dict(run.env)
    if run.how != "help" and needs_data(run.script):
        env[DATA_ENV] = str(real_data_dir(dataset_of(run.script, run.args)))  # Else a skip, saying why.
    elif DATA_ENV in env:
        env[DATA_ENV] = REAL_DATA or str(tmp_path / "no-data")
    parsed = script_parser(ROOT / run.script)
    args = list(run.args)
    for i, arg in enumerate(args[:-1]):  # A doc's placeholder folder: the real data.
        if arg == "--data-dir" and run.how != "help":
            args[i + 1] = env[DATA_ENV]
    if parsed.writes_json and run.how != "help":  # Never over the committed results.
        own, passed_on = split_passed_on(run.args)
        args = [*own, "--json", str(tmp_path / "results.json"), *(("--", *passed_on) if passed_on else ())]
    # In an empty folder: a script's outputs/ lands there.
    finished = subprocess.run([sys.executable, str(ROOT / run.script), *args], cwd=tmp_path,
                              env=learner_env(**env), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    output = (finished.stdout + finished.stderr)[-3000:]
    assert finished.returncode == 0, (
        f"{where}, run as `python {run.script} {' '.join(args)}`, exit {finished.returncode}:\n{output}")
    if run.how == "help":
        listed = set(re.findall(r"(?<![\w-])--?[a-zA-Z][\w-]*", finished.stdout))
        named = {flag.split("=")[0] for flag in split_passed_on(run.args)[0] if flag.startswith("-")}
        assert named <= listed, f"{where}: --help lists none of {sorted(named - listed)}"
        assert parsed.option_strings <= listed, (
            f"{run.script}'s flags as read from its source {sorted(parsed.option_strings - listed)} are "
            "not in its --help: this test reads its flags wrong")
    if parsed.writes_json and run.how != "help":
        assert (tmp_path / "results.json").is_file(), f"{where} wrote no JSON"

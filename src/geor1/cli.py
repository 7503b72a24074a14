"""The ``geor1`` command. Each subcommand lives in its own module, which defines
``add_arguments(parser)`` and ``run(args) -> int``; this file only lists them, so ``geor1 --help``
stays fast (heavy imports happen when a subcommand runs)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from pathlib import Path

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("geor1.synth.cli", "make a GeoSynth dataset (rec, ovd, gres, crossview, geoloc)"),
    "convert": ("geor1.data.convert", "convert a public dataset into the geor1 schema"),
    "fewshot": ("geor1.data.fewshot", "take nested k-shot splits per category"),
    "validate": ("geor1.data.validate", "check a dataset folder against the schema"),
    "train": ("geor1.train.cli", "SFT or GRPO/DAPO training from a YAML recipe"),
    "pretrain": ("geor1.pretrain.cli", "pretrain a tiny model on GeoSynth, one phase per recipe"),
    "engine": ("geor1.engine.cli", "make reasoning-annotated SFT data with a teacher"),
    "eval": ("geor1.evaluation.cli", "evaluate a model on a dataset"),
    "predict": ("geor1.evaluation.predict", "run a model on one image and draw its answer"),
    "report": ("geor1.report.cli", "write an HTML report for a run folder"),
    "demo": ("geor1.demo", "the main job on the embedded default, end to end"),
    "model": ("geor1.models.cli", "inspect or build the built-in tiny model"),
}


_PACKAGE_DIR = Path(__file__).resolve().parent


def user_errors() -> tuple[type, ...]:
    """Errors that are the input's, not geor1's: their message is the whole story (SchemaError and
    RecipeError name the file, line, field or flag). Imported late: they cost seconds to import."""
    from geor1.data.schema import SchemaError
    from geor1.train.recipe import RecipeError

    return (SchemaError, RecipeError, FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError,
            PermissionError, UnicodeError)


def _exists(module: str) -> bool:
    # Look for the file rather than calling find_spec, which would import (slow) parent packages.
    rel = Path(*module.split(".")[1:])
    return (_PACKAGE_DIR / rel.with_suffix(".py")).is_file() or (_PACKAGE_DIR / rel / "__init__.py").is_file()


def available_commands() -> dict[str, tuple[str, str]]:
    """The subcommands whose modules are installed."""
    return {n: v for n, v in COMMANDS.items() if _exists(v[0])}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geor1", description="Geo-R1: reinforcement fine-tuning that teaches "
                                     "vision-language models to reason first, then act, on geospatial images.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (default: one line naming the file, line, field or flag)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in available_commands().items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = available_commands()
    # Parse the global part first, then hand the rest to the subcommand's own parser.
    first = next((i for i, a in enumerate(argv) if a in commands), None)
    if first is None:
        if argv and argv not in (["-h"], ["--help"]):
            bad = next((a for a in argv if not a.startswith("-")), argv[0])
            parser.print_usage(sys.stderr)
            print(f"geor1: unknown command {bad!r} (commands: {', '.join(commands)})", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    global_args = parser.parse_args(argv[:first])
    # transformers 5 warns on every step that TRL still passes `gradient_checkpointing`; not the user's to fix.
    warnings.filterwarnings("ignore", message=".*is deprecated and will be removed in v6", category=FutureWarning)
    logging.basicConfig(level=logging.DEBUG if global_args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    name = argv[first]
    module_name, help_text = commands[name]
    module = importlib.import_module(module_name)
    sub = argparse.ArgumentParser(prog=f"geor1 {name}", description=module.__doc__ or help_text,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(sub)
    args = sub.parse_args(argv[first + 1:])
    set_threads()
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"geor1 {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 -- the boundary: one line for a person, the traceback with --debug
        if global_args.debug or os.environ.get("GEOR1_DEBUG"):
            raise
        print(f"geor1 {name}: {error_line(e)}", file=sys.stderr)
        return 2 if isinstance(e, user_errors()) else 1


def error_line(e: BaseException) -> str:
    """One line for a person: the message of a user error as it is (SchemaError and RecipeError
    name the file, line, field or flag), other errors with their type and a pointer to --debug."""
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, user_errors()):
        return text
    return f"{type(e).__name__}: {text} (geor1 --debug … shows where)"


def set_threads() -> None:
    """torch's threads for this process: GEOR1_THREADS, else OMP_NUM_THREADS as torch reads it, else
    one fewer than the cores this process may use (at least one). Measured: GRPO with torch's default
    (every core) ran 11-14 s a step while another process used a core, 2.5 s with one thread."""
    if "OMP_NUM_THREADS" in os.environ and "GEOR1_THREADS" not in os.environ:
        return
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, int(os.environ.get("GEOR1_THREADS", cores - 1))))


if __name__ == "__main__":
    sys.exit(main())

"""Convert a public dataset into the geor1 schema.

    geor1 convert FORMAT SRC --out DIR [--split SPLIT] [--option KEY=VALUE ...]

FORMAT is a registered converter (``geor1.data.converters.CONVERTERS``); SRC is the dataset as
downloaded; DIR receives ``data.jsonl`` and ``images/`` (hard links to SRC's images where the file
system allows, copies otherwise). ``--split`` and each ``--option KEY=VALUE`` are passed to the
converter as keyword arguments; a VALUE is read as JSON when it parses (``true``, ``3``, ``[1,2]``)
and as a plain string otherwise. The written dataset is loaded back and validated before the
command reports success. Each converter's on-disk format is in its module docstring
(``geor1 convert FORMAT --help-format``).

This module also holds what the converters share: :func:`safe_relpath` and :func:`link_image` (the
one guard that keeps every converter's writes inside ``--out``), :func:`image_size` and
:func:`record_error`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import sys
from pathlib import Path

from geor1.data.converters import CONVERTERS, get_converter
from geor1.data.schema import SchemaError, load_dataset

IMAGES_DIR = "images"


def safe_relpath(rel: str, *, where: str | os.PathLike | None = None, field: str | None = None) -> str:
    """``rel`` with forward slashes, if it names a file *inside* a folder; else SchemaError naming
    ``where`` and ``field``. Refused: empty, absolute (``/x``, ``C:x``), ``..`` or empty parts
    (``a//b``). Every path a converter takes from an annotation goes through here."""
    text = str(rel).strip().replace("\\", "/")
    parts = text.split("/")
    if (not text or text.startswith("/") or (len(text) > 1 and text[1] == ":") or "\0" in text
            or any(p in ("", ".", "..") for p in parts)):
        raise SchemaError(f"image path {str(rel)!r} must stay inside the dataset folder", file=where, field=field)
    return text


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def link_image(src: Path, out: Path, rel: str, *, src_root: Path | None = None, where=None, field=None) -> str:
    """Put image ``src`` at ``out/rel`` (a hard link, or a copy across file systems) and return
    ``rel``. Images live inside the dataset root because the loader refuses paths that leave it.

    Nothing is written or linked outside ``out``: ``rel`` must be a plain relative path
    (:func:`safe_relpath`), its folder must resolve inside ``out`` (a symbolic link there cannot lead
    elsewhere), and a link already at ``out/rel`` is replaced, never written through. With
    ``src_root``, ``src`` must also lie inside it (a name like ``../../secret`` in an annotation)."""
    rel = safe_relpath(rel, where=where, field=field)
    if src_root is not None and not _inside(Path(os.path.normpath(os.path.abspath(src))),
                                            Path(os.path.normpath(os.path.abspath(src_root)))):
        raise SchemaError(f"image {str(src)!r} is outside the source folder {str(src_root)!r}", file=where, field=field)
    if not Path(src).is_file():
        raise SchemaError(f"image not found: {src}", file=where or src, field=field)
    root = Path(out).resolve()
    dst = root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not _inside(dst.parent.resolve(), root):
        raise SchemaError(f"{rel!r} would leave the output folder {str(out)!r} through a symbolic link",
                          file=where, field=field)
    if dst.is_symlink():
        dst.unlink()
    elif dst.exists():
        if os.path.samefile(src, dst):
            return rel
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)
    return rel


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image, reading only its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, UnidentifiedImageError) as e:
        raise SchemaError(f"unreadable image ({e})", file=path) from None


def record_error(path: Path, record: int | str, problem: str, field: str | None = None) -> SchemaError:
    """A SchemaError for record ``record`` (index or id) of ``path``, reading
    ``path: record 3, field 'x': problem``."""
    where = f"record {record}" + (f", field '{field}'" if field else "")
    return SchemaError(f"{where}: {problem}", file=path)


def parse_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` → ``(key, value)``; VALUE as JSON when it parses, else the string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)
    except ValueError:
        return key.replace("-", "_"), value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=sorted(CONVERTERS), metavar="FORMAT",
                        help=f"dataset format: {', '.join(sorted(CONVERTERS))}")
    parser.add_argument("src", type=Path, nargs="?", metavar="SRC", help="the dataset folder as downloaded")
    parser.add_argument("--out", type=Path, help="output dataset folder")
    parser.add_argument("--split", help="which split to convert (converter-specific; default: all)")
    parser.add_argument("--option", type=parse_option, action="append", default=[], metavar="KEY=VALUE",
                        help="a converter option (repeatable), e.g. --option negatives=true")
    parser.add_argument("--help-format", action="store_true", help="print the on-disk format FORMAT reads")


def run(args: argparse.Namespace) -> int:
    convert = get_converter(args.format)
    if args.help_format:
        print(inspect.getdoc(inspect.getmodule(convert)) or "")
        print(f"\n{convert.__name__}{inspect.signature(convert)}")
        return 0
    if args.src is None or args.out is None:
        print("error: SRC and --out are required", file=sys.stderr)
        return 2
    options = dict(args.option)
    if args.split is not None:
        options["split"] = args.split
    params = inspect.signature(convert).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        known = [n for n in params if n not in ("src", "out")]
        unknown = sorted(set(options) - set(known))
        if unknown:
            print(f"error: {args.format} has no option {', '.join(unknown)} (known: {', '.join(known) or 'none'})",
                  file=sys.stderr)
            return 2
    try:
        n = convert(args.src, args.out, **options)
        dataset = load_dataset(args.out)
    except (SchemaError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.format}: wrote {n} samples to {args.out} ({len(dataset)} load back)")
    return 0

"""Make a GeoSynth dataset (or a contact sheet of samples).

  geor1 synth rec --n 1000 --seed 0 --out data/synth_rec [--style A|B] [--size 448] [--categories seen]
  geor1 synth gres --n 200 --seed 1 --out data/gres_heldout --categories held-out --style B
  geor1 synth crossview --n 500 --seed 0 --out data/cv [--k 4] [--hard-fraction 0.5]
  geor1 synth contact-sheet --out docs/images/geosynth_contact_sheet.png [--n 4]

Each task's builder and the options it takes are in geor1.synth.registry: rec, ovd, gres and counting
are aerial scenes (geor1.synth.builders); crossview and geoloc come from the planet and its ground
panoramas (geor1.synth.crossview). The same arguments give byte-identical output.
Categories: names (``storage_tank`` or "storage tank"), ``seen`` or ``held-out``.
"""

from __future__ import annotations

import argparse
import logging
import time

from geor1.synth.registry import BUILDERS, OPTIONS, builder_for, write
from geor1.synth.scene import CATEGORIES, parse_categories

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=[*BUILDERS, "contact-sheet"])
    parser.add_argument("--out", required=True, help="dataset folder (contact-sheet: the PNG to write)")
    parser.add_argument("--n", type=int, help="number of samples (contact-sheet: tiles per task, default 4)")
    parser.add_argument(
        "--seed", type=int, default=0, help="base seed; sample i depends only on (seed, task, style, i)"
    )
    parser.add_argument("--style", choices=["A", "B"], default="A", help="sensor and world style")
    parser.add_argument("--size", type=int, default=448, help="image side in pixels")
    parser.add_argument(
        "--categories",
        nargs="+",
        metavar="CATEGORY",
        help=f"limit scenes to these categories, or 'seen' / 'held-out' (known: {', '.join(CATEGORIES)})",
    )
    parser.add_argument("--split", default="", help="value of the samples' split field")
    for name, (kind, text, choices) in OPTIONS.items():
        takers = ", ".join(t for t, b in BUILDERS.items() if name in b.options)
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            parser.add_argument(flag, action="store_const", const=True, help=f"{takers}: {text}")
        else:
            parser.add_argument(flag, type=kind, choices=choices, help=f"{takers}: {text}")
    parser.add_argument("--tasks", nargs="+", help="contact-sheet: tasks to show (default: all)")
    parser.add_argument("--tile", type=int, default=300, help="contact-sheet: pixels per tile (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    if args.size < 64:
        raise SystemExit(f"geor1 synth: --size must be at least 64 pixels, got {args.size}")
    if args.task == "contact-sheet":
        from geor1.synth.contact_sheet import write_contact_sheet

        path = write_contact_sheet(args.out, tasks=args.tasks, n=args.n or 4, seed=args.seed, size=args.size,
                                   tile=args.tile)
        print(f"wrote {path}")
        return 0
    if args.n is None or args.n < 1:
        raise SystemExit("geor1 synth: --n N (a positive number of samples) is required")
    options = {name: getattr(args, name) for name in OPTIONS}
    try:
        builder_for(args.task, options, args.categories)  # the flags this builder takes, before any work
        categories = parse_categories(args.categories) if args.categories else None
    except ValueError as e:
        raise SystemExit(f"geor1 synth: {e}") from None
    start = time.perf_counter()
    count = write(args.task, args.out, args.n, args.seed, args.size, args.style, categories=categories,
                  split=args.split, **options)
    seconds = time.perf_counter() - start
    print(
        f"wrote {count} {args.task} samples to {args.out} in {seconds:.1f} s "
        f"({count / max(seconds, 1e-9):.1f}/s)"
    )
    return 0

"""Make a GeoSynth dataset (or a contact sheet of samples).

  geor1 synth rec --n 1000 --seed 0 --out data/synth_rec [--style A|B] [--size 448] [--categories seen]
  geor1 synth gres --n 200 --seed 1 --out data/gres_heldout --categories held-out --style B
  geor1 synth crossview --n 500 --seed 0 --out data/cv [--k 4] [--hard-fraction 0.5]
  geor1 synth contact-sheet --out docs/images/geosynth_contact_sheet.png [--n 4]

Tasks rec, ovd and gres are aerial scenes (geor1.synth.builders); crossview and geoloc come from the
planet and its ground panoramas (geor1.synth.crossview). The same arguments give byte-identical output.
Categories: names (``storage_tank`` or "storage tank"), ``seen`` or ``held-out``.
"""

from __future__ import annotations

import argparse
import logging
import time

from geor1.synth.scene import CATEGORIES, parse_categories

log = logging.getLogger(__name__)

AERIAL_TASKS = ("rec", "ovd", "gres")
PLANET_TASKS = ("crossview", "geoloc")
# option name on the command line -> keyword for the builder, and which tasks take it
TASK_OPTIONS = {
    "unique_fraction": ("rec",),
    "absent_fraction": ("ovd",),
    "multi_fraction": ("gres",),
    "no_target_fraction": ("gres",),
    "max_objects": AERIAL_TASKS,
    "workers": AERIAL_TASKS,
    "k": ("crossview",),
    "hard_fraction": ("crossview",),
    "hard_radius_km": ("crossview",),
    "easy_min_km": ("crossview",),
    "reverse": ("crossview",),
    "view": ("geoloc",),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=[*AERIAL_TASKS, *PLANET_TASKS, "contact-sheet"])
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
    parser.add_argument("--max-objects", type=int, help="cap on objects per scene (rec, ovd, gres)")
    parser.add_argument("--unique-fraction", type=float, help="rec: share of targets alone in their category")
    parser.add_argument("--absent-fraction", type=float, help="ovd: share of queries for an absent category")
    parser.add_argument("--multi-fraction", type=float, help="gres: share of multi-target expressions")
    parser.add_argument("--no-target-fraction", type=float, help="gres: share of expressions with no target")
    parser.add_argument("--k", type=int, help="crossview: number of candidates")
    parser.add_argument("--hard-fraction", type=float, help="crossview: share of hard negatives")
    parser.add_argument("--hard-radius-km", type=float, help="crossview: hard negatives lie within this distance")
    parser.add_argument("--easy-min-km", type=float, help="crossview: easy negatives lie at least this far")
    parser.add_argument("--reverse", action="store_const", const=True,
                        help="crossview: one aerial query, ground candidates")
    parser.add_argument("--view", choices=["ground", "aerial"], help="geoloc: which image the model sees")
    parser.add_argument("--workers", type=int, help="rec, ovd, gres: processes making samples (same bytes)")
    parser.add_argument("--tasks", nargs="+", help="contact-sheet: tasks to show (default: all five)")


def write(
    task: str,
    out_dir,
    n: int,
    seed: int,
    size: int = 448,
    style: str = "A",
    *,
    categories=None,
    split: str = "",
    **options,
) -> int:
    """Write a ``task`` dataset; ``options`` are builder options (None values are left out)."""
    options = {k: v for k, v in options.items() if v is not None}
    if task in PLANET_TASKS:
        from geor1.synth import crossview  # another module's builders, imported only when asked for

        fn = crossview.write_crossview if task == "crossview" else crossview.write_geoloc
        return fn(out_dir, n, seed, size, style, **options)
    from geor1.synth.builders import write_task

    return write_task(task, out_dir, n, seed, size, style, categories=categories, split=split, **options)


def run(args: argparse.Namespace) -> int:
    if args.size < 64:
        raise SystemExit(f"geor1 synth: --size must be at least 64 pixels, got {args.size}")
    if args.task == "contact-sheet":
        from geor1.synth.contact_sheet import write_contact_sheet

        path = write_contact_sheet(args.out, tasks=args.tasks, n=args.n or 4, seed=args.seed, size=args.size)
        print(f"wrote {path}")
        return 0
    if args.n is None or args.n < 1:
        raise SystemExit("geor1 synth: --n N (a positive number of samples) is required")
    options = {}
    for name, tasks in TASK_OPTIONS.items():
        value = getattr(args, name)
        if value is not None and args.task not in tasks:
            raise SystemExit(f"geor1 synth: --{name.replace('_', '-')} does not apply to {args.task}")
        options[name] = value
    categories = None
    if args.categories:
        if args.task in PLANET_TASKS:
            raise SystemExit(f"geor1 synth: --categories does not apply to {args.task}")
        try:
            categories = parse_categories(args.categories)
        except ValueError as e:
            raise SystemExit(f"geor1 synth: {e}") from None
    start = time.perf_counter()
    if args.task in PLANET_TASKS:
        count = write(args.task, args.out, args.n, args.seed, args.size, args.style, **options)
    else:
        count = write(
            args.task,
            args.out,
            args.n,
            args.seed,
            args.size,
            args.style,
            categories=categories,
            split=args.split,
            **options,
        )
    seconds = time.perf_counter() - start
    print(
        f"wrote {count} {args.task} samples to {args.out} in {seconds:.1f} s "
        f"({count / max(seconds, 1e-9):.1f}/s)"
    )
    return 0

"""Check a dataset folder against the schema.

    geor1 validate DIR [--skip-invalid] [--no-images]

Loads ``DIR/data.jsonl`` with the schema loader (every field, image paths inside DIR and present)
and prints the number of samples per task and category. The first bad record stops it with
``file:line: field 'f': problem`` (exit status 1) — unless ``--skip-invalid``, which lists every
bad record and counts the rest (exit status 1 if any was bad).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from geor1.data.schema import Dataset, SchemaError, load_dataset


def summary(dataset: Dataset) -> str:
    """Samples per task, then per category within each task, one line each."""
    by_task = Counter(s.task for s in dataset)
    by_category = Counter((s.task, s.category) for s in dataset)
    lines = [f"{dataset.root}: {len(dataset)} samples"]
    for task, n in sorted(by_task.items()):
        lines.append(f"  {task}: {n}")
        cats = sorted(((c, m) for (t, c), m in by_category.items() if t == task), key=lambda x: (-x[1], str(x[0])))
        for cat, m in cats:
            lines.append(f"    {cat if cat is not None else '(no category)'}: {m}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="dataset folder holding data.jsonl")
    parser.add_argument("--skip-invalid", action="store_true", help="report bad records and go on")
    parser.add_argument("--no-images", action="store_true", help="do not check that image files exist")


def run(args: argparse.Namespace) -> int:
    try:
        dataset = load_dataset(args.dir, skip_invalid=args.skip_invalid, check_images=not args.no_images)
    except SchemaError as e:
        print(f"invalid: {e}", file=sys.stderr)
        return 1
    print(summary(dataset))
    for reason in dataset.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    if dataset.skipped:
        print(f"{len(dataset.skipped)} invalid records skipped", file=sys.stderr)
        return 1
    return 0

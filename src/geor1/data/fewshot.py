"""Nested k-shot splits per category.

    geor1 fewshot DATA --shots 1,5,10 --seed S --out DIR [--categories a,b,...]

Takes k samples of every category of the dataset folder DATA for each k: ``DIR/<k>shot/`` gets
``data.jsonl`` and hard links (or copies) of its images, ``DIR/report.json`` the counts. The sets
are nested (the 1-shot samples are among the 5-shot ones, which are among the 10-shot ones) and
reproducible: each category's samples, sorted by id, are shuffled once by
``random.Random("<seed>:<category>")`` and every k takes a prefix — so the pick depends on neither
the order of the records nor the other categories.

A category with fewer samples than the largest k contributes all it has to the larger sets and is
listed under ``too_few`` in the report (and on stdout). Samples without a category are left out and
counted. On VRSBench-shaped input (26 categories, >= 10 expressions each) ``--shots 1,5,10`` gives
the VRSBench-FS structure: 26 / 130 / 260 queries.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from geor1.data.convert import link_image
from geor1.data.schema import Dataset, Sample, SchemaError, load_dataset, write_dataset


def parse_shots(text: str) -> list[int]:
    """``"1,5,10"`` → ``[1, 5, 10]`` (sorted, unique, positive)."""
    try:
        shots = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not shots or shots[0] < 1:
        raise argparse.ArgumentTypeError(f"shots must be positive integers, got {text!r}")
    return shots


def fewshot_splits(samples: list[Sample], shots: list[int], seed: int,
                   categories: list[str] | None = None) -> tuple[dict[int, list[Sample]], dict]:
    """``({k: samples}, report)``: for every category (or only ``categories``), its first k samples
    after a shuffle seeded by ``"<seed>:<category>"``; each k-set lists samples in dataset order.

    ``report`` holds ``shots``, ``seed``, ``available`` (samples per category), ``too_few``
    (categories with fewer than ``max(shots)``), ``missing`` (requested categories with no sample),
    ``no_category`` (samples without one) and ``counts`` (samples per k)."""
    shots = sorted(set(shots))
    order = {id(s): i for i, s in enumerate(samples)}
    by_category: dict[str, list[Sample]] = defaultdict(list)
    no_category = 0
    for s in samples:
        if s.category is None:
            no_category += 1
        elif categories is None or s.category in categories:
            by_category[s.category].append(s)
    chosen: dict[int, list[Sample]] = {k: [] for k in shots}
    for cat in sorted(by_category):
        pool = sorted(by_category[cat], key=lambda s: s.id)  # record order must not change the pick
        random.Random(f"{seed}:{cat}").shuffle(pool)
        for k in shots:
            chosen[k].extend(pool[:k])
    for k in shots:
        chosen[k].sort(key=lambda s: order[id(s)])
    report = {
        "shots": shots, "seed": seed,
        "available": {c: len(v) for c, v in sorted(by_category.items())},
        "too_few": {c: len(v) for c, v in sorted(by_category.items()) if len(v) < shots[-1]},
        "missing": sorted(set(categories or []) - set(by_category)),
        "no_category": no_category,
        "counts": {k: len(v) for k, v in chosen.items()},
    }
    return chosen, report


def write_fewshot(dataset: Dataset, out: Path, shots: list[int], seed: int,
                  categories: list[str] | None = None) -> dict:
    """Write ``out/<k>shot/`` datasets (images linked from ``dataset.root``) and ``out/report.json``;
    returns the report."""
    out = Path(out)
    chosen, report = fewshot_splits(dataset.samples, shots, seed, categories)
    for k, samples in chosen.items():
        root = out / f"{k}shot"
        for s in samples:
            for i, rel in enumerate(s.images):
                link_image(dataset.image_path(s, i), root, rel)
        write_dataset(root, samples)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, metavar="DATA", help="dataset folder (data.jsonl + images)")
    parser.add_argument("--shots", type=parse_shots, default=[1, 5, 10], help="comma-separated k values (1,5,10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (one <k>shot/ dataset per k)")
    parser.add_argument("--categories", type=lambda t: [c.strip() for c in t.split(",") if c.strip()],
                        help="only these categories (comma-separated); default all")
    parser.add_argument("--skip-invalid", action="store_true", help="skip records that break the schema")


def run(args: argparse.Namespace) -> int:
    try:
        dataset = load_dataset(args.data, skip_invalid=args.skip_invalid)
        report = write_fewshot(dataset, args.out, args.shots, args.seed, args.categories)
    except SchemaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{len(report['available'])} categories; " +
          ", ".join(f"{k}-shot: {n} samples" for k, n in report["counts"].items()) + f" → {args.out}")
    for cat, n in report["too_few"].items():
        print(f"  too few: {cat!r} has {n} < {report['shots'][-1]} samples")
    for cat in report["missing"]:
        print(f"  missing: no sample of category {cat!r}")
    if report["no_category"]:
        print(f"  left out: {report['no_category']} samples without a category")
    return 0

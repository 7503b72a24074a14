"""CVUSA (the 44,416-pair subset of Zhai et al.): street-view panoramas and Bing Maps tiles.

On-disk format (``src`` is the dataset folder)::

    src/
      splits/train-19zl.csv       no header; one pair per line, three paths relative to ``src``:
      splits/val-19zl.csv           bingmap/19/0000001.jpg,streetview/panos/0000001.jpg,annotations/0000001.png
      bingmap/19/*.jpg            aerial tiles (north up, centred on the panorama)
      streetview/panos/*.jpg      ground panoramas
      annotations/*.png           land-cover maps (not used)
      split_locations/all.csv     optional, no header: sat_lat,sat_lon,ground_lat,ground_lon[,...]
                                  degrees; line n belongs to image number n (the digits of the
                                  tile's file name, 0000001 -> line 1), as Sample4Geo reads it

Output: one pair per line (see :mod:`geor1.data.questions`: ``images = [panorama, tile]`` at the
same relative paths, ``gps`` from ``all.csv`` when present), or K-choice questions with
``make_questions=K``. Without positions, question distractors are drawn at random.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

from geor1.data.questions import DEFAULT_RADIUS_KM, add_image, pair_sample, write_pairs_or_questions
from geor1.data.schema import SchemaError

log = logging.getLogger(__name__)

SPLIT_FILES = {"train": "splits/train-19zl.csv", "val": "splits/val-19zl.csv", "test": "splits/val-19zl.csv"}
LOCATIONS = "split_locations/all.csv"


def _read_locations(path: Path) -> list[tuple[list[float], list[float]]]:
    """Per line: (tile [lat, lon], panorama [lat, lon])."""
    out = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for line, row in enumerate(csv.reader(f), 1):
            if not any(c.strip() for c in row):
                continue
            if len(row) < 4:
                raise SchemaError(f"{len(row)} columns, expected sat_lat,sat_lon,ground_lat,ground_lon",
                                  file=path, line=line)
            try:
                sat_lat, sat_lon, lat, lon = (float(v) for v in row[:4])
            except ValueError:
                raise SchemaError(f"not numbers: {','.join(row[:4])!r}", file=path, line=line) from None
            for name, (a, b) in (("sat_lat/sat_lon", (sat_lat, sat_lon)), ("ground_lat/ground_lon", (lat, lon))):
                if not (-90 <= a <= 90 and -180 <= b <= 180):
                    raise SchemaError(f"position ({a}, {b}) out of range", file=path, line=line, field=name)
            out.append(([sat_lat, sat_lon], [lat, lon]))
    return out


def convert(src: str | os.PathLike, out: str | os.PathLike, *, split: str = "train", csv_file: str | None = None,
            locations: str | None = LOCATIONS, make_questions: int = 0, reverse: bool = False,
            difficulty: str = "hard", radius_km: float = DEFAULT_RADIUS_KM, seed: int = 0,
            limit: int | None = None) -> int:
    """CVUSA split -> pairs (or questions) in ``out``; returns records written.

    ``split`` picks ``splits/train-19zl.csv`` or ``splits/val-19zl.csv`` (``csv_file`` overrides,
    relative to ``src``); ``locations`` is the optional ``all.csv`` (skipped when absent or None)."""
    src, out = Path(src), Path(out)
    if csv_file is None and split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLIT_FILES)}) — or pass csv_file=")
    split_path = src / (csv_file or SPLIT_FILES[split])
    if not split_path.is_file():
        raise SchemaError(f"split file not found: {split_path}")
    gps = None
    if locations and (src / locations).is_file():
        gps = _read_locations(src / locations)
    elif locations:
        log.warning("%s not found: pairs without GPS", src / locations)
    pairs, seen = [], set()
    with open(split_path, newline="", encoding="utf-8-sig") as f:
        rows = [(n, r) for n, r in enumerate(csv.reader(f), 1) if any(c.strip() for c in r)]
    if limit is not None:
        rows = rows[: int(limit)]
    for line, row in rows:
        if len(row) < 2:
            raise SchemaError(f"{len(row)} columns, expected bingmap/…,streetview/…,annotations/…",
                              file=split_path, line=line)
        tile_rel, pano_rel = row[0].strip().replace("\\", "/"), row[1].strip().replace("\\", "/")
        where = f"{split_path}:{line}"
        digits = re.findall(r"\d+", Path(tile_rel).stem)
        if not digits:
            raise SchemaError(f"no image number in {tile_rel!r}", file=where, field="bingmap")
        number = int(digits[-1])
        if number in seen:
            raise SchemaError(f"image number {number} appears twice", file=where, field="bingmap")
        seen.add(number)
        sat_gps = ground_gps = None
        if gps is not None:
            if not 1 <= number <= len(gps):
                raise SchemaError(f"image number {number} has no line in {locations} ({len(gps)} lines)",
                                  file=where, field="bingmap")
            sat_gps, ground_gps = gps[number - 1]
        pano, pano_size = add_image(src / pano_rel, out, pano_rel, where=where, field="streetview", src_root=src)
        tile, tile_size = add_image(src / tile_rel, out, tile_rel, where=where, field="bingmap", src_root=src)
        pairs.append(pair_sample(f"{number:07d}", pano, tile, sizes=[pano_size, tile_size], ground_gps=ground_gps,
                                 aerial_gps=sat_gps, source="cvusa", split=split))
    return write_pairs_or_questions(out, pairs, make_questions=make_questions, reverse=reverse,
                                    difficulty=difficulty, radius_km=radius_km, seed=seed)

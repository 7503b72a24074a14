"""VIGOR: street-view panoramas and satellite tiles in Chicago, New York, San Francisco and Seattle.

On-disk format (``src`` is the dataset folder, as VIGOR's ``data/DATASET.md`` lays it out)::

    src/
      <City>/panorama/<pano_id>,<lat>,<lon>,.jpg      the position is in the file name
      <City>/satellite/satellite_<lat>_<lon>.png      the tile centre is in the file name
      splits/<City>/satellite_list.txt                one satellite file name per line
      splits/<City>/same_area_balanced_train.txt      same-area split
      splits/<City>/same_area_balanced_test.txt
      splits/<City>/pano_label_balanced.txt           every panorama (the cross-area splits)

A label line is 13 space-separated fields: the panorama's file name, then four satellite file
names each followed by two numbers — the panorama's pixel offset from that tile's centre
(VIGOR's ``delta``). The first tile is the *positive* (it contains the panorama); the other three
are *semi-positives* that overlap it. Example::

    -0BzIbHsuLZ6MGgeOA5Lfg,41.884476,-87.629028,.jpg satellite_41.88444_-87.62913.png 3.1 -9.6 satellite_41.88453_-87.62874.png -12.7 -50.0 ...

``splits_dir="splits__corrected"`` reads SliceMatch's corrected labels (same layout).

Output: one pair per panorama and its positive tile (see :mod:`geor1.data.questions`), positions
from the file names, ``meta["vigor_delta"]`` the positive tile's offset, and the semi-positives in
``meta["exclude_candidates"]`` so they never serve as distractors; or K-choice questions with
``make_questions=K``.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from geor1.data.questions import DEFAULT_RADIUS_KM, add_image, pair_sample, write_pairs_or_questions
from geor1.data.schema import SchemaError

CROSS_AREA_CITIES = {"train": ("NewYork", "Seattle"), "test": ("SanFrancisco", "Chicago")}
FIELDS = 13


def panorama_position(name: str) -> tuple[float, float]:
    """``(lat, lon)`` from a panorama file name ``<id>,<lat>,<lon>,.jpg``; ValueError otherwise."""
    parts = name.rsplit(",", 3)
    if len(parts) != 4:
        raise ValueError(f"panorama name {name!r} is not <id>,<lat>,<lon>,.jpg")
    return float(parts[1]), float(parts[2])


def satellite_position(name: str) -> tuple[float, float]:
    """``(lat, lon)`` from a satellite file name ``satellite_<lat>_<lon>.png``; ValueError otherwise."""
    parts = Path(name).stem.rsplit("_", 2)
    if len(parts) != 3 or parts[0] != "satellite":
        raise ValueError(f"satellite name {name!r} is not satellite_<lat>_<lon>.png")
    return float(parts[1]), float(parts[2])


def _position(fn, name: str, where: str, field: str) -> list[float]:
    try:
        lat, lon = fn(name)
    except ValueError as e:
        raise SchemaError(str(e), file=where, field=field) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise SchemaError(f"position ({lat}, {lon}) out of range in {name!r}", file=where, field=field)
    return [lat, lon]


def convert(src: str | os.PathLike, out: str | os.PathLike, *, area: str = "same", split: str = "train",
            cities: str | list[str] | None = None, splits_dir: str = "splits", make_questions: int = 0,
            reverse: bool = False, difficulty: str = "hard", radius_km: float = DEFAULT_RADIUS_KM, seed: int = 0,
            limit: int | None = None) -> int:
    """VIGOR -> pairs (or questions) in ``out``; returns records written.

    ``area="same"`` reads ``same_area_balanced_<split>.txt`` of every city (or ``cities``);
    ``area="cross"`` reads ``pano_label_balanced.txt`` of the cross-area cities of ``split``
    (train: NewYork, Seattle; test: SanFrancisco, Chicago). ``limit``: lines per city."""
    src, out = Path(src), Path(out)
    if area not in ("same", "cross"):
        raise ValueError(f"area must be 'same' or 'cross', got {area!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    labels = src / splits_dir
    if cities:
        names = [c.strip() for c in cities.split(",")] if isinstance(cities, str) else list(cities)
    elif area == "cross":
        names = list(CROSS_AREA_CITIES[split])
    else:
        names = sorted(p.name for p in labels.iterdir() if p.is_dir()) if labels.is_dir() else []
    if not names:
        raise SchemaError(f"no city folders under {labels}")
    label_name = f"same_area_balanced_{split}.txt" if area == "same" else "pano_label_balanced.txt"
    pairs = []
    for city in names:
        label_file = labels / city / label_name
        if not label_file.is_file():
            raise SchemaError(f"label file not found: {label_file}")
        listed = None
        if (labels / city / "satellite_list.txt").is_file():
            listed = set((labels / city / "satellite_list.txt").read_text(encoding="utf-8").split())
        lines = [(n, t.split()) for n, t in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1)
                 if t.strip()]
        if limit is not None:
            lines = lines[: int(limit)]
        for line, fields in lines:
            where = f"{label_file}:{line}"
            if len(fields) != FIELDS:
                raise SchemaError(f"{len(fields)} fields, expected {FIELDS}: a panorama, then 4 satellite names "
                                  f"each followed by 2 offsets", file=label_file, line=line)
            pano_name, sats = fields[0], fields[1::3]
            try:
                offsets = [[float(fields[i]), float(fields[i + 1])] for i in (2, 5, 8, 11)]
            except ValueError:
                raise SchemaError("offsets must be numbers", file=label_file, line=line) from None
            for j, sat in enumerate(sats):
                if listed is not None and sat not in listed:
                    raise SchemaError(f"{sat!r} is not in satellite_list.txt", file=where, field=f"satellite[{j}]")
            pano_gps = _position(panorama_position, pano_name, where, "panorama")
            sat_gps = _position(satellite_position, sats[0], where, "satellite[0]")
            pano_rel, sat_rel = f"{city}/panorama/{pano_name}", f"{city}/satellite/{sats[0]}"
            pano, pano_size = add_image(src / pano_rel, out, pano_rel, where=where, field="panorama", src_root=src)
            sat, sat_size = add_image(src / sat_rel, out, sat_rel, where=where, field="satellite[0]", src_root=src)
            pairs.append(pair_sample(
                f"{city}/{pano_name.split(',')[0]}", pano, sat, sizes=[pano_size, sat_size], ground_gps=pano_gps,
                aerial_gps=sat_gps, city=city, source="vigor", split=f"{area}-{split}",
                meta={"vigor_delta": offsets[0], "exclude_candidates": [f"{city}/satellite/{s}" for s in sats[1:]]}))
    repeated = [i for i, n in Counter(p.id for p in pairs).items() if n > 1]
    if repeated:
        raise SchemaError(f"panorama {repeated[0]!r} is listed twice")
    return write_pairs_or_questions(out, pairs, make_questions=make_questions, reverse=reverse,
                                    difficulty=difficulty, radius_km=radius_km, seed=seed)

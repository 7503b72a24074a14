"""CV-Cities: ground panoramas paired with satellite images in 16 cities (Geo-R1's training pairs).

On-disk format (``src`` is the dataset folder)::

    src/
      <city>/img_info.csv     one per city, no header row, one pair per line:
                              name,longitude,latitude,city,sat_dir,pano_dir
      <sat_dir>, <pano_dir>   the images, at paths relative to ``src`` (as the CV-Cities loader
                              reads them); a path relative to ``src/<city>/`` is accepted too

Longitude comes **before** latitude (degrees, WGS84); both images of a pair are centred on that
point. Example line::

    0a1b2c,2.1734,41.3851,barcelona,barcelona/satellite/0a1b2c.jpg,barcelona/panorama/0a1b2c.jpg

Output: one pair per line (see :mod:`geor1.data.questions`: a one-candidate ``crossview`` sample,
``images = [pano, satellite]`` hard-linked (or copied) to the same relative paths, ``gps`` twice the
point, ``meta["city"]``), or K-choice questions with ``make_questions=K``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from geor1.data.questions import DEFAULT_RADIUS_KM, add_image, pair_sample, write_pairs_or_questions
from geor1.data.schema import SchemaError

INFO_FILE = "img_info.csv"
COLUMNS = ("name", "longitude", "latitude", "city", "sat_dir", "pano_dir")


def _city_files(src: Path, cities) -> list[Path]:
    if cities:
        names = [c.strip() for c in cities.split(",")] if isinstance(cities, str) else list(cities)
        files = [src / c / INFO_FILE for c in names if c]
        for f in files:
            if not f.is_file():
                raise SchemaError(f"no {INFO_FILE} for city {f.parent.name!r}", file=f)
        return files
    files = sorted(src.glob(f"*/{INFO_FILE}"))
    if not files:
        raise SchemaError(f"no <city>/{INFO_FILE} under {src}")
    return files


def _image(src: Path, city_dir: Path, rel: str) -> tuple[Path, str]:
    """The file a ``sat_dir``/``pano_dir`` entry names, and its path relative to ``src``."""
    rel = rel.strip().replace("\\", "/")
    if not (src / rel).is_file() and (city_dir / rel).is_file():
        rel = f"{city_dir.name}/{rel}"
    return src / rel, rel


def _coordinate(row: list[str], col: int, where: str, line: int) -> float:
    try:
        return float(row[col])
    except ValueError:
        raise SchemaError(f"not a number: {row[col]!r}", file=where, line=line, field=COLUMNS[col]) from None


def convert(src: str | os.PathLike, out: str | os.PathLike, *, cities: str | list[str] | None = None,
            split: str = "train", make_questions: int = 0, reverse: bool = False, difficulty: str = "hard",
            radius_km: float = DEFAULT_RADIUS_KM, seed: int = 0, limit: int | None = None) -> int:
    """CV-Cities -> pairs (or ``make_questions``-choice questions) in ``out``; returns records written.

    ``cities``: a list or comma-separated names of city folders (default: every folder holding an
    ``img_info.csv``); ``limit``: at most this many lines per city; the question options are those
    of :func:`geor1.data.questions.build_questions`."""
    src, out = Path(src), Path(out)
    pairs, seen = [], set()
    for info in _city_files(src, cities):
        with open(info, newline="", encoding="utf-8-sig") as f:
            rows = [(n, r) for n, r in enumerate(csv.reader(f), 1) if any(c.strip() for c in r)]
        if limit is not None:
            rows = rows[: int(limit)]
        for line, row in rows:
            if len(row) < len(COLUMNS):
                raise SchemaError(f"{len(row)} columns, expected {len(COLUMNS)}: {', '.join(COLUMNS)} (no header row)",
                                  file=info, line=line)
            lon, lat = _coordinate(row, 1, info, line), _coordinate(row, 2, info, line)
            if not -90 <= lat <= 90:
                hint = " (latitude first? CV-Cities lists longitude, then latitude)" if abs(lon) <= 90 else ""
                raise SchemaError(f"latitude {lat} outside [-90, 90]{hint}", file=info, line=line, field="latitude")
            if not -180 <= lon <= 180:
                raise SchemaError(f"longitude {lon} outside [-180, 180]", file=info, line=line, field="longitude")
            city = row[3].strip() or info.parent.name
            pair_id = f"{info.parent.name}/{row[0].strip()}"
            if pair_id in seen:
                raise SchemaError(f"duplicate name {row[0].strip()!r}", file=info, line=line, field="name")
            seen.add(pair_id)
            where = f"{info}:{line}"
            pano_path, pano_rel = _image(src, info.parent, row[5])
            sat_path, sat_rel = _image(src, info.parent, row[4])
            pano, pano_size = add_image(pano_path, out, pano_rel, where=where, field="pano_dir", src_root=src)
            sat, sat_size = add_image(sat_path, out, sat_rel, where=where, field="sat_dir", src_root=src)
            pairs.append(pair_sample(pair_id, pano, sat, sizes=[pano_size, sat_size], ground_gps=[lat, lon],
                                     aerial_gps=[lat, lon], city=city, source="cv-cities", split=split))
    return write_pairs_or_questions(out, pairs, make_questions=make_questions, reverse=reverse,
                                    difficulty=difficulty, radius_km=radius_km, seed=seed)

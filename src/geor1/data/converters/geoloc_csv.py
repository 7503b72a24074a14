"""Im2GPS3k and YFCC4k: geolocalization benchmarks given as one CSV plus a folder of images.

On-disk format (``src`` is the dataset folder)::

    src/
      im2gps3k_places365.csv        (YFCC4k: yfcc4k_places365.csv; any *.csv with the header below)
      im2gps3ktest/ or images/      the photos, named by IMG_ID (e.g. 1000269685_e60e9cdfb4_1125_78841376@N00.jpg)

The CSV has a header row and comma-separated records::

    IMG_ID,AUTHOR,LAT,LON,S3_Label,S16_Label,S365_Label,Prob_indoor,Prob_natural,Prob_urban
    1023756068_20c3ffc329_1039_70323761@N00.jpg,70323761@N00,40.807694,-73.962262,2,14,364,...

``LAT``/``LON`` are degrees (WGS84); columns after ``LON`` are ignored. Copies of the file made
before 2020 label the third and fourth columns ``LON,LAT`` although they hold the same values,
latitude first. Such a header is detected and reported with a warning; the values are read as
latitude, longitude when the column labelled ``LON`` fits in [-90, 90] throughout (the mislabelled
copy), or by their labels when it does not (a genuinely longitude-first file). ``coords="lat,lon"``
or ``"lon,lat"`` overrides the detection.

Output: one ``geoloc`` sample per record, ``images = ["images/<IMG_ID>"]`` (hard-linked, or copied
across file systems), ``gps = [[lat, lon]]``, ``meta = {"author": AUTHOR}``.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

from geor1.data.convert import safe_relpath
from geor1.data.questions import add_image
from geor1.data.schema import Sample, SchemaError, write_dataset

log = logging.getLogger(__name__)

IMAGE_DIRS = {"im2gps3k": ("im2gps3ktest", "images", "im2gps3k", "."),
              "yfcc4k": ("yfcc4k", "images", "yfcc4ktest", ".")}
CSV_NAMES = {"im2gps3k": "im2gps3k_places365.csv", "yfcc4k": "yfcc4k_places365.csv"}


def _find_csv(src: Path, name: str, csv_file: str | None) -> Path:
    if csv_file:
        path = Path(csv_file) if Path(csv_file).is_absolute() else src / csv_file
        if not path.is_file():
            raise SchemaError(f"CSV file not found: {path}")
        return path
    if (src / CSV_NAMES[name]).is_file():
        return src / CSV_NAMES[name]
    found = sorted(p for p in src.glob("*.csv") if _header(p)[:1] == ["IMG_ID"])
    if not found:
        raise SchemaError(f"no {CSV_NAMES[name]} (or other CSV with an IMG_ID,AUTHOR,LAT,LON header) in {src}")
    if len(found) > 1:
        raise SchemaError(f"several candidate CSVs in {src} ({', '.join(p.name for p in found)}); pass csv_file=")
    return found[0]


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        return [c.strip().upper() for c in next(csv.reader(f), [])]


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The records (line number, cells). UTF-8 (a BOM allowed); a copy saved as Latin-1 (older
    Windows tools) is read as Latin-1 with a warning naming the first line that is not UTF-8."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        log.warning("%s:%d: not UTF-8 (byte 0x%02x); reading the file as Latin-1", path, line, data[e.start])
        text = data.decode("latin-1")
    return [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1)
            if n > 1 and any(c.strip() for c in row)]


def _coordinate_order(path: Path, header: list[str], rows: list, coords: str) -> tuple[int, int]:
    """Column indices of (latitude, longitude) in the records."""
    if header[:4] != ["IMG_ID", "AUTHOR", "LAT", "LON"] and header[:4] != ["IMG_ID", "AUTHOR", "LON", "LAT"]:
        raise SchemaError(f"header must start IMG_ID,AUTHOR,LAT,LON (got {','.join(header[:4])})", file=path, line=1)
    if coords == "lat,lon":
        return 2, 3
    if coords == "lon,lat":
        return 3, 2
    if coords != "auto":
        raise ValueError(f"coords must be 'auto', 'lat,lon' or 'lon,lat', got {coords!r}")
    if header[2] == "LAT":
        return 2, 3
    third = [_number(path, n, row, 2, "LON") for n, row in rows]
    if all(-90 <= v <= 90 for v in third):
        log.warning("%s: header labels the columns LON,LAT but the LON column holds latitudes (a copy made "
                    "before 2020); reading them as latitude, longitude", path)
        return 2, 3
    log.warning("%s: header labels the columns LON,LAT and the LON column holds values beyond ±90; "
                "reading longitude first as labelled", path)
    return 3, 2


def _number(path: Path, line: int, row: list[str], col: int, name: str) -> float:
    if len(row) <= col:
        raise SchemaError(f"record has {len(row)} columns, needs at least 4", file=path, line=line, field=name)
    try:
        return float(row[col])
    except ValueError:
        raise SchemaError(f"not a number: {row[col]!r}", file=path, line=line, field=name) from None


def _convert(name: str, src, out, *, csv_file: str | None, images: str | None, split: str, coords: str,
             limit: int | None, skip_missing: bool) -> int:
    src, out = Path(src), Path(out)
    path = _find_csv(src, name, csv_file)
    header = _header(path)
    rows = _read_rows(path)
    if limit is not None:
        rows = rows[: int(limit)]
    if not rows:
        raise SchemaError("no records", file=path)
    lat_col, lon_col = _coordinate_order(path, header, rows, coords)
    probe = [row[0].strip() for _, row in rows[:50]]  # a few records, in case the first photos are missing
    image_dir = src / images if images else next(
        (src / d for d in IMAGE_DIRS[name] if any((src / d / p).is_file() for p in probe)), None)
    if image_dir is None:
        raise SchemaError(f"cannot find image {probe[0]!r} in any of {', '.join(IMAGE_DIRS[name])} under {src}; "
                          f"pass images=", file=path, line=rows[0][0])
    samples, seen, missing = [], set(), 0
    for line, row in rows:
        img_id = row[0].strip()
        if not img_id:
            raise SchemaError("empty IMG_ID", file=path, line=line, field="IMG_ID")
        if img_id in seen:
            raise SchemaError(f"duplicate IMG_ID {img_id!r}", file=path, line=line, field="IMG_ID")
        seen.add(img_id)
        lat = _number(path, line, row, lat_col, header[lat_col])
        lon = _number(path, line, row, lon_col, header[lon_col])
        if not -90 <= lat <= 90:
            raise SchemaError(f"latitude {lat} outside [-90, 90]", file=path, line=line, field=header[lat_col])
        if not -180 <= lon <= 180:
            raise SchemaError(f"longitude {lon} outside [-180, 180]", file=path, line=line, field=header[lon_col])
        image = image_dir / safe_relpath(img_id, where=f"{path}:{line}", field="IMG_ID")
        if skip_missing and not image.is_file():
            missing += 1
            continue
        rel, (w, h) = add_image(image, out, f"images/{img_id}", where=f"{path}:{line}", field="IMG_ID",
                                src_root=image_dir)
        samples.append(Sample(id=img_id, task="geoloc", images=[rel],
                              width=w, height=h, gps=[[lat, lon]], source=name, split=split,
                              meta={"author": row[1].strip() if len(row) > 1 else ""}))
    if not samples:
        raise SchemaError(f"none of the {len(rows)} records has its image in {image_dir}", file=path)
    if missing:
        log.warning("%s: %d records skipped, their images are missing", path, missing)
    write_dataset(out, samples)
    return len(samples)


def convert_im2gps3k(src: str | os.PathLike, out: str | os.PathLike, *, csv_file: str | None = None,
                     images: str | None = None, split: str = "test", coords: str = "auto",
                     limit: int | None = None, skip_missing: bool = False) -> int:
    """Im2GPS3k (2,997 Flickr photos) -> ``geoloc`` dataset in ``out``; returns the records written.

    ``csv_file`` and ``images`` (a folder) are relative to ``src`` and found automatically when
    left out; ``skip_missing`` drops records whose photo is absent instead of failing."""
    return _convert("im2gps3k", src, out, csv_file=csv_file, images=images, split=split,
                    coords=coords, limit=limit, skip_missing=skip_missing)


def convert_yfcc4k(src: str | os.PathLike, out: str | os.PathLike, *, csv_file: str | None = None,
                   images: str | None = None, split: str = "test", coords: str = "auto",
                   limit: int | None = None, skip_missing: bool = False) -> int:
    """YFCC4k (4,536 YFCC100M photos) -> ``geoloc`` dataset in ``out``; same CSV format and options."""
    return _convert("yfcc4k", src, out, csv_file=csv_file, images=images, split=split,
                    coords=coords, limit=limit, skip_missing=skip_missing)

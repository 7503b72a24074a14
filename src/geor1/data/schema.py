"""The sample schema: one JSONL record per sample, shared by every task.

A dataset is a folder holding ``data.jsonl`` and the images it names. Each line is one
:class:`Sample`. Coordinates are **absolute pixels of the original image** ``images[0]``
(``width`` × ``height``), ``[x1, y1, x2, y2]`` with x to the right and y down; conversion to a
model's answer frame happens only in :mod:`geor1.coords`.

Fields (``-`` marks optional ones, with their default):

==============  ==========================================================================
id              unique string within the dataset
task            a task of :mod:`geor1.tasks`: ``rec``, ``ovd``, ``gres``, ``crossview``, ``geoloc``,
                ``counting``
images          image paths relative to the dataset root; ``images[0]`` is the query image.
                For ``crossview`` the candidates follow: ``images[1 + i]`` is ``choices[i]``.
width, height   original size of ``images[0]`` in pixels
query           - the question or referring expression (``""``)
category        - category the query asks about (``None``)
boxes           - ``[[x1, y1, x2, y2], ...]`` in original-image pixels (``[]``)
labels          - category of each box, aligned with ``boxes`` (``[]``)
masks           - one mask per box, aligned with ``boxes``: COCO RLE ``{"size": [h, w],
                "counts": ...}`` or COCO polygons ``[[x, y, x, y, ...], ...]`` (``[]``)
is_unique       - whether the expression matches exactly one object of its category (``None``)
choices         - multiple-choice options (``[]``)
answer          - the correct choice, one of ``choices``; for ``counting`` the count in digits
                (``None``)
gps             - ``[lat, lon]`` in degrees (WGS84) per image, aligned with ``images``, or
                ``None`` for an image without position (``[]``)
times           - capture time per image, ISO 8601, aligned with ``images`` (``[]``)
source, split   - source dataset name and split (``""``)
meta            - free dictionary (``{}``)
==============  ==========================================================================

Every record is validated on load. A bad one stops the load with a :class:`SchemaError` naming
file, line, field and problem; ``skip_invalid=True`` skips it instead and reports it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from geor1.io import atomic_open

DATA_FILE = "data.jsonl"


class SchemaError(ValueError):
    """A record that breaks the schema. ``str()`` reads ``file:line: field 'f': problem``."""

    def __init__(self, problem: str, *, file: str | os.PathLike | None = None, line: int | None = None,
                 field: str | None = None):
        self.problem, self.file, self.line, self.field = problem, file, line, field
        where = f"{file}:{line}: " if file is not None and line is not None else (f"{file}: " if file else "")
        super().__init__(f"{where}field '{field}': {problem}" if field else f"{where}{problem}")


@dataclass
class Sample:
    id: str
    task: str
    images: list[str]
    width: int
    height: int
    query: str = ""
    category: str | None = None
    boxes: list[list[float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    masks: list[Any] = field(default_factory=list)
    is_unique: bool | None = None
    choices: list[str] = field(default_factory=list)
    answer: str | None = None
    gps: list[list[float] | None] = field(default_factory=list)
    times: list[str | None] = field(default_factory=list)
    source: str = ""
    split: str = ""
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, record: Any) -> Sample:
        """Validate ``record`` and build a Sample; raises SchemaError (field and problem, no file)."""
        return cls(**validate_record(record))


_FIELDS = {f.name for f in fields(Sample)}
_REQUIRED = ("id", "task", "images", "width", "height")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_type(name: str, value: Any, kind: type | tuple, what: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SchemaError(f"expected {what}, got {type(value).__name__} {value!r:.60}", field=name)


def _check_mask(name: str, m: Any) -> None:
    if isinstance(m, dict):
        size = m.get("size")
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
            raise SchemaError("RLE mask needs 'size': [height, width] of positive integers", field=name)
        counts = m.get("counts")
        if not (isinstance(counts, str) or (isinstance(counts, list) and all(isinstance(c, int) for c in counts))):
            raise SchemaError("RLE mask needs 'counts': a string or a list of integers", field=name)
    elif isinstance(m, list):
        for j, poly in enumerate(m):
            if not (isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
                    and all(_is_number(v) for v in poly)):
                raise SchemaError(f"polygon {j} must be a flat list of at least 3 (x, y) pairs", field=name)
    else:
        raise SchemaError("a mask is a COCO RLE dict or a list of polygons", field=name)


def validate_record(record: Any) -> dict:
    """Check one decoded JSON record; return it with defaults filled in. Raises SchemaError."""
    if not isinstance(record, dict):
        raise SchemaError(f"a record is a JSON object, got {type(record).__name__}")
    for name in _REQUIRED:
        if name not in record:
            raise SchemaError("missing required field", field=name)
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise SchemaError(f"unknown field (known: {', '.join(sorted(_FIELDS))})", field=unknown[0])
    r = {f.name: (f.default_factory() if f.default_factory is not MISSING else f.default)
         for f in fields(Sample) if f.name not in _REQUIRED}
    r.update(record)

    _check_type("id", r["id"], str, "a string")
    if not r["id"]:
        raise SchemaError("must not be empty", field="id")
    _check_type("task", r["task"], str, "a string")
    from geor1.tasks import task_names  # the task modules are the list of tasks

    if r["task"] not in task_names():
        raise SchemaError(f"unknown task {r['task']!r} (known: {', '.join(task_names())})", field="task")
    _check_type("images", r["images"], list, "a list of paths")
    if not r["images"]:
        raise SchemaError("needs at least one image", field="images")
    for i, p in enumerate(r["images"]):
        _check_type(f"images[{i}]", p, str, "a path string")
    for name in ("width", "height"):
        _check_type(name, r[name], int, "an integer")
        if r[name] <= 0:
            raise SchemaError(f"must be positive, got {r[name]}", field=name)
    _check_type("query", r["query"], str, "a string")
    if r["category"] is not None:
        _check_type("category", r["category"], str, "a string or null")

    w, h = r["width"], r["height"]
    _check_type("boxes", r["boxes"], list, "a list of boxes")
    for i, b in enumerate(r["boxes"]):
        name = f"boxes[{i}]"
        if not (isinstance(b, list) and len(b) == 4 and all(_is_number(v) for v in b)):
            raise SchemaError(f"a box is [x1, y1, x2, y2] of 4 finite numbers, got {b!r:.80}", field=name)
        x1, y1, x2, y2 = b
        if x2 < x1:
            raise SchemaError(f"x2 ({x2}) < x1 ({x1})", field=name)
        if y2 < y1:
            raise SchemaError(f"y2 ({y2}) < y1 ({y1})", field=name)
        if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
            raise SchemaError(f"box {b} lies outside the {w}x{h} image", field=name)
    _check_type("labels", r["labels"], list, "a list of strings")
    if r["labels"] and len(r["labels"]) != len(r["boxes"]):
        raise SchemaError(f"{len(r['labels'])} labels for {len(r['boxes'])} boxes", field="labels")
    for i, lab in enumerate(r["labels"]):
        _check_type(f"labels[{i}]", lab, str, "a string")
    _check_type("masks", r["masks"], list, "a list of masks")
    if r["masks"] and len(r["masks"]) != len(r["boxes"]):
        raise SchemaError(f"{len(r['masks'])} masks for {len(r['boxes'])} boxes", field="masks")
    for i, m in enumerate(r["masks"]):
        _check_mask(f"masks[{i}]", m)
    if r["is_unique"] is not None:
        _check_type("is_unique", r["is_unique"], bool, "true, false or null")

    _check_type("choices", r["choices"], list, "a list of strings")
    for i, c in enumerate(r["choices"]):
        _check_type(f"choices[{i}]", c, str, "a string")
    if len(set(r["choices"])) != len(r["choices"]):
        raise SchemaError("choices repeat", field="choices")
    if r["answer"] is not None:
        _check_type("answer", r["answer"], str, "a string or null")
        if r["choices"] and r["answer"] not in r["choices"]:
            raise SchemaError(f"{r['answer']!r} is not one of the choices {r['choices']}", field="answer")
    if r["task"] == "counting" and r["answer"] is not None and not (r["answer"].isascii() and r["answer"].isdigit()):
        raise SchemaError(f"a count is a whole number written in digits, got {r['answer']!r:.40}", field="answer")
    if r["task"] == "crossview":
        if not r["choices"] or r["answer"] is None:
            raise SchemaError("a crossview sample needs choices and an answer", field="choices")
        if len(r["images"]) != 1 + len(r["choices"]):
            raise SchemaError(f"crossview needs 1 query image + {len(r['choices'])} candidates, "
                              f"got {len(r['images'])} images", field="images")

    _check_type("gps", r["gps"], list, "a list of [lat, lon] (or null) per image")
    if r["gps"] and len(r["gps"]) != len(r["images"]):
        raise SchemaError(f"{len(r['gps'])} positions for {len(r['images'])} images", field="gps")
    for i, g in enumerate(r["gps"]):
        if g is None:
            continue
        name = f"gps[{i}]"
        if not (isinstance(g, list) and len(g) == 2 and all(_is_number(v) for v in g)):
            raise SchemaError(f"a position is [lat, lon] in degrees, got {g!r:.60}", field=name)
        if not -90 <= g[0] <= 90:
            raise SchemaError(f"latitude {g[0]} outside [-90, 90]", field=name)
        if not -180 <= g[1] <= 180:
            raise SchemaError(f"longitude {g[1]} outside [-180, 180]", field=name)
    if r["task"] == "geoloc" and (not r["gps"] or r["gps"][0] is None):
        raise SchemaError("a geoloc sample needs the position of images[0]", field="gps")
    _check_type("times", r["times"], list, "a list of ISO 8601 strings (or null) per image")
    if r["times"] and len(r["times"]) != len(r["images"]):
        raise SchemaError(f"{len(r['times'])} times for {len(r['images'])} images", field="times")
    for i, t in enumerate(r["times"]):
        if t is None:
            continue
        _check_type(f"times[{i}]", t, str, "an ISO 8601 string")
        try:
            datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            raise SchemaError(f"not ISO 8601: {t!r}", field=f"times[{i}]") from None
    for name in ("source", "split"):
        _check_type(name, r[name], str, "a string")
    _check_type("meta", r["meta"], dict, "an object")
    return r


def resolve_image(root: str | os.PathLike, rel: str, *, field_name: str = "images") -> Path:
    """Absolute path of image ``rel`` inside dataset ``root``; refuses paths that escape it.

    Rejected: absolute paths, ``..`` components, and symlinks whose target lies outside ``root``.
    """
    if os.path.isabs(rel) or rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":"):
        raise SchemaError(f"absolute path {rel!r}: image paths are relative to the dataset root", field=field_name)
    if ".." in Path(rel).parts or ".." in rel.replace("\\", "/").split("/"):
        raise SchemaError(f"path {rel!r} escapes the dataset root ('..')", field=field_name)
    if "\0" in rel:
        raise SchemaError(f"path {rel!r} holds a NUL character", field=field_name)
    long = next((p for p in rel.replace("\\", "/").split("/") if len(p.encode("utf-8", "surrogatepass")) > 255), None)
    if long is not None:
        raise SchemaError(f"a name in {rel[:60]!r}… is {len(long.encode('utf-8', 'surrogatepass'))} bytes long "
                          f"(file systems allow 255)", field=field_name)
    root_real = Path(os.path.realpath(root))
    real = Path(os.path.realpath(root_real / rel))
    if real != root_real and root_real not in real.parents:
        raise SchemaError(f"path {rel!r} resolves to {real}, outside the dataset root", field=field_name)
    return real


@dataclass
class Dataset:
    """A loaded dataset: its root folder and validated samples, in file order."""

    root: Path
    samples: list[Sample]
    skipped: list[str] = field(default_factory=list)  # one "file:line: reason" per skipped record

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __getitem__(self, i: int) -> Sample:
        return self.samples[i]

    def image_path(self, sample: Sample, i: int = 0) -> Path:
        return resolve_image(self.root, sample.images[i], field_name=f"images[{i}]")


def load_dataset(root: str | os.PathLike, *, skip_invalid: bool = False, check_images: bool = True) -> Dataset:
    """Load and validate ``root/data.jsonl``.

    Every record is checked (fields, types, ranges, unique ids, image paths inside ``root`` and,
    with ``check_images``, present on disk). The first bad record raises SchemaError naming file,
    line and field — unless ``skip_invalid``, in which case bad records are left out and listed
    in ``Dataset.skipped`` with their reasons.
    """
    root = Path(root)
    path = root / DATA_FILE
    if not path.is_file():
        raise SchemaError(f"no {DATA_FILE} in dataset folder {root}", file=path)
    samples, skipped, seen = [], [], set()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise SchemaError(f"not valid JSON ({e.msg} at column {e.colno})") from None
                sample = Sample.from_dict(record)
                if sample.id in seen:
                    raise SchemaError(f"duplicate id {sample.id!r}", field="id")
                for i, rel in enumerate(sample.images):
                    p = resolve_image(root, rel, field_name=f"images[{i}]")
                    try:
                        present = p.is_file()
                    except OSError as e:  # e.g. a path the file system cannot name
                        raise SchemaError(f"image {rel[:60]!r}: {e.strerror or e}", field=f"images[{i}]") from None
                    if check_images and not present:
                        raise SchemaError(f"image {rel!r} not found under {root}", field=f"images[{i}]")
            except SchemaError as e:
                err = SchemaError(e.problem, file=path, line=lineno, field=e.field)
                if not skip_invalid:
                    raise err from None
                skipped.append(str(err))
                continue
            seen.add(sample.id)
            samples.append(sample)
    return Dataset(root=root, samples=samples, skipped=skipped)


def write_dataset(root: str | os.PathLike, samples: Iterable[Sample | dict]) -> Path:
    """Validate and write ``samples`` to ``root/data.jsonl`` (atomically: temp file + rename)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / DATA_FILE
    with atomic_open(path) as f:
        for i, s in enumerate(samples):
            try:
                s = s if isinstance(s, Sample) else Sample.from_dict(s)
                validate_record(s.to_dict())
            except SchemaError as e:
                raise SchemaError(e.problem, file=f"record {i} for {path}", field=e.field) from None
            f.write(s.to_json() + "\n")
    return path

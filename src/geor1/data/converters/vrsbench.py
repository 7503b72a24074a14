"""VRSBench referring expressions → ``rec`` samples.

On-disk format (the VRSBench release; built by ``prepare_eval_all.ipynb`` of lx709/VRSBench)::

    SRC/
      VRSBench_EVAL_referring.json     a JSON list, one record per expression (16,159):
        {"image_id": "00012_0000.png",            # file in Images_val/
         "question": "The small white vehicle parked at the top left.",
         "ground_truth": "{<12><5><18><11>}",     # x1, y1, x2, y2 as integers on 0-100
         "dataset": "RSBench", "question_id": 7, "type": "ref",
         "unique": true,                           # the only object of its class in the image
         "obj_corner": [x1, y1, x2, y2, x3, y3, x4, y4],   # oriented box, 0-1 normalized
         "obj_cls": "vehicle", "obj_ids": [0], "size_group": "small"}
      Images_val/00012_0000.png        the images (512x512 PNG)

Each record becomes one ``rec`` sample: ``query`` the question, ``boxes[0]`` the ground-truth box
scaled from 0-100 to the image's pixels (``v / 100 * width``), ``category`` and ``labels[0]`` the
class, ``is_unique`` from ``unique`` (``is_unique`` is accepted too), ``split`` ``"eval"``;
``meta`` keeps ``question_id``, ``size_group`` and the oriented box in pixels (``obj_corner_px``).

Degenerate gold boxes (zero width or height; 13 in the release, where two 0-100 tokens are equal)
are kept — dropping them would change the benchmark's denominator — and flagged with
``meta["degenerate_box"] = True``; their count is logged. No prediction can reach IoU > 0 on them.

Options: ``annotations`` (file name, default ``VRSBench_EVAL_referring.json``), ``images``
(folder, default ``Images_val``).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from geor1.data.convert import IMAGES_DIR, image_size, link_image, record_error, safe_relpath
from geor1.data.schema import Sample, SchemaError, write_dataset

log = logging.getLogger("geor1.data")

_GT_RE = re.compile(r"^\s*\{\s*<\s*(\d+(?:\.\d+)?)\s*>\s*<\s*(\d+(?:\.\d+)?)\s*>\s*<\s*(\d+(?:\.\d+)?)\s*>"
                    r"\s*<\s*(\d+(?:\.\d+)?)\s*>\s*\}\s*$")


def parse_ground_truth(text: str) -> list[float]:
    """``"{<x1><y1><x2><y2>}"`` → ``[x1, y1, x2, y2]`` on the 0-100 scale; ValueError otherwise."""
    m = _GT_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"expected '{{<x1><y1><x2><y2>}}', got {text!r:.60}")
    box = [float(v) for v in m.groups()]
    if any(v > 100 for v in box):
        raise ValueError(f"coordinates above 100 in {text!r}")
    if box[2] < box[0] or box[3] < box[1]:
        raise ValueError(f"x2 < x1 or y2 < y1 in {text!r}")
    return box


def convert(src: Path, out: Path, *, annotations: str = "VRSBench_EVAL_referring.json",
            images: str = "Images_val") -> int:
    """Convert ``src`` (see the module docstring) into the dataset folder ``out``; returns the count."""
    src, out = Path(src), Path(out)
    path = src / annotations
    if not path.is_file():
        raise SchemaError(f"no {annotations} in {src}", file=path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SchemaError(f"not valid JSON ({e.msg} at line {e.lineno})", file=path) from None
    if not isinstance(records, list):
        raise SchemaError(f"expected a JSON list of records, got {type(records).__name__}", file=path)

    samples, sizes, seen, degenerate = [], {}, {}, 0
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise record_error(path, i, f"expected an object, got {type(r).__name__}")
        for key in ("image_id", "question", "ground_truth", "obj_cls"):
            if not isinstance(r.get(key), str) or not r[key].strip():
                raise record_error(path, i, "missing or not a non-empty string", key)
        try:
            box100 = parse_ground_truth(r["ground_truth"])
        except ValueError as e:
            raise record_error(path, i, str(e), "ground_truth") from None
        unique = r.get("unique", r.get("is_unique"))
        if unique is not None and not isinstance(unique, bool):
            raise record_error(path, i, f"expected true or false, got {unique!r}", "unique")

        try:
            image = src / images / safe_relpath(r["image_id"])
        except SchemaError as e:
            raise record_error(path, i, e.problem, "image_id") from None
        if r["image_id"] not in sizes:
            if not image.is_file():
                raise record_error(path, i, f"image {image} not found", "image_id")
            sizes[r["image_id"]] = image_size(image)
            link_image(image, out, f"{IMAGES_DIR}/{r['image_id']}", src_root=src, where=path, field="image_id")
        w, h = sizes[r["image_id"]]
        box = [box100[0] / 100 * w, box100[1] / 100 * h, box100[2] / 100 * w, box100[3] / 100 * h]

        qid = r.get("question_id", i)
        if qid in seen:
            raise record_error(path, i, f"question_id {qid!r} repeats record {seen[qid]}", "question_id")
        seen[qid] = i
        meta = {"question_id": qid}
        if "size_group" in r:
            meta["size_group"] = r["size_group"]
        corner = r.get("obj_corner")
        if isinstance(corner, list) and len(corner) == 8:
            try:
                meta["obj_corner_px"] = [float(v) * (w if k % 2 == 0 else h) for k, v in enumerate(corner)]
            except (TypeError, ValueError):
                raise record_error(path, i, "expected 8 numbers", "obj_corner") from None
        if box[2] <= box[0] or box[3] <= box[1]:
            meta["degenerate_box"] = True
            degenerate += 1
        cls = r["obj_cls"].strip().lower()
        samples.append(Sample(id=f"vrsbench-{qid}", task="rec", images=[f"{IMAGES_DIR}/{r['image_id']}"],
                              width=w, height=h, query=r["question"].strip(), category=cls, boxes=[box],
                              labels=[cls], is_unique=unique, source="vrsbench", split="eval", meta=meta))
    if degenerate:
        log.warning("vrsbench: %d of %d gold boxes have zero width or height (kept, meta.degenerate_box)",
                    degenerate, len(samples))
    write_dataset(out, samples)
    return len(samples)

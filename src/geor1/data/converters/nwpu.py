"""NWPU VHR-10 → ``ovd`` samples (one per image and category).

On-disk format (the NWPU VHR-10 release)::

    SRC/
      positive image set/001.jpg ... 650.jpg    images with at least one object
      negative image set/001.jpg ... 150.jpg    images with none (no ground truth)
      ground truth/001.txt ... 650.txt          one per positive image, one box a line:
        (563,478),(630,573),1                   (x1,y1),(x2,y2),class — top-left and bottom-right
                                                corners in pixels; blank lines are ignored

Classes: 1 airplane, 2 ship, 3 storage tank, 4 baseball diamond, 5 tennis court, 6 basketball
court, 7 ground track field, 8 harbor, 9 bridge, 10 vehicle.

Each positive image gives one sample per class present in it: ``category`` (and ``query``) the
class name, ``boxes`` every box of that class (clipped to the image when an annotation overshoots
it), ``labels`` the class name per box. Images go to ``images/positive/`` and
``images/negative/``.

Options: ``negatives`` (default false) — also write negative samples (empty ``boxes``): every
class absent from a positive image, and every class for each image of the negative set.
``categories`` — a list or comma-separated string of class names to keep (e.g. the few-shot
classes); default all ten.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from geor1.data.convert import IMAGES_DIR, image_size, link_image
from geor1.data.schema import Sample, SchemaError, write_dataset

log = logging.getLogger("geor1.data")

CLASSES = {1: "airplane", 2: "ship", 3: "storage tank", 4: "baseball diamond", 5: "tennis court",
           6: "basketball court", 7: "ground track field", 8: "harbor", 9: "bridge", 10: "vehicle"}
POSITIVE, NEGATIVE, GROUND_TRUTH = "positive image set", "negative image set", "ground truth"
_LINE_RE = re.compile(r"^\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)\s*,\s*"
                      r"\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)\s*,\s*(\d+)\s*$")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".bmp")


def read_ground_truth(path: Path) -> list[tuple[list[float], str]]:
    """``[(box, class name), ...]`` from one ground-truth file; SchemaError names file and line."""
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if not m:
            raise SchemaError(f"expected '(x1,y1),(x2,y2),class', got {line.strip()!r:.60}", file=path, line=lineno)
        x1, y1, x2, y2 = (float(v) for v in m.groups()[:4])
        cls = int(m.group(5))
        if cls not in CLASSES:
            raise SchemaError(f"class {cls} is not one of 1..10", file=path, line=lineno)
        if x2 < x1 or y2 < y1:
            raise SchemaError(f"bottom-right corner ({x2}, {y2}) is above or left of ({x1}, {y1})",
                              file=path, line=lineno)
        out.append(([x1, y1, x2, y2], CLASSES[cls]))
    return out


def _find_image(folder: Path, stem: str) -> Path | None:
    return next((folder / (stem + s) for s in _IMAGE_SUFFIXES if (folder / (stem + s)).is_file()), None)


def _slug(name: str) -> str:
    return name.replace(" ", "_")


def convert(src: Path, out: Path, *, negatives: bool = False, categories: str | list | None = None) -> int:
    """Convert ``src`` (see the module docstring) into the dataset folder ``out``; returns the count."""
    src, out = Path(src), Path(out)
    if isinstance(categories, str):
        categories = [c.strip() for c in categories.split(",") if c.strip()]
    keep = list(CLASSES.values()) if categories is None else list(categories)
    unknown = sorted(set(keep) - set(CLASSES.values()))
    if unknown:
        raise ValueError(f"unknown NWPU VHR-10 classes {unknown} (known: {', '.join(CLASSES.values())})")
    gt_dir = src / GROUND_TRUTH
    gt_files = sorted(gt_dir.glob("*.txt"))
    if not gt_files:
        raise SchemaError(f"no ground-truth files in {gt_dir}", file=gt_dir)

    samples, clipped = [], 0
    for path in gt_files:
        objects = read_ground_truth(path)
        image = _find_image(src / POSITIVE, path.stem)
        if image is None:
            raise SchemaError(f"no image {path.stem}.* in {src / POSITIVE}", file=path)
        w, h = image_size(image)
        rel = link_image(image, out, f"{IMAGES_DIR}/positive/{image.name}")
        for name in keep:
            boxes = []
            for (x1, y1, x2, y2), cls in objects:
                if cls == name:
                    box = [min(max(x1, 0), w), min(max(y1, 0), h), min(max(x2, 0), w), min(max(y2, 0), h)]
                    clipped += box != [x1, y1, x2, y2]
                    boxes.append(box)
            if boxes or negatives:
                samples.append(Sample(id=f"nwpu-{path.stem}-{_slug(name)}", task="ovd", images=[rel], width=w,
                                      height=h, query=name, category=name, boxes=boxes, labels=[name] * len(boxes),
                                      source="nwpu-vhr10", meta={"image_set": "positive"}))
    if negatives:
        for image in sorted(p for p in (src / NEGATIVE).glob("*") if p.suffix.lower() in _IMAGE_SUFFIXES):
            w, h = image_size(image)
            rel = link_image(image, out, f"{IMAGES_DIR}/negative/{image.name}")
            for name in keep:
                samples.append(Sample(id=f"nwpu-neg{image.stem}-{_slug(name)}", task="ovd", images=[rel], width=w,
                                      height=h, query=name, category=name, source="nwpu-vhr10",
                                      meta={"image_set": "negative"}))
    if clipped:
        log.warning("nwpu-vhr10: clipped %d boxes that overshoot their image", clipped)
    write_dataset(out, samples)
    return len(samples)

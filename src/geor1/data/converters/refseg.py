"""Referring segmentation datasets → ``gres`` samples: RRSIS-D and EarthReason.

**RRSIS-D** (refcoco style, as read by the REFER API of SegEarth-R1 / RMSIN)::

    SRC/
      rrsisd/refs(unc).p        a pickle: a list of refs, each
        {"ref_id": 0, "ann_id": 12, "image_id": 3, "split": "train" | "val" | "test",
         "category_id": 5, "sentences": [{"sent_id": 0, "sent": "...", "raw": "...",
                                           "tokens": [...]}, ...], ...}
      rrsisd/instances.json     COCO: "images" [{"id", "file_name", "width", "height"}],
                                "annotations" [{"id", "image_id", "category_id", "bbox": [x, y, w, h],
                                "segmentation": polygons [[x, y, ...], ...] or RLE {"size", "counts"}}],
                                "categories" [{"id", "name"}]
      images/rrsisd/JPEGImages/<file_name>     the images (800x800)

One sample per sentence: ``query`` its ``raw`` text (``sent`` when there is no ``raw``), ``boxes``
and ``masks`` its annotation's box (xywh → xyxy pixels) and segmentation, ``category`` the ref's
category name, ``split`` the ref's split. ``ann_id`` may also be a list (several targets, the
gRefCOCO convention) and ``-1``, ``[-1]``, ``[]`` or ``"no_target": true`` mark a ref with no
target (empty ``boxes``/``masks``). The pickle is read with an unpickler that refuses any class
(refs are plain lists, dicts, strings and numbers), so a pickle cannot run code.
Options: ``split`` (``train``/``val``/``test``; ``test`` also matches ``testA``/``testB``),
``split_by`` (the ``refs(<split_by>).p`` name, default ``unc``), ``images`` (image folder under SRC).

**EarthReason** (SegEarth-R1's RSReasonSeg release; geospatial pixel reasoning)::

    SRC/
      train/ val/ test/
        images/<stem>.jpg|png    the images
        labels/<stem>.png        the target mask: nonzero pixels are the target (one mask per
                                 image; it may hold several regions, or none)
        QAs/<stem>.json          {"questions": ["...", ...], "answer": ["...", ...], ...};
                                 an empty "answer" list marks a no-target image

One sample per image and its first question (the SegEarth-R1 evaluation protocol; option
``all_questions=true`` makes one per question): ``boxes[0]`` the bounding box of all nonzero label
pixels and ``masks[0]`` the label as COCO RLE — the label is one mask, kept whole — or both empty
when the label is empty (no target). ``category`` comes from the QA file's ``category`` (or
``class``) field when it has one, else stays None (few-shot splitting needs it and reports
samples without one). ``meta["answer"]`` keeps the first answer text.
Assumption: the release is described by SegEarth-R1's loaders (``RS_val_dataset.py``); an
EarthReason copy converted to the refcoco layout above (a ``refs(<split_by>).p`` anywhere under
SRC with ``instances.json`` beside it, images under option ``images``, default ``images``) is read
like RRSIS-D, including multi- and no-target refs. Options: ``split``, ``all_questions``,
``split_by``, ``images``.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from geor1.data.convert import IMAGES_DIR, image_size, link_image, record_error, safe_relpath
from geor1.data.schema import Sample, SchemaError, write_dataset

SPLITS = ("train", "val", "test")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif")


class _PlainUnpickler(pickle.Unpickler):
    """Reads pickles of plain data only: any class or function reference is refused."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"the refs pickle refers to {module}.{name}; only plain data is read")


def load_refs(path: Path) -> list[dict]:
    """The list of refs in a refcoco-style pickle; SchemaError when it is not one."""
    try:
        with open(path, "rb") as f:
            refs = _PlainUnpickler(f, encoding="latin1").load()  # latin1: Python 2 pickles of str
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise SchemaError(f"not a readable refs pickle ({e})", file=path) from None
    if not isinstance(refs, list):
        raise SchemaError(f"expected a list of refs, got {type(refs).__name__}", file=path)
    return refs


def _split_matches(ref_split: Any, split: str | None) -> bool:
    if split is None:
        return True
    return split in str(ref_split) if split == "test" else ref_split == split


def _schema_mask(seg: Any, w: int, h: int, path: Path, ann_id: Any) -> Any:
    """A COCO segmentation as a schema mask (polygons, or RLE of this image's size)."""
    if isinstance(seg, list):
        polys = [[float(v) for v in p] for p in seg if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
        if not polys:
            raise record_error(path, f"annotation {ann_id}", "no polygon with 3 or more points", "segmentation")
        return polys
    if isinstance(seg, dict) and "counts" in seg and "size" in seg:
        if [int(s) for s in seg["size"]] != [h, w]:
            raise record_error(path, f"annotation {ann_id}", f"RLE size {seg['size']} is not the image's [{h}, {w}]",
                               "segmentation")
        counts = seg["counts"]
        return {"size": [h, w], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
    raise record_error(path, f"annotation {ann_id}", "expected polygons or RLE", "segmentation")


def _ann_ids(ref: dict) -> list:
    if ref.get("no_target"):
        return []
    ids = ref.get("ann_id")
    ids = ids if isinstance(ids, (list, tuple)) else [ids]
    return [a for a in ids if a is not None and a != -1]


def read_refcoco(src: Path, out: Path, refs_path: Path, image_dir: Path, *, split: str | None,
                 source: str) -> list[Sample]:
    """Samples from a refcoco-style ``refs_path`` with ``instances.json`` beside it (module docstring);
    images are linked into ``out/images``."""
    inst_path = refs_path.parent / "instances.json"
    if not inst_path.is_file():
        raise SchemaError(f"no instances.json beside {refs_path.name}", file=inst_path)
    try:
        inst = json.loads(inst_path.read_text(encoding="utf-8"))
        images = {im["id"]: im for im in inst["images"]}
        anns = {a["id"]: a for a in inst["annotations"]}
        cats = {c["id"]: c["name"] for c in inst["categories"]}
    except json.JSONDecodeError as e:
        raise SchemaError(f"not valid JSON ({e.msg} at line {e.lineno})", file=inst_path) from None
    except (KeyError, TypeError) as e:
        raise SchemaError(f"not COCO instances: missing {e}", file=inst_path) from None

    samples, linked = [], {}
    for i, ref in enumerate(load_refs(refs_path)):
        if not isinstance(ref, dict):
            raise record_error(refs_path, i, f"expected a dict, got {type(ref).__name__}")
        for key in ("ref_id", "image_id", "sentences"):
            if key not in ref:
                raise record_error(refs_path, i, "missing", key)
        if not _split_matches(ref.get("split"), split):
            continue
        image_info = images.get(ref["image_id"])
        if image_info is None:
            raise record_error(refs_path, i, f"image {ref['image_id']} is not in {inst_path.name}", "image_id")
        if ref["image_id"] not in linked:
            try:
                image = image_dir / safe_relpath(image_info["file_name"])
            except SchemaError as e:
                raise record_error(inst_path, ref["image_id"], e.problem, "file_name") from None
            if not image.is_file():
                raise record_error(refs_path, i, f"image {image} not found", "image_id")
            w, h = (image_info["width"], image_info["height"]) if "width" in image_info else image_size(image)
            linked[ref["image_id"]] = (link_image(image, out, f"{IMAGES_DIR}/{image_info['file_name']}",
                                                  src_root=image_dir, where=inst_path, field="file_name"), w, h)
        rel, w, h = linked[ref["image_id"]]
        boxes, masks = [], []
        for a in _ann_ids(ref):
            ann = anns.get(a)
            if ann is None:
                raise record_error(refs_path, i, f"annotation {a} is not in {inst_path.name}", "ann_id")
            x, y, bw, bh = (float(v) for v in ann["bbox"])
            boxes.append([max(x, 0.0), max(y, 0.0), min(x + bw, w), min(y + bh, h)])
            masks.append(_schema_mask(ann.get("segmentation"), w, h, inst_path, a))
        category = cats.get(ref.get("category_id"))
        for j, sent in enumerate(ref["sentences"]):
            text = (sent.get("raw") or sent.get("sent") or "").strip() if isinstance(sent, dict) else ""
            if not text:
                raise record_error(refs_path, i, f"sentence {j} has no text", "sentences")
            samples.append(Sample(id=f"{source}-{ref['ref_id']}-{sent.get('sent_id', j)}", task="gres", images=[rel],
                                  width=w, height=h, query=text, category=category, boxes=boxes,
                                  labels=[category or "object"] * len(boxes), masks=masks, source=source,
                                  split=str(ref.get("split", "")),
                                  meta={"ref_id": ref["ref_id"], "no_target": not boxes}))
    return samples


def convert_rrsisd(src: Path, out: Path, *, split: str | None = None, split_by: str = "unc",
                   images: str = "images/rrsisd/JPEGImages") -> int:
    """Convert RRSIS-D (module docstring) into the dataset folder ``out``; returns the count."""
    src, out = Path(src), Path(out)
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    refs_path = src / "rrsisd" / f"refs({split_by}).p"
    if not refs_path.is_file():
        raise SchemaError(f"no rrsisd/refs({split_by}).p under {src}", file=refs_path)
    samples = read_refcoco(src, out, refs_path, src / images, split=split, source="rrsis-d")
    write_dataset(out, samples)
    return len(samples)


def _reasonseg_samples(src: Path, out: Path, split: str, all_questions: bool) -> list[Sample]:
    folder = src / split
    samples = []
    for qa_path in sorted((folder / "QAs").glob("*.json")):
        stem = qa_path.stem
        try:
            qa = json.loads(qa_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise SchemaError(f"not valid JSON ({e.msg} at line {e.lineno})", file=qa_path) from None
        questions = qa.get("questions") if isinstance(qa, dict) else None
        if not isinstance(questions, list) or not questions or not all(isinstance(q, str) and q.strip()
                                                                       for q in questions):
            raise SchemaError("field 'questions': expected a non-empty list of strings", file=qa_path)
        answers = qa.get("answer", [])
        if not isinstance(answers, list):
            raise SchemaError("field 'answer': expected a list", file=qa_path)
        image = next((folder / "images" / (stem + s) for s in _IMAGE_SUFFIXES
                      if (folder / "images" / (stem + s)).is_file()), None)
        if image is None:
            raise SchemaError(f"no image {stem}.* in {folder / 'images'}", file=qa_path)
        label = folder / "labels" / f"{stem}.png"
        if not label.is_file():
            raise SchemaError(f"no label {label.name} in {folder / 'labels'}", file=qa_path)
        w, h = image_size(image)
        with Image.open(label) as im:
            mask = np.array(im.convert("L")) != 0
        if mask.shape != (h, w):
            raise SchemaError(f"label is {mask.shape[1]}x{mask.shape[0]}, its image {w}x{h}", file=label)
        rel = link_image(image, out, f"{IMAGES_DIR}/{split}/{image.name}")
        boxes, masks = [], []
        if mask.any():
            ys, xs = np.nonzero(mask)
            boxes = [[float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]]
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            masks = [{"size": [h, w], "counts": rle["counts"].decode("ascii")}]
        category = qa.get("category", qa.get("class"))
        category = str(category).strip() if category is not None else None
        for j, q in enumerate(questions if all_questions else questions[:1]):
            sid = f"earthreason-{split}-{stem}" + (f"-q{j}" if all_questions else "")
            samples.append(Sample(id=sid, task="gres", images=[rel], width=w, height=h, query=q.strip(),
                                  category=category, boxes=boxes, labels=[category or "object"] * len(boxes),
                                  masks=masks, source="earthreason", split=split,
                                  meta={"answer": str(answers[0]) if answers else None, "no_target": not boxes}))
    return samples


def convert_earthreason(src: Path, out: Path, *, split: str | None = None, all_questions: bool = False,
                        split_by: str = "unc", images: str = "images") -> int:
    """Convert EarthReason (module docstring) into the dataset folder ``out``; returns the count."""
    src, out = Path(src), Path(out)
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    splits = [s for s in ([split] if split else SPLITS) if (src / s / "QAs").is_dir()]
    if splits:
        samples = [s for sp in splits for s in _reasonseg_samples(src, out, sp, bool(all_questions))]
    else:
        refs = sorted(src.glob(f"**/refs({split_by}).p"))
        if not refs:
            raise SchemaError(f"neither {{train,val,test}}/QAs/ (RSReasonSeg layout) nor a refs({split_by}).p "
                              f"(refcoco layout) under {src}", file=src)
        samples = read_refcoco(src, out, refs[0], src / images, split=split, source="earthreason")
    write_dataset(out, samples)
    return len(samples)

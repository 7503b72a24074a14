"""DIOR-RSVG visual grounding → ``rec`` samples.

On-disk format (the RSVG release, ZhanYang-nwpu/RSVG-pytorch)::

    SRC/
      Annotations/00001.xml ...   Pascal VOC, one file per image:
        <annotation>
          <filename>00001.jpg</filename>
          <size><width>800</width><height>800</height><depth>3</depth></size>
          <object>                               one per referred object
            <name>golffield</name>
            <bndbox><xmin>133</xmin><ymin>237</ymin><xmax>684</xmax><ymax>672</ymax></bndbox>
            <description>A green and brown golf field</description>
          </object>
          ...
        </annotation>
      JPEGImages/00001.jpg ...    the images (800x800)
      train.txt, val.txt, test.txt
                                  one integer a line: a GLOBAL OBJECT INDEX, counting every
                                  <object> of every XML file, files in file-name order, objects
                                  in document order, from 0 — not an image id

Each listed object becomes one ``rec`` sample: ``query`` its description, ``boxes[0]`` its
``bndbox`` (absolute pixels, clipped to the image when an annotation overshoots it — counted in the
log), ``category``/``labels[0]`` its name, ``split`` the file that lists it; ``meta`` keeps
``object_index`` and the XML file name. ``is_unique`` stays unknown (None): an XML lists only the
referred objects, not every object of the image.

Option ``split``: ``train``, ``val`` or ``test``; default all three (every object listed in some
split file; with no split files at all, every object, with an empty split).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

from geor1.data.convert import IMAGES_DIR, image_size, link_image, record_error, safe_relpath
from geor1.data.schema import Sample, SchemaError, write_dataset

log = logging.getLogger("geor1.data")

SPLITS = ("train", "val", "test")


def read_split_files(src: Path) -> dict[int, str]:
    """Global object index → split name, from ``train.txt``/``val.txt``/``test.txt`` that exist."""
    where: dict[int, str] = {}
    for split in SPLITS:
        path = src / f"{split}.txt"
        if not path.is_file():
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                index = int(line.strip())
            except ValueError:
                raise SchemaError(f"expected an object index (integer), got {line.strip()!r:.40}",
                                  file=path, line=lineno) from None
            if index in where:
                raise SchemaError(f"object index {index} is listed in {where[index]}.txt too",
                                  file=path, line=lineno)
            where[index] = split
    return where


def _text(node: ET.Element, tag: str, path: Path, record: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise record_error(path, record, "missing", tag)
    return child.text.strip()


def read_objects(path: Path) -> tuple[str, list[dict]]:
    """(image file name, objects) of one annotation file; objects carry name, box, description."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise SchemaError(f"not valid XML ({e})", file=path) from None
    filename = _text(root, "filename", path, "annotation")
    objects = []
    for k, obj in enumerate(root.findall("object")):
        where = f"object {k}"
        bnd = obj.find("bndbox")
        if bnd is None:
            raise record_error(path, where, "missing", "bndbox")
        try:
            box = [float(_text(bnd, t, path, where)) for t in ("xmin", "ymin", "xmax", "ymax")]
        except ValueError:
            raise record_error(path, where, "coordinates are not numbers", "bndbox") from None
        if box[2] < box[0] or box[3] < box[1]:
            raise record_error(path, where, f"xmax < xmin or ymax < ymin in {box}", "bndbox")
        objects.append({"name": _text(obj, "name", path, where), "box": box,
                        "description": _text(obj, "description", path, where)})
    return filename, objects


def convert(src: Path, out: Path, *, split: str | None = None) -> int:
    """Convert ``src`` (see the module docstring) into the dataset folder ``out``; returns the count."""
    src, out = Path(src), Path(out)
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    ann_dir = src / "Annotations"
    xmls = sorted(ann_dir.glob("*.xml"))
    if not xmls:
        raise SchemaError(f"no XML files in {ann_dir}", file=ann_dir)
    where = read_split_files(src)
    wanted = {i for i, s in where.items() if split is None or s == split}

    samples, index, clipped = [], 0, 0
    for path in xmls:
        filename, objects = read_objects(path)
        first, index = index, index + len(objects)
        if not any(first + k in wanted for k in range(len(objects))) and where:
            continue
        image = src / "JPEGImages" / safe_relpath(filename, where=path, field="filename")
        if not image.is_file():
            raise record_error(path, "annotation", f"image {image} not found", "filename")
        w, h = image_size(image)
        rel = link_image(image, out, f"{IMAGES_DIR}/{filename}", src_root=src, where=path, field="filename")
        for k, obj in enumerate(objects):
            i = first + k
            if where and i not in wanted:
                continue
            x1, y1, x2, y2 = obj["box"]
            box = [min(max(x1, 0), w), min(max(y1, 0), h), min(max(x2, 0), w), min(max(y2, 0), h)]
            clipped += box != obj["box"]
            name = obj["name"].lower()
            samples.append(Sample(id=f"dior-rsvg-{i:05d}", task="rec", images=[rel], width=w, height=h,
                                  query=obj["description"], category=name, boxes=[box], labels=[name],
                                  source="dior-rsvg", split=where.get(i, ""),
                                  meta={"object_index": i, "annotation": path.name}))
    missing = sorted(i for i in wanted if i >= index)
    if missing:
        raise SchemaError(f"split files list object index {missing[0]} but the annotations hold only {index} "
                          f"objects", file=src / f"{where[missing[0]]}.txt")
    if clipped:
        log.warning("dior-rsvg: clipped %d boxes that overshoot their image", clipped)
    write_dataset(out, samples)
    return len(samples)

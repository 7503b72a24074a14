"""A contact sheet of GeoSynth samples: one row per task, annotations drawn from the written datasets.

Each row is made the way a user would: the task's dataset is written with ``geor1 synth`` machinery to a
temporary folder (half style A, half style B), read back with :func:`geor1.data.load_dataset`, and every
tile shows image(s), boxes, masks (decoded from the stored RLE) and the query under it. So the sheet
checks the round trip, not just the renderer.
"""

from __future__ import annotations

import logging
import tempfile
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pycocotools import mask as mask_utils

from geor1.data.schema import Dataset, Sample, load_dataset

log = logging.getLogger(__name__)

TASKS = ("rec", "ovd", "gres", "crossview", "geoloc")
TILE = 300  # pixels per tile image
CAPTION_LINES = 4
BOX_COLOURS = {"rec": (40, 255, 80), "ovd": (255, 220, 0), "gres": (255, 60, 200)}


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def _fit(image: Image.Image, w: int, h: int) -> tuple[Image.Image, float]:
    s = min(w / image.width, h / image.height)
    return image.resize((max(1, round(image.width * s)), max(1, round(image.height * s))), Image.BILINEAR), s


def _annotate(image: Image.Image, sample: Sample, scale: float) -> Image.Image:
    """Boxes (and GRES masks) of ``sample`` drawn on its image, already scaled by ``scale``."""
    colour = BOX_COLOURS.get(sample.task, (0, 255, 255))
    out = image.convert("RGB")
    if sample.masks:
        over = np.asarray(out).astype(np.float32)
        for m in sample.masks:
            full = mask_utils.decode(
                [m if isinstance(m["counts"], bytes) else {**m, "counts": m["counts"].encode()}]
            )[:, :, 0]
            small = np.asarray(Image.fromarray(full * 255).resize(out.size, Image.NEAREST)) > 127
            over[small] = 0.45 * over[small] + 0.55 * np.array(colour, np.float32)
        out = Image.fromarray(over.astype(np.uint8))
    draw = ImageDraw.Draw(out)
    for box in sample.boxes:
        x1, y1, x2, y2 = (v * scale for v in box)
        draw.rectangle([x1 - 1, y1 - 1, x2, y2], outline=colour, width=2)
    return out


def _caption(sample: Sample) -> str:
    style = sample.source.rsplit("-", 1)[-1] if sample.source.startswith("geosynth-") else sample.source
    if sample.task == "rec":
        tag = "unique" if sample.is_unique else "not unique"
        return f"[{style}, {tag}] {sample.query}"
    if sample.task == "ovd":
        found = f"{len(sample.boxes)} found" if sample.boxes else "absent"
        return f"[{style}] detect: {sample.query} ({found})"
    if sample.task == "gres":
        n = len(sample.boxes)
        return f"[{style}, {'no' if n == 0 else n} target{'s' if n != 1 else ''}] {sample.query}"
    if sample.task == "crossview":
        return f"answer {sample.answer}: {sample.query}"
    if sample.task == "geoloc" and sample.gps:
        lat, lon = sample.gps[0]
        return f"GPS {lat:.3f}, {lon:.3f}. {sample.query}"
    return sample.query


def _tile(ds: Dataset, sample: Sample, font) -> Image.Image:
    first = Image.open(ds.image_path(sample, 0))
    img, scale = _fit(first, TILE, TILE)
    img = _annotate(img, sample, scale)
    strip = None
    if len(sample.images) > 1:  # crossview: candidates in a strip, the answer outlined
        k = len(sample.images) - 1
        cell = TILE // k
        strip = Image.new("RGB", (TILE, cell), (30, 30, 30))
        for i in range(k):
            thumb, _ = _fit(Image.open(ds.image_path(sample, i + 1)).convert("RGB"), cell - 4, cell - 4)
            strip.paste(thumb, (i * cell + 2, 2))
            if sample.choices and sample.answer == sample.choices[i]:
                ImageDraw.Draw(strip).rectangle(
                    [i * cell, 0, (i + 1) * cell - 1, cell - 1], outline=(40, 255, 80), width=2
                )
    line_h = font.size + 3 if hasattr(font, "size") else 14
    lines = textwrap.wrap(_caption(sample), width=int(TILE / (0.52 * (line_h - 3))))[:CAPTION_LINES]
    # a square image is centred in a square cell; a panorama sits on top with its candidates right below
    image_h = TILE if img.height == img.width else img.height
    height = image_h + (strip.height if strip else 0) + CAPTION_LINES * line_h + 6
    tile = Image.new("RGB", (TILE, height), (20, 20, 20))
    tile.paste(img, ((TILE - img.width) // 2, (image_h - img.height) // 2))
    y = image_h
    if strip:
        tile.paste(strip, (0, y))
        y += strip.height
    draw = ImageDraw.Draw(tile)
    for i, line in enumerate(lines):
        draw.text((4, y + 3 + i * line_h), line, fill=(235, 235, 235), font=font)
    return tile


def _datasets(task: str, n: int, seed: int, size: int, root: Path) -> list[tuple[Dataset, Sample]]:
    from geor1.synth.cli import write

    out = []
    for style, count, style_seed in (("A", (n + 1) // 2, seed), ("B", n // 2, seed + 1)):
        if count == 0:
            continue
        folder = root / f"{task}_{style}"
        write(task, folder, count, style_seed, size, style)
        ds = load_dataset(folder)
        out += [(ds, s) for s in ds]
    return out


def write_contact_sheet(path, *, tasks=None, n: int = 4, seed: int = 0, size: int = 448) -> Path:
    """Write a PNG with ``n`` samples of each task (rows); returns its path. Tasks whose builder is not
    installed are skipped with a warning."""
    tasks = tuple(tasks or TASKS)
    font = _font(13)
    rows: list[tuple[str, list[Image.Image]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            try:
                items = _datasets(task, n, seed, size, Path(tmp))
            except ImportError as e:
                log.warning("contact sheet: skipping %s (%s)", task, e)
                continue
            except Exception:
                if task in ("rec", "ovd", "gres"):
                    raise
                # another module's builder failed: show the rest of the sheet, say loudly what is missing
                log.exception("contact sheet: the %s builder failed; its row is left out", task)
                continue
            rows.append((task, [_tile(ds, s, font) for ds, s in items]))
    if not rows:
        raise ValueError(f"nothing to draw for tasks {tasks}")
    label_w, gap = 130, 6
    width = label_w + max(len(t) for _, t in rows) * (TILE + gap)
    height = sum(max(t.height for t in tiles) + gap for _, tiles in rows)
    sheet = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    big = _font(18)
    y = 0
    for task, tiles in rows:
        draw.text((8, y + TILE // 2 - 10), task.upper(), fill=(255, 255, 255), font=big)
        for i, t in enumerate(tiles):
            sheet.paste(t, (label_w + i * (TILE + gap), y))
        y += max(t.height for t in tiles) + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG", optimize=True)
    return path

"""A contact sheet of GeoSynth samples: one row per task, drawn from the written datasets.

Each row is made the way a user would: the task's dataset is written by its GeoSynth builder
(:mod:`geor1.synth.registry`) to a temporary folder (half style A, half style B), read back with
:func:`geor1.data.load_dataset`, and every tile is the sample as its task draws it for reports and
``geor1 predict`` (ground truth in green), with the task's caption under it. So the sheet checks
the round trip, not just the renderer.
"""

from __future__ import annotations

import logging
import tempfile
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw

from geor1 import drawing
from geor1.data.schema import Dataset, Sample, load_dataset

log = logging.getLogger(__name__)

TILE = 300  # pixels per tile image
CAPTION_LINES = 4


def _tile(ds: Dataset, sample: Sample, font, tile: int = TILE) -> Image.Image:
    """The sample as its task draws it (ground truth only), shrunk to the tile, its caption below."""
    from geor1.evaluation.draw import draw_sample, load_images
    from geor1.tasks import get_task

    img = draw_sample(sample, load_images(ds, sample), None, truth=True, max_side=tile)
    if img.width > tile:
        img = img.resize((tile, max(1, round(img.height * tile / img.width))), Image.LANCZOS)
    style = sample.meta.get("style") or (sample.source.rsplit("-", 1)[-1] if sample.source.startswith("geosynth-")
                                        else sample.source)
    line_h = font.size + 3 if hasattr(font, "size") else 14
    text = f"[{style}] {get_task(sample.task).caption(sample)}"
    lines = textwrap.wrap(text, width=int(tile / (0.52 * (line_h - 3))))[:CAPTION_LINES]
    image_h = max(tile, img.height) if img.height == img.width else img.height
    out = Image.new("RGB", (tile, image_h + CAPTION_LINES * line_h + 6), (20, 20, 20))
    out.paste(img, ((tile - img.width) // 2, (image_h - img.height) // 2))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((4, image_h + 3 + i * line_h), line, fill=(235, 235, 235), font=font)
    return out


def _datasets(task: str, n: int, seed: int, size: int, root: Path) -> list[tuple[Dataset, Sample]]:
    from geor1.synth.registry import write

    out = []
    for style, count, style_seed in (("A", (n + 1) // 2, seed), ("B", n // 2, seed + 1)):
        if count == 0:
            continue
        folder = root / f"{task}_{style}"
        write(task, folder, count, style_seed, size, style)
        ds = load_dataset(folder)
        out += [(ds, s) for s in ds]
    return out


def write_contact_sheet(path, *, tasks=None, n: int = 4, seed: int = 0, size: int = 448, tile: int = TILE) -> Path:
    """Write a PNG with ``n`` samples of each task (rows); returns its path. Tasks whose builder is not
    installed are skipped with a warning."""
    from geor1.synth.registry import BUILDERS

    tasks = tuple(tasks or BUILDERS)
    font = drawing.font(13)
    rows: list[tuple[str, list[Image.Image]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            try:
                items = _datasets(task, n, seed, size, Path(tmp))
            except ImportError as e:
                log.warning("contact sheet: skipping %s (%s)", task, e)
                continue
            except Exception:
                if BUILDERS[task].aerial:
                    raise
                # another module's builder failed: show the rest of the sheet, say loudly what is missing
                log.exception("contact sheet: the %s builder failed; its row is left out", task)
                continue
            rows.append((task, [_tile(ds, s, font, tile) for ds, s in items]))
    if not rows:
        raise ValueError(f"nothing to draw for tasks {tasks}")
    label_w, gap = 130, 6
    width = label_w + max(len(t) for _, t in rows) * (tile + gap)
    height = sum(max(t.height for t in tiles) + gap for _, tiles in rows)
    sheet = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    big = drawing.font(18)
    y = 0
    for task, tiles in rows:
        draw.text((8, y + 10), task.upper(), fill=(255, 255, 255), font=big)
        for i, t in enumerate(tiles):
            sheet.paste(t, (label_w + i * (tile + gap), y))
        y += max(t.height for t in tiles) + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG", optimize=True)
    return path

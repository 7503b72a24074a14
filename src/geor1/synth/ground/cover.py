"""Ground cover (shared by both views) and the shadows of buildings and trees."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from geor1.synth.ground.city import _cell_cover, _river_distance, urban_density
from geor1.synth.ground.layout import Conditions, Layout
from geor1.synth.ground.looks import ASPHALT, BIOME_LOOKS, FIELD, ROAD_LINE, SIDEWALK, SNOW
from geor1.synth.ground.noise import _lattice, _value_noise

# ----------------------------------------------------------------------------------------------
# ground cover (shared by both views)


def ground_cover(layout: Layout, x: np.ndarray, y: np.ndarray, cond: Conditions) -> np.ndarray:
    """RGB in [0, 1] (float32, shape ``x.shape + (3,)``) of the bare ground — no buildings, trees
    or shadows — at local points (x, y) in metres: block cover with a world-anchored texture,
    streets with sidewalks and centre lines, the river and ponds, snow."""
    plan, look = layout.plan, BIOME_LOOKS[layout.plan.biome]
    u, v = layout.to_grid(x, y)
    U, V = u + np.float32(layout.cam_U), v + np.float32(layout.cam_V)
    p, s = np.float32(plan.pitch_m), plan.street_m
    fi, fj = U / p, V / p

    # block cover colour, looked up once per cell, with a world-anchored texture
    i, j = np.floor(fi).astype(np.int32), np.floor(fj).astype(np.int32)
    i0, j0 = int(i.min()), int(j.min())
    ni, nj = int(i.max()) - i0 + 1, int(j.max()) - j0 + 1
    ci, cj = np.meshgrid(
        np.arange(i0, i0 + ni, dtype=np.int32), np.arange(j0, j0 + nj, dtype=np.int32), indexing="ij"
    )
    cell_cover, cell_tint = _cell_cover(plan, ci.ravel(), cj.ravel())
    idx = (i - i0) * nj + (j - j0)
    rgb = np.take(cell_tint, idx, axis=0)
    cover = np.take(cell_cover, idx)
    grain = _lattice(np.floor(U).astype(np.int32), np.floor(V).astype(np.int32), 2)  # 1 m speckle
    tex = _value_noise(U, V, 4.0, 1) * 0.7 + grain * 0.3
    shade = 0.84 + 0.3 * tex
    shade[(cover == FIELD) & (np.floor(U * 0.7).astype(np.int32) & 1 == 1)] *= 0.9  # crop rows
    rgb *= shade[..., None]

    # streets: asphalt, sidewalks in town, dashed centre lines on wide streets
    ku, kv = np.rint(fi), np.rint(fj)
    du, dv = np.abs(fi - ku) * p, np.abs(fj - kv) * p  # metres to the nearest grid line
    dens = urban_density(plan, np.hypot(U, V))
    on_u, on_v = du < s / 2, dv < s / 2
    town = dens > 0.12
    if not town.all():  # out of town only every rural_road_every-th grid line is a road
        on_u &= town | (ku % plan.rural_road_every == 0)
        on_v &= town | (kv % plan.rural_road_every == 0)
    road = on_u | on_v
    if road.any():  # work on the street pixels only
        ru, rv, rdu, rdv = on_u[road], on_v[road], du[road], dv[road]
        sidewalk_m = min(2.2, 0.2 * s)  # narrower on narrow streets, clear of the camera's lane
        from_centre = np.minimum(np.where(ru, rdu, s), np.where(rv, rdv, s))
        walk = (from_centre > s / 2 - sidewalk_m) & (dens[road] > 0.3)
        surface = np.where(walk[:, None], np.float32(SIDEWALK), np.float32(ASPHALT))
        if s >= 11:
            dash = (ru & ~rv & (rdu < 0.35) & (np.mod(V[road], 9.0) < 4.5)) | (
                rv & ~ru & (rdv < 0.35) & (np.mod(U[road], 9.0) < 4.5)
            )
            surface[dash] = ROAD_LINE
        rgb[road] = surface * (0.92 + 0.16 * tex[road])[:, None]

    # water: the river and ponds (streets cross the river on bridges)
    reach = float(max(np.abs(x).max(), np.abs(y).max())) * 1.5
    water = np.zeros(U.shape, bool)
    if float(_river_distance(plan, *layout.city_offset(0.0, 0.0))) < reach + plan.river_width_m / 2 + 60:
        water = (_river_distance(plan, *layout.city_offset(x, y)) < plan.river_width_m / 2) & ~road
    for px_, py_, pr in layout.ponds:
        if math.hypot(px_, py_) < reach + pr:
            water |= (x - px_) ** 2 + (y - py_) ** 2 < pr * pr
    if cond.snow:
        rgb = np.where(
            road[..., None],
            rgb * 0.75 + 0.25 * np.float32(SNOW),
            0.15 * rgb + 0.85 * np.float32(SNOW) * (0.95 + 0.05 * tex[..., None]),
        )
    if water.any():
        wc = np.array((0.78, 0.86, 0.92) if cond.temperature_c < -4 else look.water, np.float32)
        rgb[water] = wc * (0.9 + 0.2 * _value_noise(U[water], V[water] * 3, 4.0, 3))[:, None]
    return rgb.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------
# shadows


def _sun_vector(cond: Conditions) -> tuple[float, float]:
    """Horizontal shadow displacement (east, north) in metres per metre of height."""
    k = 1.0 / math.tan(math.radians(max(cond.sun_elevation, 3.0)))
    az = math.radians(cond.sun_azimuth)
    return -math.sin(az) * k, -math.cos(az) * k


def _shadow_mask(layout: Layout, cond: Conditions, extent_m: float, px: int) -> np.ndarray:
    """Float (px, px) in [0, 1]: 1 where the ground lies in a building's or tree's shadow, for a
    square of ``extent_m`` metres centred on the camera, north up."""
    img = Image.new("L", (px, px), 0)
    draw = ImageDraw.Draw(img)
    scale, half = px / extent_m, extent_m / 2
    shift = np.array(_sun_vector(cond))
    reach = half + 1.0
    for h, fp in zip(layout.buildings[:, 4], layout.footprints):
        top = fp + shift * min(h, 400.0)
        both = np.concatenate([fp, top])
        if (both.min(axis=0) > reach).any() or (both.max(axis=0) < -reach).any():
            continue
        fpx = [(float((x + half) * scale), float((half - y) * scale)) for x, y in both]
        for k in range(4):  # the swept volume: each wall's quad from its foot to its shadow's
            draw.polygon([fpx[k], fpx[(k + 1) % 4], fpx[4 + (k + 1) % 4], fpx[4 + k]], fill=255)
        draw.polygon(fpx[4:], fill=255)
    for x, y, r, h, _ in layout.trees:
        cx, cy = x + shift[0] * h * 0.65, y + shift[1] * h * 0.65
        if abs(cx) < reach + r and abs(cy) < reach + r:
            draw.ellipse(
                [
                    (cx - r + half) * scale,
                    (half - cy - r) * scale,
                    (cx + r + half) * scale,
                    (half - cy + r) * scale,
                ],
                fill=200,
            )
    return np.asarray(img, np.float32) / 255.0

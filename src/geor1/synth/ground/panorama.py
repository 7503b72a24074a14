"""The ground view: a 360-degree equirectangular panorama raycast column by column
(:func:`render_panorama`)."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from PIL import Image

from geor1.synth.ground.city import _grid_axes
from geor1.synth.ground.cover import _shadow_mask, ground_cover
from geor1.synth.ground.layout import Conditions, Layout, _crown_colour, conditions
from geor1.synth.ground.looks import (
    BIOME_LOOKS,
    EYE_HEIGHT_M,
    FLOOR_M,
    FOG_M,
    GLASS,
    GROUND_SENSORS,
    MAX_PANO_TREES,
    SNOW,
    TRUNK,
    VIEW_RADIUS_M,
)
from geor1.synth.ground.noise import _lattice, _value_noise
from geor1.synth.sensor import expose

# ----------------------------------------------------------------------------------------------
# ground panorama


def _sky(
    cond: Conditions, moisture: float, az: np.ndarray, el: np.ndarray, seed: int, haze: np.ndarray
) -> np.ndarray:
    """Sky RGB (len(el), len(az), 3) for azimuths and elevations ≥ 0 in degrees: blue overhead,
    paler (and warm at low sun) towards the horizon, the sun's disc and glow, and clouds on a
    layer 1 km up where the climate is moist."""
    s = max(0.0, cond.sun_elevation)
    zenith = np.float32([0.22, 0.42, 0.82]) * np.float32(0.55 + 0.45 * math.sin(math.radians(s)) ** 0.5)
    horizon = np.float32([0.78, 0.85, 0.93]) * 0.5 + haze * 0.5
    if s < 20:
        horizon = horizon * (s / 20) + np.float32([0.98, 0.72, 0.48]) * (1 - s / 20)
    t = (np.clip(el / 60.0, 0, 1) ** 0.6).astype(np.float32)[:, None, None]
    rgb = horizon * (1 - t) + zenith * t
    e1, a1 = np.radians(el)[:, None], np.radians(az)[None, :]
    e2, a2 = math.radians(cond.sun_elevation), math.radians(cond.sun_azimuth)
    cos_sun = (np.sin(e1) * math.sin(e2) + np.cos(e1) * math.cos(e2) * np.cos(a1 - a2)).astype(np.float32)
    rgb = rgb + (0.35 * np.exp((cos_sun - 1.0) * 24.0))[..., None] * np.float32([1.0, 0.9, 0.7])
    cover = min(0.75, max(0.0, (moisture - 0.25) * 1.1))
    if cover > 0:
        d = 1000.0 / np.tan(np.radians(np.maximum(el, 1.0)))[:, None]  # metres to the cloud layer
        cx, cy = d * np.sin(a1), d * np.cos(a1)
        n = _value_noise(cx, cy, 700.0, seed) * 0.65 + _value_noise(cx, cy, 230.0, seed + 1) * 0.35
        cloud = (np.clip((n - (1 - cover)) / 0.12, 0, 1) * np.clip(el / 5.0, 0, 1)[:, None])[..., None]
        grey = np.float32(0.97) - 0.25 * np.clip(n - (1 - cover) - 0.12, 0, 0.4)[..., None]
        rgb = rgb * (1 - 0.9 * cloud) + 0.9 * cloud * grey
    rgb = np.where((cos_sun > math.cos(math.radians(1.6)))[..., None], np.float32([1.0, 0.98, 0.9]), rgb)
    return rgb.astype(np.float32)


def _horizon_profile(layout: Layout, az: np.ndarray) -> np.ndarray:
    """Elevation angle (degrees) of the distant relief by azimuth: a degree or so of hills,
    mountains where the land is high; seeded by the city so one city shares its skyline."""
    amp = 0.8 + min(9.0, layout.place.elevation_m / 350.0)
    a = np.radians(az)
    cx, cy = 30 * np.cos(a), 30 * np.sin(a)
    seed = layout.plan.city.id
    return amp * (_value_noise(cx, cy, 9.0, seed) * 0.7 + _value_noise(cx, cy, 2.5, seed + 7) * 0.3)


def render_panorama(layout: Layout, when: datetime, size: int = 256, style: str = "A") -> Image.Image:
    """A 360° equirectangular panorama ``2·size × size`` pixels seen from the camera at
    ``EYE_HEIGHT_M``, for capture time ``when`` (see the module docstring for the pixel mapping)."""
    H, W = size, 2 * size
    cond = conditions(layout, when)
    look = BIOME_LOOKS[layout.plan.biome]
    az = 360.0 * (np.arange(W) + 0.5) / W
    el = 90.0 - 180.0 * (np.arange(H) + 0.5) / H
    tan_el = np.tan(np.radians(el))
    sin_az, cos_az = np.sin(np.radians(az)).astype(np.float32), np.cos(np.radians(az)).astype(np.float32)
    light = cond.light
    haze = np.float32(look.far) * 0.35 + np.float32([0.75, 0.8, 0.86]) * 0.65
    if cond.snow:
        haze = haze * 0.5 + np.float32(SNOW) * 0.5
    n_sky = int((el >= 0).sum())
    sky_el = el[:n_sky]

    img = np.empty((H, W, 3), np.float32)
    cloud_seed = layout.seed % 100_000 + int(when.timestamp()) % 977  # clouds differ between captures
    sky = _sky(cond, layout.place.moisture, az, sky_el, cloud_seed, haze)

    # distant relief and, in wooded country, a treeline along the horizon
    ridge = _horizon_profile(layout, az)
    far = np.float32(look.far)
    top = np.float32(SNOW) * 0.8 + far * 0.2 if cond.snow or layout.place.elevation_m > 1800 else far
    frac = np.clip(sky_el[:, None] / np.maximum(ridge[None, :], 1e-3), 0, 1)[..., None] ** 3
    relief = ((far * (1 - frac) + top * frac) * 0.55 + haze * 0.45) * light
    sky = np.where((sky_el[:, None] < ridge[None, :])[..., None], relief, sky)
    if look.tree_density >= 2 and layout.density < 0.7:
        line = 0.6 + 0.9 * _value_noise(az * 2.0, np.zeros_like(az), 1.0, layout.plan.city.id + 3)
        treeline = (_crown_colour(layout, cond) * 0.6 + haze * 0.4) * light
        sky = np.where((sky_el[:, None] < line[None, :])[..., None], treeline, sky)
    img[:n_sky] = sky

    # the ground: each downward ray meets it g metres away
    g = (EYE_HEIGHT_M / -tan_el[n_sky:]).astype(np.float32)
    gx, gy = g[:, None] * sin_az[None, :], g[:, None] * cos_az[None, :]
    ground = ground_cover(layout, gx, gy, cond)
    # shadows from two rasters: 0.25 m cells near the camera, where the ground fills many pixels
    shadow = np.zeros(gx.shape, np.float32)
    for ext, n_px in ((2 * VIEW_RADIUS_M, 260), (60.0, 240)):
        inside = (np.abs(gx) < ext / 2) & (np.abs(gy) < ext / 2)
        mask = _shadow_mask(layout, cond, ext, n_px)
        ci = ((gx[inside] + ext / 2) * (n_px / ext)).astype(np.int32)
        ri = ((ext / 2 - gy[inside]) * (n_px / ext)).astype(np.int32)
        shadow[inside] = mask[np.minimum(ri, n_px - 1), np.minimum(ci, n_px - 1)]
    ground *= (1.0 - 0.5 * shadow)[..., None]
    fog = (1 - np.exp(-g / FOG_M)).astype(np.float32)[:, None, None]
    img[n_sky:] = (ground * (1 - fog) + haze * fog) * light

    _paint_objects(img, layout, cond, az, tan_el, haze, light)
    return expose(img, GROUND_SENSORS[style], layout.seed + 17)


# parts of an object a panorama pixel can show
_FACADE_U, _FACADE_V, _CROWN, _TRUNK = 1, 2, 3, 4


def _column_runs(cols: np.ndarray) -> list[tuple[slice, slice]]:
    """Contiguous runs of a sorted column index array, as (image columns, positions in ``cols``);
    an object seen across north is split in two."""
    if cols[-1] - cols[0] + 1 == len(cols):  # the usual case: one run
        return [(slice(int(cols[0]), int(cols[-1]) + 1), slice(0, len(cols)))]
    cuts = np.flatnonzero(np.diff(cols) > 1) + 1
    starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [len(cols)]])
    return [(slice(int(cols[a]), int(cols[b - 1]) + 1), slice(int(a), int(b))) for a, b in zip(starts, ends)]


def _tree_profile(
    tree: np.ndarray, offset: np.ndarray, shape: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heights (m) a tree covers along rays passing ``offset`` metres from its axis: the lowest
    point (the ground where the trunk is hit), the crown top, and the crown bottom."""
    _, _, r, h, _ = tree
    q = np.sqrt(np.clip(1 - (offset / r) ** 2, 0, 1))  # half-chord of the crown at this offset, relative
    if shape == "conifer":
        crown_lo, crown_hi = np.full_like(q, 0.15 * h), 0.15 * h + 0.85 * h * q
    elif shape == "palm":
        crown_lo, crown_hi = h - 0.7 * r * q, h + 0.25 * r * q
    elif shape == "acacia":
        crown_lo, crown_hi = 0.72 * h - 0.2 * r * q, 0.72 * h + 0.2 * r * q
    else:
        crown_lo, crown_hi = 0.6 * h - 0.4 * h * q, 0.6 * h + 0.4 * h * q
    trunk = offset < (0.2 if shape == "palm" else 0.25 + 0.02 * h)
    return np.where(trunk, 0.0, crown_lo), crown_hi, crown_lo


def _paint_objects(img, layout, cond, az, tan_el, haze, light) -> None:
    """Raycast buildings (boxes standing on the ground) and trees (crowns on trunks) along each
    column into a per-pixel (object, part, distance) buffer, nearest hit wins; then shade it."""
    H, W, _ = img.shape
    rad = np.radians(az)
    sin_az, cos_az = np.sin(rad), np.cos(rad)
    e_u, e_v = _grid_axes(layout.bearing_deg)
    du = sin_az * e_u[0] + cos_az * e_u[1]  # ray direction per column, grid frame
    dv = sin_az * e_v[0] + cos_az * e_v[1]
    shape = BIOME_LOOKS[layout.plan.biome].tree_shape
    objects = []  # (kind, index, columns, distance per column, extra per column)

    b = layout.buildings
    if len(b):  # ray–box intersection (slab method) in the grid frame, every column × building
        with np.errstate(divide="ignore", invalid="ignore"):
            iu, iv = 1.0 / du[:, None], 1.0 / dv[:, None]
            t1u, t2u = b[None, :, 0] * iu, b[None, :, 1] * iu
            t1v, t2v = b[None, :, 2] * iv, b[None, :, 3] * iv
        tnu, tfu = np.minimum(t1u, t2u), np.maximum(t1u, t2u)
        tnv, tfv = np.minimum(t1v, t2v), np.maximum(t1v, t2v)
        tnear, tfar = np.maximum(tnu, tnv), np.minimum(tfu, tfv)
        hit = (tnear <= tfar) & (tnear > 0.5)
        face_u = tnu >= tnv  # the ray enters through a wall facing ±u
        for k in np.flatnonzero(hit.any(axis=0)):
            cols = np.flatnonzero(hit[:, k])
            objects.append((0, int(k), cols, tnear[cols, k], face_u[cols, k]))
    t = layout.trees
    if len(t):  # a ray passing within the crown radius of a tree's axis sees it
        near = np.argsort(np.hypot(t[:, 0], t[:, 1]), kind="stable")[:MAX_PANO_TREES]
        along = t[near, 0][None, :] * sin_az[:, None] + t[near, 1][None, :] * cos_az[:, None]
        off = np.abs(t[near, 0][None, :] * cos_az[:, None] - t[near, 1][None, :] * sin_az[:, None])
        hit = (off < t[near, 2][None, :]) & (along > 0.8)
        for n_, k in enumerate(near):
            cols = np.flatnonzero(hit[:, n_])
            if len(cols):
                objects.append((1, int(k), cols, along[cols, n_], off[cols, n_]))
    if not objects:
        return

    obj = np.full((H, W), -1, np.int32)  # which of `objects` each pixel shows
    part = np.zeros((H, W), np.int8)
    dist = np.full((H, W), np.inf, np.float32)
    for o, (kind, k, cols, d, extra) in enumerate(objects):
        if kind == 0:
            lo_z, hi_z = np.zeros_like(d), np.full_like(d, layout.buildings[k, 4])
            parts = np.where(extra, _FACADE_U, _FACADE_V).astype(np.int8)[None, :]
        else:
            lo_z, hi_z, crown_lo = _tree_profile(layout.trees[k], extra, shape)
        # only the rows whose rays can pass between lo_z and hi_z at these distances
        r0 = int(np.searchsorted(-tan_el, -float(((hi_z - EYE_HEIGHT_M) / d).max()), side="left"))
        r1 = int(np.searchsorted(-tan_el, -float(((lo_z - EYE_HEIGHT_M) / d).min()), side="right"))
        if r1 <= r0:
            continue
        tan = tan_el[r0:r1, None]
        for cs, ps in _column_runs(cols):
            dd = d[None, ps]
            z = EYE_HEIGHT_M + dd * tan
            mask = (z >= lo_z[None, ps]) & (z <= hi_z[None, ps]) & (dd < dist[r0:r1, cs])
            if kind == 0:
                p = parts[:, ps]
            else:
                p = np.where(z >= crown_lo[None, ps], _CROWN, _TRUNK).astype(np.int8)
            np.copyto(obj[r0:r1, cs], o, where=mask)
            np.copyto(part[r0:r1, cs], p, where=mask)
            np.copyto(dist[r0:r1, cs], dd, where=mask)

    rows, cols = np.nonzero(obj >= 0)
    if not len(rows):
        return
    index = np.array([o[1] for o in objects])[obj[rows, cols]]
    pt, dd = part[rows, cols], dist[rows, cols]
    z = EYE_HEIGHT_M + dd * tan_el[rows]
    colour = np.empty((len(rows), 3), np.float32)
    sun_x, sun_y = math.sin(math.radians(cond.sun_azimuth)), math.cos(math.radians(cond.sun_azimuth))
    sun_horiz = math.cos(math.radians(max(cond.sun_elevation, 0.0)))

    fac = pt <= _FACADE_V
    if fac.any():  # walls: lit by the sun by orientation, windows on every storey
        k, c, zf, on_u = index[fac], cols[fac], z[fac], pt[fac] == _FACADE_U
        nu = np.where(on_u, -np.sign(du[c]), 0.0)  # outward wall normal, grid frame
        nv = np.where(on_u, 0.0, -np.sign(dv[c]))
        lit = (
            0.62
            + 0.38
            * np.clip((nu * e_u[0] + nv * e_v[0]) * sun_x + (nu * e_u[1] + nv * e_v[1]) * sun_y, 0, 1)
            * sun_horiz
        )
        # position along the wall, world-anchored so windows stay put
        along = np.where(on_u, dd[fac] * dv[c] + layout.cam_V, dd[fac] * du[c] + layout.cam_U)
        h = layout.buildings[k, 4]
        fz, fa = np.mod(zf, FLOOR_M), np.mod(along, 3.2)
        window = (fz > 1.0) & (fz < 2.4) & (fa > 1.1) & (fa < 2.5) & (zf < h - 0.8)
        col = layout.facades[k] * lit[:, None]
        col = np.where(window[:, None], np.float32(GLASS) * (0.8 + 0.4 * lit[:, None]), col)
        roof = np.float32(SNOW) if cond.snow else layout.roofs[k]
        col = np.where((layout.pitched[k] & (zf > h - 1.6))[:, None], roof * 0.9, col)
        colour[fac] = col
    crown = pt == _CROWN
    if crown.any():  # foliage: darker on the side away from the sun, leafy speckle
        k = index[crown]
        away = np.cos(np.arctan2(layout.trees[k, 0], layout.trees[k, 1]) - math.radians(cond.sun_azimuth))
        leaf = 0.75 + 0.25 * _lattice(rows[crown] // 2 + 7 * k, cols[crown] // 2, 9)
        shade = layout.trees[k, 4] * (0.8 - 0.15 * away) * leaf
        colour[crown] = _crown_colour(layout, cond) * shade[:, None]
    colour[pt == _TRUNK] = TRUNK
    fog = (1 - np.exp(-dd / FOG_M))[:, None]
    img[rows, cols] = (colour * (1 - fog) + haze * fog) * light

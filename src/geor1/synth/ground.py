"""One place of the GeoSynth world in 3-D, and its two views: an aerial tile and a ground panorama.

:func:`layout_at` builds the local layout around a GPS point: the camera is moved onto the
nearest street (as a street-view car would stand), then the city's street grid, the blocks
around it (buildings with footprints, heights and colours; parks, fields, woods with trees;
ponds) and the river are gathered within :data:`VIEW_RADIUS_M`. Every block is a pure function
of (city, block index), so two views of one place, or of two nearby places, agree.

Frames (all metres):

* **local** ``(x, y)``: x east, y north, origin at the camera.
* **grid** ``(u, v)``: u along the city grid bearing β (clockwise from north), v along β + 90°;
  ``x = u sin β + v cos β``, ``y = u cos β − v sin β``. Building footprints are axis-aligned
  rectangles in this frame. ``U, V`` (capitals) are grid coordinates from the city centre,
  lower-case ``u, v`` from the camera.

Views:

* :func:`render_aerial`: a nadir tile, north up, :data:`TILE_EXTENT_M` metres on a side centred
  on the camera (pixel ``(col, row)`` centre ↦ ``x = (col + ½)·m − E/2``, ``y = E/2 − (row + ½)·m``
  with ``m = E / size``). Shadows fall away from the sun computed from the capture time.
* :func:`render_panorama`: a 360° equirectangular ground panorama, ``2·size × size`` pixels,
  camera at :data:`EYE_HEIGHT_M`. Column ``c`` looks along azimuth ``360·(c + ½)/W`` degrees
  clockwise from north (north at the left edge, east a quarter in); row ``r`` is elevation
  ``90 − 180·(r + ½)/H`` degrees (the horizon between the two middle rows). Column-wise
  raycasting in numpy: the ground and streets are sampled where each pixel's ray meets the
  ground; buildings and trees are depth-tested per pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from geor1.synth import world

TILE_EXTENT_M = 160.0  # aerial tile side
VIEW_RADIUS_M = 130.0  # the layout gathers objects this far from the camera
EYE_HEIGHT_M = 2.5  # street-view camera height
FLOOR_M = 3.2  # storey height: building heights are whole storeys
MAX_PANO_TREES = 200  # nearest trees raycast in a panorama; further ones merge into the treeline
SUN_MIN_ELEVATION_DEG = 8.0  # captures are taken in daylight
FOG_M = 450.0  # distance at which the air hides 63% of a far object

Rgb = tuple[float, float, float]


# ----------------------------------------------------------------------------------------------
# palettes (RGB in [0, 1])


def _hex(h: str) -> Rgb:
    return tuple(int(h[i : i + 2], 16) / 255 for i in (1, 3, 5))


@dataclass(frozen=True)
class BiomeLook:
    """How a biome looks: bare ground, grass, field crop colours, tree crowns, tree shape
    (``broadleaf``, ``conifer``, ``palm``, ``acacia``), tree density (trees per 1000 m² of
    park), whether its trees lose leaves in winter, water colour and distant relief colour."""

    ground: Rgb
    grass: Rgb
    fields: tuple[Rgb, ...]
    crown: Rgb
    tree_shape: str
    tree_density: float
    deciduous: bool
    water: Rgb
    far: Rgb


BIOME_LOOKS = {
    "ice": BiomeLook(
        _hex("#e8eef4"),
        _hex("#dfe7ef"),
        (_hex("#e4ebf2"),),
        _hex("#2f4a3a"),
        "conifer",
        0.0,
        False,
        _hex("#9fb8cc"),
        _hex("#c8d4e0"),
    ),
    "tundra": BiomeLook(
        _hex("#8a8a6c"),
        _hex("#8f9468"),
        (_hex("#7d7f5e"), _hex("#9a9470")),
        _hex("#3c4f36"),
        "conifer",
        0.5,
        False,
        _hex("#4a6272"),
        _hex("#8a8f8c"),
    ),
    "boreal_forest": BiomeLook(
        _hex("#5b6b45"),
        _hex("#617a45"),
        (_hex("#6f8a4a"), _hex("#8e8a55")),
        _hex("#1f3d27"),
        "conifer",
        6.0,
        False,
        _hex("#34505e"),
        _hex("#3c5244"),
    ),
    "temperate_forest": BiomeLook(
        _hex("#667f45"),
        _hex("#6f9448"),
        (_hex("#7fa455"), _hex("#b9a865"), _hex("#8c7a55"), _hex("#5f8a3f")),
        _hex("#2f5a26"),
        "broadleaf",
        5.0,
        True,
        _hex("#3d5a66"),
        _hex("#4f6a50"),
    ),
    "grassland": BiomeLook(
        _hex("#94995a"),
        _hex("#8fa556"),
        (_hex("#c9b96a"), _hex("#a4b15c"), _hex("#8a7350")),
        _hex("#3f6a2c"),
        "broadleaf",
        1.5,
        True,
        _hex("#4a6a70"),
        _hex("#8e9a78"),
    ),
    "mediterranean": BiomeLook(
        _hex("#a89a6e"),
        _hex("#8f9a5a"),
        (_hex("#b8a06a"), _hex("#9a9b5a"), _hex("#a07850")),
        _hex("#56683a"),
        "broadleaf",
        2.0,
        False,
        _hex("#3f6c80"),
        _hex("#9a9478"),
    ),
    "desert": BiomeLook(
        _hex("#d9bd8c"),
        _hex("#a8a060"),
        (_hex("#c9b07a"), _hex("#8f9a50")),
        _hex("#5a6a34"),
        "palm",
        0.3,
        False,
        _hex("#3f7690"),
        _hex("#d2b48e"),
    ),
    "savanna": BiomeLook(
        _hex("#b8a365"),
        _hex("#a3a05a"),
        (_hex("#c4aa60"), _hex("#9a8a50")),
        _hex("#556b2f"),
        "acacia",
        0.8,
        False,
        _hex("#6a6a4a"),
        _hex("#a89a70"),
    ),
    "tropical_rainforest": BiomeLook(
        _hex("#4f7a3a"),
        _hex("#5a9440"),
        (_hex("#6fa048"), _hex("#8a9a45")),
        _hex("#1f5a24"),
        "broadleaf",
        9.0,
        False,
        _hex("#5a6a48"),
        _hex("#2f5a34"),
    ),
    "alpine": BiomeLook(
        _hex("#8c8a80"),
        _hex("#7d8a5c"),
        (_hex("#8a9a60"),),
        _hex("#2a4430"),
        "conifer",
        2.5,
        False,
        _hex("#5a8aa0"),
        _hex("#7a8090"),
    ),
}
ASPHALT, SIDEWALK, ROAD_LINE = _hex("#4a4a4c"), _hex("#a8a49c"), _hex("#e8e0c0")
SNOW, TRUNK = _hex("#f2f4f7"), _hex("#5a4634")
AUTUMN, BARE = _hex("#b8742f"), _hex("#6e5e4e")
GLASS = (0.25, 0.32, 0.4)

# cover classes of a block (the ground between its objects)
NATURAL, PAVED_COVER, GARDEN, FIELD, PARK, WOODS = range(6)


@dataclass(frozen=True)
class Style:
    """A sensor/palette look applied after rendering: ``out = clip(M · rgb) ** gamma`` plus
    Gaussian noise (std in [0, 1] units) and an optional blur (pixels)."""

    matrix: tuple[tuple[float, float, float], ...]
    gamma: float
    noise: float
    blur: float


_I = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
AERIAL_STYLES = {
    "A": Style(_I, 1.0, 0.0, 0.0),  # clean natural-colour orthophoto
    # a warm, soft, grainy sensor
    "B": Style(((0.80, 0.22, 0.04), (0.08, 0.86, 0.10), (0.04, 0.18, 0.62)), 0.8, 0.025, 0.7),
}
GROUND_STYLES = {
    "A": Style(_I, 1.0, 0.0, 0.0),  # neutral street-view camera
    # a punchy, cool camera
    "B": Style(((1.12, -0.08, -0.04), (-0.06, 1.10, -0.04), (-0.02, -0.04, 1.16)), 1.05, 0.015, 0.0),
}


# ----------------------------------------------------------------------------------------------
# world-anchored randomness

# A fixed table of uniform values, 256 × 256 plus a wrapped extra row and column; lattice point
# (i, j) reads entry (i mod 256, j mod 256), so textures are anchored to the world (the same in
# every image of a place) and cheap to sample.
_TABLE = np.random.default_rng([world.WORLD_SEED, 3]).random((256, 256)).astype(np.float32)
_NOISE_TABLE = np.pad(_TABLE, ((0, 1), (0, 1)), mode="wrap").ravel()
_ROW = 257
# Sensor noise is read from this fixed field at an offset drawn from the image's seed: as random
# as drawing it afresh, and much cheaper.
_SENSOR_NOISE = np.random.default_rng([world.WORLD_SEED, 4]).standard_normal(1 << 20, dtype=np.float32)


def _lattice_index(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    return ((ix + (97 * salt) % 256) & 255) * _ROW + ((iy + (61 * salt) % 256) & 255)


def _lattice(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) values at integer lattice points (a pure function of the point and ``salt``)."""
    return np.take(_NOISE_TABLE, _lattice_index(ix, iy, salt))


def _value_noise(x: np.ndarray, y: np.ndarray, cell_m: float, salt: int) -> np.ndarray:
    """Smooth noise in [0, 1): lattice values every ``cell_m`` metres, bilinearly blended."""
    fx, fy = np.asarray(x, np.float32) / np.float32(cell_m), np.asarray(y, np.float32) / np.float32(cell_m)
    ix, iy = np.floor(fx), np.floor(fy)
    tx, ty = fx - ix, fy - iy
    k = _lattice_index(ix.astype(np.int32), iy.astype(np.int32), salt)
    a, b = np.take(_NOISE_TABLE, k), np.take(_NOISE_TABLE, k + _ROW)
    c, d = np.take(_NOISE_TABLE, k + 1), np.take(_NOISE_TABLE, k + _ROW + 1)
    return (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty


def _rng(*keys: int) -> np.random.Generator:
    """A generator for one piece of the world, seeded by the world seed and integer keys."""
    return np.random.default_rng([world.WORLD_SEED] + [int(k) % 2**63 for k in keys])


# ----------------------------------------------------------------------------------------------
# the city grid


def urban_density(plan: world.StreetPlan, dist_m):
    """Built-up density in [0, 1] at ``dist_m`` metres from the city centre: 1 downtown, ½ at the
    urban radius, → 0 in the countryside."""
    q = np.asarray(dist_m) / (1000.0 * plan.urban_radius_km)
    q = q * q
    return 1.0 / (1.0 + q * q)


def _median_height_m(plan: world.StreetPlan, dist_m: float) -> float:
    r = 1000.0 * plan.urban_radius_km
    core = math.exp(-((dist_m / (0.35 * r)) ** 2))
    return plan.suburb_height_m + (plan.core_height_m - plan.suburb_height_m) * core


def _road_present(plan: world.StreetPlan, line, U, V) -> np.ndarray:
    """Whether grid line ``line`` (an integer index) is a street at grid point (U, V): every line
    in town, every ``rural_road_every``-th one in the countryside."""
    return (np.asarray(line) % plan.rural_road_every == 0) | (urban_density(plan, np.hypot(U, V)) > 0.12)


def _grid_axes(bearing_deg: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Unit vectors (east, north) of the grid axes u (along the bearing) and v (90° clockwise)."""
    b = math.radians(bearing_deg)
    return (math.sin(b), math.cos(b)), (math.cos(b), -math.sin(b))


def _river_distance(plan: world.StreetPlan, east, north) -> np.ndarray:
    """Distance in metres from the river's (meandering) centre line, at (east, north) metres from
    the city centre; +inf when the city has no river."""
    if plan.river_bearing_deg is None:
        return np.full(np.shape(east), np.inf)
    r = math.radians(plan.river_bearing_deg)
    along = east * math.sin(r) + north * math.cos(r)
    across = east * math.cos(r) - north * math.sin(r)
    meander = 35.0 * np.sin(along / 260.0) + 15.0 * np.sin(along / 97.0 + 1.0)
    return np.abs(across - plan.river_offset_m - meander)


def _cell_cover(plan: world.StreetPlan, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What covers grid cells (i, j) (integer arrays) — built (paved or gardens), park, woods,
    field or open land — and their ground colours (float32 RGB). Drawn from the world-anchored
    lattice table rather than a generator, so a panorama can look up hundreds of cells out to
    the horizon at once."""
    look = BIOME_LOOKS[plan.biome]
    p = plan.pitch_m
    dens = urban_density(plan, np.hypot((i + 0.5) * p, (j + 0.5) * p))
    r = [_lattice(i * 7 + j * 3, j * 5 - i, plan.city.id + k) for k in range(5)]  # five uniform draws a cell
    woods = (look.tree_density >= 2) & (r[1] < min(0.75, look.tree_density / 8))
    built = r[0] < np.minimum(0.93, 1.15 * dens)
    town = np.where(dens > 0.55, PAVED_COVER, GARDEN)
    cover = np.select([built, dens > 0.3, woods, r[2] < 0.7], [town, PARK, WOODS, FIELD], NATURAL)
    cover = cover.astype(np.int8)
    fields = np.array(look.fields, np.float32)
    grassy = ((cover == PARK) | (cover == GARDEN))[..., None]
    tint = np.where(grassy, np.float32(look.grass), np.float32(look.ground))
    tint = np.where((cover == FIELD)[..., None], fields[(r[3] * len(fields)).astype(np.int32)], tint)
    warm_cool = 1 + (r[1] - 0.5)[..., None] * np.float32([0.08, 0, -0.08])
    tint = tint * (0.94 + 0.12 * r[4])[..., None] * warm_cool
    return cover, np.minimum(tint, 1.0).astype(np.float32)


@dataclass(frozen=True)
class _Block:
    """Contents of one grid cell, in city grid coordinates (U, V metres from the centre)."""

    cover: int
    buildings: np.ndarray  # (n, 12): U0, U1, V0, V1, height m, facade RGB, roof RGB, pitched (0/1)
    trees: np.ndarray  # (n, 5): U, V, crown radius m, height m, shade
    pond: tuple[float, float, float] | None  # (U, V, radius m)


def _outside(u: np.ndarray, v: np.ndarray, boxes: np.ndarray, margin: float) -> np.ndarray:
    """Which points (u, v) lie more than ``margin`` metres outside every box (rows U0, U1, V0, V1, …)."""
    u, v, b = u[:, None], v[:, None], boxes[None, :, :4]
    inside = (
        (u > b[..., 0] - margin)
        & (u < b[..., 1] + margin)
        & (v > b[..., 2] - margin)
        & (v < b[..., 3] + margin)
    )
    return ~inside.any(axis=1)


@lru_cache(maxsize=20000)
def _block(plan: world.StreetPlan, i: int, j: int, cover: int) -> _Block:
    """The contents of grid cell (i, j), whose cover is ``cover`` (from :func:`_cell_cover`): a
    pure function of the city and the indices."""
    rng = _rng(11, plan.city.id, i, j)
    look = BIOME_LOOKS[plan.biome]
    arch = plan.architecture
    p, s = plan.pitch_m, plan.street_m
    u0, u1, v0, v1 = i * p + s / 2, (i + 1) * p - s / 2, j * p + s / 2, (j + 1) * p - s / 2
    dist = math.hypot((i + 0.5) * p, (j + 0.5) * p)
    dens = float(urban_density(plan, dist))
    boxes: list[np.ndarray] = []
    trees: list[np.ndarray] = []
    pond = None
    tree_rate = look.tree_density / 1000.0  # trees per m²

    def add_trees(u, v, scale=1.0):
        n = len(u)
        trees.append(
            np.stack(
                [
                    u,
                    v,
                    rng.uniform(1.8, 3.2, n) * scale,
                    rng.uniform(5.0, 10.0, n) * scale,
                    rng.uniform(0.85, 1.15, n),
                ],
                axis=1,
            )
        )

    def scatter(n, lo_u, hi_u, lo_v, hi_v):
        return rng.uniform(lo_u, hi_u, n), rng.uniform(lo_v, hi_v, n)

    def add_buildings(bu, bv, w, d, floors, pitched_p):  # arrays, one entry per building
        n = len(bu)
        facade = np.array(arch.facades)[rng.integers(len(arch.facades), size=n)]
        facade = facade * rng.uniform(0.92, 1.06, (n, 1))
        roof = np.array(arch.roofs)[rng.integers(len(arch.roofs), size=n)]
        pitched = (floors <= 3) & (rng.random(n) < pitched_p)
        boxes.append(
            np.column_stack(
                [bu, bu + w, bv, bv + d, floors * FLOOR_M, np.minimum(facade, 1.0), roof, pitched]
            )
        )

    if cover in (PAVED_COVER, GARDEN):  # a built block: a lot grid, most lots with a building
        h_med = _median_height_m(plan, dist)
        lot = 14.0 + 26.0 * dens + (12.0 if h_med > 25 else 0.0)
        nu, nv = max(1, round((u1 - u0) / lot)), max(1, round((v1 - v0) / lot))
        lu, lv = (u1 - u0) / nu, (v1 - v0) / nv
        setback = 1.0 + 5.0 * (1.0 - dens)
        a, b = np.divmod(np.arange(nu * nv), nv)
        w = (lu - 2 * setback) * rng.uniform(0.62, 1.0, nu * nv)
        d = (lv - 2 * setback) * rng.uniform(0.62, 1.0, nu * nv)
        bu = u0 + a * lu + setback + rng.random(nu * nv) * (lu - 2 * setback - w)
        bv = v0 + b * lv + setback + rng.random(nu * nv) * (lv - 2 * setback - d)
        floors = np.maximum(1, np.round(h_med * np.exp(rng.normal(0, 0.45, nu * nv)) / FLOOR_M))
        if dens < 0.4:
            floors = np.minimum(floors, 3)
        keep = (rng.random(nu * nv) <= 0.55 + 0.45 * dens) & (w >= 5) & (d >= 5)
        add_buildings(bu[keep], bv[keep], w[keep], d[keep], floors[keep], arch.pitched)
        if look.tree_density > 0 and dens < 0.95:
            # street trees along two block edges, then garden trees where there is room
            built = np.concatenate(boxes)
            vs = np.arange(v0 + 4, v1 - 3, 10.0 if look.tree_density >= 1 else 18.0)
            u, v = np.repeat([u0 + 1.5, u1 - 1.5], len(vs)), np.tile(vs, 2)
            keep = (rng.random(len(u)) < 0.55) & _outside(u, v, built, 1.5)
            add_trees(u[keep], v[keep], 0.8)
            u, v = scatter(
                rng.poisson(tree_rate * (u1 - u0) * (v1 - v0) * (1 - dens) * 0.6),
                u0 + 2,
                u1 - 2,
                v0 + 2,
                v1 - 2,
            )
            keep = _outside(u, v, built, 2.5)
            add_trees(u[keep], v[keep])
    elif cover == PARK:  # sometimes with a pond
        if rng.random() < 0.35:
            pond = (
                float(rng.uniform(u0 + 15, u1 - 15)),
                float(rng.uniform(v0 + 15, v1 - 15)),
                float(rng.uniform(8, min(22, (u1 - u0) / 3))),
            )
        n_trees = rng.poisson(max(tree_rate, 0.0015) * (u1 - u0) * (v1 - v0))
        u, v = scatter(n_trees, u0 + 2, u1 - 2, v0 + 2, v1 - 2)
        keep = np.hypot(u - pond[0], v - pond[1]) > pond[2] + 3 if pond else np.ones(len(u), bool)
        add_trees(u[keep], v[keep], 1.1)
    elif cover == WOODS:  # trees on a jittered lattice over the whole cell
        spacing = 4.5 + 12.0 / look.tree_density
        u, v = np.meshgrid(
            np.arange(i * p + 3, (i + 1) * p - 2, spacing), np.arange(j * p + 3, (j + 1) * p - 2, spacing)
        )
        u, v = u.ravel() + rng.uniform(-1.5, 1.5, u.size), v.ravel() + rng.uniform(-1.5, 1.5, v.size)
        keep = rng.random(len(u)) < 0.85
        add_trees(u[keep], v[keep], 1.15)
    else:  # fields or open land: scattered trees, sometimes a farmhouse
        add_trees(*scatter(rng.poisson(tree_rate * 0.25 * p * p), i * p, (i + 1) * p, j * p, (j + 1) * p))
        if dens > 0.03 and rng.random() < 0.5:
            w, d = rng.uniform(8, 14, 1), rng.uniform(7, 11, 1)
            add_buildings(
                rng.uniform(u0 + 2, u1 - w - 2),
                rng.uniform(v0 + 2, v1 - d - 2),
                w,
                d,
                rng.integers(1, 3, 1),
                max(arch.pitched, 0.3),
            )
    return _Block(
        cover,
        np.concatenate(boxes) if boxes else np.zeros((0, 12)),
        np.concatenate(trees) if trees else np.zeros((0, 5)),
        pond,
    )


# ----------------------------------------------------------------------------------------------
# the layout


@dataclass
class Layout:
    """The 3-D surroundings of one camera position.

    ``lat, lon``: the camera (degrees, on a street). ``place``/``plan``: the world's description
    and the city's street plan. ``cam_U, cam_V``: the camera in city grid metres.
    ``buildings``: (N, 5) ``[u0, u1, v0, v1, height]`` in camera-relative grid metres, with
    ``footprints`` (N, 4, 2) their corners in local (x, y) metres, ``facades``/``roofs`` (N, 3)
    RGB and ``pitched`` (N,) bool. ``trees``: (M, 5) ``[x, y, crown_radius, height, shade]`` in
    local metres. ``ponds``: (K, 3) ``[x, y, radius]``. ``street_bearing_deg``: the street the
    camera stands on, degrees clockwise from north in [0, 180). ``seed``: an integer naming this
    exact place (used for sensor noise).
    """

    lat: float
    lon: float
    place: world.Place
    plan: world.StreetPlan
    cam_U: float
    cam_V: float
    density: float
    buildings: np.ndarray
    footprints: np.ndarray
    facades: np.ndarray
    roofs: np.ndarray
    pitched: np.ndarray
    trees: np.ndarray
    ponds: np.ndarray
    street_bearing_deg: float
    seed: int

    @property
    def bearing_deg(self) -> float:
        return self.plan.grid_bearing_deg

    def to_grid(self, x, y):
        """Local (x east, y north) → camera-relative grid (u, v), metres."""
        e_u, e_v = _grid_axes(self.bearing_deg)
        return x * e_u[0] + y * e_u[1], x * e_v[0] + y * e_v[1]

    def to_local(self, u, v):
        """Camera-relative grid (u, v) → local (x east, y north), metres."""
        e_u, e_v = _grid_axes(self.bearing_deg)
        return u * e_u[0] + v * e_v[0], u * e_u[1] + v * e_v[1]

    def city_offset(self, x, y):
        """Local (x, y) → (east, north) metres from the city centre."""
        ex, ny = self.to_local(self.cam_U, self.cam_V)
        return ex + x, ny + y


def _snap_to_street(plan: world.StreetPlan, U: float, V: float) -> tuple[float, float, str]:
    """Move grid point (U, V) onto the nearest street that exists there, into the lane a quarter
    of the street width off its centre line and out of any crossing. Returns (U, V, axis):
    ``axis`` "u" for a street along a line of constant U (running along v), "v" for one of
    constant V. Idempotent: a snapped point snaps to itself."""
    p, s = plan.pitch_m, plan.street_m
    best = None
    for axis, coord, along in (("u", U, V), ("v", V, U)):
        cross = round(along / p) * p  # keep clear of the crossing street, so this lane stays the nearest
        if abs(along - cross) < s / 2 + 3:
            along = cross + (s / 2 + 3) * (1 if along >= cross else -1)
        along = round(along * 2) / 2  # whole half-metres: a point read back from its GPS snaps to itself
        for k in (
            math.floor(coord / p),
            math.ceil(coord / p),
            plan.rural_road_every * math.floor(coord / p / plan.rural_road_every),
            plan.rural_road_every * math.ceil(coord / p / plan.rural_road_every),
        ):
            pt = (k * p + s / 4, along) if axis == "u" else (along, k * p + s / 4)
            if _road_present(plan, k, pt[0], pt[1]):
                d = abs(coord - k * p)
                if best is None or d < best[0]:
                    best = (d, pt, axis)
    return best[1][0], best[1][1], best[2]


def layout_at(lat: float, lon: float) -> Layout:
    """The layout around (lat, lon); the camera is snapped onto the nearest street of the nearest
    city's grid, and the returned ``Layout.lat/lon`` is where it stands. Snapping is idempotent:
    ``layout_at(L.lat, L.lon)`` rebuilds the same layout ``L``."""
    city, _ = world.nearest_city(lat, lon)
    for _ in range(3):  # near the border of two cities, snapping may cross it: settle on one
        plan = world.street_plan(city)
        east, north = world.local_offset_m(city.lat, city.lon, lat, lon)
        e_u, e_v = _grid_axes(plan.grid_bearing_deg)
        U, V, axis = _snap_to_street(plan, east * e_u[0] + north * e_u[1], east * e_v[0] + north * e_v[1])
        east, north = U * e_u[0] + V * e_v[0], U * e_u[1] + V * e_v[1]
        cam_lat, cam_lon = world.offset_to_latlon(city.lat, city.lon, east, north)
        place = world.describe(cam_lat, cam_lon)
        if place.city == city:
            break
        city, lat, lon = place.city, cam_lat, cam_lon

    p, r = plan.pitch_m, VIEW_RADIUS_M
    rows_b, rows_t, ponds = [np.zeros((0, 12))], [np.zeros((0, 5))], []
    ci, cj = np.meshgrid(
        np.arange(math.floor((U - r) / p), math.floor((U + r) / p) + 1),
        np.arange(math.floor((V - r) / p), math.floor((V + r) / p) + 1),
        indexing="ij",
    )
    covers, _ = _cell_cover(plan, ci.ravel(), cj.ravel())
    for i, j, cover in zip(ci.ravel().tolist(), cj.ravel().tolist(), covers.tolist()):
        blk = _block(plan, i, j, cover)
        rows_b.append(blk.buildings)
        rows_t.append(blk.trees)
        if blk.pond is not None:
            ponds.append(blk.pond)

    def river_clear(Us, Vs, margin):
        east, north = Us * e_u[0] + Vs * e_v[0], Us * e_u[1] + Vs * e_v[1]
        return _river_distance(plan, east, north) > plan.river_width_m / 2 + margin

    def to_local(Us, Vs):
        return (Us - U) * e_u[0] + (Vs - V) * e_v[0], (Us - U) * e_u[1] + (Vs - V) * e_v[1]

    rows = np.concatenate(rows_b)
    b = rows[:, :5]
    keep = river_clear(
        (b[:, 0] + b[:, 1]) / 2,
        (b[:, 2] + b[:, 3]) / 2,
        0.5 * np.hypot(b[:, 1] - b[:, 0], b[:, 3] - b[:, 2]) + 2,
    )
    keep &= (
        np.maximum(
            np.abs(b[:, 0] + b[:, 1] - 2 * U) - (b[:, 1] - b[:, 0]),
            np.abs(b[:, 2] + b[:, 3] - 2 * V) - (b[:, 3] - b[:, 2]),
        )
        / 2
        < r
    )
    rows = rows[keep]
    cx, cy = to_local(rows[:, [0, 1, 1, 0]], rows[:, [2, 2, 3, 3]])
    buildings = rows[:, :5] - np.array([U, U, V, V, 0.0])

    t = np.concatenate(rows_t)
    keep = river_clear(t[:, 0], t[:, 1], t[:, 2] + 1) & (np.hypot(t[:, 0] - U, t[:, 1] - V) < r)
    for axis_i in (0, 1):  # woods reach to the cell edge: clear the roads through them
        line = np.rint(t[:, axis_i] / p)
        on_road = np.abs(t[:, axis_i] - line * p) < plan.street_m / 2 + 1.0
        keep &= ~(on_road & _road_present(plan, line, t[:, 0], t[:, 1]))
    t = t[keep]
    tx, ty = to_local(t[:, 0], t[:, 1])
    pd = np.array(ponds, float).reshape(-1, 3)
    px, py = to_local(pd[:, 0], pd[:, 1])
    return Layout(
        lat=cam_lat,
        lon=cam_lon,
        place=place,
        plan=plan,
        cam_U=U,
        cam_V=V,
        density=float(urban_density(plan, math.hypot(U, V))),
        buildings=buildings,
        footprints=np.stack([cx, cy], axis=2),
        facades=rows[:, 5:8],
        roofs=rows[:, 8:11],
        pitched=rows[:, 11] > 0.5,
        trees=np.stack([tx, ty, t[:, 2], t[:, 3], t[:, 4]], axis=1),
        ponds=np.stack([px, py, pd[:, 2]], axis=1),
        street_bearing_deg=(plan.grid_bearing_deg + (90.0 if axis == "u" else 0.0)) % 180.0,
        seed=int(city.id) * 1_000_003 + round(U * 10) * 7919 + round(V * 10),
    )


# ----------------------------------------------------------------------------------------------
# conditions at capture time


@dataclass(frozen=True)
class Conditions:
    """Light and season at capture: sun elevation/azimuth (degrees), air temperature (°C),
    snow on the ground, the look of deciduous trees (``leaf``, ``autumn``, ``bare``)."""

    sun_elevation: float
    sun_azimuth: float
    temperature_c: float
    snow: bool
    foliage: str

    @property
    def light(self) -> np.ndarray:
        """RGB brightness factor: ambient sky light plus direct sun, warmer when the sun is low."""
        level = 0.68 + 0.32 * math.sin(math.radians(max(0.0, self.sun_elevation))) ** 0.5
        w = max(0.0, 1.0 - self.sun_elevation / 25.0)
        return np.float32(level) * np.float32([1.0 + 0.10 * w, 1.0 - 0.02 * w, 1.0 - 0.18 * w])


def conditions(layout: Layout, when: datetime) -> Conditions:
    """Sun, temperature, snow and foliage at the layout's camera at time ``when``."""
    el, az = world.solar_position(when, layout.lat, layout.lon)
    doy = when.timetuple().tm_yday
    temp = world.temperature_c(layout.lat, layout.lon, doy)
    autumn = (doy - 280) % 365 < 40 if layout.lat >= 0 else (doy - 100) % 365 < 40
    foliage = "bare" if temp < 5 else "autumn" if autumn else "leaf"
    return Conditions(el, az, temp, temp < -1.0, foliage)


def _crown_colour(layout: Layout, cond: Conditions) -> np.ndarray:
    look = BIOME_LOOKS[layout.plan.biome]
    c = look.crown
    if look.deciduous and cond.foliage != "leaf":
        c = BARE if cond.foliage == "bare" else AUTUMN
    if cond.snow:
        c = tuple(0.6 * a + 0.4 * b for a, b in zip(c, SNOW))
    return np.array(c, np.float32)


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


# ----------------------------------------------------------------------------------------------
# aerial tile


def _finish(rgb: np.ndarray, style: Style, seed: int) -> Image.Image:
    """Apply a sensor style and quantise to an 8-bit RGB image (deterministic)."""
    out = rgb if style.matrix == _I else rgb @ np.array(style.matrix, np.float32).T
    out = np.clip(out, 0.0, 1.0)
    if style.gamma != 1.0:
        out = out ** np.float32(style.gamma)
    if style.noise > 0:
        if out.size < len(_SENSOR_NOISE):
            start = int(np.random.default_rng([seed % 2**63, 5]).integers(0, len(_SENSOR_NOISE) - out.size))
            noise = _SENSOR_NOISE[start : start + out.size]
        else:  # images larger than the noise buffer (panoramas at >= 420 px): repeat it, shifted
            start = int(np.random.default_rng([seed % 2**63, 5]).integers(0, len(_SENSOR_NOISE)))
            noise = np.resize(np.roll(_SENSOR_NOISE, -start), out.size)
        out = out + np.float32(style.noise) * noise.reshape(out.shape)
    img = Image.fromarray((np.clip(out, 0.0, 1.0) * 255 + 0.5).astype(np.uint8), "RGB")
    return img.filter(ImageFilter.GaussianBlur(style.blur)) if style.blur > 0 else img


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
    return _finish(np.asarray(img, np.float32) / 255.0, AERIAL_STYLES[style], layout.seed)


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
    return _finish(img, GROUND_STYLES[style], layout.seed + 17)


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


# ----------------------------------------------------------------------------------------------
# evidence


def layout_evidence(layout: Layout, when: datetime) -> dict:
    """What both views show, as data for a rationale teacher: road bearings (degrees in [0, 180)),
    the bearing of the camera's street, buildings in the aerial tile (count, mean/max height m,
    pitched-roof share), trees in the tile, water share of the tile, urban density, biome,
    architecture, snow, foliage, and the sun (elevation/azimuth, degrees)."""
    cond = conditions(layout, when)
    half = TILE_EXTENT_M / 2
    centre = layout.footprints.mean(axis=1)
    in_tile = (np.abs(centre) < half).all(axis=1)
    t = layout.trees
    c = (np.arange(32) + 0.5) * TILE_EXTENT_M / 32 - half
    gx, gy = np.meshgrid(c, -c)
    water = _river_distance(layout.plan, *layout.city_offset(gx, gy)) < layout.plan.river_width_m / 2
    for px_, py_, pr in layout.ponds:
        water |= (gx - px_) ** 2 + (gy - py_) ** 2 < pr * pr
    heights = layout.buildings[in_tile, 4]
    return {
        "road_bearings_deg": sorted(round((layout.bearing_deg + a) % 180, 1) for a in (0, 90)),
        "camera_street_bearing_deg": round(layout.street_bearing_deg, 1),
        "n_buildings": int(in_tile.sum()),
        "mean_height_m": round(float(heights.mean()), 1) if len(heights) else 0.0,
        "max_height_m": round(float(heights.max()), 1) if len(heights) else 0.0,
        "pitched_roof_share": round(float(layout.pitched[in_tile].mean()), 2) if len(heights) else 0.0,
        "n_trees": int(((np.abs(t[:, 0]) < half) & (np.abs(t[:, 1]) < half)).sum()),
        "water_share": round(float(water.mean()), 3),
        "urban_density": round(layout.density, 2),
        "biome": layout.plan.biome,
        "architecture": layout.plan.architecture.name,
        "snow": cond.snow,
        "foliage": cond.foliage,
        "sun_elevation_deg": round(cond.sun_elevation, 1),
        "sun_azimuth_deg": round(cond.sun_azimuth, 1),
    }

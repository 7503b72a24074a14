"""The city grid: urban density, streets, the river, and each block (buildings with footprints,
heights and colours; parks, fields, woods with trees; ponds) as a pure function of (city, block)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from geor1.synth import world
from geor1.synth.ground.looks import BIOME_LOOKS, FIELD, FLOOR_M, GARDEN, NATURAL, PARK, PAVED_COVER, WOODS
from geor1.synth.ground.noise import _lattice, _rng

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

"""The layout around a GPS point (:func:`layout_at`) and the conditions at capture time (sun,
season, weather)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from geor1.synth import world
from geor1.synth.ground.city import _block, _cell_cover, _grid_axes, _river_distance, _road_present, urban_density
from geor1.synth.ground.looks import AUTUMN, BARE, BIOME_LOOKS, SNOW, VIEW_RADIUS_M

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

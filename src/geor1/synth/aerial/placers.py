"""Where each category goes: airplanes on aprons, tanks in clusters, vehicles on roads and in car
parks, ships on water, bridges across it, ... (registered with ``@places``), and each setting's context."""

from __future__ import annotations

import math

import numpy as np

from geor1.synth import kernels
from geor1.synth.aerial.categories import CATEGORY_SPECS, length_range_at
from geor1.synth.aerial.planner import _Planner

# --------------------------------------------------------------------------------------- placers
PLACERS: dict[str, object] = {}  # category -> where it goes, registered with @places; others: anywhere free


def places(category: str):
    """Register the decorated function as ``category``'s placer: ``f(planner, n) -> placed``."""
    def register(fn):
        PLACERS[category] = fn
        return fn
    return register


def _dims(p: _Planner, category: str) -> tuple[float, float] | None:
    """A (length, width) in metres for one object of ``category`` visible at the plan's GSD."""
    spec = CATEGORY_SPECS[category]
    rng_ = length_range_at(category, p.gsd_ref)
    if rng_ is None:
        return None
    lo, hi = rng_
    if category == "vehicle":  # cars 4.2-5.2 m x ~1.85 m, trucks 8-16 m x 2.6 m; each at least 5 px wide
        car = lo <= 5.2 and 1.75 >= spec.min_width_px * p.gsd_ref and (hi < 8 or p.rng.random() < 0.75)
        if car:
            return p.rng.uniform(lo, min(hi, 5.2)), p.rng.uniform(1.75, 1.95)
        return p.rng.uniform(max(lo, 8), max(hi, 8)), 2.6
    length = math.exp(p.rng.uniform(math.log(lo), math.log(hi)))
    return length, length * p.rng.uniform(*spec.aspect)


def _free_point(p: _Planner, pad: float) -> tuple[float, float]:
    """A uniform point (px) at least ``pad`` from the image's edges, as Python floats: numpy's float64 scalars
    would make every later step of the placement several times slower."""
    x, y = p.rng.uniform(pad, p.size - pad, 2).tolist()
    return x, y


def _small(p: _Planner, dims: tuple[float, float]) -> bool:
    """Whether an object of ``dims`` (m) is small enough for a uniform random centre: under a fifth of the image."""
    return max(dims) * p.ppm <= 0.2 * p.size


def _free_centre(
    p: _Planner, category: str, dims: tuple[float, float], theta: float
) -> tuple[float, float] | None:
    """A centre (px) to try for an object of ``dims`` (m) at ``theta``. Small objects get a random one; big
    ones (a fifth of the image or more) one of the centres of a coarse grid where the centre and the corners
    of their footprint are on free land (random centres rarely hit those); None when there is none."""
    half = 0.5 * math.hypot(*dims) * p.ppm
    if _small(p, dims):
        return _free_point(p, min(half, p.size / 2 - 1))
    grid = np.linspace(half, p.size - half, 12) if half < p.size / 2 else np.array([p.size / 2])
    n = len(grid)
    t = math.radians(theta)
    (s, c), (length, width) = (math.sin(t), math.cos(t)), dims  # corners: centre +- forward +- right
    fx, fy, rx, ry = s * length * p.ppm / 2, -c * length * p.ppm / 2, c * width * p.ppm / 2, s * width * p.ppm / 2
    free = kernels.free_grid(p.use, p.occ, grid, fx, fy, rx, ry, p.LAND, p.TREE)
    if not len(free):
        return None
    k = int(free[int(p.rng.integers(len(free)))])
    x, y = float(grid[k % n]), float(grid[k // n])
    return x + p.rng.uniform(-3, 3), y + p.rng.uniform(-3, 3)


def _place_free(p: _Planner, category: str, n: int, tries: int) -> int:
    """Objects wherever they fit."""
    spec = CATEGORY_SPECS[category]
    placed = 0
    for _ in range(tries):
        if placed >= n:
            break
        dims = _dims(p, category)
        if dims is None:
            break
        if _small(p, dims):  # its centre does not depend on the heading, which is drawn once the centre is free
            centre = _free_centre(p, category, dims, 0.0)
            if not p.centre_free(category, *centre):
                continue
            theta = 0.0 if spec.round else p.snap(spec.directed)
        else:  # a big one's centre is chosen for its heading
            theta = 0.0 if spec.round else p.snap(spec.directed)
            centre = _free_centre(p, category, dims, theta)
            if centre is None:
                continue
        colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
        placed += p.try_place(category, *centre, theta, *dims, colour)
    return placed


@places("airplane")
def _place_airplanes(p: _Planner, n: int) -> int:
    dims = [_dims(p, "airplane") for _ in range(n)]
    if dims[0] is None:
        return 0
    span = max(d[1] for d in dims) * p.ppm
    length = max(d[0] for d in dims) * p.ppm
    k = n
    while k > 0:
        angle = p.snap(False)
        row = k * span * 1.15 + 8
        half = 0.5 * math.hypot(row, length * 1.35) + 2
        if half >= p.size / 2:
            k -= 1
            continue
        for _ in range(12):
            cx, cy = _free_point(p, half)
            site = p.add_site("apron", cx, cy, angle, row, length * 1.35)
            if site is None:
                continue
            heading = (angle + (90 if p.rng.random() < 0.5 else 270) + p.rng.uniform(-4, 4)) % 360
            t = math.radians(angle)
            placed = 0
            for i, (L, W) in enumerate(dims[:k]):
                off = (i - (k - 1) / 2) * span * 1.15
                colour = CATEGORY_SPECS["airplane"].colours[int(p.rng.integers(2))]
                placed += p.try_place(
                    "airplane", cx + off * math.sin(t), cy - off * math.cos(t), heading, L, W, colour, site
                )
            return placed
        k -= 1
    return 0


@places("storage tank")
def _place_tanks(p: _Planner, n: int) -> int:
    base = _dims(p, "storage tank")
    if base is None:
        return 0
    lo, hi = length_range_at("storage tank", p.gsd_ref)
    sizes = [float(np.clip(base[0] * p.rng.uniform(0.65, 1.35), lo, hi)) for _ in range(n)]
    dmax = max(sizes) * p.ppm
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    shadow = float(np.hypot(*p.ctx.shadow_px_per_m)) * max(sizes) * 0.75
    step = dmax * 1.12 + shadow + 3
    angle = p.snap(False, 5)
    for _ in range(6):
        cx, cy = (p.rng.uniform(0.25, 0.75, 2) * p.size).tolist()
        site = p.add_site("pad", cx, cy, angle, cols * step + 4, rows * step + 4)
        if site is None:
            continue
        t = math.radians(angle)
        tx, ty, nx, ny = math.sin(t), -math.cos(t), math.cos(t), math.sin(t)
        slots = [
            ((i - (cols - 1) / 2) * step, (j - (rows - 1) / 2) * step)
            for j in range(rows)
            for i in range(cols)
        ]
        order = p.rng.permutation(len(slots))[:n]
        placed = 0
        for D, k in zip(sizes, order):
            a, b = slots[k]
            colour = CATEGORY_SPECS["storage tank"].colours[int(p.rng.integers(3))]
            placed += p.try_place(
                "storage tank", cx + a * tx + b * nx, cy + a * ty + b * ny, 0.0, D, D, colour, site
            )
        return placed
    return _place_free(p, "storage tank", n, 10 * n)


def _place_vehicles_on_roads(p: _Planner, n: int) -> int:
    spec = CATEGORY_SPECS["vehicle"]
    placed = 0
    for _ in range(20 * n):
        if placed >= n or not p.roads:
            break
        road = p.roads[int(p.rng.integers(len(p.roads)))]
        lane = 1 if p.rng.random() < 0.5 else -1
        t = math.radians(road["angle"])
        tx, ty = math.sin(t), -math.cos(t)
        s = p.rng.uniform(-0.75, 0.75) * p.size
        off = lane * road["width"] / 4
        x, y = road["x"] + s * tx - off * ty, road["y"] + s * ty + off * tx
        if not (0 <= x < p.size and 0 <= y < p.size):
            continue
        heading = road["angle"] + (0 if lane > 0 else 180) + p.rng.uniform(-2, 2)  # keep to the right
        colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
        placed += p.try_place("vehicle", x, y, heading, *_dims(p, "vehicle"), colour)
    return placed


def _place_vehicles_in_car_park(p: _Planner, n: int) -> int:
    spec = CATEGORY_SPECS["vehicle"]
    stall = p.px(2.6)
    per_row = max(2, math.ceil(n * 1.4 / 2))
    length, width = per_row * stall + stall, p.px(5.2 * 2 + 6.5)
    half = 0.5 * math.hypot(length, width) + 2
    angle = p.snap(False, 6)
    for _ in range(10):
        cx, cy = _free_point(p, half)
        site = p.add_site("parking", cx, cy, angle, length, width)
        if site is None:
            continue
        t = math.radians(angle)
        tx, ty, nx, ny = math.sin(t), -math.cos(t), math.cos(t), math.sin(t)
        slots = [
            ((i + 1) * stall - length / 2, side * (width / 2 - p.px(2.6)), side)
            for side in (-1, 1)
            for i in range(per_row)
        ]
        placed = 0
        for k in p.rng.permutation(len(slots)):
            if placed >= n:
                break
            a, b, side = slots[k]
            lo, _ = length_range_at("vehicle", p.gsd_ref)
            L, W = (
                p.rng.uniform(lo, max(lo, 5.0)),
                p.rng.uniform(1.75, 1.95),
            )  # cars; trucks do not fit a stall
            heading = (
                angle
                + (90 if side < 0 else 270)
                + (180 if p.rng.random() < 0.3 else 0)
                + p.rng.uniform(-3, 3)
            )
            colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
            placed += p.try_place(
                "vehicle", cx + a * tx + b * nx, cy + a * ty + b * ny, heading, L, W, colour, site
            )
        return placed
    return 0


@places("vehicle")
def _place_vehicles(p: _Planner, n: int) -> int:
    """Vehicles drive on roads or stand in a car park (where cars are big enough to see at this GSD)."""
    placed = 0
    cars_visible = length_range_at("vehicle", p.gsd_ref)[0] <= 5.0 and 1.75 >= 5 * p.gsd_ref
    if cars_visible and (not p.roads or p.rng.random() < 0.5):
        placed = _place_vehicles_in_car_park(p, n)
    return placed + _place_vehicles_on_roads(p, n - placed)


@places("building")
def _place_buildings(p: _Planner, n: int) -> int:
    spec = CATEGORY_SPECS["building"]
    if not p.roads:
        return _place_free(p, "building", n, 12 * n)
    placed = 0
    for _ in range(12 * n):
        if placed >= n:
            break
        road = p.roads[int(p.rng.integers(len(p.roads)))]
        dims = _dims(p, "building")
        t = math.radians(road["angle"])
        tx, ty = math.sin(t), -math.cos(t)
        s = p.rng.uniform(-0.6, 0.6) * p.size
        side = 1 if p.rng.random() < 0.5 else -1
        # the building's long axis runs along the road, set back from it
        off = side * (road["width"] / 2 + p.px(p.rng.uniform(4, 20)) + dims[1] * p.ppm / 2)
        x, y = road["x"] + s * tx - off * ty, road["y"] + s * ty + off * tx
        if not p.centre_free("building", x, y):  # the colour and the heading's jitter are drawn for a free centre
            continue
        colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
        placed += p.try_place("building", x, y, road["angle"] + p.rng.uniform(-2, 2), *dims, colour)
    if placed < n:
        placed += _place_free(p, "building", n - placed, 6 * (n - placed))
    return placed


def _place_row(p: _Planner, category: str, n: int) -> int:
    """Courts side by side, sharing one orientation and size."""
    spec = CATEGORY_SPECS[category]
    placed = 0
    for _ in range(20):
        if placed >= n:
            break
        dims = _dims(p, category)
        if dims is None:
            return placed
        L, W = dims
        theta = p.snap(False)
        centre = _free_centre(p, category, (L, W), theta)
        if centre is None:
            continue
        x, y = centre
        colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
        if not p.try_place(category, x, y, theta, L, W, colour):
            continue
        placed += 1
        t = math.radians(theta)
        nx, ny = math.cos(t), math.sin(t)
        step = W * p.ppm + 4
        for k in range(1, n - placed + 1 + 2):
            if placed >= n:
                break
            sgn = 1 if k % 2 else -1
            d = sgn * step * ((k + 1) // 2)
            if p.rng.random() < 0.25:  # a neighbour of another colour now and then
                colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
            placed += p.try_place(category, x + d * nx, y + d * ny, theta, L, W, colour)
    return placed


@places("ship")
def _place_ships(p: _Planner, n: int) -> int:
    spec = CATEGORY_SPECS["ship"]
    wet = np.flatnonzero(p.use.ravel() == p.WATER)
    if not len(wet):
        return 0
    w = p.water
    placed = 0
    for _ in range(10 * n):
        if placed >= n:
            break
        k = int(wet[int(p.rng.integers(len(wet)))])
        y, x = divmod(k, p.size)
        if w and w["kind"] == "river":
            theta = (w["axis"] + (0 if p.rng.random() < 0.5 else 180) + p.rng.uniform(-4, 4)) % 360
        else:
            theta = p.snap(True)
        dims = _dims(p, "ship")
        colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
        if p.try_place("ship", x + 0.5, y + 0.5, theta, *dims, colour):
            placed += 1
            if p.rng.random() < 0.4:  # under way
                p.add_wake(x + 0.5, y + 0.5, theta, *dims)
    return placed


def _water_reach(p: _Planner, x: float, y: float, dx: float, dy: float) -> float:
    """Pixels from (x, y) along the unit step (dx, dy) to the first pixel that is not water."""
    d = 0.0
    while (
        0 <= x + d * dx < p.size
        and 0 <= y + d * dy < p.size
        and p.use[int(y + d * dy), int(x + d * dx)] == p.WATER
    ):
        d += 1.0
    return d


@places("bridge")
def _place_bridges(p: _Planner, n: int) -> int:
    spec = CATEGORY_SPECS["bridge"]
    placed = 0
    for x, y, angle, road_w in p.crossings[:n]:
        # the deck spans the water along the road, from bank to bank, plus abutments on both banks
        t = math.radians(angle)
        dx, dy = math.sin(t), -math.cos(t)
        ahead, behind = _water_reach(p, x, y, dx, dy), _water_reach(p, x, y, -dx, -dy)
        mid = (ahead - behind) / 2
        L = (ahead + behind) / p.ppm + 2 * p.rng.uniform(5, 10)
        W = road_w / p.ppm + p.rng.uniform(2, 6)
        colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
        heading = angle if p.rng.random() < 0.5 else angle + 180
        placed += p.try_place("bridge", x + mid * dx, y + mid * dy, heading % 180, L, W, colour)
    return placed


@places("harbor")
def _place_harbors(p: _Planner, n: int) -> int:
    spec = CATEGORY_SPECS["harbor"]
    w = p.water
    if not w or w["kind"] not in ("coast", "river"):
        return 0
    placed = 0
    for _ in range(12 * n):
        if placed >= n:
            break
        dims = _dims(p, "harbor")
        if dims is None:
            return placed
        n_ = w["normal"]
        tdir = np.array([-n_[1], n_[0]])
        if w["kind"] == "river":  # one of the banks; the water lies towards the centre line
            side = 1.0 if p.rng.random() < 0.5 else -1.0
            base, into_water = w["point"] + side * n_ * w["half_width"], -side * n_
        else:  # the coast's normal points out to sea
            base, into_water = w["point"], n_
        base = base + tdir * p.rng.uniform(-0.35, 0.35) * p.size
        # walk from the land towards the water to the first water pixel: the real (wavy) shore here
        walk = base + np.multiply.outer(np.arange(-0.12, 0.12, 0.004) * p.size, into_water)
        ix, iy = walk.astype(int).T  # truncation towards zero, as int() does
        inside = (ix >= 0) & (ix < p.size) & (iy >= 0) & (iy < p.size)
        wet = np.flatnonzero(inside)[p.use[iy[inside], ix[inside]] == p.WATER]
        if len(wet):
            base = walk[wet[0]]
        heading = math.degrees(math.atan2(into_water[0], -into_water[1])) % 360
        colour = spec.colours[int(p.rng.integers(len(spec.colours)))]
        placed += p.try_place("harbor", float(base[0]), float(base[1]), heading, *dims, colour)
    return placed


@places("wind turbine")
def _place_turbines(p: _Planner, n: int) -> int:
    dims = _dims(p, "wind turbine")
    if dims is None:
        return 0
    D = dims[0]
    yaw = p.snap(True, 20)
    placed = 0
    for _ in range(6):
        if placed >= n:
            break
        line = math.radians(p.snap(False, 15))
        step = D * p.ppm * p.rng.uniform(1.5, 2.0)
        x0, y0 = _free_point(p, 0.2 * p.size)
        for k in range(n + 2):
            if placed >= n:
                break
            d = (k - (n - 1) / 2) * step
            L = D * p.rng.uniform(0.97, 1.03)
            placed += p.try_place(
                "wind turbine", x0 + d * math.sin(line), y0 - d * math.cos(line), yaw, L, L, "white"
            )
    return placed


for _court in ("tennis court", "basketball court"):  # in rows, like the other sports grounds
    places(_court)(lambda p, n, category=_court: _place_row(p, category, n))
# What a setting is full of, besides the scene's focus and clutter: (probability, count range).
SETTING_CONTEXT = {
    "urban": {"building": (0.85, (4, 10)), "vehicle": (0.5, (3, 8))},
    "suburban": {"building": (0.75, (3, 8)), "swimming pool": (0.3, (1, 3))},
    "industrial": {"storage tank": (0.35, (2, 6)), "building": (0.5, (2, 5))},
    "farmland": {"building": (0.3, (1, 3))},
}


def place_category(p: _Planner, category: str, n: int) -> int:
    """Place up to ``n`` objects of ``category``; returns how many fit."""
    placer = PLACERS.get(category)
    if placer is not None:
        return placer(p, n)
    return _place_free(p, category, n, 12 * n + 10)

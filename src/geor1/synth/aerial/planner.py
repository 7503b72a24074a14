"""The planner: every random choice of a scene (setting, GSD, sun, water, roads, sites) and where
objects may go; it lays out the ground and keeps what is occupied."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from geor1.synth import kernels
from geor1.synth.aerial.categories import CATEGORY_SPECS, REF_SIZE
from geor1.synth.aerial.designs import DESIGNS, _Ctx
from geor1.synth.aerial.raster import (
    Part,
    PlacedObject,
    _bank,
    _canvas,
    _centres,
    _choose,
    _crop,
    _crop_key,
    _draw_into,
    _Draws,
    _paint,
    _project,
    _ramp,
    _rect,
)
from geor1.synth.aerial.styles import (
    _AMP_FINE,
    _AMP_MID,
    GROUND,
    N_CROPS,
    N_WATER,
    Style,
    _ground_use,
    _is_cover,
    _palette,
)


# ----------------------------------------------------------------------------------------- plan
@dataclass
class Plan:
    """Everything :func:`render` needs: the ground (a label per pixel, one of GROUND_LABELS, and its relative
    brightness) and the placed objects. :func:`render` colours the ground itself, so that the shadows and the
    sensor's colour matrix go into the style's palette instead of whole-image passes.
    """

    size: int
    style: Style
    setting: str
    water: str | None
    gsd_m: float  # metres per pixel of this image
    sun_azimuth_deg: float
    sun_elevation_deg: float
    ground_label: np.ndarray  # (size, size) uint8: index into GROUND_LABELS
    ground_bright: np.ndarray  # (size, size) float32: brightness relative to the label's palette colour
    ground_shade: np.ndarray  # bool: ground in the shadow of trees
    objects: list[PlacedObject]
    noise_key: tuple[int, int, int]
    meta: dict = field(default_factory=dict)

    @property
    def ground(self) -> np.ndarray:
        """(size, size, 3) float32 RGB of the bare ground in [0, 1], without shadows and before the sensor."""
        return (_palette(self.style.name)[:, self.ground_label] * self.ground_bright).transpose(1, 2, 0)


class _Planner:
    """Draws one scene: ground, roads, sites, then objects category by category."""

    LAND, WATER, ROAD, TREE, SITE0 = 0, 1, 2, 3, 10

    def __init__(self, rng: np.random.Generator, size: int, style: Style, gsd_ref: float, setting: str):
        rng = _Draws(rng)
        self.rng, self.size, self.style, self.setting = rng, size, style, setting
        self.gsd_ref = gsd_ref
        self.ppm = (size / REF_SIZE) / gsd_ref
        az = rng.uniform(*style.sun_azimuth)
        el = rng.uniform(*style.sun_elevation)
        self.sun_az, self.sun_el = az, el
        sun = np.array([math.sin(math.radians(az)), -math.cos(math.radians(az))])
        self.ctx = _Ctx(
            rng,
            style,
            size,
            self.ppm,
            sun,
            -sun * self.ppm / math.tan(math.radians(el)),
            np.array(style.view_tilt) * self.ppm,
        )
        self.bank = _bank(size)
        self.canvas = _canvas(size, threading.get_ident())
        self.use = np.zeros((size, size), np.uint8)
        self.occ = np.zeros((size, size), bool)
        self.shade = np.zeros((size, size), bool)
        self.objects: list[PlacedObject] = []
        self.roads: list[dict] = []
        self.water: dict | None = None
        self.crossings: list[tuple[float, float, float]] = []  # bridge sites: (x, y, road angle)
        self.n_sites = 0

    # ------------------------------------------------------------------ random helpers
    def snap(self, directed: bool, jitter: float = 9.0) -> float:
        """An orientation near a multiple of 45 degrees (so its axis class is clear to the eye)."""
        k = int(self.rng.integers(0, 8 if directed else 4))
        return (k * 45.0 + self.rng.uniform(-jitter, jitter)) % 360.0

    def px(self, metres: float) -> float:
        return metres * self.ppm

    # ------------------------------------------------------------------ ground
    # The ground is planned as a label image (one of GROUND_LABELS per pixel) plus brightness noise, and only
    # turned into colour once at the end: every layer (water, roads, trees, sites) is a cheap uint8 edit.
    def make_ground(self, water_kind: str | None, n_bridges: int, n_roads: int) -> None:
        S, rng, b = self.size, self.rng, self.bank
        self.low = _crop(b.low, S, _crop_key(rng, S))
        self.mid = _crop(b.mid, S, _crop_key(rng, S))
        self.fine = _crop(b.grain, S, _crop_key(rng, S))
        self.extra = None  # extra brightness modulation (furrows, dunes)
        self.ground_shade = np.zeros((S, S), bool)
        depth = self._water_depth(water_kind) if water_kind else None
        self.label = self._land_cover()
        self._roads(n_bridges, n_roads)  # before the water, which then cuts them at the banks
        if depth is not None:
            self._flood(depth)
        if self.setting in ("suburban", "farmland", "urban", "snow"):
            self._trees()
        self.use = _ground_use(self.label)
        _paint(self.use, self.ground_shade, self.TREE)

    def ground_brightness(self) -> np.ndarray:
        """(size, size) float32: each ground pixel's brightness relative to its label's colour (noise and furrows)."""
        out = np.empty((self.size, self.size), np.float32)
        extra = None if self.extra is None else self.extra.astype(np.float32, copy=False)
        kernels.ground_brightness(self.label, self.mid, self.fine, _AMP_MID, _AMP_FINE, extra, out)
        return out

    def _land_cover(self) -> np.ndarray:
        S, rng, low = self.size, self.rng, self.low
        L = GROUND
        s = self.setting
        if s == "farmland":
            ang = math.radians(self.snap(False, 12))
            ca, sa = math.cos(ang), math.sin(ang)
            u = _ramp(S, ca, sa, rng.uniform(0, 500))
            v = _ramp(S, -sa, ca, rng.uniform(0, 500))
            pu, pv = self.px(rng.uniform(70, 200)), self.px(rng.uniform(50, 140))
            iu, iv = np.floor(u / pu), np.floor(v / pv)
            # each parcel's hash, crop and rows: computed per parcel (a few dozen), then looked up per pixel
            ju, jv = iu.astype(np.int32), iv.astype(np.int32)
            u0, v0, nv = int(ju.min()), int(jv.min()), int(jv.max() - jv.min()) + 1
            cu = np.arange(u0, int(ju.max()) + 1, dtype=np.int64)[:, None]
            h = ((cu * 73856093) ^ (np.arange(v0, v0 + nv, dtype=np.int64) * 19349663)).ravel()
            ju -= u0
            ju *= nv
            ju += jv
            ju -= v0  # the parcel's index in h
            label = np.take((L["crop0"] + h % N_CROPS).astype(np.uint8), ju)
            # ploughed or drilled parcels show rows; u - floor(u / row) * row is u mod row without numpy's
            # float ``%``, which is an order of magnitude slower
            row = max(2.5, self.px(7))  # row spacing, px
            rows = ((u - np.floor(u / row) * row) < max(1.25, self.px(3.5))) & np.take((h >> 5) % 3 == 0, ju)
            self.extra = rows * np.float32(0.06)
            _paint(label, ((u - iu * pu) < 1.3) | ((v - iv * pv) < 1.3), L["dry"])  # field margins and tracks
            return label
        if s == "urban":
            return _choose(low > 0.9, L["lawn"], L["paving"])
        if s == "suburban":
            label = _choose(low > 0.1, L["lawn"], L["grass"])
            _paint(label, low < -1.3, L["soil"])
            return label
        if s == "industrial":
            return _choose(low > 0.3, L["soil"], L["gravel"])
        if s == "desert":
            ang = math.radians(rng.uniform(0, 180))
            k = 2 * math.pi / self.px(45)
            phase = _ramp(S, math.cos(ang) * k, math.sin(ang) * k)
            phase += 2.5 * low
            self.extra = np.sin(phase) * np.float32(0.05)
            return np.full((S, S), L["sand"], np.uint8)
        # snow, with ragged rock outcrops on the ridges
        return _choose(low + 0.6 * self.mid > 1.5, L["rock"], L["snow"])

    def _water_depth(self, kind: str) -> np.ndarray:
        """Choose the water body; returns its depth in pixels from the shore (positive in the water), float32: the
        geometry enters as Python floats, since numpy's float64 scalars would make every full-image step float64."""
        S, rng, low = self.size, self.rng, self.low
        if kind == "river":
            axis = self.snap(False, 12)
            t = math.radians(axis)
            n = np.array([math.cos(t), math.sin(t)])  # normal to the flow
            p = np.array([S / 2, S / 2]) + n * rng.uniform(-0.15, 0.15) * S
            hw = min(self.px(rng.uniform(25, 90)), rng.uniform(0.09, 0.17) * S)
            amp = 0.02 * S
            (px, py), (nx, ny) = p.tolist(), n.tolist()
            depth = _ramp(S, nx, ny, -(px * nx + py * ny))  # the signed distance across the river's axis
            depth += amp * low
            depth = hw - np.abs(depth, out=depth)
            self.water = {"kind": kind, "axis": axis, "point": p, "normal": n, "half_width": hw, "amp": amp}
        elif kind == "coast":
            t = math.radians(self.snap(True, 12))
            n = np.array([math.sin(t), -math.cos(t)])  # points out to sea
            p = np.array([S / 2, S / 2]) + n * rng.uniform(0.0, 0.2) * S
            amp = 0.03 * S
            (px, py), (nx, ny) = p.tolist(), n.tolist()
            depth = _ramp(S, nx, ny, -(px * nx + py * ny))
            depth += amp * low
            self.water = {"kind": kind, "point": p, "normal": n, "amp": amp}
        else:  # lake
            c = rng.uniform(0.25, 0.75, 2) * S
            r = rng.uniform(0.15, 0.28) * S
            cx, cy = c.tolist()
            t = _centres(S)
            d2 = np.add.outer((t - np.float32(cy)) ** 2, (t - np.float32(cx)) ** 2)
            depth = r * (1 + 0.2 * low) - np.sqrt(d2, out=d2)  # np.hypot guards overflow, several times slower
            self.water = {"kind": kind, "centre": c, "radius": r}
        return depth

    def _flood(self, depth: np.ndarray) -> None:
        # depth in pixels -> one of N_WATER shades, shallow at the shore
        level = depth * (N_WATER / max(3.0, self.px(20)))
        level = np.clip(level, 0, N_WATER - 1, out=level).astype(np.uint8)
        level += GROUND["water0"]
        beach = GROUND["sand"] if self.water["kind"] == "coast" and self.setting != "snow" else GROUND["bank"]
        _paint(self.label, depth > -max(1.5, self.px(4)), beach)  # the shore, then the water over it
        _paint(self.label, depth > 0, level)

    def _trees(self) -> None:
        S = self.size
        thr = {"suburban": 1.2, "farmland": 1.7, "urban": 1.8, "snow": 1.5}[self.setting]
        field_ = _crop(self.bank.mid, S, _crop_key(self.rng, S))
        clump = _crop(self.bank.low, S, _crop_key(self.rng, S))
        cover = _is_cover(self.label)
        tree = (field_ > thr) & (clump > -0.2) & cover
        if not tree.any():
            return
        d = (self.ctx.shadow_px_per_m * self.rng.uniform(8, 14)).round().astype(int)
        dx, dy = int(d[0]), int(d[1])
        sh = np.zeros_like(tree)
        sh[max(0, dy) : S + min(0, dy), max(0, dx) : S + min(0, dx)] = tree[
            max(0, -dy) : S - max(0, dy), max(0, -dx) : S - max(0, dx)
        ]
        _paint(self.label, tree, GROUND["tree"])
        self.ground_shade = sh & cover & ~tree  # tree shadows fall on the open ground left (trees are not cover)

    def _draw_road(self, draw, x: float, y: float, angle: float, width: float) -> None:
        t = math.radians(angle)
        tx, ty = math.sin(t), -math.cos(t)
        nx, ny = -ty, tx
        reach = 1.5 * self.size
        line = lambda o, a, b: [
            (x + a * tx + o * nx - 0.5, y + a * ty + o * ny - 0.5),
            (x + b * tx + o * nx - 0.5, y + b * ty + o * ny - 0.5),
        ]
        hw = width / 2
        draw.draw_polygon(line(-hw, -reach, reach) + line(hw, reach, -reach), GROUND["asphalt"], 1)
        if width >= 5:
            dash = self.px(12)
            mark = GROUND["mark_yellow" if self.style.name == "A" else "mark_white"]
            # only the dashes that reach the image (most of the road's 3 image sides of length lie outside it)
            along = [(cx - x) * tx + (cy - y) * ty for cx in (0, self.size) for cy in (0, self.size)]
            lo, hi = min(along) - dash, max(along) + dash
            for a in np.arange(-reach, reach, dash).tolist():
                if lo <= a <= hi:
                    draw.draw_lines(line(0, a, a + dash / 2), mark, 1)
        if width >= 9:
            for o in (-hw + 1.2, hw - 1.2):
                draw.draw_lines(line(o, -reach, reach), GROUND["mark_white"], 1)
        self.roads.append({"x": x, "y": y, "angle": angle % 360, "width": width})

    def _roads(self, n_bridges: int, n_roads: int) -> None:
        S, rng = self.size, self.rng
        self.label = np.ascontiguousarray(self.label)
        draw, _ = _draw_into(self.label)
        w = self.water
        if w and w["kind"] == "river" and n_bridges:
            tdir = np.array([-w["normal"][1], w["normal"][0]])  # along the river
            for _ in range(12):
                if len(self.crossings) == n_bridges:
                    break
                p = w["point"] + tdir * rng.uniform(-0.4, 0.4) * S
                angle = (w["axis"] + 90 + rng.uniform(-8, 8)) % 180
                # the deck must fit in the image and keep clear of the other bridges
                t = math.radians(angle - w["axis"] - 90)
                half = (w["half_width"] + 2.2 * w["amp"]) / abs(math.cos(t)) + self.px(16)
                ends = p + np.array(
                    [math.sin(math.radians(angle)), -math.cos(math.radians(angle))]
                ) * half * np.array([[1], [-1]])
                if (ends < 3).any() or (ends > S - 3).any():
                    continue
                if any(math.hypot(p[0] - x, p[1] - y) < 0.15 * S for x, y, _, _ in self.crossings):
                    continue
                width = max(4.0, self.px(rng.uniform(8, 16)))
                self._draw_road(draw, p[0], p[1], angle, width)
                self.crossings.append((float(p[0]), float(p[1]), angle, width))
        for k in range(n_roads):
            width = max(4.0, self.px(rng.uniform(7, 16 if self.setting == "urban" else 11)))
            if w and w["kind"] in ("river", "coast"):
                # roads run along the shore rather than vanishing into the water
                n = w["normal"]
                angle = (math.degrees(math.atan2(n[0], -n[1])) + 90) % 180
                reach = (w.get("half_width", 0) + w["amp"]) + width + self.px(rng.uniform(15, 60))
                side = -1 if w["kind"] == "coast" else (1 if rng.random() < 0.5 else -1)
                p = w["point"] + n * side * reach
            else:
                if k == 0 or not self.roads:
                    angle = self.snap(False, 10) % 180
                else:
                    angle = (self.roads[0]["angle"] + (90 if k == 1 else 0) + rng.uniform(-3, 3)) % 180
                p = rng.uniform(0.15, 0.85, 2) * S
            self._draw_road(draw, float(p[0]), float(p[1]), angle, width)

    # ------------------------------------------------------------------ sites
    def add_site(
        self, kind: str, cx: float, cy: float, angle: float, length_px: float, width_px: float
    ) -> int | None:
        """A paved ground-level site (apron, tank pad, parking lot) centred at (cx, cy), long axis ``angle``.
        Returns its id in the use map, or None when it does not fit on free land."""
        part = Part(_rect(-length_px / 2, length_px / 2, -width_px / 2, width_px / 2), 1)
        surface = {"parking": GROUND["asphalt"], "apron": GROUND["concrete"], "pad": GROUND["gravel"]}[kind]
        mark = GROUND["mark_white" if kind == "parking" else "mark_yellow"]
        lines = []  # painted markings, each ((u0, v0), (u1, v1)) in px
        if kind == "parking":
            stall, hw = self.px(2.6), width_px / 2
            for u in np.arange(-length_px / 2 + stall, length_px / 2 - 0.5, stall).tolist():
                lines += [((u, -hw), (u, -hw + self.px(5))), ((u, hw - self.px(5)), (u, hw))]
        elif kind == "apron":
            lines = [
                ((-length_px / 2 + 2, v), (length_px / 2 - 2, v)) for v in (-width_px / 2 + 2, width_px / 2 - 2)
            ]
        parts = [part, *(Part(np.array(line), 0, line=True) for line in lines)]
        pts, shapes = _project(parts, cx, cy, angle, 1.0, None)
        r = self.canvas.raster(pts, [(n, mark if line else surface, line) for n, _, line in shapes], clip=False)
        if r is None:
            return None
        x0, y0, patch = r
        h, w = patch.shape
        if not self._fits(None, None, x0, y0, patch):
            return None
        use = self.use[y0 : y0 + h, x0 : x0 + w]
        inside = patch > 0
        site = self.SITE0 + self.n_sites
        self.n_sites += 1
        self.label[y0 : y0 + h, x0 : x0 + w][inside] = patch[inside]
        self.ground_shade[y0 : y0 + h, x0 : x0 + w][inside] = False
        use[inside] = site
        return site

    def add_wake(self, cx: float, cy: float, heading: float, length: float, beam: float) -> None:
        """The foam a moving ship leaves on the water behind it: a turbulent strip and a V of bow waves."""
        L = length * self.rng.uniform(1.5, 3.5)
        spread = math.tan(math.radians(self.rng.uniform(7, 11)))
        stern = -length / 2
        strip = Part(
            np.array(
                [
                    (stern, -0.15 * beam),
                    (stern - 0.5 * L, -0.35 * beam),
                    (stern - 0.5 * L, 0.35 * beam),
                    (stern, 0.15 * beam),
                ]
            ),
            1,
        )
        arms = [
            Part(
                np.array([(length / 3, s * beam / 2), (stern - L, s * (beam / 2 + L * spread))]), 1, line=True
            )
            for s in (-1, 1)
        ]
        r = self.canvas.raster(*_project([strip, *arms], cx, cy, heading, self.ppm, None), clip=True)
        if r is None:
            return
        x0, y0, patch = r
        h, w = patch.shape
        lab = self.label[y0 : y0 + h, x0 : x0 + w]
        lab[(patch > 0) & (lab >= GROUND["water0"])] = GROUND["wake"]

    # ------------------------------------------------------------------ objects
    def try_place(
        self,
        category: str,
        cx: float,
        cy: float,
        theta: float,
        length: float,
        width: float,
        colour: str,
        site: int | None = None,
    ) -> bool:
        """Design, rasterise and check one object; keep it if it fits. Lengths in metres, centre in pixels."""
        S = self.size
        spec = CATEGORY_SPECS[category]
        if not self.centre_free(category, cx, cy, site):
            return False
        if spec.box_shaped and not self._corners_free(
            spec.surface, cx, cy, theta, length, width, site
        ):
            return False
        design = DESIGNS[category](self.ctx, colour, length, width, theta)
        lift = self.ctx.tilt_px_per_m if design.tilted else None
        pts, shapes = _project(design.parts, cx, cy, theta, self.ppm, lift)
        # a many-part design (a court, a track, a harbour) has its first part checked as soon as it is drawn: a
        # refusal then costs one shape; for a few parts the extra check costs more than it saves
        first_ok = (lambda x, y, m: self._fits(category, site, x, y, m, whole=False)) if len(shapes) >= 8 else None
        r = self.canvas.raster(pts, shapes, clip=False, first_ok=first_ok)
        if r is None:
            return False
        x0, y0, index = r
        h, w = index.shape
        if not self._fits(category, site, x0, y0, index):
            return False
        shadow = None
        sx0 = sy0 = 0
        if design.shadow:
            pts, shapes = _project(design.shadow, cx, cy, theta, self.ppm, self.ctx.shadow_px_per_m)
            rs = self.canvas.raster(pts, [(n, 1, line) for n, _, line in shapes], clip=True)
            if rs is not None:
                sx0, sy0, sh = rs
                shadow = sh > 0
                sh_h, sh_w = shadow.shape
                if (self.occ[sy0 : sy0 + sh_h, sx0 : sx0 + sh_w] & shadow).any():
                    return False
        relief = None
        if design.relief:  # a brightness ramp towards the sun: 1 + k * ((x - cx) * sun_x + (y - cy) * sun_y)
            k = design.relief / max(1.0, length * self.ppm / 2)
            (sx, sy), ramp = self.ctx.sun.tolist(), np.arange(-0.5, max(h, w), dtype=np.float32)
            across = (ramp[1 : w + 1] + np.float32(x0 - cx)) * np.float32(k * sx)
            down = (ramp[1 : h + 1] + np.float32(y0 - cy)) * np.float32(k * sy) + np.float32(1.0)
            relief = np.add.outer(down, across)
        kernels.occupy(self.occ, x0, y0, index, 1 if category == "vehicle" else 2)  # the object and a margin
        if shadow is not None:
            self.shade[sy0 : sy0 + shadow.shape[0], sx0 : sx0 + shadow.shape[1]] |= shadow
        lut = np.array([(0.0, 0.0, 0.0), *design.lut], np.float32)
        orientation = None if spec.round else (theta % (360.0 if spec.directed else 180.0))
        self.objects.append(
            PlacedObject(
                category,
                colour,
                orientation,
                length,
                width,
                x0,
                y0,
                index,
                lut,
                relief,
                design.texture,
                _crop_key(self.rng, S),
                sx0,
                sy0,
                shadow,
            )
        )
        return True

    def centre_free(self, category: str, cx: float, cy: float, site: int | None = None) -> bool:
        """The first test of :meth:`try_place`: the centre pixel is in the image, unoccupied, and on land (or
        ``site``) for a land object, on water for a water object. A placer may ask it before drawing the rest of
        an object's attributes: most refusals are here."""
        ix, iy = int(cx), int(cy)
        if not (0 <= ix < self.size and 0 <= iy < self.size) or self.occ[iy, ix]:
            return False
        surface = CATEGORY_SPECS[category].surface
        if surface == "land":
            return int(self.use[iy, ix]) in ((site,) if site is not None else (self.LAND, self.TREE))
        return surface != "water" or self.use[iy, ix] == self.WATER

    def _corners_free(
        self, surface: str, cx: float, cy: float, theta: float, length: float, width: float, site: int | None
    ) -> bool:
        """A cheap early test before drawing: the corners of the object's length x width rectangle are inside the
        image (a pixel from its border), unoccupied and on the surface (the rule of :func:`_surface_rule` for a
        land, water or road object). Plain Python on four points: numpy's per-call cost would dominate."""
        t = math.radians(theta)
        hl, hw = length * self.ppm / 2, width * self.ppm / 2
        fx, fy, rx, ry = math.sin(t) * hl, -math.cos(t) * hl, math.cos(t) * hw, math.sin(t) * hw
        if surface not in ("land", "water", "road"):
            allowed = None
        elif surface != "water" and site is not None:
            allowed = (site,)
        else:
            allowed = {"water": (self.WATER,), "land": (self.LAND, self.TREE), "road": (self.ROAD,)}[surface]
        hi, occ, use = self.size - 1, self.occ, self.use
        for x, y in (
            (cx - fx - rx, cy - fy - ry),
            (cx - fx + rx, cy - fy + ry),
            (cx + fx - rx, cy + fy - ry),
            (cx + fx + rx, cy + fy + ry),
        ):
            if not (1 <= x < hi and 1 <= y < hi):
                return False
            iy, ix = int(y), int(x)
            if occ[iy, ix] or (allowed is not None and int(use[iy, ix]) not in allowed):
                return False
        return True

    def _fits(self, category: str, site: int | None, x0: int, y0: int, patch: np.ndarray, whole: bool = True) -> bool:
        """Whether the pixels of ``patch`` (nonzero = the object, at x0, y0) of an object of ``category`` are on its
        surface (see :func:`_surface_rule`; on ``site``, when given) and clear of other objects and of shadows.
        ``whole=False`` checks only the rules that hold pixel by pixel, which every part of a fitting object
        passes: not the share of water that "across" and "shore" ask of the whole object."""
        allowed, lo, hi = _surface_rule(category, site, whole)
        return kernels.fits(self.use, self.occ, self.shade, x0, y0, patch, allowed, self.WATER, lo, hi)


@cache
def _surface_rule(category: str | None, site: int | None, whole: bool = True) -> tuple[np.ndarray, float, float]:
    """What an object of ``category`` may stand on: (allowed, lo, hi), where ``allowed`` (256 bool) says which
    ground uses (the _Planner constants, or a site id) its pixels may cover, and the share of them on water must
    be within [lo, hi]. ``category=None`` is a paved site (land, trees or roads, which end there). ``whole=False``
    leaves out the share."""
    P, uses = _Planner, np.arange(256)
    lo, hi = 0.0, 1.0
    surface = None if category in (None, "wind turbine") else CATEGORY_SPECS[category].surface
    if category is None:
        allowed = (uses <= P.TREE) & (uses != P.WATER)
    elif surface is None:  # a turbine's rotor is in the air: it may sweep over roads and trees, not water or a site
        allowed = (uses != P.WATER) & (uses < P.SITE0)
    elif surface == "water":
        allowed = uses == P.WATER
    elif site is not None:
        allowed = uses == site
    elif surface == "land":  # a field or building may clear trees, nothing else
        allowed = (uses == P.LAND) | (uses == P.TREE)
    elif surface == "road":
        allowed = uses == P.ROAD
    elif surface == "across":  # a bridge: more than 30% of it over water
        allowed, lo = uses < P.SITE0, math.nextafter(0.3, 1.0)
    elif surface == "shore":  # a quay may take over the shore road
        allowed, lo, hi = uses <= P.TREE, 0.35, 0.92
    else:
        raise ValueError(surface)
    if not whole:
        lo, hi = 0.0, 1.0
    allowed.setflags(write=False)
    return allowed, lo, hi

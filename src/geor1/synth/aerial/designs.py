"""What each category looks like from above: its parts (polygons in local metres), colours,
shadow casters and relief. One ``_design_<category>`` per category, registered with ``@design(category)``."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from geor1.synth.aerial.raster import Design, Part, _Draws, _ellipse, _mix, _rect, _stadium
from geor1.synth.aerial.styles import Style

DESIGNS: dict[str, object] = {}  # category -> its design function, registered with @design


def design(category: str):
    """Register the decorated function as ``category``'s design: ``f(ctx, colour, length, width,
    theta) -> Design``."""
    def register(fn):
        DESIGNS[category] = fn
        return fn
    return register


@dataclass
class _Ctx:
    """What a design or placer may know about the scene being planned."""

    rng: _Draws
    style: Style
    size: int
    ppm: float  # pixels per metre
    sun: np.ndarray  # unit vector (image x, y) towards the sun
    shadow_px_per_m: np.ndarray  # image offset of a shadow per metre of height
    tilt_px_per_m: np.ndarray  # image offset of a point per metre of height (off-nadir view)


@design("airplane")
def _design_airplane(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    L, span = length, width
    w = 0.085 * L
    body = c.style.colours[colour]
    nose = [(0.5 * L, 0), (0.47 * L, 0.3 * w), (0.42 * L, 0.47 * w), (0.35 * L, 0.5 * w)]
    fus = np.array(
        nose
        + [(-0.33 * L, 0.5 * w), (-0.5 * L, 0.15 * w), (-0.5 * L, -0.15 * w), (-0.33 * L, -0.5 * w)]
        + [(u, -v) for u, v in nose[::-1][:-1]]
    )
    if c.style.name == "A":  # swept wings, engines under the wings
        wing = [(0.10 * L, 0.4 * w), (-0.14 * L, span / 2), (-0.21 * L, span / 2), (-0.08 * L, 0.4 * w)]
        tail = [(-0.35 * L, 0.3 * w), (-0.46 * L, 0.19 * span), (-0.5 * L, 0.19 * span), (-0.45 * L, 0.3 * w)]
        engines = [
            _rect(0.0, 0.1 * L, s * 0.17 * span - 0.025 * L, s * 0.17 * span + 0.025 * L) for s in (-1, 1)
        ]
        livery = body
    else:  # straighter wings, T-tail, engines on the rear fuselage, coloured tail
        wing = [(0.05 * L, 0.4 * w), (-0.03 * L, span / 2), (-0.11 * L, span / 2), (-0.13 * L, 0.4 * w)]
        tail = [(-0.41 * L, 0.1 * w), (-0.46 * L, 0.2 * span), (-0.51 * L, 0.2 * span), (-0.5 * L, 0.1 * w)]
        engines = [_rect(-0.34 * L, -0.22 * L, s * 0.55 * w, s * 1.1 * w) for s in (-1, 1)]
        livery = c.style.colours["blue" if c.rng.random() < 0.5 else "red"]
    mirror = lambda poly: np.array(poly + [(u, -v) for u, v in poly[::-1]])
    parts = [
        Part(mirror(wing), 2),
        Part(mirror(tail), 5),
        *[Part(e, 3) for e in engines],
        Part(fus, 1),
        Part(_ellipse(0.44 * L, 0, 0.025 * L, 0.3 * w, 10), 4),
    ]
    lut = [body, _mix(body, 0.9), (0.30, 0.30, 0.32), (0.12, 0.14, 0.18), _mix(livery, 0.92)]
    z = 0.09 * L  # the shadow of an aircraft on its gear is its outline, offset by its height
    return Design(parts, lut, shadow=[Part(p.pts, 0, z=z) for p in parts[:2] + parts[-2:-1]])


@design("ship")
def _design_ship(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    L, B = length, width
    hull = np.array(
        [
            (0.5 * L, 0),
            (0.36 * L, 0.5 * B),
            (-0.46 * L, 0.5 * B),
            (-0.5 * L, 0.4 * B),
            (-0.5 * L, -0.4 * B),
            (-0.46 * L, -0.5 * B),
            (0.36 * L, -0.5 * B),
        ]
    )
    deck = hull * [0.93, 0.8]
    base = c.style.colours[colour]
    parts = [Part(hull, 1), Part(deck, 2)]
    if c.style.name == "A":  # bulk/cargo: hatch covers in a row, bridge aft
        n = max(2, int(L / 22))
        edges = np.linspace(-0.28 * L, 0.3 * L, n + 1)
        parts += [
            Part(_rect(a + 0.08 * (b - a), b - 0.08 * (b - a), -0.3 * B, 0.3 * B), 3)
            for a, b in itertools.pairwise(edges)
        ]
        parts.append(Part(_rect(-0.44 * L, -0.32 * L, -0.38 * B, 0.38 * B), 4))
    else:  # tanker: pipe line along the deck, bridge aft, forecastle
        parts.append(Part(np.array([(-0.3 * L, 0.0), (0.32 * L, 0.0)]), 3, line=True))
        parts.append(Part(_rect(-0.08 * L, -0.02 * L, -0.35 * B, 0.35 * B), 3))
        parts.append(Part(_rect(-0.46 * L, -0.36 * L, -0.4 * B, 0.4 * B), 4))
    lut = [_mix(base, 0.8), base, _mix(base, 0.68), _mix(c.style.colours["white"], 0.97)]
    return Design(
        parts,
        lut,
        shadow=[Part(hull, 0, z=0.05 * L, z_base=0.0), Part(parts[-1].pts, 0, z=0.12 * L, z_base=0.0)],
    )


@design("storage tank")
def _design_storage_tank(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    r = length / 2
    base = c.style.colours[colour]
    rim = _ellipse(0, 0, r, r, 28)
    if c.style.name == "A":  # floating roof: rim, roof deck, a hatch
        parts = [
            Part(rim, 1),
            Part(_ellipse(0, 0, 0.86 * r, 0.86 * r, 40), 2),
            Part(_ellipse(0.35 * r, 0.1 * r, 0.09 * r, 0.09 * r, 10), 3),
        ]
        lut, relief = [_mix(base, 0.82), base, (0.32, 0.32, 0.33)], 0.10
    else:  # fixed dome roof: concentric seams, a vent
        parts = [
            Part(rim, 1),
            Part(_ellipse(0, 0, 0.62 * r, 0.62 * r, 32), 2, line=True),
            Part(_ellipse(0, 0, 0.08 * r, 0.08 * r, 10), 3),
        ]
        lut, relief = [base, _mix(base, 0.85), _mix(base, 0.7)], 0.28
    h = length * c.rng.uniform(0.45, 0.75)
    return Design(parts, lut, shadow=[Part(rim, 0, z=h, z_base=0.0)], relief=relief)


@design("vehicle")
def _design_vehicle(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    L, W = length, width
    base = c.style.colours[colour]
    k = 0.22 * W
    body = np.array(
        [
            (L / 2 - k, -W / 2),
            (L / 2, -W / 2 + k),
            (L / 2, W / 2 - k),
            (L / 2 - k, W / 2),
            (-L / 2 + k, W / 2),
            (-L / 2, W / 2 - k),
            (-L / 2, -W / 2 + k),
            (-L / 2 + k, -W / 2),
        ]
    )
    glass = (0.08, 0.09, 0.11)
    if L < 7:  # a car
        if c.style.name == "A":
            parts = [
                Part(body, 1),
                Part(_rect(0.1 * L, 0.28 * L, -0.4 * W, 0.4 * W), 2),
                Part(_rect(-0.38 * L, -0.27 * L, -0.38 * W, 0.38 * W), 2),
            ]
        else:  # boxier, van-like: long glass band
            parts = [
                Part(_rect(-L / 2, L / 2, -W / 2, W / 2), 1),
                Part(_rect(0.18 * L, 0.34 * L, -0.42 * W, 0.42 * W), 2),
                Part(_rect(-0.3 * L, 0.12 * L, -0.3 * W, 0.3 * W), 3),
            ]
        h = 1.5
    else:  # a truck: cab and box
        parts = [
            Part(_rect(-L / 2, 0.3 * L, -W / 2, W / 2), 3),
            Part(_rect(0.33 * L, L / 2, -W / 2, W / 2), 1),
            Part(_rect(0.43 * L, 0.49 * L, -0.42 * W, 0.42 * W), 2),
        ]
        h = 3.6
    lut = [base, glass, _mix(base, 1.08 if colour != "white" else 0.95)]
    return Design(parts, lut, shadow=[Part(parts[0].pts, 0, z=h, z_base=0.0)])


@design("building")
def _design_building(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    L, W = length, width
    base = c.style.colours[colour]
    h = c.rng.uniform(4, 10) if L < 25 else c.rng.uniform(8, 30)
    gable = c.rng.random() < (0.3 if c.style.name == "A" else 0.7)
    if gable:  # two roof planes: the one facing the sun is brighter
        th = math.radians(theta)
        right = np.array([math.cos(th), math.sin(th)])
        lit = float(right @ c.sun) > 0
        parts = [
            Part(_rect(-L / 2, L / 2, -W / 2, 0), 1 if not lit else 2),
            Part(_rect(-L / 2, L / 2, 0, W / 2), 2 if not lit else 1),
            Part(np.array([(-L / 2, 0), (L / 2, 0)]), 3, line=True),
        ]
        lut = [_mix(base, 0.78), _mix(base, 1.06), _mix(base, 1.15)]
        footprint = [_rect(-L / 2, L / 2, -W / 2, W / 2)]
    else:  # flat roof: parapet, roof units; sometimes an L-shaped plan
        if c.rng.random() < 0.3 and L > 20:
            a, b = _rect(-L / 2, L / 2, -W / 2, 0), _rect(-L / 2, -L / 2 + 0.45 * L, 0, W / 2)
            footprint = [a, b]
        else:
            footprint = [_rect(-L / 2, L / 2, -W / 2, W / 2)]
        parts = [Part(f, 1) for f in footprint]
        parts += [Part(np.append(f, f[:1], axis=0), 2, line=True) for f in footprint]
        for _ in range(int(c.rng.integers(0, 4))):
            u, v = c.rng.uniform(-0.3, 0.3) * L, c.rng.uniform(-0.35, -0.05) * W
            s = c.rng.uniform(1.5, 3.5)
            parts.append(Part(_rect(u - s, u + s, v - s * 0.7, v + s * 0.7), 3))
        lut = [base, _mix(base, 0.75), _mix(c.style.colours["grey"], 1.25)]
    return Design(parts, lut, shadow=[Part(f, 0, z=h, z_base=0.0) for f in footprint], texture=0.05)


def _court_lines_tennis(s: float) -> list[np.ndarray]:
    hl, hw, sw, sl = 11.885 * s, 5.485 * s, 4.115 * s, 6.4 * s
    return [
        np.array([(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw), (-hl, -hw)]),
        np.array([(-hl, -sw), (hl, -sw)]),
        np.array([(-hl, sw), (hl, sw)]),
        np.array([(-sl, -sw), (-sl, sw)]),
        np.array([(sl, -sw), (sl, sw)]),
        np.array([(-sl, 0), (sl, 0)]),
    ]


@design("tennis court")
def _design_tennis_court(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    s = length / 36.6
    court = c.style.colours[colour]
    if c.style.name == "A":
        surround = {"green": _mix(court, 0.72), "blue": c.style.colours["green"], "red": _mix(court, 0.8)}[
            colour
        ]
    else:
        surround = _mix(court, 0.86)
    parts = [
        Part(_rect(-length / 2, length / 2, -width / 2, width / 2), 1),
        Part(_rect(-11.885 * s, 11.885 * s, -5.485 * s, 5.485 * s), 2),
    ]
    parts += [Part(p, 3, line=True) for p in _court_lines_tennis(s)]
    parts.append(Part(np.array([(0, -6.4 * s), (0, 6.4 * s)]), 4, line=True))
    return Design(parts, [surround, court, c.style.terrain["mark_white"], (0.2, 0.2, 0.2)], texture=0.02)


@design("basketball court")
def _design_basketball_court(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    s = length / 32.0
    hl, hw = 14 * s, 7.5 * s
    court = c.style.colours[colour]
    margin = c.style.colours["grey"] if c.style.name == "A" else _mix(court, 0.8)
    parts = [Part(_rect(-length / 2, length / 2, -width / 2, width / 2), 1), Part(_rect(-hl, hl, -hw, hw), 2)]
    keys = [_rect(e * hl - e * 5.8 * s, e * hl, -2.45 * s, 2.45 * s) for e in (-1, 1)]
    if c.style.name == "A":  # painted keys
        parts += [Part(k, 3) for k in keys]
    lines = [
        np.array([(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw), (-hl, -hw)]),
        np.array([(0, -hw), (0, hw)]),
        _ellipse(0, 0, 1.8 * s, 1.8 * s, 16),
    ]
    lines[-1] = np.append(lines[-1], lines[-1][:1], axis=0)
    lines += [np.append(k, k[:1], axis=0) for k in keys]
    for e in (-1, 1):  # three-point arcs around each basket
        arc = _ellipse(
            e * (hl - 1.575 * s),
            0,
            6.75 * s,
            6.75 * s,
            16,
            math.pi / 2 if e > 0 else -math.pi / 2,
            3 * math.pi / 2 if e > 0 else math.pi / 2,
        )
        parts_arc = arc[np.abs(arc[:, 1]) < hw - 0.9 * s]
        lines.append(parts_arc)
    parts += [Part(p, 4, line=True) for p in lines if len(p) >= 2]
    accent = c.style.colours["white" if colour in ("red", "orange") else "orange"]
    return Design(parts, [margin, court, _mix(accent, 0.9), c.style.terrain["mark_white"]], texture=0.02)


@design("ground track field")
def _design_ground_track_field(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    s = length / 176.0
    track = c.style.colours[colour]
    t = 10.0 * s  # track width
    grass = c.style.terrain["field_grass"]
    lanes = 3 if c.style.name == "A" else 2
    parts = [Part(_stadium(length, width), 1), Part(_stadium(length - 2 * t, width - 2 * t), 2)]
    for k in range(1, lanes + 1):
        o = t * k / (lanes + 1)
        st = _stadium(length - 2 * o, width - 2 * o)
        parts.append(Part(np.append(st, st[:1], axis=0), 3, line=True))
    fl, fw = 52.5 * s, 34 * s  # football pitch inside
    parts.append(Part(np.array([(-fl, -fw), (fl, -fw), (fl, fw), (-fl, fw), (-fl, -fw)]), 3, line=True))
    parts.append(Part(np.array([(0, -fw), (0, fw)]), 3, line=True))
    circ = _ellipse(0, 0, 9.15 * s, 9.15 * s, 18)
    parts.append(Part(np.append(circ, circ[:1], axis=0), 3, line=True))
    for e in (-1, 1):
        box = np.array(
            [
                (e * fl, -20.15 * s),
                (e * (fl - 16.5 * s), -20.15 * s),
                (e * (fl - 16.5 * s), 20.15 * s),
                (e * fl, 20.15 * s),
            ]
        )
        parts.append(Part(box, 3, line=True))
    return Design(parts, [track, grass, c.style.terrain["mark_white"]], texture=0.025)


@design("bridge")
def _design_bridge(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    L, W = length, width
    base = c.style.colours[colour]
    parts = [
        Part(_rect(-L / 2, L / 2, -W / 2, W / 2), 1),
        Part(_rect(-L / 2, L / 2, -W / 2, -W / 2 + max(0.8, 0.06 * W)), 2),
        Part(_rect(-L / 2, L / 2, W / 2 - max(0.8, 0.06 * W), W / 2), 2),
    ]
    dash = np.arange(-L / 2 + 6, L / 2 - 6, 12.0)
    parts += [Part(np.array([(u, 0), (u + 5, 0)]), 3, line=True) for u in dash]
    if c.style.name == "B":  # cable-stayed: two pylons across the deck
        parts += [Part(_rect(e * L / 5 - 2, e * L / 5 + 2, -W / 2 - 2.5, W / 2 + 2.5), 2) for e in (-1, 1)]
    lut = [base, _mix(base, 0.7), c.style.terrain["mark_white"]]
    z = c.rng.uniform(6, 14)
    return Design(parts, lut, shadow=[Part(_rect(-L / 2 + 8, L / 2 - 8, -W / 2, W / 2), 0, z=z)])


@design("harbor")
def _design_harbor(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    """Local frame: u points from land into the water; the shoreline is near u = 0."""
    quay, depth = length, width
    base = c.style.colours[colour]
    q = c.rng.uniform(10, 22)
    parts = [Part(_rect(-0.45 * q, 0.55 * q, -quay / 2, quay / 2), 1)]
    n = int(c.rng.integers(2, 6))
    pw = c.rng.uniform(5, 9) if c.style.name == "A" else c.rng.uniform(3, 4.5)
    vs = np.linspace(-quay / 2 + pw, quay / 2 - pw, n)
    for v in vs:
        pier = _rect(0.5 * q, depth, v - pw / 2, v + pw / 2)
        parts.append(Part(pier, 1))
        if c.style.name == "B":  # marina: finger slips along each dock
            for u in np.arange(0.5 * q + 6, depth - 3, 6.0):
                parts.append(Part(np.array([(u, v - pw / 2 - 5), (u, v + pw / 2 + 5)]), 2, line=True))
        else:
            parts.append(Part(_rect(depth - 2.5, depth, v - pw / 2, v + pw / 2), 2))
    return Design(
        parts,
        [base, _mix(base, 0.72)],
        shadow=[Part(p.pts, 0, z=1.5) for p in parts if not p.line],
        texture=0.04,
    )


@design("wind turbine")
def _design_wind_turbine(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    """Local frame: u is the rotor axis (facing the wind); blades turn in the vertical (v, z) plane."""
    R = length / 2
    H = R * c.rng.uniform(1.25, 1.5) + 10
    base = c.style.colours[colour]
    phase = c.rng.uniform(0, 2 * math.pi / 3)
    tower = Part(_ellipse(0, 0, 2.0, 2.0, 10), 1, z=H, z_base=0.0)
    nacelle = Part(_rect(-7, 4, -2.2, 2.2), 2, z=H)
    blades = []
    for k in range(3):
        a = phase + k * 2 * math.pi / 3
        sv, sz = math.sin(a), math.cos(a)
        root, tip = 0.06 * R, R
        # blade outline in (u, v, z): chord along u, tapering towards the tip
        pts = np.array(
            [(5.5 - 1.8, root * sv), (5.5 + 1.8, root * sv), (5.5 + 0.5, tip * sv), (5.5 - 0.5, tip * sv)]
        )
        z = np.array([H + root * sz, H + root * sz, H + tip * sz, H + tip * sz])
        blades.append(Part(pts, 1, z=z))
    hub = Part(_ellipse(5.5, 0, 2.0, 2.0, 10), 2, z=H)
    parts = [tower, *blades, nacelle, hub]
    grey = c.style.name == "B"
    lut = [_mix(base, 0.93 if grey else 1.0), _mix(base, 0.8)]
    return Design(
        parts, lut, shadow=[Part(p.pts, 0, z=p.z, z_base=p.z_base) for p in parts], tilted=True, texture=0.0
    )


@design("swimming pool")
def _design_swimming_pool(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    L, W = length, width
    water = c.style.colours[colour]
    deck = (0.86, 0.84, 0.78)
    e = max(1.2, 1.6 / c.ppm)  # coping/deck at least ~1.5 px wide
    if c.style.name == "A":
        parts = [
            Part(_rect(-L / 2 - e, L / 2 + e, -W / 2 - e, W / 2 + e), 1),
            Part(_rect(-L / 2, L / 2, -W / 2, W / 2), 2),
            Part(_rect(-L / 2, -L / 4, -W / 2, W / 2), 3),
        ]
    else:  # kidney-shaped
        parts = [
            Part(_ellipse(-0.2 * L, 0, 0.32 * L + e, W / 2 + e, 24), 1),
            Part(_ellipse(0.22 * L, 0.05 * W, 0.28 * L + e, 0.42 * W + e, 24), 1),
            Part(_ellipse(-0.2 * L, 0, 0.32 * L, W / 2, 24), 2),
            Part(_ellipse(0.22 * L, 0.05 * W, 0.28 * L, 0.42 * W, 24), 3),
        ]
    return Design(parts, [deck, water, _mix(water, 1.12)], texture=0.015)


@design("baseball diamond")
def _design_baseball_diamond(c: _Ctx, colour: str, length: float, width: float, theta: float) -> Design:
    """Local frame: home plate at u = -0.47 R, the fan opens along +u (towards centre field)."""
    R = length
    dirt = c.style.colours[colour]
    grass = c.style.terrain["field_grass"]
    h = -0.47 * R
    fan = np.concatenate([[(h, 0)], _ellipse(h, 0, R, R, 24, -math.pi / 4, math.pi / 4 + 1e-9)])
    track = np.concatenate(
        [
            _ellipse(h, 0, R, R, 24, -math.pi / 4, math.pi / 4 + 1e-9),
            _ellipse(h, 0, R - 4.5, R - 4.5, 24, math.pi / 4, -math.pi / 4 - 1e-9),
        ]
    )
    infield = np.concatenate([[(h, 0)], _ellipse(h, 0, 29, 29, 14, -math.pi / 4 - 0.05, math.pi / 4 + 0.05)])
    d = 27.43 / math.sqrt(2)
    square = np.array([(h + 2.5, 0), (h + d, d - 2.5), (h + 2 * d - 2.5, 0), (h + d, -d + 2.5)])
    parts = [
        Part(fan, 1),
        Part(track, 2),
        Part(infield, 2),
        Part(square, 3),
        Part(_ellipse(h + 18.4, 0, 2.7, 2.7, 10), 2),
        Part(_ellipse(h + 1, 0, 4, 4, 10), 2),
    ]
    for s in (-1, 1):
        parts.append(Part(np.array([(h, 0), (h + R * 0.7071 - 1, s * (R * 0.7071 - 1))]), 4, line=True))
    arc = _ellipse(h, 0, R - 0.5, R - 0.5, 24, -math.pi / 4, math.pi / 4 + 1e-9)
    parts.append(Part(arc, 5, line=True))
    lut = [_mix(grass, 1.06), dirt, _mix(grass, 0.92), c.style.terrain["mark_white"], (0.25, 0.25, 0.24)]
    return Design(parts, lut, texture=0.03)



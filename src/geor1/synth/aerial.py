"""GeoSynth aerial scenes: terrain, objects, shadows and a sensor model, rendered with numpy and Pillow.

A scene is made in two steps. :func:`plan_scene` draws every random choice from a numpy Generator
(setting, ground sampling distance, sun, water, roads, sites, objects and where they go) and
lays out the ground (a label and a brightness per pixel); :func:`render` then colours that ground,
composites shadows and objects onto it and applies the sensor (colour balance, haze, blur, noise).
``render`` is a pure function of the plan, so a scene can be re-rendered without some object, or without shadows and sensor, which is how
the tests check that every mask is exactly the pixels its object painted.

Geometry: image pixels, x right, y down, pixel ``(i, j)`` covering ``[i, i+1) x [j, j+1)``. North is
up. An object's local frame is metres with ``u`` along its heading (its long axis) and ``v`` to its
right; a heading ``theta`` (degrees clockwise from north) maps ``(u, v)`` to the image offset
``(u sin theta + v cos theta, -u cos theta + v sin theta) / gsd``. Objects are drawn without
anti-aliasing, so an object's pixels are exactly those its polygons cover, and never overlap
another object's; the sensor blur afterwards softens all edges alike (as a real point-spread
function would), and the annotations follow the object's own pixels, not the blur.

Scales: the ground sampling distance is drawn per scene (metres per pixel at the reference size of
448 px; a scene rendered at another size covers the same ground at a proportionally different
GSD). Object sizes are metres, so a scene's categories are those visible at its GSD: vehicles only
in fine-GSD scenes, ground track fields only in coarse ones, as in real imagery.
"""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass, field
from functools import cache, lru_cache

import numpy as np
from PIL import Image, ImageDraw

from geor1.synth import kernels
from geor1.synth.scene import CATEGORIES, SIZE_CLASSES, Scene, SceneObject

REF_SIZE = 448  # pixels; GSD ranges and minimum object sizes are stated at this image size

RGB = tuple[float, float, float]


# ----------------------------------------------------------------------------------------- styles
@dataclass(frozen=True)
class Style:
    """A sensor and a world look. Colours are linear-ish RGB in 0..1 before the sensor model."""

    name: str
    description: str
    gsd_range: tuple[float, float]  # metres per pixel at REF_SIZE
    blur_taps: tuple[float, float, float]  # separable 3-tap point-spread function (sums to 1)
    noise: float  # sensor noise, standard deviation in 8-bit levels
    gains: RGB  # per-channel colour balance
    saturation: float  # 1 = unchanged
    haze: RGB  # additive path radiance
    vignette: float  # relative darkening at the corners
    shadow: RGB  # multiplier of shadowed ground (bluish: skylight fills shadows)
    sun_azimuth: tuple[float, float]  # degrees from north
    sun_elevation: tuple[float, float]
    view_tilt: tuple[float, float]  # image displacement (x, y) per metre of height, off-nadir view
    terrain: dict[str, RGB]
    crops: tuple[RGB, ...]
    colours: dict[str, RGB]


_TERRAIN_A = {
    "grass": (0.30, 0.40, 0.20),
    "lawn": (0.36, 0.48, 0.23),
    "dry": (0.52, 0.50, 0.34),
    "soil": (0.50, 0.41, 0.31),
    "sand": (0.79, 0.71, 0.54),
    "snow": (0.90, 0.92, 0.95),
    "rock": (0.46, 0.44, 0.42),
    "paving": (0.57, 0.56, 0.54),
    "concrete": (0.72, 0.71, 0.68),
    "gravel": (0.63, 0.60, 0.55),
    "asphalt": (0.27, 0.27, 0.28),
    "tree": (0.13, 0.22, 0.10),
    "water_deep": (0.07, 0.15, 0.20),
    "water_shallow": (0.17, 0.31, 0.32),
    "bank": (0.45, 0.40, 0.31),
    "wake": (0.27, 0.38, 0.40),
    "mark_yellow": (0.86, 0.74, 0.26),
    "mark_white": (0.90, 0.90, 0.88),
    "field_grass": (0.30, 0.52, 0.22),
}
_TERRAIN_B = {
    "grass": (0.35, 0.41, 0.27),
    "lawn": (0.40, 0.50, 0.30),
    "dry": (0.58, 0.54, 0.40),
    "soil": (0.56, 0.46, 0.36),
    "sand": (0.82, 0.76, 0.62),
    "snow": (0.93, 0.94, 0.96),
    "rock": (0.50, 0.48, 0.46),
    "paving": (0.60, 0.60, 0.60),
    "concrete": (0.76, 0.76, 0.74),
    "gravel": (0.66, 0.64, 0.60),
    "asphalt": (0.32, 0.33, 0.35),
    "tree": (0.17, 0.26, 0.15),
    "water_deep": (0.09, 0.21, 0.25),
    "water_shallow": (0.20, 0.38, 0.38),
    "bank": (0.52, 0.47, 0.38),
    "wake": (0.30, 0.44, 0.45),
    "mark_yellow": (0.92, 0.85, 0.50),
    "mark_white": (0.94, 0.94, 0.92),
    "field_grass": (0.38, 0.56, 0.30),
}
_COLOURS_A = {
    "white": (0.90, 0.90, 0.88),
    "grey": (0.52, 0.53, 0.55),
    "black": (0.10, 0.10, 0.11),
    "red": (0.68, 0.15, 0.12),
    "blue": (0.14, 0.28, 0.62),
    "green": (0.20, 0.45, 0.24),
    "brown": (0.45, 0.30, 0.19),
    "orange": (0.86, 0.45, 0.14),
    "light blue": (0.42, 0.74, 0.88),
}
_COLOURS_B = {
    "white": (0.94, 0.92, 0.86),
    "grey": (0.50, 0.52, 0.56),
    "black": (0.12, 0.13, 0.14),
    "red": (0.78, 0.26, 0.16),
    "blue": (0.12, 0.36, 0.60),
    "green": (0.28, 0.54, 0.30),
    "brown": (0.54, 0.37, 0.24),
    "orange": (0.90, 0.56, 0.22),
    "light blue": (0.38, 0.80, 0.84),
}

STYLES = {
    "A": Style(
        name="A",
        description="very-high-resolution satellite (pan-sharpened, sharp, low noise, natural colour, "
        "midday sun from the south, slight off-nadir view)",
        gsd_range=(0.25, 1.6),
        blur_taps=(0.14, 0.72, 0.14),
        noise=2.0,
        gains=(1.0, 1.0, 1.0),
        saturation=1.0,
        haze=(0.015, 0.02, 0.03),
        vignette=0.0,
        shadow=(0.42, 0.45, 0.52),
        sun_azimuth=(120.0, 240.0),
        sun_elevation=(35.0, 65.0),
        view_tilt=(0.0, -0.22),
        terrain=_TERRAIN_A,
        crops=(
            (0.28, 0.42, 0.18),
            (0.45, 0.50, 0.26),
            (0.62, 0.57, 0.37),
            (0.43, 0.34, 0.25),
            (0.34, 0.46, 0.21),
            (0.55, 0.47, 0.33),
        ),
        colours=_COLOURS_A,
    ),
    "B": Style(
        name="B",
        description="aerial survey camera / a second satellite (softer optics, more noise, warm "
        "colour balance, desaturated, vignetting, morning sun from the east-south-east)",
        gsd_range=(0.3, 2.2),
        blur_taps=(0.25, 0.5, 0.25),
        noise=4.0,
        gains=(1.06, 1.0, 0.88),
        saturation=0.8,
        haze=(0.04, 0.04, 0.035),
        vignette=0.12,
        shadow=(0.52, 0.55, 0.60),
        sun_azimuth=(80.0, 150.0),
        sun_elevation=(28.0, 50.0),
        view_tilt=(0.12, -0.12),
        terrain=_TERRAIN_B,
        crops=(
            (0.36, 0.46, 0.26),
            (0.55, 0.55, 0.34),
            (0.68, 0.62, 0.44),
            (0.50, 0.41, 0.31),
            (0.40, 0.50, 0.28),
            (0.62, 0.55, 0.42),
        ),
        colours=_COLOURS_B,
    ),
}


# Ground labels: the ground is planned as one label per pixel, coloured by the style's palette at the end. They
# come in groups, so that what the planner asks of a label is a comparison (several times cheaper over an image
# than a table look-up): first the open covers that trees may grow on (crops first: a parcel's crop is crop0 plus
# a number), then the rest of the free land, trees, roads and their markings, and water last (the wake, then the
# depths: a depth is water0 plus a number).
N_CROPS, N_WATER = 6, 8
GROUND_LABELS = (
    *(f"crop{i}" for i in range(N_CROPS)),
    "grass",
    "lawn",
    "dry",
    "soil",
    "snow",
    "sand",
    "rock",
    "paving",
    "concrete",
    "gravel",
    "bank",
    "tree",
    "asphalt",
    "mark_yellow",
    "mark_white",
    "wake",
    *(f"water{i}" for i in range(N_WATER)),
)
GROUND = {name: i for i, name in enumerate(GROUND_LABELS)}
# brightness noise per label: patchy (mid-scale) and grain (per pixel) amplitudes
_AMP = {
    "grass": (0.08, 0.05),
    "lawn": (0.06, 0.035),
    "dry": (0.07, 0.05),
    "soil": (0.08, 0.05),
    "sand": (0.04, 0.02),
    "snow": (0.03, 0.012),
    "rock": (0.12, 0.08),
    "paving": (0.05, 0.04),
    "concrete": (0.04, 0.03),
    "gravel": (0.06, 0.06),
    "asphalt": (0.03, 0.04),
    "tree": (0.15, 0.22),
    "bank": (0.06, 0.04),
    "mark_yellow": (0.0, 0.01),
    "mark_white": (0.0, 0.01),
    "wake": (0.1, 0.12),
}
_AMP_MID = np.array(
    [_AMP.get(n, (0.05 if n.startswith("crop") else 0.03, 0.0))[0] for n in GROUND_LABELS], np.float32
)
_AMP_FINE = np.array(
    [_AMP.get(n, (0.0, 0.04 if n.startswith("crop") else 0.01))[1] for n in GROUND_LABELS], np.float32
)


def _ground_use(label: np.ndarray) -> np.ndarray:
    """What may be built on each pixel of a label image (uint8): 0 free land, 1 water (and wake), 2 road (asphalt
    and its markings), 3 trees (the _Planner constants), by the label groups: trees, roads, water in that order."""
    use = _choose(label >= GROUND["tree"], 3, 0)
    use -= (label >= GROUND["asphalt"]).view(np.uint8)
    use -= (label >= GROUND["wake"]).view(np.uint8)
    return use


def _is_cover(label: np.ndarray) -> np.ndarray:
    """Whether each pixel of a label image is open cover that trees may grow on (grass, lawn, dry grass, soil, snow,
    crops): the first label group."""
    return label < GROUND["sand"]


@cache
def _palette(style: str) -> np.ndarray:
    """(3, len(GROUND_LABELS)) float32: the R, G and B of the ground labels in ``style``, one row per channel."""
    st = STYLES[style]
    t = st.terrain
    rows = []
    for name in GROUND_LABELS:
        if name.startswith("crop"):
            rows.append(st.crops[int(name[4:])])
        elif name.startswith("water"):
            k = int(name[5:]) / (N_WATER - 1)
            rows.append(tuple(s + (d - s) * k for s, d in zip(t["water_shallow"], t["water_deep"])))
        else:
            rows.append(t[name])
    out = np.array(rows, np.float32).T.copy()
    out.setflags(write=False)
    return out


# ------------------------------------------------------------------------------------- categories
@dataclass(frozen=True)
class CategorySpec:
    """How a category lives in the world. Sizes are metres (length along the long axis); ``min_px`` and
    ``max_px`` bound its rendered length at REF_SIZE, ``min_width_px`` its width, so that the GSD decides
    which categories a scene can show."""

    length_m: tuple[float, float]
    aspect: tuple[float, float]  # width / length
    min_px: float
    max_px: float
    colours: tuple[str, ...]
    settings: tuple[str, ...]
    surface: str  # land, water, road, across (a river), shore
    directed: bool = False  # has a front (airplane nose): orientation over 360 degrees
    round: bool = False  # no orientation
    min_width_px: float = 0.0
    max_width_m: float | None = None  # when widths do not scale with length (vehicles: cars and trucks alike)


SETTINGS = ("urban", "suburban", "farmland", "industrial", "desert", "snow")
_ALL = SETTINGS
CATEGORY_SPECS: dict[str, CategorySpec] = {
    "airplane": CategorySpec((28, 70), (0.9, 1.05), 40, 190, ("white", "grey"), _ALL, "land", directed=True),
    "ship": CategorySpec(
        (25, 160),
        (0.14, 0.18),
        30,
        200,
        ("white", "grey", "red", "blue", "black"),
        _ALL,
        "water",
        directed=True,
        min_width_px=5,
    ),
    "storage tank": CategorySpec(
        (12, 45),
        (1, 1),
        16,
        110,
        ("white", "grey", "green"),
        ("industrial", "desert", "farmland", "urban", "snow"),
        "land",
        round=True,
    ),
    "vehicle": CategorySpec(
        (4.2, 16),
        (0.16, 0.45),
        14,
        60,
        ("white", "black", "red", "blue", "grey"),
        ("urban", "suburban", "industrial", "farmland", "desert", "snow"),
        "road",
        directed=True,
        min_width_px=5,
        max_width_m=2.6,
    ),
    "building": CategorySpec(
        (12, 70), (0.45, 1.0), 18, 170, ("red", "grey", "white", "brown", "blue"), _ALL, "land"
    ),
    "tennis court": CategorySpec(
        (34.8, 38.4), (0.5, 0.5), 34, 150, ("green", "blue", "red"), ("urban", "suburban"), "land"
    ),
    "ground track field": CategorySpec(
        (160, 180), (0.52, 0.52), 90, 230, ("red", "blue", "green"), ("urban", "suburban", "farmland"), "land"
    ),
    "bridge": CategorySpec((40, 500), (0.03, 0.5), 40, 440, ("grey", "white", "red"), _ALL, "across"),
    "basketball court": CategorySpec(
        (30.4, 33.6), (0.59, 0.59), 32, 140, ("blue", "green", "orange", "red"), ("urban", "suburban"), "land"
    ),
    "baseball diamond": CategorySpec(
        (80, 120),
        (1.4, 1.4),
        55,
        150,
        ("brown", "red"),
        ("suburban", "urban", "farmland"),
        "land",
        directed=True,
    ),
    "harbor": CategorySpec(
        (60, 200), (0.35, 0.8), 50, 170, ("grey", "white", "brown"), _ALL, "shore", directed=True
    ),
    "wind turbine": CategorySpec(
        (60, 130), (1, 1), 45, 170, ("white",), ("farmland", "desert", "snow"), "land", round=True
    ),
    "swimming pool": CategorySpec(
        (8, 25), (0.4, 0.65), 13, 60, ("blue", "light blue", "green"), ("suburban", "urban"), "land"
    ),
}
assert tuple(CATEGORY_SPECS) == tuple(sorted(CATEGORY_SPECS, key=CATEGORIES.index))
# categories whose drawing fills the length x width rectangle around their centre (cheap early rejection)
_BOX_SHAPED = (
    "airplane",
    "ship",
    "storage tank",
    "vehicle",
    "building",
    "tennis court",
    "ground track field",
    "basketball court",
    "baseball diamond",
    "swimming pool",
)


def _max_width_m(s: CategorySpec) -> float:
    return s.max_width_m if s.max_width_m is not None else s.length_m[1] * s.aspect[0]


def feasible_gsd(category: str) -> tuple[float, float]:
    """GSD range (m/px at REF_SIZE) at which ``category`` renders between its min and max length (and at least
    ``min_width_px`` wide)."""
    s = CATEGORY_SPECS[category]
    lo, hi = s.length_m[0] / s.max_px, s.length_m[1] / s.min_px
    if s.min_width_px:
        hi = min(hi, _max_width_m(s) / s.min_width_px)
    return lo, hi


@lru_cache(maxsize=4096)  # called for every placement try, with a handful of GSDs per scene
def length_range_at(category: str, gsd_ref: float) -> tuple[float, float] | None:
    """Object lengths (m) that render within the category's pixel bounds at ``gsd_ref``; None if none do."""
    s = CATEGORY_SPECS[category]
    lo = max(s.length_m[0], s.min_px * gsd_ref)
    if s.min_width_px:
        if _max_width_m(s) < s.min_width_px * gsd_ref:
            return None
        if s.max_width_m is None:
            lo = max(lo, s.min_width_px * gsd_ref / s.aspect[0])
    hi = min(s.length_m[1], s.max_px * gsd_ref)
    return (lo, hi) if lo <= hi else None


def size_class(category: str, length_m: float) -> str:
    """``small`` / ``medium`` / ``large``: the third of the category's length range ``length_m`` falls in."""
    lo, hi = CATEGORY_SPECS[category].length_m
    t = (length_m - lo) / (hi - lo)
    return SIZE_CLASSES[min(2, max(0, int(t * 3)))]


# ------------------------------------------------------------------------------ noise and grids
@dataclass(frozen=True)
class _Bank:
    """Fixed noise fields; scenes take crops (views, no copies). The ground's fields are kept as four
    contiguous (2S, S) blocks each (see :func:`_blocks`), so that a crop is one contiguous block of memory:
    whole-image steps on it run two to four times faster than on a window of a wider array or a flipped one.
    """

    low: np.ndarray  # (4, 2S, S) blocks of large-scale fractal noise, unit variance
    mid: np.ndarray  # (4, 2S, S) blocks of texture-scale fractal noise, unit variance
    grain: np.ndarray  # (4, 2S, S) blocks of white noise, unit variance (the ground's fine grain)
    fine: np.ndarray  # (3, 2S, 2S) white noise, unit variance, one plane per channel (sensor noise, object grain)


def _fractal(
    rng: np.random.Generator, n: int, cells: tuple[int, ...], weights: tuple[float, ...]
) -> np.ndarray:
    out = np.zeros((n, n), np.float32)
    for c, w in zip(cells, weights):
        grid = rng.random((c + 3, c + 3), dtype=np.float32)
        step = n / c
        big = np.asarray(Image.fromarray(grid, mode="F").resize((round(step * (c + 3)),) * 2, Image.BICUBIC))
        o = round(step)
        out += w * big[o : o + n, o : o + n]
    out -= out.mean()
    return out / out.std()


@lru_cache(maxsize=4)
def _bank(size: int) -> _Bank:
    # A fixed seed: the bank is part of the renderer (like a font), so scenes stay reproducible.
    rng = np.random.default_rng(20250921)
    n = 2 * size
    low = _fractal(rng, n, (2, 4, 8), (1.0, 0.5, 0.25))
    mid = _fractal(rng, n, (24, 48, 96), (1.0, 0.6, 0.35))
    fine = rng.standard_normal((n, n, 3), dtype=np.float32).transpose(2, 0, 1).copy()
    fields = (_blocks(low), _blocks(mid), _blocks(fine[0]), fine)
    for a in fields:
        a.setflags(write=False)
    return _Bank(*fields)


def _centres(size: int) -> np.ndarray:
    """(size,) float32: the pixel centres along a row or a column, index + 0.5."""
    return np.arange(size, dtype=np.float32) + np.float32(0.5)


def _ramp(size: int, a: float, b: float, c: float = 0.0) -> np.ndarray:
    """(size, size) float32: ``a * x + b * y + c`` at the pixel centres (x = column + 0.5, y = row + 0.5), made as
    one outer sum of a column and a row: one whole-image step instead of four."""
    t = _centres(size)
    return np.add.outer(t * np.float32(b) + np.float32(c), t * np.float32(a))


def _blocks(a: np.ndarray) -> np.ndarray:
    """(4, 2S, S), contiguous: the left and right halves of a (2S, 2S) field and of its transpose."""
    half = a.shape[1] // 2
    return np.stack([a[:, :half], a[:, half:], a.T[:, :half], a.T[:, half:]])


def _crop(blocks: np.ndarray, size: int, key: tuple[int, int, int]) -> np.ndarray:
    """A size x size crop of a bank field: block ``flip % 4`` of ``blocks`` from row ``oy`` (``ox`` only places
    object grain, see :func:`_crop_key`). A view of whole rows, so contiguous."""
    _, oy, flip = key
    return blocks[flip % 4, oy : oy + size]


def _choose(cond: np.ndarray, yes: int, no: int) -> np.ndarray:
    """uint8 labels: ``yes`` where the boolean array ``cond`` holds, else ``no``. Arithmetic on the mask's bytes
    (modulo 256, so ``yes`` below ``no`` works too) is several times faster than ``np.where`` with scalars."""
    out = cond.view(np.uint8) * np.uint8((yes - no) % 256)
    out += np.uint8(no)
    return out


def _paint(labels: np.ndarray, cond: np.ndarray, value) -> None:
    """``labels[cond] = value`` for a uint8 array (``value`` a scalar or an array of the same shape), in
    place: ``labels += cond * (value - labels)`` modulo 256, a few whole-array steps instead of a masked
    assignment, which is several times slower."""
    step = np.subtract(value, labels, dtype=np.uint8)
    step *= cond.view(np.uint8)
    labels += step


def _crop_key(rng: _Draws, size: int) -> tuple[int, int, int]:
    """(ox, oy, k): where a crop of a bank field starts. A ground crop uses oy and k (:func:`_crop`); an object's
    grain uses ox and oy."""
    return rng.integers(size), rng.integers(size), rng.integers(8)


# --------------------------------------------------------------------------------- geometry helpers
def _rect(u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    return np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], dtype=np.float64)


@lru_cache(maxsize=256)
def _unit_arc(n: int, a0: float, a1: float) -> np.ndarray:
    t = np.linspace(a0, a1, n, endpoint=(a1 - a0) < 2 * math.pi - 1e-9)
    arc = np.stack([np.cos(t), np.sin(t)], axis=1)
    arc.setflags(write=False)
    return arc


def _ellipse(
    cu: float, cv: float, ru: float, rv: float, n: int = 28, a0: float = 0.0, a1: float = 2 * math.pi
) -> np.ndarray:
    """n points on the ellipse centred at (cu, cv), or on its arc from a0 to a1 (radians, +u towards +v)."""
    return _unit_arc(n, a0, a1) * (ru, rv) + (cu, cv)


def _stadium(length: float, width: float, n: int = 14) -> np.ndarray:
    """An athletics-track outline centred on the origin, long axis along u."""
    r = width / 2
    s = length / 2 - r
    right = _ellipse(s, 0, r, r, n, -math.pi / 2, math.pi / 2)
    left = _ellipse(-s, 0, r, r, n, math.pi / 2, 3 * math.pi / 2)
    return np.concatenate([np.append(right, [[s, r]], axis=0), np.append(left, [[-s, -r]], axis=0)])


def _mix(c: RGB, k: float) -> RGB:
    """Colour ``c`` scaled by ``k`` (k > 1 brightens towards white without clipping hue)."""
    if k <= 1:
        return (c[0] * k, c[1] * k, c[2] * k)
    t = min(1.0, k - 1)
    return (c[0] + (1 - c[0]) * t, c[1] + (1 - c[1]) * t, c[2] + (1 - c[2]) * t)


# ------------------------------------------------------------------------------------- designs
@dataclass
class Part:
    """A filled polygon (or a one-pixel polyline) of an object, in local metres; ``z`` gives each vertex a
    height (for off-nadir tilt), ``z_base`` makes it a vertical prism from ``z_base`` up to ``z``."""

    pts: np.ndarray
    index: int
    line: bool = False
    z: float | np.ndarray = 0.0
    z_base: float | None = None


@dataclass
class Design:
    """What an object looks like: parts drawn in order with colours ``lut[index - 1]``, the parts that cast
    shadows (``shadow``; each at its heights), and optional dome shading (``relief`` strength)."""

    parts: list[Part]
    lut: list[RGB]
    shadow: list[Part] = field(default_factory=list)
    relief: float = 0.0
    tilted: bool = False  # drawn with the view tilt (tall thin structures)
    texture: float = 0.03  # multiplicative grain


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


DESIGNS = {
    "airplane": _design_airplane,
    "ship": _design_ship,
    "storage tank": _design_storage_tank,
    "vehicle": _design_vehicle,
    "building": _design_building,
    "tennis court": _design_tennis_court,
    "ground track field": _design_ground_track_field,
    "bridge": _design_bridge,
    "basketball court": _design_basketball_court,
    "baseball diamond": _design_baseball_diamond,
    "harbor": _design_harbor,
    "wind turbine": _design_wind_turbine,
    "swimming pool": _design_swimming_pool,
}


# ------------------------------------------------------------------------------------ rasterising
@dataclass
class PlacedObject:
    """An object placed in a plan, rasterised: ``index`` is its tight patch at (x0, y0) (0 = not the
    object, k = colour ``lut[k]``), ``shadow`` its ground shadow patch at (sx0, sy0)."""

    category: str
    colour: str
    orientation: float | None
    length_m: float
    width_m: float
    x0: int
    y0: int
    index: np.ndarray
    lut: np.ndarray
    relief: np.ndarray | None
    texture: float
    texture_key: tuple[int, int, int]
    sx0: int = 0
    sy0: int = 0
    shadow: np.ndarray | None = None

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        h, w = self.index.shape
        return self.x0, self.y0, self.x0 + w, self.y0 + h


Shapes = list[tuple[int, int, bool]]  # (number of points, value, is_line) of each shape, in drawing order


def _project(
    parts: list[Part], cx: float, cy: float, theta: float, ppm: float, lift: np.ndarray | None
) -> tuple[np.ndarray, Shapes]:
    """The image outlines of ``parts`` for an object centred at (cx, cy) px with heading ``theta``: all their
    points (n, 2) in one array, and the shapes they make, each ``(number of points, colour index, is_line)``.
    With ``lift`` (image px per metre of height) vertices move by their height, and a prism (``z_base`` set)
    becomes its base, its top and the band between them: that is how an off-nadir view or a shadow of a solid is
    drawn (exact for convex parts)."""
    t = math.radians(theta)
    s, co = math.sin(t) * ppm, math.cos(t) * ppm
    rot = np.array([[s, -co], [co, s]])  # (u, v) @ rot = (dx, dy)
    flat = np.concatenate([p.pts for p in parts]) @ rot + (cx, cy)
    if lift is None:
        return flat, [(len(p.pts), p.index, p.line) for p in parts]
    pieces, shapes, k = [], [], 0
    for p in parts:
        base = flat[k : k + len(p.pts)]
        k += len(p.pts)
        top = base + (p.z * lift if np.isscalar(p.z) else np.multiply.outer(p.z, lift))
        pieces.append(top)
        shapes.append((len(top), p.index, p.line))
        if p.z_base is not None:
            bottom = base + p.z_base * lift
            # the band swept between bottom and top: through the two vertices extreme across the sweep
            d = top[0] - bottom[0]
            side = bottom @ np.array([-d[1], d[0]])
            i, j = int(side.argmin()), int(side.argmax())
            pieces += [bottom, np.array([bottom[i], bottom[j], top[j], top[i]])]
            shapes += [(len(bottom), p.index, False), (4, p.index, False)]
    return np.concatenate(pieces), shapes


def _draw_into(pixels: np.ndarray) -> tuple:
    """Pillow's core drawing object and core image (``ImageDraw.Draw(image)``'s ``draw`` and ``im``) for an image
    that shares the memory of ``pixels`` (a C-contiguous 2-D uint8 array): drawing goes straight into the array,
    with no byte copies in and out. The core's ``draw_polygon(xy, value, 1)`` fills and ``draw_lines(xy, value,
    1)`` draws a one-pixel polyline: all that ``ImageDraw.polygon(xy, fill=value)`` and ``ImageDraw.line(xy,
    fill=value)`` do on an "L" image, without their per-call colour handling (a scene draws a few hundred)."""
    h, w = pixels.shape
    image = Image.frombuffer("L", (w, h), pixels, "raw", "L", 0, 1)  # shares pixels' memory
    image.readonly = 0  # frombuffer marks it read-only, and drawing would then copy it
    draw = ImageDraw.Draw(image)
    return draw.draw, draw.im


class _Canvas:
    """A reusable size x size uint8 drawing surface for rasterising objects: Pillow draws straight into a numpy
    array (no image, draw object or byte copy per object, which cost more than the drawing); the drawn pixels'
    bounds come from Pillow's getbbox, and the patch is copied out and cleared."""

    def __init__(self, size: int):
        self.size = size
        self.pixels = np.zeros((size, size), np.uint8)
        self.draw, self.image = _draw_into(self.pixels)

    def raster(
        self, points: np.ndarray, shapes: Shapes, *, clip: bool, first_ok=None
    ) -> tuple[int, int, np.ndarray] | None:
        """Draw ``shapes`` (see :func:`_project`), whose points follow one another in ``points`` (n, 2, image
        pixels); returns (x0, y0, uint8 patch) cropped tight to the drawn pixels, or None when nothing was drawn.
        Without ``clip`` anything reaching within a pixel of the border is refused. ``first_ok(x0, y0, patch)``,
        when given, is asked about the first shape's pixels (nonzero in the uint8 patch) as soon as it is drawn; if it says no, nothing more is
        drawn and None is returned (for a test that any part of a fitting object passes: a refusal then costs
        one shape, not all)."""
        size = self.size
        # Pillow puts pixel (i, j)'s centre at (i, j), ours is at (i + 0.5, j + 0.5); a few dozen points: Python's
        # min and max beat numpy's per-call overhead
        flat = (points - 0.5).ravel().tolist()
        xs, ys = flat[0::2], flat[1::2]
        x0, y0 = math.floor(min(xs) + 0.5) - 1, math.floor(min(ys) + 0.5) - 1  # a pixel's margin around them
        x1, y1 = math.ceil(max(xs) + 0.5) + 1, math.ceil(max(ys) + 0.5) + 1
        if clip:
            x0, y0, x1, y1 = max(0, x0), max(0, y0), min(size, x1), min(size, y1)
            if x1 <= x0 or y1 <= y0:
                return None
        elif x0 < 1 or y0 < 1 or x1 > size - 1 or y1 > size - 1:
            return None
        k = 0
        region = self.pixels[y0:y1, x0:x1]  # holds all that is drawn (Pillow clips at the canvas border)
        for n, value, line in shapes:
            xy, k = flat[k : k + 2 * n], k + 2 * n
            if line:
                self.draw.draw_lines(xy, value, 1)
            elif len(xy) >= 6:
                self.draw.draw_polygon(xy, value, 1)
            if first_ok is not None:
                check, first_ok = first_ok, None
                bounds = self.image.crop((x0, y0, x1, y1)).getbbox()
                if bounds is not None:
                    c0, r0, c1, r1 = bounds
                    if not check(x0 + c0, y0 + r0, region[r0:r1, c0:c1]):
                        region[:] = 0
                        return None
        # the drawn pixels' bounds, from Pillow's own image (several times faster than numpy on a small region)
        bounds = self.image.crop((x0, y0, x1, y1)).getbbox()
        if bounds is None:
            return None
        c0, r0, c1, r1 = bounds
        patch = region[r0:r1, c0:c1].copy()
        region[:] = 0
        return x0 + c0, y0 + r0, patch


@lru_cache(maxsize=16)
def _canvas(size: int, thread: int) -> _Canvas:
    """A canvas per image size and thread, reused from scene to scene (raster leaves it blank)."""
    return _Canvas(size)


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


class _Draws:
    """The planner's handle on a numpy Generator, drawing from it, with scalar draws made without numpy's argument
    handling (a scene takes a few hundred): ``uniform(low, high)`` is ``low + (high - low) * random()``, which is
    exactly what numpy computes (0.6 us a draw instead of 1.8 us); ``integers(low, high)`` is ``low`` plus the
    floor of ``(high - low) * random()``, uniform on the integers up to a bias of n / 2**53 (0.6 us instead of
    1.6 us; numpy's own bounded integers are exact, and a different stream)."""

    def __init__(self, generator: np.random.Generator):
        self.generator = generator
        self.random, self.permutation = generator.random, generator.permutation

    def uniform(self, low=0.0, high=1.0, size=None):
        if size is None and isinstance(low, (int, float)) and isinstance(high, (int, float)):
            return low + (high - low) * self.random()
        return self.generator.uniform(low, high, size)

    def integers(self, low, high=None, size=None):
        """Like ``Generator.integers``: from ``low`` up to ``high`` excluded, or from 0 up to ``low``."""
        if size is not None or not isinstance(low, int) or not isinstance(high, (int, type(None))):
            return self.generator.integers(low, high, size)
        if high is None:
            low, high = 0, low
        return low + int((high - low) * self.random())


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
        if category in _BOX_SHAPED and not self._corners_free(
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


# --------------------------------------------------------------------------------------- placers
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


def _place_vehicles(p: _Planner, n: int) -> int:
    """Vehicles drive on roads or stand in a car park (where cars are big enough to see at this GSD)."""
    placed = 0
    cars_visible = length_range_at("vehicle", p.gsd_ref)[0] <= 5.0 and 1.75 >= 5 * p.gsd_ref
    if cars_visible and (not p.roads or p.rng.random() < 0.5):
        placed = _place_vehicles_in_car_park(p, n)
    return placed + _place_vehicles_on_roads(p, n - placed)


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


PLACERS = {
    "bridge": _place_bridges,
    "harbor": _place_harbors,
    "airplane": _place_airplanes,
    "storage tank": _place_tanks,
    "vehicle": _place_vehicles,
    "building": _place_buildings,
    "ship": _place_ships,
    "wind turbine": _place_turbines,
    "tennis court": lambda p, n: _place_row(p, "tennis court", n),
    "basketball court": lambda p, n: _place_row(p, "basketball court", n),
}
# Large and site-bound things first, small free things last.
PLACE_ORDER = (
    "bridge",
    "harbor",
    "ground track field",
    "baseball diamond",
    "airplane",
    "storage tank",
    "tennis court",
    "basketball court",
    "wind turbine",
    "building",
    "swimming pool",
    "ship",
    "vehicle",
)
# What a setting is full of, besides the scene's focus and clutter: (probability, count range).
SETTING_CONTEXT = {
    "urban": {"building": (0.85, (4, 10)), "vehicle": (0.5, (3, 8))},
    "suburban": {"building": (0.75, (3, 8)), "swimming pool": (0.3, (1, 3))},
    "industrial": {"storage tank": (0.35, (2, 6)), "building": (0.5, (2, 5))},
    "farmland": {"building": (0.3, (1, 3))},
}
TYPICAL_COUNT = {
    "airplane": (1, 4),
    "ship": (1, 5),
    "storage tank": (2, 8),
    "vehicle": (2, 10),
    "building": (2, 8),
    "tennis court": (1, 4),
    "ground track field": (1, 1),
    "bridge": (1, 2),
    "basketball court": (1, 3),
    "baseball diamond": (1, 2),
    "harbor": (1, 2),
    "wind turbine": (2, 5),
    "swimming pool": (1, 4),
}


def place_category(p: _Planner, category: str, n: int) -> int:
    """Place up to ``n`` objects of ``category``; returns how many fit."""
    placer = PLACERS.get(category)
    if placer is not None:
        return placer(p, n)
    return _place_free(p, category, n, 12 * n + 10)


# ------------------------------------------------------------------------------------ sensor
# The sensor works on (3, size, size) channel planes: each step is then one long loop over contiguous memory,
# where numpy's broadcasting over a last axis of 3 is several times slower.
@lru_cache(maxsize=4)
def _vignette(size: int, style: str) -> np.ndarray:
    """(size, size) float32, read-only: the relative brightness the style's vignetting leaves at each pixel."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    r2 = ((x - size / 2) ** 2 + (y - size / 2) ** 2) / (size / 2) ** 2 / 2
    out = 1 - STYLES[style].vignette * r2
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def _noise(size: int, style: str) -> np.ndarray:
    """(3, 2 * size * size) float32, read-only: per channel, the style's sensor noise (white, standard deviation
    in 8-bit levels) plus its haze and the 0.5 that makes the final truncation round; a channel's window is
    ``size * size`` values from any offset below ``size * size``, one contiguous block. Channel c's noise is
    the bank's flat grain from ``c * size * size`` on."""
    st, n = STYLES[style], size * size
    grain = _bank(size).fine.reshape(-1)
    out = np.stack([grain[c * n : (c + 2) * n] * np.float32(st.noise) for c in range(3)])
    out += (np.array(st.haze, np.float32) * np.float32(255.0) + np.float32(0.5))[:, None]
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def _sensor_matrix(style: str) -> np.ndarray:
    """3 x 3 matrix applied to an RGB column vector (``M @ rgb``): channel gains, then saturation, then scaling to
    8-bit levels and by the square of the blur's centre tap (which the sensor pass, :func:`kernels.sensor`, then
    leaves out: its taps are ``(t / c, 1, t / c)``, and the blur is linear)."""
    st = STYLES[style]
    s = st.saturation
    sat = s * np.eye(3) + (1 - s) / 3 * np.ones((3, 3))
    out = (sat @ np.diag(st.gains)).astype(np.float32) * np.float32(255.0 * st.blur_taps[1] ** 2)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=8)
def _ground_colours(style: str, sensor: bool) -> np.ndarray:
    """(2 * len(GROUND_LABELS), 3) float32, read-only: the colour of each ground label in sun (first half) and in
    shadow (second half), through the sensor's colour matrix (in 8-bit levels) when ``sensor`` is set. Folding
    the shadow and the matrix into the palette spares render three whole-image passes."""
    sun = _palette(style)
    rgb = np.concatenate([sun, sun * np.array(STYLES[style].shadow, np.float32)[:, None]], axis=1)
    if sensor:
        rgb = _sensor_matrix(style) @ rgb
    out = np.ascontiguousarray(rgb.T, np.float32)
    out.setflags(write=False)
    return out


def render(
    plan: Plan, *, omit: tuple[int, ...] | set[int] = (), shadows: bool = True, sensor: bool = True
) -> Image.Image:
    """Composite shadows and objects onto the plan's ground and apply the sensor; a pure function of the plan.

    ``omit`` leaves objects out (by index into ``plan.objects``); ``shadows=False`` and ``sensor=False``
    switch those stages off (then every object pixel is exactly its palette colour times its grain).
    Objects are pasted over the shadows, so a shadow only ever darkens ground: it picks the ground's shadow
    colours (see :func:`_ground_colours`).
    """
    S = plan.size
    st = plan.style
    bank = _bank(S)
    omit = set(omit)
    keep = [o for i, o in enumerate(plan.objects) if i not in omit]
    shade = None
    if shadows:
        shade = plan.ground_shade.copy()
        for o in keep:
            if o.shadow is not None:
                h, w = o.shadow.shape
                shade[o.sy0 : o.sy0 + h, o.sx0 : o.sx0 + w] |= o.shadow
    # the sensor's vignetting is a per-pixel gain: applied to the ground's brightness and to each object's patch
    # rather than to the three planes of the composite. A style without it has all ones (exact), so that both
    # styles run the same compiled versions of the loops (numba compiles one per combination of argument types).
    vignette = _vignette(S, st.name) if sensor else None
    img = np.empty((3, S, S), np.float32)
    palette = _ground_colours(st.name, sensor)
    kernels.colour_ground(plan.ground_label, shade, len(GROUND_LABELS), plan.ground_bright, vignette, palette, img)
    matrix = _sensor_matrix(st.name).T if sensor else None
    grain = bank.fine[2]
    for o in keep:  # the grain, relief and vignetting make one gain per pixel
        ox, oy, _ = o.texture_key
        lut = o.lut if matrix is None else o.lut @ matrix
        kernels.paste(img, o.x0, o.y0, o.index, lut, np.float32(o.texture), grain, ox, oy, o.relief, vignette)
    out = np.empty((3, S, S), np.uint8)
    if sensor:  # blur, noise and rounding in one pass; the blur's centre gain is in the sensor matrix
        t, c = np.float32(st.blur_taps[0]), np.float32(st.blur_taps[1])
        ox, oy, _ = plan.noise_key
        kernels.sensor(img, t / c, _noise(S, st.name), oy * S + ox, out)
    else:
        img *= np.float32(255.0)
        img += np.float32(0.5)
        np.clip(img, 0, 255, out=out, casting="unsafe")
    return Image.merge("RGB", [Image.fromarray(channel) for channel in out])


# ----------------------------------------------------------------------------------- make_scene
def as_rng(rng_or_seed: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator (used as is) or an integer seed."""
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


def plan_scene(
    rng_or_seed,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    include: dict[str, int] | None = None,
    exclude=(),
    max_objects: int | None = None,
    setting: str | None = None,
    clutter: bool = True,
) -> Plan:
    """Draw a scene plan (see the module docstring).

    ``categories`` limits which categories may appear at all; ``include`` asks for exact counts of some
    (placement may fit fewer: read the plan's objects); ``exclude`` forbids some; ``clutter`` adds 0-3
    other categories present at the scene's GSD; ``max_objects`` caps the total.
    """
    rng = as_rng(rng_or_seed)
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r} (known: {', '.join(STYLES)})")
    st = STYLES[style]
    allowed = [c for c in (categories or CATEGORIES) if c not in set(exclude)]
    include = dict(include or {})
    for c in include:
        if c not in CATEGORY_SPECS:
            raise ValueError(f"unknown category {c!r}")
    focus = next(iter(include), None)
    if focus is None and allowed and rng.random() < 0.97:
        focus = allowed[int(rng.integers(len(allowed)))]
        include[focus] = int(rng.integers(TYPICAL_COUNT[focus][0], TYPICAL_COUNT[focus][1] + 1))

    lo, hi = st.gsd_range
    if focus is not None:  # where the style's sensor sees the focus category; else wherever it is visible
        f_lo, f_hi = feasible_gsd(focus)
        lo, hi = (max(lo, f_lo), min(hi, f_hi)) if max(lo, f_lo) < min(hi, f_hi) else (f_lo, f_hi)
    gsd_ref = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    if setting is None:
        choices = list(SETTINGS)
        for c in include:
            inter = [s for s in choices if s in CATEGORY_SPECS[c].settings]
            choices = inter or choices
        setting = choices[int(rng.integers(len(choices)))]
    elif setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r} (known: {', '.join(SETTINGS)})")

    counts = dict(include)
    roomy = not any(c in counts for c in ("ground track field", "baseball diamond"))
    if clutter:
        # a big sports ground needs open land: no rivers or coasts brought in by clutter
        pool = [
            c
            for c in allowed
            if c not in counts
            and setting in CATEGORY_SPECS[c].settings
            and length_range_at(c, gsd_ref) is not None
            and (roomy or CATEGORY_SPECS[c].surface not in ("water", "across", "shore"))
        ]
        k = min(len(pool), int(rng.choice([0, 1, 1, 2, 2, 3])))
        for i in rng.permutation(len(pool))[:k]:
            c = pool[int(i)]
            a, b = TYPICAL_COUNT[c]
            counts[c] = int(rng.integers(a, b + 1))
        for c, (prob, (a, b)) in SETTING_CONTEXT.get(setting, {}).items():
            if (
                c in allowed
                and c not in counts
                and length_range_at(c, gsd_ref) is not None
                and rng.random() < prob
            ):
                counts[c] = int(rng.integers(a, b + 1))
    if max_objects is not None:
        budget = max_objects
        for c in list(counts):
            counts[c] = min(counts[c], budget)
            budget -= counts[c]
        counts = {c: n for c, n in counts.items() if n > 0}

    water = None
    if "bridge" in counts:
        water = "river"
    elif "harbor" in counts:
        water = "coast"
    elif "ship" in counts:
        water = ["coast", "river", "lake"][int(rng.choice(3, p=[0.45, 0.35, 0.2]))]
    elif rng.random() < 0.15 and roomy:
        water = "lake" if rng.random() < 0.5 else "river"
    n_roads = {
        "urban": (1, 3),
        "suburban": (1, 2),
        "farmland": (0, 2),
        "industrial": (1, 2),
        "desert": (0, 1),
        "snow": (0, 1),
    }[setting]
    n_roads = int(rng.integers(n_roads[0], n_roads[1] + 1))
    if "ground track field" in counts or "baseball diamond" in counts:
        n_roads = min(1, n_roads)  # leave room for the big sports grounds
    if "vehicle" in counts:
        n_roads = max(1, n_roads)

    p = _Planner(rng, size, st, gsd_ref, setting)
    p.make_ground(water, counts.get("bridge", 0), n_roads)
    # the asked-for categories first (so clutter never crowds them out), each group large to small
    for c in sorted(counts, key=lambda c: (c not in include, PLACE_ORDER.index(c))):
        place_category(p, c, counts[c])
    gsd_m = gsd_ref * REF_SIZE / size
    noise_key = (int(rng.integers(0, size)), int(rng.integers(0, size)), 0)  # no transpose: a contiguous crop
    return Plan(
        size,
        st,
        setting,
        water,
        gsd_m,
        p.sun_az,
        p.sun_el,
        p.label,
        p.ground_brightness(),
        p.ground_shade,
        p.objects,
        noise_key,
        meta={"requested": counts, "gsd_ref_m": gsd_ref},
    )


def scene_from_plan(plan: Plan, image: Image.Image | None = None) -> Scene:
    """The :class:`Scene` (image, objects with tight boxes and masks) of a plan."""
    image = render(plan) if image is None else image
    objects = []
    for i, o in enumerate(plan.objects):
        objects.append(
            SceneObject(
                id=i,
                category=o.category,
                colour=o.colour,
                size=size_class(o.category, o.length_m),
                orientation=o.orientation,
                length_m=o.length_m,
                width_m=o.width_m,
                bbox=o.bbox,
                patch=o.index > 0,
                image_size=(plan.size, plan.size),
            )
        )
    return Scene(
        image=image,
        objects=objects,
        style=plan.style.name,
        setting=plan.setting,
        water=plan.water,
        gsd_m=plan.gsd_m,
        sun_azimuth_deg=plan.sun_azimuth_deg,
        sun_elevation_deg=plan.sun_elevation_deg,
        meta=dict(plan.meta),
    )


def make_scene(
    rng_or_seed,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    max_objects: int | None = None,
    include: dict[str, int] | None = None,
    exclude=(),
    setting: str | None = None,
    clutter: bool = True,
) -> Scene:
    """A rendered aerial scene with its objects (see :func:`plan_scene` for the arguments).

    ``rng_or_seed`` is a numpy Generator (advanced in place) or an int seed. No file I/O; the image is a
    PIL RGB image of ``size`` x ``size`` pixels.
    """
    return scene_from_plan(
        plan_scene(
            rng_or_seed,
            size=size,
            style=style,
            categories=categories,
            include=include,
            exclude=exclude,
            max_objects=max_objects,
            setting=setting,
            clutter=clutter,
        )
    )

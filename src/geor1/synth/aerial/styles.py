"""Sensor and world styles A and B: terrain and object palettes, and the ground labels the planner
paints (one label per pixel, coloured by the style's palette at the end)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property, lru_cache

import numpy as np

from geor1.synth.aerial.raster import RGB, _choose
from geor1.synth.sensor import Sensor, balance, colour_matrix


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

    @cached_property
    def sensor(self) -> Sensor:
        """The style's camera in the one sensor model (:mod:`geor1.synth.sensor`)."""
        return Sensor(balance(self.gains, self.saturation), self.haze, self.vignette, self.blur_taps, self.noise)


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


@lru_cache(maxsize=8)
def _ground_colours(style: str, sensor: bool) -> np.ndarray:
    """(2 * len(GROUND_LABELS), 3) float32, read-only: the colour of each ground label in sun (first half) and in
    shadow (second half), through the sensor's colour matrix (in 8-bit levels) when ``sensor`` is set. Folding
    the shadow and the matrix into the palette spares render three whole-image passes."""
    sun = _palette(style)
    rgb = np.concatenate([sun, sun * np.array(STYLES[style].shadow, np.float32)[:, None]], axis=1)
    if sensor:
        rgb = colour_matrix(STYLES[style].sensor) @ rgb
    out = np.ascontiguousarray(rgb.T, np.float32)
    out.setflags(write=False)
    return out

"""The thirteen categories: what each is (sizes in metres, the settings it appears in, colours)
and which ground sampling distances show it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from geor1.synth.scene import CATEGORIES, SIZE_CLASSES

REF_SIZE = 448  # pixels; GSD ranges and minimum object sizes are stated at this image size


# ------------------------------------------------------------------------------------- categories
@dataclass(frozen=True)
class CategorySpec:
    """How a category lives in the world, one record per category. Sizes are metres (length along the
    long axis); ``min_px`` and ``max_px`` bound its rendered length at REF_SIZE, ``min_width_px`` its
    width, so that the GSD decides which categories a scene can show. Its look is the design
    registered for it (``designs.design``), where it goes the placer registered for it
    (``placers.places``; none: anywhere free on its surface)."""

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
    typical_count: tuple[int, int] = (1, 1)  # how many a scene about it shows
    order: int = 0  # placement order: large and site-bound things first, small free things last
    box_shaped: bool = False  # its drawing fills the length x width rectangle (cheap early rejection)


SETTINGS = ("urban", "suburban", "farmland", "industrial", "desert", "snow")
_ALL = SETTINGS
CATEGORY_SPECS: dict[str, CategorySpec] = {
    "airplane": CategorySpec((28, 70), (0.9, 1.05), 40, 190, ("white", "grey"), _ALL, "land", directed=True,
                             typical_count=(1, 4), order=4, box_shaped=True),
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
        typical_count=(1, 5), order=11, box_shaped=True
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
        typical_count=(2, 8), order=5, box_shaped=True
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
        typical_count=(2, 10), order=12, box_shaped=True
    ),
    "building": CategorySpec(
        (12, 70), (0.45, 1.0), 18, 170, ("red", "grey", "white", "brown", "blue"), _ALL, "land",
        typical_count=(2, 8), order=9, box_shaped=True
    ),
    "tennis court": CategorySpec(
        (34.8, 38.4), (0.5, 0.5), 34, 150, ("green", "blue", "red"), ("urban", "suburban"), "land",
        typical_count=(1, 4), order=6, box_shaped=True
    ),
    "ground track field": CategorySpec(
        (160, 180), (0.52, 0.52), 90, 230, ("red", "blue", "green"), ("urban", "suburban", "farmland"), "land",
        typical_count=(1, 1), order=2, box_shaped=True
    ),
    "bridge": CategorySpec((40, 500), (0.03, 0.5), 40, 440, ("grey", "white", "red"), _ALL, "across",
                           typical_count=(1, 2), order=0),
    "basketball court": CategorySpec(
        (30.4, 33.6), (0.59, 0.59), 32, 140, ("blue", "green", "orange", "red"), ("urban", "suburban"), "land",
        typical_count=(1, 3), order=7, box_shaped=True
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
        typical_count=(1, 2), order=3, box_shaped=True
    ),
    "harbor": CategorySpec(
        (60, 200), (0.35, 0.8), 50, 170, ("grey", "white", "brown"), _ALL, "shore", directed=True,
        typical_count=(1, 2), order=1
    ),
    "wind turbine": CategorySpec(
        (60, 130), (1, 1), 45, 170, ("white",), ("farmland", "desert", "snow"), "land", round=True,
        typical_count=(2, 5), order=8
    ),
    "swimming pool": CategorySpec(
        (8, 25), (0.4, 0.65), 13, 60, ("blue", "light blue", "green"), ("suburban", "urban"), "land",
        typical_count=(1, 4), order=10, box_shaped=True
    ),
}
assert tuple(CATEGORY_SPECS) == tuple(sorted(CATEGORY_SPECS, key=CATEGORIES.index))
# Placement order: large and site-bound things first, small free things last.
PLACE_ORDER = tuple(sorted(CATEGORY_SPECS, key=lambda c: CATEGORY_SPECS[c].order))


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

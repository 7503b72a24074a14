"""The GeoSynth scene graph: object categories, attributes, and the geometry words expressions use.

A rendered aerial scene (:mod:`geor1.synth.aerial`) is described by a :class:`Scene` whose
:meth:`Scene.graph` is a JSON-ready dictionary stored in ``Sample.meta["scene"]``. The referring
expression resolver (:mod:`geor1.synth.expressions`) works on that dictionary alone, so anyone
holding a dataset record can re-check or explain its expression.

Frames and units: pixels of the scene image, x to the right and y down, origin at the top-left
corner of the top-left pixel; a box ``[x1, y1, x2, y2]`` covers pixel columns ``x1 .. x2-1`` and
rows ``y1 .. y2-1`` (so a one-pixel object at column 5, row 7 has the box ``[5, 7, 6, 8]``, as
COCO's ``[x, y, w, h]`` would say ``[5, 7, 1, 1]``). Images are north-up: orientations are degrees
clockwise from north (up), lengths on the ground are metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

# Thirteen categories with remote-sensing flavour (DIOR / NWPU VHR-10 / VRSBench names). The first
# eight are SEEN (pretraining), the last five HELD_OUT (the few-shot novel classes): each held-out
# class has a seen look-alike (basketball court ~ tennis court, harbor ~ bridge, ...), which is
# what makes few-shot transfer a real test.
SEEN = (
    "airplane",
    "ship",
    "storage tank",
    "vehicle",
    "building",
    "tennis court",
    "ground track field",
    "bridge",
)
HELD_OUT = ("basketball court", "baseball diamond", "harbor", "wind turbine", "swimming pool")
CATEGORIES = SEEN + HELD_OUT

PLURAL = {c: c + "s" for c in CATEGORIES}

# Axis classes of an object's long axis, centred on 0, 45, 90 and 135 degrees from north.
AXES = ("north-south", "northeast-southwest", "east-west", "northwest-southeast")

SIZE_CLASSES = ("small", "medium", "large")


def canonical_category(name: str) -> str:
    """``"storage_tank"``, ``"Storage Tank"`` -> ``"storage tank"``; raises ValueError for unknown names."""
    c = " ".join(name.replace("_", " ").replace("-", " ").lower().split())
    if c not in CATEGORIES:
        raise ValueError(f"unknown GeoSynth category {name!r} (known: {', '.join(CATEGORIES)})")
    return c


def parse_categories(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """A category filter from the CLI or a config: ``None`` (all), ``"seen"``, ``"held-out"``, a comma
    separated string, or a list of names (which may themselves be ``seen`` / ``held-out``)."""
    if spec is None:
        return None
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in (i.strip() for i in items):
        key = item.lower().replace("_", "-")
        group = {"seen": SEEN, "held-out": HELD_OUT, "heldout": HELD_OUT, "all": CATEGORIES}.get(key)
        for c in group or ((canonical_category(item),) if item else ()):
            if c not in out:
                out.append(c)
    if not out:
        raise ValueError(f"empty category list {spec!r}")
    return tuple(out)


def axis_class(orientation_deg: float) -> str:
    """The axis class (one of :data:`AXES`) of a long axis at ``orientation_deg`` from north."""
    return AXES[int(((orientation_deg % 180.0) + 22.5) // 45.0) % 4]


def axis_margin(orientation_deg: float) -> float:
    """Degrees between the axis and the nearest class boundary (22.5 when dead on a class centre)."""
    a = (orientation_deg % 180.0 + 22.5) % 45.0
    return min(a, 45.0 - a)


@dataclass
class SceneObject:
    """One object of a scene.

    ``bbox`` is tight around the object's rendered pixels (see the module docstring for the pixel
    convention); ``patch`` is the object's mask inside ``bbox`` (bool, ``y2-y1`` x ``x2-x1``).
    ``orientation`` is the long axis (heading, for objects with a front) in degrees clockwise from
    north, ``None`` for round objects; ``length_m`` / ``width_m`` are its ground size in metres.
    """

    id: int
    category: str
    colour: str
    size: str
    orientation: float | None
    length_m: float
    width_m: float
    bbox: tuple[int, int, int, int]
    patch: np.ndarray
    image_size: tuple[int, int]  # (width, height) of the scene image

    @property
    def attributes(self) -> dict:
        """Colour name, size class, orientation (degrees from north, None if round) and its axis class."""
        axis = None if self.orientation is None else axis_class(self.orientation)
        return {"colour": self.colour, "size": self.size, "orientation_deg": self.orientation, "axis": axis}

    @property
    def area(self) -> int:
        """Rendered area in pixels."""
        return int(self.patch.sum())

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of ``bbox`` in pixels."""
        x1, y1, x2, y2 = self.bbox
        return (x1 + x2) / 2, (y1 + y2) / 2

    @property
    def mask(self) -> np.ndarray:
        """The object's pixels as a bool array of the image's height x width."""
        w, h = self.image_size
        m = np.zeros((h, w), dtype=bool)
        x1, y1, x2, y2 = self.bbox
        m[y1:y2, x1:x2] = self.patch
        return m

    def node(self) -> dict:
        """The JSON scene-graph node of this object."""
        deg = None if self.orientation is None else round(self.orientation, 1)
        attrs = {
            "colour": self.colour,
            "size": self.size,
            "orientation_deg": deg,
            "axis": None if deg is None else axis_class(deg),  # of the stored degrees, so both agree
            "length_m": round(self.length_m, 1),
            "width_m": round(self.width_m, 1),
        }
        cx, cy = self.centre
        return {
            "id": self.id,
            "category": self.category,
            "attributes": attrs,
            "bbox": list(self.bbox),
            "centre": [cx, cy],
            "area": self.area,
        }


@dataclass
class Scene:
    """A rendered aerial scene: the image, its objects, and how it was seen.

    ``gsd_m`` is the ground sampling distance (metres per pixel); the sun azimuth is degrees
    clockwise from north towards the sun, its elevation degrees above the horizon (shadows point
    away from the sun). ``setting`` is the land cover (``urban``, ``farmland``, ...), ``water`` the
    water body (``river``, ``coast``, ``lake`` or ``None``).
    """

    image: Image.Image
    objects: list[SceneObject]
    style: str
    setting: str
    water: str | None
    gsd_m: float
    sun_azimuth_deg: float
    sun_elevation_deg: float
    meta: dict = field(default_factory=dict)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.objects:
            out[o.category] = out.get(o.category, 0) + 1
        return dict(sorted(out.items()))

    def instance_map(self) -> np.ndarray:
        """int32 height x width: the id of the object owning each pixel, -1 for the ground."""
        m = np.full((self.height, self.width), -1, dtype=np.int32)
        for o in self.objects:
            x1, y1, x2, y2 = o.bbox
            m[y1:y2, x1:x2][o.patch] = o.id
        return m

    def graph(self) -> dict:
        """The JSON-ready scene graph stored in ``Sample.meta["scene"]``."""
        return {
            "width": self.width,
            "height": self.height,
            "style": self.style,
            "setting": self.setting,
            "water": self.water,
            "gsd_m": round(self.gsd_m, 3),
            "sun_azimuth_deg": round(self.sun_azimuth_deg, 1),
            "sun_elevation_deg": round(self.sun_elevation_deg, 1),
            "objects": [o.node() for o in self.objects],
            "counts": self.counts(),
        }

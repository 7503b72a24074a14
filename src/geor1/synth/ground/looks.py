"""Constants of a place's geometry and the looks of its views: biome palettes, materials and the
sensor styles of the aerial and ground views."""

from __future__ import annotations

from dataclasses import dataclass

from geor1.synth.sensor import Sensor

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


# The views' cameras in the one sensor model (geor1.synth.sensor): style A clean, style B another
# instrument (a warm, soft, grainy aerial sensor; a punchy, cool street camera).
AERIAL_SENSORS = {
    "A": Sensor(),
    "B": Sensor(((0.80, 0.22, 0.04), (0.08, 0.86, 0.10), (0.04, 0.18, 0.62)), blur_taps=(0.2, 0.6, 0.2), noise=6.4),
}
GROUND_SENSORS = {
    "A": Sensor(),
    "B": Sensor(((1.12, -0.08, -0.04), (-0.06, 1.10, -0.04), (-0.02, -0.04, 1.16)), noise=3.8),
}

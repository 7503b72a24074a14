"""What a view shows, as data (:func:`layout_evidence`): the cues the programmatic teacher's
rationales compare."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from geor1.synth.ground.city import _river_distance
from geor1.synth.ground.layout import Layout, conditions
from geor1.synth.ground.looks import TILE_EXTENT_M

# ----------------------------------------------------------------------------------------------
# evidence


def layout_evidence(layout: Layout, when: datetime) -> dict:
    """What both views show, as data for a rationale teacher: road bearings (degrees in [0, 180)),
    the bearing of the camera's street, buildings in the aerial tile (count, mean/max height m,
    pitched-roof share), trees in the tile, water share of the tile, urban density, biome,
    architecture, snow, foliage, and the sun (elevation/azimuth, degrees)."""
    cond = conditions(layout, when)
    half = TILE_EXTENT_M / 2
    centre = layout.footprints.mean(axis=1)
    in_tile = (np.abs(centre) < half).all(axis=1)
    t = layout.trees
    c = (np.arange(32) + 0.5) * TILE_EXTENT_M / 32 - half
    gx, gy = np.meshgrid(c, -c)
    water = _river_distance(layout.plan, *layout.city_offset(gx, gy)) < layout.plan.river_width_m / 2
    for px_, py_, pr in layout.ponds:
        water |= (gx - px_) ** 2 + (gy - py_) ** 2 < pr * pr
    heights = layout.buildings[in_tile, 4]
    return {
        "road_bearings_deg": sorted(round((layout.bearing_deg + a) % 180, 1) for a in (0, 90)),
        "camera_street_bearing_deg": round(layout.street_bearing_deg, 1),
        "n_buildings": int(in_tile.sum()),
        "mean_height_m": round(float(heights.mean()), 1) if len(heights) else 0.0,
        "max_height_m": round(float(heights.max()), 1) if len(heights) else 0.0,
        "pitched_roof_share": round(float(layout.pitched[in_tile].mean()), 2) if len(heights) else 0.0,
        "n_trees": int(((np.abs(t[:, 0]) < half) & (np.abs(t[:, 1]) < half)).sum()),
        "water_share": round(float(water.mean()), 3),
        "urban_density": round(layout.density, 2),
        "biome": layout.plan.biome,
        "architecture": layout.plan.architecture.name,
        "snow": cond.snow,
        "foliage": cond.foliage,
        "sun_elevation_deg": round(cond.sun_elevation, 1),
        "sun_azimuth_deg": round(cond.sun_azimuth, 1),
    }

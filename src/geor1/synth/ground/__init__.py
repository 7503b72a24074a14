"""One place of the GeoSynth world in 3-D, and its two views: an aerial tile and a ground panorama.

:func:`layout_at` builds the local layout around a GPS point: the camera is moved onto the
nearest street (as a street-view car would stand), then the city's street grid, the blocks
around it (buildings with footprints, heights and colours; parks, fields, woods with trees;
ponds) and the river are gathered within :data:`VIEW_RADIUS_M`. Every block is a pure function
of (city, block index), so two views of one place, or of two nearby places, agree.

Frames (all metres):

* **local** ``(x, y)``: x east, y north, origin at the camera.
* **grid** ``(u, v)``: u along the city grid bearing β (clockwise from north), v along β + 90°;
  ``x = u sin β + v cos β``, ``y = u cos β − v sin β``. Building footprints are axis-aligned
  rectangles in this frame. ``U, V`` (capitals) are grid coordinates from the city centre,
  lower-case ``u, v`` from the camera.

Views:

* :func:`render_aerial`: a nadir tile, north up, :data:`TILE_EXTENT_M` metres on a side centred
  on the camera (pixel ``(col, row)`` centre ↦ ``x = (col + ½)·m − E/2``, ``y = E/2 − (row + ½)·m``
  with ``m = E / size``). Shadows fall away from the sun computed from the capture time.
* :func:`render_panorama`: a 360° equirectangular ground panorama, ``2·size × size`` pixels,
  camera at :data:`EYE_HEIGHT_M`. Column ``c`` looks along azimuth ``360·(c + ½)/W`` degrees
  clockwise from north (north at the left edge, east a quarter in); row ``r`` is elevation
  ``90 − 180·(r + ½)/H`` degrees (the horizon between the two middle rows). Column-wise
  raycasting in numpy: the ground and streets are sampled where each pixel's ray meets the
  ground; buildings and trees are depth-tested per pixel.

The package's parts: ``looks`` (constants, palettes, view styles), ``noise`` (world-anchored
randomness), ``city`` (the street grid and its blocks), ``layout`` (a place and the conditions at
capture time), ``cover`` (ground cover and shadows), ``aerial_tile``, ``panorama`` and
``evidence`` (what a view shows, as data).
"""

from geor1.synth.ground.aerial_tile import render_aerial
from geor1.synth.ground.cover import ground_cover
from geor1.synth.ground.evidence import layout_evidence
from geor1.synth.ground.layout import Conditions, Layout, conditions, layout_at
from geor1.synth.ground.looks import (
    AERIAL_SENSORS,
    ASPHALT,
    BIOME_LOOKS,
    EYE_HEIGHT_M,
    FLOOR_M,
    GROUND_SENSORS,
    SUN_MIN_ELEVATION_DEG,
    TILE_EXTENT_M,
    VIEW_RADIUS_M,
)
from geor1.synth.ground.panorama import render_panorama

__all__ = ["AERIAL_SENSORS", "ASPHALT", "BIOME_LOOKS", "EYE_HEIGHT_M", "FLOOR_M", "GROUND_SENSORS",
           "SUN_MIN_ELEVATION_DEG", "TILE_EXTENT_M", "VIEW_RADIUS_M", "Conditions", "Layout", "conditions",
           "ground_cover", "layout_at", "layout_evidence", "render_aerial", "render_panorama"]

"""GeoSynth aerial scenes: terrain, objects, shadows and a sensor model, rendered with numpy and Pillow.

The package's parts: ``styles`` (the two sensor/world looks, the ground labels and their palette
through each style's camera), ``categories`` (what each category is and at which GSDs it shows),
``designs`` (what it looks like from above), ``planner`` (the scene's random choices and the
ground), ``placers`` (where each category goes), ``raster`` (the fast primitives: noise, label
grids, the rasteriser) and ``render`` (plan, render, make a scene). The cameras are GeoSynth's one
sensor model, :mod:`geor1.synth.sensor`.

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

from geor1.synth.aerial.categories import (
    CATEGORY_SPECS,
    PLACE_ORDER,
    REF_SIZE,
    SETTINGS,
    CategorySpec,
    feasible_gsd,
    length_range_at,
    size_class,
)
from geor1.synth.aerial.designs import DESIGNS
from geor1.synth.aerial.placers import PLACERS, SETTING_CONTEXT, place_category
from geor1.synth.aerial.planner import Plan
from geor1.synth.aerial.render import as_rng, make_scene, plan_scene, render, scene_from_plan
from geor1.synth.aerial.styles import GROUND, GROUND_LABELS, STYLES, Style

__all__ = ["CATEGORY_SPECS", "DESIGNS", "GROUND", "GROUND_LABELS", "PLACERS", "PLACE_ORDER", "REF_SIZE", "SETTINGS",
           "SETTING_CONTEXT", "STYLES", "CategorySpec", "Plan", "Style", "as_rng", "feasible_gsd",
           "length_range_at", "make_scene", "place_category", "plan_scene", "render", "scene_from_plan", "size_class"]

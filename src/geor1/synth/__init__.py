"""GeoSynth: the embedded procedural geospatial world.

Aerial scenes with a remote-sensing look (:mod:`~geor1.synth.aerial`), their scene graphs
(:mod:`~geor1.synth.scene`), referring expressions resolved over them (:mod:`~geor1.synth.expressions`), and
builders of REC / OVD / GRES samples in the project schema (:mod:`~geor1.synth.builders`). The planet, ground
panoramas and the crossview / geoloc builders live in :mod:`geor1.synth.world`, :mod:`geor1.synth.ground` and
:mod:`geor1.synth.crossview`. See docs/geosynth.md.
"""

from geor1.synth.aerial import STYLES, make_scene
from geor1.synth.builders import make_sample, write_task
from geor1.synth.scene import CATEGORIES, HELD_OUT, SEEN, Scene, SceneObject, parse_categories

__all__ = [
    "CATEGORIES",
    "HELD_OUT",
    "SEEN",
    "STYLES",
    "Scene",
    "SceneObject",
    "make_sample",
    "make_scene",
    "parse_categories",
    "write_task",
]

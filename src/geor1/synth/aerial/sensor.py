"""The aerial styles through the one sensor model (:mod:`geor1.synth.sensor`): vignetting, noise and the
colour matrix of each style, and the ground palette seen through it."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from geor1.synth.aerial.styles import STYLES, _palette
from geor1.synth.sensor import colour_matrix, noise_planes, vignetting


# The aerial renderer's use of the one sensor model (geor1.synth.sensor): each style's camera, and its
# colour matrix folded into the ground palette.
def _vignette(size: int, style: str) -> np.ndarray:
    return vignetting(size, STYLES[style].sensor)


def _noise(size: int, style: str) -> np.ndarray:
    return noise_planes(size, STYLES[style].sensor)


def _sensor_matrix(style: str) -> np.ndarray:
    return colour_matrix(STYLES[style].sensor)


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

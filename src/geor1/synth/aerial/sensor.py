"""The sensor model: vignetting, noise, the colour matrix of each style."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from geor1.synth.aerial.raster import _bank
from geor1.synth.aerial.styles import STYLES, _palette


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

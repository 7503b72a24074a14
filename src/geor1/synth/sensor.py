"""GeoSynth's one sensor model, shared by the aerial scenes and the planet's views.

A :class:`Sensor` turns linear RGB in 0..1 into 8-bit pixels: a 3 x 3 colour matrix (channel gains
and saturation), additive haze, vignetting, a separable 3-tap blur (the point-spread function),
white noise (standard deviation in 8-bit levels) and rounding. The blur, noise and rounding run in
one compiled pass (:func:`geor1.synth.kernels.sensor`) on (3, H, W) channel planes.

The aerial renderer folds the colour matrix into its palettes and the vignetting into its per-pixel
gains (``geor1.synth.aerial.render``) and then calls the same pass; the planet's aerial tiles and
ground panoramas go through :func:`expose`. The blur's centre tap ``c`` is folded into the matrix
(its taps become ``(t / c, 1, t / c)``), which the blur, being linear, allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass(frozen=True)
class Sensor:
    """A camera: ``matrix`` applied to a linear RGB column vector, ``haze`` added (0..1 units),
    ``vignette`` the relative darkening at the corners of a square image, ``blur_taps`` the separable
    point-spread function (sums to 1) and ``noise`` the white noise in 8-bit levels."""

    matrix: tuple[tuple[float, float, float], ...] = IDENTITY
    haze: tuple[float, float, float] = (0.0, 0.0, 0.0)
    vignette: float = 0.0
    blur_taps: tuple[float, float, float] = (0.0, 1.0, 0.0)
    noise: float = 0.0


def balance(gains: tuple[float, float, float], saturation: float) -> tuple[tuple[float, float, float], ...]:
    """The colour matrix of per-channel ``gains`` followed by ``saturation`` (1: unchanged)."""
    s = saturation
    sat = s * np.eye(3) + (1 - s) / 3 * np.ones((3, 3))
    return tuple(tuple(row) for row in (sat @ np.diag(gains)).tolist())


@lru_cache(maxsize=16)
def colour_matrix(sensor: Sensor) -> np.ndarray:
    """3 x 3 float32, read-only: the colour matrix scaled to 8-bit levels and by the square of the blur's
    centre tap (which the compiled pass then leaves out)."""
    out = np.array(sensor.matrix, np.float64).astype(np.float32) * np.float32(255.0 * sensor.blur_taps[1] ** 2)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=8)
def noise_planes(size: int, sensor: Sensor) -> np.ndarray:
    """(3, 2 * size * size) float32, read-only: per channel, the sensor's white noise plus its haze and
    the 0.5 that makes the final truncation round; any ``size * size`` window from an offset below
    ``size * size`` is one contiguous block. Channel c's noise is the noise bank's grain from
    ``c * size * size`` on."""
    from geor1.synth.aerial.raster import _bank

    n = size * size
    grain = _bank(size).fine.reshape(-1)
    out = np.stack([grain[c * n : (c + 2) * n] * np.float32(sensor.noise) for c in range(3)])
    out += (np.array(sensor.haze, np.float32) * np.float32(255.0) + np.float32(0.5))[:, None]
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4)
def vignetting(size: int, sensor: Sensor) -> np.ndarray:
    """(size, size) float32, read-only: the relative brightness the vignetting leaves at each pixel."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    r2 = ((x - size / 2) ** 2 + (y - size / 2) ** 2) / (size / 2) ** 2 / 2
    out = 1 - sensor.vignette * r2
    out.setflags(write=False)
    return out


def expose(rgb: np.ndarray, sensor: Sensor, seed: int) -> Image.Image:
    """An (H, W, 3) linear RGB image in 0..1 through ``sensor`` (vignetting only when square): an
    8-bit RGB image. The noise window is drawn from ``seed``, so an image is a function of its seed."""
    from geor1.synth import kernels

    h, w, _ = rgb.shape
    planes = np.ascontiguousarray(np.moveaxis(rgb.astype(np.float32) @ colour_matrix(sensor).T, 2, 0))
    if sensor.vignette and h == w:
        planes *= vignetting(h, sensor)
    side = math.isqrt(h * w - 1) + 1  # a square noise field at least as large as the image
    start = int(np.random.default_rng([seed % 2**63, 5]).integers(0, side * side))
    out = np.empty((3, h, w), np.uint8)
    t, c = np.float32(sensor.blur_taps[0]), np.float32(sensor.blur_taps[1])
    kernels.sensor(planes, t / c, noise_planes(side, sensor), start, out)
    return Image.merge("RGB", [Image.fromarray(channel) for channel in out])

"""World-anchored randomness: value noise and generators keyed by place, so every view of a place
agrees, and the fixed field the sensors' noise is read from."""

from __future__ import annotations

import numpy as np

from geor1.synth import world

# ----------------------------------------------------------------------------------------------
# world-anchored randomness

# A fixed table of uniform values, 256 × 256 plus a wrapped extra row and column; lattice point
# (i, j) reads entry (i mod 256, j mod 256), so textures are anchored to the world (the same in
# every image of a place) and cheap to sample.
_TABLE = np.random.default_rng([world.WORLD_SEED, 3]).random((256, 256)).astype(np.float32)
_NOISE_TABLE = np.pad(_TABLE, ((0, 1), (0, 1)), mode="wrap").ravel()
_ROW = 257


def _lattice_index(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    return ((ix + (97 * salt) % 256) & 255) * _ROW + ((iy + (61 * salt) % 256) & 255)


def _lattice(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) values at integer lattice points (a pure function of the point and ``salt``)."""
    return np.take(_NOISE_TABLE, _lattice_index(ix, iy, salt))


def _value_noise(x: np.ndarray, y: np.ndarray, cell_m: float, salt: int) -> np.ndarray:
    """Smooth noise in [0, 1): lattice values every ``cell_m`` metres, bilinearly blended."""
    fx, fy = np.asarray(x, np.float32) / np.float32(cell_m), np.asarray(y, np.float32) / np.float32(cell_m)
    ix, iy = np.floor(fx), np.floor(fy)
    tx, ty = fx - ix, fy - iy
    k = _lattice_index(ix.astype(np.int32), iy.astype(np.int32), salt)
    a, b = np.take(_NOISE_TABLE, k), np.take(_NOISE_TABLE, k + _ROW)
    c, d = np.take(_NOISE_TABLE, k + 1), np.take(_NOISE_TABLE, k + _ROW + 1)
    return (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty


def _rng(*keys: int) -> np.random.Generator:
    """A generator for one piece of the world, seeded by the world seed and integer keys."""
    return np.random.default_rng([world.WORLD_SEED] + [int(k) % 2**63 for k in keys])

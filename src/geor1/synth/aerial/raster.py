"""The fast primitives, confined here: value-noise banks, label grids, geometry helpers, the
random-draw buffer, and the rasteriser that turns an object's design into a tight index patch.
The domain modules (styles, designs, planner, placers) call these and read plainly."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[float, float, float]


# ------------------------------------------------------------------------------ noise and grids
@dataclass(frozen=True)
class _Bank:
    """Fixed noise fields; scenes take crops (views, no copies). The ground's fields are kept as four
    contiguous (2S, S) blocks each (see :func:`_blocks`), so that a crop is one contiguous block of memory:
    whole-image steps on it run two to four times faster than on a window of a wider array or a flipped one.
    """

    low: np.ndarray  # (4, 2S, S) blocks of large-scale fractal noise, unit variance
    mid: np.ndarray  # (4, 2S, S) blocks of texture-scale fractal noise, unit variance
    grain: np.ndarray  # (4, 2S, S) blocks of white noise, unit variance (the ground's fine grain)
    fine: np.ndarray  # (3, 2S, 2S) white noise, unit variance, one plane per channel (sensor noise, object grain)


def _fractal(
    rng: np.random.Generator, n: int, cells: tuple[int, ...], weights: tuple[float, ...]
) -> np.ndarray:
    out = np.zeros((n, n), np.float32)
    for c, w in zip(cells, weights):
        grid = rng.random((c + 3, c + 3), dtype=np.float32)
        step = n / c
        big = np.asarray(Image.fromarray(grid, mode="F").resize((round(step * (c + 3)),) * 2, Image.BICUBIC))
        o = round(step)
        out += w * big[o : o + n, o : o + n]
    out -= out.mean()
    return out / out.std()


@lru_cache(maxsize=4)
def _bank(size: int) -> _Bank:
    # A fixed seed: the bank is part of the renderer (like a font), so scenes stay reproducible.
    rng = np.random.default_rng(20250921)
    n = 2 * size
    low = _fractal(rng, n, (2, 4, 8), (1.0, 0.5, 0.25))
    mid = _fractal(rng, n, (24, 48, 96), (1.0, 0.6, 0.35))
    fine = rng.standard_normal((n, n, 3), dtype=np.float32).transpose(2, 0, 1).copy()
    fields = (_blocks(low), _blocks(mid), _blocks(fine[0]), fine)
    for a in fields:
        a.setflags(write=False)
    return _Bank(*fields)


def _centres(size: int) -> np.ndarray:
    """(size,) float32: the pixel centres along a row or a column, index + 0.5."""
    return np.arange(size, dtype=np.float32) + np.float32(0.5)


def _ramp(size: int, a: float, b: float, c: float = 0.0) -> np.ndarray:
    """(size, size) float32: ``a * x + b * y + c`` at the pixel centres (x = column + 0.5, y = row + 0.5), made as
    one outer sum of a column and a row: one whole-image step instead of four."""
    t = _centres(size)
    return np.add.outer(t * np.float32(b) + np.float32(c), t * np.float32(a))


def _blocks(a: np.ndarray) -> np.ndarray:
    """(4, 2S, S), contiguous: the left and right halves of a (2S, 2S) field and of its transpose."""
    half = a.shape[1] // 2
    return np.stack([a[:, :half], a[:, half:], a.T[:, :half], a.T[:, half:]])


def _crop(blocks: np.ndarray, size: int, key: tuple[int, int, int]) -> np.ndarray:
    """A size x size crop of a bank field: block ``flip % 4`` of ``blocks`` from row ``oy`` (``ox`` only places
    object grain, see :func:`_crop_key`). A view of whole rows, so contiguous."""
    _, oy, flip = key
    return blocks[flip % 4, oy : oy + size]


def _choose(cond: np.ndarray, yes: int, no: int) -> np.ndarray:
    """uint8 labels: ``yes`` where the boolean array ``cond`` holds, else ``no``. Arithmetic on the mask's bytes
    (modulo 256, so ``yes`` below ``no`` works too) is several times faster than ``np.where`` with scalars."""
    out = cond.view(np.uint8) * np.uint8((yes - no) % 256)
    out += np.uint8(no)
    return out


def _paint(labels: np.ndarray, cond: np.ndarray, value) -> None:
    """``labels[cond] = value`` for a uint8 array (``value`` a scalar or an array of the same shape), in
    place: ``labels += cond * (value - labels)`` modulo 256, a few whole-array steps instead of a masked
    assignment, which is several times slower."""
    step = np.subtract(value, labels, dtype=np.uint8)
    step *= cond.view(np.uint8)
    labels += step


def _crop_key(rng: _Draws, size: int) -> tuple[int, int, int]:
    """(ox, oy, k): where a crop of a bank field starts. A ground crop uses oy and k (:func:`_crop`); an object's
    grain uses ox and oy."""
    return rng.integers(size), rng.integers(size), rng.integers(8)


# --------------------------------------------------------------------------------- geometry helpers
def _rect(u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    return np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], dtype=np.float64)


@lru_cache(maxsize=256)
def _unit_arc(n: int, a0: float, a1: float) -> np.ndarray:
    t = np.linspace(a0, a1, n, endpoint=(a1 - a0) < 2 * math.pi - 1e-9)
    arc = np.stack([np.cos(t), np.sin(t)], axis=1)
    arc.setflags(write=False)
    return arc


def _ellipse(
    cu: float, cv: float, ru: float, rv: float, n: int = 28, a0: float = 0.0, a1: float = 2 * math.pi
) -> np.ndarray:
    """n points on the ellipse centred at (cu, cv), or on its arc from a0 to a1 (radians, +u towards +v)."""
    return _unit_arc(n, a0, a1) * (ru, rv) + (cu, cv)


def _stadium(length: float, width: float, n: int = 14) -> np.ndarray:
    """An athletics-track outline centred on the origin, long axis along u."""
    r = width / 2
    s = length / 2 - r
    right = _ellipse(s, 0, r, r, n, -math.pi / 2, math.pi / 2)
    left = _ellipse(-s, 0, r, r, n, math.pi / 2, 3 * math.pi / 2)
    return np.concatenate([np.append(right, [[s, r]], axis=0), np.append(left, [[-s, -r]], axis=0)])


def _mix(c: RGB, k: float) -> RGB:
    """Colour ``c`` scaled by ``k`` (k > 1 brightens towards white without clipping hue)."""
    if k <= 1:
        return (c[0] * k, c[1] * k, c[2] * k)
    t = min(1.0, k - 1)
    return (c[0] + (1 - c[0]) * t, c[1] + (1 - c[1]) * t, c[2] + (1 - c[2]) * t)


# ------------------------------------------------------------------------------------- designs
@dataclass
class Part:
    """A filled polygon (or a one-pixel polyline) of an object, in local metres; ``z`` gives each vertex a
    height (for off-nadir tilt), ``z_base`` makes it a vertical prism from ``z_base`` up to ``z``."""

    pts: np.ndarray
    index: int
    line: bool = False
    z: float | np.ndarray = 0.0
    z_base: float | None = None


@dataclass
class Design:
    """What an object looks like: parts drawn in order with colours ``lut[index - 1]``, the parts that cast
    shadows (``shadow``; each at its heights), and optional dome shading (``relief`` strength)."""

    parts: list[Part]
    lut: list[RGB]
    shadow: list[Part] = field(default_factory=list)
    relief: float = 0.0
    tilted: bool = False  # drawn with the view tilt (tall thin structures)
    texture: float = 0.03  # multiplicative grain


# ------------------------------------------------------------------------------------ rasterising
@dataclass
class PlacedObject:
    """An object placed in a plan, rasterised: ``index`` is its tight patch at (x0, y0) (0 = not the
    object, k = colour ``lut[k]``), ``shadow`` its ground shadow patch at (sx0, sy0)."""

    category: str
    colour: str
    orientation: float | None
    length_m: float
    width_m: float
    x0: int
    y0: int
    index: np.ndarray
    lut: np.ndarray
    relief: np.ndarray | None
    texture: float
    texture_key: tuple[int, int, int]
    sx0: int = 0
    sy0: int = 0
    shadow: np.ndarray | None = None

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        h, w = self.index.shape
        return self.x0, self.y0, self.x0 + w, self.y0 + h


Shapes = list[tuple[int, int, bool]]  # (number of points, value, is_line) of each shape, in drawing order


def _project(
    parts: list[Part], cx: float, cy: float, theta: float, ppm: float, lift: np.ndarray | None
) -> tuple[np.ndarray, Shapes]:
    """The image outlines of ``parts`` for an object centred at (cx, cy) px with heading ``theta``: all their
    points (n, 2) in one array, and the shapes they make, each ``(number of points, colour index, is_line)``.
    With ``lift`` (image px per metre of height) vertices move by their height, and a prism (``z_base`` set)
    becomes its base, its top and the band between them: that is how an off-nadir view or a shadow of a solid is
    drawn (exact for convex parts)."""
    t = math.radians(theta)
    s, co = math.sin(t) * ppm, math.cos(t) * ppm
    rot = np.array([[s, -co], [co, s]])  # (u, v) @ rot = (dx, dy)
    flat = np.concatenate([p.pts for p in parts]) @ rot + (cx, cy)
    if lift is None:
        return flat, [(len(p.pts), p.index, p.line) for p in parts]
    pieces, shapes, k = [], [], 0
    for p in parts:
        base = flat[k : k + len(p.pts)]
        k += len(p.pts)
        top = base + (p.z * lift if np.isscalar(p.z) else np.multiply.outer(p.z, lift))
        pieces.append(top)
        shapes.append((len(top), p.index, p.line))
        if p.z_base is not None:
            bottom = base + p.z_base * lift
            # the band swept between bottom and top: through the two vertices extreme across the sweep
            d = top[0] - bottom[0]
            side = bottom @ np.array([-d[1], d[0]])
            i, j = int(side.argmin()), int(side.argmax())
            pieces += [bottom, np.array([bottom[i], bottom[j], top[j], top[i]])]
            shapes += [(len(bottom), p.index, False), (4, p.index, False)]
    return np.concatenate(pieces), shapes


def _draw_into(pixels: np.ndarray) -> tuple:
    """Pillow's core drawing object and core image (``ImageDraw.Draw(image)``'s ``draw`` and ``im``) for an image
    that shares the memory of ``pixels`` (a C-contiguous 2-D uint8 array): drawing goes straight into the array,
    with no byte copies in and out. The core's ``draw_polygon(xy, value, 1)`` fills and ``draw_lines(xy, value,
    1)`` draws a one-pixel polyline: all that ``ImageDraw.polygon(xy, fill=value)`` and ``ImageDraw.line(xy,
    fill=value)`` do on an "L" image, without their per-call colour handling (a scene draws a few hundred)."""
    h, w = pixels.shape
    image = Image.frombuffer("L", (w, h), pixels, "raw", "L", 0, 1)  # shares pixels' memory
    image.readonly = 0  # frombuffer marks it read-only, and drawing would then copy it
    draw = ImageDraw.Draw(image)
    return draw.draw, draw.im


class _Canvas:
    """A reusable size x size uint8 drawing surface for rasterising objects: Pillow draws straight into a numpy
    array (no image, draw object or byte copy per object, which cost more than the drawing); the drawn pixels'
    bounds come from Pillow's getbbox, and the patch is copied out and cleared."""

    def __init__(self, size: int):
        self.size = size
        self.pixels = np.zeros((size, size), np.uint8)
        self.draw, self.image = _draw_into(self.pixels)

    def raster(
        self, points: np.ndarray, shapes: Shapes, *, clip: bool, first_ok=None
    ) -> tuple[int, int, np.ndarray] | None:
        """Draw ``shapes`` (see :func:`_project`), whose points follow one another in ``points`` (n, 2, image
        pixels); returns (x0, y0, uint8 patch) cropped tight to the drawn pixels, or None when nothing was drawn.
        Without ``clip`` anything reaching within a pixel of the border is refused. ``first_ok(x0, y0, patch)``,
        when given, is asked about the first shape's pixels (nonzero in the uint8 patch) as soon as it is drawn; if it says no, nothing more is
        drawn and None is returned (for a test that any part of a fitting object passes: a refusal then costs
        one shape, not all)."""
        size = self.size
        # Pillow puts pixel (i, j)'s centre at (i, j), ours is at (i + 0.5, j + 0.5); a few dozen points: Python's
        # min and max beat numpy's per-call overhead
        flat = (points - 0.5).ravel().tolist()
        xs, ys = flat[0::2], flat[1::2]
        x0, y0 = math.floor(min(xs) + 0.5) - 1, math.floor(min(ys) + 0.5) - 1  # a pixel's margin around them
        x1, y1 = math.ceil(max(xs) + 0.5) + 1, math.ceil(max(ys) + 0.5) + 1
        if clip:
            x0, y0, x1, y1 = max(0, x0), max(0, y0), min(size, x1), min(size, y1)
            if x1 <= x0 or y1 <= y0:
                return None
        elif x0 < 1 or y0 < 1 or x1 > size - 1 or y1 > size - 1:
            return None
        k = 0
        region = self.pixels[y0:y1, x0:x1]  # holds all that is drawn (Pillow clips at the canvas border)
        for n, value, line in shapes:
            xy, k = flat[k : k + 2 * n], k + 2 * n
            if line:
                self.draw.draw_lines(xy, value, 1)
            elif len(xy) >= 6:
                self.draw.draw_polygon(xy, value, 1)
            if first_ok is not None:
                check, first_ok = first_ok, None
                bounds = self.image.crop((x0, y0, x1, y1)).getbbox()
                if bounds is not None:
                    c0, r0, c1, r1 = bounds
                    if not check(x0 + c0, y0 + r0, region[r0:r1, c0:c1]):
                        region[:] = 0
                        return None
        # the drawn pixels' bounds, from Pillow's own image (several times faster than numpy on a small region)
        bounds = self.image.crop((x0, y0, x1, y1)).getbbox()
        if bounds is None:
            return None
        c0, r0, c1, r1 = bounds
        patch = region[r0:r1, c0:c1].copy()
        region[:] = 0
        return x0 + c0, y0 + r0, patch


@lru_cache(maxsize=16)
def _canvas(size: int, thread: int) -> _Canvas:
    """A canvas per image size and thread, reused from scene to scene (raster leaves it blank)."""
    return _Canvas(size)


class _Draws:
    """The planner's handle on a numpy Generator, drawing from it, with scalar draws made without numpy's argument
    handling (a scene takes a few hundred): ``uniform(low, high)`` is ``low + (high - low) * random()``, which is
    exactly what numpy computes (0.6 us a draw instead of 1.8 us); ``integers(low, high)`` is ``low`` plus the
    floor of ``(high - low) * random()``, uniform on the integers up to a bias of n / 2**53 (0.6 us instead of
    1.6 us; numpy's own bounded integers are exact, and a different stream)."""

    def __init__(self, generator: np.random.Generator):
        self.generator = generator
        self.random, self.permutation = generator.random, generator.permutation

    def uniform(self, low=0.0, high=1.0, size=None):
        if size is None and isinstance(low, (int, float)) and isinstance(high, (int, float)):
            return low + (high - low) * self.random()
        return self.generator.uniform(low, high, size)

    def integers(self, low, high=None, size=None):
        """Like ``Generator.integers``: from ``low`` up to ``high`` excluded, or from 0 up to ``low``."""
        if size is not None or not isinstance(low, int) or not isinstance(high, (int, type(None))):
            return self.generator.integers(low, high, size)
        if high is None:
            low, high = 0, low
        return low + int((high - low) * self.random())

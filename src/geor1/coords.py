"""Coordinate frames: the one place where boxes and points are rescaled.

Datasets store geometry in **original-image absolute pixels** (x right, y down, origin at the
top-left corner of the top-left pixel). Each model family answers in its own frame:

=============  ===================================================================================
``qwen2.5-vl`` absolute pixels of the *resized* model input: Qwen's smart resize makes both sides
               multiples of 28 with ``min_pixels <= H*W <= max_pixels`` (aspect kept as well as
               possible), so the frame's extent is that resized ``W' x H'``
``norm1000``   0–1000 normalized (Qwen2-VL, Qwen3-VL, Qwen3.5; 1000 is the far edge, see
               docs/models.md for the 999 reading)
``norm100``    0–100 normalized (GeoChat; VRSBench's ground-truth strings)
``norm1``      0–1 normalized
``pixels``     original-image pixels (no change)
=============  ===================================================================================

Coordinates are arrays whose last axis holds (x, y) pairs: points ``(..., 2)``, boxes
``(..., 4)`` as ``x1, y1, x2, y2``, polygons ``(..., 2k)``. Prompts, rewards and metrics all go
through :func:`to_frame` / :func:`from_frame`; nothing else rescales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Qwen2.5-VL's processor defaults (preprocessor_config.json of the released checkpoints).
QWEN_FACTOR = 28
QWEN_MIN_PIXELS = 56 * 56
QWEN_MAX_PIXELS = 28 * 28 * 1280


@dataclass(frozen=True)
class Frame:
    """An answer frame. ``kind`` is ``resized`` (pixels of the model input), ``normalized`` (0..scale)
    or ``original`` (pixels of the original image)."""

    name: str
    kind: str
    scale: float = 1.0
    min_pixels: int = QWEN_MIN_PIXELS
    max_pixels: int = QWEN_MAX_PIXELS
    factor: int = QWEN_FACTOR

    def extent(self, width: int, height: int) -> tuple[float, float]:
        """(W, H) of the frame for an original image of ``width`` x ``height`` pixels."""
        if self.kind == "resized":
            # transformers' own smart resize (imported here: importing transformers costs seconds)
            from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

            h, w = smart_resize(height, width, factor=self.factor, min_pixels=self.min_pixels,
                                max_pixels=self.max_pixels)
            return float(w), float(h)
        if self.kind == "normalized":
            return self.scale, self.scale
        return float(width), float(height)

    def with_pixels(self, min_pixels: int | None = None, max_pixels: int | None = None) -> Frame:
        """The same frame for a processor with other pixel bounds (only ``resized`` frames depend on them)."""
        return Frame(self.name, self.kind, self.scale, min_pixels or self.min_pixels,
                     max_pixels or self.max_pixels, self.factor)


def frame_to_dict(frame: Frame) -> dict:
    """A JSON-ready description of ``frame`` (stored in dataset columns so rewards can rebuild it)."""
    return {"name": frame.name, "kind": frame.kind, "scale": frame.scale, "min_pixels": frame.min_pixels,
            "max_pixels": frame.max_pixels, "factor": frame.factor}


def frame_from_dict(d: dict | str) -> Frame:
    """Inverse of :func:`frame_to_dict`; a plain name is accepted too."""
    return get_frame(d) if isinstance(d, str) else Frame(**d)


FRAMES = {
    "qwen2.5-vl": Frame("qwen2.5-vl", "resized"),
    "norm1000": Frame("norm1000", "normalized", 1000.0),
    "norm100": Frame("norm100", "normalized", 100.0),
    "norm1": Frame("norm1", "normalized", 1.0),
    "pixels": Frame("pixels", "original"),
}

def get_frame(frame: str | Frame, *, min_pixels: int | None = None, max_pixels: int | None = None) -> Frame:
    """A Frame from its name, with optional pixel bounds. A model's frame comes from its family
    (:func:`geor1.models.config_frame`; ``geor1.models.families`` says which family answers in which)."""
    if isinstance(frame, Frame):
        return frame.with_pixels(min_pixels, max_pixels)
    if frame not in FRAMES:
        raise ValueError(f"unknown coordinate frame {frame!r} (known: {', '.join(FRAMES)})")
    return FRAMES[frame].with_pixels(min_pixels, max_pixels)


def _scales(frame: Frame, width: int, height: int) -> tuple[float, float]:
    fw, fh = frame.extent(width, height)
    return fw / width, fh / height


def _apply(coords, sx: float, sy: float) -> np.ndarray:
    a = np.asarray(coords, dtype=np.float64)
    if a.shape[-1] % 2:
        raise ValueError(f"coordinates need (x, y) pairs on the last axis, got shape {a.shape}")
    out = a.reshape(*a.shape[:-1], a.shape[-1] // 2, 2) * np.array([sx, sy])  # explicit: works for empty arrays
    return out.reshape(a.shape)


def to_frame(coords, frame: str | Frame, width: int, height: int) -> np.ndarray:
    """Original-image pixels -> ``frame`` (float array, same shape)."""
    sx, sy = _scales(get_frame(frame), width, height)
    return _apply(coords, sx, sy)


def from_frame(coords, frame: str | Frame, width: int, height: int) -> np.ndarray:
    """``frame`` -> original-image pixels (float array, same shape)."""
    sx, sy = _scales(get_frame(frame), width, height)
    return _apply(coords, 1.0 / sx, 1.0 / sy)


def clip_boxes(boxes, width: float, height: float) -> np.ndarray:
    """Clip ``(..., 4)`` boxes to the image and order corners so that x1 <= x2, y1 <= y2."""
    b = np.asarray(boxes, dtype=np.float64)
    x = np.sort(np.clip(b[..., [0, 2]], 0, width), axis=-1)
    y = np.sort(np.clip(b[..., [1, 3]], 0, height), axis=-1)
    return np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1)


def format_box(box, frame: str | Frame, width: int, height: int) -> list:
    """An original-pixel box as a model of ``frame`` should answer it: integers, except in the 0–1
    frame where three decimals are kept."""
    fw, fh = get_frame(frame).extent(width, height)
    b = clip_boxes(to_frame(box, frame, width, height), fw, fh).tolist()
    if max(fw, fh) <= 1:
        return [round(v, 3) for v in b]
    return [int(round(v)) for v in b]

"""Segmenters turn GRES answers (a box and keypoints per object) into masks.

A segmenter has ``needs_image`` and ``segment(boxes, points, width, height, image=None)``:
``boxes`` ``(K, 4)`` and ``points`` (K arrays ``(P_k, 2)``) in original-image pixels, the result
a bool array ``(K, height, width)``, one mask per object.

``box`` — :class:`BoxFillSegmenter` (the default): each mask is its box, filled. Needs no image
and no model, so rewards stay cheap and deterministic; keypoints are ignored.

``sam2`` — :class:`Sam2Segmenter`: a frozen SAM 2 prompted with the box and the keypoints (as
positive points) of each object, each mask clipped to its box, as in the Geo-R1 paper. Needs the
``sam2`` package (``pip install geor1[sam]``) and the image.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

from geor1.tasks.boxes import box_mask

SAM2_DEFAULT_MODEL = "facebook/sam2.1-hiera-large"  # the checkpoint Geo-R1's GRES script uses


class Segmenter(Protocol):
    needs_image: bool

    def segment(self, boxes: np.ndarray, points: list[np.ndarray], width: int, height: int,
                image: Any = None) -> np.ndarray: ...


class BoxFillSegmenter:
    """Each object's mask is its box, filled (pixel centres inside the box, see
    :func:`geor1.tasks.boxes.box_mask`)."""

    needs_image = False

    def segment(self, boxes, points, width, height, image=None) -> np.ndarray:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return np.stack([box_mask(b[None], width, height) for b in boxes]) if len(boxes) else \
            np.zeros((0, height, width), dtype=bool)


def clip_mask_to_box(mask: np.ndarray, box) -> np.ndarray:
    """``mask`` with everything outside ``box`` cleared; the box is truncated to integer pixels
    (``int(x1):int(x2)``, ``int(y1):int(y2)``) as in Geo-R1's ``clip_mask_to_bbox``."""
    h, w = mask.shape
    x1, y1, x2, y2 = (int(v) for v in box)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    out = np.zeros_like(mask, dtype=bool)
    if x1 < x2 and y1 < y2:
        out[y1:y2, x1:x2] = mask[y1:y2, x1:x2]
    return out


class Sam2Segmenter:
    """SAM 2 (``sam2.sam2_image_predictor.SAM2ImagePredictor``) prompted per object with its box and
    keypoints (label 1), one mask per prompt (``multimask_output=False``), clipped to the box.

    ``image`` is a PIL image, a path or an ``(H, W, 3)`` uint8 array of the original image. The
    predictor caches the embedding of the last image it was given, so consecutive objects (and
    completions) of the same image cost one encoder pass.
    """

    needs_image = True

    def __init__(self, model_id: str = SAM2_DEFAULT_MODEL, device: str | None = None):
        try:
            import torch
            from sam2.sam2_image_predictor import SAM2ImagePredictor
        except ImportError as e:
            raise ImportError(
                "the sam2 segmenter needs the 'sam2' package (pip install 'geor1[sam]', or SAM 2 from "
                "https://github.com/facebookresearch/sam2); the default 'box' segmenter needs nothing"
            ) from e
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.predictor = SAM2ImagePredictor.from_pretrained(model_id, device=self.device)
        self._image: Any = None  # the last image embedded (held, so identity checks stay valid)

    def _set_image(self, image: Any) -> None:
        if isinstance(image, os.PathLike):
            image = str(image)
        if image is self._image or (isinstance(image, str) and image == self._image):
            return
        from PIL import Image

        if isinstance(image, str):
            with Image.open(image) as im:
                array = np.array(im.convert("RGB"))
        elif isinstance(image, Image.Image):
            array = np.array(image.convert("RGB"))
        else:
            array = np.asarray(image)
        self.predictor.set_image(array)
        self._image = image

    def segment(self, boxes, points, width, height, image=None) -> np.ndarray:
        if image is None:
            raise ValueError("the sam2 segmenter needs the image; pass it to the GRES reward through the "
                             "dataset column 'image' (or 'images')")
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if not len(boxes):
            return np.zeros((0, height, width), dtype=bool)
        self._set_image(image)
        masks = []
        autocast = self._torch.autocast("cuda", dtype=self._torch.bfloat16, enabled=self.device.startswith("cuda"))
        with self._torch.inference_mode(), autocast:
            for box, pts in zip(boxes, points):
                pts = np.asarray(pts, dtype=np.float32).reshape(-1, 2)
                m, _, _ = self.predictor.predict(
                    point_coords=pts if len(pts) else None,
                    point_labels=np.ones(len(pts), dtype=np.int32) if len(pts) else None,
                    box=box.astype(np.float32), multimask_output=False)
                masks.append(clip_mask_to_box(np.asarray(m[0]) > 0, box))
        return np.stack(masks)


SEGMENTERS = {"box": BoxFillSegmenter, "sam2": Sam2Segmenter}


def get_segmenter(name: str = "box", **kwargs) -> Segmenter:
    """A segmenter by name: ``box`` (default) or ``sam2`` (keyword arguments go to its constructor)."""
    if name not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {name!r} (known: {', '.join(SEGMENTERS)})")
    return SEGMENTERS[name](**kwargs)

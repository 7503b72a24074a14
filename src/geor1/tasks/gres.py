"""Generalized referring expression segmentation (GRES): masks for an expression that may match
several objects or none.

A ``gres`` sample holds the expression in ``query``; ``boxes`` and ``masks`` (COCO RLE or
polygons, original-image pixels) hold every target, aligned — both empty when nothing matches (a
no-target sample). A target without a mask counts as its filled box. The model answers a JSON list
of ``{"bbox_2d": [x1, y1, x2, y2], "keypoint1": [x, y], "keypoint2": [x, y]}`` in its frame, or
``None``; a segmenter (:mod:`geor1.tasks.segmenter`) turns each object into a mask.

Prompt (the Geo-R1 public GRES evaluation template; ``think`` appends the think/answer template)::

    Please carefully check the image and answer: {query}. Based on your answer, detect all relevant
    objects in the image. Output each detected target's bbox coordinates in JSON format. The format
    of the bbox coordinates is:
    ```json
    [
        {"bbox_2d": [x1, y1, x2, y2], "keypoint1": [x3, y3], "keypoint2": [x4, y4]},
        {"bbox_2d": [x1, y1, x2, y2], "keypoint1": [x3, y3], "keypoint2": [x4, y4]}
    ]
    ```
    If there are no such targets in the image, simply respond with None.

Rewards (TRL signature, registered by name; range in brackets):

``gres_iou``  IoU of the union of the predicted masks with the union of the ground-truth masks, in
              original pixels. An empty answer on a no-target sample scores 1 (LISA's
              convention; the public Geo-R1 script scores it 0, a bug not copied); exactly one of
              answer and ground truth empty scores 0                                          [0, 1]

Masks come from the segmenter set with :func:`set_segmenter` — ``box`` (box-fill, the default)
or ``sam2`` (box + keypoints → SAM 2, clipped to the box, as in the paper; it reads the image from
the reward's ``image``/``images`` dataset column). A completion without a readable answer scores 0
and the reason is logged. Rows of another task get ``None``.

Metrics (:func:`aggregate`): ``giou`` (mean per-sample IoU, LISA's convention above), ``ciou``
(total intersection / total union), ``no_target_accuracy`` (share of no-target samples answered
with an empty answer) and ``target_accuracy`` (share of samples with targets answered with at least
one object).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from geor1.coords import Frame, frame_from_dict, frame_to_dict, get_frame
from geor1.data.schema import Sample
from geor1.tasks.boxes import box_mask
from geor1.tasks.common import (
    Parsed,
    answer_text,
    completion_text,
    decode_solutions,
    format_reward,
    log_reason,
    register_reward,
    request_sample,
    rounded,
    single_image_messages,
)
from geor1.tasks.parsing import (
    box_in_frame,
    compose_prompt,
    objects_to_pixels,
    parse_objects,
    point_in_frame,
)
from geor1.tasks.rationale import RationaleError, read_expression
from geor1.tasks.segmenter import BoxFillSegmenter, Segmenter, get_segmenter

TASK = "gres"
ORDER = 30
DEFAULT_REWARDS = ["format", "gres_iou"]
MAIN_REWARD = "gres_iou"
ENGINE_THRESHOLD = 0.5
HEADLINE = ["giou", "ciou"]
FAILURE_RULE = "IoU ≤ 0.5"
ANSWER_FIELD = "boxes"
METRIC_NAMES = {"giou": "gIoU", "ciou": "cIoU"}  # for people (report tables)

PROMPT_TEMPLATE = (
    "Please carefully check the image and answer: {query}. Based on your answer, detect all relevant objects in "
    "the image. Output each detected target's bbox coordinates in JSON format. The format of the bbox "
    "coordinates is:\n```json\n[\n"
    '    {{"bbox_2d": [x1, y1, x2, y2], "keypoint1": [x3, y3], "keypoint2": [x4, y4]}},\n'
    '    {{"bbox_2d": [x1, y1, x2, y2], "keypoint1": [x3, y3], "keypoint2": [x4, y4]}}\n'
    "]\n```\n"
    "If there are no such targets in the image, simply respond with None."
)

_segmenter: Segmenter = BoxFillSegmenter()


def set_segmenter(segmenter: str | Segmenter, **kwargs) -> Segmenter:
    """Use ``segmenter`` (a name — ``box`` or ``sam2`` — or an object) for GRES rewards and scores."""
    global _segmenter
    _segmenter = get_segmenter(segmenter, **kwargs) if isinstance(segmenter, str) else segmenter
    return _segmenter


def current_segmenter() -> Segmenter:
    return _segmenter


# ---------------------------------------------------------------------------------------------
# Ground-truth masks

def _object_rle(m: Any, width: int, height: int) -> dict:
    """One schema mask (RLE dict or polygon list) as a compressed RLE of a ``height x width`` image."""
    if isinstance(m, list):  # polygons
        return mask_utils.merge(mask_utils.frPyObjects(m, height, width))
    if list(m["size"]) != [height, width]:
        raise ValueError(f"mask size {m['size']} is not the image's [{height}, {width}]")
    if isinstance(m["counts"], list):  # uncompressed RLE
        return mask_utils.frPyObjects(m, height, width)
    return {"size": list(m["size"]), "counts": m["counts"].encode("ascii") if isinstance(m["counts"], str)
            else m["counts"]}


def object_masks(sample: Sample) -> np.ndarray:
    """One bool mask ``(K, height, width)`` per target: its mask, or its filled box without one."""
    h, w = sample.height, sample.width
    out = np.zeros((len(sample.boxes), h, w), dtype=bool)
    for k, box in enumerate(sample.boxes):
        if sample.masks:
            out[k] = mask_utils.decode(_object_rle(sample.masks[k], w, h)).astype(bool)
        else:
            out[k] = box_mask([box], w, h)
    return out


def target_mask(sample: Sample) -> np.ndarray:
    """Union of the sample's target masks, ``(height, width)`` bool (all False for no target)."""
    return object_masks(sample).any(axis=0) if sample.boxes else np.zeros((sample.height, sample.width), bool)


def encode_mask(mask: np.ndarray) -> dict:
    """A bool mask as compressed COCO RLE with string counts (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_mask(rle: dict) -> np.ndarray:
    """Inverse of :func:`encode_mask`."""
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def keypoints(mask: np.ndarray) -> np.ndarray:
    """Two points inside ``mask`` (pixel centres, ``(2, 2)`` as x, y), spread along its longer side:
    the mask is split at the median along that axis and each half gives its pixel nearest to the
    half's centroid. Deterministic; used for the gold answers of SFT."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        raise ValueError("empty mask has no keypoints")
    pts = np.stack([xs, ys], axis=1) + 0.5
    axis = 0 if np.ptp(xs) >= np.ptp(ys) else 1
    med = np.median(pts[:, axis])
    low, high = pts[pts[:, axis] <= med], pts[pts[:, axis] > med]
    halves = (low, high) if len(high) else (low, low)  # a one-pixel-wide mask has one half
    return np.stack([h[np.argmin(((h - h.mean(axis=0)) ** 2).sum(axis=1))] for h in halves])


# ---------------------------------------------------------------------------------------------
# Prompt

def build_prompt(sample: Sample, frame: str | Frame, *, think: bool = True) -> str:
    """The GRES template for the sample's expression, then the think/answer template and the frame
    hint (none for Qwen2.5-VL)."""
    return compose_prompt(PROMPT_TEMPLATE.format(query=sample.query.strip().rstrip(".?!")), sample, frame,
                          think=think)


def build_messages(sample: Sample, frame: str | Frame, *, think: bool = True) -> list[dict]:
    """One user turn: the image, then the prompt."""
    return single_image_messages(build_prompt(sample, frame, think=think))


def solution(sample: Sample, frame: str | Frame) -> str:
    """JSON for the rewards: ``mask`` (the union of the targets as compressed RLE, or null for no
    target), ``boxes``, ``width``, ``height``, ``frame``."""
    mask = encode_mask(target_mask(sample)) if sample.boxes else None
    return json.dumps({"task": TASK, "mask": mask, "boxes": sample.boxes, "width": sample.width,
                       "height": sample.height, "frame": frame_to_dict(get_frame(frame))}, separators=(",", ":"))


def target_answer(sample: Sample, frame: str | Frame) -> str:
    """The gold list ``[{"bbox_2d", "keypoint1", "keypoint2"}, ...]`` in ``frame`` (keypoints from
    :func:`keypoints` of each target's mask), or ``None`` for no target."""
    if not sample.boxes:
        return "None"
    w, h = sample.width, sample.height
    objs = []
    for box, m in zip(sample.boxes, object_masks(sample)):
        kp = keypoints(m) if m.any() else np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]] * 2)
        objs.append({"bbox_2d": box_in_frame(box, frame, w, h), "keypoint1": point_in_frame(kp[0], frame, w, h),
                     "keypoint2": point_in_frame(kp[1], frame, w, h)})
    return json.dumps(objs)


# ---------------------------------------------------------------------------------------------
# Parsing

def parse_answer(text: str, frame: str | Frame | None = None, width: int | None = None,
                 height: int | None = None) -> Parsed:
    """The answer's objects: ``Parsed({"boxes": (K, 4), "points": [(P_k, 2), ...]})`` — ``K = 0`` for
    "None" — or ``Parsed(reason=...)``. Without ``frame`` coordinates are as written; with ``frame``,
    ``width`` and ``height`` they are original pixels (boxes clipped and ordered, points clipped).
    Never raises."""
    parsed = parse_objects(answer_text(text) if isinstance(text, str) else text)
    if not parsed.ok:
        return parsed
    objs = parsed.value
    if frame is None or width is None or height is None:
        boxes = np.array([o["bbox_2d"] for o in objs], dtype=np.float64).reshape(-1, 4)
        return Parsed({"boxes": boxes, "points": [np.array(o["points"], dtype=np.float64).reshape(-1, 2)
                                                  for o in objs]})
    boxes, points = objects_to_pixels(objs, frame, width, height)
    return Parsed({"boxes": boxes, "points": points})


# ---------------------------------------------------------------------------------------------
# Rewards

def _solutions(solution: list, task: list | None) -> list[dict | None]:
    return decode_solutions(solution, task, TASK)


def _row_image(i: int, image: list | None, images: list | None) -> Any:
    if image is not None:
        return image[i]
    if images is not None and images[i]:
        return images[i][0]
    return None


def _measure(text: str, sol: dict, segmenter: Segmenter, image: Any = None) -> dict:
    """Parse one completion and compare its masks with the solution's: ``iou``, ``intersection``,
    ``union`` (pixels), ``pred_empty``, ``gt_empty``, ``parsed`` and ``reason``."""
    w, h = sol["width"], sol["height"]
    gt_empty = sol["mask"] is None
    parsed = parse_answer(text, frame_from_dict(sol["frame"]), w, h)
    out = {"parsed": parsed, "reason": parsed.reason, "gt_empty": gt_empty, "pred_empty": False,
           "iou": 0.0, "intersection": 0.0, "union": 0.0}
    gt = None if gt_empty else decode_mask(sol["mask"])
    if not parsed.ok:
        out["union"] = float(gt.sum()) if gt is not None else 0.0
        return out
    boxes, points = parsed.value["boxes"], parsed.value["points"]
    out["pred_empty"] = not len(boxes)
    if out["pred_empty"] and gt_empty:
        out["iou"] = 1.0  # LISA: a correct "no target" is a perfect answer
        return out
    pred = segmenter.segment(boxes, points, w, h, image=image).any(axis=0) if len(boxes) else np.zeros((h, w), bool)
    gt = gt if gt is not None else np.zeros((h, w), dtype=bool)
    inter, union = float(np.logical_and(pred, gt).sum()), float(np.logical_or(pred, gt).sum())
    out.update(intersection=inter, union=union, iou=inter / union if union > 0 else 0.0)
    return out


@register_reward("gres_iou")
def gres_iou_reward(completions: list, solution: list, task: list | None = None, image: list | None = None,
                    images: list | None = None, **kwargs) -> list[float | None]:
    """Mask IoU in [0, 1] of each completion's objects (through the current segmenter) with the
    ground truth; an empty answer on a no-target sample scores 1."""
    sols = _solutions(solution, task)
    out: list[float | None] = []
    for i, (c, sol) in enumerate(zip(completions, sols)):
        if sol is None:
            out.append(None)
            continue
        img = _row_image(i, image, images) if _segmenter.needs_image else None
        m = _measure(completion_text(c), sol, _segmenter, img)
        if not m["parsed"].ok:
            log_reason("gres_iou", m["reason"])
        out.append(m["iou"])
    return out


# ---------------------------------------------------------------------------------------------
# Evaluation

def parse(text: str, sample: Sample, frame: str | Frame) -> Parsed:
    """The answer's objects in original pixels: ``{"boxes": (K, 4), "points": [(P_k, 2), ...]}``."""
    return parse_answer(text, frame, sample.width, sample.height)


def score(sample: Sample, completion: Any, frame: str | Frame, *, num_tokens: int | None = None,
          image: Any = None) -> dict:
    """Per-sample record: ``boxes`` (parsed, original pixels, or None when unreadable), ``reason``,
    ``iou``, ``intersection``/``union`` (pixels), ``pred_empty``, ``gt_empty``, ``category`` and
    ``rewards``. ``image`` is needed only by an image-based segmenter (SAM 2)."""
    text = completion_text(completion)
    m = _measure(text, json.loads(solution(sample, frame)), _segmenter, image)
    parsed = m["parsed"]
    return {"id": sample.id, "task": TASK, "category": sample.category,
            "boxes": parsed.value["boxes"].tolist() if parsed.ok else None, "reason": m["reason"],
            "iou": m["iou"], "intersection": m["intersection"], "union": m["union"],
            "pred_empty": m["pred_empty"], "gt_empty": m["gt_empty"],
            "rewards": {"format": format_reward([text])[0], "gres_iou": m["iou"]}}


def aggregate(scores: list[dict]) -> dict[str, float]:
    """``giou``, ``ciou``, ``no_target_accuracy``, ``target_accuracy`` (fractions; NaN for an empty
    group), ``parse_rate`` and the counts ``n``, ``n_no_target``."""
    n = len(scores)
    no_target = [s for s in scores if s["gt_empty"]]
    with_target = [s for s in scores if not s["gt_empty"]]
    union = sum(s["union"] for s in scores)
    nan = float("nan")
    return {
        "n": float(n), "n_no_target": float(len(no_target)),
        "giou": float(np.mean([s["iou"] for s in scores])) if n else nan,
        "ciou": sum(s["intersection"] for s in scores) / union if union > 0 else nan,
        "no_target_accuracy": float(np.mean([s["boxes"] is not None and s["pred_empty"] for s in no_target]))
        if no_target else nan,
        "target_accuracy": float(np.mean([s["boxes"] is not None and not s["pred_empty"] for s in with_target]))
        if with_target else nan,
        "parse_rate": float(np.mean([s["boxes"] is not None for s in scores])) if n else nan,
    }


def per_sample(metric: str):
    """gIoU is the mean of the per-sample IoU; cIoU is no such mean."""
    return (lambda s: float(s["iou"])) if metric == "giou" else None


def quality(score: dict) -> float:
    return float(score["iou"])


def is_failure(score: dict) -> bool:
    """Unreadable, or IoU ≤ 0.5 (a correct "no target" has IoU 1)."""
    return score["boxes"] is None or not score["iou"] > 0.5


def describe(score: dict) -> str:
    return f"IoU {score['iou']:.3f}"


# ---------------------------------------------------------------------------------------------
# Showing and asking

def describe_answer(objects) -> str:
    boxes = objects["boxes"]
    return f"{len(boxes)} object(s) {[rounded(b) for b in boxes]} (original pixels)" if len(boxes) else "no target"


def draw(sample: Sample, images: list, objects=None, *, truth: bool = True, max_side: int | None = None):
    """The target mask tinted green; the answer's masks (through the current segmenter) tinted red,
    with their boxes and keypoints."""
    from geor1 import drawing

    (base,), s = drawing.shrink(images[:1], max_side)
    if truth and sample.boxes:
        base = drawing.overlay_mask(base, drawing.mask_at(target_mask(sample), base.size), drawing.GT_COLOR, 0.35)
    if objects is not None and len(objects["boxes"]):
        seg = current_segmenter()
        masks = seg.segment(objects["boxes"], objects["points"], sample.width, sample.height,
                            image=images[0] if seg.needs_image else None)
        base = drawing.overlay_mask(base, drawing.mask_at(masks.any(axis=0), base.size), drawing.PRED_COLOR, 0.35)
        base = drawing.draw_boxes(base, np.asarray(objects["boxes"]) * s, drawing.PRED_COLOR,
                                  width=drawing.line_width(*base.size))
        points = [p for p in objects["points"] if len(p)]
        if points:
            base = drawing.draw_points(base, np.concatenate(points) * s)
    return base


def caption(sample: Sample) -> str:
    """The sample in words, for contact sheets."""
    n = len(sample.boxes)
    return f"[{'no' if n == 0 else n} target{'s' if n != 1 else ''}] {sample.query}"

def request(images: list, query: str = "", paths: list[str] | None = None) -> Sample:
    if not query.strip():
        raise ValueError("--task gres needs --query (the referring expression)")
    return request_sample(TASK, images, paths, query=query)


# ---------------------------------------------------------------------------------------------
# The programmatic teacher

def rationale(sample: Sample, frame: Frame) -> str:
    """As REC, ending in all matching objects (several, one or none)."""
    scene, targets, steps, found = read_expression(sample, frame)
    if sorted(o["id"] for o in found) != sorted(o["id"] for o in targets):
        raise RationaleError(f"the expression resolves to {[o['id'] for o in found]}, "
                             f"the sample's targets are {sample.meta.get('target_ids')}")
    if not found:
        steps.append("Nothing in the image matches, so the answer is None.")
    elif len(found) == 1:
        steps.append(f"One target: the {found[0]['attributes']['colour']} {found[0]['category']} at "
                     f"{scene.box(found[0])}.")
    else:  # in the order the answer lists them
        steps.append(f"{len(targets)} targets: " + ", ".join(scene.box(o) for o in targets) + ".")
    return " ".join(steps)

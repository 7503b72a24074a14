"""Open-vocabulary detection (OVD): every box of one named category.

An ``ovd`` sample is one image and one category: ``category`` names it (``query`` may repeat it),
``boxes`` hold every instance of it (original-image pixels; empty for a negative sample where the
category is absent). The model answers a JSON list of ``{"bbox_2d": [x1, y1, x2, y2], "label":
"..."}`` in its frame, or ``None`` when there is nothing to find.

Prompt (the Geo-R1 public NWPU evaluation template; ``think`` appends the think/answer template)::

    Please carefully check the image and detect the following objects: {category}. Output each
    detected target's bbox coordinates in JSON format. The format of the bbox coordinates is:
    ```json
    [
        {"bbox_2d": [x1, y1, x2, y2], "label": "target name"},
        {"bbox_2d": [x1, y1, x2, y2], "label": "target name"}
    ]
    ```
    If there are no such targets in the image, simply respond with None.

Rewards (TRL signature, registered by name; range in brackets):

``ovd_map``  ``min(1, sqrt(N_gt / N_pred)) · mAP`` — mAP is COCO AP@[.5:.95] of the answer's boxes
             (every box scored 1.0, taken in the order written, at most 100) against the ground
             truth, in original pixels; N_pred counts every answer box. Both empty → 1; exactly one
             empty → 0. The query names one category, so every box counts for it whatever its
             ``label`` says (models write "plane" for "airplane")                           [0, 1]

mAP here equals pycocotools' per-image ``COCOeval`` (the way VLM-R1 computes it) to 1e-12 and is
computed for a whole batch at once (:func:`geor1.tasks.boxes.coco_average_precision`). A completion
without a readable answer scores 0 and the reason is logged. Rows of another task get ``None``.

Metrics (:func:`aggregate`): COCO ``map`` (AP@[.5:.95]), ``ap50``, ``ap75`` and per-class
``ap/<category>`` and ``ap50/<category>`` from pycocotools' ``COCOeval`` over the whole dataset,
each sample an image of its own (detections scored 1.0) — as the Geo-R1 NWPU script does.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import numpy as np

from geor1.coords import Frame, frame_from_dict, frame_to_dict, get_frame
from geor1.data.schema import Sample
from geor1.tasks.boxes import coco_average_precision
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
from geor1.tasks.parsing import box_in_frame, compose_prompt, objects_to_pixels, parse_objects
from geor1.tasks.rationale import RationaleError, Scene, count_phrase, expression, scene_targets

TASK = "ovd"
ORDER = 20
DEFAULT_REWARDS = ["format", "ovd_map"]
MAIN_REWARD = "ovd_map"
ENGINE_THRESHOLD = 0.5
HEADLINE = ["map", "ap50"]
FAILURE_RULE = "reward < 0.5"
ANSWER_FIELD = "boxes"
METRIC_NAMES = {"map": "mAP", "ap50": "AP50", "ap75": "AP75"}  # for people (report tables)

PROMPT_TEMPLATE = (
    "Please carefully check the image and detect the following objects: {category}. "
    "Output each detected target's bbox coordinates in JSON format. The format of the bbox coordinates is:\n"
    "```json\n[\n"
    '    {{"bbox_2d": [x1, y1, x2, y2], "label": "target name"}},\n'
    '    {{"bbox_2d": [x1, y1, x2, y2], "label": "target name"}}\n'
    "]\n```\n"
    "If there are no such targets in the image, simply respond with None."
)


def _category(sample: Sample) -> str:
    return sample.category or (sample.labels[0] if sample.labels else sample.query.strip() or "object")


# ---------------------------------------------------------------------------------------------
# Prompt

def build_prompt(sample: Sample, frame: str | Frame, *, think: bool = True) -> str:
    """The detection template for the sample's category, then the think/answer template and the
    frame hint (none for Qwen2.5-VL)."""
    return compose_prompt(PROMPT_TEMPLATE.format(category=_category(sample)), sample, frame, think=think)


def build_messages(sample: Sample, frame: str | Frame, *, think: bool = True) -> list[dict]:
    """One user turn: the image, then the prompt."""
    return single_image_messages(build_prompt(sample, frame, think=think))


def solution(sample: Sample, frame: str | Frame) -> str:
    """JSON for the rewards: ``boxes`` (original pixels), ``category``, ``width``, ``height``, ``frame``."""
    return json.dumps({"task": TASK, "boxes": sample.boxes, "category": _category(sample), "width": sample.width,
                       "height": sample.height, "frame": frame_to_dict(get_frame(frame))}, separators=(",", ":"))


def target_answer(sample: Sample, frame: str | Frame) -> str:
    """The gold list ``[{"bbox_2d": [...], "label": category}, ...]`` in ``frame``, or ``None``."""
    if not sample.boxes:
        return "None"
    label = _category(sample)
    return json.dumps([{"bbox_2d": box_in_frame(b, frame, sample.width, sample.height), "label": label}
                       for b in sample.boxes])


# ---------------------------------------------------------------------------------------------
# Parsing

def parse_answer(text: str, frame: str | Frame | None = None, width: int | None = None,
                 height: int | None = None) -> Parsed:
    """The answer's boxes: ``Parsed(array (K, 4))`` (K = 0 for "None") or ``Parsed(reason=...)``.

    Reads the last ``<answer>`` block (or the whole text). Without ``frame`` the boxes are as
    written; with ``frame``, ``width`` and ``height`` they are in original pixels, clipped to the
    image, corners ordered. Never raises.
    """
    parsed = parse_objects(answer_text(text) if isinstance(text, str) else text)
    if not parsed.ok:
        return parsed
    if frame is None or width is None or height is None:
        return Parsed(np.array([o["bbox_2d"] for o in parsed.value], dtype=np.float64).reshape(-1, 4))
    boxes, _ = objects_to_pixels(parsed.value, frame, width, height)
    return Parsed(boxes)


# ---------------------------------------------------------------------------------------------
# Rewards

def _solutions(solution: list, task: list | None) -> list[dict | None]:
    return decode_solutions(solution, task, TASK)


def map_rewards(preds: list[np.ndarray | None], gts: list[np.ndarray]) -> np.ndarray:
    """``min(1, sqrt(N_gt / N_pred)) · mAP@[.5:.95]`` per row (``None`` prediction: unreadable → 0);
    both empty → 1, exactly one empty → 0."""
    n = len(gts)
    out = np.zeros(n)
    n_pred = np.array([-1 if p is None else len(p) for p in preds])
    n_gt = np.array([len(g) for g in gts])
    out[(n_pred == 0) & (n_gt == 0)] = 1.0
    both = np.flatnonzero((n_pred > 0) & (n_gt > 0))
    if len(both):
        ap = coco_average_precision([preds[i] for i in both], [gts[i] for i in both]).mean(axis=1)
        out[both] = np.minimum(1.0, np.sqrt(n_gt[both] / n_pred[both])) * ap
    return out


def _predictions(completions: list, sols: list[dict | None], reward: str) -> list[np.ndarray | None]:
    preds = []
    for c, sol in zip(completions, sols):
        if sol is None:
            preds.append(np.zeros((0, 4)))
            continue
        parsed = parse_answer(completion_text(c), frame_from_dict(sol["frame"]), sol["width"], sol["height"])
        if not parsed.ok:
            log_reason(reward, parsed.reason)
        preds.append(parsed.value if parsed.ok else None)
    return preds


@register_reward("ovd_map")
def ovd_map_reward(completions: list, solution: list, task: list | None = None, **kwargs) -> list[float | None]:
    """``min(1, sqrt(N_gt / N_pred)) · mAP@[.5:.95]`` in [0, 1] for a batch of completions."""
    sols = _solutions(solution, task)
    preds = _predictions(completions, sols, "ovd_map")
    gts = [np.asarray([] if s is None else s["boxes"], dtype=np.float64).reshape(-1, 4) for s in sols]
    values = map_rewards(preds, gts)
    return [None if s is None else float(v) for s, v in zip(sols, values)]


# ---------------------------------------------------------------------------------------------
# Evaluation

def parse(text: str, sample: Sample, frame: str | Frame) -> Parsed:
    """The answer's boxes in original pixels, ``(K, 4)`` (K = 0: "None")."""
    return parse_answer(text, frame, sample.width, sample.height)


def score(sample: Sample, completion: Any, frame: str | Frame, *, num_tokens: int | None = None,
          image: Any = None) -> dict:
    """Per-sample record: ``boxes`` (parsed, original pixels, or None when unreadable), ``reason``,
    ``gt_boxes``, ``category``, ``width``/``height``, ``n_pred``/``n_gt``, the sample's ``map`` (NaN
    without ground truth) and ``rewards``."""
    text = completion_text(completion)
    parsed = parse_answer(text, frame, sample.width, sample.height)
    gt = np.asarray(sample.boxes, dtype=np.float64).reshape(-1, 4)
    pred = parsed.value if parsed.ok else None
    sample_map = float("nan")
    if len(gt):
        sample_map = 0.0 if pred is None or not len(pred) else float(coco_average_precision([pred], [gt]).mean())
    return {"id": sample.id, "task": TASK, "category": _category(sample), "width": sample.width,
            "height": sample.height, "boxes": None if pred is None else pred.tolist(), "reason": parsed.reason,
            "gt_boxes": gt.tolist(), "n_pred": 0 if pred is None else len(pred), "n_gt": len(gt),
            "map": sample_map, "rewards": {"format": format_reward([text])[0],
                                            "ovd_map": float(map_rewards([pred], [gt])[0])}}


def _xywh(b) -> list[float]:
    return [b[0], b[1], b[2] - b[0], b[3] - b[1]]


def coco_evaluate(scores: list[dict]):
    """pycocotools ``COCOeval`` (bbox) over score records, each sample an image of its own and its
    category the only one it is asked about; predictions scored 1.0 in output order. Returns the
    evaluated ``COCOeval`` and the category names by id, or ``(None, names)`` without predictions."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = sorted({s["category"] for s in scores})
    cat_id = {c: i + 1 for i, c in enumerate(names)}
    images, anns, dets = [], [], []
    for i, s in enumerate(scores, 1):
        images.append({"id": i, "width": s["width"], "height": s["height"]})
        for g in s["gt_boxes"]:
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat_id[s["category"]], "bbox": _xywh(g),
                         "area": (g[2] - g[0]) * (g[3] - g[1]), "iscrowd": 0})
        for b in s["boxes"] or []:
            dets.append({"image_id": i, "category_id": cat_id[s["category"]], "bbox": _xywh(b), "score": 1.0})
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns,
                      "categories": [{"id": i, "name": c} for c, i in cat_id.items()]}
        gt.createIndex()
        if not dets:
            return None, cat_id
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev, cat_id


def aggregate(scores: list[dict]) -> dict[str, float]:
    """COCO ``map``, ``ap50``, ``ap75``, per-class ``ap/<category>`` and ``ap50/<category>`` (fractions;
    classes without ground truth are left out, no ground truth at all gives NaN; no predictions at
    all give 0), plus ``mean_reward`` (of ``ovd_map``), ``parse_rate`` and ``n``."""
    out: dict[str, float] = {"n": float(len(scores))}
    if not scores:
        return out
    out["mean_reward"] = float(np.mean([s["rewards"]["ovd_map"] for s in scores]))
    out["parse_rate"] = float(np.mean([s["boxes"] is not None for s in scores]))
    with_gt = sorted({s["category"] for s in scores if s["gt_boxes"]})
    ev, cat_id = coco_evaluate(scores)
    if not with_gt:
        out.update(map=float("nan"), ap50=float("nan"), ap75=float("nan"))
        return out
    if ev is None:
        out.update(map=0.0, ap50=0.0, ap75=0.0)
        out.update({f"ap/{c}": 0.0 for c in with_gt})
        out.update({f"ap50/{c}": 0.0 for c in with_gt})
        return out
    out.update(map=float(ev.stats[0]), ap50=float(ev.stats[1]), ap75=float(ev.stats[2]))
    precision = ev.eval["precision"]  # (iou thresholds, recall thresholds, categories, areas, max dets)
    for c in with_gt:
        k = ev.params.catIds.index(cat_id[c])
        for name, p in ((f"ap/{c}", precision[:, :, k, 0, -1]), (f"ap50/{c}", precision[0, :, k, 0, -1])):
            p = p[p > -1]
            out[name] = float(p.mean()) if p.size else float("nan")
    return out


def per_sample(metric: str):
    """COCO AP is not a mean over samples; the mean reward is."""
    return (lambda s: float(s["rewards"]["ovd_map"])) if metric == "mean_reward" else None


def quality(score: dict) -> float:
    return float(score["rewards"]["ovd_map"])


def is_failure(score: dict) -> bool:
    return score["boxes"] is None or score["rewards"]["ovd_map"] < 0.5


def describe(score: dict) -> str:
    return f"{score['n_pred']} predicted / {score['n_gt']} true boxes"


# ---------------------------------------------------------------------------------------------
# Showing and asking

def describe_answer(boxes) -> str:
    return f"{len(boxes)} box(es) {[rounded(b) for b in boxes]} (original pixels)" if len(boxes) else "no target"


def draw(sample: Sample, images: list, boxes=None, *, truth: bool = True, max_side: int | None = None):
    """The image, every true box of the category (green) and the answer's (red)."""
    from geor1.drawing import boxes_picture

    return boxes_picture(images, sample.boxes if truth else None, boxes, max_side=max_side)


def caption(sample: Sample) -> str:
    """The sample in words, for contact sheets."""
    return f"detect: {sample.query} ({f'{len(sample.boxes)} found' if sample.boxes else 'absent'})"

def request(images: list, query: str = "", paths: list[str] | None = None) -> Sample:
    if not query.strip():
        raise ValueError("--task ovd needs --query (the category to detect)")
    return request_sample(TASK, images, paths, query=query, category=query.strip())


# ---------------------------------------------------------------------------------------------
# The programmatic teacher

def rationale(sample: Sample, frame: Frame) -> str:
    """The category, its look-alikes present in the scene, every instance, the count."""
    from geor1.synth.scene import PLURAL

    scene = Scene(sample, frame)
    targets = scene_targets(sample, scene)
    cat = sample.category or expression(sample)["target"]["category"]
    everything = [o for o in scene.graph["objects"] if o["category"] == cat]
    if sorted(o["id"] for o in everything) != sorted(o["id"] for o in targets):
        raise RationaleError(f"meta['target_ids'] are not all the {PLURAL[cat]} of the scene")
    others = {c: n for c, n in scene.graph.get("counts", {}).items() if c != cat and n}
    steps = [f"I look for every {cat}."]
    if others:
        steps.append("The scene also has " + ", ".join(count_phrase(n, c) for c, n in others.items())
                     + f", which are not {PLURAL[cat]}.")
    if not targets:
        steps.append(f"There is no {cat}, so the answer is None.")
    else:  # in the order the answer lists them
        steps.append(f"I find {count_phrase(len(targets), cat)}: " + ", ".join(scene.box(o) for o in targets) + ".")
    return " ".join(steps)

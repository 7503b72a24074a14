"""Referring expression comprehension (REC): one box for one expression.

A ``rec`` sample holds the expression in ``query``, the referred object's box in ``boxes[0]``
(original-image pixels), its category and ``is_unique`` (whether no other object of its category
is in the image). The model answers ``{"bbox_2d": [x1, y1, x2, y2], "label": "..."}`` in its frame
(:mod:`geor1.coords`); the reward converts the answer to original pixels and compares there.

Prompt (the Geo-R1 paper's, verbatim with ``think``)::

    {query} First output the thinking process in <think> </think> tags and then output the final
    answer in <answer> </answer> tags. Output the final answer in JSON format.

A frame other than Qwen2.5-VL's native one adds a sentence naming it (:func:`coordinate_hint`).

Rewards (TRL signature, registered by name; range in brackets):

``rec_iou``  continuous IoU of the answer's first box with the ground truth, in original pixels,
             after the box is clipped to the image and its corners ordered                  [0, 1]

A completion without a readable box scores 0 and the reason is logged. Rows of another task get
``None`` (TRL skips them).

Metrics (:func:`aggregate`): a prediction is correct at threshold t when **IoU > t** (strictly
greater — the convention of the Geo-R1 and VLM-R1 evaluation scripts, so results compare with the
paper's); ``acc_at_05`` and ``acc_at_07`` overall, on unique and on non-unique targets;
``mean_iou`` (mean of per-sample IoU) and ``cum_iou`` (total intersection / total union).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from geor1.coords import Frame, frame_from_dict, frame_to_dict, get_frame
from geor1.data.schema import Sample
from geor1.tasks.boxes import intersection_union
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
from geor1.tasks.rationale import RationaleError, read_expression

TASK = "rec"
ORDER = 10
DEFAULT_REWARDS = ["format", "rec_iou"]
MAIN_REWARD = "rec_iou"
ENGINE_THRESHOLD = 0.5
HEADLINE = ["acc_at_05", "acc_at_07", "mean_iou"]
FAILURE_RULE = "IoU ≤ 0.5"
ANSWER_FIELD = "box"
METRIC_NAMES = {"acc_at_05": "Acc@0.5", "acc_at_07": "Acc@0.7", "mean_iou": "mean IoU", "cum_iou": "cumulative IoU"}  # for people (report tables)
ACC_THRESHOLDS = (0.5, 0.7)
JSON_INSTRUCTION = "Output the final answer in JSON format."


def is_correct(iou, threshold: float):
    """The accuracy rule used everywhere: correct when IoU is strictly greater than ``threshold``."""
    return np.asarray(iou) > threshold


# ---------------------------------------------------------------------------------------------
# Prompt

def build_prompt(sample: Sample, frame: str | Frame, *, think: bool = True) -> str:
    """``{query} [think/answer template] Output the final answer in JSON format. [frame hint]``."""
    return compose_prompt(sample.query.strip(), sample, frame, think=think, then=(JSON_INSTRUCTION,))


def build_messages(sample: Sample, frame: str | Frame, *, think: bool = True) -> list[dict]:
    """One user turn: the image, then the prompt."""
    return single_image_messages(build_prompt(sample, frame, think=think))


def solution(sample: Sample, frame: str | Frame) -> str:
    """JSON for the rewards: ``box`` (original pixels), ``width``, ``height``, ``frame``, ``category``
    and ``is_unique``."""
    if not sample.boxes:
        raise ValueError(f"rec sample {sample.id!r} has no box")
    return json.dumps({"task": TASK, "box": sample.boxes[0], "width": sample.width, "height": sample.height,
                       "frame": frame_to_dict(get_frame(frame)), "category": sample.category,
                       "is_unique": sample.is_unique}, separators=(",", ":"))


def target_answer(sample: Sample, frame: str | Frame) -> str:
    """``{"bbox_2d": [...], "label": ...}`` with the box in ``frame`` (integers; 3 decimals for 0–1)."""
    label = sample.category or (sample.labels[0] if sample.labels else "object")
    return json.dumps({"bbox_2d": box_in_frame(sample.boxes[0], frame, sample.width, sample.height),
                       "label": label})


# ---------------------------------------------------------------------------------------------
# Parsing

def parse_answer(text: str, frame: str | Frame | None = None, width: int | None = None,
                 height: int | None = None) -> Parsed:
    """The answer's box: ``Parsed([x1, y1, x2, y2])`` or ``Parsed(reason=...)``; never raises.

    Reads the last ``<answer>`` block (or the whole text). With several boxes the first counts.
    Without ``frame`` the box is as written (the model's frame); with ``frame``, ``width`` and
    ``height`` it is converted to original-image pixels, clipped to the image, corners ordered.
    """
    parsed = parse_objects(answer_text(text) if isinstance(text, str) else text)
    if not parsed.ok:
        return parsed
    if not parsed.value:
        return Parsed(reason="the answer says there is no target")
    if frame is None or width is None or height is None:
        return Parsed(list(parsed.value[0]["bbox_2d"]))
    boxes, _ = objects_to_pixels(parsed.value[:1], frame, width, height)
    return Parsed(boxes[0].tolist())


# ---------------------------------------------------------------------------------------------
# Rewards

def _solutions(solution: list, task: list | None) -> list[dict | None]:
    return decode_solutions(solution, task, TASK)


def _iou_and_areas(completions: list, sols: list[dict | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: IoU, intersection and union (original pixels); rows without a box score 0."""
    n = len(completions)
    pred, gt, ok = np.zeros((n, 4)), np.zeros((n, 4)), np.zeros(n, dtype=bool)
    for i, (c, sol) in enumerate(zip(completions, sols)):
        if sol is None:
            continue
        gt[i] = sol["box"]
        parsed = parse_answer(completion_text(c), frame_from_dict(sol["frame"]), sol["width"], sol["height"])
        if not parsed.ok:
            log_reason("rec_iou", parsed.reason)
            continue
        pred[i], ok[i] = parsed.value, True
    inter, union = intersection_union(pred, gt)
    inter = np.where(ok, inter, 0.0)
    union = np.where(ok, union, np.array([0.0 if s is None else _area(s["box"]) for s in sols]))
    iou = np.divide(inter, union, out=np.zeros(n), where=union > 0)
    return iou, inter, union


def _area(box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


@register_reward("rec_iou")
def rec_iou_reward(completions: list, solution: list, task: list | None = None, **kwargs) -> list[float | None]:
    """Continuous IoU, in [0, 1], of each completion's box with the ground truth (original pixels)."""
    sols = _solutions(solution, task)
    iou, _, _ = _iou_and_areas(completions, sols)
    return [None if s is None else float(v) for s, v in zip(sols, iou)]


# ---------------------------------------------------------------------------------------------
# Evaluation

def parse(text: str, sample: Sample, frame: str | Frame) -> Parsed:
    """The answer's box in original pixels (clipped, corners ordered)."""
    return parse_answer(text, frame, sample.width, sample.height)


def score(sample: Sample, completion: Any, frame: str | Frame, *, num_tokens: int | None = None,
          image: Any = None) -> dict:
    """Per-sample record: ``box`` (parsed, original pixels, or None), ``reason``, ``iou``,
    ``intersection``/``union`` (square pixels), ``is_unique``, ``category`` and ``rewards``."""
    text = completion_text(completion)
    sol = json.loads(solution(sample, frame))
    parsed = parse_answer(text, frame, sample.width, sample.height)
    iou, inter, union = _iou_and_areas([text], [sol])
    return {"id": sample.id, "task": TASK, "category": sample.category, "is_unique": sample.is_unique,
            "box": parsed.value if parsed.ok else None, "reason": parsed.reason,
            "iou": float(iou[0]), "intersection": float(inter[0]), "union": float(union[0]),
            "rewards": {"format": format_reward([text])[0], "rec_iou": float(iou[0])}}


def aggregate(scores: list[dict]) -> dict[str, float]:
    """``acc_at_05``/``acc_at_07`` (IoU > t) overall and with ``_unique``/``_non_unique`` suffixes,
    ``mean_iou``, ``cum_iou``, ``parse_rate``, and the counts ``n``, ``n_unique``, ``n_non_unique``.
    Accuracies are fractions in [0, 1]; an empty group gives NaN."""
    iou = np.array([s["iou"] for s in scores], dtype=np.float64)
    unique = np.array([s.get("is_unique") is True for s in scores])
    non_unique = np.array([s.get("is_unique") is False for s in scores])
    out: dict[str, float] = {"n": float(len(scores)), "n_unique": float(unique.sum()),
                             "n_non_unique": float(non_unique.sum())}
    for t in ACC_THRESHOLDS:
        name = f"acc_at_{str(t).replace('0.', '0')}"
        for suffix, sel in (("", np.ones(len(scores), dtype=bool)), ("_unique", unique), ("_non_unique", non_unique)):
            out[name + suffix] = float(is_correct(iou[sel], t).mean()) if sel.any() else float("nan")
    union = sum(s["union"] for s in scores)
    out["mean_iou"] = float(iou.mean()) if len(scores) else float("nan")
    out["cum_iou"] = sum(s["intersection"] for s in scores) / union if union > 0 else float("nan")
    out["parse_rate"] = float(np.mean([s["box"] is not None for s in scores])) if scores else float("nan")
    return out


def per_sample(metric: str):
    """The per-sample value whose mean is ``metric`` (Acc@t, mean IoU), else None."""
    for t in ACC_THRESHOLDS:
        if metric == f"acc_at_{str(t).replace('0.', '0')}":
            return lambda s, t=t: float(is_correct(s["iou"], t))
    return (lambda s: float(s["iou"])) if metric == "mean_iou" else None


def quality(score: dict) -> float:
    return float(score["iou"])


def is_failure(score: dict) -> bool:
    return score["box"] is None or not is_correct(score["iou"], 0.5)


def describe(score: dict) -> str:
    return f"IoU {score['iou']:.3f}"


# ---------------------------------------------------------------------------------------------
# Showing and asking

def describe_answer(box) -> str:
    return f"box {rounded(box)} (original pixels)"


def draw(sample: Sample, images: list, box=None, *, truth: bool = True, max_side: int | None = None):
    """The image, the referred object's box (green) and the answer's (red)."""
    from geor1.drawing import boxes_picture

    return boxes_picture(images, sample.boxes[:1] if truth else None, None if box is None else [box],
                         max_side=max_side)


def caption(sample: Sample) -> str:
    """The sample in words, for contact sheets."""
    return f"[{'unique' if sample.is_unique else 'not unique'}] {sample.query}"

def request(images: list, query: str = "", paths: list[str] | None = None) -> Sample:
    if not query.strip():
        raise ValueError("--task rec needs --query (the referring expression)")
    return request_sample(TASK, images, paths, query=query)


# ---------------------------------------------------------------------------------------------
# The programmatic teacher

def rationale(sample: Sample, frame: Frame) -> str:
    """category -> attributes -> relation / position / order / size -> candidates -> choice."""
    scene, targets, steps, found = read_expression(sample, frame)
    if [o["id"] for o in found] != [o["id"] for o in targets] or len(targets) != 1:
        raise RationaleError(f"the expression resolves to {[o['id'] for o in found]}, "
                             f"the sample's target is {sample.meta.get('target_ids')}")
    t = targets[0]
    steps.append(f"The target is the {t['attributes']['colour']} {t['category']} at {scene.box(t)}.")
    return " ".join(steps)

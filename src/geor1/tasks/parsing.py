"""The answer format shared by rec, ovd and gres: lenient parsing of boxes (and keypoints) out of
model text, and how coordinates are written for a model's frame.

Answers are JSON in the papers' shapes — ``{"bbox_2d": [x1, y1, x2, y2], "label": "..."}``, a list
of those, GRES objects with ``"keypoint1": [x, y]`` and ``"keypoint2": [x, y]``, or ``None`` when
nothing is there — with coordinates in the model's frame (:mod:`geor1.coords`). Models write them
loosely, so :func:`parse_objects` accepts:

* JSON inside or outside code fences, with text around it; single quotes, trailing commas,
  Python's ``None``/``True``/``False``; numbers written as strings (``"12.5"``);
* several objects: a list, or objects one after another; a truncated list keeps its complete
  objects;
* bare boxes ``[x1, y1, x2, y2]`` or lists of them, keys ``bbox_2d``/``bbox``/``box``, corners as
  ``[[x1, y1], [x2, y2]]``; keypoints as ``keypoint1``, ``keypoint2``, … or ``keypoints``/``points``
  lists; Qwen2-VL's ``(x1,y1),(x2,y2)`` and VRSBench's ``{<x1><y1><x2><y2>}``;
* an explicit empty answer: ``None``, ``null``, ``[]``, or words such as "no target" / "there are
  no such objects" when no box is given.

It never raises: the result is ``Parsed(list_of_objects)`` (possibly empty, meaning "nothing
there") or ``Parsed(reason=...)`` when no answer could be read. Objects with an unusable box
(not four finite numbers) are dropped; an answer whose every object is unusable is a failure.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
import warnings
from typing import Any

import numpy as np

from geor1.coords import Frame, clip_boxes, from_frame, get_frame, to_frame
from geor1.tasks.common import THINK_ANSWER_INSTRUCTION, Parsed

log = logging.getLogger("geor1.rewards")

MAX_ANSWER_CHARS = 20_000  # longer answers are cut: keeps parsing time bounded on runaway output
BOX_KEYS = ("bbox_2d", "bbox", "box")
POINT_LIST_KEYS = ("keypoints", "points", "positive_points")

_FENCE_RE = re.compile(r"```[A-Za-z]*")
_TRAILING_COMMA_RE = re.compile(r",\s*([\]}])")
# One way to read each number ("\d+\.?\d*" could split a digit run anywhere, and the box fallbacks
# then backtracked exponentially: 325 s at 911 characters). The look-behind stops a match from
# starting inside a number, so a search is linear in the text.
_NUMBER = r"(?<![\d.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QWEN2_BOX_RE = re.compile(rf"\(\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\)\s*,?\s*\(\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\)")
_VRS_BOX_RE = re.compile(rf"<\s*({_NUMBER})\s*>\s*<\s*({_NUMBER})\s*>\s*<\s*({_NUMBER})\s*>\s*<\s*({_NUMBER})\s*>")
_NO_TARGET_RE = re.compile(
    r"\b(?:none|null|nothing|no\s+(?:such\s+|matching\s+|relevant\s+)?(?:targets?|objects?|matches)"
    r"|there\s+(?:is|are)\s+no|not\s+(?:present|found))\b", re.IGNORECASE)
# What json.loads and ast.literal_eval raise on bad text (JSONDecodeError is a ValueError; deep
# nesting gives RecursionError, huge literals MemoryError or ValueError for too many digits).
_LOAD_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, OverflowError)
_KEYPOINT_KEY_RE = re.compile(r"^key_?point_?(\d+)$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Lenient JSON

def loads_lenient(text: str) -> tuple[bool, Any]:
    """``(True, value)`` if ``text`` is JSON or a Python literal (after dropping trailing commas),
    else ``(False, None)``. Never raises; never evaluates code (``ast.literal_eval`` only)."""
    s = text.strip()
    if not s:
        return False, None
    try:
        return True, json.loads(s)
    except _LOAD_ERRORS:
        pass
    fixed = _TRAILING_COMMA_RE.sub(r"\1", s)
    if fixed != s:
        try:
            return True, json.loads(fixed)
        except _LOAD_ERRORS:
            pass
    py = re.sub(r"\bnull\b", "None", re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", fixed)))
    for c in dict.fromkeys([fixed, py]):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes in model text warn, not fail
                return True, ast.literal_eval(c)
        except _LOAD_ERRORS:
            pass
    return False, None


def bracket_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the bracketed (``[…]``/``{…}``) spans at the shallowest nesting depth that
    closes, in order. Quotes count only inside brackets, so apostrophes in prose do not matter;
    an unclosed outer list still yields its complete inner objects."""
    stack: list[int] = []
    spans: list[tuple[int, int, int]] = []
    quote = ""
    escaped = False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'" and stack:
            quote = ch
        elif ch in "[{":
            stack.append(i)
        elif ch in "]}" and stack:
            start = stack.pop()
            spans.append((len(stack), start, i + 1))
    if not spans:
        return []
    depth = min(s[0] for s in spans)
    return sorted((s, e) for d, s, e in spans if d == depth)


# ---------------------------------------------------------------------------------------------
# Values -> objects

def _number(v: Any) -> float | None:
    t = type(v)
    if t is float:  # the common case first: this runs for every coordinate of every completion
        return v if math.isfinite(v) else None
    if t is int:
        try:
            f = float(v)
        except OverflowError:  # a huge int
            return None
        return f if math.isfinite(f) else None
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    try:
        f = float(v.strip().rstrip("px") if isinstance(v, str) else v)
    except (ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _box(v: Any) -> list[float] | None:
    """Four finite numbers from ``[x1, y1, x2, y2]``, ``[[x1, y1], [x2, y2]]`` or their strings."""
    if isinstance(v, str):
        ok, v = loads_lenient(v)
        if not ok:
            return None
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(p, (list, tuple)) for p in v):
        v = [*v[0], *v[1]]
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        return None
    nums = [_number(x) for x in v]
    return None if None in nums else nums


def _point(v: Any) -> list[float] | None:
    if isinstance(v, str):
        ok, v = loads_lenient(v)
        if not ok:
            return None
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        return None
    nums = [_number(x) for x in v]
    return None if any(n is None for n in nums) else nums


def _object(d: dict) -> dict | None:
    """``{"bbox_2d", "label", "points"}`` from one answer object, or None if it has no usable box."""
    box = next((_box(d[k]) for k in BOX_KEYS if k in d), None)
    if box is None:
        return None
    label = d.get("label")
    points = []
    if len(d) > 2 or "label" not in d:  # only then can there be keypoints
        numbered = sorted((int(m.group(1)), v) for k, v in d.items()
                          if isinstance(k, str) and (m := _KEYPOINT_KEY_RE.match(k)))
        raw_points = [v for _, v in numbered]
        for k in POINT_LIST_KEYS:
            if isinstance(d.get(k), (list, tuple)):
                raw_points.extend(d[k])
        points = [p for p in map(_point, raw_points) if p is not None]
    return {"bbox_2d": box, "label": None if label is None else str(label), "points": points}


def _objects(value: Any, depth: int = 0) -> tuple[list[dict], int] | None:
    """(objects, number of unusable entries) from a decoded value; None if it is not answer-shaped."""
    if depth > 4:
        return None
    if value is None:
        return [], 0
    if isinstance(value, str):
        return ([], 0) if _NO_TARGET_RE.search(value) else None
    if isinstance(value, dict):
        if any(k in value for k in BOX_KEYS):
            obj = _object(value)
            return ([obj], 0) if obj else ([], 1)
        inner = [r for v in value.values() if isinstance(v, (list, dict))
                 for r in [_objects(v, depth + 1)] if r is not None]
        if not inner:
            return None
        return [o for objs, _ in inner for o in objs], sum(bad for _, bad in inner)
    if isinstance(value, (list, tuple)):
        if not value:
            return [], 0
        box = _box(value)
        if box is not None:
            return [{"bbox_2d": box, "label": None, "points": []}], 0
        objs, bad, shaped = [], 0, False
        for item in value:
            r = _objects(item, depth + 1) if isinstance(item, (list, tuple, dict)) else None
            if r is None:
                bad += 1
                continue
            shaped = True
            objs.extend(r[0])
            bad += r[1]
        return (objs, bad) if shaped else None
    return None


def _parse_objects(text: str) -> Parsed:
    body = _FENCE_RE.sub(" ", text[:MAX_ANSWER_CHARS]).strip()
    if not body:
        return Parsed(reason="empty answer")
    ok, value = loads_lenient(body)
    found = _objects(value) if ok else None
    if found is None:
        # Not one JSON value: read every bracketed span (text around JSON, objects one after another).
        objs, bad, shaped = [], 0, False
        for start, end in bracket_spans(body):
            ok, value = loads_lenient(body[start:end])
            r = _objects(value) if ok else None
            if r is not None:
                shaped = True
                objs.extend(r[0])
                bad += r[1]
        found = (objs, bad) if shaped else None
    if found is None or not found[0]:
        boxes = _VRS_BOX_RE.findall(body) or _QWEN2_BOX_RE.findall(body)
        if boxes:
            nums = [[_number(v) for v in b] for b in boxes]
            if any(None in b for b in nums):  # 1e999 reads as infinity: not a coordinate
                return Parsed(reason="a box with a non-finite number (e.g. 1e999)")
            return Parsed([{"bbox_2d": b, "label": None, "points": []} for b in nums])
    if found is None:
        if _NO_TARGET_RE.search(body):
            return Parsed([])
        return Parsed(reason=f"no box in the answer {body[:60]!r}")
    objs, bad = found
    if not objs and bad:
        return Parsed(reason=f"{bad} answer object(s) without a usable box (4 finite numbers)")
    return Parsed(objs)


def parse_objects(text: str) -> Parsed:
    """Objects from an answer (the text inside ``<answer>``): ``Parsed([{"bbox_2d": [x1, y1, x2, y2],
    "label": str | None, "points": [[x, y], ...]}, ...])`` in the model's frame, ``Parsed([])`` for an
    explicit "nothing there", or ``Parsed(reason=...)``. Never raises."""
    if not isinstance(text, str):
        return Parsed(reason=f"answer is {type(text).__name__}, not text")
    try:
        return _parse_objects(text)
    except Exception as e:  # noqa: BLE001 — the contract: model output never raises; tests hunt these
        log.warning("parse_objects failed on %r: %r", text[:80], e)
        return Parsed(reason=f"unreadable answer ({type(e).__name__})")


# ---------------------------------------------------------------------------------------------
# Frames

def objects_to_pixels(objects: list[dict], frame: str | Frame, width: int, height: int
                      ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Boxes ``(K, 4)`` and per-object points ``(P_k, 2)`` of parsed ``objects`` converted from
    ``frame`` to original-image pixels, boxes clipped to the image with corners ordered, points
    clipped to the image."""
    if not objects:
        return np.zeros((0, 4)), []
    boxes = from_frame(np.array([o["bbox_2d"] for o in objects], dtype=np.float64), frame, width, height)
    # Clip, then order corners — what coords.clip_boxes does, in fewer numpy calls (the rewards' hot path).
    x = np.minimum(np.maximum(boxes[:, 0::2], 0.0), width)
    y = np.minimum(np.maximum(boxes[:, 1::2], 0.0), height)
    x.sort(axis=1)
    y.sort(axis=1)
    boxes = np.column_stack((x[:, 0], y[:, 0], x[:, 1], y[:, 1]))
    if not any(o.get("points") for o in objects):  # the common case (rec, ovd): skip per-object work
        return boxes, [np.zeros((0, 2))] * len(objects)
    points = []
    for o in objects:
        p = np.asarray(o.get("points") or [], dtype=np.float64).reshape(-1, 2)
        if len(p):  # from_frame cannot reshape an empty array
            p = np.clip(from_frame(p, frame, width, height), 0, [width, height])
        points.append(p)
    return boxes, points


def _decimal(frame: Frame) -> bool:
    """Small normalized frames (0-1) need decimals; every other frame answers in integers."""
    return frame.kind == "normalized" and frame.scale < 100


def _round_for(frame: Frame, values: np.ndarray) -> list:
    if _decimal(frame):
        return [round(float(v), 3) for v in values]
    return [round(float(v)) for v in values]


def box_in_frame(box, frame: str | Frame, width: int, height: int) -> list:
    """An original-pixel box as the model of ``frame`` should write it: converted, clipped to the
    frame, rounded (integers; 3 decimals for 0–1 frames)."""
    f = get_frame(frame)
    fw, fh = f.extent(width, height)
    return _round_for(f, clip_boxes(to_frame(box, f, width, height), fw, fh))


def point_in_frame(point, frame: str | Frame, width: int, height: int) -> list:
    """An original-pixel point ``(x, y)`` as the model of ``frame`` should write it. In integer frames
    a point names the unit cell it lies in (floor, not round): a pixel centre such as 203.5 is pixel
    203, and rounding half to even would write 204, the next pixel, sometimes off the object."""
    f = get_frame(frame)
    fw, fh = f.extent(width, height)
    p = to_frame(point, f, width, height)
    if _decimal(f):
        return _round_for(f, np.clip(p, 0, [fw, fh]))
    return [int(v) for v in np.clip(np.floor(p), 0, [max(0, np.ceil(fw) - 1), max(0, np.ceil(fh) - 1)])]


def coordinate_hint(frame: str | Frame, width: int, height: int) -> str:
    """One sentence telling the model its coordinate frame; ``""`` for Qwen2.5-VL, whose native
    frame (absolute pixels of its input) the papers' prompts assume without saying so."""
    f = get_frame(frame)
    if f.kind == "resized":
        return ""
    if f.kind == "normalized":
        kind = "integers" if f.scale >= 100 else "numbers"
        return (f"Coordinates are {kind} from 0 to {f.scale:g}, relative to the image width (x) and "
                f"height (y), origin at the top-left corner.")
    return f"Coordinates are pixels of the {width}x{height} image, origin at the top-left corner."


def compose_prompt(first: str, sample, frame: str | Frame, *, think: bool, then: tuple[str, ...] = ()) -> str:
    """``first``, the think/answer template (with ``think``), the sentences ``then``, and the frame hint."""
    parts = [first, *([THINK_ANSWER_INSTRUCTION] if think else []), *then]
    hint = coordinate_hint(frame, sample.width, sample.height)
    return " ".join(parts + ([hint] if hint else []))

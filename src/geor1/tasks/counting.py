"""Counting: how many objects of a category are in the image (an integer).

A ``counting`` sample holds the question in ``query`` ("How many storage tanks are in this
image?"), the category in ``category`` and the count in ``answer`` (a decimal string, "0" when the
category is absent); ``boxes`` may list the instances (GeoSynth's do, from the scene graph). A
dataset without ``answer`` counts its ``boxes``. GeoChat and VRSBench's VQA ask this question.

Prompt: ``{query} [think/answer template] Answer with a single whole number.``

The answer is read from the last ``<answer>`` block (or the whole text): the **last** number in it
(digits, "1,024", an integral "3.0", a word from "zero" to "twenty", or "none" for 0), so "2 large
and 1 small: 3" reads as 3. Negative, fractional and absurd (over a million) counts are unreadable.

Rewards (TRL signature, registered by name; range in brackets):

``count_exact``     1 when the count is right, else 0                                      [0, 1]
``count_relative``  relative-error credit ``max(0, 1 - |p - g| / max(g, 1))``: 4 for 5
                    earns 0.8, 10 for 5 earns 0                                            [0, 1]

An unreadable answer scores 0 on both and the reason is logged.

Metrics (:func:`aggregate`): ``accuracy`` (exact, over all samples), ``off_by_one`` (share exactly
one off, over all samples), ``mae`` (mean absolute error over the readable answers), ``parse_rate``
and ``n``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from geor1.data.schema import Sample
from geor1.tasks.common import (
    THINK_ANSWER_INSTRUCTION,
    Parsed,
    answer_text,
    completion_text,
    decode_solutions,
    format_reward,
    has_format,
    log_reason,
    register_reward,
    request_sample,
    single_image_messages,
)
from geor1.tasks.parsing import MAX_ANSWER_CHARS
from geor1.tasks.rationale import RationaleError, Scene, count_phrase, scene_targets

TASK = "counting"
ORDER = 60
DEFAULT_REWARDS = ["format", "count_exact", "count_relative"]
MAIN_REWARD = "count_exact"
ENGINE_THRESHOLD = 1.0
HEADLINE = ["accuracy", "off_by_one", "mae"]
FAILURE_RULE = "wrong count"
ANSWER_FIELD = "count"
METRIC_NAMES = {"off_by_one": "off by one", "mae": "mean absolute error"}  # for people (report tables)
NOT_FRACTIONS = {"mae"}  # shown as numbers, not percentages
MAX_COUNT = 1_000_000

WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen twenty").split()
_NUMBER = re.compile(r"(?<![\w.,])(-?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w])|\b(none|" + "|".join(WORDS) + r")\b",
                     re.IGNORECASE)


def true_count(sample: Sample) -> int:
    """The sample's count: ``answer``, else the number of ``boxes``."""
    return int(sample.answer) if sample.answer is not None else len(sample.boxes)


# ---------------------------------------------------------------------------------------------
# Prompt

def build_prompt(sample: Sample, frame: Any = None, *, think: bool = True) -> str:
    question = sample.query.strip() or f"How many {sample.category} are in this image?"
    parts = [question, *([THINK_ANSWER_INSTRUCTION] if think else []), "Answer with a single whole number."]
    return " ".join(parts)


def build_messages(sample: Sample, frame: Any = None, *, think: bool = True) -> list[dict]:
    return single_image_messages(build_prompt(sample, frame, think=think))


def solution(sample: Sample, frame: Any = None) -> str:
    """JSON for the rewards: the true ``count``."""
    return json.dumps({"task": TASK, "count": true_count(sample)}, separators=(",", ":"))


def target_answer(sample: Sample, frame: Any = None) -> str:
    return str(true_count(sample))


# ---------------------------------------------------------------------------------------------
# Parsing

def parse_answer(text: str) -> Parsed:
    """The count a completion answers (the last number of its answer); never raises."""
    ans = answer_text(str(text))[:MAX_ANSWER_CHARS]
    last = None
    for match in _NUMBER.finditer(ans):
        last = match
    if last is None:
        return Parsed(reason="no number in the answer")
    sign, digits, fraction, word = last.groups()
    if word:
        return Parsed(0 if word.lower() == "none" else WORDS.index(word.lower()))
    if sign:
        return Parsed(reason=f"a negative count ({last.group(0)})")
    if fraction and int(fraction[1:]) != 0:
        return Parsed(reason=f"not a whole number ({last.group(0)})")
    value = int(digits.replace(",", ""))
    if value > MAX_COUNT:
        return Parsed(reason=f"an implausible count ({value})")
    return Parsed(value)


def parse(text: str, sample: Sample | None = None, frame: Any = None) -> Parsed:
    return parse_answer(text)


# ---------------------------------------------------------------------------------------------
# Rewards

def relative_credit(pred: int, gold: int) -> float:
    return max(0.0, 1.0 - abs(pred - gold) / max(gold, 1))


def _rewards(reward: str, completions: list, solution: list, task: list | None, credit) -> list[float | None]:
    out: list[float | None] = []
    for c, sol in zip(completions, decode_solutions(solution, task, TASK)):
        if sol is None:
            out.append(None)
            continue
        parsed = parse_answer(completion_text(c))
        if not parsed.ok:
            log_reason(reward, parsed.reason)
        out.append(credit(parsed.value, sol["count"]) if parsed.ok else 0.0)
    return out


@register_reward("count_exact")
def count_exact_reward(completions: list, solution: list, task: list | None = None, **kwargs) -> list[float | None]:
    """1 when the answered count is right, else 0."""
    return _rewards("count_exact", completions, solution, task, lambda p, g: float(p == g))


@register_reward("count_relative")
def count_relative_reward(completions: list, solution: list, task: list | None = None,
                          **kwargs) -> list[float | None]:
    """``max(0, 1 - |p - g| / max(g, 1))``: partial credit for a near count."""
    return _rewards("count_relative", completions, solution, task, relative_credit)


# ---------------------------------------------------------------------------------------------
# Evaluation

def score(sample: Sample, completion: Any, frame: Any = None, *, num_tokens: int | None = None,
          image: Any = None) -> dict:
    """Per-sample record: ``count`` (or None when unreadable), ``reason``, ``truth``, ``error``
    (count minus truth, or None), ``category`` and ``rewards``."""
    text = completion_text(completion)
    parsed = parse_answer(text)
    gold = true_count(sample)
    pred = parsed.value if parsed.ok else None
    return {"id": sample.id, "task": TASK, "category": sample.category, "count": pred, "reason": parsed.reason,
            "truth": gold, "error": None if pred is None else pred - gold, "format_ok": has_format(text),
            "rewards": {"format": format_reward([text])[0], "count_exact": float(pred == gold),
                        "count_relative": 0.0 if pred is None else relative_credit(pred, gold)}}


def aggregate(scores: list[dict]) -> dict[str, float]:
    """``accuracy`` and ``off_by_one`` over all samples, ``mae`` over the readable answers (NaN when
    none is), ``parse_rate`` and ``n``."""
    if not scores:
        return {"n": 0.0}
    errors = np.array([s["error"] for s in scores if s["error"] is not None], dtype=np.float64)
    return {"n": float(len(scores)),
            "accuracy": float(np.mean([s["error"] == 0 for s in scores])),
            "off_by_one": float(np.mean([s["error"] is not None and abs(s["error"]) == 1 for s in scores])),
            "mae": float(np.abs(errors).mean()) if len(errors) else float("nan"),
            "parse_rate": float(len(errors) / len(scores))}


def per_sample(metric: str):
    """Accuracy and the off-by-one rate are means over samples; MAE is over readable answers only."""
    if metric == "accuracy":
        return lambda s: float(s["error"] == 0)
    if metric == "off_by_one":
        return lambda s: float(s["error"] is not None and abs(s["error"]) == 1)
    return None


def quality(score: dict) -> float:
    return float(score["rewards"]["count_relative"])


def is_failure(score: dict) -> bool:
    return score["error"] != 0


def describe(score: dict) -> str:
    return f"counted {score['count'] if score['count'] is not None else '?'}, true {score['truth']}"


# ---------------------------------------------------------------------------------------------
# Showing and asking

def describe_answer(count: int) -> str:
    return f"{count} object(s)"


def draw(sample: Sample, images: list, count=None, *, truth: bool = True, max_side: int | None = None):
    """The image with the instances' boxes (green, when the sample lists them) and the counts written
    in its corner."""
    from geor1.drawing import boxes_picture, label

    base = boxes_picture(images, sample.boxes if truth else None, None, max_side=max_side)
    words = ([f"answer {count}"] if count is not None else []) + ([f"true {true_count(sample)}"] if truth else [])
    return label(base, ", ".join(words)) if words else base


def caption(sample: Sample) -> str:
    return f"{sample.query} ({true_count(sample)})"


def request(images: list, query: str = "", paths: list[str] | None = None) -> Sample:
    """``--query`` is the question, or just the category ("storage tanks")."""
    q = query.strip()
    if not q:
        raise ValueError("--task counting needs --query (the category to count, or the question)")
    question = q if q.endswith("?") else f"How many {q} are in this image?"
    return request_sample(TASK, images, paths, query=question, category=None if q.endswith("?") else q)


# ---------------------------------------------------------------------------------------------
# The programmatic teacher

def rationale(sample: Sample, frame: Any) -> str:
    """The category, every instance in reading order, the count."""
    scene = Scene(sample, frame)
    found = scene_targets(sample, scene)
    cat = sample.category
    everything = [o for o in scene.graph["objects"] if o["category"] == cat]
    if sorted(o["id"] for o in everything) != sorted(o["id"] for o in found) or len(found) != true_count(sample):
        raise RationaleError(f"meta['target_ids'] are not all the {cat}s of the scene, or not the count")
    if not found:
        return f"I look for every {cat}. There is none. So the answer is 0."
    return (f"I look for every {cat}. I find {count_phrase(len(found), cat)}: {scene.listing(found)}. "
            f"So the answer is {len(found)}.")

"""What every task shares: the think/answer template, completion text, the format reward, and the
reward registry.

Rewards follow TRL's reward-function signature ``f(completions, **dataset_columns) -> list[float]``:
``completions`` is a list of strings (standard datasets) or of message lists (conversational
datasets, ``[{"role": "assistant", "content": ...}]``); each dataset column arrives as a list
aligned with ``completions``. A malformed completion is never an exception: it scores the
reward's minimum and the reason is logged (see :func:`log_reason`).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from geor1.data.schema import Sample

log = logging.getLogger("geor1.rewards")

THINK_ANSWER_INSTRUCTION = (
    "First output the thinking process in <think> </think> tags and then output the final answer in "
    "<answer> </answer> tags."
)

# The whole output must be exactly one think block followed by one answer block.
FORMAT_RE = re.compile(r"^\s*<think>(?:(?!</?think>).)*</think>\s*<answer>(?:(?!</?answer>).)*</answer>\s*$",
                       re.DOTALL)

# Counts of reasons rewards gave 0 for, for logging and tests ("rec_iou: no box in answer": 12).
REASONS: Counter = Counter()


def log_reason(reward: str, reason: str) -> None:
    """Record why ``reward`` scored a completion at its minimum (never raises)."""
    REASONS[f"{reward}: {reason}"] += 1
    log.debug("%s: %s", reward, reason)


@dataclass(frozen=True)
class Parsed:
    """A parse result: ``value`` when ``ok``, else ``reason`` says what was wrong."""

    value: Any = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def completion_text(completion: Any) -> str:
    """The text of one completion, whether a string or a conversational message list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return completion_text(completion.get("content", ""))
    if isinstance(completion, (list, tuple)):
        parts = []
        for item in completion:
            if isinstance(item, dict) and item.get("type") == "text":
                parts.append(str(item.get("text", "")))
            elif isinstance(item, (dict, list, tuple, str)):
                parts.append(completion_text(item))
        return "".join(parts)
    return "" if completion is None else str(completion)


def _blocks(text: str, open_tag: str, close_tag: str, *, first: bool):
    """(start, end) of the content of the first or last ``open_tag…close_tag`` block, as a
    non-greedy regex would find them left to right, or None. Linear in the text: the regex
    ``<answer>(.*?)</answer>`` rescans to the end from every unclosed opening tag (quadratic: over
    20 s on 1 MB of ``<answer>``)."""
    found, pos = None, 0
    while True:
        s = text.find(open_tag, pos)
        if s < 0:
            return found
        e = text.find(close_tag, s + len(open_tag))
        if e < 0:
            return found
        found = (s + len(open_tag), e)
        if first:
            return found
        pos = e + len(close_tag)


def answer_text(text: str) -> str:
    """The content of the last ``<answer>…</answer>`` block, or the whole text when there is none
    (a model trained without the template answers directly)."""
    span = _blocks(text, "<answer>", "</answer>", first=False)
    return text[span[0]:span[1]].strip() if span else text.strip()


def think_text(text: str) -> str:
    """The content of the first ``<think>…</think>`` block, or ``""``."""
    span = _blocks(text, "<think>", "</think>", first=True)
    return text[span[0]:span[1]].strip() if span else ""


def decode_solutions(solution: list, task: list | None, name: str, n: int | None = None) -> list[dict | None]:
    """The ``solution`` column decoded per row for task ``name``: a dict, or None for rows of another
    task and for unreadable solutions (logged). ``n`` rows (default: all of ``solution``)."""
    out = []
    for i in range(len(solution) if n is None else n):
        if task is not None and task[i] != name:
            out.append(None)
            continue
        try:
            d = json.loads(solution[i]) if isinstance(solution[i], str) else dict(solution[i])
        except (TypeError, ValueError):
            log_reason(name, f"unreadable solution {str(solution[i])[:60]!r}")
            out.append(None)
            continue
        out.append(d if d.get("task", name) == name else None)
    return out


def single_image_messages(text: str) -> list[dict]:
    """One user turn: the image, then ``text`` (Qwen's order)."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]


def has_format(text: str) -> bool:
    return bool(FORMAT_RE.match(text))


def format_reward(completions: list, completion_prefix: list | None = None, **kwargs) -> list[float]:
    """1.0 if the whole completion is ``<think>…</think>\\s*<answer>…</answer>``, else 0.0.
    ``completion_prefix``: per row, what the chat template already wrote of the answer (``"<think>\\n"``
    for a template that opens the think block itself, as Qwen3.5's does); read in front of the completion."""
    out = []
    for i, c in enumerate(completions):
        prefix = (completion_prefix[i] or "") if completion_prefix else ""
        ok = has_format(prefix + completion_text(c))
        if not ok:
            log_reason("format", "output is not <think>…</think> <answer>…</answer>")
        out.append(1.0 if ok else 0.0)
    return out


# ---------------------------------------------------------------------------------------------
# Registry: reward name -> function. Task modules register theirs at import.
RewardFn = Callable[..., list]
REWARDS: dict[str, RewardFn] = {"format": format_reward}


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    def deco(fn: RewardFn) -> RewardFn:
        if name in REWARDS and REWARDS[name] is not fn:
            raise ValueError(f"reward {name!r} registered twice")
        REWARDS[name] = fn
        return fn
    return deco


def request_sample(task: str, images: list, paths: list[str] | None = None, **fields) -> Sample:
    """The schema Sample ``geor1 predict`` asks about: ``images[0]`` is the query image (its size
    is the sample's), any others follow in order; ``fields`` fill the rest (query, choices, ...)."""
    return Sample(id="predict", task=task, images=list(paths or [f"image{i}" for i in range(len(images))]),
                  width=images[0].width, height=images[0].height, **fields)


def rounded(values, digits: int = 1) -> list[float]:
    """Numbers rounded for people (a box in pixels: ``[40.0, 20.5, ...]``)."""
    return [round(float(v), digits) for v in values]

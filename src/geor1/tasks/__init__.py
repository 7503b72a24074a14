"""Tasks: each module owns everything about its task, so that adding a task touches one module.

``rec`` (one box), ``ovd`` (all boxes of a category), ``gres`` (masks, multi- or no-target),
``crossview`` (which aerial image matches a ground photo), ``geoloc`` (where on Earth) and
``counting`` (how many objects of a category).

A task is a module of this package that defines ``TASK``; the task list is discovered, never
declared. The contract every task module keeps (``tests/test_task_contract.py`` checks it):

Constants
    ``TASK``             its name (the schema's ``task`` field)
    ``ORDER``            where it sits in tables and lists (smaller first)
    ``DEFAULT_REWARDS``  reward names a recipe starts from; ``score`` returns each under ``rewards``
    ``MAIN_REWARD``      the reward that says whether an answer is right (the data engine's verifier)
    ``ENGINE_THRESHOLD`` the data engine accepts a teacher's reply when ``MAIN_REWARD`` >= this
    ``HEADLINE``         the metrics shown first in tables and reports
    ``FAILURE_RULE``     the rule of ``is_failure``, in words
    ``ANSWER_FIELD``     the field of a ``score`` record holding the parsed answer (None: unreadable)
    ``METRIC_NAMES``     optional: its metrics' names for people (``acc_at_05`` -> ``Acc@0.5``)
    ``NOT_FRACTIONS``    optional: its metrics shown as numbers, not percentages (km, tokens, counts)

Prompting and training
    ``build_messages(sample, frame, *, think)``, ``solution(sample, frame)`` (the rewards' JSON),
    ``target_answer(sample, frame)`` (the SFT answer) and ``rationale(sample, frame)`` (the
    programmatic teacher's reasoning, from GeoSynth's scene graphs and metadata).

Reading and scoring
    ``parse(text, sample, frame) -> Parsed``: the answer ready to score and draw (geometry in
    original-image pixels); never raises.
    ``score(sample, completion, frame, *, num_tokens=None, image=None) -> dict``: the per-sample
    record, with ``rewards`` (name -> value) and ``reason`` (why the answer was unreadable, or "").
    ``aggregate(scores) -> dict``, ``per_sample(metric)`` (the per-sample value whose mean is
    ``metric``, for paired intervals; None when the metric is no such mean), ``quality(score)`` (the
    sample's main measure in [0, 1]), ``is_failure(score)`` and ``describe(score)`` (one line).

Showing and asking
    ``draw(sample, images, answer, *, truth, max_side)`` (with :mod:`geor1.drawing`),
    ``describe_answer(answer)`` (what ``parse`` read, in words) and ``request(images, query)``
    (the sample ``geor1 predict`` asks about; errors name the flag).
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from geor1.tasks.common import REWARDS, RewardFn


@lru_cache(maxsize=1)
def task_names() -> tuple[str, ...]:
    """Every task of this package (the modules that define ``TASK``), in ``ORDER``."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if isinstance(getattr(module, "TASK", None), str):
            found.append((module.ORDER, module.TASK))
    return tuple(name for _, name in sorted(found))


def get_task(name: str):
    """The task module of ``name``; an unknown name is an error listing the known."""
    if name not in task_names():
        raise ValueError(f"unknown task {name!r} (known: {', '.join(task_names())})")
    return importlib.import_module(f"{__name__}.{name}")


def all_rewards() -> dict[str, RewardFn]:
    """Every registered reward, by name (importing the task modules registers theirs)."""
    task_names()
    return dict(REWARDS)


def get_reward_funcs(names: list[str]) -> list[RewardFn]:
    """Reward functions by registered name, in order; an unknown name is an error listing the known."""
    known = all_rewards()
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"unknown reward(s) {missing} (known: {', '.join(sorted(known))})")
    return [known[n] for n in names]

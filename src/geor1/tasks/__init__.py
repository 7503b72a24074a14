"""Tasks: each module owns its prompt, answer parser, rewards and metrics.

``rec`` (one box), ``ovd`` (all boxes of a category), ``gres`` (masks, multi- or no-target),
``crossview`` (which aerial image matches a ground photo) and ``geoloc`` (where on Earth).
"""
from __future__ import annotations

import importlib

from geor1.tasks.common import REWARDS, RewardFn

TASK_MODULES = ("rec", "ovd", "gres", "crossview", "geoloc")


def get_task(name: str):
    """The task module ``geor1.tasks.<name>``."""
    if name not in TASK_MODULES:
        raise ValueError(f"unknown task {name!r} (known: {', '.join(TASK_MODULES)})")
    return importlib.import_module(f"geor1.tasks.{name}")


def all_rewards() -> dict[str, RewardFn]:
    """Every registered reward, by name (importing the task modules registers theirs)."""
    for name in TASK_MODULES:
        get_task(name)
    return dict(REWARDS)


def get_reward_funcs(names: list[str]) -> list[RewardFn]:
    """Reward functions by registered name, in order; an unknown name is an error listing the known."""
    known = all_rewards()
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"unknown reward(s) {missing} (known: {', '.join(sorted(known))})")
    return [known[n] for n in names]

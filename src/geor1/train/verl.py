"""geor1's rewards in verl's form, for users who train at scale with verl or EasyR1.

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` once per
completion. Put the task module's ``solution(sample, frame)`` JSON in ``reward_model.ground_truth``
of your verl parquet rows, and point verl at this file::

    custom_reward_function.path=<site-packages>/geor1/train/verl.py
    custom_reward_function.name=compute_score

``extra_info`` may carry ``{"rewards": {"format": 1.0, "rec_iou": 1.0}}`` (names and weights, as in
a geor1 recipe); by default the task's DEFAULT_REWARDS are summed with weight 1. The returned dict
holds ``score`` (the weighted sum verl optimises) and every reward's own value, computed by the very
same functions the TRL path uses.
"""

from __future__ import annotations

import json

from geor1.tasks import get_reward_funcs, get_task


def compute_score(data_source, solution_str, ground_truth, extra_info=None) -> dict:
    try:
        task = json.loads(ground_truth)["task"]
        module = get_task(task)
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f"ground_truth must be a geor1 solution JSON with a 'task' key, got {ground_truth!r:.120}") from None
    weights = (extra_info or {}).get("rewards") or {name: 1.0 for name in module.DEFAULT_REWARDS}
    out = {}
    for name, fn in zip(weights, get_reward_funcs(list(weights))):
        value = fn([solution_str], solution=[ground_truth], task=[task])[0]
        out[name] = 0.0 if value is None else float(value)
    out["score"] = sum(weights[n] * out[n] for n in weights)
    return out

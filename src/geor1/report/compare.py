"""What a person reads first in a report: headline metrics with human names (fractions as
percentages, distances in km, GeoScore on its 0-5000 scale) and evaluations of the same data
side by side, the later minus the earliest, with a paired bootstrap 95 % interval where the metric
is a mean over samples."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from geor1.tasks import get_task, task_names

# Names of the metrics every task shares; each task adds its own (its METRIC_NAMES) and says which of
# its metrics are no fractions (its NOT_FRACTIONS): counts, kilometres, tokens, points.
NAMES = {"accuracy": "accuracy", "parse_rate": "answers parsed", "format_rate": "format followed",
         "mean_reward": "mean reward"}


@lru_cache(maxsize=1)
def _task_metrics() -> tuple[dict[str, str], frozenset[str]]:
    names, plain = dict(NAMES), set()
    for t in task_names():
        task = get_task(t)
        names.update(getattr(task, "METRIC_NAMES", {}))
        plain |= set(getattr(task, "NOT_FRACTIONS", ()))
    return names, frozenset(plain)


def human(metric: str) -> str:
    """``acc_at_05`` -> ``Acc@0.5``; unknown names have their underscores spaced out."""
    names, _ = _task_metrics()
    if metric in names:
        return names[metric]
    for suffix, words in (("_unique", " (unique)"), ("_non_unique", " (non-unique)")):
        if metric.endswith(suffix) and metric[: -len(suffix)] in names:
            return names[metric[: -len(suffix)]] + words
    return metric.replace("_", " ")


def is_fraction(metric: str) -> bool:
    return not (metric in _task_metrics()[1] or metric == "n" or metric.startswith("n_") or metric.endswith("_km"))


def shown(metric: str, v) -> str:
    """A metric value for a person: 12.5% for fractions, 1,234 / 5000 for GeoScore, km with one decimal."""
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if metric == "mean_geoscore":
        return f"{v:,.0f} / 5000"
    if isinstance(v, (int, float)) and is_fraction(metric):
        return f"{100 * v:.1f}%"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``b - a`` over paired samples and its 95 % percentile interval (``n`` resamples)."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    means = d[np.random.default_rng(seed).integers(len(d), size=(n, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def deltas(before, after, headline: dict[str, list[str]]) -> list[dict]:
    """Rows ``{task, metric, before, after, delta, low, high}`` for ``after`` minus ``before`` (two
    evaluations of one dataset): the interval is a paired bootstrap over the samples both scored,
    for metrics that are means over samples; None otherwise."""
    rows = []
    b_tasks, a_tasks = (before.summary or {}).get("tasks", {}), (after.summary or {}).get("tasks", {})
    by_id = {r["id"]: r for r in before.records}
    for task in headline:
        if task not in b_tasks or task not in a_tasks:
            continue
        pairs = [(by_id[r["id"]]["score"], r["score"]) for r in after.records if r["task"] == task and r["id"] in by_id]
        for metric in headline[task]:
            vb, va = b_tasks[task]["metrics"].get(metric), a_tasks[task]["metrics"].get(metric)
            if vb is None or va is None:
                continue
            row = {"task": task, "metric": metric, "before": vb, "after": va, "delta": va - vb, "low": None, "high": None}
            value = get_task(task).per_sample(metric)  # None: the metric is no mean over samples
            if value is not None and len(pairs) >= 2:
                _, row["low"], row["high"] = paired_bootstrap(np.array([value(p) for p, _ in pairs]),
                                                              np.array([value(q) for _, q in pairs]))
            rows.append(row)
    return rows


def shown_delta(metric: str, row: dict) -> str:
    scale, unit = (100.0, " points") if is_fraction(metric) else (1.0, "")
    text = f"{scale * row['delta']:+.1f}{unit}"
    if row["low"] is not None:
        text += f" [{scale * row['low']:+.1f}, {scale * row['high']:+.1f}]"
    return text

"""The main job on the embedded default, end to end: few-shot GRPO on GeoSynth's held-out categories.

  geor1 demo                 # a few minutes on 2 CPU cores: the README says the last measured time
  geor1 demo --quick         # a smaller check (the README gives its measured time too)

1. GeoSynth makes a few-shot REC benchmark on the held-out categories (never seen in pretraining):
   a pool from which ``--shots`` samples per category are taken for training, and a disjoint test set.
2. The shipped tiny base model (``tiny-geosynth``) is evaluated on the test set.
3. GRPO fine-tunes it on the few-shot set (recipe ``tiny/grpo_rec``: the IoU reward; the tiny model
   answers without a rationale, see docs/pretraining.md).
4. The fine-tuned model is evaluated again; an HTML report and a before/after table are written.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

log = logging.getLogger("geor1.demo")

FULL = dict(pool=150, test=64, shots=10, steps=100, max_new_tokens=160)
QUICK = dict(pool=40, test=16, shots=2, steps=10, max_new_tokens=160)
ANSWER_TOKENS = 48  # an answer without a rationale: {"bbox_2d": [...], "label": "..."} is about 30 tokens


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/demo", help="run folder")
    parser.add_argument("--quick", action="store_true", help="a smaller check: fewer samples and steps (README: its measured time)")
    parser.add_argument("--model", default=None, help="base model (default: tiny-geosynth, the shipped one)")
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps")
    parser.add_argument("--seed", type=int, default=0)


def _table(before: dict, after: dict, intervals: dict | None = None) -> str:
    """The before/after table; ``intervals[key] = [difference, low, high]`` (paired bootstrap) adds a column."""
    rows = [("Acc@0.5", "acc_at_05"), ("Acc@0.7", "acc_at_07"), ("mean IoU", "mean_iou"),
            ("mean reward", "mean_reward")]
    intervals = intervals or {}
    lines = ["| metric | base | + GRPO | difference [95% interval] |", "|---|---|---|---|"]
    for name, key in rows:
        b, a = before.get(key, float("nan")), after.get(key, float("nan"))
        pct = key.startswith("acc")
        fmt = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.3f}")
        scale, unit = (100, " points") if pct else (1, "")
        d = intervals.get(key)
        diff = (f"{scale * d[0]:+.{1 if pct else 3}f}{unit} [{scale * d[1]:+.{1 if pct else 3}f}, "
                f"{scale * d[2]:+.{1 if pct else 3}f}]") if d else f"{scale * (a - b):+.{1 if pct else 3}f}{unit}"
        lines.append(f"| {name} | {fmt(b)} | {fmt(a)} | {diff} |")
    return "\n".join(lines)


def _machine() -> str:
    import os
    import platform

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return f"{platform.machine()}, {n} core{'s' if n != 1 else ''} available to the demo"


def _intervals(before_dir: Path, after_dir: Path) -> dict:
    """Paired bootstrap intervals (geor1.report.compare) of the per-sample REC metrics."""
    import numpy as np

    from geor1.report.compare import paired_bootstrap

    def scores(folder):
        with open(folder / "predictions.jsonl", encoding="utf-8") as f:
            return {r["id"]: r["score"] for r in map(json.loads, f)}

    b, a = scores(before_dir), scores(after_dir)
    ids = sorted(set(b) & set(a))
    out = {}
    for key, value in (("acc_at_05", lambda s: float(s["iou"] > 0.5)), ("acc_at_07", lambda s: float(s["iou"] > 0.7)),
                       ("mean_iou", lambda s: float(s["iou"]))):
        out[key] = list(paired_bootstrap(np.array([value(b[i]) for i in ids]), np.array([value(a[i]) for i in ids])))
    return out


def _metrics(summary: dict, weights: dict[str, float]) -> dict:
    """REC metrics and the mean reward GRPO optimises (the recipe's weighted sum) from an eval summary."""
    rec = summary["tasks"]["rec"]["metrics"]
    rewards = summary["tasks"]["rec"].get("rewards", {})
    total = sum(w * (rewards.get(name) or 0.0) for name, w in weights.items())
    return {**rec, "mean_reward": total}


def run(args) -> int:
    from geor1.data import load_dataset
    from geor1.data.fewshot import write_fewshot
    from geor1.evaluation import evaluate
    from geor1.models import TINY_NAMES
    from geor1.synth import HELD_OUT, write_task
    from geor1.train.recipe import load_recipe
    from geor1.train.run import train

    cfg = dict(QUICK if args.quick else FULL)
    if args.steps is not None:
        cfg["steps"] = args.steps
    model = args.model or ("tiny-geosynth" if "tiny-geosynth" in TINY_NAMES else "tiny")
    if model == "tiny":
        log.warning("no shipped tiny-geosynth checkpoint: using the randomly initialised tiny model")
    out = Path(args.out)
    t0 = time.time()
    data = out / "data"
    cats = ",".join(HELD_OUT)
    print(f"[1/5] GeoSynth few-shot REC on held-out categories ({cats}): "
          f"{cfg['shots']}-shot training set, {cfg['test']} test samples")
    write_task("rec", data / "pool", cfg["pool"], seed=args.seed + 1, categories=HELD_OUT, split="train")
    write_task("rec", data / "test", cfg["test"], seed=args.seed + 2, categories=HELD_OUT, split="test")
    write_fewshot(load_dataset(data / "pool"), data / "fewshot", [cfg["shots"]], seed=args.seed)
    train_dir = data / "fewshot" / f"{cfg['shots']}shot"

    # The recipe says whether the model is asked to think first; evaluation asks the same way.
    recipe = load_recipe("tiny/grpo_rec", [f"model.name={model}", f"data.train=[{train_dir}]",
                                           f"trainer.output_dir={out / 'grpo'}", f"trainer.max_steps={cfg['steps']}",
                                           "trainer.save_steps=1000000", "trainer.report_to=[]",
                                           f"trainer.seed={args.seed}"])
    from geor1.models import usage_of

    if recipe.data.think is None:  # as the checkpoint says it is asked
        recipe.data.think = usage_of(model).think
    tokens = cfg["max_new_tokens"] if recipe.data.think else ANSWER_TOKENS
    recipe.trainer["max_completion_length"] = tokens
    print(f"[2/5] evaluating the base model ({model})")
    ev = dict(batch_size=16, max_new_tokens=tokens, think=recipe.data.think, progress=False)
    before = evaluate(model, data / "test", out / "eval_before", **ev)

    print(f"[3/5] GRPO on {len(load_dataset(train_dir))} few-shot samples for {cfg['steps']} steps")
    train(recipe, resume=False)

    print("[4/5] evaluating the fine-tuned model")
    after = evaluate(str(out / "grpo" / "final"), data / "test", out / "eval_after", **ev)

    print("[5/5] writing the report")
    from geor1.report import write_report

    report = write_report(out)
    b, a = _metrics(before, recipe.rewards), _metrics(after, recipe.rewards)
    intervals = _intervals(out / "eval_before", out / "eval_after")
    table = _table(b, a, intervals)
    (out / "before_after.md").write_text(table + "\n")
    from datetime import date

    from geor1.io import atomic_write_json

    atomic_write_json(out / "before_after.json", {
        "base": b, "grpo": a, "intervals": intervals, "config": cfg, "model": model, "quick": bool(args.quick),
        "seconds": round(time.time() - t0, 1), "date": date.today().isoformat(),
        "machine": _machine()})
    print(f"\nFew-shot REC on GeoSynth held-out categories ({cfg['test']} test samples, Acc = IoU > t):\n")
    print(table)
    print(f"\nreport: {report}\nfinished in {time.time() - t0:.0f} s")
    return 0

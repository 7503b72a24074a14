"""What a tiny base model can do before any few-shot work: the base-model targets, measured.

  .venv/bin/python benchmarks/base_model.py                         # tiny-geosynth, 256 samples a set
  .venv/bin/python benchmarks/base_model.py --model runs/gpu/phase2/final --out runs/base_model_gpu
  .venv/bin/python benchmarks/base_model.py --quick                 # 8 samples a set (CI)

Every test set is GeoSynth made with seeds at or above 20,000,000: pretraining never draws them.
Greedy decoding throughout. The model is asked as its checkpoint says (geor1.models.Usage), except
where a row says "think template". Printed and written to OUT/base_model.md and OUT/summary.json:

- seen-category REC Acc@0.5, style A and B, against two simple baselines in the same table: a
  constant box (the test set's mean box size, centred) and a random object of the queried
  category picked from the scene graph (what a model that finds the category but not the referent
  would score);
- OVD mAP50 and GRES gIoU beside them;
- held-out-category REC, zero-shot, and the share of answers whose label is the queried category;
- cross-view (K = 4) parse rate with the think template;
- geolocalization on held-out cities (never pretraining cities) at 25/200/750/2500 km;
- the think template's parse rate on every task.
Each target of the base-model issue is printed with met / not met, computed from these numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SEED = 20_000_000
TARGETS = [  # (what, key in the results, threshold): met when the value is >= the threshold
    ("seen-category REC Acc@0.5, style A", "rec_seen_A.acc_at_05", 0.60),
    ("seen-category REC Acc@0.5, style B", "rec_seen_B.acc_at_05", 0.40),
    ("held-out REC zero-shot Acc@0.5", "rec_heldout_A.acc_at_05", 0.15),
    ("held-out REC: right label in the answer", "rec_heldout_A.label_rate", 0.90),
    ("cross-view K=4 parse rate, think template", "crossview.parse_rate", 0.99),
    ("think template parse rate, worst task", "think.worst_parse_rate", 0.99),
]


def _write_sets(root: Path, n: int) -> dict[str, Path]:
    from geor1.data import write_dataset
    from geor1.pretrain.corpus import pretraining_city
    from geor1.synth import HELD_OUT, SEEN, write_task
    from geor1.synth.crossview import make_geoloc_sample, write_crossview

    sets = {}
    plan = [("rec_seen_A", "rec", SEEN, "A", 1), ("rec_seen_B", "rec", SEEN, "B", 2),
            ("rec_heldout_A", "rec", HELD_OUT, "A", 3), ("ovd_seen_A", "ovd", SEEN, "A", 4),
            ("gres_seen_A", "gres", SEEN, "A", 5)]
    for name, task, cats, style, k in plan:
        folder = root / name
        if not (folder / "data.jsonl").is_file():
            write_task(task, folder, n, seed=SEED + k, categories=cats, style=style, split="test")
        sets[name] = folder
    folder = root / "crossview"
    if not (folder / "data.jsonl").is_file():
        write_crossview(folder, n, seed=SEED + 6, size=112, k=4)
    sets["crossview"] = folder
    folder = root / "geoloc"
    if not (folder / "data.jsonl").is_file():  # held-out cities only
        rng, records = np.random.default_rng(SEED + 7), []
        (folder / "images").mkdir(parents=True, exist_ok=True)
        while len(records) < n:
            sample, images = make_geoloc_sample(rng, size=128, sample_id=f"geoloc-{len(records):06d}")
            if pretraining_city(sample.meta["city"]):
                continue
            images[0].save(folder / sample.images[0])
            records.append(sample.to_dict())
        write_dataset(folder, records)
    sets["geoloc"] = folder
    return sets


def rec_baselines(folder: Path) -> dict[str, float]:
    """Acc@0.5 and mean IoU of the constant centred box and of a random object of the queried category."""
    from geor1.data import load_dataset
    from geor1.tasks.boxes import paired_iou

    ds = load_dataset(folder)
    gt = np.array([s.boxes[0] for s in ds], dtype=np.float64)
    w, h = (gt[:, 2] - gt[:, 0]).mean(), (gt[:, 3] - gt[:, 1]).mean()
    centre = np.array([[s.width / 2 - w / 2, s.height / 2 - h / 2, s.width / 2 + w / 2, s.height / 2 + h / 2]
                       for s in ds])
    rng = np.random.default_rng(0)
    picks = []
    for s in ds:
        same = [o["bbox"] for o in s.meta["scene"]["objects"] if o["category"] == s.category]
        picks.append(same[int(rng.integers(len(same)))])
    out = {}
    for name, boxes in (("centre", centre), ("random_same_category", np.array(picks, dtype=np.float64))):
        iou = paired_iou(boxes, gt)
        out[f"{name}.acc_at_05"], out[f"{name}.mean_iou"] = float((iou > 0.5).mean()), float(iou.mean())
    return out


_LABEL = re.compile(r'"label"\s*:\s*"([^"]{0,80})"')


def label_rate(folder: Path, eval_dir: Path) -> float:
    """Share of answers whose ``"label"`` is the queried category."""
    from geor1.data import load_dataset

    want = {s.id: s.category for s in load_dataset(folder)}
    recs = [json.loads(line) for line in open(eval_dir / "predictions.jsonl", encoding="utf-8")]
    hits = [bool((m := _LABEL.search(r.get("completion", ""))) and m.group(1) == want[r["id"]]) for r in recs]
    return float(np.mean(hits)) if hits else float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny-geosynth")
    p.add_argument("--checkpoint")
    p.add_argument("--out", default="runs/base_model")
    p.add_argument("--n", type=int, default=256, help="samples per test set (at least 256 for a claim)")
    p.add_argument("--think-n", type=int, default=64, help="samples per task for the think-template parse rates")
    p.add_argument("--quick", action="store_true", help="8 samples a set, short answers: a smoke test")
    args = p.parse_args(argv)
    from geor1.evaluation import evaluate
    from geor1.models import usage_of

    n, think_n = (8, 4) if args.quick else (args.n, args.think_n)
    out = Path(args.out)
    sets = _write_sets(out / "data", n)
    usage = usage_of(args.model, args.checkpoint)
    tokens = 16 if args.quick else None
    results: dict[str, float] = {}
    t0 = time.time()

    def run(name, folder, **kw):
        kw.setdefault("max_new_tokens", tokens)
        s = evaluate(args.model, folder, out / "eval" / name, checkpoint=args.checkpoint, batch_size=16,
                     progress=False, **kw)
        return next(iter(s["tasks"].values()))["metrics"], out / "eval" / name

    for name in ("rec_seen_A", "rec_seen_B", "rec_heldout_A"):
        m, ev = run(name, sets[name])
        results.update({f"{name}.acc_at_05": m["acc_at_05"], f"{name}.mean_iou": m["mean_iou"],
                        f"{name}.parse_rate": m["parse_rate"]})
        results.update({f"{name}.{k}": v for k, v in rec_baselines(sets[name]).items()})
        if name == "rec_heldout_A":
            results[f"{name}.label_rate"] = label_rate(sets[name], ev)
    m, _ = run("ovd_seen_A", sets["ovd_seen_A"])
    results["ovd_seen_A.map50"] = m.get("ap50", float("nan"))
    m, _ = run("gres_seen_A", sets["gres_seen_A"])
    results["gres_seen_A.giou"] = m.get("giou", float("nan"))
    m, _ = run("crossview", sets["crossview"], think=True, max_new_tokens=tokens or 384, min_pixels=12544,
               max_pixels=12544)
    results["crossview.parse_rate"], results["crossview.accuracy"] = m["parse_rate"], m.get("accuracy", float("nan"))
    m, _ = run("geoloc", sets["geoloc"])
    for km in (25, 200, 750, 2500):
        results[f"geoloc.within_{km}km"] = m.get(f"acc_{km}km", float("nan"))
    worst = 1.0
    for name in ("rec_seen_A", "ovd_seen_A", "gres_seen_A", "geoloc"):
        m, _ = run(f"think_{name}", sets[name], think=True, limit=think_n, max_new_tokens=tokens or 512)
        results[f"think.{name}.parse_rate"] = m["parse_rate"]
        worst = min(worst, m["parse_rate"])
    results["think.worst_parse_rate"] = min(worst, results["crossview.parse_rate"])
    seconds = time.time() - t0
    lines = _report(args, usage, n, results, seconds)
    text = "\n".join(lines) + "\n"
    (out / "base_model.md").write_text(text)
    (out / "summary.json").write_text(json.dumps({"model": args.model, "checkpoint": args.checkpoint, "n": n,
                                                  "seconds": round(seconds, 1), "results": results}, indent=2))
    print(text)
    return 0


def _pct(v: float) -> str:
    return "—" if v != v else f"{100 * v:.1f}%"


def _report(args, usage, n, r, seconds) -> list[str]:
    who = args.checkpoint or args.model
    lines = [f"# Base model: {who}", "",
             f"{n} samples a test set (GeoSynth seeds >= {SEED}, never drawn in pretraining), greedy; asked "
             f"{'with' if usage.think else 'without'} the think template unless a row says so. "
             f"{seconds / 60:.1f} min of evaluation.", "",
             "| REC, Acc@0.5 (mean IoU) | model | constant centred box | random object of the category |",
             "|---|---|---|---|"]
    for name, label in (("rec_seen_A", "seen categories, style A"), ("rec_seen_B", "seen categories, style B"),
                        ("rec_heldout_A", "held-out categories, zero-shot")):
        cell = lambda k, name=name: f"{_pct(r[f'{name}.{k}acc_at_05'])} ({r[f'{name}.{k}mean_iou']:.3f})"
        lines.append(f"| {label} | {cell('')} | {cell('centre.')} | {cell('random_same_category.')} |")
    lines += ["", "| other | value |", "|---|---|",
              f"| held-out REC: answers labelled with the queried category | {_pct(r['rec_heldout_A.label_rate'])} |",
              f"| OVD mAP50, seen, style A | {_pct(r['ovd_seen_A.map50'])} |",
              f"| GRES gIoU, seen, style A | {_pct(r['gres_seen_A.giou'])} |",
              f"| cross-view K=4, think template: parse rate / accuracy (chance 25%) | "
              f"{_pct(r['crossview.parse_rate'])} / {_pct(r['crossview.accuracy'])} |",
              "| geolocalization, held-out cities, within 25 / 200 / 750 / 2500 km | "
              + " / ".join(_pct(r[f"geoloc.within_{km}km"]) for km in (25, 200, 750, 2500)) + " |"]
    lines += ["| think template parse rate | " + ", ".join(
        f"{k.split('.')[1]} {_pct(v)}" for k, v in r.items() if k.startswith("think.") and k.count(".") == 2) + " |"]
    lines += ["", "| target | value | needed | met |", "|---|---|---|---|"]
    for what, key, need in TARGETS:
        v = r[key]
        lines.append(f"| {what} | {_pct(v)} | >= {_pct(need)} | {'yes' if v == v and v >= need else 'no'} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())

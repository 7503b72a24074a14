"""Report research/arch_compare.sh: which tiny architecture learns "where" better, side by side.

  python research/arch_compare_report.py --runs runs/arch          # after bash research/arch_compare.sh runs/arch

1. Copies each arm's phase metrics (metrics.csv, final_eval.json) into docs/runs/arch_compare/, so
   the tables below can be remade from the repository.
2. Evaluates each arm's phase-1 checkpoint on the same 256 one-object seen-category REC scenes
   (GeoSynth seeds >= 20,000,000, never drawn in pretraining; greedy, answer alone) and bootstraps
   the paired difference of Acc@0.5 (10,000 resamples of the scenes).
3. Writes the tables between the arch_compare markers of docs/pretraining.md and the curves to
   docs/images/arch_compare_*.svg.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ARMS = {"qwen2.5-vl": "tiny (Qwen2.5-VL: 224 px, 14-px patches, rotary positions only)",
        "qwen3-vl": "tiny-qwen3-vl (Qwen3-VL: 256 px, 16-px patches, learned absolute positions + DeepStack)"}
SEED = 20_000_100
BEGIN, END = "<!-- arch_compare:begin -->", "<!-- arch_compare:end -->"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``b - a`` over paired samples and its 95 % percentile interval."""
    rng = np.random.default_rng(seed)
    d = b.astype(np.float64) - a.astype(np.float64)
    idx = rng.integers(len(d), size=(n, len(d)))
    means = d[idx].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="runs/arch", help="the folder research/arch_compare.sh wrote")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--work", default="runs/arch_report", help="test set and evaluations")
    args = p.parse_args(argv)
    from geor1.data import load_dataset
    from geor1.evaluation import evaluate
    from geor1.report.plots import Series, line_chart
    from geor1.synth import SEEN, write_task

    runs, store, work = Path(args.runs), REPO / "docs" / "runs" / "arch_compare", Path(args.work)
    for arm in ARMS:
        for phase in ("phase0", "phase1"):
            dest = store / arm / phase
            dest.mkdir(parents=True, exist_ok=True)
            for name in ("metrics.csv", "final_eval.json"):
                if (runs / arm / phase / name).is_file():
                    shutil.copy(runs / arm / phase / name, dest / name)
    test = work / "rec_one_object"
    if not (test / "data.jsonl").is_file():
        write_task("rec", test, args.n, seed=SEED, categories=SEEN, max_objects=1, split="test")
    ious = {}
    for arm in ARMS:
        evaluate(str(runs / arm / "phase1" / "final"), test, work / arm, batch_size=16, think=False,
                 max_new_tokens=48, progress=False)
        recs = {json.loads(line)["id"]: json.loads(line) for line in open(work / arm / "predictions.jsonl")}
        ious[arm] = np.array([recs[s.id]["score"]["iou"] for s in load_dataset(test)])
    hit = {arm: (v > 0.5).astype(float) for arm, v in ious.items()}
    diff, lo, hi = paired_bootstrap(hit["qwen2.5-vl"], hit["qwen3-vl"])
    lines = [BEGIN, "", "Phase 0, vision tower alone (300 steps of 32 full scenes; the probe on held-in batches, "
             "mean of the last 50 steps):", "",
             "| architecture | presence F1 | centre F1 | box IoU (cell-relative) | seconds |", "|---|---|---|---|---|"]
    for arm, label in ARMS.items():
        last = _rows(store / arm / "phase0" / "metrics.csv")[-1]
        lines.append(f"| {label} | {float(last['presence_f1']):.3f} | {float(last['centre_f1']):.3f} | "
                     f"{float(last['box_iou']):.3f} | {float(last['seconds']):.0f} |")
    lines += ["", "Phase 1, the whole model on one-object scenes (500 steps of 16; REC on 96 fixed one-object "
              "scenes every 100 steps, Acc@0.5 / mean IoU):", "",
              "| architecture | " + " | ".join(f"step {s}" for s in (100, 200, 300, 400, 500)) + " |",
              "|---|" + "---|" * 5]
    series = {"acc": [], "miou": [], "position": []}
    for arm, label in ARMS.items():
        rows = [r for r in _rows(store / arm / "phase1" / "metrics.csv") if _num(r.get("acc_at_05")) is not None]
        by_step = {int(r["step"]): r for r in rows}
        cells = [f"{100 * float(by_step[s]['acc_at_05']):.1f}% / {float(by_step[s]['mean_iou']):.3f}"
                 if s in by_step else "—" for s in (100, 200, 300, 400, 500)]
        lines.append(f"| {label.split(' (')[0]} | " + " | ".join(cells) + " |")
        series["acc"].append(Series(arm, [float(r["step"]) for r in rows], [float(r["acc_at_05"]) for r in rows]))
        series["miou"].append(Series(arm, [float(r["step"]) for r in rows], [float(r["mean_iou"]) for r in rows]))
        pos = [(float(r["step"]), _num(r.get("aux_loss") or r.get("position_loss")))
               for r in _rows(store / arm / "phase1" / "metrics.csv")]
        pos = [(x, y) for x, y in pos if y is not None]
        series["position"].append(Series(arm, [x for x, _ in pos], [y for _, y in pos]))
    n = len(ious["qwen3-vl"])
    lines += ["", f"The two phase-1 checkpoints on the same {n} fresh one-object scenes (seeds >= {SEED:,}; "
              "greedy, answer alone):", "",
              "| architecture | Acc@0.5 | mean IoU |", "|---|---|---|"]
    for arm, label in ARMS.items():
        lines.append(f"| {label.split(' (')[0]} | {100 * hit[arm].mean():.1f}% | {ious[arm].mean():.3f} |")
    lines += ["", f"Difference (Qwen3-VL minus Qwen2.5-VL), paired bootstrap over the scenes: Acc@0.5 "
              f"{100 * diff:+.1f} points, 95 % interval [{100 * lo:+.1f}, {100 * hi:+.1f}].", "",
              "![Acc@0.5 on one-object scenes](images/arch_compare_acc.svg) "
              "![position-probe loss](images/arch_compare_position.svg)", "", END]
    images = REPO / "docs" / "images"
    (images / "arch_compare_acc.svg").write_text(
        line_chart(series["acc"], title="REC Acc@0.5, one-object scenes (96)", y_label="Acc@0.5"))
    (images / "arch_compare_position.svg").write_text(
        line_chart(series["position"], title="image-position probe loss (language layer 1)", y_label="MSE"))
    doc = REPO / "docs" / "pretraining.md"
    text = doc.read_text(encoding="utf-8")
    block = "\n".join(lines)
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        raise SystemExit(f"{doc} has no {BEGIN} … {END} block to fill")
    doc.write_text(text, encoding="utf-8")
    print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""OVD reward speed: our batched ``ovd_map`` against per-sample pycocotools, the way VLM-R1 does it.

    python benchmarks/bench_ovd_reward.py [--n 10000] [--seed 0]

Makes N OVD completions (Qwen2.5-VL frame, 1–8 ground-truth boxes per image; answers mix near-hits,
misses, duplicates, empty answers and unreadable text), scores them with
``geor1.tasks.ovd.ovd_map_reward`` and with a reference that parses the same answers and then, per
completion, builds a pycocotools ``COCO`` ground truth, loads the detections (score 1.0, in output
order), runs ``COCOeval`` evaluate/accumulate/summarize and takes ``stats[0]`` (VLM-R1's
``calculate_map``), times ``min(1, sqrt(N_gt / N_pred))``. Prints both times, the speed-up and the
largest difference between the two rewards (target: >= 20x faster, equal to 1e-6). Times are
CPU seconds of this process (``time.process_time``), steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import time

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from geor1.coords import frame_from_dict
from geor1.data.schema import Sample
from geor1.tasks import ovd
from geor1.tasks.parsing import box_in_frame


def make_batch(n: int, seed: int) -> tuple[list[str], list[str]]:
    """N (completion, solution) pairs with answers written in the Qwen2.5-VL frame."""
    rng = np.random.default_rng(seed)
    completions, solutions = [], []
    for i in range(n):
        w, h = (int(v) for v in rng.integers(300, 1200, 2))
        k = int(rng.integers(1, 9))
        xy = rng.uniform(0, 0.8, (k, 2)) * [w, h]
        gt = np.concatenate([xy, xy + rng.uniform(10, 120, (k, 2))], axis=1).clip(0, [w, h, w, h]).round(1)
        s = Sample(id=str(i), task="ovd", images=["x.png"], width=w, height=h, category="ship", boxes=gt.tolist(),
                   labels=["ship"] * k)
        sol = ovd.solution(s, "qwen2.5-vl")
        kind = rng.random()
        if kind < 0.05:
            text = "<think>hmm</think><answer>None</answer>"
        elif kind < 0.08:
            text = "<think>hmm</think><answer>I cannot see any</answer>"
        else:
            boxes = [b for b in gt if rng.random() < 0.8]
            boxes = [b + rng.normal(0, 4, 4) for b in boxes]
            boxes += [np.concatenate([p, p + 30]) for p in rng.uniform(0, 0.8, (int(rng.integers(0, 3)), 2)) * [w, h]]
            if boxes and rng.random() < 0.2:
                boxes.append(boxes[0])  # a duplicate
            ans = [{"bbox_2d": box_in_frame(np.clip(boxes[j], 0, [w, h, w, h]), "qwen2.5-vl", w, h), "label": "ship"}
                   for j in rng.permutation(len(boxes))]
            text = f"<think>ok</think><answer>```json\n{json.dumps(ans) if ans else 'None'}\n```</answer>"
        completions.append(text)
        solutions.append(sol)
    return completions, solutions


def pycocotools_map(pred: np.ndarray, gt: np.ndarray) -> float:
    """VLM-R1's ``calculate_map`` for one completion: per-image COCOeval, detections scored 1.0."""
    gt_json = {"images": [{"id": 0, "width": 2048, "height": 2048, "file_name": "image_0.jpg"}],
               "categories": [{"id": 0, "name": "ship"}],
               "annotations": [{"id": i + 1, "image_id": 0, "category_id": 0, "bbox": [g[0], g[1], g[2] - g[0], g[3] - g[1]],
                                "area": (g[2] - g[0]) * (g[3] - g[1]), "iscrowd": 0} for i, g in enumerate(gt.tolist())]}
    dets = [{"image_id": 0, "category_id": 0, "bbox": [p[0], p[1], p[2] - p[0], p[3] - p[1]], "score": 1.0,
             "area": (p[2] - p[0]) * (p[3] - p[1])} for p in pred.tolist()]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt_json
        coco_gt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_gt.loadRes(dets), "bbox")
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return float(coco_eval.stats[0])


def reference_rewards(completions: list[str], solutions: list[str]) -> list[float]:
    out = []
    for text, sol_text in zip(completions, solutions):
        sol = json.loads(sol_text)
        parsed = ovd.parse_answer(text, frame_from_dict(sol["frame"]), sol["width"], sol["height"])
        gt = np.asarray(sol["boxes"], dtype=np.float64).reshape(-1, 4)
        if not parsed.ok:
            out.append(0.0)
        elif len(parsed.value) == 0 or len(gt) == 0:
            out.append(1.0 if len(parsed.value) == len(gt) == 0 else 0.0)
        else:
            out.append(min(1.0, math.sqrt(len(gt) / len(parsed.value))) * pycocotools_map(parsed.value, gt))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    completions, solutions = make_batch(args.n, args.seed)

    # CPU time of this process: steadier than wall time on a shared machine.
    t0 = time.process_time()
    ours = ovd.ovd_map_reward(completions, solutions)
    t_ours = time.process_time() - t0
    t0 = time.process_time()
    ref = reference_rewards(completions, solutions)
    t_ref = time.process_time() - t0

    diff = float(np.max(np.abs(np.array(ours) - np.array(ref))))
    print(f"{args.n} OVD completions (mean reward {np.mean(ours):.4f})")
    print(f"  geor1 ovd_map (batched numpy): {t_ours:8.3f} s  ({1e6 * t_ours / args.n:7.1f} us / completion)")
    print(f"  per-sample pycocotools:        {t_ref:8.3f} s  ({1e6 * t_ref / args.n:7.1f} us / completion)")
    print(f"  speed-up {t_ref / t_ours:.1f}x (target >= 20x); max |difference| {diff:.2e} (target <= 1e-6)")
    return 0 if diff <= 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""OVD: prompt, the length-penalized mAP reward (hand-checked and against pycocotools), metrics."""

import contextlib
import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from geor1.data.schema import Sample
from geor1.tasks import ovd
from geor1.tasks.boxes import coco_average_precision


def sample(boxes, category="ship", w=100, h=100, sid="s"):
    return Sample(id=sid, task="ovd", images=["a.png"], width=w, height=h, query=category, category=category,
                  boxes=[list(b) for b in boxes], labels=[category] * len(boxes))


def answer(boxes, label="ship"):
    body = "None" if boxes is None else json.dumps([{"bbox_2d": list(b), "label": label} for b in boxes])
    return f"<think>x</think><answer>```json\n{body}\n```</answer>"


def reward(completions, samples, frame="pixels"):
    return ovd.ovd_map_reward(completions, [ovd.solution(s, frame) for s in samples])


def coco_map(pred, gt):
    """Per-image pycocotools mAP, the way VLM-R1 computes it (every detection scored 1.0)."""
    ds = {"images": [{"id": 1, "width": 2048, "height": 2048}], "categories": [{"id": 1, "name": "x"}],
          "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [g[0], g[1], g[2] - g[0], g[3] - g[1]],
                           "area": (g[2] - g[0]) * (g[3] - g[1]), "iscrowd": 0} for i, g in enumerate(gt)]}
    with contextlib.redirect_stdout(io.StringIO()):
        c = COCO()
        c.dataset = ds
        c.createIndex()
        d = c.loadRes([{"image_id": 1, "category_id": 1, "bbox": [p[0], p[1], p[2] - p[0], p[3] - p[1]], "score": 1.0}
                       for p in pred])
        e = COCOeval(c, d, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e.stats[0], e.stats[1]


def test_prompt():
    s = sample([[1, 1, 5, 5]])
    p = ovd.build_prompt(s, "qwen2.5-vl")
    assert p.startswith("Please carefully check the image and detect the following objects: ship. ")
    assert '{"bbox_2d": [x1, y1, x2, y2], "label": "target name"}' in p
    assert "simply respond with None." in p and p.endswith("<answer> </answer> tags.")
    assert not ovd.build_prompt(s, "qwen2.5-vl", think=False).endswith("tags.")


def test_target_answer_and_solution():
    s = sample([[10, 20, 30, 40]], w=200, h=100)
    assert json.loads(ovd.target_answer(s, "norm1000")) == [{"bbox_2d": [50, 200, 150, 400], "label": "ship"}]
    assert ovd.target_answer(sample([]), "norm1000") == "None"
    sol = json.loads(ovd.solution(s, "norm1000"))
    assert sol["boxes"] == [[10, 20, 30, 40]] and sol["category"] == "ship" and sol["frame"]["scale"] == 1000


def test_empty_cases():
    gt, empty = sample([[10, 10, 20, 20]]), sample([])
    assert reward([answer(None), answer([[10, 10, 20, 20]]), answer(None), "<answer>[]</answer>"],
                  [empty, empty, gt, empty]) == [1.0, 0.0, 0.0, 1.0]
    # an unreadable answer is 0 even when nothing is there
    assert reward(["<answer>I am not sure</answer>"], [empty]) == [0.0]


def test_hand_checked_values():
    gt = sample([[0, 0, 10, 10], [50, 50, 60, 60]])
    one = sample([[0, 0, 10, 10]])
    out = reward([
        answer([[0, 0, 10, 10], [50, 50, 60, 60]]),   # perfect: 1
        answer([[0, 0, 10, 10]]),                     # recall 1/2: AP = 51/101 at every threshold, N factor 1
        answer([[0, 0, 10, 10], [0, 0, 10, 10]]),     # duplicate is a false positive after the hit: AP 1
        answer([[0, 0, 10, 10], [80, 80, 90, 90], [0, 0, 1, 1], [2, 2, 3, 3]]),  # AP 1 (hit first), 4 boxes
    ], [gt, gt, one, one])
    assert out[0] == pytest.approx(1.0)
    assert out[1] == pytest.approx(51 / 101)
    assert out[2] == pytest.approx(math.sqrt(1 / 2))
    assert out[3] == pytest.approx(math.sqrt(1 / 4))


def test_threshold_dependence():
    # [0,0,10,8] against [0,0,10,10] has IoU 0.8: a hit at thresholds .50-.80, a miss at .85-.95 -> mAP 0.7
    assert reward([answer([[0, 0, 10, 8]])], [sample([[0, 0, 10, 10]])]) == [pytest.approx(0.7)]


def test_order_matters_false_positive_first():
    # all scores tie, so output order ranks: a false positive first gives precision 1/2 at recall 1
    # (AP 0.5 at every threshold), after the hit it costs nothing (AP 1); both pay sqrt(1/2) for 2 boxes.
    gt = sample([[0, 0, 10, 10]])
    out = reward([answer([[80, 80, 90, 90], [0, 0, 10, 10]]), answer([[0, 0, 10, 10], [80, 80, 90, 90]])], [gt, gt])
    assert out == [pytest.approx(0.5 * math.sqrt(0.5)), pytest.approx(math.sqrt(0.5))]


def test_labels_are_ignored_and_frames_converted():
    s = sample([[20, 10, 60, 30]], w=200, h=100)
    assert reward([answer([[100, 100, 300, 300]], label="boat")], [s], frame="norm1000") == [pytest.approx(1.0)]


def test_only_first_100_boxes_count():
    gt = [[0, 0, 10, 10]]
    pred = [[50, 50, 51, 51]] * 100 + [[0, 0, 10, 10]]
    ours = coco_average_precision([pred], [gt]).mean()
    assert ours == 0.0 == coco_map(pred, gt)[0]


def test_matches_pycocotools_on_random_cases():
    rng = np.random.default_rng(7)
    preds, gts = [], []
    for k in range(250):
        integer = k % 2 == 0
        g = rng.uniform(0, 80, (rng.integers(1, 7), 2))
        g = np.concatenate([g, g + rng.uniform(2, 20, g.shape)], axis=1)
        p = []
        for _ in range(rng.integers(1, 12)):
            if rng.random() < 0.6:  # near a ground-truth box
                p.append(g[rng.integers(len(g))] + rng.normal(0, 2, 4))
            else:
                xy = rng.uniform(0, 80, 2)
                p.append(np.concatenate([xy, xy + rng.uniform(2, 20, 2)]))
        p = np.array(p)
        p = np.concatenate([p[:, :2].clip(max=p[:, 2:]), p[:, 2:].clip(min=p[:, :2])], axis=1)
        if integer:  # integer boxes make exact ties in IoU, the hard case for matching
            p, g = np.round(p), np.round(g)
        preds.append(p)
        gts.append(g)
    ours = coco_average_precision(preds, gts)
    ref = np.array([coco_map(p.tolist(), g.tolist()) for p, g in zip(preds, gts)])
    np.testing.assert_allclose(ours.mean(axis=1), ref[:, 0], atol=1e-12)
    np.testing.assert_allclose(ours[:, 0], ref[:, 1], atol=1e-12)


def test_score_and_aggregate_agree_with_pycocotools():
    samples = [sample([[0, 0, 10, 10]], sid="a"), sample([[20, 20, 40, 40]], sid="b"),
               sample([[5, 5, 15, 15]], category="harbor", sid="c"), sample([], sid="d")]
    completions = [answer([[0, 0, 10, 10]]), answer(None), answer([[5, 5, 15, 13]]), answer([[1, 1, 2, 2]])]
    scores = [ovd.score(s, c, "pixels") for s, c in zip(samples, completions)]
    assert [s["rewards"]["ovd_map"] for s in scores] == [pytest.approx(1.0), 0.0, pytest.approx(0.7), 0.0]
    assert math.isnan(scores[3]["map"]) and scores[1]["boxes"] == []
    m = ovd.aggregate(scores)
    # ship: 2 ground truths, detections a (hit) and d (false positive, on an image without ships):
    # precision 1 up to recall 1/2, then nothing -> AP = 51/101 at every threshold.
    assert m["ap/ship"] == pytest.approx(51 / 101) and m["ap50/ship"] == pytest.approx(51 / 101)
    # harbor: IoU 0.8 -> AP 1 for thresholds .50-.80, 0 after: mAP 0.7
    assert m["ap/harbor"] == pytest.approx(0.7) and m["ap50/harbor"] == pytest.approx(1.0)
    assert m["map"] == pytest.approx((51 / 101 + 0.7) / 2) and m["ap50"] == pytest.approx((51 / 101 + 1) / 2)
    assert m["parse_rate"] == 1.0 and m["n"] == 4


def test_aggregate_without_predictions():
    scores = [ovd.score(sample([[0, 0, 10, 10]]), answer(None), "pixels")]
    assert ovd.aggregate(scores)["map"] == 0.0
    assert math.isnan(ovd.aggregate([ovd.score(sample([]), answer(None), "pixels")])["map"])


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=150))
def test_reward_in_range_for_any_string(text):
    out = reward([text, f"<answer>{text}</answer>"], [sample([[3, 4, 50, 40], [60, 60, 70, 90]]), sample([])])
    assert all(0.0 <= v <= 1.0 for v in out)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.floats(-200, 300), min_size=4, max_size=4), max_size=8),
       st.sampled_from(["pixels", "norm1000", "qwen2.5-vl"]))
def test_reward_in_range_for_any_boxes(boxes, frame):
    v = reward([answer(boxes)], [sample([[3, 4, 50, 40], [60, 60, 70, 90]])], frame=frame)[0]
    assert 0.0 <= v <= 1.0

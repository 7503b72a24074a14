"""GRES: ground-truth masks, the mask-IoU reward (LISA's no-target convention), segmenters, metrics."""

import importlib.util
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from geor1.data.schema import Sample
from geor1.tasks import gres
from geor1.tasks.boxes import box_mask
from geor1.tasks.segmenter import BoxFillSegmenter, Sam2Segmenter, clip_mask_to_box, get_segmenter


def rect(x1, y1, x2, y2):
    return [[x1, y1, x2, y1, x2, y2, x1, y2]]


def sample(boxes, masks=None, w=40, h=30, sid="s", category="pond"):
    return Sample(id=sid, task="gres", images=["a.png"], width=w, height=h, query="the ponds that hold water",
                  category=category, boxes=[list(b) for b in boxes], labels=[category] * len(boxes),
                  masks=masks if masks is not None else [rect(*b) for b in boxes])


def answer(objs):
    body = "None" if objs is None else json.dumps(
        [{"bbox_2d": list(b), "keypoint1": [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2],
          "keypoint2": [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]} for b in objs])
    return f"<think>x</think><answer>{body}</answer>"


def reward(completions, samples, frame="pixels"):
    return gres.gres_iou_reward(completions, [gres.solution(s, frame) for s in samples])


def test_prompt():
    p = gres.build_prompt(sample([[1, 1, 5, 5]]), "qwen2.5-vl")
    assert p.startswith("Please carefully check the image and answer: the ponds that hold water. Based on your answer")
    assert '"keypoint1": [x3, y3], "keypoint2": [x4, y4]' in p and "simply respond with None." in p
    assert p.endswith("<answer> </answer> tags.")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 40), min_size=2, max_size=2), st.lists(st.floats(0, 30), min_size=2, max_size=2))
def test_box_mask_matches_pycocotools_rasterization(xs, ys):
    x1, x2 = sorted(xs)
    y1, y2 = sorted(ys)
    ours = box_mask([[x1, y1, x2, y2]], 40, 30)
    coco = mask_utils.decode(mask_utils.frPyObjects(np.array([[x1, y1, x2 - x1, y2 - y1]]), 30, 40))[:, :, 0]
    assert (ours == coco.astype(bool)).all()


def test_ground_truth_masks_from_polygons_rle_and_boxes():
    m = np.zeros((30, 40), dtype=bool)
    m[5:10, 5:15] = True
    rle = gres.encode_mask(m)
    s = sample([[5, 5, 15, 10], [20, 20, 30, 25]], masks=[rle, rect(20, 20, 30, 25)])
    union = gres.target_mask(s)
    assert union.sum() == 50 + 50 and union[5:10, 5:15].all() and union[20:25, 20:30].all()
    no_masks = sample([[5, 5, 15, 10]], masks=[])
    assert gres.target_mask(no_masks).sum() == 50
    assert json.loads(gres.solution(sample([], masks=[]), "pixels"))["mask"] is None
    assert (gres.decode_mask(json.loads(gres.solution(s, "pixels"))["mask"]) == union).all()


def test_reward_hand_checked():
    s = sample([[0, 0, 10, 10]])
    out = reward([answer([[0, 0, 10, 10]]), answer([[0, 0, 10, 5]]), answer([[5, 5, 15, 15]]), answer([[20, 20, 30, 30]])],
                 [s] * 4)
    assert out == pytest.approx([1.0, 0.5, 25 / 175, 0.0])


def test_multi_target_union_and_order():
    s = sample([[0, 0, 10, 10], [20, 0, 30, 10]])
    both = answer([[20, 0, 30, 10], [0, 0, 10, 10]])
    assert reward([both, answer([[0, 0, 10, 10]]), answer([[0, 0, 30, 10]])], [s] * 3) == \
        pytest.approx([1.0, 0.5, 200 / 300])


def test_no_target_convention():
    empty, s = sample([], masks=[]), sample([[0, 0, 10, 10]])
    assert reward([answer(None), "<answer>There are no such targets.</answer>", answer([[0, 0, 5, 5]])],
                  [empty] * 3) == [1.0, 1.0, 0.0]
    assert reward([answer(None), "<answer>gibberish</answer>"], [s, empty]) == [0.0, 0.0]


def test_frames_and_keypoints_in_target_answer():
    m = np.zeros((30, 40), dtype=bool)
    m[2:12, 4:30] = True  # 26 wide, 10 tall
    s = sample([[4, 2, 30, 12]], masks=[gres.encode_mask(m)])
    objs = json.loads(gres.target_answer(s, "pixels"))
    assert objs[0]["bbox_2d"] == [4, 2, 30, 12]
    for key in ("keypoint1", "keypoint2"):
        x, y = objs[0][key]
        assert m[int(y), int(x)]
    assert objs[0]["keypoint1"][0] < objs[0]["keypoint2"][0]  # spread along the longer side
    assert reward([gres.target_answer(s, "norm1000")], [s], frame="norm1000") == [pytest.approx(1.0)]
    assert gres.target_answer(sample([], masks=[]), "pixels") == "None"


def test_keypoints_lie_in_irregular_masks():
    m = np.zeros((30, 40), dtype=bool)
    m[5:25, 5:9] = True
    m[21:25, 5:35] = True  # an L shape: the centroid is outside it
    pts = gres.keypoints(m)
    assert all(m[int(y), int(x)] for x, y in pts)


def test_segmenters():
    seg = get_segmenter("box")
    assert isinstance(seg, BoxFillSegmenter) and not seg.needs_image
    masks = seg.segment(np.array([[0, 0, 4, 2], [1, 1, 3, 3]]), [np.zeros((0, 2))] * 2, 5, 4)
    assert masks.shape == (2, 4, 5) and masks[0].sum() == 8 and masks[1].sum() == 4
    with pytest.raises(ValueError, match="unknown segmenter"):
        get_segmenter("magic")
    full = np.ones((6, 6), dtype=bool)
    assert clip_mask_to_box(full, [1.7, 2.2, 4.9, 5]).sum() == 3 * 3  # int() truncation as in Geo-R1


@pytest.mark.skipif(importlib.util.find_spec("sam2") is not None, reason="sam2 is installed")
def test_sam2_without_the_package_is_a_clear_error():
    with pytest.raises(ImportError, match="pip install 'geor1\\[sam\\]'"):
        Sam2Segmenter()
    with pytest.raises(ImportError, match="sam2"):
        gres.set_segmenter("sam2")
    assert isinstance(gres.current_segmenter(), BoxFillSegmenter)  # unchanged after the failure


def test_score_and_aggregate_hand_checked():
    cases = [
        (sample([[0, 0, 10, 10]], sid="a"), answer([[0, 0, 10, 10]])),      # iou 1, 100/100
        (sample([[0, 0, 10, 10]], sid="b"), answer([[0, 0, 10, 5]])),       # iou .5, 50/100
        (sample([[0, 0, 20, 10]], sid="c"), answer(None)),                  # iou 0, 0/200
        (sample([], masks=[], sid="d"), answer(None)),                      # no target, right: 1, 0/0
        (sample([], masks=[], sid="e"), answer([[0, 0, 5, 4]])),            # no target, wrong: 0, 0/20
        (sample([], masks=[], sid="f"), "<answer>hmm</answer>"),            # unreadable: 0
    ]
    scores = [gres.score(s, c, "pixels") for s, c in cases]
    assert [sc["iou"] for sc in scores] == pytest.approx([1, 0.5, 0, 1, 0, 0])
    assert scores[3]["pred_empty"] and scores[3]["gt_empty"] and scores[5]["boxes"] is None
    m = gres.aggregate(scores)
    assert m["giou"] == pytest.approx(2.5 / 6)
    assert m["ciou"] == pytest.approx(150 / 420)
    assert m["no_target_accuracy"] == pytest.approx(1 / 3)  # d only; f did not answer "None"
    assert m["target_accuracy"] == pytest.approx(2 / 3)
    assert m["n_no_target"] == 3 and m["parse_rate"] == pytest.approx(5 / 6)
    assert math.isnan(gres.aggregate(scores[:3])["no_target_accuracy"])


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=150))
def test_reward_in_range_for_any_string(text):
    out = reward([text, f"<answer>{text}</answer>"], [sample([[3, 4, 20, 25]]), sample([], masks=[])])
    assert all(0.0 <= v <= 1.0 for v in out)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.floats(-100, 100), min_size=4, max_size=4), max_size=5),
       st.sampled_from(["pixels", "norm1000", "qwen2.5-vl"]))
def test_reward_in_range_for_any_boxes(boxes, frame):
    v = reward([answer(boxes)], [sample([[3, 4, 20, 25], [30, 5, 38, 9]])], frame=frame)[0]
    assert 0.0 <= v <= 1.0

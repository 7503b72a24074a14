"""REC: prompt, answers in frames, the IoU reward and the accuracy metrics (hand-checked)."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.data.schema import Sample
from geor1.tasks import common, get_reward_funcs, rec


def sample(box=(0, 0, 10, 10), w=100, h=50, unique=True, sid="s"):
    return Sample(id=sid, task="rec", images=["a.png"], width=w, height=h, query="the white car on the left",
                  category="vehicle", boxes=[list(box)], labels=["vehicle"], is_unique=unique)


def answer(box, label="vehicle"):
    return f"<think>look</think><answer>{json.dumps({'bbox_2d': box, 'label': label})}</answer>"


def reward(completions, samples, frame="pixels"):
    return rec.rec_iou_reward(completions, [rec.solution(s, frame) for s in samples], task=["rec"] * len(samples))


def test_prompt_is_the_papers_template():
    s = sample()
    assert rec.build_prompt(s, "qwen2.5-vl") == (
        "the white car on the left First output the thinking process in <think> </think> tags and then output "
        "the final answer in <answer> </answer> tags. Output the final answer in JSON format.")
    assert rec.build_prompt(s, "qwen2.5-vl", think=False) == \
        "the white car on the left Output the final answer in JSON format."
    assert "0 to 1000" in rec.build_prompt(s, "norm1000")
    msgs = rec.build_messages(s, "qwen2.5-vl")
    assert msgs[0]["role"] == "user" and msgs[0]["content"][0] == {"type": "image"}
    assert msgs[0]["content"][1]["text"] == rec.build_prompt(s, "qwen2.5-vl")


def test_solution_and_target_answer():
    s = sample(box=(20, 10, 60, 30), w=200, h=100)
    sol = json.loads(rec.solution(s, "norm1000"))
    assert sol["box"] == [20, 10, 60, 30] and sol["width"] == 200 and sol["frame"]["name"] == "norm1000"
    assert sol["is_unique"] is True and sol["task"] == "rec"
    assert json.loads(rec.target_answer(s, "norm1000")) == {"bbox_2d": [100, 100, 300, 300], "label": "vehicle"}
    assert json.loads(rec.target_answer(s, "pixels"))["bbox_2d"] == [20, 10, 60, 30]


def test_iou_hand_checked():
    s = sample(box=(0, 0, 10, 10))
    # [5,5,15,15] against [0,0,10,10]: intersection 25, union 175 -> 1/7
    assert reward([answer([5, 5, 15, 15]), answer([0, 0, 10, 10]), answer([20, 20, 30, 30])], [s] * 3) == \
        pytest.approx([1 / 7, 1.0, 0.0])


def test_frame_conversion():
    # 200x100 image, gt [20,10,60,30]; in 0-1000 that is [100,100,300,300]
    s = sample(box=(20, 10, 60, 30), w=200, h=100)
    assert reward([answer([100, 100, 300, 300])], [s], frame="norm1000") == [pytest.approx(1.0)]
    # the same numbers read as pixels would miss
    assert reward([answer([100, 100, 300, 300])], [s], frame="pixels") == [0.0]
    # half the width in normalized frame: [100,100,200,300] -> [20,10,40,30], IoU 0.5
    assert reward([answer([100, 100, 200, 300])], [s], frame="norm1000") == [pytest.approx(0.5)]
    # Qwen2.5-VL: 1000x500 is resized to 1008x504, so pixel answers scale by 1.008
    q = sample(box=(100, 100, 500, 250), w=1000, h=500)
    assert reward([answer([100.8, 100.8, 504, 252])], [q], frame="qwen2.5-vl") == [pytest.approx(1.0)]


def test_swapped_corners_and_overshoot_are_normalized():
    s = sample(box=(0, 0, 100, 50))
    assert reward([answer([100, 50, 0, 0]), answer([-20, -20, 300, 300])], [s] * 2) == [1.0, 1.0]


def test_malformed_answers_score_zero_and_log():
    s = sample()
    common.REASONS.clear()
    out = reward(["<think>x</think><answer>no idea</answer>", "", "None", answer([1, 2, 3])], [s] * 4)
    assert out == [0.0, 0.0, 0.0, 0.0]
    assert sum(n for k, n in common.REASONS.items() if k.startswith("rec_iou")) == 4


def test_other_tasks_and_conversational_completions():
    s = sample()
    sols = [rec.solution(s, "pixels"), "{}"]
    convo = [{"role": "assistant", "content": answer([0, 0, 10, 10])}]
    assert rec.rec_iou_reward([convo, answer([0, 0, 10, 10])], sols, task=["rec", "ovd"]) == [1.0, None]


def test_registered_and_first_box_counts():
    fn = get_reward_funcs(["rec_iou"])[0]
    s = sample()
    two = '<answer>[{"bbox_2d": [0, 0, 10, 10]}, {"bbox_2d": [50, 0, 60, 10]}]</answer>'
    assert fn([two], [rec.solution(s, "pixels")]) == [1.0]


def test_degenerate_ground_truth_scores_zero():
    s = sample(box=(10, 10, 10, 20))  # zero width, as in a few VRSBench gold boxes
    assert reward([answer([10, 10, 10, 20]), answer([0, 0, 20, 20])], [s] * 2) == [0.0, 0.0]


def test_parse_answer():
    assert rec.parse_answer(answer([1, 2, 3, 4])).value == [1, 2, 3, 4]
    assert rec.parse_answer(answer([100, 100, 300, 300]), "norm1000", 200, 100).value == [20, 10, 60, 30]
    assert not rec.parse_answer("<answer>None</answer>").ok


def test_accuracy_is_strictly_greater():
    assert not rec.is_correct(0.5, 0.5) and rec.is_correct(0.5000001, 0.5)
    s = sample(box=(0, 0, 10, 20))
    # [0,0,10,10] against [0,0,10,20]: IoU exactly 0.5 -> wrong at 0.5
    sc = rec.score(s, answer([0, 0, 10, 10]), "pixels")
    assert sc["iou"] == 0.5 and rec.aggregate([sc])["acc_at_05"] == 0.0


def test_score_and_aggregate_hand_checked():
    gt = (0, 0, 10, 10)
    cases = [  # (prediction, is_unique) -> IoU
        ([0, 0, 10, 10], True),    # 1.0
        ([0, 0, 10, 8], True),     # 0.8
        ([0, 0, 10, 6], False),    # 0.6
        ([5, 5, 15, 15], False),   # 1/7
        (None, False),             # unreadable: 0
    ]
    scores = []
    for i, (pred, unique) in enumerate(cases):
        text = answer(pred) if pred else "<think>x</think><answer>hmm</answer>"
        scores.append(rec.score(sample(gt, unique=unique, sid=str(i)), text, "pixels"))
    assert [round(s["iou"], 6) for s in scores] == [1.0, 0.8, 0.6, round(1 / 7, 6), 0.0]
    assert scores[0]["rewards"] == {"format": 1.0, "rec_iou": 1.0}
    assert scores[4]["box"] is None and scores[4]["reason"]
    m = rec.aggregate(scores)
    assert m["acc_at_05"] == pytest.approx(3 / 5) and m["acc_at_07"] == pytest.approx(2 / 5)
    assert m["acc_at_05_unique"] == 1.0 and m["acc_at_07_unique"] == 1.0
    assert m["acc_at_05_non_unique"] == pytest.approx(1 / 3) and m["acc_at_07_non_unique"] == 0.0
    assert m["mean_iou"] == pytest.approx((1 + 0.8 + 0.6 + 1 / 7) / 5)
    # intersections 100, 80, 60, 25, 0; unions 100, 100, 100, 175, 100 (gt area when unreadable)
    assert m["cum_iou"] == pytest.approx(265 / 575)
    assert m["n_unique"] == 2 and m["n_non_unique"] == 3 and m["parse_rate"] == pytest.approx(4 / 5)
    assert math.isnan(rec.aggregate([scores[0]])["acc_at_05_non_unique"])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120), st.sampled_from(["pixels", "norm1000", "qwen2.5-vl", "norm1"]))
def test_reward_in_range_for_any_string(text, frame):
    out = reward([text, f"<answer>{text}</answer>"], [sample(box=(3, 4, 50, 40))] * 2, frame=frame)
    assert all(0.0 <= v <= 1.0 for v in out)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=4, max_size=4), st.sampled_from(["pixels", "norm1000", "qwen2.5-vl"]))
def test_reward_in_range_for_any_box(box, frame):
    v = reward([answer(box)], [sample(box=(3, 4, 50, 40))], frame=frame)[0]
    assert 0.0 <= v <= 1.0

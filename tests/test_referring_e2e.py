"""GeoSynth rec / ovd / gres datasets through prompt -> solution -> answer -> parse -> reward -> metric."""

import json

import numpy as np
import pytest

from geor1.data.schema import load_dataset
from geor1.synth import write_task
from geor1.tasks import common, get_reward_funcs, gres, ovd, rec
from geor1.tasks.boxes import box_mask

N = 12
SIZE = 224  # a multiple of 28: Qwen2.5-VL's frame is the image itself, so its integer answers are exact


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("geosynth")
    out = {}
    options = {"rec": {}, "ovd": {"absent_fraction": 0.25}, "gres": {"no_target_fraction": 0.3}}
    for task in ("rec", "ovd", "gres"):
        write_task(task, root / task, N, seed=5, size=SIZE, **options[task])
        out[task] = load_dataset(root / task)
    return out


def completion(answer: str) -> str:
    return f"<think>I look at the image and find the targets.</think><answer>{answer}</answer>"


def rewards(module, samples, answers, frame):
    funcs = get_reward_funcs(module.DEFAULT_REWARDS)
    columns = {"solution": [module.solution(s, frame) for s in samples], "task": [module.TASK] * len(samples)}
    return {name: np.array(f([completion(a) for a in answers], **columns), dtype=float)
            for name, f in zip(module.DEFAULT_REWARDS, funcs)}


def moved_right(box):
    dx = (box[2] - box[0]) / 2
    return [box[0] + dx, box[1], box[2] + dx, box[3]]


@pytest.mark.parametrize("frame", ["pixels", "qwen2.5-vl", "norm1000"])
def test_rec(datasets, frame):
    samples = datasets["rec"].samples
    assert all(rec.build_messages(s, frame)[0]["content"][1]["text"].startswith(s.query) for s in samples)
    gold = [rec.target_answer(s, frame) for s in samples]
    r = rewards(rec, samples, gold, frame)
    assert (r["format"] == 1).all()
    if frame == "norm1000":  # rounding to 0-1000 moves a box edge by up to 0.11 px
        assert (r["rec_iou"] > 0.7).all()
    else:
        np.testing.assert_allclose(r["rec_iou"], 1.0)
    metrics = rec.aggregate([rec.score(s, completion(a), frame) for s, a in zip(samples, gold)])
    assert metrics["acc_at_05"] == 1.0 and metrics["parse_rate"] == 1.0
    if frame != "norm1000":
        assert metrics["acc_at_07"] == 1.0 and metrics["mean_iou"] == pytest.approx(1.0)

    # corrupted: every box moved right by half its width (IoU 1/3, or up to 1/2 when clipped at the edge)
    half = [json.dumps({"bbox_2d": moved_right(rec.parse_answer(a).value)}) for a in gold]
    worse = rewards(rec, samples, half, frame)["rec_iou"]
    assert (worse < r["rec_iou"]).all() and (worse < 0.7).all()
    assert rec.aggregate([rec.score(s, completion(a), frame) for s, a in zip(samples, half)])["acc_at_07"] == 0.0


@pytest.mark.parametrize("frame", ["pixels", "qwen2.5-vl", "norm1000"])
def test_ovd(datasets, frame):
    samples = datasets["ovd"].samples
    assert any(not s.boxes for s in samples) and any(len(s.boxes) > 1 for s in samples)
    gold = [ovd.target_answer(s, frame) for s in samples]
    r = rewards(ovd, samples, gold, frame)
    assert (r["format"] == 1).all()
    if frame == "norm1000":
        assert (r["ovd_map"] > 0.5).all()
    else:
        np.testing.assert_allclose(r["ovd_map"], 1.0)
    metrics = ovd.aggregate([ovd.score(s, completion(a), frame) for s, a in zip(samples, gold)])
    if frame != "norm1000":
        assert metrics["map"] == pytest.approx(1.0) and metrics["ap50"] == pytest.approx(1.0)
        assert all(v == pytest.approx(1.0) for k, v in metrics.items() if k.startswith("ap/"))

    # corrupted: an extra false positive written first; "None" where there are targets; a box where there are none
    worse_answers = []
    for s, a in zip(samples, gold):
        objs = json.loads(a) if s.boxes else []
        if s.boxes:
            fp = {"bbox_2d": [0, 0, 3, 3], "label": s.category}
            worse_answers.append(json.dumps([fp] + objs) if len(worse_answers) % 2 else "None")
        else:
            worse_answers.append(json.dumps([{"bbox_2d": [0, 0, 30, 30], "label": s.category}]))
    worse = rewards(ovd, samples, worse_answers, frame)["ovd_map"]
    assert (worse < r["ovd_map"]).all()
    worse_metrics = ovd.aggregate([ovd.score(s, completion(a), frame) for s, a in zip(samples, worse_answers)])
    assert worse_metrics["map"] < metrics["map"]


@pytest.mark.parametrize("frame", ["pixels", "qwen2.5-vl"])
def test_gres(datasets, frame):
    samples = datasets["gres"].samples
    assert any(not s.boxes for s in samples) and any(len(s.boxes) > 1 for s in samples)
    gold = [gres.target_answer(s, frame) for s in samples]
    for s, a in zip(samples, gold):  # gold keypoints lie on their object
        if s.boxes:
            for obj, m in zip(json.loads(a), gres.object_masks(s)):
                for key in ("keypoint1", "keypoint2"):
                    x, y = obj[key]
                    assert m[min(int(y), s.height - 1), min(int(x), s.width - 1)]
    r = rewards(gres, samples, gold, frame)
    assert (r["format"] == 1).all()
    # The default segmenter fills boxes: a perfect answer earns IoU(filled gt boxes, gt masks), 1 on no-target.
    expected = []
    for s in samples:
        gt = gres.target_mask(s)
        filled = box_mask(s.boxes, s.width, s.height) if s.boxes else gt
        expected.append((gt & filled).sum() / (gt | filled).sum() if s.boxes else 1.0)
    np.testing.assert_allclose(r["gres_iou"], expected)
    assert (r["gres_iou"] > 0).all()  # box-fill is coarse for thin, rotated objects (bridges, ships)
    metrics = gres.aggregate([gres.score(s, completion(a), frame) for s, a in zip(samples, gold)])
    assert metrics["no_target_accuracy"] == 1.0 and metrics["target_accuracy"] == 1.0
    assert metrics["giou"] == pytest.approx(np.mean(expected))

    # corrupted: "None" for targets, a made-up object for no-target samples
    bad = ["None" if s.boxes else json.dumps([{"bbox_2d": [0, 0, 40, 40], "keypoint1": [5, 5], "keypoint2": [9, 9]}])
           for s in samples]
    worse = rewards(gres, samples, bad, frame)["gres_iou"]
    assert (worse == 0).all()
    bad_metrics = gres.aggregate([gres.score(s, completion(a), frame) for s, a in zip(samples, bad)])
    assert bad_metrics["giou"] == 0.0 and bad_metrics["no_target_accuracy"] == 0.0


def test_rewards_skip_other_tasks_in_a_mixed_batch(datasets):
    batch = [datasets[t].samples[0] for t in ("rec", "ovd", "gres")]
    modules = {"rec": rec, "ovd": ovd, "gres": gres}
    solutions = [modules[s.task].solution(s, "pixels") for s in batch]
    answers = [completion(modules[s.task].target_answer(s, "pixels")) for s in batch]
    tasks = [s.task for s in batch]
    out = {name: f(answers, solution=solutions, task=tasks)
           for name, f in zip(["rec_iou", "ovd_map", "gres_iou"], get_reward_funcs(["rec_iou", "ovd_map", "gres_iou"]))}
    assert out["rec_iou"][1:] == [None, None] and out["rec_iou"][0] == pytest.approx(1.0)
    assert out["ovd_map"][0] is None and out["ovd_map"][2] is None and out["ovd_map"][1] == pytest.approx(1.0)
    assert out["gres_iou"][:2] == [None, None] and out["gres_iou"][2] > 0
    assert common.format_reward(answers) == [1.0, 1.0, 1.0]

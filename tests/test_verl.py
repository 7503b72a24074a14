
from geor1.coords import get_frame
from geor1.data import Sample
from geor1.tasks import get_reward_funcs, get_task
from geor1.train.verl import compute_score


def _samples():
    rec = Sample(id="r", task="rec", images=["a.png"], width=448, height=448, query="the ship", category="ship",
                 boxes=[[100, 120, 180, 200]], labels=["ship"], is_unique=True)
    ovd = Sample(id="o", task="ovd", images=["a.png"], width=448, height=448, query="ship", category="ship",
                 boxes=[[100, 120, 180, 200], [10, 10, 50, 40]], labels=["ship", "ship"])
    cv = Sample(id="c", task="crossview", images=["q.png", "a.png", "b.png", "c.png", "d.png"], width=256,
                height=128, choices=["A", "B", "C", "D"], answer="B",
                gps=[[48.85, 2.35], [48.0, 2.0], [48.85, 2.35], [40.0, -3.7], [51.5, -0.1]])
    return [rec, ovd, cv]


def _completions(sample, frame):
    task = get_task(sample.task)
    gold = task.target_answer(sample, frame)
    return [f"<think>look</think><answer>{gold}</answer>", gold, "<answer>{\"bbox_2d\": [1, 2, 3, 4]}</answer>",
            "<think>A</think><answer>A</answer>", "garbage ))", "", "<think>hmm</think>\n<answer>C</answer>"]


def test_verl_form_agrees_with_trl_form():
    frame = get_frame("qwen2.5-vl", min_pixels=224 * 224, max_pixels=224 * 224)
    for sample in _samples():
        task = get_task(sample.task)
        sol = task.solution(sample, frame)
        for c in _completions(sample, frame):
            got = compute_score("geosynth", c, sol)
            total = 0.0
            for name, fn in zip(task.DEFAULT_REWARDS, get_reward_funcs(task.DEFAULT_REWARDS)):
                trl = fn([c], solution=[sol], task=[sample.task])[0]
                assert got[name] == (0.0 if trl is None else trl), (sample.task, name, c)
                total += got[name]
            assert abs(got["score"] - total) < 1e-12


def test_verl_weights_from_extra_info():
    frame = get_frame("pixels")  # integer boxes in original pixels: the gold answer has IoU exactly 1
    rec = _samples()[0]
    sol = get_task("rec").solution(rec, frame)
    c = "<think>x</think><answer>" + get_task("rec").target_answer(rec, frame) + "</answer>"
    got = compute_score("geosynth", c, sol, {"rewards": {"format": 0.5, "rec_iou": 2.0}})
    assert got["format"] == 1.0 and abs(got["rec_iou"] - 1.0) < 1e-9
    assert abs(got["score"] - 2.5) < 1e-9


def test_verl_rejects_foreign_ground_truth():
    import pytest

    with pytest.raises(ValueError, match="geor1 solution JSON"):
        compute_score("x", "<answer>A</answer>", "B")

"""The task contract (geor1.tasks): every task module keeps it, one GeoSynth sample of each goes
through every member, and outside the task modules no code branches on a task's name."""

import ast
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geor1.coords import get_frame
from geor1.tasks import get_task, task_names

SRC = Path(__file__).resolve().parents[1] / "src" / "geor1"
CONSTANTS = {"TASK": str, "ORDER": int, "DEFAULT_REWARDS": list, "MAIN_REWARD": str, "ENGINE_THRESHOLD": float,
             "HEADLINE": list, "FAILURE_RULE": str, "ANSWER_FIELD": str}
FUNCTIONS = ("build_messages", "solution", "target_answer", "rationale", "parse", "score", "aggregate", "per_sample",
             "quality", "is_failure", "describe", "describe_answer", "draw", "caption", "request")
# Where a task's name may be written as data: the task modules, the converters of public datasets,
# the schema's per-task field rules, GeoSynth's builder entries and the pretraining corpus's kinds.
# (The cross-view pair builder, data/questions.py, takes the name from the task module.)
ALLOWED = ("tasks/", "data/converters/", "data/schema.py", "synth/registry.py",
           "synth/builders.py", "synth/crossview.py", "pretrain/corpus.py")


def test_the_tasks_are_discovered_in_order():
    assert task_names() == ("rec", "ovd", "gres", "crossview", "geoloc", "counting")
    with pytest.raises(ValueError, match="unknown task 'vqa' \\(known: rec, ovd"):
        get_task("vqa")


@pytest.mark.parametrize("name", task_names())
def test_every_task_keeps_the_contract(name):
    task = get_task(name)
    for const, kind in CONSTANTS.items():
        assert isinstance(getattr(task, const), kind), f"{name}.{const}"
    for fn in FUNCTIONS:
        assert callable(getattr(task, fn, None)), f"{name}.{fn}"
    assert task.TASK == name and task.MAIN_REWARD in task.DEFAULT_REWARDS
    from geor1.tasks import all_rewards

    assert set(task.DEFAULT_REWARDS) <= set(all_rewards())


def _one_sample(name, tmp_path):
    from geor1.data import load_dataset
    from geor1.evaluation.draw import load_images
    from geor1.synth.registry import write

    write(name, tmp_path, 1, seed=5, size=224 if name not in ("crossview", "geoloc") else 128)
    ds = load_dataset(tmp_path)
    return ds.samples[0], load_images(ds, ds.samples[0])


@pytest.mark.parametrize("name", task_names())
def test_a_geosynth_sample_goes_through_every_member(name, tmp_path):
    task = get_task(name)
    s, images = _one_sample(name, tmp_path)
    frame = get_frame("norm1000")
    gold = f"<think>{task.rationale(s, frame)}</think>\n<answer>{task.target_answer(s, frame)}</answer>"
    right, wrong = task.score(s, gold, frame, num_tokens=50), task.score(s, "<answer>?</answer>", frame)
    assert set(task.DEFAULT_REWARDS) <= set(right["rewards"])
    assert right[task.ANSWER_FIELD] is not None and task.quality(right) > task.quality(wrong)
    if name != "gres":  # GRES's default box-fill segmenter is coarse on thin, rotated objects (IoU 0.47 here)
        assert right["rewards"][task.MAIN_REWARD] >= task.ENGINE_THRESHOLD  # the engine keeps the gold answer
        assert not task.is_failure(right)
    assert wrong[task.ANSWER_FIELD] is None and wrong["reason"] and task.is_failure(wrong) and task.quality(wrong) == 0
    metrics = task.aggregate([right, wrong])
    assert set(task.HEADLINE) <= set(metrics)
    for m in task.HEADLINE:
        value = task.per_sample(m)
        if value is not None:  # a mean over samples: the per-sample values average to the metric
            assert np.mean([value(right), value(wrong)]) == pytest.approx(metrics[m])
    parsed = task.parse(gold, s, frame)
    assert parsed.ok and isinstance(task.describe_answer(parsed.value), str) and task.describe(right)
    for answer, truth in ((parsed.value, True), (None, True), (parsed.value, False)):
        assert isinstance(task.draw(s, images, answer, truth=truth, max_side=96), Image.Image)
    assert isinstance(task.caption(s), str)
    asked = task.request(images, s.query or "x", [str(p) for p in s.images])
    assert asked.task == name and asked.width == images[0].width


def _task_literal(node) -> bool:
    return isinstance(node, ast.Constant) and node.value in task_names()


def _mentions_task(node) -> bool:
    return "task" in ast.unparse(node).lower()


def violations(source: str) -> list[str]:
    """Comparisons of a task with a task's name, and lists or tables of task names, in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            listed = [e for s in sides if isinstance(s, (ast.Tuple, ast.List, ast.Set)) for e in s.elts]
            if any(_task_literal(n) for n in sides + listed) and any(
                    _mentions_task(s) for s in sides if not _task_literal(s)):
                found.append(f"{line}: {ast.unparse(node)}")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
                _task_literal(e) for e in node.elts):
            found.append(f"{line}: a list of tasks {ast.unparse(node)}")
        elif isinstance(node, ast.Dict) and len(node.keys) >= 2 and all(_task_literal(k) for k in node.keys):
            found.append(f"{line}: a per-task table {ast.unparse(node)[:60]}")
    return found


def test_no_module_outside_the_tasks_branches_on_a_task_name():
    """Such branches belong in the task modules (and the few places named in ALLOWED)."""
    found = [f"{p.relative_to(SRC)}:{v}" for p in sorted(SRC.rglob("*.py"))
             if not str(p.relative_to(SRC)).startswith(ALLOWED) for v in violations(p.read_text())]
    assert not found, "\n".join(found)


def test_the_search_sees_the_forms_it_looks_for():
    code = ('if sample.task == "rec":\n    pass\nif task in ("rec", "ovd"):\n    pass\n'
            'if r["task"] != "geoloc":\n    pass\nTASKS = ("rec", "gres")\nHEAD = {"rec": 1, "ovd": 2}\n'
            'kind = "rec"\nif kind == "rec":\n    pass\n')
    assert violations(code) == ["1: sample.task == 'rec'", "3: task in ('rec', 'ovd')", "5: r['task'] != 'geoloc'",
                                "7: a list of tasks ('rec', 'gres')", "8: a per-task table {'rec': 1, 'ovd': 2}",
                                "3: a list of tasks ('rec', 'ovd')"]  # a corpus kind named like a task is no task

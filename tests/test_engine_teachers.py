"""The local transformers teacher (the built-in tiny model, batched, left-padded), the verifier
on every task, record ids and seeds, and the CLI's option parsing."""

from __future__ import annotations

import dataclasses
import json

import pytest
from PIL import Image

from geor1.coords import get_frame
from geor1.data.schema import Sample, write_dataset
from geor1.engine.cli import parse_thresholds, resolve_frame
from geor1.engine.run import (
    FAILURES_FILE,
    Engine,
    EngineConfig,
    Verifier,
    default_thresholds,
    request_seed,
    run_engine,
)
from geor1.engine.teachers import TransformersTeacher, image_data_url


def rec_dataset(root, queries):
    (root / "img").mkdir(parents=True)
    samples = []
    for i, q in enumerate(queries):
        Image.new("RGB", (64, 48), (40 * i, 120, 200)).save(root / f"img/{i}.png")
        samples.append(Sample(id=f"r{i}", task="rec", images=[f"img/{i}.png"], width=64, height=48, query=q,
                              category="ship", boxes=[[8, 8, 40, 24]], labels=["ship"], is_unique=True))
    write_dataset(root, samples)
    return samples


def test_transformers_teacher_batches_with_left_padding(tmp_path):
    rec_dataset(tmp_path / "data", ["the ship", "the large ship in the upper left of the harbour, next to the pier"])
    teacher = TransformersTeacher("tiny", batch_size=2, max_new_tokens=5, temperature=0)
    # The tiny model's processor resizes to 224 * 224 pixels; its answers are pixels of that input.
    assert teacher.frame.kind == "resized" and teacher.frame.min_pixels == teacher.frame.max_pixels == 224 * 224
    assert teacher.frame.extent(64, 64) == (224.0, 224.0)
    engine = Engine(teacher, tmp_path / "data", tmp_path / "out", teacher.frame, EngineConfig(tries=1))
    requests = [engine._request(engine._job(i), 0) for i in range(2)]
    batched = teacher.generate(requests)
    alone = [teacher.generate([r])[0] for r in requests]
    # Left padding keeps the shorter prompt's continuation identical to generating it alone.
    assert [r.text for r in batched] == [r.text for r in alone]
    assert all(r.ok and r.completion_tokens == 5 for r in batched)

    # Through the engine: an untrained model's replies are not in the think/answer format, so
    # every try is rejected, with that reason, and nothing is written as SFT data.
    summary = run_engine(teacher, tmp_path / "data", tmp_path / "out", teacher.frame,
                         EngineConfig(tries=2, concurrency=1, progress=False))
    assert summary["total"]["rejected"] == 2 and summary["total"]["accepted"] == 0
    assert summary["total"]["tries"] == 4
    failures = [json.loads(line) for line in (tmp_path / "out" / FAILURES_FILE).read_text().splitlines()]
    assert [f["id"] for f in failures] == ["r0", "r1"]
    assert all(t["reason"] == "not <think>…</think> <answer>…</answer>" for f in failures for t in f["tries"])


def _sample(task, **kw):
    base = {"id": "x", "task": task, "images": ["a.png"], "width": 200, "height": 100}
    return Sample(**{**base, **kw})


def test_verifier_uses_each_tasks_main_reward_and_threshold():
    v = Verifier({"rec": 0.7})
    frame = get_frame("pixels")
    rec = _sample("rec", query="the ship", category="ship", boxes=[[0, 0, 100, 100]], labels=["ship"])
    def answer(a, think="the ship is on the left"):
        return f"<think>{think}</think><answer>{a}</answer>"
    # IoU of [0,0,80,100] with [0,0,100,100] is 0.8 >= 0.7; [0,0,60,100] gives 0.6 < 0.7.
    ok = v(rec, answer('{"bbox_2d": [0, 0, 80, 100], "label": "ship"}'), frame)
    assert ok.accepted and ok.reward == pytest.approx(0.8)
    low = v(rec, answer('{"bbox_2d": [0, 0, 60, 100], "label": "ship"}'), frame)
    assert not low.accepted and low.reason == "rec_iou 0.600 < 0.7"
    assert v(rec, '{"bbox_2d": [0, 0, 100, 100]}', frame).reason == "not <think>…</think> <answer>…</answer>"
    assert v(rec, answer('{"bbox_2d": [0, 0, 100, 100]}', think=" "), frame).reason == "empty <think> block"
    garbled = v(rec, answer("somewhere left"), frame)
    assert not garbled.accepted and garbled.reward == 0.0 and garbled.reason.startswith("rec_iou 0.000 < 0.7 (")

    cv = Sample(id="c", task="crossview", images=["q.png", "a.png", "b.png"], width=10, height=10,
                choices=["A", "B"], answer="B")
    assert v(cv, answer("B"), frame).accepted                       # threshold 1.0: only the right letter
    assert v(cv, answer("A"), frame).reason == "mcq_accuracy 0.000 < 1"
    geo = _sample("geoloc", gps=[[48.8566, 2.3522]])
    assert v(geo, answer('{"lat": 48.85, "lon": 2.35}'), frame).accepted
    far = v(geo, answer('{"lat": -33.87, "lon": 151.21}'), frame)   # Sydney for Paris
    assert not far.accepted and far.reason.startswith("geo_score ")
    assert Verifier().thresholds == default_thresholds()


def test_seeds_and_ids_are_stable_and_distinct():
    assert request_seed(0, "s1", 0) == request_seed(0, "s1", 0)
    seeds = {request_seed(0, f"s{i}", t) for i in range(50) for t in range(4)}
    assert len(seeds) == 200 and all(0 <= s < 2 ** 31 for s in seeds)
    assert request_seed(1, "s1", 0) != request_seed(0, "s1", 0)


def test_image_data_url_keeps_bytes_or_resizes_to_the_frame(tmp_path):
    import base64
    import io

    path = tmp_path / "x.png"
    Image.new("RGB", (300, 200), (1, 2, 3)).save(path)
    url = image_data_url(path, get_frame("norm1000"))
    assert url == "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    resized = image_data_url(path, get_frame("qwen2.5-vl"))
    im = Image.open(io.BytesIO(base64.b64decode(resized.split(",", 1)[1])))
    assert im.size == (308, 196)
    jpg = tmp_path / "x.jpg"
    Image.new("RGB", (56, 56)).save(jpg)
    assert image_data_url(jpg, get_frame("qwen2.5-vl")).startswith("data:image/jpeg;base64,")


def test_cli_option_parsing():
    assert parse_thresholds(["rec=0.7", " gres = 0.25"]) == {"rec": 0.7, "gres": 0.25}
    for bad, msg in (("rec", "expected TASK=VALUE"), ("rec=high", "expected TASK=VALUE"),
                     ("vqa=0.5", "unknown task 'vqa'")):
        with pytest.raises(ValueError, match=msg):
            parse_thresholds([bad])
    assert resolve_frame("norm1000") == get_frame("norm1000")
    tiny = resolve_frame("tiny")   # the tiny model's processor: 224 * 224 pixel inputs
    assert tiny.kind == "resized" and tiny.extent(800, 800) == (224.0, 224.0)
    with pytest.raises(ValueError, match="neither a frame"):
        resolve_frame("norm42")


def test_engine_rejects_bad_configuration(tmp_path):
    rec_dataset(tmp_path / "data", ["the ship"])
    teacher = dataclasses.make_dataclass("T", [("name", str, "t"), ("batch_size", int, 1), ("frame", object, None)])()
    with pytest.raises(ValueError, match="tries must be at least 1"):
        Engine(teacher, tmp_path / "data", tmp_path / "out", get_frame("pixels"), EngineConfig(tries=0))
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['vqa'\]"):
        Engine(teacher, tmp_path / "data", tmp_path / "out", get_frame("pixels"), EngineConfig(thresholds={"vqa": 1}))

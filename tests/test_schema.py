import json
import os

import pytest
from PIL import Image

from geor1.data import Sample, SchemaError, load_dataset, write_dataset
from geor1.data.schema import validate_record


def _img(root, name="images/a.png", size=(64, 48)):
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(p)
    return name


def _records(root):
    a = _img(root, "images/a.png")
    g = _img(root, "images/g.png")
    c = [_img(root, f"images/c{i}.png") for i in range(4)]
    rle = {"size": [48, 64], "counts": "PPYo0"}
    return [
        dict(id="r1", task="rec", images=[a], width=64, height=48, query="the red ship", category="ship",
             boxes=[[1, 2, 30, 40]], labels=["ship"], is_unique=True, source="geosynth", split="train"),
        dict(id="o1", task="ovd", images=[a], width=64, height=48, query="ship", category="ship",
             boxes=[[1, 2, 30, 40], [31, 0, 64, 48]], labels=["ship", "ship"]),
        dict(id="o2", task="ovd", images=[a], width=64, height=48, query="airplane", category="airplane"),
        dict(id="s1", task="gres", images=[a], width=64, height=48, query="all ships", category="ship",
             boxes=[[0, 0, 10, 10]], labels=["ship"], masks=[rle]),
        dict(id="s2", task="gres", images=[a], width=64, height=48, query="the ship", category="ship",
             boxes=[[0, 0, 10, 10]], labels=["ship"], masks=[[[0, 0, 10, 0, 10, 10]]]),
        dict(id="x1", task="crossview", images=[g, *c], width=64, height=48, query="which?",
             choices=["A", "B", "C", "D"], answer="C", gps=[[48.85, 2.35], [48.85, 2.35], [51.5, -0.12], None, [0, 0]],
             times=["2024-06-01T12:00:00Z", None, None, None, None]),
        dict(id="g1", task="geoloc", images=[g], width=64, height=48, gps=[[-33.9, 151.2]],
             times=["2023-01-05T08:30:00+10:00"], meta={"city": "Sydney"}),
    ]


def test_round_trip_every_task(tmp_path):
    records = _records(tmp_path)
    write_dataset(tmp_path, records)
    ds = load_dataset(tmp_path)
    assert {s.task for s in ds} == {"rec", "ovd", "gres", "crossview", "geoloc"}
    for rec, s in zip(records, ds):
        full = Sample.from_dict(rec).to_dict()
        assert s.to_dict() == full
        assert Sample.from_dict(json.loads(s.to_json())) == s
    assert ds.image_path(ds[5], 3) == (tmp_path / "images/c2.png").resolve()


@pytest.mark.parametrize("change, field, text", [
    (lambda r: r.pop("width"), "width", "missing required field"),
    (lambda r: r.update(width="64"), "width", "expected an integer"),
    (lambda r: r.update(task="caption"), "task", "unknown task 'caption'"),
    (lambda r: r.update(boxes=[[1, 2, 80, 40]]), "boxes[0]", "outside the 64x48 image"),
    (lambda r: r.update(boxes=[[30, 2, 1, 40]]), "boxes[0]", "x2 (1) < x1 (30)"),
    (lambda r: r.update(boxes=[[1, 40, 30, 2]]), "boxes[0]", "y2 (2) < y1 (40)"),
    (lambda r: r.update(boxes=[[1, 2, 30]]), "boxes[0]", "4 finite numbers"),
    (lambda r: r.update(boxes=[[1, 2, 30, float("nan")]]), "boxes[0]", "4 finite numbers"),
    (lambda r: r.update(gps=[[91.0, 0.0]]), "gps[0]", "latitude 91.0 outside [-90, 90]"),
    (lambda r: r.update(gps=[[0.0, -180.5]]), "gps[0]", "longitude -180.5 outside [-180, 180]"),
    (lambda r: r.update(times=["yesterday"]), "times[0]", "not ISO 8601"),
    (lambda r: r.update(labels=["a", "b"]), "labels", "2 labels for 1 boxes"),
    (lambda r: r.update(is_unique="yes"), "is_unique", "true, false or null"),
    (lambda r: r.update(colour="red"), "colour", "unknown field"),
    (lambda r: r.update(answer="Z", choices=["A", "B"]), "answer", "not one of the choices"),
    (lambda r: r.update(masks=[{"size": [48], "counts": "x"}]), "masks[0]", "RLE mask needs 'size'"),
])
def test_bad_record_names_file_line_field(tmp_path, change, field, text):
    records = _records(tmp_path)
    write_dataset(tmp_path, records)
    lines = (tmp_path / "data.jsonl").read_text().splitlines()
    bad = json.loads(lines[0])
    change(bad)
    lines[0] = json.dumps(bad)
    (tmp_path / "data.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError) as e:
        load_dataset(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'data.jsonl'}:1: field '{field}': "), msg
    assert text in msg
    assert e.value.line == 1 and e.value.field == field


def test_escaping_paths_are_rejected(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    _img(root)
    outside = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(outside)
    os.symlink(outside, root / "link.png")
    base = dict(id="r", task="rec", width=64, height=48)
    for path, text in [("../secret.png", "escapes the dataset root"), (str(outside), "absolute path"),
                       ("images/../../secret.png", "escapes the dataset root"), ("link.png", "outside the dataset root")]:
        (root / "data.jsonl").write_text(json.dumps({**base, "images": [path]}) + "\n")
        with pytest.raises(SchemaError, match=text) as e:
            load_dataset(root)
        assert e.value.field == "images[0]" and e.value.line == 1


def test_missing_image_and_bad_json(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"id": "a", "task": "rec", "images": ["nope.png"], "width": 4, "height": 4}\n')
    with pytest.raises(SchemaError, match="image 'nope.png' not found"):
        load_dataset(tmp_path)
    (tmp_path / "data.jsonl").write_text('{"id": "a",\n')
    with pytest.raises(SchemaError, match=r"data.jsonl:1: not valid JSON"):
        load_dataset(tmp_path)


def test_skip_invalid_reports_every_skip(tmp_path):
    records = _records(tmp_path)
    records[1]["boxes"] = [[5, 5, 1, 1], [31, 0, 64, 48]]
    records.append(dict(records[0]))  # duplicate id
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    ds = load_dataset(tmp_path, skip_invalid=True)
    assert len(ds) == len(records) - 2
    assert len(ds.skipped) == 2
    assert ds.skipped[0].startswith(f"{path}:2: field 'boxes[0]'")
    assert "duplicate id 'r1'" in ds.skipped[1] and f"{path}:8:" in ds.skipped[1]


def test_task_specific_requirements():
    base = dict(id="x", images=["a.png"], width=4, height=4)
    with pytest.raises(SchemaError, match="needs the position") as e:
        validate_record({**base, "task": "geoloc"})
    assert e.value.field == "gps"
    with pytest.raises(SchemaError, match="choices and an answer"):
        validate_record({**base, "task": "crossview"})
    with pytest.raises(SchemaError, match="1 query image \\+ 2 candidates"):
        validate_record({**base, "task": "crossview", "choices": ["A", "B"], "answer": "A"})
    with pytest.raises(SchemaError, match="missing required field"):
        validate_record({"task": "rec"})


def test_write_dataset_refuses_bad_records(tmp_path):
    with pytest.raises(SchemaError, match="record 0 .* field 'width'"):
        write_dataset(tmp_path, [dict(id="a", task="rec", images=["a.png"], width=0, height=3)])
    assert not (tmp_path / "data.jsonl").exists()

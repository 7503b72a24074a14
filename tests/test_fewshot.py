"""Few-shot splits: nested, reproducible, per category, with a report; VRSBench-FS structure."""

import argparse
import json

import pytest
from PIL import Image

from geor1 import cli
from geor1.data.fewshot import fewshot_splits, parse_shots, write_fewshot
from geor1.data.schema import Sample, load_dataset, write_dataset

VRSBENCH_CLASSES = ["dam", "storage-tank", "ground-track-field", "overpass", "baseball-diamond", "tennis-court",
                    "vehicle", "basketball-court", "golffield", "harbor", "expressway-service-area", "chimney",
                    "trainstation", "windmill", "expressway-toll-station", "ship", "airport", "bridge", "airplane",
                    "stadium", "soccer-ball-field", "roundabout", "swimming-pool", "helicopter", "container-crane",
                    "helipad"]


def rec_samples(per_class, images=None):
    out = []
    for c, n in per_class.items():
        for i in range(n):
            img = images[(len(out)) % len(images)] if images else "a.png"
            out.append(Sample(id=f"{c}-{i}", task="rec", images=[img], width=10, height=10, query=f"the {c} {i}",
                              category=c, boxes=[[1, 1, 5, 5]]))
    return out


def test_vrsbench_fs_structure():
    samples = rec_samples({c: 12 + i % 5 for i, c in enumerate(VRSBENCH_CLASSES)})
    chosen, report = fewshot_splits(samples, [10, 1, 5], seed=3)
    assert report["counts"] == {1: 26, 5: 130, 10: 260} and report["too_few"] == {}
    for k in (1, 5, 10):
        per_class = {c: sum(s.category == c for s in chosen[k]) for c in VRSBENCH_CLASSES}
        assert set(per_class.values()) == {k}
    ids = {k: {s.id for s in v} for k, v in chosen.items()}
    assert ids[1] < ids[5] < ids[10]  # nested


def test_reproducible_and_seed_dependent():
    samples = rec_samples({"ship": 30, "dam": 30})
    a = [s.id for s in fewshot_splits(samples, [5], seed=1)[0][5]]
    b = [s.id for s in fewshot_splits(list(reversed(samples)), [5], seed=1)[0][5]]
    c = [s.id for s in fewshot_splits(samples, [5], seed=2)[0][5]]
    assert sorted(a) == sorted(b)  # the pick depends on ids and seed, not on record order
    assert sorted(a) != sorted(c)
    # a category's pick does not depend on the other categories
    only_ship = [s.id for s in fewshot_splits(rec_samples({"ship": 30}), [5], seed=1)[0][5]]
    assert only_ship == [i for i in a if i.startswith("ship")]


def test_report_too_few_missing_and_uncategorized():
    samples = rec_samples({"ship": 10, "dam": 3})
    samples.append(Sample(id="x", task="rec", images=["a.png"], width=10, height=10, boxes=[[1, 1, 5, 5]]))
    _, report = fewshot_splits(samples, [1, 5], seed=0, categories=["ship", "dam", "helipad"])
    assert report["too_few"] == {"dam": 3} and report["missing"] == ["helipad"] and report["no_category"] == 1
    assert report["counts"] == {1: 2, 5: 8}  # dam gives all 3 it has
    assert report["available"] == {"dam": 3, "ship": 10}


def test_parse_shots():
    assert parse_shots("10,1,5,5") == [1, 5, 10]
    with pytest.raises(argparse.ArgumentTypeError, match="positive"):
        parse_shots("0,5")
    with pytest.raises(argparse.ArgumentTypeError, match="integers"):
        parse_shots("a")


def test_cli_writes_loadable_datasets(tmp_path, capsys):
    data = tmp_path / "data"
    names = ["img0.png", "img1.png", "img2.png"]
    for n in names:
        (data / "images").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (10, 10)).save(data / "images" / n)
    write_dataset(data, rec_samples({"ship": 7, "dam": 2}, images=[f"images/{n}" for n in names]))
    out = tmp_path / "fs"
    assert cli.main(["fewshot", str(data), "--shots", "1,5", "--seed", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1-shot: 2 samples" in printed and "5-shot: 7 samples" in printed and "too few: 'dam' has 2" in printed
    one, five = load_dataset(out / "1shot"), load_dataset(out / "5shot")  # images are inside each root
    assert {s.id for s in one} < {s.id for s in five}
    report = json.loads((out / "report.json").read_text())
    assert report["seed"] == 4 and report["too_few"] == {"dam": 2}
    again = write_fewshot(load_dataset(data), tmp_path / "fs2", [1, 5], 4)
    assert again["counts"] == {1: 2, 5: 7}
    assert (tmp_path / "fs2" / "5shot" / "data.jsonl").read_text() == (out / "5shot" / "data.jsonl").read_text()

"""Converters for VRSBench, DIOR-RSVG, NWPU VHR-10, RRSIS-D and EarthReason, each run on a tiny
fixture written in the dataset's real on-disk format, then on a broken copy; and the CLI."""

import json
import os
import pickle
import shutil

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from geor1 import cli
from geor1.data.converters import get_converter
from geor1.data.schema import SchemaError, load_dataset
from geor1.tasks import gres


def image(path, w, h, color=(90, 120, 60)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), color).save(path)


# ---------------------------------------------------------------------------------------------
# VRSBench

VRS_RECORDS = [
    {"image_id": "00012_0000.png", "question": "The small white vehicle at the top left.",
     "ground_truth": "{<12><5><18><11>}", "dataset": "RSBench", "question_id": 0, "type": "ref", "unique": True,
     "obj_corner": [0.12, 0.05, 0.18, 0.05, 0.18, 0.11, 0.12, 0.11], "obj_cls": "vehicle", "obj_ids": [0],
     "size_group": "small"},
    {"image_id": "00012_0000.png", "question": "The ship docked on the right.", "ground_truth": "{<60><40><95><70>}",
     "dataset": "RSBench", "question_id": 1, "type": "ref", "unique": False,
     "obj_corner": [0.6, 0.4, 0.95, 0.4, 0.95, 0.7, 0.6, 0.7], "obj_cls": "Ship", "obj_ids": [0],
     "size_group": "large"},
    {"image_id": "00013_0001.png", "question": "The bridge across the river.", "ground_truth": "{<92><0><96><0>}",
     "dataset": "RSBench", "question_id": 2, "type": "ref", "unique": True,
     "obj_corner": [0.92, 0.0, 0.96, 0.0, 0.96, 0.001, 0.92, 0.001], "obj_cls": "bridge", "obj_ids": [0],
     "size_group": "small"},
]


@pytest.fixture
def vrsbench(tmp_path):
    src = tmp_path / "VRSBench"
    src.mkdir()
    (src / "VRSBench_EVAL_referring.json").write_text(json.dumps(VRS_RECORDS, indent=4))
    image(src / "Images_val" / "00012_0000.png", 200, 100)
    image(src / "Images_val" / "00013_0001.png", 200, 100)
    return src


def test_vrsbench(vrsbench, tmp_path):
    out = tmp_path / "out"
    assert get_converter("vrsbench")(vrsbench, out) == 3
    ds = load_dataset(out)
    a, b, c = ds.samples
    assert a.task == "rec" and a.id == "vrsbench-0" and a.images == ["images/00012_0000.png"]
    assert (a.width, a.height) == (200, 100)
    assert a.boxes == [[24.0, 5.0, 36.0, 11.0]]  # 0-100 scaled to 200x100 pixels
    assert a.query == "The small white vehicle at the top left." and a.category == "vehicle" and a.is_unique is True
    assert b.category == "ship" and b.is_unique is False and b.split == "eval"
    assert b.meta["obj_corner_px"][:2] == pytest.approx([120.0, 40.0])
    assert c.meta.get("degenerate_box") is True and "degenerate_box" not in a.meta
    assert os.path.samefile(out / "images" / "00012_0000.png", vrsbench / "Images_val" / "00012_0000.png")


def test_vrsbench_broken(vrsbench, tmp_path):
    bad = [dict(r) for r in VRS_RECORDS]
    bad[1]["ground_truth"] = "{<60><40><95>}"
    (vrsbench / "VRSBench_EVAL_referring.json").write_text(json.dumps(bad))
    with pytest.raises(SchemaError, match=r"VRSBench_EVAL_referring\.json: record 1, field 'ground_truth'"):
        get_converter("vrsbench")(vrsbench, tmp_path / "out")
    bad[1] = dict(VRS_RECORDS[1], unique="yes")
    (vrsbench / "VRSBench_EVAL_referring.json").write_text(json.dumps(bad))
    with pytest.raises(SchemaError, match=r"record 1, field 'unique'"):
        get_converter("vrsbench")(vrsbench, tmp_path / "out")
    bad[1] = dict(VRS_RECORDS[1], question_id=0)
    (vrsbench / "VRSBench_EVAL_referring.json").write_text(json.dumps(bad))
    with pytest.raises(SchemaError, match=r"record 1, field 'question_id': question_id 0 repeats record 0"):
        get_converter("vrsbench")(vrsbench, tmp_path / "out")
    (vrsbench / "VRSBench_EVAL_referring.json").write_text('[{"image_id": ')
    with pytest.raises(SchemaError, match="not valid JSON"):
        get_converter("vrsbench")(vrsbench, tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# DIOR-RSVG

def dior_xml(filename, objects, w=80, h=80):
    objs = "".join(
        f"""
  <object>
    <name>{name}</name>
    <pose>Unspecified</pose>
    <bndbox>
      <xmin>{b[0]}</xmin>
      <ymin>{b[1]}</ymin>
      <xmax>{b[2]}</xmax>
      <ymax>{b[3]}</ymax>
    </bndbox>
    <description>{desc}</description>
  </object>""" for name, b, desc in objects)
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<annotation>
  <filename>{filename}</filename>
  <source>
    <database>DIOR</database>
  </source>
  <size>
    <width>{w}</width>
    <height>{h}</height>
    <depth>3</depth>
  </size>
  <segmented>0</segmented>{objs}
</annotation>"""


@pytest.fixture
def dior(tmp_path):
    src = tmp_path / "DIOR_RSVG"
    (src / "Annotations").mkdir(parents=True)
    files = {
        "00001": [("golffield", (13, 23, 68, 67), "A green and brown golf field")],
        "00002": [("vehicle", (1, 2, 9, 8), "The vehicle on the left"), ("vehicle", (40, 2, 48, 8), "The right vehicle"),
                  ("storagetank", (20, 30, 35, 45), "A white storage tank")],
        "00003": [("dam", (5, 5, 79, 81), "The long dam")],  # ymax overshoots the 80-pixel image
    }
    for stem, objs in files.items():
        (src / "Annotations" / f"{stem}.xml").write_text(dior_xml(f"{stem}.jpg", objs))
        image(src / "JPEGImages" / f"{stem}.jpg", 80, 80)
    # global object indices: 00001 -> 0; 00002 -> 1, 2, 3; 00003 -> 4
    (src / "train.txt").write_text("0\n2\n4\n")
    (src / "val.txt").write_text("3\n")
    (src / "test.txt").write_text("1\n")
    return src


def test_dior_rsvg(dior, tmp_path):
    out = tmp_path / "out"
    assert get_converter("dior-rsvg")(dior, out) == 5
    ds = {s.id: s for s in load_dataset(out)}
    s = ds["dior-rsvg-00002"]  # global index 2 is the second object of 00002.xml
    assert s.query == "The right vehicle" and s.boxes == [[40.0, 2.0, 48.0, 8.0]] and s.split == "train"
    assert s.images == ["images/00002.jpg"] and s.category == "vehicle" and s.is_unique is None
    assert ds["dior-rsvg-00001"].split == "test" and ds["dior-rsvg-00003"].category == "storagetank"
    assert ds["dior-rsvg-00004"].boxes == [[5.0, 5.0, 79.0, 80.0]]  # clipped to the image
    assert get_converter("dior-rsvg")(dior, tmp_path / "test", split="test") == 1


def test_dior_rsvg_broken(dior, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(dior, broken)
    text = (broken / "Annotations" / "00002.xml").read_text()
    (broken / "Annotations" / "00002.xml").write_text(text.replace("<xmin>40</xmin>", "<xmin>forty</xmin>"))
    with pytest.raises(SchemaError, match=r"00002\.xml: record object 1, field 'bndbox'"):
        get_converter("dior-rsvg")(broken, tmp_path / "out")
    (broken / "Annotations" / "00002.xml").write_text(text.replace("<description>The right vehicle</description>", ""))
    with pytest.raises(SchemaError, match=r"00002\.xml: record object 1, field 'description'"):
        get_converter("dior-rsvg")(broken, tmp_path / "out")
    (broken / "Annotations" / "00002.xml").write_text(text[:200])
    with pytest.raises(SchemaError, match=r"00002\.xml: not valid XML"):
        get_converter("dior-rsvg")(broken, tmp_path / "out")
    (broken / "Annotations" / "00002.xml").write_text(text)
    (broken / "val.txt").write_text("3\n9\n")
    with pytest.raises(SchemaError, match=r"val\.txt.*index 9 but the annotations hold only 5"):
        get_converter("dior-rsvg")(broken, tmp_path / "out")
    (broken / "val.txt").write_text("3\nx\n")
    with pytest.raises(SchemaError, match=r"val\.txt:2: expected an object index"):
        get_converter("dior-rsvg")(broken, tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# NWPU VHR-10

@pytest.fixture
def nwpu(tmp_path):
    src = tmp_path / "NWPU VHR-10 dataset"
    gt = src / "ground truth"
    gt.mkdir(parents=True)
    (gt / "001.txt").write_text("(10,12),(30,28),1\n(40,40),(60,55),1\n(5,60),(20,75),10\n\n")
    (gt / "002.txt").write_text("(0,0),(25,25),3\r\n")
    image(src / "positive image set" / "001.jpg", 80, 80)
    image(src / "positive image set" / "002.jpg", 64, 48)
    image(src / "negative image set" / "001.jpg", 80, 80)
    return src


def test_nwpu(nwpu, tmp_path):
    out = tmp_path / "out"
    assert get_converter("nwpu-vhr10")(nwpu, out) == 3
    ds = {s.id: s for s in load_dataset(out)}
    a = ds["nwpu-001-airplane"]
    assert a.task == "ovd" and a.category == "airplane" and a.query == "airplane"
    assert a.boxes == [[10, 12, 30, 28], [40, 40, 60, 55]] and a.labels == ["airplane"] * 2
    assert ds["nwpu-001-vehicle"].boxes == [[5, 60, 20, 75]]
    assert ds["nwpu-002-storage_tank"].images == ["images/positive/002.jpg"]
    assert (ds["nwpu-002-storage_tank"].width, ds["nwpu-002-storage_tank"].height) == (64, 48)
    n = get_converter("nwpu-vhr10")(nwpu, tmp_path / "neg", negatives=True, categories="airplane,ship")
    neg = {s.id: s for s in load_dataset(tmp_path / "neg")}
    assert n == 6 and set(neg) == {"nwpu-001-airplane", "nwpu-001-ship", "nwpu-002-airplane", "nwpu-002-ship",
                                   "nwpu-neg001-airplane", "nwpu-neg001-ship"}
    assert neg["nwpu-002-ship"].boxes == [] and neg["nwpu-neg001-ship"].images == ["images/negative/001.jpg"]


def test_nwpu_broken(nwpu, tmp_path):
    (nwpu / "ground truth" / "002.txt").write_text("(0,0),(25,25),3\n(1,2),(3,4)\n")
    with pytest.raises(SchemaError, match=r"002\.txt:2: expected '\(x1,y1\),\(x2,y2\),class'"):
        get_converter("nwpu-vhr10")(nwpu, tmp_path / "out")
    (nwpu / "ground truth" / "002.txt").write_text("(0,0),(25,25),11\n")
    with pytest.raises(SchemaError, match=r"002\.txt:1: class 11"):
        get_converter("nwpu-vhr10")(nwpu, tmp_path / "out")
    with pytest.raises(ValueError, match="unknown NWPU VHR-10 classes"):
        get_converter("nwpu-vhr10")(nwpu, tmp_path / "out", categories="boat")


# ---------------------------------------------------------------------------------------------
# RRSIS-D (refcoco style)

def rrsisd_files(src, refs, anns, w=60, h=50):
    (src / "rrsisd").mkdir(parents=True, exist_ok=True)
    with open(src / "rrsisd" / "refs(unc).p", "wb") as f:
        pickle.dump(refs, f, protocol=2)
    instances = {"images": [{"id": 1, "file_name": "00001.jpg", "width": w, "height": h},
                            {"id": 2, "file_name": "00002.jpg", "width": w, "height": h}],
                 "annotations": anns,
                 "categories": [{"id": 1, "name": "airplane"}, {"id": 2, "name": "vehicle"}]}
    (src / "rrsisd" / "instances.json").write_text(json.dumps(instances))
    for name in ("00001.jpg", "00002.jpg"):
        image(src / "images" / "rrsisd" / "JPEGImages" / name, w, h)


def sentence(i, text):
    return {"tokens": text.split(), "raw": text + " ", "sent_id": i, "sent": text.lower()}


@pytest.fixture
def rrsisd(tmp_path):
    src = tmp_path / "RRSIS-D"
    m = np.zeros((50, 60), dtype=np.uint8)
    m[30:40, 10:30] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    anns = [{"id": 11, "image_id": 1, "category_id": 1, "bbox": [5, 6, 20, 10], "area": 200, "iscrowd": 0,
             "segmentation": [[5, 6, 25, 6, 25, 16, 5, 16]]},
            {"id": 12, "image_id": 2, "category_id": 2, "bbox": [10, 30, 20, 10], "area": 200, "iscrowd": 0,
             "segmentation": {"size": [50, 60], "counts": rle["counts"].decode("ascii")}},
            {"id": 13, "image_id": 2, "category_id": 2, "bbox": [40, 5, 10, 10], "area": 100, "iscrowd": 0,
             "segmentation": [[40, 5, 50, 5, 50, 15, 40, 15], [1, 1, 2, 2]]}]  # 2nd polygon degenerate
    refs = [
        {"sent_ids": [0, 1], "file_name": "00001_11.jpg", "ann_id": 11, "ref_id": 0, "image_id": 1, "split": "train",
         "sentences": [sentence(0, "The airplane at the top"), sentence(1, "A white plane")], "category_id": 1},
        {"sent_ids": [2], "file_name": "00002_12.jpg", "ann_id": 12, "ref_id": 1, "image_id": 2, "split": "test",
         "sentences": [sentence(2, "The vehicle at the bottom")], "category_id": 2},
        {"sent_ids": [3], "file_name": "00002.jpg", "ann_id": [12, 13], "ref_id": 2, "image_id": 2, "split": "val",
         "sentences": [sentence(3, "All vehicles")], "category_id": 2},
        {"sent_ids": [4], "file_name": "00002.jpg", "ann_id": [-1], "ref_id": 3, "image_id": 2, "split": "val",
         "sentences": [sentence(4, "The airplane")], "category_id": 1, "no_target": True},
    ]
    rrsisd_files(src, refs, anns)
    return src


def test_rrsisd(rrsisd, tmp_path):
    out = tmp_path / "out"
    assert get_converter("rrsis-d")(rrsisd, out) == 5
    ds = {s.id: s for s in load_dataset(out)}
    a = ds["rrsis-d-0-0"]
    assert a.task == "gres" and a.query == "The airplane at the top" and a.category == "airplane"
    assert a.boxes == [[5.0, 6.0, 25.0, 16.0]] and a.masks == [[[5.0, 6.0, 25.0, 6.0, 25.0, 16.0, 5.0, 16.0]]]
    assert ds["rrsis-d-0-1"].query == "A white plane" and a.split == "train"
    b = ds["rrsis-d-1-2"]
    assert gres.target_mask(b).sum() == 200 and gres.target_mask(b)[30:40, 10:30].all()
    multi = ds["rrsis-d-2-3"]
    assert len(multi.boxes) == 2 and len(multi.masks[1]) == 1  # the degenerate polygon is dropped
    none = ds["rrsis-d-3-4"]
    assert none.boxes == [] and none.masks == [] and none.meta["no_target"] is True
    assert get_converter("rrsis-d")(rrsisd, tmp_path / "val", split="val") == 2


def test_rrsisd_broken(rrsisd, tmp_path):
    refs_path = rrsisd / "rrsisd" / "refs(unc).p"
    with open(refs_path, "rb") as f:
        refs = pickle.load(f)
    refs[1]["ann_id"] = 99
    with open(refs_path, "wb") as f:
        pickle.dump(refs, f)
    with pytest.raises(SchemaError, match=r"refs\(unc\)\.p: record 1, field 'ann_id': annotation 99"):
        get_converter("rrsis-d")(rrsisd, tmp_path / "out")
    with open(refs_path, "wb") as f:
        pickle.dump([{"ref_id": 0, "evil": os.system}], f)  # a pickle that refers to a function
    with pytest.raises(SchemaError, match="only plain data is read"):
        get_converter("rrsis-d")(rrsisd, tmp_path / "out")
    with pytest.raises(SchemaError, match=r"no rrsisd/refs\(google\)\.p"):
        get_converter("rrsis-d")(rrsisd, tmp_path / "out", split_by="google")


# ---------------------------------------------------------------------------------------------
# EarthReason (RSReasonSeg layout)

@pytest.fixture
def earthreason(tmp_path):
    src = tmp_path / "RSReasonSeg"
    m = np.zeros((40, 50), dtype=np.uint8)
    m[5:15, 5:20] = 255
    m[30:35, 40:48] = 255  # two regions in one label
    for split, stem, mask, qa in [
        ("train", "0001", m, {"questions": ["Where could a plane land?", "Which area is for planes?"],
                              "answer": ["The runway."], "category": "airport"}),
        ("train", "0002", np.zeros((40, 50), np.uint8), {"questions": ["Where are the ships?"], "answer": []}),
        ("val", "0007", m, {"questions": ["Where is the water stored?"], "answer": ["The tanks."], "class": "tank"}),
    ]:
        image(src / split / "images" / f"{stem}.jpg", 50, 40)
        (src / split / "labels").mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(src / split / "labels" / f"{stem}.png")
        (src / split / "QAs").mkdir(parents=True, exist_ok=True)
        (src / split / "QAs" / f"{stem}.json").write_text(json.dumps(qa))
    return src


def test_earthreason(earthreason, tmp_path):
    out = tmp_path / "out"
    assert get_converter("earthreason")(earthreason, out) == 3
    ds = {s.id: s for s in load_dataset(out)}
    a = ds["earthreason-train-0001"]
    assert a.task == "gres" and a.query == "Where could a plane land?" and a.category == "airport"
    assert a.boxes == [[5.0, 5.0, 48.0, 35.0]] and a.meta["answer"] == "The runway."
    assert gres.target_mask(a).sum() == 150 + 40
    none = ds["earthreason-train-0002"]
    assert none.boxes == [] and none.masks == [] and none.meta["no_target"] and none.category is None
    assert ds["earthreason-val-0007"].category == "tank" and ds["earthreason-val-0007"].split == "val"
    assert get_converter("earthreason")(earthreason, tmp_path / "all", split="train", all_questions=True) == 3


def test_earthreason_broken(earthreason, tmp_path):
    (earthreason / "train" / "QAs" / "0002.json").write_text(json.dumps({"question": "typo"}))
    with pytest.raises(SchemaError, match=r"0002\.json: field 'questions'"):
        get_converter("earthreason")(earthreason, tmp_path / "out")
    (earthreason / "train" / "QAs" / "0002.json").write_text(json.dumps({"questions": ["q"], "answer": []}))
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(earthreason / "train" / "labels" / "0002.png")
    with pytest.raises(SchemaError, match=r"0002\.png: label is 10x10, its image 50x40"):
        get_converter("earthreason")(earthreason, tmp_path / "out")
    with pytest.raises(SchemaError, match="neither"):
        get_converter("earthreason")(tmp_path / "nothing-here", tmp_path / "out")


def test_earthreason_refcoco_layout(rrsisd, tmp_path):
    src = tmp_path / "EarthReason-refcoco"
    shutil.copytree(rrsisd / "rrsisd", src / "earthreason")
    shutil.copytree(rrsisd / "images" / "rrsisd" / "JPEGImages", src / "images")
    assert get_converter("earthreason")(src, tmp_path / "out") == 5
    assert {s.source for s in load_dataset(tmp_path / "out")} == {"earthreason"}


# ---------------------------------------------------------------------------------------------
# CLI

def test_cli_convert_and_validate(nwpu, tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli.main(["convert", "nwpu-vhr10", str(nwpu), "--out", str(out), "--option", "negatives=true",
                     "--option", "categories=airplane"]) == 0
    assert "wrote 3 samples" in capsys.readouterr().out
    assert cli.main(["validate", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 samples" in printed and "ovd: 3" in printed and "airplane: 3" in printed
    assert cli.main(["convert", "nwpu-vhr10", str(nwpu), "--out", str(out), "--option", "colour=red"]) == 2
    assert "has no option colour" in capsys.readouterr().err
    assert cli.main(["convert", "nwpu-vhr10", "--help-format"]) == 0
    assert "(x1,y1),(x2,y2),class" in capsys.readouterr().out


def test_cli_convert_reports_bad_input(dior, tmp_path, capsys):
    (dior / "test.txt").write_text("1\n1\n")
    assert cli.main(["convert", "dior-rsvg", str(dior), "--out", str(tmp_path / "o"), "--split", "test"]) == 1
    assert "test.txt:2: object index 1 is listed in test.txt too" in capsys.readouterr().err


def test_cli_validate_reports_bad_records(tmp_path, capsys):
    image(tmp_path / "d" / "a.png", 10, 10)
    good = {"id": "a", "task": "rec", "images": ["a.png"], "width": 10, "height": 10, "boxes": [[1, 1, 5, 5]]}
    bad = dict(good, id="b", boxes=[[1, 1, 50, 5]])
    (tmp_path / "d" / "data.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    assert cli.main(["validate", str(tmp_path / "d")]) == 1
    assert "data.jsonl:2: field 'boxes[0]'" in capsys.readouterr().err
    assert cli.main(["validate", str(tmp_path / "d"), "--skip-invalid"]) == 1
    captured = capsys.readouterr()
    assert "1 samples" in captured.out and "1 invalid records skipped" in captured.err

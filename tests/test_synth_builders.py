"""GeoSynth datasets: `geor1 synth` writes what the schema loader accepts, annotations match the scenes,
same seed gives the same bytes."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from geor1.cli import main
from geor1.data import load_dataset
from geor1.synth import HELD_OUT, builders, make_sample


def _digest(folder):
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    out = {}
    for task, n in (("rec", 12), ("ovd", 12), ("gres", 16)):
        assert main(["synth", task, "--n", str(n), "--seed", "3", "--out", str(root / task)]) == 0
        out[task] = load_dataset(root / task)
    return out


def test_cli_writes_datasets_the_schema_loader_accepts(datasets):
    for task, ds in datasets.items():
        assert len(ds) == {"rec": 12, "ovd": 12, "gres": 16}[task] and not ds.skipped
        for s in ds:
            assert s.task == task and s.source == "geosynth-A" and s.images == [f"images/{s.id[-6:]}.png"]
            with Image.open(ds.image_path(s)) as im:
                assert im.size == (s.width, s.height) == (448, 448) and im.mode == "RGB"
            assert s.meta["seed"] == 3 and "scene" in s.meta and "expression" in s.meta


def test_boxes_are_the_scene_graph_boxes_of_the_targets(datasets):
    for ds in datasets.values():
        for s in ds:
            nodes = {o["id"]: o for o in s.meta["scene"]["objects"]}
            assert s.boxes == [nodes[i]["bbox"] for i in s.meta["target_ids"]]
            assert s.labels == [nodes[i]["category"] for i in s.meta["target_ids"]]
            assert all(lab == s.category for lab in s.labels)


def test_ovd_lists_every_instance_and_absent_queries(datasets):
    absent = 0
    for s in datasets["ovd"]:
        instances = sorted(o["id"] for o in s.meta["scene"]["objects"] if o["category"] == s.query)
        assert sorted(s.meta["target_ids"]) == instances
        absent += not instances
        assert s.is_unique is None and not s.masks
    assert 0 < absent < len(datasets["ovd"])


def test_gres_masks_decode_to_their_boxes(datasets):
    kinds = set()
    for s in datasets["gres"]:
        assert len(s.masks) == len(s.boxes)
        kinds.add(min(len(s.boxes), 2))
        for rle, box in zip(s.masks, s.boxes):
            m = mask_utils.decode([{"size": rle["size"], "counts": rle["counts"].encode()}])[:, :, 0]
            assert m.shape == (s.height, s.width)
            ys, xs = np.nonzero(m)
            assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == box
    assert kinds == {0, 1, 2}


def test_gres_masks_are_the_scene_masks(monkeypatch):
    scenes = []
    real = builders.make_scene

    def recording_make_scene(*args, **kwargs):  # the real renderer, with its output kept for the check
        scene = real(*args, **kwargs)
        scenes.append(scene)
        return scene

    monkeypatch.setattr(builders, "make_scene", recording_make_scene)
    for i in range(10):
        s, (image,) = make_sample("gres", 50 + i, size=224, style="AB"[i % 2])
        scene = scenes[-1]
        assert image is scene.image
        for rle, tid in zip(s.masks, s.meta["target_ids"]):
            decoded = mask_utils.decode([{"size": rle["size"], "counts": rle["counts"].encode()}])[
                :, :, 0
            ].astype(bool)
            assert np.array_equal(decoded, scene.objects[tid].mask)
            assert (scene.instance_map()[decoded] == tid).all()


def test_same_seed_same_bytes_and_samples_independent_of_n(tmp_path):
    args = ["synth", "gres", "--size", "224"]
    for name, n, seed in (("a", 4, 11), ("c", 6, 11), ("d", 4, 12)):
        main([*args, "--n", str(n), "--seed", str(seed), "--out", str(tmp_path / name)])
    # the same command in a fresh process (nothing cached) writes the same bytes, and so do two workers
    fresh = f"{sys.executable} -m geor1.cli synth gres --size 224 --n 4 --seed 11 --out {tmp_path / 'b'}"
    subprocess.run(fresh.split(), check=True, capture_output=True)
    main([*args, "--n", "4", "--seed", "11", "--workers", "2", "--out", str(tmp_path / "e")])
    assert _digest(tmp_path / "e") == _digest(tmp_path / "b")
    a, b, c, d = (_digest(tmp_path / x) for x in "abcd")
    assert a == b
    assert a != d
    # sample i depends only on (seed, task, style, i): the first 4 of 6 are the 4 of a
    assert all(c[k] == v for k, v in a.items() if k.startswith("images/"))
    lines_a = (tmp_path / "a" / "data.jsonl").read_text().splitlines()
    lines_c = (tmp_path / "c" / "data.jsonl").read_text().splitlines()
    assert lines_c[:4] == lines_a


def test_style_b_and_held_out_categories(tmp_path):
    main(
        f"synth rec --n 6 --style B --size 224 --categories held-out --split fewshot --out {tmp_path}".split()
    )
    ds = load_dataset(tmp_path)
    for s in ds:
        assert s.source == "geosynth-B" and s.split == "fewshot" and s.width == 224
        assert s.category in HELD_OUT
        assert {o["category"] for o in s.meta["scene"]["objects"]} <= set(HELD_OUT)


def test_cli_categories_by_name(tmp_path):
    main(f"synth ovd --n 4 --size 224 --categories storage_tank ship --out {tmp_path}".split())
    ds = load_dataset(tmp_path)
    assert {o["category"] for s in ds for o in s.meta["scene"]["objects"]} <= {"storage tank", "ship"}
    assert {s.query for s in ds} <= {"storage tank", "ship"}


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit, match="unknown GeoSynth category 'helicopter'"):
        main(["synth", "rec", "--n", "1", "--categories", "helicopter", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--size must be at least 64"):
        main(["synth", "rec", "--n", "1", "--size", "32", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--n"):
        main(["synth", "rec", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--absent-fraction does not apply to rec"):
        main(["synth", "rec", "--n", "1", "--absent-fraction", "0.5", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="crossview and geoloc samples come from geor1.synth.crossview"):
        make_sample("crossview", 0)


def test_builder_fractions_are_honoured():
    counts = {"unique": 0, "absent": 0, "none": 0}
    for i in range(8):
        s, _ = make_sample("rec", i, size=224, unique_fraction=1.0)
        counts["unique"] += s.is_unique
        s, _ = make_sample("ovd", i, size=224, absent_fraction=1.0)
        counts["absent"] += not s.boxes
        s, _ = make_sample("gres", i, size=224, no_target_fraction=1.0)
        counts["none"] += not s.boxes
    assert counts == {"unique": 8, "absent": 8, "none": 8}


def test_records_are_plain_json(datasets):
    # nothing time-dependent or machine-dependent in a record: re-serialising gives the stored line
    path = datasets["rec"].root / "data.jsonl"
    for line, s in zip(path.read_text().splitlines(), datasets["rec"]):
        assert json.loads(line) == s.to_dict()
        assert s.to_json() == line


def test_contact_sheet_command(tmp_path):
    out = tmp_path / "sheet.png"
    assert main(f"synth contact-sheet --out {out} --n 2 --size 224 --tasks rec gres".split()) == 0
    with Image.open(out) as im:
        assert im.width > 2 * 300 and im.height > 2 * 300
        assert np.asarray(im.convert("L")).std() > 20


def test_crossview_dispatch(tmp_path):
    crossview = pytest.importorskip("geor1.synth.crossview")
    if not hasattr(crossview, "write_crossview"):
        pytest.skip("geor1.synth.crossview has no write_crossview yet")
    assert main(f"synth crossview --n 2 --size 224 --k 4 --out {tmp_path}".split()) == 0
    ds = load_dataset(tmp_path)
    assert len(ds) == 2 and all(s.task == "crossview" and len(s.choices) == 4 for s in ds)


def test_speed_benchmark_interleaves_two_versions():
    """benchmarks/bench_synth.py --interleave: both versions make the same number of samples, in turns."""
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "benchmarks/bench_synth.py", "--interleave", "2", "--chunk", "1", "--baseline", "HEAD"]
    done = subprocess.run(cmd + ["--tasks", "rec", "--size", "128"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # a "note:" line says a version compiled a kernel while timed (a fresh --baseline copy may, in so few samples)
    head, line = [t for t in done.stdout.strip().splitlines() if not t.startswith("note:")]
    assert "2 samples per version in turns of 1" in head
    assert line.startswith("rec   A/B") and "now/HEAD" in line and "now/target" in line


def test_registry_make_is_uniform_and_deterministic():
    """Every builder makes a sample in memory through one call; the same seed gives the same sample."""
    from geor1.data.schema import validate_record
    from geor1.synth.registry import BUILDERS, make

    for task in BUILDERS:
        size = 96 if not BUILDERS[task].aerial else 160
        a, images = make(task, 11, index=3, size=size)
        b, _ = make(task, 11, index=3, size=size)
        assert a.task == task and a.id == f"{task}-000003" and a.to_json() == b.to_json()
        assert len(images) == len(a.images) and images[0].size == (a.width, a.height)
        validate_record(a.to_dict())
    with pytest.raises(ValueError, match="k does not apply to rec"):
        make("rec", 0, k=4)
    with pytest.raises(ValueError, match="no GeoSynth builder for 'vqa'"):
        make("vqa", 0)

"""No path taken from a dataset or annotation writes or links outside the output folder, for every
converter: names with ``..`` and absolute names are refused with a one-line error naming the file
and field, and an output folder whose ``images/`` is a symbolic link to elsewhere is refused before
anything is written through it."""

from __future__ import annotations

import json
import os

import pytest
from PIL import Image
from test_converters_crossview import write_cv_cities, write_cvusa, write_im2gps, write_vigor
from test_converters_referring import (  # noqa: F401 (pytest fixtures)
    dior,
    dior_xml,
    earthreason,
    nwpu,
    rrsisd,
    vrsbench,
)

from geor1.data.convert import link_image, safe_relpath
from geor1.data.converters import CONVERTERS, get_converter
from geor1.data.schema import SchemaError


def _victim(tmp_path):
    """A file outside the source and the output folders that an evil annotation names."""
    path = tmp_path / "elsewhere" / "victim.jpg"
    path.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(path)
    return path


def _nothing_leaked(tmp_path, victim):
    assert os.stat(victim).st_nlink == 1  # never hard-linked anywhere
    assert sorted(p.name for p in victim.parent.iterdir()) == ["victim.jpg"]


def _evil_vrsbench(src, name):
    path = src / "VRSBench_EVAL_referring.json"
    records = json.loads(path.read_text())
    records[1]["image_id"] = name
    path.write_text(json.dumps(records))


def _evil_dior(src, name):
    (src / "Annotations" / "00002.xml").write_text(dior_xml(name, [("vehicle", (1, 2, 9, 8), "The vehicle")]))


def _evil_rrsisd(src, name):
    path = src / "rrsisd" / "instances.json"
    inst = json.loads(path.read_text())
    inst["images"][1]["file_name"] = name
    path.write_text(json.dumps(inst))


def _evil_csv(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


CASES = {  # converter -> (make a valid source, make one name in it evil, options)
    "vrsbench": (lambda tp, fx: fx["vrsbench"], _evil_vrsbench, {}),
    "dior-rsvg": (lambda tp, fx: fx["dior"], _evil_dior, {}),
    "rrsis-d": (lambda tp, fx: fx["rrsisd"], _evil_rrsisd, {}),
    "im2gps3k": (lambda tp, fx: write_im2gps(tp / "src"),
                 lambda src, name: _evil_csv(src / "im2gps3k_places365.csv", "1023756068_20c3ffc329_1039_70323761@N00.jpg",
                                             name), {}),
    "cv-cities": (lambda tp, fx: write_cv_cities(tp / "src"),
                  lambda src, name: _evil_csv(src / "barcelona" / "img_info.csv", "barcelona/satellite/bar_0000.jpg",
                                              name), {}),
    "cvusa": (lambda tp, fx: write_cvusa(tp / "src"),  # the panorama column (the tile's carries the number)
              lambda src, name: _evil_csv(src / "splits" / "train-19zl.csv", "streetview/panos/0000001.jpg", name), {}),
    "vigor": (lambda tp, fx: write_vigor(tp / "src")[0],
              lambda src, name: _evil_csv(src / "splits" / "Chicago" / "same_area_balanced_train.txt", "pano00xYz",
                                          name.replace(".jpg", "")), {}),
}


@pytest.mark.parametrize("how", ["dot-dot", "absolute"])
@pytest.mark.parametrize("converter", list(CASES))
def test_names_from_annotations_cannot_escape(converter, how, tmp_path, request):
    make, poison, options = CASES[converter]
    fx = {name: request.getfixturevalue(name) for name in ("vrsbench", "dior", "rrsisd")} if converter in (
        "vrsbench", "dior-rsvg", "rrsis-d") else {}
    src = make(tmp_path, fx)
    victim = _victim(tmp_path)
    name = os.path.relpath(victim, src / "x" / "y") if how == "dot-dot" else str(victim)
    poison(src, name)
    out = tmp_path / "out"
    with pytest.raises(SchemaError) as e:
        get_converter(converter)(src, out, **options)
    message = str(e.value)
    assert "\n" not in message and "field '" in message, message  # one line, naming the field
    _nothing_leaked(tmp_path, victim)


@pytest.mark.parametrize("converter", sorted(CONVERTERS))
def test_a_symlinked_output_folder_is_not_written_through(converter, tmp_path, request):
    """out/images (or the converter's first image folder) is a link to another folder: refused."""
    sources = {"vrsbench": "vrsbench", "dior-rsvg": "dior", "nwpu-vhr10": "nwpu", "rrsis-d": "rrsisd",
               "earthreason": "earthreason"}
    if converter in sources:
        src = request.getfixturevalue(sources[converter])
        first = "images"
    else:
        src = {"im2gps3k": lambda: write_im2gps(tmp_path / "src"),
               "yfcc4k": lambda: write_im2gps(tmp_path / "src", name="yfcc4k_places365.csv", image_dir="yfcc4k"),
               "cv-cities": lambda: write_cv_cities(tmp_path / "src"), "cvusa": lambda: write_cvusa(tmp_path / "src"),
               "vigor": lambda: write_vigor(tmp_path / "src")[0]}[converter]()
        first = {"im2gps3k": "images", "yfcc4k": "images", "cv-cities": "barcelona", "cvusa": "streetview",
                 "vigor": "Chicago"}[converter]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / first).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(SchemaError, match="symbolic link"):
        get_converter(converter)(src, out)
    assert list(elsewhere.rglob("*")) == [] or all(p.is_dir() for p in elsewhere.rglob("*"))


def test_safe_relpath_and_link_image_by_hand(tmp_path):
    assert safe_relpath("images/a.png") == "images/a.png" and safe_relpath("a\\b.png") == "a/b.png"
    for bad in ("", "/etc/passwd", "C:evil.png", "a/../../b.png", "a//b.png", "./a.png", "a/\0.png", ".."):
        with pytest.raises(SchemaError, match="must stay inside"):
            safe_relpath(bad, where="ann.xml", field="filename")
    img = tmp_path / "src" / "a.png"
    img.parent.mkdir()
    Image.new("RGB", (4, 4)).save(img)
    out = tmp_path / "out"
    assert link_image(img, out, "images/a.png", src_root=tmp_path / "src") == "images/a.png"
    assert os.path.samefile(img, out / "images" / "a.png")
    with pytest.raises(SchemaError, match="outside the source folder"):
        link_image(img, out, "images/b.png", src_root=tmp_path / "other")
    # a symbolic link already at the destination is replaced, never written through
    target = tmp_path / "target.png"
    target.write_bytes(b"keep")
    (out / "images" / "c.png").symlink_to(target)
    link_image(img, out, "images/c.png")
    assert target.read_bytes() == b"keep" and not (out / "images" / "c.png").is_symlink()

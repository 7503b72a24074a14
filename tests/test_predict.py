"""geor1 predict and the drawing it shares with the report: the right pixels, in the right frame."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from geor1.coords import get_frame
from geor1.data import Sample
from geor1.drawing import (
    GT_COLOR,
    PRED_COLOR,
    basemap,
    box_pixels,
    candidate_strip,
    draw_boxes,
    great_circle,
    line_width,
    mask_edge,
    project,
    world_map,
)
from geor1.evaluation.draw import draw_sample
from geor1.evaluation.predict import describe, make_sample, render_answer
from geor1.models import load_processor
from geor1.models.processor import processor_pixels
from geor1.tasks.boxes import box_mask

GREY = (128, 128, 128)


@pytest.fixture(scope="module")
def tiny_frame():
    """The frame of the built-in tiny model: Qwen2.5-VL pixels of a 224 x 224 input."""
    lo, hi = processor_pixels(load_processor("tiny"))
    return get_frame("qwen2.5-vl", min_pixels=lo, max_pixels=hi)


def _rgb(image, x, y):
    return image.getpixel((x, y))[:3]


def test_predict_draws_the_answer_box_on_the_right_pixels(tiny_frame):
    """A 448 x 448 image is a 224 x 224 model input: the answer [20, 10, 60, 30] is the original
    box [40, 20, 120, 60], outlined on exactly that box's edge pixels."""
    assert tiny_frame.extent(448, 448) == (224.0, 224.0)
    image = Image.new("RGB", (448, 448), GREY)
    sample = make_sample("rec", [image], "the grey square")
    text = (
        '<think>It is near the top left.</think><answer>{"bbox_2d": [20, 10, 60, 30], "label": "x"}</answer>'
    )
    picture, prediction, reason = render_answer(sample, [image], text, tiny_frame)
    assert reason == "" and prediction == [40.0, 20.0, 120.0, 60.0]
    assert describe(prediction, "rec") == "box [40.0, 20.0, 120.0, 60.0] (original pixels)"
    w = line_width(448, 448)
    assert w == 4  # 448 / 128 = 3.5, rounded to even
    a = np.asarray(picture)
    red = np.all(a == PRED_COLOR, axis=-1)
    expected = np.zeros((448, 448), bool)
    expected[20:60, 40:120] = True
    inner = np.zeros_like(expected)
    inner[20 + w : 60 - w, 40 + w : 120 - w] = True
    assert np.array_equal(red, expected & ~inner)  # the ring inside the box, nothing else
    assert np.all(a[~red] == GREY)


def test_predict_draws_gres_masks_crossview_choice_and_geoloc_point(tiny_frame):
    image = Image.new("RGB", (224, 224), GREY)
    gres = make_sample("gres", [image], "the ships")
    text = '<answer>[{"bbox_2d": [100, 100, 150, 120], "keypoint1": [110, 110], "keypoint2": [140, 110]}]</answer>'
    picture, prediction, _ = render_answer(gres, [image], text, tiny_frame)
    a = np.asarray(picture).astype(int)
    assert tuple(a[110, 125]) != GREY and a[110, 125, 0] > 150  # tinted red inside the mask
    assert tuple(a[110, 110]) == (255, 214, 0)  # keypoint 1, yellow
    assert tuple(a[50, 50]) == GREY and tuple(a[130, 125]) == GREY
    # None: nothing drawn, and a readable "no target".
    picture, prediction, reason = render_answer(gres, [image], "<answer>None</answer>", tiny_frame)
    assert (
        reason == "" and describe(prediction, "gres") == "no target" and np.all(np.asarray(picture) == GREY)
    )

    cands = [Image.new("RGB", (64, 64), c) for c in [(10, 10, 200), (200, 200, 10), (10, 200, 10)]]
    assert make_sample("crossview", [image, *cands]).choices == ["A", "B", "C"]
    cv = make_sample("crossview", [image, *cands[:2]])
    assert cv.choices == ["A", "B"]
    picture, prediction, _ = render_answer(cv, [image, *cands[:2]], "<answer>B</answer>", tiny_frame)
    assert prediction == "B"
    strip = np.asarray(picture)
    # Tiles of 160 px: query, A, B; B is framed red (no ground truth known here).
    gap, bar = 6, 18
    assert strip.shape[0] == 160 + bar + 2 * gap
    xb = gap + 160 + gap + 160 + gap
    assert tuple(strip[gap + bar + 1, xb + 1]) == PRED_COLOR and tuple(strip[gap + bar + 60, xb + 60]) == (
        200,
        200,
        10,
    )

    geo = make_sample("geoloc", [image])
    picture, prediction, _ = render_answer(geo, [image], '<answer>{"lat": 0, "lon": 0}</answer>', tiny_frame)
    assert (prediction["lat"], prediction["lon"]) == (0.0, 0.0)
    mx, my = project(0, 0, 240, 120)  # the map under a 224 px photo is 240 px wide
    assert tuple(np.asarray(picture)[224 + 4 + int(my), int(mx)]) == PRED_COLOR


def test_unreadable_answers_draw_nothing_and_say_why(tiny_frame):
    image = Image.new("RGB", (100, 80), GREY)
    sample = make_sample("rec", [image], "x")
    picture, prediction, reason = render_answer(sample, [image], "<answer>to the left</answer>", tiny_frame)
    assert prediction is None and "no box" in reason and describe(None, "rec") == "unreadable"
    assert np.all(np.asarray(picture) == GREY)


def test_make_sample_refuses_what_cannot_be_asked():
    img = Image.new("RGB", (10, 10))
    with pytest.raises(ValueError, match="needs --query"):
        make_sample("rec", [img], "  ")
    with pytest.raises(ValueError, match="needs --candidates"):
        make_sample("crossview", [img])
    with pytest.raises(ValueError, match="unknown task"):
        make_sample("vqa", [img], "q")
    assert make_sample("ovd", [img], " airplane ").category == "airplane"


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 40), st.floats(0, 30), st.floats(0, 40), st.floats(0, 30))
def test_outline_is_the_edge_of_the_box_mask(x1, y1, x2, y2):
    """A 1-px outline covers exactly the edge pixels of the box as box_mask (pycocotools' rule) fills it."""
    box = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
    mask = box_mask([box], 40, 30)
    drawn = np.all(
        np.asarray(draw_boxes(Image.new("RGB", (40, 30)), [box], PRED_COLOR, width=1)) == PRED_COLOR, axis=-1
    )
    assert np.array_equal(drawn, mask_edge(mask))
    assert (box_pixels(box, 40, 30) is None) == (not mask.any())


def test_mask_edge_hand_checked():
    m = np.zeros((5, 6), bool)
    m[1:4, 1:5] = True
    e = mask_edge(m)
    assert e.sum() == 3 * 4 - 2 and not e[2, 2] and not e[2, 3] and e[1, 1] and e[3, 4]


def test_draw_sample_shows_truth_green_and_prediction_red():
    img = Image.new("RGB", (100, 100), GREY)
    s = Sample(
        id="s",
        task="ovd",
        images=["a.png"],
        width=100,
        height=100,
        category="car",
        boxes=[[10, 10, 30, 30], [60, 60, 90, 80]],
        labels=["car", "car"],
    )
    pic = draw_sample(s, [img], np.array([[40.0, 10, 50, 20]]))
    assert _rgb(pic, 10, 20) == GT_COLOR and _rgb(pic, 89, 70) == GT_COLOR and _rgb(pic, 40, 15) == PRED_COLOR
    half = draw_sample(s, [img], None, max_side=50)  # shrunk first: boxes scale with it
    assert half.size == (50, 50) and _rgb(half, 5, 10) == GT_COLOR and _rgb(half, 3, 10) == GREY


def test_candidate_strip_frames_truth_and_choice():
    tiles = [Image.new("RGB", (32, 32), GREY) for _ in range(3)]
    right = np.asarray(candidate_strip(tiles, ["A", "B"], answer="A", chosen="A", height=32))
    wrong = np.asarray(candidate_strip(tiles, ["A", "B"], answer="A", chosen="B", height=32))
    x_a, x_b, y = 6 + 32 + 6, 6 + 32 + 6 + 32 + 6, 6 + 18
    assert tuple(wrong[y, x_a]) == GT_COLOR and tuple(wrong[y, x_b]) == PRED_COLOR
    assert tuple(right[y, x_b]) == GREY and tuple(right[y + 7, x_a + 7]) == GT_COLOR  # double frame


def test_world_map_projection_and_great_circles():
    assert project(90, -180, 720, 360) == (0.0, 0.0) and project(-90, 180, 720, 360) == (720.0, 360.0)
    # Paris -> Tokyo goes north over Siberia, never below Paris' latitude at its middle.
    (path,) = great_circle(48.86, 2.35, 35.68, 139.69)
    assert path[0] == pytest.approx([48.86, 2.35]) and path[-1] == pytest.approx([35.68, 139.69])
    assert path[len(path) // 2, 0] > 60
    # Across the antimeridian (Fiji -> Samoa): two pieces, never a line across the whole map.
    parts = great_circle(-17.7, 178.0, -13.8, -172.0)
    assert len(parts) == 2 and parts[0][-1, 1] > 170 and parts[1][0, 1] < -170
    base = np.asarray(basemap(360, 180))
    land = np.all(base == (150, 170, 150), axis=-1)
    x, y = project(48.86, 2.35, 360, 180)  # Paris: land
    assert land[int(y), int(x)]
    x, y = project(-40.0, -120.0, 360, 180)  # the South Pacific: ocean
    assert not land[int(y), int(x)]
    pic = np.asarray(world_map([[0, 0]], [[10, 10]], width=360, height=180))
    x, y = project(0, 0, 360, 180)
    assert tuple(pic[int(y), int(x)]) == GT_COLOR


def test_predict_cli_end_to_end(tmp_path, capsys):
    from geor1.cli import main

    img = tmp_path / "scene.png"
    Image.new("RGB", (300, 200), GREY).save(img)
    out = tmp_path / "pred.png"
    assert (
        main(
            [
                "predict",
                "--image",
                str(img),
                "--task",
                "rec",
                "--query",
                "the red ship",
                "--max-new-tokens",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    for line in ("reasoning:", "answer:", "read as:", "tokens: ", f"wrote {out}"):
        assert line in printed
    assert Image.open(out).size == (300, 200)
    capsys.readouterr()
    assert main(["predict", "--image", str(tmp_path / "none.png"), "--task", "geoloc"]) == 2
    assert capsys.readouterr().err.strip().startswith("geor1 predict: --image/--candidates: no image at")


def test_describe_geoloc_and_ovd():
    assert (
        describe({"lat": 1.23456, "lon": -2.0, "source": "city", "place": "Paris"}, "geoloc")
        == "lat 1.2346, lon -2.0000 via city Paris"
    )
    assert describe(np.zeros((0, 4)), "ovd") == "no target"
    assert (
        json.dumps(describe(np.array([[1, 2, 3, 4.0]]), "ovd"))
        == '"1 box(es) [[1.0, 2.0, 3.0, 4.0]] (original pixels)"'
    )

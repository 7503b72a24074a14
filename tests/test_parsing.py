"""Lenient answer parsing shared by rec/ovd/gres: hand-checked cases and property tests."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.coords import get_frame
from geor1.tasks.parsing import (
    box_in_frame,
    bracket_spans,
    coordinate_hint,
    loads_lenient,
    objects_to_pixels,
    parse_objects,
    point_in_frame,
)


def boxes_of(parsed):
    assert parsed.ok, parsed.reason
    return [o["bbox_2d"] for o in parsed.value]


@pytest.mark.parametrize("text, boxes", [
    ('{"bbox_2d": [10, 20, 30, 40], "label": "car"}', [[10, 20, 30, 40]]),
    ('```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "car"}]\n```', [[1, 2, 3, 4]]),
    ('Here it is:\n```json\n{"bbox_2d": [1, 2, 3, 4]}\n```\nDone.', [[1, 2, 3, 4]]),
    ("{'bbox_2d': [1, 2, 3, 4], 'label': 'ship'}", [[1, 2, 3, 4]]),
    ('[{"bbox_2d": [1, 2, 3, 4],}, {"bbox_2d": [5, 6, 7, 8]},]', [[1, 2, 3, 4], [5, 6, 7, 8]]),
    ('[10, 20, 30, 40]', [[10, 20, 30, 40]]),
    ('[[10, 20, 30, 40], [1, 2, 3, 4]]', [[10, 20, 30, 40], [1, 2, 3, 4]]),
    ('{"bbox_2d": ["10", " 20.5", "30", "40px"]}', [[10, 20.5, 30, 40]]),
    ('{"bbox_2d": "[1, 2, 3, 4]"}', [[1, 2, 3, 4]]),
    ('{"bbox": [[1, 2], [3, 4]]}', [[1, 2, 3, 4]]),
    ('The box is {"bbox_2d": [1,2,3,4]} and also {"bbox_2d": [5,6,7,8]} here', [[1, 2, 3, 4], [5, 6, 7, 8]]),
    ('[{"bbox_2d": [1, 2, 3, 4]}, {"bbox_2d": [5, 6, 7', [[1, 2, 3, 4]]),  # truncated list
    ('{"objects": [{"bbox_2d": [1, 2, 3, 4]}]}', [[1, 2, 3, 4]]),
    ("[{'bbox_2d': [1, 2, 3, 4], 'label': None, 'ok': True}]", [[1, 2, 3, 4]]),
    ('(10,20),(30,40)', [[10, 20, 30, 40]]),
    ('{<12><5><18><11>}', [[12, 5, 18, 11]]),
    ('it\'s at [1, 2, 3, 4]', [[1, 2, 3, 4]]),
    ('[{"bbox_2d": [1, 2, 3, 4]}, {"bbox_2d": [1, 2, 3]}]', [[1, 2, 3, 4]]),  # bad object dropped
])
def test_parse_objects_accepts(text, boxes):
    assert boxes_of(parse_objects(text)) == boxes


@pytest.mark.parametrize("text", ["None", "null", "[]", "```json\nNone\n```", "There are no such targets in the image.",
                                  "No target.", '"none"', "NONE", "[ ]"])
def test_explicit_empty_answers(text):
    parsed = parse_objects(text)
    assert parsed.ok and parsed.value == []


@pytest.mark.parametrize("text", ["", "I cannot tell", "42", '{"bbox_2d": [1, 2, 3]}', '{"bbox_2d": [1, 2, "x", 4]}',
                                  '{"bbox_2d": [1, 2, NaN, 4]}', '[1, 2, 3]', '{"label": "car"}', "[[[[", "}}]]"])
def test_unreadable_answers_give_a_reason(text):
    parsed = parse_objects(text)
    assert not parsed.ok and parsed.reason


def test_labels_and_keypoints():
    text = ('[{"bbox_2d": [1, 2, 3, 4], "keypoint1": [1.5, 2.5], "keypoint2": "[2, 3]", "label": "pond"},'
            ' {"bbox_2d": [5, 6, 7, 8], "points": [[5, 6], [6, 7], [1]]}]')
    objs = parse_objects(text).value
    assert objs[0]["label"] == "pond" and objs[0]["points"] == [[1.5, 2.5], [2, 3]]
    assert objs[1]["label"] is None and objs[1]["points"] == [[5, 6], [6, 7]]  # [1] is not a point


def test_keypoints_in_numeric_order():
    objs = parse_objects('{"bbox_2d": [0, 0, 9, 9], "keypoint2": [2, 2], "keypoint1": [1, 1]}').value
    assert objs[0]["points"] == [[1, 1], [2, 2]]


def test_loads_lenient_and_spans():
    assert loads_lenient("{'a': None, 'b': [1, 2,],}") == (True, {"a": None, "b": [1, 2]})
    assert loads_lenient("[true, null]") == (True, [True, None])
    assert loads_lenient("not json")[0] is False
    text = 'x [1, [2]] y {"a": "]"} z'
    assert [text[s:e] for s, e in bracket_spans(text)] == ["[1, [2]]", '{"a": "]"}']
    truncated = '[{"a": 1}, {"b": 2'
    assert [truncated[s:e] for s, e in bracket_spans(truncated)] == ['{"a": 1}']


def test_non_string_input_is_a_reason_not_an_error():
    assert not parse_objects(None).ok
    assert not parse_objects(["[1, 2, 3, 4]"]).ok


def test_objects_to_pixels_converts_clips_and_orders():
    objs = parse_objects('[{"bbox_2d": [500, 900, 100, 100], "keypoint1": [250, 500]}]').value
    boxes, points = objects_to_pixels(objs, "norm1000", 200, 100)
    np.testing.assert_allclose(boxes, [[20, 10, 100, 90]])  # corners ordered
    np.testing.assert_allclose(points[0], [[50, 50]])
    boxes, _ = objects_to_pixels(parse_objects("[-50, -10, 300, 150]").value, "pixels", 200, 100)
    np.testing.assert_allclose(boxes, [[0, 0, 200, 100]])  # clipped to the image


def test_frame_writing():
    assert box_in_frame([20, 10, 100, 90], "norm1000", 200, 100) == [100, 100, 500, 900]
    assert box_in_frame([20, 10, 100, 90], "norm1", 200, 100) == [0.1, 0.1, 0.5, 0.9]
    assert point_in_frame([50, 50], "norm100", 200, 100) == [25, 50]
    # a pixel centre names its pixel (203.5 -> 203, where round-half-even gave 204, the next pixel)
    assert point_in_frame([203.5, 90.5], "pixels", 448, 448) == [203, 90]
    assert point_in_frame([447.5, 0.5], "pixels", 448, 448) == [447, 0]  # never off the image
    assert point_in_frame([199.9, 99.9], "norm100", 200, 100) == [99, 99]
    assert point_in_frame([100, 50], "norm1", 200, 100) == [0.5, 0.5]
    # Qwen2.5-VL: 1000x500 resizes to 1008x504 (multiples of 28) -> scale 1.008
    assert get_frame("qwen2.5-vl").extent(1000, 500) == (1008.0, 504.0)
    assert box_in_frame([100, 100, 500, 250], "qwen2.5-vl", 1000, 500) == [101, 101, 504, 252]
    assert coordinate_hint("qwen2.5-vl", 10, 10) == ""
    assert "0 to 1000" in coordinate_hint("norm1000", 10, 10)
    assert "64x48" in coordinate_hint("pixels", 64, 48)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["bbox_2d", "bbox", "label", "keypoint1", "points", "x"]), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_never_raises_on_text(text):
    parsed = parse_objects(text)
    assert parsed.ok or parsed.reason
    if parsed.ok:
        for o in parsed.value:
            assert len(o["bbox_2d"]) == 4 and all(np.isfinite(o["bbox_2d"]))


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(["", "```json\n", "answer: "]), st.integers(0, 40))
def test_parse_never_raises_on_json_like(value, prefix, cut):
    text = prefix + json.dumps(value)
    for t in (text, text[:-cut] if cut else text, text.replace('"', "'")):
        parsed = parse_objects(t)
        assert parsed.ok or parsed.reason


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2000), min_size=4, max_size=4), min_size=1, max_size=6),
       st.booleans(), st.booleans())
def test_written_boxes_come_back(boxes, fenced, single_quotes):
    text = json.dumps([{"bbox_2d": b, "label": "x"} for b in boxes])
    if single_quotes:
        text = text.replace('"', "'")
    if fenced:
        text = f"Sure.\n```json\n{text}\n```"
    assert boxes_of(parse_objects(text)) == boxes

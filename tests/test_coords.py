import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.coords import FRAMES, clip_boxes, format_box, frame_from_dict, frame_to_dict, from_frame, get_frame, to_frame


def test_qwen25_frame_is_resized_input_pixels():
    # 800x800 DIOR image: smart resize to multiples of 28 -> 812x812 (within the default pixel bounds).
    f = get_frame("qwen2.5-vl")
    assert f.extent(800, 800) == (812.0, 812.0)
    np.testing.assert_allclose(to_frame([100, 200, 400, 800], f, 800, 800), [101.5, 203, 406, 812])
    # 1000x500 capped at 256*28*28 pixels: floor to multiples of 28 after scaling by sqrt(500000/200704).
    f = get_frame("qwen2.5-vl", max_pixels=256 * 28 * 28)
    assert f.extent(1000, 500) == (616.0, 308.0)
    # the tiny model's 224x224 input
    assert get_frame("qwen2.5-vl", min_pixels=224 * 224, max_pixels=224 * 224).extent(448, 448) == (224.0, 224.0)


def test_normalized_frames_hand_checked():
    np.testing.assert_allclose(to_frame([256, 128, 512, 512], "norm1000", 512, 512), [500, 250, 1000, 1000])
    np.testing.assert_allclose(to_frame([256, 128], "norm100", 512, 256), [50, 50])
    np.testing.assert_allclose(from_frame([50, 50], "norm100", 512, 256), [256, 128])
    np.testing.assert_allclose(to_frame([10, 20, 30, 40], "pixels", 64, 64), [10, 20, 30, 40])
    with pytest.raises(ValueError, match="unknown coordinate frame"):
        get_frame("qwen2_vl")  # a model type is not a frame: its family says which frame (test_families)


def test_format_box_rounds_and_clips():
    assert format_box([200, 200, 400, 800.4], "qwen2.5-vl", 800, 800) == [203, 203, 406, 812]
    assert format_box([0, 0, 512, 512], "norm1000", 512, 512) == [0, 0, 1000, 1000]
    assert format_box([128, 0, 512, 256], "norm1", 512, 512) == [0.25, 0.0, 1.0, 0.5]
    np.testing.assert_allclose(clip_boxes([[30, -5, 10, 70]], 64, 64), [[10, 0, 30, 64]])


def test_empty_arrays_pass_through():
    assert to_frame(np.zeros((0, 4)), "norm1000", 64, 64).shape == (0, 4)
    assert from_frame(np.zeros((0, 2)), "qwen2.5-vl", 64, 64).shape == (0, 2)


def test_unknown_frame_and_odd_shapes():
    with pytest.raises(ValueError, match="unknown coordinate frame 'norm7'"):
        get_frame("norm7")
    with pytest.raises(ValueError, match="pairs"):
        to_frame([1, 2, 3], "norm1", 4, 4)


def test_frame_dict_round_trip():
    for f in [*FRAMES.values(), get_frame("qwen2.5-vl", min_pixels=3136, max_pixels=200704)]:
        assert frame_from_dict(frame_to_dict(f)) == f
    assert frame_from_dict("norm1000") == FRAMES["norm1000"]


sizes = st.integers(min_value=16, max_value=2000)


@settings(max_examples=200, deadline=None)
@given(w=sizes, h=sizes, frame=st.sampled_from(sorted(FRAMES)), data=st.data())
def test_round_trip_every_frame(w, h, frame, data):
    if max(w, h) / min(w, h) > 100:
        return
    xs = data.draw(st.lists(st.floats(0, w), min_size=2, max_size=2))
    ys = data.draw(st.lists(st.floats(0, h), min_size=2, max_size=2))
    box = np.array([min(xs), min(ys), max(xs), max(ys)])
    out = to_frame(box, frame, w, h)
    fw, fh = get_frame(frame).extent(w, h)
    assert np.all(out[[0, 2]] <= fw + 1e-6) and np.all(out[[1, 3]] <= fh + 1e-6) and np.all(out >= 0)
    np.testing.assert_allclose(from_frame(out, frame, w, h), box, rtol=1e-9, atol=1e-6)
    pts = np.stack([box[:2], box[2:]])  # (2, 2) points take the same path
    np.testing.assert_allclose(to_frame(pts, frame, w, h).reshape(-1), out, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(w=sizes, h=sizes, lo=st.integers(28 * 28, 256 * 28 * 28), extra=st.integers(0, 1000 * 28 * 28))
def test_qwen_extent_is_multiple_of_28_within_bounds(w, h, lo, extra):
    # Qwen's smart resize promises the bounds only for ordinary images (not slivers a few pixels wide).
    if max(w, h) / min(w, h) > 3 or min(w, h) < 56:
        return
    hi = 4 * lo + extra  # bounds far enough apart that smart resize can always meet both
    fw, fh = get_frame("qwen2.5-vl", min_pixels=lo, max_pixels=hi).extent(w, h)
    assert fw % 28 == 0 and fh % 28 == 0
    assert lo <= fw * fh <= hi

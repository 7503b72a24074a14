"""GeoSynth's compiled per-pixel passes (geor1.synth.kernels) against plain numpy written out here, bit for bit,
and on hand-checked cases."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geor1.synth import kernels
from geor1.synth.aerial import CATEGORY_SPECS
from geor1.synth.aerial.planner import _Planner, _surface_rule

P = _Planner
f32 = st.floats(-60, 320, width=32)


def _sensor_reference(img, ratio, noise, start):
    """The blur as two passes over edge-padded copies (down the columns, then along the rows), each
    ``a + ratio * (before + after)`` in float32, then the noise and truncation into 0..255."""
    c, h, w = img.shape
    pad = np.pad(img, [(0, 0), (1, 1), (0, 0)], mode="edge")
    v = img + ratio * (pad[:, :-2] + pad[:, 2:])
    pad = np.pad(v, [(0, 0), (0, 0), (1, 1)], mode="edge")
    out = v + ratio * (pad[:, :, :-2] + pad[:, :, 2:]) + noise[:, start : start + h * w].reshape(c, h, w)
    return np.clip(out, 0, 255).astype(np.uint8)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda c: st.tuples(
            arrays(np.float32, st.tuples(st.just(c), st.integers(1, 9), st.integers(1, 9)), elements=f32),
            st.integers(0, 20),
        )
    ),
    st.floats(0, 1, width=32),
    st.randoms(use_true_random=False),
)
def test_sensor_is_the_padded_blur_plus_noise_bit_for_bit(img_start, ratio, rnd):
    img, start = img_start
    c, h, w = img.shape
    noise = np.array([[rnd.uniform(-8, 8) for _ in range(start + h * w)] for _ in range(c)], np.float32)
    ratio = np.float32(ratio)
    out = np.empty(img.shape, np.uint8)
    kernels.sensor(img, ratio, noise, start, out)
    np.testing.assert_array_equal(out, _sensor_reference(img, ratio, noise, start))


def test_sensor_spreads_an_impulse_by_the_taps_and_rounds():
    img = np.zeros((1, 5, 5), np.float32)
    img[0, 2, 2] = 200
    out = np.empty((1, 5, 5), np.uint8)
    kernels.sensor(img, np.float32(0.5), np.full((1, 25), 0.5, np.float32), 0, out)
    want = np.zeros((5, 5))
    want[1:4, 1:4] = [[50, 100, 50], [100, 200, 100], [50, 100, 50]]  # 200 x (0.5, 1, 0.5) in each direction
    np.testing.assert_array_equal(out[0], want)
    # edges are replicated: a constant image stays constant, times (1 + 2 ratio)^2; out of range is clipped
    flat = np.full((2, 3, 4), 10.0, np.float32)
    flat[1] = -5
    out = np.empty((2, 3, 4), np.uint8)
    kernels.sensor(flat, np.float32(0.25), np.full((2, 12), 0.5, np.float32), 0, out)
    assert (out[0] == 23).all() and (out[1] == 0).all()  # 10 x 1.5^2 = 22.5, + 0.5 = 23


def test_sensor_reads_the_noise_window_from_its_start():
    img = np.zeros((1, 2, 3), np.float32)
    noise = np.arange(20, dtype=np.float32)[None]
    out = np.empty((1, 2, 3), np.uint8)
    kernels.sensor(img, np.float32(0.3), noise, 7, out)
    np.testing.assert_array_equal(out[0], [[7, 8, 9], [10, 11, 12]])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.booleans(), st.booleans(), st.randoms(use_true_random=False))
def test_colour_ground_is_the_palette_look_up_times_the_brightness(h, w, shaded, vignetted, rnd):
    n = 5
    rng = np.random.default_rng(rnd.randrange(2**32))
    label = rng.integers(0, n, (h, w)).astype(np.uint8)
    shade = rng.random((h, w)) < 0.5 if shaded else None
    bright = rng.random((h, w)).astype(np.float32) * 2
    vignette = (0.5 + rng.random((h, w))).astype(np.float32) if vignetted else None
    palette = rng.random((2 * n, 3)).astype(np.float32) * 255
    out = np.empty((3, h, w), np.float32)
    kernels.colour_ground(label, shade, n, bright, vignette, palette, out)
    index = label.astype(np.intp) + (n * shade if shaded else 0)
    gain = bright * vignette if vignetted else bright
    np.testing.assert_array_equal(out, palette[index].transpose(2, 0, 1) * gain)


def test_colour_ground_hand_checked():
    palette = np.array([[1, 2, 3], [10, 20, 30], [0.5, 1, 1.5], [5, 10, 15]], np.float32)  # 2 labels, sun + shadow
    label = np.array([[0, 1]], np.uint8)
    out = np.empty((3, 1, 2), np.float32)
    kernels.colour_ground(label, np.array([[False, True]]), 2, np.array([[2, 1]], np.float32), None, palette, out)
    np.testing.assert_array_equal(out[:, 0], [[2, 5], [4, 10], [6, 15]])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.booleans(), st.randoms(use_true_random=False))
def test_ground_brightness_is_the_amplitudes_times_the_noise(h, w, extra, rnd):
    rng = np.random.default_rng(rnd.randrange(2**32))
    label = rng.integers(0, 6, (h, w)).astype(np.uint8)
    mid, fine = (rng.normal(size=(h, w)).astype(np.float32) for _ in range(2))
    amp_mid, amp_fine = (rng.random(6).astype(np.float32) for _ in range(2))
    more = rng.random((h, w)).astype(np.float32) if extra else None
    out = np.empty((h, w), np.float32)
    kernels.ground_brightness(label, mid, fine, amp_mid, amp_fine, more, out)
    want = amp_mid[label] * mid + amp_fine[label] * fine + np.float32(1)
    np.testing.assert_array_equal(out, want + more if extra else want)


def _fits_reference(use, occ, shade, x0, y0, patch, allowed, water, lo, hi):
    h, w = patch.shape
    mask = patch > 0
    under = use[y0 : y0 + h, x0 : x0 + w][mask]
    if not allowed[under].all():
        return False
    if (occ[y0 : y0 + h, x0 : x0 + w] & mask).any() or (shade[y0 : y0 + h, x0 : x0 + w] & mask).any():
        return False
    if lo > 0 or hi < 1:
        return bool(mask.any()) and lo <= (under == water).mean() <= hi
    return True


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from([(0.0, 1.0), (0.35, 0.92), (math.nextafter(0.3, 1.0), 1.0)]),
    st.randoms(use_true_random=False),
)
def test_fits_agrees_with_numpy(h, w, x0, y0, share, rnd):
    rng = np.random.default_rng(rnd.randrange(2**32))
    S = 10
    use = rng.integers(0, 4, (S, S)).astype(np.uint8)
    occ, shade = rng.random((S, S)) < 0.05, rng.random((S, S)) < 0.05
    patch = (rng.random((h, w)) < 0.7).astype(np.uint8) * rng.integers(1, 4, (h, w)).astype(np.uint8)
    allowed = np.zeros(256, bool)
    allowed[rng.choice(4, size=int(rng.integers(1, 5)), replace=False)] = True
    got = kernels.fits(use, occ, shade, x0, y0, patch, allowed, P.WATER, *share)
    assert got == _fits_reference(use, occ, shade, x0, y0, patch, allowed, P.WATER, *share)


def test_fits_hand_checked():
    use = np.array([[P.LAND, P.WATER, P.WATER], [P.LAND, P.LAND, P.TREE]], np.uint8)
    occ, shade = np.zeros((2, 3), bool), np.zeros((2, 3), bool)
    land, _, _ = _surface_rule("building", None)
    across, lo, hi = _surface_rule("bridge", None)
    whole = np.ones((2, 3), np.uint8)
    assert not kernels.fits(use, occ, shade, 0, 0, whole, land, P.WATER, 0.0, 1.0)  # water under it
    assert kernels.fits(use, occ, shade, 0, 1, whole[:1], land, P.WATER, 0.0, 1.0)  # the bottom row: land, trees
    assert kernels.fits(use, occ, shade, 0, 0, whole, across, P.WATER, lo, hi)  # 2 of 6 wet: more than 30%
    assert not kernels.fits(use, occ, shade, 0, 0, np.array([[1, 0, 1], [1, 1, 1]], np.uint8), across, P.WATER, lo, hi)
    shade[1, 2] = True
    assert not kernels.fits(use, occ, shade, 0, 1, whole[:1], land, P.WATER, 0.0, 1.0)
    assert kernels.fits(use, occ, shade, 0, 1, np.array([[1, 1, 0]], np.uint8), land, P.WATER, 0.0, 1.0)


def test_surface_rules_by_name():
    def uses(category, site=None, whole=True):
        allowed, lo, hi = _surface_rule(category, site, whole)
        return set(np.flatnonzero(allowed).tolist()), lo, hi

    assert uses("building") == ({P.LAND, P.TREE}, 0.0, 1.0)
    assert uses("building", site=12) == ({12}, 0.0, 1.0)
    assert uses("ship", site=12) == ({P.WATER}, 0.0, 1.0)  # a water object ignores the site
    assert uses("vehicle")[0] == {P.ROAD} and CATEGORY_SPECS["vehicle"].surface == "road"
    assert uses("wind turbine")[0] == {P.LAND, P.ROAD, P.TREE, *range(4, P.SITE0)}
    bridge, lo, hi = uses("bridge")
    assert bridge == set(range(P.SITE0)) and 0.3 < lo < 0.3 + 1e-15 and hi == 1.0
    assert uses("bridge", whole=False)[1:] == (0.0, 1.0)
    assert uses("harbor") == (set(range(P.TREE + 1)), 0.35, 0.92)
    assert uses(None)[0] == {P.LAND, P.ROAD, P.TREE}  # a paved site: never on water


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 7), st.integers(1, 7)), elements=st.integers(0, 3)),
    st.integers(-3, 12),
    st.integers(-3, 12),
    st.integers(0, 3),
)
def test_occupy_marks_the_square_dilation_clipped_to_the_image(patch, x0, y0, r):
    S = 12
    occ = np.zeros((S, S), bool)
    occ[0, 0] = True  # what was there stays
    want = occ.copy()
    for i, j in zip(*np.nonzero(patch)):  # each object pixel marks the (2r+1)^2 square around it, inside the image
        y, x = y0 + i, x0 + j
        want[max(0, y - r) : max(0, y + r + 1), max(0, x - r) : max(0, x + r + 1)] = True
    kernels.occupy(occ, x0, y0, patch, r)
    np.testing.assert_array_equal(occ, want)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 5), st.integers(1, 5)), elements=st.integers(0, 3)),
    st.sampled_from([0.0, 0.03, 0.5]),
    st.booleans(),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_paste_paints_the_lut_times_the_gain_where_the_object_is(index, texture, relief, vignetted, rnd):
    rng = np.random.default_rng(rnd.randrange(2**32))
    S, (h, w) = 8, index.shape
    x0, y0, gx, gy = (int(v) for v in rng.integers(0, 3, 4))
    img = rng.random((3, S, S)).astype(np.float32)
    before = img.copy()
    lut = rng.random((4, 3)).astype(np.float32) * 200
    grain = rng.normal(size=(2 * S, 2 * S)).astype(np.float32)
    ramp = (0.8 + rng.random((h, w)) * 0.4).astype(np.float32) if relief else None
    vignette = (0.7 + rng.random((S, S)) * 0.3).astype(np.float32) if vignetted else None
    kernels.paste(img, x0, y0, index, lut, np.float32(texture), grain, gx, gy, ramp, vignette)
    gain = 1 + texture * grain[gy : gy + h, gx : gx + w]  # numpy, as render once wrote it
    for factor in (ramp, None if vignette is None else vignette[y0 : y0 + h, x0 : x0 + w]):
        if factor is not None:
            gain = gain * factor
    want = before.copy()
    np.copyto(want[:, y0 : y0 + h, x0 : x0 + w], np.take(lut.T, index, axis=1) * gain, where=index > 0)
    np.testing.assert_array_equal(img, want)


def _free_grid_reference(use, occ, grid, fx, fy, rx, ry):
    n, size = len(grid), use.shape[0]
    corners = np.array([(0, 0), (-fx - rx, -fy - ry), (-fx + rx, -fy + ry), (fx - rx, fy - ry), (fx + rx, fy + ry)])
    xs = np.add.outer(np.tile(grid, n), corners[:, 0])
    ys = np.add.outer(np.repeat(grid, n), corners[:, 1])
    inside = ((xs >= 1) & (xs < size - 1) & (ys >= 1) & (ys < size - 1)).all(axis=1)
    ix, iy = np.clip(xs, 0, size - 1).astype(int), np.clip(ys, 0, size - 1).astype(int)
    u = use[iy, ix]
    return np.flatnonzero(inside & ~occ[iy, ix].any(axis=1) & ((u == P.LAND) | (u == P.TREE)).all(axis=1))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 6), st.floats(0, 360), st.floats(0, 8), st.floats(0, 8), st.randoms(use_true_random=False))
def test_free_grid_keeps_the_centres_whose_footprint_is_on_free_land(n, theta, half_length, half_width, rnd):
    rng = np.random.default_rng(rnd.randrange(2**32))
    S = 20
    use = rng.choice([P.LAND, P.WATER, P.ROAD, P.TREE], (S, S), p=[0.6, 0.1, 0.1, 0.2]).astype(np.uint8)
    occ = rng.random((S, S)) < 0.05
    grid = np.linspace(2.5, S - 2.5, n)
    t = np.radians(theta)
    fx, fy = np.sin(t) * half_length, -np.cos(t) * half_length
    rx, ry = np.cos(t) * half_width, np.sin(t) * half_width
    got = kernels.free_grid(use, occ, grid, fx, fy, rx, ry, P.LAND, P.TREE)
    np.testing.assert_array_equal(got, _free_grid_reference(use, occ, grid, fx, fy, rx, ry))


def test_free_grid_hand_checked():
    use = np.full((10, 10), P.LAND, np.uint8)
    occ = np.zeros((10, 10), bool)
    grid = np.array([3.5, 6.5])
    # a 4 x 2 px footprint along x: corners at centre +-2 in x, +-1 in y; every centre fits on empty land
    assert kernels.free_grid(use, occ, grid, 2.0, 0.0, 0.0, 1.0, P.LAND, P.TREE).tolist() == [0, 1, 2, 3]
    use[2, 8] = P.WATER  # the corner (8.5, 2.5) of the centre (6.5, 3.5), k = 0 * 2 + 1
    occ[7, 1] = True  # the corner (1.5, 7.5) of the centre (3.5, 6.5), k = 2
    assert kernels.free_grid(use, occ, grid, 2.0, 0.0, 0.0, 1.0, P.LAND, P.TREE).tolist() == [0, 3]
    # a footprint reaching the border is refused: x = 6.5 + 2.5 = 9 is not below 10 - 1
    assert kernels.free_grid(use, occ, grid, 2.5, 0.0, 0.0, 1.0, P.LAND, P.TREE).tolist() == [0]

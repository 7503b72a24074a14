"""GeoSynth aerial scenes: boxes and masks are the rendered pixels, the world keeps its rules, same seed
same image."""

import dataclasses

import numpy as np
import pytest

from geor1.synth import CATEGORIES, HELD_OUT, SEEN, make_scene, parse_categories
from geor1.synth.aerial import CATEGORY_SPECS, GROUND, GROUND_LABELS, STYLES, plan_scene, render, scene_from_plan
from geor1.synth.aerial.planner import _Planner
from geor1.synth.aerial.raster import _Canvas
from geor1.synth.aerial.styles import _ground_use, _is_cover
from geor1.synth.expressions import grid_region, in_region, region_margin
from geor1.synth.scene import axis_class, axis_margin, canonical_category

SEEDS = range(14)


@pytest.fixture(scope="module")
def plans():
    return [plan_scene(seed, style="AB"[seed % 2]) for seed in SEEDS]


def _painted(plan, omit=()):
    """Render on a black ground, shadows and sensor off: non-zero pixels are exactly what objects painted."""
    dark = dataclasses.replace(plan, ground_bright=np.zeros_like(plan.ground_bright))
    return np.asarray(render(dark, omit=omit, shadows=False, sensor=False)).any(axis=2)


def test_masks_are_exactly_the_pixels_each_object_paints(plans):
    checked = 0
    for plan in plans:
        scene = scene_from_plan(plan)
        everything = _painted(plan)
        for k, obj in enumerate(scene.objects):
            # leave one object out: what disappears is that object's visible pixels, nothing else
            visible = everything & ~_painted(plan, omit={k})
            assert np.array_equal(visible, obj.mask), (plan.setting, obj.category)
            checked += 1
    assert checked > 60


def test_boxes_tightly_bound_rendered_pixels(plans):
    for plan in plans:
        scene = scene_from_plan(plan)
        everything = _painted(plan)
        for k, obj in enumerate(scene.objects):
            visible = everything & ~_painted(plan, omit={k})
            ys, xs = np.nonzero(visible)
            # pixel (x, y) covers [x, x+1): the tight box of columns x_min..x_max is [x_min, x_max + 1]
            assert obj.bbox == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_objects_are_where_the_sensor_image_changes(plans):
    """On the real (shadowed, blurred, noisy) image, removing an object visibly changes its mask's pixels (a
    white turbine on snow may blend in, as in real imagery, so the bar per object is low, overall high)."""
    changed = total = 0
    for plan in plans[:6]:
        scene = scene_from_plan(plan)
        full = np.asarray(scene.image).astype(int)
        for k, obj in enumerate(scene.objects):
            without = np.asarray(render(plan, omit={k})).astype(int)
            diff = np.abs(full - without).sum(axis=2) > 24
            assert diff[obj.mask].mean() > 0.2, obj.category
            changed += diff[obj.mask].sum()
            total += obj.area
    assert changed / total > 0.8


def test_objects_do_not_overlap_and_stay_inside(plans):
    for plan in plans:
        scene = scene_from_plan(plan)
        inst = scene.instance_map()
        total = sum(o.area for o in scene.objects)
        assert (inst >= 0).sum() == total  # no pixel claimed twice
        for o in scene.objects:
            x1, y1, x2, y2 = o.bbox
            assert 0 < x1 < x2 < scene.width and 0 < y1 < y2 < scene.height
            assert (inst[o.mask] == o.id).all()


def test_objects_are_not_specks_at_448px(plans):
    for plan in plans:
        for o in scene_from_plan(plan).objects:
            x1, y1, x2, y2 = o.bbox
            assert max(x2 - x1, y2 - y1) >= 12, (o.category, o.bbox)
            assert o.area >= 30, (o.category, o.area)
            if o.category in ("vehicle", "ship"):  # narrow things stay at least 5 px wide
                assert o.width_m / plan.gsd_m >= 4.99, (o.category, o.width_m, plan.gsd_m)


def test_attributes_follow_the_category_rules(plans):
    for plan in plans:
        for o in scene_from_plan(plan).objects:
            spec = CATEGORY_SPECS[o.category]
            assert o.colour in spec.colours
            assert (o.orientation is None) == spec.round
            if o.orientation is not None:
                assert 0 <= o.orientation < (360 if spec.directed else 180)


def test_ships_float_and_water_scenes_have_water():
    for seed in range(6):
        plan = plan_scene(seed, include={"ship": 3})
        assert plan.water in ("river", "coast", "lake")
        ground = plan.ground
        for o in plan.objects:
            if o.category != "ship":
                continue
            h, w = o.index.shape
            under = ground[o.y0 : o.y0 + h, o.x0 : o.x0 + w][o.index > 0]
            # water is dark and blue-green: blue above red under every ship pixel
            assert (under[:, 2] > under[:, 0]).all()


def test_bridges_cross_rivers():
    for seed in range(4):
        scene = make_scene(seed, include={"bridge": 1})
        assert scene.water == "river"
        assert "bridge" in scene.counts()


def test_same_seed_same_scene_and_styles_differ():
    a = make_scene(123, style="A")
    b = make_scene(123, style="A")
    assert a.image.tobytes() == b.image.tobytes()
    assert a.graph() == b.graph()
    c = make_scene(123, style="B")
    assert a.image.tobytes() != c.image.tobytes()
    rng = np.random.default_rng(5)
    first, second = make_scene(rng), make_scene(rng)  # a Generator is advanced, not reset
    assert first.image.tobytes() != second.image.tobytes()


def test_styles_are_different_sensors():
    plan = plan_scene(7, style="A", include={"storage tank": 4})
    as_b = dataclasses.replace(plan, style=STYLES["B"])  # the same world seen by style B's sensor

    def noise(p):  # two renders differing only in the sensor-noise draw
        other = dataclasses.replace(p, noise_key=(p.noise_key[0] + 37, p.noise_key[1] + 11, 0))
        d = np.asarray(render(p)).astype(float) - np.asarray(render(other)).astype(float)
        return d.std() / np.sqrt(2)

    assert noise(plan) == pytest.approx(STYLES["A"].noise, rel=0.2)
    assert noise(as_b) == pytest.approx(STYLES["B"].noise, rel=0.2)
    # colour balance: B's gains warm the image (a plan's palette follows its style, so each sensor's shift of
    # red relative to blue is measured against its own render without the sensor)
    def warmth(p):
        on, off = (np.asarray(render(p, sensor=s)).reshape(-1, 3).astype(float).mean(0) for s in (True, False))
        return (on[0] / on[2]) / (off[0] / off[2])

    assert warmth(as_b) > warmth(plan) * 1.1
    # optics: B's point-spread function is wider
    assert STYLES["B"].blur_taps[1] < STYLES["A"].blur_taps[1]


def test_ground_use_and_cover_follow_the_label_names():
    labels = np.arange(len(GROUND_LABELS), dtype=np.uint8).reshape(5, 6)
    use, cover = _ground_use(labels).ravel(), _is_cover(labels).ravel()
    for i, name in enumerate(GROUND_LABELS):
        road = name in ("asphalt", "mark_yellow", "mark_white")
        want = 1 if name.startswith("water") or name == "wake" else 2 if road else 3 if name == "tree" else 0
        assert use[i] == want, name
        assert cover[i] == (name in ("grass", "lawn", "dry", "soil", "snow") or name.startswith("crop")), name
    assert GROUND["crop0"] + 5 == GROUND["crop5"] and GROUND["water0"] + 7 == GROUND["water7"] == len(GROUND_LABELS) - 1


def test_raster_first_part_check_sees_the_first_shape_and_stops_the_rest():
    canvas = _Canvas(32)
    square = np.array([(4.0, 4.0), (12.0, 4.0), (12.0, 12.0), (4.0, 12.0)])
    both = np.concatenate([square, square + 10])
    shapes = [(4, 1, False), (4, 2, False)]
    seen = []

    def refuse(x0, y0, mask):
        seen.append((x0, y0, mask.copy()))
        return False

    alone = canvas.raster(square, shapes[:1], clip=False)
    assert canvas.raster(both, shapes, clip=False, first_ok=refuse) is None
    ((x0, y0, mask),) = seen  # asked once, about the first shape's pixels exactly
    assert (x0, y0) == alone[:2]
    np.testing.assert_array_equal(mask, alone[2] > 0)
    assert not canvas.pixels.any()  # refused: the canvas is left blank
    whole = canvas.raster(both, shapes, clip=False, first_ok=lambda *a: True)
    np.testing.assert_array_equal(whole[2], canvas.raster(both, shapes, clip=False)[2])
    assert whole[:2] == alone[:2] and set(np.unique(whole[2])) == {0, 1, 2}
    assert not canvas.pixels.any()


def test_paved_sites_stay_off_water():
    # an apron, a tank pad or a parking lot is laid on land, trees or a road, never over a river
    p = _Planner(np.random.default_rng(3), 448, STYLES["A"], 0.5, "farmland")
    p.make_ground("river", 0, 0)
    wet = np.argwhere(p.use == p.WATER)
    y, x = wet[len(wet) // 2]
    assert all(p.add_site(kind, x + 0.5, y + 0.5, 0.0, 30.0, 20.0) is None for kind in ("apron", "pad", "parking"))
    # on open land, away from the river, the same pad is laid
    y, x = next(
        (y, x)
        for y in range(20, 428, 16)
        for x in range(20, 428, 16)
        if not p.use[y - 20 : y + 20, x - 20 : x + 20].any()
    )
    site = p.add_site("pad", x + 0.5, y + 0.5, 0.0, 30.0, 20.0)
    assert site is not None and (p.use == site).sum() > 400


def test_category_filter_include_exclude():
    for seed in range(5):
        scene = make_scene(seed, categories=HELD_OUT)
        assert set(scene.counts()) <= set(HELD_OUT)
        scene = make_scene(seed, categories=["vehicle", "building"], include={"vehicle": 4})
        assert set(scene.counts()) <= {"vehicle", "building"}
        scene = make_scene(seed, exclude=("building",), include={"swimming pool": 2})
        assert "building" not in scene.counts()


def test_max_objects_and_size():
    scene = make_scene(3, include={"vehicle": 10}, max_objects=4, size=224)
    assert len(scene.objects) <= 4
    assert scene.image.size == (224, 224)
    # the same ground at half the pixels: the GSD doubles
    big = make_scene(3, include={"vehicle": 10}, max_objects=4, size=448)
    assert scene.gsd_m == pytest.approx(2 * big.gsd_m)


def test_every_category_can_be_made():
    for i, c in enumerate(CATEGORIES):
        found = sum(make_scene(100 + 7 * i + j, include={c: 2}).counts().get(c, 0) > 0 for j in range(3))
        assert found >= 2, c


def test_vocabulary_helpers():
    assert (
        len(CATEGORIES) >= 12
        and set(SEEN).isdisjoint(HELD_OUT)
        and set(SEEN) | set(HELD_OUT) == set(CATEGORIES)
    )
    assert canonical_category("Storage_Tank") == "storage tank"
    with pytest.raises(ValueError, match="unknown GeoSynth category"):
        canonical_category("helicopter")
    assert parse_categories("held-out") == HELD_OUT
    assert parse_categories(["seen", "harbor"]) == (*SEEN, "harbor")
    assert parse_categories("ship,storage_tank") == ("ship", "storage tank")
    assert parse_categories(None) is None
    # orientation classes centre on 0/45/90/135 degrees from north
    assert axis_class(0) == "north-south" and axis_class(181) == "north-south"
    assert axis_class(50) == "northeast-southwest" and axis_class(271) == "east-west"
    assert axis_class(135) == "northwest-southeast" and axis_class(22.4) == "north-south"
    assert axis_margin(90) == 22.5 and axis_margin(20) == pytest.approx(2.5)
    # 3 x 3 grid on a 300 px image: thirds at 100 and 200
    assert grid_region(50, 50, 300, 300) == "upper left" and grid_region(150, 250, 300, 300) == "bottom"
    assert grid_region(299.9, 150, 300, 300) == "right"
    assert in_region("left half", 149, 10, 300, 300) and not in_region("left half", 150, 10, 300, 300)
    assert region_margin("center", 150, 120, 300, 300) == 20  # 20 px below the top third line
    assert region_margin("upper left", 250, 50, 300, 300) == 150  # far outside: clearly not there
    assert region_margin("upper left", 10, 10, 300, 300) == 90  # image borders are no boundary
    assert region_margin("right half", 140, 299, 300, 300) == 10

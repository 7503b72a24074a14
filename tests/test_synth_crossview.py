"""GeoSynth crossview and geoloc datasets (geor1.synth.crossview)."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geor1.data.schema import load_dataset
from geor1.synth import crossview as cv
from geor1.synth import ground, world


def great_circle_km(lat1, lon1, lat2, lon2):
    """Haversine on a sphere of the mean Earth radius, written out here to check the module's."""
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def crossview_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cv")
    assert cv.write_crossview(out, 3, seed=7) == 3
    return out


def test_crossview_dataset_loads_with_the_documented_layout(crossview_dir):
    ds = load_dataset(crossview_dir)
    assert len(ds) == 3
    for s in ds:
        assert s.task == "crossview" and s.choices == ["A", "B", "C", "D"] and s.answer in s.choices
        assert len(s.images) == len(s.gps) == len(s.times) == 5
        q = Image.open(ds.image_path(s, 0))
        assert q.size == (512, 256) == (s.width, s.height)  # a 2:1 panorama at the default size
        assert all(Image.open(ds.image_path(s, i)).size == (256, 256) for i in range(1, 5))
        m = s.meta
        assert m["query_view"] == "ground" and m["candidate_view"] == "aerial"
        assert m["candidate_kind"][s.choices.index(s.answer)] == "true"
        assert m["candidate_kind"].count("true") == 1
        assert {"city", "country", "continent", "biome", "climate_band"} <= set(m)
        assert len(m["evidence"]["candidates"]) == 4 and "road_bearings_deg" in m["evidence"]["query"]
        assert m["biome"] == world.biome(*s.gps[0]) and m["city"] == world.nearest_city(*s.gps[0])[0].name


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_candidates_lie_at_the_asked_distances(seed):
    sample, _ = cv.make_crossview_sample(
        seed, size=32, k=6, hard_fraction=0.5, hard_radius_km=2.0, easy_min_km=3000.0
    )
    (lat, lon), kinds = sample.gps[0], sample.meta["candidate_kind"]
    for i, (kind, (clat, clon)) in enumerate(zip(kinds, sample.gps[1:])):
        km = great_circle_km(lat, lon, clat, clon)
        assert km == pytest.approx(sample.meta["candidate_km"][i], abs=0.002)
        if kind == "true":
            assert km < 1e-6 and sample.choices[i] == sample.answer
        elif kind == "hard":
            assert cv.MIN_HARD_KM <= km <= 2.0
            city = world.nearest_city(clat, clon)[0].name
            assert sample.meta["candidate_city"][i] == sample.meta["city"] == city
        else:
            assert kind == "easy" and km >= 3000.0
    # distractors never overlap each other either
    pts = sample.gps[1:]
    assert min(great_circle_km(*a, *b) for n, a in enumerate(pts) for b in pts[n + 1 :]) >= cv.MIN_HARD_KM


def test_hard_fraction_sets_the_mix():
    all_hard, _ = cv.make_crossview_sample(3, size=32, k=5, hard_fraction=1.0)
    all_easy, _ = cv.make_crossview_sample(3, size=32, k=5, hard_fraction=0.0)
    assert sorted(all_hard.meta["candidate_kind"]) == ["hard"] * 4 + ["true"]
    assert sorted(all_easy.meta["candidate_kind"]) == ["easy"] * 4 + ["true"]
    kinds = [
        k
        for i in range(12)
        for k in cv.make_crossview_sample(cv.sample_rng(5, "crossview", i), size=32, k=3)[0].meta[
            "candidate_kind"
        ]
    ]
    assert 6 <= kinds.count("hard") <= 18  # half of 24 distractors, give or take
    answers = {
        cv.make_crossview_sample(cv.sample_rng(9, "crossview", i), size=32, k=3)[0].answer for i in range(12)
    }
    assert len(answers) >= 2  # the truth is not always in the same slot


def test_every_image_is_rendered_from_its_own_place(crossview_dir):
    """The query panorama and the true tile come from one layout; distractors from theirs."""
    ds = load_dataset(crossview_dir)
    s = ds[0]
    truth = ground.layout_at(*s.gps[0])
    answer_index = 1 + s.choices.index(s.answer)
    same = ground.layout_at(*s.gps[answer_index])
    assert (same.plan.city, same.cam_U, same.cam_V, same.seed) == (
        truth.plan.city,
        truth.cam_U,
        truth.cam_V,
        truth.seed,
    )
    pano = ground.render_panorama(truth, when(s.times[0]), 256, "A")
    assert np.array_equal(np.asarray(pano), np.asarray(Image.open(ds.image_path(s, 0))))
    for i in range(1, 5):
        lay = ground.layout_at(*s.gps[i])
        tile = ground.render_aerial(lay, when(s.times[i]), 256, "A")
        assert np.array_equal(np.asarray(tile), np.asarray(Image.open(ds.image_path(s, i)).convert("RGB"))), i


def test_capture_times_are_daylight_and_in_their_windows():
    s, _ = cv.make_crossview_sample(11, size=32)
    days = {when(t).date() for t in s.times}
    for i, (iso, (lat, lon)) in enumerate(zip(s.times, s.gps)):
        t = when(iso)
        assert world.solar_position(t, lat, lon)[0] >= ground.SUN_MIN_ELEVATION_DEG
        lo, hi = cv.STREET_HOURS if i == 0 else cv.SATELLITE_HOURS
        assert lo <= world.local_solar_hours(t, lon) <= hi
    assert (max(days) - min(days)).days <= 2  # one local date for all (UTC dates differ by the longitude)


def test_reverse_asks_for_the_panorama_of_an_aerial_tile():
    s, images = cv.make_crossview_sample(4, size=48, k=3, reverse=True)
    assert s.meta["query_view"] == "aerial" and images[0].size == (48, 48) == (s.width, s.height)
    assert all(im.size == (96, 48) for im in images[1:])
    truth = ground.layout_at(*s.gps[0])
    i = s.choices.index(s.answer)
    assert np.array_equal(
        np.asarray(images[1 + i]), np.asarray(ground.render_panorama(truth, when(s.times[1 + i]), 48, "A"))
    )


def test_same_seed_same_bytes_and_samples_do_not_depend_on_each_other(tmp_path, crossview_dir):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    cv.write_crossview(a, 2, seed=7)
    cv.write_crossview(b, 2, seed=7)
    cv.write_crossview(c, 2, seed=8, size=32)
    fa, fb = files(a), files(b)
    assert fa == fb and len(fa) == 1 + 2 * 5
    # the first two samples of a 3-sample dataset are those of the 2-sample one
    fc3 = files(crossview_dir)
    assert all(fc3[name] == data for name, data in fa.items() if name != "data.jsonl")
    lines3 = (crossview_dir / "data.jsonl").read_text().splitlines()
    assert (a / "data.jsonl").read_text().splitlines() == lines3[:2]
    assert (c / "data.jsonl").read_bytes() != fa["data.jsonl"]


def test_geoloc_dataset(tmp_path):
    assert cv.write_geoloc(tmp_path / "g", 3, seed=2) == 3
    assert cv.write_geoloc(tmp_path / "ga", 2, seed=2, size=48, view="aerial") == 2
    ds = load_dataset(tmp_path / "g")
    assert files(tmp_path / "g") == files(tmp_path / "g")
    for s in ds:
        (lat, lon), m = s.gps[0], s.meta
        assert s.task == "geoloc" and len(s.images) == 1 and (s.width, s.height) == (512, 256)
        city, km = world.nearest_city(lat, lon)
        assert (m["city"], m["country"]) == (city.name, city.country)
        assert m["city_km"] == pytest.approx(km, abs=0.01)
        assert m["continent"] == world.continent(lat, lon) and m["climate_band"] == world.climate_band(lat)
        assert m["biome"] == world.biome(lat, lon) == m["evidence"]["biome"]
        ev = m["evidence"]
        assert {"sun_elevation_deg", "sun_azimuth_deg", "architecture", "snow", "local_solar_time"} <= set(ev)
        assert ev["sun_elevation_deg"] >= ground.SUN_MIN_ELEVATION_DEG
    aerial = load_dataset(tmp_path / "ga")
    assert all((s.width, s.height) == (48, 48) and s.meta["view"] == "aerial" for s in aerial)


def test_geor1_synth_writes_datasets_the_loader_accepts(tmp_path):
    # the `geor1 synth` subcommand's own parser and runner (geor1.cli only dispatches to them)
    import argparse

    from geor1.synth import cli

    for task in ("crossview", "geoloc"):
        out = tmp_path / task
        parser = argparse.ArgumentParser()
        cli.add_arguments(parser)
        extra = ["--k", "3", "--hard-radius-km", "4"] if task == "crossview" else ["--view", "ground"]
        args = parser.parse_args([task, "--n", "2", "--seed", "3", "--out", str(out), "--size", "64", *extra])
        assert cli.run(args) == 0
        ds = load_dataset(out)
        assert len(ds) == 2 and all(s.task == task for s in ds) and (ds[0].width, ds[0].height) == (128, 64)
        if task == "crossview":
            assert all(len(s.choices) == 3 for s in ds)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    with pytest.raises(SystemExit, match="--k does not apply to geoloc"):
        cli.run(parser.parse_args(["geoloc", "--n", "1", "--out", str(tmp_path / "x"), "--k", "4"]))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"k": 1}, "k"),
        ({"hard_fraction": 1.5}, "hard_fraction"),
        ({"hard_radius_km": 0.5}, "hard_radius_km"),
        ({"easy_min_km": 3.0}, "easy_min_km"),
        ({"style": "C"}, "style"),
        ({"size": 8}, "size"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cv.make_crossview_sample(0, **kwargs)


def test_bad_seed_or_count_is_refused(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        cv.write_crossview(tmp_path, 1, seed=-1)
    with pytest.raises(ValueError, match="n must"):
        cv.write_geoloc(tmp_path, -2, seed=0)
    with pytest.raises(ValueError, match="view"):
        cv.make_geoloc_sample(0, view="street")


def test_contact_sheet(tmp_path):
    """Cross-view samples on the one contact sheet: query across the top, candidates below, and the
    caption naming the place and each distractor's kind and distance."""
    from geor1.synth.contact_sheet import write_contact_sheet

    path = write_contact_sheet(tmp_path / "sheet.png", tasks=["crossview"], n=2, size=48, tile=200)
    sheet = Image.open(path)
    assert sheet.width > 2 * 200 and sheet.height > 100
    s, _ = cv.make_crossview_sample(0, size=48)
    from geor1.tasks import crossview

    text = crossview.caption(s)
    assert text.startswith(f"answer {s.answer} ({s.meta['city']}, ") and " km" in text

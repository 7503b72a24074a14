"""The GeoSynth planet (geor1.synth.world) and its 3-D places (geor1.synth.ground)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.synth import ground, world
from geor1.synth.ground.cover import _shadow_mask as shadow_mask
from geor1.synth.ground.cover import _sun_vector as sun_vector

UTC = timezone.utc


def noon(day: datetime, lat: float, lon: float) -> tuple[datetime, float, float]:
    """The minute of highest sun on ``day`` (UTC) at (lat, lon), with elevation and azimuth there."""
    best = None
    for minute in range(24 * 60):
        t = day + timedelta(minutes=minute)
        el, az = world.solar_position(t, lat, lon)
        if best is None or el > best[1]:
            best = (t, el, az)
    return best


# ----------------------------------------------------------------------------------------------
# the sun


@pytest.mark.parametrize("lat", [0.0, 40.0, -30.0, 60.0])
def test_equinox_noon_sun_stands_at_90_minus_latitude(lat):
    # 2024-03-20 is the March equinox (declination within 0.2° of 0 all day)
    _, el, az = noon(datetime(2024, 3, 20, tzinfo=UTC), lat, 0.0)
    assert el == pytest.approx(90.0 - abs(lat), abs=0.5)
    if lat > 0:
        assert az == pytest.approx(180.0, abs=1.0)  # due south north of the equator
    elif lat < 0:
        assert min(az, 360 - az) == pytest.approx(0.0, abs=1.0)  # due north south of it


def test_solstice_sun_is_overhead_on_the_tropic_and_on_the_horizon_at_the_polar_circle():
    _, el, _ = noon(datetime(2024, 6, 20, tzinfo=UTC), 23.44, 0.0)
    assert el == pytest.approx(90.0, abs=0.5)
    _, el, _ = noon(datetime(2024, 12, 21, tzinfo=UTC), 66.56, 0.0)
    assert el == pytest.approx(0.0, abs=0.5)
    _, el, _ = noon(datetime(2024, 6, 20, tzinfo=UTC), 40.0, 0.0)
    assert el == pytest.approx(90 - 40 + 23.44, abs=0.5)  # 73.4°


def test_equation_of_time_and_longitude_shift_solar_noon():
    # the sun dials run ~16 min fast in early November and ~14 min slow in mid February
    t, _, _ = noon(datetime(2024, 11, 3, tzinfo=UTC), 0.0, 0.0)
    assert datetime(2024, 11, 3, 11, 42, tzinfo=UTC) <= t <= datetime(2024, 11, 3, 11, 46, tzinfo=UTC)
    t, _, _ = noon(datetime(2024, 2, 11, tzinfo=UTC), 0.0, 0.0)
    assert datetime(2024, 2, 11, 12, 12, tzinfo=UTC) <= t <= datetime(2024, 2, 11, 12, 16, tzinfo=UTC)
    # 90° east: noon six hours earlier
    t, _, _ = noon(datetime(2024, 11, 3, tzinfo=UTC), 0.0, 90.0)
    assert datetime(2024, 11, 3, 5, 42, tzinfo=UTC) <= t <= datetime(2024, 11, 3, 5, 46, tzinfo=UTC)


def test_sunrise_in_the_east_and_sunset_in_the_west_at_the_equator():
    el, az = world.solar_position(datetime(2024, 3, 20, 6, 7, tzinfo=UTC), 0.0, 0.0)
    assert el == pytest.approx(0.0, abs=1.0) and az == pytest.approx(90.0, abs=1.0)
    el, az = world.solar_position(datetime(2024, 3, 20, 18, 7, tzinfo=UTC), 0.0, 0.0)
    assert el == pytest.approx(0.0, abs=1.0) and az == pytest.approx(270.0, abs=1.0)
    el, _ = world.solar_position(datetime(2024, 3, 21, 0, 7, tzinfo=UTC), 0.0, 0.0)
    assert el == pytest.approx(-90.0, abs=1.0)  # midnight: the sun below the feet


def test_naive_and_aware_times_agree():
    naive = world.solar_position(datetime(2023, 8, 1, 9, 30), 51.5, -0.1)
    paris_summer_time = timezone(timedelta(hours=2))
    aware = world.solar_position(datetime(2023, 8, 1, 11, 30, tzinfo=paris_summer_time), 51.5, -0.1)
    assert naive == pytest.approx(aware)


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180), minutes=st.integers(0, 366 * 24 * 60))
def test_sun_never_stands_higher_than_the_tropics_allow(lat, lon, minutes):
    el, az = world.solar_position(datetime(2023, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes), lat, lon)
    assert -90 <= el <= 90 - max(0.0, abs(lat) - 23.45) + 0.05
    assert 0 <= az < 360


def test_local_solar_hours():
    assert world.local_solar_hours(datetime(2024, 1, 1, 12, 0, tzinfo=UTC), 0.0) == pytest.approx(12.0)
    assert world.local_solar_hours(datetime(2024, 1, 1, 12, 0, tzinfo=UTC), 90.0) == pytest.approx(18.0)
    assert world.local_solar_hours(datetime(2024, 1, 1, 2, 0, tzinfo=UTC), -45.0) == pytest.approx(23.0)


# ----------------------------------------------------------------------------------------------
# climate, biome, continent


@pytest.mark.parametrize(
    "lat,band",
    [
        (0, "tropical"),
        (23.0, "tropical"),
        (-23.5, "subtropical"),
        (34.9, "subtropical"),
        (-40, "temperate"),
        (54.9, "temperate"),
        (60, "subpolar"),
        (-66.0, "subpolar"),
        (66.6, "polar"),
        (-89, "polar"),
    ],
)
def test_climate_band_by_latitude(lat, band):
    assert world.climate_band(lat) == band


def _biomes(lats, lowland_only=False):
    found = Counter()
    for lat in lats:
        for lon in np.linspace(-180, 175, 36):
            if lowland_only and world.elevation_m(lat, lon) >= 500:
                continue
            found[world.biome(lat, lon)] += 1
    return found


def test_biomes_follow_latitude():
    assert set(_biomes([80, 85, -82, -89])) == {"ice"}  # polar caps
    assert set(_biomes([68, 72, 76, -70], lowland_only=True)) <= {"ice", "tundra", "boreal_forest"}
    tropics = _biomes([0, 5, -5, 10, -10], lowland_only=True)
    assert not set(tropics) & {"ice", "tundra", "boreal_forest", "grassland"}
    assert tropics["tropical_rainforest"] > sum(tropics.values()) / 2  # a wet equator
    mid = _biomes([45, 50, -48, 55])
    assert not set(mid) & {"tropical_rainforest", "savanna"}
    sub = _biomes([25, 28, -26, 30], lowland_only=True)
    assert sub["desert"] / sum(sub.values()) > 2 * tropics["desert"] / sum(tropics.values())  # dry subtropics


def test_world_fields_are_pure_functions():
    def fields():
        return [
            (world.biome(la, lo), world.elevation_m(la, lo), world.moisture(la, lo))
            for la, lo in [(10, 20), (-33, 151)]
        ]

    first = fields()
    world.biome(71.0, -40.0)  # other queries in between change nothing
    again = fields()
    assert first == again
    for la, lo in [(10, 20), (-33, 151), (64, 100)]:
        assert 0 <= world.moisture(la, lo) <= 1 and world.elevation_m(la, lo) >= 0


def test_seasons_are_opposite_in_the_two_hemispheres():
    assert world.temperature_c(50, 10, 200) > world.temperature_c(50, 10, 15) + 10
    assert world.temperature_c(-50, 10, 15) > world.temperature_c(-50, 10, 200) + 10
    assert abs(world.temperature_c(0, 10, 200) - world.temperature_c(0, 10, 15)) < 3


@pytest.mark.parametrize(
    "lat,lon,continent,city",
    [
        (48.8566, 2.3522, "Europe", "Paris"),
        (-1.2864, 36.8172, "Africa", "Nairobi"),
        (35.6895, 139.6917, "Asia", "Tokyo"),
        (-33.8688, 151.2093, "Oceania", "Sydney"),
        (-23.5505, -46.6333, "South America", "São Paulo"),
        (40.7128, -74.0060, "North America", "New York City"),
    ],
)
def test_continents_and_cities_are_earth_like(lat, lon, continent, city):
    assert world.continent(lat, lon) == continent
    c, km = world.nearest_city(lat, lon)
    assert c.name == city and km < 15
    place = world.describe(lat, lon)
    assert place.continent == continent and place.city == c and place.region == c.country
    assert place.climate_band == world.climate_band(lat) and place.biome == world.biome(lat, lon)


def test_open_ocean_is_no_continent():
    assert world.continent(0.0, -140.0) == "Ocean"
    assert world.continent(-50.0, -100.0) == "Ocean"
    assert world.continent(61.0, 99.0) == "Asia"  # Siberia, east of the Urals


def test_named_cities_cover_the_world():
    cities = world.cities()
    assert len(cities) > 600
    ids = [c.id for c in cities]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(c.name and c.country and -90 <= c.lat <= 90 and -180 <= c.lon <= 180 for c in cities)
    inhabited = {"Africa", "Asia", "Europe", "North America", "Oceania", "South America"}
    assert {c.continent for c in cities} >= inhabited
    assert any(abs(c.lat) > 66.56 for c in cities)  # polar towns too
    assert all(c.population >= 1_000_000 for c in cities if c.name in ("Tokyo", "Lagos", "Lima"))


def test_street_plans_are_deterministic_and_regional():
    paris = next(c for c in world.cities() if c.name == "Paris")
    a, b = world.street_plan(paris), world.street_plan(paris)
    assert a == b and 0 <= a.grid_bearing_deg < 90 and a.block_m > 0 and a.street_m > 0
    assert a.architecture.name == "european"
    lagos = next(c for c in world.cities() if c.name == "Lagos")
    assert world.street_plan(lagos).architecture.name == "african"
    assert world.street_plan(lagos).urban_radius_km > a.urban_radius_km  # 15 M people against 2 M


@settings(max_examples=200, deadline=None)
@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-180, 180),
    east=st.floats(-20000, 20000),
    north=st.floats(-20000, 20000),
)
def test_local_offsets_round_trip(lat, lon, east, north):
    la, lo = world.offset_to_latlon(lat, lon, east, north)
    assert -180 <= lo <= 180
    assert world.local_offset_m(lat, lon, la, lo) == pytest.approx((east, north), abs=1e-5)


@settings(max_examples=15, deadline=None)
@given(city=st.sampled_from(world.cities()), km=st.floats(0, 30), bearing=st.floats(0, 360))
def test_snapping_onto_a_street_is_idempotent(city, km, bearing):
    b = math.radians(bearing)
    lat, lon = world.offset_to_latlon(city.lat, city.lon, 1000 * km * math.sin(b), 1000 * km * math.cos(b))
    lay = ground.layout_at(lat, lon)
    if lay.place.city != lay.plan.city:  # a camera that crossed into a neighbour's area settles there
        lay = ground.layout_at(lay.lat, lay.lon)
    again = ground.layout_at(lay.lat, lay.lon)
    assert (again.plan.city, again.cam_U, again.cam_V) == (lay.plan.city, lay.cam_U, lay.cam_V)


def test_local_offsets_round_trip_and_match_great_circle_distance():
    lat, lon = world.offset_to_latlon(45.0, 7.0, 3000.0, -4000.0)
    assert world.local_offset_m(45.0, 7.0, lat, lon) == pytest.approx((3000.0, -4000.0), abs=1e-6)
    assert world.haversine_km(45.0, 7.0, lat, lon) == pytest.approx(5.0, rel=1e-3)


# ----------------------------------------------------------------------------------------------
# places in 3-D and their views


@pytest.fixture(scope="module")
def town():
    paris = next(c for c in world.cities() if c.name == "Paris")
    return ground.layout_at(paris.lat + 0.004, paris.lon - 0.003)


def test_layout_stands_on_a_street_and_rebuilds_from_its_gps(town):
    again = ground.layout_at(town.lat, town.lon)
    assert (again.cam_U, again.cam_V, again.seed) == (town.cam_U, town.cam_V, town.seed)
    assert again.plan == town.plan
    np.testing.assert_array_equal(again.buildings, town.buildings)
    np.testing.assert_array_equal(again.trees, town.trees)
    assert len(town.buildings) > 5
    # the camera is on the street: no footprint contains it, none comes closer than a quarter street
    b = town.buildings
    gap = np.maximum(np.maximum(b[:, 0], -b[:, 1]), np.maximum(b[:, 2], -b[:, 3]))
    assert (gap >= town.plan.street_m / 4 - 1e-6).all()
    x, y = np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32)
    cond = ground.conditions(town, datetime(2022, 6, 1, 10, tzinfo=UTC))
    assert ground.ground_cover(town, x, y, cond)[0, 0] == pytest.approx(np.float32(ground.ASPHALT), abs=0.1)


def test_footprints_match_grid_boxes(town):
    b = town.buildings[0]
    corners = town.footprints[0]
    u, v = town.to_grid(corners[:, 0], corners[:, 1])
    np.testing.assert_allclose(u, [b[0], b[1], b[1], b[0]], atol=1e-9)
    np.testing.assert_allclose(v, [b[2], b[2], b[3], b[3]], atol=1e-9)


def test_shadow_direction_follows_the_sun(town):
    morning = ground.conditions(town, datetime(2022, 6, 21, 6, 0, tzinfo=UTC))  # Paris: sun in the east
    evening = ground.conditions(town, datetime(2022, 6, 21, 16, 0, tzinfo=UTC))  # sun in the west
    assert morning.sun_azimuth < 130 and evening.sun_azimuth > 230
    cols = np.arange(256)[None, :]

    def shadow_centre_x(cond):
        m = shadow_mask(town, cond, ground.TILE_EXTENT_M, 256)
        return float((m * cols).sum() / m.sum())

    assert shadow_centre_x(morning) < shadow_centre_x(evening)  # shadows fall west in the morning
    # hand check: sun due east at 45° elevation throws a shadow as long as the height, due west
    cond = ground.Conditions(45.0, 90.0, 20.0, False, "leaf")
    assert sun_vector(cond) == pytest.approx((-1.0, 0.0), abs=1e-9)


def test_views_have_the_documented_sizes_and_are_deterministic(town):
    when = datetime(2022, 6, 1, 10, 30, tzinfo=UTC)
    a1, a2 = ground.render_aerial(town, when, 96, "A"), ground.render_aerial(town, when, 96, "A")
    p1 = ground.render_panorama(town, when, 64, "B")
    assert a1.size == (96, 96) and a1.mode == "RGB" and p1.size == (128, 64)
    assert a1.tobytes() == a2.tobytes()
    assert p1.tobytes() == ground.render_panorama(town, when, 64, "B").tobytes()
    assert a1.tobytes() != ground.render_aerial(town, when, 96, "B").tobytes()


def test_panorama_sky_up_ground_down_and_the_sun_where_solar_position_says():
    rural = ground.layout_at(*world.offset_to_latlon(25.07, 55.17, 20000.0, -20000.0))  # desert outside Dubai
    assert rural.density < 0.1 and rural.place.moisture < 0.2  # no clouds
    when = datetime(2022, 3, 1, 6, 20, tzinfo=UTC)  # 10:00 local solar time
    img = np.asarray(ground.render_panorama(rural, when, 128, "A"), np.float32)
    H, W, _ = img.shape
    el, az = world.solar_position(when, rural.lat, rural.lon)
    assert el > 30
    col, row = int(az / 360 * W), int((90 - el) / 180 * H)  # the module docstring's pixel mapping
    sky_top = img[: H // 8].reshape(-1, 3).mean(axis=0)
    assert sky_top[2] > sky_top[0]  # blue overhead
    assert img[row, col].mean() > 240  # the sun's disc
    assert img[row, (col + W // 2) % W].mean() < 220  # not opposite it
    bottom = img[-H // 8 :].reshape(-1, 3).mean(axis=0)
    assert bottom[2] <= bottom[0] + 10  # ground, not sky, below


def test_winter_snow_brightens_a_cold_city():
    moscow = next(c for c in world.cities() if c.name == "Moscow")
    lay = ground.layout_at(moscow.lat + 0.02, moscow.lon)
    winter, summer = datetime(2022, 1, 15, 9, 0, tzinfo=UTC), datetime(2022, 7, 15, 9, 0, tzinfo=UTC)
    assert ground.conditions(lay, winter).snow and not ground.conditions(lay, summer).snow
    w = np.asarray(ground.render_aerial(lay, winter, 64), np.float32).mean()
    s = np.asarray(ground.render_aerial(lay, summer, 64), np.float32).mean()
    assert w > s + 20


def test_evidence_describes_the_tile(town):
    ev = ground.layout_evidence(town, datetime(2022, 6, 1, 10, 30, tzinfo=UTC))
    assert ev["biome"] == town.plan.biome and ev["architecture"] == "european"
    assert ev["n_buildings"] > 0 and 0 < ev["mean_height_m"] <= ev["max_height_m"]
    assert ev["camera_street_bearing_deg"] in [pytest.approx(b, abs=0.11) for b in ev["road_bearings_deg"]]
    assert 0 <= ev["water_share"] <= 1 and ev["snow"] is False
    el, az = world.solar_position(datetime(2022, 6, 1, 10, 30, tzinfo=UTC), town.lat, town.lon)
    assert (ev["sun_elevation_deg"], ev["sun_azimuth_deg"]) == (round(el, 1), round(az, 1))
    assert math.isfinite(ev["pitched_roof_share"])


def test_large_panoramas_render_in_every_style():
    # 448 px asks for an 896 x 448 panorama: more pixels than the sensor-noise buffer holds.
    from geor1.synth.crossview import make_crossview_sample, make_geoloc_sample

    for style in ("A", "B"):
        sample, images = make_geoloc_sample(0, size=448, style=style)
        assert images[0].size == (896, 448)
        sample, images = make_crossview_sample(1, size=448, style=style, k=2)
        assert images[0].size == (896, 448) and len(images) == 3

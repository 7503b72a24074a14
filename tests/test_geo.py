"""Great-circle geometry and the gazetteer, against hand-checked values."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.geo import (
    EARTH_RADIUS_KM,
    HALF_CIRCUMFERENCE_KM,
    destination,
    haversine_km,
    initial_bearing_deg,
    lookup_city,
    lookup_country,
    lookup_place,
    normalize_name,
    wrap_lon,
)

ONE_DEGREE_KM = 2 * math.pi * EARTH_RADIUS_KM / 360  # 111.195 km


@pytest.mark.parametrize("a, b, km", [
    ((48.8566, 2.3522), (51.5074, -0.1278), 343.6),      # Paris - London, "about 344 km"
    ((40.7128, -74.0060), (34.0522, -118.2437), 3936.0),  # New York - Los Angeles
    ((-33.8688, 151.2093), (35.6762, 139.6503), 7823.0),  # Sydney - Tokyo
])
def test_haversine_known_city_pairs(a, b, km):
    assert haversine_km(*a, *b) == pytest.approx(km, rel=0.003)
    assert haversine_km(*b, *a) == pytest.approx(haversine_km(*a, *b))


def test_haversine_special_cases():
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.195, abs=1e-3)
    # Across the antimeridian: 179.5 E to 179.5 W is one degree, not 359.
    assert haversine_km(0, 179.5, 0, -179.5) == pytest.approx(ONE_DEGREE_KM)
    # At a pole every longitude is the same point; 1 degree off the pole on opposite meridians is 2 degrees.
    assert haversine_km(90, 0, 90, 123) == pytest.approx(0, abs=1e-9)
    assert haversine_km(89, 0, 89, 180) == pytest.approx(2 * ONE_DEGREE_KM)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(HALF_CIRCUMFERENCE_KM)
    assert haversine_km(-90, 0, 90, 0) == pytest.approx(HALF_CIRCUMFERENCE_KM)
    assert isinstance(haversine_km(1, 2, 3, 4), float)


def test_haversine_is_vectorized():
    lat = np.array([0.0, 0.0, 48.8566])
    lon = np.array([1.0, 2.0, 2.3522])
    d = haversine_km(0.0, 0.0, lat, lon)
    assert d.shape == (3,)
    assert d[:2] == pytest.approx([ONE_DEGREE_KM, 2 * ONE_DEGREE_KM])
    grid = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert grid.shape == (3, 3) and np.allclose(np.diag(grid), 0) and np.allclose(grid, grid.T)


def test_wrap_lon():
    assert wrap_lon(190) == -170
    assert wrap_lon(-190) == 170
    assert wrap_lon(180) == -180
    assert wrap_lon(540) == -180
    assert wrap_lon(-180) == -180
    assert np.allclose(wrap_lon(np.array([0, 359, 721])), [0, -1, 1])


def test_destination_hand_checked():
    lat, lon = destination(0, 0, 90, ONE_DEGREE_KM)
    assert (lat, lon) == pytest.approx((0, 1), abs=1e-9)
    lat, lon = destination(0, 0, 0, ONE_DEGREE_KM)
    assert (lat, lon) == pytest.approx((1, 0), abs=1e-9)
    # East across the antimeridian wraps to the western hemisphere.
    lat, lon = destination(0, 179.5, 90, ONE_DEGREE_KM)
    assert (lat, lon) == pytest.approx((0, -179.5), abs=1e-9)
    # North over the pole comes down the opposite meridian.
    lat, lon = destination(89.5, 0, 0, ONE_DEGREE_KM)
    assert lat == pytest.approx(89.5, abs=1e-9) and abs(lon) == pytest.approx(180, abs=1e-9)


def test_initial_bearing():
    assert initial_bearing_deg(0, 0, 0, 1) == pytest.approx(90)
    assert initial_bearing_deg(0, 0, 1, 0) == pytest.approx(0)
    assert initial_bearing_deg(0, 0, -1, 0) == pytest.approx(180)
    assert initial_bearing_deg(0, 1, 0, 0) == pytest.approx(270)


@settings(max_examples=200, deadline=None)
@given(st.floats(-85, 85), st.floats(-180, 180), st.floats(0, 360, exclude_max=True), st.floats(0.01, 5000))
def test_destination_round_trip(lat, lon, bearing, km):
    lat2, lon2 = destination(lat, lon, bearing, km)
    assert -90 <= lat2 <= 90 and -180 <= lon2 < 180
    assert haversine_km(lat, lon, lat2, lon2) == pytest.approx(km, rel=1e-6, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180))
def test_haversine_is_a_bounded_symmetric_distance(a, b, c, d):
    x = haversine_km(a, b, c, d)
    assert 0 <= x <= HALF_CIRCUMFERENCE_KM + 1e-6
    assert x == pytest.approx(haversine_km(c, d, a, b), abs=1e-6)


def test_normalize_name():
    assert normalize_name("  São  Paulo ") == "sao paulo"
    assert normalize_name("Saint-Étienne") == "saint etienne"
    assert normalize_name("U.S.A.") == "u s a"


def test_lookup_city_ambiguity_rules():
    paris = lookup_city("Paris")
    assert (paris.country, paris.kind) == ("FR", "city")
    assert haversine_km(paris.lat, paris.lon, 48.8566, 2.3522) < 5
    assert paris.alternatives >= 1  # Paris, Texas lost on population
    texas = lookup_city("Paris", "US")
    assert texas.country == "US" and 33 < texas.lat < 34.5
    assert lookup_city("paris", "United States") == texas
    london = lookup_city("London")
    assert london.country == "GB"
    assert lookup_city("London", "Canada").country == "CA"
    assert lookup_city("Sao Paulo").country == "BR"  # accents do not matter
    assert lookup_city("München").name == "Munich"   # an alternate name
    assert lookup_city("Paris", "Atlantis") is None
    assert lookup_city("Xqzzyville") is None
    assert lookup_city("") is None


def test_lookup_country():
    france = lookup_country("France")
    assert france.country == "FR" and france.kind == "country"
    assert 42 < france.lat < 51.5 and -5 < france.lon < 8.5  # the population centroid lies inside France
    assert lookup_country("FRA") == france and lookup_country("fr") == france
    assert lookup_country("USA").country == "US"
    assert lookup_country("UK").country == "GB"
    fiji = lookup_country("Fiji")  # straddles the antimeridian: the centroid must not land near 0 E
    assert abs(fiji.lon) > 170
    assert lookup_country("Atlantis") is None
    assert lookup_country("Antarctica") is None  # no cities, no position


def test_lookup_place():
    assert lookup_place("Paris, France").name == "Paris"
    assert lookup_place("Paris, Texas, USA").country == "US"
    assert lookup_place("Georgia").kind == "country"  # the country beats the US state capital-less name
    assert lookup_place("Mexico").kind == "country"
    assert lookup_place("Tokyo").country == "JP"
    assert lookup_place("Atlantis, France").kind == "country"  # unknown city: the country is still known
    assert lookup_place("") is None

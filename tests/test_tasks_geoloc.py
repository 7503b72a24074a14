"""The geoloc task: coordinate parser, gazetteer fallback, rewards and threshold metrics."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.data.schema import Sample
from geor1.geo import HALF_CIRCUMFERENCE_KM, destination, haversine_km
from geor1.tasks import geoloc as gl
from geor1.tasks.common import THINK_ANSWER_INSTRUCTION

PARIS = (48.8566, 2.3522)


def make_sample(lat=PARIS[0], lon=PARIS[1], **meta):
    return Sample(id="g1", task="geoloc", images=["photo.jpg"], width=64, height=48, gps=[[lat, lon]], meta=meta)


def test_prompt_messages_target_solution():
    s = make_sample(city="Paris", country="France")
    prompt = gl.build_prompt(s, None)
    assert "latitude and longitude" in prompt and '{"lat": <latitude>, "lon": <longitude>}' in prompt
    assert prompt.endswith(THINK_ANSWER_INSTRUCTION)
    assert "city and country" in gl.build_prompt(s, None, think=False, ask_place=True)
    assert [c["type"] for c in gl.build_messages(s, None)[0]["content"]] == ["image", "text"]
    assert json.loads(gl.target_answer(s, None)) == {"lat": 48.8566, "lon": 2.3522}
    assert json.loads(gl.target_answer(s, None, ask_place=True)) == {"city": "Paris", "country": "France",
                                                                    "lat": 48.8566, "lon": 2.3522}
    assert json.loads(gl.solution(s, None)) == {"task": "geoloc", "lat": 48.8566, "lon": 2.3522, "city": "Paris",
                                               "country": "France"}
    # The gold answer parses back to the truth.
    assert gl.parse_answer(gl.target_answer(s, None)).value.lat == 48.8566


@pytest.mark.parametrize("text, lat, lon", [
    ('{"lat": 48.8566, "lon": 2.3522}', 48.8566, 2.3522),
    ('{"latitude": -33.87, "longitude": 151.21}', -33.87, 151.21),
    ('{"Lat": "48.85 N", "Lng": "2.35 E"}', 48.85, 2.35),
    ("48.8566, 2.3522", 48.8566, 2.3522),
    ("(-33.8688; 151.2093)", -33.8688, 151.2093),
    ("[40.7128, -74.0060]", 40.7128, -74.006),
    ("48.8566 N, 2.3522 E", 48.8566, 2.3522),
    ("2.3522 E, 48.8566 N", 48.8566, 2.3522),              # order fixed by the hemisphere letters
    ("40.7128° N, 74.0060° W", 40.7128, -74.006),
    ("33.87 S 151.21 E", -33.87, 151.21),
    ("S 33.87, E 151.21", -33.87, 151.21),
    ("N40°42' W74°0'", 40.7, -74.0),
    ("48°51'24\"N 2°21'0\"E", 48 + 51 / 60 + 24 / 3600, 2.35),
    ("48°51′24″N, 2°21′E", 48 + 51 / 60 + 24 / 3600, 2.35),     # prime symbols
    ("48.8566 north, 2.3522 east", 48.8566, 2.3522),
    ("lat: 48.8, lon: 2.3", 48.8, 2.3),
    ("longitude 2.3, latitude 48.8", 48.8, 2.3),
    ("48.85 N, 2.35", 48.85, 2.35),                         # one marked value, its unmarked neighbour
    ("I am 90% sure it is 48.85, 2.35.", 48.85, 2.35),
    ("\u221233.87, 151.21", -33.87, 151.21),                 # Unicode minus
    # Poles and the antimeridian are legal.
    ("90, 0", 90.0, 0.0), ("-90, -180", -90.0, -180.0), ("0, 180", 0.0, 180.0), ("12.5, -180", 12.5, -180.0),
    ("90 N, 135 W", 90.0, -135.0),
    ("<think>tiles and cafés</think><answer>48.86, 2.35</answer>", 48.86, 2.35),
])
def test_parse_coordinates(text, lat, lon):
    parsed = gl.parse_answer(text)
    assert parsed.ok, parsed.reason
    assert (parsed.value.lat, parsed.value.lon) == pytest.approx((lat, lon))
    assert parsed.value.source == "coordinates"


@pytest.mark.parametrize("text, reason", [
    ("120.5, 45.2", "latitude 120.5 outside [-90, 90] (longitude first?)"),   # swapped
    ("-91, 10", "latitude -91 outside [-90, 90]"),
    ("48.8, 180.5", "longitude 180.5 outside [-180, 180]"),
    ("0, 361", "longitude 361 outside [-180, 180]"),
    ("100 N, 20 E", "latitude 100 outside"),
    ("48°61'N 2°E", "minutes or seconds of 60 or more"),
    ("-48.8 S, 2 E", "a minus sign and a hemisphere letter"),
    ("48.85 N", "only the latitude is given"),
    ('{"lat": 48.85}', "JSON answer has only the latitude"),
    ('{"lat": "north", "lon": 2}', "JSON lat/lon are not numbers"),
    ('{"lat": NaN, "lon": 2}', "not finite"),
    ("somewhere in Europe", "no coordinates or known place"),
    ("", "no coordinates or known place"),
])
def test_parse_rejects_with_reason(text, reason):
    parsed = gl.parse_answer(text)
    assert not parsed.ok and reason in parsed.reason


def test_gazetteer_fallback():
    paris = gl.parse_answer("<answer>Paris, France</answer>").value
    assert paris.source == "city" and paris.place == "Paris" and haversine_km(paris.lat, paris.lon, *PARIS) < 5
    tokyo = gl.parse_answer('{"city": "Tokyo", "country": "Japan"}').value
    assert tokyo.place == "Tokyo" and 35 < tokyo.lat < 36
    sydney = gl.parse_answer("City: Sydney\nCountry: Australia").value
    assert sydney.lat < -33
    france = gl.parse_answer('{"country": "France"}').value
    assert france.source == "country"
    texas = gl.parse_answer('{"city": "Paris", "country": "USA"}').value
    assert texas.place == "Paris" and texas.lat < 35      # the country decides the ambiguity
    unknown = gl.parse_answer('{"city": "Qwertyville"}')
    assert not unknown.ok and "unknown place 'Qwertyville'" in unknown.reason
    # Coordinates beat a named place; rejected coordinates fall back to it.
    both = gl.parse_answer('{"city": "Tokyo", "lat": 48.85, "lon": 2.35}').value
    assert both.source == "coordinates" and both.lat == 48.85
    assert gl.parse_answer('{"city": "Tokyo", "lat": 148.85, "lon": 2.35}').value.place == "Tokyo"
    assert not gl.parse_answer("Tokyo", gazetteer=False).ok


def answer_at(km, bearing=90.0, truth=PARIS):
    lat, lon = destination(*truth, bearing, km)
    return f'<think>…</think><answer>{{"lat": {lat:.8f}, "lon": {lon:.8f}}}</answer>'


def test_rewards_hand_checked():
    sol = gl.solution(make_sample(), None)
    london = '{"lat": 51.5074, "lon": -0.1278}'
    d = haversine_km(51.5074, -0.1278, *PARIS)
    assert d == pytest.approx(343.6, abs=0.5)
    r = gl.geo_score_reward([london, answer_at(0), "???", london], solution=[sol] * 4,
                            task=["geoloc", "geoloc", "geoloc", "crossview"])
    assert r[0] == pytest.approx(math.exp(-d / 1492.7)) and r[0] == pytest.approx(0.7945, abs=1e-3)
    assert r[1] == pytest.approx(1.0) and r[2] == 0.0 and r[3] is None
    g = gl.geo_distance_reward([answer_at(0), answer_at(25), answer_at(20015.0867)], solution=[sol] * 3)
    assert g[0] == pytest.approx(1.0)
    assert g[1] == pytest.approx(1 - math.log(26) / math.log1p(HALF_CIRCUMFERENCE_KM), rel=1e-5)
    assert g[2] == pytest.approx(0.0, abs=1e-5)


def test_rewards_across_the_antimeridian_and_poles():
    fiji = make_sample(-17.0, 179.9)
    sol = gl.solution(fiji, None)
    (near,) = gl.geo_score_reward(['{"lat": -17.0, "lon": -179.9}'], solution=[sol])
    assert near == pytest.approx(math.exp(-haversine_km(-17, 179.9, -17, -179.9) / 1492.7))
    assert near > 0.98  # 21 km, not 38,000
    pole = gl.solution(make_sample(90.0, 0.0), None)
    assert gl.geo_score_reward(["90, 123"], solution=[pole])[0] == pytest.approx(1.0)


def test_threshold_accuracy_median_and_geoscore():
    s = make_sample()
    distances = [0.5, 10.0, 100.0, 500.0, 1000.0, 3000.0]
    scores = [gl.score(s, answer_at(d, bearing=37.0 * i), None) for i, d in enumerate(distances)]
    assert [sc["distance_km"] for sc in scores] == pytest.approx(distances, rel=1e-6)
    m = gl.aggregate(scores)
    assert m["n"] == 6
    assert [m[f"acc_{t}km"] for t in (1, 25, 200, 750, 2500)] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])
    assert m["median_km"] == pytest.approx(300.0, rel=1e-6)
    assert m["mean_km"] == pytest.approx(sum(distances) / 6, rel=1e-6)
    assert m["mean_geoscore"] == pytest.approx(sum(5000 * math.exp(-d / 1492.7) for d in distances) / 6, rel=1e-6)
    assert m["parse_rate"] == 1.0 and m["format_rate"] == 1.0 and m["gazetteer_rate"] == 0.0


def test_unreadable_answers_count_as_the_worst_guess():
    s = make_sample()
    bad = gl.score(s, "I cannot tell", None)
    assert bad["pred"] is None and bad["reason"] and bad["distance_km"] == pytest.approx(HALF_CIRCUMFERENCE_KM)
    assert bad["rewards"] == {"format": 0.0, "geo_score": 0.0, "geo_distance": 0.0}
    good = gl.score(s, "Paris, France", None)
    m = gl.aggregate([good, bad])
    assert m["acc_25km"] == 0.5 and m["parse_rate"] == 0.5 and m["gazetteer_rate"] == 0.5
    assert gl.aggregate([]) == {"n": 0.0}


@settings(max_examples=200, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180))
def test_decimal_and_json_answers_round_trip(lat, lon):
    for text in (f"{lat:.6f}, {lon:.6f}", json.dumps({"lat": lat, "lon": lon}),
                 f"{abs(lat):.6f} {'N' if lat >= 0 else 'S'}, {abs(lon):.6f} {'E' if lon >= 0 else 'W'}"):
        parsed = gl.parse_answer(text)
        assert parsed.ok, (text, parsed.reason)
        assert (parsed.value.lat, parsed.value.lon) == pytest.approx((lat, lon), abs=1e-6)


_SOL = gl.solution(make_sample(), None)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="0123456789.,-+ NSEW°'\"{}:latlon"),
                 st.builds(lambda a, b: f"{a}, {b}", st.floats(allow_nan=True), st.floats(allow_nan=True))))
def test_no_string_crashes_the_parser_or_rewards(text):
    parsed = gl.parse_answer(text)
    assert parsed.ok != bool(parsed.reason)
    if parsed.ok:
        assert -90 <= parsed.value.lat <= 90 and -180 <= parsed.value.lon <= 180
    for fn in (gl.geo_score_reward, gl.geo_distance_reward):
        (value,) = fn([text], solution=[_SOL], task=["geoloc"])
        assert 0.0 <= value <= 1.0

"""Geolocalization: where on Earth was this photo taken?

A ``geoloc`` sample's ``gps[0]`` is the true ``[lat, lon]`` of ``images[0]`` (degrees, WGS84).
The model answers coordinates — ``{"lat": 48.8566, "lon": 2.3522}`` — and, when asked, the city
and country. Coordinate frames play no part: ``frame`` is accepted for the task contract and ignored.

Parser rules (:func:`parse_answer`; never raises, a rejected answer carries its reason):

1. A JSON object with ``lat``/``latitude`` and ``lon``/``lng``/``long``/``longitude`` keys
   (numbers or strings such as ``"48°51'N"``).
2. Values marked with a hemisphere (``48.85 N``, ``N 48.85``, ``48°51'24"N``, ``2.35 East``) take
   their axis from it — N/S latitude, E/W longitude, S and W negative — in any order; values
   labelled ``lat …`` / ``lon …`` take their axis from the label.
3. Otherwise the first two adjacent numbers (separated by commas, semicolons, slashes or
   spaces only; decimal or D°M'S" with a sign) are latitude then longitude.
4. Rejected: latitude outside [-90, 90] (the reason suggests the pair may be longitude-first),
   longitude outside [-180, 180], minutes or seconds of 60 or more, a minus sign together with a
   hemisphere letter. Both ±180 are accepted (the antimeridian), any longitude at the poles.
5. No usable coordinates: a named city and/or country (JSON ``city``/``country`` keys,
   ``City: …`` lines, or a short answer such as ``"Paris, France"``) is looked up in the offline
   gazetteer (:mod:`geor1.geo`).

Rewards: ``geo_score`` = ``exp(-d / 1492.7 km)`` (GeoGuessr's scale, [0, 1]) and ``geo_distance`` =
``1 - ln(1 + d) / ln(1 + 20015)`` (log scale, still graded below 25 km where ``geo_score`` is
flat, [0, 1]); ``d`` is the great-circle km to the truth, and an unreadable answer scores 0.
Metrics: accuracy within 1 / 25 / 200 / 750 / 2500 km, median and mean error (km), mean GeoScore
(``5000 · exp(-d / 1492.7)`` points).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from geor1.data.schema import Sample
from geor1.geo import HALF_CIRCUMFERENCE_KM, haversine_km, lookup_city, lookup_country, lookup_place
from geor1.tasks.common import (
    THINK_ANSWER_INSTRUCTION,
    Parsed,
    answer_text,
    completion_text,
    decode_solutions,
    format_reward,
    has_format,
    log_reason,
    register_reward,
    request_sample,
)
from geor1.tasks.parsing import MAX_ANSWER_CHARS
from geor1.tasks.rationale import RationaleError, buildings, compass, words

TASK = "geoloc"
ORDER = 50
DEFAULT_REWARDS = ["format", "geo_score"]
MAIN_REWARD = "geo_score"
ENGINE_THRESHOLD = 0.5
HEADLINE = ["acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km", "median_km"]
FAILURE_RULE = "error > 25 km"
ANSWER_FIELD = "pred"

GEOSCORE_SCALE_KM = 1492.7  # GeoGuessr: points = 5000 · exp(-d / 1492.7 km)
GEOSCORE_MAX = 5000.0
THRESHOLDS_KM = (1, 25, 200, 750, 2500)  # Im2GPS3k street / city / region / country / continent
METRIC_NAMES = {"median_km": "median error (km)", "mean_km": "mean error (km)", "mean_geoscore": "GeoScore (of 5000)",
                **{f"acc_{t}km": f"within {t} km" for t in THRESHOLDS_KM}}  # for people (report tables)
NOT_FRACTIONS = {"median_km", "mean_km", "mean_geoscore"}  # shown as numbers, not percentages


@dataclass(frozen=True)
class GeoGuess:
    """A parsed answer: degrees, and where it came from (``coordinates``, ``city`` or ``country``)."""

    lat: float
    lon: float
    source: str = "coordinates"
    place: str | None = None

    def to_dict(self) -> dict:
        return {"lat": self.lat, "lon": self.lon, "source": self.source, "place": self.place}


# ---------------------------------------------------------------------------------------------
# Prompt

def build_prompt(sample: Sample, frame: Any = None, *, think: bool = True, ask_place: bool = False) -> str:
    """The question (``sample.query`` when the dataset supplies one), then the answer format —
    ``ask_place`` also asks for city and country — and, with ``think``, the think/answer template."""
    photos = "this photo" if len(sample.images) == 1 else f"these {len(sample.images)} photos (one place)"
    fmt = ('{"city": "<city>", "country": "<country>", "lat": <latitude>, "lon": <longitude>}' if ask_place
           else '{"lat": <latitude>, "lon": <longitude>}')
    question = sample.query.strip() or f"Where on Earth was {photos} taken?"
    question += (f" Estimate the latitude and longitude in decimal degrees (north and east positive)"
                 f"{' and name the city and country' if ask_place else ''}. Answer in JSON: {fmt}.")
    if think:
        question += " " + THINK_ANSWER_INSTRUCTION
    return question


def build_messages(sample: Sample, frame: Any = None, *, think: bool = True, ask_place: bool = False) -> list[dict]:
    """One user turn: the sample's image(s), then the question."""
    content = [{"type": "image"} for _ in sample.images]
    content.append({"type": "text", "text": build_prompt(sample, frame, think=think, ask_place=ask_place)})
    return [{"role": "user", "content": content}]


def solution(sample: Sample, frame: Any = None) -> str:
    """JSON for the rewards: the true ``lat``, ``lon`` (degrees) and, when known, city and country."""
    lat, lon = sample.gps[0]
    sol = {"task": TASK, "lat": float(lat), "lon": float(lon)}
    for key in ("city", "country"):
        if sample.meta.get(key):
            sol[key] = sample.meta[key]
    return json.dumps(sol, separators=(",", ":"))


def target_answer(sample: Sample, frame: Any = None, *, ask_place: bool = False) -> str:
    """The gold answer JSON (4 decimals, ~10 m)."""
    lat, lon = sample.gps[0]
    out: dict = {}
    if ask_place:
        out.update({k: sample.meta[k] for k in ("city", "country") if sample.meta.get(k)})
    out.update({"lat": round(float(lat), 4), "lon": round(float(lon), 4)})
    return json.dumps(out, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Parsing

_HEM = r"(?P<hem>[Nn]orth|[Ss]outh|[Ee]ast|[Ww]est|[NSEWnsew])"
# Whitespace only after a sign or a mark: a match starts at a sign or a digit, never inside a run
# of spaces (which made "-" + spaces + "x" quadratic: 17 s at 30 kB), and "\s*(mark)?\s*" cannot
# split one run of spaces two ways.
_NUMBER = (r"(?:(?P<sign>[-+])\s*)?"
           r"(?P<deg>\d+(?:\.\d+)?)(?!\d|\.\d)\s*(?:(?:°|º|˚|deg(?:rees?)?\b)\s*)?"
           r"(?:(?P<min>\d+(?:\.\d+)?)\s*(?:'|′|’|min\b)\s*"
           r"(?:(?P<sec>\d+(?:\.\d+)?)\s*(?:\"|″|''|sec\b)\s*)?)?")
# A hemisphere letter follows its number ("48.85 N") or precedes it ("N 48.85"); a text uses one
# style, so both readings are tried and the one marking more values wins.
_VALUE = {"suffix": re.compile(r"(?<![\w.])" + _NUMBER + _HEM + r"?(?![A-Za-z0-9])"),
          "prefix": re.compile(r"(?<![\w.])(?:" + _HEM + r"\s*)?" + _NUMBER + r"(?![A-Za-z0-9])")}
_LABEL = re.compile(r"(?i)\b(lat(?:itude)?|lon(?:gitude)?|lng|long)\b[\W_]{0,6}$")
_SEPARATOR = re.compile(r"^[\s,;/|]*$")
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")
_PLACE_FIELD = re.compile(r"(?im)\b(city|country)\b\s*[:=]\s*\"?([^\n\"{};]+)")
_LAT_KEYS, _LON_KEYS = ("lat", "latitude"), ("lon", "lng", "long", "longitude")


@dataclass
class _Value:
    value: float
    axis: str | None  # "lat", "lon" or None (unmarked)
    start: int
    end: int


def _normalize(text: str) -> str:
    return (text.replace("\u2212", "-").replace("\u2013", "-").replace("\u201d", '"').replace("\u201c", '"')
            .replace("\u2032", "'").replace("\u2033", '"'))


def _values(text: str, style: str = "suffix") -> tuple[list[_Value], str]:
    """Every coordinate-like value in ``text``; the second item is the first rejection reason."""
    out, problem = [], ""
    for m in _VALUE[style].finditer(text):
        hem = (m.group("hem") or "")[:1].upper()
        minutes, seconds = float(m.group("min") or 0), float(m.group("sec") or 0)
        if minutes >= 60 or seconds >= 60:
            problem = problem or f"minutes or seconds of 60 or more in {m.group(0).strip()!r}"
            continue
        if hem and m.group("sign") == "-":
            problem = problem or f"a minus sign and a hemisphere letter in {m.group(0).strip()!r}"
            continue
        value = float(m.group("deg")) + minutes / 60 + seconds / 3600
        if m.group("sign") == "-" or hem in ("S", "W"):
            value = -value
        axis = {"N": "lat", "S": "lat", "E": "lon", "W": "lon"}.get(hem)
        if axis is None:
            label = _LABEL.search(text[max(0, m.start() - 24):m.start()].rstrip())
            if label:
                axis = "lat" if label.group(1).lower().startswith("lat") else "lon"
        out.append(_Value(value, axis, m.start(), m.end()))
    return out, problem


def _marked_values(text: str) -> tuple[list[_Value], str]:
    """The reading (suffix or prefix hemisphere letters) that marks more values with an axis."""
    readings = [_values(text, style) for style in ("suffix", "prefix")]
    return max(readings, key=lambda r: sum(v.axis is not None for v in r[0]))

def _checked(lat: float, lon: float) -> Parsed:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return Parsed(reason="coordinates are not finite numbers")
    if not -90 <= lat <= 90:
        hint = " (longitude first?)" if -90 <= lon <= 90 and abs(lat) <= 180 else ""
        return Parsed(reason=f"latitude {lat:g} outside [-90, 90]{hint}")
    if not -180 <= lon <= 180:
        return Parsed(reason=f"longitude {lon:g} outside [-180, 180]")
    return Parsed(GeoGuess(float(lat), float(lon)))


def _single(v: Any) -> float | None:
    """A JSON value as one coordinate: a number or a string such as "48.85 N" (hemisphere kept)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        try:
            return float(v)  # NaN and 1e999 (infinity) pass on: _checked rejects them by name
        except OverflowError:  # a 400-digit integer
            return math.inf
    if isinstance(v, str):
        values, _ = _marked_values(_normalize(v))
        return values[0].value if len(values) == 1 else None
    return None


def _from_json(text: str) -> tuple[Parsed | None, dict]:
    """Coordinates from a JSON object (None when there is none) and any city/country fields."""
    places: dict = {}
    for block in _JSON_OBJECT.findall(text):
        try:
            obj = json.loads(block)
        except (ValueError, RecursionError):  # deep nesting inside the braces: not an answer
            continue
        if not isinstance(obj, dict):
            continue
        keys = {str(k).strip().lower(): v for k, v in obj.items()}
        places.update({k: keys[k] for k in ("city", "country") if isinstance(keys.get(k), str) and keys[k].strip()})
        lat = next((keys[k] for k in _LAT_KEYS if k in keys), None)
        lon = next((keys[k] for k in _LON_KEYS if k in keys), None)
        if lat is None and lon is None:
            continue
        if lat is None or lon is None:
            return Parsed(reason=f"JSON answer has only the {'latitude' if lon is None else 'longitude'}"), places
        lat_v, lon_v = _single(lat), _single(lon)
        if lat_v is None or lon_v is None:
            return Parsed(reason=f"JSON lat/lon are not numbers: {lat!r:.20}, {lon!r:.20}"), places
        return _checked(lat_v, lon_v), places
    return None, places


def parse_coordinates(text: str) -> Parsed:
    """``Parsed(GeoGuess)`` from coordinates in ``text`` (rules 1–4 of the module docstring)."""
    text = _normalize(text)
    from_json, _ = _from_json(text)
    if from_json is not None:
        return from_json
    values, problem = _marked_values(text)
    lat = next((v for v in values if v.axis == "lat"), None)
    lon = next((v for v in values if v.axis == "lon"), None)
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            # One marked value and an unmarked neighbour: "48.85 N, 2.35".
            known = lat or lon
            i = values.index(known)
            for j in (i + 1, i - 1):
                if 0 <= j < len(values) and values[j].axis is None and _SEPARATOR.match(
                        text[min(values[i].end, values[j].end):max(values[i].start, values[j].start)]):
                    lat, lon = (known, values[j]) if known.axis == "lat" else (values[j], known)
                    break
            else:
                return Parsed(reason=problem or f"only the {'latitude' if lon is None else 'longitude'} is given")
        return _checked(lat.value, lon.value)
    for a, b in itertools.pairwise(values):
        if _SEPARATOR.match(text[a.end:b.start]):
            return _checked(a.value, b.value)
    return Parsed(reason=problem or "no coordinates in the answer")


def parse_place(text: str) -> Parsed:
    """``Parsed(GeoGuess)`` from a named city and/or country, via the offline gazetteer."""
    text = _normalize(text)
    _, fields = _from_json(text)
    for key, value in _PLACE_FIELD.findall(text):
        fields.setdefault(key.lower(), value.strip().strip(",."))
    city, country = fields.get("city"), fields.get("country")
    hit = None
    if city:
        hit = lookup_city(city, country) or (lookup_city(city) if country and lookup_country(country) is None else None)
    if hit is None and country:
        hit = lookup_country(country)
    if hit is None and not fields and len(text) <= 80 and not re.search(r"\d", text):
        hit = lookup_place(text)
    if hit is None:
        named = ", ".join(v for v in (city, country) if v)
        return Parsed(reason=f"unknown place {named!r}" if named else "no coordinates or known place in the answer")
    return Parsed(GeoGuess(hit.lat, hit.lon, hit.kind, hit.name))


def parse_answer(text: str, *, gazetteer: bool = True) -> Parsed:
    """The position a completion answers: coordinates first, else (``gazetteer``) a named place.
    Never raises; a failure carries the coordinate parser's reason."""
    try:
        ans = answer_text(str(text))[:MAX_ANSWER_CHARS]  # bounded time on runaway output
        coords = parse_coordinates(ans)
        if coords.ok or not gazetteer:
            return coords
        place = parse_place(ans)
        if place.ok:
            return place
        return coords if coords.reason != "no coordinates in the answer" else place
    except Exception as e:  # noqa: BLE001 -- model output must never crash training
        return Parsed(reason=f"unreadable answer ({type(e).__name__}: {e})"[:120])


# ---------------------------------------------------------------------------------------------
# Rewards

def geo_score(distance_km, scale_km: float = GEOSCORE_SCALE_KM):
    """GeoGuessr-style score in [0, 1]: ``exp(-d / 1492.7 km)`` (multiply by 5000 for points)."""
    return np.exp(-np.asarray(distance_km, dtype=np.float64) / scale_km)


def log_distance_score(distance_km):
    """``1 - ln(1 + d) / ln(1 + 20015)`` in [0, 1]: 1 at the truth, 0 at the antipode."""
    d = np.clip(np.asarray(distance_km, dtype=np.float64), 0.0, HALF_CIRCUMFERENCE_KM)
    return 1.0 - np.log1p(d) / np.log1p(HALF_CIRCUMFERENCE_KM)


def _distances(reward: str, completions: list, solution: list, task: list | None) -> list[float | None | str]:
    """Per row: km to the truth, ``"miss"`` for an unreadable answer, None for other tasks' rows."""
    out: list = []
    for c, sol in zip(completions, decode_solutions(solution, task, TASK, len(completions))):
        try:
            if sol is None:
                out.append(None)
                continue
            truth = (float(sol["lat"]), float(sol["lon"]))
        except (TypeError, ValueError, KeyError):
            log_reason(reward, f"solution without lat/lon {str(sol)[:60]!r}")
            out.append(None)
            continue
        parsed = parse_answer(completion_text(c))
        if not parsed.ok:
            log_reason(reward, parsed.reason)
            out.append("miss")
        else:
            out.append(float(haversine_km(parsed.value.lat, parsed.value.lon, *truth)))
    return out


@register_reward("geo_score")
def geo_score_reward(completions: list, solution: list, task: list | None = None, **kwargs) -> list[float | None]:
    """``exp(-d / 1492.7 km)`` for the answered position, d = great-circle km to the truth: [0, 1]."""
    return [None if d is None else 0.0 if d == "miss" else float(geo_score(d))
            for d in _distances("geo_score", completions, solution, task)]


@register_reward("geo_distance")
def geo_distance_reward(completions: list, solution: list, task: list | None = None, **kwargs) -> list[float | None]:
    """``1 - ln(1 + d) / ln(1 + 20015)`` for the answered position: [0, 1], graded at every scale."""
    return [None if d is None else 0.0 if d == "miss" else float(log_distance_score(d))
            for d in _distances("geo_distance", completions, solution, task)]


# ---------------------------------------------------------------------------------------------
# Evaluation

def parse(text: str, sample: Sample | None = None, frame: Any = None) -> Parsed:
    """The position answered, as a dict: ``lat``, ``lon``, ``source`` (coordinates, city or
    country) and ``place``."""
    parsed = parse_answer(text)
    return Parsed(parsed.value.to_dict()) if parsed.ok else parsed


def score(sample: Sample, completion: Any, frame: Any = None, *, num_tokens: int | None = None,
          image: Any = None) -> dict:
    """Per-sample record: the parsed position (or the reason it was rejected), the great-circle
    error in km — an unreadable answer counts as the worst guess, half the Earth's circumference
    (20015 km) — the GeoGuessr points, and each reward."""
    text = completion_text(completion)
    parsed = parse_answer(text)
    lat, lon = sample.gps[0]
    d = float(haversine_km(parsed.value.lat, parsed.value.lon, lat, lon)) if parsed.ok else float(HALF_CIRCUMFERENCE_KM)
    return {"id": sample.id, "task": TASK, "pred": parsed.value.to_dict() if parsed.ok else None,
            "reason": parsed.reason, "gt": [float(lat), float(lon)], "distance_km": d,
            "geoscore": float(GEOSCORE_MAX * geo_score(d)), "format_ok": has_format(text),
            "rewards": {"format": format_reward([text])[0],
                        "geo_score": float(geo_score(d)) if parsed.ok else 0.0,
                        "geo_distance": float(log_distance_score(d)) if parsed.ok else 0.0}}


def aggregate(scores: list[dict]) -> dict[str, float]:
    """``acc_<t>km`` (share within t km, t in 1/25/200/750/2500, a fraction — the paper prints
    percent), ``median_km``, ``mean_km``, ``mean_geoscore`` (0–5000 points), ``parse_rate``,
    ``gazetteer_rate`` (answers placed through a city or country name), ``format_rate``."""
    if not scores:
        return {"n": 0.0}
    d = np.array([s["distance_km"] for s in scores], dtype=np.float64)
    out = {"n": float(len(d))}
    out.update({f"acc_{t}km": float(np.mean(d <= t)) for t in THRESHOLDS_KM})
    out.update({"median_km": float(np.median(d)), "mean_km": float(d.mean()),
                "mean_geoscore": float(np.mean([s["geoscore"] for s in scores])),
                "parse_rate": float(np.mean([s["pred"] is not None for s in scores])),
                "gazetteer_rate": float(np.mean([bool(s["pred"]) and s["pred"]["source"] != "coordinates"
                                                 for s in scores])),
                "format_rate": float(np.mean([s["format_ok"] for s in scores]))})
    return out


def per_sample(metric: str):
    """``acc_<t>km``: within t km."""
    if metric.startswith("acc_") and metric.endswith("km"):
        km = float(metric[4:-2])
        return lambda s: float(s["distance_km"] <= km)
    return None


def quality(score: dict) -> float:
    return float(score["rewards"]["geo_score"])


def is_failure(score: dict) -> bool:
    return score["pred"] is None or score["distance_km"] > 25.0


def describe(score: dict) -> str:
    return f"error {score['distance_km']:,.1f} km"


# ---------------------------------------------------------------------------------------------
# Showing and asking

def describe_answer(pos: dict) -> str:
    where = f" via {pos['source']} {pos['place']}" if pos.get("place") else ""
    return f"lat {pos['lat']:.4f}, lon {pos['lon']:.4f}{where}"


def draw(sample: Sample, images: list, pos=None, *, truth: bool = True, max_side: int | None = None):
    """The photo above a world map with the true (green) and answered (red) positions."""
    from PIL import Image

    from geor1.drawing import shrink, world_map

    (base,), _ = shrink(images[:1], max_side)
    gt = sample.gps[0] if truth and sample.gps else None
    pred = [pos["lat"], pos["lon"]] if pos else None
    map_w = max(base.width, 240)
    world = world_map([gt], [pred], width=map_w, height=map_w // 2)
    out = Image.new("RGB", (map_w, base.height + world.height + 4), (255, 255, 255))
    out.paste(base, ((map_w - base.width) // 2, 0))
    out.paste(world, (0, base.height + 4))
    return out


def caption(sample: Sample) -> str:
    """The sample in words, for contact sheets."""
    lat, lon = sample.gps[0]
    return f"GPS {lat:.3f}, {lon:.3f}. {sample.query}"

def request(images: list, query: str = "", paths: list[str] | None = None) -> Sample:
    return request_sample(TASK, images[:1], paths[:1] if paths else None, query=query)


def report_figure(records: list[dict], width: int = 960) -> str:
    """For the HTML report: an SVG world map of an evaluation's samples, true positions (green),
    answers (red) and the great-circle error line between them; hovering a dot names the sample and
    its error."""
    from html import escape as esc

    from geor1.drawing import GT_COLOR, PRED_COLOR, basemap, data_uri, great_circle, project

    height = width // 2
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}">'
        ),
        f'<image href="{data_uri(basemap(width, height), "PNG")}" x="0" y="0" width="{width}" height="{height}"/>',
    ]
    dots = []
    for r in records:
        s = r["score"]
        lat, lon = s["gt"]
        tx, ty = project(lat, lon, width, height)
        pred = s.get("pred")
        if pred:
            for part in great_circle(lat, lon, pred["lat"], pred["lon"]):
                x, y = project(part[:, 0], part[:, 1], width, height)
                if len(x) > 1:
                    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y))
                    parts.append(
                        f'<polyline points="{pts}" fill="none" stroke="rgb{PRED_COLOR}" '
                        f'stroke-opacity="0.55" stroke-width="1.3"/>'
                    )
            px, py = project(pred["lat"], pred["lon"], width, height)
            dots.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="rgb{PRED_COLOR}" stroke="#000" '
                f'stroke-width="0.6"><title>{esc(r["id"])}: predicted {pred["lat"]:.3f}, {pred["lon"]:.3f} '
                f"— {s['distance_km']:,.0f} km off</title></circle>"
            )
        dots.append(
            f'<circle cx="{tx:.1f}" cy="{ty:.1f}" r="4" fill="rgb{GT_COLOR}" stroke="#000" stroke-width="0.6">'
            f"<title>{esc(r['id'])}: true {lat:.3f}, {lon:.3f}"
            f"{'' if pred else ' — answer unreadable'}</title></circle>"
        )
    parts += dots
    parts.append(
        f'<g font-size="12"><rect x="8" y="{height - 30}" width="250" height="22" fill="#fff" '
        f'fill-opacity="0.85"/><circle cx="20" cy="{height - 19}" r="4" fill="rgb{GT_COLOR}"/>'
        f'<text x="28" y="{height - 15}">true</text><circle cx="70" cy="{height - 19}" r="4" '
        f'fill="rgb{PRED_COLOR}"/><text x="78" y="{height - 15}">predicted (line: great circle)</text></g>'
    )
    parts.append("</svg>")
    return (f"<h3>Geolocalization: predicted against true positions ({len(records)} samples)</h3>"
            + "".join(parts))


# ---------------------------------------------------------------------------------------------
# The programmatic teacher: biome, sun, architecture -> region

TROPIC_DEG = 23.44


def _sun_clue(e: dict, lat: float) -> str:
    """What the sun says. The hemisphere claim is made only when it is true of this place: beyond
    the tropics the sun stands towards the equator around midday (local solar time 10-14 h)."""
    az, el = e["sun_azimuth_deg"], e["sun_elevation_deg"]
    hours = e.get("local_solar_time")
    when = f" at about {hours} local solar time" if hours else ""
    s = f"The sun is {el:g} degrees high in the {compass(az)}{when}, shadows point {compass(az + 180)}"
    midday = hours is not None and 10 <= int(hours.split(":")[0]) < 14
    sun_south = 90 < az % 360 < 270
    if midday and lat > TROPIC_DEG and sun_south:
        return s + ": the midday sun in the south means north of the tropics."
    if midday and lat < -TROPIC_DEG and not sun_south:
        return s + ": the midday sun in the north means south of the tropics."
    if midday and abs(lat) <= TROPIC_DEG and el >= 60:
        return s + ": so high a midday sun means the tropics."
    return s + "."


def rationale(sample: Sample, frame: Any = None) -> str:
    """Ground cover and season -> climate; the sun -> hemisphere; architecture -> continent;
    street grid and density -> the city; then the position."""
    meta = sample.meta
    missing = [k for k in ("evidence", "continent", "climate_band", "city", "country", "city_km") if k not in meta]
    if missing:
        raise RationaleError(f"sample {sample.id!r} lacks GeoSynth geoloc meta {missing}")
    e, continent, band, city, country = (meta[k] for k in ("evidence", "continent", "climate_band", "city", "country"))
    lat, lon = sample.gps[0]
    foliage = {"leaf": "trees in leaf", "autumn": "autumn leaves", "bare": "bare trees"}.get(e["foliage"], e["foliage"])
    ground = f"Ground: {words(e['biome'])}, {foliage}{', snow' if e['snow'] else ''}: a {band} climate."
    built = f"Buildings: {words(e['architecture'])} architecture, {buildings(e)}: this looks like {continent}."
    town = "a dense town" if e["urban_density"] >= 0.5 else "the edge of a town"
    a, b = e["road_bearings_deg"]
    streets = f"Streets run on a grid at {a:g} and {b:g} degrees; {town}, so near a city: {city}, {country}."
    where = (f"This spot is about {meta['city_km']:g} km from the centre of {city}, at about "
             f"{abs(lat):.2f} {'N' if lat >= 0 else 'S'}, {abs(lon):.2f} {'E' if lon >= 0 else 'W'}.")
    return " ".join([ground, _sun_clue(e, lat), built, streets, where])

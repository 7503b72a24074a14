"""GeoSynth cross-view matching and geolocalization datasets.

**crossview**: one ground panorama (the query, ``images[0]``) and K aerial tiles (``images[1 + i]``
is candidate ``choices[i]``, letters A, B, …); exactly one tile shows the place where the
panorama was taken. Every distractor is a real place of the world rendered from its own layout:

* *hard* distractors lie in the same city, between :data:`MIN_HARD_KM` and ``hard_radius_km``
  from the truth — same biome, architecture and street-grid orientation, different blocks;
* *easy* distractors lie in other cities at least ``easy_min_km`` from the truth.

``reverse=True`` asks the other way round: one aerial tile, K ground panoramas.

**geoloc**: one ground panorama (or, with ``view="aerial"``, one aerial tile); ``gps[0]`` is where
it was taken and ``meta`` names the continent, climate band, biome, nearest city and country.

Both carry ``meta["evidence"]``: what the images show, as data (road bearings, buildings and
their heights, trees, water, biome, architecture, snow, sun elevation/azimuth; see
:func:`geor1.synth.ground.layout_evidence`), for a programmatic rationale teacher.

Times: all images of one crossview sample share a capture date (one season); the ground
panorama is taken between 07:00 and 18:00 local solar time, aerial tiles at a sun-synchronous
satellite's 10:00–11:30; the sun always stands at least
:data:`geor1.synth.ground.SUN_MIN_ELEVATION_DEG` high. ``times`` are ISO 8601 UTC.

Determinism: sample ``i`` of a dataset made with seed ``s`` draws only from
:func:`sample_rng` ``(s, task, i)``, so it does not depend on the other samples, and the same
seed writes byte-identical files. Distances are great-circle kilometres.
"""

from __future__ import annotations

import math
import string
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from geor1.data.schema import Sample, write_dataset
from geor1.geo import destination, haversine_km
from geor1.synth import ground, world

MIN_HARD_KM = 0.4  # hard distractors stand at least this far from the truth: their tiles never overlap
STREET_HOURS = (7.0, 18.0)  # local solar time of ground panoramas
SATELLITE_HOURS = (10.0, 11.5)  # local solar time of aerial tiles (a sun-synchronous overpass)
YEARS = (2016, 2024)
GEOLOC_SPREAD = 1.6  # geoloc places lie within this many urban radii of a city centre (some rural)
SOURCE = "geosynth"
PNG_COMPRESS_LEVEL = 1  # noise-free synthetic images compress well even at the fastest level
STYLES = ("A", "B")
_TASK_KEYS = {"crossview": 1, "geoloc": 2}
_MAX_TRIES = 40

CROSSVIEW_QUERY = (
    "The first image is a ground-level 360° panorama. Which of the following {k} aerial "
    "images ({letters}) shows the place where it was taken?"
)
CROSSVIEW_REVERSE_QUERY = (
    "The first image is an aerial image. Which of the following {k} ground-level 360° "
    "panoramas ({letters}) was taken at that place?"
)
GEOLOC_QUERY = "Where on Earth was this {what} taken? Give the latitude and longitude."


def sample_rng(seed: int, task: str, index: int) -> np.random.Generator:
    """The generator of sample ``index`` of a ``task`` dataset made with ``seed``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng([int(seed), _TASK_KEYS[task], int(index)])


def _as_rng(rng_or_seed) -> np.random.Generator:
    return rng_or_seed if isinstance(rng_or_seed, np.random.Generator) else np.random.default_rng(rng_or_seed)


def iso_utc(when: datetime) -> str:
    """``when`` as ISO 8601 UTC with a trailing Z, to the second."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _km(a: ground.Layout, b: ground.Layout) -> float:
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


# ----------------------------------------------------------------------------------------------
# where and when


@lru_cache(maxsize=1)
def _cities_by_continent() -> dict[str, tuple[tuple[world.City, ...], np.ndarray]]:
    """Inhabited continents (at least 10 named cities) → their cities and picking weights."""
    groups: dict[str, list[world.City]] = {}
    for c in world.cities():
        groups.setdefault(c.continent, []).append(c)
    out = {}
    for name, cs in sorted(groups.items()):
        if len(cs) >= 10:
            w = np.sqrt(np.array([max(c.population, 1000) for c in cs], float))
            out[name] = (tuple(cs), w / w.sum())
    return out


def pick_city(rng: np.random.Generator) -> world.City:
    """A named city: an inhabited continent uniformly (so each is seen as often, whatever its
    number of large cities), then one of its cities with probability ∝ √population."""
    groups = _cities_by_continent()
    cities, weights = groups[list(groups)[int(rng.integers(len(groups)))]]
    return cities[int(rng.choice(len(cities), p=weights))]


def point_near(rng: np.random.Generator, city: world.City, spread: float = 1.0) -> tuple[float, float]:
    """A point uniformly inside the disc of ``spread`` urban radii around the city centre."""
    km = world.street_plan(city).urban_radius_km * spread * math.sqrt(rng.random())
    return destination(city.lat, city.lon, float(rng.uniform(0, 360)), km)


def _settled(layout: ground.Layout) -> bool:
    """Whether the layout's camera belongs to its own city (so its GPS rebuilds the same layout)."""
    return layout.place.city == layout.plan.city


def capture_time(
    rng: np.random.Generator, layout: ground.Layout, year: int, day_of_year: int, hours: tuple[float, float]
) -> datetime | None:
    """A UTC time on ``day_of_year`` whose local solar time lies in ``hours`` and whose sun
    stands at least ``SUN_MIN_ELEVATION_DEG`` high at the layout's camera; None when that day
    has no such time (polar night, or a winter morning at high latitude)."""
    start = datetime(year, 1, 1, tzinfo=timezone.utc) + timedelta(days=day_of_year - 1)
    for _ in range(8):
        local = float(rng.uniform(*hours))
        when = start + timedelta(seconds=round((local - layout.lon / 15.0) * 3600))
        if world.solar_position(when, layout.lat, layout.lon)[0] >= ground.SUN_MIN_ELEVATION_DEG:
            return when
    return None


def _capture_times(rng, layouts, windows) -> list[datetime] | None:
    """One capture date for all, one time per layout (in its window); None if no date found."""
    for _ in range(_MAX_TRIES):
        year, doy = int(rng.integers(YEARS[0], YEARS[1] + 1)), int(rng.integers(1, 366))
        times = [capture_time(rng, lay, year, doy, win) for lay, win in zip(layouts, windows)]
        if all(t is not None for t in times):
            return times
    return None


# ----------------------------------------------------------------------------------------------
# crossview


def _check_crossview_args(size, style, k, hard_fraction, hard_radius_km, easy_min_km) -> None:
    _check_common(size, style)
    if not isinstance(k, int) or not 2 <= k <= 26:
        raise ValueError(f"k (candidates) must be an integer in 2..26, got {k!r}")
    if not 0.0 <= hard_fraction <= 1.0:
        raise ValueError(f"hard_fraction must lie in [0, 1], got {hard_fraction}")
    if hard_radius_km < 2 * MIN_HARD_KM:
        raise ValueError(f"hard_radius_km must be at least {2 * MIN_HARD_KM} km, got {hard_radius_km}")
    if not hard_radius_km < easy_min_km <= 15000.0:
        raise ValueError(f"easy_min_km must lie in (hard_radius_km, 15000], got {easy_min_km}")


def _check_common(size, style) -> None:
    if not isinstance(size, int) or size < 32:
        raise ValueError(f"size must be an integer of at least 32 pixels, got {size!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")


def _pick_places(
    rng, k, hard_fraction, hard_radius_km, easy_min_km
) -> list[tuple[ground.Layout, str]] | None:
    """The truth and k − 1 distractors as (layout, "true" | "hard" | "easy"); None to start over."""
    truth = ground.layout_at(*point_near(rng, pick_city(rng)))
    if not _settled(truth):
        return None
    chosen = [(truth, "true")]
    n_hard = min(k - 1, int((k - 1) * hard_fraction + rng.random()))  # stochastic rounding
    for _ in range(n_hard):
        for _ in range(_MAX_TRIES):
            km = rng.uniform(MIN_HARD_KM + 0.15, hard_radius_km - 0.15)
            lay = ground.layout_at(*destination(truth.lat, truth.lon, float(rng.uniform(0, 360)), km))
            if (
                lay.plan.city == truth.plan.city
                and _settled(lay)
                and MIN_HARD_KM <= _km(truth, lay) <= hard_radius_km
                and all(_km(lay, other) >= MIN_HARD_KM for other, _ in chosen)
            ):
                chosen.append((lay, "hard"))
                break
        else:
            return None
    cities = world.cities()
    km_to = haversine_km(
        truth.lat, truth.lon, np.array([c.lat for c in cities]), np.array([c.lon for c in cities])
    )
    far = [cities[n] for n in np.flatnonzero(km_to >= easy_min_km + 20)]
    if not far:
        return None
    for _ in range(k - 1 - n_hard):
        for _ in range(_MAX_TRIES):
            lay = ground.layout_at(*point_near(rng, far[int(rng.integers(len(far)))]))
            if (
                _settled(lay)
                and _km(truth, lay) >= easy_min_km
                and all(_km(lay, other) >= MIN_HARD_KM for other, _ in chosen)
            ):
                chosen.append((lay, "easy"))
                break
        else:
            return None
    return chosen


def make_crossview_sample(
    rng_or_seed,
    *,
    size: int = 256,
    style: str = "A",
    k: int = 4,
    hard_fraction: float = 0.5,
    hard_radius_km: float = 5.0,
    easy_min_km: float = 500.0,
    reverse: bool = False,
    sample_id: str = "crossview-000000",
) -> tuple[Sample, list[Image.Image]]:
    """One crossview sample and its images (``images[j]`` is saved at ``sample.images[j]``).

    ``size``: aerial tile side in pixels; panoramas are ``2·size × size``. ``k`` candidates, of
    which about ``hard_fraction`` of the k − 1 distractors are hard (same city, ≤ ``hard_radius_km``
    from the truth) and the rest easy (≥ ``easy_min_km``). ``reverse``: aerial query, ground candidates.
    """
    _check_crossview_args(size, style, k, hard_fraction, hard_radius_km, easy_min_km)
    rng = _as_rng(rng_or_seed)
    query_hours, cand_hours = (SATELLITE_HOURS, STREET_HOURS) if reverse else (STREET_HOURS, SATELLITE_HOURS)
    for _ in range(_MAX_TRIES):
        places = _pick_places(rng, k, hard_fraction, hard_radius_km, easy_min_km)
        if places is None:
            continue
        layouts = [lay for lay, _ in places]
        times = _capture_times(rng, [layouts[0]] + layouts, [query_hours] + [cand_hours] * k)
        if times is not None:
            break
    else:
        raise ValueError(
            f"could not place {k} candidates with hard_radius_km={hard_radius_km}, "
            f"easy_min_km={easy_min_km} after {_MAX_TRIES} tries"
        )

    order = rng.permutation(k)  # candidate slot j shows places[order[j]]
    letters = list(string.ascii_uppercase[:k])
    truth, query_time = layouts[0], times[0]
    cand = [(layouts[o], places[o][1], times[1 + o]) for o in order]
    render_query, render_cand = (
        (ground.render_aerial, ground.render_panorama)
        if reverse
        else (ground.render_panorama, ground.render_aerial)
    )
    images = [render_query(truth, query_time, size, style)]
    images += [render_cand(lay, t, size, style) for lay, _, t in cand]
    names = ["query"] + letters
    place = truth.place
    sample = Sample(
        id=sample_id,
        task="crossview",
        images=[f"images/{sample_id}_{name}.png" for name in names],
        width=images[0].width,
        height=images[0].height,
        query=(CROSSVIEW_REVERSE_QUERY if reverse else CROSSVIEW_QUERY).format(
            k=k, letters=", ".join(letters)
        ),
        choices=letters,
        answer=letters[int(np.flatnonzero(order == 0)[0])],
        gps=[[truth.lat, truth.lon]] + [[lay.lat, lay.lon] for lay, _, _ in cand],
        times=[iso_utc(query_time)] + [iso_utc(t) for _, _, t in cand],
        source=SOURCE,
        meta={
            "city": truth.plan.city.name,
            "country": truth.plan.city.country,
            "continent": place.continent,
            "climate_band": place.climate_band,
            "biome": place.biome,
            "query_view": "aerial" if reverse else "ground",
            "candidate_view": "ground" if reverse else "aerial",
            "style": style,
            "size": size,
            "candidate_km": [round(_km(truth, lay), 3) for lay, _, _ in cand],
            "candidate_kind": [kind for _, kind, _ in cand],
            "candidate_city": [lay.plan.city.name for lay, _, _ in cand],
            "hard_radius_km": hard_radius_km,
            "easy_min_km": easy_min_km,
            "evidence": {
                "query": ground.layout_evidence(truth, query_time),
                "candidates": [ground.layout_evidence(lay, t) for lay, _, t in cand],
            },
        },
    )
    return sample, images


def _save(out: Path, sample: Sample, images: list[Image.Image]) -> None:
    for rel, img in zip(sample.images, images):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


def _bar(n: int, desc: str):
    """range(n) with a progress bar on a terminal (silent in logs and tests): panoramas render at a few a second."""
    from tqdm.auto import tqdm

    return tqdm(range(n), desc=desc, unit="sample", disable=None)


def _check_n(n) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")


def write_crossview(
    out_dir,
    n: int,
    seed: int,
    size: int = 256,
    style: str = "A",
    k: int = 4,
    hard_fraction: float = 0.5,
    hard_radius_km: float = 5.0,
    easy_min_km: float = 500.0,
    reverse: bool = False,
) -> int:
    """Write ``n`` crossview samples to ``out_dir`` (``data.jsonl`` + ``images/``); returns ``n``."""
    _check_n(n)
    _check_crossview_args(size, style, k, hard_fraction, hard_radius_km, easy_min_km)
    out = Path(out_dir)
    samples = []
    for i in _bar(n, "synth crossview"):
        sample, images = make_crossview_sample(
            sample_rng(seed, "crossview", i),
            size=size,
            style=style,
            k=k,
            hard_fraction=hard_fraction,
            hard_radius_km=hard_radius_km,
            easy_min_km=easy_min_km,
            reverse=reverse,
            sample_id=f"crossview-{i:06d}",
        )
        _save(out, sample, images)
        samples.append(sample)
    write_dataset(out, samples)
    return n


# ----------------------------------------------------------------------------------------------
# geoloc


def make_geoloc_sample(
    rng_or_seed, *, size: int = 256, style: str = "A", view: str = "ground", sample_id: str = "geoloc-000000"
) -> tuple[Sample, list[Image.Image]]:
    """One geolocalization sample and its image: a ground panorama (``2·size × size``) or, with
    ``view="aerial"``, an aerial tile (``size × size``), of a place within
    :data:`GEOLOC_SPREAD` urban radii of a named city."""
    _check_common(size, style)
    if view not in ("ground", "aerial"):
        raise ValueError(f"view must be 'ground' or 'aerial', got {view!r}")
    rng = _as_rng(rng_or_seed)
    hours = STREET_HOURS if view == "ground" else SATELLITE_HOURS
    for _ in range(_MAX_TRIES):
        lay = ground.layout_at(*point_near(rng, pick_city(rng), GEOLOC_SPREAD))
        times = _capture_times(rng, [lay], [hours]) if _settled(lay) else None
        if times is not None:
            break
    else:
        raise RuntimeError("could not place a geoloc sample")  # unreachable in practice: most cities qualify
    when = times[0]
    render = ground.render_panorama if view == "ground" else ground.render_aerial
    image = render(lay, when, size, style)
    place, city = lay.place, lay.plan.city
    evidence = ground.layout_evidence(lay, when)
    solar = world.local_solar_hours(when, lay.lon)
    evidence["local_solar_time"] = f"{int(solar):02d}:{int(solar % 1 * 60):02d}"
    evidence["shadow_side"] = "north" if 90 < evidence["sun_azimuth_deg"] < 270 else "south"
    sample = Sample(
        id=sample_id,
        task="geoloc",
        images=[f"images/{sample_id}.png"],
        width=image.width,
        height=image.height,
        query=GEOLOC_QUERY.format(what="panorama" if view == "ground" else "aerial image"),
        gps=[[lay.lat, lay.lon]],
        times=[iso_utc(when)],
        source=SOURCE,
        meta={
            "continent": place.continent,
            "climate_band": place.climate_band,
            "biome": place.biome,
            "city": city.name,
            "country": city.country,
            "city_km": round(place.city_km, 3),
            "elevation_m": round(place.elevation_m, 1),
            "view": view,
            "style": style,
            "size": size,
            "evidence": evidence,
        },
    )
    return sample, [image]


def write_geoloc(out_dir, n: int, seed: int, size: int = 256, style: str = "A", view: str = "ground") -> int:
    """Write ``n`` geoloc samples to ``out_dir`` (``data.jsonl`` + ``images/``); returns ``n``."""
    _check_n(n)
    _check_common(size, style)
    out = Path(out_dir)
    samples = []
    for i in _bar(n, "synth geoloc"):
        sample, images = make_geoloc_sample(
            sample_rng(seed, "geoloc", i), size=size, style=style, view=view, sample_id=f"geoloc-{i:06d}"
        )
        _save(out, sample, images)
        samples.append(sample)
    write_dataset(out, samples)
    return n

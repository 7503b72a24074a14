"""K-choice cross-view questions from paired ground/aerial images.

**Pair datasets.** The cross-view converters (``cv-cities``, ``cvusa``, ``vigor``) write one
*pair* per ground image: a ``crossview`` sample with a single candidate — ``images = [ground,
aerial]``, ``choices = ["A"]``, ``answer = "A"``, ``gps`` (and ``times``) aligned with the images,
``meta["image_sizes"] = [[w, h], [w, h]]``, ``meta["city"]`` when known and
``meta["exclude_candidates"]`` for images that must never serve as distractors (VIGOR's
semi-positive satellite tiles). Pairs are valid schema records, so they load, validate and travel
like any dataset; any ``crossview`` dataset is a pair source (its query and its true candidate).

**Questions.** :func:`build_questions` turns pairs into K-choice questions: the query, the true
candidate and K-1 distractors drawn from the other pairs' candidates, shuffled onto the letters
with a seeded generator. Distractors (distances are great-circle km between candidate positions):

==========  =====================================================================================
``hard``    within ``radius_km`` of the true candidate and, when both cities are known, in the same
            city; when fewer than K-1 exist, the nearest beyond the radius fill in (the question's
            ``meta["difficulty"]`` then reads ``hard-fallback``)
``easy``    at least ``easy_min_km`` from the true candidate and from the query (falls back to the
            farthest available: ``easy-fallback``)
``mixed``   hard or easy with equal odds, per question
``random``  uniform over the other candidates (the only choice when pairs carry no GPS)
==========  =====================================================================================

Every distractor is a different image from the truth, lies more than ``min_separation_km``
(default 100 m) from both the true candidate and the query (so it cannot show the same spot), and
is not listed in the pair's ``exclude_candidates``. ``reverse=True`` asks the other way round:
one aerial image, K ground images (``meta["direction"] = "aerial_to_ground"``).

From the command line the converters expose this through ``make_questions=K`` (``geor1 convert
cv-cities SRC --out OUT --option make-questions=4``): they then write questions instead of pairs;
:func:`make_questions` builds questions from an existing pair dataset folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from geor1.data.convert import image_size, link_image, safe_relpath
from geor1.data.schema import Sample, SchemaError, load_dataset, resolve_image, write_dataset
from geor1.geo import EARTH_RADIUS_KM, HALF_CIRCUMFERENCE_KM, haversine_km
from geor1.tasks.crossview import TASK as CROSSVIEW
from geor1.tasks.crossview import direction, letters

log = logging.getLogger(__name__)

DIFFICULTIES = ("hard", "easy", "mixed", "random")
DEFAULT_RADIUS_KM = 2.0
DEFAULT_EASY_MIN_KM = 100.0
DEFAULT_MIN_SEPARATION_KM = 0.1


# ---------------------------------------------------------------------------------------------
# Files: what the cross-view converters need on top of geor1.data.convert's helpers

def add_image(path: str | os.PathLike, out_root: str | os.PathLike, rel: str, *, where: str,
              field: str, src_root: str | os.PathLike | None = None) -> tuple[str, tuple[int, int]]:
    """Put image file ``path`` at ``out_root/rel`` (hard link, else copy) and return ``rel``
    (forward slashes) and the image's ``(width, height)`` in pixels. A ``rel`` that would leave
    the dataset folder, a missing file or an unreadable image raises SchemaError naming ``where``
    (file:line) and ``field``."""
    rel = safe_relpath(rel, where=where, field=field)
    if not Path(path).is_file():
        raise SchemaError(f"image {str(path)!r} not found", file=where, field=field)
    try:
        size = image_size(Path(path))
    except SchemaError as e:
        raise SchemaError(f"{e.problem}: {path}", file=where, field=field) from None
    return link_image(Path(path), Path(out_root), rel, src_root=src_root, where=where, field=field), size


def pair_sample(id: str, ground: str, aerial: str, *, sizes: list, ground_gps=None, aerial_gps=None,
                ground_time: str | None = None, aerial_time: str | None = None, city: str | None = None,
                source: str = "", split: str = "", meta: dict | None = None) -> Sample:
    """A pair record (see the module docstring). Paths are relative to the dataset root,
    ``sizes`` is ``[[w, h] of ground, [w, h] of aerial]``, positions ``[lat, lon]`` in degrees."""
    gps = [ground_gps, aerial_gps] if ground_gps is not None or aerial_gps is not None else []
    times = [ground_time, aerial_time] if ground_time or aerial_time else []
    m = {"pair": True, "image_sizes": [list(s) for s in sizes], **({"city": city} if city else {}), **(meta or {})}
    return Sample(id=id, task=CROSSVIEW, images=[ground, aerial], width=int(sizes[0][0]), height=int(sizes[0][1]),
                  choices=["A"], answer="A", gps=[list(map(float, g)) if g is not None else None for g in gps],
                  times=times, source=source, split=split, meta=m)


# ---------------------------------------------------------------------------------------------
# Pairs

@dataclass(frozen=True)
class Pair:
    """A query image and its true candidate. Paths relative to the dataset root; ``*_gps`` is
    ``(lat, lon)`` in degrees or None; sizes are ``(w, h)`` pixels or None when unknown."""

    id: str
    query: str
    candidate: str
    query_gps: tuple[float, float] | None = None
    candidate_gps: tuple[float, float] | None = None
    query_time: str | None = None
    candidate_time: str | None = None
    query_size: tuple[int, int] | None = None
    candidate_size: tuple[int, int] | None = None
    city: str | None = None
    source: str = ""
    split: str = ""
    exclude: tuple[str, ...] = ()
    direction: str = "ground_to_aerial"

    def reversed(self) -> Pair:
        """The same pair asked the other way: the candidate becomes the query."""
        flipped = {"ground_to_aerial": "aerial_to_ground", "aerial_to_ground": "ground_to_aerial"}
        return replace(self, query=self.candidate, candidate=self.query, query_gps=self.candidate_gps,
                       candidate_gps=self.query_gps, query_time=self.candidate_time, candidate_time=self.query_time,
                       query_size=self.candidate_size, candidate_size=self.query_size, exclude=(),
                       direction=flipped.get(self.direction, "aerial_to_ground"))


def pairs_from_samples(samples: Iterable[Sample]) -> list[Pair]:
    """One pair per ``crossview`` sample: its query and its true candidate (other tasks skipped)."""
    pairs = []
    for s in samples:
        if s.task != CROSSVIEW:
            continue
        i = 1 + s.choices.index(s.answer)
        gps = s.gps or [None] * len(s.images)
        times = s.times or [None] * len(s.images)
        sizes = s.meta.get("image_sizes") or []
        pairs.append(Pair(
            id=s.id, query=s.images[0], candidate=s.images[i],
            query_gps=tuple(gps[0]) if gps[0] is not None else None,
            candidate_gps=tuple(gps[i]) if gps[i] is not None else None,
            query_time=times[0], candidate_time=times[i],
            query_size=(s.width, s.height), candidate_size=tuple(sizes[i]) if len(sizes) > i else None,
            city=s.meta.get("city"), source=s.source, split=s.split,
            exclude=tuple(s.meta.get("exclude_candidates", ())),
            direction=direction(s)))
    return pairs


# ---------------------------------------------------------------------------------------------
# Questions

class _Pool:
    """The distinct candidate images, with positions sorted by latitude for fast radius queries."""

    def __init__(self, pairs: list[Pair]):
        index: dict[str, int] = {}
        self.paths, gps, cities, self.times = [], [], [], []
        for p in pairs:
            if p.candidate not in index:
                index[p.candidate] = len(self.paths)
                self.paths.append(p.candidate)
                gps.append(p.candidate_gps if p.candidate_gps is not None else (np.nan, np.nan))
                cities.append(p.city)
                self.times.append(p.candidate_time)
        self.index = index
        self.gps = np.asarray(gps, dtype=np.float64).reshape(-1, 2)
        self.has_gps = ~np.isnan(self.gps[:, 0])
        self.by_lat = np.argsort(np.where(self.has_gps, self.gps[:, 0], np.inf), kind="stable")
        self.sorted_lat = self.gps[self.by_lat, 0]
        # Cities as integer codes (0 = unknown) so "same city" is one vectorized comparison.
        self.city_id = {c: i + 1 for i, c in enumerate(sorted({c for c in cities if c}))}
        self.city_codes = np.array([self.city_id.get(c, 0) for c in cities], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.paths)


def _allowed(pool: _Pool, idx: np.ndarray, pair: Pair, truth: int, min_sep: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidates among ``idx`` that may serve as distractors, and their km to the true candidate."""
    idx = idx[idx != truth]
    if pair.exclude:
        banned = [pool.index[e] for e in pair.exclude if e in pool.index]
        idx = idx[~np.isin(idx, banned)]
    if pair.candidate_gps is None:
        return idx, np.full(len(idx), np.nan)
    d = haversine_km(pair.candidate_gps[0], pair.candidate_gps[1], pool.gps[idx, 0], pool.gps[idx, 1])
    d = np.atleast_1d(np.asarray(d, dtype=np.float64))
    ok = pool.has_gps[idx] & (d > min_sep)
    if pair.query_gps is not None:
        dq = np.atleast_1d(haversine_km(pair.query_gps[0], pair.query_gps[1], pool.gps[idx, 0], pool.gps[idx, 1]))
        ok &= dq > min_sep
    return idx[ok], d[ok]


def _hard(pool, pair, truth, need, rng, radius_km, min_sep):
    city = pool.city_id.get(pair.city, -1) if pair.city else None
    lat = pair.candidate_gps[0]
    r = radius_km
    while True:
        # Only a latitude band can hold points within r (|Δlat| <= r / R), so scan just that slice.
        band = r / EARTH_RADIUS_KM * 180.0 / np.pi
        lo, hi = np.searchsorted(pool.sorted_lat, [lat - band, lat + band], side="left")
        idx, d = _allowed(pool, pool.by_lat[lo:hi], pair, truth, min_sep)
        same = pool.city_codes[idx] == city if city is not None else np.ones(len(idx), bool)
        found = int(np.count_nonzero((d <= r) & same))
        if r == radius_km and found >= need:
            near = idx[(d <= r) & same]
            return rng.choice(near, size=need, replace=False), "hard"
        if found >= need or r >= HALF_CIRCUMFERENCE_KM:
            break
        r = min(2 * r, HALF_CIRCUMFERENCE_KM)  # too few: widen until the nearest others are in reach
    near = (d <= radius_km) & same
    rest = ~near & (d <= r)
    other_city = pool.city_codes[idx[rest]] != city if city is not None else np.zeros(int(rest.sum()), bool)
    extra = idx[rest][np.lexsort((d[rest], other_city))][: need - int(near.sum())]  # nearest, same city first
    return np.concatenate([rng.permutation(idx[near]), extra]), "hard-fallback"


def _easy(pool, pair, truth, need, rng, easy_min_km, min_sep):
    def far_enough(idx, d):
        ok = d >= easy_min_km
        if pair.query_gps is not None:
            ok &= np.atleast_1d(haversine_km(pair.query_gps[0], pair.query_gps[1],
                                             pool.gps[idx, 0], pool.gps[idx, 1])) >= easy_min_km
        return idx[ok]

    # Far candidates are the common case: try a random handful before scanning the whole pool (a
    # pool without far candidates, e.g. a single city, pays a full scan per question).
    idx, d = _allowed(pool, np.unique(rng.integers(0, len(pool), size=min(len(pool), 16 * need))), pair, truth, min_sep)
    far = far_enough(idx, d)
    if len(far) >= need:
        return rng.choice(far, size=need, replace=False), "easy"
    idx, d = _allowed(pool, np.arange(len(pool)), pair, truth, min_sep)
    far = far_enough(idx, d)
    if len(far) >= need:
        return rng.choice(far, size=need, replace=False), "easy"
    farthest_first = idx[np.argsort(-d, kind="stable")]
    extra = farthest_first[~np.isin(farthest_first, far)][: need - len(far)]
    return np.concatenate([rng.permutation(far), extra]), "easy-fallback"


def _random(pool, pair, truth, need, rng, min_sep):
    # A random handful is almost always enough; scan the whole pool only when it is not.
    idx, _ = _allowed(pool, np.unique(rng.integers(0, len(pool), size=min(len(pool), 4 * need + 8))), pair, truth,
                      min_sep)
    if len(idx) < need:
        idx, _ = _allowed(pool, np.arange(len(pool)), pair, truth, min_sep)
    if len(idx) < need:
        return idx, "random"
    return rng.choice(idx, size=need, replace=False), "random"


def build_questions(pairs: list[Pair], k: int = 4, *, difficulty: str = "hard", radius_km: float = DEFAULT_RADIUS_KM,
                    easy_min_km: float = DEFAULT_EASY_MIN_KM, min_separation_km: float = DEFAULT_MIN_SEPARATION_KM,
                    reverse: bool = False, seed: int = 0, root: str | os.PathLike | None = None,
                    credit_scale_km: float | None = None) -> list[Sample]:
    """K-choice ``crossview`` samples, one per pair (see the module docstring for the rules).

    ``root`` is read only for image sizes a pair does not carry (the query's size becomes the
    sample's ``width``/``height``). ``credit_scale_km`` goes to ``meta`` for the
    ``distance_credit`` reward. Raises ValueError when a pair cannot get K-1 distractors."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {difficulty!r} (known: {', '.join(DIFFICULTIES)})")
    choices = letters(k)
    if k < 2:
        raise ValueError(f"a question needs at least 2 choices, got k={k}")
    if reverse:
        pairs = [p.reversed() for p in pairs]
    if difficulty != "random":
        missing = next((p for p in pairs if p.candidate_gps is None), None)
        if missing is not None:
            raise ValueError(f"pair {missing.id!r} has no GPS for its candidate; difficulty {difficulty!r} needs "
                             f"positions (use difficulty='random')")
    pool = _Pool(pairs)
    rng = np.random.default_rng(seed)
    questions = []
    for p in pairs:
        truth = pool.index[p.candidate]
        mode = difficulty if difficulty != "mixed" else ("hard" if rng.random() < 0.5 else "easy")
        if mode == "hard":
            picked, used = _hard(pool, p, truth, k - 1, rng, radius_km, min_separation_km)
        elif mode == "easy":
            picked, used = _easy(pool, p, truth, k - 1, rng, easy_min_km, min_separation_km)
        else:
            picked, used = _random(pool, p, truth, k - 1, rng, min_separation_km)
        if len(picked) < k - 1:
            raise ValueError(f"pair {p.id!r}: only {len(picked)} usable distractors for k={k} "
                             f"({len(pool)} candidate images in all)")
        slot = int(rng.integers(k))
        cands = [int(i) for i in rng.permutation(np.asarray(picked, dtype=np.int64))]
        cands.insert(slot, truth)
        questions.append(_question(p, pool, cands, choices, slot, used, root, credit_scale_km))
    return questions


def _question(p: Pair, pool: _Pool, cands: list[int], choices: list[str], slot: int, used: str,
              root, credit_scale_km) -> Sample:
    size = p.query_size or _size_from(root, p.query, p.id)
    gps = [p.query_gps] + [tuple(pool.gps[i]) if pool.has_gps[i] else None for i in cands]
    times = [p.query_time] + [pool.times[i] for i in cands]
    meta = {"direction": p.direction, "difficulty": used, "pair_id": p.id}
    if p.city:
        meta["city"] = p.city
    if p.candidate_gps is not None:
        km = np.atleast_1d(haversine_km(*p.candidate_gps, pool.gps[cands, 0], pool.gps[cands, 1]))
        meta["candidate_km"] = [None if np.isnan(x) else round(float(x), 3) for x in km]
    if credit_scale_km is not None:
        meta["credit_scale_km"] = float(credit_scale_km)
    suffix = "-a2g" if p.direction == "aerial_to_ground" else ""
    return Sample(id=f"{p.id}{suffix}", task=CROSSVIEW, images=[p.query] + [pool.paths[i] for i in cands],
                  width=int(size[0]), height=int(size[1]), choices=choices, answer=choices[slot],
                  gps=[list(map(float, g)) if g is not None else None for g in gps] if any(g is not None for g in gps)
                  else [], times=times if any(times) else [], source=p.source, split=p.split, meta=meta)


def _size_from(root, rel: str, pair_id: str) -> tuple[int, int]:
    if root is None:
        raise ValueError(f"pair {pair_id!r}: the size of {rel!r} is unknown; pass root= to read it")
    return image_size(resolve_image(root, rel))


def make_questions(root: str | os.PathLike, out: str | os.PathLike, k: int = 4, **options) -> int:
    """Build K-choice questions from the pair (or crossview) dataset in ``root`` and write them to
    ``out`` (its images hard-linked there, or copied across file systems). ``options`` go to
    :func:`build_questions`. Returns the number of questions written."""
    ds = load_dataset(root)
    questions = build_questions(pairs_from_samples(ds), k, root=root, **options)
    if Path(out).resolve() != Path(root).resolve():
        for rel in sorted({im for q in questions for im in q.images}):
            link_image(resolve_image(root, rel), Path(out), rel)
    write_dataset(out, questions)
    return len(questions)


def write_pairs_or_questions(out: str | os.PathLike, pairs: list[Sample], *, make_questions: int = 0,
                             reverse: bool = False, difficulty: str = "hard", radius_km: float = DEFAULT_RADIUS_KM,
                             seed: int = 0) -> int:
    """What the cross-view converters finish with: write ``pairs`` to ``out``, or — with
    ``make_questions=K`` — K-choice questions built from them. Returns the records written."""
    if not pairs:
        raise SchemaError("no pairs to write", file=str(out))
    k = int(make_questions)
    if k:
        if difficulty != "random" and any(not s.gps or s.gps[1] is None for s in pairs):
            log.warning("pairs without GPS: distractors are drawn at random")
            difficulty = "random"
        records = build_questions(pairs_from_samples(pairs), k, difficulty=difficulty, radius_km=float(radius_km),
                                  reverse=bool(reverse), seed=int(seed), root=out)
    else:
        records = pairs
    write_dataset(out, records)
    return len(records)

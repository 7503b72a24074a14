"""K-choice cross-view questions from pairs: distractor rules, seeded letters, reverse direction."""

from collections import Counter

import numpy as np
import pytest
from PIL import Image

from geor1.data.questions import (
    Pair,
    add_image,
    build_questions,
    make_questions,
    pair_sample,
    pairs_from_samples,
)
from geor1.data.schema import Sample, SchemaError, load_dataset, write_dataset
from geor1.geo import destination, haversine_km

# Three cities far apart; in each, 12 pairs on a ring 0.3-1.5 km around the centre.
CITIES = {"paris": (48.8566, 2.3522), "lyon": (45.764, 4.8357), "tokyo": (35.6762, 139.6503)}


def city_pairs(n=12, with_gps=True):
    pairs = []
    for city, centre in CITIES.items():
        for i in range(n):
            g = destination(*centre, 30.0 * i, 0.3 + 0.1 * i)
            pairs.append(Pair(id=f"{city}/{i}", query=f"{city}/pano/{i}.jpg", candidate=f"{city}/sat/{i}.png",
                              query_gps=g if with_gps else None, candidate_gps=g if with_gps else None,
                              query_size=(64, 32), candidate_size=(48, 48), city=city, source="fixture"))
    return pairs


def by_path(pairs):
    return {p.candidate: p for p in pairs} | {p.query: p for p in pairs}


def check_question(q, pair, k):
    assert q.task == "crossview" and len(q.images) == k + 1 and q.choices == list("ABCDEFGH"[:k])
    assert q.images[0] == pair.query
    assert q.images[1 + q.choices.index(q.answer)] == pair.candidate
    assert len(set(q.images[1:])) == k
    Sample.from_dict(q.to_dict())  # a valid schema record


def test_hard_distractors_are_near_and_in_the_same_city():
    pairs = city_pairs()
    qs = build_questions(pairs, 4, difficulty="hard", radius_km=2.0, seed=1)
    index = by_path(pairs)
    assert len(qs) == len(pairs)
    for q, p in zip(qs, pairs):
        check_question(q, p, 4)
        assert q.meta["difficulty"] == "hard" and q.meta["city"] == p.city and q.meta["pair_id"] == p.id
        for path, km in zip(q.images[1:], q.meta["candidate_km"]):
            other = index[path]
            assert other.city == p.city
            d = haversine_km(*other.candidate_gps, *p.candidate_gps)
            assert km == pytest.approx(d, abs=1e-3)
            assert d == 0 or 0.1 < d <= 2.0
        assert q.gps[0] == list(p.query_gps) and len(q.gps) == 5


def test_hard_falls_back_to_the_nearest_beyond_the_radius():
    pairs = city_pairs()
    qs = build_questions(pairs, 4, difficulty="hard", radius_km=0.25, seed=0)
    index = by_path(pairs)
    assert {q.meta["difficulty"] for q in qs} == {"hard-fallback"}
    for q, p in zip(qs, pairs):
        # The nearest same-city candidates fill in: every distractor in the pair's own city.
        assert all(index[path].city == p.city for path in q.images[1:])
        others = sorted(haversine_km(*o.candidate_gps, *p.candidate_gps) for o in pairs
                        if o.city == p.city and o is not p)
        assert sorted(q.meta["candidate_km"])[1:] == pytest.approx(others[:3], abs=1e-3)


def test_easy_distractors_are_far():
    pairs = city_pairs()
    qs = build_questions(pairs, 4, difficulty="easy", easy_min_km=100.0, seed=2)
    index = by_path(pairs)
    for q, p in zip(qs, pairs):
        check_question(q, p, 4)
        assert q.meta["difficulty"] == "easy"
        for path in q.images[1:]:
            if path != p.candidate:
                assert index[path].city != p.city
                assert haversine_km(*index[path].candidate_gps, *p.candidate_gps) >= 100


def test_easy_falls_back_to_the_farthest():
    pairs = [p for p in city_pairs() if p.city == "paris"]
    qs = build_questions(pairs, 3, difficulty="easy", easy_min_km=100.0, seed=0)
    assert {q.meta["difficulty"] for q in qs} == {"easy-fallback"}
    for q, p in zip(qs, pairs):
        farthest = sorted((haversine_km(*o.candidate_gps, *p.candidate_gps) for o in pairs if o is not p),
                          reverse=True)[:2]
        assert sorted(q.meta["candidate_km"])[1:] == pytest.approx(sorted(farthest), abs=1e-3)


def test_letters_are_shuffled_by_a_seeded_generator():
    pairs = city_pairs()
    a = build_questions(pairs, 4, seed=7)
    b = build_questions(pairs, 4, seed=7)
    c = build_questions(pairs, 4, seed=8)
    assert [q.to_dict() for q in a] == [q.to_dict() for q in b]
    assert [q.answer for q in a] != [q.answer for q in c]
    counts = Counter(q.answer for q in a)
    assert set(counts) == {"A", "B", "C", "D"}  # 36 questions use every letter
    assert all(c >= 3 for c in counts.values())


def test_k_is_configurable_and_checked():
    pairs = city_pairs()
    for k in (2, 6):
        for q, p in zip(build_questions(pairs, k, difficulty="mixed", seed=3), pairs):
            check_question(q, p, k)
    qs = build_questions(pairs, 4, difficulty="mixed", seed=3)
    assert {q.meta["difficulty"].split("-")[0] for q in qs} == {"hard", "easy"}
    with pytest.raises(ValueError, match="at least 2 choices"):
        build_questions(pairs, 1)
    with pytest.raises(ValueError, match="between 1 and 26"):
        build_questions(pairs, 27)
    with pytest.raises(ValueError, match="only 2 usable distractors"):
        build_questions(pairs[:3], 4)
    with pytest.raises(ValueError, match="unknown difficulty"):
        build_questions(pairs, 4, difficulty="medium")


def test_reverse_direction():
    pairs = city_pairs()
    qs = build_questions(pairs, 4, reverse=True, seed=4)
    index = by_path(pairs)
    for q, p in zip(qs, pairs):
        assert q.id == f"{p.id}-a2g" and q.meta["direction"] == "aerial_to_ground"
        assert q.images[0] == p.candidate and (q.width, q.height) == (48, 48)
        assert q.images[1 + q.choices.index(q.answer)] == p.query
        assert all(path.split("/")[1] == "pano" and index[path].city == p.city for path in q.images[1:])


def test_excluded_and_too_close_candidates_never_serve_as_distractors():
    pairs = city_pairs(n=8)
    paris = [p for p in pairs if p.city == "paris"]
    banned = tuple(o.candidate for o in paris[1:5])
    pairs[0] = Pair(**{**pairs[0].__dict__, "exclude": banned})
    # A second image of pair 0's spot (40 m away) must not be offered as a wrong answer either.
    twin = destination(*pairs[0].candidate_gps, 0.0, 0.04)
    pairs.append(Pair(id="paris/twin", query="paris/pano/twin.jpg", candidate="paris/sat/twin.png", query_gps=twin,
                      candidate_gps=twin, query_size=(64, 32), city="paris"))
    for seed in range(5):
        q = build_questions(pairs, 4, difficulty="hard", seed=seed)[0]
        assert not set(q.images[1:]) & set(banned) and "paris/sat/twin.png" not in q.images
    # Separation is measured from the true candidate too, not only from the query.
    pairs[0] = Pair(**{**pairs[0].__dict__, "query_gps": None})
    for seed in range(5):
        assert "paris/sat/twin.png" not in build_questions(pairs, 4, difficulty="hard", seed=seed)[0].images


def test_random_difficulty_without_gps():
    pairs = city_pairs(with_gps=False)
    with pytest.raises(ValueError, match="no GPS"):
        build_questions(pairs, 4, difficulty="hard")
    qs = build_questions(pairs, 4, difficulty="random", seed=0)
    for q, p in zip(qs, pairs):
        check_question(q, p, 4)
        assert q.gps == [] and q.meta["difficulty"] == "random" and "candidate_km" not in q.meta


def test_pairs_round_trip_through_samples(tmp_path):
    s = pair_sample("x/1", "pano/1.jpg", "sat/1.png", sizes=[(64, 32), (48, 48)], ground_gps=[1.0, 2.0],
                    aerial_gps=[1.0, 2.001], ground_time="2020-05-01T10:00:00", city="x", source="t", split="train",
                    meta={"exclude_candidates": ["sat/2.png"]})
    assert s.choices == ["A"] and s.answer == "A" and s.images == ["pano/1.jpg", "sat/1.png"]
    assert s.times == ["2020-05-01T10:00:00", None] and s.meta["image_sizes"] == [[64, 32], [48, 48]]
    (p,) = pairs_from_samples([s])
    assert p == Pair(id="x/1", query="pano/1.jpg", candidate="sat/1.png", query_gps=(1.0, 2.0),
                     candidate_gps=(1.0, 2.001), query_time="2020-05-01T10:00:00", candidate_time=None,
                     query_size=(64, 32), candidate_size=(48, 48), city="x", source="t", split="train",
                     exclude=("sat/2.png",))
    # A K-choice question is a pair source too: its query and its true candidate.
    q = build_questions(city_pairs(), 4, seed=0)[5]
    (back,) = pairs_from_samples([q])
    assert (back.query, back.candidate) == (city_pairs()[5].query, city_pairs()[5].candidate)


def write_pair_dataset(root, n=6):
    samples = []
    for i in range(n):
        for rel, size, color in ((f"pano/{i}.jpg", (40, 20), (i * 30, 0, 0)), (f"sat/{i}.png", (24, 24), (0, i * 30, 0))):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", size, color).save(root / rel)
        g = destination(10.0, 20.0, 60.0 * i, 0.5 + 0.2 * i)
        samples.append(pair_sample(f"p{i}", f"pano/{i}.jpg", f"sat/{i}.png", sizes=[(40, 20), (24, 24)],
                                   ground_gps=g, aerial_gps=g, city="c", source="fixture"))
    write_dataset(root, samples)


def test_make_questions_from_a_pair_dataset(tmp_path):
    src, out = tmp_path / "pairs", tmp_path / "questions"
    write_pair_dataset(src)
    assert make_questions(src, out, 3, seed=5, reverse=True) == 6
    ds = load_dataset(out)  # checks every image is inside out/
    assert len(ds) == 6 and all(len(q.images) == 4 and (q.width, q.height) == (24, 24) for q in ds)
    assert {q.meta["direction"] for q in ds} == {"aerial_to_ground"}
    # Images were hard-linked, not copied.
    assert (out / "pano/0.jpg").stat().st_ino == (src / "pano/0.jpg").stat().st_ino


def test_add_image_links_measures_and_refuses_paths_that_escape(tmp_path):
    f = tmp_path / "a.png"
    Image.new("RGB", (5, 3)).save(f)
    out = tmp_path / "out"
    assert add_image(f, out, "x\\y.png", where="list.csv:4", field="img") == ("x/y.png", (5, 3))
    assert (out / "x/y.png").stat().st_ino == f.stat().st_ino
    assert add_image(f, out, "x/y.png", where="list.csv:4", field="img")[0] == "x/y.png"  # again: already there
    for bad in ("../a.png", "/etc/a.png", "x/../../a.png", "", "C:/a.png"):
        with pytest.raises(SchemaError, match=r"list.csv:4: field 'img': image path .* must stay inside"):
            add_image(f, out, bad, where="list.csv:4", field="img")
    with pytest.raises(SchemaError, match=r"list.csv:4: field 'img': image .*missing.png' not found"):
        add_image(tmp_path / "missing.png", out, "m.png", where="list.csv:4", field="img")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(SchemaError, match=r"list.csv:4: field 'img': unreadable image .*junk.png"):
        add_image(tmp_path / "junk.png", out, "j.png", where="list.csv:4", field="img")


def test_large_pool_in_one_city():
    """3,000 pairs in one city (CV-Cities has 10-20k per city; speed: benchmarks/bench_questions.py)."""
    rng = np.random.default_rng(0)
    lat = 41.38 + rng.uniform(-0.1, 0.1, 3000)
    lon = 2.17 + rng.uniform(-0.1, 0.1, 3000)
    pairs = [Pair(id=str(i), query=f"g{i}", candidate=f"a{i}", query_gps=(a, b), candidate_gps=(a, b),
                  query_size=(1, 1), city="bcn") for i, (a, b) in enumerate(zip(lat, lon))]
    qs = build_questions(pairs, 4, radius_km=1.0, seed=0)
    assert len(qs) == 3000
    assert sum(q.meta["difficulty"] == "hard" for q in qs) > 2950

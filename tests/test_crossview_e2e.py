"""GeoSynth crossview and geoloc datasets end to end: build_messages -> completions -> rewards -> metrics."""

import pytest

from geor1.data.questions import make_questions, pairs_from_samples
from geor1.data.schema import load_dataset
from geor1.tasks import crossview as cv
from geor1.tasks import geoloc as gl
from geor1.tasks.common import REWARDS

synth = pytest.importorskip("geor1.synth.crossview")


@pytest.fixture(scope="module")
def crossview_ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("geosynth_crossview")
    synth.write_crossview(root, 6, seed=0, size=48, k=4)
    return load_dataset(root)


@pytest.fixture(scope="module")
def reverse_ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("geosynth_reverse")
    synth.write_crossview(root, 3, seed=1, size=48, k=3, reverse=True)
    return load_dataset(root)


@pytest.fixture(scope="module")
def geoloc_ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("geosynth_geoloc")
    synth.write_geoloc(root, 6, seed=0, size=48)
    return load_dataset(root)


def think(answer: str) -> str:
    return f"<think>I compare the road layout, the buildings and the vegetation.</think>\n<answer>{answer}</answer>"


def wrong_letter(sample, kind: str | None = None) -> str:
    """A distractor's letter, of the given GeoSynth kind when there is one."""
    kinds = sample.meta.get("candidate_kind") or []
    for letter, k in zip(sample.choices, kinds):
        if letter != sample.answer and (kind is None or k == kind):
            return letter
    return next(c for c in sample.choices if c != sample.answer)


def test_crossview_messages_match_the_images(crossview_ds, reverse_ds):
    for s in [*crossview_ds, *reverse_ds]:
        (turn,) = cv.build_messages(s, None)
        images = [c for c in turn["content"] if c["type"] == "image"]
        assert len(images) == len(s.images) == 1 + len(s.choices)
        text = turn["content"][-1]["text"]
        assert text.startswith(s.query) and text.endswith("The answer is the letter only.")
    assert {cv.direction(s) for s in reverse_ds} == {"aerial_to_ground"}
    assert {cv.direction(s) for s in crossview_ds} == {"ground_to_aerial"}


def test_crossview_rewards_and_metrics(crossview_ds, geoloc_ds):
    samples = list(crossview_ds)
    perfect = [think(cv.target_answer(s, None)) for s in samples]
    hard = [s for s in samples if "hard" in s.meta["candidate_kind"]]
    easy = [s for s in samples if "easy" in s.meta["candidate_kind"]]
    assert hard and easy
    wrong_hard = [think(wrong_letter(s, "hard")) for s in hard]
    wrong_easy = [think(wrong_letter(s, "easy")) for s in easy]

    # A mixed batch as TRL sees it: crossview rows, a geoloc row, conversational completions.
    rows = samples + hard + easy + [geoloc_ds[0]]
    completions = [[{"role": "assistant", "content": t}] for t in perfect + wrong_hard + wrong_easy] + ["0, 0"]
    columns = {"solution": [cv.solution(s, None) if s.task == "crossview" else gl.solution(s, None) for s in rows],
               "task": [s.task for s in rows]}
    n_p, n_h = len(perfect), len(wrong_hard)
    results = {name: REWARDS[name](completions, **columns) for name in
               ["format", *cv.DEFAULT_REWARDS, "distance_credit", "time_credit"]}
    for name, values in results.items():
        if name not in ("format", "repetition_penalty"):  # those two read only the text
            assert values[-1] is None, name  # the geoloc row is not theirs
    assert results["format"][:-1] == [1.0] * (len(rows) - 1)
    assert results["mcq_accuracy"][:n_p] == [1.0] * n_p and set(results["mcq_accuracy"][n_p:-1]) == {0.0}
    assert results["distance_credit"][:n_p] == [1.0] * n_p
    # GeoSynth hard distractors stand 0.4-5 km from the truth, easy ones at least 500 km away.
    credit_hard = results["distance_credit"][n_p:n_p + n_h]
    credit_easy = results["distance_credit"][n_p + n_h:-1]
    assert all(0.0 < c < 0.5 for c in credit_hard) and all(c < 1e-100 for c in credit_easy)
    assert all(0.0 <= t <= 0.5 for t in results["time_credit"][n_p:-1])  # every GeoSynth image has a time
    assert all(0.5 <= v <= 1.0 for v in results["cosine_length"][:n_p])
    assert all(-0.5 <= v <= 0.0 for v in results["cosine_length"][n_p:-1])
    assert all(-1.0 <= v <= 0.0 for v in results["repetition_penalty"][:-1])

    m_perfect = cv.aggregate([cv.score(s, c, None) for s, c in zip(samples, perfect)])
    assert m_perfect["accuracy"] == 1.0 and m_perfect["parse_rate"] == 1.0 and m_perfect["format_rate"] == 1.0
    m_wrong = cv.aggregate([cv.score(s, c, None) for s, c in zip(hard + easy, wrong_hard + wrong_easy)])
    assert m_wrong["accuracy"] == 0.0 and m_wrong["median_wrong_km"] > 0
    wrong_scores = [cv.score(s, c, None) for s, c in zip(hard, wrong_hard)]
    for s, sc in zip(hard, wrong_scores):
        assert sc["distance_km"] == pytest.approx(s.meta["candidate_km"][s.choices.index(sc["choice"])], abs=2e-3)


def test_geosynth_crossview_is_a_pair_source(crossview_ds, tmp_path):
    pairs = pairs_from_samples(crossview_ds)
    assert [(p.query, p.candidate) for p in pairs] == [
        (s.images[0], s.images[1 + s.choices.index(s.answer)]) for s in crossview_ds]
    assert make_questions(crossview_ds.root, tmp_path / "q", 3, seed=0) == len(crossview_ds)
    rebuilt = load_dataset(tmp_path / "q")  # every image it names was linked into the new folder
    for q, s in zip(rebuilt, crossview_ds):
        assert len(q.choices) == 3 and q.images[0] == s.images[0]
        assert q.images[1 + q.choices.index(q.answer)] == s.images[1 + s.choices.index(s.answer)]
        assert cv.score(q, think(q.answer), None)["correct"]


def test_geoloc_end_to_end(geoloc_ds):
    samples = list(geoloc_ds)
    for s in samples:
        (turn,) = gl.build_messages(s, None)
        assert [c["type"] for c in turn["content"]] == ["image", "text"]
        assert '{"lat": <latitude>, "lon": <longitude>}' in turn["content"][-1]["text"]
    perfect = [think(gl.target_answer(s, None)) for s in samples]
    # Naming GeoSynth's nearest city puts the guess within the city's reach (GeoSynth uses the same gazetteer).
    by_city = [think(f"{s.meta['city']}, {s.meta['country']}") for s in samples]
    antipode = [think(f'{{"lat": {-s.gps[0][0]:.4f}, "lon": {s.gps[0][1] - 180 if s.gps[0][1] > 0 else s.gps[0][1] + 180:.4f}}}')
                for s in samples]
    sols = [gl.solution(s, None) for s in samples]
    assert gl.geo_score_reward(perfect, solution=sols) == pytest.approx([1.0] * len(samples), abs=1e-4)
    assert all(v < 1e-5 for v in gl.geo_score_reward(antipode, solution=sols))
    assert all(0.0 <= v < 0.05 for v in gl.geo_distance_reward(antipode, solution=sols))

    m = gl.aggregate([gl.score(s, c, None) for s, c in zip(samples, perfect)])
    assert m["acc_1km"] == 1.0 and m["median_km"] < 0.05 and m["mean_geoscore"] > 4999
    m_city = gl.aggregate([gl.score(s, c, None) for s, c in zip(samples, by_city)])
    assert m_city["gazetteer_rate"] == 1.0 and m_city["acc_200km"] == 1.0 and m_city["acc_1km"] < 1.0
    m_anti = gl.aggregate([gl.score(s, c, None) for s, c in zip(samples, antipode)])
    assert m_anti["acc_2500km"] == 0.0 and m_anti["median_km"] > 19000

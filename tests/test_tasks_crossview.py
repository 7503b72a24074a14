"""The crossview task: prompt, letter parser, rewards (hand-checked values and properties), metrics."""

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.data.schema import Sample
from geor1.geo import destination
from geor1.tasks import crossview as cv
from geor1.tasks.common import REASONS, THINK_ANSWER_INSTRUCTION


def make_sample(answer="B", k=4, gps=None, times=None, direction="ground_to_aerial", query=""):
    choices = cv.letters(k)
    return Sample(id="q1", task="crossview", images=[f"im{i}.png" for i in range(k + 1)], width=64, height=32,
                  query=query, choices=choices, answer=answer, gps=gps or [], times=times or [],
                  meta={"direction": direction, "difficulty": "hard"})


def chat(text):
    return [{"role": "assistant", "content": text}]


def test_prompt_and_messages():
    s = make_sample()
    prompt = cv.build_prompt(s, None)
    assert "street-level photo" in prompt and "A, B, C and D" in prompt and "4 images" in prompt
    assert prompt.endswith("Which one? " + THINK_ANSWER_INSTRUCTION + " The answer is the letter only.")
    assert cv.build_prompt(s, None, think=False).endswith("Which one? Answer with the letter only.")
    reverse = cv.build_prompt(make_sample(direction="aerial_to_ground"), None, think=False)
    assert reverse.startswith("The first image is a satellite image") and "street-level photos" in reverse
    # A dataset's own question is kept; how to answer is always appended.
    assert cv.build_prompt(make_sample(query="Which tile?"), None, think=False) == \
        "Which tile? Answer with the letter only."
    msgs = cv.build_messages(s, None)
    assert [m["role"] for m in msgs] == ["user"]
    content = msgs[0]["content"]
    assert [c["type"] for c in content] == ["image"] * 5 + ["text"]
    assert cv.target_answer(s, None) == "B"


def test_direction_and_difficulty_from_geosynth_meta():
    s = make_sample()
    s.meta = {"query_view": "aerial", "candidate_kind": ["easy", "true", "hard", "easy"]}
    assert cv.direction(s) == "aerial_to_ground" and cv.difficulty(s) == "hard"
    s.meta = {"candidate_kind": ["easy", "true", "easy", "easy"]}
    assert cv.direction(s) == "ground_to_aerial" and cv.difficulty(s) == "easy"
    s.meta = {}
    assert cv.difficulty(s) is None


def test_solution_carries_letters_gps_times():
    gps = [[0.0, 0.0], [0.0, 0.01], [0.0, 0.02], None, [0.0, 0.04]]
    s = make_sample(gps=gps, times=["2020-06-01T12:00:00", None, None, None, None])
    sol = json.loads(cv.solution(s, None))
    assert sol["answer"] == "B" and sol["choices"] == ["A", "B", "C", "D"] and sol["k"] == 4
    assert sol["query_gps"] == [0.0, 0.0] and sol["gps"] == gps[1:]
    assert sol["query_time"] == "2020-06-01T12:00:00" and sol["times"] == [None] * 4
    assert "credit_scale_km" not in sol


@pytest.mark.parametrize("text, letter", [
    ("B", "B"), ("b", "B"), ("B)", "B"), ("(B)", "B"), ("B.", "B"), ("[C]", "C"), ("**D**", "D"),
    ("Answer: (B)", "B"), ("answer: b", "B"), ("the answer is C", "C"), ("The answer is c.", "C"),
    ("Option D", "D"), ("I choose image A because the roads match.", "A"),
    ("B) the second tile has the same roundabout", "B"), ("I pick B", "B"),
    ("<think>roads run north-south</think>\n<answer> C </answer>", "C"),
    ("<think>A looks wrong</think><answer>the answer is a satellite image: D</answer>", "D"),
])
def test_parse_answer_accepts(text, letter):
    assert cv.parse_answer(text, 4) == cv.Parsed(letter)


@pytest.mark.parametrize("text, reason", [
    ("E", "letter E is not one of the choices A..D"),
    ("Answer: (F)", "letter F is not one of the choices A..D"),
    ("A or B", "several letters (A, B)"),
    ("", "empty answer"),
    ("<answer></answer>", "empty answer"),
    ("no idea", "no choice letter"),
    ("I think so", "no choice letter"),
    ("I", "letter I is not one of the choices A..D"),
])
def test_parse_answer_rejects_with_reason(text, reason):
    parsed = cv.parse_answer(text, 4)
    assert not parsed.ok and parsed.value is None and reason in parsed.reason


@pytest.mark.parametrize("text, value", [
    ("I am not sure.", None), ("I think B.", "B"), ("I pick I.", "I"), ("I", "I"), ("(I)", "I"),
    ("The answer is I", "I"), ("I) the ninth tile", "I"), ("I'd say J", "J"), ("I and J both fit", None),
])
def test_parse_answer_tells_the_pronoun_from_the_letter_i(text, value):
    """With ten choices I is a valid letter: "I" before a lower-case word is still the pronoun."""
    assert cv.parse_answer(text, 10).value == value


def test_parse_answer_range_follows_choices():
    assert cv.parse_answer("E", 5).value == "E"
    assert cv.parse_answer("E", ["A", "B"]).reason.startswith("letter E is not")
    assert cv.parse_answer("b", ["A", "B"]).value == "B"


def test_mcq_accuracy_and_other_task_rows():
    sol = cv.solution(make_sample(answer="C"), None)
    rewards = cv.mcq_accuracy_reward([chat("<think>x</think><answer>C</answer>"), chat("<answer>A</answer>"),
                                      "Answer: (c)", "nonsense", "whatever"],
                                     solution=[sol, sol, sol, sol, "{}"], task=["crossview"] * 4 + ["rec"])
    assert rewards == [1.0, 0.0, 1.0, 0.0, None]
    assert REASONS["mcq_accuracy: no choice letter in the answer 'nonsense'"] >= 1


def gps_at(distances_km):
    """Candidate positions: the truth at (10, 20) in slot B, the others at given km due east."""
    truth = (10.0, 20.0)
    others = [destination(*truth, 90.0, d) for d in distances_km]
    return [list(truth), list(others[0]), list(truth), list(others[1]), list(others[2])]


def test_distance_credit_hand_checked():
    assert cv.distance_credit(0.0) == pytest.approx(0.5)
    assert cv.distance_credit(1.0) == pytest.approx(0.5 / math.e)
    assert cv.distance_credit(2.0, scale_km=2.0) == pytest.approx(0.5 / math.e)
    s = make_sample(answer="B", gps=gps_at([0.5, 1.0, 3.0]))
    sol = cv.solution(s, None)
    r = cv.distance_credit_reward(["B", "A", "C", "D", "X"], solution=[sol] * 5)
    assert r[0] == 1.0
    assert r[1] == pytest.approx(0.5 * math.exp(-0.5), rel=1e-6)
    assert r[2] == pytest.approx(0.5 * math.exp(-1.0), rel=1e-6)
    assert r[3] == pytest.approx(0.5 * math.exp(-3.0), rel=1e-6)
    assert r[4] == 0.0  # letter outside the choices


def test_distance_credit_scale_from_solution_and_missing_gps():
    s = make_sample(answer="B", gps=gps_at([2.0, 1.0, 3.0]))
    s.meta["credit_scale_km"] = 2.0
    assert cv.distance_credit_reward(["A"], solution=[cv.solution(s, None)])[0] == pytest.approx(0.5 / math.e)
    no_gps = cv.solution(make_sample(answer="B"), None)
    assert cv.distance_credit_reward(["A", "B"], solution=[no_gps, no_gps]) == [0.0, 1.0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 20000), min_size=3, max_size=3))
def test_distance_credit_is_monotone_in_distance(distances):
    s = make_sample(answer="B", gps=gps_at(distances))
    r = dict(zip("ACD", cv.distance_credit_reward(["A", "C", "D"], solution=[cv.solution(s, None)] * 3)))
    by_distance = sorted(zip(distances, "ACD"))
    values = [r[letter] for _, letter in by_distance]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(values))
    assert all(0.0 <= v <= 0.5 for v in values)


def test_cosine_length_hand_checked_and_clamped():
    assert cv.cosine_length(0, True) == pytest.approx(1.0)
    assert cv.cosine_length(512, True) == pytest.approx(0.75)
    assert cv.cosine_length(1024, True) == pytest.approx(0.5)
    assert cv.cosine_length(0, False) == pytest.approx(-0.5)
    assert cv.cosine_length(512, False) == pytest.approx(-0.25)
    assert cv.cosine_length(1024, False) == pytest.approx(0.0)
    # VLM-R1's unclamped cosine would give 2048 tokens the score of an empty answer (1.0, -0.5).
    assert cv.cosine_length(2048, True) == pytest.approx(0.5)
    assert cv.cosine_length(2048, False) == pytest.approx(0.0)
    assert cv.cosine_length(1536, True) == pytest.approx(0.5)
    lengths = range(0, 4096, 64)
    right = [cv.cosine_length(n, True) for n in lengths]
    wrong = [cv.cosine_length(n, False) for n in lengths]
    assert all(a >= b for a, b in itertools.pairwise(right)) and all(a <= b for a, b in itertools.pairwise(wrong))


def test_cosine_length_reward_uses_completion_ids():
    sol = cv.solution(make_sample(answer="A"), None)
    r = cv.cosine_length_reward(["A", "B", "A"], solution=[sol] * 3,
                                completion_ids=[[0] * 512, [0] * 512, [0] * 3000])
    assert r == pytest.approx([0.75, -0.25, 0.5])
    # Without token ids the length is the count of words and punctuation marks.
    assert cv.count_tokens("<answer>A</answer>") == 8  # < answer > A < / answer >
    assert cv.cosine_length_reward(["A"], solution=[sol])[0] == pytest.approx(cv.cosine_length(1, True))


def test_repetition_penalty_hand_checked():
    # 12 words -> 7 six-grams, of which 6 distinct: penalty -(1 - 6/7).
    text = "a b c d e f a b c d e f"
    assert cv.repetition_share(text) == pytest.approx(1 / 7)
    r = cv.repetition_penalty_reward([text, "one two three", chat("the cat sat on the mat today")])
    assert r == pytest.approx([-1 / 7, 0.0, 0.0])
    assert cv.repetition_penalty_reward(["x " * 200])[0] == pytest.approx(-(1 - 1 / 195))
    assert cv.repetition_penalty_reward([text], task=["rec"]) == pytest.approx([-1 / 7])  # text only: any task


def test_time_credit():
    times = [None, None, "2021-06-21T12:00:00", "2021-06-21T12:00:00", "2021-12-21T00:00:00"]
    sol = cv.solution(make_sample(answer="B", times=times), None)
    # A: no time; C: same hour and day as the truth; D: 12 hours and half a year away.
    assert cv.time_credit_reward(["B", "A", "C", "D", "zzz"], solution=[sol] * 5) == pytest.approx(
        [1.0, 0.0, 0.5, 0.0, 0.0], abs=1e-4)
    dt = cv._parse_time
    assert cv.time_similarity(dt("2021-06-21T06:00:00"), dt("2021-06-21T12:00:00")) == pytest.approx(0.75)
    # Seasons flip across the equator: June in the south is like December in the north.
    assert cv.time_similarity(dt("2021-12-21T12:00:00"), dt("2021-06-21T12:00:00"), (45, 0), (-45, 0)) == \
        pytest.approx(1.0, abs=1e-3)
    # With a UTC offset and a longitude the hour is local solar time: 12:00 UTC at 90 E is 18:00.
    assert cv._hour(dt("2021-06-21T12:00:00+00:00"), 90.0) == pytest.approx(18.0)


def test_score_and_aggregate():
    s = make_sample(answer="B", gps=gps_at([0.5, 1.0, 3.0]))
    right = cv.score(s, "<think>the roundabout matches</think><answer>B</answer>", None)
    assert right["correct"] and right["choice"] == "B" and right["distance_km"] == pytest.approx(0.0)
    assert right["rewards"]["format"] == 1.0 and right["rewards"]["mcq_accuracy"] == 1.0
    wrong = cv.score(s, "<answer>D</answer>", None, num_tokens=2048)
    assert not wrong["correct"] and wrong["distance_km"] == pytest.approx(3.0, rel=1e-6)
    assert wrong["rewards"]["cosine_length"] == pytest.approx(0.0) and wrong["rewards"]["format"] == 0.0
    bad = cv.score(s, "maybe", None)
    assert bad["choice"] is None and bad["reason"]
    m = cv.aggregate([right, wrong, bad])
    assert m["n"] == 3 and m["accuracy"] == pytest.approx(1 / 3) and m["parse_rate"] == pytest.approx(2 / 3)
    assert m["format_rate"] == pytest.approx(1 / 3) and m["median_wrong_km"] == pytest.approx(3.0, rel=1e-6)
    assert m["accuracy_hard"] == pytest.approx(1 / 3) and m["accuracy_ground_to_aerial"] == pytest.approx(1 / 3)
    assert cv.aggregate([]) == {"n": 0.0}


def test_rewards_are_registered():
    from geor1.tasks.common import REWARDS

    for name in ("mcq_accuracy", "distance_credit", "cosine_length", "repetition_penalty", "time_credit"):
        assert name in REWARDS
    assert set(cv.DEFAULT_REWARDS) <= set(REWARDS)


RANGES = {"mcq_accuracy": (0, 1), "distance_credit": (0, 1), "cosine_length": (-0.5, 1),
          "repetition_penalty": (-1, 0), "time_credit": (0, 1)}
_SOL = cv.solution(make_sample(answer="C", gps=gps_at([0.2, 5.0, 50.0]),
                               times=[None, "2020-01-01T08:00:00", "2020-07-01T20:00:00", None, "2020-03-01"]), None)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="ABCDEabcde()[]:. answerisoption<>/\n"),
                 st.builds(lambda t: f"<think>{t}</think><answer>{t}</answer>", st.text(max_size=30))))
def test_no_string_crashes_the_parser_or_rewards(text):
    parsed = cv.parse_answer(text, 4)
    assert parsed.ok == (parsed.value in ("A", "B", "C", "D")) and parsed.ok != bool(parsed.reason)
    for name, (lo, hi) in RANGES.items():
        fn = getattr(cv, f"{name}_reward")
        for completion in (text, chat(text)):
            (value,) = fn([completion], solution=[_SOL], task=["crossview"])
            assert lo <= value <= hi, (name, text, value)

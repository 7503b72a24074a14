"""Counting: the parser, the rewards and the metrics by hand; GeoSynth's counting samples; and the
task end to end (synth, validate, eval, report, engine, GRPO) on the tiny model."""

import csv
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.data.schema import Sample, SchemaError, load_dataset, validate_record
from geor1.tasks import counting, get_reward_funcs


def sample(count, category="storage tank", sid="s", boxes=None):
    return Sample(id=sid, task="counting", images=["a.png"], width=100, height=100,
                  query=f"How many {category}s are in this image?", category=category,
                  boxes=boxes or [], answer=None if count is None else str(count))


def answer(text):
    return f"<think>x</think><answer>{text}</answer>"


@pytest.mark.parametrize("text, value, reason", [
    ("3", 3, ""),
    ("There are 12 storage tanks.", 12, ""),
    ("2 large and 1 small: 3", 3, ""),            # the last number is the answer
    ("1,024", 1024, ""),
    ("3.0", 3, ""),
    ("seven", 7, ""),
    ("None", 0, ""),
    ("<think>I see 5</think><answer>4</answer>", 4, ""),  # the rationale's numbers do not count
    ("3.5", None, "not a whole number (3.5)"),
    ("-2", None, "a negative count (-2)"),
    ("9999999", None, "an implausible count (9999999)"),
    ("a few", None, "no number in the answer"),
    ("x3 and 3rd", None, "no number in the answer"),  # digits inside words are not counts
])
def test_parse_answer_hand_checked(text, value, reason):
    parsed = counting.parse_answer(text)
    assert (parsed.value, parsed.reason) == (value, reason)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_never_raises_and_rewards_stay_in_range(text):
    parsed = counting.parse_answer(text)
    assert parsed.ok == (parsed.reason == "") and (parsed.value is None or 0 <= parsed.value <= counting.MAX_COUNT)
    sol = [counting.solution(sample(4))]
    for name in ("count_exact", "count_relative"):
        (v,) = get_reward_funcs([name])[0]([text], solution=sol)
        assert 0.0 <= v <= 1.0


@given(st.integers(0, counting.MAX_COUNT), st.sampled_from(["{}", "There are {} of them.", "{:,}", "so: {}"]))
def test_any_count_written_plainly_reads_back(n, pattern):
    assert counting.parse_answer(answer(pattern.format(n))).value == n


def test_rewards_hand_checked():
    cases = [(5, "5", 1.0, 1.0), (5, "4", 0.0, 0.8), (5, "6", 0.0, 0.8), (5, "10", 0.0, 0.0), (5, "12", 0.0, 0.0),
             (0, "0", 1.0, 1.0), (0, "1", 0.0, 0.0), (1, "2", 0.0, 0.0), (10, "7", 0.0, 0.7), (3, "many", 0.0, 0.0)]
    sols = [counting.solution(sample(g)) for g, *_ in cases]
    texts = [answer(t) for _, t, *_ in cases]
    exact = counting.count_exact_reward(texts, sols)
    relative = counting.count_relative_reward(texts, sols)
    assert exact == [e for *_, e, _ in cases]
    assert relative == pytest.approx([r for *_, r in cases])
    # rows of another task are left to that task's rewards
    other = json.dumps({"task": "rec", "box": [0, 0, 1, 1]})
    assert counting.count_exact_reward([answer("1")], [other], task=["rec"]) == [None]


def test_score_aggregate_and_judgement_hand_checked():
    scores = [counting.score(sample(3), answer("3")), counting.score(sample(3), answer("4")),
              counting.score(sample(4), answer("2")), counting.score(sample(2), answer("lots"))]
    assert [s["error"] for s in scores] == [0, 1, -2, None]
    assert scores[3]["reason"] == "no number in the answer" and scores[3]["rewards"]["count_relative"] == 0.0
    m = counting.aggregate(scores)
    assert m == {"n": 4.0, "accuracy": 0.25, "off_by_one": 0.25, "mae": pytest.approx(1.0), "parse_rate": 0.75}
    assert [counting.is_failure(s) for s in scores] == [False, True, True, True]
    assert [counting.quality(s) for s in scores] == pytest.approx([1.0, 2 / 3, 0.5, 0.0])
    assert counting.describe(scores[1]) == "counted 4, true 3" and counting.describe(scores[3]) == "counted ?, true 2"
    assert [counting.per_sample("accuracy")(s) for s in scores] == [1.0, 0.0, 0.0, 0.0]
    assert counting.per_sample("mae") is None
    # without an answer field, a dataset's boxes are the count
    assert counting.true_count(sample(None, boxes=[[0, 0, 1, 1]] * 2)) == 2


def test_prompt_and_request():
    s = sample(3)
    assert counting.build_prompt(s, think=False) == ("How many storage tanks are in this image? "
                                                     "Answer with a single whole number.")
    assert "<think>" in counting.build_prompt(s, think=True) and counting.target_answer(s) == "3"

    class Img:
        width, height = 64, 32

    asked = counting.request([Img()], "ships")
    assert (asked.query, asked.category, asked.width) == ("How many ships are in this image?", "ships", 64)
    assert counting.request([Img()], "How many cars can you see?").query == "How many cars can you see?"
    with pytest.raises(ValueError, match="--task counting needs --query"):
        counting.request([Img()], " ")


def test_schema_takes_counting_and_checks_the_count():
    rec = {"id": "c", "task": "counting", "images": ["a.png"], "width": 10, "height": 10, "answer": "3"}
    assert validate_record(rec)["answer"] == "3"
    with pytest.raises(SchemaError, match="field 'answer': a count is a whole number written in digits"):
        validate_record({**rec, "answer": "three"})


def test_geosynth_counting_samples_are_true_to_their_scenes(tmp_path):
    from geor1.coords import get_frame
    from geor1.synth.registry import write

    assert write("counting", tmp_path, 12, seed=3, size=224, zero_fraction=0.3) == 12
    ds = load_dataset(tmp_path)
    zeros = 0
    for s in ds:
        objects = [o for o in s.meta["scene"]["objects"] if o["category"] == s.category]
        assert int(s.answer) == len(objects) == len(s.boxes) and s.query.startswith("How many ")
        zeros += s.answer == "0"
        text = counting.rationale(s, get_frame("norm1000"))
        assert text.endswith(f"So the answer is {s.answer}.")
    assert zeros >= 1
    again = tmp_path / "again"
    write("counting", again, 12, seed=3, size=224, zero_fraction=0.3)
    assert (again / "data.jsonl").read_bytes() == (tmp_path / "data.jsonl").read_bytes()  # same seed, same bytes


@pytest.mark.slow
def test_counting_end_to_end(tmp_path, capsys):
    """synth -> validate -> eval -> report -> engine -> GRPO, all through the CLI, on the tiny model."""
    from geor1.cli import main

    data = tmp_path / "data"
    assert main(["synth", "counting", "--n", "8", "--seed", "1", "--size", "224", "--out", str(data)]) == 0
    assert main(["validate", str(data)]) == 0
    assert main(["eval", "--model", "tiny", "--data", str(data), "--out", str(tmp_path / "eval"),
                 "--max-new-tokens", "8", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(counting.HEADLINE) <= set(summary["tasks"]["counting"]["metrics"])
    assert main(["report", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text()
    assert "counting accuracy" in html and "wrong count" in html
    assert main(["engine", "--teacher", "programmatic", "--data", str(data), "--out", str(tmp_path / "sft"),
                 "--frame", "tiny", "--no-progress"]) == 0
    kept = (tmp_path / "sft" / "sft_messages.jsonl").read_text().splitlines()
    assert len(kept) == 8  # the programmatic teacher's rationale reaches every count and is accepted
    capsys.readouterr()
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({
        "method": "grpo", "model": {"name": "tiny"}, "data": {"train": [str(data)], "think": False},
        "rewards": {"count_exact": 1.0, "count_relative": 1.0},
        "trainer": {"output_dir": str(tmp_path / "grpo"), "max_steps": 2, "per_device_train_batch_size": 4,
                    "num_generations": 4, "max_completion_length": 8, "report_to": [], "save_steps": 10}}))
    assert main(["train", "grpo", str(recipe)]) == 0
    rows = list(csv.DictReader(open(tmp_path / "grpo" / "completions.csv")))
    assert {r["reward"] for r in rows} == {"count_exact", "count_relative"} and len(rows) == 2 * 2 * 4


def test_the_report_shows_counting_metrics_in_their_units():
    from geor1.report.compare import human, shown

    assert (human("mae"), shown("mae", 2.5)) == ("mean absolute error", "2.5")  # objects, not a percentage
    assert (human("off_by_one"), shown("off_by_one", 0.25)) == ("off by one", "25.0%")

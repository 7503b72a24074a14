"""geor1 eval: metrics are the task modules' own, batching changes nothing, resume skips what is done."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from geor1.coords import frame_from_dict, get_frame
from geor1.data import load_dataset, write_dataset
from geor1.evaluation.evaluate import (
    PREDICTIONS,
    evaluate,
    read_predictions,
    score_completions,
    summarize,
)
from geor1.tasks import get_task

TOKENS = 6  # new tokens per sample: enough to exercise decoding, cheap on 2 CPU cores


def _nan_to_none(d: dict) -> dict:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A GeoSynth dataset of three tasks in one folder: 3 rec, 2 crossview, 2 geoloc."""
    from geor1.synth import write_task
    from geor1.synth.crossview import write_crossview, write_geoloc

    root = tmp_path_factory.mktemp("eval")
    write_task("rec", root / "rec", 3, seed=2, size=128)
    write_crossview(root / "cv", 2, seed=2, size=48)
    write_geoloc(root / "geo", 2, seed=2, size=48)
    samples = []
    for part in ("rec", "cv", "geo"):
        ds = load_dataset(root / part)
        shutil.copytree(root / part / "images", root / "mixed" / part)
        for s in ds:
            s.images = [f"{part}/{p.removeprefix('images/')}" for p in s.images]
            samples.append(s)
    write_dataset(root / "mixed", samples)
    return root


@pytest.fixture(scope="module")
def evaluated(mixed):
    """One real evaluation with the tiny model (random weights), batches of 4."""
    out = mixed / "out"
    summary = evaluate("tiny", mixed / "mixed", out, batch_size=4, max_new_tokens=TOKENS, progress=False)
    return out, summary


def test_metrics_are_the_task_modules_on_the_same_outputs(mixed, evaluated):
    out, summary = evaluated
    ds = load_dataset(mixed / "mixed")
    records = read_predictions(out / PREDICTIONS)
    assert list(records) == [s.id for s in ds]  # every sample, dataset order within a task
    config = json.loads((out / "config.json").read_text())
    frame = frame_from_dict(config["frame"])
    assert frame.extent(448, 448) == (224.0, 224.0)  # the tiny model's processor: 224 x 224 inputs
    by_task: dict[str, list] = {}
    for s in ds:
        r = records[s.id]
        task = get_task(s.task)
        kwargs = {"num_tokens": r["num_tokens"]} if s.task == "crossview" else {}
        again = task.score(s, r["completion"], frame, **kwargs)
        assert (
            json.loads(json.dumps(again)) == r["score"]
        )  # the stored record is score() of the stored output
        assert 1 <= r["num_tokens"] <= TOKENS and r["finish_reason"] in ("stop", "length")
        assert r["reason"] == again["reason"] and (r["parsed"] is None) == bool(r["reason"])
        rewards = again.get("rewards") or {n: again[n] for n in task.DEFAULT_REWARDS}
        assert r["rewards"] == rewards
        by_task.setdefault(s.task, []).append(again)
    assert set(summary["tasks"]) == {"rec", "crossview", "geoloc"}
    for name, scores in by_task.items():
        assert summary["tasks"][name]["metrics"] == _nan_to_none(get_task(name).aggregate(scores))
        assert summary["tasks"][name]["n"] == len(scores)
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["tasks"] == summary["tasks"] and on_disk["n"] == 7
    md = (out / "summary.md").read_text()
    assert "## rec (3 samples)" in md and "| acc_at_05 |" in md and "## crossview (2 samples)" in md
    assert summary["speed"]["samples"] == 7 and summary["speed"]["samples_per_s"] > 0
    assert summary["speed"]["peak_rss_mb"] > 100


def test_score_completions_hand_checked(mixed, tmp_path):
    """Known answers give known metrics: the same scoring path as evaluate, on chosen outputs."""
    frame = get_frame("qwen2.5-vl")
    rec = load_dataset(mixed / "rec")
    r = get_task("rec")
    gold = [r.target_answer(s, frame) for s in rec]
    comps = {
        rec[0].id: f"<think>a</think><answer>{gold[0]}</answer>",
        rec[1].id: f"<think>b</think> <answer>{gold[1]}</answer>",
        rec[2].id: 'no think block, a 2 x 2 box in the corner: {"bbox_2d": [0, 0, 2, 2]}',
    }
    summary = score_completions(mixed / "rec", comps, tmp_path / "rec", frame=frame)
    m = summary["tasks"]["rec"]["metrics"]
    assert m["acc_at_05"] == pytest.approx(2 / 3) and m["parse_rate"] == 1.0
    assert summary["tasks"]["rec"]["rewards"]["format"] == pytest.approx(2 / 3)
    assert summary["tasks"]["rec"]["rewards"]["rec_iou"] == pytest.approx(m["mean_iou"])

    geo = load_dataset(mixed / "geo")
    lat, lon = geo[0].gps[0]
    comps = {
        geo[0].id: f'<think>x</think><answer>{{"lat": {lat}, "lon": {lon}}}</answer>',
        geo[1].id: "<think>x</think><answer>somewhere</answer>",
    }
    g = score_completions(mixed / "geo", comps, tmp_path / "geo")["tasks"]["geoloc"]
    assert g["metrics"]["acc_1km"] == 0.5 and g["metrics"]["parse_rate"] == 0.5
    assert g["reasons"][0]["count"] == 1
    with pytest.raises(ValueError, match="not in"):
        score_completions(mixed / "geo", {"nope": "A"}, tmp_path / "x")


def test_batched_generation_equals_one_at_a_time(mixed, evaluated, tmp_path):
    """Left padding must not change greedy outputs: batch of 4 against batches of 1."""
    out, _ = evaluated
    batched = read_predictions(out / PREDICTIONS)
    single = evaluate(
        "tiny",
        mixed / "mixed",
        tmp_path / "single",
        batch_size=1,
        max_new_tokens=TOKENS,
        limit=3,
        progress=False,
    )
    assert single["n"] == 3
    for rid, rec in read_predictions(tmp_path / "single" / PREDICTIONS).items():
        assert (
            rec["completion"] == batched[rid]["completion"]
            and rec["num_tokens"] == batched[rid]["num_tokens"]
        )


def test_resume_skips_finished_samples_and_repairs_a_cut_line(mixed, evaluated, tmp_path):
    out = tmp_path / "resume"
    first = evaluate(
        "tiny", mixed / "mixed", out, batch_size=2, max_new_tokens=TOKENS, limit=3, progress=False
    )
    assert first["speed"]["samples"] == 3
    lines = (out / PREDICTIONS).read_text().splitlines()
    # An interruption in the middle of writing the 4th record.
    with open(out / PREDICTIONS, "a") as f:
        f.write('{"id": "crossview-000000", "task": "crossv')
    second = evaluate("tiny", mixed / "mixed", out, batch_size=4, max_new_tokens=TOKENS, progress=False)
    assert second["speed"]["samples"] == 4  # 7 samples, 3 done before
    now = (out / PREDICTIONS).read_text().splitlines()
    assert now[:3] == lines and len(now) == 7 and all(json.loads(x) for x in now)
    # The same samples as one uninterrupted run, and its metrics.
    full_out, full = evaluated
    assert {k: v["completion"] for k, v in read_predictions(out / PREDICTIONS).items()} == {
        k: v["completion"] for k, v in read_predictions(full_out / PREDICTIONS).items()
    }
    assert second["tasks"] == full["tasks"]
    # Nothing left: no model is loaded, no speed is measured, the summary is the same.
    third = evaluate("tiny", mixed / "mixed", out, batch_size=4, max_new_tokens=TOKENS, progress=False)
    assert third["speed"] is None and third["tasks"] == second["tasks"]
    # Other decoding settings must not mix into the same folder ...
    with pytest.raises(ValueError, match="think: True -> False"):
        evaluate("tiny", mixed / "mixed", out, max_new_tokens=TOKENS, think=False, progress=False)
    # ... unless asked to start afresh.
    fresh = evaluate(
        "tiny",
        mixed / "mixed",
        out,
        max_new_tokens=TOKENS,
        think=False,
        limit=1,
        overwrite=True,
        progress=False,
    )
    assert fresh["n"] == 1 and len((out / PREDICTIONS).read_text().splitlines()) == 1


def test_read_predictions_names_a_bad_line(tmp_path):
    p = tmp_path / PREDICTIONS
    p.write_text('{"id": "a", "score": {}}\nnot json\n{"id": "b", "score": {}}\n')
    with pytest.raises(ValueError, match=r"predictions.jsonl:2: unreadable prediction record"):
        read_predictions(p)
    p.write_text('{"id": "a", "score": {}}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r":2: a prediction record is an object"):
        read_predictions(p)
    p.write_text('{"id": "a", "score": {}}\n{"id": "b", "sco')
    assert list(read_predictions(p, repair=False)) == ["a"] and p.read_text().endswith('"sco')
    assert list(read_predictions(p)) == ["a"] and p.read_text() == '{"id": "a", "score": {}}\n'


def test_summarize_groups_tasks_and_means_rewards():
    recs = [
        {
            "task": "crossview",
            "reason": "",
            "rewards": {"format": 1.0, "mcq_accuracy": 1.0},
            "score": {
                "correct": True,
                "choice": "A",
                "format_ok": True,
                "num_tokens": 10,
                "rewards": {"distance_credit": 1.0},
                "distance_km": 0.0,
            },
        },
        {
            "task": "crossview",
            "reason": "empty answer",
            "rewards": {"format": 0.0, "mcq_accuracy": 0.0},
            "score": {
                "correct": False,
                "choice": None,
                "format_ok": False,
                "num_tokens": 20,
                "rewards": {"distance_credit": 0.0},
                "distance_km": None,
            },
        },
    ]
    s = summarize(recs)["crossview"]
    assert s["n"] == 2 and s["rewards"] == {"format": 0.5, "mcq_accuracy": 0.5}
    assert s["metrics"]["accuracy"] == 0.5 and s["metrics"]["mean_tokens"] == 15.0
    assert s["reasons"] == [{"reason": "empty answer", "count": 1}]


def test_vllm_backend_needs_vllm(mixed, tmp_path):
    try:  # vLLM is not installable on this CPU machine; the guard must say what to do
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install vllm"):
            evaluate("tiny", mixed / "rec", tmp_path / "v", backend="vllm", progress=False)
    else:
        pytest.skip("vllm is installed: the guard does not apply")
    with pytest.raises(ValueError, match="unknown backend"):
        evaluate("tiny", mixed / "rec", tmp_path / "v", backend="onnx")


def test_eval_cli(mixed, tmp_path, capsys):
    from geor1.cli import main

    out = tmp_path / "cli"
    code = main(
        [
            "eval",
            "--data",
            str(mixed / "rec"),
            "--out",
            str(out),
            "--limit",
            "2",
            "--max-new-tokens",
            "3",
            "--batch-size",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "# Evaluation of `tiny`" in printed and "samples_per_s" in printed
    assert len((out / PREDICTIONS).read_text().splitlines()) == 2


def test_eval_cli_scores_given_completions(mixed, tmp_path, capsys):
    from geor1.cli import main

    ds = load_dataset(mixed / "rec")
    frame = get_frame("norm1000")  # outputs of a Qwen2-VL-style model, 0-1000 coordinates
    lines = [
        json.dumps(
            {
                "id": s.id,
                "completion": f"<think>x</think><answer>{get_task('rec').target_answer(s, frame)}</answer>",
            }
        )
        for s in ds
    ]
    comp = tmp_path / "outputs.jsonl"
    comp.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scored"
    assert (
        main(
            [
                "eval",
                "--data",
                str(mixed / "rec"),
                "--out",
                str(out),
                "--completions",
                str(comp),
                "--frame",
                "norm1000",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"]["rec"]["metrics"]["acc_at_07"] == 1.0 and summary["frame"]["name"] == "norm1000"
    assert "completions made elsewhere" in capsys.readouterr().out
    comp.write_text(lines[0] + '\n{"id": 3}\n')
    with pytest.raises(SystemExit, match="outputs.jsonl:2: a line is"):
        main(["eval", "--data", str(mixed / "rec"), "--out", str(out), "--completions", str(comp)])

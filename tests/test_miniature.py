"""benchmarks/miniature.py --quick end to end: every number on the results page is the eval summary's."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("miniature", REPO / "benchmarks" / "miniature.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def table(text: str, header: str) -> list[dict[str, str]]:
    """The rows of the markdown table whose header line starts with ``header``, as dicts."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    cells = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]
    names = cells(lines[start])
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(names, cells(line), strict=True)))
    return rows


def metrics(out: Path, run: str, ev: str, task: str) -> dict:
    return json.loads((out / run / ev / "summary.json").read_text())["tasks"][task]["metrics"]


def same(cell: str, fractions: list[float]) -> bool:
    """A page cell ``12.5`` or ``12.5 ± 1.6`` (mean ± sample std over seeds) against the summaries."""
    mean, _, std = cell.partition(" ± ")
    v = 100 * np.asarray(fractions, dtype=float)
    ok = float(mean) == pytest.approx(v.mean(), abs=0.05)
    return ok and (float(std) == pytest.approx(v.std(ddof=1), abs=0.05) if std else len(v) == 1)


def correct(out: Path, runs: list[str], ev: str) -> np.ndarray:
    """Per-sample IoU > 0.5, averaged over the seeds' runs, samples in id order (read here, by hand)."""
    rows = []
    for run in runs:
        recs = {}
        for line in (out / run / ev / "predictions.jsonl").read_text().splitlines():
            r = json.loads(line)
            recs[r["id"]] = r["score"]["iou"] > 0.5
        rows.append([recs[i] for i in sorted(recs)])
    return np.array(rows, dtype=float).mean(axis=0)


@pytest.mark.slow
def test_quick_pipeline_writes_its_eval_summaries_and_resumes(tmp_path, capsys):
    docs = REPO / "docs" / "results.md"
    docs_before = docs.read_bytes() if docs.is_file() else None
    mini = _script()
    out = tmp_path / "mini"
    assert mini.main(["--quick", "--out", str(out)]) == 0
    assert (docs.read_bytes() if docs.is_file() else None) == docs_before  # --quick leaves docs/ alone
    text = (out / "results.md").read_text()
    seeds = {1: ["{}-1shot"], 2: ["{}-2shot", "{}-2shot-s1"]}  # --quick: 2 seeds at 2 shots, one at 1

    rec = table(text, "| method | shots | seeds |")
    assert [(r["method"], r["shots"]) for r in rec[:7]] == [("base (zero-shot)", "0")] + [
        (m, str(k)) for m in ("SFT", "GRPO", "DAPO") for k in (1, 2)]
    assert [r["method"] for r in rec[7:]] == ["constant centred box (baseline)",
                                              "random object of the queried category (baseline)"]
    for r in rec[:7]:
        key = {"SFT": "sft", "GRPO": "grpo", "DAPO": "dapo"}.get(r["method"])
        runs = ["rec/base"] if key is None else [f"rec/{n.format(key)}" for n in seeds[int(r["shots"])]]
        assert r["seeds"] == str(len(runs)) and r["run"] == runs[0]
        for style in "ABC":
            assert same(r[f"Acc@0.5 ({style})"], [metrics(out, run, f"eval-{style}", "rec")["acc_at_05"] for run in runs])
        assert same(r["Acc@0.7 (A)"], [metrics(out, run, "eval-A", "rec")["acc_at_07"] for run in runs])
        assert (r["train (s)"] == "–") == (key is None)

    # a difference: per sample on the seed average, then the mean
    diffs = table(text, "| comparison | test | seeds |")
    row = next(d for d in diffs if d["comparison"] == "GRPO − SFT, 2-shot" and d["test"] == "style A")
    grpo = correct(out, ["rec/grpo-2shot", "rec/grpo-2shot-s1"], "eval-A")
    sft = correct(out, ["rec/sft-2shot", "rec/sft-2shot-s1"], "eval-A")
    assert float(row["difference"]) == pytest.approx(100 * (grpo - sft).mean(), abs=0.05)
    low, high = (float(x) for x in row["95 % interval"].strip("[]").split(","))
    assert low <= float(row["difference"]) <= high

    cv = table(text, "| method | seeds | accuracy (%) |")
    assert [r["method"] for r in cv] == ["base", "Geo-SFT", "GRPO-Zero", "GRPO (after Geo-SFT)", "chance (baseline)"]
    cv_runs = {"base": ["cv/base"], "Geo-SFT": ["cv/geo-sft", "cv/geo-sft-s1"], "GRPO-Zero": ["cv/grpo-zero"],
               "GRPO (after Geo-SFT)": ["cv/geo-sft-grpo", "cv/geo-sft-grpo-s1"]}
    for r in cv[:4]:
        runs = cv_runs[r["method"]]
        assert same(r["accuracy (%)"], [metrics(out, run, "eval", "crossview")["accuracy"] for run in runs])
        tokens = [metrics(out, run, "eval", "crossview")["mean_tokens"] for run in runs]
        assert float(r["mean completion length (tokens)"].split(" ± ")[0]) == pytest.approx(np.mean(tokens), abs=0.05)

    geo = table(text, "| method | seeds | ≤ 1 km |")
    assert [r["method"] for r in geo] == list(cv_runs)
    for r in geo:
        runs = cv_runs[r["method"]]
        assert same(r["≤ 750 km"], [metrics(out, run, "eval-geo", "geoloc")["acc_750km"] for run in runs])

    # The targets follow from the evaluation folders, not from text written by hand.
    acc = lambda runs, ev, task, m: np.mean([metrics(out, run, ev, task)[m] for run in runs])
    geo_all = lambda runs: [acc(runs, "eval-geo", "geoloc", f"acc_{t}km") for t in (1, 25, 200, 750, 2500)]
    met = {r["target"]: r["met"] for r in table(text, "| target |")}
    assert met["2-shot GRPO ≥ SFT + 12 points Acc@0.5 (A), interval excluding 0"] == (
        "yes" if (grpo - sft).mean() >= 0.12 and low > 0 else "no")
    cv_acc = acc(cv_runs["GRPO (after Geo-SFT)"], "eval", "crossview", "accuracy")
    assert met["cross-view GRPO after Geo-SFT ≥ 85 %"] == ("yes" if cv_acc >= 0.85 else "no")
    after, before = geo_all(cv_runs["GRPO (after Geo-SFT)"]), geo_all(["cv/base"])
    assert met["geolocalization after cross-view GRPO ≥ base at every threshold"] == (
        "yes" if all(a >= b for a, b in zip(after, before)) else "no")
    assert len(met) == 10

    # Every step's command is on the page; a rerun runs nothing and writes the same page.
    steps = sorted((out / "steps").rglob("*.json"))
    # data (pool, 3 test sets, 2 k-shot draws), base evals, seen data + eval, REC runs (train + 3 evals:
    # 1 seed at 1 shot, 2 at 2), cv/geoloc data + engine, cv runs (2 seeds x 2 + GRPO-Zero), 6 models x 2 evals
    assert len(steps) == 6 + 3 + 2 + (1 + 2) * 3 * 4 + 4 + 5 + 12
    seen = metrics(out, "rec/base", "eval-seen", "rec")
    assert f"Acc@0.5 {100 * seen['acc_at_05']:.1f}" in text
    for marker in steps:
        assert json.loads(marker.read_text())["command"] in text
    capsys.readouterr()
    assert mini.main(["--quick", "--out", str(out)]) == 0
    assert "[run]" not in capsys.readouterr().out
    assert (out / "results.md").read_text() == text

    # An unfinished step (no marker) runs again, and only that one.
    (out / "steps" / "cv" / "geo-sft-grpo" / "eval.json").unlink()
    assert mini.main(["--quick", "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("[run]") == 1
    assert (out / "steps" / "cv" / "geo-sft-grpo" / "eval.json").is_file()

    with pytest.raises(SystemExit, match="other settings"):
        mini.main(["--quick", "--out", str(out), "--seed", "1"])

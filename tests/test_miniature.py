"""benchmarks/miniature.py --quick end to end: every number on the results page is the eval summary's."""

import importlib.util
import json
import sys
from pathlib import Path

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


def same(cell: str, fraction: float) -> bool:
    return float(cell) == pytest.approx(100 * fraction, abs=0.05)


@pytest.mark.slow
def test_quick_pipeline_writes_its_eval_summaries_and_resumes(tmp_path, capsys):
    docs = REPO / "docs" / "results.md"
    docs_before = docs.read_bytes() if docs.is_file() else None
    mini = _script()
    out = tmp_path / "mini"
    assert mini.main(["--quick", "--out", str(out)]) == 0
    assert (docs.read_bytes() if docs.is_file() else None) == docs_before  # --quick leaves docs/ alone
    text = (out / "results.md").read_text()

    rec = table(text, "| method | shots |")
    assert [(r["method"], r["shots"]) for r in rec] == [("base (zero-shot)", "0")] + [
        (m, str(k)) for m in ("SFT", "GRPO", "DAPO") for k in (1, 2)]
    for r in rec:
        for style in "AB":
            m = metrics(out, r["run"], f"eval-{style}", "rec")
            assert same(r[f"Acc@0.5 ({style})"], m["acc_at_05"]) and same(r[f"Acc@0.7 ({style})"], m["acc_at_07"])
        assert (r["train (s)"] == "–") == (r["run"] == "rec/base")

    cv = table(text, "| method | accuracy (%) | mean completion length (tokens) | train")
    assert [r["method"] for r in cv] == ["base", "Geo-SFT", "GRPO-Zero", "GRPO (after Geo-SFT)"]
    for r in cv:
        m = metrics(out, r["run"], "eval", "crossview")
        assert same(r["accuracy (%)"], m["accuracy"])
        assert float(r["mean completion length (tokens)"]) == pytest.approx(m["mean_tokens"], abs=0.05)

    # The targets follow from the summaries, not from text written by hand.
    acc = lambda run, style: metrics(out, f"rec/{run}-2shot", f"eval-{style}", "rec")["acc_at_05"]
    expected = [metrics(out, "rec/base", "eval-seen", "rec")["acc_at_05"] >= 0.40,
                acc("grpo", "A") >= acc("sft", "A") + 0.05,
                acc("grpo", "A") > acc("sft", "A") and acc("grpo", "B") > acc("sft", "B"),
                metrics(out, "cv/geo-sft-grpo", "eval", "crossview")["accuracy"] >= 0.6]
    assert [r["met"] for r in table(text, "| target |")] == ["yes" if e else "no" for e in expected]

    # Every step's command is on the page; a rerun runs nothing and writes the same page.
    steps = sorted((out / "steps").rglob("*.json"))
    # data, base evals, seen-category data + eval, REC runs + evals, cv data, runs, evals
    assert len(steps) == 4 + 2 + 2 + 2 * 3 * 3 + 3 + 3 + 4
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

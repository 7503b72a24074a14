"""geor1 demo --quick end to end: data, base eval, GRPO, eval again, report and the before/after table."""

import argparse
import json

import pytest

from geor1 import demo


@pytest.mark.slow
def test_quick_demo_writes_a_table_from_its_eval_summaries(tmp_path):
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    args = parser.parse_args(["--quick", "--out", str(tmp_path), "--steps", "2"])
    assert demo.run(args) == 0
    result = json.loads((tmp_path / "before_after.json").read_text())
    assert result["model"] == "tiny-geosynth" and result["config"]["steps"] == 2
    for key, ev in (("base", "eval_before"), ("grpo", "eval_after")):
        summary = json.loads((tmp_path / ev / "summary.json").read_text())["tasks"]["rec"]
        assert result[key]["acc_at_05"] == summary["metrics"]["acc_at_05"]
        # the recipe rewards the box alone (the tiny model answers without a rationale)
        assert result[key]["mean_reward"] == pytest.approx(summary["rewards"]["rec_iou"])
    table = (tmp_path / "before_after.md").read_text()
    assert f"{100 * result['base']['acc_at_05']:.1f}%" in table.splitlines()[2]
    assert (tmp_path / "report.html").is_file() and (tmp_path / "grpo" / "final" / "model.safetensors").is_file()

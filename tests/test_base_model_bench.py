"""benchmarks/base_model.py --quick: every set is made, evaluated and reported, and each target's
met / not met is computed from the numbers printed beside it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_base_model_benchmark_quick(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/base_model.py", "--quick", "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = (tmp_path / "base_model.md").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    r = summary["results"]
    assert summary["n"] == 8
    for name in ("rec_seen_A", "rec_seen_B", "rec_heldout_A"):
        assert 0 <= r[f"{name}.acc_at_05"] <= 1
        # the baselines are computed from the test set's own scene graphs: the random object of the
        # queried category is right whenever it is the referent, so it beats the constant box
        assert r[f"{name}.random_same_category.acc_at_05"] >= r[f"{name}.centre.acc_at_05"]
    sys.path.insert(0, str(REPO / "benchmarks"))
    from base_model import TARGETS

    for what, key, need in TARGETS:
        met = "yes" if r[key] >= need else "no"
        assert f"| {what} |" in report and report.split(f"| {what} |")[1].split("\n")[0].strip().endswith(f"| {met} |")
    # the test sets never use pretraining's cities or seeds
    from geor1.data import load_dataset
    from geor1.pretrain.corpus import pretraining_city

    assert not any(pretraining_city(s.meta["city"]) for s in load_dataset(tmp_path / "data" / "geoloc"))

"""Atomic writes and the append-only metrics log."""

import csv
import json
import os
from types import SimpleNamespace

import pytest

from geor1.io import atomic_open, atomic_write, atomic_write_json
from geor1.train.logs import CsvMetricsLogger


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "a" / "config.json"
    atomic_write_json(p, {"x": 1})
    atomic_write(p, '{"x": 2}\n')
    assert json.loads(p.read_text()) == {"x": 2}
    atomic_write(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(q.name for q in tmp_path.rglob("*") if q.is_file()) == ["b.bin", "config.json"]


def test_a_write_that_dies_midway_leaves_the_old_file(tmp_path):
    """What a kill between truncate and write did to evaluate()'s config.json: here the old file stays."""
    p = tmp_path / "config.json"
    atomic_write_json(p, {"old": True})
    with pytest.raises(RuntimeError):
        with atomic_open(p) as f:
            f.write('{"new": ')
            raise RuntimeError("killed")
    assert json.loads(p.read_text()) == {"old": True}
    assert [q.name for q in tmp_path.iterdir()] == ["config.json"]


def _state(step):
    return SimpleNamespace(is_world_process_zero=True, global_step=step)


def test_metrics_log_appends_widens_once_and_resumes(tmp_path):
    path = tmp_path / "metrics.csv"
    log = CsvMetricsLogger(path)
    log.on_log(None, _state(1), None, logs={"loss": 1.0})
    log.on_log(None, _state(2), None, logs={"loss": 0.5, "lr": 1e-3, "note": "text is dropped"})
    size = path.stat().st_size
    log.on_log(None, _state(3), None, logs={"loss": 0.25})
    assert path.stat().st_size > size  # appended, not rewritten
    again = CsvMetricsLogger(path)  # a resumed run reads the header and appends
    again.on_log(None, _state(4), None, logs={"lr": 5e-4})
    rows = list(csv.DictReader(open(path)))
    assert [r["step"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0] == {"step": "1", "loss": "1.0", "lr": ""} and rows[3] == {"step": "4", "loss": "", "lr": "0.0005"}


def test_metrics_log_is_linear(tmp_path):
    """1,000 logs touch the file once each (the old logger reread and rewrote all rows every time)."""
    path = tmp_path / "metrics.csv"
    log = CsvMetricsLogger(path)
    writes = []
    real_open = open

    def counting_open(file, mode="r", *a, **k):
        if str(file) == str(path) and "a" in mode:
            writes.append(1)
        return real_open(file, mode, *a, **k)

    import builtins

    builtins.open, saved = counting_open, builtins.open
    try:
        for i in range(1000):
            log.on_log(None, _state(i), None, logs={"loss": 1.0 / (i + 1)})
    finally:
        builtins.open = saved
    assert len(writes) == 999 and len(list(csv.DictReader(open(path)))) == 1000
    assert os.path.getsize(path) < 40_000


def test_training_bar_shows_a_few_numbers_and_prints_no_dicts(capsys):
    from transformers import TrainingArguments
    from transformers.trainer_callback import TrainerControl, TrainerState

    from geor1.train.logs import CompactProgress

    bar = CompactProgress()
    state = TrainerState(max_steps=4, is_world_process_zero=True)
    args = TrainingArguments(output_dir="/tmp/unused", report_to=[])
    bar.on_train_begin(args, state, TrainerControl())
    for step in (1, 2):
        state.global_step = step
        bar.on_step_end(args, state, TrainerControl())
    logs = {"reward": 0.5, "loss": 0.01, "kl": 0.002, "completions/mean_length": 31.0, "grad_norm": 1.0,
            **{f"rewards/r{i}/mean": 0.1 for i in range(25)}}
    bar.on_log(args, state, TrainerControl(), logs=logs)
    postfix = bar.training_bar.postfix
    bar.on_train_end(args, state, TrainerControl())
    assert "reward=0.5" in postfix and "len=31" in postfix and "kl=0.002" in postfix and "s/step=" in postfix
    assert "rewards/r3/mean" not in capsys.readouterr().out + capsys.readouterr().err

"""Nothing lost, nothing twice: a run killed with SIGKILL and started again with the same command
writes exactly the bytes an uninterrupted run writes; a torn last line is dropped on resume;
a resume with other settings is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_engine_http import FaultServer, good, make_crossview_dataset, seed_table

from geor1.cli import main as geor1_main
from geor1.coords import get_frame
from geor1.data.schema import Sample, write_dataset
from geor1.engine.run import (
    CHECKPOINT_FILE,
    FAILURES_FILE,
    MESSAGES_FILE,
    OUTPUT_FILES,
    SHAREGPT_FILE,
    EngineConfig,
    EngineError,
    run_engine,
)
from geor1.engine.teachers import OpenAICompatTeacher

ROOT = Path(__file__).resolve().parents[1]
N = 40
TRIES = 3


def deterministic_plan(truth):
    """Faults that depend only on (sample, try) — or recover on retry — so any run gets the same records."""
    def plan(sample, t, nth):
        i = int(sample[1:])
        if i % 5 == 1 and nth == 0:
            return ("status", 500)                                   # recovers on retry
        if i % 7 == 3 and t == 0:
            return ("ok", good("ABCD"["ABCD".index(truth[sample]) - 1]))  # wrong at try 0
        if i % 11 == 4:
            return ("ok", good("D" if truth[sample] != "D" else "A", why=f"try {t}"))  # always wrong
        return ("ok", good(truth[sample], why=f"sample {i} try {t}"))
    return plan


def engine_args(data, out, base_url, *extra):
    return ["engine", "--teacher", "openai", "--model", "teacher-x", "--base-url", base_url, "--data", str(data),
            "--out", str(out), "--tries", str(TRIES), "--concurrency", "2", "--timeout", "5", "--backoff", "0.01",
            "--seed", "7", "--no-progress", *extra]


def read_outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUT_FILES}


def test_kill_9_and_rerun_gives_the_uninterrupted_records(tmp_path):
    data = tmp_path / "data"
    samples = make_crossview_dataset(data, N)
    truth = {s.id: s.answer for s in samples}
    seeds = seed_table(samples, TRIES, seed=7)
    with FaultServer(deterministic_plan(truth), seeds, delay=0.04, lifetime=120) as server:
        # The reference: one uninterrupted run (in this process).
        assert geor1_main(engine_args(data, tmp_path / "a" / "out", server.base_url)) == 0
        reference = read_outputs(tmp_path / "a" / "out")

        # The same command as a subprocess, killed with SIGKILL once some samples are committed.
        out = tmp_path / "b" / "out"
        cmd = [sys.executable, "-m", "geor1.cli", *engine_args(data, out, server.base_url, "--commit-every", "2")]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        done_at_kill = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                done_at_kill = json.loads((out / CHECKPOINT_FILE).read_text())["next_index"]
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            if done_at_kill >= 8:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
        committed = json.loads((out / CHECKPOINT_FILE).read_text())["next_index"]
        assert 8 <= committed < N, "the kill must land mid-run"
        first_run = len(server.log)

        # Run the same command again (in this process, to save an interpreter start): it finishes the job.
        assert geor1_main(engine_args(data, out, server.base_url, "--commit-every", "2")) == 0
        second = server.log[first_run:]

    assert read_outputs(out) == reference
    assert reference[MESSAGES_FILE] and reference[FAILURES_FILE]
    # The rerun continued: it asked about every sample not committed before the kill, and no other.
    assert {r["sample"] for r in second} == {f"s{i}" for i in range(committed, N)}
    lines = reference[MESSAGES_FILE].decode().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == len(set(ids))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["total"]["samples"] == N
    # i % 11 == 4 is always wrong (s4, s15, s26, s37): rejected after 3 tries; the rest accepted.
    assert summary["total"]["rejected"] == 4 and summary["total"]["accepted"] == N - 4
    assert len(lines) == N - 4


def test_torn_write_after_the_last_checkpoint_is_dropped(tmp_path):
    data = tmp_path / "data"
    samples = make_crossview_dataset(data, 12)
    truth = {s.id: s.answer for s in samples}
    frame = get_frame("qwen2.5-vl")
    with FaultServer(deterministic_plan(truth), seed_table(samples, TRIES)) as server:
        def run(out, n):
            teacher = OpenAICompatTeacher(server.base_url, "m", backoff=0.01)
            return run_engine(teacher, data, out, frame,
                              EngineConfig(tries=TRIES, max_samples=n, progress=False, commit_every=3))

        run(tmp_path / "ref" / "out", None)
        out = tmp_path / "cut" / "out"
        run(out, 6)
        # A kill in the middle of a commit: lines appended, checkpoint not yet replaced.
        for name in (MESSAGES_FILE, SHAREGPT_FILE):
            with open(out / name, "ab") as f:
                f.write(b'{"id": "s6#0", "task": "crossview", "messa')
        summary = run(out, None)
    assert read_outputs(out) == read_outputs(tmp_path / "ref" / "out")
    assert summary["total"]["samples"] == 12 and summary["this_run"]["samples"] == 6


def test_resume_with_other_settings_or_damaged_files_is_refused(tmp_path):
    data = tmp_path / "data"
    samples = make_crossview_dataset(data, 3)
    frame = get_frame("qwen2.5-vl")
    with FaultServer(lambda s, t, n: ("ok", good("ABCD"[int(s[1:]) % 4])), seed_table(samples, 2)) as server:
        teacher = OpenAICompatTeacher(server.base_url, "m")
        out = tmp_path / "out"
        run_engine(teacher, data, out, frame, EngineConfig(tries=2, progress=False))
        with pytest.raises(EngineError, match="tries: 2"):
            run_engine(teacher, data, out, frame, EngineConfig(tries=3, progress=False))
        with pytest.raises(EngineError, match="thresholds"):
            run_engine(teacher, data, out, frame, EngineConfig(tries=2, thresholds={"crossview": 0.5}))
        # A finished run started again does nothing and asks nothing.
        n = len(server.log)
        assert run_engine(teacher, data, out, frame, EngineConfig(tries=2, progress=False))["this_run"]["samples"] == 0
        assert len(server.log) == n
        # Files shorter than what was committed: someone cut them; refuse rather than guess.
        (out / MESSAGES_FILE).write_bytes((out / MESSAGES_FILE).read_bytes()[:10])
        with pytest.raises(EngineError, match=r"sft_messages.jsonl has 10 bytes but \d+ were committed"):
            run_engine(teacher, data, out, frame, EngineConfig(tries=2, progress=False))
        # Output files without a checkpoint: not ours.
        stray = tmp_path / "stray"
        stray.mkdir()
        (stray / FAILURES_FILE).write_text("{}\n")
        with pytest.raises(EngineError, match="no checkpoint.json"):
            run_engine(teacher, data, stray, frame, EngineConfig(tries=2, progress=False))


def test_duplicates_are_dropped_also_across_a_resume(tmp_path):
    data = tmp_path / "data"
    samples = make_crossview_dataset(data, 3)
    # A second copy of s0 under another id (same images, same question): one SFT record, not two.
    copy = Sample(**{**samples[0].to_dict(), "id": "s0-copy"})
    write_dataset(data, [samples[0], samples[1], copy, samples[2]])
    frame = get_frame("qwen2.5-vl")
    seeds = seed_table([*samples, copy], 1)
    with FaultServer(lambda s, t, n: ("ok", good("ABCD"[int(s[1:]) % 4])), seeds) as server:
        teacher = OpenAICompatTeacher(server.base_url, "m")
        first = run_engine(teacher, data, tmp_path / "out", frame, EngineConfig(tries=1, max_samples=2, progress=False))
        assert first["total"]["duplicates"] == 0
        summary = run_engine(teacher, data, tmp_path / "out", frame, EngineConfig(tries=1, progress=False))
    ids = [json.loads(line)["id"] for line in (tmp_path / "out" / MESSAGES_FILE).read_text().splitlines()]
    assert ids == ["s0#0", "s1#0", "s2#0"]
    assert (summary["total"]["accepted"], summary["total"]["duplicates"]) == (3, 1)

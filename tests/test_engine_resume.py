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


class OutageTeacher:
    """Answers every sample right, except while ``down`` (the server is out): then every call errors."""

    name, batch_size, frame = "outage", 2, None

    def __init__(self):
        self.down, self.calls = set(), []

    def generate(self, requests):
        from geor1.engine.teachers import Reply

        out = []
        for r in requests:
            self.calls.append(r.sample.id)
            i = int(r.sample.id[1:])
            out.append(Reply(error="503 Service Unavailable") if r.sample.id in self.down
                       else Reply(text=good("ABCD"[i % 4])))
        return out


def test_samples_that_failed_in_an_outage_are_asked_again_on_a_rerun(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    make_crossview_dataset(data, 6)
    frame = get_frame("qwen2.5-vl")
    teacher = OutageTeacher()
    teacher.down = {"s1", "s4"}
    first = run_engine(teacher, data, out, frame, EngineConfig(tries=2, progress=False, concurrency=1))
    assert (first["total"]["accepted"], first["total"]["failed"]) == (4, 2)
    teacher.down, teacher.calls = set(), []
    again = run_engine(teacher, data, out, frame, EngineConfig(tries=2, progress=False, concurrency=1))
    assert sorted(teacher.calls) == ["s1", "s4"]  # only the failed ones, once each (answered at once)
    assert again["this_run"]["retried_failed"] == 2 and again["this_run"]["retried_accepted"] == 2
    assert (again["total"]["samples"], again["total"]["accepted"], again["total"]["failed"]) == (6, 6, 0)
    ids = sorted(json.loads(line)["sample_id"] for line in (out / MESSAGES_FILE).read_text().splitlines())
    assert ids == ["s0", "s1", "s2", "s3", "s4", "s5"]
    assert (out / FAILURES_FILE).read_text() == ""
    # a third run has nothing to retry and changes nothing
    before = read_outputs(out)
    third = run_engine(teacher, data, out, frame, EngineConfig(tries=2, progress=False, concurrency=1))
    assert third["this_run"]["retried_failed"] == 0 and read_outputs(out) == before


def _after_an_outage(tmp_path, n: int, down: set[str]):
    """A finished one-try run over ``n`` samples during which ``down`` got no answer; the server is
    back up. Returns (data, out, frame, teacher)."""
    data, out = tmp_path / "data", tmp_path / "out"
    make_crossview_dataset(data, n)
    frame = get_frame("qwen2.5-vl")
    teacher = OutageTeacher()
    teacher.down = set(down)
    run_engine(teacher, data, out, frame, EngineConfig(tries=1, progress=False, concurrency=1))
    teacher.down, teacher.calls = set(), []
    return data, out, frame, teacher


def test_no_retry_flag_and_rejected_answers_stay(tmp_path):
    data, out, frame, teacher = _after_an_outage(tmp_path, 3, {"s0"})
    summary = run_engine(teacher, data, out, frame, EngineConfig(tries=1, progress=False, retry_failed=False))
    assert teacher.calls == [] and summary["total"]["failed"] == 1


@pytest.mark.parametrize("kill_at", ["before the checkpoint", "after the checkpoint"])
def test_a_kill_during_the_retry_commit_loses_and_doubles_nothing(tmp_path, monkeypatch, kill_at):
    import geor1.engine.run as engine_run

    data, out, frame, teacher = _after_an_outage(tmp_path, 4, {"s2"})
    real_replace, real_write = os.replace, engine_run.write_json_atomic

    def dying_replace(src, dst):
        if str(src).endswith(".retry"):
            raise KeyboardInterrupt("killed")  # after the checkpoint recorded the swap
        return real_replace(src, dst)

    def dying_write(path, obj):
        if obj.get("swap"):
            raise KeyboardInterrupt("killed")  # before the checkpoint recorded it
        return real_write(path, obj)

    if kill_at == "after the checkpoint":
        monkeypatch.setattr(engine_run.os, "replace", dying_replace)
    else:
        monkeypatch.setattr(engine_run, "write_json_atomic", dying_write)
    with pytest.raises(KeyboardInterrupt):
        run_engine(teacher, data, out, frame, EngineConfig(tries=1, progress=False, concurrency=1))
    monkeypatch.undo()
    summary = run_engine(teacher, data, out, frame, EngineConfig(tries=1, progress=False, concurrency=1))
    assert (summary["total"]["samples"], summary["total"]["accepted"], summary["total"]["failed"]) == (4, 4, 0)
    ids = [json.loads(line)["sample_id"] for line in (out / MESSAGES_FILE).read_text().splitlines()]
    assert sorted(ids) == ["s0", "s1", "s2", "s3"]  # s2 once
    assert (out / FAILURES_FILE).read_text() == "" and not (out / "failures.jsonl.retry").exists()

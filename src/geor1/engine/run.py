"""The engine loop: ask a teacher, keep what the task's verifier accepts, write SFT data that
survives being killed.

For each sample (in dataset order) the teacher is asked up to ``tries`` times; the first reply
whose answer passes the task's verifiable reward (:class:`Verifier`) becomes one SFT record,
unless an identical record (same images, prompt and reply) was written before. Samples without
an accepted reply go to ``failures.jsonl`` with each try's reason.

Output folder (image paths in records are relative to it):

=====================  =======================================================================
sft_messages.jsonl     TRL's conversational format: ``{"id", "task", "sample_id", "try",
                       "reward", "teacher", "images", "messages"}``
sft_sharegpt.jsonl     LLaMA-Factory's ShareGPT format: ``{"id", "conversations", "images"}``
dataset_info.json      the LLaMA-Factory entry naming ``sft_sharegpt.jsonl``
failures.jsonl         ``{"id", "task", "status": "rejected" | "failed", "reason", "tries"}``
checkpoint.json        settings, dataset position, committed size of each file, counters
summary.json           acceptance rate per task, mean rationale length, throughput
=====================  =======================================================================

Nothing lost, nothing twice: finished samples are committed in dataset order by appending their
lines to the three JSONL files (fsync'd) and then atomically replacing ``checkpoint.json``, which
records how many samples are done and each file's size. A run that finds a checkpoint truncates
each file back to its committed size (dropping whatever a killed run wrote after its last
commit) and continues from the committed position. The teacher's replies are the only source of
difference between runs: with a deterministic teacher (the programmatic one, greedy decoding, a
server honouring ``seed``) a resumed run writes exactly the bytes an uninterrupted one does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from geor1.coords import Frame, frame_to_dict
from geor1.data.schema import Dataset, Sample, load_dataset
from geor1.engine.teachers import Reply, Request, Teacher
from geor1.io import atomic_write, atomic_write_json, replace
from geor1.tasks import get_task, task_names
from geor1.tasks.common import has_format, think_text

log = logging.getLogger("geor1.engine")


MESSAGES_FILE = "sft_messages.jsonl"
SHAREGPT_FILE = "sft_sharegpt.jsonl"
FAILURES_FILE = "failures.jsonl"
OUTPUT_FILES = (MESSAGES_FILE, SHAREGPT_FILE, FAILURES_FILE)
CHECKPOINT_FILE = "checkpoint.json"
RETRY_FILE = FAILURES_FILE + ".retry"  # a retry pass's new failures file, moved in place once committed
SUMMARY_FILE = "summary.json"
DATASET_INFO_FILE = "dataset_info.json"
CHECKPOINT_VERSION = 1


class EngineError(RuntimeError):
    """The output folder cannot be continued (other settings, another dataset, damaged files)."""


# ---------------------------------------------------------------------------------------------
# Verification


@dataclass(frozen=True)
class Verdict:
    """``accepted`` when the reply is in the think/answer format and ``reward`` >= the threshold;
    ``reason`` says why not."""

    accepted: bool
    reward: float
    reason: str = ""


def default_thresholds() -> dict[str, float]:
    """Each task's acceptance threshold on its main reward (the task module's ``ENGINE_THRESHOLD``)."""
    return {name: get_task(name).ENGINE_THRESHOLD for name in task_names()}


class Verifier:
    """Scores a teacher reply with the task module's ``score(sample, completion, frame)`` and
    accepts it when the reply has a non-empty ``<think>`` block, is exactly
    ``<think>…</think><answer>…</answer>``, and the task's main reward is at least the task's
    threshold (``thresholds`` overrides :func:`default_thresholds`)."""

    def __init__(self, thresholds: dict[str, float] | None = None):
        self.thresholds = {**default_thresholds(), **(thresholds or {})}

    def __call__(self, sample: Sample, text: str, frame: Frame) -> Verdict:
        if not has_format(text):
            return Verdict(False, 0.0, "not <think>…</think> <answer>…</answer>")
        if not think_text(text):
            return Verdict(False, 0.0, "empty <think> block")
        task = get_task(sample.task)
        name = task.MAIN_REWARD
        record = task.score(sample, text, frame)
        reward = record["rewards"].get(name)
        if reward is None:
            return Verdict(False, 0.0, f"{name}: no value ({record.get('reason') or 'not scored'})")
        reward = float(reward)
        threshold = self.thresholds[sample.task]
        if reward < threshold:
            why = record.get("reason")
            return Verdict(False, reward, f"{name} {reward:.3f} < {threshold:g}" + (f" ({why})" if why else ""))
        return Verdict(True, reward)


# ---------------------------------------------------------------------------------------------
# Records


def request_seed(seed: int, sample_id: str, try_index: int) -> int:
    """The seed sent with try ``try_index`` of a sample: stable across runs, distinct per try (31 bits)."""
    digest = hashlib.sha256(f"{seed}\x00{sample_id}\x00{try_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def record_id(sample_id: str, try_index: int) -> str:
    return f"{sample_id}#{try_index}"


def _prompt_parts(messages: list[dict], images_rel: list[str]) -> list[dict]:
    """The user content of ``messages`` with each image placeholder naming its image path."""
    images = iter(images_rel)
    parts = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            parts.append({"type": "text", "text": content})
            continue
        for part in content:
            if part.get("type") == "image":
                parts.append({"type": "image", "image": next(images)})
            else:
                parts.append({"type": "text", "text": part["text"]})
    return parts


def sft_records(request: Request, text: str, reward: float, teacher: str, out_dir: Path) -> tuple[dict, dict]:
    """The TRL messages record and the LLaMA-Factory ShareGPT record of an accepted reply.
    Image paths are relative to ``out_dir`` (LLaMA-Factory resolves them against the folder
    holding ``dataset_info.json``, which is ``out_dir``)."""
    out_real = os.path.realpath(out_dir)
    images_rel = [os.path.relpath(os.path.realpath(p), out_real) for p in request.images]
    parts = _prompt_parts(request.messages, images_rel)
    rid = record_id(request.sample.id, request.try_index)
    messages = [{"role": "user", "content": parts},
                {"role": "assistant", "content": [{"type": "text", "text": text}]}]
    trl = {"id": rid, "task": request.sample.task, "sample_id": request.sample.id, "try": request.try_index,
           "reward": round(reward, 6), "teacher": teacher, "images": images_rel, "messages": messages}
    human = "".join("<image>" if p["type"] == "image" else p["text"] for p in parts)
    sharegpt = {"id": rid, "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": text}],
                "images": images_rel}
    return trl, sharegpt


def dedup_key(trl_record: dict) -> str:
    """What makes two SFT records the same: their images, prompt and reply (not ids or rewards)."""
    body = json.dumps([trl_record["images"], trl_record["messages"]], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def dataset_info(out_dir: Path) -> dict:
    """The LLaMA-Factory ``dataset_info.json`` entry for ``sft_sharegpt.jsonl``."""
    name = "geor1_" + re.sub(r"[^A-Za-z0-9_]+", "_", Path(os.path.realpath(out_dir)).name).strip("_")
    return {name: {"file_name": SHAREGPT_FILE, "formatting": "sharegpt",
                   "columns": {"messages": "conversations", "images": "images"},
                   "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                            "assistant_tag": "gpt"}}}


# ---------------------------------------------------------------------------------------------
# Files


def write_json_atomic(path: Path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` so that a reader (or a crash) sees the old or the new file, never half."""
    atomic_write_json(path, obj, indent=1)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# The engine


@dataclass
class EngineConfig:
    """Knobs of a run. ``tries``, ``thresholds`` and ``seed`` change what is written, so a resumed
    run must use the same values; the others only change how fast it goes."""

    tries: int = 4                                   # teacher calls per sample at most
    thresholds: dict[str, float] = field(default_factory=dict)  # overrides of default_thresholds()
    seed: int = 0                                    # base of every request's seed
    concurrency: int = 8                             # teacher calls in flight at once
    max_samples: int | None = None                   # only the first N samples of the dataset
    commit_every: int = 32                           # samples per commit (also after commit_seconds)
    commit_seconds: float = 2.0
    progress: bool = True                            # a tqdm bar on stderr
    retry_failed: bool = True                        # ask again for samples that got no answer last time


@dataclass
class _Job:
    """One sample on its way: its prompt, its tries so far, and how it ended."""

    index: int
    sample: Sample
    messages: list[dict]
    images: tuple[Path, ...]
    attempts: list[dict] = field(default_factory=list)
    accepted: tuple[Request, str, float] | None = None
    tokens: int = 0
    done: bool = False


def _new_counts() -> dict:
    return {"samples": 0, "accepted": 0, "rejected": 0, "failed": 0, "duplicates": 0, "tries": 0,
            "rationale_chars": 0, "rationale_words": 0, "completion_tokens": 0}


class Engine:
    """Run ``teacher`` over the dataset at ``data_dir`` into ``out_dir`` (resuming what is there).

    ``frame`` is the coordinate frame of prompts and answers (the teacher's own when it has one).
    """

    def __init__(self, teacher: Teacher, data_dir: str | os.PathLike, out_dir: str | os.PathLike, frame: Frame,
                 config: EngineConfig | None = None):
        self.teacher, self.frame = teacher, frame
        self.config = config or EngineConfig()
        if self.config.tries < 1:
            raise ValueError(f"tries must be at least 1, got {self.config.tries}")
        unknown = set(self.config.thresholds) - set(task_names())
        if unknown:
            raise ValueError(f"threshold for unknown task(s) {sorted(unknown)} (known: {', '.join(task_names())})")
        self.verifier = Verifier(self.config.thresholds)
        self.data_dir, self.out_dir = Path(data_dir), Path(out_dir)
        self.dataset: Dataset = load_dataset(self.data_dir)
        self.settings = {
            "teacher": teacher.name, "data": os.path.realpath(self.data_dir),
            "data_sha256": file_sha256(self.data_dir / "data.jsonl"), "frame": frame_to_dict(frame),
            "tries": self.config.tries, "thresholds": self.verifier.thresholds, "seed": self.config.seed,
        }

    # -- checkpoint -------------------------------------------------------------------------

    def _open(self) -> dict:
        """Load or start the checkpoint, and put the output files back to their committed sizes."""
        out = self.out_dir
        ckpt_path = out / CHECKPOINT_FILE
        if not ckpt_path.is_file():
            stray = [n for n in OUTPUT_FILES if (out / n).exists()]
            if stray:
                raise EngineError(f"{out} holds {', '.join(stray)} but no {CHECKPOINT_FILE}: not an engine "
                                  f"output folder (or one damaged by hand); use an empty --out")
            out.mkdir(parents=True, exist_ok=True)
            ckpt = {"version": CHECKPOINT_VERSION, "settings": self.settings, "next_index": 0,
                    "files": {n: 0 for n in OUTPUT_FILES}, "counts": {}}
            write_json_atomic(ckpt_path, ckpt)
            return ckpt
        try:
            ckpt = json.loads(ckpt_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise EngineError(f"{ckpt_path}: not valid JSON ({e.msg} at line {e.lineno})") from None
        if ckpt.get("version") != CHECKPOINT_VERSION:
            raise EngineError(f"{ckpt_path}: checkpoint version {ckpt.get('version')!r}, expected {CHECKPOINT_VERSION}")
        swap = out / RETRY_FILE
        if ckpt.get("swap"):  # killed between committing a retry pass and moving its failures file in place
            if swap.exists():
                replace(swap, out / FAILURES_FILE)
            ckpt.pop("swap")
            write_json_atomic(ckpt_path, ckpt)
        elif swap.exists():  # killed before that commit: the retry pass never happened
            swap.unlink()
        changed = [k for k in self.settings if ckpt["settings"].get(k) != self.settings[k]]
        if changed:
            k = changed[0]
            raise EngineError(f"{out} was made with other settings ({k}: {ckpt['settings'].get(k)!r}, now "
                              f"{self.settings[k]!r}); rerun with the same ones or use a new --out")
        for name in OUTPUT_FILES:
            path, committed = out / name, ckpt["files"][name]
            size = path.stat().st_size if path.exists() else 0
            if size < committed:
                raise EngineError(f"{path} has {size} bytes but {committed} were committed: it was cut or edited")
            if size > committed:
                log.info("%s: dropping %d bytes written after the last checkpoint", path, size - committed)
                with open(path, "r+b") as f:
                    f.truncate(committed)
                    os.fsync(f.fileno())
        return ckpt

    def _load_dedup_keys(self) -> set[str]:
        path = self.out_dir / MESSAGES_FILE
        keys = set()
        if path.exists():
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    try:
                        keys.add(dedup_key(json.loads(line)))
                    except (json.JSONDecodeError, KeyError) as e:
                        raise EngineError(f"{path}:{lineno}: not an engine record ({e})") from None
        return keys

    # -- one sample ---------------------------------------------------------------------------

    def _job(self, index: int) -> _Job:
        sample = self.dataset[index]
        messages = get_task(sample.task).build_messages(sample, self.frame)
        n_images = sum(1 for m in messages if not isinstance(m["content"], str)
                       for p in m["content"] if p.get("type") == "image")
        images = tuple(self.dataset.image_path(sample, i) for i in range(n_images))
        return _Job(index, sample, messages, images)

    def _request(self, job: _Job, try_index: int) -> Request:
        return Request(key=record_id(job.sample.id, try_index), sample=job.sample, try_index=try_index,
                       messages=job.messages, images=job.images, frame=self.frame,
                       seed=request_seed(self.config.seed, job.sample.id, try_index))

    def _judge(self, job: _Job, request: Request, reply: Reply) -> None:
        """Record one try's outcome; the job is done when accepted or out of tries."""
        job.tokens += reply.completion_tokens or 0
        if not reply.ok:
            job.attempts.append({"try": request.try_index, "status": "error", "reason": reply.error})
        else:
            text = reply.text.strip()
            verdict = self.verifier(job.sample, text, self.frame)
            if verdict.accepted:
                job.accepted = (request, text, verdict.reward)
            else:
                job.attempts.append({"try": request.try_index, "status": "rejected",
                                     "reward": round(verdict.reward, 6), "reason": verdict.reason})
        job.done = job.accepted is not None or request.try_index + 1 >= self.config.tries

    @staticmethod
    def _status(job: _Job) -> str:
        """``accepted``; ``rejected`` when the last try's answer was turned down; ``failed`` when
        the last try got no answer at all (its reason is the sample's reason)."""
        if job.accepted is not None:
            return "accepted"
        return "failed" if job.attempts[-1]["status"] == "error" else "rejected"

    # -- commit -------------------------------------------------------------------------------

    def _commit(self, ckpt: dict, jobs: list[_Job], next_index: int, keys: set[str]) -> None:
        self._append(ckpt, self._outcome_lines(ckpt, jobs, keys))
        ckpt["next_index"] = next_index
        write_json_atomic(self.out_dir / CHECKPOINT_FILE, ckpt)

    def _outcome_lines(self, ckpt: dict, jobs: list[_Job], keys: set[str]) -> dict[str, list[str]]:
        """Count each finished job in ``ckpt`` and return the lines it adds to each output file."""
        lines = {name: [] for name in OUTPUT_FILES}
        counts = ckpt["counts"]
        for job in jobs:
            c = counts.setdefault(job.sample.task, _new_counts())
            c["samples"] += 1
            c["tries"] += len(job.attempts) + (job.accepted is not None)
            c["completion_tokens"] += job.tokens
            status = self._status(job)
            if status == "accepted":
                request, text, reward = job.accepted
                trl, sharegpt = sft_records(request, text, reward, self.teacher.name, self.out_dir)
                key = dedup_key(trl)
                if key in keys:
                    c["duplicates"] += 1
                    continue
                keys.add(key)
                c["accepted"] += 1
                rationale = think_text(text)
                c["rationale_chars"] += len(rationale)
                c["rationale_words"] += len(rationale.split())
                lines[MESSAGES_FILE].append(json.dumps(trl, ensure_ascii=False))
                lines[SHAREGPT_FILE].append(json.dumps(sharegpt, ensure_ascii=False))
            else:
                c[status] += 1
                reason = job.attempts[-1]["reason"]
                lines[FAILURES_FILE].append(json.dumps(
                    {"id": job.sample.id, "task": job.sample.task, "status": status, "reason": reason,
                     "tries": job.attempts}, ensure_ascii=False))
        return lines

    def _append(self, ckpt: dict, lines: dict[str, list[str]]) -> None:
        """Append (and fsync) lines to the output files, recording their new sizes in ``ckpt``."""
        for name, rows in lines.items():
            if rows:
                data = ("\n".join(rows) + "\n").encode("utf-8")
                with open(self.out_dir / name, "ab") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                ckpt["files"][name] += len(data)

    # -- asking the teacher ---------------------------------------------------------------------

    def _submit(self, pool, pending: deque, inflight: dict) -> None:
        while pending and len(inflight) < self.config.concurrency:
            taken = [pending.popleft() for _ in range(min(max(1, self.teacher.batch_size), len(pending)))]
            requests = [self._request(job, t) for job, t in taken]
            inflight[pool.submit(self.teacher.generate, requests)] = (taken, requests)

    def _harvest(self, finished, inflight: dict, pending: deque) -> list[_Job]:
        """Judge the replies of finished calls; unfinished jobs go back (first) for their next try.
        Returns the jobs that are done."""
        done = []
        for future in finished:
            taken, requests = inflight.pop(future)
            replies = future.result()
            if len(replies) != len(requests):
                raise RuntimeError(f"teacher {self.teacher.name} gave {len(replies)} replies "
                                   f"for {len(requests)} requests")
            for (job, t), request, reply in zip(taken, requests, replies):
                self._judge(job, request, reply)
                if job.done:
                    done.append(job)
                else:
                    pending.appendleft((job, t + 1))  # retries first: they hold up the commit
        return done

    # -- failed samples, asked again ------------------------------------------------------------

    def _retry_failed(self, ckpt: dict, keys: set[str]) -> tuple[int, int]:
        """Ask again for committed samples that got no answer (``failed``: the teacher errored, e.g.
        a server outage; ``rejected`` answers are not retried). Committed without a window for loss:
        new records are appended, the new failures file is written beside the old one, the
        checkpoint records the swap, then the file is moved in place (``_open`` finishes a swap a
        kill interrupted). Returns (retried, accepted)."""
        path = self.out_dir / FAILURES_FILE
        lines = path.read_bytes().decode("utf-8").splitlines() if path.exists() else []
        records = [json.loads(line) for line in lines]
        index = {s.id: i for i, s in enumerate(self.dataset)}
        retry = {r["id"]: r for r in records if r.get("status") == "failed" and r["id"] in index
                 and index[r["id"]] < ckpt["next_index"]}
        if not retry:
            return 0, 0
        log.info("asking again for %d samples that got no answer last time", len(retry))
        jobs = [self._job(index[i]) for i in retry]
        pending, inflight, finished_jobs = deque((job, 0) for job in jobs), {}, []
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="teacher") as pool:
            while pending or inflight:
                self._submit(pool, pending, inflight)
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                finished_jobs += self._harvest(finished, inflight, pending)
        for r in retry.values():  # the old outcome leaves the counts; _outcome_lines adds the new one
            c = ckpt["counts"][r["task"]]
            c["samples"] -= 1
            c["failed"] -= 1
            c["tries"] -= len(r.get("tries", []))
        new = self._outcome_lines(ckpt, sorted(finished_jobs, key=lambda j: j.index), keys)
        kept = [line for line, r in zip(lines, records) if r["id"] not in retry]
        failures = "".join(line + "\n" for line in kept + new.pop(FAILURES_FILE))
        self._append(ckpt, new)
        atomic_write(self.out_dir / RETRY_FILE, failures)
        ckpt["files"][FAILURES_FILE] = len(failures.encode("utf-8"))
        ckpt["swap"] = RETRY_FILE
        ckpt["retried"] = ckpt.get("retried", 0) + len(retry)
        write_json_atomic(self.out_dir / CHECKPOINT_FILE, ckpt)
        replace(self.out_dir / RETRY_FILE, path)
        ckpt.pop("swap")
        write_json_atomic(self.out_dir / CHECKPOINT_FILE, ckpt)
        return len(retry), sum(j.accepted is not None for j in finished_jobs)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> dict:
        """Process every remaining sample; return (and write) the summary."""
        cfg = self.config
        ckpt = self._open()
        write_json_atomic(self.out_dir / DATASET_INFO_FILE, dataset_info(self.out_dir))
        keys = self._load_dedup_keys()
        self.retried = self._retry_failed(ckpt, keys) if cfg.retry_failed else (0, 0)
        end = len(self.dataset) if cfg.max_samples is None else min(cfg.max_samples, len(self.dataset))
        start = ckpt["next_index"]
        started = time.monotonic()
        done_now = Counter()  # outcomes of this invocation, for the bar
        committed = Counter()
        for c in ckpt["counts"].values():
            committed.update({k: c[k] for k in ("accepted", "rejected", "failed", "duplicates")})
        bar = None
        if cfg.progress and start < end:
            from tqdm.auto import tqdm

            bar = tqdm(total=end, initial=min(start, end), unit="sample", desc="engine", dynamic_ncols=True)
        batch = max(1, self.teacher.batch_size)
        window = max(4 * cfg.concurrency * batch, cfg.commit_every)  # samples started but not yet committed
        jobs: dict[int, _Job] = {}
        pending: deque[tuple[_Job, int]] = deque()
        inflight: dict = {}
        ready: list[_Job] = []
        next_start = next_commit = start
        last_commit = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="teacher")
        try:
            while next_commit < end:
                while next_start < end and next_start - next_commit < window:
                    jobs[next_start] = self._job(next_start)
                    pending.append((jobs[next_start], 0))
                    next_start += 1
                self._submit(pool, pending, inflight)
                finished, _ = wait(inflight, timeout=cfg.commit_seconds, return_when=FIRST_COMPLETED)
                for job in self._harvest(finished, inflight, pending):
                    done_now[self._status(job)] += 1
                    if bar is not None:
                        bar.update(1)
                        live = committed + done_now
                        bar.set_postfix(accepted=live["accepted"], rejected=live["rejected"],
                                        failed=live["failed"], refresh=False)
                while next_commit in jobs and jobs[next_commit].done:
                    ready.append(jobs.pop(next_commit))
                    next_commit += 1
                if ready and (len(ready) >= cfg.commit_every or next_commit == end
                              or time.monotonic() - last_commit >= cfg.commit_seconds):
                    self._commit(ckpt, ready, next_commit, keys)
                    ready, last_commit = [], time.monotonic()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            if bar is not None:
                bar.close()
            raise
        pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
        summary = self.summary(ckpt, end, time.monotonic() - started, sum(done_now.values()))
        write_json_atomic(self.out_dir / SUMMARY_FILE, summary)
        return summary

    def summary(self, ckpt: dict, end: int, elapsed: float, processed_now: int) -> dict:
        """Per-task and total counts, acceptance rate (accepted / samples), mean rationale length
        (characters and words of the ``<think>`` text of written records), and this run's throughput."""
        def describe(c: dict) -> dict:
            return {**{k: c[k] for k in ("samples", "accepted", "rejected", "failed", "duplicates", "tries")},
                    "acceptance_rate": round(c["accepted"] / c["samples"], 4) if c["samples"] else 0.0,
                    "mean_rationale_chars": round(c["rationale_chars"] / c["accepted"], 1) if c["accepted"] else 0.0,
                    "mean_rationale_words": round(c["rationale_words"] / c["accepted"], 1) if c["accepted"] else 0.0,
                    "mean_completion_tokens": round(c["completion_tokens"] / c["tries"], 1) if c["tries"] else 0.0}

        total = _new_counts()
        for c in ckpt["counts"].values():
            for k in total:
                total[k] += c[k]
        return {"teacher": self.teacher.name, "data": self.settings["data"], "out": str(self.out_dir),
                "frame": self.frame.name, "complete": ckpt["next_index"] >= len(self.dataset),
                "done": ckpt["next_index"], "of": len(self.dataset), "stopped_at": end,
                "tasks": {t: describe(c) for t, c in sorted(ckpt["counts"].items())}, "total": describe(total),
                "this_run": {"samples": processed_now, "seconds": round(elapsed, 3),
                             "retried_failed": getattr(self, "retried", (0, 0))[0],
                             "retried_accepted": getattr(self, "retried", (0, 0))[1],
                             "samples_per_s": round(processed_now / elapsed, 3) if elapsed > 0 else 0.0}}


def format_summary(summary: dict) -> str:
    """The summary as a small text table."""
    head = f"{'task':<10} {'samples':>7} {'accepted':>8} {'rejected':>8} {'failed':>6} {'dup':>4} {'rate':>6} " \
           f"{'words':>6}"
    rows = [head]
    for name, c in [*summary["tasks"].items(), ("total", summary["total"])]:
        rows.append(f"{name:<10} {c['samples']:>7} {c['accepted']:>8} {c['rejected']:>8} {c['failed']:>6} "
                    f"{c['duplicates']:>4} {c['acceptance_rate']:>6.1%} {c['mean_rationale_words']:>6.1f}")
    run = summary["this_run"]
    rows.append(f"{summary['done']}/{summary['of']} samples done; this run {run['samples']} in "
                f"{run['seconds']:.1f} s ({run['samples_per_s']:.2f}/s)")
    if run.get("retried_failed"):
        rows.append(f"asked again for {run['retried_failed']} samples that got no answer before: "
                    f"{run['retried_accepted']} accepted")
    return "\n".join(rows)


def run_engine(teacher: Teacher, data_dir: str | os.PathLike, out_dir: str | os.PathLike, frame: Frame,
               config: EngineConfig | None = None) -> dict:
    """Run (or resume) the engine; returns the summary also written to ``out_dir/summary.json``."""
    return Engine(teacher, data_dir, out_dir, frame, config).run()

"""The OpenAI-compatible teacher and the engine against a real HTTP server on 127.0.0.1 that
injects faults: HTTP 500 and 429, replies slower than the client's timeout, malformed JSON,
4xx errors, wrong answers and replies outside the think/answer format.

:class:`FaultServer` speaks the chat-completions protocol (``POST /v1/chat/completions``) and is
bounded: it answers at most ``max_requests`` requests (then 503) and shuts itself down after
``lifetime`` seconds. Which fault a request gets is decided by the test's ``plan(sample, try,
nth)`` — the sample read from the prompt, the try from the request's seed, ``nth`` the number of
earlier requests with the same prompt and seed (so "fail once, then answer" is a plan).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from geor1.coords import get_frame
from geor1.data.schema import Sample, write_dataset
from geor1.engine.run import (
    FAILURES_FILE,
    MESSAGES_FILE,
    SHAREGPT_FILE,
    EngineConfig,
    request_seed,
    run_engine,
)
from geor1.engine.teachers import OpenAICompatTeacher, backoff_delay, parse_chat_completion

SAMPLE_RE = re.compile(r"\[(s\d+)\]")


def good(letter: str, why: str = "the road layout and the shadows agree") -> str:
    return f"<think>Compare each candidate with the ground photo: {why}.</think>\n<answer>{letter}</answer>"


class FaultServer:
    """A chat-completions server on 127.0.0.1 that follows ``plan(sample_id, try_index, nth)``.

    The plan returns one of ``("ok", text)``, ``("status", code)`` (with an OpenAI-style error
    body; 429 carries ``Retry-After: retry_after``), ``("slow", seconds, text)``, ``("malformed",
    raw_bytes)``. Every request is logged as a dict (sample, try, nth, action, time, images, auth).
    """

    def __init__(self, plan, seeds: dict[int, int], *, delay: float = 0.0, max_requests: int = 2000,
                 lifetime: float = 60.0, retry_after: str = "0"):
        self.plan, self.seeds, self.delay = plan, seeds, delay
        self.max_requests, self.retry_after = max_requests, retry_after
        self.log: list[dict] = []
        self.errors: list[str] = []  # protocol violations seen by the server
        self._seen: dict[tuple, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                try:
                    server._handle(self)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime, self.close)  # stops by itself, whatever the test does
        self._timer.daemon = True

    def __enter__(self):
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def requests_for(self, sample_id: str) -> list[dict]:
        return [r for r in self.log if r["sample"] == sample_id]

    def _handle(self, h: BaseHTTPRequestHandler):
        body = json.loads(h.rfile.read(int(h.headers["Content-Length"])))
        if h.path != "/v1/chat/completions":
            self.errors.append(f"path {h.path}")
        user = [m for m in body["messages"] if m["role"] == "user"][-1]
        text = "".join(p["text"] for p in user["content"] if p["type"] == "text")
        images = []
        for p in user["content"]:
            if p["type"] == "image_url":
                head, _, data = p["image_url"]["url"].partition(",")
                if not head.startswith("data:image/") or not head.endswith(";base64"):
                    self.errors.append(f"not a base64 data URL: {head}")
                images.append(Image.open(io.BytesIO(base64.b64decode(data))).size)
        sample = SAMPLE_RE.search(text).group(1)
        try_index = self.seeds[body["seed"]]
        with self._lock:
            key = (sample, try_index)
            nth = self._seen.get(key, 0)
            self._seen[key] = nth + 1
            over = len(self.log) >= self.max_requests
            action = ("status", 503) if over else self.plan(sample, try_index, nth)
            self.log.append({"sample": sample, "try": try_index, "nth": nth, "action": action[0],
                             "code": action[1] if action[0] == "status" else 200, "time": time.monotonic(),
                             "images": images, "auth": h.headers.get("Authorization"), "model": body["model"]})
        if self.delay:
            time.sleep(self.delay)
        kind = action[0]
        if kind == "status":
            payload = json.dumps({"error": {"message": f"injected {action[1]}", "type": "test"}}).encode()
            h.send_response(action[1])
            if action[1] == 429:
                h.send_header("Retry-After", self.retry_after)
        elif kind == "malformed":
            payload = action[1]
            h.send_response(200)
        else:
            if kind == "slow":
                time.sleep(action[1])
            content = action[-1]
            payload = json.dumps({"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": content}}],
                                  "usage": {"prompt_tokens": 10, "completion_tokens": len(content.split()),
                                            "total_tokens": 10 + len(content.split())}}).encode()
            h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)


def make_crossview_dataset(root, n: int, *, size=(12, 10)) -> list[Sample]:
    """``n`` crossview samples with 4 tiny PNG candidates each; sample ``i`` is named ``[s<i>]`` in
    its question (so the server can tell them apart) and its answer cycles through A-D."""
    os.makedirs(root / "img", exist_ok=True)
    samples = []
    for i in range(n):
        names = []
        for j in range(5):
            name = f"img/{i}_{j}.png"
            Image.new("RGB", size, ((37 * i) % 256, (91 * j) % 256, 128)).save(root / name)
            names.append(name)
        samples.append(Sample(id=f"s{i}", task="crossview", images=names, width=size[0], height=size[1],
                              query=f"[s{i}] The first image is a ground photo; which of the satellite images "
                                    f"A, B, C, D shows its place? Answer with the letter.",
                              choices=list("ABCD"), answer="ABCD"[i % 4]))
    write_dataset(root, samples)
    return samples


def seed_table(samples, tries: int, seed: int = 0) -> dict[int, int]:
    return {request_seed(seed, s.id, t): t for s in samples for t in range(tries)}


# ---------------------------------------------------------------------------------------------
# Pure functions


def test_backoff_doubles_respects_retry_after_and_cap():
    assert [backoff_delay(k, 0.5, 30.0) for k in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(8, 0.5, 30.0) == 30.0                     # 64 capped
    assert backoff_delay(1, 0.5, 30.0, retry_after=3.0) == 3.0     # the server asks for longer
    assert backoff_delay(3, 0.5, 30.0, retry_after=0.1) == 2.0     # ...but never shorter than ours
    assert backoff_delay(2, 1.0, 30.0, jitter=0.25) == 2.5


def test_parse_chat_completion():
    body = {"choices": [{"message": {"role": "assistant", "content": "hi"}}], "usage": {"completion_tokens": 3}}
    assert parse_chat_completion(json.dumps(body).encode()) == ("hi", 3)
    parts = {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]}
    assert parse_chat_completion(json.dumps(parts).encode()) == ("ab", None)
    for bad in (b'{"choices": [', b'{"choices": []}', b'{"error": "x"}', b'[1, 2]',
                b'{"choices": [{"message": {"content": null}}]}'):
        with pytest.raises(ValueError):
            parse_chat_completion(bad)


# ---------------------------------------------------------------------------------------------
# The client alone


def test_client_retries_5xx_and_timeouts_not_4xx(tmp_path):
    samples = make_crossview_dataset(tmp_path, 4)
    seeds = seed_table(samples, 1)

    def plan(sample, t, nth):
        return {"s0": ("status", 500) if nth < 2 else ("ok", good("A")),
                "s1": ("slow", 1.0, good("B")) if nth == 0 else ("ok", good("B")),
                "s2": ("status", 404),
                "s3": ("status", 503)}[sample]

    from geor1.engine.run import Engine

    with FaultServer(plan, seeds) as server:
        delays = []
        teacher = OpenAICompatTeacher(server.base_url, "teacher-x", timeout=0.3, max_retries=3, backoff=0.01,
                                      sleep=lambda s: (delays.append(s), time.sleep(s)))
        engine = Engine(teacher, tmp_path, tmp_path / "out", get_frame("pixels"), EngineConfig(tries=1))
        replies = {s.id: teacher.complete(engine._request(engine._job(i), 0)) for i, s in enumerate(samples)}
    assert replies["s0"].text == good("A") and replies["s0"].attempts == 3
    assert [e.split(":")[0] for e in replies["s0"].errors] == ["HTTP 500", "HTTP 500"]
    assert replies["s1"].text == good("B") and replies["s1"].attempts == 2
    assert replies["s1"].errors == ["timed out after 0.3 s"]
    assert not replies["s2"].ok and replies["s2"].error.startswith("HTTP 404 (not retried)")
    assert len(server.requests_for("s2")) == 1
    assert not replies["s3"].ok and "gave up after 4 attempts" in replies["s3"].error
    assert len(server.requests_for("s3")) == 4
    # Every request carried the five images as PNG data URLs, unresized in the pixels frame.
    assert all(r["images"] == [(12, 10)] * 5 for r in server.log) and not server.errors
    # Backoff doubles per retry (jitter adds at most 25 %): s0 2 retries, s1 1, s3 3.
    assert len(delays) == 6 and all(0.01 <= d <= 0.0125 * 4 for d in delays)


def test_client_sends_key_from_environment_and_resizes_for_qwen_frame(tmp_path, monkeypatch):
    samples = make_crossview_dataset(tmp_path, 1, size=(300, 200))
    monkeypatch.setenv("GEOR1_TEST_KEY", "sk-test-123")
    from geor1.engine.run import Engine

    with FaultServer(lambda s, t, n: ("ok", good("A")), seed_table(samples, 1)) as server:
        teacher = OpenAICompatTeacher(server.base_url, "m", api_key_env="GEOR1_TEST_KEY")
        engine = Engine(teacher, tmp_path, tmp_path / "out", get_frame("qwen2.5-vl"), EngineConfig(tries=1))
        assert teacher.complete(engine._request(engine._job(0), 0)).ok
        unset = OpenAICompatTeacher(server.base_url, "m", api_key_env="GEOR1_TEST_KEY_UNSET")
        assert unset.complete(engine._request(engine._job(0), 0)).ok
    assert server.log[0]["auth"] == "Bearer sk-test-123" and server.log[1]["auth"] is None
    # Qwen2.5-VL answers in pixels of its smart-resized input: 300x200 -> 308x196 (multiples of 28).
    assert server.log[0]["images"] == [(308, 196)] * 5


# ---------------------------------------------------------------------------------------------
# The engine against the faulty server


def test_engine_with_faults_retries_rejects_and_completes(tmp_path):
    data = tmp_path / "data"
    samples = make_crossview_dataset(data, 12)
    tries = 3
    truth = {s.id: s.answer for s in samples}

    def wrong(sid):
        return "ABCD"[("ABCD".index(truth[sid]) + 1) % 4]

    def plan(sample, t, nth):
        right = ("ok", good(truth[sample]))
        if sample == "s1":
            return ("status", 500) if nth == 0 else right
        if sample == "s2":
            return ("status", 429) if nth == 0 else right
        if sample == "s3":
            return ("slow", 1.0, good(truth[sample])) if nth == 0 else right
        if sample == "s4":
            return ("malformed", b'{"choices": [{"message": {"content": "<think>cut') if nth == 0 else right
        if sample == "s5":
            return ("ok", good(wrong(sample))) if t == 0 else right
        if sample == "s6":
            return ("ok", good(wrong(sample), why=f"attempt {t}"))
        if sample == "s7":
            return ("status", 400)
        if sample == "s8":
            return ("status", 500)
        if sample == "s9":
            return ("ok", f"The answer is {truth[sample]}.") if t == 0 else right
        if sample == "s10":
            return ("malformed", b'{"object": "chat.completion"}') if nth < 2 else right
        return right

    with FaultServer(plan, seed_table(samples, tries), retry_after="0.2") as server:
        teacher = OpenAICompatTeacher(server.base_url, "teacher-x", timeout=0.3, max_retries=2, backoff=0.01)
        summary = run_engine(teacher, data, tmp_path / "out", get_frame("qwen2.5-vl"),
                             EngineConfig(tries=tries, concurrency=4, progress=False))
    assert not server.errors
    out = tmp_path / "out"
    trl = [json.loads(line) for line in (out / MESSAGES_FILE).read_text().splitlines()]
    share = [json.loads(line) for line in (out / SHAREGPT_FILE).read_text().splitlines()]
    failures = {f["id"]: f for f in map(json.loads, (out / FAILURES_FILE).read_text().splitlines())}

    # Accepted: everything but s6 (always wrong), s7 (400), s8 (500 forever); in dataset order.
    assert [r["id"] for r in trl] == ["s0#0", "s1#0", "s2#0", "s3#0", "s4#0", "s5#1", "s9#1", "s10#0", "s11#0"]
    assert [r["id"] for r in share] == [r["id"] for r in trl]
    for r in trl:
        assert r["messages"][1]["content"][0]["text"] == good(truth[r["sample_id"]])
        assert r["reward"] == 1.0 and r["teacher"] == "openai:teacher-x"
    # Retries happened where the server failed first, and only there.
    assert [r["code"] for r in server.requests_for("s1")] == [500, 200]
    assert [r["code"] for r in server.requests_for("s2")] == [429, 200]
    s2 = server.requests_for("s2")
    assert s2[1]["time"] - s2[0]["time"] >= 0.2          # Retry-After was honoured
    assert [r["action"] for r in server.requests_for("s3")] == ["slow", "ok"]
    assert [r["action"] for r in server.requests_for("s4")] == ["malformed", "ok"]
    assert [r["action"] for r in server.requests_for("s10")] == ["malformed", "malformed", "ok"]
    # The verifier rejected wrong answers and unformatted ones; the next try was asked.
    assert [r["try"] for r in server.requests_for("s5")] == [0, 1]
    assert [r["try"] for r in server.requests_for("s9")] == [0, 1]
    # Failures carry their reasons, per try.
    assert failures["s6"]["status"] == "rejected"
    assert [a["reason"] for a in failures["s6"]["tries"]] == ["mcq_accuracy 0.000 < 1"] * 3
    assert failures["s7"]["status"] == "failed"
    assert len(server.requests_for("s7")) == tries            # 4xx: never retried
    assert all(a["reason"].startswith("HTTP 400 (not retried)") for a in failures["s7"]["tries"])
    assert len(server.requests_for("s8")) == tries * 3        # 1 + max_retries per try
    assert failures["s8"]["reason"].startswith("gave up after 3 attempts; last: HTTP 500")
    assert set(failures) == {"s6", "s7", "s8"}
    # The summary counts the same story.
    c = summary["tasks"]["crossview"]
    assert (c["samples"], c["accepted"], c["rejected"], c["failed"], c["duplicates"]) == (12, 9, 1, 2, 0)
    assert c["acceptance_rate"] == 0.75 and summary["complete"]
    rationale = "Compare each candidate with the ground photo: the road layout and the shadows agree."
    assert c["mean_rationale_words"] == 14 == len(rationale.split())


def test_engine_sharegpt_and_trl_formats(tmp_path):
    data = tmp_path / "data"
    samples = make_crossview_dataset(data, 2)
    with FaultServer(lambda s, t, n: ("ok", good({"s0": "A", "s1": "B"}[s])), seed_table(samples, 1)) as server:
        teacher = OpenAICompatTeacher(server.base_url, "m")
        run_engine(teacher, data, tmp_path / "out", get_frame("qwen2.5-vl"), EngineConfig(tries=1, progress=False))
    out = tmp_path / "out"
    trl = json.loads((out / MESSAGES_FILE).read_text().splitlines()[1])
    share = json.loads((out / SHAREGPT_FILE).read_text().splitlines()[1])
    images = [f"../data/img/1_{j}.png" for j in range(5)]
    assert trl["images"] == images and share["images"] == images
    user, assistant = trl["messages"]
    assert user["role"] == "user" and [p.get("image") for p in user["content"][:5]] == images
    assert user["content"][5]["type"] == "text" and user["content"][5]["text"].startswith("[s1] ")
    assert assistant == {"role": "assistant", "content": [{"type": "text", "text": good("B")}]}
    assert share["conversations"][0]["from"] == "human"
    assert share["conversations"][0]["value"] == "<image>" * 5 + user["content"][5]["text"]
    assert share["conversations"][1] == {"from": "gpt", "value": good("B")}
    # Image paths resolve from the output folder; dataset_info.json points LLaMA-Factory at the file.
    assert all((out / p).is_file() for p in share["images"])
    info = json.loads((out / "dataset_info.json").read_text())
    assert info == {"geor1_out": {"file_name": SHAREGPT_FILE, "formatting": "sharegpt",
                                  "columns": {"messages": "conversations", "images": "images"},
                                  "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                                           "assistant_tag": "gpt"}}}

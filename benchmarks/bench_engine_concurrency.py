"""Concurrent against sequential teacher requests: the engine with the OpenAI-compatible teacher
against a local chat-completions server that takes a fixed time per reply (as a model server
under light load does). Prints both wall times and their ratio; the target is >= 4x at
concurrency 8. Also checks that both runs wrote the same records.

    .venv/bin/python benchmarks/bench_engine_concurrency.py [--samples 48] [--delay 0.1] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

from geor1.coords import get_frame
from geor1.data.schema import Sample, write_dataset
from geor1.engine.run import MESSAGES_FILE, EngineConfig, run_engine
from geor1.engine.teachers import OpenAICompatTeacher

TARGET = 4.0


def serve(answers: dict[str, str], delay: float) -> ThreadingHTTPServer:
    """A chat-completions server on 127.0.0.1 that sleeps ``delay`` seconds, then answers right."""
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            text = "".join(p.get("text", "") for p in body["messages"][-1]["content"] if isinstance(p, dict))
            sample = re.search(r"\[(s\d+)\]", text).group(1)
            time.sleep(delay)
            content = f"<think>Candidate {answers[sample]} matches the road layout.</think><answer>{answers[sample]}</answer>"
            payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                               "finish_reason": "stop"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def make_dataset(root: Path, n: int) -> dict[str, str]:
    (root / "img").mkdir(parents=True)
    samples = []
    for i in range(n):
        names = [f"img/{i}_{j}.png" for j in range(5)]
        for j, name in enumerate(names):
            Image.new("RGB", (64, 64), (i % 256, 40 * j, 90)).save(root / name)
        samples.append(Sample(id=f"s{i}", task="crossview", images=names, width=64, height=64,
                              query=f"[s{i}] Which satellite image shows where the photo was taken?",
                              choices=list("ABCD"), answer="ABCD"[i % 4]))
    write_dataset(root, samples)
    return {s.id: s.answer for s in samples}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--samples", type=int, default=48)
    p.add_argument("--delay", type=float, default=0.1, help="seconds the server takes per reply")
    p.add_argument("--concurrency", type=int, default=8)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        answers = make_dataset(tmp / "data", args.samples)
        httpd = serve(answers, args.delay)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        times, outputs = {}, {}
        for c in (1, args.concurrency):
            teacher = OpenAICompatTeacher(url, "bench", concurrency=c, timeout=30)
            out = tmp / f"c{c}" / "out"
            start = time.perf_counter()
            summary = run_engine(teacher, tmp / "data", out, get_frame("qwen2.5-vl"),
                                 EngineConfig(tries=1, concurrency=c, progress=False))
            times[c] = time.perf_counter() - start
            assert summary["total"]["accepted"] == args.samples, summary
            outputs[c] = (out / MESSAGES_FILE).read_bytes()
        httpd.shutdown()
    ratio = times[1] / times[args.concurrency]
    print(f"{args.samples} samples, server delay {args.delay * 1000:.0f} ms per reply")
    print(f"sequential (concurrency 1): {times[1]:.2f} s  ({args.samples / times[1]:.1f} samples/s)")
    print(f"concurrent (concurrency {args.concurrency}): {times[args.concurrency]:.2f} s  "
          f"({args.samples / times[args.concurrency]:.1f} samples/s)")
    print(f"speed-up: {ratio:.2f}x (target >= {TARGET:g}x: {'met' if ratio >= TARGET else 'NOT met'})")
    if outputs[1] != outputs[args.concurrency]:
        print("ERROR: concurrent and sequential runs wrote different records")
        return 1
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

"""Evaluation speed: batched generation against one sample at a time, on the tiny model.

    python benchmarks/bench_eval_batching.py [--n 16] [--batch-size 16] [--tokens 128] [--threads 1]

Writes a GeoSynth REC dataset of N samples, then runs ``geor1.evaluation.evaluate`` on it twice —
with ``batch_size=1`` and with ``--batch-size`` — each in a fresh process, so that each peak
memory figure is its own. The tiny model has random weights; ``ignore_eos`` makes every sample
generate exactly ``--tokens`` new tokens in both runs, so both do the same work. Greedy decoding
must give the same completions either way (checked).

The prefill — the vision tower on every image and the prompt — costs the same in both runs, so
the speed-up grows with the number of generated tokens; the default 128 is on the short side of
what the papers' models write (200 to 1,100 tokens per completion).

Prints, per run: generation seconds (processor and ``model.generate``; wall and CPU — CPU
seconds are steadier than wall time on a shared machine), samples/s and new tokens/s over
generation, wall seconds of the whole ``evaluate`` call (model loading, images, scoring and
writing included) and peak resident memory of the process (``resource.getrusage``: it counts
tensors, which tracemalloc — Python objects only — would miss); then the speed-up (target >= 3x).
``--threads`` sets torch's CPU threads in both runs (default 1: steady on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from geor1.evaluation import evaluate

    t0 = time.perf_counter()
    summary = evaluate(
        "tiny",
        args.data,
        args.out,
        batch_size=args.child_batch,
        max_new_tokens=args.tokens,
        ignore_eos=True,
        progress=False,
    )
    wall = time.perf_counter() - t0
    print(json.dumps({**summary["speed"], "wall_s": wall}))


def run_child(data: Path, out: Path, batch: int, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child-batch",
        str(batch),
        "--data",
        str(data),
        "--out",
        str(out),
        "--tokens",
        str(args.tokens),
        "--threads",
        str(args.threads),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=16, help="samples")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--tokens", type=int, default=128, help="new tokens per sample (EOS ignored)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--child-batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_batch:
        return child(args)

    from geor1.evaluation import read_predictions
    from geor1.synth import write_task

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rec"
        write_task("rec", data, args.n, seed=0, size=256)
        runs = {}
        for name, batch in (("one at a time", 1), (f"batched ({args.batch_size})", args.batch_size)):
            runs[name] = run_child(data, Path(tmp) / f"out{batch}", batch, args)
            runs[name]["completions"] = {
                k: r["completion"]
                for k, r in read_predictions(Path(tmp) / f"out{batch}" / "predictions.jsonl").items()
            }
    single, batched = runs.values()
    same = single.pop("completions") == batched.pop("completions")
    print(
        f"tiny model, {args.n} GeoSynth REC samples x {args.tokens} new tokens, {args.threads} CPU thread(s)"
    )
    print(
        f"{'':22s}{'generate s':>11s}{'CPU s':>8s}{'samples/s':>11s}{'tokens/s':>10s}{'wall s':>9s}{'peak RSS MB':>13s}"
    )
    for name, r in runs.items():
        print(
            f"{name:22s}{r['generation_s']:11.2f}{r['generation_cpu_s']:8.2f}{r['samples_per_s']:11.2f}"
            f"{r['new_tokens_per_s']:10.1f}{r['wall_s']:9.2f}{r['peak_rss_mb']:13.0f}"
        )
    ratio = batched["samples_per_s"] / single["samples_per_s"]
    cpu_ratio = single["generation_cpu_s"] / batched["generation_cpu_s"]
    print(
        f"speed-up {ratio:.2f}x in samples/s (target >= 3x), {cpu_ratio:.2f}x in CPU seconds; "
        f"identical greedy completions: {same}"
    )


if __name__ == "__main__":
    main()

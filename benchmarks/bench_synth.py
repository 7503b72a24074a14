"""GeoSynth speed: samples per second per task at the default size, in memory and written to disk.

    python benchmarks/bench_synth.py [--n 100] [--size 448] [--tasks rec ovd gres]

Runs on one core (numpy's BLAS threads are pinned to 1 before numpy loads). "cpu" rates divide by the
process's CPU time, "wall" rates by elapsed time: on a machine shared with other jobs the CPU-time rate is
the one that says what a free core would do. Target: >= 100 REC samples/s in memory at 448 px.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from geor1.synth.builders import make_sample, write_task  # noqa: E402  (after the thread variables)


def rate(fn, n: int) -> tuple[float, float]:
    """(samples per CPU second, samples per wall second) of ``fn()``, which makes ``n`` samples."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)


def make_samples(task: str, n: int, size: int, style: str) -> None:
    for i in range(n):
        make_sample(task, 10_000 + i, size=size, style=style)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--tasks", nargs="+", default=["rec", "ovd", "gres"])
    args = parser.parse_args()
    print(f"GeoSynth at {args.size} px, {args.n} samples per measurement, one process")
    print(
        f"{'task':6s} {'style':5s} {'in memory cpu/s':>16s} {'wall/s':>8s} "
        f"{'to disk cpu/s':>14s} {'wall/s':>8s}"
    )
    for task in args.tasks:
        for style in ("A", "B"):
            make_sample(task, 0, size=args.size, style=style)  # warm the caches (noise bank, palettes)
            mem = rate(functools.partial(make_samples, task, args.n, args.size, style), args.n)
            with tempfile.TemporaryDirectory() as tmp:
                disk = rate(functools.partial(write_task, task, tmp, args.n, 0, args.size, style), args.n)
            print(f"{task:6s} {style:5s} {mem[0]:16.1f} {mem[1]:8.1f} {disk[0]:14.1f} {disk[1]:8.1f}")


if __name__ == "__main__":
    main()

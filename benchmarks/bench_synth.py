"""GeoSynth speed: samples per second per task and style, in memory and written to disk, optionally side by
side with the code of another git revision.

    taskset -c 1 python benchmarks/bench_synth.py [--n 100] [--size 448] [--tasks rec ovd gres]
        [--styles A B] [--baseline REV] [--repeat R] [--no-disk]

Every measurement runs in its own process on one core (numpy's BLAS threads are pinned to 1 before numpy
loads; pin the core with ``taskset``). ``--baseline REV`` extracts ``src/`` of that revision (``git archive``)
and measures it in the same run, alternating with the working tree's code, so both see the same machine;
each figure is the best of ``--repeat`` runs. "cpu" rates divide by the process's CPU time, "wall" rates by
elapsed time: on a machine shared with other jobs the CPU-time rate says what a free core would do.
Target: >= 100 REC samples/s in memory at 448 px (the last column: in-memory cpu rate / 100).

    taskset -c 1 python benchmarks/bench_synth.py --interleave ROUNDS --baseline REV [--chunk 10] [--tasks rec]

``--interleave`` keeps one warm process per version and alternates them chunk by chunk (``--chunk`` samples
each, the styles taking turns sample by sample, seeds 10000 on), so both see the same drift of the machine over
many samples; it prints each version's CPU-time rate over ROUNDS x chunk samples and their ratio. Use it when the
versions make different scenes from the same seeds (a change in the random draws): a scene's cost varies by a
factor of three, so a fair comparison needs thousands of samples, not the best of a few hundred.

Each process makes ``WARM`` samples before its clock starts. A version extracted by ``--baseline`` has no numba
cache yet, so it compiles its kernels then; a note is printed if a kernel was still loaded or compiled while timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
TARGET = 100.0  # REC samples per second in memory at 448 px, one core
WARM = 16  # samples before timing (styles in turn): enough to load every kernel version a sample uses
ROOT = Path(__file__).resolve().parents[1]


def measure(task: str, style: str, n: int, size: int, disk: bool) -> dict[str, float]:
    """Rates of this process's geor1 (imported from sys.path): samples per CPU and per wall second."""
    from geor1.synth.builders import make_sample, write_task

    def rate(fn) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        fn()
        return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)

    def in_memory() -> None:
        for i in range(n):
            make_sample(task, 10_000 + i, size=size, style=style)

    warm(make_sample, task, style, size)
    loaded = compiled()
    out = dict(zip(("mem_cpu", "mem_wall"), rate(in_memory)))
    if disk:
        with tempfile.TemporaryDirectory() as tmp:
            out.update(zip(("disk_cpu", "disk_wall"), rate(lambda: write_task(task, tmp, n, 0, size, style))))
    out["loaded"] = compiled() - loaded
    return out


def warm(make_sample, task: str, styles: str, size: int) -> None:
    """Samples before the clock starts: they fill the caches (noise bank, palettes, sensor planes) and load or
    compile the numba kernels' versions the samples need (compiling takes seconds, once per machine and code)."""
    for i in range(WARM):
        make_sample(task, i, size=size, style=styles[i % len(styles)])


def compiled() -> int:
    """How many versions of geor1's numba kernels this process has loaded or compiled so far (0 for code without
    them). A rise during a measurement means it timed one."""
    kernels = sys.modules.get("geor1.synth.kernels")
    return sum(len(getattr(f, "signatures", ())) for f in vars(kernels).values()) if kernels else 0


def run_child(src: Path, task: str, style: str, args: argparse.Namespace) -> dict[str, float]:
    """``measure`` in a fresh process importing geor1 from ``src``."""
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    cmd = [sys.executable, __file__, "--child", str(src), task, style, str(args.n), str(args.size)]
    cmd += ["--no-disk"] if args.no_disk else []
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"benchmark of {src} ({task} {style}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


WORKER = """
import sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[5])
from geor1.synth.builders import make_sample
from bench_synth import compiled, warm
task, styles, size, i = sys.argv[2], sys.argv[3], int(sys.argv[4]), 0
warm(make_sample, task, styles, size)
for line in sys.stdin:  # each line asks for that many more samples; answers their CPU time and kernels loaded
    cpu, loaded = time.process_time(), compiled()
    for _ in range(int(line)):
        make_sample(task, 10_000 + i, size=size, style=styles[i % len(styles)])
        i += 1
    print(time.process_time() - cpu, compiled() - loaded, flush=True)
"""


def interleave(versions: dict[str, Path], task: str, args: argparse.Namespace) -> dict[str, float]:
    """CPU seconds per version over ``args.interleave`` rounds of ``args.chunk`` samples, alternating warm workers."""
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}}
    styles = "".join(args.styles)
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", WORKER, str(src), task, styles, str(args.size), str(Path(__file__).parent)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name, src in versions.items()
    }
    cpu, loaded = dict.fromkeys(procs, 0.0), dict.fromkeys(procs, 0)
    for r in range(args.interleave):
        for name in list(procs)[:: 1 if r % 2 == 0 else -1]:  # ABBA: neither always goes first
            procs[name].stdin.write(f"{args.chunk}\n")
            procs[name].stdin.flush()
            answer = procs[name].stdout.readline()
            if not answer:
                sys.exit(f"benchmark worker for {name} ({task}) died")
            seconds, kernels = answer.split()
            cpu[name] += float(seconds)
            loaded[name] += int(kernels)
    for proc in procs.values():
        proc.stdin.close()
        proc.wait()
    warn_loaded(task, loaded)
    return cpu


def warn_loaded(task: str, loaded: dict[str, int]) -> None:
    for name, k in loaded.items():
        if k:
            print(f"note: {name} ({task}) loaded or compiled {k} kernel version(s) while timed; raise WARM", flush=True)


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: max(r[k] for r in runs) for k in runs[0]}


def export_src(rev: str, dest: Path) -> Path:
    """``src/`` of git revision ``rev`` extracted under ``dest``."""
    blob = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        src, task, style, n, size = sys.argv[2:7]
        sys.path.insert(0, src)
        print(json.dumps(measure(task, style, int(n), int(size), "--no-disk" not in sys.argv)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="samples per measurement")
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--tasks", nargs="+", default=["rec", "ovd", "gres"])
    parser.add_argument("--styles", nargs="+", default=["A", "B"])
    parser.add_argument("--baseline", metavar="REV", help="also measure src/ of this git revision")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (the best one is reported)")
    parser.add_argument("--no-disk", action="store_true", help="in memory only")
    parser.add_argument("--interleave", type=int, metavar="ROUNDS", help="alternate warm workers (see above)")
    parser.add_argument("--chunk", type=int, default=10, help="samples per worker turn with --interleave")
    args = parser.parse_args()
    if args.interleave and not args.baseline:
        parser.error("--interleave compares two versions: give --baseline REV")

    with tempfile.TemporaryDirectory() as tmp:
        versions = {"now": ROOT / "src"}
        if args.baseline:
            versions = {args.baseline: export_src(args.baseline, Path(tmp)), **versions}
        if args.interleave:
            n = args.interleave * args.chunk
            print(f"GeoSynth at {args.size} px, in memory, {n} samples per version in turns of {args.chunk}")
            for task in args.tasks:
                cpu = interleave(versions, task, args)
                rates = {name: n / seconds for name, seconds in cpu.items()}
                print(
                    f"{task:5s} {'/'.join(args.styles):5s} "
                    + "  ".join(f"{name[:10]} {rate:.1f}/s" for name, rate in rates.items())
                    + f"  now/{args.baseline[:10]} {rates['now'] / rates[args.baseline]:.3f}x"
                    + f"  now/target {rates['now'] / TARGET:.2f}",
                    flush=True,
                )
            return
        print(f"GeoSynth at {args.size} px, {args.n} samples per measurement, best of {args.repeat}, one process each")
        head = f"{'task':5s} {'style':5s} {'code':>10s} {'memory cpu/s':>13s} {'wall/s':>7s}"
        head += "" if args.no_disk else f" {'disk cpu/s':>11s} {'wall/s':>7s}"
        print(head + f" {'x baseline':>10s} {'/ target':>8s}")
        for task in args.tasks:
            for style in args.styles:
                runs: dict[str, list] = {name: [] for name in versions}
                for _ in range(args.repeat):  # alternate the versions, so a change in load hits both
                    for name, src in versions.items():
                        runs[name].append(run_child(src, task, style, args))
                        warn_loaded(task, {name: runs[name][-1].pop("loaded", 0)})
                base = best(runs[args.baseline])["mem_cpu"] if args.baseline else None
                for name in versions:
                    r = best(runs[name])
                    line = f"{task:5s} {style:5s} {name[:10]:>10s} {r['mem_cpu']:13.1f} {r['mem_wall']:7.1f}"
                    line += "" if args.no_disk else f" {r['disk_cpu']:11.1f} {r['disk_wall']:7.1f}"
                    ratio = f"{r['mem_cpu'] / base:9.2f}x" if base else f"{'':10s}"
                    print(f"{line} {ratio} {r['mem_cpu'] / TARGET:8.2f}", flush=True)


if __name__ == "__main__":
    main()

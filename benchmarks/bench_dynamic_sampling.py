"""What DAPO's dynamic sampling costs and saves, measured side by side on the few-shot REC task.

    python benchmarks/bench_dynamic_sampling.py [--steps 20] [--model tiny-geosynth] [--shots 10]
    python benchmarks/bench_dynamic_sampling.py --quick      # a smoke check (CI)

Builds GeoSynth's held-out-category REC pool and a k-shot training set (as the miniature does),
then trains ``tiny/dapo_rec`` twice for the same number of steps from the same model and seed:
once with ``trainer.dynamic_sampling=false`` (TRL's GRPO step: every generated group is trained
on, informative or not) and once with it on. Each run is a fresh process with one torch thread.

A group whose rewards are all equal has zero advantage: training on it spends a forward and a
backward pass for no policy gradient. Printed per run:
- groups trained on, and how many of them carried signal (rewards not all equal);
- groups generated (dynamic sampling generates extra rounds to replace the flat ones);
- wall seconds, and seconds per *informative* group trained: the price of one unit of signal;
- then the ratios, off / on.
Writes ``OUT/result.json`` (default ``runs/bench_dynamic_sampling``); ``--readme`` also copies the
table, with the date and the machine, into README.md between ``<!-- dapo:begin -->`` and
``<!-- dapo:end -->``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def child(args) -> None:
    import torch

    torch.set_num_threads(1)
    from geor1.train.recipe import load_recipe
    from geor1.train.run import train

    sets = [f"model.name={args.model}", f"data.train=[{args.data}]", f"trainer.output_dir={args.out}",
            f"trainer.max_steps={args.steps}", "trainer.save_steps=100000", "trainer.report_to=[]",
            "trainer.seed=0", f"trainer.dynamic_sampling={str(args.dynamic).lower()}", *args.set]
    t0 = time.perf_counter()
    trainer = train(load_recipe("tiny/dapo_rec", sets), resume=False)
    wall = time.perf_counter() - t0
    G = trainer.num_generations
    per_step = trainer.args.per_device_train_batch_size * trainer.args.steps_per_generation // G
    rows = list(csv.DictReader(open(Path(args.out) / "metrics.csv")))
    flat = [float(r["frac_reward_zero_std"]) for r in rows if r.get("frac_reward_zero_std")]
    steps = trainer.state.global_step
    t = trainer.sampling_totals
    if args.dynamic:
        trained, informative = steps * per_step, steps * per_step - t["filled_groups"]
        generated = t["generated_groups"]
    else:  # every generated group is trained on; TRL logs the flat share of each step's groups
        trained = generated = steps * per_step
        informative = round(sum(1 - f for f in flat) / max(len(flat), 1) * trained)
    print(json.dumps({"dynamic_sampling": args.dynamic, "steps": steps, "wall_s": round(wall, 1),
                      "groups_trained": trained, "informative_trained": informative,
                      "groups_generated": generated, "completions_generated": generated * G}))


def run_child(args, dynamic: bool, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", "--data", str(args.data), "--out", str(out), "--steps",
           str(args.steps), "--model", args.model, *(["--dynamic"] if dynamic else [])]
    for s in args.set:
        cmd += ["--set", s]
    env = {**os.environ, "GEOR1_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"bench_dynamic_sampling: the {'on' if dynamic else 'off'} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_data(out: Path, shots: int, pool: int) -> Path:
    from geor1 import cli

    data = out / "data"
    if not (data / "fs" / f"{shots}shot" / "data.jsonl").is_file():
        for argv in (["synth", "rec", "--n", str(pool), "--seed", "1", "--categories", "held-out", "--split", "train",
                      "--out", str(data / "pool")],
                     ["fewshot", str(data / "pool"), "--shots", str(shots), "--seed", "0", "--out", str(data / "fs")]):
            if cli.main(argv) != 0:
                raise SystemExit(f"bench_dynamic_sampling: geor1 {' '.join(argv)} failed")
    return data / "fs" / f"{shots}shot"


def table(off: dict, on: dict) -> str:
    per = lambda r: r["wall_s"] / r["informative_trained"]
    lines = ["| | dynamic sampling off | on | off / on |", "|---|---|---|---|"]
    for key, label in (("groups_trained", "groups trained on"), ("informative_trained", "… with signal"),
                       ("groups_generated", "groups generated"), ("wall_s", "wall seconds")):
        ratio = off[key] / on[key] if on[key] else float("nan")
        lines.append(f"| {label} | {off[key]} | {on[key]} | {ratio:.2f} |")
    share = lambda r: 100 * r["informative_trained"] / max(r["groups_trained"], 1)
    lines.append(f"| share of trained groups with signal | {share(off):.0f}% | {share(on):.0f}% | |")
    if off["informative_trained"] and on["informative_trained"]:
        lines.append(f"| seconds per informative group | {per(off):.2f} | {per(on):.2f} | {per(off) / per(on):.2f} |")
    else:
        lines.append("| seconds per informative group | no informative group in a run: no price to compare | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--model", default="tiny-geosynth")
    p.add_argument("--shots", type=int, default=10)
    p.add_argument("--pool", type=int, default=150)
    p.add_argument("--out", type=Path, default=Path("runs/bench_dynamic_sampling"))
    p.add_argument("--quick", action="store_true", help="2 steps, small batches: checks the script runs")
    p.add_argument("--set", action="append", default=[], help="extra recipe overrides for both runs")
    p.add_argument("--readme", action="store_true", help="copy the table into README.md (between the dapo markers)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dynamic", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.quick:
        args.steps, args.pool, args.shots = 2, 20, 2
        args.set += ["trainer.per_device_train_batch_size=4", "trainer.num_generations=2",
                     "trainer.max_completion_length=16", "trainer.overlong_buffer_len=4"]
    args.data = make_data(args.out, args.shots, args.pool)
    off = run_child(args, False, args.out / "off")
    on = run_child(args, True, args.out / "on")
    print(f"tiny/dapo_rec from {args.model}, {args.shots}-shot held-out REC, {args.steps} steps each, one thread\n")
    print(table(off, on))
    (args.out / "result.json").write_text(json.dumps({"off": off, "on": on, "steps": args.steps, "model": args.model,
                                                      "shots": args.shots}, indent=2) + "\n")
    if args.readme:
        write_readme(args, off, on)
    return 0


def write_readme(args, off: dict, on: dict) -> None:
    import platform
    from datetime import date

    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    begin, end = "<!-- dapo:begin -->", "<!-- dapo:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{readme}: no {begin} ... {end} block to fill")
    block = (f"{begin}\n\nMeasured on {date.today().isoformat()} ({platform.machine()}, one torch thread) by "
             f"`python benchmarks/bench_dynamic_sampling.py --steps {args.steps} --readme`: `tiny/dapo_rec` from "
             f"`{args.model}` on {args.shots}-shot held-out REC, {args.steps} steps with dynamic sampling off and "
             f"on.\n\n{table(off, on)}\n\n{end}")
    readme.write_text(text[:text.index(begin)] + block + text[text.index(end) + len(end):])
    print(f"wrote the table into {readme}")


if __name__ == "__main__":
    sys.exit(main())

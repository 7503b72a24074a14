"""The papers' experiment in miniature: both halves of Geo-R1 on GeoSynth with the tiny model, on a CPU.

  .venv/bin/python benchmarks/miniature.py            # a few hours on one CPU core; writes docs/results.md
  .venv/bin/python benchmarks/miniature.py --quick    # about two minutes; writes runs/miniature-quick/results.md

1. Few-shot REC (arXiv 2509.21976) on GeoSynth's held-out categories: nested 1/5/10-shot training
   sets in style A; the base model zero-shot, SFT, GRPO and DAPO, each scored with Acc@0.5/0.7 on
   256 held-out-category test samples in style A, in style B (cross-style) and in another GeoSynth
   setting (cross-dataset). The compared cells (1- and 10-shot) are trained with 3 seeds.
2. Cross-view pairing with K = 4 candidates (arXiv 2510.00072): the base model, Geo-SFT (SFT on the
   programmatic teacher's rationales, made by ``geor1 engine``), GRPO-Zero (GRPO from the base) and
   GRPO after Geo-SFT; accuracy and mean completion length; Geo-SFT and GRPO after it with 3 seeds.
3. Geolocalization of the same models on ground photos, before and after cross-view RL.

Every step is a ``geor1`` command run in this process (``geor1.cli.main``), so the commands the
results page lists are exactly what ran. A finished step leaves ``OUT/steps/<step>.json`` (its
command and wall time) and is skipped on a rerun; an interrupted one continues where it stopped
(training from its last checkpoint, evaluation from its predictions). The page
(``miniature_page.py``) is written from the evaluation folders: tables with the seeds' spread,
differences with paired bootstrap intervals, simple baselines, whether each target was met, wall
times, date and machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CV_PIXELS = 12544  # 112 x 112 per image, as recipes tiny/grpo_crossview and tiny/sft_crossview

# Sizes. A REC GRPO step with answer-only completions takes about 2.5 s with one torch thread; a
# 256-sample REC evaluation about 20 s, a cross-view one (384 tokens) about 90 s. The comparisons
# the targets name are trained with 3 seeds (k-shot draw and trainer seed); the rest with one.
FULL = dict(pool=150, test=256, shots=[1, 5, 10], seeds=3, seeded_shots=[1, 10], rec_tokens=48, sft_steps=40,
            rl_steps=40, cv_train=200, cv_test=256, cv_tokens=384, cv_sft_steps=50, cv_rl_steps=20, geo_test=256,
            rl_set=[], sft_set=[], save_steps=10)
QUICK = dict(pool=20, test=4, shots=[1, 2], seeds=2, seeded_shots=[2], rec_tokens=16, sft_steps=2, rl_steps=1,
             cv_train=6, cv_test=4, cv_tokens=16, cv_sft_steps=2, cv_rl_steps=1, geo_test=4,
             rl_set=["trainer.per_device_train_batch_size=4", "trainer.num_generations=2"],
             sft_set=["trainer.per_device_train_batch_size=2"], save_steps=1000)

REC_METHODS = {"sft": ("SFT", "sft", "tiny/sft_rec"), "grpo": ("GRPO", "grpo", "tiny/grpo_rec"),
               "dapo": ("DAPO", "grpo", "tiny/dapo_rec")}
# REC test sets: the held-out categories in the training style (A), in the other sensor style (B,
# cross-style) and in another GeoSynth setting (C, cross-dataset: style A at 320 px, denser scenes,
# mostly non-unique referents), each drawn with its own seed offset.
REC_TESTS = {"A": ("style A", ["--style", "A"], 2), "B": ("style B (cross-style)", ["--style", "B"], 3),
             "C": ("setting C (cross-dataset)", ["--style", "A", "--size", "320", "--unique-fraction", "0.15"], 7)}
CV_RUNS = {"base": "base", "geo-sft": "Geo-SFT", "grpo-zero": "GRPO-Zero", "geo-sft-grpo": "GRPO (after Geo-SFT)"}
CV_SEEDED = ("geo-sft", "geo-sft-grpo")

# The papers' figures (../shared/GEO-R1.md): VRSBench-FS Acc@0.5 / Acc@0.7 and cross-view pairing.
PAPER_REC = [("SFT", 1, 32.75, None), ("GRPO", 1, 45.78, None), ("SFT", 10, 38.29, 17.78),
             ("GRPO", 10, 50.59, 30.61), ("DAPO", 10, 52.74, 31.84)]
PAPER_CV = [("Qwen2.5-VL-7B (base)", 19.0, 204.6), ("Geo-SFT", 23.1, 1127.6), ("Geo-R1-Zero", 78.1, 587.4),
            ("Geo-R1 (GRPO after Geo-SFT)", 82.4, 378.8)]


def rec_seeds(cfg: dict, k: int) -> list[int]:
    """Seed indices trained for k shots: all of them for the compared shot counts, else the first."""
    return list(range(cfg["seeds"])) if k in cfg["seeded_shots"] else [0]


def cv_seeds(cfg: dict, run: str) -> list[int]:
    return list(range(cfg["seeds"])) if run in CV_SEEDED else [0]


def run_name(name: str, i: int) -> str:
    """``grpo-10shot`` for the first seed, ``grpo-10shot-s1`` for the second, ..."""
    return name if i == 0 else f"{name}-s{i}"


@dataclass
class Step:
    name: str                      # where its marker goes: OUT/steps/<name>.json
    argv: list[str]                # the geor1 command line
    train_dir: Path | None = None  # a training step's output_dir

    @property
    def command(self) -> str:
        return "geor1 " + shlex.join(self.argv)


def _eval(model, data: Path, out: Path, tokens: int, extra: list = ()) -> list:
    return ["eval", "--model", model, "--data", str(data), "--out", str(out), "--max-new-tokens", str(tokens),
            "--batch-size", "16", "--no-progress", *extra]


def plan(cfg: dict, out: Path, model: str, seed: int) -> list[Step]:
    """Every step of the experiment, in order."""
    data, todo = out / "data", []
    add = lambda name, *argv: todo.append(Step(name, [str(a) for a in argv]))

    def train(name: str, method: str, recipe: str, start, train_data: Path, max_steps: int, extra: list[str],
              train_seed: int) -> Path:
        """A training step from ``start`` (a model name or folder); returns its output_dir."""
        run = out / name
        sets = [f"model.name={start}", f"data.train=[{train_data}]", f"trainer.output_dir={run}",
                f"trainer.max_steps={max_steps}", f"trainer.save_steps={cfg['save_steps']}",
                "trainer.save_total_limit=1", "trainer.report_to=[]", f"trainer.seed={train_seed}", *extra]
        todo.append(Step(f"{name}/train", ["train", method, recipe, *[a for s in sets for a in ("--set", s)]], run))
        return run

    cats = ["--categories", "held-out"]
    add("data/rec_pool", "synth", "rec", "--n", cfg["pool"], "--seed", seed + 1, *cats, "--split", "train",
        "--out", data / "rec_pool")
    for key, (_, flags, s) in REC_TESTS.items():
        add(f"data/rec_test_{key}", "synth", "rec", "--n", cfg["test"], "--seed", seed + s, *flags, *cats,
            "--split", "test", "--out", data / f"rec_test_{key}")
    for i in range(cfg["seeds"]):  # one nested 1/5/10-shot draw per seed
        add(f"data/rec_fs{run_name('', i)}", "fewshot", data / "rec_pool", "--shots", ",".join(map(str, cfg["shots"])),
            "--seed", seed + i, "--out", data / f"rec_fs{run_name('', i)}")

    def rec_evals(name: str, m: str):
        # The tiny REC recipes ask for the answer alone (think: false), so every REC model is evaluated so.
        for key in REC_TESTS:
            add(f"rec/{name}/eval-{key}", *_eval(m, data / f"rec_test_{key}", out / "rec" / name / f"eval-{key}",
                                                 cfg["rec_tokens"], ["--no-think"]))

    rec_evals("base", model)
    # The base model on the categories it was pretrained on.
    add("data/rec_seen", "synth", "rec", "--n", cfg["test"], "--seed", seed + 6, "--categories", "seen", "--split",
        "test", "--out", data / "rec_seen")
    add("rec/base/eval-seen", *_eval(model, data / "rec_seen", out / "rec" / "base" / "eval-seen", cfg["rec_tokens"],
                                     ["--no-think"]))
    for k in cfg["shots"]:
        for i in rec_seeds(cfg, k):
            for key, (_, method, recipe) in REC_METHODS.items():
                extra = cfg["sft_set"] if method == "sft" else [f"trainer.max_completion_length={cfg['rec_tokens']}",
                                                                *cfg["rl_set"]]
                name = run_name(f"{key}-{k}shot", i)
                run = train(f"rec/{name}", method, recipe, model, data / f"rec_fs{run_name('', i)}" / f"{k}shot",
                            cfg["sft_steps"] if method == "sft" else cfg["rl_steps"], extra, seed + i)
                rec_evals(name, run / "final")

    for split, n, s in (("train", cfg["cv_train"], 4), ("test", cfg["cv_test"], 5)):
        add(f"data/cv_{split}", "synth", "crossview", "--n", n, "--seed", seed + s, "--size", 112, "--k", 4,
            "--out", data / f"cv_{split}")
    add("data/geo_test", "synth", "geoloc", "--n", cfg["geo_test"], "--seed", seed + 8, "--size", 112, "--view",
        "ground", "--out", data / "geo_test")
    add("data/cv_sft", "engine", "--teacher", "programmatic", "--data", data / "cv_train", "--out", data / "cv_sft",
        "--frame", model, "--no-progress")
    rl = [f"trainer.max_completion_length={cfg['cv_tokens']}", *cfg["rl_set"]]
    for i in range(cfg["seeds"]):
        sft = train(f"cv/{run_name('geo-sft', i)}", "sft", "tiny/sft_crossview", model,
                    data / "cv_sft" / "sft_messages.jsonl", cfg["cv_sft_steps"], cfg["sft_set"], seed + i)
        train(f"cv/{run_name('geo-sft-grpo', i)}", "grpo", "tiny/grpo_crossview", sft / "final", data / "cv_train",
              cfg["cv_rl_steps"], rl, seed + i)
    train("cv/grpo-zero", "grpo", "tiny/grpo_crossview", model, data / "cv_train", cfg["cv_rl_steps"], rl, seed)
    pixels = ["--min-pixels", CV_PIXELS, "--max-pixels", CV_PIXELS]
    for run in CV_RUNS:
        for i in cv_seeds(cfg, run):
            name = run_name(run, i)
            m = model if run == "base" else out / "cv" / name / "final"
            add(f"cv/{name}/eval", *_eval(m, data / "cv_test", out / "cv" / name / "eval", cfg["cv_tokens"], pixels))
            # geolocalization of the same model on ground photos: the out-of-task claim
            add(f"cv/{name}/eval-geo", *_eval(m, data / "geo_test", out / "cv" / name / "eval-geo", cfg["cv_tokens"],
                                              pixels))
    return todo


def half(step: Step) -> str:
    """``cv`` for the cross-view and geolocalization steps, ``rec`` for the rest."""
    return "cv" if step.name.startswith(("cv/", "data/cv", "data/geo")) else "rec"


def run_step(step: Step, out: Path) -> dict:
    """Run ``step`` unless its marker says it finished; returns the marker (command, seconds, ...)."""
    from geor1 import cli

    marker = out / "steps" / f"{step.name}.json"
    if marker.is_file():
        rec = json.loads(marker.read_text())
        print(f"[done before, {rec['seconds']:.1f} s] {step.command}", flush=True)
        return rec
    print(f"[run] {step.command}", flush=True)
    t0 = time.time()
    rc = cli.main(step.argv)
    if rc != 0:
        raise SystemExit(f"miniature: step {step.name} failed with exit status {rc}: {step.command}")
    rec = {"command": step.command, "seconds": round(time.time() - t0, 1),
           "finished": datetime.now().isoformat(timespec="seconds"), "load_1min": round(os.getloadavg()[0], 2)}
    if step.train_dir:  # the final model is kept; the resume checkpoints are no longer needed
        for ckpt in step.train_dir.glob("checkpoint-*"):
            shutil.rmtree(ckpt)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(rec, indent=2) + "\n")
    return rec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="run folder (default runs/miniature; with --quick runs/miniature-quick)")
    parser.add_argument("--quick", action="store_true",
                        help="the whole pipeline at tiny sizes, a couple of steps each (about a minute)")
    parser.add_argument("--model", default="tiny-geosynth", help="base model (default: the shipped tiny-geosynth)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on the 2 cores shared with other jobs, two threads made "
                             "GRPO steps 2-3x slower and --quick 5x slower)")
    parser.add_argument("--part", choices=["rec", "cv"],
                        help="run one half only (REC, or cross-view with geolocalization): two processes, one per "
                             "half, share two cores; the page is written by whichever finishes last")
    parser.add_argument("--results", type=Path,
                        help="results page to write (default docs/results.md; with --quick OUT/results.md)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    out = Path(args.out or ("runs/miniature-quick" if args.quick else "runs/miniature"))
    results = args.results or (out / "results.md" if args.quick else REPO / "docs" / "results.md")
    settings = {"sizes": cfg, "model": args.model, "seed": args.seed}
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "settings.json"
    if cfg_path.is_file() and json.loads(cfg_path.read_text()) != settings:
        raise SystemExit(f"miniature: {out} holds a run with other settings ({cfg_path}); use another --out")
    cfg_path.write_text(json.dumps(settings, indent=2) + "\n")
    import torch

    torch.set_num_threads(args.threads)

    todo = plan(cfg, out, args.model, args.seed)
    for step in todo:
        if args.part in (None, half(step)):
            run_step(step, out)
    done = {s.name: out / "steps" / f"{s.name}.json" for s in todo}
    left = [name for name, marker in done.items() if not marker.is_file()]
    if left:
        print(f"\nthe page waits for {len(left)} step(s) of the other half (first: {left[0]})")
        return 0
    markers = {name: json.loads(marker.read_text()) for name, marker in done.items()}
    command = "python benchmarks/miniature.py" + (" " + shlex.join(argv) if argv else "")
    results.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO / "benchmarks"))  # the page module, and base_model's baselines
    from miniature_page import results_page

    results.write_text(results_page(cfg, out, args.model, markers, command, results))
    print(f"\nwrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

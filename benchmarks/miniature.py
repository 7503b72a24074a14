"""The papers' experiment in miniature: both halves of Geo-R1 on GeoSynth with the tiny model, on a CPU.

  .venv/bin/python benchmarks/miniature.py            # about 45 minutes on 2 CPU cores; writes docs/results.md
  .venv/bin/python benchmarks/miniature.py --quick    # under a minute; writes runs/miniature-quick/results.md

1. Few-shot REC (arXiv 2509.21976) on GeoSynth's held-out categories: nested 1/5/10-shot training
   sets in style A; the base model zero-shot, SFT, GRPO and DAPO, each scored with Acc@0.5 and
   Acc@0.7 on a held-out-category test set in style A and, for cross-style transfer, in style B.
2. Cross-view pairing with K = 4 candidates (arXiv 2510.00072): the base model, Geo-SFT (SFT on the
   programmatic teacher's rationales, made by ``geor1 engine``), GRPO-Zero (GRPO from the base) and
   GRPO after Geo-SFT; accuracy and mean completion length.

Every step is a ``geor1`` command run in this process (``geor1.cli.main``), so the commands the
results page lists are exactly what ran. A finished step leaves ``OUT/steps/<step>.json`` (its
command and wall time) and is skipped on a rerun; an interrupted one continues where it stopped
(training from its last checkpoint, evaluation from its predictions). The page is written from the
evaluation summaries: tables, whether each target was met, wall times, date and machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CV_PIXELS = 12544  # 112 x 112 per image, as recipes tiny/grpo_crossview and tiny/sft_crossview

# Step counts for about 45 minutes in all: a REC GRPO step with think-first completions (16 of them,
# 117 tokens on average) took 7.7 s with one torch thread on the 2 shared cores (6-24 s with two: the
# threads of concurrent jobs fight); answer-only completions (about 30 tokens) are several times
# cheaper, so the REC runs take 40 steps. A 64-sample evaluation: about 12 s of generation.
FULL = dict(pool=150, test=64, shots=[1, 5, 10], rec_tokens=48, sft_steps=40, rl_steps=40,
            cv_train=200, cv_test=64, cv_tokens=384, cv_sft_steps=50, cv_rl_steps=20,
            rl_set=[], sft_set=[], save_steps=10)
QUICK = dict(pool=20, test=4, shots=[1, 2], rec_tokens=16, sft_steps=2, rl_steps=1,
             cv_train=6, cv_test=4, cv_tokens=16, cv_sft_steps=2, cv_rl_steps=1,
             rl_set=["trainer.per_device_train_batch_size=4", "trainer.num_generations=2"],
             sft_set=["trainer.per_device_train_batch_size=2"], save_steps=1000)

REC_METHODS = {"sft": ("SFT", "sft", "tiny/sft_rec"), "grpo": ("GRPO", "grpo", "tiny/grpo_rec"),
               "dapo": ("DAPO", "grpo", "tiny/dapo_rec")}
CV_RUNS = {"base": "base", "geo-sft": "Geo-SFT", "grpo-zero": "GRPO-Zero", "geo-sft-grpo": "GRPO (after Geo-SFT)"}

# The papers' figures (../shared/GEO-R1.md): VRSBench-FS Acc@0.5 / Acc@0.7 and cross-view pairing.
PAPER_REC = [("SFT", 1, 32.75, None), ("GRPO", 1, 45.78, None), ("SFT", 10, 38.29, 17.78),
             ("GRPO", 10, 50.59, 30.61), ("DAPO", 10, 52.74, 31.84)]
PAPER_CV = [("Qwen2.5-VL-7B (base)", 19.0, 204.6), ("Geo-SFT", 23.1, 1127.6), ("Geo-R1-Zero", 78.1, 587.4),
            ("Geo-R1 (GRPO after Geo-SFT)", 82.4, 378.8)]


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

    def train(name: str, method: str, recipe: str, start, train_data: Path, max_steps: int, extra: list[str]) -> Path:
        """A training step from ``start`` (a model name or folder); returns its output_dir."""
        run = out / name
        sets = [f"model.name={start}", f"data.train=[{train_data}]", f"trainer.output_dir={run}",
                f"trainer.max_steps={max_steps}", f"trainer.save_steps={cfg['save_steps']}",
                "trainer.save_total_limit=1", "trainer.report_to=[]", f"trainer.seed={seed}", *extra]
        todo.append(Step(f"{name}/train", ["train", method, recipe, *[a for s in sets for a in ("--set", s)]], run))
        return run

    cats = ["--categories", "held-out"]
    add("data/rec_pool", "synth", "rec", "--n", cfg["pool"], "--seed", seed + 1, *cats, "--split", "train",
        "--out", data / "rec_pool")
    for style, s in (("A", 2), ("B", 3)):
        add(f"data/rec_test_{style}", "synth", "rec", "--n", cfg["test"], "--seed", seed + s, "--style", style, *cats,
            "--split", "test", "--out", data / f"rec_test_{style}")
    add("data/rec_fs", "fewshot", data / "rec_pool", "--shots", ",".join(map(str, cfg["shots"])), "--seed", seed,
        "--out", data / "rec_fs")

    def rec_evals(name: str, m: str, extra: list[str] = ()):
        for style in "AB":
            add(f"rec/{name}/eval-{style}", *_eval(m, data / f"rec_test_{style}", out / "rec" / name / f"eval-{style}",
                                                   cfg["rec_tokens"], extra))

    # The tiny REC recipes ask for the answer alone (think: false), so every REC model is evaluated so.
    rec_evals("base", model, ["--no-think"])
    # The base model on the categories it was pretrained on (issue target: Acc@0.5 >= 40 %).
    add("data/rec_seen", "synth", "rec", "--n", cfg["test"], "--seed", seed + 6, "--categories", "seen", "--split",
        "test", "--out", data / "rec_seen")
    add("rec/base/eval-seen", *_eval(model, data / "rec_seen", out / "rec" / "base" / "eval-seen", cfg["rec_tokens"],
                                     ["--no-think"]))
    for k in cfg["shots"]:
        for key, (_, method, recipe) in REC_METHODS.items():
            extra = cfg["sft_set"] if method == "sft" else [f"trainer.max_completion_length={cfg['rec_tokens']}",
                                                            *cfg["rl_set"]]
            run = train(f"rec/{key}-{k}shot", method, recipe, model, data / "rec_fs" / f"{k}shot",
                        cfg["sft_steps"] if method == "sft" else cfg["rl_steps"], extra)
            rec_evals(f"{key}-{k}shot", run / "final", ["--no-think"])

    for split, n, s in (("train", cfg["cv_train"], 4), ("test", cfg["cv_test"], 5)):
        add(f"data/cv_{split}", "synth", "crossview", "--n", n, "--seed", seed + s, "--size", 112, "--k", 4,
            "--out", data / f"cv_{split}")
    add("data/cv_sft", "engine", "--teacher", "programmatic", "--data", data / "cv_train", "--out", data / "cv_sft",
        "--frame", model, "--no-progress")
    rl = [f"trainer.max_completion_length={cfg['cv_tokens']}", *cfg["rl_set"]]
    sft = train("cv/geo-sft", "sft", "tiny/sft_crossview", model, data / "cv_sft" / "sft_messages.jsonl",
                cfg["cv_sft_steps"], cfg["sft_set"])
    train("cv/grpo-zero", "grpo", "tiny/grpo_crossview", model, data / "cv_train", cfg["cv_rl_steps"], rl)
    train("cv/geo-sft-grpo", "grpo", "tiny/grpo_crossview", sft / "final", data / "cv_train", cfg["cv_rl_steps"], rl)
    pixels = ["--min-pixels", CV_PIXELS, "--max-pixels", CV_PIXELS]
    for name in CV_RUNS:
        m = model if name == "base" else out / "cv" / name / "final"
        add(f"cv/{name}/eval", *_eval(m, data / "cv_test", out / "cv" / name / "eval", cfg["cv_tokens"], pixels))
    return todo


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


# ---------------------------------------------------------------------------------------------
# The results page


def summary(out: Path, run: str, ev: str) -> dict:
    return json.loads((out / run / ev / "summary.json").read_text())


def rec_metrics(out: Path, run: str, style: str) -> dict:
    return summary(out, run, f"eval-{style}")["tasks"]["rec"]["metrics"]


def cv_metrics(out: Path, run: str) -> dict:
    return summary(out, run, "eval")["tasks"]["crossview"]["metrics"]


def pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def _machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpu}, {cores} CPU cores, {platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def _model_id(model: str) -> str:
    from geor1.models import TINY_NAMES

    weights = Path(TINY_NAMES.get(model, model)) / "model.safetensors"
    if not weights.is_file():
        return f"`{model}`"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    return f"`{model}` (`model.safetensors` sha256 {digest}…)"


def results_page(cfg: dict, out: Path, model: str, markers: dict[str, dict], command: str, results: Path) -> str:
    import torch

    k = cfg["shots"][-1]
    secs = lambda name: markers[name]["seconds"]
    lines = [
        "# Results: the papers' experiment in miniature",
        "",
        f"Written by `{command}` on {date.today().isoformat()}; every number below is read from the "
        f"evaluation summaries under `{out}`. Machine: {_machine()}; torch used {torch.get_num_threads()} "
        f"thread(s). The cores may have been shared with other jobs: the mean 1-minute load average at the end "
        f"of the steps was {sum(m['load_1min'] for m in markers.values()) / len(markers):.2f} (above the number "
        f"of cores, the wall times include waiting). "
        f"Total wall time of the steps: {sum(m['seconds'] for m in markers.values()) / 60:.1f} min.",
        "",
        f"Base model: {_model_id(model)}; what was tried to pretrain the tiny base model is in "
        f"[pretraining.md]({os.path.relpath(REPO / 'docs' / 'pretraining.md', results.parent)}).",
        "",
        "## 1. Few-shot REC on GeoSynth held-out categories",
        "",
        f"Training: nested {'/'.join(map(str, cfg['shots']))}-shot sets per held-out category (5 categories) "
        f"from a style-A pool of {cfg['pool']}; SFT {cfg['sft_steps']} steps, GRPO and DAPO {cfg['rl_steps']} steps "
        f"(completions of at most {cfg['rec_tokens']} tokens). Test: {cfg['test']} held-out-category samples in "
        "style A and in style B (the other sensor style: cross-style transfer), greedy decoding. Acc@t = share of "
        "test samples with IoU > t, in percent. Every model is asked for the answer alone, without the think "
        "template: the shipped tiny base model was pretrained that way, and the tiny REC recipes (SFT, GRPO, "
        "DAPO) train that way (see pretraining.md); the GPU recipes think first.",
        "",
        "| method | shots | Acc@0.5 (A) | Acc@0.7 (A) | Acc@0.5 (B) | Acc@0.7 (B) | train (s) | run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("base (zero-shot)", 0, "base")] + [(label, n, f"{key}-{n}shot") for key, (label, _, _) in
                                                  REC_METHODS.items() for n in cfg["shots"]]
    for label, n, run in rows:
        a, b = rec_metrics(out / "rec", run, "A"), rec_metrics(out / "rec", run, "B")
        train_s = f"{secs(f'rec/{run}/train'):.0f}" if run != "base" else "–"
        lines.append(f"| {label} | {n} | {pct(a['acc_at_05'])} | {pct(a['acc_at_07'])} | {pct(b['acc_at_05'])} "
                     f"| {pct(b['acc_at_07'])} | {train_s} | rec/{run} |")
    seen = rec_metrics(out / "rec", "base", "seen")
    lines += ["", f"The base model on {cfg['test']} samples of the *seen* categories (style A, the pretraining "
              f"distribution): Acc@0.5 {pct(seen['acc_at_05'])}, Acc@0.7 {pct(seen['acc_at_07'])}, "
              f"mean IoU {seen['mean_iou']:.3f}."]
    lines += ["", "The papers' VRSBench-FS figures (Qwen2.5-VL-3B, 26 categories), Acc@0.5 / Acc@0.7:", "",
              "| method | shots | Acc@0.5 | Acc@0.7 |", "|---|---|---|---|"]
    lines += [f"| {m} | {n} | {a} | {'–' if b is None else b} |" for m, n, a, b in PAPER_REC]

    lines += ["", "## 2. Cross-view pairing (K = 4, chance 25 %)", "",
              f"Training: {cfg['cv_train']} GeoSynth ground-to-aerial questions (112 px images, half with hard "
              f"distractors); Geo-SFT on the programmatic teacher's rationales ({cfg['cv_sft_steps']} steps), GRPO "
              f"{cfg['cv_rl_steps']} steps (accuracy + format + cosine length + repetition rewards, completions of at "
              f"most {cfg['cv_tokens']} tokens). Test: {cfg['cv_test']} questions, greedy decoding.", "",
              "| method | accuracy (%) | mean completion length (tokens) | train (s) | run |", "|---|---|---|---|---|"]
    for run, label in CV_RUNS.items():
        m = cv_metrics(out / "cv", run)
        train_s = f"{secs(f'cv/{run}/train'):.0f}" if run != "base" else "–"
        lines.append(f"| {label} | {pct(m['accuracy'])} | {m['mean_tokens']:.1f} | {train_s} | cv/{run} |")
    lines += ["", "The papers' figures (Qwen2.5-VL-7B, CV-Cities):", "",
              "| method | accuracy (%) | mean completion length (tokens) |", "|---|---|---|"]
    lines += [f"| {m} | {a} | {t} |" for m, a, t in PAPER_CV]

    lines += ["", "## Targets (issue #6), computed from the tables", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'no'} |" for t, m, ok in targets(out, k)]

    lines += ["", "## Commands and wall times", "",
              "Each step, exactly as it ran (in the script's process, via `geor1.cli.main`), with its wall time:",
              "", "```bash"]
    lines += [f"{m['command']}  # {m['seconds']:.1f} s" for m in markers.values()]
    lines += ["```", ""]
    return "\n".join(lines)


def targets(out: Path, k: int) -> list[tuple[str, str, bool]]:
    """``(target, measured, met)`` rows, computed from the eval summaries."""
    rec = lambda run, style: rec_metrics(out / "rec", f"{run}-{k}shot", style)["acc_at_05"]
    g_a, s_a, g_b, s_b = rec("grpo", "A"), rec("sft", "A"), rec("grpo", "B"), rec("sft", "B")
    cv = cv_metrics(out / "cv", "geo-sft-grpo")["accuracy"]
    seen = rec_metrics(out / "rec", "base", "seen")["acc_at_05"]
    return [
        ("base tiny model: Acc@0.5 ≥ 40 % on seen-category GeoSynth REC", pct(seen), seen >= 0.40),
        (f"GRPO ≥ SFT + 5 points Acc@0.5 at {k}-shot (style A)", f"GRPO {pct(g_a)}, SFT {pct(s_a)}",
         100 * g_a >= 100 * s_a + 5),
        (f"GRPO keeps its lead on style B ({k}-shot Acc@0.5)", f"GRPO {pct(g_b)}, SFT {pct(s_b)}",
         g_a > s_a and g_b > s_b),
        ("cross-view GRPO (after Geo-SFT) ≥ 60 %", f"{pct(cv)}", cv >= 0.60),
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="run folder (default runs/miniature; with --quick runs/miniature-quick)")
    parser.add_argument("--quick", action="store_true",
                        help="the whole pipeline at tiny sizes, a couple of steps each (about a minute)")
    parser.add_argument("--model", default="tiny-geosynth", help="base model (default: the shipped tiny-geosynth)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on the 2 cores shared with other jobs, two threads made "
                             "GRPO steps 2-3x slower and --quick 5x slower)")
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

    markers = {step.name: run_step(step, out) for step in plan(cfg, out, args.model, args.seed)}
    command = "python benchmarks/miniature.py" + (" " + shlex.join(argv) if argv else "")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(results_page(cfg, out, args.model, markers, command, results))
    print(f"\nwrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

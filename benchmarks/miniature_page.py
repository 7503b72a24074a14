"""The results page of ``benchmarks/miniature.py``: every number read from the evaluation folders.

Cells trained with several seeds show mean ± standard deviation over the seeds. A difference
between two methods is computed per test sample on the seed-averaged score (both methods scored
the same samples) with a paired bootstrap 95 % interval over the samples; the seeds' spread is
the ± beside each cell.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
from miniature import CV_RUNS, PAPER_CV, PAPER_REC, REC_METHODS, REC_TESTS, REPO, cv_seeds, rec_seeds, run_name

from geor1.evaluation.evaluate import read_predictions
from geor1.report.compare import paired_bootstrap
from geor1.tasks import get_task

GEO_KM = (1, 25, 200, 750, 2500)


def summary_metrics(folder: Path, task: str) -> dict:
    return json.loads((folder / "summary.json").read_text())["tasks"][task]["metrics"]


@cache
def scores(folder: Path) -> tuple[dict, ...]:
    """An evaluation's score records in id order, read once however many tables use them."""
    recs = read_predictions(folder / "predictions.jsonl", repair=False)
    return tuple(recs[i]["score"] for i in sorted(recs))


def per_sample(folders: list[Path], task: str, metric: str) -> np.ndarray:
    """``(seeds, samples)`` per-sample values whose mean is ``metric``, samples in id order."""
    value = get_task(task).per_sample(metric)
    return np.array([[value(s) for s in scores(f)] for f in folders], dtype=np.float64)


def cell(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    """``12.5`` for one seed, ``12.5 ± 1.6`` for several (sample standard deviation)."""
    v = scale * np.asarray(values, dtype=np.float64)
    text = f"{v.mean():.{digits}f}"
    return text + (f" ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else "")


def difference(first: list[Path], second: list[Path], task: str, metric: str) -> tuple[float, float, float]:
    """``second - first`` on the seed-averaged per-sample values, with its paired bootstrap interval."""
    a, b = per_sample(first, task, metric).mean(axis=0), per_sample(second, task, metric).mean(axis=0)
    return paired_bootstrap(a, b)


def shown_diff(d: tuple[float, float, float]) -> tuple[str, str]:
    return f"{100 * d[0]:+.1f}", f"[{100 * d[1]:+.1f}, {100 * d[2]:+.1f}]"


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
    return f"`{model}` (`model.safetensors` sha256 {hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}…)"


class Runs:
    """Folder lookups for one experiment folder."""

    def __init__(self, cfg: dict, out: Path, markers: dict[str, dict]):
        self.cfg, self.out, self.markers = cfg, out, markers

    def rec(self, key: str, k: int) -> list[str]:
        """Run names of a REC method at k shots, one per seed (``base`` for the base model)."""
        return ["base"] if key == "base" else [run_name(f"{key}-{k}shot", i) for i in rec_seeds(self.cfg, k)]

    def rec_evals(self, key: str, k: int, test: str) -> list[Path]:
        return [self.out / "rec" / r / f"eval-{test}" for r in self.rec(key, k)]

    def cv(self, run: str) -> list[str]:
        return [run_name(run, i) for i in cv_seeds(self.cfg, run)]

    def cv_evals(self, run: str, ev: str = "eval") -> list[Path]:
        return [self.out / "cv" / r / ev for r in self.cv(run)]

    def train_seconds(self, prefix: str, names: list[str]) -> str:
        secs = [self.markers[f"{prefix}/{n}/train"]["seconds"] for n in names if f"{prefix}/{n}/train" in self.markers]
        return f"{np.mean(secs):.0f}" if secs else "–"


def rec_section(r: Runs) -> list[str]:
    from base_model import rec_baselines

    cfg = r.cfg
    tests = ", ".join(f"{label} (`rec_test_{key}`)" for key, (label, _, _) in REC_TESTS.items())
    lines = ["## 1. Few-shot REC on GeoSynth held-out categories", "",
             f"Training: nested {'/'.join(map(str, cfg['shots']))}-shot sets per held-out category (5 categories) "
             f"drawn from a style-A pool of {cfg['pool']}, one draw per seed; SFT {cfg['sft_steps']} steps, GRPO and "
             f"DAPO {cfg['rl_steps']} steps (completions of at most {cfg['rec_tokens']} tokens). Seeds: "
             f"{cfg['seeds']} (k-shot draw and trainer seed) at {', '.join(map(str, cfg['seeded_shots']))} shots, "
             f"one otherwise. Test: {cfg['test']} held-out-category samples in each of {tests}; greedy decoding. "
             "Acc@t = share of test samples with IoU > t, in percent. Every model answers without the think template "
             "(the tiny base model was pretrained that way; the GPU recipes think first). DAPO is `tiny/dapo_rec`: "
             "clip-higher, token-level loss, no KL, overlong filtering and punishment, dynamic sampling.", "",
             "| method | shots | seeds | Acc@0.5 (A) | Acc@0.7 (A) | mean IoU (A) | Acc@0.5 (B) | Acc@0.5 (C) | "
             "train (s) | run |", "|---|---|---|---|---|---|---|---|---|---|"]
    rows = [("base (zero-shot)", "base", 0)] + [(label, key, k) for key, (label, _, _) in REC_METHODS.items()
                                                for k in cfg["shots"]]
    for label, key, k in rows:
        m = {t: [summary_metrics(f, "rec") for f in r.rec_evals(key, k, t)] for t in REC_TESTS}
        names = r.rec(key, k)
        lines.append(f"| {label} | {k} | {len(names)} | {cell([x['acc_at_05'] for x in m['A']])} "
                     f"| {cell([x['acc_at_07'] for x in m['A']])} | {cell([x['mean_iou'] for x in m['A']], 1, 3)} "
                     f"| {cell([x['acc_at_05'] for x in m['B']])} | {cell([x['acc_at_05'] for x in m['C']])} "
                     f"| {r.train_seconds('rec', names) if key != 'base' else '–'} | rec/{names[0]} |")
    base = {t: rec_baselines(r.out / "data" / f"rec_test_{t}") for t in REC_TESTS}
    for name, label in (("centre", "constant centred box (baseline)"),
                        ("random_same_category", "random object of the queried category (baseline)")):
        lines.append(f"| {label} | – | – | {cell([base['A'][f'{name}.acc_at_05']])} | – "
                     f"| {cell([base['A'][f'{name}.mean_iou']], 1, 3)} | {cell([base['B'][f'{name}.acc_at_05']])} "
                     f"| {cell([base['C'][f'{name}.acc_at_05']])} | – | – |")
    seen = summary_metrics(r.out / "rec" / "base" / "eval-seen", "rec")
    lines += ["", f"The base model on {cfg['test']} samples of the *seen* categories (style A, the pretraining "
              f"distribution): Acc@0.5 {cell([seen['acc_at_05']])}, Acc@0.7 {cell([seen['acc_at_07']])}, "
              f"mean IoU {seen['mean_iou']:.3f}."]
    lines += ["", "Differences (Acc@0.5, points; per-sample on the seed average, paired bootstrap 95 % interval):", "",
              "| comparison | test | seeds | difference | 95 % interval |", "|---|---|---|---|---|"]
    for first, second, k, test in comparisons(cfg):
        d = difference(r.rec_evals(first, k, test), r.rec_evals(second, k, test), "rec", "acc_at_05")
        text, interval = shown_diff(d)
        lines.append(f"| {REC_METHODS[second][0]} − {REC_METHODS[first][0]}, {k}-shot | {REC_TESTS[test][0]} "
                     f"| {len(r.rec(second, k))} | {text} | {interval} |")
    lines += ["", "The papers' VRSBench-FS figures (Qwen2.5-VL-3B, 26 categories), Acc@0.5 / Acc@0.7:", "",
              "| method | shots | Acc@0.5 | Acc@0.7 |", "|---|---|---|---|"]
    lines += [f"| {m} | {n} | {a} | {'–' if b is None else b} |" for m, n, a, b in PAPER_REC]
    return lines


def comparisons(cfg: dict) -> list[tuple[str, str, int, str]]:
    lo, hi = cfg["shots"][0], cfg["shots"][-1]
    return [("sft", "grpo", hi, "A"), ("sft", "grpo", hi, "B"), ("sft", "grpo", hi, "C"), ("sft", "grpo", lo, "A"),
            ("grpo", "dapo", hi, "A"), ("sft", "dapo", hi, "A")]


def cv_section(r: Runs) -> list[str]:
    cfg = r.cfg
    lines = ["## 2. Cross-view pairing (K = 4, chance 25 %)", "",
             f"Training: {cfg['cv_train']} GeoSynth ground-to-aerial questions (112 px images, half with hard "
             f"distractors); Geo-SFT on the programmatic teacher's rationales ({cfg['cv_sft_steps']} steps), GRPO "
             f"{cfg['cv_rl_steps']} steps (accuracy + format + cosine length + repetition rewards, completions of at "
             f"most {cfg['cv_tokens']} tokens). Test: {cfg['cv_test']} questions, greedy decoding.", "",
             "| method | seeds | accuracy (%) | mean completion length (tokens) | train (s) | run |",
             "|---|---|---|---|---|---|"]
    for run, label in CV_RUNS.items():
        m = [summary_metrics(f, "crossview") for f in r.cv_evals(run)]
        names = r.cv(run)
        lines.append(f"| {label} | {len(names)} | {cell([x['accuracy'] for x in m])} "
                     f"| {cell([x['mean_tokens'] for x in m], 1)} "
                     f"| {r.train_seconds('cv', names) if run != 'base' else '–'} | cv/{names[0]} |")
    lines.append("| chance (baseline) | – | 25.0 | – | – | – |")
    lines += ["", "| comparison | difference (points) | 95 % interval |", "|---|---|---|"]
    for first, second in (("geo-sft", "geo-sft-grpo"), ("base", "grpo-zero")):
        text, interval = shown_diff(difference(r.cv_evals(first), r.cv_evals(second), "crossview", "accuracy"))
        lines.append(f"| {CV_RUNS[second]} − {CV_RUNS[first]} | {text} | {interval} |")
    lines += ["", "The papers' figures (Qwen2.5-VL-7B, CV-Cities):", "",
              "| method | accuracy (%) | mean completion length (tokens) |", "|---|---|---|"]
    lines += [f"| {m} | {a} | {t} |" for m, a, t in PAPER_CV]

    lines += ["", "## 3. Geolocalization before and after cross-view RL (out of task)", "",
              f"The same models on {cfg['geo_test']} GeoSynth ground photos (where on Earth?), never trained on "
              "this task here; share of answers within each distance, in percent (an unreadable answer counts as "
              "the farthest guess).", "",
              "| method | seeds | " + " | ".join(f"≤ {t} km" for t in GEO_KM) + " | answers parsed | run |",
              "|---|---|" + "---|" * len(GEO_KM) + "---|---|"]
    for run, label in CV_RUNS.items():
        m = [summary_metrics(f, "geoloc") for f in r.cv_evals(run, "eval-geo")]
        lines.append(f"| {label} | {len(m)} | " + " | ".join(cell([x[f'acc_{t}km'] for x in m]) for t in GEO_KM)
                     + f" | {cell([x['parse_rate'] for x in m])} | cv/{r.cv(run)[0]} |")
    text, interval = shown_diff(geo_difference(r, 750))
    lines += ["", f"GRPO (after Geo-SFT) − base, within 750 km: {text} points, 95 % interval {interval}."]
    return lines


def geo_difference(r: Runs, km: int) -> tuple[float, float, float]:
    return difference(r.cv_evals("base", "eval-geo"), r.cv_evals("geo-sft-grpo", "eval-geo"), "geoloc", f"acc_{km}km")


def targets(r: Runs) -> list[tuple[str, str, bool]]:
    """``(target, measured, met)`` rows of issue #17, computed from the evaluation folders."""
    cfg = r.cfg
    lo, hi = cfg["shots"][0], cfg["shots"][-1]
    rec = lambda a, b, k, t: difference(r.rec_evals(a, k, t), r.rec_evals(b, k, t), "rec", "acc_at_05")
    acc = lambda key, k: np.mean([summary_metrics(f, "rec")["acc_at_05"] for f in r.rec_evals(key, k, "A")])
    cv = lambda run, m: np.mean([summary_metrics(f, "crossview")[m] for f in r.cv_evals(run)])
    g_a, g_b, g_lo = rec("sft", "grpo", hi, "A"), rec("sft", "grpo", hi, "B"), rec("sft", "grpo", lo, "A")
    geo = lambda run: [np.mean([summary_metrics(f, "geoloc")[f"acc_{t}km"] for f in r.cv_evals(run, "eval-geo")])
                       for t in GEO_KM]
    before, after = geo("base"), geo("geo-sft-grpo")
    d750 = geo_difference(r, 750)
    seen = summary_metrics(r.out / "rec" / "base" / "eval-seen", "rec")["acc_at_05"]
    diff = lambda d: f"{shown_diff(d)[0]} points {shown_diff(d)[1]}"
    return [
        (f"{hi}-shot GRPO ≥ SFT + 12 points Acc@0.5 (A), interval excluding 0", diff(g_a),
         g_a[0] >= 0.12 and g_a[1] > 0),
        (f"DAPO ≥ GRPO ({hi}-shot, A)", f"DAPO {100 * acc('dapo', hi):.1f}, GRPO {100 * acc('grpo', hi):.1f}",
         acc("dapo", hi) >= acc("grpo", hi)),
        (f"GRPO keeps its lead on style B ({hi}-shot), interval excluding 0", diff(g_b), g_b[0] > 0 and g_b[1] > 0),
        (f"{lo}-shot GRPO ≥ SFT + 10 points Acc@0.5 (A)", diff(g_lo), g_lo[0] >= 0.10),
        ("cross-view GRPO after Geo-SFT ≥ 85 %", f"{100 * cv('geo-sft-grpo', 'accuracy'):.1f}",
         cv("geo-sft-grpo", "accuracy") >= 0.85),
        ("cross-view GRPO-Zero ≥ 75 %", f"{100 * cv('grpo-zero', 'accuracy'):.1f}", cv("grpo-zero", "accuracy") >= 0.75),
        ("Geo-SFT completions longer than GRPO's (after Geo-SFT)",
         f"{cv('geo-sft', 'mean_tokens'):.1f} vs {cv('geo-sft-grpo', 'mean_tokens'):.1f} tokens",
         cv("geo-sft", "mean_tokens") > cv("geo-sft-grpo", "mean_tokens")),
        ("geolocalization after cross-view GRPO ≥ base at every threshold",
         ", ".join(f"{100 * b:.1f}→{100 * a:.1f}" for b, a in zip(before, after)),
         all(a >= b for a, b in zip(after, before))),
        ("… and ≥ base + 3 points within 750 km", diff(d750), d750[0] >= 0.03),
        ("(issue #16, for reference) base model Acc@0.5 ≥ 40 % on seen-category REC", f"{100 * seen:.1f}",
         seen >= 0.40),
    ]


def results_page(cfg: dict, out: Path, model: str, markers: dict[str, dict], command: str, results: Path) -> str:
    import torch

    scores.cache_clear()  # a rerun in the same process reads the folders afresh
    r = Runs(cfg, out, markers)
    lines = [
        "# Results: the papers' experiment in miniature", "",
        f"Written by `{command}` on {date.today().isoformat()}; every number below is read from the "
        f"evaluation folders under `{out}`. Machine: {_machine()}; torch used {torch.get_num_threads()} "
        f"thread(s). The cores may have been shared with other jobs: the mean 1-minute load average at the end "
        f"of the steps was {sum(m['load_1min'] for m in markers.values()) / len(markers):.2f} (above the number "
        f"of cores, the wall times include waiting). "
        f"Total wall time of the steps: {sum(m['seconds'] for m in markers.values()) / 60:.1f} min.", "",
        f"Base model: {_model_id(model)}; how the tiny base model was pretrained, and why it is weak, is in "
        f"[pretraining.md]({os.path.relpath(REPO / 'docs' / 'pretraining.md', results.parent)}).", "",
        "Tuning: none. Every recipe ran as shipped (`tiny/sft_rec`, `tiny/grpo_rec`, `tiny/dapo_rec`, "
        "`tiny/sft_crossview`, `tiny/grpo_crossview`), with the step counts above; the test sets were only "
        "evaluated. A recipe change belongs on a validation split (`geor1 synth ... --split val` with a seed no "
        "test set uses), never on these test seeds.", "",
    ]
    lines += rec_section(r) + [""] + cv_section(r)
    lines += ["", "## Targets (issue #17), computed from the tables", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'no'} |" for t, m, ok in targets(r)]
    lines += ["", "## Commands and wall times", "",
              "Each step, exactly as it ran (in the script's process, via `geor1.cli.main`), with its wall time:",
              "", "```bash"]
    lines += [f"{m['command']}  # {m['seconds']:.1f} s" for m in markers.values()]
    lines += ["```", ""]
    return "\n".join(lines)

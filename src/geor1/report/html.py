"""The HTML report of a run folder: one self-contained file (images inlined as base64 JPEG/PNG,
charts as inline SVG, CSS and a little vanilla JavaScript; no external URL).

What it shows, for whatever of these the run folder holds (layout: docs/evaluation.md):

- evaluation folders (``predictions.jsonl``, ``summary.json``): a headline table comparing them,
  per task the metric, reward and parse-failure tables; for geoloc a world map of predicted
  against true positions joined by great-circle error lines;
- a gallery of samples — the image with ground truth (green) against prediction (red), the
  reasoning text, the answer and each reward — failures first, filterable by evaluation, task,
  category and failure (at most ``max_samples`` per evaluation and about ``max_total`` in all, the
  worst first);
- training folders (``metrics.csv``, ``completions.csv``): curves of reward, per-reward means,
  KL, completion length, loss, ... (:mod:`geor1.report.plots`) and the completions sampled at
  the last logged step with their rewards.

A sample *fails* when (:func:`is_failure`): rec and gres IoU ≤ 0.5 (the Acc@0.5 rule), ovd
reward < 0.5, crossview a wrong letter, geoloc an error over 25 km (city level); an unreadable
answer always fails.
"""

from __future__ import annotations

import csv
import html
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from geor1.coords import frame_from_dict
from geor1.data.schema import Dataset, SchemaError, load_dataset
from geor1.drawing import data_uri
from geor1.evaluation.draw import draw_sample, load_images, read_prediction
from geor1.evaluation.evaluate import CONFIG, PREDICTIONS, SUMMARY_JSON, read_predictions, summarize
from geor1.io import atomic_write
from geor1.report.compare import deltas, human, shown, shown_delta
from geor1.report.plots import read_metrics, training_charts
from geor1.tasks import get_task, task_names
from geor1.tasks.common import answer_text, think_text

log = logging.getLogger("geor1.report")

METRICS_CSV, COMPLETIONS_CSV = "metrics.csv", "completions.csv"
REPORT_FILE = "report.html"


def headline() -> dict[str, list[str]]:
    """Each task's headline metrics (its ``HEADLINE``), in task order."""
    return {t: get_task(t).HEADLINE for t in task_names()}


# ---------------------------------------------------------------------------------------------
# Reading a run folder


@dataclass
class EvalRun:
    """One evaluation folder: its records (dataset order), summary, settings and dataset."""

    name: str
    path: Path
    records: list[dict]
    summary: dict | None
    config: dict | None
    dataset: Dataset | None = None
    notes: list[str] = field(default_factory=list)


def find_folders(run_dir: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """Evaluation folders (holding ``predictions.jsonl`` or ``summary.json``) and training folders
    (holding ``metrics.csv`` or ``completions.csv``) in ``run_dir`` and below, sorted by path;
    ``checkpoint-*`` and hidden folders are not searched."""
    evals, trains = [], []
    for root, dirs, files in os.walk(run_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "checkpoint-")))
        if PREDICTIONS in files or SUMMARY_JSON in files:
            evals.append(Path(root))
        if METRICS_CSV in files or COMPLETIONS_CSV in files:
            trains.append(Path(root))
    return evals, trains


def _read_json(path: Path, notes: list[str]) -> dict | None:
    """A JSON object from ``path``; None (and a note naming the file) when missing or unreadable."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        notes.append(f"{path} is unreadable ({e})")
        return None
    if not isinstance(value, dict):
        notes.append(f"{path} is not a JSON object")
        return None
    return value


def load_eval(path: Path, run_dir: Path) -> EvalRun:
    """Read an evaluation folder; what is missing or unreadable becomes a note, not an error."""
    name = str(path.relative_to(run_dir)) if path != run_dir else path.name
    notes: list[str] = []
    config, summary = _read_json(path / CONFIG, notes), _read_json(path / SUMMARY_JSON, notes)
    try:
        records = list(read_predictions(path / PREDICTIONS, repair=False).values())
    except (OSError, ValueError) as e:
        records = []
        notes.append(f"no samples shown: {e}")
    if summary is None and records:
        summary = {"tasks": summarize(records), "n": len(records)}
        notes.append("summary.json is missing (an interrupted run?): tables computed from predictions.jsonl")
    dataset = None
    data_dir = (config or (summary or {}).get("settings") or {}).get("data")
    if records and data_dir:
        try:
            dataset = load_dataset(data_dir)
        except (OSError, SchemaError) as e:
            notes.append(f"dataset {data_dir} could not be read ({e}): the gallery shows no images")
    elif records:
        notes.append("no config.json naming the dataset: the gallery shows no images")
    return EvalRun(name, path, records, summary, config, dataset, notes)


def read_last_completions(path: str | os.PathLike, limit: int = 12) -> tuple[float | None, list[dict]]:
    """The completions of the last step in a ``completions.csv`` (step, id, reward, value,
    completion; one row per reward): ``(step, [{"id", "completion", "rewards": {name: value}}])``."""
    csv.field_size_limit(sys.maxsize)
    last, rows = None, {}
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            try:
                step = float(r["step"])
            except (KeyError, TypeError, ValueError):
                continue
            if last is None or step > last:
                last, rows = step, {}
            if step == last:
                key = (r.get("id", ""), r.get("completion", ""))
                entry = rows.setdefault(key, {"id": key[0], "completion": key[1], "rewards": {}})
                entry["rewards"][r.get("reward", "?")] = r.get("value", "")
    return last, list(rows.values())[:limit]


# ---------------------------------------------------------------------------------------------
# Per-sample judgement


def quality(record: dict) -> float:
    """The sample's main measure in [0, 1], as its task says (``quality``)."""
    return get_task(record["task"]).quality(record["score"])


def is_failure(record: dict) -> bool:
    """Whether a sample failed, by its task's rule (``is_failure``; the rule's text is ``FAILURE_RULE``)."""
    return get_task(record["task"]).is_failure(record["score"])


# ---------------------------------------------------------------------------------------------
# HTML pieces

esc = html.escape


def _fmt(name: str, v) -> str:
    if v is None:
        return "–"
    if (
        isinstance(v, float)
        and (name == "n" or name.startswith("n_") or name == "samples")
        and v.is_integer()
    ):
        return str(int(v))
    if isinstance(v, float):
        v += 0.0  # -0.0 -> 0.0
        return f"{v:.4f}" if abs(v) < 1000 else f"{v:,.1f}"
    return esc(str(v))


def _table(rows: list[tuple], header: tuple) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def headline_table(evals: list[EvalRun]) -> str:
    heads = headline()
    tasks = [t for t in heads if any(t in (e.summary or {}).get("tasks", {}) for e in evals)]
    cols = [(t, m) for t in tasks for m in heads[t]]
    if not cols:
        return ""
    rows = []
    for e in evals:
        got = (e.summary or {}).get("tasks", {})
        rows.append(
            (
                esc(e.name),
                *[esc(shown(m, got.get(t, {}).get("metrics", {}).get(m))) if t in got else "" for t, m in cols],
            )
        )
    return _table(rows, ("evaluation", *[f"{t} {human(m)}" for t, m in cols]))


def used_rewards(rewards: dict, settings: dict | None) -> dict:
    """The rewards that mean something for this run: the format reward only when the model was asked
    for the think template (an answer-only run would show a format of 0 that reads as a failure)."""
    if settings and settings.get("think") is False:
        return {k: v for k, v in rewards.items() if k != "format"}
    return dict(rewards)


def started(e: EvalRun) -> float:
    """When an evaluation began (its config.json or first predictions), to list runs in order."""
    for name in (CONFIG, PREDICTIONS, SUMMARY_JSON):
        if (e.path / name).is_file():
            return (e.path / name).stat().st_mtime
    return 0.0


def comparison_section(evals: list[EvalRun]) -> str:
    """Evaluations of the same dataset side by side: each later one minus the earliest, with a
    paired bootstrap 95 % interval (the demo's base model against its fine-tuned model)."""
    groups: dict[str, list[EvalRun]] = {}
    for e in evals:
        data = ((e.summary or {}).get("settings") or e.config or {}).get("data")
        if data:
            groups.setdefault(data, []).append(e)
    tables = []
    for runs in groups.values():
        for later in runs[1:]:
            rows = deltas(runs[0], later, headline())
            if rows:
                tables.append(f"<h3>{esc(later.name)} against {esc(runs[0].name)}</h3>" + _table(
                    [(esc(f"{r['task']} {human(r['metric'])}"), esc(shown(r["metric"], r["before"])),
                      esc(shown(r["metric"], r["after"])), esc(shown_delta(r["metric"], r))) for r in rows],
                    ("metric", esc(runs[0].name), esc(later.name), "difference [95% interval]")))
    if not tables:
        return ""
    return ('<section id="compare"><h2>Before and after</h2><p class="meta">The same test samples; intervals '
            "from a paired bootstrap over them (2,000 resamples), for metrics that are means over samples.</p>"
            + "".join(tables) + "</section>")


def eval_section(e: EvalRun, anchor: str) -> str:
    parts = [f'<section id="{anchor}"><h2>Evaluation: {esc(e.name)}</h2>']
    s = (e.summary or {}).get("settings") or e.config or {}
    if s:
        if s.get("max_new_tokens") is None:
            decoding = "completions made elsewhere, scored here"
        else:
            decoding = (
                f"{'sampling T=' + str(s.get('temperature')) if s.get('do_sample') else 'greedy'}, "
                f"max {s['max_new_tokens']} new tokens"
            )
        parts.append(
            f'<p class="meta">model <code>{esc(str(s.get("model")))}</code>'
            + (f" checkpoint <code>{esc(str(s['checkpoint']))}</code>" if s.get("checkpoint") else "")
            + f" · data <code>{esc(str(s.get('data')))}</code> · {esc(decoding)} · "
            f"think={esc(str(s.get('think')))}</p>"
        )
    parts += [f'<p class="note">{esc(n)}</p>' for n in e.notes]
    tasks = (e.summary or {}).get("tasks", {})
    parts.append('<div class="tables">')
    for task, t in tasks.items():
        metrics = _table([(esc(human(k)), esc(shown(k, v)) if not k.startswith("n") else _fmt(k, v))
                          for k, v in t["metrics"].items()], ("metric", "value"))
        rewards = _table([(esc(k), _fmt(k, v)) for k, v in used_rewards(t["rewards"], s).items()], ("reward", "mean"))
        reasons = (
            _table([(esc(r["reason"]), r["count"]) for r in t.get("reasons", [])], ("parse failure", "count"))
            if t.get("reasons")
            else ""
        )
        parts.append(
            f'<div class="task-tables"><h3>{esc(task)} · {t["n"]} samples</h3>'
            f'<div class="row">{metrics}{rewards}{reasons}</div></div>'
        )
    parts.append("</div>")
    speed = (e.summary or {}).get("speed")
    if speed:
        parts.append("<h3>Speed</h3>" + _table([(esc(k), _fmt(k, v)) for k, v in speed.items()], ("", "")))
    for task in tasks:  # a task's own figure over all its samples (geoloc: the world map of errors)
        figure = getattr(get_task(task), "report_figure", None)
        recs = [r for r in e.records if r["task"] == task]
        if figure is not None and recs:
            parts.append(figure(recs))
    parts.append("</section>")
    return "".join(parts)


def _card(e: EvalRun, r: dict, thumb: int, frame) -> str:
    task, s = r["task"], r["score"]
    failed = is_failure(r)
    img_html = ""
    sample = None
    if e.dataset is not None:
        sample = next((x for x in e.dataset.samples if x.id == r["id"]), None)
    if sample is not None and frame is not None:
        try:
            prediction, _ = read_prediction(sample, r["completion"], frame)
            picture = draw_sample(sample, load_images(e.dataset, sample), prediction, max_side=thumb)
            img_html = f'<img alt="{esc(r["id"])}" src="{data_uri(picture)}">'
        except (OSError, SchemaError, ValueError) as err:  # a moved or broken image: say so, keep the card
            img_html = f'<p class="note">image unavailable: {esc(str(err))}</p>'
    settings = (e.summary or {}).get("settings") or e.config
    rewards = "".join(f"<tr><td>{esc(k)}</td><td>{_fmt(k, v)}</td></tr>"
                      for k, v in used_rewards(r["rewards"], settings).items())
    think = think_text(r["completion"])
    query = esc(sample.query) if sample is not None and sample.query else ""
    extra = esc(get_task(task).describe(s))
    tokens = f" ({r['num_tokens']} tokens, {esc(str(r.get('finish_reason')))})" if r.get("num_tokens") else ""
    return (
        f'<div class="card{" failed" if failed else ""}" data-eval="{esc(e.name)}" data-task="{esc(task)}" '
        f'data-category="{esc(r.get("category") or "")}" data-failed="{int(failed)}">'
        f'<div class="card-head"><span class="badge">{"FAIL" if failed else "OK"}</span> '
        f"<b>{esc(r['id'])}</b> · {esc(task)} · {esc(r.get('category') or '–')} · "
        f'<span class="eval-name">{esc(e.name)}</span></div>{img_html}'
        f'<p class="query">{query}</p><p class="extra">{extra}</p>'
        + (f'<p class="reason">unreadable: {esc(r["reason"])}</p>' if r.get("reason") else "")
        + f'<div class="label">reasoning</div><p class="think">{esc(think) or "<i>no &lt;think&gt; block</i>"}</p>'
        f'<div class="label">answer</div><pre>{esc(answer_text(r["completion"]))[:600]}</pre>'
        f'<table class="rewards">{rewards}</table>'
        f"<details><summary>raw output{tokens}</summary><pre>{esc(r['completion'])}</pre></details></div>"
    )


def per_evaluation(n_evals: int, max_samples: int, max_total: int) -> int:
    """Gallery cards per evaluation: ``max_samples``, shared out so that all evaluations together
    show about ``max_total`` (a run folder of 14 evaluations made a 72 MB page), at least 12 each."""
    return min(max_samples, max(12, max_total // max(n_evals, 1)))


def gallery(evals: list[EvalRun], max_samples: int, thumb: int) -> str:
    picked = []  # (failed, quality, evaluation, record): the worst max_samples of each evaluation
    for e in evals:
        scored = sorted(
            ((is_failure(r), quality(r), e, r) for r in e.records), key=lambda t: (not t[0], t[1])
        )
        picked += scored[:max_samples]
    if not picked:
        return ""
    picked.sort(key=lambda t: (not t[0], t[1]))  # failures first across evaluations, worst first
    frames = {}
    for e in evals:
        frame_d = (e.config or {}).get("frame") or (e.summary or {}).get("frame")
        frames[e.name] = frame_from_dict(frame_d) if frame_d else None
    cards = [_card(e, r, thumb, frames[e.name]) for _, _, e, r in picked]
    tasks = {r["task"] for *_, r in picked}
    cats = {r.get("category") or "" for *_, r in picked}

    def options(values):
        return '<option value="">all</option>' + "".join(
            f'<option value="{esc(v)}">{esc(v or "–")}</option>' for v in sorted(values)
        )

    shown = sum(min(len(e.records), max_samples) for e in evals)
    total = sum(len(e.records) for e in evals)
    return (
        f'<section id="gallery"><h2>Samples</h2><p class="meta">Green: ground truth. Red: prediction. '
        f"Failures first ({'; '.join(f'{t}: {get_task(t).FAILURE_RULE}' for t in sorted(tasks))}); "
        f"{shown} of {total} samples.</p>"
        f'<div class="filters"><label>evaluation <select id="f-eval">{options(e.name for e in evals)}</select></label>'
        f'<label>task <select id="f-task">{options(tasks)}</select></label>'
        f'<label>category <select id="f-cat">{options(cats)}</select></label>'
        f'<label><input type="checkbox" id="f-fail"> failures only</label> <span id="f-count"></span></div>'
        f'<div class="grid">{"".join(cards)}</div></section>'
    )


def training_section(path: Path, run_dir: Path, anchor: str) -> str:
    name = str(path.relative_to(run_dir)) if path != run_dir else path.name
    parts = [f'<section id="{anchor}"><h2>Training: {esc(name)}</h2>']
    if (path / METRICS_CSV).is_file():
        try:
            charts = training_charts(read_metrics(path / METRICS_CSV))
            parts.append(
                f'<div class="charts">{"".join(charts)}</div>'
                if charts
                else '<p class="note">metrics.csv holds none of the charted columns.</p>'
            )
        except (OSError, ValueError, csv.Error) as err:
            parts.append(f'<p class="note">metrics.csv unreadable: {esc(str(err))}</p>')
    if (path / COMPLETIONS_CSV).is_file():
        try:
            step, rows = read_last_completions(path / COMPLETIONS_CSV)
        except (OSError, csv.Error) as err:
            parts.append(f'<p class="note">completions.csv unreadable: {esc(str(err))}</p>')
        else:
            if rows:
                names = list(dict.fromkeys(k for r in rows for k in r["rewards"]))
                table = _table(
                    [
                        (
                            esc(str(r["id"])),
                            *[esc(str(r["rewards"].get(n, ""))) for n in names],
                            f"<pre>{esc(r['completion'][:400])}</pre>",
                        )
                        for r in rows
                    ],
                    ("id", *names, "completion"),
                )
                parts.append(f"<h3>Completions sampled at step {step:g}</h3>{table}")
    parts.append("</section>")
    return "".join(parts)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:16px 24px;color:#1b1b1b}
h1{font-size:22px;margin:8px 0} h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
h3{font-size:15px;margin:14px 0 6px} code{background:#f3f3f3;padding:0 3px;border-radius:3px}
table{border-collapse:collapse;margin:4px 0 10px;font-size:13px} th,td{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6} .meta{color:#555} .note{color:#8a5300;background:#fff6e5;padding:4px 8px;border-radius:4px}
.tables{display:flex;flex-wrap:wrap;gap:24px} .row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.scroll{overflow-x:auto;max-width:100%} .charts{display:flex;flex-wrap:wrap;gap:12px}
.chart,.map{border:1px solid #e3e3e3;max-width:100%;height:auto}
.filters{display:flex;gap:16px;align-items:center;margin:8px 0 12px;position:sticky;top:0;background:#fff;padding:6px 0;z-index:1}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px;background:#fff;overflow:hidden}
.card.failed{border-color:#f1a7ad} .card img{max-width:100%;display:block;margin:6px 0}
.card-head{font-size:13px} .badge{display:inline-block;padding:0 6px;border-radius:3px;background:#1f9d55;color:#fff;font-size:11px}
.card.failed .badge{background:#d62839} .query{font-style:italic;margin:4px 0} .extra{margin:2px 0;color:#333}
.reason{color:#b00020;margin:2px 0;font-size:12px} .label{font-size:11px;color:#777;text-transform:uppercase;margin-top:4px}
.think{margin:2px 0;font-size:13px;max-height:9em;overflow:auto;white-space:pre-wrap}
pre{white-space:pre-wrap;word-break:break-word;font-size:12px;background:#f7f7f7;padding:4px;margin:2px 0;max-height:12em;overflow:auto}
.rewards td{padding:1px 6px;font-size:12px} [hidden]{display:none!important}
"""

JS = """
(function () {
  var ids = ["f-eval", "f-task", "f-cat", "f-fail"];
  function value(id) { var el = document.getElementById(id); return el ? (el.type === "checkbox" ? el.checked : el.value) : ""; }
  function apply() {
    var ev = value("f-eval"), task = value("f-task"), cat = value("f-cat"), fail = value("f-fail"), n = 0;
    var cards = document.querySelectorAll(".card");
    for (var i = 0; i < cards.length; i++) {
      var d = cards[i].dataset;
      var show = (!ev || d.eval === ev) && (!task || d.task === task) && (!cat || d.category === cat) && (!fail || d.failed === "1");
      cards[i].hidden = !show;
      if (show) n++;
    }
    var count = document.getElementById("f-count");
    if (count) count.textContent = n + " of " + cards.length + " shown";
  }
  ids.forEach(function (id) { var el = document.getElementById(id); if (el) el.addEventListener("change", apply); });
  apply();
})();
"""


def render_report(run_dir: str | os.PathLike, *, max_samples: int = 200, max_total: int = 600,
                  thumb: int = 288) -> str:
    """The report of ``run_dir`` as an HTML string (see the module docstring)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run folder at {run_dir}")
    eval_dirs, train_dirs = find_folders(run_dir)
    if not eval_dirs and not train_dirs:
        raise FileNotFoundError(
            f"{run_dir} holds no evaluation ({PREDICTIONS}, {SUMMARY_JSON}) and no training logs "
            f"({METRICS_CSV}, {COMPLETIONS_CSV}), in it or its subfolders"
        )
    evals = sorted((load_eval(p, run_dir) for p in eval_dirs), key=started)  # in the order they ran
    toc, body = [], []
    head = headline_table(evals)
    if head:
        toc.append('<a href="#headline">headline metrics</a>')
        body.append(f'<section id="headline"><h2>Headline metrics</h2>{head}</section>')
    compare = comparison_section(evals)
    if compare:
        toc.append('<a href="#compare">before and after</a>')
        body.append(compare)
    for i, e in enumerate(evals):
        toc.append(f'<a href="#eval-{i}">{esc(e.name)}</a>')
        body.append(eval_section(e, f"eval-{i}"))
    for i, p in enumerate(train_dirs):
        toc.append(f'<a href="#train-{i}">training {esc(p.name)}</a>')
        body.append(training_section(p, run_dir, f"train-{i}"))
    cards = gallery(evals, per_evaluation(len(evals), max_samples, max_total), thumb)
    if cards:
        toc.append('<a href="#gallery">samples</a>')
        body.append(cards)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>geor1 report: {esc(run_dir.name)}</title><link rel="icon" href="data:,">'
        f"<style>{CSS}</style></head><body>"
        f'<h1>geor1 report: {esc(run_dir.name)}</h1><p class="meta">{esc(str(run_dir.resolve()))} · {when}</p>'
        f'<nav class="meta">{" · ".join(toc)}</nav>{"".join(body)}<script>{JS}</script></body></html>\n'
    )


def write_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    max_samples: int = 200,
    max_total: int = 600,
    thumb: int = 288,
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``); returns its path."""
    page = render_report(run_dir, max_samples=max_samples, max_total=max_total, thumb=thumb)
    path = Path(out) if out else Path(run_dir) / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, page)

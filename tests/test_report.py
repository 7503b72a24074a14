"""The HTML report: what it reads from a run folder, the SVG charts, and the page in a real
headless Chromium (no console errors, working filters, a screenshot).

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so only the standard library is
needed and every console error, uncaught exception and failed resource load is seen as an event.
Set GEOR1_REPORT_SCREENSHOT=path.png to keep the screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geor1.coords import get_frame
from geor1.data import load_dataset
from geor1.evaluation.evaluate import score_completions
from geor1.report.html import find_folders, is_failure, read_last_completions, render_report, write_report
from geor1.report.plots import Series, line_chart, nice_ticks, read_metrics, training_charts
from geor1.tasks import get_task

FRAME = get_frame("qwen2.5-vl")


# ---------------------------------------------------------------------------------------------
# A run folder: scored evaluations of every task, an interrupted one, and GRPO training logs.


def _completions(ds, wrong_every: int = 3) -> dict[str, str]:
    """The gold answer for most samples; every ``wrong_every``-th one is wrong or unreadable."""
    out = {}
    for i, s in enumerate(ds):
        ans = get_task(s.task).target_answer(s, FRAME)
        if i % wrong_every == 1:
            ans = {
                "rec": '{"bbox_2d": [0, 0, 3, 3]}',
                "ovd": "None",
                "gres": "None",
                "crossview": next((c for c in s.choices if c != s.answer), "A"),
                "geoloc": '{"lat": 48.8566, "lon": 2.3522}',
            }[s.task]
        elif i % wrong_every == 2:
            ans = "I am not sure."
        out[s.id] = (
            f"<think>The {s.category or 'place'} stands out; step by step.</think><answer>{ans}</answer>"
        )
    return out


def _training_logs(folder: Path, rec_dir: Path) -> None:
    """metrics.csv and completions.csv written by geor1.train.logs' own writers with TRL's keys."""
    from transformers import TrainerControl, TrainerState

    from geor1.tasks import get_reward_funcs
    from geor1.train.logs import CompletionRecorder, CsvMetricsLogger

    folder.mkdir(parents=True)
    logger = CsvMetricsLogger(folder / "metrics.csv")
    for step in range(1, 7):
        logs = {
            "loss": 0.5 / step,
            "learning_rate": 1e-3 * (1 - step / 8),
            "reward": 0.2 + 0.1 * step,
            "reward_std": 0.05,
            "rewards/format/mean": 0.1 * step,
            "rewards/rec_iou/mean": 0.05 * step,
            "kl": 0.001 * step**2,
            "completions/mean_length": 40.0 - step,
            "entropy": 2.0,
        }
        logger.on_log(None, TrainerState(global_step=step), TrainerControl(), logs=logs)
    logger.on_log(
        None, TrainerState(global_step=6), TrainerControl(), logs={"train_runtime": 12.5, "train_loss": 0.2}
    )
    ds = load_dataset(rec_dir)
    rec = get_task("rec")
    recorder = CompletionRecorder(folder / "completions.csv")
    comps = list(_completions(ds).values())[:2]
    cols = {
        "solution": [rec.solution(s, FRAME) for s in ds.samples[:2]],
        "task": ["rec", "rec"],
        "id": [s.id for s in ds.samples[:2]],
    }
    for step in (0, 5):
        state = TrainerState(global_step=step)
        for name, fn in zip(["format", "rec_iou"], get_reward_funcs(["format", "rec_iou"])):
            recorder.wrap(name, fn)(comps, trainer_state=state, **cols)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from geor1.synth import write_task
    from geor1.synth.crossview import write_crossview, write_geoloc

    root = tmp_path_factory.mktemp("report")
    data = root / "data"
    write_task("rec", data / "rec", 5, seed=1, size=160)
    write_task("ovd", data / "ovd", 3, seed=1, size=160)
    write_task("gres", data / "gres", 3, seed=1, size=160)
    write_crossview(data / "crossview", 3, seed=1, size=64)
    write_geoloc(data / "geoloc", 4, seed=1, size=64)
    run = root / "run"
    for task in ("rec", "ovd", "gres", "crossview", "geoloc"):
        ds = load_dataset(data / task)
        score_completions(
            data / task, _completions(ds), run / "eval" / task, frame=FRAME, model="gold-with-errors"
        )
    # An interrupted evaluation: predictions.jsonl only, no summary.json.
    (run / "interrupted").mkdir()
    shutil.copy(run / "eval" / "rec" / "predictions.jsonl", run / "interrupted" / "predictions.jsonl")
    shutil.copy(run / "eval" / "rec" / "config.json", run / "interrupted" / "config.json")
    _training_logs(run / "train_grpo", data / "rec")
    (run / "train_grpo" / "checkpoint-6").mkdir()  # never searched
    (run / "train_grpo" / "checkpoint-6" / "metrics.csv").write_text("step,loss\n1,9\n")
    return run


# ---------------------------------------------------------------------------------------------
# Charts


def test_nice_ticks_hand_checked():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3, 97) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(-0.013, 0.004) == [-0.015, -0.01, -0.005, 0, 0.005]
    assert nice_ticks(5, 5) == [
        4.4,
        4.6,
        4.8,
        5.0,
        5.2,
        5.4,
        5.6,
    ]  # a flat series still gets an axis (5 ± 10 %)
    with pytest.raises(ValueError):
        nice_ticks(0, float("nan"))


def test_line_chart_breaks_lines_at_missing_values_and_draws_bands():
    svg = line_chart(
        [
            Series(
                "a",
                [1, 2, 3, 4, 5],
                [0.1, 0.2, None, 0.4, 0.5],
                band=([0, 0.1, None, 0.3, 0.4], [0.2, 0.3, None, 0.5, 0.6]),
            ),
            Series("b", [1, 2], [float("nan"), 0.3]),
        ],
        title="t <&>",
        y_label="r",
    )
    assert svg.count("<polyline points=") == 2 + 1  # two pieces of "a" + the axes
    assert svg.count("<polygon") == 2 and svg.count("<circle") == 1  # band pieces; "b" is one point
    assert "t &lt;&amp;&gt;" in svg and ">a</text>" in svg and ">b</text>" in svg
    assert line_chart([Series("c", [1], [None])], title="empty") == ""


def test_read_metrics_and_panels(run_dir):
    m = read_metrics(run_dir / "train_grpo" / "metrics.csv")
    assert m["reward"][0] == [1, 2, 3, 4, 5, 6] and m["reward"][1][0] == pytest.approx(0.3)
    assert m["train_runtime"] == ([6.0], [12.5])  # the closing row: only its own columns
    charts = training_charts(m)
    titles = [re.search(r'aria-label="([^"]+)"', c).group(1) for c in charts]
    assert titles == [
        "Reward (mean ± std over a group)",
        "Per-reward means",
        "KL to the reference",
        "Completion length",
        "Loss",
        "Learning rate",
    ]
    assert ">format</text>" in charts[1] and ">rec_iou</text>" in charts[1]
    bad = run_dir.parent / "bad.csv"
    bad.write_text("loss\n1\n")
    with pytest.raises(ValueError, match="no 'step' column"):
        read_metrics(bad)


def test_read_last_completions(run_dir):
    step, rows = read_last_completions(run_dir / "train_grpo" / "completions.csv")
    assert step == 5 and len(rows) == 2
    assert set(rows[0]["rewards"]) == {"format", "rec_iou"} and rows[0]["rewards"]["format"] == "1"
    assert rows[1]["rewards"]["rec_iou"] == "0"  # the wrong box of _completions


# ---------------------------------------------------------------------------------------------
# The page


def test_find_folders_skips_checkpoints(run_dir):
    evals, trains = find_folders(run_dir)
    assert [p.relative_to(run_dir).as_posix() for p in evals] == [
        "eval/crossview",
        "eval/geoloc",
        "eval/gres",
        "eval/ovd",
        "eval/rec",
        "interrupted",
    ]
    assert [p.relative_to(run_dir).as_posix() for p in trains] == ["train_grpo"]


def test_report_content(run_dir):
    page = render_report(run_dir, max_samples=3)
    # Self-contained: every image inline, no URL to fetch.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(sources) == 6 * 3 and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    # Headline table: the summary's numbers.
    rec = json.loads((run_dir / "eval" / "rec" / "summary.json").read_text())["tasks"]["rec"]["metrics"]
    assert "<th>rec Acc@0.5</th>" in page and "<td>40.0%</td>" in page  # human names, percentages
    assert rec["acc_at_05"] == pytest.approx(2 / 5)  # gold, wrong, ?, gold, wrong
    assert "summary.json is missing" in page  # the interrupted folder, tables from predictions.jsonl
    # Gallery: the worst 3 cards of each evaluation, failures first across all of them.
    cards = re.findall(
        r'<div class="card[^"]*" data-eval="([^"]+)" data-task="([^"]+)" data-category="[^"]*" '
        r'data-failed="(\d)"',
        page,
    )
    assert len(cards) == 6 * 3 and {c[0] for c in cards} == {
        "eval/rec",
        "eval/ovd",
        "eval/gres",
        "eval/crossview",
        "eval/geoloc",
        "interrupted",
    }
    flags = [c[2] for c in cards]
    assert flags == sorted(flags, reverse=True) and "0" in flags and "1" in flags
    # Geoloc map with an error line per readable answer (3 of 4 here), training charts, completions.
    assert page.count('class="map"') == 1 and "km off" in page
    assert "Completions sampled at step 5" in page and 'aria-label="KL to the reference"' in page


def test_is_failure_rules(run_dir):
    from geor1.evaluation import read_predictions

    recs = read_predictions(run_dir / "eval" / "geoloc" / "predictions.jsonl")
    got = {r["id"]: is_failure(r) for r in recs.values()}
    assert list(got.values()) == [False, True, True, False]  # gold, Paris (far), unreadable, gold


def test_report_of_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no evaluation"):
        render_report(tmp_path)


def test_report_cli_writes_file(run_dir, tmp_path, capsys):
    from geor1.cli import main

    out = tmp_path / "r.html"
    assert main(["report", str(run_dir / "train_grpo"), "--out", str(out)]) == 0  # training logs only
    assert out.is_file() and "wrote" in capsys.readouterr().out
    assert "<h2>Training: train_grpo</h2>" in out.read_text() and 'id="gallery"' not in out.read_text()
    assert main(["report", str(tmp_path / "none")]) == 2


# ---------------------------------------------------------------------------------------------
# Headless Chromium

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium: found, else installed with apt-get when running as root, else skipped."""
    found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", "chromium"],
    ):
        done = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"installing chromium failed: {' '.join(cmd)}: {done.stderr[-500:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium but no chromium binary is on PATH")
    return found


class Browser:
    """Chromium over the DevTools protocol on a pipe; one page, every console error recorded."""

    def __init__(self, binary: str, profile: Path, width: int = 1280, height: int = 900):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. A tiny Python launcher puts
        # our pipe ends there (the ends are moved to fd 10 and above first, so that they cannot
        # be clobbered by the dup2 calls) and execs the browser.
        a, b = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        launcher = (
            f"import os, sys; os.dup2({a}, 3); os.dup2({b}, 4); os.close({a}); os.close({b}); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                launcher,
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
            ],
            pass_fds=(a, b),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(a)
        os.close(b)
        self._buf, self._id, self.events, self.errors = b"", 0, [], []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(method, session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no message from chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        message = json.loads(msg)
        if "method" in message:
            self._event(message)
        return message

    def _event(self, m: dict) -> None:
        self.events.append(m)
        p = m.get("params", {})
        if m["method"] == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif m["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append(
                "console.error: "
                + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", []))
            )
        elif m["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.errors.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}")

    def call(
        self, method: str, params: dict | None = None, *, session: bool = False, timeout: float = 60
    ) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read(timeout)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def open(self, url: str, timeout: float = 60) -> None:
        seen = len(self.events)
        self.call("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[seen:]):
            self._read(deadline - time.monotonic())
        time.sleep(0.3)  # let late console messages arrive
        self.call("Runtime.evaluate", {"expression": "1"}, session=True)

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, max_height: int = 16000) -> Image.Image:
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        w, h = int(size["width"]), min(int(size["height"]), max_height)
        data = self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1},
            },
            session=True,
        )["data"]
        return Image.open(io.BytesIO(base64.b64decode(data)))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._r)
        os.close(self._w)


@pytest.fixture
def browser(chromium, tmp_path):
    b = Browser(chromium, tmp_path / "profile")
    yield b
    b.close()


def test_console_errors_are_caught(browser, tmp_path):
    """The negative control: a page with errors must show them, or a clean pass means nothing."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        '<img src="missing.png"><script>console.error("boom"); undefinedFunction();</script></body></html>'
    )
    browser.open(bad.as_uri())
    text = "\n".join(browser.errors)
    assert "boom" in text and "undefinedFunction" in text and "missing.png" in text


def test_report_in_chromium(browser, run_dir, tmp_path):
    path = write_report(run_dir, tmp_path / "report.html", max_samples=4)
    browser.open(path.as_uri())
    assert browser.errors == [], browser.errors
    n_cards = browser.evaluate("document.querySelectorAll('.card').length")
    assert (
        n_cards == 4 + 3 + 3 + 3 + 4 + 4
    )  # rec (5 samples), ovd, gres, crossview (3), geoloc (4), interrupted rec
    assert (
        browser.evaluate("document.getElementById('f-count').textContent") == f"{n_cards} of {n_cards} shown"
    )
    # Filters are live: geoloc only, then failures only on top.
    geo = browser.evaluate("document.querySelectorAll('.card[data-task=geoloc]').length")
    geo_failed = browser.evaluate(
        "document.querySelectorAll('.card[data-task=geoloc][data-failed=\"1\"]').length"
    )
    visible = "Array.from(document.querySelectorAll('.card')).filter(c => !c.hidden).length"
    browser.evaluate(
        "var s = document.getElementById('f-task'); s.value = 'geoloc'; s.dispatchEvent(new Event('change'))"
    )
    assert browser.evaluate(visible) == geo == 4
    browser.evaluate(
        "var c = document.getElementById('f-fail'); c.checked = true; c.dispatchEvent(new Event('change'))"
    )
    assert browser.evaluate(visible) == geo_failed == 2
    browser.evaluate(
        "var s = document.getElementById('f-task'); s.value = ''; s.dispatchEvent(new Event('change'))"
    )
    # Every inline image decoded (a broken data URI has naturalWidth 0).
    assert browser.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 6
    browser.evaluate(
        "document.getElementById('f-fail').checked = false; "
        "document.getElementById('f-fail').dispatchEvent(new Event('change'))"
    )
    shot = browser.screenshot()
    keep = os.environ.get("GEOR1_REPORT_SCREENSHOT")
    shot.save(keep or tmp_path / "report.png")
    assert shot.width >= 1200 and shot.height > 2000
    pixels = np.asarray(shot.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3)[::97], axis=0)) > 500  # images and charts, not a blank page
    assert browser.errors == [], browser.errors


def test_legend_names_drop_what_every_column_shares():
    from geor1.report.plots import _legend_name

    assert _legend_name("rewards/rec_iou/mean", ["rewards/format/mean", "rewards/rec_iou/mean"]) == "rec_iou"
    cols = ["completions/mean_length", "completions/max_length"]
    assert [_legend_name(c, cols) for c in cols] == ["mean_length", "max_length"]
    assert _legend_name("completions/mean_length", ["completions/mean_length"]) == "completions/mean_length"
    assert [_legend_name(c, ["loss", "aux_loss"]) for c in ("loss", "aux_loss")] == ["loss", "aux_loss"]


def test_broken_or_moved_evaluations_become_notes(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir / "eval" / "rec", run / "moved")
    config = json.loads((run / "moved" / "config.json").read_text())
    (run / "moved" / "config.json").write_text(json.dumps({**config, "data": str(tmp_path / "gone")}))
    shutil.copytree(run_dir / "eval" / "ovd", run / "broken")
    (run / "broken" / "summary.json").write_text("{not json")
    with open(run / "broken" / "predictions.jsonl", "a") as f:
        f.write("garbage\n")
    page = render_report(run)
    assert f"dataset {tmp_path / 'gone'} could not be read" in page
    assert (
        "summary.json is unreadable" in page and "predictions.jsonl:4: unreadable prediction record" in page
    )
    cards = re.findall(r'<div class="card[^"]*" data-eval="([^"]+)"', page)
    assert cards == ["moved"] * 5 and "<img " not in page  # the moved dataset's cards, without images


def test_before_and_after_with_a_paired_interval_and_only_the_rewards_used(tmp_path):
    """Two evaluations of one dataset (the demo's shape): listed in the order they ran, compared with a
    paired bootstrap interval; an answer-only run shows no format reward; each card names its evaluation."""
    import os
    import time

    from geor1.evaluation.evaluate import score_completions
    from geor1.report.compare import human, shown
    from geor1.synth import write_task
    from geor1.tasks.rec import target_answer

    data = tmp_path / "data"
    write_task("rec", data, 30, seed=5, size=224)
    from geor1.data import load_dataset

    samples = load_dataset(data).samples
    wrong = {s.id: '{"bbox_2d": [0, 0, 1, 1], "label": "x"}' for s in samples}
    right = {s.id: (target_answer(s, "pixels") if i < 20 else wrong[s.id]) for i, s in enumerate(samples)}
    run = tmp_path / "run"
    score_completions(data, right, run / "a_after", frame="pixels", model="m", think=False)
    time.sleep(0.05)
    score_completions(data, wrong, run / "b_before", frame="pixels", model="m", think=False)
    later = time.time() + 10  # the "before" run started first: give "after" the later time
    for name in ("config.json", "predictions.jsonl", "summary.json"):
        os.utime(run / "a_after" / name, (later, later))
    page = render_report(run)
    assert page.index("Evaluation: b_before") < page.index("Evaluation: a_after")
    section = page[page.index('id="compare"'):page.index("</section>", page.index('id="compare"'))]
    assert "a_after against b_before" in section
    row = re.search(r"<td>rec Acc@0.5</td><td>0.0%</td><td>66.7%</td><td>\+66.7 points \[\+([\d.]+), \+([\d.]+)\]</td>",
                    section)
    assert row and 40 < float(row.group(1)) < 66.7 < float(row.group(2)) <= 100
    assert ">format<" not in page  # asked without the think template: no format reward shown
    assert 'class="eval-name">b_before<' in page and 'class="eval-name">a_after<' in page
    assert human("acc_at_05_non_unique") == "Acc@0.5 (non-unique)" and shown("mean_geoscore", 1234.4) == "1,234 / 5000"
    assert shown("median_km", 12.345) == "12.3" and shown("acc_25km", 0.5) == "50.0%"


def test_the_gallery_is_shared_out_over_many_evaluations():
    """A folder of many evaluations gets a page of bounded size: max_total shared out, at least 12 each."""
    from geor1.report.html import per_evaluation

    assert per_evaluation(1, 200, 600) == 200       # one evaluation: its own cap
    assert per_evaluation(14, 200, 600) == 42       # the miniature's cross-view half: 588 cards, not 2,800
    assert per_evaluation(100, 200, 600) == 12      # never fewer than 12 each

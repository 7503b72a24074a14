"""Training curves as inline SVG line charts, read from ``metrics.csv`` (:mod:`geor1.train.logs`).

Why SVG and not matplotlib: matplotlib is not a geor1 dependency, and a chart is a few dozen
lines of SVG — crisp at any zoom, a few kilobytes, and part of the HTML file itself, so the report
stays one self-contained file that needs nothing but a browser.

A chart has a title, axes with "nice" ticks (1, 2 or 5 × 10^k), light grid lines, one polyline
per series (split where a value is missing), an optional ±std band and a legend.
"""

from __future__ import annotations

import csv
import fnmatch
import html
import math
import os
from dataclasses import dataclass, field

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")

# (title, y-axis label, metrics.csv columns or glob patterns, column whose values give a ±band for the first).
# The names are TRL's logged keys (GRPO: reward, rewards/<name>/mean, kl, completions/mean_length;
# SFT: loss, mean_token_accuracy) and geor1's pretraining columns.
PANELS: list[tuple[str, str, list[str], str | None]] = [
    ("Reward (mean ± std over a group)", "reward", ["reward"], "reward_std"),
    ("Per-reward means", "reward", ["rewards/*/mean"], None),
    ("KL to the reference", "KL", ["kl"], None),
    (
        "Completion length",
        "tokens",
        ["completions/mean_length", "completions/min_length", "completions/max_length"],
        None,
    ),
    ("Clipped completions", "fraction", ["completions/clipped_ratio"], None),
    ("Loss", "loss", ["loss", "aux_loss"], None),
    ("Token accuracy (SFT)", "fraction", ["mean_token_accuracy"], None),
    ("Probe accuracy (pretraining)", "fraction", ["acc_at_05", "acc_at_07", "mean_iou"], None),
    ("Learning rate", "lr", ["learning_rate", "lr"], None),
]


@dataclass
class Series:
    """One line: ``x`` and ``y`` of equal length (None or NaN in ``y`` breaks the line), and an
    optional band ``(low, high)`` aligned with ``x``."""

    name: str
    x: list[float]
    y: list[float | None]
    band: tuple[list[float | None], list[float | None]] | None = None
    color: str = field(default="")


def read_metrics(path: str | os.PathLike) -> dict[str, tuple[list[float], list[float]]]:
    """Every numeric column of a ``metrics.csv`` as ``(steps, values)``, rows where it is empty or
    not a number left out. Needs a ``step`` column; rows without a step are skipped."""
    columns: dict[str, tuple[list[float], list[float]]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "step" not in reader.fieldnames:
            raise ValueError(f"{path}: no 'step' column (columns: {reader.fieldnames})")
        for row in reader:
            try:
                step = float(row["step"])
            except (TypeError, ValueError):
                continue
            for k, v in row.items():
                if k in (None, "step") or v in (None, ""):
                    continue
                try:
                    value = float(v)
                except ValueError:
                    continue
                if math.isfinite(value):
                    xs, ys = columns.setdefault(k, ([], []))
                    xs.append(step)
                    ys.append(value)
    return columns


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2 or 5 × 10^k apart) from at or below ``lo`` to at or above
    ``hi``; an empty range is widened by 10 % (1 around zero)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"tick range must be finite, got {lo}, {hi}")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    f = raw / mag  # in [1, 10): round it to 1, 2, 5 or 10
    step = mag * (1 if f < 1.5 else 2 if f < 3 else 5 if f < 7 else 10)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{v:.4g}"


def _segments(xs, ys) -> list[list[tuple[float, float]]]:
    out, cur = [], []
    for x, y in zip(xs, ys):
        if y is None or not math.isfinite(y):
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append((x, y))
    if cur:
        out.append(cur)
    return out


def line_chart(
    series: list[Series],
    *,
    title: str,
    x_label: str = "step",
    y_label: str = "",
    width: int = 400,
    height: int = 250,
) -> str:
    """An SVG line chart of ``series`` (an empty string when no series has a finite value)."""
    finite = [(x, y) for s in series for x, y in zip(s.x, s.y) if y is not None and math.isfinite(y)]
    for s in series:
        if s.band:
            finite += [
                (x, v)
                for x, lo_hi in zip(s.x, zip(*s.band))
                for v in lo_hi
                if v is not None and math.isfinite(v)
            ]
    if not finite:
        return ""
    xt = nice_ticks(min(p[0] for p in finite), max(p[0] for p in finite))
    yt = nice_ticks(min(p[1] for p in finite), max(p[1] for p in finite))
    left, right, top, bottom = 58, 12, 30, 40
    legend_h = 16 * ((len(series) + 1) // 2) if len(series) > 1 else 0
    ph, pw = height - top - bottom - legend_h, width - left - right

    def px(x):
        return left + (x - xt[0]) / (xt[-1] - xt[0]) * pw

    def py(y):
        return top + ph - (y - yt[0]) / (yt[-1] - yt[0]) * ph

    esc = html.escape
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{esc(title)}">'
        ),
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{left}" y="18" font-size="13" font-weight="600">{esc(title)}</text>',
    ]
    for t in yt:
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e5e5e5"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{py(t) + 4:.1f}" font-size="11" text-anchor="end">{_label(t)}</text>'
        )
    for t in xt:
        parts.append(
            f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#444"/>'
        )
        parts.append(
            f'<text x="{px(t):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{_label(t)}</text>'
        )
    parts.append(
        f'<polyline points="{left},{top} {left},{top + ph} {left + pw},{top + ph}" fill="none" stroke="#444"/>'
    )
    parts.append(
        f'<text x="{left + pw / 2:.1f}" y="{top + ph + 32}" font-size="11" text-anchor="middle">'
        f"{esc(x_label)}</text>"
    )
    parts.append(
        f'<text x="12" y="{top + ph / 2:.1f}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + ph / 2:.1f})">{esc(y_label)}</text>'
    )
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        if s.band:
            lo, hi = s.band
            run: list[int] = []
            for j in range(len(s.x) + 1):  # one polygon per run of indices where the band is known
                if j < len(s.x) and lo[j] is not None and hi[j] is not None:
                    run.append(j)
                    continue
                if len(run) > 1:
                    pts = [(px(s.x[k]), py(hi[k])) for k in run] + [
                        (px(s.x[k]), py(lo[k])) for k in reversed(run)
                    ]
                    parts.append(
                        f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}" '
                        f'fill="{color}" fill-opacity="0.15" stroke="none"/>'
                    )
                run = []
        for seg in _segments(s.x, s.y):
            if len(seg) == 1:
                parts.append(
                    f'<circle cx="{px(seg[0][0]):.1f}" cy="{py(seg[0][1]):.1f}" r="2.5" fill="{color}"/>'
                )
            else:
                pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in seg)
                parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.8"/>')
    if len(series) > 1:
        for i, s in enumerate(series):
            lx = left + (i % 2) * (pw / 2)
            ly = height - legend_h + 12 + 16 * (i // 2) - 4
            color = s.color or PALETTE[i % len(PALETTE)]
            parts.append(
                f'<line x1="{lx:.1f}" x2="{lx + 18:.1f}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" '
                f'stroke-width="3"/>'
            )
            parts.append(f'<text x="{lx + 23:.1f}" y="{ly}" font-size="11">{esc(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _columns(metrics: dict, patterns: list[str]) -> list[str]:
    out = []
    for p in patterns:
        out += [c for c in sorted(metrics) if fnmatch.fnmatchcase(c, p) and c not in out]
    return out


def _legend_name(column: str, columns: list[str]) -> str:
    """``rewards/format/mean`` -> ``format``; a folder shared by every column of the panel is
    dropped (``completions/mean_length`` -> ``mean_length``)."""
    if column.startswith("rewards/") and column.endswith("/mean"):
        return column.removeprefix("rewards/").removesuffix("/mean")
    head = column.rsplit("/", 1)[0] + "/"
    if "/" in column and len(columns) > 1 and all(c.startswith(head) for c in columns):
        return column.removeprefix(head)
    return column


def training_charts(metrics: dict[str, tuple[list[float], list[float]]]) -> list[str]:
    """SVG charts of :data:`PANELS` for the columns ``metrics`` (from :func:`read_metrics`) holds;
    a panel none of whose columns is present is left out."""
    charts = []
    for title, y_label, patterns, band_col in PANELS:
        cols = _columns(metrics, patterns)
        if not cols:
            continue
        series = []
        for c in cols:
            xs, ys = metrics[c]
            band = None
            if band_col and c == cols[0] and band_col in metrics:
                std = dict(zip(*metrics[band_col]))
                band = (
                    [y - std[x] if x in std else None for x, y in zip(xs, ys)],
                    [y + std[x] if x in std else None for x, y in zip(xs, ys)],
                )
            series.append(Series(_legend_name(c, cols), list(xs), list(ys), band))
        svg = line_chart(series, title=title, y_label=y_label)
        if svg:
            charts.append(svg)
    return charts

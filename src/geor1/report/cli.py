"""Write one self-contained HTML report for a run folder.

  geor1 report runs/demo                      # -> runs/demo/report.html
  geor1 report runs/demo --out /tmp/demo.html --max-samples 50

The run folder holds evaluation folders (predictions.jsonl, summary.json; written by geor1 eval)
and training folders (metrics.csv, completions.csv; written by geor1 train), at any depth. The
report shows the summary tables, a gallery of samples (ground truth against prediction, the
reasoning, each reward; failures first, filterable), a world map for geolocalization, and the
training curves. Layout: docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="the run folder")
    parser.add_argument("--out", help="HTML file to write (default: RUN_DIR/report.html)")
    parser.add_argument(
        "--max-samples",
        type=int,
        default=200,
        help="gallery cards per evaluation, failures first (default 200)",
    )
    parser.add_argument("--max-total", type=int, default=600,
                        help="gallery cards in all, shared out over the evaluations, at least 12 each (default 600)")
    parser.add_argument("--thumb", type=int, default=288, help="gallery image size in pixels (longer side)")


def run(args: argparse.Namespace) -> int:
    from geor1.report.html import write_report

    try:
        path = write_report(args.run_dir, args.out, max_samples=args.max_samples, max_total=args.max_total,
                            thumb=args.thumb)
    except FileNotFoundError as e:
        print(f"geor1 report: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0

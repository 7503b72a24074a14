"""The HTML report of a run folder (``geor1 report RUN_DIR``): summary tables, a gallery of
ground truth against prediction, the geoloc world map and training curves, in one file."""

from geor1.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]

"""Evaluation: batched generation scored by the task modules (:func:`evaluate`, ``geor1 eval``),
one-image inference with the answer drawn (``geor1 predict``), and the drawing helpers the HTML
report shares (:mod:`geor1.evaluation.draw`). See docs/evaluation.md."""

from geor1.evaluation.evaluate import evaluate, read_predictions, score_sample, summarize

__all__ = ["evaluate", "read_predictions", "score_sample", "summarize"]

"""Programmatic rationales for GeoSynth samples: each task module writes its own
(``rationale(sample, frame)``, with :mod:`geor1.tasks.rationale`); this is the engine's entry.

A rationale is true of the image and reaches the gold answer, which is the task module's
``target_answer(sample, frame)``; positions are in the answer's frame. A sample whose meta cannot
support a true rationale raises :class:`RationaleError` (recorded as a failure with that reason).
"""

from __future__ import annotations

from geor1.coords import Frame
from geor1.data.schema import Sample
from geor1.tasks import get_task
from geor1.tasks.rationale import RationaleError

__all__ = ["RationaleError", "rationale", "write_rationale"]


def rationale(sample: Sample, frame: Frame) -> str:
    """The step-by-step reasoning for ``sample`` (the text inside ``<think>``), positions in ``frame``."""
    return get_task(sample.task).rationale(sample, frame)


def write_rationale(sample: Sample, frame: Frame) -> str:
    """``<think>rationale</think>\\n<answer>target answer</answer>`` for ``sample`` in ``frame``."""
    answer = get_task(sample.task).target_answer(sample, frame)
    return f"<think>{rationale(sample, frame)}</think>\n<answer>{answer}</answer>"

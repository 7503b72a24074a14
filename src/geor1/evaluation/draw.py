"""A sample and an answer, drawn: the task-agnostic layer over each task module's ``parse`` and
``draw`` (the primitives are in :mod:`geor1.drawing`). Shared by ``geor1 predict`` and the HTML
report; geometry in original-image pixels, ground truth green, prediction red."""

from __future__ import annotations

from typing import Any

from PIL import Image

from geor1.data.schema import Sample
from geor1.tasks import get_task


def read_prediction(sample: Sample, text: str, frame) -> tuple[Any | None, str]:
    """What a completion answers, via the task's ``parse`` (original pixels, a letter, a position),
    and ``""``; or ``(None, reason)`` when it cannot be read."""
    parsed = get_task(sample.task).parse(text, sample, frame)
    return (parsed.value, "") if parsed.ok else (None, parsed.reason)


def draw_sample(sample: Sample, images: list[Image.Image], prediction: Any = None, *, truth: bool = True,
                max_side: int | None = None) -> Image.Image:
    """One picture of a sample with its ground truth (when ``truth``) and a prediction from
    :func:`read_prediction` (None draws none), as the task draws it; ``max_side`` shrinks the
    query image to that many pixels first (lines stay crisp)."""
    return get_task(sample.task).draw(sample, images, prediction, truth=truth, max_side=max_side)


def load_images(dataset, sample: Sample) -> list[Image.Image]:
    """Every image of ``sample`` (RGB) from its :class:`geor1.data.Dataset`, in ``images`` order."""
    out = []
    for i in range(len(sample.images)):
        with Image.open(dataset.image_path(sample, i)) as im:
            out.append(im.convert("RGB"))
    return out

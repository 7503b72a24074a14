"""Schema datasets -> the Hugging Face datasets TRL trains on.

GRPO rows: ``prompt`` (conversational, with ``{"type": "image"}`` placeholders that TRL fills from
``images``), ``images`` (decoded lazily from paths), ``task``, ``solution`` (the task module's JSON
ground truth, frame included) and ``id``. SFT rows: ``prompt`` + ``completion`` (TRL's
prompt-completion format, so the loss covers only the answer) + ``images``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import datasets

from geor1.coords import Frame
from geor1.data.schema import Sample, SchemaError, load_dataset
from geor1.tasks import get_task


def _image_feature():
    seq = getattr(datasets, "List", None) or datasets.Sequence
    return seq(datasets.Image())


def order_images(messages: list[dict], image_position: str) -> list[dict]:
    """Put the image parts of each user turn first (Qwen's convention) or last (after the text)."""
    if image_position not in ("first", "last"):
        raise ValueError(f"image_position must be 'first' or 'last', got {image_position!r}")
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            imgs = [c for c in content if c.get("type") == "image"]
            rest = [c for c in content if c.get("type") != "image"]
            content = imgs + rest if image_position == "first" else rest + imgs
        out.append({**m, "content": content})
    return out


def _normalise_content(messages: list[dict]) -> list[dict]:
    # Arrow needs one struct type for every content part: {"type", "text"}.
    return [{"role": m["role"], "content": [{"type": c["type"], "text": c.get("text")} for c in m["content"]]}
            if isinstance(m["content"], list) else m for m in messages]


def load_samples(folders: list[str], *, tasks: list[str] = (), max_samples: int | None = None,
                 seed: int = 0) -> list[tuple[Sample, Path]]:
    """Samples (with their dataset roots) from several schema folders, filtered by task, shuffled
    with ``seed`` when ``max_samples`` cuts them."""
    rows = []
    for folder in folders:
        ds = load_dataset(folder)
        rows += [(s, ds.root) for s in ds if not tasks or s.task in tasks]
    if not rows:
        raise SchemaError(f"no samples{' of tasks ' + ', '.join(tasks) if tasks else ''} in {', '.join(folders)}")
    if max_samples is not None and max_samples < len(rows):
        random.Random(seed).shuffle(rows)
        rows = rows[:max_samples]
    return rows


def _images(sample: Sample, root: Path) -> list[str]:
    return [str((root / p).resolve()) for p in sample.images]


def grpo_dataset(rows: list[tuple[Sample, Path]], frame: Frame, *, think: bool = True,
                 image_position: str = "first", completion_prefix: str = "") -> datasets.Dataset:
    """GRPO rows. ``completion_prefix``: what the model's chat template already wrote of the answer
    (``"<think>\n"`` for templates that open the think block, see ModelFamily.completion_prefix);
    the format reward reads it in front of each completion."""
    records = []
    for s, root in rows:
        task = get_task(s.task)
        records.append({
            "id": s.id, "task": s.task, "images": _images(s, root),
            "prompt": _normalise_content(order_images(task.build_messages(s, frame, think=think), image_position)),
            "solution": task.solution(s, frame), "completion_prefix": completion_prefix,
        })
    return datasets.Dataset.from_list(records).cast_column("images", _image_feature())


def sft_target(sample: Sample, frame: Frame, *, think: bool, target: str = "answer") -> str:
    """The assistant text SFT learns: the answer alone, or a programmatic rationale + answer."""
    task = get_task(sample.task)
    answer = task.target_answer(sample, frame)
    if target == "answer":  # the papers' SFT baseline: the answer alone, no template
        return answer
    if target == "rationale":
        from geor1.engine.rationales import rationale

        return f"<think>{rationale(sample, frame)}</think>\n<answer>{answer}</answer>"
    raise ValueError(f"sft_target must be 'answer' or 'rationale', got {target!r}")


def sft_dataset(rows: list[tuple[Sample, Path]], frame: Frame, *, think: bool = True, target: str = "answer",
                image_position: str = "first", chat_template_kwargs: dict | None = None) -> datasets.Dataset:
    """SFT rows; ``chat_template_kwargs`` (the family's, e.g. Qwen3.5's ``enable_thinking``) go in a
    column of that name, which TRL's SFTTrainer passes to ``apply_chat_template`` per row."""
    records = []
    think = think and target != "answer"  # an answer-only target is asked for without the think template
    for s, root in rows:
        task = get_task(s.task)
        prompt = order_images(task.build_messages(s, frame, think=think), image_position)
        completion = [{"role": "assistant", "content": [{"type": "text",
                                                          "text": sft_target(s, frame, think=think, target=target)}]}]
        records.append({"id": s.id, "task": s.task, "images": _images(s, root),
                        "prompt": _normalise_content(prompt), "completion": _normalise_content(completion)})
        if chat_template_kwargs:
            records[-1]["chat_template_kwargs"] = dict(chat_template_kwargs)
    return datasets.Dataset.from_list(records).cast_column("images", _image_feature())


def sft_dataset_from_messages(path: str | Path) -> datasets.Dataset:
    """SFT rows from a JSONL file in TRL's messages format (what ``geor1 engine`` writes): the last
    assistant turn becomes the completion; image parts carry ``"image": path`` (relative paths are
    relative to the file's folder)."""
    path = Path(path)
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                messages = rec["messages"]
                if not messages or messages[-1]["role"] != "assistant":
                    raise KeyError("the last message must be the assistant's")
                images = [c["image"] for m in messages if isinstance(m["content"], list)
                          for c in m["content"] if c.get("type") == "image"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise SchemaError(f"not a messages record ({e})", file=path, line=lineno, field="messages") from None
            images = [str(p if Path(p).is_absolute() else (path.parent / p).resolve()) for p in images]
            records.append({"id": str(rec.get("id", lineno)), "task": rec.get("task", ""), "images": images,
                            "prompt": _normalise_content(messages[:-1]),
                            "completion": _normalise_content(messages[-1:])})
    if not records:
        raise SchemaError("no records", file=path)
    return datasets.Dataset.from_list(records).cast_column("images", _image_feature())

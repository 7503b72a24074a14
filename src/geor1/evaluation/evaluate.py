"""Batched evaluation of a model on a geor1 dataset, scored by the task modules, resumable.

>>> summary = evaluate("tiny", "data/synth_rec", "runs/demo/eval_rec", batch_size=16)

What lands in ``out_dir`` (the run-folder layout is in docs/evaluation.md):

``config.json``        the settings that decide the outputs (model, data, prompt, decoding) and the
                       answer frame; a rerun with other settings refuses to mix results
``predictions.jsonl``  one record per sample, appended after every batch (see :func:`score_sample`)
``summary.json``       per task: the task module's ``aggregate`` over every record's ``score``, the
                       mean of each reward, the commonest parse-failure reasons; throughput and peak
                       memory of this invocation. NaN metrics (an empty group) are written as null
``summary.md``         the same as markdown tables

Metrics are exactly ``task.aggregate([task.score(sample, completion, frame) ...])`` of the
generated completions: nothing here computes a metric of its own.

Resume: ids already in ``predictions.jsonl`` are skipped; a last line cut short by an
interruption is dropped and its sample generated again.

Backends: ``transformers`` (``model.generate`` on left-padded batches; greedy unless ``do_sample``)
and ``vllm`` (``vllm.LLM.generate`` with the same prompt strings and images; needs vLLM and a GPU).
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import time
from collections import Counter
from pathlib import Path

from PIL import Image

from geor1.coords import Frame, frame_from_dict, frame_to_dict, get_frame
from geor1.data.schema import Sample, load_dataset
from geor1.evaluation.draw import load_images
from geor1.io import atomic_write, atomic_write_json
from geor1.models.generate import Decoding, TransformersGenerator, VLLMGenerator
from geor1.tasks import get_task, task_names
from geor1.tasks.common import completion_text

log = logging.getLogger("geor1.eval")

PREDICTIONS, SUMMARY_JSON, SUMMARY_MD, CONFIG = (
    "predictions.jsonl",
    "summary.json",
    "summary.md",
    "config.json",
)
DEFAULT_MAX_NEW_TOKENS = 1024
# Settings that do not change what is generated; a resumed run may change them.
_FREE_SETTINGS = ("batch_size", "limit", "backend")


# ---------------------------------------------------------------------------------------------
# Scoring


def category_of(sample: Sample) -> str:
    """The group a sample is filtered by in reports: its ``category``, else ``meta["continent"]``
    (crossview, geoloc), else ``""``."""
    return sample.category or str(sample.meta.get("continent") or "")


def score_sample(
    sample: Sample,
    completion,
    frame: Frame,
    *,
    num_tokens: int | None = None,
    finish_reason: str | None = None,
    image: Image.Image | None = None,
) -> dict:
    """The ``predictions.jsonl`` record of one completion::

        {"id", "task", "category", "completion" (raw text), "num_tokens", "finish_reason",
         "parsed" (the answer in original pixels / the letter / the position, or null),
         "reason" (why it could not be parsed, else ""), "rewards" {name: value},
         "score" (the task module's score() record, verbatim: what aggregate() reads)}

    ``num_tokens`` feeds length-based rewards (crossview), ``image`` an image-based GRES segmenter."""
    task = get_task(sample.task)
    text = completion_text(completion)
    score = task.score(sample, text, frame, num_tokens=num_tokens, image=image)
    return {
        "id": sample.id,
        "task": sample.task,
        "category": category_of(sample),
        "completion": text,
        "num_tokens": num_tokens,
        "finish_reason": finish_reason,
        "parsed": score.get(task.ANSWER_FIELD),
        "reason": score.get("reason", ""),
        "rewards": dict(score["rewards"]),
        "score": score,
    }


def _finite(x):
    """NaN and infinities -> None (strict JSON), recursively."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def summarize(records: list[dict]) -> dict:
    """Per task present: ``metrics`` (the task's ``aggregate`` of the ``score`` records), ``rewards``
    (mean of each reward over the samples it applies to), ``n`` and the ten commonest parse-failure
    ``reasons`` with their counts. NaN becomes None."""
    out = {}
    for name in task_names():
        recs = [r for r in records if r["task"] == name]
        if not recs:
            continue
        task = get_task(name)
        sums: dict[str, list[float]] = {}
        for r in recs:
            for k, v in r["rewards"].items():
                if v is not None:
                    sums.setdefault(k, []).append(float(v))
        reasons = Counter(r["reason"] for r in recs if r["reason"]).most_common(10)
        out[name] = {
            "n": len(recs),
            "metrics": task.aggregate([r["score"] for r in recs]),
            "rewards": {k: sum(v) / len(v) for k, v in sums.items()},
            "reasons": [{"reason": k, "count": c} for k, c in reasons],
        }
    return _finite(out)


def _fmt(v, name: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and v.is_integer() and (name in ("n", "samples") or name.startswith("n_")):
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1000 else f"{v:.1f}"
    return str(v)


def summary_markdown(summary: dict) -> str:
    """``summary.md``: settings, then per task a metric table, a reward table and the commonest
    parse failures, then speed."""
    s = summary["settings"]
    lines = [
        f"# Evaluation of `{s['model']}`" + (f" (`{s['checkpoint']}`)" if s.get("checkpoint") else ""),
        "",
        f"- data: `{s['data']}` — {summary['n']} samples",
        (
            f"- decoding: {'sampling, T=' + str(s['temperature']) if s['do_sample'] else 'greedy'}, "
            f"max {s['max_new_tokens']} new tokens, think={s['think']}"
            if s.get("max_new_tokens")
            else "- completions made elsewhere, scored here"
        ),
        f"- answer frame: `{summary['frame']['name']}`",
        "",
    ]
    for name, t in summary["tasks"].items():
        lines += [f"## {name} ({t['n']} samples)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v, k)} |" for k, v in t["metrics"].items()]
        lines += ["", "| reward | mean |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in t["rewards"].items()]
        if t["reasons"]:
            lines += ["", "| parse failure | count |", "|---|---|"]
            lines += [f"| {r['reason'].replace('|', '/')} | {r['count']} |" for r in t["reasons"]]
        lines.append("")
    sp = summary.get("speed")
    if sp:
        lines += ["## Speed (this invocation)", "", "| | |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v, k)} |" for k, v in sp.items()]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# predictions.jsonl


def read_predictions(path: str | os.PathLike, *, repair: bool = True) -> dict[str, dict]:
    """Records of ``predictions.jsonl`` by id (a later line wins).

    Records are written whole, one JSON line each ending in a newline, so text after the last
    newline is a record an interruption cut short: it is dropped — and, with ``repair``, cut from
    the file so that appending goes on cleanly. An unreadable complete line is an error naming
    file and line."""
    path = Path(path)
    if not path.is_file():
        return {}
    data = path.read_bytes()
    complete, newline, tail = data.rpartition(b"\n")
    records = {}
    for lineno, raw in enumerate(complete.split(b"\n") if newline else [], 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError as e:
            raise ValueError(f"{path}:{lineno}: unreadable prediction record ({e})") from None
        if (
            not isinstance(rec, dict)
            or not isinstance(rec.get("id"), str)
            or not isinstance(rec.get("score"), dict)
        ):
            raise ValueError(f"{path}:{lineno}: a prediction record is an object with 'id' and 'score'")  # noqa: TRY004
        records[rec["id"]] = rec
    if tail.strip():
        log.warning("%s: dropping an unfinished last record (%d bytes)", path, len(tail))
        if repair:
            with open(path, "r+b") as f:
                f.truncate(len(complete) + len(newline))
    return records


def _settings_mismatch(old: dict, new: dict) -> list[str]:
    keys = sorted((set(old) | set(new)) - set(_FREE_SETTINGS) - {"frame"})
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


# ---------------------------------------------------------------------------------------------
# The evaluation


def device_and_dtype(device: str | None, dtype: str | None) -> tuple[str, str]:
    """``device`` (default: cuda when available, else cpu) and ``dtype`` (default: bfloat16 on CUDA, float32 on CPU)."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return device, dtype or ("bfloat16" if device.startswith("cuda") else "float32")


def _vllm_frame_and_family(model_path: str, processor):
    from transformers import AutoConfig

    from geor1.models import config_frame, family_of_config

    config = AutoConfig.from_pretrained(model_path)
    return config_frame(config, processor), family_of_config(config)


def _peak_memory_mb(device: str) -> dict:
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # Linux: KiB
    if device.startswith("cuda"):
        import torch

        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _generator(backend: str, model_name_or_path: str, decoding: Decoding, *, checkpoint, device, dtype,
               min_pixels, max_pixels, max_images):
    """``(generate, processor, frame, family)`` for ``backend``; the family's chat template settings
    and the processor make the prompt strings, and the frame is the one the model answers in."""
    from geor1.models import answer_frame, family_of_model, load, load_processor, resolve_model

    if backend == "vllm":
        base = resolve_model(model_name_or_path)
        processor = load_processor(checkpoint or base, min_pixels=min_pixels, max_pixels=max_pixels)
        generate = VLLMGenerator(checkpoint or base, decoding, min_pixels=min_pixels, max_pixels=max_pixels,
                                 max_images=max_images, dtype=dtype)
        return (generate, processor, *_vllm_frame_and_family(base, processor))
    model, processor = load(
        model_name_or_path, checkpoint=checkpoint, dtype=dtype, min_pixels=min_pixels, max_pixels=max_pixels
    )
    model.to(device).eval()
    generate = TransformersGenerator(model, processor, decoding)
    return generate, processor, answer_frame(model, processor), family_of_model(model)


def resolve_usage(model: str, checkpoint: str | None, tasks: list[str], think: bool | None,
                  max_new_tokens: int | None) -> tuple[bool, int]:
    """``think`` and ``max_new_tokens`` as given, else as the checkpoint says it is asked; warns once
    per task the checkpoint was not trained on (its answers there are noise, and slow to write)."""
    from geor1.models import usage_of

    usage = usage_of(model, checkpoint)
    for task in tasks:
        if not usage.trained_on(task):
            log.warning("%s was trained on %s only: its %s answers will be noise (its config.json, geor1_tasks)",
                        checkpoint or model, ", ".join(usage.tasks), task)
    return (usage.think if think is None else think,
            usage.max_new_tokens if max_new_tokens is None else max_new_tokens)


def evaluate(
    model_name_or_path: str,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    checkpoint: str | None = None,
    batch_size: int = 16,
    max_new_tokens: int | None = None,
    think: bool | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    limit: int | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    backend: str = "transformers",
    dtype: str | None = None,
    device: str | None = None,
    ignore_eos: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Generate an answer for every sample of ``data_dir`` (the first ``limit``), score it with its
    task module and write ``out_dir``; returns the summary (also ``summary.json``).

    ``model_name_or_path``/``checkpoint``/``min_pixels``/``max_pixels``: as :func:`geor1.models.load`.
    ``think``: ask for ``<think>…</think><answer>…</answer>``; ``think`` and ``max_new_tokens``
    default to how the checkpoint was trained (:func:`geor1.models.usage_of`), and a task it was not
    trained on is warned about. Decoding is greedy unless
    ``do_sample`` (then ``temperature``, ``top_p``, ``seed``). ``ignore_eos``: always generate
    ``max_new_tokens`` (benchmarks). ``dtype``/``device``: default bfloat16 on CUDA, float32 on CPU.
    A rerun resumes; ``overwrite`` starts afresh instead.
    """
    if backend not in ("transformers", "vllm"):
        raise ValueError(f"unknown backend {backend!r} (known: transformers, vllm)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    from tqdm.auto import tqdm

    from geor1.tasks import gres

    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")
    ds = load_dataset(data_dir)
    samples = ds.samples[:limit] if limit is not None else ds.samples
    think, max_new_tokens = resolve_usage(model_name_or_path, checkpoint, sorted({s.task for s in samples}),
                                          think, max_new_tokens)
    out = Path(out_dir)  # created when the model has loaded: a run that never starts leaves nothing
    decoding = Decoding(max_new_tokens, do_sample=do_sample, temperature=temperature, top_p=top_p, seed=seed,
                        ignore_eos=ignore_eos)
    settings = {
        "model": str(model_name_or_path),
        "checkpoint": checkpoint,
        "data": str(Path(data_dir).resolve()),
        "think": think,
        **decoding.settings(),
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "segmenter": type(gres.current_segmenter()).__name__,
        "batch_size": batch_size,
        "limit": limit,
        "backend": backend,
    }
    pred_path, config_path = out / PREDICTIONS, out / CONFIG
    if overwrite:
        for name in (PREDICTIONS, SUMMARY_JSON, SUMMARY_MD, CONFIG):
            (out / name).unlink(missing_ok=True)
    old = json.loads(config_path.read_text()) if config_path.is_file() else None
    if old is not None:
        diff = _settings_mismatch(old, settings)
        if diff:
            raise ValueError(
                f"{out} holds results made with other settings ({'; '.join(diff)}); "
                "use another output folder or overwrite=True (--overwrite)"
            )
    done = read_predictions(pred_path)
    todo = [s for s in samples if s.id not in done]
    todo.sort(key=lambda s: (task_names().index(s.task), len(s.images)))  # similar prompts batch with less padding

    frame = frame_from_dict(old["frame"]) if old and old.get("frame") else None
    speed = None
    if todo:
        dev, dt = device_and_dtype(device, dtype)
        generate, processor, frame_now, family = _generator(
            backend, model_name_or_path, decoding, checkpoint=checkpoint, device=dev, dtype=dt,
            min_pixels=min_pixels, max_pixels=max_pixels, max_images=max(len(s.images) for s in todo))
        if frame is not None and frame != frame_now:
            raise ValueError(
                f"{out}: earlier predictions are in frame {frame}, this model answers in {frame_now}"
            )
        frame = frame_now
        atomic_write_json(config_path, {**settings, "frame": frame_to_dict(frame)})  # a kill never tears it
        prefix = family.completion_prefix(processor, think=think)  # what the template wrote of the answer

        n_new, n_tokens, t_gen, cpu_gen = 0, 0, 0.0, 0.0
        bar = tqdm(
            total=len(samples),
            initial=len(samples) - len(todo),
            unit="sample",
            desc="eval",
            disable=not progress,
        )
        with open(pred_path, "a", encoding="utf-8") as f:
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                prompts, images = [], []
                for s in batch:
                    messages = get_task(s.task).build_messages(s, frame, think=think)
                    prompts.append(family.generation_prompt(processor, messages, think=think))
                    images.append(load_images(ds, s))
                t0, c0 = time.perf_counter(), time.process_time()
                gens = generate(prompts, images)
                t_gen += time.perf_counter() - t0
                cpu_gen += time.process_time() - c0
                for s, g, ims in zip(batch, gens, images):
                    rec = score_sample(
                        s,
                        prefix + g.text,
                        frame,
                        num_tokens=g.num_tokens,
                        finish_reason=g.finish_reason,
                        image=ims[0] if gres.current_segmenter().needs_image else None,
                    )
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    done[s.id] = rec
                    n_tokens += g.num_tokens
                f.flush()
                os.fsync(f.fileno())  # a batch on disk is a batch never generated again
                n_new += len(batch)
                bar.update(len(batch))
        bar.close()
        speed = {
            "samples": n_new,
            "generation_s": t_gen,
            "generation_cpu_s": cpu_gen,  # CPU seconds of this process: steadier than wall time on a shared CPU
            "samples_per_s": n_new / t_gen if t_gen else None,
            "new_tokens_per_s": n_tokens / t_gen if t_gen else None,
            "device": dev,
            **_peak_memory_mb(dev),
        }
    elif old is None:
        raise ValueError(
            f"nothing to evaluate: {data_dir} has no samples"
            if not samples
            else f"{pred_path} covers every sample but {config_path} is missing"
        )

    records = [done[s.id] for s in samples if s.id in done]
    if len(done) > len(records):
        log.warning(
            "%s: %d records are not among the evaluated samples and are left out",
            pred_path,
            len(done) - len(records),
        )
    return _finish(out, settings, frame, records, speed)


def score_completions(
    data_dir: str | os.PathLike,
    completions: dict[str, str],
    out_dir: str | os.PathLike,
    *,
    frame: str | Frame = "qwen2.5-vl",
    model: str = "external",
    think: bool = True,
) -> dict:
    """Score completions made elsewhere (another inference server, released predictions) exactly
    as :func:`evaluate` scores its own: ``completions`` maps sample id to raw output text, in the
    coordinate ``frame`` the model answered in. Writes the same ``out_dir`` files (replacing earlier
    ones) and returns the summary. Samples without a completion are left out; an id that is not
    in the dataset is an error."""
    ds = load_dataset(data_dir)
    unknown = sorted(set(completions) - {s.id for s in ds.samples})
    if unknown:
        raise ValueError(f"{len(unknown)} completion ids are not in {data_dir}: {', '.join(unknown[:5])}")
    frame = get_frame(frame)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = [score_sample(s, completions[s.id], frame) for s in ds.samples if s.id in completions]
    settings = {
        "model": model,
        "checkpoint": None,
        "data": str(Path(data_dir).resolve()),
        "think": think,
        "do_sample": None,
        "temperature": None,
        "max_new_tokens": None,
        "source": "score_completions",
    }
    atomic_write_json(out / CONFIG, {**settings, "frame": frame_to_dict(frame)})
    with open(out / PREDICTIONS, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return _finish(out, settings, frame, records, None)


def _finish(out: Path, settings: dict, frame: Frame, records: list[dict], speed: dict | None) -> dict:
    summary = {
        "settings": settings,
        "frame": frame_to_dict(frame),
        "n": len(records),
        "tasks": summarize(records),
        "speed": _finite(speed),
    }
    write_summary(out, summary)
    return summary


def write_summary(out_dir: str | os.PathLike, summary: dict) -> None:
    """Write ``summary.json`` (strict JSON) and ``summary.md`` into ``out_dir``."""
    out = Path(out_dir)
    atomic_write_json(out / SUMMARY_JSON, _finite(summary), allow_nan=False)
    atomic_write(out / SUMMARY_MD, summary_markdown(summary))

"""Make reasoning-annotated SFT data: ask a teacher for a rationale and an answer per sample, keep
what the task's verifiable reward accepts, write TRL and LLaMA-Factory JSONL. Killed runs resume.

  geor1 engine --teacher programmatic --data synth/rec --out sft/rec --frame tiny
  geor1 engine --teacher openai --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-VL-72B-Instruct \\
      --data data/vrsbench-fs --out sft/vrsbench --concurrency 16 --threshold rec=0.7
  geor1 engine --teacher transformers --model Qwen/Qwen2.5-VL-7B-Instruct --data ... --out ...
"""

from __future__ import annotations

import argparse
import logging
import os

from geor1.coords import FRAMES, Frame, get_frame

log = logging.getLogger("geor1.engine")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geor1.engine.run import default_thresholds

    p = parser
    p.add_argument("--teacher", required=True, choices=["openai", "transformers", "programmatic"],
                   help="openai: an OpenAI-compatible server; transformers: a local model; "
                        "programmatic: GeoSynth scene-graph rationales")
    p.add_argument("--data", required=True, help="dataset folder (data.jsonl + images)")
    p.add_argument("--out", required=True, help="output folder; an existing run there is resumed")
    p.add_argument("--model", help="openai: the served model name; transformers: a model name, folder or hub id")
    p.add_argument("--checkpoint", help="transformers: trained weights for --model")
    p.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="openai: the API root (default %(default)s)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="openai: environment variable holding the API key (default %(default)s)")
    p.add_argument("--system", help="openai: a system prompt sent before each question")
    p.add_argument("--tries", type=int, help="teacher calls per sample at most (default 4; 1 for the "
                                               "deterministic programmatic teacher)")
    p.add_argument("--threshold", action="append", default=[], metavar="TASK=VALUE",
                   help="acceptance threshold of a task's main reward (defaults: "
                        + ", ".join(f"{k}={v:g}" for k, v in default_thresholds().items()) + ")")
    p.add_argument("--concurrency", type=int, help="teacher calls in flight (default 8 for openai, else 1)")
    p.add_argument("--timeout", type=float, default=120.0, help="openai: seconds per socket operation")
    p.add_argument("--max-retries", type=int, default=4, help="openai: retries of one request (default %(default)s)")
    p.add_argument("--backoff", type=float, default=1.0, help="openai: first retry delay in seconds, doubling")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (0: greedy)")
    p.add_argument("--max-tokens", type=int, default=2048, help="longest reply in tokens")
    p.add_argument("--batch-size", type=int, default=8, help="transformers: prompts per generate call")
    p.add_argument("--frame", default="qwen2.5-vl",
                   help="answer frame of prompts and records: a frame name (" + ", ".join(FRAMES)
                        + ") or a model whose processor sets it (e.g. tiny); a transformers teacher uses its own")
    p.add_argument("--min-pixels", type=int, help="resize bounds of a qwen2.5-vl frame")
    p.add_argument("--max-pixels", type=int)
    p.add_argument("--max-samples", type=int, help="only the first N samples of the dataset")
    p.add_argument("--seed", type=int, default=0, help="base of every request's seed (default %(default)s)")
    p.add_argument("--commit-every", type=int, default=32, help="samples per checkpoint (default %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-retry-failed", action="store_true",
                   help="do not ask again for samples that got no answer in an earlier run (e.g. during an outage)")


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """``["rec=0.7", ...]`` -> ``{"rec": 0.7}``; a malformed item is a ValueError naming it."""
    from geor1.engine.run import default_thresholds

    out = {}
    for item in items:
        task, sep, value = item.partition("=")
        task = task.strip()
        try:
            out[task] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--threshold {item!r}: expected TASK=VALUE, e.g. rec=0.5")
        if task not in default_thresholds():
            raise ValueError(f"--threshold {item!r}: unknown task {task!r} (known: {', '.join(default_thresholds())})")
    return out


def resolve_frame(spec: str, min_pixels: int | None = None, max_pixels: int | None = None) -> Frame:
    """A frame from its name, or the frame a model's processor puts answers in (``tiny``, a folder, a hub id)."""
    from geor1.models.families import family_of, is_model_type

    if spec in FRAMES or is_model_type(spec):
        name = family_of(spec).frame if is_model_type(spec) else spec
        return get_frame(name, min_pixels=min_pixels, max_pixels=max_pixels)
    from transformers import AutoConfig

    from geor1.models import TINY_NAMES, config_frame, load_processor

    path = str(TINY_NAMES.get(spec, spec))
    if not os.path.isdir(path) and "/" not in spec:
        raise ValueError(f"--frame {spec!r} is neither a frame ({', '.join(FRAMES)}) nor a model")
    return config_frame(AutoConfig.from_pretrained(path),
                        load_processor(path, min_pixels=min_pixels, max_pixels=max_pixels))


def build_teacher(args):
    from geor1.engine.teachers import OpenAICompatTeacher, ProgrammaticTeacher, TransformersTeacher

    if args.teacher == "programmatic":
        return ProgrammaticTeacher()
    if not args.model:
        raise ValueError(f"--teacher {args.teacher} needs --model")
    if args.teacher == "openai":
        return OpenAICompatTeacher(args.base_url, args.model, api_key_env=args.api_key_env,
                                   concurrency=args.concurrency or 8, timeout=args.timeout,
                                   max_retries=args.max_retries, backoff=args.backoff,
                                   temperature=args.temperature, max_tokens=args.max_tokens, system_prompt=args.system)
    return TransformersTeacher(args.model, checkpoint=args.checkpoint, batch_size=args.batch_size,
                               max_new_tokens=args.max_tokens, temperature=args.temperature,
                               min_pixels=args.min_pixels, max_pixels=args.max_pixels)


def run(args) -> int:
    from geor1.data.schema import SchemaError
    from geor1.engine.run import EngineConfig, EngineError, format_summary, run_engine

    try:
        thresholds = parse_thresholds(args.threshold)
        teacher = build_teacher(args)
        frame = teacher.frame or resolve_frame(args.frame, args.min_pixels, args.max_pixels)
    except ValueError as e:  # bad options: say which, no traceback
        log.error("%s", e)
        return 2
    tries = args.tries if args.tries is not None else (1 if args.teacher == "programmatic" else 4)
    config = EngineConfig(tries=tries, thresholds=thresholds, seed=args.seed,
                          concurrency=args.concurrency or (8 if args.teacher == "openai" else 1),
                          max_samples=args.max_samples, commit_every=args.commit_every,
                          progress=not args.no_progress, retry_failed=not args.no_retry_failed)
    try:
        summary = run_engine(teacher, args.data, args.out, frame, config)
    except (EngineError, SchemaError) as e:
        log.error("%s", e)
        return 2
    except KeyboardInterrupt:
        log.warning("interrupted; run the same command again to continue where it stopped")
        return 130
    print(format_summary(summary))
    return 0

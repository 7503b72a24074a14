"""Evaluate a model on a dataset: batched generation, every task's metrics, resumable.

  geor1 eval --model tiny --data data/synth_rec --out runs/demo/eval_rec
  geor1 eval --model Qwen/Qwen2.5-VL-3B-Instruct --data data/vrsbench_fs --out runs/qwen3b/eval \\
      --batch-size 32 --dtype bfloat16
  geor1 eval --model runs/grpo/final --data data/dior_rsvg --out runs/grpo/eval_dior --sample --temperature 0.7

Writes predictions.jsonl (one record per sample: raw output, parsed answer or the reason it could
not be parsed, each reward), summary.json and summary.md into --out. Run it again to resume:
samples already in predictions.jsonl are skipped.

Outputs made elsewhere are scored the same way, without a model:

  geor1 eval --data data/vrsbench_fs --out runs/other/eval --completions outputs.jsonl --frame norm1000

(outputs.jsonl: one {"id": ..., "completion": ...} per line; --frame: the frame the model answers in).
"""

from __future__ import annotations

import argparse
import json

from geor1.evaluation.evaluate import DEFAULT_MAX_NEW_TOKENS, SUMMARY_MD
from geor1.models.generate import add_decoding_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="tiny", help="tiny, tiny-geosynth, a checkpoint folder or a hub id"
    )
    parser.add_argument("--checkpoint", help="trained weights for --model (a folder)")
    parser.add_argument("--data", required=True, help="dataset folder (data.jsonl + images)")
    parser.add_argument("--out", required=True, help="output folder (created; resumed when it exists)")
    parser.add_argument("--batch-size", type=int, default=16, help="prompts per generate call")
    add_decoding_arguments(parser, max_new_tokens_help="default: the checkpoint's geor1_max_new_tokens, "
                                                       f"else {DEFAULT_MAX_NEW_TOKENS}")
    parser.add_argument("--think", dest="think", action="store_true", default=None,
                        help="ask for <think>…</think><answer>…</answer> (default: as the checkpoint was trained)")
    parser.add_argument("--no-think", dest="think", action="store_false", help="ask for the answer alone")
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples")
    parser.add_argument("--min-pixels", type=int, help="image processor lower bound (pixels)")
    parser.add_argument("--max-pixels", type=int, help="image processor upper bound (pixels)")
    parser.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    parser.add_argument("--dtype", help="model dtype (default bfloat16 on CUDA, float32 on CPU)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    parser.add_argument(
        "--segmenter",
        choices=["box", "sam2"],
        default="box",
        help="gres: how answers become masks (box fill, or SAM 2 as in the paper)",
    )
    parser.add_argument("--overwrite", action="store_true", help="discard earlier results in --out")
    parser.add_argument(
        "--completions", help="score these outputs (JSONL of id, completion) instead of generating"
    )
    parser.add_argument(
        "--frame",
        default="qwen2.5-vl",
        help="with --completions: the answer frame (qwen2.5-vl, norm1000, norm100, norm1, pixels)",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def read_completions(path: str) -> dict[str, str]:
    """``{id: completion}`` from a JSONL file; a bad line is an error naming file and line."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise SystemExit(f"{path}:{lineno}: not valid JSON ({e})") from None
            if not (
                isinstance(rec, dict)
                and isinstance(rec.get("id"), str)
                and isinstance(rec.get("completion"), str)
            ):
                raise SystemExit(f'{path}:{lineno}: a line is {{"id": string, "completion": string}}')
            out[rec["id"]] = rec["completion"]
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from geor1.evaluation.evaluate import evaluate, score_completions
    from geor1.tasks import gres

    for flag, value, least in (("--batch-size", args.batch_size, 1), ("--limit", args.limit, 0),
                               ("--max-new-tokens", args.max_new_tokens, 1)):
        if value is not None and value < least:
            raise ValueError(f"{flag} must be at least {least}, got {value}")
    gres.set_segmenter(args.segmenter)
    if args.completions:
        score_completions(
            args.data,
            read_completions(args.completions),
            args.out,
            frame=args.frame,
            model=args.model,
            think=True if args.think is None else args.think,  # recorded only: the outputs exist already
        )
        print((Path(args.out) / SUMMARY_MD).read_text())
        return 0
    summary = evaluate(
        args.model,
        args.data,
        args.out,
        checkpoint=args.checkpoint,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        think=args.think,
        do_sample=args.do_sample,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        limit=args.limit,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        backend=args.backend,
        dtype=args.dtype,
        device=args.device,
        overwrite=args.overwrite,
        progress=args.progress,
    )
    print((Path(args.out) / SUMMARY_MD).read_text())
    if summary.get("speed"):
        print(json.dumps(summary["speed"]))
    return 0

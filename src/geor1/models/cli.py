"""Inspect a model (parameters, answer frame, image tokens) or rebuild the tiny model's files.

  geor1 model info tiny
  geor1 model build-tiny --out src/geor1/models/tiny
  geor1 model ship-tiny runs/pretrain/final      # install a pretrained tiny model as "tiny-geosynth"
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    info = sub.add_parser("info", help="print a model's size, family and answer frame")
    info.add_argument("model", nargs="?", default="tiny", help="tiny, tiny-geosynth, a folder or a hub id")
    info.add_argument("--checkpoint", help="trained weights for the tiny architecture")
    build = sub.add_parser("build-tiny", help="write the tiny model's config and tokenizer files")
    build.add_argument("--out", default=None, help="folder (default: the package's models/tiny)")
    ship = sub.add_parser("ship-tiny", help="store a pretrained tiny checkpoint in the package (bfloat16)")
    ship.add_argument("checkpoint", help="a folder written by geor1 pretrain (…/final)")
    ship.add_argument("--out", default=None, help="folder (default: the package's models/tiny_geosynth)")


def run(args) -> int:
    if args.action == "build-tiny":
        from geor1.models.tiny import TINY_DIR, build_tiny

        out = build_tiny(args.out or TINY_DIR)
        print(f"wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
        return 0
    if args.action == "ship-tiny":
        return _ship(args.checkpoint, args.out)
    from geor1.models import answer_frame, load

    model, proc = load(args.model, checkpoint=args.checkpoint)
    n = sum(p.numel() for p in model.parameters())
    frame = answer_frame(model, proc)
    lo, hi = proc.image_processor.size["shortest_edge"], proc.image_processor.size["longest_edge"]
    print(f"model        {args.model}" + (f" ({args.checkpoint})" if args.checkpoint else ""))
    print(f"family       {model.config.model_type}")
    print(f"parameters   {n / 1e6:.2f} M")
    print(f"vocabulary   {len(proc.tokenizer)} tokens")
    print(f"image pixels {lo} .. {hi}")
    print(f"answer frame {frame.name} ({frame.kind}); a 448x448 image answers in "
          f"{frame.extent(448, 448)[0]:g}x{frame.extent(448, 448)[1]:g}")
    return 0


def _ship(checkpoint: str, out: str | None) -> int:
    """Copy a pretrained tiny model into the package in bfloat16 (half the bytes; loads as float32),
    with its evaluation and the exact command that made it."""
    import json
    import shutil
    from pathlib import Path

    import torch

    from geor1.models import PRETRAINED_DIR, load

    src = Path(checkpoint)
    dest = Path(out) if out else PRETRAINED_DIR
    model, processor = load(str(src))
    if dest.exists():
        shutil.rmtree(dest)
    model.to(torch.bfloat16).save_pretrained(dest)
    processor.save_pretrained(dest)
    provenance = {}
    for name in ("args.json", "final_eval.json"):
        p = src.parent / name
        if p.is_file():
            provenance[name.removesuffix(".json")] = json.loads(p.read_text())
    (dest / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    size = sum(p.stat().st_size for p in dest.iterdir()) / 2**20
    print(f"shipped {src} -> {dest} ({size:.1f} MiB)")
    return 0

"""Inspect a model (family, answer frame, patch size, parameters) or rebuild the tiny models' files.

  geor1 model info tiny-qwen3-vl
  geor1 model list                               # every supported family
  geor1 model build-tiny                         # all tiny-* folders in the package
  geor1 model ship-tiny runs/pretrain/final      # install a pretrained tiny model as "tiny-geosynth"
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    info = sub.add_parser("info", help="print a model's size, family and answer frame")
    info.add_argument("model", nargs="?", default="tiny",
                      help="tiny, tiny-qwen3-vl, tiny-qwen3.5, tiny-geosynth, a folder or a hub id")
    info.add_argument("--checkpoint", help="trained weights for the tiny architecture")
    sub.add_parser("list", help="list the supported model families")
    build = sub.add_parser("build-tiny", help="write the tiny models' config and tokenizer files")
    build.add_argument("--name", default=None, help="one tiny model (tiny, tiny-qwen3-vl, tiny-qwen3.5); default all")
    build.add_argument("--out", default=None, help="folder (default: the model's folder in the package; needs --name)")
    ship = sub.add_parser("ship-tiny", help="store a pretrained tiny checkpoint in the package (bfloat16)")
    ship.add_argument("checkpoint", help="a folder written by geor1 pretrain (…/final)")
    ship.add_argument("--out", default=None, help="folder (default: the package's models/tiny_geosynth)")


def run(args) -> int:
    if args.action == "build-tiny":
        from geor1.models.tiny import TINY_BUILDS, build_tiny

        if args.out and not args.name:
            raise ValueError("--out needs --name (which tiny model to write there)")
        if args.name and args.name not in TINY_BUILDS:
            raise ValueError(f"--name {args.name!r}: not a tiny model (known: {', '.join(TINY_BUILDS)})")
        for name in [args.name] if args.name else TINY_BUILDS:
            out = build_tiny(args.out, name)
            print(f"{name}: wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
        return 0
    if args.action == "list":
        from geor1.models.families import FAMILIES

        print(f"{'family':<12} {'model types':<26} {'frame':<11} {'patch':>5}  examples")
        for f in FAMILIES:
            print(f"{f.name:<12} {', '.join(f.model_types):<26} {f.frame:<11} {f.patch_size:>5}  {', '.join(f.examples)}")
        return 0
    if args.action == "ship-tiny":
        return _ship(args.checkpoint, args.out)
    from geor1.models import answer_frame, family_of_model, load

    model, proc = load(args.model, checkpoint=args.checkpoint)
    n = sum(p.numel() for p in model.parameters())
    frame = answer_frame(model, proc)
    family = family_of_model(model)
    lo, hi = proc.image_processor.size["shortest_edge"], proc.image_processor.size["longest_edge"]
    n_vision = sum(p.numel() for p in family.vision(model).parameters())
    print(f"model        {args.model}" + (f" ({args.checkpoint})" if args.checkpoint else ""))
    print(f"family       {family.name} ({model.config.model_type}, {type(model).__name__})")
    print(f"parameters   {n / 1e6:.2f} M ({n_vision / 1e6:.2f} M in the vision tower)")
    print(f"patch size   {family.patch_size} px, {family.merge_size}x{family.merge_size} merge: "
          f"one image token per {family.factor}x{family.factor} px" + (", DeepStack" if family.deepstack else ""))
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
    for name in ("recipe.json", "args.json", "final_eval.json"):
        p = src.parent / name
        if p.is_file():
            provenance[name.removesuffix(".json")] = json.loads(p.read_text())
    (dest / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    size = sum(p.stat().st_size for p in dest.iterdir()) / 2**20
    print(f"shipped {src} -> {dest} ({size:.1f} MiB)")
    return 0

"""Pretrain a tiny model on GeoSynth, one phase per recipe.

  geor1 pretrain tiny/pretrain_vision                   # phase 0: the vision tower (a shipped recipe)
  geor1 pretrain tiny/pretrain_one_object               # phase 1: the whole model, one object per scene
  geor1 pretrain tiny/pretrain_scenes --set steps=200 out=runs/p2
  geor1 pretrain my_phase.yaml --resume                 # continue a stopped run from OUT/last

Any recipe key can be overridden with --set KEY=VALUE (value parsed as YAML; several may follow
one --set). Recipes are typed: an unknown key is an error naming it. docs/pretraining.md lists the
recipes that made the shipped checkpoint and what each phase measured.
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("recipe", help="a phase recipe: a YAML file or a shipped name (tiny/pretrain_vision, …)")
    parser.add_argument("--set", dest="overrides", action="append", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override a recipe key, e.g. steps=200 out=runs/p (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def run(args) -> int:
    import logging

    from geor1.pretrain.config import load_config
    from geor1.pretrain.loop import run_phase
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    cfg = load_config(args.recipe, [o for group in args.overrides for o in group])  # errors: one line, by geor1.cli
    result = run_phase(cfg, resume=args.resume, progress=not args.no_progress)
    where = f"{cfg.out}/final"
    if cfg.phase == "vision":
        print(f"pretrained the vision tower {result['steps']} steps in {result['seconds']:.0f} s -> {where}")
    else:
        print(f"pretrained {result['steps']} steps in {result['seconds']:.0f} s: seen-category REC acc@0.5 "
              f"{result['acc_at_05']:.3f}, acc@0.7 {result['acc_at_07']:.3f}, mean IoU {result['mean_iou']:.3f} "
              f"-> {where}")
    return 0

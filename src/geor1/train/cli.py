"""Train with SFT or GRPO/DAPO from a YAML recipe.

  geor1 train grpo tiny/grpo_rec                      # a shipped recipe (src/geor1/recipes/), or a YAML file
  geor1 train grpo tiny/grpo_rec --set trainer.max_steps=20 data.train=[runs/data/rec]
  geor1 train sft  tiny/sft_rec --no-resume

Any recipe key can be overridden with --set SECTION.KEY=VALUE (value parsed as YAML). Training
resumes from the last complete checkpoint in trainer.output_dir unless --no-resume.
Multi-process: accelerate launch [--config_file recipes/accelerate/zero3.yaml] -m geor1.cli train grpo …
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("method", choices=["sft", "grpo"], help="training method")
    parser.add_argument("recipe", nargs="?", help="YAML recipe (omit to build one from --set alone)")
    parser.add_argument("--set", dest="overrides", action="append", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override recipe keys, e.g. trainer.learning_rate=1e-5 data.think=false (repeatable)")
    parser.add_argument("--no-resume", action="store_true", help="start fresh even if checkpoints exist")


def run(args) -> int:
    from geor1.train.recipe import load_recipe
    from geor1.train.run import train

    # a bad recipe raises RecipeError naming the file or --set; geor1.cli prints it as one line
    recipe = load_recipe(args.recipe, [f"method={args.method}", *(o for group in args.overrides for o in group)])
    trainer = train(recipe, resume=not args.no_resume)
    print(f"done: {trainer.state.global_step} steps, model in {trainer.args.output_dir}/final")
    return 0

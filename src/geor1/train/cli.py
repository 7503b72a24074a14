"""Train with SFT or GRPO/DAPO from a YAML recipe.

  geor1 train grpo recipes/tiny/grpo_rec.yaml
  geor1 train grpo recipes/tiny/grpo_rec.yaml --set trainer.max_steps=20 data.train=[runs/data/rec]
  geor1 train sft  recipes/tiny/sft_rec.yaml --no-resume

Any recipe key can be overridden with --set SECTION.KEY=VALUE (value parsed as YAML). Training
resumes from the last complete checkpoint in trainer.output_dir unless --no-resume.
Multi-process: accelerate launch [--config_file recipes/accelerate/zero3.yaml] -m geor1.cli train grpo …
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("method", choices=["sft", "grpo"], help="training method")
    parser.add_argument("recipe", nargs="?", help="YAML recipe (omit to build one from --set alone)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key, e.g. trainer.learning_rate=1e-5 (repeatable)")
    parser.add_argument("--no-resume", action="store_true", help="start fresh even if checkpoints exist")


def run(args) -> int:
    from geor1.train.recipe import RecipeError, load_recipe
    from geor1.train.run import train

    try:
        recipe = load_recipe(args.recipe, [f"method={args.method}", *args.overrides])
    except RecipeError as e:
        print(f"geor1 train: {e}")
        return 2
    trainer = train(recipe, resume=not args.no_resume)
    print(f"done: {trainer.state.global_step} steps, model in {trainer.args.output_dir}/final")
    return 0

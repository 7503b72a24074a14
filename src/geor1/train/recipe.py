"""Recipes: typed training configuration loaded from YAML, with command-line overrides.

A recipe has four sections (see ``recipes/`` for complete examples)::

    method: grpo                  # grpo | sft
    model:                        # ModelArgs
      name: tiny-geosynth
      max_pixels: 50176
    data:                         # DataArgs
      train: [runs/data/rec/10shot]
    rewards:                      # reward name -> weight (GRPO only)
      format: 1.0
      rec_iou: 1.0
    trainer:                      # any field of TRL's GRPOConfig / SFTConfig
      output_dir: runs/grpo_rec
      learning_rate: 1.0e-6
      num_generations: 8
      beta: 0.04
      loss_type: grpo

Unknown keys anywhere are errors naming the key and the section. Overrides are
``section.key=value`` strings (value parsed as YAML): ``trainer.learning_rate=1e-5``,
``rewards.format=0.5``, ``model.lora.r=16``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

METHODS = ("sft", "grpo")
RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"


def list_recipes(kind: str = "train") -> list[str]:
    """Names of the shipped training recipes (``qwen2.5-vl-3b/grpo_rec_vrsbench_fs``, ...), or with
    ``kind="pretrain"`` the pretraining phases (``tiny/pretrain_*``, read by :mod:`geor1.pretrain`)."""
    pre = kind == "pretrain"
    return sorted(str(p.relative_to(RECIPES_DIR).with_suffix("")) for p in RECIPES_DIR.glob("*/*.yaml")
                  if p.parent.name != "accelerate" and p.stem.startswith("pretrain_") == pre)


def resolve_recipe(name_or_path: str | Path) -> Path:
    """A recipe file: an existing path, or the name of a shipped recipe."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = RECIPES_DIR / f"{str(name_or_path).removesuffix('.yaml')}.yaml"
    if shipped.is_file():
        return shipped
    raise RecipeError(f"no recipe file {name_or_path!r} and no shipped recipe of that name "
                      f"(shipped: {', '.join(list_recipes())})")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-6`` (no dot) as a string; recipes mean a float."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def _yaml(text: str):
    return yaml.load(text, Loader=_Loader)


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and the key."""


@dataclass
class LoraArgs:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


@dataclass
class ModelArgs:
    name: str = "tiny"               # tiny, tiny-geosynth, a checkpoint folder or a hub id
    checkpoint: str | None = None    # trained weights for the tiny architecture
    dtype: str = "float32"           # float32 | bfloat16 | float16
    min_pixels: int | None = None    # processor resize bounds (None: the checkpoint's own)
    max_pixels: int | None = None
    attn_implementation: str | None = None  # e.g. flash_attention_2 on GPUs
    lora: LoraArgs | None = None     # LoRA via peft; None trains all weights
    freeze_vision: bool = False      # keep the vision tower fixed


@dataclass
class DataArgs:
    train: list[str] = field(default_factory=list)  # dataset folders (schema) or SFT JSONL files (messages)
    eval: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)  # keep only these tasks (empty: all)
    think: bool | None = None        # ask for <think>…</think><answer>…</answer>; None: as the checkpoint was trained
    max_samples: int | None = None   # take the first N training samples (after shuffling with seed)
    seed: int = 0
    sft_target: str = "answer"       # SFT from schema data: "answer" (answer only) or "rationale" (programmatic teacher)


@dataclass
class Recipe:
    method: str = "grpo"
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    rewards: dict[str, float] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)
    source: str = "<recipe>"         # the file it came from, for error messages

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("source")
        return d


def _trainer_fields(method: str) -> set[str]:
    from trl import SFTConfig

    from geor1.train.dapo import GeoGRPOConfig

    cls = GeoGRPOConfig if method == "grpo" else SFTConfig
    return {f.name for f in dataclasses.fields(cls) if f.init}


def _build(cls, values: Any, where: str, source: str):
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise RecipeError(f"{source}: '{where}' must be a mapping, got {type(values).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise RecipeError(f"{source}: unknown key '{where}.{unknown[0]}'{_suggest(unknown[0], known)}")
    kwargs = {}
    for name, value in values.items():
        if cls is ModelArgs and name == "lora" and value is not None:
            value = _build(LoraArgs, value, f"{where}.lora", source)
        kwargs[name] = value
    return cls(**kwargs)


def _suggest(key: str, known) -> str:
    near = difflib.get_close_matches(str(key), sorted(known), n=1)
    return f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(sorted(known))})"


def recipe_from_dict(d: dict, source: str = "<recipe>") -> Recipe:
    """Build and check a Recipe from a plain dict (as read from YAML)."""
    if not isinstance(d, dict):
        raise RecipeError(f"{source}: a recipe is a mapping with method/model/data/rewards/trainer")
    top = {"method", "model", "data", "rewards", "trainer"}
    unknown = sorted(set(d) - top)
    if unknown:
        raise RecipeError(f"{source}: unknown key '{unknown[0]}'{_suggest(unknown[0], top)}")
    method = d.get("method", "grpo")
    if method not in METHODS:
        raise RecipeError(f"{source}: 'method' must be one of {', '.join(METHODS)}, got {method!r}")
    rewards = d.get("rewards") or {}
    if not isinstance(rewards, dict) or not all(isinstance(v, (int, float)) for v in rewards.values()):
        raise RecipeError(f"{source}: 'rewards' maps reward names to numeric weights")
    trainer = dict(d.get("trainer") or {})
    allowed = _trainer_fields(method)
    bad = sorted(set(trainer) - allowed)
    if bad:
        cls = "TRL's GRPOConfig or geor1's GeoGRPOConfig" if method == "grpo" else "TRL's SFTConfig"
        near = difflib.get_close_matches(bad[0], sorted(allowed), n=1)
        hint = f"; did you mean 'trainer.{near[0]}'?" if near else ""
        raise RecipeError(f"{source}: unknown key 'trainer.{bad[0]}' (not a field of {cls}){hint}")
    recipe = Recipe(method=method, model=_build(ModelArgs, d.get("model"), "model", source),
                    data=_build(DataArgs, d.get("data"), "data", source),
                    rewards={k: float(v) for k, v in rewards.items()}, trainer=trainer, source=source)
    if method == "grpo":
        if not recipe.rewards:
            raise RecipeError(f"{source}: a grpo recipe needs at least one reward under 'rewards'")
        from geor1.tasks import all_rewards

        known = all_rewards()
        missing = [r for r in recipe.rewards if r not in known]
        if missing:
            raise RecipeError(f"{source}: unknown reward 'rewards.{missing[0]}' (known: {', '.join(sorted(known))})")
    return recipe


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dict, in place."""
    for item in overrides:
        if "=" not in item:
            raise RecipeError(f"override {item!r} is not KEY=VALUE (e.g. trainer.learning_rate=1e-5)")
        key, raw = item.split("=", 1)
        value = _yaml(raw)
        parts = key.strip().split(".")
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise RecipeError(f"override {item!r}: '{p}' is not a section")
        node[parts[-1]] = value
    return d


def load_recipe(path: str | Path | None, overrides: list[str] = ()) -> Recipe:
    """Read a YAML recipe (or start empty when ``path`` is None), apply overrides, check everything."""
    d: dict = {}
    source = "<overrides>"
    if path is not None:
        path = resolve_recipe(path)
        source = str(path)
        try:
            d = _yaml(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise RecipeError(f"{source}: not valid YAML: {e}") from None
    if path is not None:
        recipe_from_dict(apply_overrides(copy.deepcopy(d), [o for o in overrides if o.startswith("method=")]),
                         source)  # the file's own mistakes are the file's
    user = [o for o in overrides if not o.startswith("method=")]
    recipe = recipe_from_dict(apply_overrides(d, list(overrides)), "--set" if user else source)
    recipe.source = source
    return recipe


def dump_recipe(recipe: Recipe, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(recipe.to_dict(), sort_keys=False), encoding="utf-8")

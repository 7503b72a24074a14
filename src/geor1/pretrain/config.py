"""A pretraining phase as data: one typed recipe per phase, read from YAML, with ``--set`` overrides.

    geor1 pretrain tiny/pretrain_vision                       # a shipped recipe (src/geor1/recipes/)
    geor1 pretrain my_phase.yaml --set steps=200 out=runs/p   # a file, with overrides

A recipe is flat (every key is a field of :class:`PretrainConfig`); unknown keys are errors that
name the file and the key and suggest the nearest known one.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from geor1.train.recipe import RecipeError, _yaml, apply_overrides, resolve_recipe

PHASES = ("vision", "full")


@dataclass
class PretrainConfig:
    """One pretraining phase. Units: steps are optimizer steps of ``batch`` samples; pixels are of
    the model's input (the processor's resize bounds); ``size`` is the GeoSynth render size."""

    # what is trained
    phase: str = "full"              # vision: the vision tower + a dense object probe; full: the whole model
    init: str = "tiny"               # starting model: a tiny-* name (random init) or a checkpoint folder
    out: str = "runs/pretrain"       # run folder: metrics.csv, TensorBoard events, last/, final/
    frame: str | None = None         # answer frame to train (stored as geor1_answer_frame); None: the family's
    pixels: int | None = None        # model input pixels (min = max); None: the checkpoint's processor
    # data
    tasks: dict[str, float] = field(default_factory=lambda: {"rec": 1.0})  # sample kinds and their shares
    think_fraction: float = 0.0      # share of samples asked with the think template (programmatic rationales)
    size: int = 448                  # GeoSynth render size (then resized to the model's input)
    style: str = "A"
    categories: str = "seen"         # seen | held-out | all | a comma list: categories that get boxes
    max_objects: int | None = None   # curriculum: cap objects per scene
    pool_size: int = 0               # render this many samples once and train on them (0: a fresh stream)
    pool: str | None = None          # pool folder (default OUT/pool; reused when finished)
    workers: int = 1                 # DataLoader processes rendering/encoding samples (0: in the trainer)
    seed: int = 0
    # losses (full phase): weights and the language layers they read
    position_weight: float = 1.0     # image-position probe after language layer position_layer
    position_layer: int = 1
    box_weight: float = 1.0          # box probe at the token before the first coordinate
    dense_weight: float = 0.0        # dense object probe on the image tokens
    ground_weight: float = 0.0       # grounding head: head 0 of ground_layer attends to the target
    ground_layer: int = 2
    # optimisation
    steps: int | None = None         # stop after this many steps (else after minutes)
    minutes: float = 60.0
    batch: int = 16
    lr: float = 2e-3
    warmup: int = 200                # linear warm-up steps
    decay_steps: int = 20000         # cosine decay length (to 10 % of lr)
    # where it runs
    device: str = "auto"             # auto (cuda when available) | cpu | cuda
    precision: str = "auto"          # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16
    threads: int = 1                 # torch threads of the training process on a CPU
    # evaluation and checkpoints
    eval_every: int = 500
    eval_n: int = 64
    save_every: int = 500
    source: str = field(default="<recipe>", compare=False)  # the file it came from, for messages

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("source")
        return d


def _fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(PretrainConfig) if f.name != "source"}


def config_from_dict(d: dict, source: str = "<recipe>") -> PretrainConfig:
    """Build and check a phase from a flat dict; errors name ``source`` and the key."""
    if not isinstance(d, dict):
        raise RecipeError(f"{source}: a pretraining recipe is a mapping of PretrainConfig fields")
    known = _fields()
    for key in d:
        if key not in known:
            near = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(known)})"
            raise RecipeError(f"{source}: unknown key {key!r}{hint}")
    cfg = PretrainConfig(**d, source=source)
    if cfg.phase not in PHASES:
        raise RecipeError(f"{source}: 'phase' must be one of {', '.join(PHASES)}, got {cfg.phase!r}")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise RecipeError(f"{source}: 'device' must be auto, cpu or cuda, got {cfg.device!r}")
    if cfg.precision not in ("auto", "fp32", "bf16"):
        raise RecipeError(f"{source}: 'precision' must be auto, fp32 or bf16, got {cfg.precision!r}")
    if not isinstance(cfg.tasks, dict) or not cfg.tasks or not all(
            isinstance(v, (int, float)) and v >= 0 for v in cfg.tasks.values()) or sum(cfg.tasks.values()) <= 0:
        raise RecipeError(f"{source}: 'tasks' maps sample kinds to shares, e.g. {{rec: 0.8, inventory: 0.2}}")
    from geor1.pretrain.corpus import KINDS

    bad = [k for k in cfg.tasks if k not in KINDS]
    if bad:
        raise RecipeError(f"{source}: 'tasks.{bad[0]}' is not a pretraining sample kind (known: {', '.join(KINDS)})")
    for name in ("batch", "eval_n", "eval_every", "save_every"):
        if getattr(cfg, name) < 1:
            raise RecipeError(f"{source}: {name!r} must be at least 1, got {getattr(cfg, name)}")
    if cfg.steps is not None and cfg.steps < 0:
        raise RecipeError(f"{source}: 'steps' must be >= 0, got {cfg.steps}")
    if not 0 <= cfg.think_fraction <= 1:
        raise RecipeError(f"{source}: 'think_fraction' must be in [0, 1], got {cfg.think_fraction}")
    return cfg


def load_config(path: str | Path | None, overrides: list[str] = ()) -> PretrainConfig:
    """Read a phase recipe (a file or a shipped name such as ``tiny/pretrain_vision``), then apply
    ``key=value`` overrides (values parsed as YAML). An override's bad key is blamed on ``--set``."""
    d: dict = {}
    source = "<--set>"
    if path is not None:
        p = resolve_recipe(path)
        source = str(p)
        d = _yaml(p.read_text(encoding="utf-8")) or {}
        if not isinstance(d, dict):
            raise RecipeError(f"{source}: a pretraining recipe is a mapping of PretrainConfig fields")
        config_from_dict(d, source)  # the file's own keys are the file's fault
    extra = apply_overrides({}, list(overrides))
    cfg = config_from_dict({**d, **extra}, "--set" if extra else source)  # a bad override is --set's fault
    cfg.source = source
    return cfg

"""Model loading: checkpoints of every family in :mod:`geor1.models.families` (Qwen2-VL,
Qwen2.5-VL, Qwen3-VL and its MoE variant, Qwen3.5 and its MoE variant; a local folder or a hub id)
and the built-in tiny models, each with a torchvision-free processor.

>>> model, processor = load("tiny")                    # Qwen2.5-VL architecture, randomly initialised (seeded)
>>> model, processor = load("tiny-qwen3-vl")           # Qwen3-VL architecture, randomly initialised
>>> model, processor = load("tiny", checkpoint="runs/pretrain/final")
>>> model, processor = load("Qwen/Qwen3-VL-4B-Instruct", dtype="bfloat16")
>>> family_of_model(model).frame                       # "norm1000"
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from geor1.coords import Frame, get_frame
from geor1.models.families import FAMILIES, ModelFamily, family_of, family_of_config
from geor1.models.tiny import TINY_BUILDS

# Names that resolve to the built-in tiny models (random init, one per family build);
# "tiny-geosynth" is the shipped pretrained one.
TINY_NAMES = {name: build.folder for name, build in TINY_BUILDS.items()}
PRETRAINED_DIR = Path(__file__).parent / "tiny_geosynth"
if (PRETRAINED_DIR / "config.json").is_file():
    TINY_NAMES["tiny-geosynth"] = PRETRAINED_DIR

__all__ = ["FAMILIES", "ModelFamily", "TINY_NAMES", "Usage", "answer_frame", "config_frame", "family_of", "family_of_config",
           "family_of_model", "load", "load_processor", "record_usage", "resolve_model", "usage_of",
           "usage_of_config"]


def resolve_model(name_or_path: str) -> str:
    """The folder of a built-in name, a local folder, or a hub id (``org/name``), as given; a name
    that can be none of these fails at once with the nearest built-in name (rather than after the
    hub's network retries)."""
    name = str(name_or_path)
    if name in TINY_NAMES:
        return str(TINY_NAMES[name])
    if os.path.isdir(name):
        return name
    if os.path.exists(name):
        raise ValueError(f"model {name!r} is a file, not a model folder")
    if name.count("/") == 1 and not name.startswith((".", "/")) and all(name.split("/")):
        return name  # a hub id
    import difflib

    near = difflib.get_close_matches(name, list(TINY_NAMES), n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise ValueError(f"model {name!r} is not a folder, a built-in name ({', '.join(TINY_NAMES)}) or a hub id "
                     f"(org/name); {hint}")


def family_of_model(model) -> ModelFamily:
    """The family of a loaded model."""
    return family_of_config(model.config)


def _model_type(path: str, **hub_kwargs) -> str:
    if os.path.isdir(path):
        cfg_file = os.path.join(path, "config.json")
        if not os.path.isfile(cfg_file):
            raise FileNotFoundError(f"{path} has no config.json: not a model folder")
        with open(cfg_file, encoding="utf-8") as f:
            model_type = json.load(f).get("model_type", "")
    else:
        from transformers import AutoConfig

        model_type = AutoConfig.from_pretrained(path, **hub_kwargs).model_type
    try:
        family_of(model_type)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return model_type


def load_processor(name_or_path: str, *, min_pixels: int | None = None, max_pixels: int | None = None,
                   **hub_kwargs):
    """The processor of a checkpoint (folder or hub id), built without torchvision."""
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

    from geor1.models.processor import build_processor, read_chat_template

    path = resolve_model(name_or_path)
    model_type = _model_type(path, **hub_kwargs)
    tokenizer = AutoTokenizer.from_pretrained(path, **hub_kwargs)
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(path, **hub_kwargs)
    template = read_chat_template(path) if os.path.isdir(path) else None
    return build_processor(model_type, tokenizer, image_processor=image_processor, min_pixels=min_pixels,
                           max_pixels=max_pixels, chat_template=template)


def load(name_or_path: str = "tiny", *, checkpoint: str | None = None, dtype: str = "float32",
         min_pixels: int | None = None, max_pixels: int | None = None, seed: int = 0,
         device_map=None, attn_implementation: str | None = None, **hub_kwargs):
    """Return ``(model, processor)``; :func:`answer_frame` gives the frame the model answers in.

    ``name_or_path``: ``"tiny"``, ``"tiny-qwen3-vl"``, ``"tiny-qwen3.5"`` (built-in architectures,
    random weights from ``seed`` unless ``checkpoint`` names trained weights), ``"tiny-geosynth"``
    (the shipped pretrained tiny model), a local checkpoint folder, or a hub id such as
    ``Qwen/Qwen3-VL-4B-Instruct``.
    ``min_pixels``/``max_pixels`` override the processor's resize bounds (and so the answer frame
    of Qwen2.5-VL, which is pixels of the resized input).
    """
    import torch
    import transformers

    base = resolve_model(name_or_path)
    weights = checkpoint or base
    model_type = _model_type(base, **hub_kwargs)
    cls = family_of(model_type).model_class(model_type)
    torch_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    kwargs = dict(dtype=torch_dtype, **hub_kwargs)
    if device_map is not None:
        kwargs["device_map"] = device_map
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    has_weights = os.path.isdir(weights) and any(Path(weights).glob("*.safetensors")) or not os.path.isdir(weights)
    if has_weights:
        model = cls.from_pretrained(weights, **kwargs)
    else:  # an architecture folder without weights (the built-in tiny model): seeded random init
        config = transformers.AutoConfig.from_pretrained(weights)
        if attn_implementation:
            config._attn_implementation = attn_implementation
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = cls._from_config(config, dtype=torch_dtype)
    processor = load_processor(checkpoint if checkpoint and os.path.isfile(os.path.join(checkpoint, "tokenizer.json"))
                               else base, min_pixels=min_pixels, max_pixels=max_pixels, **hub_kwargs)
    return model, processor


def config_frame(config, processor) -> Frame:
    """The coordinate frame of a checkpoint's ``config``, given the processor's resize bounds: its
    family's (Qwen2.5-VL: pixels of the resized input; Qwen3-VL: 0-1000), unless the checkpoint was
    trained in another one and says so in ``config.json`` as ``"geor1_answer_frame"`` (the shipped
    tiny model: 0-100)."""
    from geor1.models.processor import processor_pixels

    lo, hi = processor_pixels(processor)
    family = family_of_config(config)
    name = getattr(config, "geor1_answer_frame", None) or family.frame
    frame = get_frame(name, min_pixels=lo, max_pixels=hi)
    if frame.kind == "resized" and frame.factor != family.factor:
        frame = replace(frame, factor=family.factor)
    return frame


def answer_frame(model, processor) -> Frame:
    """The coordinate frame ``model`` answers in (see :func:`config_frame`)."""
    return config_frame(model.config, processor)


@dataclass(frozen=True)
class Usage:
    """How a checkpoint is meant to be asked, from its ``config.json``: ``geor1_think`` (the
    ``<think>…</think><answer>…</answer>`` template, or the answer alone), ``geor1_max_new_tokens``
    and ``geor1_tasks`` (the tasks it was trained on; None: any). Checkpoints without these keys (the
    released instruct models) are asked to think, with up to 1,024 new tokens, on any task."""

    think: bool = True
    max_new_tokens: int = 1024
    tasks: tuple[str, ...] | None = None

    def trained_on(self, task: str) -> bool:
        return self.tasks is None or task in self.tasks


def usage_of_config(config) -> Usage:
    get = (config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d))
    tasks = get("geor1_tasks")
    return Usage(think=bool(get("geor1_think", True)), max_new_tokens=int(get("geor1_max_new_tokens", 1024)),
                 tasks=tuple(tasks) if tasks else None)


def usage_of(name_or_path: str, checkpoint: str | None = None) -> Usage:
    """The :class:`Usage` of a model name, folder or hub id (trained weights in ``checkpoint`` win);
    a hub id that cannot be read offline gets the defaults."""
    path = str(checkpoint) if checkpoint else resolve_model(name_or_path)
    cfg_file = os.path.join(path, "config.json")
    if os.path.isfile(cfg_file):
        with open(cfg_file, encoding="utf-8") as f:
            return usage_of_config(json.load(f))
    if os.path.isdir(path):
        return Usage()
    try:
        from transformers import AutoConfig

        return usage_of_config(AutoConfig.from_pretrained(path))
    except (OSError, ValueError):
        return Usage()


def record_usage(config, *, think: bool, tasks, max_new_tokens: int) -> None:
    """Write a :class:`Usage` into ``config`` (saved with the checkpoint's ``config.json``)."""
    config.geor1_think = bool(think)
    config.geor1_tasks = sorted(tasks) if tasks else None
    config.geor1_max_new_tokens = int(max_new_tokens)

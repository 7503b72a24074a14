"""Model families: everything geor1 knows about one family of checkpoints, in one record.

A family is keyed by the ``model_type`` values of its ``config.json`` (a dense model and its MoE
variant share a family when they differ only by class name). The record says which transformers
class loads it, how its torchvision-free processor is built, which coordinate frame it answers in,
its patch and merge size, where its vision tower and language model live inside the loaded model,
how its chat template is switched between thinking and not, and whether its vision tower feeds
DeepStack features into the language model. Nothing else in geor1 branches on a model type:
adding a family is adding one record to :data:`FAMILIES` (and, for CPU tests, a ``tiny-*`` build in
:mod:`geor1.models.tiny`).

This module imports nothing heavy; transformers classes are looked up by name when used.

=============  =========================  ==========  =====  ========================================
family         model types                frame       patch  notes
=============  =========================  ==========  =====  ========================================
``qwen2-vl``   qwen2_vl                   norm1000    14     rotary positions only
``qwen2.5-vl`` qwen2_5_vl                 qwen2.5-vl  14     pixels of the resized input (the papers')
``qwen3-vl``   qwen3_vl, qwen3_vl_moe     norm1000    16     learned absolute positions + DeepStack
``qwen3.5``    qwen3_5, qwen3_5_moe       norm1000    16     hybrid linear attention; ``enable_thinking``
=============  =========================  ==========  =====  ========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A generation prompt that ends inside an open think block (Qwen3.5's template with thinking on,
# Qwen3-VL-Thinking's always): the completion then starts in the middle of "<think>…".
_OPEN_THINK = re.compile(r"<think>\s*$")


@dataclass(frozen=True)
class ModelFamily:
    """One family of vision-language checkpoints.

    ``classes``: ``model_type`` -> the transformers class that loads it (``…ForConditionalGeneration``).
    ``processor``: the name of geor1's torchvision-free processor class in :mod:`geor1.models.processor`.
    ``frame``: the coordinate frame answers are in (a name of :data:`geor1.coords.FRAMES`).
    ``patch_size``/``merge_size``: one image token covers ``(patch_size * merge_size)**2`` pixels of the
    resized input, which is a multiple of ``patch_size * merge_size`` on each side.
    ``vision_path``/``language_path``: attribute paths of the vision tower and the language model in
    the loaded model (what ``freeze_vision`` freezes, what pretraining's probes hook).
    ``deepstack``: the vision tower adds features of some of its layers to the first language layers.
    ``think_switch``: the chat-template variable that turns the model's own thinking on or off.
    ``examples``: hub ids of released checkpoints (for the docs and ``geor1 model info``).
    """

    name: str
    classes: dict[str, str]
    processor: str
    frame: str
    patch_size: int
    merge_size: int = 2
    vision_path: str = "model.visual"
    language_path: str = "model.language_model"
    deepstack: bool = False
    think_switch: str | None = None
    examples: tuple[str, ...] = field(default=())

    @property
    def model_types(self) -> tuple[str, ...]:
        return tuple(self.classes)

    @property
    def factor(self) -> int:
        """Pixels per image token along one side (the resize granularity)."""
        return self.patch_size * self.merge_size

    def model_class(self, model_type: str):
        import transformers

        return getattr(transformers, self.classes[model_type])

    def processor_class(self):
        from geor1.models import processor

        return getattr(processor, self.processor)

    def image_processor(self, min_pixels: int | None = None, max_pixels: int | None = None):
        """A pure-PIL image processor with this family's patch and merge size."""
        from transformers import Qwen2VLImageProcessorPil

        kw = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
        return Qwen2VLImageProcessorPil(patch_size=self.patch_size, merge_size=self.merge_size, **kw)

    def vision(self, model):
        """The vision tower of a loaded model (``model.model.visual`` in every Qwen-VL family)."""
        return _attr(model, self.vision_path)

    def language_model(self, model):
        """The decoder stack of a loaded model (has ``.layers`` and ``.norm``)."""
        return _attr(model, self.language_path)

    def freeze_vision(self, model) -> int:
        """Freeze the vision tower (merger and DeepStack mergers included); returns how many tensors."""
        params = list(self.vision(model).parameters())
        for p in params:
            p.requires_grad_(False)
        return len(params)

    def chat_template_kwargs(self, think: bool) -> dict:
        """Extra variables for ``apply_chat_template``: Qwen3.5's templates open or close a think block
        themselves depending on ``enable_thinking``; geor1 turns it on exactly when it asks to think."""
        return {self.think_switch: bool(think)} if self.think_switch else {}

    def generation_prompt(self, processor, messages: list[dict], *, think: bool) -> str:
        """The prompt string for ``messages`` with the assistant turn opened."""
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                             **self.chat_template_kwargs(think))

    def completion_prefix(self, processor, *, think: bool) -> str:
        """What the chat template already wrote of the answer: ``"<think>\\n"`` when the generation
        prompt ends inside an open think block, else ``""``. Prepended to a completion before it is
        parsed or rewarded, so every family's answers read ``<think>…</think><answer>…</answer>``."""
        probe = [{"role": "user", "content": [{"type": "text", "text": "?"}]}]
        text = self.generation_prompt(processor, probe, think=think)
        m = _OPEN_THINK.search(text)
        return "<think>\n" if m else ""

    def prepare_for_training(self, model) -> None:
        """Keep every vision parameter in the graph when a batch holds no image.

        A text-only batch never runs the vision tower, so its parameters (DeepStack mergers included)
        get no gradient: DDP without ``find_unused_parameters`` and ZeRO-3's parameter gathering then
        wait on ranks that skipped it. As EasyR1 does for Qwen3-VL, run the tower on one dummy merge
        window and add ``0 *`` its outputs to the logits: the loss is unchanged, the gradients are
        zeros instead of missing. Mixed batches (some samples with images) run the tower anyway."""
        if getattr(model, "_geor1_vision_kept", False):
            return
        family = self

        def keep_vision(module, args, kwargs, output):
            import torch

            if not (module.training and torch.is_grad_enabled()) or kwargs.get("pixel_values") is not None:
                return output
            if getattr(output, "logits", None) is None:
                return output
            output.logits = output.logits + 0.0 * family.dummy_vision_sum(module)
            return output

        model.register_forward_hook(keep_vision, with_kwargs=True)
        model._geor1_vision_kept = True

    def dummy_vision_sum(self, model):
        """The sum of every output of the vision tower (merged tokens and DeepStack features) on one
        all-zero merge window: a scalar that depends on every vision parameter."""
        import torch

        visual = self.vision(model)
        cfg = visual.config
        n = self.merge_size ** 2
        dim = cfg.in_channels * cfg.temporal_patch_size * self.patch_size ** 2
        p = next(visual.parameters())
        pixels = torch.zeros(n, dim, dtype=p.dtype, device=p.device)
        grid = torch.tensor([[1, self.merge_size, self.merge_size]], device=p.device)
        out = visual(pixels, grid_thw=grid)
        total = out.pooler_output.float().sum()
        for feat in getattr(out, "deepstack_features", None) or ():
            total = total + feat.float().sum()
        return total


def _attr(obj, path: str):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily("qwen2-vl", {"qwen2_vl": "Qwen2VLForConditionalGeneration"}, "Qwen2VLImageOnlyProcessor",
                "norm1000", patch_size=14, examples=("Qwen/Qwen2-VL-2B-Instruct", "Qwen/Qwen2-VL-7B-Instruct")),
    ModelFamily("qwen2.5-vl", {"qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration"}, "Qwen25VLImageProcessor",
                "qwen2.5-vl", patch_size=14,
                examples=("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct")),
    ModelFamily("qwen3-vl", {"qwen3_vl": "Qwen3VLForConditionalGeneration",
                             "qwen3_vl_moe": "Qwen3VLMoeForConditionalGeneration"},
                "Qwen3VLImageOnlyProcessor", "norm1000", patch_size=16, deepstack=True,
                examples=("Qwen/Qwen3-VL-4B-Instruct", "Qwen/Qwen3-VL-8B-Instruct", "Qwen/Qwen3-VL-30B-A3B-Instruct")),
    ModelFamily("qwen3.5", {"qwen3_5": "Qwen3_5ForConditionalGeneration",
                            "qwen3_5_moe": "Qwen3_5MoeForConditionalGeneration"},
                "Qwen3VLImageOnlyProcessor", "norm1000", patch_size=16, think_switch="enable_thinking",
                examples=("Qwen/Qwen3.5-4B", "Qwen/Qwen3.5-35B-A3B")),
)

_BY_TYPE = {t: f for f in FAMILIES for t in f.model_types}
_BY_NAME = {f.name: f for f in FAMILIES}


def family_of(model_type_or_name: str) -> ModelFamily:
    """The family of a ``model_type`` (``qwen3_vl_moe``) or a family name (``qwen3-vl``)."""
    fam = _BY_TYPE.get(model_type_or_name) or _BY_NAME.get(model_type_or_name)
    if fam is None:
        raise ValueError(f"model_type {model_type_or_name!r} is not supported "
                         f"(supported: {', '.join(_BY_TYPE)})")
    return fam


def family_of_config(config) -> ModelFamily:
    """The family of a loaded model's (or checkpoint's) config."""
    return family_of(config.model_type)


def is_model_type(name: str) -> bool:
    return name in _BY_TYPE

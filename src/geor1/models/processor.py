"""The torchvision-free processor: the one place that works around transformers 5 wanting
torchvision for Qwen-VL processors.

transformers 5 builds ``Qwen2_5_VLProcessor`` / ``Qwen2VLProcessor`` / ``Qwen3VLProcessor`` (also
Qwen3.5's) with a *video* processor that
imports torchvision, and ``AutoProcessor`` fails without it. geor1 feeds images only, so we
assemble the processor from its two real parts — the checkpoint's tokenizer and the pure-PIL
``Qwen2VLImageProcessorPil`` (same resize/normalize/patchify as the torchvision one) — and pass
no video processor. Saving writes those parts in the standard file layout, so a saved folder
loads back here and in stock transformers (where torchvision is installed).
"""

from __future__ import annotations

import json
import os

from transformers import Qwen2_5_VLProcessor, Qwen2VLProcessor, Qwen3VLProcessor


class _ImageOnly:
    """Mixin: accept ``video_processor=None`` and save without it."""

    def check_argument_for_proper_class(self, argument_name, argument):
        if argument_name == "video_processor" and argument is None:
            return None
        return super().check_argument_for_proper_class(argument_name, argument)

    def save_pretrained(self, save_directory, **kwargs):
        os.makedirs(save_directory, exist_ok=True)
        self.tokenizer.save_pretrained(save_directory)
        self.image_processor.save_pretrained(save_directory)
        if self.chat_template:
            with open(os.path.join(save_directory, "chat_template.json"), "w", encoding="utf-8") as f:
                json.dump({"chat_template": self.chat_template}, f, indent=2, ensure_ascii=False)
        return [save_directory]


class Qwen25VLImageProcessor(_ImageOnly, Qwen2_5_VLProcessor):
    """Qwen2.5-VL processor for text + images, without torchvision."""


class Qwen2VLImageOnlyProcessor(_ImageOnly, Qwen2VLProcessor):
    """Qwen2-VL processor for text + images, without torchvision."""


class Qwen3VLImageOnlyProcessor(_ImageOnly, Qwen3VLProcessor):
    """Qwen3-VL and Qwen3.5 processor for text + images, without torchvision (it also returns the
    ``mm_token_type_ids`` those models need for their M-RoPE positions)."""


def read_chat_template(path: str | os.PathLike) -> str | None:
    """The chat template stored in a checkpoint folder (any of the layouts transformers writes)."""
    for name in ("chat_template.jinja", "chat_template.json"):
        p = os.path.join(path, name)
        if os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                return f.read() if name.endswith(".jinja") else json.load(f)["chat_template"]
    return None


def build_processor(model_type: str, tokenizer, *, image_processor=None, min_pixels: int | None = None,
                    max_pixels: int | None = None, chat_template: str | None = None):
    """Assemble the processor of ``model_type``'s family (see :mod:`geor1.models.families`) from a
    tokenizer and a PIL image processor (the family's default one with the given pixel bounds if none
    is passed)."""
    from geor1.models.families import family_of

    family = family_of(model_type)
    if image_processor is None:
        image_processor = family.image_processor(min_pixels, max_pixels)
    elif min_pixels is not None or max_pixels is not None:
        size = dict(image_processor.size)
        if min_pixels is not None:
            size["shortest_edge"] = min_pixels
        if max_pixels is not None:
            size["longest_edge"] = max_pixels
        image_processor.size = size
    template = chat_template or getattr(tokenizer, "chat_template", None)
    return family.processor_class()(image_processor=image_processor, tokenizer=tokenizer,
                                    video_processor=None, chat_template=template)


def processor_pixels(processor) -> tuple[int, int]:
    """(min_pixels, max_pixels) the processor resizes images into."""
    size = processor.image_processor.size
    return int(size["shortest_edge"]), int(size["longest_edge"])

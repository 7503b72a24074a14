"""One generation layer: decoding settings and the generators that apply them.

A generator takes prompt strings (the model family's chat template already applied, image
placeholders included) and each prompt's images, and returns one :class:`Generation` per prompt.
Two backends: :class:`TransformersGenerator` (``model.generate`` on left-padded batches) and
:class:`VLLMGenerator` (vLLM's offline engine, CUDA only). Evaluation, ``geor1 predict``, the data
engine's local teacher and pretraining's REC probe all generate through them, with a
:class:`Decoding` — which is also what an evaluation records as its decoding settings.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class Decoding:
    """How to decode: greedy unless ``do_sample`` (then ``temperature``, ``top_p`` and ``seed``);
    ``ignore_eos`` always generates ``max_new_tokens`` (benchmarks)."""

    max_new_tokens: int
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    ignore_eos: bool = False

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.do_sample and not (self.temperature > 0 and 0 < self.top_p <= 1):
            raise ValueError(f"sampling needs temperature > 0 and 0 < top_p <= 1, got {self.temperature}, {self.top_p}")

    @classmethod
    def from_temperature(cls, max_new_tokens: int, temperature: float, seed: int = 0) -> Decoding:
        """Temperature 0 is greedy; above 0, sampling at that temperature."""
        return cls(max_new_tokens, do_sample=temperature > 0, temperature=temperature or 1.0, seed=seed)

    def settings(self) -> dict:
        """What an evaluation records: the sampling knobs only when sampling."""
        return {"do_sample": self.do_sample, "temperature": self.temperature if self.do_sample else None,
                "top_p": self.top_p if self.do_sample else None, "seed": self.seed if self.do_sample else None,
                "max_new_tokens": self.max_new_tokens, "ignore_eos": self.ignore_eos}


def add_decoding_arguments(parser: argparse.ArgumentParser, *, max_new_tokens_help: str) -> None:
    """The decoding flags every generating command shares (eval, predict): --max-new-tokens,
    --sample, --temperature, --top-p and --seed."""
    parser.add_argument("--max-new-tokens", type=int, default=None, help=max_new_tokens_help)
    parser.add_argument("--sample", dest="do_sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--temperature", type=float, default=1.0, help="with --sample")
    parser.add_argument("--top-p", type=float, default=1.0, help="with --sample")
    parser.add_argument("--seed", type=int, default=0, help="with --sample")


class Generator(Protocol):
    def __call__(self, prompts: list[str], images: list[list[Image.Image]]) -> list[Generation]: ...


@dataclass
class Generation:
    """One completion: its text (special tokens removed), how many tokens were generated (up to
    and including the end-of-sequence token) and why it stopped (``stop`` or ``length``)."""

    text: str
    num_tokens: int
    finish_reason: str


# ---------------------------------------------------------------------------------------------
# Generators: prompt strings + images in, Generations out.


class TransformersGenerator:
    """Batched ``model.generate`` on left-padded prompts (Qwen-VL's M-RoPE positions follow the
    attention mask, so a padded row decodes as it would alone)."""

    def __init__(self, model, processor, decoding: Decoding):
        self.model, self.processor, self.decoding = model, processor, decoding
        d = decoding
        tok = processor.tokenizer
        eos = model.generation_config.eos_token_id
        self.eos = set(
            eos if isinstance(eos, (list, tuple)) else [eos if eos is not None else tok.eos_token_id]
        )
        pad = tok.pad_token_id if tok.pad_token_id is not None else next(iter(self.eos))
        self.kwargs = {"max_new_tokens": d.max_new_tokens, "do_sample": d.do_sample, "pad_token_id": pad}
        if d.do_sample:
            self.kwargs.update(temperature=d.temperature, top_p=d.top_p, top_k=None)
        if d.ignore_eos:  # benchmarks: every row generates exactly max_new_tokens
            self.kwargs["min_new_tokens"] = d.max_new_tokens

    def __call__(self, prompts: list[str], images: list[list[Image.Image]]) -> list[Generation]:
        import torch

        flat = [im for ims in images for im in ims]
        tok = self.processor.tokenizer
        side, tok.padding_side = tok.padding_side, "left"  # generation continues from the right edge
        try:
            enc = self.processor(text=prompts, images=flat or None, return_tensors="pt", padding=True)
        finally:
            tok.padding_side = side
        enc = enc.to(self.model.device)
        if self.decoding.do_sample:
            torch.manual_seed(self.decoding.seed)
        with torch.inference_mode():
            out = self.model.generate(**enc, **self.kwargs)
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        gens = []
        for ids in new:
            n = next((i + 1 for i, t in enumerate(ids) if t in self.eos), len(ids))
            stopped = (
                n <= len(ids) and bool(ids) and ids[n - 1] in self.eos and "min_new_tokens" not in self.kwargs
            )
            text = self.processor.tokenizer.decode(ids[:n], skip_special_tokens=True)
            gens.append(Generation(text, n, "stop" if stopped else "length"))
        return gens


class VLLMGenerator:
    """vLLM's offline engine on the same prompt strings (image placeholders included) and images;
    the image processor gets the same pixel bounds, so the answer frame is the same."""

    def __init__(
        self,
        model_path: str,
        decoding: Decoding,
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        max_images: int = 1,
        dtype: str | None = None,
    ):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as e:
            raise ImportError(
                "backend='vllm' needs the vllm package (pip install vllm; CUDA GPUs only). "
                "Use backend='transformers' otherwise."
            ) from e
        if os.path.isdir(model_path) and not any(Path(model_path).glob("*.safetensors")):
            raise ValueError(
                f"{model_path} holds no *.safetensors weights: vLLM cannot serve a randomly initialised "
                "model; pass a trained checkpoint or use backend='transformers'"
            )
        mm = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
        self.llm = LLM(
            model=model_path,
            dtype=dtype or "auto",
            seed=decoding.seed,
            limit_mm_per_prompt={"image": max_images},
            mm_processor_kwargs=mm or None,
        )
        d = self.decoding = decoding
        self.params = SamplingParams(
            temperature=d.temperature if d.do_sample else 0.0,
            top_p=d.top_p if d.do_sample else 1.0,
            max_tokens=d.max_new_tokens,
            seed=d.seed if d.do_sample else None,
            ignore_eos=d.ignore_eos,
        )

    def __call__(self, prompts: list[str], images: list[list[Image.Image]]) -> list[Generation]:
        inputs = [{"prompt": p, "multi_modal_data": {"image": ims}} for p, ims in zip(prompts, images)]
        outs = self.llm.generate(inputs, self.params, use_tqdm=False)
        return [
            Generation(
                o.outputs[0].text,
                len(o.outputs[0].token_ids),
                "length" if o.outputs[0].finish_reason == "length" else "stop",
            )
            for o in outs
        ]

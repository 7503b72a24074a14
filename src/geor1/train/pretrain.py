"""Pretrain the built-in tiny Qwen2.5-VL on GeoSynth so that it can localize.

  geor1 pretrain --out runs/pretrain --minutes 90
  geor1 pretrain --out runs/pretrain --minutes 90 --resume     # continue a stopped run

A plain PyTorch loop (the nanoGPT way) over an endless stream of fresh GeoSynth samples made by a
DataLoader worker while the main process trains, so no sample is seen twice. Each batch mixes
tasks (REC mostly) over the seen categories in style A; the loss is next-token cross-entropy on
the assistant's answer only.

Why an auxiliary loss: Qwen2.5-VL has no absolute position embedding — position reaches the
language model only through M-RoPE's *relative* rotations, and a tiny model trained from scratch
learns to turn them into "where" very slowly (a 4.5M-parameter trial reached 0–3% Acc@0.5 in
10 minutes). We add a linear probe on the hidden states of the image tokens after language layer
``--aux-layer`` and regress each token's (row, column) in the image grid. This forces the lower
layers to write absolute position into the image tokens' *content*, which the answer tokens then
read by ordinary content attention — whatever the distance from image to answer. The probe is
discarded; the saved model is a plain Qwen2.5-VL checkpoint. docs/pretraining.md records what was
tried and measured.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("geor1.pretrain")


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/pretrain", help="run folder (checkpoints, metrics.csv)")
    parser.add_argument("--init", default="tiny", help="starting model: tiny (random) or a checkpoint folder")
    parser.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (overrides --minutes)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    parser.add_argument("--decay-steps", type=int, default=20000, help="cosine decay length (to 10%% of --lr)")
    parser.add_argument("--aux-weight", type=float, default=1.0, help="weight of the image-position probe loss")
    parser.add_argument("--aux-layer", type=int, default=1, help="language layer whose output the probe reads")
    parser.add_argument("--box-weight", type=float, default=1.0,
                        help="weight of the box-regression probe at the first coordinate (REC samples)")
    parser.add_argument("--dense-weight", type=float, default=0.0,
                        help="weight of the dense object probe on the image tokens (which categories cover each "
                             "token; the box of the object centred in it)")
    parser.add_argument("--ground-weight", type=float, default=0.0,
                        help="weight of the grounding loss: one attention head must look at the target's image "
                             "tokens from the tokens that write its box (REC samples)")
    parser.add_argument("--ground-layer", type=int, default=2, help="language layer of the grounding head (head 0)")
    parser.add_argument("--vision-only", action="store_true",
                        help="phase 0: train only the vision tower with a dense object probe on its output "
                             "(about 10x cheaper per image); the language model is left as it is")
    parser.add_argument("--frame", default=None,
                        help="answer frame to train (e.g. norm100; stored in the checkpoint's config.json as "
                             "geor1_answer_frame; default: the model family's)")
    parser.add_argument("--pixels", type=int, default=None,
                        help="model input pixels (min = max; default: the checkpoint's processor, 224x224 for tiny)")
    parser.add_argument("--tasks", default="rec:1", help="task mix, e.g. rec:0.7,ovd:0.15,gres:0.15")
    parser.add_argument("--think-fraction", type=float, default=0.0,
                        help="share of samples asked with the think template and answered with a programmatic rationale")
    parser.add_argument("--size", type=int, default=448, help="GeoSynth image size (the processor resizes)")
    parser.add_argument("--style", default="A")
    parser.add_argument("--categories", default="seen")
    parser.add_argument("--max-objects", type=int, default=None, help="curriculum: cap objects per scene")
    parser.add_argument("--pool", default=None,
                        help="folder of pre-rendered samples (made once, reused; default OUT/pool)")
    parser.add_argument("--pool-size", type=int, default=0,
                        help="render this many samples into the pool first and train on it (0: render on the fly)")
    parser.add_argument("--workers", type=int, default=1, help="processes rendering/encoding samples")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the training process")
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--eval-n", type=int, default=64)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last")


# ---------------------------------------------------------------------------------------------
# Data: an endless stream of encoded GeoSynth samples

def _parse_mix(spec: str) -> tuple[list[str], np.ndarray]:
    names, weights = [], []
    for part in spec.split(","):
        name, _, w = part.partition(":")
        names.append(name.strip())
        weights.append(float(w or 1))
    p = np.array(weights, dtype=np.float64)
    return names, p / p.sum()


def encode_example(processor, frame, sample, images, *, think: bool, rationale_fn=None) -> dict:
    """Tokenize one sample as prompt + answer, with labels on the answer only."""
    from geor1.tasks import get_task

    task = get_task(sample.task)
    messages = task.build_messages(sample, frame, think=think)
    prompt = _family(processor).generation_prompt(processor, messages, think=think)
    final = task.target_answer(sample, frame)
    answer, tail = final, ""
    if think:  # the rationale names other boxes (anchors, candidates): the probes read the final answer's
        answer, tail = f"<think>{rationale_fn(sample, frame)}</think>\n<answer>{final}</answer>", "</answer>"
    enc = processor(text=[prompt + answer + "<|im_end|>"], images=images, return_tensors="pt")
    count = lambda text: len(processor.tokenizer(text, add_special_tokens=False)["input_ids"])
    n_answer, n_final = count(answer + "<|im_end|>"), count(final + tail + "<|im_end|>")
    ids = enc["input_ids"][0]
    labels = torch.full_like(ids, -100)
    labels[-n_answer:] = ids[-n_answer:]
    # The box probe reads the hidden state that predicts the first coordinate: the last token before
    # the first digit of the final answer's first box (REC: the only box).
    box_pos, box = -1, torch.zeros(4)
    if sample.task == "rec" and sample.boxes:
        start = len(ids) - n_final
        tokens = processor.tokenizer.convert_ids_to_tokens(ids[start:].tolist())
        first_digit = next((i for i, t in enumerate(tokens) if t.isdigit()
                            and i > 0 and tokens[i - 1].endswith("[")), None)
        if first_digit is not None:
            box_pos = start + first_digit - 1
            fw, fh = frame.extent(sample.width, sample.height)
            from geor1.coords import to_frame

            b = to_frame(sample.boxes[0], frame, sample.width, sample.height)
            box = torch.tensor([b[0] / fw, b[1] / fh, b[2] / fw, b[3] / fh], dtype=torch.float32) * 2 - 1
    grid = enc["image_grid_thw"][0].tolist()
    cells, ground, ground_span = object_targets(sample, grid), torch.zeros(0), (-1, -1)
    if box_pos >= 0:
        ground = grounding_target(sample.boxes[0], sample.width, sample.height, grid)
        close = next((i for i in range(box_pos + 1, len(ids)) if "]" in processor.tokenizer.decode(ids[i])), box_pos)
        ground_span = (box_pos, close)  # positions that predict the box's tokens up to its "]"
    # mm_token_type_ids marks the image tokens: without it Qwen2.5-VL silently falls back to 1-D
    # positions, so training would not match generation (which gets it from the processor).
    return {"input_ids": ids, "labels": labels, "mm_token_type_ids": enc["mm_token_type_ids"][0],
            "pixel_values": enc["pixel_values"], "image_grid_thw": enc["image_grid_thw"], "box_pos": box_pos,
            "box": box, "cells": cells, "ground": ground, "ground_span": ground_span}


def _family(model_or_processor):
    """The model family of a loaded model, or of a processor (by its class)."""
    from geor1.models.families import FAMILIES, family_of_config

    if hasattr(model_or_processor, "config"):
        return family_of_config(model_or_processor.config)
    name = type(model_or_processor).__name__
    return next(f for f in FAMILIES if f.processor == name)


def input_extent(processor, size: int) -> tuple[int, int]:
    """(W, H) the processor resizes a ``size`` x ``size`` image to (whatever frame the model answers in)."""
    from dataclasses import replace

    from geor1.coords import get_frame
    from geor1.models.processor import processor_pixels

    lo, hi = processor_pixels(processor)
    resized = replace(get_frame("qwen2.5-vl", min_pixels=lo, max_pixels=hi), factor=processor.image_processor.patch_size
                      * processor.image_processor.merge_size)
    return tuple(int(v) for v in resized.extent(size, size))


class SynthStream(torch.utils.data.IterableDataset):
    """Fresh GeoSynth samples forever; worker w of W makes sample indices w, w+W, ... from ``seed``."""

    def __init__(self, processor, frame, *, tasks: str, think_fraction: float, size: int, style: str,
                 categories, max_objects: int | None, seed: int, start: int = 0):
        self.processor, self.frame = processor, frame
        self.names, self.p = _parse_mix(tasks)
        self.think_fraction, self.size, self.style = think_fraction, size, style
        self.categories, self.max_objects, self.seed, self.start = categories, max_objects, seed, start

    def __iter__(self):
        from geor1.synth import make_sample

        rationale_fn = None
        if self.think_fraction > 0:
            from geor1.engine.rationales import rationale as rationale_fn
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        torch.set_num_threads(1)
        ext = input_extent(self.processor, self.size)
        i = self.start + wid
        while True:
            rng = np.random.default_rng([self.seed, i])
            task = self.names[int(rng.choice(len(self.names), p=self.p))]
            kwargs = {"max_objects": self.max_objects} if self.max_objects else {}
            sample, images = make_sample(task, rng, size=self.size, style=self.style, categories=self.categories,
                                         index=i, **kwargs)
            # Resize here, in the worker, to exactly what the processor would make (cheap for the trainer).
            images = [im.resize((int(ext[0]), int(ext[1])), resample=3) for im in images]
            think = bool(rng.random() < self.think_fraction)
            yield encode_example(self.processor, self.frame, sample, images, think=think, rationale_fn=rationale_fn)
            i += nw


def collate(batch: list[dict], pad_id: int) -> dict:
    n = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), n), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), n), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    mm = torch.zeros((len(batch), n), dtype=batch[0]["mm_token_type_ids"].dtype)
    for i, b in enumerate(batch):  # right padding: prompts align at position 0
        k = len(b["input_ids"])
        ids[i, :k], labels[i, :k], mask[i, :k], mm[i, :k] = b["input_ids"], b["labels"], 1, b["mm_token_type_ids"]
    return {"input_ids": ids, "labels": labels, "attention_mask": mask, "mm_token_type_ids": mm,
            "pixel_values": torch.cat([b["pixel_values"] for b in batch]),
            "image_grid_thw": torch.cat([b["image_grid_thw"] for b in batch]),
            "box_pos": torch.tensor([b["box_pos"] for b in batch]), "box": torch.stack([b["box"] for b in batch]),
            "cells": torch.cat([b["cells"] for b in batch]), "ground": [b["ground"] for b in batch],
            "ground_span": [b["ground_span"] for b in batch]}


# ---------------------------------------------------------------------------------------------
# The pool: samples rendered once at the model's input size, so training spends no time rendering

def _render(job):
    from geor1.synth import make_sample

    i, seed, task, size, style, categories, max_objects, ext = job
    rng = np.random.default_rng([seed, i])
    kwargs = {"max_objects": max_objects} if max_objects else {}
    sample, images = make_sample(task, rng, size=size, style=style, categories=categories, index=i, **kwargs)
    return sample.to_json(), np.asarray(images[0].resize(ext, resample=3), dtype=np.uint8)


def make_pool(folder: str | Path, n: int, *, seed: int, tasks: str, size: int, style: str, categories,
              max_objects: int | None, extent: tuple[int, int], workers: int = 1) -> Path:
    """Render ``n`` single-image samples into ``folder``: ``samples.jsonl`` and ``images.npy``
    (uint8, n × H × W × 3, already at the model's input size). Sample i depends only on
    (seed, i), so the pool is the same whatever ``workers`` is; a finished pool is reused."""
    from multiprocessing import get_context

    from tqdm import tqdm

    folder = Path(folder)
    done = folder / "COMPLETE"
    if done.is_file() and json.loads(done.read_text()) == {"n": n, "seed": seed, "tasks": tasks, "size": size,
                                                             "style": style, "extent": list(extent)}:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    names, p = _parse_mix(tasks)
    pick = np.random.default_rng(seed).choice(len(names), size=n, p=p)
    jobs = [(i, seed, names[int(pick[i])], size, style, categories, max_objects, extent) for i in range(n)]
    w, h = extent
    images = np.lib.format.open_memmap(folder / "images.npy", mode="w+", dtype=np.uint8, shape=(n, h, w, 3))
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as f, get_context("fork").Pool(workers) as mp:
        for i, (line, img) in enumerate(tqdm(mp.imap(_render, jobs, chunksize=16), total=n, desc="pool")):
            f.write(line + "\n")
            images[i] = img
    images.flush()
    done.write_text(json.dumps({"n": n, "seed": seed, "tasks": tasks, "size": size, "style": style,
                                "extent": list(extent)}))
    return folder


class PoolStream(torch.utils.data.IterableDataset):
    """Endless random draws (seeded, different per worker and per resume point) from a pool."""

    def __init__(self, folder, processor, frame, *, think_fraction: float, seed: int, start: int = 0):
        self.folder, self.processor, self.frame = Path(folder), processor, frame
        self.think_fraction, self.seed, self.start = think_fraction, seed, start

    def __iter__(self):
        from PIL import Image

        from geor1.data.schema import Sample

        rationale_fn = None
        if self.think_fraction > 0:
            from geor1.engine.rationales import rationale as rationale_fn
        torch.set_num_threads(1)
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        samples = [Sample.from_dict(json.loads(line)) for line in open(self.folder / "samples.jsonl")]
        images = np.load(self.folder / "images.npy", mmap_mode="r")
        rng = np.random.default_rng([self.seed, self.start, wid])
        while True:
            i = int(rng.integers(len(samples)))
            think = bool(rng.random() < self.think_fraction)
            yield encode_example(self.processor, self.frame, samples[i], [Image.fromarray(np.array(images[i]))],
                                 think=think, rationale_fn=rationale_fn)


# ---------------------------------------------------------------------------------------------
# The auxiliary image-position probe

def grid_targets(image_grid_thw: torch.Tensor, merge: int = 2) -> torch.Tensor:
    """(row, col) of every merged image token, scaled to [-1, 1], in the order the model lays them out."""
    out = []
    for t, h, w in image_grid_thw.tolist():
        gh, gw = h // merge, w // merge
        r = torch.arange(gh).repeat_interleave(gw).float() / max(gh - 1, 1)
        c = torch.arange(gw).repeat(gh).float() / max(gw - 1, 1)
        out.append(torch.stack([r, c], -1).repeat(t, 1) * 2 - 1)
    return torch.cat(out)


def _cell_edges(width: int, height: int, grid) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    _, h, w = grid
    gh, gw = h // 2, w // 2
    return torch.linspace(0, width, gw + 1), torch.linspace(0, height, gh + 1), gh, gw


def _cell_index(x: float, y: float, width: int, height: int, gh: int, gw: int) -> int:
    """Row-major index of the cell (of a gh x gw grid over the image) that holds the point (x, y)."""
    return min(int(x / width * gw), gw - 1) + gw * min(int(y / height * gh), gh - 1)


def _cell_areas(box, xe: torch.Tensor, ye: torch.Tensor) -> torch.Tensor:
    """Area of ``box`` inside each cell of the grid with edges ``xe``/``ye`` (row-major, flat)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    ox = (torch.minimum(xe[1:], torch.tensor(x2)) - torch.maximum(xe[:-1], torch.tensor(x1))).clamp(min=0)
    oy = (torch.minimum(ye[1:], torch.tensor(y2)) - torch.maximum(ye[:-1], torch.tensor(y1))).clamp(min=0)
    return (oy[:, None] * ox[None, :]).flatten()


def cell_overlap(box, width: int, height: int, grid) -> torch.Tensor:
    """Share of ``box``'s area in each merged image token's cell (row-major, as the model lays them out)."""
    xe, ye, gh, gw = _cell_edges(width, height, grid)
    area = _cell_areas(box, xe, ye)
    if area.sum() <= 0:  # a degenerate box: the cell holding its corner
        area[_cell_index(float(box[0]), float(box[1]), width, height, gh, gw)] = 1.0
    return area / area.sum()


def grounding_target(box, width: int, height: int, grid) -> torch.Tensor:
    """Where the grounding head should look: half on the cell holding the box's centre (the token the
    dense probe makes carry the whole box), half over the box's cells in proportion to its area there."""
    _, _, gh, gw = _cell_edges(width, height, grid)
    centre = torch.zeros(gh * gw)
    centre[_cell_index((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, width, height, gh, gw)] = 1.0
    return 0.5 * centre + 0.5 * cell_overlap(box, width, height, grid)


def object_targets(sample, grid, relative: bool = False) -> torch.Tensor:
    """Per merged image token: which categories cover its cell (multi-hot over ``CATEGORIES``), whether
    an object's centre lies in it, and that object's box (the largest such): normalised to [-1, 1] over
    the image, or with ``relative`` in cell widths from the cell's centre (what a vision tower with
    only relative positions can know).
    Objects come from the scene graph GeoSynth stores in ``meta``, else from the sample's boxes."""
    from geor1.synth.scene import CATEGORIES

    xe, ye, gh, gw = _cell_edges(sample.width, sample.height, grid)
    k = len(CATEGORIES)
    out = torch.zeros(gh * gw, k + 5)
    scene = (sample.meta or {}).get("scene") or {}
    objects = [(o["category"], o["bbox"]) for o in scene.get("objects", [])]
    objects = objects or list(zip(sample.labels or [sample.category] * len(sample.boxes), sample.boxes))
    cell_area = float((xe[1] - xe[0]) * (ye[1] - ye[0]))
    best = torch.zeros(gh * gw)
    for category, box in objects:
        if category not in CATEGORIES:
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        share = _cell_areas(box, xe, ye) / cell_area
        col = CATEGORIES.index(category)
        out[:, col] = torch.maximum(out[:, col], (share > 0.1).float())
        c = _cell_index((x1 + x2) / 2, (y1 + y2) / 2, sample.width, sample.height, gh, gw)
        size = (x2 - x1) * (y2 - y1)
        out[c, col] = 1.0
        if size > best[c]:
            best[c] = size
            out[c, k] = 1.0
            if relative:
                cw, ch = float(xe[1] - xe[0]), float(ye[1] - ye[0])
                mx, my = float(xe[c % gw] + cw / 2), float(ye[c // gw] + ch / 2)
                out[c, k + 1:] = torch.tensor([(x1 - mx) / cw, (y1 - my) / ch, (x2 - mx) / cw, (y2 - my) / ch])
            else:
                out[c, k + 1:] = torch.tensor([x1 / sample.width, y1 / sample.height, x2 / sample.width,
                                               y2 / sample.height]) * 2 - 1
    return out


def dense_loss(pred: torch.Tensor, cells: torch.Tensor, k: int, regression=torch.nn.functional.mse_loss):
    """Loss of per-token predictions against :func:`object_targets`: binary cross-entropy on the k
    category columns and the centre flag, plus ``regression`` on the boxes of the centre tokens."""
    cells = cells.to(pred.dtype)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(pred[:, :k + 1], cells[:, :k + 1])
    centre = cells[:, k] > 0
    if centre.any():
        loss = loss + regression(pred[centre, k + 1:], cells[centre, k + 1:])
    return loss


class DenseProbe(torch.nn.Module):
    """A linear probe on the image tokens (the position probe's layer) that names the categories
    covering each token's cell, finds object centres and regresses their boxes: dense supervision,
    64 targets per image instead of one box, so the vision tower learns to see objects early."""

    def __init__(self, model, position_probe: PositionProbe):
        super().__init__()
        from geor1.synth.scene import CATEGORIES

        self.k = len(CATEGORIES)
        self.linear = torch.nn.Linear(model.config.text_config.hidden_size, self.k + 5)
        self.source = (position_probe,)  # a tuple: not a submodule, its parameters are trained once

    def loss(self, input_ids, image_token_id, cells):
        return dense_loss(self.linear(self.source[0].hidden[input_ids == image_token_id]), cells, self.k)


class GroundingHead:
    """Makes head 0 of one language layer attend, from the tokens that write the target's box, to the
    target's image tokens (in proportion to the box's area in each token's cell). The answer then
    reads the target's content — which the position probe has made carry where it is. Needs eager
    attention (the weights themselves)."""

    def __init__(self, model, layer: int):
        self.weights = None
        _family(model).language_model(model).layers[layer].self_attn.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.weights = output[1]

    def loss(self, input_ids, image_token_id, ground, spans):
        if self.weights is None:
            raise RuntimeError("the grounding loss needs attention weights: load the model with eager attention")
        losses = []
        for i, (target, (a, b)) in enumerate(zip(ground, spans)):
            if a < 0 or b <= a:
                continue
            cols = torch.nonzero(input_ids[i] == image_token_id).squeeze(-1)
            att = self.weights[i, 0, a:b][:, cols]
            losses.append(-(target.to(att.dtype) * torch.log(att + 1e-9)).sum(-1).mean())
        if not losses:
            return self.weights.sum() * 0.0
        return torch.stack(losses).mean()


class PositionProbe(torch.nn.Module):
    """Reads the image tokens' hidden states after one language layer and regresses their grid position."""

    def __init__(self, model, layer: int):
        super().__init__()
        self.linear = torch.nn.Linear(model.config.text_config.hidden_size, 2)
        self.hidden = None
        _family(model).language_model(model).layers[layer].register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.hidden = output[0] if isinstance(output, tuple) else output

    def loss(self, input_ids, image_token_id, image_grid_thw):
        h = self.hidden[input_ids == image_token_id]
        return torch.nn.functional.mse_loss(self.linear(h), grid_targets(image_grid_thw).to(h.dtype))


class BoxProbe(torch.nn.Module):
    """Regresses the target box (normalised to [-1, 1]) from the last layer's hidden state at the
    token that predicts the first coordinate. Cross-entropy on digit tokens says only "wrong digit";
    this squared error says "further right", an ordinal signal that reaches the same representation
    the digits are read from."""

    def __init__(self, model):
        super().__init__()
        self.linear = torch.nn.Linear(model.config.text_config.hidden_size, 4)
        self.hidden = None
        _family(model).language_model(model).norm.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.hidden = output

    def loss(self, box_pos, box):
        rows = torch.nonzero(box_pos >= 0).squeeze(-1)
        if len(rows) == 0:
            return self.hidden.sum() * 0.0
        h = self.hidden[rows, box_pos[rows]]
        return torch.nn.functional.mse_loss(self.linear(h), box[rows].to(h.dtype))


# ---------------------------------------------------------------------------------------------
# Evaluation: greedy REC on a fixed set of seen-category scenes

def make_eval_set(n: int, *, size: int, style: str, categories, max_objects: int | None = None,
                  seed: int = 10_000_019):
    """Fixed REC samples (seeds disjoint from training) drawn like the training scenes."""
    from geor1.synth import make_sample

    kwargs = {"max_objects": max_objects} if max_objects else {}
    return [make_sample("rec", np.random.default_rng([seed, i]), size=size, style=style, categories=categories,
                        index=i, **kwargs) for i in range(n)]


@torch.no_grad()
def evaluate_rec(model, processor, frame, eval_set, *, batch: int = 16, think: bool = False,
                 max_new_tokens: int = 48) -> dict:
    from geor1.tasks import rec

    model.eval()
    tok = processor.tokenizer
    side = tok.padding_side
    tok.padding_side = "left"
    scores = []
    for i in range(0, len(eval_set), batch):
        chunk = eval_set[i:i + batch]
        texts = [_family(model).generation_prompt(processor, rec.build_messages(s, frame, think=think), think=think)
                 for s, _ in chunk]
        enc = processor(text=texts, images=[im for _, ims in chunk for im in ims], return_tensors="pt", padding=True)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
        for (s, _), o in zip(chunk, out[:, enc["input_ids"].shape[1]:]):
            scores.append(rec.score(s, tok.decode(o, skip_special_tokens=True), frame))
    tok.padding_side = side
    model.train()
    return rec.aggregate(scores)


# ---------------------------------------------------------------------------------------------
# The loop

def _lr(step: int, base: float, warmup: int, decay: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, decay - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def _pixels(args) -> dict:
    """The processor's resize bounds from ``--pixels`` (none: the checkpoint's own)."""
    return {"min_pixels": args.pixels, "max_pixels": args.pixels} if args.pixels else {}


def _schedule(args, opt, step: int, elapsed: float) -> float | None:
    """Set and return this step's learning rate; None once ``--steps`` or ``--minutes`` is used up."""
    if (args.steps is not None and step >= args.steps) or (args.steps is None and elapsed > args.minutes * 60):
        return None
    lr = _lr(step, args.lr, args.warmup, args.decay_steps)
    for g in opt.param_groups:
        g["lr"] = lr
    return lr


def _save(model, processor, probe, box_probe, dense_probe, opt, step: int, folder: Path) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    torch.save({"step": step, "optimizer": opt.state_dict(), "probe": probe.state_dict(),
                "box_probe": box_probe.state_dict(), "dense_probe": dense_probe.state_dict()},
               tmp / "trainer_state.pt")
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    os.replace(tmp, folder)


class VisionPool(torch.utils.data.IterableDataset):
    """Endless random draws of pool images with their per-token object targets (cell-relative boxes)."""

    def __init__(self, folder, processor, *, seed: int, start: int = 0):
        self.folder, self.processor, self.seed, self.start = Path(folder), processor, seed, start

    def __iter__(self):
        from geor1.data.schema import Sample

        torch.set_num_threads(1)
        info = torch.utils.data.get_worker_info()
        samples = [Sample.from_dict(json.loads(line)) for line in open(self.folder / "samples.jsonl")]
        images = np.load(self.folder / "images.npy", mmap_mode="r")
        rng = np.random.default_rng([self.seed, self.start, info.id if info else 0])
        ip = self.processor.image_processor
        while True:
            i = int(rng.integers(len(samples)))
            enc = ip(images=[np.array(images[i])], return_tensors="pt")
            yield {"pixel_values": enc["pixel_values"], "image_grid_thw": enc["image_grid_thw"],
                   "cells": object_targets(samples[i], enc["image_grid_thw"][0].tolist(), relative=True)}


def _collate_vision(batch):
    return {key: torch.cat([b[key] for b in batch]) for key in batch[0]}


def pretrain_vision(args) -> dict:
    """Phase 0: the vision tower alone learns to see objects — per merged token, the categories covering
    it, whether an object is centred in it and that object's box relative to the cell — through a
    linear probe on the merger's output (the tokens the language model receives). About ten times
    cheaper per image than a full step, so thousands of images a minute on a CPU."""
    from geor1.models import load
    from geor1.synth import parse_categories
    from geor1.synth.scene import CATEGORIES
    from geor1.tasks.boxes import paired_iou

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, processor = load(args.init, seed=args.seed, **_pixels(args))
    visual = _family(model).vision(model)
    k = len(CATEGORIES)
    probe = torch.nn.Linear(model.config.text_config.hidden_size, k + 5)
    params = list(visual.parameters()) + list(probe.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    pool = make_pool(args.pool or out / "pool", args.pool_size or 4000, seed=args.seed, tasks=args.tasks,
                     size=args.size, style=args.style, categories=parse_categories(args.categories),
                     max_objects=args.max_objects, extent=input_extent(processor, args.size),
                     workers=max(1, args.workers))
    loader = torch.utils.data.DataLoader(VisionPool(pool, processor, seed=args.seed), batch_size=args.batch,
                                         num_workers=args.workers, collate_fn=_collate_vision,
                                         prefetch_factor=4 if args.workers else None,
                                         persistent_workers=bool(args.workers))
    (out / "args.json").write_text(json.dumps(vars(args), indent=2, default=str))
    mf = open(out / "metrics.csv", "w", newline="")
    writer = csv.writer(mf)
    writer.writerow(["step", "seconds", "lr", "loss", "presence_f1", "centre_f1", "box_iou"])
    t0, step = time.time(), 0
    stats = []
    for batch in loader:
        lr = _schedule(args, opt, step, time.time() - t0)
        if lr is None:
            break
        feats = visual(batch["pixel_values"], grid_thw=batch["image_grid_thw"]).pooler_output
        pred, cells = probe(feats), batch["cells"]
        loss = dense_loss(pred, cells, k, torch.nn.functional.smooth_l1_loss)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        with torch.no_grad():
            f1 = lambda p, t: float(2 * (p & t).sum() / max(1, int(p.sum() + t.sum())))
            centre = cells[:, k] > 0
            iou = paired_iou(pred[centre, k + 1:].numpy(), cells[centre, k + 1:].numpy())
            stats.append([loss.item(), f1(pred[:, :k] > 0, cells[:, :k] > 0), f1(pred[:, k] > 0, centre),
                          float(iou.mean()) if len(iou) else 0])
        if step % 50 == 0:
            m = np.mean(stats, axis=0)
            stats = []
            writer.writerow([step, round(time.time() - t0, 1), f"{lr:.3g}", *(f"{v:.4f}" for v in m)])
            mf.flush()
            log.info("vision step %d  %.0fs  loss %.4f  presence F1 %.3f  centre F1 %.3f  box IoU %.3f  lr %.2g",
                     step, time.time() - t0, *m, lr)
    mf.close()
    final = out / "final"
    model.save_pretrained(final)
    processor.save_pretrained(final)
    return {"steps": step}


def pretrain(args) -> dict:
    from geor1.models import answer_frame, load
    from geor1.synth import parse_categories

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last"
    resume = args.resume and (last / "trainer_state.pt").is_file()
    model, processor = load(str(last) if resume else args.init, seed=args.seed,
                            attn_implementation="eager" if args.ground_weight else None, **_pixels(args))
    if args.frame:
        from geor1.coords import get_frame

        model.config.geor1_answer_frame = get_frame(args.frame).name
    frame = answer_frame(model, processor)
    categories = parse_categories(args.categories)
    probe = PositionProbe(model, args.aux_layer)
    box_probe = BoxProbe(model)
    dense_probe = DenseProbe(model, probe)
    grounding = GroundingHead(model, args.ground_layer) if args.ground_weight else None
    params = ([p for p in model.parameters() if p.requires_grad] + list(probe.parameters())
              + list(box_probe.parameters()) + list(dense_probe.parameters()))
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    step = 0
    if resume:
        state = torch.load(last / "trainer_state.pt", weights_only=False)
        opt.load_state_dict(state["optimizer"])
        probe.load_state_dict(state["probe"])
        box_probe.load_state_dict(state["box_probe"])
        if "dense_probe" in state:
            dense_probe.load_state_dict(state["dense_probe"])
        step = state["step"]
        log.info("resumed at step %d", step)
    (out / "args.json").write_text(json.dumps(vars(args), indent=2, default=str))
    if args.pool_size:
        ext = input_extent(processor, args.size)
        pool = make_pool(args.pool or out / "pool", args.pool_size, seed=args.seed, tasks=args.tasks, size=args.size,
                         style=args.style, categories=categories, max_objects=args.max_objects, extent=ext,
                         workers=max(1, args.workers))
        stream = PoolStream(pool, processor, frame, think_fraction=args.think_fraction, seed=args.seed, start=step)
    else:
        stream = SynthStream(processor, frame, tasks=args.tasks, think_fraction=args.think_fraction, size=args.size,
                             style=args.style, categories=categories, max_objects=args.max_objects, seed=args.seed,
                             start=step * args.batch)
    pad = processor.tokenizer.pad_token_id
    loader = torch.utils.data.DataLoader(stream, batch_size=args.batch, num_workers=args.workers,
                                         collate_fn=lambda b: collate(b, pad), prefetch_factor=4 if args.workers else None,
                                         persistent_workers=bool(args.workers))
    eval_set = make_eval_set(args.eval_n, size=args.size, style=args.style, categories=categories,
                             max_objects=args.max_objects)
    metrics_path = out / "metrics.csv"
    new_file = not metrics_path.is_file()
    mf = open(metrics_path, "a", newline="")
    writer = csv.writer(mf)
    if new_file:
        writer.writerow(["step", "seconds", "lr", "loss", "aux_loss", "acc_at_05", "acc_at_07", "mean_iou"])
    t0 = time.time()
    model.train()
    result = {}
    ema = None
    for batch in loader:
        lr = _schedule(args, opt, step, time.time() - t0)
        if lr is None:
            break
        box_pos, box, cells = batch.pop("box_pos"), batch.pop("box"), batch.pop("cells")
        ground, spans = batch.pop("ground"), batch.pop("ground_span")
        output = model(**batch)
        loss = output.loss
        image_id = model.config.image_token_id
        aux = probe.loss(batch["input_ids"], image_id, batch["image_grid_thw"])
        box_loss = box_probe.loss(box_pos, box)
        total = loss + args.aux_weight * aux + args.box_weight * box_loss
        dense_loss = ground_loss = torch.zeros(())
        if args.dense_weight:
            dense_loss = dense_probe.loss(batch["input_ids"], image_id, cells)
            total = total + args.dense_weight * dense_loss
        if grounding is not None:
            ground_loss = grounding.loss(batch["input_ids"], image_id, ground, spans)
            total = total + args.ground_weight * ground_loss
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        row = None
        if step % 50 == 0:
            row = [step, round(time.time() - t0, 1), f"{lr:.3g}", f"{ema:.4f}", f"{aux.item():.4f}", "", "", ""]
            log.info("step %d  %.0fs  loss %.4f  aux %.4f  box %.4f  dense %.4f  ground %.4f  lr %.2g", step,
                     time.time() - t0, ema, aux.item(), box_loss.item(), dense_loss.item(), ground_loss.item(), lr)
        if step % args.eval_every == 0:
            result = evaluate_rec(model, processor, frame, eval_set)
            row = [step, round(time.time() - t0, 1), f"{lr:.3g}", f"{ema:.4f}", f"{aux.item():.4f}",
                   f"{result['acc_at_05']:.4f}", f"{result['acc_at_07']:.4f}", f"{result['mean_iou']:.4f}"]
            log.info("step %d  eval acc@0.5 %.3f  acc@0.7 %.3f  mIoU %.3f", step, result["acc_at_05"],
                     result["acc_at_07"], result["mean_iou"])
        if row:
            writer.writerow(row)
            mf.flush()
        if step % args.save_every == 0:
            _save(model, processor, probe, box_probe, dense_probe, opt, step, last)
    _save(model, processor, probe, box_probe, dense_probe, opt, step, last)
    result = evaluate_rec(model, processor, frame, eval_set)
    writer.writerow([step, round(time.time() - t0, 1), "", f"{ema or 0:.4f}", "", f"{result['acc_at_05']:.4f}",
                     f"{result['acc_at_07']:.4f}", f"{result['mean_iou']:.4f}"])
    mf.close()
    final = out / "final"
    model.save_pretrained(final)
    processor.save_pretrained(final)
    result["steps"] = step
    (out / "final_eval.json").write_text(json.dumps(result, indent=2))
    return result


def run(args) -> int:
    if args.vision_only:
        result = pretrain_vision(args)
        print(f"pretrained the vision tower {result['steps']} steps -> {Path(args.out) / 'final'}")
        return 0
    result = pretrain(args)
    print(f"pretrained {result['steps']} steps: seen-category REC acc@0.5 {result['acc_at_05']:.3f}, "
          f"acc@0.7 {result['acc_at_07']:.3f}, mean IoU {result['mean_iou']:.3f} -> {Path(args.out) / 'final'}")
    return 0

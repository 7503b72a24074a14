"""Pretraining data: corpus items encoded for the model, from a pool rendered once or a fresh stream.

Rendering is done at the model's input size in DataLoader worker processes (``workers``), so the
training process only tokenizes nothing and waits on nothing: each batch arrives as tensors.
Sample ``i`` of a run depends only on ``(seed, i)`` (the pool) or ``(seed, resume step, worker)``
(the draws), never on the number of workers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from geor1.pretrain.corpus import BOX_KINDS, EVAL_SEED, TASK_KINDS, Item, box_categories, make_item, prompt_and_answer
from geor1.pretrain.probes import family_of_model, grounding_target, object_targets


def parse_mix(tasks: dict[str, float]) -> tuple[list[str], np.ndarray]:
    names = list(tasks)
    p = np.array([float(tasks[n]) for n in names], dtype=np.float64)
    return names, p / p.sum()


def resize_bounds(processor) -> tuple[int, int, int]:
    """(min_pixels, max_pixels, factor) of the processor's smart resize."""
    from geor1.models.processor import processor_pixels

    ip = processor.image_processor
    return (*processor_pixels(processor), ip.patch_size * ip.merge_size)


def _extent(bounds: tuple[int, int, int], width: int, height: int) -> tuple[int, int]:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    lo, hi, factor = bounds
    h, w = smart_resize(height, width, factor=factor, min_pixels=lo, max_pixels=hi)
    return int(w), int(h)


def input_extent(processor, width: int, height: int | None = None) -> tuple[int, int]:
    """(W, H) the processor resizes a ``width`` x ``height`` image to (multiples of patch x merge
    within its pixel bounds), whatever frame the model answers in."""
    return _extent(resize_bounds(processor), width, height or width)


def _family(processor):
    from geor1.models.families import FAMILIES

    return next(f for f in FAMILIES if f.processor == type(processor).__name__)


def encode_example(processor, frame, item: Item, *, think: bool, rationale_fn=None,
                   categories=None) -> dict:
    """Tokenize one item as prompt + answer, with labels on the answer only, and the targets of the
    probes (box probe: REC only; dense probe: box kinds only, ``categories`` only)."""
    think = think and item.kind in TASK_KINDS and rationale_fn is not None
    messages, answer, final = prompt_and_answer(item, frame, think=think, rationale_fn=rationale_fn)
    prompt = _family(processor).generation_prompt(processor, messages, think=think)
    enc = processor(text=[prompt + answer + "<|im_end|>"], images=item.images, return_tensors="pt")
    count = lambda text: len(processor.tokenizer(text, add_special_tokens=False)["input_ids"])
    n_answer, n_final = count(answer + "<|im_end|>"), count(final + "<|im_end|>")
    ids = enc["input_ids"][0]
    labels = torch.full_like(ids, -100)
    labels[-n_answer:] = ids[-n_answer:]
    sample = item.sample
    # The box probe reads the hidden state that predicts the first coordinate: the last token before
    # the first digit of the final answer's first box (REC: the only box).
    box_pos, box = -1, torch.zeros(4)
    if item.kind == "rec" and sample.boxes:
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
    if item.kind in BOX_KINDS:
        cells = object_targets(sample, grid, allowed=box_categories(categories))
        dense_mask = torch.ones(len(cells), dtype=torch.bool)
    else:  # no boxes may be taught here: the dense probe skips these tokens
        cells = object_targets(None, grid)
        dense_mask = torch.zeros(len(cells), dtype=torch.bool)
    ground, ground_span = torch.zeros(0), (-1, -1)
    if box_pos >= 0:
        ground = grounding_target(sample.boxes[0], sample.width, sample.height, grid)
        close = next((i for i in range(box_pos + 1, len(ids)) if "]" in processor.tokenizer.decode(ids[i])), box_pos)
        ground_span = (box_pos, close)  # positions that predict the box's tokens up to its "]"
    # mm_token_type_ids marks the image tokens: without it Qwen-VL silently falls back to 1-D
    # positions, so training would not match generation (which gets it from the processor).
    return {"input_ids": ids, "labels": labels, "mm_token_type_ids": enc["mm_token_type_ids"][0],
            "pixel_values": enc["pixel_values"], "image_grid_thw": enc["image_grid_thw"], "box_pos": box_pos,
            "box": box, "cells": cells, "dense_mask": dense_mask, "ground": ground, "ground_span": ground_span}


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
            "cells": torch.cat([b["cells"] for b in batch]),
            "dense_mask": torch.cat([b["dense_mask"] for b in batch]), "ground": [b["ground"] for b in batch],
            "ground_span": [b["ground_span"] for b in batch]}


def _resized(bounds: tuple[int, int, int], images: list[Image.Image]) -> list[Image.Image]:
    """Each image resized to exactly what the processor would make (cheap for the trainer later)."""
    return [im.resize(_extent(bounds, *im.size), resample=3) for im in images]


# ---------------------------------------------------------------------------------------------
# The pool: items rendered once at the model's input size, so training spends no time rendering

def _render(job):
    i, seed, kind, size, style, categories, max_objects, bounds = job
    item = make_item(kind, np.random.default_rng([seed, i]), index=i, size=size, style=style,
                     categories=categories, max_objects=max_objects)
    return item.to_json(), [np.asarray(im, dtype=np.uint8) for im in _resized(bounds, item.images)]


def _pool_key(n, seed, tasks, size, style, categories, max_objects, extent) -> dict:
    return {"n": n, "seed": seed, "tasks": {k: float(v) for k, v in tasks.items()}, "size": size, "style": style,
            "categories": list(box_categories(categories)), "max_objects": max_objects, "extent": list(extent)}


def make_pool(folder: str | Path, n: int, *, seed: int, tasks: dict[str, float], size: int, style: str, categories,
              max_objects: int | None, processor, workers: int = 1) -> Path:
    """Render ``n`` items into ``folder``: ``items.jsonl`` (one item a line), ``images.bin`` (their
    images' uint8 RGB pixels, at the model's input size, back to back) and ``images.npy`` (per image:
    item, byte offset, height, width). Item i depends only on (seed, i), so the pool is the same
    whatever ``workers`` is; a finished pool with the same settings is reused."""
    from multiprocessing import get_context

    from tqdm import tqdm

    folder = Path(folder)
    done = folder / "COMPLETE"
    key = _pool_key(n, seed, tasks, size, style, categories, max_objects, input_extent(processor, size))
    if done.is_file() and json.loads(done.read_text()) == key:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    done.unlink(missing_ok=True)
    names, p = parse_mix(tasks)
    pick = np.random.default_rng(seed).choice(len(names), size=n, p=p)
    bounds = resize_bounds(processor)
    jobs = [(i, seed, names[int(pick[i])], size, style, categories, max_objects, bounds) for i in range(n)]
    index, offset = [], 0
    with (open(folder / "items.jsonl", "w", encoding="utf-8") as f, open(folder / "images.bin", "wb") as b,
          get_context("fork").Pool(max(1, workers)) as mp):
        for i, (line, images) in enumerate(tqdm(mp.imap(_render, jobs, chunksize=16), total=n, desc="pool")):
            f.write(line + "\n")
            for im in images:
                b.write(im.tobytes())
                index.append((i, offset, im.shape[0], im.shape[1]))
                offset += im.nbytes
    np.save(folder / "images.npy", np.array(index, dtype=np.int64).reshape(-1, 4))
    done.write_text(json.dumps(key))
    return folder


class Pool:
    """A finished pool, read lazily (memory-mapped pixels)."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        self.lines = (folder / "items.jsonl").read_text(encoding="utf-8").splitlines()
        self.pixels = np.memmap(folder / "images.bin", dtype=np.uint8, mode="r")
        index = np.load(folder / "images.npy")
        self.images: list[list[tuple[int, int, int]]] = [[] for _ in self.lines]
        for i, off, h, w in index.tolist():
            self.images[i].append((off, h, w))

    def __len__(self) -> int:
        return len(self.lines)

    def item(self, i: int) -> Item:
        ims = [Image.fromarray(np.array(self.pixels[o:o + h * w * 3]).reshape(h, w, 3)) for o, h, w in self.images[i]]
        return Item.from_json(self.lines[i], ims)


def _rationale_fn(think_fraction: float):
    if think_fraction > 0:
        from geor1.engine.rationales import rationale

        return rationale
    return None


class PoolStream(torch.utils.data.IterableDataset):
    """Endless random draws (seeded, different per worker and per resume point) from a pool."""

    def __init__(self, folder, processor, frame, *, think_fraction: float, seed: int, start: int = 0,
                 categories=None):
        self.folder, self.processor, self.frame = Path(folder), processor, frame
        self.think_fraction, self.seed, self.start, self.categories = think_fraction, seed, start, categories

    def __iter__(self):
        rationale_fn = _rationale_fn(self.think_fraction)
        torch.set_num_threads(1)
        info = torch.utils.data.get_worker_info()
        pool = Pool(self.folder)
        rng = np.random.default_rng([self.seed, self.start, info.id if info else 0])
        while True:
            i = int(rng.integers(len(pool)))
            think = bool(rng.random() < self.think_fraction)
            yield encode_example(self.processor, self.frame, pool.item(i), think=think, rationale_fn=rationale_fn,
                                 categories=self.categories)


class SynthStream(torch.utils.data.IterableDataset):
    """Fresh items forever; worker w of W makes item indices start+w, start+w+W, ... from ``seed``."""

    def __init__(self, processor, frame, *, tasks: dict[str, float], think_fraction: float, size: int, style: str,
                 categories, max_objects: int | None, seed: int, start: int = 0):
        self.processor, self.frame = processor, frame
        self.names, self.p = parse_mix(tasks)
        self.think_fraction, self.size, self.style = think_fraction, size, style
        self.categories, self.max_objects, self.seed, self.start = categories, max_objects, seed, start

    def __iter__(self):
        rationale_fn = _rationale_fn(self.think_fraction)
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        torch.set_num_threads(1)
        i = self.start + wid
        while True:
            rng = np.random.default_rng([self.seed, i])
            kind = self.names[int(rng.choice(len(self.names), p=self.p))]
            item = make_item(kind, rng, index=i, size=self.size, style=self.style, categories=self.categories,
                             max_objects=self.max_objects)
            item.images = _resized(resize_bounds(self.processor), item.images)
            think = bool(rng.random() < self.think_fraction)
            yield encode_example(self.processor, self.frame, item, think=think, rationale_fn=rationale_fn,
                                 categories=self.categories)
            i += nw


class VisionPool(torch.utils.data.IterableDataset):
    """The vision phase's draws: pool images of box kinds with their per-token object targets
    (cell-relative boxes, box categories only)."""

    def __init__(self, folder, processor, *, seed: int, start: int = 0, categories=None):
        self.folder, self.processor, self.seed, self.start = Path(folder), processor, seed, start
        self.categories = categories

    def __iter__(self):
        torch.set_num_threads(1)
        info = torch.utils.data.get_worker_info()
        pool = Pool(self.folder)
        boxed = [i for i in range(len(pool)) if json.loads(pool.lines[i])["kind"] in BOX_KINDS]
        rng = np.random.default_rng([self.seed, self.start, info.id if info else 0])
        ip = self.processor.image_processor
        allowed = box_categories(self.categories)
        while True:
            item = pool.item(boxed[int(rng.integers(len(boxed)))])
            enc = ip(images=[np.asarray(item.images[0])], return_tensors="pt")
            yield {"pixel_values": enc["pixel_values"], "image_grid_thw": enc["image_grid_thw"],
                   "cells": object_targets(item.sample, enc["image_grid_thw"][0].tolist(), relative=True,
                                           allowed=allowed)}


def collate_vision(batch):
    return {key: torch.cat([b[key] for b in batch]) for key in batch[0]}


# ---------------------------------------------------------------------------------------------
# Evaluation: greedy REC on a fixed set of scenes that training never draws

def make_eval_set(n: int, *, size: int, style: str, categories, max_objects: int | None = None,
                  seed: int = EVAL_SEED):
    """Fixed REC samples (seeds disjoint from training) drawn like the training scenes."""
    from geor1.synth import make_sample

    kwargs = {"max_objects": max_objects} if max_objects else {}
    return [make_sample("rec", np.random.default_rng([seed, i]), size=size, style=style,
                        categories=box_categories(categories), index=i, **kwargs) for i in range(n)]


@torch.no_grad()
def evaluate_rec(model, processor, frame, eval_set, *, batch: int = 16, think: bool = False,
                 max_new_tokens: int = 48) -> dict:
    """Greedy REC answers to ``eval_set`` scored by the REC task module (its ``aggregate``)."""
    from geor1.models.generate import Decoding, TransformersGenerator
    from geor1.tasks import rec

    family = family_of_model(model)
    was_training = model.training
    model.eval()
    generate = TransformersGenerator(model, processor, Decoding(max_new_tokens))
    scores = []
    try:
        for i in range(0, len(eval_set), batch):
            chunk = eval_set[i:i + batch]
            texts = [family.generation_prompt(processor, rec.build_messages(s, frame, think=think), think=think)
                     for s, _ in chunk]
            for (s, _), g in zip(chunk, generate(texts, [ims for _, ims in chunk])):
                scores.append(rec.score(s, g.text, frame))
    finally:
        model.train(was_training)
    return rec.aggregate(scores)

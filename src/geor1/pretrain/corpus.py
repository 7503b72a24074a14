"""The pretraining corpus: what the tiny base model knows before few-shot work, as a real VLM does.

A real Qwen-VL knows the words "harbor" and "wind turbine" from web-scale data; a few-shot set
only adapts it. So pretraining mixes these *kinds* of GeoSynth samples (a recipe's ``tasks``
gives their shares):

==============  ==========================================================================
``rec``         one box (task module ``rec``), on the *box categories* only (default: seen)
``ovd``         all boxes of a category, box categories only
``gres``        boxes and keypoints (masks), box categories only
``inventory``   an aerial tile of *any* category and its description as words: the setting,
                the water, and how many objects of each category ("1 harbor, 2 wind turbines")
``ground``      a ground panorama and its description: continent, biome, climate, buildings,
                roads, trees, water, where the sun and shadows are
``geoloc``      where on Earth a ground panorama was taken (task module ``geoloc``), for the
                *pretraining cities* only (three in four, chosen by name; the rest never appear)
==============  ==========================================================================

The rule for held-out categories (``HELD_OUT``: the few-shot benchmark's novel classes): they are
named in words (``inventory``) and never boxed. Box-bearing kinds draw their scenes from the box
categories alone, and the dense object probe's targets skip every other category
(:func:`box_categories`; ``tests/test_pretrain.py`` checks both). There are no cross-view
pairing questions (what RL must teach), and no sample uses the seeds of test sets: pretraining
draws from ``numpy.random.default_rng([seed, i])`` with its own seed, and the evaluation sets of
:mod:`geor1.pretrain.data` and the benchmarks use seeds at or above 10,000,000 (``EVAL_SEED``).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

KINDS = ("rec", "ovd", "gres", "inventory", "ground", "geoloc")
TASK_KINDS = ("rec", "ovd", "gres", "geoloc")  # kinds that are a task module's samples
BOX_KINDS = ("rec", "ovd", "gres")
EVAL_SEED = 10_000_019  # evaluation scenes: seeds [EVAL_SEED, i], never drawn by training

INVENTORY_QUERY = ("Describe this aerial image: the setting, the water, and how many objects of each "
                   "category it shows.")
GROUND_QUERY = "Describe this street panorama: where it could be, the buildings, the roads, the sun."


def box_categories(spec) -> tuple[str, ...]:
    """The categories that box-bearing kinds may show and the dense probe may box: ``spec`` as
    :func:`geor1.synth.parse_categories` reads it (``seen`` by default)."""
    from geor1.synth import CATEGORIES, parse_categories

    return tuple(parse_categories(spec) or CATEGORIES)


def pretraining_city(name: str) -> bool:
    """Three in four cities are pretraining cities (by a hash of the name, stable across runs); the
    rest are held out for geolocalization tests."""
    return zlib.crc32(name.encode("utf-8")) % 4 != 0


@dataclass
class Item:
    """One pretraining example before tokenization. Task kinds carry their schema ``sample`` (the
    prompt, the answer in the model's frame, rationales and box targets come from it); text kinds
    carry the ``query`` and the ``answer`` as words."""

    kind: str
    images: list[Image.Image]
    sample: object = None
    query: str = ""
    answer: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "sample": self.sample.to_dict() if self.sample is not None else None,
                           "query": self.query, "answer": self.answer}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str, images: list[Image.Image]) -> Item:
        from geor1.data.schema import Sample

        d = json.loads(line)
        sample = Sample.from_dict(d["sample"]) if d.get("sample") else None
        return cls(d["kind"], images, sample, d.get("query", ""), d.get("answer", ""))


def _plural(n: int, category: str) -> str:
    from geor1.synth.scene import PLURAL

    return f"{n} {category if n == 1 else PLURAL[category]}"


def inventory_text(graph: dict) -> str:
    """An aerial scene graph in words: ``"An urban scene with a river. 1 harbor, 9 buildings."``
    (categories in the fixed category order)."""
    from geor1.synth.scene import CATEGORIES

    water = {"none": "no water", "": "no water"}.get(graph.get("water") or "", f"a {graph.get('water')}")
    counts = graph.get("counts") or {}
    objects = ", ".join(_plural(counts[c], c) for c in CATEGORIES if counts.get(c))
    return f"A {graph.get('setting', 'mixed')} scene with {water}. " + (f"{objects}." if objects else "No objects.")


def ground_text(meta: dict) -> str:
    """A ground panorama's description from its world metadata (no coordinates, no city name)."""
    e = meta["evidence"]
    roof = "pitched" if e["pitched_roof_share"] >= 0.5 else "flat"
    snow = " Snow on the ground." if e.get("snow") else ""
    return (f"A {meta['biome']} place in {meta['continent']}, {meta['climate_band']} climate. "
            f"{e['n_buildings']} buildings, mostly {roof} roofs, about {round(e['mean_height_m'])} m tall; "
            f"{e['n_trees']} trees. The sun is {round(e['sun_elevation_deg'])} degrees high; shadows fall to the "
            f"{e['shadow_side']}.{snow}")


def make_item(kind: str, rng: np.random.Generator, *, index: int, size: int, style: str, categories,
              max_objects: int | None = None) -> Item:
    """One ``kind`` example drawn from ``rng``. ``categories`` are the box categories."""
    if kind in BOX_KINDS:
        from geor1.synth import make_sample

        kwargs = {"max_objects": max_objects} if max_objects else {}
        sample, images = make_sample(kind, rng, size=size, style=style, categories=box_categories(categories),
                                     index=index, **kwargs)
        return Item(kind, images, sample)
    if kind == "inventory":
        from geor1.synth import CATEGORIES
        from geor1.synth.aerial import make_scene

        scene = make_scene(rng, size=size, style=style, categories=CATEGORIES, max_objects=max_objects)
        return Item(kind, [scene.image], query=INVENTORY_QUERY, answer=inventory_text(scene.graph()))
    if kind in ("ground", "geoloc"):
        from geor1.synth.crossview import make_geoloc_sample

        for _ in range(100):
            sample, images = make_geoloc_sample(rng, size=max(64, size // 2), style=style, view="ground",
                                                sample_id=f"geoloc-{index:06d}")
            if pretraining_city(sample.meta["city"]):
                break
        if kind == "geoloc":
            return Item(kind, images, sample)
        return Item(kind, images, query=GROUND_QUERY, answer=ground_text(sample.meta))
    raise ValueError(f"unknown pretraining kind {kind!r} (known: {', '.join(KINDS)})")


def prompt_and_answer(item: Item, frame, *, think: bool, rationale_fn=None) -> tuple[list[dict], str, str]:
    """``(messages, answer, final)``: the user turn, the whole assistant text, and the part of it
    that holds the final answer (what the box probe reads). Think-template answers need a task kind
    and ``rationale_fn`` (the programmatic teacher); text kinds always answer directly."""
    if item.kind not in TASK_KINDS:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": item.query}]}]
        return messages, item.answer, item.answer
    from geor1.tasks import get_task

    task = get_task(item.sample.task)
    messages = task.build_messages(item.sample, frame, think=think)
    final = task.target_answer(item.sample, frame)
    if think:
        return messages, f"<think>{rationale_fn(item.sample, frame)}</think>\n<answer>{final}</answer>", \
            final + "</answer>"
    return messages, final, final

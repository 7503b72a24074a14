"""GeoSynth task builders: samples in the project schema for REC, OVD and GRES, and datasets of them.

Each sample is one rendered scene (:func:`geor1.synth.aerial.make_scene`) with

* ``meta["scene"]``: the scene graph (:meth:`geor1.synth.scene.Scene.graph`),
* ``meta["expression"]``: the query's structure (:mod:`geor1.synth.expressions`; OVD: a plain category),
* ``meta["target_ids"]``: the ids of the objects the query refers to (aligned with ``boxes``),

so a rationale can be written step by step: category -> attributes -> relation -> candidates -> choice.

``is_unique`` (REC and GRES) says whether the scene holds exactly one object of the query's category, as in
VRSBench: a non-unique target needs its attributes, position, rank or a relation to be told apart.

Reproducibility: sample ``i`` of a dataset is drawn from its own generator (:func:`sample_rng` of seed,
task, style and ``i``),
so it does not depend on how many samples came before it, and PNGs carry no time stamps: the same seed
gives byte-identical files.
"""

from __future__ import annotations

import logging
import multiprocessing
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from geor1.data.schema import Sample, write_dataset
from geor1.synth.aerial import CATEGORY_SPECS, REF_SIZE, as_rng, make_scene
from geor1.synth.expressions import (
    describe,
    multi_target_expression,
    no_target_expression,
    resolve,
    single_target_expression,
    target,
)
from geor1.synth.scene import CATEGORIES, Scene, parse_categories

log = logging.getLogger(__name__)

TASK_CODES = {"rec": 1, "ovd": 2, "gres": 3, "counting": 4}
SOURCE = "geosynth"
MAX_TRIES = 50


def sample_rng(seed: int, task: str, index: int, style: str = "A") -> np.random.Generator:
    """The generator of sample ``index`` of a ``task`` dataset in ``style`` made with ``seed`` (styles draw
    different scenes from the same seed, so an A and a B dataset never share layouts)."""
    return np.random.default_rng([seed, TASK_CODES[task], ord(style), index])


def encode_mask(mask: np.ndarray) -> dict:
    """A bool height x width mask as COCO RLE with a string ``counts`` (JSON-ready)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _count(rng: np.random.Generator, category: str, *, at_least: int = 1) -> int:
    """How many objects of ``category`` to ask a scene for: its typical range, at least ``at_least``."""
    lo, hi = CATEGORY_SPECS[category].typical_count
    return int(rng.integers(max(lo, at_least), max(hi, at_least) + 1))


def _scene(rng, focus: str, n: int | None, cats, size: int, style: str, max_objects: int | None) -> Scene:
    include = {focus: n} if n else None
    exclude = () if n else (focus,)
    return make_scene(
        rng,
        size=size,
        style=style,
        categories=cats,
        include=include,
        exclude=exclude,
        max_objects=max_objects,
    )


def _sample(task: str, index: int, scene: Scene, style: str, **fields) -> Sample:
    return Sample(
        id=f"{task}-{index:06d}",
        task=task,
        images=[f"images/{index:06d}.png"],
        width=scene.width,
        height=scene.height,
        source=f"{SOURCE}-{style}",
        **fields,
    )


def _boxes(scene: Scene, ids: list[int]) -> list[list[int]]:
    return [list(scene.objects[i].bbox) for i in ids]


def _every_instance(rng, categories, absent_fraction: float, size: int, style: str, max_objects: int | None):
    """A category (absent from the scene with ``absent_fraction``), a scene and the ids of all its
    instances, with the meta of a category expression: what OVD and counting ask about."""
    cats = parse_categories(categories) or CATEGORIES
    focus = cats[int(rng.integers(len(cats)))]
    absent = rng.random() < absent_fraction
    n = None if absent else _count(rng, focus)
    scene = _scene(rng, focus, n, cats, size, style, max_objects)
    ids = [o.id for o in scene.objects if o.category == focus]
    meta = {"scene": scene.graph(), "expression": {"type": "category", "target": target(focus)}, "target_ids": ids}
    return focus, scene, ids, meta


def make_rec(
    rng,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    index: int = 0,
    max_objects: int | None = None,
    unique_fraction: float = 0.4,
) -> tuple[Sample, list[Image.Image]]:
    """One REC sample: an expression that singles out one object, and its box."""
    cats = parse_categories(categories) or CATEGORIES
    for _ in range(MAX_TRIES):
        focus = cats[int(rng.integers(len(cats)))]
        n = 1 if rng.random() < unique_fraction else _count(rng, focus, at_least=2)
        scene = _scene(rng, focus, n, cats, size, style, max_objects)
        graph = scene.graph()
        ids = [o.id for o in scene.objects if o.category == focus]
        if not ids:
            continue
        tid = ids[int(rng.integers(len(ids)))]
        expr = single_target_expression(graph, tid, rng)
        if expr is None:
            continue
        sample = _sample(
            "rec",
            index,
            scene,
            style,
            query=describe(expr, rng),
            category=focus,
            boxes=_boxes(scene, [tid]),
            labels=[focus],
            is_unique=len(ids) == 1,
            meta={"scene": graph, "expression": expr, "target_ids": [tid]},
        )
        return sample, [scene.image]
    raise RuntimeError(f"no REC sample after {MAX_TRIES} scenes (categories {cats})")


def make_ovd(
    rng,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    index: int = 0,
    max_objects: int | None = None,
    absent_fraction: float = 0.2,
) -> tuple[Sample, list[Image.Image]]:
    """One OVD sample: a category query and the boxes of all its instances (none when it is absent)."""
    focus, scene, ids, meta = _every_instance(rng, categories, absent_fraction, size, style, max_objects)
    sample = _sample(
        "ovd",
        index,
        scene,
        style,
        query=focus,
        category=focus,
        boxes=_boxes(scene, ids),
        labels=[focus] * len(ids),
        meta=meta,
    )
    return sample, [scene.image]


def make_gres(
    rng,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    index: int = 0,
    max_objects: int | None = None,
    multi_fraction: float = 0.35,
    no_target_fraction: float = 0.15,
) -> tuple[Sample, list[Image.Image]]:
    """One GRES sample: an expression with zero, one or several targets, their boxes and exact masks."""
    if not (0 <= no_target_fraction <= 1 and 0 <= multi_fraction <= 1):
        raise ValueError(f"fractions must lie in [0, 1], got {no_target_fraction=} {multi_fraction=}")
    cats = parse_categories(categories) or CATEGORIES
    for _ in range(MAX_TRIES):
        focus = cats[int(rng.integers(len(cats)))]
        multi = min(multi_fraction, 1.0 - no_target_fraction)  # no-target takes precedence when they exceed 1
        shares = [no_target_fraction, multi, 1.0 - no_target_fraction - multi]
        mode = ("none", "multi", "single")[int(rng.choice(3, p=shares))]
        if mode == "none" and rng.random() < 0.5:
            n = None  # the category is absent from the scene
        elif mode == "multi":
            n = _count(rng, focus, at_least=2)
        else:
            n = _count(rng, focus)
        scene = _scene(rng, focus, n, cats, size, style, max_objects)
        graph = scene.graph()
        ids = [o.id for o in scene.objects if o.category == focus]
        if mode == "single":
            expr = single_target_expression(graph, ids[int(rng.integers(len(ids)))], rng) if ids else None
        elif mode == "multi":
            expr = multi_target_expression(graph, focus, rng)
        else:
            expr = no_target_expression(graph, focus, rng)
        if expr is None:
            continue
        tids = resolve(expr, graph)
        plural = len(tids) > 1 or (not tids and rng.random() < 0.5)
        sample = _sample(
            "gres",
            index,
            scene,
            style,
            query=describe(expr, rng, plural=plural),
            category=focus,
            boxes=_boxes(scene, tids),
            labels=[focus] * len(tids),
            masks=[encode_mask(scene.objects[i].mask) for i in tids],
            is_unique=len(ids) == 1,
            meta={"scene": graph, "expression": expr, "target_ids": tids},
        )
        return sample, [scene.image]
    raise RuntimeError(f"no GRES sample after {MAX_TRIES} scenes (categories {cats})")


def make_counting(
    rng,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    index: int = 0,
    max_objects: int | None = None,
    zero_fraction: float = 0.1,
) -> tuple[Sample, list[Image.Image]]:
    """One counting sample: "how many <category> are in this image?", the count in ``answer`` and
    the boxes of every instance (the scene graph is the truth)."""
    from geor1.synth.scene import PLURAL

    focus, scene, ids, meta = _every_instance(rng, categories, zero_fraction, size, style, max_objects)
    sample = _sample("counting", index, scene, style, query=f"How many {PLURAL[focus]} are in this image?",
                     category=focus, boxes=_boxes(scene, ids), labels=[focus] * len(ids), answer=str(len(ids)),
                     meta=meta)
    return sample, [scene.image]


BUILDERS = {"rec": make_rec, "ovd": make_ovd, "gres": make_gres, "counting": make_counting}


def make_sample(
    task: str,
    rng_or_seed,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    index: int = 0,
    max_objects: int | None = None,
    **options,
) -> tuple[Sample, list[Image.Image]]:
    """One ``task`` sample (``rec``, ``ovd`` or ``gres``) and its image(s), in memory.

    ``rng_or_seed`` is a numpy Generator or an int seed; ``index`` names the sample (``{task}-{index:06d}``,
    image ``images/{index:06d}.png``); ``categories`` limits the categories in the scene (names, or
    ``"seen"`` / ``"held-out"``); ``options`` are the builder's fractions (``unique_fraction``,
    ``absent_fraction``, ``multi_fraction``, ``no_target_fraction``).
    """
    if task not in BUILDERS:
        raise ValueError(
            f"GeoSynth aerial tasks are {', '.join(BUILDERS)}; crossview and geoloc samples come "
            f"from geor1.synth.crossview (got {task!r})"
        )
    return BUILDERS[task](
        as_rng(rng_or_seed),
        size=size,
        style=style,
        categories=categories,
        index=index,
        max_objects=max_objects,
        **options,
    )


def _write_one(job: tuple) -> Sample:
    """Make sample ``i`` and save its image(s) under ``out``; a top-level function so worker processes can
    run it."""
    task, out, seed, size, style, cats, split, max_objects, options, i = job
    sample, images = make_sample(
        task, sample_rng(seed, task, i, style), size=size, style=style, categories=cats, index=i,
        max_objects=max_objects, **options,
    )  # fmt: skip
    sample.split = split
    sample.meta["seed"], sample.meta["index"] = seed, i
    for rel, image in zip(sample.images, images):  # a noisy aerial image: run-length zlib is faster and smaller
        image.save(out / rel, format="PNG", compress_level=1, compress_type=zlib.Z_RLE)  # (18 vs 22 ms, 342 vs 383 KiB)
    return sample


def write_task(
    task: str,
    out_dir,
    n: int,
    seed: int,
    size: int = REF_SIZE,
    style: str = "A",
    *,
    categories=None,
    split: str = "",
    max_objects: int | None = None,
    workers: int = 1,
    **options,
) -> int:
    """Write ``n`` samples of ``task`` to ``out_dir`` (``data.jsonl`` + ``images/*.png``); returns ``n``.

    ``workers`` > 1 makes samples in that many processes; the files are the same bytes either way, since
    sample ``i`` depends only on (seed, task, style, i).
    """
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    cats = parse_categories(categories)
    jobs = ((task, out, seed, size, style, cats, split, max_objects, options, i) for i in range(n))

    def logged(samples: Iterator[Sample]) -> Iterator[Sample]:
        from tqdm.auto import tqdm

        # a bar on a terminal (disable=None), a log line every 500 samples elsewhere
        for i, sample in enumerate(tqdm(samples, total=n, desc=f"synth {task}", unit="sample", disable=None), 1):
            if i % 500 == 0:
                log.info("%s: %d/%d samples", task, i, n)
            yield sample

    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            write_dataset(out, logged(pool.imap(_write_one, jobs, chunksize=4)))
    else:
        write_dataset(out, logged(map(_write_one, jobs)))
    return n


def write_rec(out_dir, n: int, seed: int, size: int = REF_SIZE, style: str = "A", **options) -> int:
    return write_task("rec", out_dir, n, seed, size, style, **options)


def write_ovd(out_dir, n: int, seed: int, size: int = REF_SIZE, style: str = "A", **options) -> int:
    return write_task("ovd", out_dir, n, seed, size, style, **options)


def write_gres(out_dir, n: int, seed: int, size: int = REF_SIZE, style: str = "A", **options) -> int:
    return write_task("gres", out_dir, n, seed, size, style, **options)


def write_counting(out_dir, n: int, seed: int, size: int = REF_SIZE, style: str = "A", **options) -> int:
    return write_task("counting", out_dir, n, seed, size, style, **options)

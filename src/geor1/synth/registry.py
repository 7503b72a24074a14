"""GeoSynth's builders, one entry per task: where its functions live and which options it takes.

Every builder makes samples and writes datasets the same way (:func:`make`, :func:`write`)::

    make(task, rng_or_seed, index=0, size=..., style="A", **options) -> (Sample, images)
    write(task, out_dir, n, seed, size=..., style="A", **options) -> number of samples written

``geor1 synth`` and the contact sheet read this table and nothing else; a new task's builder is
one entry here (and its make and write functions).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

# Builder options: name -> (type, help, choices). ``geor1 synth`` turns them into --flags.
OPTIONS = {
    "max_objects": (int, "cap on objects per scene", None),
    "workers": (int, "processes making samples (same bytes)", None),
    "unique_fraction": (float, "share of targets alone in their category", None),
    "absent_fraction": (float, "share of queries for an absent category", None),
    "multi_fraction": (float, "share of multi-target expressions", None),
    "no_target_fraction": (float, "share of expressions with no target", None),
    "zero_fraction": (float, "share of questions about a category the image lacks", None),
    "k": (int, "number of candidates", None),
    "hard_fraction": (float, "share of hard negatives", None),
    "hard_radius_km": (float, "hard negatives lie within this distance", None),
    "easy_min_km": (float, "easy negatives lie at least this far", None),
    "reverse": (bool, "one aerial query, ground candidates", None),
    "view": (str, "which image the model sees", ("ground", "aerial")),
}
AERIAL = ("max_objects", "workers")


@dataclass(frozen=True)
class Builder:
    """A task's GeoSynth builder: ``module.write`` and ``module.make`` and the options they accept;
    ``aerial`` builders draw aerial scenes (they take ``categories``, and ``split`` when writing)."""

    task: str
    module: str
    write: str
    make: str
    options: tuple[str, ...]
    aerial: bool

    def writer(self):
        return getattr(importlib.import_module(self.module), self.write)

    def maker(self):
        return getattr(importlib.import_module(self.module), self.make)


BUILDERS = {b.task: b for b in (
    Builder("rec", "geor1.synth.builders", "write_rec", "make_rec", (*AERIAL, "unique_fraction"), True),
    Builder("ovd", "geor1.synth.builders", "write_ovd", "make_ovd", (*AERIAL, "absent_fraction"), True),
    Builder("gres", "geor1.synth.builders", "write_gres", "make_gres",
            (*AERIAL, "multi_fraction", "no_target_fraction"), True),
    Builder("counting", "geor1.synth.builders", "write_counting", "make_counting", (*AERIAL, "zero_fraction"), True),
    Builder("crossview", "geor1.synth.crossview", "write_crossview", "make_crossview_sample",
            ("k", "hard_fraction", "hard_radius_km", "easy_min_km", "reverse"), False),
    Builder("geoloc", "geor1.synth.crossview", "write_geoloc", "make_geoloc_sample", ("view",), False),
)}


def builder_for(task: str, options: dict, categories=None) -> tuple[Builder, dict]:
    """``task``'s builder and the options given to it (None values left out); an unknown task, an
    option it does not take, or categories for a builder without aerial scenes is a ValueError
    naming the flag."""
    if task not in BUILDERS:
        raise ValueError(f"no GeoSynth builder for {task!r} (known: {', '.join(BUILDERS)})")
    b = BUILDERS[task]
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(b.options))
    if unknown:
        raise ValueError(f"--{unknown[0].replace('_', '-')} does not apply to {task}")
    if categories and not b.aerial:
        raise ValueError(f"--categories does not apply to {task}")
    return b, options


def write(task: str, out_dir, n: int, seed: int, size: int = 448, style: str = "A", *, categories=None,
          split: str = "", **options) -> int:
    """Write a ``task`` dataset with its builder; ``options`` are builder options (None values are
    left out). ``categories`` and ``split`` apply to aerial builders."""
    b, options = builder_for(task, options, categories)
    if b.aerial:
        options.update(categories=categories, split=split)
    return b.writer()(out_dir, n, seed, size, style, **options)


def make(task: str, rng_or_seed, *, index: int = 0, size: int = 448, style: str = "A", categories=None,
         **options):
    """One ``task`` sample and its images, in memory (``rng_or_seed``: a numpy Generator or an int);
    ``index`` names it (``{task}-{index:06d}``). ``categories`` applies to aerial builders."""
    b, options = builder_for(task, options, categories)
    options.pop("workers", None)  # one sample in this process
    if b.aerial:
        from geor1.synth.builders import as_rng

        return b.maker()(as_rng(rng_or_seed), size=size, style=style, categories=categories, index=index, **options)
    return b.maker()(rng_or_seed, size=size, style=style, sample_id=f"{task}-{index:06d}", **options)

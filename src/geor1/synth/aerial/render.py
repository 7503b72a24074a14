"""Making a scene: :func:`plan_scene` draws every random choice, :func:`render` colours the ground,
composites shadows and objects and applies the sensor, :func:`make_scene` does both."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from geor1.synth import kernels
from geor1.synth.aerial.categories import (
    CATEGORY_SPECS,
    PLACE_ORDER,
    REF_SIZE,
    SETTINGS,
    feasible_gsd,
    length_range_at,
    size_class,
)
from geor1.synth.aerial.placers import SETTING_CONTEXT, place_category
from geor1.synth.aerial.planner import Plan, _Planner
from geor1.synth.aerial.raster import _bank
from geor1.synth.aerial.styles import GROUND_LABELS, STYLES, _ground_colours
from geor1.synth.scene import CATEGORIES, Scene, SceneObject
from geor1.synth.sensor import colour_matrix, noise_planes, vignetting


def render(
    plan: Plan, *, omit: tuple[int, ...] | set[int] = (), shadows: bool = True, sensor: bool = True
) -> Image.Image:
    """Composite shadows and objects onto the plan's ground and apply the sensor; a pure function of the plan.

    ``omit`` leaves objects out (by index into ``plan.objects``); ``shadows=False`` and ``sensor=False``
    switch those stages off (then every object pixel is exactly its palette colour times its grain).
    Objects are pasted over the shadows, so a shadow only ever darkens ground: it picks the ground's shadow
    colours (see :func:`_ground_colours`).
    """
    S = plan.size
    st = plan.style
    bank = _bank(S)
    omit = set(omit)
    keep = [o for i, o in enumerate(plan.objects) if i not in omit]
    shade = None
    if shadows:
        shade = plan.ground_shade.copy()
        for o in keep:
            if o.shadow is not None:
                h, w = o.shadow.shape
                shade[o.sy0 : o.sy0 + h, o.sx0 : o.sx0 + w] |= o.shadow
    # the sensor's vignetting is a per-pixel gain: applied to the ground's brightness and to each object's patch
    # rather than to the three planes of the composite. A style without it has all ones (exact), so that both
    # styles run the same compiled versions of the loops (numba compiles one per combination of argument types).
    vignette = vignetting(S, st.sensor) if sensor else None
    img = np.empty((3, S, S), np.float32)
    palette = _ground_colours(st.name, sensor)
    kernels.colour_ground(plan.ground_label, shade, len(GROUND_LABELS), plan.ground_bright, vignette, palette, img)
    matrix = colour_matrix(st.sensor).T if sensor else None
    grain = bank.fine[2]
    for o in keep:  # the grain, relief and vignetting make one gain per pixel
        ox, oy, _ = o.texture_key
        lut = o.lut if matrix is None else o.lut @ matrix
        kernels.paste(img, o.x0, o.y0, o.index, lut, np.float32(o.texture), grain, ox, oy, o.relief, vignette)
    out = np.empty((3, S, S), np.uint8)
    if sensor:  # blur, noise and rounding in one pass; the blur's centre gain is in the sensor matrix
        t, c = np.float32(st.blur_taps[0]), np.float32(st.blur_taps[1])
        ox, oy, _ = plan.noise_key
        kernels.sensor(img, t / c, noise_planes(S, st.sensor), oy * S + ox, out)
    else:
        img *= np.float32(255.0)
        img += np.float32(0.5)
        np.clip(img, 0, 255, out=out, casting="unsafe")
    return Image.merge("RGB", [Image.fromarray(channel) for channel in out])


# ----------------------------------------------------------------------------------- make_scene
def as_rng(rng_or_seed: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator (used as is) or an integer seed."""
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


def plan_scene(
    rng_or_seed,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    include: dict[str, int] | None = None,
    exclude=(),
    max_objects: int | None = None,
    setting: str | None = None,
    clutter: bool = True,
) -> Plan:
    """Draw a scene plan (see the module docstring).

    ``categories`` limits which categories may appear at all; ``include`` asks for exact counts of some
    (placement may fit fewer: read the plan's objects); ``exclude`` forbids some; ``clutter`` adds 0-3
    other categories present at the scene's GSD; ``max_objects`` caps the total.
    """
    rng = as_rng(rng_or_seed)
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r} (known: {', '.join(STYLES)})")
    st = STYLES[style]
    allowed = [c for c in (categories or CATEGORIES) if c not in set(exclude)]
    include = dict(include or {})
    for c in include:
        if c not in CATEGORY_SPECS:
            raise ValueError(f"unknown category {c!r}")
    focus = next(iter(include), None)
    if focus is None and allowed and rng.random() < 0.97:
        focus = allowed[int(rng.integers(len(allowed)))]
        lo, hi = CATEGORY_SPECS[focus].typical_count
        include[focus] = int(rng.integers(lo, hi + 1))

    lo, hi = st.gsd_range
    if focus is not None:  # where the style's sensor sees the focus category; else wherever it is visible
        f_lo, f_hi = feasible_gsd(focus)
        lo, hi = (max(lo, f_lo), min(hi, f_hi)) if max(lo, f_lo) < min(hi, f_hi) else (f_lo, f_hi)
    gsd_ref = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    if setting is None:
        choices = list(SETTINGS)
        for c in include:
            inter = [s for s in choices if s in CATEGORY_SPECS[c].settings]
            choices = inter or choices
        setting = choices[int(rng.integers(len(choices)))]
    elif setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r} (known: {', '.join(SETTINGS)})")

    counts = dict(include)
    roomy = not any(c in counts for c in ("ground track field", "baseball diamond"))
    if clutter:
        # a big sports ground needs open land: no rivers or coasts brought in by clutter
        pool = [
            c
            for c in allowed
            if c not in counts
            and setting in CATEGORY_SPECS[c].settings
            and length_range_at(c, gsd_ref) is not None
            and (roomy or CATEGORY_SPECS[c].surface not in ("water", "across", "shore"))
        ]
        k = min(len(pool), int(rng.choice([0, 1, 1, 2, 2, 3])))
        for i in rng.permutation(len(pool))[:k]:
            c = pool[int(i)]
            a, b = CATEGORY_SPECS[c].typical_count
            counts[c] = int(rng.integers(a, b + 1))
        for c, (prob, (a, b)) in SETTING_CONTEXT.get(setting, {}).items():
            if (
                c in allowed
                and c not in counts
                and length_range_at(c, gsd_ref) is not None
                and rng.random() < prob
            ):
                counts[c] = int(rng.integers(a, b + 1))
    if max_objects is not None:
        budget = max_objects
        for c in list(counts):
            counts[c] = min(counts[c], budget)
            budget -= counts[c]
        counts = {c: n for c, n in counts.items() if n > 0}

    water = None
    if "bridge" in counts:
        water = "river"
    elif "harbor" in counts:
        water = "coast"
    elif "ship" in counts:
        water = ["coast", "river", "lake"][int(rng.choice(3, p=[0.45, 0.35, 0.2]))]
    elif rng.random() < 0.15 and roomy:
        water = "lake" if rng.random() < 0.5 else "river"
    n_roads = {
        "urban": (1, 3),
        "suburban": (1, 2),
        "farmland": (0, 2),
        "industrial": (1, 2),
        "desert": (0, 1),
        "snow": (0, 1),
    }[setting]
    n_roads = int(rng.integers(n_roads[0], n_roads[1] + 1))
    if "ground track field" in counts or "baseball diamond" in counts:
        n_roads = min(1, n_roads)  # leave room for the big sports grounds
    if "vehicle" in counts:
        n_roads = max(1, n_roads)

    p = _Planner(rng, size, st, gsd_ref, setting)
    p.make_ground(water, counts.get("bridge", 0), n_roads)
    # the asked-for categories first (so clutter never crowds them out), each group large to small
    for c in sorted(counts, key=lambda c: (c not in include, PLACE_ORDER.index(c))):
        place_category(p, c, counts[c])
    gsd_m = gsd_ref * REF_SIZE / size
    noise_key = (int(rng.integers(0, size)), int(rng.integers(0, size)), 0)  # no transpose: a contiguous crop
    return Plan(
        size,
        st,
        setting,
        water,
        gsd_m,
        p.sun_az,
        p.sun_el,
        p.label,
        p.ground_brightness(),
        p.ground_shade,
        p.objects,
        noise_key,
        meta={"requested": counts, "gsd_ref_m": gsd_ref},
    )


def scene_from_plan(plan: Plan, image: Image.Image | None = None) -> Scene:
    """The :class:`Scene` (image, objects with tight boxes and masks) of a plan."""
    image = render(plan) if image is None else image
    objects = []
    for i, o in enumerate(plan.objects):
        objects.append(
            SceneObject(
                id=i,
                category=o.category,
                colour=o.colour,
                size=size_class(o.category, o.length_m),
                orientation=o.orientation,
                length_m=o.length_m,
                width_m=o.width_m,
                bbox=o.bbox,
                patch=o.index > 0,
                image_size=(plan.size, plan.size),
            )
        )
    return Scene(
        image=image,
        objects=objects,
        style=plan.style.name,
        setting=plan.setting,
        water=plan.water,
        gsd_m=plan.gsd_m,
        sun_azimuth_deg=plan.sun_azimuth_deg,
        sun_elevation_deg=plan.sun_elevation_deg,
        meta=dict(plan.meta),
    )


def make_scene(
    rng_or_seed,
    *,
    size: int = REF_SIZE,
    style: str = "A",
    categories=None,
    max_objects: int | None = None,
    include: dict[str, int] | None = None,
    exclude=(),
    setting: str | None = None,
    clutter: bool = True,
) -> Scene:
    """A rendered aerial scene with its objects (see :func:`plan_scene` for the arguments).

    ``rng_or_seed`` is a numpy Generator (advanced in place) or an int seed. No file I/O; the image is a
    PIL RGB image of ``size`` x ``size`` pixels.
    """
    return scene_from_plan(
        plan_scene(
            rng_or_seed,
            size=size,
            style=style,
            categories=categories,
            include=include,
            exclude=exclude,
            max_objects=max_objects,
            setting=setting,
            clutter=clutter,
        )
    )

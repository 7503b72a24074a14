"""Referring expressions over a GeoSynth scene graph: their structure, the resolver, generators and text.

An expression is a JSON dictionary (stored in ``Sample.meta["expression"]``)::

    {"type": "relation",                                   # category | attribute | position | relation
     "target": {"category": "ship", "colour": "red", "axis": None},   #   | ordinal | superlative
     "relation": "left_of", "anchor": {...another expression...},
     "count": None}

``target`` filters objects by category and, optionally, colour and axis class (the *candidates*). Then, by
``type``:

==============  ========================================================================================
category        all candidates (a target without colour or axis)
attribute       all candidates (a target with colour and/or axis)
position        candidates whose box centre lies in ``region`` (:data:`geor1.synth.scene.REGIONS`)
relation        candidates other than the anchor whose box centre is ``left_of`` / ``right_of`` / ``above``
                / ``below`` the anchor's, or the one ``nearest_to`` / ``farthest_from`` it (centre
                distance); nothing unless ``anchor`` resolves to exactly one object
ordinal         the ``rank``-th candidate (1-based) counted ``from`` the left / right / top / bottom by box
                centre; nothing when there are fewer
superlative     the ``largest`` or ``smallest`` candidate by rendered area (``measure``)
==============  ========================================================================================

An optional ``count`` (GRES: "the 3 ships ...") must equal the number of objects found, else the expression
refers to nothing. Ties are broken by object id, so :func:`resolve` is a function of the graph alone.

Generated expressions are also *visually robust* (:func:`ambiguity`): no candidate sits near a region
line, a left/right boundary or an axis-class boundary, superlatives and nearest/farthest win by a clear
margin, so the answer is decidable by looking, not only by the exact numbers.
"""

from __future__ import annotations

import math

import numpy as np

from geor1.synth.aerial import CATEGORY_SPECS
from geor1.synth.scene import PLURAL, axis_margin

# 3 x 3 grid of absolute positions: name -> (row, column); rows top to bottom, columns left to right.
GRID_REGIONS = {
    "upper left": (0, 0),
    "top": (0, 1),
    "upper right": (0, 2),
    "left": (1, 0),
    "center": (1, 1),
    "right": (1, 2),
    "lower left": (2, 0),
    "bottom": (2, 1),
    "lower right": (2, 2),
}
# Halves of the image: name -> (axis, side); axis 0 is x, 1 is y; side 0 is the low-coordinate half.
HALF_REGIONS = {"left half": (0, 0), "right half": (0, 1), "top half": (1, 0), "bottom half": (1, 1)}
REGIONS = (*GRID_REGIONS, *HALF_REGIONS)

TYPES = ("category", "attribute", "position", "relation", "ordinal", "superlative")
RELATIONS = ("left_of", "right_of", "above", "below", "nearest_to", "farthest_from")
DIRECTIONS = ("left", "right", "top", "bottom")
MEASURES = ("largest", "smallest")

# Margins of visual robustness, as fractions of the image side (positions) or ratios (sizes, distances).
POSITION_MARGIN = 0.04
RELATION_MARGIN = 0.04
ORDINAL_GAP = 0.035
AXIS_MARGIN_DEG = 8.0
SIZE_RATIO = 1.3
DISTANCE_RATIO = 1.25

ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth"}
REGION_PHRASES = {
    "upper left": "in the upper left",
    "top": "at the top center",
    "upper right": "in the upper right",
    "left": "at the middle left",
    "center": "in the center",
    "right": "at the middle right",
    "lower left": "in the lower left",
    "bottom": "at the bottom center",
    "lower right": "in the lower right",
    "left half": "in the left half",
    "right half": "in the right half",
    "top half": "in the top half",
    "bottom half": "in the bottom half",
}
AXIS_PHRASES = {
    "north-south": "oriented north-south",
    "east-west": "oriented east-west",
    "northeast-southwest": "oriented northeast-southwest",
    "northwest-southeast": "oriented northwest-southeast",
}


# --------------------------------------------------------------------------------------- resolver
def grid_region(cx: float, cy: float, width: int, height: int) -> str:
    """The 3 x 3 grid region (a key of :data:`GRID_REGIONS`) holding the point (cx, cy)."""
    col = min(2, max(0, int(3 * cx // width)))
    row = min(2, max(0, int(3 * cy // height)))
    return next(name for name, rc in GRID_REGIONS.items() if rc == (row, col))


def in_region(region: str, cx: float, cy: float, width: int, height: int) -> bool:
    """Whether the point (cx, cy) lies in ``region`` (a grid region or a half)."""
    if region in GRID_REGIONS:
        return grid_region(cx, cy, width, height) == region
    axis, side = HALF_REGIONS[region]
    v, extent = (cx, width) if axis == 0 else (cy, height)
    return (v >= extent / 2) == bool(side)


def region_rect(region: str, width: int, height: int) -> tuple[float, float, float, float]:
    """The rectangle ``(x0, y0, x1, y1)`` in pixels covered by ``region``."""
    if region in GRID_REGIONS:
        row, col = GRID_REGIONS[region]
        return col * width / 3, row * height / 3, (col + 1) * width / 3, (row + 1) * height / 3
    axis, side = HALF_REGIONS[region]
    if axis == 0:
        return side * width / 2, 0.0, (side + 1) * width / 2, float(height)
    return 0.0, side * height / 2, float(width), (side + 1) * height / 2


def region_margin(region: str, cx: float, cy: float, width: int, height: int) -> float:
    """Pixels between (cx, cy) and the boundary of ``region`` inside the image (image borders do not count):
    small values mean that whether the point is in the region is hard to judge by eye."""
    x0, y0, x1, y1 = region_rect(region, width, height)
    if x0 <= cx < x1 and y0 <= cy < y1:
        edges = [
            d
            for d, border in (
                (cx - x0, x0 == 0),
                (x1 - cx, x1 == width),
                (cy - y0, y0 == 0),
                (y1 - cy, y1 == height),
            )
            if not border
        ]
        return min(edges) if edges else float("inf")
    return math.hypot(max(x0 - cx, 0.0, cx - x1), max(y0 - cy, 0.0, cy - y1))


def target(category: str, colour: str | None = None, axis: str | None = None) -> dict:
    return {"category": category, "colour": colour, "axis": axis}


def candidates(tgt: dict, graph: dict) -> list[dict]:
    """Scene-graph nodes matching a target filter (category, then colour and axis when given), in id order."""
    out = []
    for o in graph["objects"]:
        a = o["attributes"]
        if o["category"] != tgt["category"]:
            continue
        if tgt.get("colour") is not None and a["colour"] != tgt["colour"]:
            continue
        if tgt.get("axis") is not None and a.get("axis") != tgt["axis"]:
            continue
        out.append(o)
    return out


def _sort_key(direction: str):
    i, sign = {"left": (0, 1), "right": (0, -1), "top": (1, 1), "bottom": (1, -1)}[direction]
    return lambda o: (sign * o["centre"][i], o["id"])


def _distance(a: dict, b: dict) -> float:
    return math.hypot(a["centre"][0] - b["centre"][0], a["centre"][1] - b["centre"][1])


def _by_id(graph: dict, i: int) -> dict:
    return next(o for o in graph["objects"] if o["id"] == i)


def resolve(expr: dict, graph: dict) -> list[int]:
    """Ids (sorted) of the objects ``expr`` refers to in ``graph`` (a :meth:`Scene.graph` dictionary)."""
    w, h = graph["width"], graph["height"]
    cands = candidates(expr["target"], graph)
    kind = expr["type"]
    if kind in ("category", "attribute"):
        found = cands
    elif kind == "position":
        found = [o for o in cands if in_region(expr["region"], o["centre"][0], o["centre"][1], w, h)]
    elif kind == "relation":
        anchor_ids = resolve(expr["anchor"], graph)
        if len(anchor_ids) != 1:
            found = []
        else:
            a = _by_id(graph, anchor_ids[0])
            others = [o for o in cands if o["id"] != a["id"]]
            rel = expr["relation"]
            ax, ay = a["centre"]
            if rel == "left_of":
                found = [o for o in others if o["centre"][0] < ax]
            elif rel == "right_of":
                found = [o for o in others if o["centre"][0] > ax]
            elif rel == "above":
                found = [o for o in others if o["centre"][1] < ay]
            elif rel == "below":
                found = [o for o in others if o["centre"][1] > ay]
            elif rel in ("nearest_to", "farthest_from"):
                ranked = sorted(others, key=lambda o: (_distance(o, a), o["id"]))
                found = ranked[:1] if rel == "nearest_to" else ranked[-1:]
            else:
                raise ValueError(f"unknown relation {rel!r}")
    elif kind == "ordinal":
        ranked = sorted(cands, key=_sort_key(expr["from"]))
        rank = expr["rank"]
        found = [ranked[rank - 1]] if 1 <= rank <= len(ranked) else []
    elif kind == "superlative":
        sign = -1 if expr["measure"] == "largest" else 1
        found = sorted(cands, key=lambda o: (sign * o["area"], o["id"]))[:1]
    else:
        raise ValueError(f"unknown expression type {kind!r}")
    ids = sorted(o["id"] for o in found)
    if expr.get("count") is not None and len(ids) != expr["count"]:
        return []
    return ids


# ------------------------------------------------------------------------------------- robustness
def ambiguity(expr: dict, graph: dict) -> str | None:
    """Why ``expr`` would be hard to resolve by eye in this scene (a near-tie the exact resolver decides by a
    few pixels), or None when it is clear."""
    w, h = graph["width"], graph["height"]
    side = min(w, h)
    tgt = expr["target"]
    if tgt.get("axis") is not None:
        for o in graph["objects"]:
            deg = o["attributes"].get("orientation_deg")
            if o["category"] == tgt["category"] and (deg is None or axis_margin(deg) < AXIS_MARGIN_DEG):
                return f"object {o['id']} lies near an axis-class boundary"
    cands = candidates(tgt, graph)
    kind = expr["type"]
    if kind == "position":
        for o in cands:
            if region_margin(expr["region"], o["centre"][0], o["centre"][1], w, h) < POSITION_MARGIN * side:
                return f"object {o['id']} lies near a region line"
    elif kind == "relation":
        why = ambiguity(expr["anchor"], graph)
        if why:
            return "anchor: " + why
        anchor_ids = resolve(expr["anchor"], graph)
        if len(anchor_ids) != 1:
            return None  # refers to nothing, unambiguously
        a = _by_id(graph, anchor_ids[0])
        others = [o for o in cands if o["id"] != a["id"]]
        rel = expr["relation"]
        if rel in ("left_of", "right_of", "above", "below"):
            i = 0 if rel in ("left_of", "right_of") else 1
            for o in others:
                if abs(o["centre"][i] - a["centre"][i]) < RELATION_MARGIN * side:
                    return f"object {o['id']} is level with the anchor"
        elif len(others) >= 2:
            d = sorted(_distance(o, a) for o in others)
            if rel == "nearest_to" and d[1] < DISTANCE_RATIO * max(d[0], 1.0):
                return "two candidates are about equally near"
            if rel == "farthest_from" and d[-1] < DISTANCE_RATIO * d[-2]:
                return "two candidates are about equally far"
    elif kind == "ordinal":
        ranked = sorted(cands, key=_sort_key(expr["from"]))
        i = 0 if expr["from"] in ("left", "right") else 1
        keys = [o["centre"][i] for o in ranked]
        last = min(expr["rank"], len(keys) - 1)  # gaps up to and after the chosen rank
        for j in range(last):
            if abs(keys[j + 1] - keys[j]) < ORDINAL_GAP * side:
                return "two candidates are level along the counting direction"
    elif kind == "superlative" and len(cands) >= 2:
        areas = sorted(o["area"] for o in cands)
        if expr["measure"] == "largest" and areas[-1] < SIZE_RATIO * areas[-2]:
            return "the two largest candidates are about the same size"
        if expr["measure"] == "smallest" and areas[1] < SIZE_RATIO * areas[0]:
            return "the two smallest candidates are about the same size"
    return None


# ------------------------------------------------------------------------------------------- text
def noun_phrase(tgt: dict, *, plural: bool = False) -> str:
    """``red ship oriented east-west`` (or its plural)."""
    noun = PLURAL[tgt["category"]] if plural else tgt["category"]
    words = ([tgt["colour"]] if tgt.get("colour") else []) + [noun]
    if tgt.get("axis"):
        words.append(AXIS_PHRASES[tgt["axis"]])
    return " ".join(words)


def describe(
    expr: dict, rng: np.random.Generator | None = None, *, plural: bool = False, anchor: bool = False
) -> str:
    """The English text of ``expr``. ``rng`` picks among equivalent phrasings (the first one without it);
    ``plural`` phrases a set (GRES: "all ships in the left half", "the 3 red vehicles"); ``anchor`` phrases
    the object another expression is related to (no "in the image")."""

    def pick(*options: str) -> str:
        return options[int(rng.integers(len(options)))] if rng is not None else options[0]

    tgt = expr["target"]
    count = expr.get("count")
    kind = expr["type"]
    if kind in ("ordinal", "superlative"):
        plural = False
    np_ = noun_phrase(tgt, plural=plural)
    if plural:
        head = (
            f"the {count} {np_}" if count is not None else pick(f"all {np_}", f"all the {np_}", f"the {np_}")
        )
    else:
        head = f"the {np_}"
    if kind in ("category", "attribute"):
        return head if plural or anchor else pick(head, f"{head} in the image")
    if kind == "position":
        return f"{head} {REGION_PHRASES[expr['region']]}"
    if kind == "relation":
        anchor_text = describe(expr["anchor"], rng, anchor=True)
        rel = expr["relation"]
        phrase = {
            "left_of": pick("to the left of", "left of", "west of"),
            "right_of": pick("to the right of", "right of", "east of"),
            "above": pick("above", "north of"),
            "below": pick("below", "south of"),
            "nearest_to": pick("nearest to", "closest to"),
            "farthest_from": pick("farthest from", "farthest away from"),
        }[rel]
        return f"{head} {phrase} {anchor_text}"
    if kind == "ordinal":
        d, k = expr["from"], expr["rank"]
        if k == 1:
            most = {"left": "leftmost", "right": "rightmost", "top": "topmost", "bottom": "bottommost"}[d]
            return pick(f"the {most} {np_}", f"the first {np_} from the {d}")
        return f"the {ORDINAL_WORDS.get(k, f'{k}th')} {np_} from the {d}"
    if kind == "superlative":
        return pick(
            f"the {expr['measure']} {np_}",
            f"the {'biggest' if expr['measure'] == 'largest' else 'smallest'} {np_}",
        )
    raise ValueError(f"unknown expression type {kind!r}")


# ------------------------------------------------------------------------------------- generators
def _valid(expr: dict, graph: dict, want: list[int]) -> bool:
    return resolve(expr, graph) == want and ambiguity(expr, graph) is None


def _filters(node: dict, rng: np.random.Generator) -> list[dict]:
    """Target filters true of ``node``, simplest first: its category; then with its colour or its axis (in
    random order); then with both."""
    c, a = node["category"], node["attributes"]
    coloured = len(CATEGORY_SPECS[c].colours) > 1  # "the white wind turbine" says nothing more
    one = [target(c, colour=a["colour"])] if coloured else []
    if a.get("axis"):
        one.append(target(c, axis=a["axis"]))
    both = [target(c, colour=a["colour"], axis=a["axis"])] if coloured and a.get("axis") else []
    return [target(c), *(one[i] for i in rng.permutation(len(one))), *both]


def _typed(tgt: dict) -> str:
    return "attribute" if tgt.get("colour") or tgt.get("axis") else "category"


def anchors(graph: dict, exclude_category: str) -> list[tuple[dict, int]]:
    """Simple unambiguous descriptions of objects of other categories: (expression, object id)."""
    out = []
    by_cat: dict[str, list[dict]] = {}
    for o in graph["objects"]:
        by_cat.setdefault(o["category"], []).append(o)
    for cat, objs in by_cat.items():
        if cat == exclude_category:
            continue
        if len(objs) == 1:
            out.append(({"type": "category", "target": target(cat)}, objs[0]["id"]))
            continue
        for m in MEASURES:
            e = {"type": "superlative", "target": target(cat), "measure": m}
            ids = resolve(e, graph)
            if ambiguity(e, graph) is None:
                out.append((e, ids[0]))
        for o in objs:
            e = {"type": "attribute", "target": target(cat, colour=o["attributes"]["colour"])}
            if _valid(e, graph, [o["id"]]):
                out.append((e, o["id"]))
    return out


def _single_options(kind: str, tgt: dict, node: dict, graph: dict) -> list[dict]:
    """Expressions of ``kind`` with target filter ``tgt`` that could single out ``node`` (unchecked)."""
    w, h = graph["width"], graph["height"]
    if kind in ("category", "attribute"):
        return [{"type": _typed(tgt), "target": tgt}] if _typed(tgt) == kind else []
    if kind == "position":
        return [{"type": "position", "target": tgt, "region": grid_region(*node["centre"], w, h)}]
    if kind == "ordinal":
        out = []
        cands = candidates(tgt, graph)
        if len(cands) < 2:
            return []
        for d in DIRECTIONS:
            rank = 1 + [o["id"] for o in sorted(cands, key=_sort_key(d))].index(node["id"])
            if rank <= 3:
                out.append({"type": "ordinal", "target": tgt, "from": d, "rank": rank})
        return out
    if kind == "superlative":
        if len(candidates(tgt, graph)) < 2:
            return []
        return [{"type": "superlative", "target": tgt, "measure": m} for m in MEASURES]
    if kind == "relation":
        return [
            {"type": "relation", "target": tgt, "relation": r, "anchor": a}
            for a, aid in anchors(graph, tgt["category"])
            for r in RELATIONS
        ]
    raise ValueError(kind)


def single_target_expression(graph: dict, target_id: int, rng: np.random.Generator) -> dict | None:
    """A robust expression that resolves to exactly ``[target_id]`` (REC, and single-target GRES), or None.

    A category's only instance is named plainly about half the time; otherwise a kind of expression is drawn
    at random (attribute, position, ordinal, superlative, relation) and the first kind with a valid
    phrasing wins, so every kind appears and non-unique targets always get a disambiguating one.
    """
    node = _by_id(graph, target_id)
    want = [target_id]
    plain = {"type": "category", "target": target(node["category"])}
    if _valid(plain, graph, want) and rng.random() < 0.5:
        return plain
    kinds = ["attribute", "position", "ordinal", "superlative", "relation"]
    for i in rng.permutation(len(kinds)):
        kind = kinds[i]
        valid = []
        for tgt in _filters(node, rng):
            valid = [e for e in _single_options(kind, tgt, node, graph) if _valid(e, graph, want)]
            if valid:
                break
        if valid:
            return valid[int(rng.integers(len(valid)))]
    return plain if _valid(plain, graph, want) else None


def multi_target_expression(graph: dict, category: str, rng: np.random.Generator) -> dict | None:
    """A robust expression that refers to two or more objects of ``category`` (GRES), or None."""
    objs = candidates(target(category), graph)
    if len(objs) < 2:
        return None
    options: dict[str, list[dict]] = {"category": [{"type": "category", "target": target(category)}]}
    colours = (
        sorted({o["attributes"]["colour"] for o in objs}) if len(CATEGORY_SPECS[category].colours) > 1 else []
    )
    axes = sorted({o["attributes"]["axis"] for o in objs if o["attributes"].get("axis")})
    options["attribute"] = [{"type": "attribute", "target": target(category, colour=c)} for c in colours] + [
        {"type": "attribute", "target": target(category, axis=a)} for a in axes
    ]
    options["position"] = [
        {"type": "position", "target": target(category), "region": r} for r in (*HALF_REGIONS, *GRID_REGIONS)
    ]
    options["relation"] = [
        {"type": "relation", "target": target(category), "relation": r, "anchor": a}
        for a, _ in anchors(graph, category)
        for r in RELATIONS[:4]
    ]
    everything = [o["id"] for o in objs]
    for i in rng.permutation(len(options)):
        kind = list(options)[i]
        valid = []
        for e in options[kind]:
            ids = resolve(e, graph)
            # a filter or place that keeps every instance says nothing beyond "all <category>"
            narrows = kind == "category" or ids != everything
            if len(ids) >= 2 and narrows and ambiguity(e, graph) is None:
                valid.append(e)
        if valid:
            e = dict(valid[int(rng.integers(len(valid)))])
            if rng.random() < 0.4:
                e["count"] = len(resolve(e, graph))
            return e
    return None


def no_target_expression(graph: dict, category: str, rng: np.random.Generator) -> dict | None:
    """A robust expression about ``category`` that refers to nothing (GRES no-target), or None.

    When ``category`` is absent from the scene the category itself is the expression; otherwise a colour no
    instance has, a region holding none, or an empty relation.
    """
    if not candidates(target(category), graph):
        return {"type": "category", "target": target(category)}
    present = {o["attributes"]["colour"] for o in candidates(target(category), graph)}
    options = [
        {"type": "attribute", "target": target(category, colour=c)}
        for c in CATEGORY_SPECS[category].colours
        if c not in present
    ]
    options += [
        {"type": "position", "target": target(category), "region": r} for r in (*GRID_REGIONS, *HALF_REGIONS)
    ]
    options += [
        {"type": "relation", "target": target(category), "relation": r, "anchor": a}
        for a, _ in anchors(graph, category)
        for r in RELATIONS[:4]
    ]
    valid = [e for e in options if not resolve(e, graph) and ambiguity(e, graph) is None]
    return valid[int(rng.integers(len(valid)))] if valid else None

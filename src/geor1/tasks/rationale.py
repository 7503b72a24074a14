"""Writing programmatic rationales: GeoSynth's scene graphs and view evidence in words.

GeoSynth samples carry what their images show as data (:mod:`geor1.synth`), so a rationale can be
written that is true of the image and reaches the gold answer. Each task module writes its own
(``rationale(sample, frame)``) with these helpers:

- scene graphs (``meta["scene"]``, ``meta["expression"]``, ``meta["target_ids"]``): :class:`Scene`
  and :func:`explain` read an expression step by step (category -> attributes -> position /
  relation / order / size -> candidates), checked against GeoSynth's resolver;
- view evidence (``meta["evidence"]``: what a ground or aerial view shows): buildings, trees,
  water, streets in words.

Positions in rationales are in the answer's frame (:mod:`geor1.coords`): centre points ``(x, y)``
and boxes ``[x1, y1, x2, y2]`` exactly as the answer writes them, so the rationale and the answer
agree. A sample whose meta cannot support a true rationale raises :class:`RationaleError` (the
data engine records it as a failure with that reason).
"""

from __future__ import annotations

import math

from geor1.coords import Frame
from geor1.data.schema import Sample
from geor1.tasks.parsing import box_in_frame, point_in_frame

# short enough for small models' context).
MAX_LISTED = 6

COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")


class RationaleError(ValueError):
    """The sample's meta cannot support a true rationale (the reason says why)."""


def compass(azimuth_deg: float) -> str:
    """The 8-point compass word of an azimuth (degrees clockwise from north)."""
    return COMPASS[int(((azimuth_deg % 360) + 22.5) // 45) % 8]


def fmt_list(values) -> str:
    return "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) + "]"


def words(name: str) -> str:
    return name.replace("_", " ")



# ---------------------------------------------------------------------------------------------
# rec / ovd / gres: the scene graph


class Scene:
    """A scene graph with the frame its positions are written in."""

    def __init__(self, sample: Sample, frame: Frame):
        try:
            self.graph = sample.meta["scene"]
            self.objects = {o["id"]: o for o in self.graph["objects"]}
        except (KeyError, TypeError):
            raise RationaleError(f"sample {sample.id!r} has no GeoSynth scene graph (meta['scene'])") from None
        self.frame, self.w, self.h = frame, sample.width, sample.height

    def centre(self, o: dict) -> str:
        return "(" + ", ".join(f"{v:g}" for v in point_in_frame(o["centre"], self.frame, self.w, self.h)) + ")"

    def box(self, o: dict) -> str:
        return fmt_list(box_in_frame(o["bbox"], self.frame, self.w, self.h))

    def listing(self, nodes: list[dict]) -> str:
        """``red at (40, 12), white at (150, 96), ...`` in reading order (top to bottom, left to right)."""
        nodes = sorted(nodes, key=lambda o: (o["centre"][1], o["centre"][0]))
        items = [f"{o['attributes']['colour']} at {self.centre(o)}" for o in nodes[:MAX_LISTED]]
        if len(nodes) > MAX_LISTED:
            items.append(f"and {len(nodes) - MAX_LISTED} more")
        return ", ".join(items)


def count_phrase(n: int, category: str) -> str:
    from geor1.synth.scene import PLURAL

    return f"no {PLURAL[category]}" if n == 0 else f"1 {category}" if n == 1 else f"{n} {PLURAL[category]}"


def explain(expr: dict, scene: Scene, steps: list[str], *, anchor: bool = False) -> list[dict]:
    """Append the steps that resolve ``expr`` to ``steps``; return the objects it refers to.

    Each step filters what the previous one left, as the expression's structure says
    (:mod:`geor1.synth.expressions`); the result is checked against ``resolve``.
    """
    from geor1.synth.expressions import AXIS_PHRASES, REGION_PHRASES, candidates, in_region, resolve
    from geor1.synth.scene import PLURAL

    graph = scene.graph
    tgt = expr["target"]
    cat = tgt["category"]
    of_category = [o for o in graph["objects"] if o["category"] == cat]
    who = "For the anchor I look for" if anchor else "The expression asks for"
    listed = f": {scene.listing(of_category)}" if of_category else ""
    article = "an" if cat[0] in "aeiou" else "a"
    steps.append(f"{who} {article} {cat}. The image has {count_phrase(len(of_category), cat)}"
                 f"{listed}.")
    cands = candidates(tgt, graph)
    if tgt.get("colour") or tgt.get("axis"):
        wanted = " and ".join(([tgt["colour"]] if tgt.get("colour") else [])
                              + ([AXIS_PHRASES[tgt["axis"]]] if tgt.get("axis") else []))
        left = f": {scene.listing(cands)}" if cands else ""
        steps.append(f"It must be {wanted}: {len(cands)} of them{left}.")
    kind = expr["type"]
    if kind in ("category", "attribute"):
        found = cands
    elif kind == "position":
        w, h = graph["width"], graph["height"]
        found = [o for o in cands if in_region(expr["region"], o["centre"][0], o["centre"][1], w, h)]
        left = f": {scene.listing(found)}" if found else ""
        steps.append(f"Position {REGION_PHRASES[expr['region']]}: {len(found)} there{left}.")
    elif kind == "relation":
        rel = expr["relation"].replace("_", " ")
        anchors = explain(expr["anchor"], scene, steps, anchor=True)
        if len(anchors) != 1:
            steps.append(f"The anchor is not a single object, so nothing is {rel} it.")
            found = []
        else:
            a = anchors[0]
            steps.append(f"The anchor is at {scene.box(a)}.")
            found = [scene.objects[i] for i in resolve({**expr, "count": None}, graph)]  # the count comes last
            others = [o for o in cands if o["id"] != a["id"]]
            left = f": {scene.listing(found)}" if found else ""
            steps.append(f"Of the {len(others)} candidate {PLURAL[cat] if len(others) != 1 else cat}, "
                         f"{len(found)} {'is' if len(found) == 1 else 'are'} {rel} it{left}.")
    elif kind == "ordinal":
        axis, sign = {"left": (0, 1), "right": (0, -1), "top": (1, 1), "bottom": (1, -1)}[expr["from"]]
        ranked = sorted(cands, key=lambda o: (sign * o["centre"][axis], o["id"]))
        rank = expr["rank"]
        order = ", ".join(scene.centre(o) for o in ranked[:max(rank, 1) + 1][:MAX_LISTED])
        found = [ranked[rank - 1]] if 1 <= rank <= len(ranked) else []
        steps.append(f"Counting from the {expr['from']}: {order}{' ...' if len(ranked) > rank + 1 else ''}; "
                     f"number {rank} is " + (f"at {scene.centre(found[0])}." if found else "missing."))
    elif kind == "superlative":
        sign = -1 if expr["measure"] == "largest" else 1
        ranked = sorted(cands, key=lambda o: (sign * o["area"], o["id"]))
        found = ranked[:1]
        if len(ranked) > 1:
            steps.append(f"By size, the {expr['measure']} is at {scene.centre(found[0])}"
                         f" (the next is at {scene.centre(ranked[1])}).")
        elif found:
            steps.append(f"Only one candidate, at {scene.centre(found[0])}, so it is the {expr['measure']}.")
    else:
        raise RationaleError(f"unknown expression type {kind!r}")
    if expr.get("count") is not None:
        agrees = len(found) == expr["count"]
        steps.append(f"The expression says {expr['count']}; {len(found)} found"
                     + ("." if agrees else ", so it refers to nothing."))
        if not agrees:
            found = []
    ids = sorted(o["id"] for o in found)
    if ids != resolve(expr, graph):
        raise RationaleError(f"the step-by-step reading gives objects {ids}, the resolver {resolve(expr, graph)}")
    return sorted(found, key=lambda o: (o["centre"][1], o["centre"][0]))


def scene_targets(sample: Sample, scene: Scene) -> list[dict]:
    ids = sample.meta.get("target_ids")
    if ids is None:
        raise RationaleError(f"sample {sample.id!r} has no meta['target_ids']")
    try:
        nodes = [scene.objects[i] for i in ids]
    except KeyError as e:
        raise RationaleError(f"target id {e} is not in the scene graph") from None
    if [list(o["bbox"]) for o in nodes] != [list(map(int, b)) for b in sample.boxes]:
        raise RationaleError("meta['target_ids'] do not match the sample's boxes")
    return nodes



def expression(sample: Sample) -> dict:
    """The sample's GeoSynth expression tree (``meta["expression"]``)."""
    expr = sample.meta.get("expression")
    if not isinstance(expr, dict) or "target" not in expr:
        raise RationaleError(f"sample {sample.id!r} has no GeoSynth expression (meta['expression'])")
    return expr





def read_expression(sample: Sample, frame: Frame) -> tuple[Scene, list[dict], list[str], list[dict]]:
    """``(scene, targets, steps, found)``: the sample's scene, its target objects, the steps that
    read its expression and the objects the expression refers to (REC, GRES)."""
    scene = Scene(sample, frame)
    targets = scene_targets(sample, scene)
    steps: list[str] = []
    found = explain(expression(sample), scene, steps)
    return scene, targets, steps, found

# ---------------------------------------------------------------------------------------------
# View evidence (crossview, geoloc)


def storeys(height_m: float) -> str:
    n = max(1, round(height_m / 3.2))
    return f"{n} storey{'s' if n > 1 else ''}"


def buildings(e: dict) -> str:
    if not e["n_buildings"]:
        return "no buildings"
    if e["n_buildings"] == 1:
        return f"1 building about {e['mean_height_m']:g} m tall ({storeys(e['mean_height_m'])})"
    roofs = "mostly pitched roofs" if e["pitched_roof_share"] >= 0.6 else \
        "mostly flat roofs" if e["pitched_roof_share"] <= 0.4 else "mixed roofs"
    return (f"{e['n_buildings']} buildings about {e['mean_height_m']:g} m tall ({storeys(e['mean_height_m'])}, "
            f"up to {e['max_height_m']:g} m), {roofs}")


def trees(e: dict) -> str:
    return "no trees" if not e["n_trees"] else f"{e['n_trees']} trees"


def water(e: dict) -> str:
    return "water" if e["water_share"] > 0.02 else "no water"


def streets(e: dict) -> str:
    a, b = e["road_bearings_deg"]
    return f"streets at {a:g} and {b:g} degrees"


def centre_street(e: dict) -> str:
    return f"the street through the centre runs at {e['camera_street_bearing_deg']:g} degrees"


def street_gap(a: dict, b: dict, period: float) -> float:
    """Degrees between the streets two views' cameras stand on, a grid repeating every ``period``
    degrees (90: the whole street grid; 180: the one street)."""
    d = (a["camera_street_bearing_deg"] - b["camera_street_bearing_deg"]) % period
    return min(d, period - d)


def ratio(diff: float, threshold: float) -> float:
    """How different, in units of what is clearly visible (>= 1: a clear difference)."""
    return diff / threshold


def presence(a: bool, b: bool) -> float:
    """A categorical cue: no difference, or an infinitely clear one."""
    return math.inf if a != b else 0.0

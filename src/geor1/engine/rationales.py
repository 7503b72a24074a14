"""Programmatic rationales for GeoSynth samples: the scene graph written out step by step.

GeoSynth samples carry what their images show as data (:mod:`geor1.synth`), so a rationale can be
written that is true of the image and reaches the gold answer:

- **rec / gres** (``meta["scene"]``, ``meta["expression"]``, ``meta["target_ids"]``):
  category -> attributes -> position / relation / order / size -> candidates -> choice;
- **ovd**: the category, the instances found, their count;
- **crossview** (``meta["evidence"]``: what the query and each candidate show): road layout,
  building footprints and heights, trees, water, biome and architecture, and the shadows of the
  query; each wrong candidate is ruled out by the first cue on which it clearly differs;
- **geoloc** (``meta["evidence"]`` plus continent, climate band, city): biome and season, the
  sun, architecture and street grid -> climate, hemisphere, continent -> city -> coordinates.

Positions in rationales are in the answer's frame (:mod:`geor1.coords`): centre points
``(x, y)`` and boxes ``[x1, y1, x2, y2]`` exactly as the answer writes them, so the rationale and
the answer agree. The answer is the task module's ``target_answer(sample, frame)``.

A sample whose meta cannot support a true rationale — not a GeoSynth sample, meta disagreeing
with the sample's targets, a crossview distractor that no cue tells apart from the truth — raises
:class:`RationaleError` (the engine records it as a failure with that reason).
"""

from __future__ import annotations

import math

from geor1.coords import Frame
from geor1.data.schema import Sample
from geor1.tasks import get_task
from geor1.tasks.parsing import box_in_frame, point_in_frame

# How many candidates a rationale lists by position before summarising the rest (keeps rationales
# short enough for small models' context).
MAX_LISTED = 6

COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")


class RationaleError(ValueError):
    """The sample's meta cannot support a true rationale (the reason says why)."""


def compass(azimuth_deg: float) -> str:
    """The 8-point compass word of an azimuth (degrees clockwise from north)."""
    return COMPASS[int(((azimuth_deg % 360) + 22.5) // 45) % 8]


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) + "]"


def _words(name: str) -> str:
    return name.replace("_", " ")


# ---------------------------------------------------------------------------------------------
# rec / ovd / gres: the scene graph


class _Scene:
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
        return _fmt(box_in_frame(o["bbox"], self.frame, self.w, self.h))

    def listing(self, nodes: list[dict]) -> str:
        """``red at (40, 12), white at (150, 96), ...`` in reading order (top to bottom, left to right)."""
        nodes = sorted(nodes, key=lambda o: (o["centre"][1], o["centre"][0]))
        items = [f"{o['attributes']['colour']} at {self.centre(o)}" for o in nodes[:MAX_LISTED]]
        if len(nodes) > MAX_LISTED:
            items.append(f"and {len(nodes) - MAX_LISTED} more")
        return ", ".join(items)


def _count_phrase(n: int, category: str) -> str:
    from geor1.synth.scene import PLURAL

    return f"no {PLURAL[category]}" if n == 0 else f"1 {category}" if n == 1 else f"{n} {PLURAL[category]}"


def _explain(expr: dict, scene: _Scene, steps: list[str], *, anchor: bool = False) -> list[dict]:
    """Append the steps that resolve ``expr`` to ``steps``; return the objects it refers to.

    Each step filters what the previous one left, as the expression's structure says
    (:mod:`geor1.synth.expressions`); the result is checked against ``resolve``.
    """
    from geor1.synth.expressions import AXIS_PHRASES, REGION_PHRASES, candidates, resolve
    from geor1.synth.scene import PLURAL, in_region

    graph = scene.graph
    tgt = expr["target"]
    cat = tgt["category"]
    of_category = [o for o in graph["objects"] if o["category"] == cat]
    who = "For the anchor I look for" if anchor else "The expression asks for"
    listed = f": {scene.listing(of_category)}" if of_category else ""
    article = "an" if cat[0] in "aeiou" else "a"
    steps.append(f"{who} {article} {cat}. The image has {_count_phrase(len(of_category), cat)}"
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
        anchors = _explain(expr["anchor"], scene, steps, anchor=True)
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


def _targets(sample: Sample, scene: _Scene) -> list[dict]:
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


def rec_rationale(sample: Sample, frame: Frame) -> str:
    """category -> attributes -> relation / position / order / size -> candidates -> choice."""
    scene = _Scene(sample, frame)
    targets = _targets(sample, scene)
    steps: list[str] = []
    found = _explain(_expression(sample), scene, steps)
    if [o["id"] for o in found] != [o["id"] for o in targets] or len(targets) != 1:
        raise RationaleError(f"the expression resolves to {[o['id'] for o in found]}, "
                             f"the sample's target is {sample.meta.get('target_ids')}")
    t = targets[0]
    steps.append(f"The target is the {t['attributes']['colour']} {t['category']} at {scene.box(t)}.")
    return " ".join(steps)


def gres_rationale(sample: Sample, frame: Frame) -> str:
    """As REC, ending in all matching objects (several, one or none)."""
    scene = _Scene(sample, frame)
    targets = _targets(sample, scene)
    steps: list[str] = []
    found = _explain(_expression(sample), scene, steps)
    if sorted(o["id"] for o in found) != sorted(o["id"] for o in targets):
        raise RationaleError(f"the expression resolves to {[o['id'] for o in found]}, "
                             f"the sample's targets are {sample.meta.get('target_ids')}")
    if not found:
        steps.append("Nothing in the image matches, so the answer is None.")
    elif len(found) == 1:
        steps.append(f"One target: the {found[0]['attributes']['colour']} {found[0]['category']} at "
                     f"{scene.box(found[0])}.")
    else:  # in the order the answer lists them
        steps.append(f"{len(targets)} targets: " + ", ".join(scene.box(o) for o in targets) + ".")
    return " ".join(steps)


def ovd_rationale(sample: Sample, frame: Frame) -> str:
    """The category, its look-alikes present in the scene, every instance, the count."""
    from geor1.synth.scene import PLURAL

    scene = _Scene(sample, frame)
    targets = _targets(sample, scene)
    cat = sample.category or _expression(sample)["target"]["category"]
    everything = [o for o in scene.graph["objects"] if o["category"] == cat]
    if sorted(o["id"] for o in everything) != sorted(o["id"] for o in targets):
        raise RationaleError(f"meta['target_ids'] are not all the {PLURAL[cat]} of the scene")
    others = {c: n for c, n in scene.graph.get("counts", {}).items() if c != cat and n}
    steps = [f"I look for every {cat}."]
    if others:
        steps.append("The scene also has " + ", ".join(_count_phrase(n, c) for c, n in others.items())
                     + f", which are not {PLURAL[cat]}.")
    if not targets:
        steps.append(f"There is no {cat}, so the answer is None.")
    else:  # in the order the answer lists them
        steps.append(f"I find {_count_phrase(len(targets), cat)}: " + ", ".join(scene.box(o) for o in targets) + ".")
    return " ".join(steps)


def _expression(sample: Sample) -> dict:
    expr = sample.meta.get("expression")
    if not isinstance(expr, dict) or "target" not in expr:
        raise RationaleError(f"sample {sample.id!r} has no GeoSynth expression (meta['expression'])")
    return expr


# ---------------------------------------------------------------------------------------------
# crossview: what each view shows


def _road_diff(a: dict, b: dict) -> float:
    """Degrees between two street grids (grids repeat every 90 degrees)."""
    d = (a["camera_street_bearing_deg"] - b["camera_street_bearing_deg"]) % 90.0
    return min(d, 90.0 - d)


def _street_diff(a: dict, b: dict) -> float:
    """Degrees between the streets the two cameras stand on (a street's direction repeats every 180)."""
    d = (a["camera_street_bearing_deg"] - b["camera_street_bearing_deg"]) % 180.0
    return min(d, 180.0 - d)


def _storeys(height_m: float) -> str:
    n = max(1, round(height_m / 3.2))
    return f"{n} storey{'s' if n > 1 else ''}"


def _buildings(e: dict) -> str:
    if not e["n_buildings"]:
        return "no buildings"
    if e["n_buildings"] == 1:
        return f"1 building about {e['mean_height_m']:g} m tall ({_storeys(e['mean_height_m'])})"
    roofs = "mostly pitched roofs" if e["pitched_roof_share"] >= 0.6 else \
        "mostly flat roofs" if e["pitched_roof_share"] <= 0.4 else "mixed roofs"
    return (f"{e['n_buildings']} buildings about {e['mean_height_m']:g} m tall ({_storeys(e['mean_height_m'])}, "
            f"up to {e['max_height_m']:g} m), {roofs}")


def _trees(e: dict) -> str:
    return "no trees" if not e["n_trees"] else f"{e['n_trees']} trees"


def _water(e: dict) -> str:
    return "water" if e["water_share"] > 0.02 else "no water"


def _streets(e: dict) -> str:
    a, b = e["road_bearings_deg"]
    return f"streets at {a:g} and {b:g} degrees"


def _centre_street(e: dict) -> str:
    return f"the street through the centre runs at {e['camera_street_bearing_deg']:g} degrees"


def _ratio(diff: float, threshold: float) -> float:
    return diff / threshold


def _presence(a: bool, b: bool) -> float:
    return math.inf if a != b else 0.0


# Cues in the order a viewer rules candidates out (coarse to fine): (name, how different, what the
# candidate shows). "How different" is the difference over what is clearly visible: >= 1 is a clear
# difference, 0 none (categorical cues: 0 or infinity).
CROSSVIEW_CUES = (
    ("biome", lambda q, c: math.inf if q["biome"] != c["biome"] else 0.0,
     lambda c: f"{_words(c['biome'])} land"),
    ("architecture", lambda q, c: math.inf if q["architecture"] != c["architecture"] else 0.0,
     lambda c: f"{_words(c['architecture'])} architecture"),
    ("road layout", lambda q, c: _ratio(_road_diff(q, c), 4.0), _streets),
    ("street at the centre", lambda q, c: _ratio(_street_diff(q, c), 4.0), _centre_street),
    ("water", lambda q, c: _presence(q["water_share"] > 0.02, c["water_share"] > 0.02)
     or _ratio(abs(q["water_share"] - c["water_share"]), 0.1), _water),
    ("building count", lambda q, c: _ratio(abs(q["n_buildings"] - c["n_buildings"]),
                                           max(3.0, 0.3 * max(q["n_buildings"], c["n_buildings"]))),
     lambda c: f"{c['n_buildings']} buildings"),
    ("building heights", lambda q, c: max(_ratio(abs(q["mean_height_m"] - c["mean_height_m"]), 3.0),
                                          _ratio(abs(q["max_height_m"] - c["max_height_m"]), 6.0)),
     lambda c: f"buildings about {c['mean_height_m']:g} m tall (up to {c['max_height_m']:g} m)"),
    ("density", lambda q, c: _ratio(abs(q["urban_density"] - c["urban_density"]), 0.25),
     lambda c: "densely built" if c["urban_density"] >= 0.5 else "loosely built"),
    ("roofs", lambda q, c: _ratio(abs(q["pitched_roof_share"] - c["pitched_roof_share"]), 0.35),
     lambda c: f"{round(100 * c['pitched_roof_share'])}% pitched roofs"),
    ("trees", lambda q, c: _ratio(abs(q["n_trees"] - c["n_trees"]), max(5.0, 0.3 * max(q["n_trees"], c["n_trees"]))),
     _trees),
    ("snow", lambda q, c: math.inf if q["snow"] != c["snow"] else 0.0, lambda c: "snow" if c["snow"] else "no snow"),
)
# Without one clear difference, a candidate is still ruled out by at least two half-clear ones
# adding up to one and a half clear ones ("close, but fewer and lower buildings").
HALF_CLEAR, ON_BALANCE = 0.5, 1.5


def crossview_rationale(sample: Sample, frame: Frame | None = None) -> str:
    """The query's road layout, buildings, trees, water and shadows; each candidate compared on
    those cues, wrong ones ruled out by the first cue that clearly differs; the match chosen."""
    try:
        evidence = sample.meta["evidence"]
        q, cands = evidence["query"], evidence["candidates"]
    except (KeyError, TypeError):
        raise RationaleError(f"sample {sample.id!r} has no GeoSynth evidence (meta['evidence'])") from None
    if len(cands) != len(sample.choices):
        raise RationaleError(f"{len(cands)} candidate evidence records for {len(sample.choices)} choices")
    query_view = sample.meta.get("query_view", "ground")
    what = "The panorama" if query_view == "ground" else "The aerial image"
    sun_az, sun_el = q["sun_azimuth_deg"], q["sun_elevation_deg"]
    shows = (f"{what} shows {_words(q['architecture'])} architecture in {_words(q['biome'])} land, "
             f"{_streets(q)}, {_centre_street(q)}, {_buildings(q)}, {_trees(q)}, {_water(q)}")
    sun = f"The sun is {sun_el:g} degrees high in the {compass(sun_az)}, so shadows point {compass(sun_az + 180)}."
    steps = [shows + (", snow." if q["snow"] else "."), sun]
    matches = []
    for letter, c in zip(sample.choices, cands):
        ratios = [(name, how(q, c), says) for name, how, says in CROSSVIEW_CUES]
        clear = [(name, says) for name, r, says in ratios if r >= 1.0]
        some = [(name, r, says) for name, r, says in ratios if HALF_CLEAR <= r < 1.0]
        if clear:
            name, says = clear[0]
            steps.append(f"{letter}: {says(c)}; the {name} differs, so not {letter}.")
        elif len(some) >= 2 and sum(r for _, r, _ in some) >= ON_BALANCE:
            shown = "; ".join(says(c) for _, _, says in some[:3])
            names = " and ".join(name for name, _, _ in some[:3])
            steps.append(f"{letter}: close, but {shown}; the {names} are a little off, so not {letter}.")
        else:
            matches.append(letter)
            steps.append(f"{letter}: {_streets(c)}, {_centre_street(c)}, {_buildings(c)}, {_trees(c)}, "
                         f"{_water(c)}: it matches.")
    if matches != [sample.answer]:
        raise RationaleError(f"the evidence matches candidates {matches}, the answer is {sample.answer}")
    steps.append(f"So the answer is {sample.answer}.")
    return " ".join(steps)


# ---------------------------------------------------------------------------------------------
# geoloc: biome, sun, architecture -> region

TROPIC_DEG = 23.44


def _sun_clue(e: dict, lat: float) -> str:
    """What the sun says. The hemisphere claim is made only when it is true of this place: beyond
    the tropics the sun stands towards the equator around midday (local solar time 10-14 h)."""
    az, el = e["sun_azimuth_deg"], e["sun_elevation_deg"]
    hours = e.get("local_solar_time")
    when = f" at about {hours} local solar time" if hours else ""
    s = f"The sun is {el:g} degrees high in the {compass(az)}{when}, shadows point {compass(az + 180)}"
    midday = hours is not None and 10 <= int(hours.split(":")[0]) < 14
    sun_south = 90 < az % 360 < 270
    if midday and lat > TROPIC_DEG and sun_south:
        return s + ": the midday sun in the south means north of the tropics."
    if midday and lat < -TROPIC_DEG and not sun_south:
        return s + ": the midday sun in the north means south of the tropics."
    if midday and abs(lat) <= TROPIC_DEG and el >= 60:
        return s + ": so high a midday sun means the tropics."
    return s + "."


def geoloc_rationale(sample: Sample, frame: Frame | None = None) -> str:
    """Ground cover and season -> climate; the sun -> hemisphere; architecture -> continent;
    street grid and density -> the city; then the position."""
    meta = sample.meta
    missing = [k for k in ("evidence", "continent", "climate_band", "city", "country", "city_km") if k not in meta]
    if missing:
        raise RationaleError(f"sample {sample.id!r} lacks GeoSynth geoloc meta {missing}")
    e, continent, band, city, country = (meta[k] for k in ("evidence", "continent", "climate_band", "city", "country"))
    lat, lon = sample.gps[0]
    foliage = {"leaf": "trees in leaf", "autumn": "autumn leaves", "bare": "bare trees"}.get(e["foliage"], e["foliage"])
    ground = f"Ground: {_words(e['biome'])}, {foliage}{', snow' if e['snow'] else ''}: a {band} climate."
    buildings = f"Buildings: {_words(e['architecture'])} architecture, {_buildings(e)}: this looks like {continent}."
    town = "a dense town" if e["urban_density"] >= 0.5 else "the edge of a town"
    a, b = e["road_bearings_deg"]
    streets = f"Streets run on a grid at {a:g} and {b:g} degrees; {town}, so near a city: {city}, {country}."
    where = (f"This spot is about {meta['city_km']:g} km from the centre of {city}, at about "
             f"{abs(lat):.2f} {'N' if lat >= 0 else 'S'}, {abs(lon):.2f} {'E' if lon >= 0 else 'W'}.")
    return " ".join([ground, _sun_clue(e, lat), buildings, streets, where])


# ---------------------------------------------------------------------------------------------

WRITERS = {"rec": rec_rationale, "ovd": ovd_rationale, "gres": gres_rationale, "crossview": crossview_rationale,
           "geoloc": geoloc_rationale}


def rationale(sample: Sample, frame: Frame) -> str:
    """The step-by-step reasoning for ``sample`` (the text inside ``<think>``), positions in ``frame``."""
    return WRITERS[sample.task](sample, frame)


def write_rationale(sample: Sample, frame: Frame) -> str:
    """``<think>rationale</think>\\n<answer>target answer</answer>`` for ``sample`` in ``frame``."""
    answer = get_task(sample.task).target_answer(sample, frame)
    return f"<think>{rationale(sample, frame)}</think>\n<answer>{answer}</answer>"

"""Referring expressions: an independent brute-force resolver agrees with geor1's on hand-made and generated
scenes; generated expressions are unique where they must be, robust to the eye, and read as English."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geor1.synth import make_sample
from geor1.synth.expressions import (
    ambiguity,
    describe,
    multi_target_expression,
    no_target_expression,
    resolve,
    single_target_expression,
)

# ------------------------------------------------------------------ an independent resolver (brute force)
THIRDS = {
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


def axis_of(deg):
    a = deg % 180
    if a < 22.5 or a >= 157.5:
        return "north-south"
    if a < 67.5:
        return "northeast-southwest"
    if a < 112.5:
        return "east-west"
    return "northwest-southeast"


def brute(expr, g):
    W, H = g["width"], g["height"]
    t = expr["target"]

    def fits(o):
        deg = o["attributes"]["orientation_deg"]
        return (
            o["category"] == t["category"]
            and t.get("colour") in (None, o["attributes"]["colour"])
            and (t.get("axis") is None or (deg is not None and axis_of(deg) == t["axis"]))
        )

    C = [o for o in g["objects"] if fits(o)]
    kind = expr["type"]
    if kind in ("category", "attribute"):
        out = C
    elif kind == "position":
        r = expr["region"]
        if r in THIRDS:
            row, col = THIRDS[r]
            out = [
                o
                for o in C
                if min(2, int(o["centre"][0] * 3 / W)) == col and min(2, int(o["centre"][1] * 3 / H)) == row
            ]
        else:
            test = {
                "left half": lambda x, y: x < W / 2,
                "right half": lambda x, y: x >= W / 2,
                "top half": lambda x, y: y < H / 2,
                "bottom half": lambda x, y: y >= H / 2,
            }[r]
            out = [o for o in C if test(*o["centre"])]
    elif kind == "relation":
        A = brute(expr["anchor"], g)
        if len(A) != 1:
            out = []
        else:
            a = next(o for o in g["objects"] if o["id"] == A[0])
            rest = [o for o in C if o["id"] != a["id"]]
            ax, ay = a["centre"]
            rel = expr["relation"]
            if rel in ("nearest_to", "farthest_from"):
                d = {o["id"]: math.dist(o["centre"], a["centre"]) for o in rest}
                if not d:
                    out = []
                elif rel == "nearest_to":
                    best = min(d.values())
                    out = [o for o in rest if o["id"] == min(i for i in d if d[i] == best)]
                else:
                    best = max(d.values())
                    out = [o for o in rest if o["id"] == max(i for i in d if d[i] == best)]
            else:
                test = {
                    "left_of": lambda x, y: x < ax,
                    "right_of": lambda x, y: x > ax,
                    "above": lambda x, y: y < ay,
                    "below": lambda x, y: y > ay,
                }[rel]
                out = [o for o in rest if test(*o["centre"])]
    elif kind == "ordinal":
        key = {
            "left": lambda o: o["centre"][0],
            "right": lambda o: -o["centre"][0],
            "top": lambda o: o["centre"][1],
            "bottom": lambda o: -o["centre"][1],
        }[expr["from"]]

        def position(o):  # 1 + how many come before o (ties broken by id)
            return 1 + sum(key(p) < key(o) or (key(p) == key(o) and p["id"] < o["id"]) for p in C)

        out = [o for o in C if position(o) == expr["rank"]]
    elif kind == "superlative":
        if not C:
            out = []
        else:
            areas = [o["area"] for o in C]
            best = max(areas) if expr["measure"] == "largest" else min(areas)
            out = [min((o for o in C if o["area"] == best), key=lambda o: o["id"])]
    else:
        raise AssertionError(kind)
    ids = sorted(o["id"] for o in out)
    if expr.get("count") is not None and len(ids) != expr["count"]:
        return []
    return ids


# ------------------------------------------------------------------ a hand-made scene, hand-checked answers
def node(i, cat, colour, cx, cy, area, deg):
    return {
        "id": i,
        "category": cat,
        "centre": [cx, cy],
        "area": area,
        "bbox": [cx - 5, cy - 5, cx + 5, cy + 5],
        "attributes": {
            "colour": colour,
            "orientation_deg": deg,
            "axis": None if deg is None else axis_of(deg),
        },
    }


G = {
    "width": 448,
    "height": 448,
    "objects": [
        node(0, "ship", "red", 100, 100, 400, 90),
        node(1, "ship", "white", 300, 120, 900, 0),
        node(2, "ship", "red", 200, 350, 300, 95),
        node(3, "bridge", "grey", 220, 200, 2000, 0),
    ],
}


def T(cat, colour=None, axis=None):
    return {"category": cat, "colour": colour, "axis": axis}


BRIDGE = {"type": "category", "target": T("bridge")}
HAND = [
    ({"type": "category", "target": T("ship")}, [0, 1, 2]),
    ({"type": "attribute", "target": T("ship", "red")}, [0, 2]),
    ({"type": "attribute", "target": T("ship", axis="east-west")}, [0, 2]),
    ({"type": "attribute", "target": T("ship", "white", "north-south")}, [1]),
    ({"type": "position", "target": T("ship"), "region": "upper left"}, [0]),
    ({"type": "position", "target": T("ship"), "region": "upper right"}, [1]),  # 300 >= 448 * 2 / 3
    ({"type": "position", "target": T("ship"), "region": "bottom"}, [2]),
    ({"type": "position", "target": T("ship"), "region": "top half"}, [0, 1]),
    ({"type": "relation", "target": T("ship"), "relation": "left_of", "anchor": BRIDGE}, [0, 2]),
    ({"type": "relation", "target": T("ship"), "relation": "right_of", "anchor": BRIDGE}, [1]),
    ({"type": "relation", "target": T("ship"), "relation": "above", "anchor": BRIDGE}, [0, 1]),
    ({"type": "relation", "target": T("ship"), "relation": "below", "anchor": BRIDGE}, [2]),
    # distances to the bridge: ship 0 156.2, ship 1 113.1, ship 2 151.3
    ({"type": "relation", "target": T("ship"), "relation": "nearest_to", "anchor": BRIDGE}, [1]),
    ({"type": "relation", "target": T("ship"), "relation": "farthest_from", "anchor": BRIDGE}, [0]),
    (
        {
            "type": "relation",
            "target": T("bridge"),
            "relation": "left_of",
            "anchor": {"type": "category", "target": T("ship")},
        },
        [],
    ),  # anchor not unique
    (
        {
            "type": "relation",
            "target": T("bridge"),
            "relation": "below",
            "anchor": {"type": "superlative", "target": T("ship"), "measure": "largest"},
        },
        [3],
    ),
    ({"type": "ordinal", "target": T("ship"), "from": "left", "rank": 2}, [2]),
    ({"type": "ordinal", "target": T("ship"), "from": "right", "rank": 1}, [1]),
    ({"type": "ordinal", "target": T("ship"), "from": "top", "rank": 1}, [0]),
    ({"type": "ordinal", "target": T("ship"), "from": "bottom", "rank": 4}, []),
    ({"type": "superlative", "target": T("ship"), "measure": "largest"}, [1]),
    ({"type": "superlative", "target": T("ship", "red"), "measure": "smallest"}, [2]),
    ({"type": "category", "target": T("ship"), "count": 3}, [0, 1, 2]),
    ({"type": "category", "target": T("ship"), "count": 2}, []),
    ({"type": "category", "target": T("harbor")}, []),
]


@pytest.mark.parametrize("expr,want", HAND)
def test_hand_checked_answers(expr, want):
    assert resolve(expr, G) == want
    assert brute(expr, G) == want


def test_hand_checked_ambiguity():
    assert ambiguity({"type": "position", "target": T("ship"), "region": "upper left"}, G) is None
    # ship 1 sits 1.3 px right of the 2/3 line: "upper right" is true but not visually safe
    assert "region line" in ambiguity({"type": "position", "target": T("ship"), "region": "upper right"}, G)
    assert (
        ambiguity({"type": "relation", "target": T("ship"), "relation": "left_of", "anchor": BRIDGE}, G)
        is None
    )
    near = {
        "width": 448,
        "height": 448,
        "objects": G["objects"][:3] + [node(3, "bridge", "grey", 205, 200, 2000, 0)],
    }
    assert "level with the anchor" in ambiguity(
        {"type": "relation", "target": T("ship"), "relation": "left_of", "anchor": BRIDGE}, near
    )
    # nearest: 113.1 vs 151.3 is a clear win (ratio 1.34 > 1.25)
    assert (
        ambiguity({"type": "relation", "target": T("ship"), "relation": "nearest_to", "anchor": BRIDGE}, G)
        is None
    )
    # farthest: 156.2 vs 151.3 is not
    assert "equally far" in ambiguity(
        {"type": "relation", "target": T("ship"), "relation": "farthest_from", "anchor": BRIDGE}, G
    )
    # largest ship 900 vs 400: clear; smallest 300 vs 400: ratio 1.33, clear
    assert ambiguity({"type": "superlative", "target": T("ship"), "measure": "smallest"}, G) is None
    tilted = {"width": 448, "height": 448, "objects": [node(0, "ship", "red", 100, 100, 400, 20)]}
    assert "axis-class boundary" in ambiguity(
        {"type": "attribute", "target": T("ship", axis="north-south")}, tilted
    )


def test_hand_checked_text():
    assert describe({"type": "attribute", "target": T("storage tank", "white")}) == "the white storage tank"
    assert (
        describe({"type": "ordinal", "target": T("ship"), "from": "left", "rank": 2})
        == "the second ship from the left"
    )
    assert describe({"type": "ordinal", "target": T("ship"), "from": "top", "rank": 1}) == "the topmost ship"
    assert (
        describe(
            {
                "type": "relation",
                "target": T("vehicle"),
                "relation": "left_of",
                "anchor": {"type": "superlative", "target": T("storage tank"), "measure": "largest"},
            }
        )
        == "the vehicle to the left of the largest storage tank"
    )
    assert (
        describe({"type": "position", "target": T("ship", axis="east-west"), "region": "lower left"})
        == "the ship oriented east-west in the lower left"
    )
    assert describe({"type": "category", "target": T("ship"), "count": 3}, plural=True) == "the 3 ships"
    assert (
        describe({"type": "position", "target": T("tennis court"), "region": "left half"}, plural=True)
        == "all tennis courts in the left half"
    )


# ------------------------------------------------------------------ random scenes: both resolvers agree
CATS = ("ship", "vehicle", "bridge")
COLOURS = ("red", "white", "grey")


@st.composite
def graphs(draw):
    n = draw(st.integers(0, 7))
    objs = []
    for i in range(n):
        objs.append(
            node(
                i,
                draw(st.sampled_from(CATS)),
                draw(st.sampled_from(COLOURS)),
                draw(st.integers(0, 447)) + 0.5 * draw(st.integers(0, 1)),
                draw(st.integers(0, 447)),
                draw(st.integers(20, 60)) * 10,
                draw(st.one_of(st.none(), st.floats(0, 359))),
            )
        )
    return {"width": 448, "height": 448, "objects": objs}


def targets():
    return st.builds(
        T,
        st.sampled_from(CATS),
        st.one_of(st.none(), st.sampled_from(COLOURS)),
        st.one_of(st.none(), st.sampled_from(["north-south", "east-west", "northeast-southwest"])),
    )


def expressions(depth=1):
    simple = st.one_of(
        st.builds(lambda t: {"type": "category", "target": t}, targets()),
        st.builds(
            lambda t, r: {"type": "position", "target": t, "region": r},
            targets(),
            st.sampled_from([*THIRDS, "left half", "right half", "top half", "bottom half"]),
        ),
        st.builds(
            lambda t, d, k: {"type": "ordinal", "target": t, "from": d, "rank": k},
            targets(),
            st.sampled_from(["left", "right", "top", "bottom"]),
            st.integers(1, 4),
        ),
        st.builds(
            lambda t, m: {"type": "superlative", "target": t, "measure": m},
            targets(),
            st.sampled_from(["largest", "smallest"]),
        ),
    )
    if depth == 0:
        return simple
    relation = st.builds(
        lambda t, r, a: {"type": "relation", "target": t, "relation": r, "anchor": a},
        targets(),
        st.sampled_from(["left_of", "right_of", "above", "below", "nearest_to", "farthest_from"]),
        expressions(depth - 1),
    )
    plain = st.one_of(simple, relation)
    return st.builds(lambda e, c: {**e, "count": c}, plain, st.one_of(st.none(), st.integers(0, 3)))


@settings(max_examples=400, deadline=None)
@given(graphs(), expressions())
def test_resolvers_agree_on_random_scenes(g, expr):
    assert resolve(expr, g) == brute(expr, g)
    describe(expr)  # every structure has a text


# ------------------------------------------------------------------ generated samples
@pytest.fixture(scope="module")
def generated():
    out = []
    for i in range(40):
        for task in ("rec", "gres"):
            sample, _ = make_sample(task, 1000 + i, size=224, style="AB"[i % 2], index=i)
            out.append(sample)
    return out


def test_generated_expressions_resolve_to_their_targets(generated):
    kinds = set()
    for s in generated:
        g, expr = s.meta["scene"], s.meta["expression"]
        assert brute(expr, g) == sorted(s.meta["target_ids"]), (s.id, s.query)
        assert ambiguity(expr, g) is None
        boxes = {o["id"]: o["bbox"] for o in g["objects"]}
        assert s.boxes == [boxes[i] for i in s.meta["target_ids"]]
        kinds.add(expr["type"])
    assert {"attribute", "position", "relation", "ordinal"} <= kinds
    # every kind is produced for some object of these scenes, and always resolves to that object
    rng = np.random.default_rng(0)
    made = set()
    for s in generated:
        g = s.meta["scene"]
        for o in g["objects"]:
            e = single_target_expression(g, o["id"], rng)
            if e is not None:
                assert brute(e, g) == [o["id"]]
                made.add(e["type"])
    assert made == {"category", "attribute", "position", "relation", "ordinal", "superlative"}


def test_rec_is_one_target_and_is_unique_agrees(generated):
    unique = 0
    for s in (s for s in generated if s.task == "rec"):
        assert len(s.meta["target_ids"]) == 1 and len(s.boxes) == 1
        same = [o for o in s.meta["scene"]["objects"] if o["category"] == s.category]
        assert s.is_unique == (len(same) == 1)
        unique += s.is_unique
    assert 0 < unique < 40  # both kinds occur


def test_gres_has_single_multi_and_no_target(generated):
    sizes = [len(s.meta["target_ids"]) for s in generated if s.task == "gres"]
    assert 0 in sizes and 1 in sizes and max(sizes) >= 2
    for s in (s for s in generated if s.task == "gres"):
        same = [o for o in s.meta["scene"]["objects"] if o["category"] == s.category]
        assert s.is_unique == (len(same) == 1)


def test_generators_respect_their_contracts():
    rng = np.random.default_rng(0)
    assert single_target_expression(G, 1, rng) is not None
    for _ in range(20):
        e = single_target_expression(G, 2, rng)
        assert resolve(e, G) == [2] and ambiguity(e, G) is None
        m = multi_target_expression(G, "ship", rng)
        assert len(resolve(m, G)) >= 2 and ambiguity(m, G) is None
        z = no_target_expression(G, "ship", rng)
        assert resolve(z, G) == [] and ambiguity(z, G) is None
    assert no_target_expression(G, "harbor", rng) == {"type": "category", "target": T("harbor")}
    assert multi_target_expression(G, "bridge", rng) is None  # only one bridge

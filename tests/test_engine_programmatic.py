"""The programmatic teacher: GeoSynth rationales that name the right target and reach the right
answer, checked by hand on built scenes and in bulk on generated GeoSynth samples of every task,
and the whole `geor1 synth` -> `geor1 engine --teacher programmatic` path."""

from __future__ import annotations

import json
import re

import pytest

from geor1.cli import main as geor1_main
from geor1.coords import get_frame
from geor1.data.schema import Sample, load_dataset, write_dataset
from geor1.engine.rationales import RationaleError, rationale, write_rationale
from geor1.engine.run import FAILURES_FILE, MESSAGES_FILE, SHAREGPT_FILE, Verifier
from geor1.engine.teachers import ProgrammaticTeacher
from geor1.synth import make_sample
from geor1.synth.builders import sample_rng
from geor1.synth.crossview import make_crossview_sample, make_geoloc_sample
from geor1.synth.crossview import sample_rng as planet_rng
from geor1.tasks import get_task
from geor1.tasks.common import answer_text, think_text
from geor1.tasks.geoloc import _sun_clue
from geor1.tasks.parsing import box_in_frame

PIXELS = get_frame("pixels")
TINY = get_frame("qwen2.5-vl", min_pixels=224 * 224, max_pixels=224 * 224)   # the tiny model's frame


def node(i, category, colour, bbox, area=None):
    x1, y1, x2, y2 = bbox
    return {"id": i, "category": category, "attributes": {"colour": colour, "axis": None}, "bbox": bbox,
            "centre": [(x1 + x2) / 2, (y1 + y2) / 2], "area": area or (x2 - x1) * (y2 - y1)}


SCENE = {"width": 100, "height": 100, "counts": {"ship": 3, "storage tank": 1},
         "objects": [node(0, "ship", "red", [10, 10, 20, 20]), node(1, "ship", "white", [60, 10, 70, 20]),
                     node(2, "ship", "red", [60, 60, 80, 70]), node(3, "storage tank", "white", [40, 40, 50, 50])]}
RED_SHIP_RIGHT_OF_TANK = {"type": "relation", "target": {"category": "ship", "colour": "red", "axis": None},
                          "relation": "right_of", "count": None,
                          "anchor": {"type": "category", "target": {"category": "storage tank", "colour": None,
                                                                    "axis": None}}}


def rec_sample(**meta):
    return Sample(id="r", task="rec", images=["a.png"], width=100, height=100, query="the red ship right of the tank",
                  category="ship", boxes=[[60, 60, 80, 70]], labels=["ship"], is_unique=False,
                  meta={"scene": SCENE, "expression": RED_SHIP_RIGHT_OF_TANK, "target_ids": [2], **meta})


def test_rec_rationale_by_hand():
    assert rationale(rec_sample(), PIXELS) == (
        "The expression asks for a ship. The image has 3 ships: red at (15, 15), white at (65, 15), "
        "red at (70, 65). It must be red: 2 of them: red at (15, 15), red at (70, 65). "
        "For the anchor I look for a storage tank. The image has 1 storage tank: white at (45, 45). "
        "The anchor is at [40, 40, 50, 50]. Of the 2 candidate ships, 1 is right of it: red at (70, 65). "
        "The target is the red ship at [60, 60, 80, 70].")
    # In the 0-1000 frame every position is scaled by 10, and the answer agrees with the rationale.
    text = write_rationale(rec_sample(), get_frame("norm1000"))
    assert "red at (700, 650)" in text and "the red ship at [600, 600, 800, 700]" in text
    assert json.loads(answer_text(text)) == {"bbox_2d": [600, 600, 800, 700], "label": "ship"}
    assert Verifier()(rec_sample(), text, get_frame("norm1000")).accepted


def test_gres_rationale_by_hand_including_no_target():
    expr = {"type": "attribute", "target": {"category": "ship", "colour": "red", "axis": None}, "count": 2}
    both = Sample(id="g", task="gres", images=["a.png"], width=100, height=100, query="the 2 red ships",
                  category="ship", boxes=[[10, 10, 20, 20], [60, 60, 80, 70]], labels=["ship", "ship"],
                  meta={"scene": SCENE, "expression": expr, "target_ids": [0, 2]})
    assert rationale(both, PIXELS) == (
        "The expression asks for a ship. The image has 3 ships: red at (15, 15), white at (65, 15), "
        "red at (70, 65). It must be red: 2 of them: red at (15, 15), red at (70, 65). "
        "The expression says 2; 2 found. 2 targets: [10, 10, 20, 20], [60, 60, 80, 70].")
    three = {**expr, "count": 3}
    none = Sample(id="n", task="gres", images=["a.png"], width=100, height=100, query="the 3 red ships",
                  category="ship", meta={"scene": SCENE, "expression": three, "target_ids": []})
    text = write_rationale(none, PIXELS)
    assert think_text(text).endswith("The expression says 3; 2 found, so it refers to nothing. "
                                     "Nothing in the image matches, so the answer is None.")
    assert answer_text(text) == "None"


def test_rationale_refuses_meta_that_disagrees_or_is_missing():
    with pytest.raises(RationaleError, match="the expression resolves to \\[2\\], the sample's target is \\[0\\]"):
        rationale(Sample(**{**rec_sample().to_dict(), "boxes": [[10, 10, 20, 20]],
                            "meta": {"scene": SCENE, "expression": RED_SHIP_RIGHT_OF_TANK, "target_ids": [0]}}),
                  PIXELS)
    with pytest.raises(RationaleError, match="do not match the sample's boxes"):
        rationale(Sample(**{**rec_sample().to_dict(), "boxes": [[0, 0, 5, 5]]}), PIXELS)
    with pytest.raises(RationaleError, match="no GeoSynth scene graph"):
        rationale(Sample(id="x", task="rec", images=["a.png"], width=10, height=10, boxes=[[0, 0, 5, 5]]), PIXELS)
    with pytest.raises(RationaleError, match="no GeoSynth evidence"):
        rationale(Sample(id="c", task="crossview", images=["q", "a"], width=8, height=8, choices=["A"],
                         answer="A"), None)


def evidence(**kw):
    base = {"road_bearings_deg": [30.0, 120.0], "camera_street_bearing_deg": 30.0, "n_buildings": 10,
            "mean_height_m": 9.6, "max_height_m": 16.0, "pitched_roof_share": 0.5, "n_trees": 4, "water_share": 0.0,
            "urban_density": 0.8, "biome": "grassland", "architecture": "european", "snow": False, "foliage": "leaf",
            "sun_elevation_deg": 40.0, "sun_azimuth_deg": 200.0}
    return {**base, **kw}


def crossview_sample(cands, answer):
    letters = "ABCD"[:len(cands)]
    return Sample(id="c", task="crossview", images=["q.png", *[f"{x}.png" for x in letters]], width=8, height=8,
                  choices=list(letters), answer=answer,
                  meta={"query_view": "ground", "evidence": {"query": evidence(), "candidates": cands}})


def test_crossview_rationale_rules_out_each_distractor_by_its_clear_difference():
    truth = evidence(sun_azimuth_deg=150.0, sun_elevation_deg=55.0)    # another time, same place
    s = crossview_sample([evidence(biome="desert"), truth, evidence(n_buildings=30),
                          evidence(camera_street_bearing_deg=120.0)], "B")
    text = rationale(s, None)
    assert text.startswith("The panorama shows european architecture in grassland land, streets at 30 and 120 "
                           "degrees, the street through the centre runs at 30 degrees, 10 buildings about 9.6 m "
                           "tall (3 storeys, up to 16 m), mixed roofs, 4 trees, no water. The sun is 40 degrees "
                           "high in the south, so shadows point north.")
    assert "A: desert land; the biome differs, so not A." in text
    assert "B: streets at 30 and 120 degrees" in text and "it matches." in text
    assert "C: 30 buildings; the building count differs, so not C." in text
    # Same grid, but the camera stands on the cross street: the street through the tile centre differs.
    assert "D: the street through the centre runs at 120 degrees; the street at the centre differs, so not D." in text
    assert text.endswith("So the answer is B.")
    assert Verifier()(s, write_rationale(s, None), None).accepted
    # Two cues a little off each ("close, but ...") still rule a candidate out...
    close = crossview_sample([evidence(), evidence(n_buildings=14, mean_height_m=11.6)], "A")
    assert "B: close, but 14 buildings; buildings about 11.6 m tall (up to 16 m); the building count and " \
           "building heights are a little off, so not B." in rationale(close, None)
    # ...but a distractor that no cue tells apart gets no rationale rather than a made-up one.
    with pytest.raises(RationaleError, match=r"the evidence matches candidates \['A', 'B'\], the answer is A"):
        rationale(crossview_sample([evidence(), evidence(n_trees=6)], "A"), None)


def test_geoloc_sun_claims_only_what_is_true():
    paris = {"sun_azimuth_deg": 170.0, "sun_elevation_deg": 52.0, "local_solar_time": "11:40"}
    assert _sun_clue(paris, 48.9).endswith("the midday sun in the south means north of the tropics.")
    morning = {"sun_azimuth_deg": 70.0, "sun_elevation_deg": 20.0, "local_solar_time": "07:10"}
    assert _sun_clue(morning, 48.9) == ("The sun is 20 degrees high in the east at about 07:10 local solar time, "
                                        "shadows point west.")
    santiago = {"sun_azimuth_deg": 10.0, "sun_elevation_deg": 60.0, "local_solar_time": "12:05"}
    assert _sun_clue(santiago, -33.4).endswith("the midday sun in the north means south of the tropics.")
    # The same north-standing sun at 10 degrees north is not evidence of the south.
    assert _sun_clue(santiago, 10.0).endswith("so high a midday sun means the tropics.")


# ---------------------------------------------------------------------------------------------
# In bulk, on generated GeoSynth samples


def boxes_named(text: str) -> list[list[int]]:
    return [json.loads(b) for b in re.findall(r"\[\d+, \d+, \d+, \d+\]", text)]


@pytest.mark.parametrize("task", ["rec", "ovd", "gres"])
def test_aerial_rationales_name_the_targets_and_reach_the_answer(task):
    verify = Verifier()
    module = get_task(task)
    for i in range(20):
        s, _ = make_sample(task, sample_rng(11, task, i), index=i, size=224)
        text = write_rationale(s, TINY)
        assert answer_text(text) == module.target_answer(s, TINY)
        thought = think_text(text)
        gold = [box_in_frame(b, TINY, s.width, s.height) for b in s.boxes]
        if task == "rec":
            t = s.meta["scene"]["objects"][s.meta["target_ids"][0]]
            assert thought.endswith(f"The target is the {t['attributes']['colour']} {s.category} at "
                                    f"[{', '.join(map(str, gold[0]))}].")
        elif not gold:
            assert thought.endswith("the answer is None.")
        else:   # every target's box is named, in the answer's order, as the last boxes of the rationale
            assert boxes_named(thought)[-len(gold):] == gold
        assert thought.startswith(f"The expression asks for a{'n' if s.category[0] in 'aeiou' else ''} {s.category}."
                                  if task != "ovd" else f"I look for every {s.category}.")
        verdict = verify(s, text, TINY)
        if task == "gres":
            # Mask IoU of the gold answer is capped by the box-filling stand-in segmenter; the
            # rationale's answer scores exactly what the gold answer scores.
            gold_text = f"<think>x</think><answer>{module.target_answer(s, TINY)}</answer>"
            assert verdict.reward == pytest.approx(module.score(s, gold_text, TINY)["rewards"]["gres_iou"])
        else:
            assert verdict.accepted and verdict.reward >= 0.99, (s.id, verdict)


def test_planet_rationales_reach_the_answer():
    verify = Verifier()
    refused = 0
    for i in range(8):
        s, _ = make_crossview_sample(planet_rng(5, "crossview", i), size=32, sample_id=f"cv-{i}")
        try:
            text = write_rationale(s, None)
        except RationaleError as e:   # a hard distractor that the evidence cannot tell apart
            assert "the evidence matches candidates" in str(e)
            refused += 1
            continue
        assert think_text(text).endswith(f"So the answer is {s.answer}.") and answer_text(text) == s.answer
        assert f"{s.answer}: streets at" in text and text.count("it matches.") == 1
        assert verify(s, text, None).accepted
    assert refused <= 1
    for i in range(8):
        s, _ = make_geoloc_sample(planet_rng(5, "geoloc", i), size=32, sample_id=f"geo-{i}")
        text = write_rationale(s, None)
        m = s.meta
        assert f"near a city: {m['city']}, {m['country']}." in text and f"this looks like {m['continent']}" in text
        assert f"a {m['climate_band']} climate" in text
        verdict = verify(s, text, None)
        assert verdict.accepted and verdict.reward > 0.999


def test_synth_then_engine_end_to_end(tmp_path, capsys):
    data, out = tmp_path / "synth_rec", tmp_path / "sft_rec"
    assert geor1_main(["synth", "rec", "--n", "6", "--seed", "3", "--size", "224", "--out", str(data)]) == 0
    # One sample that is not GeoSynth's: the teacher cannot write for it, and says why.
    samples = load_dataset(data).samples
    samples[2].meta = {}
    write_dataset(data, samples)
    assert geor1_main(["engine", "--teacher", "programmatic", "--data", str(data), "--out", str(out),
                       "--frame", "tiny", "--tries", "1", "--no-progress"]) == 0
    # The printed summary: samples, accepted, rejected, failed, duplicates for rec.
    assert re.search(r"^rec\s+6\s+5\s+0\s+1\s+0\s+83\.3%", capsys.readouterr().out, re.MULTILINE)
    trl = [json.loads(line) for line in (out / MESSAGES_FILE).read_text().splitlines()]
    share = [json.loads(line) for line in (out / SHAREGPT_FILE).read_text().splitlines()]
    failure = json.loads((out / FAILURES_FILE).read_text())
    assert failure["id"] == "rec-000002" and failure["status"] == "failed"
    assert failure["reason"] == "no rationale: sample 'rec-000002' has no GeoSynth scene graph (meta['scene'])"
    by_id = {s.id: s for s in samples}
    for rec, sg in zip(trl, share):
        s = by_id[rec["sample_id"]]
        text = rec["messages"][1]["content"][0]["text"]
        assert text == write_rationale(s, TINY) == sg["conversations"][1]["value"]
        assert (out / rec["images"][0]).resolve() == (data / s.images[0]).resolve()
        assert rec["reward"] == 1.0 and rec["teacher"] == "programmatic"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"]["rec"]["acceptance_rate"] == round(5 / 6, 4)
    assert summary["tasks"]["rec"]["mean_rationale_words"] > 10


def test_programmatic_teacher_answers_each_request():
    s, _ = make_sample("ovd", sample_rng(0, "ovd", 0), size=224)
    from geor1.engine.teachers import Request

    req = Request(key="k", sample=s, try_index=0, messages=[], images=(), frame=TINY, seed=1)
    bad = Request(key="b", sample=Sample(id="x", task="ovd", images=["a"], width=4, height=4), try_index=0,
                  messages=[], images=(), frame=TINY, seed=1)
    good_reply, bad_reply = ProgrammaticTeacher().generate([req, bad])
    assert good_reply.text == write_rationale(s, TINY)
    assert not bad_reply.ok and bad_reply.error.startswith("no rationale: sample 'x' has no GeoSynth scene graph")

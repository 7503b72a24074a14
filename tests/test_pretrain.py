"""Pretraining: recipes, the corpus and its rules, encoding, probes, and the loop (a few CPU steps
of each phase, resume after a kill)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from geor1.models import answer_frame, load
from geor1.pretrain import data as pdata
from geor1.pretrain import probes
from geor1.pretrain.config import config_from_dict, load_config
from geor1.pretrain.corpus import Item
from geor1.pretrain.loop import resume_folder, run_phase, save_state
from geor1.synth import HELD_OUT, SEEN, make_sample
from geor1.train.recipe import RecipeError


def _rec(seed, i, think=False, **kw):
    sample, images = make_sample("rec", np.random.default_rng([seed, i]), categories=SEEN, index=i)
    return sample, images, Item("rec", images, sample)


def test_encoded_batch_keeps_mrope_inputs_and_masks_the_prompt():
    model, processor = load("tiny")
    frame = answer_frame(model, processor)
    examples = []
    for i in range(2):
        sample, images, item = _rec(0, i)
        ex = pdata.encode_example(processor, frame, item, think=False)
        answer = processor.tokenizer.decode(ex["input_ids"][ex["labels"] != -100])
        assert answer.startswith('{"bbox_2d": [') and answer.endswith("<|im_end|>")
        # the box probe reads the token just before the first digit of x1
        assert processor.tokenizer.convert_ids_to_tokens(int(ex["input_ids"][ex["box_pos"]])).endswith("[")
        assert ex["box"].abs().max() <= 1
        examples.append(ex)
    batch = pdata.collate(examples, processor.tokenizer.pad_token_id)
    # Without mm_token_type_ids Qwen2.5-VL quietly uses 1-D positions: training would not match generation.
    assert "mm_token_type_ids" in batch
    assert int((batch["mm_token_type_ids"] == 1).sum()) == int((batch["input_ids"] == model.config.image_token_id).sum())
    for key in ("box_pos", "box", "cells", "dense_mask", "ground", "ground_span"):
        batch.pop(key)
    with torch.no_grad():
        pos_3d = model.model.get_rope_index(batch["input_ids"], image_grid_thw=batch["image_grid_thw"],
                                            attention_mask=batch["attention_mask"],
                                            mm_token_type_ids=batch["mm_token_type_ids"])[0]
    img = batch["input_ids"][0] == model.config.image_token_id
    assert len(set(pos_3d[1, 0][img].tolist())) == 8  # 8 rows of merged image tokens: real 2-D positions


def test_think_samples_probe_the_final_answer_not_the_rationale_boxes():
    from geor1.engine.rationales import rationale
    from geor1.tasks.rec import box_in_frame

    model, processor = load("tiny")
    frame = answer_frame(model, processor)
    for i in range(6):
        sample, images, item = _rec(2, i)
        ex = pdata.encode_example(processor, frame, item, think=True, rationale_fn=rationale)
        a, b = ex["ground_span"]
        before = processor.tokenizer.decode(ex["input_ids"][:a + 1])
        assert "<answer>" in before[-40:]  # the box right after <answer>, not an anchor's in the rationale
        written = processor.tokenizer.decode(ex["input_ids"][a + 1:b + 1]).strip()
        assert json.loads("[" + written[:written.index("]") + 1]) == box_in_frame(sample.boxes[0], frame, sample.width, sample.height)


def test_grid_targets_row_major():
    t = probes.grid_targets(torch.tensor([[1, 4, 6]]))  # 2 x 3 merged tokens
    assert t.tolist() == [[-1, -1], [-1, 0], [-1, 1], [1, -1], [1, 0], [1, 1]]


def test_cell_overlap_hand_checked():
    # a 224 x 224 image as 2 x 2 merged tokens (grid 1 x 4 x 4): cells of 112 px
    g = probes.cell_overlap([56, 56, 168, 112], 224, 224, [1, 4, 4])
    assert g.tolist() == [0.5, 0.5, 0.0, 0.0]  # the box lies in the top two cells, half in each
    g = probes.cell_overlap([100, 100, 124, 124], 224, 224, [1, 4, 4])
    assert torch.allclose(g, torch.full((4,), 0.25))  # centred: a quarter in each
    assert probes.cell_overlap([150, 150, 150, 150], 224, 224, [1, 4, 4]).tolist() == [0, 0, 0, 1]


def test_grounding_target_half_on_the_centre_cell():
    g = probes.grounding_target([56, 56, 168, 112], 224, 224, [1, 4, 4])
    assert g.tolist() == [0.25, 0.75, 0.0, 0.0]  # centre (112, 84) is in cell 1; the box is half in cells 0 and 1


def test_object_targets_hand_checked():
    from geor1.data.schema import Sample
    from geor1.synth.scene import CATEGORIES

    k = len(CATEGORIES)
    objects = [{"category": "ship", "bbox": [0, 0, 100, 50]}, {"category": "airplane", "bbox": [120, 120, 224, 224]},
               {"category": "ship", "bbox": [110, 0, 130, 10]}]
    sample = Sample(id="s", task="rec", images=["a.png"], width=224, height=224, query="the ship", category="ship",
                    boxes=[[0, 0, 100, 50]], meta={"scene": {"objects": objects}})
    t = probes.object_targets(sample, [1, 4, 4])
    ship, plane = CATEGORIES.index("ship"), CATEGORIES.index("airplane")
    assert t.shape == (4, k + 5)
    assert t[:, ship].tolist() == [1, 1, 0, 0]  # the small ship is centred in cell 1, whatever its share
    assert t[:, plane].tolist() == [0, 0, 0, 1]
    assert t[:, k].tolist() == [1, 1, 0, 1]  # object centres
    assert torch.allclose(t[0, k + 1:], torch.tensor([0, 0, 100 / 224, 50 / 224]) * 2 - 1)
    assert torch.allclose(t[3, k + 1:], torch.tensor([120 / 224, 120 / 224, 1, 1]) * 2 - 1)


def test_object_targets_relative_boxes_in_cell_widths():
    from geor1.data.schema import Sample
    from geor1.synth.scene import CATEGORIES

    k = len(CATEGORIES)
    sample = Sample(id="s", task="rec", images=["a.png"], width=224, height=224, query="the ship", category="ship",
                    boxes=[[0, 0, 100, 50]], meta={"scene": {"objects": [{"category": "ship", "bbox": [0, 0, 100, 50]}]}})
    t = probes.object_targets(sample, [1, 4, 4], relative=True)
    # cell 0 spans 0..112, centre 56: the box is 56/112 left, 56/112 up, 44/112 right, 6/112 up of it
    assert torch.allclose(t[0, k + 1:], torch.tensor([-56, -56, 44, -6]) / 112)


def test_dense_loss_regresses_only_centre_boxes():
    k = 2
    cells = torch.tensor([[1.0, 0, 1, 0.5, 0.5, 1, 1], [0, 1, 0, 9, 9, 9, 9]])  # row 1 is no centre
    pred = cells.clone()
    pred[:, :k + 1] = torch.where(cells[:, :k + 1] > 0, 20.0, -20.0)
    assert float(probes.dense_loss(pred, cells, k)) < 1e-6  # the non-centre row's box is not compared
    worse = pred.clone()
    worse[0, k + 1] += 1.0
    assert float(probes.dense_loss(worse, cells, k)) == pytest.approx(0.25, abs=1e-6)  # mse over 4 coordinates


def test_grounding_loss_prefers_attention_on_the_target():
    model, processor = load("tiny", attn_implementation="eager")
    frame = answer_frame(model, processor)
    sample, images, item = _rec(0, 3)
    ex = pdata.encode_example(processor, frame, item, think=False)
    a, b = ex["ground_span"]
    tokens = processor.tokenizer.convert_ids_to_tokens(ex["input_ids"][a:b + 1].tolist())
    assert tokens[0].endswith("[") and "]" in tokens[-1]  # from the token before x1 to the box's "]"
    assert abs(float(ex["ground"].sum()) - 1) < 1e-6
    head = probes.GroundingHead(model, 2)
    ids = ex["input_ids"][None]
    cols = torch.nonzero(ids[0] == model.config.image_token_id).squeeze(-1)
    t = len(ids[0])
    on_target = torch.full((1, 4, t, t), 1e-6)
    on_target[0, 0][:, cols] = ex["ground"]
    uniform = torch.full((1, 4, t, t), 1.0 / t)
    head.weights = on_target
    good = head.loss(ids, model.config.image_token_id, [ex["ground"]], [(a, b)])
    head.weights = uniform
    bad = head.loss(ids, model.config.image_token_id, [ex["ground"]], [(a, b)])
    assert good < bad
    # and the real model returns weights through the hook
    with torch.no_grad():
        model(input_ids=ids, pixel_values=ex["pixel_values"], image_grid_thw=ex["image_grid_thw"],
              mm_token_type_ids=ex["mm_token_type_ids"][None])
    assert head.weights.shape == (1, 4, t, t)


# ---------------------------------------------------------------------------------------------
# Recipes


def test_shipped_pretrain_recipes_load_and_reproduce_the_documented_phases():
    from geor1.train.recipe import list_recipes

    names = list_recipes("pretrain")
    assert {"tiny/pretrain_vision", "tiny/pretrain_one_object", "tiny/pretrain_scenes"} <= set(names)
    assert not set(names) & set(list_recipes())  # training recipes and phases are listed apart
    p0, p1, p2 = (load_config(f"tiny/pretrain_{n}") for n in ("vision", "one_object", "scenes"))
    assert (p0.phase, p0.steps, p0.batch, p0.pool_size) == ("vision", 516, 32, 4000)
    assert (p1.init, p1.frame, p1.max_objects, p1.steps) == ("runs/pretrain/phase0/final", "norm100", 1, 620)
    assert (p2.init, p2.steps, p2.seed, p2.tasks) == ("runs/pretrain/phase1/final", 1844, 1, {"rec": 1.0})


def test_recipe_errors_name_the_key_and_blame_the_right_place(tmp_path):
    with pytest.raises(RecipeError, match=r"unknown key 'stpes' \(did you mean 'steps'\?\)"):
        load_config("tiny/pretrain_vision", ["stpes=3"])
    with pytest.raises(RecipeError, match=r"^--set: "):
        load_config("tiny/pretrain_vision", ["stpes=3"])
    bad = tmp_path / "p.yaml"
    bad.write_text("phase: full\nbacth: 4\n")
    with pytest.raises(RecipeError, match=rf"^{bad}: unknown key 'bacth' \(did you mean 'batch'\?\)"):
        load_config(bad)
    with pytest.raises(RecipeError, match="'phase' must be one of vision, full"):
        config_from_dict({"phase": "both"})
    with pytest.raises(RecipeError, match="'tasks.crossview' is not a pretraining sample kind"):
        config_from_dict({"tasks": {"rec": 1, "crossview": 1}})
    with pytest.raises(RecipeError, match="'batch' must be at least 1"):
        config_from_dict({"batch": 0})
    cfg = load_config("tiny/pretrain_vision", ["steps=7", "out=x", "tasks={rec: 0.5, inventory: 0.5}"])
    assert cfg.steps == 7 and cfg.out == "x" and cfg.tasks == {"rec": 0.5, "inventory": 0.5}
    assert cfg.source.endswith("pretrain_vision.yaml")


def test_cli_takes_several_overrides_after_one_set(tmp_path, capsys):
    from geor1.cli import main

    assert main(["pretrain", "tiny/pretrain_vision", "--set", "stpes=1", "out=x"]) == 2
    assert "did you mean 'steps'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The corpus and its rules


def test_inventory_text_hand_checked():
    from geor1.pretrain.corpus import inventory_text

    graph = {"setting": "urban", "water": "river", "counts": {"harbor": 1, "building": 9, "wind turbine": 2}}
    assert inventory_text(graph) == "A urban scene with a river. 9 buildings, 1 harbor, 2 wind turbines."
    assert inventory_text({"setting": "rural", "water": "none", "counts": {}}) == "A rural scene with no water. No objects."


def test_held_out_categories_are_named_in_words_and_never_boxed():
    """Box kinds draw scenes of the box categories only; inventory scenes may show held-out objects,
    name them, and give the dense probe no target at all."""
    from geor1.pretrain.corpus import make_item

    model, processor = load("tiny")
    frame = answer_frame(model, processor)
    named = set()
    for i in range(24):
        rng = np.random.default_rng([5, i])
        for kind in ("rec", "ovd", "gres"):
            item = make_item(kind, rng, index=i, size=224, style="A", categories="seen")
            cats = {o["category"] for o in item.sample.meta["scene"]["objects"]}
            assert cats <= set(SEEN) and set(item.sample.labels or []) <= set(SEEN)
        inv = make_item("inventory", rng, index=i, size=224, style="A", categories="seen")
        named |= {c for c in HELD_OUT if c in inv.answer}
        assert inv.sample is None  # no scene graph travels with it: nothing to box
        ex = pdata.encode_example(processor, frame, inv, think=False, categories="seen")
        assert not ex["dense_mask"].any() and ex["box_pos"] == -1 and ex["ground_span"] == (-1, -1)
    assert named == set(HELD_OUT)  # every held-out word is met
    # the dense targets of a scene with held-out objects skip them
    scene_sample, _ = make_sample("rec", np.random.default_rng(1), categories=None, index=0)
    held = [o for o in scene_sample.meta["scene"]["objects"] if o["category"] in HELD_OUT]
    assert held
    t = probes.object_targets(scene_sample, [1, 16, 16], allowed=SEEN)
    from geor1.synth.scene import CATEGORIES

    assert t[:, [CATEGORIES.index(c) for c in HELD_OUT]].sum() == 0


def test_no_crossview_questions_and_no_test_seeds():
    from geor1.pretrain.corpus import EVAL_SEED, KINDS

    assert "crossview" not in KINDS
    # training draws default_rng([seed, i]) with small recipe seeds; evaluation sets use EVAL_SEED
    assert all(load_config(f"tiny/pretrain_{n}").seed < 1000 for n in ("vision", "one_object", "scenes"))
    assert EVAL_SEED >= 10_000_000
    eval_ids = {s.query for s, _ in pdata.make_eval_set(8, size=224, style="A", categories="seen")}
    train_ids = {make_sample("rec", np.random.default_rng([0, i]), categories=SEEN, index=i)[0].query for i in range(8)}
    assert eval_ids != train_ids


def test_geolocalization_uses_pretraining_cities_only():
    from geor1.pretrain.corpus import make_item, pretraining_city
    from geor1.synth import world

    share = np.mean([pretraining_city(c.name) for c in world.cities()])
    assert 0.65 < share < 0.85
    for i in range(4):
        item = make_item("geoloc", np.random.default_rng([3, i]), index=i, size=128, style="A", categories="seen")
        assert pretraining_city(item.sample.meta["city"])
        ground = make_item("ground", np.random.default_rng([4, i]), index=i, size=128, style="A", categories="seen")
        assert "place in" in ground.answer and ground.images[0].size == (128, 64)


# ---------------------------------------------------------------------------------------------
# The loop


def _cfg(tmp_path, **kw):
    base = dict(out=str(tmp_path), steps=3, batch=2, workers=0, eval_every=1000, eval_n=2, save_every=2,
                max_objects=2, dense_weight=1.0, ground_weight=1.0, size=224)
    return config_from_dict({**base, **kw})


@pytest.mark.slow
def test_full_phase_runs_saves_and_resumes(tmp_path):
    result = run_phase(_cfg(tmp_path), progress=False)
    assert result["steps"] == 3 and 0 <= result["acc_at_05"] <= 1
    assert (tmp_path / "final" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "final_eval.json").read_text())["steps"] == 3
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,seconds,samples_per_s,lr,loss") and len(rows) == 2  # header + final eval
    before = load(str(tmp_path / "final"))[0].state_dict()
    assert run_phase(_cfg(tmp_path, steps=5), resume=True, progress=False)["steps"] == 5
    after = load(str(tmp_path / "final"))[0].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert (tmp_path / "metrics.csv").read_text().count("step,") == 1  # appended, one header


@pytest.mark.slow
def test_vision_phase_trains_only_the_vision_tower(tmp_path):
    result = run_phase(config_from_dict(dict(phase="vision", out=str(tmp_path), steps=2, batch=2, workers=0,
                                             pool_size=4, size=224)), progress=False)
    assert result["steps"] == 2
    before, _ = load("tiny")
    after, _ = load(str(tmp_path / "final"))
    a, b = before.state_dict(), after.state_dict()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and all("visual" in k for k in changed)
    assert (tmp_path / "metrics.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("init", ["tiny", "tiny-qwen3-vl"])
def test_mixed_corpus_phase_runs_on_each_architecture(tmp_path, init):
    """A few steps of the whole corpus (boxes, words, ground descriptions, geolocalization, think
    samples) streamed without a pool, on the Qwen2.5-VL and the Qwen3-VL tiny models."""
    cfg = _cfg(tmp_path, init=init, steps=2, batch=4, think_fraction=0.5, frame="norm100",
               tasks={"rec": 1, "ovd": 1, "inventory": 1, "ground": 1, "geoloc": 1})
    result = run_phase(cfg, progress=False)
    assert result["steps"] == 2
    model, _ = load(str(tmp_path / "final"))
    assert model.config.geor1_answer_frame == "norm100"


def test_a_kill_between_the_renames_leaves_a_checkpoint_to_resume(tmp_path):
    model, processor = load("tiny")
    save_state(tmp_path / "last", model, processor, {"step": 2})
    save_state(tmp_path / "last", model, processor, {"step": 4})
    assert resume_folder(tmp_path) == tmp_path / "last"
    assert torch.load(tmp_path / "last" / "trainer_state.pt")["step"] == 4
    assert not (tmp_path / "last.old").exists() and not (tmp_path / "last.tmp").exists()
    # killed after "last" became "last.old" and before "last.tmp" became "last"
    os.replace(tmp_path / "last", tmp_path / "last.old")
    assert resume_folder(tmp_path) == tmp_path / "last.old"
    # killed while writing last.tmp (no trainer state yet): never taken
    (tmp_path / "last.tmp").mkdir()
    assert resume_folder(tmp_path) == tmp_path / "last.old"


@pytest.mark.slow
def test_kill_9_mid_run_then_resume(tmp_path):
    """The real thing: SIGKILL a running `geor1 pretrain` once it has saved, then --resume."""
    def command(steps, *extra):
        return [sys.executable, "-m", "geor1.cli", "pretrain", "tiny/pretrain_one_object", "--no-progress", *extra,
                "--set", "init=tiny", f"out={tmp_path}", f"steps={steps}", "batch=2", "workers=0", "pool_size=8",
                "eval_n=2", "eval_every=1000", "save_every=2", "size=224", "threads=1"]

    proc = subprocess.Popen(command(400), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "last" / "trainer_state.pt").is_file():
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = resume_folder(tmp_path)
    assert folder is not None
    saved = torch.load(folder / "trainer_state.pt", weights_only=False)["step"]
    assert saved >= 2
    done = subprocess.run(command(saved + 2, "--resume"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "final_eval.json").read_text())["steps"] == saved + 2


@pytest.mark.slow
def test_ship_tiny_stores_bf16_with_provenance(tmp_path):
    from geor1.models.cli import _ship

    run = tmp_path / "run"
    run_phase(_cfg(run, steps=1), progress=False)
    out = tmp_path / "shipped"
    assert _ship(str(run / "final"), str(out)) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["recipe"]["steps"] == 1 and prov["final_eval"]["steps"] == 1
    trained, _ = load(str(run / "final"))
    shipped, processor = load(str(out))
    assert next(iter(shipped.parameters())).dtype == torch.float32  # stored bf16, loaded float32
    for (k, a), b in zip(trained.state_dict().items(), shipped.state_dict().values()):
        assert torch.equal(a.to(torch.bfloat16).float(), b), k
    assert (out / "model.safetensors").stat().st_size < 0.6 * (run / "final" / "model.safetensors").stat().st_size


@pytest.mark.slow
def test_gpu_script_runs_its_three_phases_on_a_cpu(tmp_path):
    """scripts/gpu_pretrain.sh, the one prepared run for a lent GPU, in SMOKE mode (2 steps a phase on
    the CPU): what it leaves in $OUT fits the device tool (at most 8 files of 16 MiB) and the
    checkpoint parts reassemble into a model that loads."""
    import tarfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    out, run = tmp_path / "out", tmp_path / "run"
    env = {**os.environ, "SMOKE": "1", "OUT": str(out), "RUN": str(run), "PYTHON": sys.executable}
    done = subprocess.run(["bash", "scripts/gpu_pretrain.sh"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = sorted(p for p in out.iterdir())
    assert len(files) <= 8 and all(p.stat().st_size <= 16 * 2**20 for p in files)
    assert {"log.txt", "metrics.tgz"} <= {p.name for p in files}
    parts = [p for p in files if p.name.startswith("ckpt.tar.part-")]
    joined = tmp_path / "ckpt.tar"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(joined) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    model, _ = load(str(tmp_path / "unpacked" / "final"))
    assert model.config.geor1_answer_frame == "norm100"
    log = (out / "log.txt").read_text()
    assert log.count("pretrained") == 3 and "transformers" in log

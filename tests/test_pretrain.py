import argparse
import json

import numpy as np
import pytest
import torch

from geor1.models import answer_frame, load
from geor1.synth import SEEN, make_sample
from geor1.train import pretrain


def test_encoded_batch_keeps_mrope_inputs_and_masks_the_prompt():
    model, processor = load("tiny")
    frame = answer_frame(model, processor)
    examples = []
    for i in range(2):
        sample, images = make_sample("rec", np.random.default_rng([0, i]), categories=SEEN, index=i)
        ex = pretrain.encode_example(processor, frame, sample, images, think=False)
        answer = processor.tokenizer.decode(ex["input_ids"][ex["labels"] != -100])
        assert answer.startswith('{"bbox_2d": [') and answer.endswith("<|im_end|>")
        # the box probe reads the token just before the first digit of x1
        assert processor.tokenizer.convert_ids_to_tokens(int(ex["input_ids"][ex["box_pos"]])).endswith("[")
        assert ex["box"].abs().max() <= 1
        examples.append(ex)
    batch = pretrain.collate(examples, processor.tokenizer.pad_token_id)
    # Without mm_token_type_ids Qwen2.5-VL quietly uses 1-D positions: training would not match generation.
    assert "mm_token_type_ids" in batch
    assert int((batch["mm_token_type_ids"] == 1).sum()) == int((batch["input_ids"] == model.config.image_token_id).sum())
    for key in ("box_pos", "box", "cells", "ground", "ground_span"):
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
        sample, images = make_sample("rec", np.random.default_rng([2, i]), categories=SEEN, index=i)
        ex = pretrain.encode_example(processor, frame, sample, images, think=True, rationale_fn=rationale)
        a, b = ex["ground_span"]
        before = processor.tokenizer.decode(ex["input_ids"][:a + 1])
        assert "<answer>" in before[-40:]  # the box right after <answer>, not an anchor's in the rationale
        written = processor.tokenizer.decode(ex["input_ids"][a + 1:b + 1]).strip()
        assert json.loads("[" + written[:written.index("]") + 1]) == box_in_frame(sample.boxes[0], frame, sample.width, sample.height)


def test_grid_targets_row_major():
    t = pretrain.grid_targets(torch.tensor([[1, 4, 6]]))  # 2 x 3 merged tokens
    assert t.tolist() == [[-1, -1], [-1, 0], [-1, 1], [1, -1], [1, 0], [1, 1]]


def test_cell_overlap_hand_checked():
    # a 224 x 224 image as 2 x 2 merged tokens (grid 1 x 4 x 4): cells of 112 px
    g = pretrain.cell_overlap([56, 56, 168, 112], 224, 224, [1, 4, 4])
    assert g.tolist() == [0.5, 0.5, 0.0, 0.0]  # the box lies in the top two cells, half in each
    g = pretrain.cell_overlap([100, 100, 124, 124], 224, 224, [1, 4, 4])
    assert torch.allclose(g, torch.full((4,), 0.25))  # centred: a quarter in each
    assert pretrain.cell_overlap([150, 150, 150, 150], 224, 224, [1, 4, 4]).tolist() == [0, 0, 0, 1]


def test_grounding_target_half_on_the_centre_cell():
    g = pretrain.grounding_target([56, 56, 168, 112], 224, 224, [1, 4, 4])
    assert g.tolist() == [0.25, 0.75, 0.0, 0.0]  # centre (112, 84) is in cell 1; the box is half in cells 0 and 1


def test_object_targets_hand_checked():
    from geor1.data.schema import Sample
    from geor1.synth.scene import CATEGORIES

    k = len(CATEGORIES)
    objects = [{"category": "ship", "bbox": [0, 0, 100, 50]}, {"category": "airplane", "bbox": [120, 120, 224, 224]},
               {"category": "ship", "bbox": [110, 0, 130, 10]}]
    sample = Sample(id="s", task="rec", images=["a.png"], width=224, height=224, query="the ship", category="ship",
                    boxes=[[0, 0, 100, 50]], meta={"scene": {"objects": objects}})
    t = pretrain.object_targets(sample, [1, 4, 4])
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
    t = pretrain.object_targets(sample, [1, 4, 4], relative=True)
    # cell 0 spans 0..112, centre 56: the box is 56/112 left, 56/112 up, 44/112 right, 6/112 up of it
    assert torch.allclose(t[0, k + 1:], torch.tensor([-56, -56, 44, -6]) / 112)


def test_dense_loss_regresses_only_centre_boxes():
    k = 2
    cells = torch.tensor([[1.0, 0, 1, 0.5, 0.5, 1, 1], [0, 1, 0, 9, 9, 9, 9]])  # row 1 is no centre
    pred = cells.clone()
    pred[:, :k + 1] = torch.where(cells[:, :k + 1] > 0, 20.0, -20.0)
    assert float(pretrain.dense_loss(pred, cells, k)) < 1e-6  # the non-centre row's box is not compared
    worse = pred.clone()
    worse[0, k + 1] += 1.0
    assert float(pretrain.dense_loss(worse, cells, k)) == pytest.approx(0.25, abs=1e-6)  # mse over 4 coordinates


def test_grounding_loss_prefers_attention_on_the_target():
    model, processor = load("tiny", attn_implementation="eager")
    frame = answer_frame(model, processor)
    sample, images = make_sample("rec", np.random.default_rng([0, 3]), categories=SEEN, index=3)
    ex = pretrain.encode_example(processor, frame, sample, images, think=False)
    a, b = ex["ground_span"]
    tokens = processor.tokenizer.convert_ids_to_tokens(ex["input_ids"][a:b + 1].tolist())
    assert tokens[0].endswith("[") and "]" in tokens[-1]  # from the token before x1 to the box's "]"
    assert abs(float(ex["ground"].sum()) - 1) < 1e-6
    head = pretrain.GroundingHead(model, 2)
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


@pytest.mark.slow
def test_pretrain_runs_saves_and_resumes(tmp_path):
    parser = argparse.ArgumentParser()
    pretrain.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--steps", "3", "--batch", "2", "--workers", "0",
                              "--eval-every", "1000", "--eval-n", "2", "--save-every", "2", "--max-objects", "2",
                              "--dense-weight", "1", "--ground-weight", "1"])
    result = pretrain.pretrain(args)
    assert result["steps"] == 3 and 0 <= result["acc_at_05"] <= 1
    assert (tmp_path / "final" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "final_eval.json").read_text())["steps"] == 3
    before = load(str(tmp_path / "final"))[0].state_dict()
    args.steps, args.resume = 5, True
    assert pretrain.pretrain(args)["steps"] == 5
    after = load(str(tmp_path / "final"))[0].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.slow
def test_vision_phase_trains_only_the_vision_tower(tmp_path):
    parser = argparse.ArgumentParser()
    pretrain.add_arguments(parser)
    args = parser.parse_args(["--vision-only", "--out", str(tmp_path), "--steps", "2", "--batch", "2", "--workers",
                              "0", "--pool-size", "4"])
    assert pretrain.run(args) == 0
    before, _ = load("tiny")
    after, _ = load(str(tmp_path / "final"))
    a, b = before.state_dict(), after.state_dict()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and all(".visual." in k or k.startswith("visual.") or "visual" in k for k in changed)
    assert (tmp_path / "metrics.csv").is_file()


@pytest.mark.slow
def test_ship_tiny_stores_bf16_with_provenance(tmp_path):
    from geor1.models.cli import _ship

    parser = argparse.ArgumentParser()
    pretrain.add_arguments(parser)
    run = tmp_path / "run"
    pretrain.pretrain(parser.parse_args(["--out", str(run), "--steps", "1", "--batch", "2", "--workers", "0",
                                         "--eval-n", "2"]))
    out = tmp_path / "shipped"
    assert _ship(str(run / "final"), str(out)) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["args"]["steps"] == 1 and prov["final_eval"]["steps"] == 1
    trained, _ = load(str(run / "final"))
    shipped, processor = load(str(out))
    assert next(iter(shipped.parameters())).dtype == torch.float32  # stored bf16, loaded float32
    for (k, a), b in zip(trained.state_dict().items(), shipped.state_dict().values()):
        assert torch.equal(a.to(torch.bfloat16).float(), b), k
    assert (out / "model.safetensors").stat().st_size < 0.6 * (run / "final" / "model.safetensors").stat().st_size

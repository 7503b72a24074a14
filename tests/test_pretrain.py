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
    batch.pop("box_pos"), batch.pop("box")
    with torch.no_grad():
        pos_3d = model.model.get_rope_index(batch["input_ids"], image_grid_thw=batch["image_grid_thw"],
                                            attention_mask=batch["attention_mask"],
                                            mm_token_type_ids=batch["mm_token_type_ids"])[0]
    img = batch["input_ids"][0] == model.config.image_token_id
    assert len(set(pos_3d[1, 0][img].tolist())) == 8  # 8 rows of merged image tokens: real 2-D positions


def test_grid_targets_row_major():
    t = pretrain.grid_targets(torch.tensor([[1, 4, 6]]))  # 2 x 3 merged tokens
    assert t.tolist() == [[-1, -1], [-1, 0], [-1, 1], [1, -1], [1, 0], [1, 1]]


@pytest.mark.slow
def test_pretrain_runs_saves_and_resumes(tmp_path):
    parser = argparse.ArgumentParser()
    pretrain.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--steps", "3", "--batch", "2", "--workers", "0",
                              "--eval-every", "1000", "--eval-n", "2", "--save-every", "2", "--max-objects", "2"])
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

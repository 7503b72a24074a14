"""Model families: one record per family, and every family's path end to end on its tiny
random-init model (load, processor, generate, frames, gradients for text-only batches, DeepStack,
chat-template quirks, SFT, GRPO, eval, predict). Tests run once per tiny model, with the model's
name in the test id, so ``pytest -k qwen3`` runs the Qwen3-VL and Qwen3.5 ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from geor1.coords import format_box, from_frame, to_frame
from geor1.models import answer_frame, family_of, family_of_model, load, load_processor
from geor1.models.families import FAMILIES
from geor1.models.tiny import TINY_BUILDS, build_tiny
from geor1.tasks import rec
from geor1.tasks.boxes import paired_iou
from geor1.tasks.common import format_reward

QWEN3 = ["tiny-qwen3-vl", "tiny-qwen3.5"]
ALL = list(TINY_BUILDS)  # tiny (qwen2.5-vl), tiny-qwen2-vl, tiny-qwen3-vl, tiny-qwen3.5
FAMILY = {"tiny": "qwen2.5-vl", "tiny-qwen2-vl": "qwen2-vl", "tiny-qwen3-vl": "qwen3-vl", "tiny-qwen3.5": "qwen3.5"}


def test_every_model_type_has_one_family_and_the_tables_are_gone():
    import geor1.coords
    import geor1.models
    import geor1.models.processor

    types = [t for f in FAMILIES for t in f.model_types]
    assert len(types) == len(set(types))
    assert family_of("qwen3_vl_moe") is family_of("qwen3_vl") is family_of("qwen3-vl")
    assert family_of("qwen3_5_moe").name == "qwen3.5"
    assert {f.name: f.frame for f in FAMILIES} == {"qwen2-vl": "norm1000", "qwen2.5-vl": "qwen2.5-vl",
                                                   "qwen3-vl": "norm1000", "qwen3.5": "norm1000"}
    assert {f.name: f.factor for f in FAMILIES} == {"qwen2-vl": 28, "qwen2.5-vl": 28, "qwen3-vl": 32, "qwen3.5": 32}
    for gone in ("MODEL_CLASSES", "PROCESSOR_CLASSES", "FAMILY_FRAME"):
        assert not any(hasattr(m, gone) for m in (geor1.coords, geor1.models, geor1.models.processor))
    with pytest.raises(ValueError, match="'llava' is not supported .*qwen3_vl"):
        family_of("llava")


def test_every_family_class_exists_in_transformers():
    for f in FAMILIES:
        for t in f.model_types:
            assert f.model_class(t).__name__ == f.classes[t]
        assert f.processor_class().__name__ == f.processor


@pytest.mark.parametrize("name", ALL)
def test_tiny_files_are_what_the_build_makes(name, tmp_path):
    build_tiny(tmp_path, name)
    shipped = TINY_BUILDS[name].folder
    assert sorted(p.name for p in shipped.iterdir()) == sorted(p.name for p in tmp_path.iterdir())
    for p in tmp_path.iterdir():
        assert p.read_bytes() == (shipped / p.name).read_bytes(), p.name


@pytest.fixture(scope="module", params=ALL)
def tiny_model(request):
    model, processor = load(request.param, seed=0)
    return request.param, model, processor


def _enc(processor, model, texts, images):
    return processor(text=texts, images=images or None, return_tensors="pt", padding=True)


def test_family_load_processor_generate_on_a_non_square_image(tiny_model):
    name, model, proc = tiny_model
    family = family_of_model(model)
    assert family.name == FAMILY[name]
    assert type(proc).__name__ == family.processor and proc.video_processor is None
    assert 2e6 < sum(p.numel() for p in model.parameters()) < 8e6
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Locate the ship."}]}]
    prompt = family.generation_prompt(proc, messages, think=False)
    # 512 x 256, Qwen3 at 256*256 pixels: smart resize to multiples of 32 -> 352 x 160 -> 22 x 10
    # patches of 16 px; Qwen2/2.5 at 224*224: multiples of 28 -> 308 x 140 -> 22 x 10 patches of 14.
    # Both: 11 x 5 tokens after the 2x2 merge.
    enc = _enc(proc, model, [prompt], [Image.new("RGB", (512, 256), (90, 120, 60))])
    assert enc["image_grid_thw"].tolist() == [[1, 10, 22]]
    assert int((enc["input_ids"] == model.config.image_token_id).sum()) == 5 * 11
    assert "mm_token_type_ids" in enc  # the M-RoPE positions of the image tokens need it
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=6, do_sample=False)
    assert 1 <= out.shape[1] - enc["input_ids"].shape[1] <= 6


@pytest.mark.parametrize("name", ["tiny-qwen2-vl", *QWEN3])
def test_qwen3_frame_is_relative_1000_and_round_trips_on_non_square_images(name):
    model, proc = load(name)
    frame = answer_frame(model, proc)
    assert frame.name == "norm1000" and frame.extent(800, 400) == (1000.0, 1000.0)
    box = np.array([80.0, 40.0, 480.0, 300.0])  # original pixels of an 800 x 400 image
    np.testing.assert_allclose(to_frame(box, frame, 800, 400), [100, 100, 600, 750])
    np.testing.assert_allclose(from_frame(to_frame(box, frame, 800, 400), frame, 800, 400), box)
    assert format_box(box, frame, 800, 400) == [100, 100, 600, 750]
    assert format_box([0, 0, 800, 400], frame, 800, 400) == [0, 0, 1000, 1000]  # 1000 is the far edge


@pytest.mark.parametrize("far", [1000, 999])
def test_qwen3_far_edge_1000_or_999_both_read_as_the_whole_image(far):
    """Qwen3-VL's docs say 0-1000, some say 0-999: an answer written either way is the full image to
    within 1/1000 of a side, and a coordinate of 1000 is never out of range."""
    frame = answer_frame(*load("tiny-qwen3-vl"))
    text = json.dumps({"bbox_2d": [0, 0, far, far], "label": "field"})
    parsed = rec.parse_answer(text, frame, 640, 480)
    assert parsed.ok, parsed.reason
    iou = paired_iou(np.array([parsed.value]), np.array([[0.0, 0.0, 640.0, 480.0]]))[0]
    assert iou >= 0.998


def _text_only_and_image(proc, model, with_image=True):
    fam = family_of_model(model)
    msg = lambda parts: fam.generation_prompt(proc, [{"role": "user", "content": parts}], think=False)
    texts = [msg([{"type": "text", "text": "Where is the harbor?"}])]
    images = []
    if with_image:
        texts.append(msg([{"type": "image"}, {"type": "text", "text": "Locate the ship."}]))
        images.append(Image.new("RGB", (300, 200), (30, 80, 140)))
    enc = _enc(proc, model, texts, images)
    return enc


def test_qwen3_vl_deepstack_gets_gradients_in_a_mixed_batch():
    model, proc = load("tiny-qwen3-vl", seed=1)
    model.train()
    enc = _text_only_and_image(proc, model)
    model(**enc).logits.float().pow(2).mean().backward()
    mergers = list(model.model.visual.deepstack_merger_list.parameters())
    assert mergers and all(p.grad is not None and p.grad.abs().sum() > 0 for p in mergers)


@pytest.mark.parametrize("name", ALL)
def test_text_only_batches_keep_the_vision_tower_in_the_graph(name):
    """A batch without images never runs the vision tower: without the family's hook its parameters
    get no gradient at all (a ZeRO-3/DDP hang waiting to happen); with it they get zeros, and the
    logits are unchanged."""
    model, proc = load(name, seed=2)
    model.train()
    family = family_of_model(model)
    enc = _text_only_and_image(proc, model, with_image=False)
    plain = model(**enc).logits
    plain.float().mean().backward()
    assert all(p.grad is None for p in family.vision(model).parameters())
    model.zero_grad(set_to_none=True)
    family.prepare_for_training(model)
    family.prepare_for_training(model)  # idempotent: one hook
    kept = model(**enc).logits
    torch.testing.assert_close(kept, plain)
    kept.float().mean().backward()
    grads = [p.grad for p in family.vision(model).parameters()]
    assert all(g is not None and torch.count_nonzero(g) == 0 for g in grads)
    if family.deepstack:
        assert all(p.grad is not None for p in model.model.visual.deepstack_merger_list.parameters())
    model.eval()  # evaluation runs no dummy tower
    with torch.no_grad():
        torch.testing.assert_close(model(**enc).logits, plain.detach())


def test_qwen3_5_chat_template_that_opens_think_is_read_back(tmp_path):
    """Qwen3.5's own template ends the generation prompt with "<think>\\n" when thinking is on and
    with an empty, closed think block when off. The family switches it with geor1's think flag and
    puts back the opened tag in front of completions, so the format reward is the same for all."""
    trl_templates = Path(__import__("trl").__file__).parent / "chat_templates"
    template = (trl_templates / "qwen3_5_think.jinja").read_text(encoding="utf-8")
    proc = load_processor("tiny-qwen3.5")
    proc.chat_template = template
    family = family_of("qwen3_5")
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which image?"}]}]
    assert family.generation_prompt(proc, msgs, think=True).endswith("<|im_start|>assistant\n<think>\n")
    assert family.generation_prompt(proc, msgs, think=False).endswith("<think>\n\n</think>\n\n")
    assert family.completion_prefix(proc, think=True) == "<think>\n"
    assert family.completion_prefix(proc, think=False) == ""
    assert family_of("qwen3_vl").chat_template_kwargs(True) == {}  # Qwen3-VL-Instruct has no switch
    completion = "The harbor is north.</think>\n<answer>B</answer>"
    assert format_reward([completion]) == [0.0]
    assert format_reward([completion], completion_prefix=["<think>\n"]) == [1.0]


def _rec_data(root: Path, n: int = 4, size: int = 96):
    from test_train import make_rec_dataset

    return make_rec_dataset(root, n=n, size=size)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_family_grpo_and_sft_steps_change_the_weights(name, tmp_path):
    from test_train import TINY_GRPO

    from geor1.train.recipe import recipe_from_dict
    from geor1.train.run import train

    data = _rec_data(tmp_path / "data")
    before = {k: v.clone() for k, v in load(name)[0].state_dict().items()}
    grpo = json.loads(json.dumps(TINY_GRPO))
    grpo["model"]["name"] = name
    grpo["data"] = {"train": [str(data)], "think": False}
    grpo["trainer"].update(output_dir=str(tmp_path / "grpo"), max_steps=1, save_steps=10)
    trainer = train(recipe_from_dict(grpo))
    assert trainer.state.global_step == 1
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    sft = {"method": "sft", "model": {"name": name}, "data": {"train": [str(data)], "think": False},
           "trainer": {"max_steps": 2, "per_device_train_batch_size": 2, "learning_rate": 1e-3, "save_steps": 10,
                       "report_to": [], "use_cpu": True, "bf16": False, "output_dir": str(tmp_path / "sft")}}
    trainer = train(recipe_from_dict(sft))
    assert trainer.state.global_step == 2
    after = trainer.model.state_dict()
    assert [k for k in before if not torch.equal(before[k], after[k])]
    # the saved folder loads back as the same family, with its processor
    model, proc = load(str(tmp_path / "sft" / "final"))
    assert family_of_model(model).name == FAMILY[name]
    assert type(proc).__name__ == family_of_model(model).processor


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_family_eval_and_predict_run(name, tmp_path):
    from geor1.evaluation.evaluate import evaluate
    from geor1.evaluation.predict import predict

    data = _rec_data(tmp_path / "data", n=3)
    summary = evaluate(name, data, tmp_path / "eval", batch_size=2, max_new_tokens=6, think=False, progress=False)
    config = json.loads((tmp_path / "eval" / "config.json").read_text())
    assert config["frame"]["name"] == family_of(FAMILY[name]).frame
    assert summary["tasks"]["rec"]["n"] == 3
    out = predict(name, "rec", [data / "images" / "0.png"], "the red square", think=False, max_new_tokens=6)
    assert out["frame"].name == config["frame"]["name"] and isinstance(out["completion"], str)


def test_qwen3_vllm_path_reads_the_family_and_frame_from_the_config():
    """The vLLM backend never loads the model here; what it needs from geor1 is the frame and the
    family (for the chat template), both read from config.json."""
    from geor1.evaluation.evaluate import _vllm_frame_and_family

    folder = str(TINY_BUILDS["tiny-qwen3-vl"].folder)
    frame, family = _vllm_frame_and_family(folder, load_processor(folder))
    assert frame.name == "norm1000" and family.name == "qwen3-vl"


def test_qwen3_model_info_cli(capsys):
    from geor1.cli import main

    assert main(["model", "info", "tiny-qwen3-vl"]) == 0
    out = capsys.readouterr().out
    assert "family       qwen3-vl (qwen3_vl, Qwen3VLForConditionalGeneration)" in out
    assert "answer frame norm1000" in out and "patch size   16 px" in out and "DeepStack" in out
    assert "parameters   5.40 M" in out


# The documented example command of docs/models.md, on the tiny model of the family: the shipped
# Qwen3-VL-4B DAPO recipe, only scaled down by --set (model, data, sizes, CPU dtype and attention).
QWEN3_VL_EXAMPLE = ["model.name=tiny-qwen3-vl", "model.dtype=float32", "model.attn_implementation=sdpa",
                    "model.max_pixels=65536", "trainer.max_steps=1", "trainer.per_device_train_batch_size=4",
                    "trainer.num_generations=4", "trainer.max_completion_length=8", "trainer.bf16=false",
                    "trainer.use_cpu=true", "trainer.gradient_checkpointing=false", "trainer.report_to=[]",
                    "trainer.save_steps=10"]


def test_qwen3_shipped_recipes_load_with_the_papers_settings():
    from geor1.train.recipe import list_recipes, load_recipe

    names = {n for n in list_recipes() if n.startswith("qwen3-vl")}
    assert names == {"qwen3-vl-4b/grpo_rec_vrsbench_fs", "qwen3-vl-4b/dapo_rec_vrsbench_fs",
                     "qwen3-vl-8b/grpo_crossview_cvcities", "qwen3-vl-8b/sft_geo_sft_coldstart"}
    dapo = load_recipe("qwen3-vl-4b/dapo_rec_vrsbench_fs")
    assert dapo.trainer["loss_type"] == "dapo" and dapo.trainer["epsilon_high"] == 0.28
    assert dapo.model.max_pixels % (32 * 32) == 0  # whole Qwen3-VL tokens


@pytest.mark.slow
def test_qwen3_vl_dapo_recipe_runs_from_the_cli(tmp_path, capsys):
    from geor1.cli import main

    data = _rec_data(tmp_path / "data")
    out = tmp_path / "run"
    rc = main(["train", "grpo", "qwen3-vl-4b/dapo_rec_vrsbench_fs", "--set", f"data.train=[{data}]",
               "--set", f"trainer.output_dir={out}", *[a for s in QWEN3_VL_EXAMPLE for a in ("--set", s)],
               "--set", "trainer.overlong_buffer_len=4"])  # within the 8 tokens the example allows
    assert rc == 0 and "done: 1 steps" in capsys.readouterr().out
    assert (out / "final" / "model.safetensors").is_file()
    assert json.loads((out / "final" / "config.json").read_text())["model_type"] == "qwen3_vl"

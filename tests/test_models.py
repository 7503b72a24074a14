import importlib.util
import json

import pytest
import torch
from PIL import Image

from geor1.models import answer_frame, load, load_processor
from geor1.models.processor import Qwen25VLImageProcessor


@pytest.fixture(scope="module")
def tiny():
    return load("tiny")


def _messages(text="Locate the red ship."):
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]


def test_torchvision_is_absent_and_processor_builds_without_it():
    # The point of geor1.models.processor: this environment has no torchvision at all.
    assert importlib.util.find_spec("torchvision") is None
    proc = load_processor("tiny")
    assert isinstance(proc, Qwen25VLImageProcessor) and proc.video_processor is None


def test_tiny_load_generate_decode(tiny):
    model, proc = tiny
    assert model.config.model_type == "qwen2_5_vl"
    n = sum(p.numel() for p in model.parameters())
    assert 1e6 < n < 8e6  # small enough for CPU training, shipped checkpoint <= 25 MB in fp32
    text = proc.apply_chat_template(_messages(), add_generation_prompt=True, tokenize=False)
    assert text == ("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Locate the red ship.<|im_end|>\n"
                    "<|im_start|>assistant\n")
    enc = proc(text=[text], images=[Image.new("RGB", (448, 448), (90, 120, 60))], return_tensors="pt")
    # 448 px -> 224 px input -> 16x16 patches of 14 px -> 8x8 = 64 tokens after the 2x2 merge
    assert enc["image_grid_thw"].tolist() == [[1, 16, 16]]
    assert int((enc["input_ids"] == model.config.image_token_id).sum()) == 64
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    new = out[0, enc["input_ids"].shape[1]:]
    assert 1 <= len(new) <= 8
    decoded = proc.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)[0]
    assert isinstance(decoded, str)
    assert answer_frame(model, proc).extent(448, 448) == (224.0, 224.0)


def test_random_init_is_seeded():
    a, _ = load("tiny", seed=3)
    b, _ = load("tiny", seed=3)
    c, _ = load("tiny", seed=4)
    pa, pb, pc = (next(iter(m.parameters())) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_tokenizer_splits_digits_like_qwen_and_has_tags(tiny):
    tok = tiny[1].tokenizer
    toks = tok.tokenize('<think>x</think><answer>{"bbox_2d": [123, 45, 6, 78]}</answer>')
    assert toks[0] == "<think>" and "</answer>" == toks[-1]
    digits = [t for t in toks if t.strip("Ġ").isdigit()]
    assert digits == ["2", "1", "2", "3", "4", "5", "6", "7", "8"]  # the 2 of bbox_2d, then one token per digit
    for special in ("<|im_start|>", "<|im_end|>", "<|image_pad|>", "<|vision_start|>", "<|vision_end|>"):
        assert len(tok.tokenize(special)) == 1
    s = 'Where? {"lat": -33.87, "lon": 151.21} é ü 東京'
    assert tok.decode(tok(s)["input_ids"]) == s  # byte-level: any text round-trips


def test_save_and_reload_checkpoint(tiny, tmp_path):
    model, proc = tiny
    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "chat_template.json").read_text())["chat_template"] == proc.chat_template
    m2, p2 = load(str(tmp_path))
    sd1, sd2 = model.state_dict(), m2.state_dict()
    assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)
    assert p2.apply_chat_template(_messages(), add_generation_prompt=True, tokenize=False) == \
        proc.apply_chat_template(_messages(), add_generation_prompt=True, tokenize=False)
    m3, _ = load("tiny", checkpoint=str(tmp_path))
    assert torch.equal(next(iter(m3.parameters())), next(iter(model.parameters())))


def test_pixel_bounds_override_changes_frame():
    model, proc = load("tiny", max_pixels=112 * 112, min_pixels=112 * 112)
    assert answer_frame(model, proc).extent(448, 448) == (112.0, 112.0)
    enc = proc(text=["<|vision_start|><|image_pad|><|vision_end|>"], images=[Image.new("RGB", (448, 448))],
               return_tensors="pt")
    assert enc["image_grid_thw"].tolist() == [[1, 8, 8]]


def test_unsupported_model_folder(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ValueError, match="model_type 'llama' is not supported"):
        load(str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load(str(tmp_path / "empty"))


def test_a_checkpoint_can_declare_its_answer_frame(tmp_path):
    from geor1.engine.cli import resolve_frame
    from geor1.models import answer_frame

    model, processor = load("tiny")
    assert answer_frame(model, processor).name == "qwen2.5-vl"
    model.config.geor1_answer_frame = "norm100"
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    reloaded, processor = load(str(tmp_path))
    assert answer_frame(reloaded, processor).name == "norm100"
    assert resolve_frame(str(tmp_path)).name == "norm100"  # the data engine writes records in that frame


def test_checkpoints_say_how_to_ask_them(tmp_path):
    """config.json's geor1_think / geor1_tasks / geor1_max_new_tokens are the defaults of eval,
    predict, the demo and the recipes; without them a model is asked like a released instruct model."""
    from geor1.evaluation.evaluate import resolve_usage
    from geor1.models import Usage, record_usage, usage_of

    assert usage_of("tiny-geosynth") == Usage(think=False, max_new_tokens=64, tasks=("rec",))
    assert usage_of("tiny") == Usage() == Usage(think=True, max_new_tokens=1024, tasks=None)
    model, proc = load("tiny")
    record_usage(model.config, think=True, tasks={"rec", "crossview"}, max_new_tokens=300)
    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    assert usage_of(str(tmp_path)) == Usage(think=True, max_new_tokens=300, tasks=("crossview", "rec"))
    assert resolve_usage("tiny-geosynth", None, ["rec"], None, None) == (False, 64)
    assert resolve_usage("tiny-geosynth", None, ["rec"], True, 10) == (True, 10)  # flags win


def test_a_task_the_checkpoint_never_saw_is_warned_about(caplog):
    from geor1.evaluation.evaluate import resolve_usage

    with caplog.at_level("WARNING", logger="geor1.eval"):
        resolve_usage("tiny-geosynth", None, ["crossview", "rec"], None, None)
    assert "trained on rec only: its crossview answers will be noise" in caplog.text
    assert "its rec answers" not in caplog.text

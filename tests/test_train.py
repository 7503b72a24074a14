import csv
import json
import shutil

import pytest
import torch
import yaml
from PIL import Image, ImageDraw

from geor1.data import write_dataset
from geor1.tasks.common import completion_text, register_reward
from geor1.train.logs import COMPLETE, last_complete_checkpoint
from geor1.train.recipe import RecipeError, load_recipe, recipe_from_dict


def make_rec_dataset(root, n=4, size=112):
    """A few hand-made REC samples: one red square per grey image."""
    recs = []
    for i in range(n):
        img = Image.new("RGB", (size, size), (90, 90, 90))
        x = 10 + 15 * i
        ImageDraw.Draw(img).rectangle([x, 20, x + 29, 49], fill=(220, 40, 40))
        (root / "images").mkdir(parents=True, exist_ok=True)
        img.save(root / f"images/{i}.png")
        recs.append(dict(id=f"s{i}", task="rec", images=[f"images/{i}.png"], width=size, height=size,
                         query="the red square", category="square", boxes=[[x, 20, x + 30, 50]], labels=["square"],
                         is_unique=True))
    write_dataset(root, recs)
    return root


@register_reward("test_length")
def length_reward(completions, **kwargs):
    """Varies between completions of a random model (format and IoU are all 0 there, so their
    advantages vanish and GRPO rightly changes nothing)."""
    return [min(len(completion_text(c)), 40) / 40 for c in completions]


TINY_GRPO = {
    "method": "grpo",
    "model": {"name": "tiny"},
    "rewards": {"format": 1.0, "rec_iou": 2.0, "test_length": 1.0},
    "trainer": {"max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 4,
                "max_completion_length": 12, "learning_rate": 1e-3, "save_steps": 1, "logging_steps": 1,
                "report_to": [], "use_cpu": True, "bf16": False},
}


def test_recipe_round_trip_and_overrides(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump({**TINY_GRPO, "data": {"train": ["x"]}}))
    r = load_recipe(p, ["trainer.learning_rate=5e-6", "rewards.format=0.5", "model.lora.r=8"])
    assert r.trainer["learning_rate"] == 5e-6 and r.rewards == {"format": 0.5, "rec_iou": 2.0, "test_length": 1.0}
    assert r.model.lora.r == 8 and r.model.lora.alpha == 32
    assert recipe_from_dict(r.to_dict()).to_dict() == r.to_dict()


@pytest.mark.parametrize("d, text", [
    ({"modle": {}}, "unknown key 'modle'"),
    ({"model": {"nmae": "tiny"}}, "unknown key 'model.nmae'"),
    ({"data": {"trian": []}}, "unknown key 'data.trian'"),
    ({"trainer": {"learning_rat": 1}}, "unknown key 'trainer.learning_rat' (not a field of TRL's GRPOConfig or geor1's GeoGRPOConfig)"),
    ({"rewards": {"iou": 1.0}}, "unknown reward 'rewards.iou'"),
    ({"rewards": {}}, "needs at least one reward"),
    ({"method": "ppo"}, "'method' must be one of"),
    ({"model": {"lora": {"rank": 4}}}, "unknown key 'model.lora.rank'"),
])
def test_recipe_errors_name_the_key(d, text):
    base = {"method": "grpo", "rewards": {"format": 1.0}}
    with pytest.raises(RecipeError) as e:
        recipe_from_dict({**base, **d}, "r.yaml")
    assert str(e.value).startswith("r.yaml: ") and text in str(e.value)


def test_every_reward_name_resolves():
    from geor1.tasks import all_rewards, get_reward_funcs

    names = sorted(all_rewards())
    for expected in ("format", "rec_iou", "ovd_map", "gres_iou", "mcq_accuracy", "cosine_length",
                     "repetition_penalty", "distance_credit"):
        assert expected in names
    assert len(get_reward_funcs(names)) == len(names)
    with pytest.raises(ValueError, match="unknown reward"):
        get_reward_funcs(["nope"])


def test_shipped_recipes_load():
    from geor1.train.recipe import list_recipes

    names = list_recipes()
    assert {"qwen2.5-vl-3b/grpo_rec_vrsbench_fs", "qwen2.5-vl-3b/dapo_rec_vrsbench_fs",
            "qwen2.5-vl-7b/grpo_crossview_cvcities", "tiny/grpo_rec"} <= set(names)
    for name in names:
        r = load_recipe(name)
        assert r.source.endswith(name + ".yaml")
    dapo = load_recipe("qwen2.5-vl-3b/dapo_rec_vrsbench_fs")
    assert dapo.trainer["loss_type"] == "dapo" and dapo.trainer["epsilon_high"] == 0.28
    with pytest.raises(RecipeError, match="no shipped recipe of that name"):
        load_recipe("tiny/nope")


def test_last_complete_checkpoint_ignores_partial(tmp_path):
    for step, done in [(10, True), (20, True), (30, False)]:
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        if done:
            (d / COMPLETE).write_text(str(step))
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-20")
    assert last_complete_checkpoint(tmp_path / "nothing") is None


@pytest.mark.slow
def test_grpo_tiny_changes_weights_logs_rewards_and_resumes(tmp_path):
    from geor1.train.run import train

    data = make_rec_dataset(tmp_path / "data")
    out = tmp_path / "run"
    d = json.loads(json.dumps(TINY_GRPO))
    d["data"] = {"train": [str(data)]}
    d["trainer"]["output_dir"] = str(out)
    recipe = recipe_from_dict(d)
    from geor1.models import load

    before = {k: v.clone() for k, v in load("tiny")[0].state_dict().items()}
    trainer = train(recipe)
    assert trainer.state.global_step == 2
    after = trainer.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "GRPO left every weight unchanged"
    assert (out / "final" / "model.safetensors").is_file() and (out / "final" / "tokenizer.json").is_file()
    assert last_complete_checkpoint(out) == str(out / "checkpoint-2")
    # the checkpoint says how it was trained to answer: the think template (the random tiny model's
    # default, the recipe having no data.think), completions of 12 tokens, any task
    config = json.loads((out / "final" / "config.json").read_text())
    assert (config["geor1_think"], config["geor1_max_new_tokens"], config["geor1_tasks"]) == (True, 12, None)

    rows = list(csv.DictReader(open(out / "completions.csv")))
    assert {r["reward"] for r in rows} == {"format", "rec_iou", "test_length"}
    assert len(rows) == 2 * 3 * 4  # steps x rewards x completions
    assert all(0.0 <= float(r["value"]) <= 1.0 for r in rows)
    metrics = list(csv.DictReader(open(out / "metrics.csv")))
    assert any("rewards/rec_iou/mean" in m and m["rewards/rec_iou/mean"] != "" for m in metrics)
    assert (out / "recipe.yaml").is_file()

    # Resume: a partial checkpoint-3 (no COMPLETE marker) must be ignored; training continues at 2 -> 4.
    shutil.copytree(out / "checkpoint-2", out / "checkpoint-3")
    (out / "checkpoint-3" / COMPLETE).unlink()
    d["trainer"]["max_steps"] = 4
    trainer = train(recipe_from_dict(d))
    assert trainer.state.global_step == 4
    steps = {int(r["step"]) for r in csv.DictReader(open(out / "completions.csv"))}
    assert steps == {0, 1, 2, 3}


def launch_two_processes(tmp_path, trainer: dict):
    """``geor1 train grpo`` under ``accelerate launch`` with 2 CPU processes (gloo) on the hand-made
    REC data; ``trainer`` updates TINY_GRPO's trainer section. Returns (completed process, output_dir)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from geor1.train.recipe import RECIPES_DIR

    data = make_rec_dataset(tmp_path / "data")
    out = tmp_path / "run"
    d = json.loads(json.dumps(TINY_GRPO))
    d["rewards"] = {"format": 1.0, "rec_iou": 1.0}
    d["data"] = {"train": [str(data)]}
    d["trainer"].update(output_dir=str(out), save_steps=10, **trainer)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(d))
    accelerate = Path(sys.executable).parent / "accelerate"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(accelerate), "launch", "--config_file", str(RECIPES_DIR / "accelerate/cpu_2proc.yaml"),
                           "-m", "geor1.cli", "train", "grpo", str(recipe)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


@pytest.mark.slow
def test_accelerate_two_cpu_processes_run_grpo(tmp_path):
    """The multi-process path for real: accelerate launch, 2 CPU processes (gloo), a few GRPO steps."""
    proc, out = launch_two_processes(tmp_path, dict(per_device_train_batch_size=2, num_generations=4))
    assert "done: 2 steps" in proc.stdout
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    # Each step's 4 completions were split 2 per process; the main process records its own share:
    # 2 steps x 2 rewards x 2 completions (a single process would have recorded 16 rows).
    rows = list(csv.DictReader(open(out / "completions.csv")))
    assert {r["reward"] for r in rows} == {"format", "rec_iou"}
    assert len(rows) == 8


def test_initial_weights_are_written_once(tmp_path):
    """A second run into the same output folder (a resume) keeps the weights written first."""
    from geor1.models import load
    from geor1.train.run import _materialise_initial_weights

    first, processor = load("tiny")
    _materialise_initial_weights(first, processor, tmp_path)
    weights = tmp_path / "initial" / "model.safetensors"
    before = weights.read_bytes()
    second, _ = load("tiny")
    _materialise_initial_weights(second, processor, tmp_path)
    assert weights.read_bytes() == before
    assert second.config._name_or_path == str(tmp_path / "initial")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["initial"]


@pytest.mark.slow
def test_a_resumed_run_continues_from_the_checkpoint_weights(tmp_path, monkeypatch):
    """Resuming restores the checkpoint's weights, not only its step and optimizer: the first
    generation of a resumed run sees exactly the weights of the checkpoint. (transformers' Trainer
    loads the saved keys raw, but save_pretrained writes Qwen-VL weights under the original
    checkpoint names, so on its own it restored nothing.) A run whose checkpoint holds all its
    steps trains no further one."""
    from safetensors.torch import load_file

    from geor1.train.dapo import GeoGRPOTrainer
    from geor1.train.run import train

    data = make_rec_dataset(tmp_path / "data")
    out = tmp_path / "run"
    d = json.loads(json.dumps(TINY_GRPO))
    d["data"] = {"train": [str(data)]}
    d["trainer"].update(output_dir=str(out), save_steps=2)
    train(recipe_from_dict(d))
    saved = load_file(out / "checkpoint-2" / "model.safetensors")

    seen = []
    real = GeoGRPOTrainer._generate_and_score_completions

    def spy(self, inputs):
        if not seen:
            seen.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})
        return real(self, inputs)

    monkeypatch.setattr(GeoGRPOTrainer, "_generate_and_score_completions", spy)
    d["trainer"]["max_steps"] = 3
    assert train(recipe_from_dict(d)).state.global_step == 3
    from geor1.models import load

    reference, _ = load(str(out / "checkpoint-2"))  # the checkpoint read by from_pretrained: internal names
    want = reference.state_dict()
    assert seen and seen[0].keys() == want.keys() and all(torch.equal(seen[0][k], want[k]) for k in want)
    assert len(saved) > 0

    monkeypatch.setattr(GeoGRPOTrainer, "_generate_and_score_completions", real)
    assert train(recipe_from_dict(d)).state.global_step == 3  # all 3 steps done: nothing more is trained

"""DAPO dynamic sampling (geor1.train.dapo): hand-checked group filtering and batch
concatenation, the round logic against a scripted generator, and a tiny-model GRPO run."""

import csv
import json
import zlib
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from trl import GRPOTrainer

from geor1.tasks.common import completion_text, register_reward
from geor1.train.dapo import GeoGRPOTrainer, concat_batches, informative_groups, take_rows

NAN = float("nan")


def test_informative_groups_hand_checked():
    rewards = torch.tensor([0, 0, 0, 0,            # all wrong: dropped
                            0, 1, 0, 0,            # one right: kept
                            NAN, NAN, NAN, NAN,    # nothing scorable: dropped
                            0.5, NAN, 0.5, 0.5,    # equal where scored: dropped
                            1, NAN, 0, NAN,        # differ where scored: kept
                            0.3, 0.3, 0.3 + 1e-9, 0.3])  # equal within tolerance: dropped
    assert informative_groups(rewards, 4).tolist() == [False, True, False, False, True, False]
    assert informative_groups(torch.tensor([1.0, 1.0, 2.0, 2.0]), 2).tolist() == [False, False]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(-5, 5), st.just(NAN)), min_size=3, max_size=3), min_size=1, max_size=8))
def test_informative_groups_property(groups):
    got = informative_groups(torch.tensor(groups, dtype=torch.float64).flatten(), 3).tolist()
    want = []
    for g in groups:
        scored = [x for x in g if x == x]
        want.append(len(scored) >= 2 and max(scored) - min(scored) > 1e-6)
    assert got == want


def _part(prompts, completions, pad=0):
    """A generation batch as TRL returns it: prompts left-padded, completions right-padded."""
    p = max(len(x) for x in prompts)
    c = max(len(x) for x in completions)
    prompt_ids = torch.tensor([[pad] * (p - len(x)) + x for x in prompts])
    completion_ids = torch.tensor([x + [pad] * (c - len(x)) for x in completions])
    prompt_mask = torch.tensor([[0] * (p - len(x)) + [1] * len(x) for x in prompts])
    completion_mask = torch.tensor([[1] * len(x) + [0] * (c - len(x)) for x in completions])
    mm = torch.cat([torch.where(prompt_ids == 7, 1, 0), torch.zeros_like(completion_ids)], dim=1)
    return {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
            "completion_mask": completion_mask, "advantages": torch.arange(len(prompts), dtype=torch.float),
            "mm_token_type_ids": mm, "old_per_token_logps": completion_mask * -1.5,
            "num_items_in_batch": torch.tensor(99), "num_images": [1] * len(prompts),
            "image_grid_thw": [torch.tensor([[1, 2, 2]])] * len(prompts)}


def test_concat_batches_repads_prompts_left_and_completions_right():
    a = _part([[7, 5], [7, 5]], [[1, 2, 3], [4]])
    b = take_rows(_part([[7, 7, 6, 6], [9]], [[8], [8, 8]]), [0])
    m = concat_batches([a, b], pad_token_id=0)
    assert m["prompt_ids"].tolist() == [[0, 0, 7, 5], [0, 0, 7, 5], [7, 7, 6, 6]]
    assert m["prompt_mask"].tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1]]
    assert m["completion_ids"].tolist() == [[1, 2, 3], [4, 0, 0], [8, 0, 0]]
    assert m["completion_mask"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 0, 0]]
    assert m["old_per_token_logps"].tolist() == [[-1.5, -1.5, -1.5], [-1.5, 0, 0], [-1.5, 0, 0]]
    # image tokens stay over the image positions of the re-padded prompt, zeros over completions
    assert m["mm_token_type_ids"].tolist() == [[0, 0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]]
    assert m["advantages"].tolist() == [0.0, 1.0, 0.0]
    assert m["num_images"] == [1, 1, 1] and len(m["image_grid_thw"]) == 3
    assert concat_batches([a], 0) is a


class _OneProcess:
    num_processes, process_index = 1, 0

    @staticmethod
    def gather(t):
        return t.reshape(1) if t.ndim == 0 else t


def _scripted_trainer(monkeypatch, script, *, max_rounds=3, G=2):
    """A GeoGRPOTrainer without a model: TRL's round is replaced by one that 'generates' for each
    prompt id the rewards ``script[id]`` and writes the id into the prompt ids."""
    t = object.__new__(GeoGRPOTrainer)
    t.num_generations = G
    t.args = SimpleNamespace(dynamic_sampling=True, dynamic_sampling_max_rounds=max_rounds, seed=0)
    t.accelerator = _OneProcess()
    t.model = SimpleNamespace(training=True)
    t._metrics = {"train": defaultdict(list)}
    t.sampling_totals = defaultdict(int)
    t.reward_weights = torch.ones(1)
    t._tokenizer = SimpleNamespace(pad_token_id=0)
    t.pad_to_multiple_of = None
    t.state = SimpleNamespace(global_step=0)
    t.train_dataset = [{"id": i} for i in sorted(script)]
    calls = []

    def one_round(self, inputs):
        ids = [x["id"] for x in inputs]
        calls.append(ids)
        rewards = [script[i][k % G] for k, i in enumerate(ids)]
        self._round_rewards_per_func = torch.tensor(rewards, dtype=torch.float).unsqueeze(1)
        width = 1 + len(calls)  # every round pads its prompts to another width
        return {"prompt_ids": torch.tensor([[0] * (width - 1) + [100 + i] for i in ids]),
                "prompt_mask": torch.tensor([[0] * (width - 1) + [1] for _ in ids]),
                "completion_ids": torch.ones(len(ids), len(calls), dtype=torch.long),
                "completion_mask": torch.ones(len(ids), len(calls), dtype=torch.long),
                "advantages": (r := torch.tensor(rewards, dtype=torch.float)) - r.view(-1, G).mean(1).repeat_interleave(G),
                "num_items_in_batch": torch.tensor(0)}

    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", one_round)
    return t, calls


def _batch(ids, G=2):
    return [{"id": i} for i in ids for _ in range(G)]


def _kept(out):
    return [int(r[-1]) - 100 for r in out["prompt_ids"]]


def test_equal_reward_groups_are_dropped_and_the_batch_refilled(monkeypatch):
    script = {0: [0, 0], 1: [0, 1], 2: [1, 1], 3: [1, 0], 4: [0.5, 0.2]}
    t, calls = _scripted_trainer(monkeypatch, script)
    out = t._generate_and_score_completions(_batch([0, 1, 2]))
    kept = _kept(out)
    assert len(kept) == 6 and kept[:2] == [1, 1]          # the informative group of the first round, first
    assert all(script[i][0] != script[i][1] for i in kept)  # no flat group trained on
    assert calls[0] == [0, 0, 1, 1, 2, 2] and len(calls) >= 2  # fresh prompts were generated for
    assert all(len(c) == 6 for c in calls)                    # a full generation batch each round
    assert out["num_items_in_batch"].item() == int(out["completion_mask"].sum())
    m = t._metrics["train"]
    assert m["dynamic_sampling/rounds"] == [len(calls)] and m["dynamic_sampling/filled_groups"] == [0]
    assert m["dynamic_sampling/generated_groups"] == [3 * len(calls)]


def test_a_fully_informative_batch_is_returned_as_generated(monkeypatch):
    t, calls = _scripted_trainer(monkeypatch, {0: [0, 1], 1: [1, 0]})
    out = t._generate_and_score_completions(_batch([0, 1]))
    assert len(calls) == 1 and _kept(out) == [0, 0, 1, 1]
    assert t._metrics["train"]["dynamic_sampling/informative_frac"] == [1.0]


@pytest.mark.parametrize("max_rounds", [0, 2])
def test_the_cap_on_extra_rounds_is_respected(monkeypatch, max_rounds):
    script = {0: [0, 0], 1: [1, 1], 2: [0, 1]}
    t, calls = _scripted_trainer(monkeypatch, {0: [0, 0], 1: [1, 1]}, max_rounds=max_rounds)
    out = t._generate_and_score_completions(_batch([0, 1]))
    assert len(calls) == 1 + max_rounds                  # never more than the cap
    assert _kept(out) == [0, 0, 1, 1]                    # topped up with the first round's flat groups
    assert t._metrics["train"]["dynamic_sampling/filled_groups"] == [2]
    # with one informative prompt in the pool, it is found and the rest topped up
    t, calls = _scripted_trainer(monkeypatch, script, max_rounds=max_rounds)
    out = t._generate_and_score_completions(_batch([0, 1]))
    assert len(calls) <= 1 + max_rounds and len(_kept(out)) == 4


def test_evaluation_and_a_switched_off_trainer_are_trl_unchanged(monkeypatch):
    t, calls = _scripted_trainer(monkeypatch, {0: [0, 0]})
    t.model.training = False
    assert _kept(t._generate_and_score_completions(_batch([0]))) == [0, 0]
    t.model.training, t.args.dynamic_sampling = True, False
    t._generate_and_score_completions(_batch([0]))
    assert len(calls) == 2 and not t._metrics["train"]


# -- the real thing on the tiny model ----------------------------------------------------------

FLAT = {"s0", "s1"}


@register_reward("test_flat_for_some")
def flat_for_some(completions, id, **kwargs):
    """0 for every completion of s0/s1 (their groups carry no signal), a hash of the text otherwise."""
    return [0.0 if i in FLAT else (zlib.crc32(completion_text(c).encode()) % 1000) / 1000
            for c, i in zip(completions, id)]


@pytest.mark.slow
def test_tiny_grpo_with_dynamic_sampling_trains_only_on_informative_groups(tmp_path, monkeypatch):
    from test_train import TINY_GRPO, make_rec_dataset

    from geor1.train.recipe import recipe_from_dict
    from geor1.train.run import train

    batches = []
    real = GeoGRPOTrainer._dynamic_batch

    def spy(self, inputs):
        out = real(self, inputs)
        batches.append(out)
        return out

    monkeypatch.setattr(GeoGRPOTrainer, "_dynamic_batch", spy)
    data = make_rec_dataset(tmp_path / "data")
    d = json.loads(json.dumps(TINY_GRPO))
    d["data"] = {"train": [str(data)]}
    d["rewards"] = {"test_flat_for_some": 1.0}
    d["trainer"].update(output_dir=str(tmp_path / "run"), per_device_train_batch_size=8, num_generations=4,
                        dynamic_sampling=True, dynamic_sampling_max_rounds=4, overlong_buffer_len=4)
    trainer = train(recipe_from_dict(d))
    assert trainer.state.global_step == 2 and len(batches) == 2
    for b in batches:
        assert b["completion_ids"].shape[0] == 8 and b["num_images"] == [1] * 8
        assert b["pixel_values"].shape[0] == int(b["image_grid_thw"].prod(-1).sum())
        groups = b["advantages"].view(-1, 4)
        assert bool(((groups.max(1).values - groups.min(1).values) > 0).all())  # no flat group left
    metrics = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    logged = [m for m in metrics if m.get("dynamic_sampling/rounds")]
    assert logged and all(1 <= float(m["dynamic_sampling/rounds"]) <= 5 for m in logged)
    assert trainer.sampling_totals["steps"] == 2
    rows = list(csv.DictReader(open(tmp_path / "run" / "completions.csv")))
    over = [float(r["value"]) for r in rows if r["reward"] == "overlong"]
    assert over and all(-1.0 <= v <= 0.0 for v in over)  # DAPO's soft overlong punishment, recorded

    # nothing informative at all: the cap holds and the step still trains on a full batch
    FLAT.update({"s2", "s3"})
    try:
        batches.clear()
        d["trainer"].update(output_dir=str(tmp_path / "flat"), max_steps=1, dynamic_sampling_max_rounds=1,
                            overlong_buffer_len=0)  # (its length penalty would make groups differ)
        trainer = train(recipe_from_dict(d))
    finally:
        FLAT.difference_update({"s2", "s3"})
    assert trainer.sampling_totals == {"steps": 1, "generated_groups": 4, "informative_groups": 0, "filled_groups": 2}
    assert batches[0]["completion_ids"].shape[0] == 8


@pytest.mark.slow
def test_dynamic_sampling_in_two_processes(tmp_path):
    """accelerate launch, 2 CPU processes: the rounds stay in step across processes (every collective
    is called as often on both) up to the cap, and the batch is topped up. (A random model scores 0 on
    format and IoU, so every group is flat; a reward defined in a test module would not reach the
    subprocesses.)"""
    from test_train import launch_two_processes

    _, out = launch_two_processes(tmp_path, dict(per_device_train_batch_size=4, num_generations=4,
                                                 dynamic_sampling=True, dynamic_sampling_max_rounds=3))
    metrics = [m for m in csv.DictReader(open(out / "metrics.csv")) if m.get("dynamic_sampling/rounds")]
    assert len(metrics) == 2
    for m in metrics:  # 1 + 3 rounds, 2 processes x 1 group a round, both processes' groups topped up
        assert [float(m[f"dynamic_sampling/{k}"]) for k in ("rounds", "generated_groups", "filled_groups")] == [4, 8, 2]


@pytest.mark.slow
def test_dynamic_sampling_benchmark_quick(tmp_path):
    """benchmarks/bench_dynamic_sampling.py --quick: both runs train as many groups; the run with
    dynamic sampling generates at least as many, and the printed table carries the ratios."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "benchmarks/bench_dynamic_sampling.py", "--quick", "--out", str(tmp_path)],
                          cwd=repo, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads((tmp_path / "result.json").read_text())
    off, on = r["off"], r["on"]
    assert off["steps"] == on["steps"] == 2 and off["groups_trained"] == on["groups_trained"] == 4
    assert off["groups_generated"] == 4 and 4 <= on["groups_generated"] <= 4 * 4  # 1 + 3 rounds at most
    assert 0 <= off["informative_trained"] <= 4 and 0 <= on["informative_trained"] <= 4
    assert "| groups generated | 4 |" in done.stdout

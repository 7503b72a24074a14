"""DAPO's additions to TRL's GRPOTrainer: dynamic sampling and the soft overlong punishment.

TRL already has DAPO's clip-higher (``epsilon_high``), token-level loss (``loss_type: dapo``) and
overlong filtering (``mask_truncated_completions``).

A group whose completions all earn the same reward has zero advantage: it moves the policy only
through the KL term and dilutes the token-mean loss. With a few labels per category that is most
groups (all wrong early on, all right later). Dynamic sampling (Yu et al., 2025, §3.2) drops those
groups and generates again from fresh prompts until the generation batch holds informative groups
only, as verl's ``algorithm.filter_groups`` and EasyR1's ``online_filtering`` do; TRL itself only
logs ``frac_reward_zero_std``.

In a recipe (any GRPO recipe)::

    trainer:
      dynamic_sampling: true
      dynamic_sampling_max_rounds: 3   # extra generation rounds per step, at most
      overlong_buffer_len: 256         # DAPO's soft overlong punishment over the last 256 tokens

How it sits on TRL: ``_generate_and_score_completions`` returns one round's scored, padded batch.
While informative groups are short we call it again on prompts drawn afresh from the training set,
keep each round's informative groups, and concatenate them (prompts re-padded on the left,
completions on the right) into a batch of exactly the size TRL expects. When the cap is reached
the batch is topped up with zero-advantage groups of the first round (logged as
``dynamic_sampling/filled_groups``) rather than failing the run, as verl does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import pad, split_pixel_values_by_grid, unsplit_pixel_values_by_grid

PROMPT_SIDE = {"prompt_ids", "prompt_mask"}                  # left-padded
PROMPT_THEN_COMPLETION = {"token_type_ids", "mm_token_type_ids"}  # [prompt part | completion part]
COMPLETION_SIDE = {"completion_ids", "completion_mask", "tool_mask", "old_per_token_logps",
                   "ref_per_token_logps", "sampling_per_token_logps", "importance_sampling_ratio"}


@dataclass
class GeoGRPOConfig(GRPOConfig):
    """TRL's GRPOConfig plus DAPO's dynamic sampling and soft overlong punishment."""

    dynamic_sampling: bool = field(default=False, metadata={
        "help": "Drop groups whose rewards are all equal and generate again until the batch is informative."})
    dynamic_sampling_max_rounds: int = field(default=3, metadata={
        "help": "Extra generation rounds per step at most; then the batch is topped up with zero-advantage groups."})
    overlong_buffer_len: int = field(default=0, metadata={
        "help": "DAPO's soft overlong punishment: penalise the last N tokens before max_completion_length (0: off)."})
    overlong_penalty_factor: float = field(default=1.0, metadata={
        "help": "Weight of the overlong punishment (a reward in [-1, 0])."})

    def __post_init__(self):
        super().__post_init__()
        if self.dynamic_sampling_max_rounds < 0:
            raise ValueError(f"trainer.dynamic_sampling_max_rounds must be >= 0, got {self.dynamic_sampling_max_rounds}")
        if self.overlong_buffer_len < 0 or self.overlong_buffer_len > (self.max_completion_length or 0):
            raise ValueError(f"trainer.overlong_buffer_len must be between 0 and max_completion_length "
                             f"({self.max_completion_length}), got {self.overlong_buffer_len}")


def overlong_reward(max_completion_length: int, buffer_len: int):
    """DAPO's soft overlong punishment (TRL's ``get_soft_overlong_punishment``, Eq. 13) as a geor1
    reward: 0 up to ``max - buffer`` tokens, then falling linearly to -1 at ``max``."""
    from trl.rewards import get_soft_overlong_punishment

    punish = get_soft_overlong_punishment(max_completion_length, buffer_len)

    def overlong(completions, completion_ids, **kwargs):
        return punish(completion_ids)

    return overlong


def informative_groups(rewards: torch.Tensor, num_generations: int, atol: float = 1e-6) -> torch.Tensor:
    """One bool per group of ``num_generations`` consecutive rewards: do they differ (beyond ``atol``)?
    NaN rewards (unscorable completions) are ignored; a group with fewer than two scores is not informative."""
    grouped = rewards.reshape(-1, num_generations).float()
    hi = grouped.nan_to_num(nan=float("-inf")).max(dim=1).values
    lo = grouped.nan_to_num(nan=float("inf")).min(dim=1).values
    return (hi - lo) > atol


def take_rows(batch: dict, rows: list[int]) -> dict:
    """The given rows of a (pixel-split) generation batch; scalars are kept as they are."""
    index = torch.tensor(rows, dtype=torch.long)
    out = {}
    for k, v in batch.items():
        if v is None or (torch.is_tensor(v) and v.ndim == 0):
            out[k] = v
        elif isinstance(v, list):
            out[k] = [v[i] for i in rows]
        else:
            out[k] = v[index.to(v.device)]
    return out


def _pad_rows(parts: list[torch.Tensor], value, side: str, multiple: int | None) -> torch.Tensor:
    return pad([row for t in parts for row in t], padding_value=value, padding_side=side, pad_to_multiple_of=multiple)


def concat_batches(parts: list[dict], pad_token_id: int, pad_to_multiple_of: int | None = None) -> dict:
    """Concatenate (pixel-split) generation batches of different padded widths along the rows:
    prompts padded on the left, completions on the right, ``[prompt | completion]`` fields split at
    each part's prompt width. Scalars (``num_items_in_batch``) are the first part's: recompute them."""
    if len(parts) == 1:
        return parts[0]
    keys = list(parts[0])
    if any(list(p) != keys for p in parts):
        raise ValueError(f"dynamic sampling: generation rounds returned different fields: "
                         f"{sorted(set().union(*parts) - set(keys)) or keys}")
    widths = [p["prompt_ids"].shape[1] for p in parts]
    out = {}
    for k in keys:
        vals = [p[k] for p in parts]
        first = vals[0]
        if first is None or (torch.is_tensor(first) and first.ndim == 0):
            out[k] = first
        elif isinstance(first, list):
            out[k] = [x for v in vals for x in v]
        elif k in PROMPT_SIDE:
            out[k] = _pad_rows(vals, pad_token_id if k == "prompt_ids" else 0, "left", pad_to_multiple_of)
        elif k in COMPLETION_SIDE:
            value = pad_token_id if k == "completion_ids" else (1 if k == "tool_mask" else 0)
            out[k] = _pad_rows(vals, value, "right", pad_to_multiple_of)
        elif k in PROMPT_THEN_COMPLETION:
            left = _pad_rows([v[:, :w] for v, w in zip(vals, widths)], 0, "left", pad_to_multiple_of)
            right = _pad_rows([v[:, w:] for v, w in zip(vals, widths)], 0, "right", pad_to_multiple_of)
            out[k] = torch.cat([left, right], dim=1)
        else:  # one value per row (advantages, ...)
            out[k] = torch.cat(vals, dim=0)
    return out


class GeoGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer with ``args.dynamic_sampling`` (see the module docstring). Without it the
    trainer is TRL's, unchanged. ``sampling_totals`` counts groups generated and trained on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sampling_totals = {"steps": 0, "generated_groups": 0, "informative_groups": 0, "filled_groups": 0}
        if getattr(self.args, "dynamic_sampling", False):
            local = self.args.per_device_train_batch_size * self.args.steps_per_generation
            if local % self.num_generations:
                raise ValueError(
                    f"trainer.dynamic_sampling needs per_device_train_batch_size x steps_per_generation ({local}) "
                    f"to be a multiple of num_generations ({self.num_generations}), so that a group stays on one process")
            if not hasattr(self.train_dataset, "__getitem__"):
                raise ValueError("trainer.dynamic_sampling needs a map-style training dataset to draw fresh prompts from")

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._round_rewards_per_func = rewards_per_func  # gathered over processes, in process order
        return rewards_per_func

    def _round_rewards(self) -> torch.Tensor:
        """The last round's weighted reward per completion (all processes), NaN where none scored it."""
        r = self._round_rewards_per_func
        total = (r * self.reward_weights.to(r.device).unsqueeze(0)).nansum(dim=1)
        total[torch.isnan(r).all(dim=1)] = float("nan")
        return total

    def _generate_and_score_completions(self, inputs):
        if not (getattr(self.args, "dynamic_sampling", False) and self.model.training):
            return super()._generate_and_score_completions(inputs)
        return self._dynamic_batch(inputs)

    def _fresh_prompts(self, n_groups: int, round_: int) -> list[dict]:
        """``n_groups`` prompts drawn from the training set (seeded by seed, process, step and round,
        so a resumed run draws the same), each repeated num_generations times as TRL's sampler does."""
        ds = self.train_dataset
        key = f"{self.args.seed}/{self.accelerator.process_index}/{self.state.global_step}/{round_}".encode()
        g = torch.Generator().manual_seed(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
        if len(ds) >= n_groups:
            idx = torch.randperm(len(ds), generator=g)[:n_groups]
        else:
            idx = torch.randint(len(ds), (n_groups,), generator=g)
        rows = []
        for i in idx.tolist():
            row = ds[i]
            rows.extend(dict(row) for _ in range(self.num_generations))
        return rows

    def _dynamic_batch(self, inputs: list[dict]) -> dict:
        G = self.num_generations
        need = len(inputs) // G
        nproc, rank = self.accelerator.num_processes, self.accelerator.process_index
        have = torch.zeros(nproc, dtype=torch.long)   # informative groups kept, per process
        parts, first, first_bad = [], None, []
        generated = informative = rounds = 0
        batch = inputs
        while True:
            out = split_pixel_values_by_grid(super()._generate_and_score_completions(batch))
            good = informative_groups(self._round_rewards(), G).view(nproc, -1).cpu()
            rounds += 1
            generated += good.numel()
            informative += int(good.sum())
            if first is None:
                first, first_bad = out, torch.nonzero(~good[rank]).flatten().tolist()
            mine = torch.nonzero(good[rank]).flatten().tolist()[: need - int(have[rank])]
            if len(mine) == need and not parts:
                parts.append(out)  # the whole round is informative: nothing to cut
            elif mine:
                parts.append(take_rows(out, [g * G + j for g in mine for j in range(G)]))
            have = torch.minimum(have + good.sum(dim=1), torch.full_like(have, need))
            if bool((have >= need).all()) or rounds > self.args.dynamic_sampling_max_rounds:
                break
            batch = self._fresh_prompts(need, rounds)
        short = need - int(have[rank])
        if short:
            parts.append(take_rows(first, [g * G + j for g in first_bad[:short] for j in range(G)]))
        merged = concat_batches(parts, self._tokenizer.pad_token_id, self.pad_to_multiple_of)
        loss_mask = merged["completion_mask"]
        if merged.get("tool_mask") is not None:
            loss_mask = loss_mask * merged["tool_mask"]
        merged["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
        filled = int((need - have).sum())
        self._log_sampling(rounds, generated, informative, filled)
        return unsplit_pixel_values_by_grid(merged)

    def _log_sampling(self, rounds: int, generated: int, informative: int, filled: int) -> None:
        m = self._metrics["train"]
        m["dynamic_sampling/rounds"].append(rounds)
        m["dynamic_sampling/generated_groups"].append(generated)
        m["dynamic_sampling/informative_frac"].append(informative / max(generated, 1))
        m["dynamic_sampling/filled_groups"].append(filled)
        t = self.sampling_totals
        t["steps"] += 1
        t["generated_groups"] += generated
        t["informative_groups"] += informative
        t["filled_groups"] += filled

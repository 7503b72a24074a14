"""Run a recipe: load the model, build the data, wire the rewards, hand over to TRL.

Our code is the geospatial layer (data, rewards, frames, logs, resume); the optimisation is TRL's
``GRPOTrainer`` / ``SFTTrainer``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from geor1.train.logs import (
    CheckpointMarker,
    CompactProgress,
    CompletionRecorder,
    CsvMetricsLogger,
    last_complete_checkpoint,
)
from geor1.train.recipe import Recipe, dump_recipe

log = logging.getLogger("geor1.train")

# geor1 defaults on top of TRL's (a recipe's trainer section overrides them).
COMMON_DEFAULTS = dict(report_to=["tensorboard"], logging_steps=1, save_strategy="steps", save_steps=50,
                       save_total_limit=3, remove_unused_columns=False, dataloader_num_workers=0, seed=0)
GRPO_DEFAULTS = dict(loss_type="grpo", beta=0.04, num_generations=8, max_completion_length=256,
                     temperature=1.0, log_completions=False)
SFT_DEFAULTS = dict(max_length=None, completion_only_loss=True)


def _peft_config(recipe: Recipe):
    if recipe.model.lora is None:
        return None
    from peft import LoraConfig

    lo = recipe.model.lora
    return LoraConfig(r=lo.r, lora_alpha=lo.alpha, lora_dropout=lo.dropout, target_modules=lo.target_modules,
                      task_type="CAUSAL_LM")


def _load_model(recipe: Recipe):
    """``(model, processor, frame, family)``: the model ready to train (vision tower frozen when the
    recipe says so; otherwise kept in the graph for text-only batches, see ModelFamily.prepare_for_training)."""
    from geor1.models import answer_frame, family_of_model, load

    m = recipe.model
    model, processor = load(m.name, checkpoint=m.checkpoint, dtype=m.dtype, min_pixels=m.min_pixels,
                            max_pixels=m.max_pixels, attn_implementation=m.attn_implementation)
    family = family_of_model(model)
    if m.freeze_vision:
        family.freeze_vision(model)
    else:
        family.prepare_for_training(model)
    return model, processor, answer_frame(model, processor), family


def _materialise_initial_weights(model, processor, out: Path) -> None:
    """TRL builds the KL reference model by re-loading the policy from ``config._name_or_path``. A
    randomly initialised tiny model has no weights there, so save the initial weights once and point
    the config at them (the reference is then exactly the starting policy).
    In a distributed run every process gets here with the same seeded weights; transformers writes
    only on rank 0, so the others wait for it before anyone loads the folder."""
    import torch.distributed as dist

    src = Path(model.config._name_or_path or "")
    if src.is_dir() and not any(src.glob("*.safetensors")):
        init = out / "initial"
        if not (init / "model.safetensors").is_file():
            model.save_pretrained(init)
            processor.save_pretrained(init)
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
        model.config._name_or_path = str(init)


def _device_defaults() -> dict:
    """TRL's configs default to bf16; on a CPU that turns every matmul into a slow bf16 autocast
    (measured: a tiny-model GRPO backward took 24 s instead of about 1 s). Use float32 there."""
    import torch

    return {} if torch.cuda.is_available() else {"bf16": False, "use_cpu": True}


def _trainer_args(recipe: Recipe, defaults: dict, cls):
    kwargs = {**COMMON_DEFAULTS, **_device_defaults(), **defaults, **recipe.trainer}
    kwargs.setdefault("output_dir", "runs/" + recipe.method)
    return cls(**kwargs)


def _record_usage(config, recipe: Recipe, train_ds, args) -> None:
    """The fine-tuned checkpoint says how to ask it (geor1.models.Usage): as it was trained to answer,
    on the tasks it knew plus the ones trained here."""
    from geor1.models import record_usage, usage_of_config

    before = usage_of_config(config)
    trained = set(recipe.data.tasks) or {t for t in train_ds["task"] if t}
    tasks = None if before.tasks is None else set(before.tasks) | trained
    tokens = getattr(args, "max_completion_length", None) or (
        before.max_new_tokens if before.think == recipe.data.think else (512 if recipe.data.think else 64))
    record_usage(config, think=recipe.data.think, tasks=tasks, max_new_tokens=tokens)


def _restore_weights(trainer, ckpt: str) -> None:
    """Load a checkpoint's weights the way ``from_pretrained`` does. transformers' Trainer restores
    them with ``load_state_dict`` on the saved keys, but ``save_pretrained`` writes Qwen-VL weights
    under the original checkpoint names (``visual.*``, ``model.*``): every key was "unexpected", so
    a resumed run went on from its initial weights with the checkpoint's optimizer. LoRA adapters
    and DeepSpeed checkpoints are restored by the Trainer itself."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    if trainer.is_deepspeed_enabled or getattr(model, "peft_config", None) or not list(Path(ckpt).glob("*.safetensors")):
        return
    loaded = type(model).from_pretrained(ckpt, dtype=next(model.parameters()).dtype)
    model.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    trainer._load_from_checkpoint = lambda *args, **kwargs: None  # the weights are in; skip the raw reload


def train(recipe: Recipe, *, resume: bool = True):
    """Train ``recipe``; resumes from the last complete checkpoint in its output_dir when ``resume``.
    Returns the TRL trainer (its ``state`` holds the step count and log history)."""
    from transformers.trainer_callback import ProgressCallback

    from geor1.models import usage_of
    from geor1.train.data import grpo_dataset, load_samples, sft_dataset, sft_dataset_from_messages

    model, processor, frame, family = _load_model(recipe)
    d = recipe.data
    if d.think is None:  # as the checkpoint says it is asked (config.json's geor1_think; instruct models think)
        d.think = usage_of(recipe.model.name, recipe.model.checkpoint).think
    template_kwargs = family.chat_template_kwargs(d.think)
    if recipe.method == "grpo":
        from geor1.tasks import get_reward_funcs
        from geor1.train.dapo import GeoGRPOConfig, GeoGRPOTrainer, overlong_reward

        args = _trainer_args(recipe, GRPO_DEFAULTS, GeoGRPOConfig)
        if template_kwargs:
            args.chat_template_kwargs = {**template_kwargs, **(args.chat_template_kwargs or {})}
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        _materialise_initial_weights(model, processor, out)
        rows = load_samples(d.train, tasks=d.tasks, max_samples=d.max_samples, seed=d.seed)
        train_ds = grpo_dataset(rows, frame, think=d.think,
                                completion_prefix=family.completion_prefix(processor, think=d.think))
        names = list(recipe.rewards)
        recorder = CompletionRecorder(out / "completions.csv")
        funcs = [recorder.wrap(n, f) for n, f in zip(names, get_reward_funcs(names))]
        args.reward_weights = [recipe.rewards[n] for n in names]
        if args.overlong_buffer_len:  # DAPO's soft overlong punishment
            funcs.append(recorder.wrap("overlong", overlong_reward(args.max_completion_length, args.overlong_buffer_len)))
            args.reward_weights.append(args.overlong_penalty_factor)
        trainer = GeoGRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=train_ds,
                              processing_class=processor, peft_config=_peft_config(recipe))
    else:
        from trl import SFTConfig, SFTTrainer

        args = _trainer_args(recipe, SFT_DEFAULTS, SFTConfig)
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        jsonl = [p for p in d.train if str(p).endswith(".jsonl")]
        folders = [p for p in d.train if not str(p).endswith(".jsonl")]
        parts = [sft_dataset_from_messages(p) for p in jsonl]
        if folders:
            rows = load_samples(folders, tasks=d.tasks, max_samples=d.max_samples, seed=d.seed)
            parts.append(sft_dataset(rows, frame, think=d.think, target=d.sft_target,
                                     chat_template_kwargs=template_kwargs))
        import datasets

        train_ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
        trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, processing_class=processor,
                             peft_config=_peft_config(recipe))
    if trainer.pop_callback(ProgressCallback) is not None:  # the compact bar instead of printed log dicts
        trainer.add_callback(CompactProgress())
    trainer.add_callback(CheckpointMarker())
    trainer.add_callback(CsvMetricsLogger(out / "metrics.csv"))
    if trainer.is_world_process_zero():
        dump_recipe(recipe, out / "recipe.yaml")
    ckpt = last_complete_checkpoint(out) if resume else None
    done = None
    if ckpt:
        from transformers import TrainerState

        log.info("resuming from %s", ckpt)
        _restore_weights(trainer, ckpt)
        done = TrainerState.load_from_json(str(Path(ckpt) / "trainer_state.json"))
    if done is not None and 0 < args.max_steps <= done.global_step:
        log.info("%s already holds all %d steps", ckpt, args.max_steps)  # Trainer would train one more
        trainer.state = done
    else:
        trainer.train(resume_from_checkpoint=ckpt)
    _record_usage(trainer.model.config, recipe, train_ds, args)
    final = out / "final"
    trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        processor.save_pretrained(str(final))
    return trainer

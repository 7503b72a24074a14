"""One pretraining loop for both phases: a plain PyTorch loop (the nanoGPT way).

- ``vision``: the vision tower alone, with a linear dense object probe on its merged tokens (the
  tokens the language model receives). About ten times cheaper per image than a full step.
- ``full``: the whole model; answer-only cross-entropy plus the probes' losses (see
  :mod:`geor1.pretrain.probes`), and a greedy REC evaluation every ``eval_every`` steps.

The same recipe runs on a CPU and on CUDA: the model and batches move to the device, matrix work
runs under bf16 autocast there, and DataLoader workers render and encode samples on every core.
Checkpoints are atomic: ``last/`` is replaced by renames, never removed first, so a kill at any
moment leaves a complete ``last/`` (or ``last.tmp/``) to resume from. ``metrics.csv`` is appended
(one header, rows at every log) and mirrored to TensorBoard when it is installed.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import shutil
import time
from pathlib import Path

import torch

from geor1.io import atomic_write_json, replace
from geor1.pretrain import data as D
from geor1.pretrain.config import PretrainConfig
from geor1.pretrain.probes import (
    BoxProbe,
    DenseProbe,
    GroundingHead,
    PositionProbe,
    dense_loss,
    family_of_model,
)

log = logging.getLogger("geor1.pretrain")
STATE = "trainer_state.pt"
LOG_EVERY = 50
VISION_COLUMNS = ["step", "seconds", "samples_per_s", "lr", "loss", "presence_f1", "centre_f1", "box_iou"]
FULL_COLUMNS = ["step", "seconds", "samples_per_s", "lr", "loss", "position_loss", "box_loss", "dense_loss",
                "ground_loss", "acc_at_05", "acc_at_07", "mean_iou"]


def lr_at(step: int, base: float, warmup: int, decay: int) -> float:
    """Linear warm-up over ``warmup`` steps, then a cosine from ``base`` to 10 % of it at ``decay``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, decay - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def device_of(cfg: PretrainConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def autocast(cfg: PretrainConfig, device: torch.device):
    """bf16 autocast on CUDA (``precision: auto`` or ``bf16``); fp32 on a CPU, where bf16 autocast is slow."""
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------
# Checkpoints

def save_state(folder: Path, model, processor, extra: dict) -> None:
    """Write ``folder`` atomically: into ``folder.tmp`` (the trainer state last, so a folder with it
    is complete), then swap by renames; the old copy is removed only after the new one is in place."""
    tmp, old = folder.with_name(folder.name + ".tmp"), folder.with_name(folder.name + ".old")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    torch.save(extra, tmp / (STATE + ".partial"))
    replace(tmp / (STATE + ".partial"), tmp / STATE)
    if folder.exists():
        if old.exists():
            shutil.rmtree(old)
        replace(folder, old)
    replace(tmp, folder)
    if old.exists():
        shutil.rmtree(old)


def resume_folder(out: Path) -> Path | None:
    """The newest complete checkpoint of a run: ``last``, else the ``last.tmp`` or ``last.old`` a kill
    left between two renames."""
    for name in ("last", "last.tmp", "last.old"):
        if (out / name / STATE).is_file():
            return out / name
    return None


class Metrics:
    """Append-only ``metrics.csv`` (header once) mirrored to TensorBoard (``tb/``) when available."""

    def __init__(self, out: Path, columns: list[str]):
        path = out / "metrics.csv"
        new = not path.is_file() or path.stat().st_size == 0
        self.file = open(path, "a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.file, fieldnames=columns, extrasaction="ignore")
        if new:
            self.writer.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tb"))
        except ImportError:  # the GPU machine's image or a minimal install: the CSV is the record
            self.tb = None

    def write(self, row: dict) -> None:
        self.writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self.file.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


# ---------------------------------------------------------------------------------------------
# The two objectives: what a step computes

class VisionObjective:
    """The vision tower + a linear dense object probe on its merged tokens (cell-relative boxes)."""

    columns = VISION_COLUMNS

    def __init__(self, model, cfg: PretrainConfig):
        from geor1.synth.scene import CATEGORIES

        self.k = len(CATEGORIES)
        self.visual = family_of_model(model).vision(model)
        self.probe = torch.nn.Linear(model.config.text_config.hidden_size, self.k + 5)
        self.cfg = cfg

    def parameters(self) -> list:
        return list(self.visual.parameters()) + list(self.probe.parameters())

    def modules(self) -> dict:
        return {"probe": self.probe}

    def loader(self, processor, frame, pool: Path | None, start: int):
        ds = D.VisionPool(pool, processor, seed=self.cfg.seed, start=start, categories=self.cfg.categories)
        return ds, D.collate_vision

    def step(self, batch) -> tuple[torch.Tensor, dict]:
        from geor1.tasks.boxes import paired_iou

        feats = self.visual(batch["pixel_values"], grid_thw=batch["image_grid_thw"]).pooler_output
        pred, cells = self.probe(feats), batch["cells"]
        loss = dense_loss(pred, cells, self.k, torch.nn.functional.smooth_l1_loss)
        with torch.no_grad():
            k = self.k
            f1 = lambda p, t: float(2 * (p & t).sum() / max(1, int(p.sum() + t.sum())))
            centre = cells[:, k] > 0
            iou = paired_iou(pred[centre, k + 1:].float().cpu().numpy(), cells[centre, k + 1:].float().cpu().numpy())
            stats = {"presence_f1": f1(pred[:, :k] > 0, cells[:, :k] > 0), "centre_f1": f1(pred[:, k] > 0, centre),
                     "box_iou": float(iou.mean()) if len(iou) else 0.0}
        return loss, stats


class FullObjective:
    """The whole model: answer cross-entropy + position, box, dense and grounding losses."""

    columns = FULL_COLUMNS

    def __init__(self, model, cfg: PretrainConfig):
        self.model, self.cfg = model, cfg
        self.position = PositionProbe(model, cfg.position_layer)
        self.box = BoxProbe(model)
        self.dense = DenseProbe(model, self.position)
        self.grounding = GroundingHead(model, cfg.ground_layer) if cfg.ground_weight else None
        self.image_id = model.config.image_token_id

    def parameters(self) -> list:
        return ([p for p in self.model.parameters() if p.requires_grad] + list(self.position.parameters())
                + list(self.box.parameters()) + list(self.dense.parameters()))

    def modules(self) -> dict:
        return {"probe": self.position, "box_probe": self.box, "dense_probe": self.dense}

    def loader(self, processor, frame, pool: Path | None, start: int):
        c = self.cfg
        if pool is not None:
            ds = D.PoolStream(pool, processor, frame, think_fraction=c.think_fraction, seed=c.seed, start=start,
                              categories=c.categories)
        else:
            ds = D.SynthStream(processor, frame, tasks=c.tasks, think_fraction=c.think_fraction, size=c.size,
                               style=c.style, categories=c.categories, max_objects=c.max_objects, seed=c.seed,
                               start=start * c.batch)
        pad = processor.tokenizer.pad_token_id
        return ds, lambda b: D.collate(b, pad)

    def step(self, batch) -> tuple[torch.Tensor, dict]:
        c = self.cfg
        box_pos, box, cells = batch.pop("box_pos"), batch.pop("box"), batch.pop("cells")
        dense_mask, ground, spans = batch.pop("dense_mask"), batch.pop("ground"), batch.pop("ground_span")
        loss = self.model(**batch).loss
        ids = batch["input_ids"]
        position = self.position.loss(ids, self.image_id, batch["image_grid_thw"])
        box_loss = self.box.loss(box_pos, box)
        total = loss + c.position_weight * position + c.box_weight * box_loss
        dense = ground_loss = torch.zeros((), device=loss.device)
        if c.dense_weight:
            dense = self.dense.loss(ids, self.image_id, cells, dense_mask)
            total = total + c.dense_weight * dense
        if self.grounding is not None:
            ground_loss = self.grounding.loss(ids, self.image_id, ground, spans)
            total = total + c.ground_weight * ground_loss
        stats = {"ce": loss.detach(), "position_loss": position.detach(), "box_loss": box_loss.detach(),
                 "dense_loss": dense.detach(), "ground_loss": ground_loss.detach()}
        return total, stats


def _to(batch: dict, device: torch.device) -> dict:
    if device.type == "cpu":
        return batch
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else
                [t.to(device) for t in v] if isinstance(v, list) and v and isinstance(v[0], torch.Tensor) else v)
            for k, v in batch.items()}


# ---------------------------------------------------------------------------------------------
# The loop

def run_phase(cfg: PretrainConfig, *, resume: bool = False, progress: bool = True) -> dict:
    """Train one phase as ``cfg`` says; returns the final evaluation (full phase) and the step count.
    ``resume``: continue from the run folder's newest complete checkpoint when there is one."""
    from geor1.models import answer_frame, load

    device = device_of(cfg)
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    last = resume_folder(out) if resume else None
    pixels = {"min_pixels": cfg.pixels, "max_pixels": cfg.pixels} if cfg.pixels else {}
    eager = cfg.phase == "full" and cfg.ground_weight
    model, processor = load(str(last) if last else cfg.init, seed=cfg.seed,
                            attn_implementation="eager" if eager else None, **pixels)
    if cfg.frame:
        from geor1.coords import get_frame

        model.config.geor1_answer_frame = get_frame(cfg.frame).name
    frame = answer_frame(model, processor)
    objective = (VisionObjective if cfg.phase == "vision" else FullObjective)(model, cfg)
    params = objective.parameters()
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.98), weight_decay=0.01)
    step = 0
    if last:
        state = torch.load(last / STATE, weights_only=False, map_location="cpu")
        opt.load_state_dict(state["optimizer"])
        for name, module in objective.modules().items():
            if name in state:
                module.load_state_dict(state[name])
        step = state["step"]
        log.info("resumed from %s at step %d", last, step)
    model.to(device)
    for m in objective.modules().values():
        m.to(device)
    atomic_write_json(out / "recipe.json", cfg.to_dict())
    pool = None
    if cfg.pool_size or cfg.phase == "vision":
        pool = D.make_pool(cfg.pool or out / "pool", cfg.pool_size or 4000, seed=cfg.seed, tasks=cfg.tasks,
                           size=cfg.size, style=cfg.style, categories=cfg.categories, max_objects=cfg.max_objects,
                           processor=processor, workers=max(1, cfg.workers))
    ds, collate = objective.loader(processor, frame, pool, step)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch, num_workers=cfg.workers, collate_fn=collate,
                                         prefetch_factor=4 if cfg.workers else None,
                                         persistent_workers=bool(cfg.workers), pin_memory=device.type == "cuda")
    eval_set = (D.make_eval_set(cfg.eval_n, size=cfg.size, style=cfg.style, categories=cfg.categories,
                                max_objects=cfg.max_objects) if cfg.phase == "full" else None)
    metrics = Metrics(out, objective.columns)
    budget = cfg.steps if cfg.steps is not None else None
    from tqdm.auto import tqdm

    bar = tqdm(total=budget, initial=step, unit="step", desc=f"pretrain {cfg.phase}", disable=not progress,
               dynamic_ncols=True)
    t0, t_log, n_log = time.time(), time.time(), 0
    sums: dict[str, float] = {}
    model.train()
    result: dict = {}
    for batch in loader:
        if (budget is not None and step >= budget) or (budget is None and time.time() - t0 > cfg.minutes * 60):
            break
        lr = lr_at(step, cfg.lr, cfg.warmup, cfg.decay_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = _to(batch, device)
        with autocast(cfg, device):
            loss, stats = objective.step(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        n_log += 1
        for k, v in {"loss": stats.pop("ce", loss.detach()), **stats}.items():
            sums[k] = sums.get(k, 0.0) + (v if isinstance(v, float) else v.float())
        bar.update(1)
        row = None
        if step % LOG_EVERY == 0:
            means = {k: float(v) / n_log for k, v in sums.items()}
            now = time.time()
            row = {"step": step, "seconds": round(now - t0, 1), "samples_per_s": n_log * cfg.batch / (now - t_log),
                   "lr": lr, **means}
            sums, n_log, t_log = {}, 0, now
            bar.set_postfix(loss=f"{means['loss']:.3f}", sps=f"{row['samples_per_s']:.0f}")
            if not progress:  # a background run: the log is what a person reads
                log.info("step %d  %.0f s  %.1f samples/s  lr %.2g  %s", step, row["seconds"], row["samples_per_s"], lr,
                         "  ".join(f"{k} {v:.4f}" for k, v in means.items()))
        if eval_set is not None and step % cfg.eval_every == 0:
            result = D.evaluate_rec(model, processor, frame, eval_set)
            row = {**(row or {"step": step, "seconds": round(time.time() - t0, 1), "lr": lr}),
                   **{k: result[k] for k in ("acc_at_05", "acc_at_07", "mean_iou")}}
            log.info("step %d  REC acc@0.5 %.3f  acc@0.7 %.3f  mIoU %.3f", step, result["acc_at_05"],
                     result["acc_at_07"], result["mean_iou"])
        if row:
            metrics.write(row)
        if step % cfg.save_every == 0:
            _save(out / "last", model, processor, objective, opt, step)
    bar.close()
    _save(out / "last", model, processor, objective, opt, step)
    if eval_set is not None:
        result = D.evaluate_rec(model, processor, frame, eval_set)
        metrics.write({"step": step, "seconds": round(time.time() - t0, 1),
                       **{k: result[k] for k in ("acc_at_05", "acc_at_07", "mean_iou")}})
    metrics.close()
    if cfg.phase == "full":  # how to ask the result: record it in its config.json (geor1.models.Usage)
        from geor1.models import record_usage
        from geor1.pretrain.corpus import TASK_KINDS

        think = cfg.think_fraction >= 0.5
        record_usage(model.config, think=think, tasks=[k for k in TASK_KINDS if cfg.tasks.get(k, 0) > 0],
                     max_new_tokens=512 if think else 64)
    final = out / "final"
    model.to("cpu")
    if final.exists():
        shutil.rmtree(final)
    model.save_pretrained(final)
    processor.save_pretrained(final)
    result = {**result, "steps": step, "seconds": round(time.time() - t0, 1)}
    atomic_write_json(out / "final_eval.json", result)
    return result


def _save(folder: Path, model, processor, objective, opt, step: int) -> None:
    extra = {"step": step, "optimizer": opt.state_dict(),
             **{name: m.state_dict() for name, m in objective.modules().items()}}
    save_state(folder, model, processor, extra)

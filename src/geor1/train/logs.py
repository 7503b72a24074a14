"""Training logs people can read and plot: ``metrics.csv`` (every logged scalar, one row per log
step), ``completions.csv`` (every sampled completion with each reward's value) and complete-only
checkpoints.

Checkpoints: transformers writes ``checkpoint-N/`` file by file, so a run killed mid-save leaves a
partial folder that ``get_last_checkpoint`` would happily resume from. :class:`CheckpointMarker`
writes ``checkpoint-N/COMPLETE`` (atomically) after the save finishes; :func:`last_complete_checkpoint`
resumes only from marked folders.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from geor1.io import atomic_write
from geor1.tasks.common import completion_text

COMPLETE = "COMPLETE"
_CKPT = re.compile(r"^checkpoint-(\d+)$")




def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The highest-numbered ``checkpoint-N`` folder that carries the COMPLETE marker, or None."""
    d = Path(output_dir)
    if not d.is_dir():
        return None
    done = [(int(m.group(1)), p) for p in d.iterdir()
            if (m := _CKPT.match(p.name)) and (p / COMPLETE).is_file()]
    return str(max(done)[1]) if done else None


class CheckpointMarker(TrainerCallback):
    """Marks a checkpoint folder complete once the Trainer has written all of it."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir():
                atomic_write(ckpt / COMPLETE, f"{state.global_step}\n")


class CsvMetricsLogger(TrainerCallback):
    """Appends every ``on_log`` dict to ``metrics.csv``. Rows are appended; the file is rewritten
    (atomically) only when a row brings a column not seen before, which happens in the first few
    logs of a run, so a run's logging is linear in its length."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.columns: list[str] | None = None  # read from the file on first use (a resumed run)

    def _read_columns(self) -> list[str]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="", encoding="utf-8") as f:
            return next(csv.reader(f), [])

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
        if self.columns is None:
            self.columns = self._read_columns()
        new = [k for k in row if k not in self.columns]
        if new or not self.path.is_file():  # widen the header: rewrite once, whole
            rows = []
            if self.path.is_file():
                with open(self.path, newline="", encoding="utf-8") as f:
                    rows = list(csv.DictReader(f))
            self.columns = self.columns + new
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(self.columns)
            w.writerows([[r.get(c, "") for c in self.columns] for r in [*rows, row]])
            atomic_write(self.path, buf.getvalue())
            return
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self.columns])


# The few numbers a person watches during training (TRL's log keys), shown on the progress bar.
BAR_KEYS = (("reward", "reward"), ("loss", "loss"), ("kl", "kl"), ("completions/mean_length", "len"),
            ("frac_reward_zero_std", "flat"))


class CompactProgress(ProgressCallback):
    """transformers' progress bar, without printing every log dict (30 keys every few steps): the
    bar shows reward, loss, KL, completion length, the share of groups with equal rewards and
    seconds per step; the full dicts go to metrics.csv (CsvMetricsLogger)."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None and not hasattr(self, "_t0"):
            self._t0, self._step0 = time.time(), state.global_step
        super().on_step_end(args, state, control, **kwargs)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        shown = self.__dict__.setdefault("_shown", {})  # the last value of each, across logs
        shown.update({label: logs[key] for key, label in BAR_KEYS if isinstance(logs.get(key), (int, float))})
        steps = state.global_step - getattr(self, "_step0", state.global_step)
        if steps > 0:
            shown["s/step"] = (time.time() - self._t0) / steps
        self.training_bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()}, refresh=True)


class CompletionRecorder:
    """Wraps reward functions so that every completion and each reward's value lands in
    ``completions.csv`` (long format: step, id, reward, value, completion)."""

    def __init__(self, path: str | os.PathLike, *, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def wrap(self, name: str, fn):
        def recorded(completions, **kwargs):
            values = fn(completions, **kwargs)
            if self.enabled:
                state = kwargs.get("trainer_state")
                if state is None or state.is_world_process_zero:
                    self._write(getattr(state, "global_step", 0), name, kwargs.get("id"), completions, values)
            return values

        recorded.__name__ = name  # TRL logs rewards/<name>/mean under the function's name
        return recorded

    def _write(self, step, name, ids, completions, values) -> None:
        new = not self.path.is_file()
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["step", "id", "reward", "value", "completion"])
            for i, (c, v) in enumerate(zip(completions, values)):
                w.writerow([step, ids[i] if ids else i, name, "" if v is None else f"{v:.6g}", completion_text(c)])

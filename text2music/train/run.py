"""The training-run skeleton every trainer shares (`train`, `finetune`, `distill`, `train-vocoder`):
a `Trainer` holds one run's own parts (its step, validation, state and result), and `fit` is the
loop that drives it, the same for all:

    resume from the checkpoint (or start afresh, saying so when an earlier run left no checkpoint)
    validate once at the start of a fresh run
    until the budget (steps and/or minutes) is spent or the trainer is done:
        one optimiser step; every log_every steps a log line, every checkpoint_every a checkpoint,
        every val_every a validation
    Ctrl-C: finish the step, save the checkpoint and the result, stop (exit 130: run again to resume)
    at the end: the checkpoint, a last validation, loss.png and the result

A run folder holds:
    CHECKPOINT  resumable state (written atomically: a killed run keeps its last whole checkpoint)
    log.jsonl   one JSON record per line, each with a "type" ("step", "val", "epoch") and a "step"
    loss.png    the loss curves of log.jsonl
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from text2music.utils import append_jsonl, atomic_path, read_jsonl, write_jsonl

log = logging.getLogger(__name__)


def finite_or_none(value):
    """`value`, with every non-finite float in it (also inside dicts and lists) made None: JSON has no Infinity or NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def warmup_cosine(peak: float, step: int, warmup: int, total: int | None, floor: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to `floor * peak` at `total` (constant when unknown)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if total is None or total <= warmup:
        return peak
    progress = min(1.0, (step - warmup) / (total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def ema_lerp(averaged: list[torch.Tensor], current: list[torch.Tensor], max_decay: float, step: int) -> None:
    """averaged <- decay * averaged + (1 - decay) * current. Warm-up (as in timm/diffusers): early on the
    average forgets faster, so that the initial weights do not linger in it (0.9995^3000 would still keep 22%)."""
    decay = min(max_decay, (1 + step) / (10 + step))
    torch._foreach_lerp_(averaged, current, 1.0 - decay)


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict | None:
    """The state saved at `path`, or None when there is none (a fresh run)."""
    if not path.exists():
        return None
    return torch.load(path, map_location=device, weights_only=True)


class Budget:
    """Stop after `max_steps` optimiser steps or `max_minutes` of this process's training time."""

    def __init__(self, max_steps: int | None = None, max_minutes: float | None = None):
        self.max_steps, self.max_minutes = max_steps, max_minutes
        self.start()

    def start(self) -> None:
        self.started = time.time()

    def elapsed(self) -> float:
        return round(time.time() - self.started, 2)

    def spent(self, step: int) -> bool:
        out_of_time = self.max_minutes is not None and time.time() - self.started >= 60 * self.max_minutes
        return out_of_time or (self.max_steps is not None and step >= self.max_steps)


class RunLog:
    """log.jsonl (and optionally TensorBoard) of a run folder; written by the main process only."""

    def __init__(self, out: Path, main: bool = True, tensorboard: bool = False):
        self.path, self.png, self.main = out / "log.jsonl", out / "loss.png", main
        self.writer = None
        if tensorboard and main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise RuntimeError("tensorboard logging needs the tensorboard package: pip install tensorboard") from None
            self.writer = SummaryWriter(str(out / "tensorboard"))

    def resume(self, step: int | None) -> None:
        """Forget the lines written after the checkpoint of `step` (they are written again); all of
        them when there is no checkpoint (None: the run starts afresh)."""
        if self.main and self.path.exists():
            write_jsonl(self.path, [r for r in read_jsonl(self.path) if step is not None and r["step"] <= step])

    def write(self, record: dict, scalars: dict[str, float] | None = None) -> None:
        if not self.main:
            return
        append_jsonl(self.path, finite_or_none(record))
        if self.writer is not None:
            for name, value in (scalars or {}).items():
                self.writer.add_scalar(name, value, record["step"])

    def plot(self, ylabel: str = "loss", log_scale: bool = True) -> None:
        if self.main:
            plot_losses(self.path, self.png, ylabel, log_scale)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@contextmanager
def stop_on_sigint() -> Iterator[list]:
    """Ctrl-C sets a flag (the yielded list becomes non-empty), so that the loop can finish the
    step in flight, save and stop; a second Ctrl-C stops at once. Only the main thread can handle
    signals: elsewhere the flag is never set."""
    interrupted: list = []

    def on_sigint(signum, frame):
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(signum)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main_thread else None
    try:
        yield interrupted
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)


def plot_losses(log_path: Path, png: Path, ylabel: str = "loss", log_scale: bool = True) -> None:
    """Train loss per logged step, train/validation loss per epoch (like the seed's figure) and
    validation losses at the steps where they were measured ("val" records: every val_* key)."""
    from text2music.features.plot import pyplot

    records = read_jsonl(log_path)
    steps = [r for r in records if r["type"] == "step"]
    epochs = [r for r in records if r["type"] == "epoch"]
    vals = [r for r in records if r["type"] == "val"]
    if not steps and not epochs and not vals:
        return
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if steps:
        ax.plot(*_curve(steps, "loss"), lw=0.8, alpha=0.5, label="train (per step)")
    if epochs:
        ax.plot(*_curve(epochs, "train_loss"), "o-", label="train (epoch mean)")
        ax.plot(*_curve(epochs, "val_loss"), "s-", label="validation")
    for key in sorted({k for r in vals for k in r if k.startswith("val_")}):  # val_loss, and any other validation loss
        name = key.removeprefix("val_").removesuffix("loss").strip("_")
        ax.plot(*_curve(vals, key), "s-", label=f"validation: {name}" if name else "validation")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(log_path.parent.name)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _curve(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of `key`, NaN where a record holds null (a non-finite loss)."""
    return [r["step"] for r in records], [math.nan if r.get(key) is None else r[key] for r in records]


class Trainer:
    """One training run's own parts, driven by `fit`. A trainer sets, in its constructor, the
    attributes below and `optimizer`, and writes `train_step`, `state_dict`, `load_state_dict` and
    `save_result` (and `validate`, `done`, `agree` where it needs them)."""

    name = "train"  # of the progress bar and the messages
    checkpoint = "state.pt"  # the resumable state's file in the run folder
    loss_label, log_scale = "loss", True  # of loss.png
    device: torch.device | str = "cpu"
    optimizer: torch.optim.Optimizer

    def __init__(self, out: Path, budget: Budget, log_every: int, checkpoint_every: int, val_every: int | None = None, **log_options):
        self.out, self.budget = Path(out), budget
        self.log_every, self.checkpoint_every, self.val_every = log_every, checkpoint_every, val_every
        self.log = RunLog(self.out, **log_options)
        self.step = 0

    @property
    def main(self) -> bool:
        """Whether this process writes the run folder (the first of a distributed run)."""
        return self.log.main

    def train_step(self) -> dict[str, float]:
        """One optimiser step; advances `self.step` and returns the step's losses ({"loss": ...})."""
        raise NotImplementedError

    def validate(self) -> dict[str, float] | None:
        """Validation losses ({"val_loss": ...}) of the weights the result would hold; None: none."""
        return None

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError

    def save_result(self, val: dict[str, float] | None) -> None:
        """Write what the run is for (weights, an adapter) from its current state."""
        raise NotImplementedError

    def done(self) -> bool:
        """Whether the run has ended before its budget (all epochs, early stopping)."""
        return False

    def agree(self, flag: bool) -> bool:
        """`flag` as every process of a distributed run sees it (so that they stop together)."""
        return flag

    def save_checkpoint(self) -> None:
        if self.main:
            save_checkpoint(self.out / self.checkpoint, self.state_dict())


def resume(trainer: Trainer) -> bool:
    """Load the run folder's checkpoint into `trainer` (True), or start afresh (False): the log of
    an earlier run that stopped before its first checkpoint is cleared, and that is said."""
    state = load_checkpoint(trainer.out / trainer.checkpoint, trainer.device)
    if state is None:
        if trainer.main and trainer.log.path.exists():
            log.warning("%s: no checkpoint (the earlier run stopped before its first); starting afresh", trainer.out)
        trainer.log.resume(None)
        return False
    trainer.load_state_dict(state)
    trainer.log.resume(trainer.step)
    log.info("%s: resumed at step %d", trainer.name, trainer.step)
    return True


def validated(trainer: Trainer) -> dict[str, float] | None:
    parts = trainer.validate()
    if parts:
        trainer.log.write({"type": "val", "step": trainer.step, **parts}, {f"val/{k.removeprefix('val_')}": v for k, v in parts.items()})
    return parts


def log_steps(trainer: Trainer, losses: list[dict[str, float]]) -> dict[str, float]:
    """One log line: the mean of each loss over the steps since the last line, the learning rate, the time."""
    mean = {k: sum(p[k] for p in losses) / len(losses) for k in losses[0]}
    lr = trainer.optimizer.param_groups[0]["lr"]
    record = {"type": "step", "step": trainer.step, **mean, "lr": lr, "elapsed_s": trainer.budget.elapsed()}
    trainer.log.write(record, {f"train/{k}": v for k, v in mean.items()} | {"train/lr": lr})
    return mean


def fit(trainer: Trainer, progress: bool = True) -> dict:
    """Run `trainer` (see the module's docstring). Returns {"val_before": the fresh run's first
    validation, "val": the last, "seconds": this process's training time}."""
    from tqdm import tqdm

    t = trainer
    val = val_before = None if resume(t) else validated(t)
    val_step = t.step if val is not None else None
    losses: list[dict[str, float]] = []
    interrupted = False
    bar = tqdm(desc=t.name, unit="step", initial=t.step, total=t.budget.max_steps, disable=not (progress and t.main))
    with stop_on_sigint() as sigint, bar:
        t.budget.start()
        while not t.done() and not t.agree(t.budget.spent(t.step)):
            losses.append(t.train_step())
            bar.update(1)
            if t.step % t.log_every == 0:
                bar.set_postfix(loss=f"{log_steps(t, losses)['loss']:.4f}")
                losses.clear()
            if t.step % t.checkpoint_every == 0:
                t.save_checkpoint()
            if t.val_every and t.step % t.val_every == 0:
                val, val_step = validated(t), t.step
            if t.agree(bool(sigint)):
                interrupted = True
                break
    t.save_checkpoint()
    if not interrupted and val_step != t.step:
        val = validated(t)
    t.save_result(val)
    t.log.plot(t.loss_label, t.log_scale)
    t.log.close()
    if interrupted:
        raise KeyboardInterrupt
    return {"val_before": val_before, "val": val, "seconds": t.budget.elapsed()}

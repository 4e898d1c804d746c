"""What every trainer's run folder shares: a resumable checkpoint, a log with its loss plot, a
step and time budget, and a Ctrl-C that saves before it stops.

    state.pt    resumable state (written atomically: a killed run keeps its last whole checkpoint)
    log.jsonl   one JSON record per line, each with a "type" and a "step"
    loss.png    the loss curves of log.jsonl
"""

from __future__ import annotations

import json
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from text2music.utils import append_jsonl, atomic_path, read_jsonl, write_jsonl


def check_resume(path: Path, settings: dict, key: dict, what: str) -> None:
    """Refuse to resume a run whose settings file `path` differs from `key` (the settings a resumed run
    must share), naming each difference; then write `settings` there (a fresh run's record)."""
    if path.exists():
        theirs = json.loads(path.read_text())
        diffs = [f"{k}: {theirs.get(k)!r} there, {v!r} now" for k, v in key.items() if theirs.get(k) != v]
        if diffs:
            raise ValueError(f"{path.parent} holds a {what} with other settings ({'; '.join(diffs)}); use them or another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")


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

    def resume(self, step: int) -> None:
        """Forget the lines written after the checkpoint of `step` (they are written again)."""
        if self.main:
            write_jsonl(self.path, [r for r in read_jsonl(self.path) if r["step"] <= step])

    def write(self, record: dict, scalars: dict[str, float] | None = None) -> None:
        if not self.main:
            return
        append_jsonl(self.path, record)
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
    validation loss at the steps where it was measured ("val" records)."""
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
        ax.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=0.8, alpha=0.5, label="train (per step)")
    if epochs:
        ax.plot([r["step"] for r in epochs], [r["train_loss"] for r in epochs], "o-", label="train (epoch mean)")
        ax.plot([r["step"] for r in epochs], [r["val_loss"] for r in epochs], "s-", label="validation")
    if vals:
        ax.plot([r["step"] for r in vals], [r["val_loss"] for r in vals], "s-", label="validation")
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

"""Training configuration: one dataclass, stored as JSON (configs/*.json, and run_dir/train_config.json)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from text2music.utils import dataclass_from_dict


@dataclass
class TrainConfig:
    # what to train
    model: str = "seed_lstm"  # a key of text2music.models.MODELS
    model_args: dict = field(default_factory=dict)  # overrides of that model's config dataclass
    # data
    features: str | list[str] = "data/synth/features/seed"  # folder written by `text2music data preprocess`, or several
    text_mode: str = "caption"  # "aspects" | "caption" | "both" (the seed's two modes, and both)
    # | "mixed": each training clip shows its caption or its aspect list at random (validation: caption)
    text_encoder: str = "all-MiniLM-L6-v2"  # the packaged BERT; or a HF id / local folder
    text_max_length: int = 128
    finetune_text: bool = False  # train the BERT too (no embedding cache then)
    limit_train: int | None = None
    limit_val: int | None = None
    crop_frames: tuple[int, int] | None = None  # train on random crops, length drawn per batch in [min, max]
    init_from: str | None = None  # start from the weights of this model folder (fine-tuning; ignored on resume)
    controls: bool = False  # condition on the corpus's ground-truth beat grid, chords, tempo, key, meter, drums
    control_drop: float = 0.3  # probability that each control group is left out of a training clip
    new_lr: float | None = None  # learning rate of the parameters init_from lacks (new inputs); None = lr
    context: bool = False  # add the context input (known frames + mask) and train with random masks (train.masks)
    drum_free_repeat: int = 1  # each drum-free train clip is drawn this many times an epoch (needs controls)
    drum_silent: float = 0.0  # share of texts silent about drums where the drums control is given (it alone tells them)
    # optimisation: the seed's recipe by default
    epochs: int = 50
    batch_size: int = 16
    lr: float = 1e-5
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    scheduler: str = "cosine"  # "cosine" (CosineAnnealingLR, T_max = epochs, stepped per epoch) | "constant"
    grad_clip: float | None = 1.0
    patience: int | None = 5  # early stopping: epochs without a better validation loss
    ema_decay: float | None = None  # keep an exponential moving average of the weights
    max_steps: int | None = None  # stop after this many optimiser steps (smoke runs, tests)
    max_minutes: float | None = None  # stop (and save) after this much training time
    # bookkeeping
    out: str = "runs/seed_lstm"
    seed: int = 0
    log_every: int = 10  # steps between log lines
    checkpoint_every: int = 200  # steps between resumable checkpoints (and at every epoch end)
    precision: str = "fp32"  # "fp32" | "bf16" | "fp16" (autocast; GPU only)
    tensorboard: bool = False
    save_dtype: str = "float32"  # dtype of the inference weights: "float32" | "float16"

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.text_mode not in ("aspects", "caption", "both", "mixed"):
            raise ValueError(f"text_mode must be aspects, caption, both or mixed, got {self.text_mode!r}")
        if self.crop_frames is not None:
            self.crop_frames = tuple(self.crop_frames)
            if len(self.crop_frames) != 2 or not 1 <= self.crop_frames[0] <= self.crop_frames[1]:
                raise ValueError(f"crop_frames must be [min, max] with 1 <= min <= max, got {list(self.crop_frames)}")
        if self.scheduler not in ("cosine", "constant"):
            raise ValueError(f"scheduler must be cosine or constant, got {self.scheduler!r}")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"precision must be fp32, bf16 or fp16, got {self.precision!r}")
        for name in ("epochs", "batch_size", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.control_drop <= 1.0:
            raise ValueError(f"control_drop must be in [0, 1], got {self.control_drop}")
        if self.context and self.model != "flow_transformer":
            raise ValueError(f"context (known frames) needs the flow_transformer model, not {self.model}")
        if not 0.0 <= self.drum_silent <= 1.0 or (self.drum_silent and not self.controls):
            raise ValueError(f"drum_silent must be in [0, 1], and > 0 only with controls (the drums label), got {self.drum_silent}")
        if self.drum_free_repeat < 1 or (self.drum_free_repeat > 1 and not self.controls):
            raise ValueError(f"drum_free_repeat must be >= 1, and > 1 only with controls (the drums label), got {self.drum_free_repeat}")
        if self.lr <= 0 or (self.new_lr is not None and self.new_lr <= 0):
            raise ValueError(f"lr must be positive, got {self.lr}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return dataclass_from_dict(cls, d, "training config")

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config not found: {path}")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: invalid JSON ({e})") from None

    def with_overrides(self, overrides: list[str]) -> "TrainConfig":
        """Apply `key=value` strings (value parsed as JSON when it parses, else a string)."""
        d = self.to_dict()
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set expects key=value, got {item!r}")
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = value
            if key.startswith("model_args."):
                d["model_args"] = {**d["model_args"], key.split(".", 1)[1]: parsed}
            elif key in d:
                d[key] = parsed
            else:
                raise ValueError(f"--set: unknown training config field {key!r}")
        return TrainConfig.from_dict(d)

"""Fine-tune a model folder on a corpus as a LoRA adapter, on a CPU, within a time budget.

The base model stays frozen; PEFT adds low-rank updates to the attention and MLP projections
(`text2music.models.lora`), and only those train (about 1 M numbers, 2 MB in fp16). The corpus
is any folder `data import` or `data synth` made: its mel arrays are computed on first use with
the base model's mel settings, its texts embedded once by the frozen BERT, and, for a model
with musical controls, each clip's measured tempo, key and drums become its control inputs.

    OUT/adapter_config.json, adapter_model.safetensors   the adapter (PEFT format)
    OUT/text2music_adapter.json                          base weights, data, training, attribution
    OUT/checkpoint.pt                                    resumable state (LoRA weights, optimiser, RNG)
    OUT/log.jsonl, loss.png                              training and validation loss
    OUT/ATTRIBUTION.md                                   the corpus's (data debian writes one)
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import torch

from text2music.features.config import MelConfig
from text2music.features.preprocess import preprocess
from text2music.models import load_pretrained, read_config
from text2music.models.lora import LoraSettings, add_lora, lora_state, save_adapter, weights_sha256
from text2music.text import TextEncoder
from text2music.train.data import EmbeddingCache, MelTextSet
from text2music.train.loop import LossModule, evaluate_loss
from text2music.train.run import Budget, Trainer, ema_lerp, fit, warmup_cosine
from text2music.utils import atomic_write_text, read_jsonl, record_settings, removed_on_failure

log = logging.getLogger(__name__)
VOLATILE = ("minutes", "steps", "jobs", "log_every", "checkpoint_every", "val_every")  # settings a resumed run may change
CORPUS_KEY = "metadata.sha1"  # in a features folder: the metadata.csv its arrays and splits were made from


@dataclass
class FinetuneConfig:
    data: str  # corpus folder (data import / data synth)
    out: str  # adapter folder
    base: str  # model folder to adapt
    mix: str | None = None  # a second corpus (e.g. the synth corpus the base learnt) that keeps what the base knows
    mix_share: float = 0.5  # share of batches drawn from `mix`
    minutes: float | None = 20.0  # training time budget (None: steps only)
    steps: int | None = None  # optimiser steps budget (None: minutes only)
    rank: int = 16
    alpha: float = 16.0
    lr: float = 5e-4
    ema_decay: float | None = 0.999  # the adapter saved is an exponential moving average of the LoRA weights (None: the last)
    warmup: int = 50
    batch_size: int = 8
    crop_frames: int | None = 250  # train on random 4-s crops, as the bundled model's last stage (None: whole clips)
    text_mode: str = "mixed"  # each clip shows its caption or its aspect list
    control_drop: float = 0.3  # as the base model was trained
    val_clips: int = 64  # validation loss on this many valid-split clips (0: none)
    val_every: int = 250  # steps between validation losses (and at the start and the end)
    checkpoint_every: int = 50
    log_every: int = 10
    jobs: int = 2  # preprocessing workers
    seed: int = 0

    def __post_init__(self):
        if self.minutes is None and self.steps is None:
            raise ValueError("give --minutes or --steps (or both): fine-tuning needs a budget")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"--minutes must be positive, got {self.minutes}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"--steps must be at least 1, got {self.steps}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"--ema-decay must be in (0, 1), got {self.ema_decay}")
        if not 0 < self.lr < 1:
            raise ValueError(f"--lr must be in (0, 1), got {self.lr}")
        if not 0.0 <= self.mix_share < 1.0:
            raise ValueError(f"--mix-share must be in [0, 1), got {self.mix_share}")
        if self.crop_frames is not None and self.crop_frames < 2:
            raise ValueError(f"--crop-frames must be at least 2, got {self.crop_frames}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {self.batch_size}")
        LoraSettings(self.rank, self.alpha)  # checks rank and alpha


def features_for(data: str | Path, mel: MelConfig, jobs: int, progress: bool = True) -> Path:
    """The corpus's mel arrays in the model's mel settings, computed when missing (resumable). The
    cache is tied to the corpus's metadata.csv (splits, captions): when that changes, it is rebuilt."""
    data = Path(data)
    if not (data / "metadata.csv").is_file():
        raise FileNotFoundError(f"{data} is not a corpus folder (no metadata.csv; make one with `text2music data import`)")
    name = "mel-" + hashlib.sha1(json.dumps(mel.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    folder = data / "features" / name
    corpus = hashlib.sha1((data / "metadata.csv").read_bytes()).hexdigest()
    if folder.exists() and _read_text(folder / CORPUS_KEY) != corpus:
        log.warning("%s: made from another metadata.csv (or by an older version); making the mel arrays again", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / CORPUS_KEY, corpus)
    summary = preprocess(data, mel, name, jobs=jobs, progress=progress)
    log.info("features: %s", summary)
    return folder


def _read_text(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def corpus_info(data: Path) -> dict:
    """What the adapter learnt from: the corpus, its size, and its import's attribution file."""
    info = {"data": str(data)}
    attribution = data / "ATTRIBUTION.md"
    if attribution.is_file():
        info["attribution"] = attribution.read_text()
    return info


def valid_set(features: Path | list[str], limit: int, controls: bool) -> MelTextSet | None:
    """Up to `limit` clips of the valid split of one feature folder or several, or None (no validation) when it has none."""
    folders = [str(features)] if isinstance(features, (str, Path)) else features
    has_valid = any(r["split"] == "valid" for f in folders for r in read_jsonl(Path(f) / "index.jsonl"))
    if not limit or not has_valid:
        log.warning("finetune: %s has no valid clips; no validation loss", ", ".join(str(Path(f).parent.parent) for f in folders))
        return None
    return MelTextSet(folders, "valid", "caption", limit=limit, controls=controls)


def flow_model(folder: str | Path, what: str) -> dict:
    """The config.json of a flow_transformer model folder (read before any weights load), or a one-line error."""
    config = read_config(folder)
    if config["kind"] != "flow_transformer":
        raise ValueError(f"{folder}: {what} needs a flow_transformer model, this one is {config['kind']!r}")
    return config


class Finetuning(Trainer):
    """A LoRA adapter of `cfg.base` learning `cfg.data` (and `cfg.mix`): the base frozen, its LoRA weights
    trained, and an exponential moving average of them kept (what is validated and saved)."""

    name, checkpoint = "finetune", "checkpoint.pt"

    def __init__(self, cfg: FinetuneConfig, progress: bool = True):
        flow_model(cfg.base, "fine-tuning")
        super().__init__(Path(cfg.out), Budget(cfg.steps, cfg.minutes), cfg.log_every, cfg.checkpoint_every, cfg.val_every)
        self.cfg = cfg
        record_settings(self.out / "finetune_config.json", asdict(cfg), "a fine-tuning run", volatile=VOLATILE)
        model, mel, config = load_pretrained(cfg.base)
        features = features_for(cfg.data, mel, cfg.jobs, progress)
        controlled = model.cfg.control_frames > 0
        self.train = MelTextSet(str(features), "train", cfg.text_mode, controls=controlled)
        mix = features_for(cfg.mix, mel, cfg.jobs, progress) if cfg.mix else None
        self.mix = MelTextSet(str(mix), "train", cfg.text_mode, controls=controlled) if mix else None
        self.valid = valid_set(features, cfg.val_clips, controlled)
        texts = [t for s in (self.train, self.mix, self.valid) if s is not None for c in s.choices for t in c]
        cache = EmbeddingCache(TextEncoder.from_model_folder(cfg.base, config["text"]), texts)
        torch.manual_seed(cfg.seed)
        self.model = model  # the base model, with PEFT's LoRA layers inside it
        self.peft_model = add_lora(model.train(), LoraSettings(cfg.rank, cfg.alpha))
        self.module = LossModule(model, cache=cache)
        self.lora = {k: p for k, p in self.peft_model.named_parameters() if p.requires_grad}  # what trains
        self.optimizer = torch.optim.AdamW(list(self.lora.values()), lr=cfg.lr, weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.ema = lora_state(self.peft_model) if cfg.ema_decay else None  # moving average of the LoRA weights

    def train_step(self) -> dict[str, float]:
        """One optimiser step on a batch of random crops, from the corpus or (with mix_share) the mix."""
        cfg = self.cfg
        source = self.mix if self.mix is not None and torch.rand((), generator=self.gen) < cfg.mix_share else self.train
        idx = torch.randint(0, len(source), (cfg.batch_size,), generator=self.gen).tolist()
        crop = (cfg.crop_frames, cfg.crop_frames) if cfg.crop_frames else None
        mels, texts, controls = source.batch(idx, self.gen, crop, multiple=self.model.cfg.patch, control_drop=cfg.control_drop)
        for group in self.optimizer.param_groups:
            group["lr"] = warmup_cosine(cfg.lr, self.step, cfg.warmup, cfg.steps, floor=0.1)
        loss = self.module(mels, texts, controls)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.lora.values()), 1.0)
        self.optimizer.step()
        self.step += 1
        if self.ema is not None:
            ema_lerp([self.ema[k] for k in self.lora], list(self.lora.values()), cfg.ema_decay, self.step)
        return {"loss": loss.item()}

    @contextmanager
    def averaged(self) -> Iterator[None]:
        """The moving average in the model's LoRA weights inside the block (the last weights put back after)."""
        if self.ema is None:
            yield
            return
        last = lora_state(self.peft_model)
        with torch.no_grad():
            for k, p in self.lora.items():
                p.copy_(self.ema[k])
        try:
            yield
        finally:
            with torch.no_grad():
                for k, p in self.lora.items():
                    p.copy_(last[k])

    def validate(self) -> dict[str, float] | None:
        """Validation loss (fixed noise and times) of the averaged weights on the valid clips."""
        if self.valid is None or not len(self.valid):
            return None
        with self.averaged():
            return {"val_loss": evaluate_loss(self.module, self.valid, self.cfg.batch_size, "cpu", multiple=self.model.cfg.patch)}

    def state_dict(self) -> dict:
        state = {"lora": lora_state(self.peft_model), "optimizer": self.optimizer.state_dict(), "generator": self.gen.get_state()}
        return state | {"torch_rng": torch.get_rng_state(), "step": self.step, "ema": self.ema}

    def load_state_dict(self, state: dict) -> None:
        unexpected = self.peft_model.load_state_dict(state["lora"], strict=False).unexpected_keys
        if unexpected:
            raise ValueError(f"{self.out / self.checkpoint} does not fit this adapter (e.g. {unexpected[0]}); use another --out")
        self.optimizer.load_state_dict(state["optimizer"])
        self.gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.step = state["step"]
        if self.ema is not None:
            self.ema = state.get("ema") or lora_state(self.peft_model)

    def save_result(self, val: dict | None) -> None:
        """The adapter (PEFT format, fp16, the averaged weights), its info and the corpus's attribution."""
        cfg = self.cfg
        info = {
            "base": str(cfg.base),
            "base_sha256": weights_sha256(cfg.base),
            "lora": {"rank": cfg.rank, "alpha": cfg.alpha, "targets": LoraSettings().targets},
            "trained": {
                "steps": self.step,
                "train_clips": len(self.train),
                "mix_clips": len(self.mix) if self.mix else 0,
                "val_loss": (val or {}).get("val_loss"),
                "settings": asdict(cfg),
            },
            **corpus_info(Path(cfg.data)),
        }
        with self.averaged():
            save_adapter(self.peft_model, self.out, info)
        if "attribution" in info:  # the music's licences and authors travel with what was trained on it
            atomic_write_text(self.out / "ATTRIBUTION.md", info["attribution"])


def finetune(cfg: FinetuneConfig, progress: bool = True) -> dict:
    """Train a LoRA adapter on `cfg.data` for the budget; resumable. Returns a summary. A run that
    fails before its first checkpoint leaves no folder behind."""
    with removed_on_failure(Path(cfg.out), Finetuning.checkpoint):
        ft = Finetuning(cfg, progress)
        result = fit(ft, progress)
    val_before, val = (r and r.get("val_loss") for r in (result["val_before"], result["val"]))
    summary = {"out": str(ft.out), "steps": ft.step, "train_clips": len(ft.train), "val_loss_before": val_before, "val_loss": val}
    return summary | {"minutes": round(result["seconds"] / 60, 2)}

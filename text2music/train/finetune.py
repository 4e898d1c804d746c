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
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from text2music.features.config import MelConfig
from text2music.features.preprocess import preprocess
from text2music.models import load_pretrained
from text2music.models.lora import LoraSettings, add_lora, lora_state, save_adapter, weights_sha256
from text2music.text import TextEncoder
from text2music.train.data import EmbeddingCache, MelTextSet
from text2music.train.loop import LossModule, evaluate_loss
from text2music.train.run import Budget, RunLog, check_resume, load_checkpoint, save_checkpoint, stop_on_sigint
from text2music.utils import atomic_write_text, read_jsonl

log = logging.getLogger(__name__)


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

    def resume_key(self) -> dict:
        """The settings a resumed run must share with the run it continues."""
        volatile = ("minutes", "steps", "jobs", "log_every", "checkpoint_every", "val_every")
        return {k: v for k, v in asdict(self).items() if k not in volatile}


def features_for(data: str | Path, mel: MelConfig, jobs: int) -> Path:
    """The corpus's mel arrays in the model's mel settings, computed when missing (resumable)."""
    name = "mel-" + hashlib.sha1(json.dumps(mel.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    folder = Path(data) / "features" / name
    if not (Path(data) / "metadata.csv").is_file():
        raise FileNotFoundError(f"{data} is not a corpus folder (no metadata.csv; make one with `text2music data import`)")
    summary = preprocess(data, mel, name, jobs=jobs, progress=True)
    log.info("finetune features: %s", summary)
    return folder


def learning_rate(cfg: FinetuneConfig, step: int, total: int | None) -> float:
    """Linear warm-up, then cosine decay to 10% over `total` steps (constant when unknown)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if total is None or total <= cfg.warmup:
        return cfg.lr
    progress = min(1.0, (step - cfg.warmup) / (total - cfg.warmup))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def corpus_info(data: Path) -> dict:
    """What the adapter learnt from: the corpus, its size, and its import's attribution file."""
    info = {"data": str(data)}
    attribution = data / "ATTRIBUTION.md"
    if attribution.is_file():
        info["attribution"] = attribution.read_text()
    return info


def valid_set(features: Path, limit: int, controls: bool) -> MelTextSet | None:
    """Up to `limit` clips of the valid split, or None (no validation) when it has none."""
    has_valid = any(r["split"] == "valid" for r in read_jsonl(features / "index.jsonl"))
    if not limit or not has_valid:
        log.warning("finetune: %s has no valid clips; no validation loss", features.parent.parent)
        return None
    return MelTextSet(str(features), "valid", "caption", limit=limit, controls=controls)


def validate(module: LossModule, valid: MelTextSet | None, cfg: FinetuneConfig, step: int, run_log: RunLog) -> float | None:
    """Validation loss (fixed noise and times) on the valid clips, logged; None without them."""
    if valid is None or not len(valid):
        return None
    loss = evaluate_loss(module, valid, cfg.batch_size, "cpu", multiple=module.model.cfg.patch)
    run_log.write({"type": "val", "step": step, "val_loss": loss})
    return loss


@dataclass
class Finetuning:
    """Everything one fine-tuning run holds."""

    cfg: FinetuneConfig
    out: Path
    model: torch.nn.Module  # the base model, with PEFT's LoRA layers inside it
    peft_model: torch.nn.Module
    module: LossModule
    opt: torch.optim.Optimizer
    gen: torch.Generator
    train: MelTextSet
    mix: MelTextSet | None
    valid: MelTextSet | None
    ema: dict[str, torch.Tensor] | None = None  # moving average of the trainable (LoRA) weights
    step: int = 0

    def trainable(self) -> dict[str, torch.Tensor]:
        return {k: p for k, p in self.peft_model.named_parameters() if p.requires_grad}

    def update_ema(self) -> None:
        """ema <- decay * ema + (1 - decay) * weights, with the usual warm-up of the decay."""
        if self.ema is None:
            return
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for k, p in self.trainable().items():
                self.ema[k].lerp_(p, 1.0 - decay)

    def use_ema(self) -> None:
        """Put the averaged weights in the model (for the last validation and the saved adapter)."""
        if self.ema is not None:
            with torch.no_grad():
                for k, p in self.trainable().items():
                    p.copy_(self.ema[k])


def setup(cfg: FinetuneConfig) -> Finetuning:
    """Load the base, the corpus (mel arrays made when missing) and its text embeddings; add LoRA;
    resume from OUT/checkpoint.pt when there is one."""
    out = Path(cfg.out)
    model, mel, config = load_pretrained(cfg.base)
    if config["kind"] != "flow_transformer":
        raise ValueError(f"{cfg.base}: fine-tuning needs a flow_transformer model, this one is {config['kind']!r}")
    check_resume(out / "finetune_config.json", asdict(cfg), cfg.resume_key(), "fine-tuning run")
    features = features_for(cfg.data, mel, cfg.jobs)
    controlled = model.cfg.control_frames > 0
    train = MelTextSet(str(features), "train", cfg.text_mode, controls=controlled)
    mix = MelTextSet(str(features_for(cfg.mix, mel, cfg.jobs)), "train", cfg.text_mode, controls=controlled) if cfg.mix else None
    valid = valid_set(features, cfg.val_clips, controlled)
    texts = [t for s in (train, mix) if s is not None for c in s.choices for t in c] + (valid.texts if valid else [])
    cache = EmbeddingCache(TextEncoder.from_model_folder(cfg.base, config["text"]), texts)
    torch.manual_seed(cfg.seed)
    peft_model = add_lora(model.train(), LoraSettings(cfg.rank, cfg.alpha))
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    ft = Finetuning(
        cfg, out, model, peft_model, LossModule(model, cache=cache), opt, torch.Generator().manual_seed(cfg.seed), train, mix, valid
    )
    ft.ema = lora_state(peft_model) if cfg.ema_decay else None
    state = load_checkpoint(out / "checkpoint.pt")
    if state is not None:
        unexpected = peft_model.load_state_dict(state["lora"], strict=False).unexpected_keys
        if unexpected:
            raise ValueError(f"{out / 'checkpoint.pt'} does not fit this adapter (e.g. {unexpected[0]}); use another --out")
        opt.load_state_dict(state["optimizer"])
        ft.gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        ft.step = state["step"]
        if ft.ema is not None:
            ft.ema = state.get("ema") or lora_state(peft_model)
        log.info("finetune: resumed at step %d", ft.step)
    return ft


def save_state(ft: Finetuning) -> None:
    state = {"lora": lora_state(ft.peft_model), "optimizer": ft.opt.state_dict(), "generator": ft.gen.get_state()}
    save_checkpoint(ft.out / "checkpoint.pt", state | {"torch_rng": torch.get_rng_state(), "step": ft.step, "ema": ft.ema})


def train_step(ft: Finetuning, total: int | None) -> float:
    """One optimiser step on a batch of random crops, from the corpus or (with mix_share) the mix."""
    cfg = ft.cfg
    source = ft.mix if ft.mix is not None and torch.rand((), generator=ft.gen) < cfg.mix_share else ft.train
    idx = torch.randint(0, len(source), (cfg.batch_size,), generator=ft.gen).tolist()
    crop = (cfg.crop_frames, cfg.crop_frames) if cfg.crop_frames else None
    mels, texts, controls = source.batch(idx, ft.gen, crop, multiple=ft.model.cfg.patch, control_drop=cfg.control_drop)
    for group in ft.opt.param_groups:
        group["lr"] = learning_rate(cfg, ft.step, total)
    loss = ft.module(mels, texts, controls)
    ft.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for g in ft.opt.param_groups for p in g["params"]], 1.0)
    ft.opt.step()
    ft.step += 1
    ft.update_ema()
    return loss.item()


def save_result(ft: Finetuning, val: float | None) -> None:
    """The adapter (PEFT format, fp16), its info and the corpus's attribution."""
    cfg = ft.cfg
    info = {
        "base": str(cfg.base),
        "base_sha256": weights_sha256(cfg.base),
        "lora": {"rank": cfg.rank, "alpha": cfg.alpha, "targets": LoraSettings().targets},
        "trained": {
            "steps": ft.step,
            "train_clips": len(ft.train),
            "mix_clips": len(ft.mix) if ft.mix else 0,
            "val_loss": val,
            "settings": asdict(cfg),
        },
        **corpus_info(Path(cfg.data)),
    }
    save_adapter(ft.peft_model, ft.out, info)
    if "attribution" in info:  # the music's licences and authors travel with what was trained on it
        atomic_write_text(ft.out / "ATTRIBUTION.md", info["attribution"])


def finetune(cfg: FinetuneConfig, progress: bool = True) -> dict:
    """Train a LoRA adapter on `cfg.data` for the budget; resumable. Returns a summary."""
    from tqdm import tqdm

    ft = setup(cfg)
    run_log = RunLog(ft.out)
    run_log.resume(ft.step)
    val_before = validate(ft.module, ft.valid, cfg, ft.step, run_log) if ft.step == 0 else None
    val, val_step = val_before, ft.step
    budget = Budget(max_steps=cfg.steps, max_minutes=cfg.minutes)
    losses: list[float] = []
    with stop_on_sigint() as stop, tqdm(desc="finetune", unit="step", initial=ft.step, total=cfg.steps, disable=not progress) as bar:
        budget.start()
        while not budget.spent(ft.step) and not stop:
            losses.append(train_step(ft, cfg.steps))
            bar.update(1)
            if ft.step % cfg.log_every == 0:
                mean = sum(losses) / len(losses)
                lr = ft.opt.param_groups[0]["lr"]
                run_log.write({"type": "step", "step": ft.step, "loss": mean, "lr": lr, "minutes": budget.elapsed() / 60})
                bar.set_postfix(loss=f"{mean:.4f}")
                losses.clear()
            if ft.step % cfg.checkpoint_every == 0:
                save_state(ft)
            if ft.step % cfg.val_every == 0:
                val, val_step = validate(ft.module, ft.valid, cfg, ft.step, run_log), ft.step
    save_state(ft)
    ft.use_ema()
    if val_step != ft.step or ft.ema is not None:
        val = validate(ft.module, ft.valid, cfg, ft.step, run_log)
    run_log.plot()
    run_log.close()
    save_result(ft, val)
    summary = {"out": str(ft.out), "steps": ft.step, "train_clips": len(ft.train), "val_loss_before": val_before, "val_loss": val}
    return summary | {"minutes": round(budget.elapsed() / 60, 2)}

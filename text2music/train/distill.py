"""Guidance distillation: a student flow model that gives the guided velocity in one pass.

Classifier-free guidance costs two network passes per sampler step (with and without the text).
The student is the teacher plus a zero-initialised embedding of the guidance scale (so it starts as
the teacher's conditional velocity) and learns, for scales drawn in [guidance_min, guidance_max],

    student(x_t, t, text, controls, w)  ~  v_uncond + w * (v_cond - v_uncond)     (the teacher's)

on points x_t = (1 - t) * noise + t * mel of a corpus's clips (Meng et al., "On distillation of
guided diffusion models", 2023). Only the teacher's outputs are targets: the corpus gives the
points where the student is asked, its texts and its musical controls.

    OUT/model/                       the student, a model folder (config.json + fp16 safetensors)
    OUT/checkpoint.pt                resumable state (student, EMA, optimiser, RNG)
    OUT/log.jsonl, loss.png          training and validation loss (MSE to the teacher's guided velocity)
    OUT/distill_config.json          the settings (a resumed run must share them)
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from text2music.features.config import MelConfig
from text2music.models import load_pretrained, save_pretrained
from text2music.models.flow_transformer import Controls, FlowTransformer, FlowTransformerConfig
from text2music.models.lora import weights_sha256
from text2music.text import TextEmbedding, TextEncoder
from text2music.train.data import EmbeddingCache, MelTextSet
from text2music.train.finetune import features_for, learning_rate, valid_set
from text2music.train.loop import ema_update
from text2music.train.run import Budget, RunLog, check_resume, load_checkpoint, save_checkpoint, stop_on_sigint

log = logging.getLogger(__name__)


@dataclass
class DistillConfig:
    data: str  # corpus folder whose clips give the points x_t (its train split), texts and controls
    out: str  # run folder; the student is written to OUT/model
    base: str  # the teacher's model folder
    minutes: float | None = 45.0  # training time budget (None: steps only)
    steps: int | None = None  # optimiser steps budget (None: minutes only)
    lr: float = 5e-5
    warmup: int = 50
    ema_decay: float = 0.999
    batch_size: int = 8
    crop_frames: int = 250  # random 4-s crops, as the teacher's last training stage
    guidance_min: float = 1.0
    guidance_max: float = 6.0
    text_mode: str = "mixed"
    control_drop: float = 0.3  # as the teacher was trained
    val_clips: int = 32
    val_every: int = 200
    checkpoint_every: int = 50
    log_every: int = 10
    jobs: int = 2
    seed: int = 0

    def __post_init__(self):
        if self.minutes is None and self.steps is None:
            raise ValueError("give --minutes or --steps (or both): distillation needs a budget")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"--minutes must be positive, got {self.minutes}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"--steps must be at least 1, got {self.steps}")
        if not 0 < self.lr < 1:
            raise ValueError(f"--lr must be in (0, 1), got {self.lr}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"--ema-decay must be in (0, 1), got {self.ema_decay}")
        if not 1.0 <= self.guidance_min <= self.guidance_max:
            raise ValueError(f"need 1 <= --guidance-min <= --guidance-max, got {self.guidance_min} and {self.guidance_max}")
        if self.batch_size < 1 or self.crop_frames < 2:
            raise ValueError(f"--batch-size must be >= 1 and --crop-frames >= 2, got {self.batch_size} and {self.crop_frames}")

    def resume_key(self) -> dict:
        volatile = ("minutes", "steps", "jobs", "log_every", "checkpoint_every", "val_every")
        return {k: v for k, v in asdict(self).items() if k not in volatile}


@dataclass
class Distillation:
    """Everything one distillation run holds."""

    cfg: DistillConfig
    out: Path
    teacher: FlowTransformer
    student: FlowTransformer
    ema: FlowTransformer
    config: dict  # the teacher's config.json
    cache: EmbeddingCache
    opt: torch.optim.Optimizer
    gen: torch.Generator
    train: MelTextSet
    valid: MelTextSet | None
    step: int = 0


def make_student(teacher: FlowTransformer) -> FlowTransformer:
    """The teacher's weights in a model that also takes the guidance scale (its embedding starts at zero)."""
    student = FlowTransformer(FlowTransformerConfig(**(asdict(teacher.cfg) | {"guidance_embed": True})))
    missing = student.load_state_dict(teacher.state_dict(), strict=False).missing_keys
    if any(not k.startswith("guidance_in.") for k in missing):
        raise ValueError(f"the teacher lacks weights the student needs: {missing}")
    return student


def setup(cfg: DistillConfig) -> Distillation:
    """Teacher, student (the teacher plus a guidance input), corpus and text embeddings; resumed from
    OUT/checkpoint.pt when there is one."""
    out = Path(cfg.out)
    teacher, mel, config = load_pretrained(cfg.base)
    if config["kind"] != "flow_transformer":
        raise ValueError(f"{cfg.base}: guidance distillation needs a flow_transformer model, this one is {config['kind']!r}")
    if teacher.cfg.guidance_embed:
        raise ValueError(f"{cfg.base} is already guidance-distilled; distil its teacher")
    check_resume(out / "distill_config.json", asdict(cfg), cfg.resume_key(), "distillation run")
    teacher.requires_grad_(False)
    features = features_for(cfg.data, mel, cfg.jobs)
    controlled = teacher.cfg.control_frames > 0
    train = MelTextSet(str(features), "train", cfg.text_mode, controls=controlled)
    valid = valid_set(features, cfg.val_clips, controlled)
    texts = [t for c in train.choices for t in c] + (valid.texts if valid else [])
    cache = EmbeddingCache(TextEncoder.from_model_folder(cfg.base, config["text"]), texts)
    torch.manual_seed(cfg.seed)
    student = make_student(teacher).train()
    ema = copy.deepcopy(student).eval().requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=0.0)
    run = Distillation(cfg, out, teacher, student, ema, config, cache, opt, torch.Generator().manual_seed(cfg.seed), train, valid)
    state = load_checkpoint(out / "checkpoint.pt")
    if state is not None:
        student.load_state_dict(state["student"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        run.gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        run.step = state["step"]
        log.info("distill: resumed at step %d", run.step)
    return run


def save_state(run: Distillation) -> None:
    state = {"student": run.student.state_dict(), "ema": run.ema.state_dict(), "optimizer": run.opt.state_dict()}
    save_checkpoint(
        run.out / "checkpoint.pt", state | {"generator": run.gen.get_state(), "torch_rng": torch.get_rng_state(), "step": run.step}
    )


@torch.no_grad()
def teacher_velocity(teacher: FlowTransformer, x: torch.Tensor, t: torch.Tensor, text: TextEmbedding, controls, w: torch.Tensor):
    """The teacher's guided velocity at scales `w` `(B,)`: with and without text and controls, as one batch."""
    B = x.shape[0]
    both = TextEmbedding(text.tokens.repeat(2, 1, 1), text.mask.repeat(2, 1), text.pooled.repeat(2, 1))
    drop = torch.cat([torch.zeros(B, dtype=torch.bool), torch.ones(B, dtype=torch.bool)])
    if controls is not None:
        controls = Controls(torch.cat([controls.frames, 0 * controls.frames]), torch.cat([controls.globals, 0 * controls.globals]))
    v_cond, v_uncond = teacher.velocity(x.repeat(2, 1, 1), t.repeat(2), both, drop, controls).chunk(2)
    return v_uncond + w[:, None, None] * (v_cond - v_uncond)  # classifier-free guidance (generate.sampling.guide)


def distill_loss(run: Distillation, model: FlowTransformer, mels, texts, controls, gen: torch.Generator) -> torch.Tensor:
    """MSE between `model`'s one-pass velocity and the teacher's guided one, at random points, times and scales."""
    cfg = run.cfg
    B = mels.shape[0]
    noise = torch.randn(mels.shape, generator=gen)
    t = torch.rand(B, generator=gen)
    w = cfg.guidance_min + (cfg.guidance_max - cfg.guidance_min) * torch.rand(B, generator=gen)
    x_t = (1 - t[:, None, None]) * noise + t[:, None, None] * mels
    text = run.cache.batch(texts)
    target = teacher_velocity(run.teacher, x_t, t, text, controls, w)
    return F.mse_loss(model.velocity(x_t, t, text, torch.zeros(B, dtype=torch.bool), controls, guidance=w), target)


def train_step(run: Distillation, total: int | None) -> float:
    """One optimiser step on a batch of random crops of the corpus."""
    cfg = run.cfg
    idx = torch.randint(0, len(run.train), (cfg.batch_size,), generator=run.gen).tolist()
    crop = (cfg.crop_frames, cfg.crop_frames)
    mels, texts, controls = run.train.batch(idx, run.gen, crop, multiple=run.teacher.cfg.patch, control_drop=cfg.control_drop)
    for group in run.opt.param_groups:
        group["lr"] = learning_rate(cfg, run.step, total)
    loss = distill_loss(run, run.student, mels, texts, controls, run.gen)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.student.parameters(), 1.0)
    run.opt.step()
    run.step += 1
    ema_update(run.ema, run.student, cfg.ema_decay, run.step)
    return loss.item()


@torch.no_grad()
def validate(run: Distillation, run_log: RunLog) -> float | None:
    """The EMA student's loss on the valid clips, with fixed crops, noise, times and scales; logged."""
    if run.valid is None or not len(run.valid):
        return None
    gen = torch.Generator().manual_seed(1234)
    losses = []
    for start in range(0, len(run.valid), run.cfg.batch_size):
        idx = list(range(start, min(start + run.cfg.batch_size, len(run.valid))))
        mels, texts, controls = run.valid.batch(idx, gen, (run.cfg.crop_frames,) * 2, multiple=run.teacher.cfg.patch)
        losses.append(distill_loss(run, run.ema, mels, texts, controls, gen).item() * len(idx))
    loss = sum(losses) / len(run.valid)
    run_log.write({"type": "val", "step": run.step, "val_loss": loss})
    return loss


def save_result(run: Distillation, val: float | None) -> Path:
    """The EMA student as a model folder beside the teacher's text encoder settings (fp16 weights)."""
    folder = run.out / "model"
    trained = dict(run.config.get("trained", {}))
    trained["guidance_distill"] = {
        "teacher": str(run.cfg.base),
        "teacher_sha256": weights_sha256(run.cfg.base),  # adapters of the teacher fit the student (models.lora.merge_adapter)
        "step": run.step,
        "val_loss": val,
        "settings": asdict(run.cfg),
    }
    save_pretrained(
        folder, run.ema, MelConfig.from_dict(run.config["mel"]), run.config["text"], dtype=torch.float16, extra={"trained": trained}
    )
    return folder


def distill(cfg: DistillConfig, progress: bool = True) -> dict:
    """Distil the guidance of `cfg.base` into a one-pass student for the budget; resumable. Returns a summary."""
    from tqdm import tqdm

    run = setup(cfg)
    run_log = RunLog(run.out)
    run_log.resume(run.step)
    val_before = validate(run, run_log) if run.step == 0 else None
    budget = Budget(max_steps=cfg.steps, max_minutes=cfg.minutes)
    losses: list[float] = []
    with stop_on_sigint() as stop, tqdm(desc="distill", unit="step", initial=run.step, total=cfg.steps, disable=not progress) as bar:
        budget.start()
        while not budget.spent(run.step) and not stop:
            losses.append(train_step(run, cfg.steps))
            bar.update(1)
            if run.step % cfg.log_every == 0:
                mean = sum(losses) / len(losses)
                run_log.write(
                    {"type": "step", "step": run.step, "loss": mean, "lr": run.opt.param_groups[0]["lr"], "minutes": budget.elapsed() / 60}
                )
                bar.set_postfix(loss=f"{mean:.4f}")
                losses.clear()
            if run.step % cfg.checkpoint_every == 0:
                save_state(run)
            if run.step % cfg.val_every == 0:
                validate(run, run_log)
    save_state(run)
    val = validate(run, run_log)
    run_log.plot()
    run_log.close()
    folder = save_result(run, val)
    summary = {"out": str(folder), "steps": run.step, "val_loss_before": val_before, "val_loss": val}
    return summary | {"minutes": round(budget.elapsed() / 60, 2)}

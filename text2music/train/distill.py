"""Guidance distillation: a student flow model that gives the guided velocity in one pass.

Classifier-free guidance costs two network passes per sampler step (with and without the text).
The student is the teacher plus a zero-initialised embedding of the guidance scale (so it starts as
the teacher's conditional velocity) and learns, for scales drawn in [guidance_min, guidance_max],

    student(x_t, t, text, controls, w)  ~  v_uncond + w * (v_cond - v_uncond)     (the teacher's)

on points x_t = (1 - t) * noise + t * mel of a corpus's clips (Meng et al., "On distillation of
guided diffusion models", 2023). Only the teacher's outputs are targets: the corpus gives the
points where the student is asked, its texts and its musical controls.

Guided sampling leaves those straight paths (the higher the scale, the farther), so a student asked
only there can drift where it is used. With `rollout` > 0, that share of each batch is asked where
the student itself goes instead: at a random step of its own `rollout_steps`-step Euler sampling (the
EMA student, as it ships), from the row's noise, at the row's scale (`rollout_points`).

With `drum_free_guidance` s > 0, the teacher's velocity of the rows whose drums control is off is
steered away from drums as the sampler would steer it (`models.steering.AwayFrom`, the text made
"with drums" by `text.controls.drums_away`, one more teacher pass for those rows): the student
then gives drum-free guidance at scale s in its one pass, and its config.json says so. The teacher
may then be a distilled model itself (self-distillation): its one-pass velocity at scale w is the
target, so the rows that are not steered keep exactly what it gives and only the steering is learnt.
With `drum_free_adapter` r > 0 (self-distillation only) the steering is learnt in a rank-r LoRA
adapter of the teacher's frozen weights, on the steered rows only; the model folder written is the
teacher's with the adapter beside it (OUT/model/drum_free), which generation runs only where the drums
are off (`models.steering.DrumFreeSwitch`), so clips with drums stay exactly the teacher's.

    OUT/model/                       the student, a model folder (config.json + fp16 safetensors)
    OUT/checkpoint.pt                resumable state (student, EMA, optimiser, RNG)
    OUT/log.jsonl, loss.png          training and validation loss (MSE to the teacher's guided velocity)
    OUT/distill_config.json          the settings (a resumed run must share them)
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from text2music.features.config import MelConfig
from text2music.models import load_pretrained, save_pretrained
from text2music.models.flow_transformer import Context, Controls, FlowTransformer, FlowTransformerConfig, masked_mse
from text2music.models.folders import MAX_DRUM_FREE_GUIDANCE, adapter_fits, learnt_steering
from text2music.models.lora import LoraSettings, add_lora, save_adapter, weights_sha256
from text2music.models.steering import UNSTEERED_HZ, AwayFrom, conditioning_rows, drums_off, steered_bins, with_drums
from text2music.text import TextEmbedding, TextEncoder
from text2music.text.controls import drums_away
from text2music.train.data import EmbeddingCache, MelTextSet
from text2music.train.finetune import VOLATILE, features_for, flow_model, valid_set
from text2music.train.loop import ema_update
from text2music.train.masks import sample_known
from text2music.train.run import Budget, Trainer, fit, warmup_cosine
from text2music.utils import atomic_path, atomic_write_text, record_settings, removed_on_failure

STEERING_ADAPTER = "drum_free"  # the sub-folder of a model folder where its learnt drum-free adapter lies

TEACHER_HINT = (
    "pass the model folder of a teacher that takes no guidance input as --base "
    "(the bundled default is itself distilled; scripts/distill_default.sh extracts its teacher from git), "
    "or add --drum-free-guidance to teach a distilled model its own drum-free guidance"
)


@dataclass
class DistillConfig:
    data: str | list[str]  # corpus folder(s) whose clips give the points x_t (train splits), texts and controls
    out: str  # run folder; the student is written to OUT/model
    base: str  # the teacher's model folder
    student_init: str | None = None  # a distilled model folder whose weights start the student (None: the teacher's)
    minutes: float | None = 45.0  # training time budget (None: steps only)
    steps: int | None = None  # optimiser steps budget (None: minutes only)
    lr: float = 5e-5
    warmup: int = 50
    ema_decay: float = 0.999
    batch_size: int = 8
    crop_frames: int = 250  # random 4-s crops, as the teacher's last training stage
    guidance_min: float = 1.0
    guidance_max: float = 6.0
    rollout: float = 0.0  # share of each batch asked on the student's own sampling path (0: all on the corpus's straight paths)
    rollout_steps: int = 8  # the sampling it follows: this many uniform Euler steps (the shipped default's)
    drum_free_guidance: float = 0.0  # where the drums control is off, the teacher steered away from drums at this scale
    drum_free_adapter: int = 0  # learn that steering in a LoRA adapter of this rank, the weights kept (0: in the weights)
    text_mode: str = "mixed"
    control_drop: float = 0.3  # as the teacher was trained
    val_clips: int = 32
    val_every: int = 200
    checkpoint_every: int = 50
    log_every: int = 10
    jobs: int = 2
    seed: int = 0

    def __post_init__(self):
        self.data = [str(d) for d in ([self.data] if isinstance(self.data, (str, Path)) else self.data)]
        if not self.data:
            raise ValueError("--data needs at least one corpus folder")
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
        if not 0.0 <= self.rollout <= 1.0:
            raise ValueError(f"--rollout must be in [0, 1], got {self.rollout}")
        if not 0.0 <= self.drum_free_guidance <= MAX_DRUM_FREE_GUIDANCE:
            raise ValueError(f"--drum-free-guidance must be in [0, {MAX_DRUM_FREE_GUIDANCE:g}], got {self.drum_free_guidance}")
        if self.drum_free_adapter:
            LoraSettings(rank=self.drum_free_adapter)  # its range checked there
            if not self.drum_free_guidance or self.student_init is not None:
                raise ValueError("--drum-free-adapter needs --drum-free-guidance and a distilled --base (no --student-init)")
        if self.rollout_steps < 1:
            raise ValueError(f"--rollout-steps must be at least 1, got {self.rollout_steps}")
        if self.batch_size < 1 or self.crop_frames < 2:
            raise ValueError(f"--batch-size must be >= 1 and --crop-frames >= 2, got {self.batch_size} and {self.crop_frames}")


def make_student(teacher: FlowTransformer, init: FlowTransformer | None = None) -> FlowTransformer:
    """The teacher's weights in a model that also takes the guidance scale (its embedding starts at
    zero); with `init` (an earlier student of a teacher without some input, e.g. the context), its
    weights over the teacher's, so the new input comes from the teacher and the rest from `init`."""
    student = FlowTransformer(FlowTransformerConfig(**(asdict(teacher.cfg) | {"guidance_embed": True})))
    missing = student.load_state_dict(teacher.state_dict(), strict=False).missing_keys
    if any(not k.startswith("guidance_in.") for k in missing):
        raise ValueError(f"the teacher lacks weights the student needs: {missing}")
    if init is not None:
        if not init.cfg.guidance_embed:
            raise ValueError("the student's starting weights must be a guidance-distilled model")
        unexpected = student.load_state_dict(init.state_dict(), strict=False).unexpected_keys
        if unexpected:
            raise ValueError(f"the student's starting weights do not fit the teacher: {unexpected[:3]}")
    return student


@torch.no_grad()
def teacher_velocity(
    teacher: FlowTransformer, x: torch.Tensor, t: torch.Tensor, text: TextEmbedding, controls, w: torch.Tensor, context=None
):
    """The teacher's guided velocity at scales `w` `(B,)`: with and without text and controls (the
    context, known frames, in both), as one batch; a distilled teacher's own one-pass velocity."""
    B = x.shape[0]
    if teacher.cfg.guidance_embed:  # a distilled teacher gives its guided velocity in one pass
        return teacher.velocity(x, t, text, torch.zeros(B, dtype=torch.bool), controls, guidance=w, context=context)
    both = TextEmbedding(text.tokens.repeat(2, 1, 1), text.mask.repeat(2, 1), text.pooled.repeat(2, 1))
    drop = torch.cat([torch.zeros(B, dtype=torch.bool), torch.ones(B, dtype=torch.bool)])
    if controls is not None:
        controls = Controls(torch.cat([controls.frames, 0 * controls.frames]), torch.cat([controls.globals, 0 * controls.globals]))
    context = context.repeat(2) if context is not None else None
    v_cond, v_uncond = teacher.velocity(x.repeat(2, 1, 1), t.repeat(2), both, drop, controls, context=context).chunk(2)
    return v_uncond + w[:, None, None] * (v_cond - v_uncond)  # classifier-free guidance (generate.sampling.guide)


@torch.no_grad()
def rollout_points(
    model: FlowTransformer, noise, taken: torch.Tensor, steps: int, w: torch.Tensor, text: TextEmbedding, controls, context=None
) -> torch.Tensor:
    """Row i of `noise` after `taken[i]` of `steps` uniform Euler steps of `model`'s one-pass guided
    velocity at scale `w[i]` (at flow time taken[i] / steps), the known frames of `context` kept on
    their straight path from the noise to the known mel, as the sampler keeps them
    (`generate.flow.keep_known`)."""
    B = noise.shape[0]
    x = noise.clone()
    for k in range(int(taken.max()) if B else 0):
        t = torch.full((B,), k / steps)
        v = model.velocity(x, t, text, torch.zeros(B, dtype=torch.bool), controls, guidance=w, context=context)
        if context is not None:
            v = torch.where(context.known[:, None], context.mel - noise, v)
        x = torch.where((k < taken)[:, None, None], x + v / steps, x)
    return x


class Distillation(Trainer):
    """A student (the teacher plus a guidance input) learning the teacher's guided velocity, with an EMA of its weights."""

    name, checkpoint = "distill", "checkpoint.pt"

    def __init__(self, cfg: DistillConfig, progress: bool = True):
        base_config = flow_model(cfg.base, "guidance distillation")
        if base_config["model"].get("guidance_embed") and not cfg.drum_free_guidance:
            raise ValueError(f"{cfg.base} is already guidance-distilled: {TEACHER_HINT}")
        if cfg.drum_free_adapter and not base_config["model"].get("guidance_embed"):
            raise ValueError(f"--drum-free-adapter: {cfg.base} is not guidance-distilled (the adapter learns its own velocity)")
        if learnt_steering(base_config)[0]:
            raise ValueError(f"{cfg.base} already gives drum-free guidance in one pass: pass the model it was distilled from as --base")
        super().__init__(Path(cfg.out), Budget(cfg.steps, cfg.minutes), cfg.log_every, cfg.checkpoint_every, cfg.val_every)
        self.cfg = cfg
        record_settings(self.out / "distill_config.json", asdict(cfg), "a distillation run", volatile=VOLATILE)
        self.teacher, mel, self.config = load_pretrained(cfg.base)
        self.teacher.requires_grad_(False)
        features = [str(features_for(d, mel, cfg.jobs, progress)) for d in cfg.data]
        controlled = self.teacher.cfg.control_frames > 0
        self.train = MelTextSet(features, "train", cfg.text_mode, controls=controlled)
        self.valid = valid_set(features, cfg.val_clips, controlled)
        texts = [t for s in (self.train, self.valid) if s is not None for c in s.choices for t in c]
        if cfg.drum_free_guidance > 0:
            if not controlled:
                raise ValueError(f"--drum-free-guidance needs a teacher with musical controls; {cfg.base} has none")
            texts += [drums_away(t) for t in texts]
            self.bins = steered_bins(mel)
        self.cache = EmbeddingCache(TextEncoder.from_model_folder(cfg.base, self.config["text"]), texts)
        torch.manual_seed(cfg.seed)
        init, earlier = None, (self.config if self.teacher.cfg.guidance_embed else {})
        if cfg.student_init is not None:
            init, _, earlier = load_pretrained(cfg.student_init)
        self.inherited_fits = list(adapter_fits(earlier))
        self.runs_with = {k: earlier[k] for k in ("vocoder", "precision") if k in earlier}  # as the earlier student ran
        self.student = make_student(self.teacher, init).train()
        self.peft = None  # with drum_free_adapter: PEFT's wrapper of the student, whose LoRA weights alone train
        if cfg.drum_free_adapter:
            self.peft = add_lora(self.student, LoraSettings(rank=cfg.drum_free_adapter, alpha=float(cfg.drum_free_adapter)))
        self.ema_peft = copy.deepcopy(self.peft)
        self.ema = (self.ema_peft.base_model.model if self.peft else copy.deepcopy(self.student)).eval().requires_grad_(False)
        trained = [p for p in self.student.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(cfg.seed)

    def loss(self, model: FlowTransformer, mels, texts, controls, gen: torch.Generator, rollout: float = 0.0) -> torch.Tensor:
        """MSE between `model`'s one-pass velocity and the teacher's guided one, at random points,
        times and scales (and, for a teacher with context, random known frames: `train.masks`);
        the first `rollout` share of the rows at points of the EMA student's own sampling path."""
        cfg = self.cfg
        if cfg.drum_free_adapter:  # the adapter runs only where the drums are off: the other rows teach it nothing
            keep = drums_off(controls.globals)
            if not keep.any():
                return torch.zeros((), requires_grad=True)
            mels, texts = mels[keep], [t for t, k in zip(texts, keep.tolist()) if k]
            controls = Controls(controls.frames[keep], controls.globals[keep])
        B = mels.shape[0]
        noise = torch.randn(mels.shape, generator=gen)
        t = torch.rand(B, generator=gen)
        w = cfg.guidance_min + (cfg.guidance_max - cfg.guidance_min) * torch.rand(B, generator=gen)
        text = self.cache.batch(texts)
        known = sample_known(B, mels.shape[-1], gen, self.teacher.cfg.patch) if self.teacher.cfg.context else None
        context = Context(mels, known) if known is not None else None
        n = round(rollout * B)
        taken = torch.randint(0, cfg.rollout_steps, (n,), generator=gen)
        t[:n] = taken / cfg.rollout_steps
        x_t = (1 - t[:, None, None]) * noise + t[:, None, None] * mels
        if n:
            first = conditioning_rows(slice(0, n), text, controls, context)
            x_t[:n] = rollout_points(self.ema, noise[:n], taken, cfg.rollout_steps, w[:n], *first)
        target = teacher_velocity(self.steered(texts, controls), x_t, t, text, controls, w, context)
        v = model.velocity(x_t, t, text, torch.zeros(B, dtype=torch.bool), controls, guidance=w, context=context)
        return masked_mse(v, target, known)

    def steered(self, texts: list[str], controls: Controls | None):
        """The teacher, steered away from drums on the rows whose drums control is off (`drum_free_guidance`)."""
        if not self.cfg.drum_free_guidance or controls is None:
            return self.teacher
        scale = self.cfg.drum_free_guidance * drums_off(controls.globals).float()
        away = self.cache.batch([drums_away(t) for t in texts])
        return AwayFrom(self.teacher, away, with_drums(controls.globals), scale, self.bins)

    def train_step(self) -> dict[str, float]:
        """One optimiser step on a batch of random crops of the corpus."""
        cfg = self.cfg
        idx = torch.randint(0, len(self.train), (cfg.batch_size,), generator=self.gen).tolist()
        crop = (cfg.crop_frames, cfg.crop_frames)
        mels, texts, controls = self.train.batch(idx, self.gen, crop, multiple=self.teacher.cfg.patch, control_drop=cfg.control_drop)
        for group in self.optimizer.param_groups:
            group["lr"] = warmup_cosine(cfg.lr, self.step, cfg.warmup, cfg.steps, floor=0.1)
        loss = self.loss(self.student, mels, texts, controls, self.gen, cfg.rollout)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], 1.0)
        self.optimizer.step()
        self.step += 1
        ema_update(self.ema, self.student, cfg.ema_decay, self.step)
        return {"loss": loss.item()}

    @torch.no_grad()
    def validate(self) -> dict[str, float] | None:
        """The EMA student's loss on the valid clips, with fixed crops, noise, times and scales: on
        the corpus's straight paths (`val_loss`) and on its own sampling path (`val_rollout_loss`)."""
        if self.valid is None or not len(self.valid):
            return None
        out = {}
        for name, share in (("val_loss", 0.0), ("val_rollout_loss", 1.0)):
            gen = torch.Generator().manual_seed(1234)
            total = 0.0
            for start in range(0, len(self.valid), self.cfg.batch_size):
                idx = list(range(start, min(start + self.cfg.batch_size, len(self.valid))))
                mels, texts, controls = self.valid.batch(idx, gen, (self.cfg.crop_frames,) * 2, multiple=self.teacher.cfg.patch)
                total += self.loss(self.ema, mels, texts, controls, gen, share).item() * len(idx)
            out[name] = total / len(self.valid)
        return out

    def state_dict(self) -> dict:
        state = {"student": self.student.state_dict(), "ema": self.ema.state_dict(), "optimizer": self.optimizer.state_dict()}
        return state | {"generator": self.gen.get_state(), "torch_rng": torch.get_rng_state(), "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.student.load_state_dict(state["student"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.step = state["step"]

    def save_result(self, val: dict | None) -> None:
        """The EMA student as a model folder (OUT/model) beside the teacher's text encoder settings (fp16
        weights); with drum_free_adapter, the teacher's folder with the EMA adapter in OUT/model/drum_free."""
        if self.peft is not None:
            return self.save_steering_adapter(val)
        trained = dict(self.config.get("trained", {}))
        trained["guidance_distill"] = {
            "teacher": str(self.cfg.base),
            "teacher_sha256": weights_sha256(self.cfg.base),  # adapters of the teacher fit the student (models.lora.merge_adapter)
            "also_fits": self.inherited_fits,  # and so do those the student it started from took (`student_init` or a distilled base)
            "step": self.step,
            "val_loss": (val or {}).get("val_loss"),
            "settings": asdict(self.cfg),
        }
        mel = MelConfig.from_dict(self.config["mel"])
        extra = {**self.runs_with, "trained": trained}
        if self.cfg.drum_free_guidance:
            extra["drum_free_guidance"] = {"scale": self.cfg.drum_free_guidance, "unsteered_hz": list(UNSTEERED_HZ)}
        save_pretrained(self.out / "model", self.ema, mel, self.config["text"], dtype=torch.float16, extra=extra)

    def save_steering_adapter(self, val: dict | None) -> None:
        """OUT/model: the teacher's weights file as it is, its config.json naming the drum-free adapter
        (`models.folders.steering_adapter`), and the adapter (the EMA's LoRA weights) in OUT/model/drum_free."""
        cfg, out = self.cfg, self.out / "model"
        sha = weights_sha256(cfg.base)
        with atomic_path(out / "model.safetensors") as tmp:
            shutil.copyfile(Path(cfg.base) / "model.safetensors", tmp)
        summary = {"steps": self.step, "val_loss": (val or {}).get("val_loss"), "settings": asdict(cfg)}
        info = {"base": str(cfg.base), "base_sha256": sha, "lora": {"rank": cfg.drum_free_adapter}, "trained": summary}
        save_adapter(self.ema_peft, out / STEERING_ADAPTER, info)
        steering = {"scale": cfg.drum_free_guidance, "unsteered_hz": list(UNSTEERED_HZ), "adapter": STEERING_ADAPTER}
        config = self.config | {"drum_free_guidance": steering}
        config["trained"] = dict(config.get("trained", {})) | {"drum_free_adapter": summary}
        atomic_write_text(out / "config.json", json.dumps(config, indent=2) + "\n")


def distill(cfg: DistillConfig, progress: bool = True) -> dict:
    """Distil the guidance of `cfg.base` into a one-pass student for the budget; resumable. Returns a
    summary. A run that fails before its first checkpoint leaves no folder behind."""
    with removed_on_failure(Path(cfg.out), Distillation.checkpoint):
        run = Distillation(cfg, progress)
        result = fit(run, progress)
    val_before, val = (r and r.get("val_loss") for r in (result["val_before"], result["val"]))
    summary = {"out": str(run.out / "model"), "steps": run.step, "val_loss_before": val_before, "val_loss": val}
    return summary | {"minutes": round(result["seconds"] / 60, 2)}

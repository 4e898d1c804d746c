"""`text2music train`: a model learns a feature folder over epochs (`Training`, a `run.Trainer`:
its step, the end of an epoch with validation, best weights and early stopping; `run.fit` is the loop).

Runs as one process, or as several under `torchrun` (PyTorch DDP: gloo on CPU, nccl on GPU):

    text2music train --config configs/seed_lstm.json
    torchrun --nproc_per_node 2 -m text2music train --config configs/seed_lstm.json

What a run folder (`TrainConfig.out`) holds:
    train_config.json   the config (a resumed run must use the same one)
    mel_config.json     the features' MelConfig (a resumed run must read the same kind of features)
    state.pt            resumable state: model, EMA, optimiser, scheduler, position, RNG (atomic)
    best/               inference weights of the best validation loss (model.safetensors + config.json)
    last/               inference weights at the end of the run
    log.jsonl           one line per `log_every` steps and per epoch (null where a value is not finite)
    loss.png            train and validation loss curves
Killing the process and running the same command again continues from the last checkpoint; on
CPU the continued run is bit-identical to one that was never interrupted.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DistributedSampler

from text2music.features.controls import FRAME_CHANNELS, GLOBAL_CHANNELS
from text2music.features.mel import MelConfig
from text2music.models import build_model, load_pretrained, save_pretrained
from text2music.models.flow_transformer import Controls
from text2music.text import TextEncoder
from text2music.train.config import TrainConfig
from text2music.train.data import EmbeddingCache, MelTextSet
from text2music.train.masks import sample_known
from text2music.train.run import Budget, Trainer, ema_lerp, finite_or_none, fit, plot_losses
from text2music.utils import atomic_path, record_settings

__all__ = ["LossModule", "TrainResult", "Training", "evaluate_loss", "plot_losses", "train"]

# fields that may differ when resuming a run: they do not change what is computed
RESUMABLE_CHANGES = {"max_steps", "max_minutes", "log_every", "tensorboard", "checkpoint_every"}


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Distributed:
    """Join the process group that torchrun describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Distributed(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Distributed(rank=rank, world=world, device=device)


class LossModule(nn.Module):
    """What DDP wraps: (mels, texts) -> loss. Text comes from the embedding cache of a frozen
    encoder, or from the encoder itself when it is trained (then it is a submodule here)."""

    def __init__(self, model: nn.Module, encoder: TextEncoder | None = None, cache: EmbeddingCache | None = None):
        super().__init__()
        if (encoder is None) == (cache is None):
            raise ValueError("LossModule needs either a trained encoder or the cache of a frozen one")
        self.model = model
        self.encoder = encoder
        self.cache = cache

    def forward(
        self, mels: torch.Tensor, texts: list[str], controls: Controls | None = None, known: torch.Tensor | None = None
    ) -> torch.Tensor:
        text = self.cache.batch(texts).to(mels.device) if self.cache is not None else self.encoder(texts)
        if known is not None:
            return self.model.loss(mels, text, None if controls is None else controls.to(mels.device), known.to(mels.device))
        if controls is None:
            return self.model.loss(mels, text)
        return self.model.loss(mels, text, controls.to(mels.device))


@dataclass
class TrainResult:
    model: nn.Module
    ema: nn.Module | None
    summary: dict


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _any_rank(flag: bool, ddp: Distributed) -> bool:
    """True on every rank if it is true on any (so all ranks stop together)."""
    if ddp.world == 1:
        return flag
    t = torch.tensor([float(flag)], device=ddp.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _from_rank0(value: float, ddp: Distributed) -> float:
    if ddp.world == 1:
        return value
    t = torch.tensor([value], device=ddp.device, dtype=torch.float64)
    dist.broadcast(t, src=0)
    return float(t.item())


def evaluate_loss(module: LossModule, data: MelTextSet, batch_size: int, device, multiple: int = 1, context: bool = False) -> float:
    """Mean loss over a whole split, in eval mode (no dropout), without gradients.

    Randomness inside the loss (a flow model's noise and times, the context masks) is drawn from a
    fixed seed, so the numbers of two epochs compare, and the training stream of randomness is left
    as it was."""
    masks = torch.Generator().manual_seed(4321)
    was_training = module.training
    module.eval()
    total, count = 0.0, 0
    with torch.no_grad(), torch.random.fork_rng(devices=[device] if torch.device(device).type == "cuda" else []):
        torch.manual_seed(1234)
        for i in range(0, len(data), batch_size):
            mels = data.mels[i : i + batch_size].to(device)
            mels = mels[..., : mels.shape[-1] // multiple * multiple]  # whole tokens of a patched model
            idx = list(range(i, i + len(mels)))
            controls = data.control_batch(idx, [0] * len(idx), mels.shape[-1]) if data.controls is not None else None
            known = sample_known(len(mels), mels.shape[-1], masks, multiple) if context else None
            loss = module(mels, data.texts[i : i + batch_size], controls, known)
            total += float(loss) * len(mels)
            count += len(mels)
    module.train(was_training)
    return total / max(count, 1)


def _load_data(cfg: TrainConfig, ddp: Distributed, out: Path) -> tuple[MelTextSet, MelTextSet]:
    """The train and valid splits (the test split is never read), checked against the run's
    MelConfig; the whole train split goes to the GPU, where batches are then cut."""
    train_set = MelTextSet(cfg.features, "train", cfg.text_mode, cfg.limit_train, cfg.controls)
    val_set = MelTextSet(cfg.features, "valid", cfg.text_mode, cfg.limit_val, cfg.controls)
    if ddp.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        train_set.mels = train_set.mels.to(ddp.device)
    if (out / "mel_config.json").exists() and MelConfig.load(out / "mel_config.json") != train_set.mel_config:
        raise ValueError(f"{cfg.features} holds features made with another MelConfig than the run in {out} was trained on")
    if ddp.main:
        train_set.mel_config.save(out / "mel_config.json")
    return train_set, val_set


def epoch_clips(train_set: MelTextSet, drum_free_repeat: int) -> list[int]:
    """The clips one epoch draws (then shuffled): every clip once, a drum-free one `drum_free_repeat` times."""
    if drum_free_repeat == 1:
        return list(range(len(train_set)))
    return [i for i, c in enumerate(train_set.controls) for _ in range(drum_free_repeat if c.drums is False else 1)]


def _build_model(cfg: TrainConfig, mel_cfg: MelConfig, text_dim: int, device: torch.device) -> nn.Module:
    """The model, with the same weights on every rank (same seed), or those of `init_from`."""
    torch.manual_seed(cfg.seed)
    for key, value in (("n_mels", mel_cfg.n_mels), ("n_frames", mel_cfg.n_frames)):
        if cfg.model_args.get(key, value) != value:
            raise ValueError(f"model_args.{key}={cfg.model_args[key]} but the features in {cfg.features} have {key}={value}")
    args = {**cfg.model_args, "n_mels": mel_cfg.n_mels, "n_frames": mel_cfg.n_frames, "text_dim": text_dim}
    if cfg.controls:
        args.update(control_frames=FRAME_CHANNELS, control_global=GLOBAL_CHANNELS)
    if cfg.context:
        args.update(context=True)
    model = build_model(cfg.model, **args)
    if cfg.init_from is not None:
        init, _, init_config = load_pretrained(cfg.init_from)
        if init_config["kind"] != cfg.model or not _same_but_new_inputs(init.cfg, model.cfg):
            raise ValueError(f"init_from={cfg.init_from} holds a {init_config['kind']} {init.cfg}, not this run's {cfg.model} {model.cfg}")
        missing, unexpected = model.load_state_dict(init.state_dict(), strict=False)
        if unexpected or any(not _is_new_input(k) for k in missing):
            raise ValueError(f"init_from={cfg.init_from}: weights do not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.to(device)


def _is_new_input(name: str) -> bool:
    """Parameters of the control and context inputs, which a model fine-tuned to take them lacks."""
    return name.startswith(("control_in.", "global_in.", "context_in.")) or ".control." in name


def _same_but_new_inputs(a, b) -> bool:
    strip = {"control_frames": 0, "control_global": 0, "control_pulses": True, "context": False}
    return dataclasses.replace(a, **strip) == dataclasses.replace(b, **strip) if dataclasses.is_dataclass(a) else a == b


def _param_groups(cfg: TrainConfig, module: nn.Module) -> list[dict]:
    """One group, or two when the new inputs of a fine-tuned model learn at `new_lr`."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if cfg.new_lr is None or cfg.init_from is None:
        return [{"params": [p for _, p in named]}]
    new = [p for n, p in named if _is_new_input(n.removeprefix("model."))]
    old = [p for n, p in named if not _is_new_input(n.removeprefix("model."))]
    return [{"params": old}, {"params": new, "lr": cfg.new_lr}]


def ema_update(ema: nn.Module, model: nn.Module, max_decay: float, step: int) -> None:
    """ema <- decay * ema + (1 - decay) * model (the decay warmed up, `run.ema_lerp`), buffers copied."""
    ema_lerp(list(ema.parameters()), list(model.parameters()), max_decay, step)
    with torch.no_grad():
        for e, b in zip(ema.buffers(), model.buffers()):
            e.copy_(b)


class Training(Trainer):
    """A model learning a feature folder over epochs (the seed's recipe and the flow models'), on one
    process or several (DDP); validated, and its best weights kept, at the end of every epoch."""

    def __init__(self, cfg: TrainConfig, ddp: Distributed):
        """Data, text encoder (or its embedding cache), model, EMA, optimiser and schedule, in this
        order (the order of the random draws)."""
        out = Path(cfg.out)
        record_settings(out / "train_config.json", cfg.to_dict(), "a run", volatile=RESUMABLE_CHANGES, write=ddp.main)
        budget = Budget(cfg.max_steps, cfg.max_minutes)
        super().__init__(out, budget, cfg.log_every, cfg.checkpoint_every, main=ddp.main, tensorboard=cfg.tensorboard)
        self.cfg, self.ddp, self.device = cfg, ddp, ddp.device
        self.train_set, self.val_set = _load_data(cfg, ddp, out)
        self.mel_cfg = self.train_set.mel_config
        self.encoder = TextEncoder(cfg.text_encoder, cfg.text_max_length, trainable=cfg.finetune_text).to(ddp.device)
        silent = [t for t in self.train_set.silent if t] if cfg.drum_silent else []  # texts a batch may draw instead
        texts = [t for c in self.train_set.choices for t in c] + self.val_set.texts + silent
        self.cache = None if cfg.finetune_text else EmbeddingCache(self.encoder, texts)
        self.model = _build_model(cfg, self.mel_cfg, self.encoder.dim, ddp.device)
        self.module = LossModule(self.model, self.encoder if self.cache is None else None, self.cache)
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if cfg.ema_decay else None
        self.trained = nn.parallel.DistributedDataParallel(self.module) if ddp.world > 1 else self.module
        groups = _param_groups(cfg, self.module)
        self.params = [p for g in groups for p in g["params"]]
        self.optimizer = torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.scheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=cfg.epochs)
            if cfg.scheduler == "cosine"
            else torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda _: 1.0)
        )
        use_amp = ddp.device.type == "cuda" and cfg.precision != "fp32"
        self.amp_dtype = (torch.bfloat16 if cfg.precision == "bf16" else torch.float16) if use_amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_amp and cfg.precision == "fp16")
        self.patch = getattr(getattr(self.model, "cfg", None), "patch", 1)  # crops are cut to whole tokens of a patched model
        self.epoch_clips = epoch_clips(self.train_set, cfg.drum_free_repeat)
        self.sampler = DistributedSampler(range(len(self.epoch_clips)), num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=cfg.seed)
        self.batches_per_epoch = math.ceil(len(self.sampler) / cfg.batch_size)
        self.pos = {"epoch": 0, "batch": 0, "best_val": math.inf, "bad_epochs": 0, "stopped": False}  # with `step`, saved in checkpoints
        self.order: tuple[int, list[int]] = (-1, [])  # (epoch, the clips of the epoch in the order drawn)
        self.epoch_losses: list[float] = []
        torch.manual_seed(cfg.seed + 1)  # the training stream of randomness (dropout, a flow model's noise); a checkpoint replaces it

    def train_step(self) -> dict[str, float]:
        """One optimisation step on the next batch of the epoch; the end of the epoch after its last batch."""
        cfg, pos, device = self.cfg, self.pos, self.device
        if self.order[0] != pos["epoch"]:
            self.sampler.set_epoch(pos["epoch"])
            self.order = (pos["epoch"], [self.epoch_clips[i] for i in self.sampler])
        idx = self.order[1][pos["batch"] * cfg.batch_size : (pos["batch"] + 1) * cfg.batch_size]
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step * 101 + self.ddp.rank)
        mels, texts, controls = self.train_set.batch(idx, gen, cfg.crop_frames, self.patch, cfg.control_drop, cfg.drum_silent)
        mels = mels.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=self.amp_dtype or torch.float16, enabled=self.amp_dtype is not None):
            known = sample_known(len(mels), mels.shape[-1], gen, self.patch) if cfg.context else None
            loss = self.trained(mels, texts, controls, known)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            ema_update(self.ema, self.model, cfg.ema_decay, self.step)
        self.step += 1
        pos["batch"] += 1
        value = float(loss.detach())
        self.epoch_losses.append(value)
        if pos["batch"] == self.batches_per_epoch:
            self.end_of_epoch()
        return {"loss": value}

    def end_of_epoch(self) -> None:
        """Validate (the EMA when there is one), step the schedule, keep the best weights, decide on
        early stopping, log, plot and checkpoint."""
        cfg, pos = self.cfg, self.pos
        judged = self.trained if self.ema is None else LossModule(self.ema, self.module.encoder, self.cache)
        val_loss = evaluate_loss(judged, self.val_set, cfg.batch_size, self.device, self.patch, cfg.context)
        val_loss = _from_rank0(val_loss, self.ddp)  # every rank takes the same early-stopping decision
        self.scheduler.step()
        pos.update(epoch=pos["epoch"] + 1, batch=0)
        if val_loss < pos["best_val"]:
            pos.update(best_val=val_loss, bad_epochs=0)
            self.save_inference("best")
        else:
            pos["bad_epochs"] += 1
            pos["stopped"] = cfg.patience is not None and pos["bad_epochs"] >= cfg.patience
        train_loss = sum(self.epoch_losses) / max(len(self.epoch_losses), 1)
        self.epoch_losses = []
        lr = self.optimizer.param_groups[0]["lr"]
        record = {"type": "epoch", "step": self.step, "epoch": pos["epoch"], "train_loss": train_loss, "val_loss": val_loss}
        self.log.write(record | {"best_val": pos["best_val"], "lr": lr, "elapsed_s": self.budget.elapsed()}, {"val/loss": val_loss})
        self.log.plot()
        self.save_checkpoint()

    def done(self) -> bool:
        return self.pos["epoch"] >= self.cfg.epochs or self.pos["stopped"]

    def agree(self, flag: bool) -> bool:
        return _any_rank(flag, self.ddp)

    def state_dict(self) -> dict:
        return {
            "module": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "position": self.pos | {"step": self.step},
            "rng": _rng_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.pos = dict(state["position"])
        self.step = self.pos.pop("step")
        _set_rng_state(state["rng"])

    def save_inference(self, folder: str) -> None:
        """Inference weights (the EMA's when there is one) into `out/folder`."""
        if not self.main:
            return
        cfg, pos = self.cfg, self.pos
        text_info = {"encoder": cfg.text_encoder, "max_length": cfg.text_max_length, "mode": cfg.text_mode, "finetuned": cfg.finetune_text}
        dtype = torch.float16 if cfg.save_dtype == "float16" else torch.float32
        trained = finite_or_none({"step": self.step, "epoch": pos["epoch"], "best_val": pos["best_val"]})  # no validation yet: null
        save_pretrained(
            self.out / folder,
            self.ema if self.ema is not None else self.model,
            self.mel_cfg,
            text_info,
            dtype=dtype,
            extra={"trained": trained},
        )
        if cfg.finetune_text:
            with atomic_path(self.out / folder / "text_encoder.safetensors") as tmp:
                save_file({k: v.detach().cpu().contiguous() for k, v in self.encoder.bert.state_dict().items()}, str(tmp))

    def save_result(self, val: dict | None) -> None:
        """The last weights, and the best (these too when no epoch has ended)."""
        self.save_inference("last")
        if not (self.out / "best" / "model.safetensors").exists():
            self.save_inference("best")


def train(cfg: TrainConfig, progress: bool = True) -> TrainResult:
    ddp = setup_distributed()
    run = Training(cfg, ddp)
    if ddp.main:
        print(
            f"train: {cfg.model}, {sum(p.numel() for p in run.params) / 1e6:.2f} M trained parameters, {len(run.train_set)} "
            f"train / {len(run.val_set)} valid clips, {run.batches_per_epoch} steps per epoch, {ddp.world} process(es) on {ddp.device}"
        )
    run.trained.train()
    result = fit(run, progress)
    pos = run.pos
    summary = {"out": str(run.out), "steps": run.step, "epochs": pos["epoch"], "best_val": pos["best_val"], "early_stopped": pos["stopped"]}
    return TrainResult(model=run.model, ema=run.ema, summary=finite_or_none(summary | {"seconds": round(result["seconds"], 1)}))

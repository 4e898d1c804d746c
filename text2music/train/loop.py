"""The training loop: a plain loop over epochs and steps, its parts as named helpers.

Runs as one process, or as several under `torchrun` (PyTorch DDP: gloo on CPU, nccl on GPU):

    text2music train --config configs/seed_lstm.json
    torchrun --nproc_per_node 2 -m text2music train --config configs/seed_lstm.json

What a run folder (`TrainConfig.out`) holds:
    train_config.json   the config (a resumed run must use the same one)
    mel_config.json     the features' MelConfig (a resumed run must read the same kind of features)
    state.pt            resumable state: model, EMA, optimiser, scheduler, position, RNG (atomic)
    best/               inference weights of the best validation loss (model.safetensors + config.json)
    last/               inference weights at the end of the run
    log.jsonl           one line per `log_every` steps and per epoch
    loss.png            train and validation loss curves
Killing the process and running the same command again continues from the last checkpoint; on
CPU the continued run is bit-identical to one that was never interrupted.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from text2music.features.controls import FRAME_CHANNELS, GLOBAL_CHANNELS
from text2music.features.mel import MelConfig
from text2music.models import build_model, load_pretrained, save_pretrained
from text2music.models.flow_transformer import Controls
from text2music.text import TextEncoder
from text2music.train.config import TrainConfig
from text2music.train.data import EmbeddingCache, MelTextSet
from text2music.train.run import Budget, RunLog, load_checkpoint, plot_losses, save_checkpoint, stop_on_sigint
from text2music.utils import atomic_path, atomic_write_text

__all__ = ["LossModule", "TrainResult", "evaluate_loss", "plot_losses", "train"]

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

    def forward(self, mels: torch.Tensor, texts: list[str], controls: Controls | None = None) -> torch.Tensor:
        text = self.cache.batch(texts).to(mels.device) if self.cache is not None else self.encoder(texts)
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


def _check_resume_config(out: Path, cfg: TrainConfig) -> None:
    path = out / "train_config.json"
    if not path.exists():
        return
    old = json.loads(path.read_text())
    new = json.loads(json.dumps(cfg.to_dict()))  # tuples -> lists, as stored
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES)
    if changed:
        raise ValueError(
            f"{out} holds a run with another config (fields {changed} differ); use another --out or delete {out} to start over"
        )


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


def evaluate_loss(module: LossModule, data: MelTextSet, batch_size: int, device, multiple: int = 1) -> float:
    """Mean loss over a whole split, in eval mode (no dropout), without gradients.

    Randomness inside the loss (a flow model's noise and times) is drawn from a fixed seed, so
    the numbers of two epochs compare, and the training stream of randomness is left as it was."""
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
            loss = module(mels, data.texts[i : i + batch_size], controls)
            total += float(loss) * len(mels)
            count += len(mels)
    module.train(was_training)
    return total / max(count, 1)


@dataclass
class Run:
    """Everything one training run holds; `pos` is where it stands (saved in every checkpoint)."""

    cfg: TrainConfig
    ddp: Distributed
    out: Path
    train_set: MelTextSet
    val_set: MelTextSet
    mel_cfg: MelConfig
    encoder: TextEncoder
    cache: EmbeddingCache | None
    model: nn.Module
    module: LossModule
    ema: nn.Module | None
    trained: nn.Module  # `module`, or its DDP wrapper
    params: list
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None  # None: no autocast
    patch: int  # crops are cut to whole tokens of a patched model
    log: RunLog
    budget: Budget
    pos: dict = field(default_factory=lambda: {"epoch": 0, "batch": 0, "step": 0, "best_val": math.inf, "bad_epochs": 0, "stopped": False})


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


def _build_model(cfg: TrainConfig, mel_cfg: MelConfig, text_dim: int, device: torch.device) -> nn.Module:
    """The model, with the same weights on every rank (same seed), or those of `init_from`."""
    torch.manual_seed(cfg.seed)
    for key, value in (("n_mels", mel_cfg.n_mels), ("n_frames", mel_cfg.n_frames)):
        if cfg.model_args.get(key, value) != value:
            raise ValueError(f"model_args.{key}={cfg.model_args[key]} but the features in {cfg.features} have {key}={value}")
    args = {**cfg.model_args, "n_mels": mel_cfg.n_mels, "n_frames": mel_cfg.n_frames, "text_dim": text_dim}
    if cfg.controls:
        args.update(control_frames=FRAME_CHANNELS, control_global=GLOBAL_CHANNELS)
    model = build_model(cfg.model, **args)
    if cfg.init_from is not None:
        init, _, init_config = load_pretrained(cfg.init_from)
        if init_config["kind"] != cfg.model or not _same_but_controls(init.cfg, model.cfg):
            raise ValueError(f"init_from={cfg.init_from} holds a {init_config['kind']} {init.cfg}, not this run's {cfg.model} {model.cfg}")
        missing, unexpected = model.load_state_dict(init.state_dict(), strict=False)
        if unexpected or any(not _is_control_param(k) for k in missing):
            raise ValueError(f"init_from={cfg.init_from}: weights do not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.to(device)


def _is_control_param(name: str) -> bool:
    """Parameters of the control inputs, which a model without controls lacks."""
    return name.startswith(("control_in.", "global_in.")) or ".control." in name


def _same_but_controls(a, b) -> bool:
    strip = {"control_frames": 0, "control_global": 0}
    return dataclasses.replace(a, **strip) == dataclasses.replace(b, **strip) if dataclasses.is_dataclass(a) else a == b


def _param_groups(cfg: TrainConfig, module: nn.Module) -> list[dict]:
    """One group, or two when the new inputs of a fine-tuned model learn at `new_lr`."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if cfg.new_lr is None or cfg.init_from is None:
        return [{"params": [p for _, p in named]}]
    new = [p for n, p in named if _is_control_param(n.removeprefix("model."))]
    old = [p for n, p in named if not _is_control_param(n.removeprefix("model."))]
    return [{"params": old}, {"params": new, "lr": cfg.new_lr}]


def build_run(cfg: TrainConfig, ddp: Distributed) -> Run:
    """Data, text encoder (or its embedding cache), model, EMA, optimiser, scheduler and log of a
    run, in this order (the order of the random draws), before any checkpoint is loaded."""
    out = Path(cfg.out)
    _check_resume_config(out, cfg)
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "train_config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    train_set, val_set = _load_data(cfg, ddp, out)
    mel_cfg = train_set.mel_config
    encoder = TextEncoder(cfg.text_encoder, cfg.text_max_length, trainable=cfg.finetune_text).to(ddp.device)
    cache = None if cfg.finetune_text else EmbeddingCache(encoder, [t for c in train_set.choices for t in c] + val_set.texts)
    model = _build_model(cfg, mel_cfg, encoder.dim, ddp.device)
    module = LossModule(model, encoder if cache is None else None, cache)
    ema = copy.deepcopy(model).requires_grad_(False) if cfg.ema_decay else None
    trained = nn.parallel.DistributedDataParallel(module) if ddp.world > 1 else module
    groups = _param_groups(cfg, module)
    params = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
        if cfg.scheduler == "cosine"
        else torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    )
    use_amp = ddp.device.type == "cuda" and cfg.precision != "fp32"
    amp_dtype = (torch.bfloat16 if cfg.precision == "bf16" else torch.float16) if use_amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and cfg.precision == "fp16")
    patch = getattr(getattr(model, "cfg", None), "patch", 1)
    return Run(
        cfg,
        ddp,
        out,
        train_set,
        val_set,
        mel_cfg,
        encoder,
        cache,
        model,
        module,
        ema,
        trained,
        params,
        optimizer,
        scheduler,
        scaler,
        amp_dtype,
        patch,
        RunLog(out, ddp.main, cfg.tensorboard),
        Budget(cfg.max_steps, cfg.max_minutes),
    )


def load_state(run: Run) -> bool:
    """Continue from the run folder's checkpoint, if any (True); else seed the training stream of
    randomness (dropout, a flow model's noise)."""
    state = load_checkpoint(run.out / "state.pt", run.ddp.device)
    if state is None:
        torch.manual_seed(run.cfg.seed + 1)
        return False
    run.module.load_state_dict(state["module"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if run.ema is not None:
        run.ema.load_state_dict(state["ema"])
    run.pos = state["position"]
    _set_rng_state(state["rng"])
    run.log.resume(run.pos["step"])
    return True


def save_state(run: Run) -> None:
    if run.ddp.main:
        save_checkpoint(
            run.out / "state.pt",
            {
                "module": run.module.state_dict(),
                "optimizer": run.optimizer.state_dict(),
                "scheduler": run.scheduler.state_dict(),
                "ema": run.ema.state_dict() if run.ema is not None else {},
                "position": run.pos,
                "rng": _rng_state(),
            },
        )


def save_inference(run: Run, folder: str) -> None:
    """Inference weights (the EMA's when there is one) into `out/folder`."""
    if not run.ddp.main:
        return
    cfg, pos = run.cfg, run.pos
    text_info = {"encoder": cfg.text_encoder, "max_length": cfg.text_max_length, "mode": cfg.text_mode, "finetuned": cfg.finetune_text}
    dtype = torch.float16 if cfg.save_dtype == "float16" else torch.float32
    save_pretrained(
        run.out / folder,
        run.ema if run.ema is not None else run.model,
        run.mel_cfg,
        text_info,
        dtype=dtype,
        extra={"trained": {"step": pos["step"], "epoch": pos["epoch"], "best_val": pos["best_val"]}},
    )
    if cfg.finetune_text:
        with atomic_path(run.out / folder / "text_encoder.safetensors") as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in run.encoder.bert.state_dict().items()}, str(tmp))


def ema_update(ema: nn.Module, model: nn.Module, max_decay: float, step: int) -> None:
    """ema <- decay * ema + (1 - decay) * model, buffers copied. Warm-up (as in timm/diffusers):
    early on the average forgets faster, so that the random initial weights do not linger in it
    (0.9995^3000 would still keep 22% of them)."""
    decay = min(max_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)
        for e, b in zip(ema.buffers(), model.buffers()):
            e.copy_(b)


def train_step(run: Run, idx: list[int]) -> float:
    """One optimisation step on the clips `idx`; returns its loss."""
    cfg, pos, device = run.cfg, run.pos, run.ddp.device
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + pos["step"] * 101 + run.ddp.rank)
    mels, texts, controls = run.train_set.batch(idx, gen, cfg.crop_frames, run.patch, cfg.control_drop)
    mels = mels.to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=run.amp_dtype or torch.float16, enabled=run.amp_dtype is not None):
        loss = run.trained(mels, texts, controls)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if cfg.grad_clip:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(run.params, cfg.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if run.ema is not None:
        ema_update(run.ema, run.model, cfg.ema_decay, pos["step"])
    return float(loss.detach())


def log_step(run: Run, loss: float) -> None:
    pos, lr = run.pos, run.optimizer.param_groups[0]["lr"]
    record = {"type": "step", "step": pos["step"], "epoch": pos["epoch"], "loss": loss, "lr": lr, "elapsed_s": run.budget.elapsed()}
    run.log.write(record, {"train/loss": loss, "train/lr": lr})


def end_of_epoch(run: Run, train_loss: float) -> None:
    """Validate (the EMA when there is one), step the schedule, keep the best weights, decide on
    early stopping, log, plot and checkpoint."""
    cfg, pos = run.cfg, run.pos
    judged = run.trained if run.ema is None else LossModule(run.ema, run.module.encoder, run.cache)
    val_loss = evaluate_loss(judged, run.val_set, cfg.batch_size, run.ddp.device, run.patch)
    val_loss = _from_rank0(val_loss, run.ddp)  # every rank takes the same early-stopping decision
    run.scheduler.step()
    improved = val_loss < pos["best_val"]
    pos.update(epoch=pos["epoch"] + 1, batch=0)
    if improved:
        pos.update(best_val=val_loss, bad_epochs=0)
        save_inference(run, "best")
    else:
        pos["bad_epochs"] += 1
        if cfg.patience is not None and pos["bad_epochs"] >= cfg.patience:
            pos["stopped"] = True
    run.log.write(
        {
            "type": "epoch",
            "step": pos["step"],
            "epoch": pos["epoch"],
            "train_loss": train_loss,
            "val_loss": val_loss,
            "best_val": pos["best_val"],
            "lr": run.optimizer.param_groups[0]["lr"],
            "elapsed_s": run.budget.elapsed(),
        },
        {"val/loss": val_loss},
    )
    run.log.plot()
    save_state(run)


def train(cfg: TrainConfig, progress: bool = True) -> TrainResult:
    run = build_run(cfg, setup_distributed())
    load_state(run)
    pos, ddp = run.pos, run.ddp
    sampler = DistributedSampler(range(len(run.train_set)), num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=cfg.seed)
    batches_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
    if ddp.main:
        print(
            f"train: {cfg.model}, {sum(p.numel() for p in run.params) / 1e6:.2f} M trained parameters, {len(run.train_set)} "
            f"train / {len(run.val_set)} valid clips, {batches_per_epoch} steps per epoch, {ddp.world} process(es) on {ddp.device}"
        )
    run.trained.train()
    run.budget.start()
    with stop_on_sigint() as interrupted:
        while pos["epoch"] < cfg.epochs and not pos["stopped"] and not run.budget.spent(pos["step"]):
            sampler.set_epoch(pos["epoch"])
            order = list(sampler)
            bar = tqdm(
                total=batches_per_epoch,
                initial=pos["batch"],
                desc=f"epoch {pos['epoch'] + 1}/{cfg.epochs}",
                disable=not (progress and ddp.main),
                leave=False,
            )
            epoch_loss, epoch_batches = 0.0, 0
            while pos["batch"] < batches_per_epoch and not run.budget.spent(pos["step"]):
                loss = train_step(run, order[pos["batch"] * cfg.batch_size : (pos["batch"] + 1) * cfg.batch_size])
                pos["batch"] += 1
                pos["step"] += 1
                epoch_loss += loss
                epoch_batches += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                if pos["step"] % cfg.log_every == 0:
                    log_step(run, loss)
                if pos["step"] % cfg.checkpoint_every == 0:
                    save_state(run)
                if _any_rank(bool(interrupted), ddp):
                    save_state(run)
                    raise KeyboardInterrupt
            bar.close()
            if pos["batch"] < batches_per_epoch:  # stopped by the budget inside the epoch
                break
            end_of_epoch(run, epoch_loss / max(epoch_batches, 1))
    return finish(run)


def finish(run: Run) -> TrainResult:
    """Save the last state and weights (and "best" if no epoch ended), plot, summarise."""
    save_state(run)
    save_inference(run, "last")
    if not (run.out / "best" / "model.safetensors").exists():  # stopped before any validation
        save_inference(run, "best")
    run.log.plot()
    run.log.close()
    pos = run.pos
    summary = {
        "out": str(run.out),
        "steps": pos["step"],
        "epochs": pos["epoch"],
        "best_val": pos["best_val"],
        "early_stopped": pos["stopped"],
        "seconds": round(time.time() - run.budget.started, 1),
    }
    return TrainResult(model=run.model, ema=run.ema, summary=summary)

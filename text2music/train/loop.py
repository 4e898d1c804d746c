"""The training loop: one plain function, every step written out.

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
import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from text2music.features.mel import MelConfig
from text2music.models import build_model, load_pretrained, save_pretrained
from text2music.text import TextEncoder
from text2music.train.config import TrainConfig
from text2music.train.data import EmbeddingCache, MelTextSet
from text2music.utils import append_jsonl, atomic_path, atomic_write_text, read_jsonl, write_jsonl

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

    def forward(self, mels: torch.Tensor, texts: list[str]) -> torch.Tensor:
        text = self.cache.batch(texts).to(mels.device) if self.cache is not None else self.encoder(texts)
        return self.model.loss(mels, text)


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
            f"{out} holds a run with another config (fields {changed} differ); "
            f"use another --out or delete {out} to start over"
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
            loss = module(mels, data.texts[i : i + batch_size])
            total += float(loss) * len(mels)
            count += len(mels)
    module.train(was_training)
    return total / max(count, 1)


def train(cfg: TrainConfig, progress: bool = True) -> TrainResult:
    ddp = setup_distributed()
    device = ddp.device
    out = Path(cfg.out)
    _check_resume_config(out, cfg)
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "train_config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")

    # ---- data and text
    train_set = MelTextSet(cfg.features, "train", cfg.text_mode, cfg.limit_train)
    val_set = MelTextSet(cfg.features, "valid", cfg.text_mode, cfg.limit_val)
    mel_cfg = train_set.mel_config
    if device.type == "cuda":  # the whole split fits: batches are then cut on the GPU
        torch.backends.cuda.matmul.allow_tf32 = True
        train_set.mels = train_set.mels.to(device)
    if (out / "mel_config.json").exists() and MelConfig.load(out / "mel_config.json") != mel_cfg:
        raise ValueError(f"{cfg.features} holds features made with another MelConfig than the run in {out} was trained on")
    if ddp.main:
        mel_cfg.save(out / "mel_config.json")
    encoder = TextEncoder(cfg.text_encoder, cfg.text_max_length, trainable=cfg.finetune_text).to(device)
    all_texts = [t for c in train_set.choices for t in c] + val_set.texts
    cache = None if cfg.finetune_text else EmbeddingCache(encoder, all_texts)

    # ---- model (same seed on every rank: identical initial weights)
    torch.manual_seed(cfg.seed)
    for key, value in (("n_mels", mel_cfg.n_mels), ("n_frames", mel_cfg.n_frames)):
        if cfg.model_args.get(key, value) != value:
            raise ValueError(f"model_args.{key}={cfg.model_args[key]} but the features in {cfg.features} have {key}={value}")
    model = build_model(cfg.model, **{**cfg.model_args, "n_mels": mel_cfg.n_mels, "n_frames": mel_cfg.n_frames, "text_dim": encoder.dim})
    if cfg.init_from is not None:
        init, _, init_config = load_pretrained(cfg.init_from)
        if init_config["kind"] != cfg.model or init.cfg != model.cfg:
            raise ValueError(f"init_from={cfg.init_from} holds a {init_config['kind']} {init.cfg}, not this run's {cfg.model} {model.cfg}")
        model.load_state_dict(init.state_dict())
    model.to(device)
    module = LossModule(model, encoder if cache is None else None, cache)
    ema = copy.deepcopy(model).requires_grad_(False) if cfg.ema_decay else None
    trained = nn.parallel.DistributedDataParallel(module) if ddp.world > 1 else module
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
        if cfg.scheduler == "cosine"
        else torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    )
    use_amp = device.type == "cuda" and cfg.precision != "fp32"
    amp_dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and cfg.precision == "fp16")

    # ---- resume
    pos = {"epoch": 0, "batch": 0, "step": 0, "best_val": math.inf, "bad_epochs": 0, "stopped": False}
    if (out / "state.pt").exists():
        state = torch.load(out / "state.pt", map_location=device, weights_only=True)
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        pos = state["position"]
        _set_rng_state(state["rng"])
        if ddp.main:  # forget log lines written after that checkpoint
            write_jsonl(out / "log.jsonl", [r for r in read_jsonl(out / "log.jsonl") if r["step"] <= pos["step"]])
    else:
        torch.manual_seed(cfg.seed + 1)  # the training stream of randomness (dropout)

    def save_state():
        if not ddp.main:
            return
        state = {
            "module": module.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "ema": ema.state_dict() if ema is not None else {},
            "position": pos,
            "rng": _rng_state(),
        }
        with atomic_path(out / "state.pt") as tmp:
            torch.save(state, tmp)

    def save_inference(folder: str):
        if not ddp.main:
            return
        text_info = {"encoder": cfg.text_encoder, "max_length": cfg.text_max_length, "mode": cfg.text_mode,
                     "finetuned": cfg.finetune_text}
        dtype = torch.float16 if cfg.save_dtype == "float16" else torch.float32
        save_pretrained(out / folder, ema if ema is not None else model, mel_cfg, text_info, dtype=dtype,
                        extra={"trained": {"step": pos["step"], "epoch": pos["epoch"], "best_val": pos["best_val"]}})
        if cfg.finetune_text:
            with atomic_path(out / folder / "text_encoder.safetensors") as tmp:
                save_file({k: v.detach().cpu().contiguous() for k, v in encoder.bert.state_dict().items()}, str(tmp))

    writer = None
    if cfg.tensorboard and ddp.main:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise RuntimeError("tensorboard logging needs the tensorboard package: pip install tensorboard") from None
        writer = SummaryWriter(str(out / "tensorboard"))

    sampler = DistributedSampler(range(len(train_set)), num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=cfg.seed)
    batches_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
    if ddp.main:
        n_params = sum(p.numel() for p in params)
        print(f"train: {cfg.model}, {n_params / 1e6:.2f} M trained parameters, {len(train_set)} train / {len(val_set)} "
              f"valid clips, {batches_per_epoch} steps per epoch, {ddp.world} process(es) on {device}")

    started = time.time()
    patch = getattr(getattr(model, "cfg", None), "patch", 1)  # crops are cut to whole tokens

    def reached_max_steps() -> bool:
        out_of_time = cfg.max_minutes is not None and time.time() - started >= 60 * cfg.max_minutes
        return out_of_time or (cfg.max_steps is not None and pos["step"] >= cfg.max_steps)

    # Ctrl-C: finish the step in flight, save, then stop (a second Ctrl-C stops at once;
    # the last checkpoint is still whole, as every checkpoint is written atomically)
    interrupted = []

    def on_sigint(signum, frame):
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(signum)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGINT, on_sigint) if in_main_thread else None

    trained.train()
    try:
        while pos["epoch"] < cfg.epochs and not pos["stopped"] and not reached_max_steps():
            sampler.set_epoch(pos["epoch"])
            order = list(sampler)
            bar = tqdm(total=batches_per_epoch, initial=pos["batch"], desc=f"epoch {pos['epoch'] + 1}/{cfg.epochs}",
                       disable=not (progress and ddp.main), leave=False)
            epoch_loss, epoch_batches = 0.0, 0
            while pos["batch"] < batches_per_epoch and not reached_max_steps():
                # ---- one optimisation step
                idx = order[pos["batch"] * cfg.batch_size : (pos["batch"] + 1) * cfg.batch_size]
                gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + pos["step"] * 101 + ddp.rank)
                mels, texts = train_set.batch(idx, gen, cfg.crop_frames, patch)
                mels = mels.to(device, non_blocking=True)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    loss = trained(mels, texts)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if cfg.grad_clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                if ema is not None:
                    with torch.no_grad():
                        # warm-up (as in timm/diffusers): early on the average forgets faster, so that the
                        # random initial weights do not linger in it (0.9995^3000 would still keep 22% of them)
                        decay = min(cfg.ema_decay, (1 + pos["step"]) / (10 + pos["step"]))
                        torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)
                        for e, b in zip(ema.buffers(), model.buffers()):
                            e.copy_(b)
                pos["batch"] += 1
                pos["step"] += 1
                loss_value = float(loss.detach())
                epoch_loss += loss_value
                epoch_batches += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4f}")

                # ---- logging and checkpoints
                if ddp.main and pos["step"] % cfg.log_every == 0:
                    lr = optimizer.param_groups[0]["lr"]
                    append_jsonl(out / "log.jsonl", {"type": "step", "step": pos["step"], "epoch": pos["epoch"],
                                                     "loss": loss_value, "lr": lr, "elapsed_s": round(time.time() - started, 2)})
                    if writer:
                        writer.add_scalar("train/loss", loss_value, pos["step"])
                        writer.add_scalar("train/lr", lr, pos["step"])
                if pos["step"] % cfg.checkpoint_every == 0:
                    save_state()
                if _any_rank(bool(interrupted), ddp):
                    save_state()
                    raise KeyboardInterrupt
            bar.close()

            if pos["batch"] < batches_per_epoch:  # stopped by max_steps inside the epoch
                break
            # ---- end of epoch: validate, schedule, early stopping
            val_loss = evaluate_loss(trained if ema is None else LossModule(ema, module.encoder, cache), val_set, cfg.batch_size, device,
                                     patch)
            val_loss = _from_rank0(val_loss, ddp)  # every rank takes the same early-stopping decision
            scheduler.step()
            improved = val_loss < pos["best_val"]
            pos.update(epoch=pos["epoch"] + 1, batch=0)
            if improved:
                pos.update(best_val=val_loss, bad_epochs=0)
                save_inference("best")
            else:
                pos["bad_epochs"] += 1
                if cfg.patience is not None and pos["bad_epochs"] >= cfg.patience:
                    pos["stopped"] = True
            if ddp.main:
                record = {"type": "epoch", "step": pos["step"], "epoch": pos["epoch"], "train_loss": epoch_loss / max(epoch_batches, 1),
                          "val_loss": val_loss, "best_val": pos["best_val"], "lr": optimizer.param_groups[0]["lr"],
                          "elapsed_s": round(time.time() - started, 2)}
                append_jsonl(out / "log.jsonl", record)
                if writer:
                    writer.add_scalar("val/loss", val_loss, pos["step"])
                plot_losses(out / "log.jsonl", out / "loss.png")
            save_state()
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous_handler)
    save_state()
    save_inference("last")
    if not (out / "best" / "model.safetensors").exists():  # stopped before any validation
        save_inference("best")
    if ddp.main:
        plot_losses(out / "log.jsonl", out / "loss.png")
    if writer:
        writer.close()
    summary = {"out": str(out), "steps": pos["step"], "epochs": pos["epoch"], "best_val": pos["best_val"],
               "early_stopped": pos["stopped"], "seconds": round(time.time() - started, 1)}
    return TrainResult(model=model, ema=ema, summary=summary)


def plot_losses(log_path: Path, png: Path) -> None:
    """Train loss per logged step and train/validation loss per epoch (like the seed's figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_jsonl(log_path)
    steps = [r for r in records if r["type"] == "step"]
    epochs = [r for r in records if r["type"] == "epoch"]
    if not steps and not epochs:
        return
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if steps:
        ax.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=0.8, alpha=0.5, label="train (per step)")
    if epochs:
        ax.plot([r["step"] for r in epochs], [r["train_loss"] for r in epochs], "o-", label="train (epoch mean)")
        ax.plot([r["step"] for r in epochs], [r["val_loss"] for r in epochs], "s-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(log_path.parent.name)
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

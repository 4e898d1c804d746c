"""Training the neural vocoder (`text2music.models.neural_vocoder`) on a corpus's audio.

    text2music train-vocoder --data data/synth --out runs/vocoder --minutes 60

Data: the first 10 s of up to `clips` train-split clips, held in memory as audio (float16) and
as the log-mel the generator makes (computed once, on the whole clip, as at inference). Each step
takes random `crop_frames`-frame crops of those mels and the audio under them.

Loss: the multi-resolution STFT loss (spectral convergence + log magnitude at three resolutions,
from auraloss) + L1 between the log-mels of the output and of the real crop. The adversarial
losses of Vocos are left out: on a 2-core CPU their discriminators would cost an order of
magnitude more than the generator (BENCHMARKS.md, "Vocoders").

The run folder holds `vocoder.json` + `vocoder.safetensors` (inference), `state.pt` (resumable:
running the same command again continues), `train_config.json`, `log.jsonl` and `loss.png`.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from text2music.features.mel import MelConfig, get_preset, load_audio, log_mel_spectrogram, mel_filters, stft
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig
from text2music.train.run import Budget, Trainer, fit, warmup_cosine
from text2music.utils import record_settings, removed_on_failure

VOLATILE = ("steps", "minutes", "log_every", "checkpoint_every")  # settings a resumed run may change


@dataclass
class VocoderTrainConfig:
    data: str = "data/synth"
    out: str = "runs/vocoder"
    preset: str = "small"
    dim: int = 256
    intermediate: int = 768
    layers: int = 8
    clips: int = 2000  # train clips held in memory
    val_clips: int = 16
    crop_frames: int = 64  # about 1 s at the small preset
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 200
    steps: int = 20_000  # the cosine schedule's length (and the stop, unless --minutes comes first)
    minutes: float | None = None
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500

    def __post_init__(self):
        for name in ("dim", "intermediate", "layers", "clips", "val_clips", "batch_size", "steps", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"train-vocoder: {name} must be at least 1, got {getattr(self, name)}")
        if self.crop_frames < 8:
            raise ValueError(f"train-vocoder: crop_frames must be at least 8, got {self.crop_frames}")
        if not self.lr > 0:
            raise ValueError(f"train-vocoder: lr must be positive, got {self.lr}")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"train-vocoder: minutes must be positive, got {self.minutes}")


def clip_paths(data: Path, split: str, n: int) -> list[Path]:
    """The first `n` clips of `split` in a corpus folder (metadata.csv + audio/)."""
    if not (data / "metadata.csv").is_file():
        raise FileNotFoundError(f"{data}: not a corpus folder (no metadata.csv)")
    with open(data / "metadata.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("split") == split]
    paths = [data / "audio" / f"{r['ytid']}.wav" for r in rows]
    paths = [p for p in paths if p.exists()][:n]
    if not paths:
        raise ValueError(f"{data / 'metadata.csv'}: no audio for split {split!r}")
    return paths


def load_clips(paths: list[Path], mel: MelConfig, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(audio `(N, (n_frames - 1) * hop)`, mel values `(N, n_mels, n_frames)`), both float16."""
    n_samples = (mel.n_frames - 1) * mel.hop_length
    audios, values = [], []
    for p in tqdm(paths, desc="load clips", unit="clip", disable=not progress):
        audio = torch.from_numpy(load_audio(p, mel.sample_rate, max_seconds=mel.duration)[:n_samples])
        audio = torch.nn.functional.pad(audio, (0, n_samples - len(audio)))
        audios.append(audio.half())
        values.append(log_mel_spectrogram(audio, mel).half())
    return torch.stack(audios), torch.stack(values)


class VocoderLoss:
    """Multi-resolution STFT loss (auraloss) + L1 on log-mel, on audio `(B, n_samples)`."""

    def __init__(self, mel: MelConfig):
        import auraloss

        self.mel = mel
        self.stft_loss = auraloss.freq.MultiResolutionSTFTLoss(
            fft_sizes=[256, 512, 1024, 2048], hop_sizes=[64, 128, 256, 512], win_lengths=[256, 512, 1024, 2048]
        )
        self.filters = mel_filters(mel)

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.log((self.filters @ stft(audio, self.mel).abs() ** 2).clamp_min(1e-7))

    def __call__(self, predicted: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = {
            "stft": self.stft_loss(predicted[:, None], target[:, None]),
            "mel": (self.log_mel(predicted) - self.log_mel(target)).abs().mean(),
        }
        parts["loss"] = parts["stft"] + parts["mel"]
        return parts


def crops(audio: torch.Tensor, values: torch.Tensor, cfg: VocoderTrainConfig, hop: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch of `step`: (mel crops `(B, n_mels, F)`, the audio under them `(B, (F - 1) * hop)`),
    drawn from a generator seeded by the step (a resumed run draws what an uninterrupted one would)."""
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    idx = torch.randint(0, values.shape[0], (cfg.batch_size,), generator=gen)
    start = torch.randint(0, values.shape[-1] - cfg.crop_frames + 1, (cfg.batch_size,), generator=gen)
    mel = torch.stack([values[i, :, s : s + cfg.crop_frames] for i, s in zip(idx, start)]).float()
    wave = torch.stack([audio[i, s * hop : (s + cfg.crop_frames - 1) * hop] for i, s in zip(idx, start)]).float()
    return mel, wave


@torch.no_grad()
def validate(vocoder: NeuralVocoder, loss_fn: VocoderLoss, val: tuple[torch.Tensor, torch.Tensor], batch: int = 4) -> dict[str, float]:
    """Mean loss parts over the validation clips (whole 10-s clips)."""
    audio, values = val
    totals: dict[str, float] = {}
    vocoder.eval()
    for i in range(0, len(values), batch):
        parts = loss_fn(vocoder.waveform(values[i : i + batch].float()), audio[i : i + batch].float())
        for k, v in parts.items():
            totals[k] = totals.get(k, 0.0) + float(v) * len(values[i : i + batch])
    vocoder.train()
    return {f"val_{k}": round(v / len(values), 5) for k, v in totals.items()}


class VocoderTraining(Trainer):
    """The neural vocoder learning a corpus's audio from its mels; validated at every checkpoint."""

    name = "train vocoder"
    loss_label, log_scale = "multi-resolution STFT + log-mel L1", False

    def __init__(self, cfg: VocoderTrainConfig, progress: bool = True):
        out, data = Path(cfg.out), Path(cfg.data)
        train_paths, val_paths = clip_paths(data, "train", cfg.clips), clip_paths(data, "valid", cfg.val_clips)
        super().__init__(out, Budget(cfg.steps, cfg.minutes), cfg.log_every, cfg.checkpoint_every, val_every=cfg.checkpoint_every)
        record_settings(out / "train_config.json", asdict(cfg), "a vocoder training run", volatile=VOLATILE)
        self.cfg, self.mel = cfg, get_preset(cfg.preset)
        torch.manual_seed(cfg.seed)
        self.vocoder = NeuralVocoder(NeuralVocoderConfig(cfg.dim, cfg.intermediate, cfg.layers), self.mel)
        self.optimizer = torch.optim.AdamW(self.vocoder.parameters(), lr=cfg.lr, betas=(0.8, 0.9))
        self.clips, self.val = load_clips(train_paths, self.mel, progress), load_clips(val_paths, self.mel, progress)
        self.loss_fn = VocoderLoss(self.mel)

    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = warmup_cosine(cfg.lr, self.step, cfg.warmup, cfg.steps, floor=0.05)
        mels, target = crops(*self.clips, cfg, self.mel.hop_length, self.step)
        parts = self.loss_fn(self.vocoder.waveform(mels), target)
        self.optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.vocoder.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in parts.items()}

    def validate(self) -> dict[str, float]:
        return validate(self.vocoder, self.loss_fn, self.val)

    def state_dict(self) -> dict:
        return {"model": self.vocoder.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.vocoder.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]

    def save_checkpoint(self) -> None:
        """The resumable state and the vocoder itself (usable as `--vocoder RUN` from the first checkpoint on)."""
        super().save_checkpoint()
        self.vocoder.save(self.out)

    def save_result(self, val: dict | None) -> None:
        """Nothing more: the vocoder is written with every checkpoint, the last one included."""


def train_vocoder(cfg: VocoderTrainConfig, progress: bool = True) -> dict:
    """Train the neural vocoder for the budget; resumable. Returns a summary."""
    with removed_on_failure(Path(cfg.out), VocoderTraining.checkpoint):
        run = VocoderTraining(cfg, progress)
        result = fit(run, progress)
    return {"out": str(run.out), "steps": run.step, **(result["val"] or {}), "seconds": round(result["seconds"], 1)}

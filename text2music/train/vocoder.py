"""Training the neural vocoder (`text2music.models.neural_vocoder`) on a corpus's audio.

    text2music train-vocoder --data data/synth --out runs/vocoder --minutes 60
    text2music train-vocoder --data data/synth44k,data/debian44k --sample-rate 48000 --init vocos \
        --adversarial 0.1 --out runs/vocos-fullband --minutes 70          # full band, from the 16-kHz one
    text2music train-vocoder --data data/synth44k,data/debian44k --sample-rate 48000 --init vocos-fullband \
        --high-layers 4 --high-band-only --out runs/vocos-fullband-branch --minutes 75   # the band above only

Data: the first 10 s of up to `clips` train-split clips of each corpus, held in memory as audio at
the vocoder's output rate (float16) and as the log-mel the generator makes (from the clip at the
mel's rate, computed once on the whole clip, as at inference). Each step takes random
`crop_frames`-frame crops of those mels and the audio under them.

Loss: the multi-resolution STFT loss (spectral convergence + log magnitude at four resolutions,
from auraloss, scaled with the output rate) + L1 between log-mels of the output and of the real
crop (over the output's whole band). With `adversarial` > 0, after `adversarial_after` steps the
discriminators of `text2music.train.discriminators` join: each step trains them once (hinge loss)
and adds `adversarial` x (their hinge loss + 2 x feature matching) to the vocoder's loss.

With `high_layers`, the vocoder gets a branch of its own for the band above the mel's (added, at zero,
to an `init` vocoder that has none); with `high_band_only`, only that branch trains, so the band the
mel covers stays exactly as `init` wrote it (and the backbone runs without gradients).

The run folder holds `vocoder.json` + `vocoder.safetensors` (inference), `state.pt` (resumable:
running the same command again continues), `train_config.json`, `log.jsonl` and `loss.png`.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from text2music.features.mel import MelConfig, get_preset, load_audio, log_mel_spectrogram, mel_filters, stft
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig, output_factor
from text2music.train.discriminators import SIZES, Discriminators, discriminator_loss, generator_losses
from text2music.train.run import Budget, Trainer, fit, warmup_cosine
from text2music.utils import record_settings, removed_on_failure

VOLATILE = ("steps", "minutes", "log_every", "checkpoint_every", "device")  # settings a resumed run may change


@dataclass
class VocoderTrainConfig:
    data: str = "data/synth"
    out: str = "runs/vocoder"
    preset: str = "small"
    dim: int = 256
    intermediate: int = 768
    layers: int = 8
    sample_rate: int | None = None  # of the audio it writes, a multiple of the mel's (None: the mel's)
    init: str | None = None  # start from this trained vocoder ("vocos" or a folder), widened to sample_rate
    high_layers: int = 0  # blocks of a branch for the band above the mel's (full band only); 0: none
    high_band_only: bool = False  # train that branch alone: the band below stays as `init` wrote it
    adversarial: float = 0.0  # weight of the discriminators' losses; 0: reconstruction only
    adversarial_after: int = 0  # steps of reconstruction alone before the discriminators join
    discriminators: str = "small"  # their size: "small" (a CPU's) or "full" (the published channels)
    disc_lr: float = 2e-4
    clips: int = 2000  # train clips held in memory, per corpus
    val_clips: int = 16  # per corpus
    crop_frames: int = 64  # about 1 s at the small preset
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 200
    steps: int = 20_000  # the cosine schedule's length (and the stop, unless --minutes comes first)
    minutes: float | None = None
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500
    device: str = "cpu"  # where it trains ("cuda" on an accelerator); the clips stay in memory on the CPU

    def __post_init__(self):
        for name in ("dim", "intermediate", "layers", "clips", "val_clips", "batch_size", "steps", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"train-vocoder: {name} must be at least 1, got {getattr(self, name)}")
        if self.high_layers < 0:
            raise ValueError(f"train-vocoder: high_layers must be at least 0, got {self.high_layers}")
        if self.high_band_only and not (self.high_layers and self.init):
            raise ValueError("train-vocoder: high_band_only trains the branch alone, so it needs high_layers > 0 and an init vocoder")
        if self.crop_frames < 8:
            raise ValueError(f"train-vocoder: crop_frames must be at least 8, got {self.crop_frames}")
        if not self.lr > 0 or not self.disc_lr > 0:
            raise ValueError(f"train-vocoder: lr and disc_lr must be positive, got {self.lr} and {self.disc_lr}")
        if self.adversarial < 0 or self.adversarial_after < 0:
            raise ValueError("train-vocoder: adversarial and adversarial_after must be at least 0")
        if self.discriminators not in SIZES:
            raise ValueError(f"train-vocoder: discriminators must be one of {', '.join(SIZES)}, got {self.discriminators!r}")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"train-vocoder: device must be cpu or cuda[:N], got {self.device!r}")
        output_factor(self.sample_rate, get_preset(self.preset))
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"train-vocoder: minutes must be positive, got {self.minutes}")


def corpus_folders(data: str) -> list[Path]:
    """The corpus folders of a comma-separated `--data`."""
    return [Path(d.strip()) for d in str(data).split(",") if d.strip()]


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


def load_clips(paths: list[Path], mel: MelConfig, sample_rate: int, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(audio at `sample_rate` `(N, (n_frames - 1) * hop * factor)`, mel values `(N, n_mels, n_frames)`), both float16."""
    audios, values = [], []
    for p in tqdm(paths, desc="load clips", unit="clip", disable=not progress):
        low = fixed_length(load_audio(p, mel.sample_rate, max_seconds=mel.duration), mel, mel.sample_rate)
        audios.append(fixed_length(load_audio(p, sample_rate, max_seconds=mel.duration), mel, sample_rate).half())
        values.append(log_mel_spectrogram(low, mel).half())
    return torch.stack(audios), torch.stack(values)


def fixed_length(audio, mel: MelConfig, sample_rate: int) -> torch.Tensor:
    """The audio under `mel.n_frames` frames at `sample_rate`, cut or zero-padded."""
    n_samples = (mel.n_frames - 1) * mel.hop_length * sample_rate // mel.sample_rate
    audio = torch.from_numpy(audio[:n_samples])
    return torch.nn.functional.pad(audio, (0, n_samples - len(audio)))


class VocoderLoss:
    """Multi-resolution STFT loss (auraloss) + L1 on log-mel, on audio `(B, n_samples)` at
    `sample_rate` (the mel's, or a multiple: the resolutions scale with it, and the log-mel
    covers the whole band with the mel's density of bands)."""

    def __init__(self, mel: MelConfig, sample_rate: int | None = None, device: str = "cpu"):
        import auraloss

        factor = output_factor(sample_rate, mel)
        sizes = [n * factor for n in (256, 512, 1024, 2048)]
        self.stft_loss = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=sizes, hop_sizes=[n // 4 for n in sizes], win_lengths=sizes)
        self.mel = mel if factor == 1 else full_band_mel(mel, factor)
        self.filters = mel_filters(self.mel).to(device)

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.log((self.filters @ stft(audio, self.mel).abs() ** 2).clamp_min(1e-7))

    def __call__(self, predicted: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = {
            "stft": self.stft_loss(predicted[:, None], target[:, None]),
            "mel": (self.log_mel(predicted) - self.log_mel(target)).abs().mean(),
        }
        parts["loss"] = parts["stft"] + parts["mel"]
        return parts


def full_band_mel(mel: MelConfig, factor: int) -> MelConfig:
    """The loss's mel at `factor` times the mel's rate: the same frames, bands up to the new Nyquist."""
    import librosa

    sample_rate = mel.sample_rate * factor
    n_mels = round(mel.n_mels * librosa.hz_to_mel(sample_rate / 2) / librosa.hz_to_mel(mel.f_max))
    wide = {"sample_rate": sample_rate, "n_fft": mel.n_fft * factor, "hop_length": mel.hop_length * factor}
    return dataclasses.replace(mel, **wide, n_mels=n_mels, fmax=None)


def step_generator(cfg: VocoderTrainConfig, step: int) -> torch.Generator:
    """The random draws of `step` (a resumed run draws what an uninterrupted one would)."""
    return torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)


def crops(audio: torch.Tensor, values: torch.Tensor, cfg: VocoderTrainConfig, hop: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch of `step` on `cfg.device`: (mel crops `(B, n_mels, F)`, the audio under them `(B, (F - 1) * hop)`)."""
    gen = step_generator(cfg, step)
    idx = torch.randint(0, values.shape[0], (cfg.batch_size,), generator=gen)
    start = torch.randint(0, values.shape[-1] - cfg.crop_frames + 1, (cfg.batch_size,), generator=gen)
    mel = torch.stack([values[i, :, s : s + cfg.crop_frames] for i, s in zip(idx, start)]).float()
    wave = torch.stack([audio[i, s * hop : (s + cfg.crop_frames - 1) * hop] for i, s in zip(idx, start)]).float()
    return mel.to(cfg.device), wave.to(cfg.device)


@torch.no_grad()
def validate(vocoder: NeuralVocoder, loss_fn: VocoderLoss, val: tuple[torch.Tensor, torch.Tensor], batch: int = 4) -> dict[str, float]:
    """Mean loss parts over the validation clips (whole 10-s clips)."""
    audio, values = val
    device = next(vocoder.parameters()).device
    totals: dict[str, float] = {}
    vocoder.eval()
    for i in range(0, len(values), batch):
        parts = loss_fn(vocoder.waveform(values[i : i + batch].float().to(device)), audio[i : i + batch].float().to(device))
        for k, v in parts.items():
            totals[k] = totals.get(k, 0.0) + float(v) * len(values[i : i + batch])
    vocoder.train()
    return {f"val_{k}": round(v / len(values), 5) for k, v in totals.items()}


class VocoderTraining(Trainer):
    """The neural vocoder learning a corpus's audio from its mels; validated at every checkpoint."""

    name = "train vocoder"
    loss_label, log_scale = "multi-resolution STFT + log-mel L1", False

    def __init__(self, cfg: VocoderTrainConfig, progress: bool = True):
        out, folders = Path(cfg.out), corpus_folders(cfg.data)
        train_paths = [p for d in folders for p in clip_paths(d, "train", cfg.clips)]
        val_paths = [p for d in folders for p in clip_paths(d, "valid", cfg.val_clips)]
        super().__init__(out, Budget(cfg.steps, cfg.minutes), cfg.log_every, cfg.checkpoint_every, val_every=cfg.checkpoint_every)
        record_settings(out / "train_config.json", asdict(cfg), "a vocoder training run", VOLATILE, defaults=asdict(VocoderTrainConfig()))
        self.cfg, self.mel, self.device = cfg, get_preset(cfg.preset), torch.device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.manual_seed(cfg.seed)
        self.vocoder = initial_vocoder(cfg, self.mel).to(self.device)
        if cfg.high_band_only:
            for name, parameter in self.vocoder.named_parameters():
                parameter.requires_grad_(name.startswith("high_"))
        self.trained = [p for p in self.vocoder.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.trained, lr=cfg.lr, betas=(0.8, 0.9))
        self.disc = Discriminators(cfg.discriminators).to(self.device) if cfg.adversarial > 0 else None
        self.disc_optimizer = torch.optim.AdamW(self.disc.parameters(), lr=cfg.disc_lr, betas=(0.8, 0.9)) if self.disc else None
        rate = self.vocoder.sample_rate
        self.clips, self.val = load_clips(train_paths, self.mel, rate, progress), load_clips(val_paths, self.mel, rate, progress)
        self.loss_fn = VocoderLoss(self.mel, rate, cfg.device)

    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = warmup_cosine(cfg.lr, self.step, cfg.warmup, cfg.steps, floor=0.05)
        mels, target = crops(*self.clips, cfg, self.vocoder.hop_length, self.step)
        audio = self.vocoder.waveform(mels)
        parts = self.loss_fn(audio, target)
        if self.disc is not None and self.step >= cfg.adversarial_after:
            offset = int(torch.randint(0, max(1, target.shape[-1] - self.disc.segment + 1), (1,), generator=step_generator(cfg, self.step)))
            parts["disc"] = self.discriminator_step(target, audio.detach(), offset)
            parts["adv"], parts["fm"] = self.adversarial_losses(target, audio, offset)
            parts["loss"] = parts["loss"] + cfg.adversarial * (parts["adv"] + 2 * parts["fm"])
        self.optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.trained, 1.0)
        self.optimizer.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in parts.items()}

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor, offset: int) -> torch.Tensor:
        """One step of the discriminators on this batch; returns their hinge loss."""
        loss = discriminator_loss(self.disc(real, fake, offset))
        self.disc_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.disc.parameters(), 1.0)
        self.disc_optimizer.step()
        return loss

    def adversarial_losses(self, real: torch.Tensor, fake: torch.Tensor, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(hinge loss, feature matching) of the vocoder's audio, the discriminators frozen."""
        self.disc.requires_grad_(False)
        try:
            return generator_losses(self.disc(real, fake, offset))
        finally:
            self.disc.requires_grad_(True)

    def validate(self) -> dict[str, float]:
        return validate(self.vocoder, self.loss_fn, self.val)

    def state_dict(self) -> dict:
        state = {"model": self.vocoder.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step}
        if self.disc is not None:
            state.update(disc=self.disc.state_dict(), disc_optimizer=self.disc_optimizer.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        self.vocoder.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.disc is not None and "disc" in state:
            self.disc.load_state_dict(state["disc"])
            self.disc_optimizer.load_state_dict(state["disc_optimizer"])
        self.step = state["step"]

    def save_checkpoint(self) -> None:
        """The resumable state and the vocoder itself (usable as `--vocoder RUN` from the first checkpoint on)."""
        super().save_checkpoint()
        self.vocoder.save(self.out)

    def save_result(self, val: dict | None) -> None:
        """Nothing more: the vocoder is written with every checkpoint, the last one included."""


def initial_vocoder(cfg: VocoderTrainConfig, mel: MelConfig) -> NeuralVocoder:
    """A new vocoder of the config's size, or the `init` one widened to the config's rate (with the
    config's branch for the band above, if it has none)."""
    if cfg.init is None:
        sizes = NeuralVocoderConfig(cfg.dim, cfg.intermediate, cfg.layers, sample_rate=cfg.sample_rate, high_layers=cfg.high_layers)
        return NeuralVocoder(sizes, mel)
    from text2music.models.vocoder import neural_vocoder_folder

    start = NeuralVocoder.from_folder(neural_vocoder_folder(cfg.init))
    if start.mel != mel:
        raise ValueError(f"train-vocoder --init {cfg.init}: its mel is not the {cfg.preset} preset's")
    wanted = cfg.sample_rate or mel.sample_rate
    if start.sample_rate != wanted:
        start = start.widened(wanted)
    if cfg.high_layers and start.cfg.high_layers not in (0, cfg.high_layers):
        raise ValueError(f"train-vocoder --high-layers {cfg.high_layers}: --init {cfg.init} has a branch of {start.cfg.high_layers} blocks")
    if cfg.high_layers and not start.cfg.high_layers:
        start = start.with_high_branch(cfg.high_layers)
    return start.train()


def train_vocoder(cfg: VocoderTrainConfig, progress: bool = True) -> dict:
    """Train the neural vocoder for the budget; resumable. Returns a summary."""
    with removed_on_failure(Path(cfg.out), VocoderTraining.checkpoint):
        run = VocoderTraining(cfg, progress)
        result = fit(run, progress)
    return {"out": str(run.out), "steps": run.step, **(result["val"] or {}), "seconds": round(result["seconds"], 1)}

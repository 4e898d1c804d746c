"""Training the stereo upmixer (`text2music.models.stereo`) on real stereo music.

    text2music train-stereo --audio /tmp/stereo_music/train --out runs/stereo --minutes 4

Data: every stereo file (ogg, flac, wav) under the `--audio` folders, its first `max_seconds` at
44.1 kHz, reduced once to per-frame band energies: the network's input is what the mid (L + R) / 2
shows (`band_features`), its target the width measured from mid and side (`measured_width`). One
file in `val_every_file` (sorted by path) is held out for validation. Frames and bands whose mid is
more than 60 dB below the file's loudest frame do not count (their width means nothing).

Each step takes `batch_size` random crops of `crop_frames` frames, shifts their level by a random
gain (the level feature alone moves) and, in one crop of four, cuts the band at a random rate's
Nyquist frequency (8, 11.025 or 16 kHz: what an output at 16, 22.05 or 32 kHz holds) by marking
the bands above it empty and not counting them. Loss: the mean squared error of the predicted width
(natural log of the side/mid energy ratio) over the counted frames and bands. The network starts as
the constant per-band mean width of the training files (its head is zero), so the first validation
is the constant profile's.

The run folder holds `stereo.json` + `stereo.safetensors` (the upmixer: copy them into a model
folder, or into text2music/assets/stereo/ to bundle them), `constant.json` (the constant per-band
profile, in dB: bench/stereo.py's baseline), `state.pt` (resumable), `train_config.json`,
`log.jsonl` and `loss.png`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from text2music.features.mel import resample
from text2music.models.stereo import StereoConfig, StereoUpmixer, band_edges, band_energies, band_features, frame_sizes, measured_width
from text2music.train.run import Budget, Trainer, fit, warmup_cosine
from text2music.utils import atomic_write_text, record_settings, removed_on_failure

RATE = 44100
SUFFIXES = (".ogg", ".flac", ".wav")
ACTIVE_DB = -60.0  # a band counts where its mid is at most this far below the file's loudest frame
CUTOFFS_HZ = (8000.0, 11025.0, 16000.0)
VOLATILE = ("steps", "minutes", "log_every", "checkpoint_every")


@dataclass
class StereoTrainConfig:
    audio: tuple[str, ...] = ()
    out: str = "runs/stereo"
    max_seconds: float = 120.0  # read from each file
    val_every_file: int = 10
    channels: int = 32
    layers: int = 3
    batch_size: int = 32
    crop_frames: int = 256  # about 3 s
    lr: float = 2e-3
    warmup: int = 50
    steps: int = 1500
    minutes: float | None = None
    seed: int = 0
    log_every: int = 25
    checkpoint_every: int = 250

    def __post_init__(self):
        self.audio = tuple(str(a) for a in self.audio)
        if not self.audio:
            raise ValueError("train-stereo: give --audio FOLDER (stereo music files)")
        for name in ("channels", "layers", "batch_size", "crop_frames", "steps", "log_every", "checkpoint_every", "val_every_file"):
            if getattr(self, name) < 1:
                raise ValueError(f"train-stereo: {name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0 or not self.max_seconds > 0 or (self.minutes is not None and not self.minutes > 0):
            raise ValueError("train-stereo: lr, max_seconds and minutes must be positive")


def stereo_files(folders: tuple[str, ...]) -> list[Path]:
    """The stereo audio files under `folders`, sorted; a one-line error when there are none."""
    files = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"--audio: {folder} is not a folder")
        files += [p for p in sorted(folder.rglob("*")) if p.suffix.lower() in SUFFIXES and sf.info(p).channels == 2]
    if not files:
        raise ValueError(f"--audio: no stereo .ogg, .flac or .wav files under {', '.join(folders)}")
    return files


def read_stereo(path: Path, max_seconds: float | None = None, rate: int = RATE) -> np.ndarray:
    """The first `max_seconds` of a stereo file at `rate`: float32 `(2, n)`."""
    with sf.SoundFile(path) as f:
        frames = -1 if max_seconds is None else min(f.frames, math.ceil(max_seconds * f.samplerate))
        audio, sr = f.read(frames, dtype="float32", always_2d=True).T, f.samplerate
    return resample(audio, sr, rate)


def file_examples(path: Path, cfg: StereoConfig, max_seconds: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(features `(bands + 1, T)`, target width `(bands, T)`, counted `(bands, T)` bool) of one file."""
    energy = band_energies(read_stereo(path, max_seconds), RATE, cfg)
    mid = energy["mid"]
    return band_features(mid, frame_sizes(cfg, RATE)[1]), measured_width(mid, energy["side"], cfg), audible(mid)


def audible(mid: torch.Tensor) -> torch.Tensor:
    """`(bands, T)` bool: where a band's mid energy is within ACTIVE_DB of the file's loudest frame
    (elsewhere a width means nothing)."""
    loudest = mid.sum(0).max().clamp_min(1e-20)
    return 10 * torch.log10(mid / loudest + 1e-30) > ACTIVE_DB


def load_examples(paths: list[Path], cfg: StereoConfig, max_seconds: float, progress: bool) -> list[tuple]:
    return [file_examples(p, cfg, max_seconds) for p in tqdm(paths, desc="read stereo files", unit="file", disable=not progress)]


def draw_crops(examples: list[tuple], cfg: StereoTrainConfig, starts: np.ndarray, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """(features, target, counted) of `batch_size` random crops, with the gain and band-limit
    augmentations (`starts`: the bands' lower edges in Hz)."""
    lengths = torch.tensor([e[0].shape[-1] for e in examples], dtype=torch.float)
    feats, targets, counts = [], [], []
    for i in torch.multinomial(lengths, cfg.batch_size, replacement=True, generator=gen).tolist():
        f, t, c = examples[i]
        start = int(torch.randint(0, max(1, f.shape[-1] - cfg.crop_frames + 1), (1,), generator=gen))
        f, t, c = (x[..., start : start + cfg.crop_frames].clone() for x in (f, t, c))
        f[-1] += float(torch.empty(1).uniform_(-0.6, 0.6, generator=gen))  # +-12 dB
        if float(torch.rand(1, generator=gen)) < 0.25:
            cut = CUTOFFS_HZ[int(torch.randint(0, len(CUTOFFS_HZ), (1,), generator=gen))]
            above = torch.from_numpy(starts >= cut)
            f[:-1][above], c[above] = -2.0, False
        feats.append(f)
        targets.append(t)
        counts.append(c)
    pad = cfg.crop_frames
    return tuple(torch.stack([torch.nn.functional.pad(x, (0, pad - x.shape[-1])) for x in xs]) for xs in (feats, targets, counts))


def width_loss(predicted: torch.Tensor, target: torch.Tensor, counted: torch.Tensor) -> torch.Tensor:
    return ((predicted - target).square() * counted).sum() / counted.sum().clamp_min(1)


class StereoTraining(Trainer):
    """The width network learning real stereo music's width from its mid; validated at every checkpoint."""

    name = "train stereo"
    loss_label, log_scale = "width MSE (ln side/mid energy)^2", False

    def __init__(self, cfg: StereoTrainConfig, progress: bool = True):
        out = Path(cfg.out)
        files = stereo_files(cfg.audio)
        val_files = files[:: cfg.val_every_file] if len(files) > 1 else []
        train_files = [f for f in files if f not in val_files]
        super().__init__(out, Budget(cfg.steps, cfg.minutes), cfg.log_every, cfg.checkpoint_every, val_every=cfg.checkpoint_every)
        record_settings(
            out / "train_config.json", asdict(cfg), "a stereo training run", VOLATILE, defaults=asdict(StereoTrainConfig(("-",)))
        )
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.upmixer = StereoUpmixer(StereoConfig(channels=cfg.channels, layers=cfg.layers))
        self.train_examples = load_examples(train_files, self.upmixer.cfg, cfg.max_seconds, progress)
        self.val_examples = load_examples(val_files, self.upmixer.cfg, cfg.max_seconds, progress)
        profile = mean_width(self.train_examples)
        with torch.no_grad():
            self.upmixer.net.head.weight.zero_()
            self.upmixer.net.head.bias.zero_()
            self.upmixer.net.bias.copy_(profile[:, None])
        profile_db = [round(float(w) * 10 / math.log(10), 3) for w in profile]
        atomic_write_text(out / "constant.json", json.dumps({"width_db": profile_db, "train_files": len(train_files)}, indent=2) + "\n")
        self.optimizer = torch.optim.AdamW(self.upmixer.parameters(), lr=cfg.lr, weight_decay=1e-4)

    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = warmup_cosine(cfg.lr, self.step, cfg.warmup, cfg.steps, floor=0.05)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step)
        feats, target, counted = draw_crops(self.train_examples, cfg, band_edges(self.upmixer.cfg)[:-1], gen)
        loss = width_loss(self.upmixer.net(feats), target, counted)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.upmixer.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def validate(self) -> dict[str, float] | None:
        if not self.val_examples:
            return None
        total = count = 0.0
        for f, t, c in self.val_examples:
            total += float(((self.upmixer.net(f[None])[0] - t).square() * c).sum())
            count += float(c.sum())
        return {"val_loss": total / max(count, 1.0)}

    def state_dict(self) -> dict:
        return {"model": self.upmixer.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.upmixer.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]

    def save_checkpoint(self) -> None:
        """The resumable state and the upmixer itself."""
        super().save_checkpoint()
        self.upmixer.save(self.out)

    def save_result(self, val: dict | None) -> None:
        """Nothing more: the upmixer is written with every checkpoint, the last one included."""


def mean_width(examples: list[tuple]) -> torch.Tensor:
    """The per-band mean of the counted target widths `(bands,)`: the constant profile."""
    total = sum((t * c).sum(-1) for _, t, c in examples)
    count = sum(c.sum(-1) for _, _, c in examples)
    return total / count.clamp_min(1)


def train_stereo(cfg: StereoTrainConfig, progress: bool = True) -> dict:
    """Train the upmixer for the budget; resumable. Returns a summary."""
    with removed_on_failure(Path(cfg.out), StereoTraining.checkpoint):
        run = StereoTraining(cfg, progress)
        result = fit(run, progress)
    return {
        "out": str(run.out),
        "steps": run.step,
        "val_before": result["val_before"],
        **(result["val"] or {}),
        "seconds": round(result["seconds"], 1),
    }

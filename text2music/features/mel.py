"""Audio loading, log-mel spectrograms and their inverse (Griffin-Lim), as pure functions.

Every function takes a `MelConfig`, the one place that says how audio becomes a mel array.
Shapes: audio is `(n_samples,)` or `(batch, n_samples)`; mel arrays are `(n_mels, n_frames)`
or `(batch, n_mels, n_frames)`. Forward and inverse run in torch and are batched.

Value scale of a mel array (`MelConfig.norm`):
- "db":   10 * log10(mel power), floored at `top_db` below the clip's maximum (librosa's
          `power_to_db(S, ref=1.0, top_db=...)`); the seed's choice.
- "unit": the same dB values mapped affinely, (db - unit_offset_db) / unit_scale_db, so that
          typical music lies in about [-1, 1]: a friendlier target for neural networks.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import soxr
import torch

from text2music.utils import atomic_path, atomic_write_text, dataclass_from_dict

AMIN = 1e-10  # power floor before the log, as in librosa.power_to_db


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = None  # None = sample_rate / 2
    n_frames: int = 626  # fixed length of stored arrays: 10 s at 16 kHz / 256 hop, centered STFT
    norm: str = "unit"  # "db" or "unit", see the module docstring
    top_db: float | None = 80.0
    unit_offset_db: float = -30.0
    unit_scale_db: float = 40.0
    power: float = 2.0

    def __post_init__(self):
        if self.norm not in ("db", "unit"):
            raise ValueError(f"MelConfig.norm must be 'db' or 'unit', got {self.norm!r}")
        if self.n_fft < 2 or self.hop_length < 1 or self.n_mels < 1 or self.n_frames < 1:
            raise ValueError(f"MelConfig has a non-positive size: {self}")
        if self.fmax is not None and self.fmax > self.sample_rate / 2:
            raise ValueError(f"MelConfig.fmax={self.fmax} is above Nyquist ({self.sample_rate / 2})")

    @property
    def f_max(self) -> float:
        return self.fmax if self.fmax is not None else self.sample_rate / 2

    @property
    def duration(self) -> float:
        """Seconds of audio covered by `n_frames` frames."""
        return (self.n_frames - 1) * self.hop_length / self.sample_rate

    def frames_for(self, seconds: float) -> int:
        """Number of centered-STFT frames for `seconds` of audio."""
        return int(round(seconds * self.sample_rate)) // self.hop_length + 1

    @property
    def floor(self) -> float:
        """The value of silence in this config's scale (used for padding)."""
        db = 10 * math.log10(AMIN)
        return self.db_to_value(db)

    def db_to_value(self, db: float) -> float:
        return db if self.norm == "db" else (db - self.unit_offset_db) / self.unit_scale_db

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MelConfig":
        return dataclass_from_dict(cls, d, "MelConfig")

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "MelConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


PRESETS: dict[str, MelConfig] = {
    # The seed: 256 mel bands x 420 frames (about 9.7 s at 22.05 kHz, hop 512), raw dB values.
    "seed": MelConfig(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=256, n_frames=420, norm="db"),
    # CPU-friendly: 80 bands, 16 kHz, 10 s = 626 frames, values in about [-1, 1].
    "small": MelConfig(),
}


def get_preset(name: str) -> MelConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown mel preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


# ---------------------------------------------------------------------------------------------
# Audio I/O


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read any file libsndfile can read, downmix to mono, resample -> float32 `(n_samples,)`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile's errors do not name the file
        raise ValueError(f"cannot read audio file {path}: {e}") from e
    audio = audio.mean(axis=1)
    if sr != sample_rate and len(audio) > 0:
        audio = soxr.resample(audio, sr, sample_rate, quality="HQ").astype(np.float32)
    return audio


def save_audio(path: str | Path, audio: np.ndarray | torch.Tensor, sample_rate: int) -> None:
    """Write mono audio `(n_samples,)` atomically; the format comes from the suffix (.wav, .flac)."""
    audio = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"save_audio expects mono audio of shape (n_samples,), got {audio.shape}")
    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported audio format for {path}: use .wav or .flac")
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, format=fmt, subtype="PCM_16")


# ---------------------------------------------------------------------------------------------
# Forward: audio -> log-mel


def mel_filters(cfg: MelConfig) -> torch.Tensor:
    """Slaney-style mel filterbank `(n_mels, n_fft // 2 + 1)`, identical to librosa's."""
    fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.f_max)
    return torch.from_numpy(fb)


def _stft(audio: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    window = torch.hann_window(cfg.n_fft, dtype=audio.dtype, device=audio.device)
    return torch.stft(audio, cfg.n_fft, cfg.hop_length, window=window, center=True, pad_mode="constant", return_complex=True)


def mel_power(audio: np.ndarray | torch.Tensor, cfg: MelConfig, filters: torch.Tensor | None = None) -> torch.Tensor:
    """Mel power spectrogram: `(..., n_samples)` -> `(..., n_mels, n_frames)`, float32.

    `filters`: `mel_filters(cfg)`, passed in by callers that process many clips (building the
    filterbank costs more than the transform of a 10-s clip).
    """
    audio = torch.as_tensor(audio, dtype=torch.float32)
    spec = _stft(audio, cfg).abs() ** cfg.power
    filters = mel_filters(cfg) if filters is None else filters
    return filters.to(spec) @ spec


def power_to_value(mel: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Mel power -> the config's log scale (dB or unit), with the per-clip `top_db` floor."""
    db = 10.0 * torch.log10(mel.clamp_min(AMIN))
    if cfg.top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - cfg.top_db)
    return db if cfg.norm == "db" else (db - cfg.unit_offset_db) / cfg.unit_scale_db


def value_to_power(values: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    db = values if cfg.norm == "db" else values * cfg.unit_scale_db + cfg.unit_offset_db
    return torch.pow(10.0, db / 10.0)


def log_mel_spectrogram(audio: np.ndarray | torch.Tensor, cfg: MelConfig, filters: torch.Tensor | None = None) -> torch.Tensor:
    """Audio `(..., n_samples)` at `cfg.sample_rate` -> log-mel `(..., n_mels, n_frames)`.

    n_frames = n_samples // hop_length + 1 (centered STFT); no cropping or padding here.
    """
    return power_to_value(mel_power(audio, cfg, filters), cfg)


def fix_length(mel: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Crop or pad a `(n_mels, frames)` array to `(n_mels, cfg.n_frames)`.

    Policy: keep the first `n_frames` frames (clips start where the caption's clip starts);
    shorter clips are padded at the end with silence: the clip's own floor (its minimum, which
    is `top_db` below its peak), or `cfg.floor` for an empty array.
    """
    if mel.shape[-1] >= cfg.n_frames:
        return mel[..., : cfg.n_frames]
    silence = mel.min() if mel.size else cfg.floor
    pad = np.full(mel.shape[:-1] + (cfg.n_frames - mel.shape[-1],), silence, dtype=mel.dtype)
    return np.concatenate([mel, pad], axis=-1)


# ---------------------------------------------------------------------------------------------
# Inverse: log-mel -> audio


def mel_to_linear(mel_power_: torch.Tensor, cfg: MelConfig, n_iter: int = 30) -> torch.Tensor:
    """Mel power `(..., n_mels, T)` -> non-negative linear power `(..., n_fft//2+1, T)`.

    Least squares under a non-negativity constraint, solved approximately: start from the
    clamped pseudo-inverse, then `n_iter` multiplicative (Lee-Seung) updates, which keep the
    solution non-negative and lower ||M S - mel||^2 monotonically.
    """
    fb = mel_filters(cfg).to(mel_power_)
    spec = (torch.linalg.pinv(fb) @ mel_power_).clamp_min(1e-12)
    fbt_mel = fb.T @ mel_power_
    fbt_fb = fb.T @ fb
    for _ in range(n_iter):
        spec = spec * fbt_mel / (fbt_fb @ spec).clamp_min(1e-12)
    return spec


def griffin_lim(
    magnitude: torch.Tensor, cfg: MelConfig, n_iter: int = 32, momentum: float = 0.99, seed: int = 0
) -> torch.Tensor:
    """Linear magnitude `(..., n_fft//2+1, T)` -> audio `(..., (T-1) * hop)` by fast Griffin-Lim.

    Fast Griffin-Lim (Perraudin et al. 2013), the algorithm of librosa.griffinlim, batched in torch.
    """
    window = torch.hann_window(cfg.n_fft, dtype=magnitude.dtype, device=magnitude.device)
    length = (magnitude.shape[-1] - 1) * cfg.hop_length
    gen = torch.Generator().manual_seed(seed)
    phase = torch.rand(magnitude.shape, generator=gen, dtype=magnitude.dtype) * 2 * math.pi
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.device))
    previous = torch.zeros_like(angles)
    istft = dict(n_fft=cfg.n_fft, hop_length=cfg.hop_length, window=window, center=True, length=length)
    for _ in range(n_iter):
        audio = torch.istft(magnitude * angles, **istft)
        rebuilt = _stft(audio, cfg)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / angles.abs().clamp_min(1e-16)
        previous = rebuilt
    return torch.istft(magnitude * angles, **istft)


def mel_to_audio(values: np.ndarray | torch.Tensor, cfg: MelConfig, n_iter: int = 32, seed: int = 0) -> torch.Tensor:
    """Log-mel `(..., n_mels, n_frames)` in the config's scale -> audio `(..., (n_frames-1) * hop)`."""
    values = torch.as_tensor(values, dtype=torch.float32)
    linear = mel_to_linear(value_to_power(values, cfg), cfg)
    magnitude = linear ** (1.0 / cfg.power)
    audio = griffin_lim(magnitude, cfg, n_iter=n_iter, seed=seed)
    return audio


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """||ref - est||_F / ||ref||_F on magnitudes (lower is better; 0 is a perfect match)."""
    reference, estimate = torch.as_tensor(reference), torch.as_tensor(estimate)
    return float(torch.linalg.norm(reference - estimate) / torch.linalg.norm(reference).clamp_min(1e-12))

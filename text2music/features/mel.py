"""Audio loading, log-mel spectrograms and their inverse (Griffin-Lim), as pure functions.

Every function takes a `MelConfig`, the one place that says how audio becomes a mel array.
Shapes: audio is `(n_samples,)` or `(batch, n_samples)`; mel arrays are `(n_mels, n_frames)`
or `(batch, n_mels, n_frames)`. Forward and inverse run in torch and are batched.

The value scale of a mel array is `MelConfig.norm` (`text2music.features.config`).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr
import torch

from text2music.features.config import AMIN, PRESETS, MelConfig, get_preset  # noqa: F401 (re-exported)
from text2music.utils import atomic_path

# ---------------------------------------------------------------------------------------------
# Audio I/O


def load_audio(path: str | Path | BinaryIO, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Read any file libsndfile can read (a path, or a binary file object such as an upload's
    BytesIO), downmix to mono, resample -> float32 `(n_samples,)`.

    `max_seconds`: read only the file's beginning (a long file costs no more memory than that)."""
    if isinstance(path, (str, Path)):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"audio file not found: {path}")
    try:
        with sf.SoundFile(path) as f:
            sr = f.samplerate
            frames = -1 if max_seconds is None else min(f.frames, math.ceil(max_seconds * sr) + 1)
            audio = f.read(frames, dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile's errors do not name the file
        raise ValueError(f"cannot read audio file {path}: {e}") from e
    audio = audio.mean(axis=1)
    if sr != sample_rate and len(audio) > 0:
        audio = soxr.resample(audio, sr, sample_rate, quality="HQ").astype(np.float32)
    return audio


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Audio `(n,)` or `(B, n)` at `from_rate` -> float32 at `to_rate` (soxr, high quality); unchanged when equal."""
    audio = np.asarray(audio, np.float32)
    if from_rate == to_rate:
        return audio
    if audio.ndim == 2:
        return np.stack([resample(row, from_rate, to_rate) for row in audio])
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)


def save_audio(path: str | Path, audio: np.ndarray | torch.Tensor, sample_rate: int) -> None:
    """Write mono audio `(n_samples,)` or stereo `(2, n_samples)` (left, right) atomically; the
    format comes from the suffix (.wav, .flac)."""
    audio = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if not (audio.ndim == 1 or (audio.ndim == 2 and audio.shape[0] == 2)):
        raise ValueError(f"save_audio expects mono audio (n_samples,) or stereo (2, n_samples), got {audio.shape}")
    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported audio format for {path}: use .wav or .flac")
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0).T, sample_rate, format=fmt, subtype="PCM_16")


# ---------------------------------------------------------------------------------------------
# Forward: audio -> log-mel


@functools.lru_cache(maxsize=8)
def mel_filters(cfg: MelConfig) -> torch.Tensor:
    """Slaney-style mel filterbank `(n_mels, n_fft // 2 + 1)`, identical to librosa's.

    Built once per config (building it costs more than the transform of a 10-s clip); read-only.
    librosa is imported here, not with the module: with scipy.signal and numba it is a second of a
    cold start, and generating with the neural vocoder never needs it."""
    import librosa

    fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.f_max)
    return torch.from_numpy(fb)


def mel_centres(cfg: MelConfig) -> np.ndarray:
    """The centre frequency in Hz of each mel bin `(n_mels,)`, on the Slaney mel scale of
    `mel_filters` (librosa's `mel_frequencies`, without importing librosa)."""
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0

    def to_mel(f: float) -> float:
        return f / f_sp if f < min_log_hz else min_log_mel + np.log(f / min_log_hz) / logstep

    mels = np.linspace(to_mel(cfg.fmin), to_mel(cfg.f_max), cfg.n_mels + 2)[1:-1]
    return np.where(mels < min_log_mel, f_sp * mels, min_log_hz * np.exp(logstep * (mels - min_log_mel)))


@functools.lru_cache(maxsize=8)
def mel_pinv(cfg: MelConfig) -> torch.Tensor:
    """Pseudo-inverse of the mel filterbank `(n_fft // 2 + 1, n_mels)`, once per config; read-only."""
    return torch.linalg.pinv(mel_filters(cfg))


def stft(audio: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Complex STFT `(..., n_samples)` -> `(..., n_fft // 2 + 1, n_samples // hop + 1)` (centered, Hann)."""
    window = torch.hann_window(cfg.n_fft, dtype=audio.dtype, device=audio.device)
    return torch.stft(audio, cfg.n_fft, cfg.hop_length, window=window, center=True, pad_mode="constant", return_complex=True)


def mel_power(audio: np.ndarray | torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Mel power spectrogram: `(..., n_samples)` -> `(..., n_mels, n_frames)`, float32."""
    audio = torch.as_tensor(audio, dtype=torch.float32)
    spec = stft(audio, cfg).abs() ** cfg.power
    return mel_filters(cfg).to(spec) @ spec


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


def log_mel_spectrogram(audio: np.ndarray | torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Audio `(..., n_samples)` at `cfg.sample_rate` -> log-mel `(..., n_mels, n_frames)`.

    n_frames = n_samples // hop_length + 1 (centered STFT); no cropping or padding here.
    """
    return power_to_value(mel_power(audio, cfg), cfg)


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


def mel_to_linear(mel_power_: torch.Tensor, cfg: MelConfig, n_iter: int = 300) -> torch.Tensor:
    """Mel power `(..., n_mels, T)` -> non-negative linear power `(..., n_fft//2+1, T)`.

    Least squares under a non-negativity constraint, solved approximately: start from the
    clamped pseudo-inverse, then `n_iter` multiplicative (Lee-Seung) updates, which keep the
    solution non-negative and lower ||M S - mel||^2 monotonically. Each update goes through the
    mel bands, M^T (M S): a third of the multiply-adds of (M^T M) S at 80 bands of 513 bins.
    """
    fb = mel_filters(cfg).to(mel_power_)
    spec = (mel_pinv(cfg).to(mel_power_) @ mel_power_).clamp_min(1e-12)
    fbt_mel = fb.T @ mel_power_
    for _ in range(n_iter):
        spec = spec * fbt_mel / (fb.T @ (fb @ spec)).clamp_min(1e-12)
    return spec


def griffin_lim(
    magnitude: torch.Tensor, cfg: MelConfig, n_iter: int = 32, momentum: float = 0.99, seed: int = 0, period: int | None = None
) -> torch.Tensor:
    """Linear magnitude `(..., n_fft//2+1, T)` -> audio `(..., (T-1) * hop)` by fast Griffin-Lim.

    Fast Griffin-Lim (Perraudin et al. 2013), the algorithm of librosa.griffinlim, batched in torch.
    `period` (frames): the random initial phase repeats with that period, so a magnitude that
    repeats (a loop tiled) gets audio that repeats too, away from the ends.
    """
    window = torch.hann_window(cfg.n_fft, dtype=magnitude.dtype, device=magnitude.device)
    length = (magnitude.shape[-1] - 1) * cfg.hop_length
    gen = torch.Generator().manual_seed(seed)
    T = magnitude.shape[-1]
    shape = (*magnitude.shape[:-1], period or T)
    phase = torch.rand(shape, generator=gen, dtype=magnitude.dtype) * 2 * math.pi
    if period:
        phase = phase.repeat(*[1] * (phase.dim() - 1), math.ceil(T / period))[..., :T]
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.device))
    previous = torch.zeros_like(angles)
    istft = dict(n_fft=cfg.n_fft, hop_length=cfg.hop_length, window=window, center=True, length=length)
    for _ in range(n_iter):
        audio = torch.istft(magnitude * angles, **istft)
        rebuilt = stft(audio, cfg)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / angles.abs().clamp_min(1e-16)
        previous = rebuilt
    return torch.istft(magnitude * angles, **istft)


def mel_to_audio(
    values: np.ndarray | torch.Tensor, cfg: MelConfig, n_iter: int = 32, seed: int = 0, period: int | None = None, nnls_iter: int = 300
) -> torch.Tensor:
    """Log-mel `(..., n_mels, n_frames)` in the config's scale -> audio `(..., (n_frames-1) * hop)`
    (`period`: see `griffin_lim`; `nnls_iter`: see `mel_to_linear`)."""
    values = torch.as_tensor(values, dtype=torch.float32)
    linear = mel_to_linear(value_to_power(values, cfg), cfg, n_iter=nnls_iter)
    magnitude = linear ** (1.0 / cfg.power)
    return griffin_lim(magnitude, cfg, n_iter=n_iter, seed=seed, period=period)


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """||ref - est||_F / ||ref||_F on magnitudes (lower is better; 0 is a perfect match)."""
    reference, estimate = torch.as_tensor(reference), torch.as_tensor(estimate)
    return float(torch.linalg.norm(reference - estimate) / torch.linalg.norm(reference).clamp_min(1e-12))

"""Spectrogram pictures (PNG) of mel arrays or audio files, with time and mel-frequency axes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from text2music.features.mel import MelConfig, load_audio, log_mel_spectrogram
from text2music.utils import atomic_path


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mel_ticks(cfg: MelConfig, n: int = 6) -> tuple[np.ndarray, list[str]]:
    import librosa

    freqs = librosa.mel_frequencies(n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.f_max)
    idx = np.linspace(0, cfg.n_mels - 1, n).round().astype(int)
    labels = [f"{freqs[i] / 1000:.1f}k" if freqs[i] >= 1000 else f"{freqs[i]:.0f}" for i in idx]
    return idx, labels


def draw_mel(ax, mel: np.ndarray, cfg: MelConfig, title: str | None = None, vmin=None, vmax=None):
    """Draw a `(n_mels, n_frames)` array on a matplotlib axis; returns the image."""
    seconds = mel.shape[-1] * cfg.hop_length / cfg.sample_rate
    im = ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, -0.5, cfg.n_mels - 0.5), vmin=vmin, vmax=vmax)
    idx, labels = _mel_ticks(cfg)
    ax.set_yticks(idx, labels)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz, mel scale)")
    if title:
        ax.set_title(title, fontsize=9)
    return im


def save_mel_png(path: str | Path, mel: np.ndarray, cfg: MelConfig, title: str | None = None) -> None:
    """One spectrogram with a colour bar, written atomically as PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    im = draw_mel(ax, np.asarray(mel, dtype=np.float32), cfg, title)
    fig.colorbar(im, ax=ax, label="dB" if cfg.norm == "db" else "log-mel (unit scale)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def save_mel_grid(path: str | Path, mels: list[np.ndarray], cfg: MelConfig, titles: list[str], cols: int = 2) -> None:
    """Several spectrograms on one page, sharing one colour scale."""
    plt = pyplot()
    rows = (len(mels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3 * rows), dpi=90, squeeze=False)
    lo = min(float(np.min(m)) for m in mels)
    hi = max(float(np.max(m)) for m in mels)
    for ax, mel, title in zip(axes.flat, mels, titles):
        draw_mel(ax, np.asarray(mel, dtype=np.float32), cfg, title, vmin=lo, vmax=hi)
    for ax in list(axes.flat)[len(mels) :]:
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_file(src: str | Path, out: str | Path, cfg: MelConfig) -> None:
    """Picture of an audio file (.wav/.flac/...) or a mel array (.npy). An audio file at a higher
    rate than `cfg`'s is drawn over its whole band (`full_band`)."""
    src = Path(src)
    title = src.name
    if src.suffix == ".npy":
        mel = np.load(src, allow_pickle=False)
        if mel.ndim != 2 or mel.shape[0] != cfg.n_mels:
            raise ValueError(f"{src}: expected an array of shape ({cfg.n_mels}, frames), got {mel.shape}")
    else:
        rate = audio_rate(src)
        if rate > cfg.sample_rate:
            cfg, title = full_band(cfg, rate), f"{src.name} ({rate} Hz)"
        mel = log_mel_spectrogram(load_audio(src, cfg.sample_rate), cfg).numpy()
    save_mel_png(out, mel, cfg, title=title)


def audio_rate(src: Path) -> int:
    """The sample rate of an audio file, or a one-line error naming it."""
    import soundfile as sf

    try:
        return sf.info(str(src)).samplerate
    except Exception as e:  # libsndfile's errors do not name the file
        raise ValueError(f"cannot read audio file {src}: {e}") from None


def full_band(cfg: MelConfig, sample_rate: int) -> MelConfig:
    """`cfg`'s frames in time at `sample_rate`, with mel bands up to its Nyquist (128 of them)."""
    scale = sample_rate / cfg.sample_rate
    n_fft = 1 << round(np.log2(cfg.n_fft * scale))
    return dataclasses.replace(cfg, sample_rate=sample_rate, n_fft=n_fft, hop_length=round(cfg.hop_length * scale), n_mels=128, fmax=None)

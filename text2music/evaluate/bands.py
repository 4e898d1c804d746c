"""Full-band measures: what the 16-kHz judges cannot hear (musicnn reads 0-8 kHz).

- `band_lsd(reference, estimate, sr)`: log-spectral distance (dB) per band (0-8, 8-16, 16-22 and
  8-22 kHz) between two aligned
  clips, the vocoder-only row's measure (its audio is the real clip's, made again from its mel);
- `band_profile(audio, sr)`: share of the energy above 8 kHz (dB) and the spectral flatness of
  the 8-16 kHz band, to set a model's clips beside real music of the same prompts;
- `full_band_metrics(...)`: both over a report's clips against the real files, read at the
  report's rate.

Spectra: 2048-point Hann STFT, hop 512; power floored 80 dB below the reference clip's peak bin,
so an empty band (a 16-kHz vocoder upsampled) scores the distance from the real band to silence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from text2music.features.mel import load_audio

BANDS = ((0, 8000), (8000, 16000), (16000, 22050), (8000, 22050))  # Hz; the last: the whole band above the 16-kHz mel
N_FFT, HOP = 2048, 512
FLOOR_DB = 80.0


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """`(n,)` -> power `(N_FFT // 2 + 1, frames)`."""
    audio = np.pad(np.asarray(audio, np.float64), (0, max(0, N_FFT - len(audio))))
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP] * np.hanning(N_FFT)
    return (np.abs(np.fft.rfft(frames, axis=-1)) ** 2).T


def band_names(sr: int) -> list[str]:
    return [f"{lo // 1000}-{min(hi, sr // 2) // 1000}k" for lo, hi in BANDS if lo < sr / 2]


def band_lsd(reference: np.ndarray, estimate: np.ndarray, sr: int) -> dict[str, float]:
    """Log-spectral distance (dB, root mean square over the band's bins, mean over frames) per band."""
    n = min(len(reference), len(estimate))
    ref, est = power_spectrogram(reference[:n]), power_spectrogram(estimate[:n])
    floor = ref.max() * 10 ** (-FLOOR_DB / 10) + 1e-20
    diff = 10 * np.log10(np.maximum(ref, floor)) - 10 * np.log10(np.maximum(est, floor))
    freqs = np.fft.rfftfreq(N_FFT, 1 / sr)
    out = {}
    for name, (lo, hi) in zip(band_names(sr), BANDS):
        rows = (freqs >= lo) & (freqs < min(hi, sr / 2))
        out[name] = float(np.sqrt(np.mean(diff[rows] ** 2, axis=0)).mean())
    return out


def band_profile(audio: np.ndarray, sr: int) -> dict[str, float]:
    """High-band energy (dB relative to the whole clip's) and spectral flatness of the 8-16 kHz band (0-1)."""
    power = power_spectrogram(audio)
    freqs = np.fft.rfftfreq(N_FFT, 1 / sr)
    high = power[freqs >= 8000]
    share = high.sum() / max(power.sum(), 1e-20)
    band = power[(freqs >= 8000) & (freqs < 16000)] + 1e-20
    flatness = np.exp(np.log(band).mean(axis=0)) / band.mean(axis=0)
    loud = power.sum(axis=0) > power.sum(axis=0).max() * 1e-4  # frames that are not silence
    return {"high_band_db": float(10 * np.log10(max(share, 1e-20))), "flatness": float(flatness[loud].mean()) if loud.any() else 0.0}


def full_band_metrics(pairs: list[tuple[Path, Path]], sr: int, aligned: bool) -> dict:
    """Over (generated WAV, real file) pairs at `sr`: the mean band profile of each side and, when
    `aligned` (the vocoder-only row: the same music), the mean log-spectral distance per band."""
    lsd, made, real = [], [], []
    for generated, reference in pairs:
        a, r = load_audio(generated, sr), load_audio(reference, sr)
        made.append(band_profile(a, sr))
        real.append(band_profile(r, sr))
        if aligned:
            lsd.append(band_lsd(r, a, sr))
    out = {
        "sample_rate": sr,
        "generated": {k: round(float(np.mean([m[k] for m in made])), 4) for k in made[0]},
        "real": {k: round(float(np.mean([m[k] for m in real])), 4) for k in real[0]},
    }
    if lsd:
        out["lsd_db"] = {k: round(float(np.mean([x[k] for x in lsd])), 3) for k in lsd[0]}
    return out

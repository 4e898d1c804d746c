"""Spectrogram statistics that expose regression to the mean.

All take mel arrays `(n_clips, n_mels, n_frames)` in one MelConfig's scale.
- temporal variation: how much each band moves over time within a clip (onsets, notes);
  a model that outputs the mean has almost none.
- prompt variation: how much the clip-average spectrum differs from clip to clip; a model that
  ignores its text has none.
"""

from __future__ import annotations

import numpy as np


def temporal_variation(mels: np.ndarray) -> float:
    """Mean over clips and bands of the standard deviation over time."""
    return float(np.asarray(mels, dtype=np.float64).std(axis=-1).mean())


def frame_flux(mels: np.ndarray) -> float:
    """Mean absolute frame-to-frame difference (onset energy)."""
    return float(np.abs(np.diff(np.asarray(mels, dtype=np.float64), axis=-1)).mean())


def frame_change(mel: np.ndarray) -> np.ndarray:
    """d[j]: the RMS change of one log-mel `(n_mels, T)` from frame j to frame j + 1 (seams, joins)."""
    return np.sqrt(np.mean(np.diff(mel, axis=1) ** 2, axis=0))


def prompt_variation(mels: np.ndarray) -> float:
    """Mean over bands of the standard deviation across clips of the time-averaged spectrum."""
    return float(np.asarray(mels, dtype=np.float64).mean(axis=-1).std(axis=0).mean())


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))


def spectra_report(generated: np.ndarray, real: np.ndarray, train_mean: np.ndarray) -> dict:
    """Generated vs real arrays for the same prompts, and the 'predict the training mean' floor."""
    return {
        "mse_to_real": mse(generated, real),
        "mse_of_training_mean": mse(np.broadcast_to(train_mean, real.shape), real),
        "temporal_variation": {"generated": temporal_variation(generated), "real": temporal_variation(real)},
        "frame_flux": {"generated": frame_flux(generated), "real": frame_flux(real)},
        "prompt_variation": {"generated": prompt_variation(generated), "real": prompt_variation(real)},
    }


def speckle(mel_db: np.ndarray, floor_db: float = 60.0) -> float:
    """Mean |S - median of 5 frames(S)| in dB over the cells within `floor_db` of the clip's peak,
    for a log-mel `(n_mels, n_frames)` in dB: the frame-to-frame noise on top of the spectrum's
    sustained lines. A held note is smooth along time in its band (only its onset and release
    differ from the running median); a speckled noise floor is not."""
    from scipy.ndimage import median_filter

    S = np.asarray(mel_db, dtype=np.float64)
    audible = S > S.max() - floor_db
    if not audible.any():
        return 0.0
    return float(np.abs(S - median_filter(S, size=(1, 5), mode="nearest"))[audible].mean())

"""Tempo of a clip (librosa's beat tracker) and whether it agrees with a stated BPM."""

from __future__ import annotations

import numpy as np

TEMPO_TOLERANCE = 0.08
TEMPO_FACTORS = (1.0, 2.0, 0.5)


def estimate_tempo(y: np.ndarray, sr: int) -> float:
    """Tempo in BPM from librosa's beat tracker."""
    import librosa

    tempo, _ = librosa.beat.beat_track(y=np.asarray(y, dtype=np.float32), sr=sr)
    return float(np.atleast_1d(tempo)[0])


def tempo_agrees(estimate: float, bpm: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """Within `tolerance` (relative) of bpm, of twice it or of half it (octave errors)."""
    return any(abs(estimate - bpm * f) <= tolerance * bpm * f for f in TEMPO_FACTORS)

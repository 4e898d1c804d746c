"""Key and mode of a clip: Krumhansl-Schmuckler profiles correlated with the mean CQT chroma."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def relative_key(tonic: int, mode: str) -> tuple[int, str]:
    """The relative major/minor: A minor <-> C major."""
    return ((tonic + 3) % 12, "major") if mode == "minor" else ((tonic + 9) % 12, "minor")


@dataclass(frozen=True)
class KeyEstimate:
    tonic: int
    mode: str
    score: float  # correlation of the best profile

    @property
    def key(self) -> str:
        return PITCH_CLASSES[self.tonic]

    @property
    def name(self) -> str:
        return f"{self.key} {self.mode}"


def mean_chroma(y: np.ndarray, sr: int) -> np.ndarray:
    """Mean CQT chroma (12,) of the clip."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=np.asarray(y, dtype=np.float32), sr=sr, hop_length=512)
    return chroma.mean(axis=1)


def key_from_chroma(chroma: np.ndarray) -> KeyEstimate:
    """The key whose rotated KS profile correlates best with a 12-bin chroma vector."""
    chroma = np.asarray(chroma, dtype=np.float64)
    best = KeyEstimate(0, "major", -np.inf)
    for mode, profile in (("major", KS_MAJOR), ("minor", KS_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1])
            if r > best.score:
                best = KeyEstimate(tonic, mode, r)
    return best


def estimate_key(y: np.ndarray, sr: int) -> KeyEstimate:
    return key_from_chroma(mean_chroma(y, sr))


def key_relation(estimate: KeyEstimate, key: str | int, mode: str) -> str:
    """'exact', 'relative' (A minor vs C major), 'parallel' (A minor vs A major), 'fifth'
    (a fifth away, same mode) or 'other'."""
    tonic = key if isinstance(key, int) else PITCH_CLASSES.index(key)
    if (estimate.tonic, estimate.mode) == (tonic, mode):
        return "exact"
    if (estimate.tonic, estimate.mode) == relative_key(tonic, mode):
        return "relative"
    if estimate.tonic == tonic:
        return "parallel"
    if estimate.mode == mode and (estimate.tonic - tonic) % 12 in (5, 7):
        return "fifth"
    return "other"

"""Measurements on audio that check a clip against its description: tempo, key, drums, loudness.

Used by the corpus tests and the agreement bench, and meant for the evaluation of generated
music later: `estimate_tempo` (librosa's beat tracker), `estimate_key` (Krumhansl-Schmuckler
profiles correlated with the mean CQT chroma), `drum_activity` (how often the band above 5 kHz is
loud, broadband noise: hats, cymbals, snares) and `rms_dbfs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from text2music.data.synth.theory import PITCH_CLASSES, relative_key

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

TEMPO_TOLERANCE = 0.08
TEMPO_FACTORS = (1.0, 2.0, 0.5)

# drum_activity above this means "drums present" (chosen on measured corpora, see drum_activity).
DRUM_THRESHOLD = 0.065


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


def estimate_tempo(y: np.ndarray, sr: int) -> float:
    """Tempo in BPM from librosa's beat tracker."""
    import librosa

    tempo, _ = librosa.beat.beat_track(y=np.asarray(y, dtype=np.float32), sr=sr)
    return float(np.atleast_1d(tempo)[0])


def tempo_agrees(estimate: float, bpm: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """Within `tolerance` (relative) of bpm, of twice it or of half it (octave errors)."""
    return any(abs(estimate - bpm * f) <= tolerance * bpm * f for f in TEMPO_FACTORS)


def drum_activity(y: np.ndarray, sr: int, fmin: float = 5000.0, fmax: float = 10500.0) -> float:
    """Fraction of (non-silent) frames in which the 5-10.5 kHz band sounds like a drum: noise-like
    (spectral flatness > 0.3) and carrying more than -30 dB of the frame's energy.

    Hi-hats, cymbals, snares and shakers put broadband noise up there on every hit; melodic
    instruments' upper partials are harmonic lines (low flatness), and a plucked note's
    attack noise is brief and weak. On the corpus drum clips score > 0.07 and drum-free clips
    < 0.06 (see bench/synth_agreement.py); `DRUM_THRESHOLD` sits between.
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    fmax = min(fmax, 0.95 * sr / 2)
    if fmax <= fmin:
        raise ValueError(f"sample rate {sr} too low for a {fmin:.0f}-{fmax:.0f} Hz band")
    S = np.abs(librosa.stft(y=y, n_fft=1024, hop_length=256)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=1024)
    band = S[(freqs >= fmin) & (freqs <= fmax)] + 1e-20
    flatness = np.exp(np.log(band).mean(axis=0)) / band.mean(axis=0)
    total = S.sum(axis=0) + 1e-20
    share_db = 10 * np.log10(band.sum(axis=0) / total)
    audible = 10 * np.log10(total / total.max()) > -40
    if not audible.any():
        return 0.0
    noisy = (flatness > 0.3) & (share_db > -30)
    return float(np.mean(noisy & audible) / np.mean(audible))


def rms_dbfs(y: np.ndarray) -> float:
    """RMS level of the clip in dB relative to full scale."""
    y = np.asarray(y, dtype=np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(y**2)) + 1e-12))


@dataclass(frozen=True)
class ClipCheck:
    """Measurements of one clip and whether each agrees with its ground truth."""

    clip_id: str
    tempo: float
    tempo_ok: bool
    key: str
    key_relation: str
    drum_activity: float
    drums_ok: bool
    rms_dbfs: float


def check_clip(y: np.ndarray, sr: int, record: dict) -> ClipCheck:
    """Measure a clip and compare with its manifest record."""
    tempo = estimate_tempo(y, sr)
    key = estimate_key(y, sr)
    drums = drum_activity(y, sr)
    return ClipCheck(
        clip_id=record.get("clip_id", ""),
        tempo=tempo,
        tempo_ok=tempo_agrees(tempo, record["bpm"]),
        key=key.name,
        key_relation=key_relation(key, record["key"], record["mode"]),
        drum_activity=drums,
        drums_ok=(drums > DRUM_THRESHOLD) == bool(record["drums"]),
        rms_dbfs=rms_dbfs(y),
    )

"""Key and mode of a clip, by key profiles correlated with a 12-bin chroma vector.

Two estimators (`estimate_key(y, sr, method=...)`):

- `"salience"` (the default): log-compressed pitch salience of the register C4..B7, minus a fixed
  per-semitone bias, folded to chroma and matched against key profiles. It is built to read the
  same key from a clip and from its Griffin-Lim reconstruction (the leaderboard's vocoder row and
  every mel model's output). The small mel preset (80 bands at 16 kHz) spaces its bands about
  37 Hz apart below 1 kHz, so Griffin-Lim moves low partials onto the bands' fixed pitches: the
  bass register, which the classic estimator leans on, is noise after a round trip, and the
  bands' grid leaves a clip-independent pattern on the register above. The estimator leaves out
  the bass, compresses (quiet sustained chord tones count, not only the loudest partials), and
  subtracts `SALIENCE_BIAS`, the mean salience of real and Griffin-Lim clips of all keys. Its
  bias and profiles were fitted on the train split of the synthetic corpus (`text2music data
  synth`; real clips and their small-preset Griffin-Lim round trips, in equal numbers) by
  `bench/key_judges.py --stage fit`; that script also measures it against the alternatives.
- `"ks"`: the classic Krumhansl-Schmuckler estimator (Krumhansl & Kessler profiles on the mean
  CQT chroma of the whole range), kept for comparison: good on clean audio, near chance on
  Griffin-Lim audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from text2music.theory import PITCH_CLASSES, relative_key  # noqa: F401 (the judge's names)

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KS_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KS_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)

# Pitch salience of the "salience" estimator: MIDI notes SALIENCE_LOW .. SALIENCE_LOW + SALIENCE_BINS - 1.
SALIENCE_LOW = 60  # C4
SALIENCE_BINS = 48  # four octaves: C4 .. B7
SALIENCE_COMPRESSION = 100.0  # log1p(c * S / max S)
BINS_PER_SEMITONE = 3
SALIENCE_HOP = 512

# Fitted by `bench/key_judges.py --stage fit` (see the module docstring): SALIENCE_BIAS per semitone
# from C4, one octave a row; the profiles tonic first.
# fmt: off
SALIENCE_BIAS = (
    2.0607, 1.9051, 1.9089, 1.8347, 1.9481, 1.9131, 1.9854, 1.7904, 1.7667, 1.7709, 1.6594, 1.6117,
    1.5795, 1.5911, 1.4718, 1.5028, 1.4503, 1.3267, 1.2857, 1.2368, 1.3006, 1.2360, 1.2158, 1.1287,
    1.1437, 1.1387, 1.1094, 1.0593, 1.0674, 0.9994, 1.0015, 0.9142, 0.9830, 0.9117, 0.9453, 0.8927,
    0.9020, 0.8651, 0.8432, 0.7896, 0.7817, 0.7432, 0.7297, 0.6680, 0.6784, 0.6017, 0.6000, 0.5672,
)
SALIENCE_MAJOR = (0.3305, -0.2285, 0.0545, -0.2426, 0.2961, 0.0062, -0.2041, 0.2921, -0.2522, 0.0939, -0.2878, 0.1418)
SALIENCE_MINOR = (0.3528, -0.2909, 0.1279, 0.2963, -0.1038, -0.0033, -0.2377, 0.2989, -0.0885, -0.2039, 0.0253, -0.1731)
# fmt: on

METHODS = ("salience", "ks")


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
    """Mean CQT chroma `(12,)` of the clip `(n_samples,)`, C first (the "ks" estimator's feature)."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=np.asarray(y, dtype=np.float32), sr=sr, hop_length=512)
    return chroma.mean(axis=1)


def pitch_salience(y: np.ndarray, sr: int) -> np.ndarray:
    """Mean log-compressed pitch salience `(SALIENCE_BINS,)` of the clip `(n_samples,)`, one value
    per semitone from MIDI note SALIENCE_LOW up.

    |CQT| with BINS_PER_SEMITONE bins per semitone centred on the equal-tempered pitches (A4 =
    440 Hz, no tuning estimate), summed to semitones `(SALIENCE_BINS, n_frames)`, scaled by its
    maximum, compressed as log1p(SALIENCE_COMPRESSION * S) and averaged over time. Needs `sr` of
    at least 9 kHz (the top bin is near 4.3 kHz); a silent clip gives zeros."""
    import librosa

    per_octave = 12 * BINS_PER_SEMITONE
    fmin = librosa.midi_to_hz(SALIENCE_LOW) * 2.0 ** (-(BINS_PER_SEMITONE // 2) / per_octave)
    cqt = librosa.cqt(
        np.asarray(y, dtype=np.float32),
        sr=sr,
        hop_length=SALIENCE_HOP,
        fmin=fmin,
        n_bins=SALIENCE_BINS * BINS_PER_SEMITONE,
        bins_per_octave=per_octave,
        tuning=0.0,
    )
    s = np.abs(cqt).reshape(SALIENCE_BINS, BINS_PER_SEMITONE, -1).sum(axis=1)
    peak = float(s.max()) if s.size else 0.0
    if peak <= 0.0:
        return np.zeros(SALIENCE_BINS)
    return np.log1p(SALIENCE_COMPRESSION * s / peak).mean(axis=1).astype(np.float64)


def salience_chroma(salience: np.ndarray) -> np.ndarray:
    """Salience `(SALIENCE_BINS,)` from `pitch_salience` -> chroma `(12,)`, C first: the fitted
    SALIENCE_BIAS subtracted, then octaves summed."""
    s = np.asarray(salience, dtype=np.float64) - np.asarray(SALIENCE_BIAS)
    chroma = np.zeros(12)
    np.add.at(chroma, (SALIENCE_LOW + np.arange(SALIENCE_BINS)) % 12, s)
    return chroma


def key_from_chroma(chroma: np.ndarray, major=KS_MAJOR, minor=KS_MINOR) -> KeyEstimate:
    """The key whose rotated profile correlates best (Pearson) with a chroma vector `(12,)`, C first.

    `major`, `minor`: profiles `(12,)`, tonic first (Krumhansl & Kessler's by default)."""
    chroma = np.asarray(chroma, dtype=np.float64)
    chroma = chroma - chroma.mean()
    norm = float(np.linalg.norm(chroma))
    if norm == 0.0 or not np.isfinite(norm):
        return KeyEstimate(0, "major", 0.0)
    chroma = chroma / norm
    best = KeyEstimate(0, "major", -np.inf)
    for mode, profile in (("major", major), ("minor", minor)):
        p = np.asarray(profile, dtype=np.float64)
        p = (p - p.mean()) / np.linalg.norm(p - p.mean())
        for tonic in range(12):
            r = float(np.roll(p, tonic) @ chroma)
            if r > best.score:
                best = KeyEstimate(tonic, mode, r)
    return best


def estimate_key(y: np.ndarray, sr: int, method: str = "salience") -> KeyEstimate:
    """Key and mode of a mono clip `(n_samples,)` at `sr` Hz (see the module docstring).

    `method`: "salience" (default; holds up on Griffin-Lim audio) or "ks" (the classic estimator)."""
    if method == "salience":
        return key_from_chroma(salience_chroma(pitch_salience(y, sr)), SALIENCE_MAJOR, SALIENCE_MINOR)
    if method == "ks":
        return key_from_chroma(mean_chroma(y, sr))
    raise ValueError(f"unknown key method {method!r}; choose one of {METHODS}")


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

"""Meter of a clip: in 3 (waltz, 3/4) or in 4 (4/4), from beat-synchronous accents.

`estimate_meter(y, sr, bpm=None) -> 3 | 4`. The method:

1. one power STFT (hop about 23 ms at any rate) gives a 64-band log-mel, its positive flux
   (onsets), the bass band's flux and energy (mel bands centred below `BASS_HZ`) and a chroma;
2. librosa's beat tracker on the onset envelope places the beats (at `bpm` when it is given:
   the quarter-note tempo, e.g. the prompt's; otherwise at the tracker's own tempo);
3. five accent rows, one value a beat (`ACCENTS`): onset strength, bass onset, bass energy over
   the beat's first half, chroma change and timbre (log-mel) change from the previous beat.
   A bar line brings the bass note and the chord change (in the synthetic corpus a chord lasts a
   bar, or half a bar in slow 4/4) and often the kick;
4. how strongly a period organises each row: the phase-grouping effect size (adjusted eta^2 of
   the beats grouped by index mod P) for P in 2, 3, 4, 6 and the autocorrelation at lags
   2, 3, 4, 6 (6 and 2 catch a tracker that runs at twice or half the tempo): 40 numbers;
5. a logistic regression on those (`WEIGHTS`, `MEAN`, `SCALE`, `BIAS`): score > 0 -> 3.

The regression was fitted by `bench/meter_judge.py --stage fit` on the TRAIN split of the
synthetic corpus only (all 213 train 3/4 clips, the first 300 train 4/4 ones): real clips and
their Griffin-Lim round trips (the leaderboard's vocoder row), each with and without the bpm
hint, the two classes weighted equally (3/4 is about 7 % of the corpus).
Fewer than `MIN_BEATS` tracked beats (silence, a very short clip) -> 4, the common meter.
"""

from __future__ import annotations

import numpy as np

FRAME_RATE = 43.07  # analysis frames per second (hop 512 at 22,050 Hz, 372 at 16 kHz)
N_MELS = 64
FMIN, FMAX = 30.0, 8000.0
BASS_HZ = 250.0  # the bass band: mel bands centred below this
ACCENTS = ("onset", "bass_onset", "bass_energy", "chroma_change", "timbre_change")
PERIODS = (2, 3, 4, 6)  # in beats, for both the phase grouping and the autocorrelation
MIN_BEATS = 8

# Fitted by `bench/meter_judge.py --stage fit` (see the module docstring): per accent row, the
# adjusted eta^2 at PERIODS then the autocorrelation at PERIODS; standardised by MEAN and SCALE.
# fmt: off
MEAN = (
    0.0995, 0.1039, 0.1654, 0.1979, -0.0619, -0.0139, 0.0892, 0.1456,
    0.1366, 0.2141, 0.2216, 0.3415, -0.1072, 0.0738, 0.1266, 0.2965,
    0.1182, 0.1830, 0.1890, 0.3196, -0.0825, 0.0473, 0.0743, 0.2602,
    0.0214, 0.0231, 0.0801, 0.0611, -0.1159, -0.0495, 0.0079, -0.0069,
    0.0195, 0.1102, 0.0608, 0.1510, -0.1526, 0.0344, -0.0301, 0.1041,
)
SCALE = (
    0.2116, 0.2774, 0.2952, 0.3595, 0.3579, 0.4049, 0.3770, 0.4546,
    0.2838, 0.4094, 0.4144, 0.4483, 0.4721, 0.5808, 0.5279, 0.5685,
    0.2967, 0.4103, 0.3997, 0.4579, 0.4719, 0.5827, 0.5141, 0.5773,
    0.1078, 0.1688, 0.2300, 0.2463, 0.2495, 0.2997, 0.3306, 0.3432,
    0.1166, 0.2762, 0.2343, 0.3345, 0.2710, 0.3858, 0.3345, 0.4240,
)
WEIGHTS = (
    -0.3135, -0.2702, -0.8690, 2.1264, -0.6133, 0.2483, 1.1979, -0.7990,
    1.0356, 2.2374, -1.3543, 0.6753, -0.6405, 0.6525, 0.1553, -0.0237,
    -0.7622, 1.4383, -1.7039, 2.0720, 0.4474, 1.0742, -0.1428, -0.2900,
    -0.0864, 0.5431, -0.6576, 0.3511, -0.2404, -0.0883, 0.6815, -0.3117,
    0.2324, 0.8685, 0.0257, 0.7853, 0.2000, 1.1479, -0.5018, -0.2805,
)
BIAS = 2.4513
# fmt: on


def _hop(sr: int) -> int:
    return max(16, int(round(sr / FRAME_RATE)))


def beat_accents(y: np.ndarray, sr: int, bpm: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Beats and beat-synchronous accents of a clip.

    y: `(n_samples,)` mono audio at `sr` Hz; bpm: the quarter-note tempo if known (the beat
    tracker then keeps it), else None. Returns `(beat_times (n_beats,) in seconds,
    accents (len(ACCENTS), n_beats))`; the change rows of the first beat are the row's median."""
    import librosa

    y = np.asarray(y, dtype=np.float32).reshape(-1)
    hop = _hop(sr)
    n_fft = 4 * hop
    if len(y) < n_fft:
        return np.zeros(0), np.zeros((len(ACCENTS), 0))
    power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True)) ** 2  # (n_fft/2+1, T)
    fmax = min(FMAX, sr / 2)
    mel = librosa.power_to_db(
        librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MELS, fmin=FMIN, fmax=fmax) @ power, ref=np.max, top_db=80.0
    )  # (N_MELS, T)
    low = librosa.mel_frequencies(N_MELS + 2, fmin=FMIN, fmax=fmax)[1:-1] < BASS_HZ
    flux = np.maximum(0.0, np.diff(mel, axis=1, prepend=mel[:, :1]))
    onset = flux.mean(axis=0)  # (T,)
    bass_onset = flux[low].mean(axis=0)
    bass_energy = mel[low].mean(axis=0)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=n_fft, hop_length=hop, tuning=0.0)  # (12, T)
    n = power.shape[1]

    kw = {"bpm": float(bpm)} if bpm is not None and bpm > 0 else {}
    _, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr, hop_length=hop, units="frames", **kw)
    beats = np.asarray(beats, dtype=int)
    beats = beats[beats < n]
    times = beats * hop / sr
    if len(beats) < 2:
        return times, np.zeros((len(ACCENTS), len(beats)))
    period = int(np.median(np.diff(beats)))
    w = max(1, period // 8)  # the onset rows: the peak within +-w frames of the beat
    ends = np.append(beats[1:], min(n, beats[-1] + period))

    accents = np.zeros((len(ACCENTS), len(beats)))
    prev_chroma = prev_mel = None
    for k, (b, e) in enumerate(zip(beats, ends)):
        e = max(b + 1, e)
        lo, hi = max(0, b - w), min(n, b + w + 1)
        accents[0, k] = onset[lo:hi].max()
        accents[1, k] = bass_onset[lo:hi].max()
        accents[2, k] = bass_energy[b : max(b + 1, b + (e - b) // 2)].mean()
        c, m = chroma[:, b:e].mean(axis=1), mel[:, b:e].mean(axis=1)
        if prev_chroma is not None:
            accents[3, k] = 1.0 - c @ prev_chroma / (np.linalg.norm(c) * np.linalg.norm(prev_chroma) + 1e-9)
            accents[4, k] = np.linalg.norm(m - prev_mel) / np.sqrt(len(m))
        prev_chroma, prev_mel = c, m
    accents[3:, 0] = np.median(accents[3:, 1:], axis=1)
    return times, accents


def _phase_effect(x: np.ndarray, period: int) -> float:
    """Adjusted eta^2 of `x` (n,) grouped by index mod `period`: 0 for no grouping, 1 for a
    sequence that repeats with that period exactly."""
    n = len(x)
    if n < 2 * period:
        return 0.0
    x = x - x.mean()
    total = float(x @ x)
    if total <= 1e-12:
        return 0.0
    between = sum(len(x[g::period]) * x[g::period].mean() ** 2 for g in range(period))
    null = (period - 1) / (n - 1)
    return float((between / total - null) / (1.0 - null))


def _autocorrelation(x: np.ndarray, lag: int) -> float:
    if len(x) < lag + 4:
        return 0.0
    a, b = x[:-lag], x[lag:]
    if a.std() <= 1e-12 or b.std() <= 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def periodicity_features(accents: np.ndarray) -> np.ndarray:
    """`(len(ACCENTS), n_beats)` -> `(len(ACCENTS) * 2 * len(PERIODS),)`: per row, the adjusted
    eta^2 at each of PERIODS, then the autocorrelation at each of PERIODS."""
    out = []
    for x in np.asarray(accents, dtype=np.float64):
        out += [_phase_effect(x, p) for p in PERIODS] + [_autocorrelation(x, p) for p in PERIODS]
    return np.asarray(out)


def meter_features(y: np.ndarray, sr: int, bpm: float | None = None) -> np.ndarray | None:
    """The classifier's input `(len(ACCENTS) * 2 * len(PERIODS),)` for a clip `(n_samples,)`,
    or None when fewer than MIN_BEATS beats were tracked."""
    _, accents = beat_accents(y, sr, bpm)
    if accents.shape[1] < MIN_BEATS:
        return None
    return periodicity_features(accents)


def meter_score(y: np.ndarray, sr: int, bpm: float | None = None) -> float:
    """Log-odds that the clip `(n_samples,)` at `sr` Hz is in 3 rather than 4 (classes weighted
    equally); -inf when too few beats were tracked."""
    f = meter_features(y, sr, bpm)
    if f is None:
        return float("-inf")
    z = (f - np.asarray(MEAN)) / np.asarray(SCALE)
    return float(z @ np.asarray(WEIGHTS) + BIAS)


def estimate_meter(y: np.ndarray, sr: int, bpm: float | None = None) -> int:
    """Beats per bar, 3 or 4, of a mono clip `y` `(n_samples,)` at `sr` Hz.

    bpm: the quarter-note tempo if known (e.g. the one the prompt asked for): the beat tracker
    then keeps it, which avoids its tempo-octave errors; without it the tracker's own tempo."""
    return 3 if meter_score(y, sr, bpm) > 0 else 4

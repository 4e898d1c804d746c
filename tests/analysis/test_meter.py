"""The meter judge (text2music.analysis.meter) on synthetic waltzes and marches."""

from __future__ import annotations

import numpy as np
import pytest

from text2music.analysis.meter import ACCENTS, PERIODS, beat_accents, estimate_meter, meter_features, meter_score, periodicity_features

CHORDS = [[60, 64, 67], [57, 60, 64], [53, 57, 60], [55, 59, 62]]  # C Am F G


def bar_music(meter: int, bpm: float, sample_rate: int = 16000, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    """`meter` beats a bar: a chord (harmonic tones) on every beat that changes every bar, a bass
    root and a loud noise-burst kick on beat 1 only, a soft noise tick on the other beats.
    float32 mono `(n_samples,)` in [-1, 1]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    out = np.zeros(n)
    beat = 60.0 / bpm
    t = np.arange(int(beat * sample_rate)) / sample_rate

    def tone(midi: float, partials: int) -> np.ndarray:
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        return sum(
            np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h for h in range(1, partials + 1) if f0 * h < sample_rate / 2
        )

    for b in range(int(seconds / beat)):
        start = int(b * beat * sample_rate)
        chord = CHORDS[(b // meter) % len(CHORDS)]
        seg = sum(tone(m, 5) for m in chord) * np.exp(-t * 4.0) * 0.05
        noise = rng.standard_normal(len(t))
        if b % meter == 0:
            seg += tone(chord[0] - 24, 3) * np.exp(-t * 1.5) * 0.3
            seg += noise * np.exp(-t * 30.0) * 0.25
        else:
            seg += noise * np.exp(-t * 80.0) * 0.05
        stop = min(n, start + len(seg))
        out[start:stop] += seg[: stop - start]
    return (out / max(1.0, np.abs(out).max() / 0.9)).astype(np.float32)


@pytest.mark.parametrize("meter", [3, 4])
@pytest.mark.parametrize("bpm", [80.0, 120.0, 150.0])
def test_meter_with_tempo_hint(meter, bpm):
    y = bar_music(meter, bpm, seed=int(bpm) + meter)
    assert estimate_meter(y, 16000, bpm=bpm) == meter


@pytest.mark.parametrize("meter", [3, 4])
@pytest.mark.parametrize("sample_rate", [16000, 22050])
def test_meter_without_hint(meter, sample_rate):
    y = bar_music(meter, 110.0, sample_rate=sample_rate, seed=meter)
    assert estimate_meter(y, sample_rate) == meter


def test_scores_are_on_opposite_sides():
    waltz, march = bar_music(3, 100.0, seed=1), bar_music(4, 100.0, seed=2)
    assert meter_score(waltz, 16000, 100.0) > 0 > meter_score(march, 16000, 100.0)


def test_beat_accents_shapes_and_downbeats():
    y = bar_music(3, 120.0)
    times, accents = beat_accents(y, 16000, bpm=120.0)
    assert accents.shape == (len(ACCENTS), len(times)) and 15 <= len(times) <= 21
    assert np.allclose(np.diff(times), 0.5, atol=0.05)
    bass = accents[ACCENTS.index("bass_onset")]
    strongest = int(np.argmax([bass[p::3].mean() for p in range(3)]))
    assert all(bass[k] > bass[k + 1] for k in range(strongest, len(bass) - 1, 3))  # beat 1 of every bar


def test_periodicity_features_of_a_pure_period():
    x = np.tile([3.0, 0.0, 0.0], 8)[None].repeat(len(ACCENTS), axis=0)
    f = periodicity_features(x).reshape(len(ACCENTS), 2, len(PERIODS))
    eta, ac = f[0, 0], f[0, 1]
    assert eta[PERIODS.index(3)] == pytest.approx(1.0) and eta[PERIODS.index(6)] == pytest.approx(1.0)
    assert eta[PERIODS.index(4)] < 0.1 and ac[PERIODS.index(3)] == pytest.approx(1.0) and ac[PERIODS.index(4)] < 0


def test_silence_and_short_clips_say_four():
    assert meter_features(np.zeros(16000 * 5, np.float32), 16000) is None
    assert estimate_meter(np.zeros(16000 * 5, np.float32), 16000) == 4
    assert estimate_meter(np.zeros(100, np.float32), 16000, bpm=120.0) == 4

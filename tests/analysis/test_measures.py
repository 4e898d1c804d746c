"""Tempo, key and drum measurements (text2music.analysis) on plain signals, and the layering:
analysis imports neither data nor evaluate, and evaluate does not import the corpus builder."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import text2music
from text2music.analysis.drums import DRUM_THRESHOLD, drum_activity
from text2music.analysis.key import (
    PITCH_CLASSES,
    SALIENCE_BINS,
    KeyEstimate,
    estimate_key,
    key_from_chroma,
    key_relation,
    pitch_salience,
    relative_key,
)
from text2music.analysis.tempo import tempo_agrees

PACKAGE = Path(text2music.__file__).parent


def imports_of(folder: Path) -> dict[str, set[str]]:
    """file -> the text2music modules it imports (anywhere in it, lazily too)."""
    out = {}
    for path in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        out[str(path.relative_to(PACKAGE))] = {n for n in names if n.startswith("text2music")}
    return out


def test_layering():
    for f, names in imports_of(PACKAGE / "analysis").items():
        assert not {n for n in names if n.startswith(("text2music.data", "text2music.evaluate"))}, f
    for f, names in imports_of(PACKAGE / "evaluate").items():
        assert not {n for n in names if n.startswith("text2music.data.synth")}, f


def test_pitch_classes_and_relative_key():
    assert len(PITCH_CLASSES) == 12 and PITCH_CLASSES[9] == "A"
    assert relative_key(9, "minor") == (0, "major") and relative_key(0, "major") == (9, "minor")


@pytest.mark.parametrize(
    "estimate, relation",
    [
        (("A", "minor"), "exact"),
        (("C", "major"), "relative"),
        (("A", "major"), "parallel"),
        (("E", "minor"), "fifth"),
        (("D", "minor"), "fifth"),
        (("F#", "major"), "other"),
    ],
)
def test_key_relation_to_a_minor(estimate, relation):
    est = KeyEstimate(PITCH_CLASSES.index(estimate[0]), estimate[1], 0.0)
    assert key_relation(est, "A", "minor") == relation
    assert key_relation(est, PITCH_CLASSES.index("A"), "minor") == relation


def test_tempo_agrees_within_tolerance_and_octaves():
    assert tempo_agrees(100, 100) and tempo_agrees(107.9, 100) and not tempo_agrees(109, 100)
    assert tempo_agrees(200, 100) and tempo_agrees(50, 100) and not tempo_agrees(150, 100)


def test_estimate_key_on_a_plain_scale():
    """An A minor arpeggio of sines (with the leading tone G#), mostly below C4: the classic
    estimator reads the whole range."""
    sr = 22050
    t = np.arange(int(0.25 * sr)) / sr
    notes = [57, 60, 64, 69, 64, 60, 57, 52, 57, 60, 64, 62, 59, 56, 57, 45]
    y = np.concatenate([np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * t) * np.exp(-3 * t) for m in notes])
    assert estimate_key(y.astype(np.float32), sr, method="ks").name == "A minor"


# Scale degrees (semitones above the tonic) of the chords of a cadence-rich progression.
MAJOR_PROGRESSION = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14), (0, 4, 7)]
MINOR_PROGRESSION = [(0, 3, 7), (5, 8, 12), (7, 11, 14), (0, 3, 7), (8, 12, 15), (5, 8, 12), (7, 11, 14), (0, 3, 7)]


def harmonic_tone(midi: float, seconds: float, sr: int) -> np.ndarray:
    """A decaying tone with eight harmonics (1/k amplitudes) below Nyquist."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 9) if k * f0 < sr / 2)
    return y * np.exp(-2.0 * t) * np.minimum(1.0, t / 0.01)


def progression(tonic: int, mode: str, sr: int = 16000, seconds_per_chord: float = 1.0) -> np.ndarray:
    """8 s of block chords around C4, their root loud in the bass and arpeggios above: a clip in
    `PITCH_CLASSES[tonic]` `mode`, as audio `(n_samples,)` float32 peaking at 0.5. After a
    Griffin-Lim round trip the classic "ks" estimator misreads most keys (17 of the 24), led by the
    smeared bass."""
    chords = MAJOR_PROGRESSION if mode == "major" else MINOR_PROGRESSION
    base = 57 + (tonic - 9) % 12  # the tonic from A3 up to G#4
    n = int(seconds_per_chord * sr)
    out = []
    for chord in chords:
        y = sum(harmonic_tone(base + d, seconds_per_chord, sr) for d in chord)
        y = y + 4.0 * harmonic_tone(base + chord[0] - 24, seconds_per_chord, sr)
        for i, d in enumerate(chord + (chord[1],)):  # arpeggio an octave up, quarter of a chord each
            start = i * n // 4
            y[start:] += 0.7 * harmonic_tone(base + d + 12, seconds_per_chord - start / sr, sr)
        out.append(y)
    y = np.concatenate(out)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def griffin_lim_round_trip(y: np.ndarray) -> np.ndarray:
    """The leaderboard's vocoder row: small-preset log-mel -> Griffin-Lim, at 16 kHz."""
    from text2music.features.mel import get_preset, log_mel_spectrogram, mel_to_audio

    cfg = get_preset("small")
    return mel_to_audio(log_mel_spectrogram(y, cfg), cfg)[: len(y)].numpy()


@pytest.mark.parametrize("key", ["C major", "F# major", "Bb major", "D minor", "E minor", "B minor"])
def test_estimate_key_on_a_progression_and_its_griffin_lim_round_trip(key):
    """Keys that the classic estimator misreads after the round trip (as C major -> A minor)."""
    tonic, mode = PITCH_CLASSES.index(key.split()[0]), key.split()[1]
    y = progression(tonic, mode)
    assert estimate_key(y, 16000).name == key
    assert estimate_key(griffin_lim_round_trip(y), 16000).name == key


def test_estimate_key_at_other_rates_and_on_silence():
    y = progression(PITCH_CLASSES.index("Ab"), "major", sr=22050)
    assert estimate_key(y, 22050).name == "Ab major"
    assert pitch_salience(y, 22050).shape == (SALIENCE_BINS,)
    assert np.all(pitch_salience(np.zeros(16000, np.float32), 16000) == 0)
    assert isinstance(estimate_key(np.zeros(16000, np.float32), 16000), KeyEstimate)
    with pytest.raises(ValueError, match="unknown key method"):
        estimate_key(y, 22050, method="cnn")


def test_key_from_chroma_follows_the_profiles():
    major = np.array([1.0, 0, 0.5, 0, 0.8, 0.6, 0, 0.9, 0, 0.5, 0, 0.4])
    minor = np.array([1.0, 0, 0.5, 0.8, 0, 0.6, 0, 0.9, 0.6, 0, 0.4, 0])
    for tonic in range(12):
        assert key_from_chroma(np.roll(major, tonic), major, minor).name == f"{PITCH_CLASSES[tonic]} major"
        assert key_from_chroma(np.roll(minor, tonic), major, minor).name == f"{PITCH_CLASSES[tonic]} minor"
    assert key_from_chroma(np.zeros(12)).score == 0.0


def test_drum_activity_hears_noise_bursts_not_tones():
    sr, rng = 22050, np.random.default_rng(0)
    t = np.arange(2 * sr) / sr
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-2 * (t % 0.5))
    hats = np.zeros_like(t)
    for start in range(0, len(t), sr // 8):
        n = min(len(t) - start, sr // 20)
        hats[start : start + n] = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.01 * sr)) * 0.3
    assert drum_activity(tone, sr) < DRUM_THRESHOLD < drum_activity(tone + hats, sr)
    assert drum_activity(np.zeros(sr), sr) == 0.0
    with pytest.raises(ValueError, match="too low"):
        drum_activity(tone, 8000)

"""Tempo, key and drum measurements (text2music.analysis) on plain signals, and the layering:
analysis imports neither data nor evaluate, and evaluate does not import the corpus builder."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import text2music
from text2music.analysis.drums import DRUM_THRESHOLD, drum_activity
from text2music.analysis.key import PITCH_CLASSES, KeyEstimate, estimate_key, key_relation, relative_key
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
    """An A minor arpeggio of sines (with the leading tone G#)."""
    sr = 22050
    t = np.arange(int(0.25 * sr)) / sr
    notes = [57, 60, 64, 69, 64, 60, 57, 52, 57, 60, 64, 62, 59, 56, 57, 45]
    y = np.concatenate([np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * t) * np.exp(-3 * t) for m in notes])
    assert estimate_key(y.astype(np.float32), sr).name == "A minor"


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

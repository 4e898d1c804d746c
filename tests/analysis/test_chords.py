"""Chords per beat (text2music.analysis.chords): templates, Viterbi smoothing, chord_slots."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import synth_music
from text2music.analysis.chords import chord_slots, estimate_chords, templates, triads, viterbi


def test_templates_are_24_triads_each_best_matched_by_itself():
    t = templates()
    assert t.shape == (24, 12) and len(triads()) == 24
    assert np.all(np.argmax(t @ t.T, axis=1) == np.arange(24))


def test_viterbi_keeps_a_chord_through_one_odd_beat_but_follows_a_real_change():
    scores = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.1], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert list(viterbi(scores, stay=0.15)) == [0, 0, 0, 0, 1, 1]
    assert list(viterbi(scores, stay=0.0)) == [0, 0, 1, 0, 1, 1]


def test_chord_slots_merge_runs_in_composition_beats():
    slots = chord_slots([(0, "maj"), (0, "maj"), (9, "min"), (0, "maj")], first_beat=3.0)
    assert slots == [[3.0, 2.0, 0, [0, 4, 7]], [5.0, 1.0, 9, [9, 0, 4]], [6.0, 1.0, 0, [0, 4, 7]]]
    assert chord_slots([], 0.0) == [] and estimate_chords(np.zeros(1000, np.float32), 22050, []) == []


def test_chords_of_a_known_progression():
    y = synth_music(22050, 8.0, bpm=120.0)  # C Am F G, four beats each, from time 0
    beats = np.arange(16) * 0.5
    est = estimate_chords(y, 22050, beats)
    truth = [(0, "maj")] * 4 + [(9, "min")] * 4 + [(5, "maj")] * 4 + [(7, "maj")] * 4
    assert np.mean([e == t for e, t in zip(est, truth)]) >= 0.85, est


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from text2music.data.synth import build_corpus
    from text2music.data.synth.render import bundled_soundfont

    out = tmp_path_factory.mktemp("chords") / "corpus"
    build_corpus(out, n=6, seed=5, jobs=1, soundfont=str(bundled_soundfont()), progress=False)
    return out, [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_chords_of_rendered_clips_on_their_true_beats_are_mostly_right(rendered):
    out, rows = rendered
    right = []
    for r in rows:
        y, sr = sf.read(out / r["audio"], dtype="float32")
        est = estimate_chords(y, sr, r["beats"])
        for t, (root, quality) in zip(r["beats"], est):
            pos = r["beat_offset"] + (t + 30.0 / r["bpm"]) * r["bpm"] / 60.0
            slot = next((s for s in r["chord_slots"] if s[0] <= pos < s[0] + s[1]), None)
            if slot is not None:
                right.append((root, quality) == (slot[2], "maj" if (slot[2] + 4) % 12 in slot[3] else "min"))
    assert np.mean(right) >= 0.6, np.mean(right)

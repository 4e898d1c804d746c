"""Beats and downbeats (text2music.analysis.beats): BeatNet's CRNN on our own features, and the grid fit."""

from __future__ import annotations

import importlib.util
import json
import pickle

import numpy as np
import pytest
import soundfile as sf
import torch

from text2music.analysis import beats as B

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("BeatNet") is None, reason="BeatNet is not installed (pip install --no-deps BeatNet==1.1.3)"
)


def f_measure(ref, est, window=0.07) -> float:
    hits = sum(any(abs(e - r) <= window for e in est) for r in ref)
    return 0.0 if hits == 0 else 2 * hits / (len(ref) + len(est))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[tuple[dict, np.ndarray, int]]:
    """Eight 10-s clips of the synthetic corpus (bundled soundfont) with their exact grids."""
    from text2music.data.synth import build_corpus
    from text2music.data.synth.render import bundled_soundfont

    out = tmp_path_factory.mktemp("beats") / "corpus"
    build_corpus(out, n=8, seed=3, jobs=1, soundfont=str(bundled_soundfont()), progress=False)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    return [(r, *sf.read(out / r["audio"], dtype="float32")) for r in rows]


def test_filterbank_and_features_have_the_networks_shapes():
    bank = B.log_filterbank()
    assert bank.shape == (B.WINDOW // 2, B.N_BANDS)
    np.testing.assert_allclose(bank.sum(axis=0), 1.0, rtol=1e-6)  # madmom's norm_filters
    assert np.all(np.diff(bank.argmax(axis=0)) > 0)  # centres rise, no duplicate filter
    y = np.random.default_rng(0).uniform(-0.5, 0.5, B.SAMPLE_RATE * 3 + 100).astype(np.float32)
    f = B.beatnet_features(y)
    assert f.shape == (int(np.ceil(len(y) / B.HOP)), 2 * B.N_BANDS) and f.dtype == np.float32
    spec, diff = f[:, : B.N_BANDS], f[:, B.N_BANDS :]
    assert spec.min() >= 0 and diff.min() >= 0 and np.all(diff[0] == 0)
    np.testing.assert_allclose(diff[1:], np.maximum(spec[1:] - spec[:-1], 0), atol=1e-6)
    assert 0.05 < spec.mean() < 3.0  # log10(1 + |X|): about what madmom gives for audio in [-1, 1]
    assert np.all(B.beatnet_features(np.zeros(B.SAMPLE_RATE, np.float32)) == 0)


def test_network_loads_the_wheels_weights_as_tensors_only():
    path = B.beatnet_weights()
    state = torch.load(path, weights_only=True)  # would raise on a pickle that runs code
    net = B.load_beatnet()
    assert set(net.state_dict()) == set(state)
    for k, v in state.items():
        assert np.array_equal(net.state_dict()[k].numpy(), v.numpy())


def test_weights_that_would_run_code_are_refused(tmp_path, monkeypatch):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    bad = tmp_path / "BeatNet" / "models" / "model_1_weights.pt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(pickle.dumps(Payload()))
    monkeypatch.setattr(B, "beatnet_weights", lambda model=B.MODEL: bad)
    with pytest.raises(pickle.UnpicklingError):
        B.load_beatnet()


def test_grid_fit_on_clean_activations():
    fps, bpm = B.FPS, 100.0
    period = 60 * fps / bpm
    act = np.zeros((500, 2))
    beats = 0.3 * fps + period * np.arange(20)
    beats = beats[beats < 499]
    act[np.round(beats).astype(int), 0] = 1.0
    act[np.round(beats[1::3]).astype(int), 1] = 1.0  # waltz: bars start at beats 1, 4, 7, ...
    g = B.fit_grid(act, 10.0)
    assert abs(g.bpm - bpm) < 1.0 and g.meter == 3
    assert f_measure(beats / fps, g.beats) == 1.0 and f_measure(beats[1::3] / fps, g.downbeats) == 1.0
    assert abs(g.beat_offset - 1.5) < 0.05  # the first bar starts at 0.9 s = 1.5 beats: time 0 is beat -1.5 = 1.5 mod 3
    rec = g.to_record()
    assert rec["meter"] == "3/4" and rec["beats"][0] == round(g.beats[0], 4)


def test_a_preferred_tempo_picks_the_octave_that_fits_almost_as_well():
    fps, period = B.FPS, 60 * B.FPS / 170.0
    onsets = np.round(0.2 * fps + period * np.arange(40)).astype(int)
    onsets = onsets[onsets < 499]
    eighths = np.zeros(500)  # beats at 85 BPM, eighth notes between them nearly as strong
    eighths[onsets] = np.where(np.arange(len(onsets)) % 2 == 0, 1.0, 0.7)
    assert abs(60 * fps / B.fit_period(eighths)[0] - 170) < 3
    assert abs(60 * fps / B.fit_period(eighths, prefer_bpm=115.0)[0] - 85) < 2
    even = np.zeros(500)  # every onset as strong: the half tempo fits clearly worse and is not taken
    even[onsets] = 1.0
    assert abs(60 * fps / B.fit_period(even, prefer_bpm=115.0)[0] - 170) < 3


def test_beats_and_downbeats_of_rendered_clips(rendered):
    net = B.load_beatnet()
    beat_f, down_f, tempo = [], [], []
    for r, y, sr in rendered:
        g = B.estimate_beats(y, sr, net)
        beat_f.append(f_measure(r["beats"], g.beats))
        down_f.append(f_measure(r["downbeats"], g.downbeats))
        tempo.append(abs(g.bpm / r["bpm"] - 1) < 0.04)
        assert g.beats == tuple(sorted(g.beats)) and set(g.downbeats) <= set(g.beats)
        assert 0 <= g.beat_offset < g.meter
    assert np.mean(beat_f) >= 0.8 and np.mean(tempo) >= 0.75, (beat_f, tempo)
    assert np.mean(down_f) >= 0.5, down_f

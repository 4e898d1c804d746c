"""The torch port of musicnn (no TensorFlow needed): shapes, ranges, front end vs librosa, that it
tells a piano-like clip from a drum-like one, determinism, and TF musicnn's own outputs on a fixed
input (tests/analysis/musicnn_reference.npz, written by scripts/convert_musicnn.py)."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from text2music.analysis.musicnn import (
    N_MELS,
    PATCH_FRAMES,
    TAGS,
    MusicnnJudge,
    load_musicnn,
    log_mel,
    reference_patches,
    to_patches,
)

REFERENCE = Path(__file__).with_name("musicnn_reference.npz")
MODEL_NAMES = ["MTT_musicnn", "MSD_musicnn"]


def piano_like(sr: int = 22050, seconds: float = 6.0, level: float = 0.3) -> np.ndarray:
    """Harmonic tones with piano-like decays, one note every 0.5 s (an arpeggio)."""
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    for i, midi in enumerate([60, 64, 67, 72, 65, 69, 62, 67, 60, 64, 67, 72]):
        start = int(i * 0.5 * sr)
        if start >= len(t):
            break
        tt = t[: len(t) - start]
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        out[start:] += sum(np.sin(2 * np.pi * f0 * h * tt) / h**1.5 for h in range(1, 8)) * np.exp(-tt * 2.5)
    return (level * out / np.abs(out).max()).astype(np.float32)


def drum_like(sr: int = 22050, seconds: float = 6.0, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """A 120-bpm eighth-note pattern: pitch-swept sine kicks and noise-burst snares, hi-hat noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    for k, start in enumerate(range(0, len(t), int(0.25 * sr))):
        n = min(len(t) - start, int(0.2 * sr))
        tt = t[:n]
        if k % 2 == 0:
            out[start : start + n] += np.sin(2 * np.pi * (50 + 100 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 12)
        else:
            out[start : start + n] += rng.standard_normal(n) * np.exp(-tt * 25) * 0.5
        out[start : start + n] += rng.standard_normal(n) * np.exp(-tt * 80) * 0.2
    return (level * out / np.abs(out).max()).astype(np.float32)


@pytest.fixture(scope="module")
def judges() -> dict[str, MusicnnJudge]:
    return {name: load_musicnn(name) for name in MODEL_NAMES}


def test_tag_lists():
    assert set(TAGS) == set(MODEL_NAMES)
    for name in MODEL_NAMES:
        assert len(TAGS[name]) == 50 and len(set(TAGS[name])) == 50
    assert {"drums", "beat", "techno", "piano"} <= set(TAGS["MTT_musicnn"])
    assert {"dance", "House", "jazz"} <= set(TAGS["MSD_musicnn"])


def test_log_mel_matches_librosa():
    audio = piano_like(sr=16000, seconds=2.0) + drum_like(sr=16000, seconds=2.0)
    ours = log_mel(audio)
    assert ours.dtype == np.float32 and ours.shape == (1 + len(audio) // 256, N_MELS)
    mel = librosa.feature.melspectrogram(y=audio, sr=16000, n_fft=512, hop_length=256, n_mels=96)
    ref = np.log10(10000 * mel.astype(np.float32) + 1).T
    np.testing.assert_allclose(ours, ref, atol=2e-4, rtol=1e-4)


def test_log_mel_loud_audio_stays_finite():
    loud = np.clip(drum_like(sr=16000, seconds=3.5) * 30, -1, 1)  # overflows musicnn's float16 path
    lm = log_mel(loud)
    assert np.isfinite(lm).all() and lm.max() > np.log10(65504)


def test_patches_and_repeat_pad():
    frames = np.arange(3 * PATCH_FRAMES + 50, dtype=np.float32)[:, None].repeat(N_MELS, 1)
    p = to_patches(frames)
    assert p.shape == (3, PATCH_FRAMES, N_MELS)  # trailing 50 frames dropped, as musicnn
    np.testing.assert_array_equal(p[1, 0], frames[PATCH_FRAMES])
    short = frames[:60]
    p = to_patches(short)
    assert p.shape == (1, PATCH_FRAMES, N_MELS)
    np.testing.assert_array_equal(p[0, :60], short)
    np.testing.assert_array_equal(p[0, 60:120], short)  # repeated, not zero-padded
    with pytest.raises(ValueError):
        to_patches(frames[:0])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shapes_and_ranges(judges, name):
    judge = judges[name]
    assert judge.name == name and judge.tags == TAGS[name] and judge.sample_rate == 16000
    audio = piano_like(seconds=10.0) + drum_like(seconds=10.0)
    probs, emb = judge.analyze(audio, 22050)
    assert probs.shape == (50,) and probs.dtype == np.float32
    assert emb.shape == (3, 200) and emb.dtype == np.float32  # 10 s = 3 whole 3-s patches
    assert np.all((probs >= 0) & (probs <= 1)) and np.isfinite(emb).all()
    assert emb.std() > 0.1  # not a constant output
    # clip under 3 s: repeat-padded to one patch; stereo (channels, samples) averaged
    probs, emb = judge.analyze(np.stack([piano_like(seconds=1.0)] * 2), 22050)
    assert probs.shape == (50,) and emb.shape == (1, 200)
    # loud, clipped audio (junk in musicnn's float16 front end) still gives valid outputs
    probs, emb = judge.analyze(np.clip(drum_like(seconds=4.0) * 30, -1, 1), 22050)
    assert np.all((probs >= 0) & (probs <= 1)) and np.isfinite(emb).all()


def test_piano_vs_drums(judges):
    mtt = judges["MTT_musicnn"]
    piano_p, piano_e = mtt.analyze(piano_like(), 22050)
    drums_p, drums_e = mtt.analyze(drum_like(), 22050)
    idx = {t: i for i, t in enumerate(mtt.tags)}
    assert piano_p[idx["piano"]] > 0.3 and piano_p[idx["piano"]] > 5 * drums_p[idx["piano"]]
    for tag in ("drums", "beat", "techno"):
        assert drums_p[idx[tag]] > 0.05 and drums_p[idx[tag]] > 5 * piano_p[idx[tag]], tag
    assert mtt.top_tags(piano_p, 1)[0][0] == "piano"
    # embeddings: piano vs drums far apart, piano vs a quieter, longer piano close
    piano2_e = mtt.analyze(piano_like(seconds=6.5, level=0.2), 22050)[1]
    far = np.linalg.norm(piano_e.mean(0) - drums_e.mean(0))
    near = np.linalg.norm(piano_e.mean(0) - piano2_e.mean(0))
    assert far > 4 * near, (far, near)

    msd = judges["MSD_musicnn"]
    piano_p, piano_e = msd.analyze(piano_like(), 22050)
    drums_p, drums_e = msd.analyze(drum_like(), 22050)
    idx = {t: i for i, t in enumerate(msd.tags)}
    for tag in ("dance", "House", "electronic"):
        assert drums_p[idx[tag]] > 2 * piano_p[idx[tag]], tag
    assert np.linalg.norm(piano_e.mean(0) - drums_e.mean(0)) > 3 * np.linalg.norm(
        piano_e.mean(0) - msd.analyze(piano_like(seconds=6.5, level=0.2), 22050)[1].mean(0)
    )


def test_resampling_consistent(judges):
    judge = judges["MTT_musicnn"]
    p16, e16 = judge.analyze(piano_like(sr=16000), 16000)
    p44, e44 = judge.analyze(piano_like(sr=44100), 44100)
    assert np.abs(p16 - p44).max() < 0.05
    assert np.linalg.norm(e16 - e44) < 0.1 * np.linalg.norm(e16)


def test_deterministic_with_one_embedding_per_patch(judges):
    judge = judges["MSD_musicnn"]
    clips = [piano_like(seconds=7.0), drum_like(seconds=4.0), piano_like(seconds=2.0)]
    a = judge.analyze(clips[0], 22050)
    b = judge.analyze(clips[0], 22050)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    fresh = load_musicnn("MSD_musicnn").analyze(clips[0], 22050)
    np.testing.assert_array_equal(a[1], fresh[1])
    assert [judge.analyze(c, 22050)[1].shape[0] for c in clips] == [2, 1, 1]  # 3-s patches; a short clip repeat-padded to one


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_matches_tensorflow_reference(judges, name):
    """TF musicnn 0.1.0's sigmoid outputs and penultimate features on `reference_patches()`."""
    ref = np.load(REFERENCE)
    probs, emb = judges[name].forward_patches(reference_patches())
    assert probs.shape == ref[f"{name}/probs"].shape == (2, 50)
    np.testing.assert_allclose(probs, ref[f"{name}/probs"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(emb, ref[f"{name}/penultimate"], rtol=0, atol=1e-4)
    assert np.abs(ref[f"{name}/penultimate"]).max() > 1.0  # the reference is not trivially small


def test_missing_weights_and_unknown_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="convert_musicnn"):
        load_musicnn("MTT_musicnn", path=tmp_path / "nope.safetensors")
    with pytest.raises(ValueError, match="unknown musicnn model"):
        load_musicnn("MSD_vgg")

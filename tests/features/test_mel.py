import json

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import synth_music, write_wav
from text2music.features.mel import (
    PRESETS,
    MelConfig,
    fix_length,
    get_preset,
    load_audio,
    log_mel_spectrogram,
    mel_centres,
    mel_power,
    mel_to_audio,
    save_audio,
    spectral_convergence,
)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_mel_centres_match_librosa(preset):
    cfg = get_preset(preset)
    want = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.f_max)[1:-1]
    np.testing.assert_allclose(mel_centres(cfg), want, rtol=1e-9)
    narrow = MelConfig(fmin=500.0, fmax=4000.0, n_mels=10)
    np.testing.assert_allclose(mel_centres(narrow), librosa.mel_frequencies(12, fmin=500.0, fmax=4000.0)[1:-1])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_mel_matches_librosa(preset, music_22k):
    cfg = get_preset(preset)
    audio = librosa.resample(y=music_22k, orig_sr=22050, target_sr=cfg.sample_rate) if cfg.sample_rate != 22050 else music_22k
    ref = librosa.feature.melspectrogram(
        y=audio,
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.f_max,
        power=cfg.power,
        center=True,
        pad_mode="constant",
    )
    ours = mel_power(audio, cfg).numpy()
    assert ours.shape == ref.shape
    # tolerance: float32 STFTs agree to 1e-4 of the peak power, and to 0.01 dB wherever the
    # mel power is within 60 dB of the peak
    assert np.abs(ours - ref).max() <= 1e-4 * ref.max()
    loud = ref > ref.max() * 1e-6
    assert np.abs(10 * np.log10(ours[loud]) - 10 * np.log10(ref[loud])).max() < 0.01
    db = log_mel_spectrogram(audio, cfg).numpy()
    expected = librosa.power_to_db(S=ref, ref=1.0, amin=1e-10, top_db=cfg.top_db)
    if cfg.norm == "unit":
        expected = (expected - cfg.unit_offset_db) / cfg.unit_scale_db
    assert np.abs(db[loud] - expected[loud]).max() < 0.01


def test_shapes_and_batching(music_22k):
    cfg = get_preset("small")
    audio = librosa.resample(y=music_22k, orig_sr=22050, target_sr=cfg.sample_rate)
    mel = log_mel_spectrogram(audio, cfg)
    assert mel.shape == (cfg.n_mels, len(audio) // cfg.hop_length + 1) == (80, 626)
    batch = log_mel_spectrogram(np.stack([audio, audio * 0.5]), cfg)
    assert batch.shape == (2, 80, 626)
    assert torch.allclose(batch[0], mel, atol=1e-5)
    # half the amplitude is 6.02 dB quieter everywhere above the floor
    diff_db = (batch[0] - batch[1]) * cfg.unit_scale_db
    assert torch.allclose(diff_db[mel > -0.5], torch.tensor(6.0206), atol=0.01)


def test_seed_preset_is_256_by_420():
    cfg = get_preset("seed")
    assert (cfg.n_mels, cfg.n_frames) == (256, 420)
    assert 9.5 < cfg.duration < 10.0


@pytest.mark.parametrize("preset,max_sc", [("small", 0.12), ("seed", 0.08)])
def test_griffin_lim_round_trip(preset, max_sc):
    """mel -> Griffin-Lim (32 iterations) -> mel reaches a spectral convergence below `max_sc`
    on a synthesised music clip (chords, bass, kicks)."""
    cfg = get_preset(preset)
    audio = synth_music(cfg.sample_rate, 6.0)
    mel = log_mel_spectrogram(audio, cfg)
    rebuilt = mel_to_audio(mel, cfg, n_iter=32)
    assert rebuilt.shape == ((mel.shape[-1] - 1) * cfg.hop_length,)
    assert torch.isfinite(rebuilt).all()
    n = min(len(audio), len(rebuilt))
    mag_ref = mel_power(audio[:n], cfg).sqrt()
    mag_out = mel_power(rebuilt[:n], cfg).sqrt()
    sc = spectral_convergence(mag_ref, mag_out)
    assert sc < max_sc, f"spectral convergence {sc:.3f} >= {max_sc}"
    # and more iterations do not make it worse
    assert spectral_convergence(mag_ref, mel_power(mel_to_audio(mel, cfg, n_iter=64)[:n], cfg).sqrt()) <= sc + 0.01


def test_fix_length_crops_and_pads():
    cfg = get_preset("small")
    long = np.zeros((cfg.n_mels, cfg.n_frames + 10), np.float32)
    assert fix_length(long, cfg).shape == (cfg.n_mels, cfg.n_frames)
    short = np.ones((cfg.n_mels, 100), np.float32)
    short[0, 0] = -1.0  # the clip's floor
    fixed = fix_length(short, cfg)
    assert fixed.shape == (cfg.n_mels, cfg.n_frames)
    assert (fixed[:, 1:100] == 1).all() and (fixed[:, 100:] == -1.0).all()


def test_config_json_round_trip(tmp_path):
    cfg = get_preset("seed")
    cfg.save(tmp_path / "mel_config.json")
    assert MelConfig.load(tmp_path / "mel_config.json") == cfg
    d = json.loads((tmp_path / "mel_config.json").read_text())
    d["bogus"] = 1
    with pytest.raises(ValueError, match="bogus"):
        MelConfig.from_dict(d)


def test_bad_configs_and_inputs(tmp_path):
    with pytest.raises(ValueError, match="norm"):
        MelConfig(norm="linear")
    with pytest.raises(ValueError, match="Nyquist"):
        MelConfig(sample_rate=16000, fmax=9000)
    with pytest.raises(ValueError, match="unknown mel preset"):
        get_preset("huge")
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load_audio(tmp_path / "nope.wav", 16000)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(ValueError, match="broken.wav"):
        load_audio(bad, 16000)


def test_load_audio_downmixes_and_resamples(tmp_path):
    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.5
    path = write_wav(tmp_path / "st.wav", stereo.astype(np.float32), 44100)
    audio = load_audio(path, 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1 and abs(len(audio) - 16000) <= 1
    assert abs(np.abs(audio).max() - 0.5) < 0.01


def test_save_audio_atomic_formats(tmp_path):
    audio = np.zeros(1600, np.float32)
    save_audio(tmp_path / "a.flac", audio, 16000)
    assert sf.info(tmp_path / "a.flac").format == "FLAC"
    with pytest.raises(ValueError, match="unsupported"):
        save_audio(tmp_path / "a.mp3", audio, 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac"]  # no temp files left

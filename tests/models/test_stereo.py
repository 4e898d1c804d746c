"""The stereo upmixer: mono -> (L, R) with (L + R) / 2 == mono, deterministic, chunked, circular for loops."""

import json

import numpy as np
import pytest
import torch

import text2music.models.stereo as stereo
from text2music.models.stereo import StereoConfig, StereoUpmixer, band_energies, fit_side

RATE = 16000


@pytest.fixture(scope="module")
def upmixer():
    """A small upmixer whose network moves (random weights), a width around -8 dB."""
    torch.manual_seed(0)
    u = StereoUpmixer(StereoConfig(channels=8, layers=2)).eval()
    with torch.no_grad():
        u.net.bias.fill_(-2.0)
    return u


def music(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A few decaying tones and some noise: something with a spectrum that changes."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    tones = sum(np.sin(2 * np.pi * f * t) * np.exp(-3 * (t % 0.5)) for f in (220.0, 660.0, 1800.0))
    return (0.2 * tones + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def test_shapes_mix_and_determinism(upmixer):
    mono = music(2.0)
    out = upmixer.upmix(mono, RATE)
    assert out.shape == (2, len(mono)) and out.dtype == np.float32
    np.testing.assert_allclose((out[0] + out[1]) / 2, mono, atol=1e-6)  # the mono mix is the mono audio
    assert np.abs(out[0] - out[1]).max() > 1e-3  # and it is stereo
    np.testing.assert_array_equal(upmixer.upmix(mono, RATE), out)
    assert upmixer.upmix(np.zeros(0, np.float32), RATE).shape == (2, 0)


def test_the_side_has_the_width_asked_for_and_is_uncorrelated_with_the_mid():
    constant = StereoUpmixer(StereoConfig(channels=4, layers=1)).eval()
    with torch.no_grad():
        for p in constant.net.parameters():
            p.zero_()
        constant.net.bias.fill_(np.log(10 ** (-8 / 10)))  # -8 dB everywhere
    mono = music(3.0, seed=1)
    side = constant.side(mono, RATE)
    assert abs(np.dot(side, mono)) / np.sqrt(np.dot(side, side) * np.dot(mono, mono)) < 0.01
    assert abs(10 * np.log10(np.dot(side, side) / np.dot(mono, mono)) + 8) < 1.0


def test_chunks_give_the_whole_result(upmixer, monkeypatch):
    mono = music(3.0, seed=2)
    whole = upmixer.side(mono, RATE)
    monkeypatch.setattr(stereo, "CHUNK_FRAMES", 37)
    np.testing.assert_allclose(upmixer.side(mono, RATE), whole, atol=1e-6)


def test_a_300_s_piece_is_processed_a_chunk_at_a_time(upmixer, monkeypatch):
    """Memory is that of one chunk: no STFT of more than CHUNK_FRAMES frames plus context at once."""
    longest = []
    frames_of = stereo.frames_of

    def spy(audio, n_fft, hop):
        spec = frames_of(audio, n_fft, hop)
        longest.append(spec.shape[-1])
        return spec

    monkeypatch.setattr(stereo, "frames_of", spy)
    monkeypatch.setattr(stereo, "CHUNK_FRAMES", 512)
    rate = 4000  # 300 s at a low rate: the same frames per second, fewer samples
    mono = (0.1 * np.random.default_rng(0).standard_normal(300 * rate)).astype(np.float32)
    out = upmixer.upmix(mono, rate)
    assert out.shape == (2, 300 * rate) and np.isfinite(out).all()
    assert len(longest) > 40 and max(longest) <= 512 + 2 * (upmixer.cfg.radius + 1)


def test_a_loop_stays_seamless(upmixer):
    rate, n = RATE, 24000
    t = np.arange(n) / rate
    mono = (0.3 * np.sin(2 * np.pi * 200 * t) + 0.2 * np.sin(2 * np.pi * 600 * t)).astype(np.float32)  # whole periods in n
    out = upmixer.upmix(mono, rate, loop=True)
    np.testing.assert_allclose((out[0] + out[1]) / 2, mono, atol=1e-6)
    for channel in out:
        steps = np.abs(np.diff(channel))
        assert abs(channel[0] - channel[-1]) <= 1.2 * steps.max()  # the wrap is no bigger a step than any inside


def test_no_channel_passes_the_peak_and_the_mix_stays(upmixer):
    mono = music(2.0, seed=3)
    mono = (0.99 * mono / np.abs(mono).max()).astype(np.float32)
    out = upmixer.upmix(mono, RATE, peak=0.99)
    assert np.abs(out).max() <= 0.99 + 1e-6
    np.testing.assert_allclose((out[0] + out[1]) / 2, mono, atol=1e-6)
    side = np.full(8, 0.5, np.float32)
    np.testing.assert_array_equal(fit_side(np.zeros(8, np.float32), side, 0.99, 2), side)  # nothing to lower


def test_saved_and_loaded_without_code(upmixer, tmp_path):
    upmixer.save(tmp_path)
    config = json.loads((tmp_path / "stereo.json").read_text())
    assert config["kind"] == "width-upmixer" and config["model"]["channels"] == 8
    again = StereoUpmixer.from_folder(tmp_path)
    mono = music(1.0)
    np.testing.assert_array_equal(again.upmix(mono, RATE), upmixer.upmix(mono, RATE))
    with pytest.raises(FileNotFoundError, match="has no stereo upmixer"):
        StereoUpmixer.from_folder(tmp_path / "missing")


def test_the_bundled_upmixer_loads_and_is_small():
    bundled = StereoUpmixer.from_folder()
    assert sum(p.numel() for p in bundled.parameters()) < 100_000
    assert sum(f.stat().st_size for f in stereo.STEREO_DIR.iterdir()) < 1_000_000
    out = bundled.upmix(music(1.0, rate=44100), 44100)
    assert out.shape == (2, 44100) and np.isfinite(out).all()


def test_band_energies_of_identical_channels_have_no_side():
    mono = music(1.0)
    energy = band_energies(np.stack([mono, mono]), RATE, StereoConfig())
    assert float(energy["side"].sum()) == 0.0
    np.testing.assert_allclose(energy["cross"].sum(-1), energy["left"].sum(-1), rtol=1e-5)

"""Full-band measures: log-spectral distance per band, and the high band's energy and flatness."""

import numpy as np
import soundfile as sf
import soxr

from tests.conftest import synth_music
from text2music.evaluate.bands import band_lsd, band_profile, full_band_metrics

SR = 44100


def bright_music() -> np.ndarray:
    """Music with a band above 8 kHz: harmonics plus a hiss of cymbal-like noise on the beats."""
    music = soxr.resample(synth_music(sample_rate=22050, seconds=3.0), 22050, SR)
    t = np.arange(len(music)) / SR
    hiss = np.random.default_rng(0).standard_normal(len(music)) * np.exp(-20 * (t % 0.5))
    high = hiss - soxr.resample(soxr.resample(hiss, SR, 16000), 16000, SR)[: len(hiss)]  # above 8 kHz only
    return (music + 0.05 * high).astype(np.float32)


def test_an_upsampled_16k_clip_is_far_above_8k_and_close_below():
    real = bright_music()
    narrow = soxr.resample(soxr.resample(real, SR, 16000), 16000, SR)[: len(real)]
    same = band_lsd(real, real, SR)
    assert list(same) == ["0-8k", "8-16k", "16-22k", "8-22k"] and max(same.values()) < 1e-6
    lsd = band_lsd(real, narrow, SR)
    assert lsd["0-8k"] < 4.0 < 10.0 < lsd["8-16k"]  # below: only the resampler's transition band near 8 kHz


def test_the_profile_hears_the_band_above_8k(tmp_path):
    real = bright_music()
    narrow = soxr.resample(soxr.resample(real, SR, 16000), 16000, SR)[: len(real)]
    bright, dull = band_profile(real, SR), band_profile(narrow, SR)
    assert bright["high_band_db"] > dull["high_band_db"] + 30 and 0 < dull["flatness"] <= 1 and 0 < bright["flatness"] <= 1
    sf.write(tmp_path / "real.wav", real, SR)
    sf.write(tmp_path / "made.wav", narrow, SR)
    metrics = full_band_metrics([(tmp_path / "made.wav", tmp_path / "real.wav")], SR, aligned=True)
    assert metrics["lsd_db"]["8-16k"] > 10 and metrics["real"]["high_band_db"] > metrics["generated"]["high_band_db"]
    assert "lsd_db" not in full_band_metrics([(tmp_path / "made.wav", tmp_path / "real.wav")], SR, aligned=False)

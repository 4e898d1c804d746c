"""`sample_rate`: what a clip is written at, from the vocoder's rate (16 kHz, or 48 kHz full band)."""

import numpy as np
import pytest
import soundfile as sf
import torch

from text2music.cli import main
from text2music.features.mel import get_preset
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings, SettingsError
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig

MEL = get_preset("small")


@pytest.fixture(scope="module")
def wide_vocoder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wide")
    torch.manual_seed(0)
    NeuralVocoder(NeuralVocoderConfig(dim=16, intermediate=32, layers=2, sample_rate=48000), MEL).save(folder)
    return folder


def test_a_clip_is_written_at_the_vocoders_rate_at_most_44k_unless_asked(tiny_model, wide_vocoder):
    narrow = Text2Music.from_pretrained(tiny_model, vocoder="griffin-lim-2")
    assert narrow.sample_rate == 16000
    settings = GenerationSettings(duration=2.0, steps=1)
    out = narrow(["piano"], settings.replace(sample_rate=44100))
    assert out.sample_rate == 44100 and out.audio.shape == (1, 2 * 44100)
    wide = Text2Music.from_pretrained(tiny_model, vocoder=wide_vocoder)
    assert wide.sample_rate == 44100 and wide.vocoder.sample_rate == 48000 and wide.vocoder.name == "vocos-48k"
    for rate in (None, 48000, 16000):
        out = wide(["piano"], settings.replace(sample_rate=rate))
        assert out.sample_rate == (rate or 44100) and out.audio.shape == (1, 2 * out.sample_rate) and np.isfinite(out.audio).all()
    down = wide(["piano"], settings.replace(sample_rate=16000)).audio[0]
    spectrum = np.abs(np.fft.rfft(wide(["piano"], settings.replace(sample_rate=48000)).audio[0]))
    assert spectrum[len(spectrum) // 3 :].sum() > 0 and len(down) == 32000  # a band above 8 kHz, and 16 kHz on request


def test_a_loop_at_another_rate_still_lasts_its_length(tiny_model):
    pipe = Text2Music.from_pretrained(tiny_model, vocoder="griffin-lim-2")
    out = pipe(["drums"], GenerationSettings(duration=2.0, steps=1, loop=True, sample_rate=22050))
    assert out.audio.shape == (1, 2 * 22050)


def test_an_unknown_rate_is_refused_naming_the_setting():
    with pytest.raises(SettingsError, match="sample_rate 12345 is unknown; choose one of 16000, 22050, 32000, 44100, 48000"):
        GenerationSettings(sample_rate=12345)


def test_the_command_line_writes_the_rate_asked_and_says_what_the_band_holds(tiny_model, tmp_path, capsys):
    out = tmp_path / "clip.flac"
    args = ["generate", "piano", "--model", str(tiny_model), "--vocoder", "griffin-lim-2", "--steps", "1", "--duration", "1.5"]
    assert main([*args, "--sample-rate", "32000", "-o", str(out), "--quiet"]) == 0
    assert sf.info(out).samplerate == 32000 and sf.info(out).frames == 48000
    assert "the griffin-lim vocoder makes 16000 Hz audio, resampled to 32000 Hz: nothing above 8 kHz" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main([*args, "--sample-rate", "8000", "-o", str(out), "--quiet"])
    assert refused.value.code == 2 and "argument --sample-rate: invalid choice: 8000" in capsys.readouterr().err

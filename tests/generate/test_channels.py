"""`channels`: stereo output (the upmixer, text2music.models.stereo) from every front end; mono stays the default."""

import numpy as np
import pytest
import soundfile as sf

from text2music.cli import main
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import PEAK_LIMIT, GenerationSettings, SettingsError
from text2music.models.stereo import StereoConfig, StereoUpmixer


@pytest.fixture(scope="module")
def pipe(tiny_model):
    return Text2Music.from_pretrained(tiny_model, vocoder="griffin-lim-2")


def test_stereo_is_the_mono_clip_widened(pipe):
    settings = GenerationSettings(duration=1.5, steps=1, seed=3)
    mono = pipe(["piano"], settings)
    both = pipe(["piano", "drums"], settings.replace(channels=2))
    assert mono.audio.shape == (1, 24000) and both.audio.shape == (2, 2, 24000)
    np.testing.assert_allclose(both.mono[0], mono.audio[0], atol=1e-6)  # (L + R) / 2 is the mono clip
    np.testing.assert_array_equal(mono.mono, mono.audio)
    assert np.abs(both.audio[:, 0] - both.audio[:, 1]).max() > 1e-4 and np.abs(both.audio).max() <= PEAK_LIMIT + 1e-6
    again = pipe(["piano", "drums"], settings.replace(channels=2)).audio
    np.testing.assert_array_equal(again, both.audio)  # deterministic


def test_a_stereo_loop_stays_seamless(pipe):
    out = pipe(["drums"], GenerationSettings(duration=2.0, steps=1, loop=True, channels=2, sample_rate=22050))
    assert out.audio.shape == (1, 2, 44100)
    for channel in out.audio[0]:
        assert abs(channel[0] - channel[-1]) <= 1.2 * np.abs(np.diff(channel)).max()


def test_a_continuation_in_stereo_keeps_the_mono_mix(pipe, tmp_path):
    take = tmp_path / "take.wav"
    sf.write(take, 0.1 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220), 16000)
    settings = GenerationSettings(duration=2.0, steps=1, init_mode="continue", sample_rate=16000)
    mono = pipe(["piano"], settings, init_audio=take)
    stereo = pipe(["piano"], settings.replace(channels=2), init_audio=take)
    assert stereo.audio.shape == (1, 2, 32000)
    np.testing.assert_allclose(stereo.mono, mono.audio, atol=1e-6)


def test_a_model_folder_with_its_own_upmixer_uses_it(tiny_model, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    for f in tiny_model.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    StereoUpmixer(StereoConfig(channels=4, layers=1)).save(folder)
    own = Text2Music.from_pretrained(folder, vocoder="griffin-lim-2")
    assert own.upmixer.cfg.channels == 4
    assert Text2Music.from_pretrained(tiny_model, vocoder="griffin-lim-2").upmixer.cfg == StereoUpmixer.from_folder().cfg  # the bundled


@pytest.mark.parametrize("value", [3, 0, 2.0, "2", True])
def test_channels_is_validated_in_one_place(value):
    with pytest.raises(SettingsError, match="^channels ") as refused:
        GenerationSettings(channels=value)
    assert refused.value.field == "channels"


def test_the_command_line_writes_two_channels(tiny_model, tmp_path, capsys):
    args = ["generate", "piano", "--model", str(tiny_model), "--vocoder", "griffin-lim-2", "--steps", "1", "--duration", "1", "--quiet"]
    for flags, name in ((["--stereo"], "a.wav"), (["--channels", "2"], "b.flac"), ([], "c.wav")):
        assert main([*args, *flags, "-o", str(tmp_path / name)]) == 0
    assert sf.info(tmp_path / "a.wav").channels == sf.info(tmp_path / "b.flac").channels == 2
    assert sf.info(tmp_path / "c.wav").channels == 1
    left, right = sf.read(tmp_path / "a.wav")[0].T
    mono = sf.read(tmp_path / "c.wav")[0]
    assert np.abs((left + right) / 2 - mono).max() <= 2 / 32768  # 16-bit rounding
    with pytest.raises(SystemExit) as refused:
        main([*args, "--channels", "3", "-o", str(tmp_path / "d.wav")])
    assert refused.value.code == 2 and "argument --channels: invalid choice: 3" in capsys.readouterr().err

"""The Python API and the generate command, on a tiny random-weight flow model and on the bundled one."""

import numpy as np
import pytest
import soundfile as sf
import torch

from text2music.cli import main
from text2music.features.mel import get_preset
from text2music.generate.pipeline import DEFAULT_MODEL_DIR, MAX_DURATION, Text2Music
from text2music.models import build_model, save_pretrained
from tests.conftest import synth_music

TEXT = {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tinyflow")
    torch.manual_seed(0)
    model = build_model("flow_transformer", d_model=64, heads=2, layers=2, patch=2)
    for p in model.parameters():  # give the zero-initialised output layers weights: a model that moves
        p.data.add_(0.02 * torch.randn_like(p))
    save_pretrained(path, model, get_preset("small"), TEXT)
    return path


@pytest.fixture(scope="module")
def pipe(tiny_model):
    return Text2Music.from_pretrained(tiny_model)


def test_generate_shapes_seeds_and_batch_independence(pipe):
    waves, sr = pipe.generate(["soft piano", "loud drums"], duration=2.0, steps=3, seed=5)
    assert sr == 16000 and waves.shape == (2, 32000) and waves.dtype == np.float32
    assert np.isfinite(waves).all() and np.abs(waves).max() <= 1.0
    alone, _ = pipe.generate(["loud drums"], duration=2.0, steps=3, seed=6)  # row 2 had seed 5 + 1
    np.testing.assert_allclose(alone[0], waves[1], atol=1e-4)  # same noise; only float rounding of the batch differs
    other, _ = pipe.generate(["loud drums"], duration=2.0, steps=3, seed=7)
    assert not np.array_equal(other[0], alone[0])


def test_progress_variation_and_interpolation(pipe):
    calls = []
    pipe.generate("piano", duration=1.5, steps=4, callback=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    music = synth_music(sample_rate=16000, seconds=2.0)
    target = pipe.mel_of(music)
    near = pipe.generate_mel(["piano"], duration=2.0, steps=4, init_audio=music, strength=0.2)[0].numpy()
    far = pipe.generate_mel(["piano"], duration=2.0, steps=4, init_audio=music, strength=0.9)[0].numpy()
    assert np.abs(near - target).mean() < 0.5 * np.abs(far - target).mean()
    waves, _ = pipe.interpolate("piano", "drums", n=3, duration=1.0, steps=2)
    assert waves.shape == (3, 16000)


@pytest.mark.parametrize("kwargs, message", [
    ({"texts": [""]}, "text 1 is empty"),
    ({"texts": ["x" * 5000]}, "characters long"),
    ({"texts": ["x"], "duration": MAX_DURATION + 1}, "duration must be between"),
    ({"texts": ["x"], "steps": 0}, "steps must be between"),
    ({"texts": ["x"], "guidance": 100.0}, "guidance must be between"),
])
def test_bad_input_is_refused_clearly(pipe, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipe.generate(**kwargs)


def test_unknown_model_and_seed_baselines_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        Text2Music.from_pretrained(tmp_path / "nope")
    save_pretrained(tmp_path / "lstm", build_model("seed_lstm", n_mels=8, n_frames=10, text_dim=384, hidden=8), get_preset("small"), TEXT)
    with pytest.raises(ValueError, match="not a generative model"):
        Text2Music.from_pretrained(tmp_path / "lstm")


def test_generate_command_files_and_errors(tiny_model, tmp_path, capsys):
    out = tmp_path / "clips"
    assert main(["generate", "soft piano", "drums", "--model", str(tiny_model), "-o", str(out), "--duration", "1.5",
                 "--steps", "2", "--variations", "2", "--png", "--quiet"]) == 0
    wavs = sorted(out.glob("*.wav"))
    assert [w.name for w in wavs] == ["01-soft-piano-seed0.wav", "02-soft-piano-seed1.wav", "03-drums-seed0.wav", "04-drums-seed1.wav"]
    assert len(list(out.glob("*.png"))) == 4
    info = sf.info(wavs[0])
    assert info.samplerate == 16000 and info.frames == 24000
    assert main(["generate", "x", "--model", str(tiny_model), "-o", str(tmp_path / "one.flac"), "--duration", "1", "--steps", "1"]) == 0
    assert sf.info(tmp_path / "one.flac").format == "FLAC"
    capsys.readouterr()
    for args, message in [(["--duration", "99"], "duration must be between"), (["--model", str(tmp_path / "nope")], "model folder not found"),
                          (["-o", "/proc/x.wav"], "not writable"), (["--interpolate", "3"], "exactly two texts")]:
        assert main(["generate", "x", "--model", str(tiny_model), *args][: 2 + (0 if "--model" in args else 2)] + args) == 2
        assert message in capsys.readouterr().err


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "model.safetensors").exists(), reason="no bundled model")
def test_bundled_default_model_makes_music_not_noise():
    """The shipped model: 4 s of a drum prompt has onsets in the high band, a drum-free piano prompt
    has far fewer; both are structured (not white noise: spectral flatness well below 1)."""
    from text2music.data.synth.analysis import drum_activity

    pipe = Text2Music.from_pretrained()
    assert pipe.config["kind"] == "flow_transformer" and pipe.sample_rate == 16000
    waves, sr = pipe.generate(["energetic rock with distorted electric guitar and loud drums at 140 BPM",
                               "a calm solo piano piece in A minor at 70 BPM, no drums"], duration=4.0, steps=8, seed=0)
    rock, piano = drum_activity(waves[0], sr), drum_activity(waves[1], sr)
    assert rock > piano
    mel = pipe.mel_of(waves[1])
    assert mel.std(axis=1).mean() > 0.1  # moves over time

"""The neural vocoder: shapes, save/load, loops, training that resumes, and its place in the pipeline."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import synth_music
from text2music.cli import main
from text2music.data.synth import build_corpus
from text2music.data.synth.render import bundled_soundfont
from text2music.features.mel import MelConfig, get_preset, log_mel_spectrogram
from text2music.generate.pipeline import Text2Music
from text2music.models import build_model, save_pretrained
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig
from text2music.models.vocoder import TRAINED_KINDS, GriffinLimVocoder, Vocoder, check_vocoder_spec, load_vocoder
from text2music.train.vocoder import VocoderLoss

MEL = get_preset("small")


def tiny_vocoder(seed: int = 0) -> NeuralVocoder:
    torch.manual_seed(seed)
    return NeuralVocoder(NeuralVocoderConfig(dim=16, intermediate=32, layers=2), MEL).eval()


def test_output_length_and_determinism():
    mel = log_mel_spectrogram(synth_music(sample_rate=16000, seconds=1.5), MEL)[None].repeat(2, 1, 1)
    vocoder = tiny_vocoder()
    audio = vocoder(mel)
    assert audio.shape == (2, (mel.shape[-1] - 1) * MEL.hop_length)
    assert torch.isfinite(audio).all()
    torch.testing.assert_close(audio, vocoder(mel))


def test_saves_as_fp16_and_loads_without_code(tmp_path):
    vocoder = tiny_vocoder()
    vocoder.save(tmp_path, dtype=torch.float16)
    assert json.loads((tmp_path / "vocoder.json").read_text())["kind"] == "vocos"
    loaded = NeuralVocoder.from_folder(tmp_path)
    mel = log_mel_spectrogram(synth_music(sample_rate=16000, seconds=1.0), MEL)[None]
    torch.testing.assert_close(loaded(mel), vocoder(mel), atol=2e-3, rtol=0.05)


def test_unknown_vocoder_kind_is_refused(tmp_path):
    tiny_vocoder().save(tmp_path)
    config = json.loads((tmp_path / "vocoder.json").read_text())
    (tmp_path / "vocoder.json").write_text(json.dumps({**config, "kind": "hifigan"}))
    with pytest.raises(ValueError, match="unknown vocoder kind 'hifigan'"):
        NeuralVocoder.from_folder(tmp_path)


def test_a_tiled_mel_gives_tiled_audio():
    """Loops rely on it: away from the ends, the audio of a mel repeated 3x repeats too."""
    mel = log_mel_spectrogram(synth_music(sample_rate=16000, seconds=1.5), MEL)[None]
    T = mel.shape[-1]
    audio = tiny_vocoder()(mel.repeat(1, 1, 3))[0]
    period = T * MEL.hop_length
    middle = audio[period : 2 * period]
    torch.testing.assert_close(middle[: period // 2], audio[2 * period : 2 * period + period // 2], atol=1e-4, rtol=0)


def test_loss_is_zero_on_the_real_audio_and_grows_with_noise():
    audio = torch.from_numpy(synth_music(sample_rate=16000, seconds=1.0))[None]
    loss = VocoderLoss(MEL)
    assert float(loss(audio, audio)["loss"]) < 1e-4
    noisy = audio + 0.05 * torch.randn_like(audio)
    assert float(loss(noisy, audio)["loss"]) > float(loss(audio + 0.005 * torch.randn_like(audio), audio)["loss"]) > 0.01


def test_the_packaged_vocoder_rebuilds_music():
    """`--vocoder vocos`: trained on the corpus's real audio, it gives back a clip it never heard
    within a few dB of its log-mel (an untrained one is tens of dB away)."""
    vocoder = load_vocoder("vocos", "unused", MEL)
    assert isinstance(vocoder, NeuralVocoder) and vocoder.mel == MEL
    audio = torch.from_numpy(synth_music(sample_rate=16000, seconds=3.0))
    mel = log_mel_spectrogram(audio, MEL)
    rebuilt = vocoder(mel[None])[0]
    n = min(len(audio), len(rebuilt))
    error_db = float((log_mel_spectrogram(rebuilt[:n], MEL) - log_mel_spectrogram(audio[:n], MEL)).abs().mean()) * MEL.unit_scale_db
    untrained_db = float((log_mel_spectrogram(tiny_vocoder()(mel[None])[0][:n], MEL) - mel[:, : n // MEL.hop_length + 1]).abs().mean())
    assert error_db < 4.5 < untrained_db * MEL.unit_scale_db


def test_vocoder_spec_is_checked_in_one_line(tmp_path):
    assert check_vocoder_spec("griffin-lim") == "griffin-lim"
    vocoder = load_vocoder("griffin-lim-64-nnls300", tmp_path, MEL)
    assert (vocoder.n_iter, vocoder.nnls_iter) == (64, 300)
    assert load_vocoder("auto", tmp_path, MEL) == GriffinLimVocoder(MEL)  # a folder without a trained one
    with pytest.raises(ValueError, match="iterations must be between 0 and 1000"):
        check_vocoder_spec("griffin-lim-5000")
    named = "auto nor griffin-lim nor vocos nor vocos-fullband nor vocos-fullband-gan nor vocos-fullband-branch nor a folder"
    with pytest.raises(ValueError, match=f"--vocoder: .hifi. is neither {named}"):
        check_vocoder_spec("hifi")
    with pytest.raises(ValueError, match="nor a folder with vocoder.json"):
        check_vocoder_spec(tmp_path)


def test_trains_resumes_and_serves_in_the_pipeline(tmp_path, capsys):
    data = tmp_path / "corpus"
    build_corpus(data, n=12, jobs=1, duration=3.0, soundfont=bundled_soundfont(), progress=False)
    run = tmp_path / "vocoder"
    tiny = ["--dim", "32", "--layers", "2", "--batch-size", "4", "--crop-frames", "32", "--lr", "2e-3"]
    args = ["train-vocoder", "--data", str(data), "--out", str(run), "--clips", "6", "--quiet", *tiny]
    assert main(args + ["--steps", "40"]) == 0
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    vals = [r["val_loss"] for r in log if r["type"] == "val"]
    assert vals[-1] < 0.8 * vals[0]  # learns from the corpus
    assert main(args + ["--steps", "45"]) == 0  # resumes: 5 more steps, not 45
    assert max(json.loads(x)["step"] for x in (run / "log.jsonl").read_text().splitlines()) == 45
    assert (run / "loss.png").stat().st_size > 0
    assert main(args + ["--steps", "50", "--lr", "1e-3"]) == 2  # a resume with other settings is refused
    assert "other settings (lr: 0.002 there, 0.001 now)" in capsys.readouterr().err

    model_dir = tmp_path / "model"
    save_pretrained(
        model_dir,
        build_model("flow_transformer", d_model=32, heads=2, layers=1, patch=2),
        MEL,
        {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False},
    )
    assert isinstance(Text2Music.from_pretrained(model_dir).vocoder, GriffinLimVocoder)  # a folder without one
    assert isinstance(Text2Music.from_pretrained(model_dir, vocoder=run).vocoder, NeuralVocoder)
    for name in ("vocoder.json", "vocoder.safetensors"):
        (model_dir / name).write_bytes((run / name).read_bytes())
    pipe = Text2Music.from_pretrained(model_dir)
    assert isinstance(pipe.vocoder, NeuralVocoder)
    waves, sr = pipe.generate("piano", duration=1.0, steps=1)
    assert waves.shape == (1, 16000) and np.isfinite(waves).all()
    assert isinstance(Text2Music.from_pretrained(model_dir, vocoder="griffin-lim").vocoder, GriffinLimVocoder)

    out = tmp_path / "gl.wav"
    assert (
        main(
            [
                "generate",
                "piano",
                "--model",
                str(model_dir),
                "--vocoder",
                "griffin-lim",
                "--steps",
                "1",
                "--duration",
                "1",
                "-o",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert out.stat().st_size > 0


class SilentVocoder:
    """The next vocoder, as small as one can be: a class with `from_folder` (and one line in TRAINED_KINDS)."""

    name = "silent"

    def __init__(self, mel: MelConfig):
        self.mel = mel

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    def __call__(self, mel: torch.Tensor, seed: int = 0, period: int | None = None) -> torch.Tensor:
        return torch.zeros(mel.shape[0], (mel.shape[-1] - 1) * self.mel.hop_length)

    @classmethod
    def from_folder(cls, folder) -> "SilentVocoder":
        return cls(MelConfig.from_dict(json.loads((Path(folder) / "vocoder.json").read_text())["mel"]))


def test_every_vocoder_is_a_vocoder_and_a_new_kind_is_one_class(tmp_path, monkeypatch):
    assert isinstance(GriffinLimVocoder(MEL), Vocoder) and isinstance(tiny_vocoder(), Vocoder)
    monkeypatch.setitem(TRAINED_KINDS, "silent", SilentVocoder)
    (tmp_path / "vocoder.json").write_text(json.dumps({"kind": "silent", "mel": MEL.to_dict()}))
    vocoder = load_vocoder(tmp_path, "unused", MEL)
    assert isinstance(vocoder, SilentVocoder) and isinstance(vocoder, Vocoder)
    assert vocoder(torch.zeros(1, MEL.n_mels, 5)).shape == (1, 4 * MEL.hop_length)
    (tmp_path / "vocoder.json").write_text(json.dumps({"kind": "hifigan", "mel": MEL.to_dict()}))
    with pytest.raises(ValueError, match="vocoder.json: unknown vocoder kind 'hifigan'"):
        load_vocoder(tmp_path, "unused", MEL)

"""The learned vocoder: starts as the analytic inverse, learns from a corpus, plugs into the pipeline."""

import json

import numpy as np
import torch

from tests.conftest import synth_music
from text2music.cli import main
from text2music.data.synth import build_corpus
from text2music.data.synth.render import bundled_soundfont
from text2music.features.mel import get_preset, log_mel_spectrogram, mel_to_audio
from text2music.generate.pipeline import Text2Music
from text2music.models import build_model, save_pretrained
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig


def test_untrained_vocoder_is_the_analytic_inverse():
    mel_cfg = get_preset("small")
    mel = log_mel_spectrogram(synth_music(sample_rate=16000, seconds=2.0), mel_cfg)
    vocoder = NeuralVocoder(NeuralVocoderConfig(layers=1, channels=16), mel_cfg)
    torch.testing.assert_close(vocoder(mel[None])[0], mel_to_audio(mel, mel_cfg), atol=1e-3, rtol=0)


def test_trains_resumes_and_serves_in_the_pipeline(tmp_path, capsys):
    data = tmp_path / "corpus"
    build_corpus(data, n=12, jobs=1, duration=3.0, soundfont=bundled_soundfont(), progress=False)
    run = tmp_path / "vocoder"
    args = ["train-vocoder", "--data", str(data), "--out", str(run), "--clips", "6", "--quiet"]
    assert main(args + ["--max-steps", "20"]) == 0
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    vals = [r["val_loss"] for r in log if r["type"] == "val"]
    assert vals[-1] < vals[0]  # better than the analytic inverse it starts from
    assert main(args + ["--max-steps", "25"]) == 0  # resumes: 5 more steps, not 25
    assert max(r["step"] for r in (json.loads(x) for x in (run / "log.jsonl").read_text().splitlines())) == 25
    capsys.readouterr()

    model_dir = tmp_path / "model"
    save_pretrained(
        model_dir,
        build_model("flow_transformer", d_model=32, heads=2, layers=1, patch=2),
        get_preset("small"),
        {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False},
    )
    for name in ("vocoder.json", "vocoder.safetensors"):
        (model_dir / name).write_bytes((run / name).read_bytes())
    pipe = Text2Music.from_pretrained(model_dir)
    assert isinstance(pipe.vocoder, NeuralVocoder)
    waves, sr = pipe.generate("piano", duration=1.0, steps=1)
    assert waves.shape == (1, 16000) and np.isfinite(waves).all()

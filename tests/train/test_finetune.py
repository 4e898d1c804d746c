"""finetune: a LoRA adapter learns a corpus made by `data import`, resumes, and generates through
the pipeline, the CLI and the evaluation's fingerprint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import synth_music
from text2music.cli import main
from text2music.data.audio_import import ImportConfig, import_audio
from text2music.evaluate.folder import system_fingerprint
from text2music.features.config import MelConfig
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings
from text2music.models import build_model, save_pretrained
from text2music.train.finetune import FinetuneConfig, finetune
from text2music.utils import read_jsonl

TEXT = {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False}
MEL = MelConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=32, n_frames=124)  # 2 s


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six 8-s tracks imported as 2-s clips (the hash of each file picks its split)."""
    src = tmp_path_factory.mktemp("tracks")
    for i in range(6):
        parts = [synth_music(16000, 2.0, bpm=70 + 23 * k + 5 * i, seed=10 * i + k) * (0.4 + 0.15 * k) for k in range(4)]
        sf.write(src / f"track{i}.wav", np.concatenate(parts), 16000)
    out = tmp_path_factory.mktemp("corpus")
    cfg = ImportConfig(clip_seconds=2.0, sample_rate=16000, min_track_seconds=2.0)
    import_audio([src], out, cfg, describe="test music", progress=False)
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("base")
    torch.manual_seed(0)
    model = build_model(
        "flow_transformer", n_mels=32, n_frames=124, d_model=32, heads=2, layers=2, patch=2, control_frames=32, control_global=39
    )
    for p in model.parameters():
        p.data.add_(0.02 * torch.randn_like(p))
    save_pretrained(path, model, MEL, TEXT)
    return path


def test_finetune_learns_resumes_and_generates(corpus, base, tmp_path):
    out = tmp_path / "adapter"
    cfg = FinetuneConfig(data=str(corpus), out=str(out), base=str(base), minutes=None, steps=30, rank=4, lr=3e-3, warmup=2, batch_size=4)
    first = finetune(cfg, progress=False)
    assert first["steps"] == 30 and first["train_clips"] > 0
    if first["val_loss_before"] is not None:  # the corpus's hashed splits gave it valid clips
        assert first["val_loss"] < first["val_loss_before"]
    steps = [r for r in read_jsonl(out / "log.jsonl") if r["type"] == "step"]
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert (out / "loss.png").stat().st_size > 0
    info = json.loads((out / "text2music_adapter.json").read_text())
    assert info["base_sha256"] and info["trained"]["steps"] == 30
    assert (out / "adapter_model.safetensors").stat().st_size < 200_000  # fp16 LoRA weights only

    more = finetune(FinetuneConfig(**{**cfg.__dict__, "steps": 35}), progress=False)  # resumes from the checkpoint
    assert more["steps"] == 35
    mixed = finetune(FinetuneConfig(**{**cfg.__dict__, "out": str(tmp_path / "mixed"), "mix": str(corpus), "steps": 2}), progress=False)
    assert mixed["steps"] == 2
    last = finetune(FinetuneConfig(**{**cfg.__dict__, "out": str(tmp_path / "last"), "ema_decay": None, "steps": 2}), progress=False)
    assert last["steps"] == 2 and torch.load(tmp_path / "last" / "checkpoint.pt", weights_only=True)["ema"] is None
    assert set(torch.load(out / "checkpoint.pt", weights_only=True)["ema"]) == {
        k for k in torch.load(out / "checkpoint.pt", weights_only=True)["lora"]
    }
    with pytest.raises(ValueError, match="other settings.*rank"):
        finetune(FinetuneConfig(**{**cfg.__dict__, "rank": 8, "steps": 40}), progress=False)

    settings = GenerationSettings(duration=2.0, steps=2)
    plain = Text2Music.from_pretrained(base)(["test music at 90 BPM"], settings).mel
    adapted = Text2Music.from_pretrained(base, adapter=out)(["test music at 90 BPM"], settings).mel
    zero = Text2Music.from_pretrained(base, adapter=out, adapter_strength=0.0)(["test music at 90 BPM"], settings).mel
    assert not torch.allclose(torch.as_tensor(plain), torch.as_tensor(adapted))
    assert torch.allclose(torch.as_tensor(plain), torch.as_tensor(zero), atol=1e-5)

    a = system_fingerprint(str(base), "griffin-lim", str(out), 1.0)
    b = system_fingerprint(str(base), "griffin-lim", str(out), 0.5)
    assert a["adapter"] != b["adapter"] and "adapter" not in system_fingerprint(str(base), "griffin-lim")


def test_cli_finetune_and_generate_with_adapter(corpus, base, tmp_path, capsys):
    out = tmp_path / "ad"
    args = ["finetune", "--data", str(corpus), "--out", str(out), "--base", str(base), "--steps", "2", "--minutes", "0"]
    assert main([*args, "--rank", "2", "--batch-size", "2", "--pictures", "1", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and (out / "before_after.png").stat().st_size > 0
    wav = tmp_path / "x.wav"
    gen = ["generate", "test music", "-o", str(wav), "--model", str(base), "--duration", "2", "--steps", "2"]
    assert main([*gen, "--adapter", str(out), "--adapter-strength", "0.7"]) == 0 and wav.is_file()
    assert main([*gen, "--adapter", str(tmp_path / "none")]) == 2
    assert "adapter folder not found" in capsys.readouterr().err
    assert main([*gen, "--adapter", str(out), "--adapter-strength", "-1"]) == 2
    assert "strength must be between 0 and 2" in capsys.readouterr().err
    assert main(["finetune", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--base", str(base)]) == 2
    assert "not a corpus folder" in capsys.readouterr().err


def test_server_names_the_adapter_and_evaluate_refuses_it_for_real_audio(tmp_path, capsys):
    from text2music.serve.app import adapter_info

    assert adapter_info(None) is None
    assert adapter_info({"path": "/home/me/runs/mine", "strength": 0.7, "trained": {}}) == {"name": "mine", "strength": 0.7}
    args = ["evaluate", "--model", "real", "--adapter", str(tmp_path), "--out", str(tmp_path / "r"), "--data", str(tmp_path)]
    assert main(args) == 2
    assert "not an adapter folder" in capsys.readouterr().err

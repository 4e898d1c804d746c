"""finetune: a LoRA adapter learns a corpus made by `data import`, resumes, and generates through
the pipeline, the CLI and the evaluation's fingerprint."""

from __future__ import annotations

import json
import shutil

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
    shutil.rmtree(corpus / "features", ignore_errors=True)  # the mel arrays are made again, quietly
    args = ["finetune", "--data", str(corpus), "--out", str(out), "--base", str(base), "--steps", "2", "--minutes", "0"]
    assert main([*args, "--rank", "2", "--batch-size", "2", "--pictures", "1", "--quiet"]) == 0
    printed = capsys.readouterr()
    assert "preprocess" not in printed.err
    summary = json.loads(printed.out)
    assert summary["steps"] == 2 and (out / "before_after.png").stat().st_size > 0
    wav = tmp_path / "x.wav"
    gen = ["generate", "test music", "-o", str(wav), "--model", str(base), "--duration", "2", "--steps", "2"]
    assert main([*gen, "--adapter", str(out), "--adapter-strength", "0.7"]) == 0 and wav.is_file()
    report = tmp_path / "report"  # evaluate records the adapter (a path) in its metrics.json
    ev = ["evaluate", "--model", str(base), "--adapter", str(out), "--data", str(corpus), "--split", "train", "--n", "4"]
    assert main([*ev, "--out", str(report), "--duration", "2", "--steps", "2", "--diversity-prompts", "0", "--no-speed", "--quiet"]) == 0
    assert json.loads((report / "metrics.json").read_text())["config"]["spec"]["adapter"] == str(out)
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


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory):
    """Four 12-s tracks imported as 6-s clips at 16 kHz: long enough for the bundled default's 10-s mel."""
    src = tmp_path_factory.mktemp("long_tracks")
    for i in range(4):
        sf.write(src / f"song{i}.wav", synth_music(16000, 12.0, bpm=80 + 15 * i, seed=i), 16000)
    out = tmp_path_factory.mktemp("long_corpus")
    import_audio(
        [src], out, ImportConfig(clip_seconds=6.0, sample_rate=16000, min_track_seconds=6.0), describe="test music", progress=False
    )
    return out


def test_own_music_flow_with_the_int8_default(long_clips, tmp_path, capsys):
    """The README's flow with the bundled default (int8 in its config.json): finetune, its before/after
    picture (the adapter merged before the weights are quantised), then generate with --adapter."""
    from text2music.generate.pipeline import DEFAULT_MODEL_DIR

    assert json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())["precision"] == "int8"
    out = tmp_path / "adapter"
    args = ["finetune", "--data", str(long_clips), "--out", str(out), "--steps", "2", "--minutes", "0", "--batch-size", "2"]
    assert main([*args, "--crop-frames", "40", "--rank", "2", "--pictures", "1", "--quiet"]) == 0, capsys.readouterr().err
    assert (out / "before_after.png").stat().st_size > 0
    wav = tmp_path / "mine.wav"
    assert main(["generate", "test music", "-o", str(wav), "--adapter", str(out), "--duration", "2", "--quiet"]) == 0
    assert wav.stat().st_size > 0


def test_changed_splits_reach_the_feature_cache(corpus, tmp_path):
    """finetune's mel arrays are cached in the corpus; a metadata.csv with other splits is what they then say."""
    import csv
    import shutil

    from text2music.train.finetune import features_for

    data = tmp_path / "corpus"
    shutil.copytree(corpus, data, ignore=shutil.ignore_patterns("features"))
    first = {r["ytid"]: r["split"] for r in read_jsonl(features_for(data, MEL, jobs=1) / "index.jsonl")}
    with open(data / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["split"] = "valid" if r["split"] == "train" else "train"
    with open(data / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    second = {r["ytid"]: r["split"] for r in read_jsonl(features_for(data, MEL, jobs=1) / "index.jsonl")}
    assert second == {r["ytid"]: r["split"] for r in rows} and second != first


def test_a_run_killed_before_its_first_checkpoint_starts_afresh(corpus, base, tmp_path, caplog):
    out = tmp_path / "adapter"
    cfg = FinetuneConfig(data=str(corpus), out=str(out), base=str(base), minutes=None, steps=2, rank=2, batch_size=2, log_every=1)
    finetune(cfg, progress=False)
    (out / "checkpoint.pt").unlink()  # as after a kill before the first checkpoint
    with caplog.at_level("WARNING"):
        assert finetune(cfg, progress=False)["steps"] == 2
    assert "starting afresh" in caplog.text
    records = [(r["type"], r["step"]) for r in read_jsonl(out / "log.jsonl")]
    assert len(records) == len(set(records)), records


def test_a_failed_run_leaves_no_folder(corpus, base, tmp_path, capsys):
    seed = tmp_path / "seed"
    save_pretrained(seed, build_model("seed_lstm", n_mels=32, n_frames=124, lstm_input=16, hidden=16, layers=1), MEL, TEXT)
    for command in ("finetune", "distill"):
        out = tmp_path / command
        assert main([command, "--data", str(corpus), "--out", str(out), "--base", str(seed), "--steps", "1"]) == 2
        assert "flow_transformer" in capsys.readouterr().err
        assert not out.exists(), command
    empty = tmp_path / "empty"  # a corpus whose clips all lack audio: the error comes after the run's settings were written
    empty.mkdir()
    (empty / "metadata.csv").write_bytes((corpus / "metadata.csv").read_bytes())
    (empty / "manifest.jsonl").write_bytes((corpus / "manifest.jsonl").read_bytes())
    with pytest.raises(ValueError):
        finetune(FinetuneConfig(data=str(empty), out=str(tmp_path / "api"), base=str(base), minutes=None, steps=1), False)
    assert not (tmp_path / "api").exists()

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from text2music.generate.pipeline import Text2Music
from text2music.models import build_model, load_pretrained
from text2music.text import TextEmbedding, TextEncoder
from text2music.train.config import TrainConfig
from text2music.train.data import EmbeddingCache, MelTextSet
from text2music.train.loop import LossModule, evaluate_loss, train

TINY_ARGS = {
    "seed_lstm": {"lstm_input": 16, "hidden": 32, "layers": 2},
    "seed_transformer": {"d_model": 32, "heads": 2, "layers": 1, "ff": 64},
}


def tiny_config(features, out, model="seed_lstm", **kw) -> TrainConfig:
    return TrainConfig(
        model=model,
        model_args=TINY_ARGS[model],
        features=str(features),
        out=str(out),
        epochs=kw.pop("epochs", 3),
        batch_size=4,
        lr=kw.pop("lr", 1e-3),
        log_every=1,
        **kw,
    )


@pytest.mark.parametrize("model", ["seed_lstm", "seed_transformer"])
def test_train_then_predict(tiny_features, tmp_path, model):
    cfg = tiny_config(tiny_features, tmp_path / "run", model, epochs=3, lr=3e-3)
    train_set = MelTextSet(cfg.features, "train", cfg.text_mode)
    encoder = TextEncoder()
    cache = EmbeddingCache(encoder, train_set.texts)
    torch.manual_seed(cfg.seed)
    init = build_model(model, **TINY_ARGS[model], n_mels=32, n_frames=64)
    result = train(cfg, progress=False)
    s = result.summary
    assert s["steps"] == 12 and s["epochs"] == 3 and np.isfinite(s["best_val"])
    # training lowers the loss on the training data
    before = evaluate_loss(LossModule(init, cache=cache), train_set, 8, "cpu")
    after = evaluate_loss(LossModule(result.model, cache=cache), train_set, 8, "cpu")
    assert after < 0.8 * before, (before, after)
    run = tmp_path / "run"
    for name in ["state.pt", "log.jsonl", "loss.png", "train_config.json", "best/model.safetensors", "best/config.json"]:
        assert (run / name).exists(), name
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    epochs = [r for r in log if r["type"] == "epoch"]
    assert len(epochs) == 3 and epochs[0]["lr"] == pytest.approx(3e-3 * (1 + np.cos(np.pi / 3)) / 2)  # cosine, T_max = epochs

    loaded, mel_cfg, config = load_pretrained(run / "best")
    assert config["kind"] == model and mel_cfg.n_mels == 32
    made = Text2Music.from_pretrained(run / "best")(["a calm piano piece", "loud metal"])
    assert made.mel.shape == (2, 32, 64) and torch.isfinite(made.mel).all()
    assert made.sample_rate == 16000 and abs(made.audio.shape[1] - 63 * 256) <= 256 and np.isfinite(made.audio).all()


def test_training_never_reads_the_test_split(tiny_features, tmp_path, monkeypatch):
    """Training and validation read the train and valid arrays, never one of the test split."""
    features = tmp_path / "features"
    shutil.copytree(tiny_features, features)
    index = [json.loads(line) for line in (features / "index.jsonl").read_text().splitlines()]
    for r in index[1:8:3]:  # some train clips become test clips
        r["split"] = "test"
    (features / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in index))
    split_of = {r["file"].split("/")[-1]: r["split"] for r in index}
    assert sorted(set(split_of.values())) == ["test", "train", "valid"]
    read = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda file, *a, **kw: read.append(os.path.basename(str(file))) or real_load(file, *a, **kw))
    result = train(tiny_config(features, tmp_path / "run", epochs=1), progress=False)
    assert result.summary["epochs"] == 1
    splits = Counter(split_of[name] for name in read if name in split_of)
    assert splits["train"] == Counter(split_of.values())["train"] and splits["valid"] > 0  # the spy sees the reads
    assert splits["test"] == 0, f"training read {splits['test']} arrays of the test split"


def _train_cmd(features, out, *extra):
    return [
        sys.executable,
        "-m",
        "text2music",
        "train",
        "--features",
        str(features),
        "--out",
        str(out),
        "--epochs",
        "50",
        "--batch-size",
        "2",
        "--lr",
        "1e-3",
        "--max-steps",
        "300",
        "--quiet",
        "--set",
        "model_args.hidden=32",
        "--set",
        "model_args.lstm_input=16",
        "--set",
        "checkpoint_every=25",
        "--set",
        "log_every=5",
        "--set",
        "patience=null",
        *extra,
    ]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_run_resumes_bit_identical(tiny_features, tmp_path, sig):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_cmd(tiny_features, tmp_path / "straight"), check=True, capture_output=True, env=env, timeout=300)
    proc = subprocess.Popen(_train_cmd(tiny_features, tmp_path / "killed"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = tmp_path / "killed" / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and '"step": 60,' in log.read_text()):
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
    state = torch.load(tmp_path / "killed" / "state.pt", weights_only=True)
    assert 50 <= state["position"]["step"] < 300  # stopped mid-run
    subprocess.run(_train_cmd(tiny_features, tmp_path / "killed"), check=True, capture_output=True, env=env, timeout=300)
    a = load_file(tmp_path / "straight" / "best" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "best" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    final_a = torch.load(tmp_path / "straight" / "state.pt", weights_only=True)["module"]
    final_b = torch.load(tmp_path / "killed" / "state.pt", weights_only=True)["module"]
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)
    steps = [r["step"] for r in map(json.loads, log.read_text().splitlines()) if r["type"] == "step"]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # no duplicated log lines after resume


def test_ddp_two_cpu_processes_hold_identical_weights(tiny_features, tmp_path):
    out = tmp_path / "ddp"
    worker = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", worker, str(tiny_features), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = load_file(out / "rank0.safetensors"), load_file(out / "rank1.safetensors")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    torch.manual_seed(0)
    init = build_model("seed_transformer", d_model=32, heads=2, layers=1, ff=64, n_mels=32, n_frames=64).state_dict()
    assert any(not torch.equal(init[k], r0[k]) for k in r0)  # they trained
    assert "2 process(es)" in proc.stdout


def test_embedding_cache_matches_encoder():
    encoder = TextEncoder()
    texts = ["calm piano", "loud metal with drums", "calm piano"]
    cache = EmbeddingCache(encoder, texts)
    assert len(cache) == 2
    batch = cache.batch(texts)
    direct = encoder(texts)
    assert torch.allclose(batch.pooled, direct.pooled, atol=1e-5)
    assert torch.equal(batch.mask, direct.mask)


def test_config_errors(tiny_features, tmp_path):
    with pytest.raises(ValueError, match="unknown training config fields"):
        TrainConfig.from_dict({"modle": "x"})
    with pytest.raises(ValueError, match="text_mode"):
        TrainConfig(text_mode="lyrics")
    with pytest.raises(ValueError, match="--set: unknown"):
        TrainConfig().with_overrides(["nope=1"])
    assert TrainConfig().with_overrides(["model_args.hidden=64", "lr=0.001"]).model_args == {"hidden": 64}
    with pytest.raises(ValueError, match="n_mels"):
        train(TrainConfig(model_args={"n_mels": 80}, features=str(tiny_features), out=str(tmp_path / "r")), progress=False)
    train(tiny_config(tiny_features, tmp_path / "r2", max_steps=1), progress=False)
    with pytest.raises(ValueError, match="other settings"):
        train(tiny_config(tiny_features, tmp_path / "r2", max_steps=1, lr=5e-4), progress=False)
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("wavenet")


def test_finetuned_text_encoder_is_saved_and_used(tiny_features, tmp_path):
    cfg = tiny_config(tiny_features, tmp_path / "ft", finetune_text=True, max_steps=2, lr=1e-2)
    train(cfg, progress=False)
    best = tmp_path / "ft" / "best"
    assert (best / "text_encoder.safetensors").exists()
    _, _, config = load_pretrained(best)
    assert config["text"]["finetuned"] is True
    tuned = TextEncoder.from_model_folder(best, config["text"])
    base = TextEncoder()
    assert not torch.allclose(tuned(["calm piano"]).pooled, base(["calm piano"]).pooled)
    (best / "text_encoder.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="fine-tuned"):
        TextEncoder.from_model_folder(best, config["text"])


def test_control_batches_follow_the_crop(tiny_synth_features):
    """A crop's controls are the same frames of the whole clip's controls; dropped groups are zeros."""
    from text2music.features.controls import MusicalControls, frame_controls

    data = MelTextSet(str(tiny_synth_features), "train", "mixed", controls=True)
    assert all(isinstance(c, MusicalControls) and c.bpm and c.chords for c in data.controls)
    rate = data.mel_config.sample_rate / data.mel_config.hop_length
    crop = data.control_batch([0, 1], [10, 3], 20)
    assert crop.frames.shape == (2, 32, 20) and crop.globals.shape == (2, 39)
    assert np.allclose(crop.frames[0].numpy(), frame_controls(data.controls[0], 64, rate)[:, 10:30], atol=1e-5)
    mels, texts, controls = data.batch([0, 1, 2], torch.Generator().manual_seed(0), (16, 16), 2, control_drop=1.0)
    assert mels.shape[-1] == controls.frames.shape[-1] == 16 and not controls.frames.any() and not controls.globals.any()
    with pytest.raises(ValueError, match="no beat grid"):
        from text2music.train.data import corpus_controls

        corpus_controls(str(tiny_synth_features), [{"ytid": "synth-999999"}])


def _fine_tuned_with_a_new_input(features, tmp_path, **new_input):
    """(a tiny model trained 2 steps, that model fine-tuned 3 steps with `new_input` (controls=True or
    context=True) at a tiny lr for the old weights and new_lr for the new ones, its model_args)."""
    args = {"d_model": 32, "heads": 2, "layers": 1, "patch": 2}
    base = dict(model="flow_transformer", model_args=args, features=str(features), epochs=1, batch_size=4)
    train(TrainConfig(**base, out=str(tmp_path / "a"), lr=1e-3, max_steps=2), progress=False)
    start, _, _ = load_pretrained(tmp_path / "a" / "best")
    tuned_cfg = TrainConfig(
        **base, out=str(tmp_path / "b"), lr=1e-9, new_lr=1e-2, max_steps=3, init_from=str(tmp_path / "a" / "best"), **new_input
    )
    return start, train(tuned_cfg, progress=False).model, args


def test_controls_fine_tune_from_a_model_without_them(tiny_synth_features, tmp_path):
    """The new inputs start at zero (the model without them is reproduced exactly) and learn at
    `new_lr` while the old weights stay put at a tiny `lr`."""
    from text2music.models.flow_transformer import Controls

    start, tuned, args = _fine_tuned_with_a_new_input(tiny_synth_features, tmp_path, controls=True)
    assert tuned.cfg.control_frames == 32 and tuned.cfg.control_global == 39
    old = start.state_dict()
    assert all(torch.allclose(v, old[k], atol=1e-5) for k, v in tuned.state_dict().items() if k in old)
    assert any(b.control.weight.abs().sum() > 0 for b in tuned.blocks)
    fresh = build_model(
        "flow_transformer", **{**args, "n_mels": 32, "n_frames": 64, "text_dim": 384, "control_frames": 32, "control_global": 39}
    )
    fresh.load_state_dict(start.state_dict(), strict=False)
    x, t = torch.randn(1, 32, 16), torch.tensor([0.5])
    emb = TextEmbedding(torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool), torch.randn(1, 384))
    controls = Controls(torch.randn(1, 32, 16), torch.randn(1, 39))
    no = torch.tensor([False])
    assert torch.allclose(fresh.velocity(x, t, emb, no, controls), start.velocity(x, t, emb, no), atol=1e-6)
    assert not torch.allclose(tuned.velocity(x, t, emb, no, controls), start.velocity(x, t, emb, no), atol=1e-4)


def _strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_run_stopped_before_validation_writes_standard_json(tiny_features, tmp_path, capsys):
    from text2music.cli import main

    out = tmp_path / "run"
    args = ["train", "--features", str(tiny_features), "--out", str(out), "--max-steps", "1", "--batch-size", "4", "--quiet"]
    assert main([*args, "--set", "model_args.hidden=16", "--set", "model_args.lstm_input=16", "--set", "log_every=1"]) == 0
    printed = capsys.readouterr().out
    summary = _strict_json(printed[printed.index("{") :])
    assert summary["steps"] == 1 and summary["best_val"] is None
    for folder in ("best", "last"):
        assert _strict_json((out / folder / "config.json").read_text())["trained"]["best_val"] is None
    assert [_strict_json(line)["type"] for line in (out / "log.jsonl").read_text().splitlines()] == ["step"]


def test_a_model_without_pulses_ignores_the_pulse_channels_and_fine_tunes_from_one_with_them(tiny_synth_features, tmp_path):
    """`control_pulses: false`: the beat and downbeat pulse channels do not change the velocity (the
    rest of the grid does), and such a model fine-tunes from a folder trained with pulses."""
    from text2music.features.controls import PULSE_CHANNELS
    from text2music.models.flow_transformer import Controls

    args = {"d_model": 32, "heads": 2, "layers": 1, "patch": 2}
    base = dict(model="flow_transformer", features=str(tiny_synth_features), epochs=1, batch_size=4, controls=True, lr=1e-3)
    train(TrainConfig(**base, model_args=args, out=str(tmp_path / "a"), max_steps=2), progress=False)
    tuned_cfg = TrainConfig(
        **base, model_args={**args, "control_pulses": False}, out=str(tmp_path / "b"), max_steps=2, init_from=str(tmp_path / "a" / "best")
    )
    model = train(tuned_cfg, progress=False).model.eval()
    assert not model.cfg.control_pulses
    for block in model.blocks:  # make the control path matter
        torch.nn.init.normal_(block.control.weight)
    x, t = torch.randn(1, 32, 16), torch.tensor([0.5])
    emb = TextEmbedding(torch.randn(1, 3, 384), torch.ones(1, 3, dtype=torch.bool), torch.randn(1, 384))
    no = torch.tensor([False])
    frames = torch.randn(1, 32, 16)
    other = frames.clone()
    other[:, PULSE_CHANNELS] = torch.randn_like(other[:, PULSE_CHANNELS])
    globals_ = torch.randn(1, 39)
    with torch.no_grad():
        v = model.velocity(x, t, emb, no, Controls(frames, globals_))
        assert torch.allclose(v, model.velocity(x, t, emb, no, Controls(other, globals_)))
        other[:, 1] += 1.0  # the beat phase still counts
        assert not torch.allclose(v, model.velocity(x, t, emb, no, Controls(other, globals_)))


def test_training_reads_several_feature_folders_as_one_set(tiny_synth_features, tmp_path):
    """A list of feature folders: their clips one after the other, each with its own controls;
    folders of different mel settings do not mix."""
    import dataclasses

    from tests.conftest import TINY_MEL
    from text2music.features.preprocess import preprocess

    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_synth_features.parent.parent, corpus, ignore=shutil.ignore_patterns("features"))
    preprocess(corpus, dataclasses.replace(TINY_MEL, n_mels=24), name="other", progress=False)
    both = MelTextSet([str(tiny_synth_features), str(tiny_synth_features)], "train", "caption", controls=True)
    one = MelTextSet(str(tiny_synth_features), "train", "caption", controls=True)
    assert len(both) == 2 * len(one) and both.texts == one.texts * 2 and both.controls == one.controls * 2
    assert torch.equal(both.mels[len(one) :], one.mels)
    with pytest.raises(ValueError, match="MelConfig"):
        MelTextSet([str(tiny_synth_features), str(corpus / "features" / "other")], "train", "caption")


def test_drum_free_clips_are_drawn_more_often_when_asked(tiny_synth_features):
    """`drum_free_repeat`: an epoch holds every drum-free clip that many times and every other clip once."""
    import dataclasses

    from text2music.train.loop import epoch_clips

    data = MelTextSet(str(tiny_synth_features), "train", "caption", controls=True)
    data.controls = [dataclasses.replace(c, drums=i % 2 == 0) for i, c in enumerate(data.controls)]
    assert epoch_clips(data, 1) == list(range(len(data)))
    clips = epoch_clips(data, 3)
    assert all(clips.count(i) == (1 if i % 2 == 0 else 3) for i in range(len(data)))
    with pytest.raises(ValueError, match="drum_free_repeat"):
        TrainConfig(drum_free_repeat=2)


def test_context_fine_tunes_from_a_model_without_it_with_random_masks(tiny_synth_features, tmp_path):
    """The context input starts at zero and learns at `new_lr`; the masks reach the loss."""
    start, tuned, _ = _fine_tuned_with_a_new_input(tiny_synth_features, tmp_path, context=True)
    assert tuned.cfg.context and tuned.context_in[-1].weight.abs().sum() > 0
    old = start.state_dict()
    assert all(torch.allclose(v, old[k], atol=1e-5) for k, v in tuned.state_dict().items() if k in old)
    with pytest.raises(ValueError, match="flow_transformer"):
        TrainConfig(model="seed_lstm", context=True)


def test_drum_silent_texts_leave_the_drums_to_the_control(tiny_synth_features):
    """`drum_silent`: where the drums control is kept, the text may be the aspect list without what it
    says of drums (so the control alone tells them); where the control is dropped, never."""
    from text2music.text.controls import parse_controls

    data = MelTextSet(str(tiny_synth_features), "train", "mixed", controls=True)
    assert all(parse_controls(t).drums is None and t for t in data.silent)
    assert any(parse_controls(t).drums is not None for c in data.choices for t in c)
    idx = list(range(len(data)))
    _, texts, _ = data.batch(idx, torch.Generator().manual_seed(0), drum_silent=1.0)
    assert texts == [data.silent[i] for i in idx]
    _, texts, _ = data.batch(idx, torch.Generator().manual_seed(0), control_drop=1.0, drum_silent=1.0)
    assert all(t in data.choices[i] for i, t in zip(idx, texts))
    _, plain, _ = data.batch(idx, torch.Generator().manual_seed(0))
    assert all(t in data.choices[i] for i, t in zip(idx, plain))
    with pytest.raises(ValueError, match="drum_silent"):
        TrainConfig(drum_silent=0.5)
    with pytest.raises(ValueError, match="drum_silent"):
        TrainConfig(controls=True, drum_silent=1.5)

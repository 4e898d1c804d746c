"""distill: a guidance-distilled student starts as the teacher's conditional velocity, learns the
guided one, resumes, and generates with one network pass per step."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.train.test_finetune import base, corpus  # noqa: F401  (fixtures: a tiny controlled model, an imported corpus)
from text2music.cli import main
from text2music.generate.flow import guided_velocity
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings
from text2music.models import load_pretrained
from text2music.text import TextEmbedding
from text2music.train.distill import DistillConfig, distill, make_student, rollout_points


def _inputs(model, B=2, T=20):
    torch.manual_seed(1)
    text = TextEmbedding(torch.randn(B, 5, 384), torch.ones(B, 5, dtype=torch.bool), torch.randn(B, 384))
    return torch.randn(B, model.cfg.n_mels, T), torch.rand(B), text


def test_the_student_starts_as_the_conditional_velocity(base):  # noqa: F811
    teacher, _, _ = load_pretrained(base)
    student = make_student(teacher).eval()
    x, t, text = _inputs(teacher)
    keep = torch.zeros(2, dtype=torch.bool)
    with torch.no_grad():
        expected = teacher.velocity(x, t, text, keep)
        for w in (1.0, 4.0):
            assert torch.equal(student.velocity(x, t, text, keep, guidance=torch.full((2,), w)), expected)


def test_distillation_learns_resumes_and_generates_in_one_pass_per_step(corpus, base, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    cfg = DistillConfig(
        data=str(corpus), out=str(out), base=str(base), minutes=None, steps=25, lr=3e-3, warmup=2, batch_size=4, crop_frames=40
    )
    first = distill(cfg, progress=False)
    assert first["steps"] == 25
    if first["val_loss_before"] is not None:
        assert first["val_loss"] < first["val_loss_before"]
    assert distill(DistillConfig(**{**cfg.__dict__, "steps": 30}), progress=False)["steps"] == 30  # resumed, not restarted
    with pytest.raises(ValueError, match="other settings"):
        distill(DistillConfig(**{**cfg.__dict__, "steps": 31, "lr": 1e-3}), progress=False)

    student, _, config = load_pretrained(out / "model")
    assert student.cfg.guidance_embed and config["trained"]["guidance_distill"]["step"] == 30
    calls = []
    velocity = student.velocity
    student.velocity = lambda x, *a, **k: calls.append(x.shape[0]) or velocity(x, *a, **k)
    x, t, text = _inputs(student, B=3)
    guided_velocity(student, text, 3.0)(x, t)
    assert calls == [3]  # one pass of the batch, not a conditional and an unconditional half

    pipe = Text2Music.from_pretrained(out / "model")
    audio = pipe(["soft piano"], GenerationSettings(duration=2.0, steps=3)).audio
    assert audio.shape == (1, 32000) and abs(audio).max() > 0

    assert (
        main(
            [
                "distill",
                "--data",
                str(corpus),
                str(corpus),
                "--out",
                str(tmp_path / "cli"),
                "--base",
                str(base),
                "--steps",
                "2",
                "--batch-size",
                "2",
                "--crop-frames",
                "40",
                "--quiet",
            ]
        )
        == 0
    )
    _, _, config = load_pretrained(tmp_path / "cli" / "model")
    assert config["trained"]["guidance_distill"]["settings"]["data"] == [str(corpus)] * 2  # several corpora: one set


def test_distill_refuses_bad_settings_in_one_line(corpus, base, tmp_path, capsys):  # noqa: F811
    assert (
        main(
            [
                "distill",
                "--data",
                str(corpus),
                "--out",
                str(tmp_path / "x"),
                "--base",
                str(base),
                "--guidance-min",
                "5",
                "--guidance-max",
                "2",
            ]
        )
        != 0
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--guidance-min" in err[0]
    assert not (tmp_path / "x").exists()
    assert main(["distill", "--data", str(corpus), "--out", str(tmp_path / "x"), "--base", str(base), "--rollout", "1.5"]) != 0
    assert "--rollout must be in [0, 1]" in capsys.readouterr().err
    assert main(["distill", "--data", str(corpus), str(tmp_path), "--out", str(tmp_path / "y"), "--base", str(base)]) != 0
    assert f"--data {tmp_path} is not a corpus folder" in capsys.readouterr().err


def test_distill_asks_for_the_teacher(corpus, tmp_path, capsys):  # noqa: F811
    """The bundled default is itself distilled: distill needs --base, and says what to pass."""
    from text2music.generate.pipeline import DEFAULT_MODEL_DIR

    with pytest.raises(SystemExit) as exit_:
        main(["distill", "--data", str(corpus), "--out", str(tmp_path / "a")])
    assert exit_.value.code == 2 and "--base" in capsys.readouterr().err
    assert main(["distill", "--data", str(corpus), "--out", str(tmp_path / "b"), "--base", str(DEFAULT_MODEL_DIR)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already guidance-distilled" in err[0] and "--base" in err[0] and "teacher" in err[0]
    assert not (tmp_path / "b").exists()
    assert "teacher" in next(a.help for a in _distill_parser()._actions if "--base" in a.option_strings)


def _distill_parser():
    import argparse

    from text2music.cli import add_distill

    sub = argparse.ArgumentParser().add_subparsers()
    add_distill(sub)
    return sub.choices["distill"]


def test_a_context_teacher_distils_into_a_student_started_from_an_earlier_student(corpus, base, tmp_path):  # noqa: F811
    """A teacher that gained the context input is distilled with random masks; `student_init`
    starts the student from an earlier student (its weights) plus the teacher's new input."""
    from dataclasses import asdict

    from text2music.features.config import MelConfig
    from text2music.models import save_pretrained
    from text2music.models.flow_transformer import FlowTransformer, FlowTransformerConfig

    teacher, mel, config = load_pretrained(base)
    earlier = make_student(teacher)
    torch.nn.init.normal_(earlier.guidance_in[-1].weight, std=0.01)
    earlier_fits = {"trained": {"guidance_distill": {"teacher_sha256": "a" * 64, "also_fits": ["b" * 64]}}, "precision": "int8"}
    save_pretrained(tmp_path / "earlier", earlier, mel, config["text"], extra=earlier_fits)
    ctx = FlowTransformer(FlowTransformerConfig(**(asdict(teacher.cfg) | {"context": True})))
    ctx.load_state_dict(teacher.state_dict(), strict=False)
    torch.nn.init.normal_(ctx.context_in[-1].weight, std=0.01)
    save_pretrained(tmp_path / "teacher", ctx, mel, config["text"])

    student = make_student(ctx, load_pretrained(tmp_path / "earlier")[0])
    assert torch.equal(student.guidance_in[-1].weight, earlier.guidance_in[-1].weight.float())
    assert torch.equal(student.context_in[-1].weight, ctx.context_in[-1].weight)
    with pytest.raises(ValueError, match="guidance-distilled"):
        make_student(ctx, teacher)
    _rollout_points_follow_the_sampler(student.eval())

    out = tmp_path / "run"
    cfg = DistillConfig(
        data=str(corpus),
        out=str(out),
        base=str(tmp_path / "teacher"),
        student_init=str(tmp_path / "earlier"),
        minutes=None,
        steps=3,
        lr=1e-3,
        warmup=1,
        batch_size=4,
        crop_frames=40,
        rollout=0.5,
    )
    assert distill(cfg, progress=False)["steps"] == 3
    assert load_pretrained(out / "model")[0].cfg.context
    made = load_pretrained(out / "model")[2]
    assert made["trained"]["guidance_distill"]["also_fits"] == ["a" * 64, "b" * 64]  # adapters carry over
    assert made["precision"] == "int8"  # and it runs as the earlier student did
    assert MelConfig.from_dict(load_pretrained(out / "model")[2]["mel"]) == mel
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any("val_rollout_loss" in r for r in logged)  # the student's error where it samples, logged beside val_loss


def _rollout_points_follow_the_sampler(student):
    """`rollout_points` row i is where the sampler (`sample_mel`'s Euler steps, known frames kept)
    is after taken[i] of its steps, at that row's scale."""
    from text2music.generate.flow import guided_velocity, keep_known
    from text2music.generate.sampling import sample_euler, time_grid
    from text2music.models.flow_transformer import Context

    noise, _, text = _inputs(student, B=2, T=20)
    known = torch.zeros(2, 20, dtype=torch.bool)
    known[:, :6] = True
    context = Context(torch.randn(2, student.cfg.n_mels, 20), known)
    taken, scales = torch.tensor([3, 5]), torch.tensor([2.5, 4.0])
    got = rollout_points(student, noise, taken, 8, scales, text, None, context)
    for i, k in enumerate(taken.tolist()):
        row = Context(context.mel[i : i + 1], known[i : i + 1])
        fn = keep_known(guided_velocity(student, text.row(i), float(scales[i]), None, row), row, noise[i : i + 1])
        with torch.no_grad():
            want = sample_euler(fn, noise[i : i + 1], time_grid(8)[: k + 1])
        torch.testing.assert_close(got[i : i + 1], want, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(got[0], noise[0])  # it moved


def test_a_student_learns_drum_free_guidance_where_the_drums_are_off(corpus, base, tmp_path):  # noqa: F811
    """With --drum-free-guidance the teacher's target is steered on the rows whose drums control is
    off, outside the key's band only; the others keep the plain target. The student's folder says
    so, and the pipeline then steers only by the rest of a setting (0: back to the plain velocity)."""
    from text2music.features.controls import MusicalControls, global_controls
    from text2music.models.flow_transformer import Controls
    from text2music.train.distill import Distillation, teacher_velocity

    run_settings = dict(minutes=None, steps=2, batch_size=2, crop_frames=40, drum_free_guidance=2.0)
    cfg = DistillConfig(data=str(corpus), out=str(tmp_path / "run"), base=str(base), **run_settings)
    run = Distillation(cfg)
    rows = [MusicalControls(drums=False), MusicalControls(drums=True)]
    controls = Controls(torch.zeros(2, 32, 40), torch.from_numpy(np.stack([global_controls(c) for c in rows])))
    texts = [run.train.choices[0][0]] * 2  # one text: the drums control alone says which row is drum-free
    x, t, _ = _inputs(run.teacher, T=40)
    text, w = run.cache.batch(texts), torch.tensor([3.0, 3.0])
    plain = teacher_velocity(run.teacher, x, t, text, controls, w)
    steered = teacher_velocity(run.steered(texts, controls), x, t, text, controls, w)
    kept = run.bins == 0
    assert torch.equal(steered[1], plain[1]) and torch.allclose(steered[0][kept], plain[0][kept], atol=1e-6)
    assert not torch.allclose(steered[0][~kept], plain[0][~kept], atol=1e-4)

    distill(cfg, progress=False)
    pipe = Text2Music.from_pretrained(tmp_path / "run" / "model")
    assert pipe.config["drum_free_guidance"] == {"scale": 2.0, "unsteered_hz": [300.0, 2000.0]}
    plans = pipe.plan(["calm pads, no drums"], GenerationSettings(duration=1.0), [0])
    assert pipe.generator(plans, GenerationSettings(duration=1.0, drum_free_guidance=2.0)) is pipe.model  # one pass
    assert pipe.generator(plans, GenerationSettings(duration=1.0)) is pipe.model  # unset: the scale it learnt
    back = pipe.generator(plans, GenerationSettings(duration=1.0, drum_free_guidance=0.0))
    assert back is not pipe.model and torch.allclose(back.scale, torch.tensor([-2.0 / 3.0]))


def test_a_distilled_model_learns_its_own_drum_free_guidance(corpus, base, tmp_path):  # noqa: F811
    """Self-distillation: with --drum-free-guidance a distilled model may be the teacher. Its one-pass
    velocity is the target, so the student starts exact on the rows that are not steered; the folder
    keeps the adapters and runtime the distilled model had. A model that already learnt the steering
    is refused as a teacher in one line."""
    from text2music.features.controls import MusicalControls, global_controls
    from text2music.models import save_pretrained
    from text2music.models.flow_transformer import Controls
    from text2music.train.distill import Distillation, teacher_velocity

    teacher, mel, config = load_pretrained(base)
    student = make_student(teacher)
    torch.nn.init.normal_(student.guidance_in[-1].weight, std=0.01)
    fits = {"trained": {"guidance_distill": {"teacher_sha256": "a" * 64, "also_fits": ["b" * 64]}}, "precision": "int8"}
    save_pretrained(tmp_path / "student", student, mel, config["text"], extra=fits)
    run_settings = dict(minutes=None, steps=2, batch_size=2, crop_frames=40, drum_free_guidance=2.0)
    cfg = DistillConfig(data=str(corpus), out=str(tmp_path / "run"), base=str(tmp_path / "student"), **run_settings)
    run = Distillation(cfg)
    rows = [MusicalControls(drums=False), MusicalControls(drums=True)]
    controls = Controls(torch.zeros(2, 32, 40), torch.from_numpy(np.stack([global_controls(c) for c in rows])))
    texts = [run.train.choices[0][0]] * 2
    x, t, _ = _inputs(run.teacher, T=40)
    text, w, keep = run.cache.batch(texts), torch.tensor([3.0, 5.0]), torch.zeros(2, dtype=torch.bool)
    with torch.no_grad():
        one_pass = run.teacher.velocity(x, t, text, keep, controls, guidance=w)
        assert torch.equal(teacher_velocity(run.teacher, x, t, text, controls, w), one_pass)
        steered = teacher_velocity(run.steered(texts, controls), x, t, text, controls, w)
        assert torch.allclose(run.student.velocity(x, t, text, keep, controls, guidance=w)[1], steered[1], atol=1e-6)
    assert not torch.allclose(steered[0], one_pass[0], atol=1e-4)

    distill(cfg, progress=False)
    made = load_pretrained(tmp_path / "run" / "model")[2]
    assert made["drum_free_guidance"]["scale"] == 2.0 and made["precision"] == "int8"
    assert made["trained"]["guidance_distill"]["also_fits"] == ["a" * 64, "b" * 64]
    again = DistillConfig(data=str(corpus), out=str(tmp_path / "again"), base=str(tmp_path / "run" / "model"), **run_settings)
    with pytest.raises(ValueError, match="already gives drum-free guidance"):
        Distillation(again)
    assert not (tmp_path / "again").exists()


def test_drum_free_guidance_learnt_in_an_adapter_runs_only_where_the_drums_are_off(corpus, base, tmp_path):  # noqa: F811
    """--drum-free-adapter: the steering is learnt in a LoRA of the distilled model's frozen weights, on
    the drum-free rows only. The folder written keeps the weights file as it was, with the adapter beside
    it; the pipeline runs the adapted weights on drum-free rows and the model's own on the others (a
    drum clip is exactly the base's), and a setting of 0 runs the base alone."""
    from text2music.features.controls import MusicalControls, global_controls
    from text2music.models import save_pretrained
    from text2music.models.flow_transformer import Controls
    from text2music.models.steering import AwayFrom, DrumFreeSwitch
    from text2music.train.distill import Distillation
    from text2music.train.loop import ema_update

    teacher, mel, config = load_pretrained(base)
    save_pretrained(tmp_path / "student", make_student(teacher), mel, config["text"], extra={"precision": "float32"})
    settings = dict(minutes=None, steps=2, batch_size=2, crop_frames=40, drum_free_guidance=2.0, drum_free_adapter=4, lr=0.05)
    cfg = DistillConfig(data=str(corpus), out=str(tmp_path / "run"), base=str(tmp_path / "student"), **settings)
    run = Distillation(cfg)
    rows = [MusicalControls(drums=False), MusicalControls(drums=True)]
    controls = Controls(torch.zeros(2, 32, 40), torch.from_numpy(np.stack([global_controls(c) for c in rows])))
    texts = [run.train.choices[0][0]] * 2
    mels = torch.randn(2, 32, 40)
    drums_only = Controls(controls.frames[1:], controls.globals[1:])
    assert run.loss(run.student, mels[1:], texts[1:], drums_only, torch.Generator()).item() == 0.0  # nothing to learn there
    for step in range(3):
        run.optimizer.zero_grad()
        run.loss(run.student, mels, texts, controls, torch.Generator().manual_seed(step)).backward()
        run.optimizer.step()
    assert all(not p.requires_grad for n, p in run.student.named_parameters() if "lora_" not in n)
    ema_update(run.ema, run.student, 0.0, 1)
    run.save_result(None)

    folder = tmp_path / "run" / "model"
    assert (folder / "model.safetensors").read_bytes() == (tmp_path / "student" / "model.safetensors").read_bytes()
    pipe = Text2Music.from_pretrained(folder)
    assert pipe.config["drum_free_guidance"]["adapter"] == "drum_free" and pipe.drum_free_model is not None
    plans = pipe.plan(["calm pads, no drums"], GenerationSettings(duration=1.0), [0])
    switch = pipe.generator(plans, GenerationSettings(duration=1.0))
    assert isinstance(switch, DrumFreeSwitch)  # unset: the scale it learnt, in one pass
    assert pipe.generator(plans, GenerationSettings(duration=1.0, drum_free_guidance=0.0)) is pipe.model
    assert isinstance(pipe.generator(plans, GenerationSettings(duration=1.0, drum_free_guidance=4.0)), AwayFrom)

    x, t, _ = _inputs(pipe.model, T=40)
    text, w, keep = run.cache.batch(texts), torch.tensor([3.0, 3.0]), torch.zeros(2, dtype=torch.bool)
    with torch.no_grad():
        both = switch.velocity(x, t, text, keep, controls, guidance=w)
        own = pipe.model.velocity(x, t, text, keep, controls, guidance=w)
        adapted = pipe.drum_free_model.velocity(x, t, text, keep, controls, guidance=w)
    assert torch.allclose(both[1], own[1], atol=1e-6) and torch.allclose(both[0], adapted[0], atol=1e-6)
    assert not torch.allclose(adapted[0], own[0], atol=1e-4)

    (folder / "drum_free" / "adapter_model.safetensors").unlink()
    with pytest.raises(ValueError, match="drum-free adapter"):
        Text2Music.from_pretrained(folder)
    with pytest.raises(ValueError, match="needs --drum-free-guidance"):
        DistillConfig(data=str(corpus), out=str(tmp_path / "x"), base=str(base), **(settings | {"drum_free_guidance": 0.0}))
    with pytest.raises(ValueError, match="not guidance-distilled"):
        Distillation(DistillConfig(data=str(corpus), out=str(tmp_path / "x"), base=str(base), **settings))

"""Sampling a flow model: seeded noise, guidance, init-audio variation (text2music.generate.flow)."""

import pytest
import torch

from tests.models.test_flow_transformer import TINY, text
from text2music.generate.flow import guided_velocity, sample_mel, seeded_noise, start_from
from text2music.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_model("flow_transformer", **TINY).eval()
    for p in m.parameters():  # give the zero-initialised output layers weights: a model that moves
        p.data.add_(0.05 * torch.randn_like(p))
    return m


def test_any_length_seeded_and_guided(model):
    emb = text()
    a = sample_mel(model, emb, 40, seeds=[1, 1], steps=4)
    assert a.shape == (2, 32, 40) and torch.isfinite(a).all()
    assert sample_mel(model, emb, 100, seeds=[1, 1], steps=2).shape == (2, 32, 100)
    assert torch.equal(a, sample_mel(model, emb, 40, seeds=[1, 1], steps=4))
    assert not torch.equal(a, sample_mel(model, emb, 40, seeds=[2, 2], steps=4))
    assert not torch.allclose(a, sample_mel(model, emb, 40, seeds=[1, 1], steps=4, guidance=1.0))
    heun = sample_mel(model, emb, 40, seeds=[1, 1], steps=4, sampler="heun")
    assert heun.shape == a.shape and not torch.allclose(heun, a)
    with pytest.raises(ValueError, match="1 seeds for 2 texts"):
        sample_mel(model, emb, 40, seeds=[1])


def test_a_rows_noise_depends_on_its_seed_only():
    both = seeded_noise([3, 4], (2, 5))
    assert torch.equal(both[1], seeded_noise([4], (2, 5))[0])


def test_guidance_is_one_batched_pass_and_scale_one_is_conditional(model):
    calls = []
    original = model.velocity

    def counting(x, t, text_, drop, controls=None, guidance=None, context=None):
        calls.append(x.shape[0])
        return original(x, t, text_, drop, controls, guidance, context)

    model.velocity = counting
    try:
        x, t = torch.randn(2, 32, 8), torch.full((2,), 0.3)
        guided_velocity(model, text(), 3.0)(x, t)
        guided_velocity(model, text(), 1.0)(x, t)
    finally:
        del model.velocity
    assert calls == [4, 2]


def test_init_audio_start_point():
    noise, init = torch.zeros(1, 2, 6), torch.ones(1, 2, 4)
    x, t0 = start_from(init, noise, strength=0.25)
    assert t0 == 0.75 and torch.allclose(x, torch.full((1, 2, 6), 0.75))  # init padded by its last frame


def test_guidance_gives_the_controls_to_the_conditional_pass_only_and_loops_roll_them(model):
    from text2music.generate.flow import circular
    from text2music.models.flow_transformer import Controls

    seen = []
    original = model.velocity

    def spying(x, t, text_, drop, controls=None, guidance=None, context=None):
        seen.append((drop.tolist(), controls))
        return original(x, t, text_, drop)

    model.velocity = spying
    try:
        frames = torch.arange(8.0).expand(2, 3, 8)
        controls = Controls(frames, torch.ones(2, 5))
        fn = guided_velocity(model, text(), 3.0, controls)
        x, t = torch.randn(2, 32, 8), torch.full((2,), 0.3)
        fn(x, t)
        drop, c = seen[-1]
        assert drop == [False, False, True, True]
        assert torch.equal(c.frames[:2], frames) and not c.frames[2:].any() and not c.globals[2:].any()
        fn(x, t, 2)
        assert torch.equal(seen[-1][1].frames[0, 0], frames[0, 0].roll(2))
        looped = circular(fn, 8, 2, seed=0)
        looped(x, t)
        assert int(seen[-1][1].frames[0, 0, 0]) % 2 == 0  # rolled by whole tokens (patch 2)
    finally:
        del model.velocity

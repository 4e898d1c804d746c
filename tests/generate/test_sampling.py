import pytest
import torch

from text2music.generate.sampling import classifier_free_guidance, sample_euler, sample_heun, time_grid


def test_euler_reaches_the_target_of_a_straight_path():
    """The exact rectified-flow velocity towards a point, v = (data - x) / (1 - t), lands on it."""
    data = torch.randn(3, 4, 5)
    noise = torch.randn(3, 4, 5)
    out = sample_euler(lambda x, t: (data - x) / (1 - t[:, None, None]), noise, steps=7)
    assert torch.allclose(out, data, atol=1e-5)


def test_heun_is_exact_for_velocity_linear_in_time():
    """dx/dt = a t integrates to a/2 over [0, 1]: Heun exactly, Euler with an O(1/steps) error."""
    a = torch.full((2, 3, 4), 2.0)
    x0 = torch.zeros(2, 3, 4)
    fn = lambda x, t: a * t[:, None, None]  # noqa: E731
    assert torch.allclose(sample_heun(fn, x0, steps=4), a / 2, atol=1e-6)
    assert torch.allclose(sample_euler(fn, x0, steps=4), a / 2 * (1 - 1 / 4), atol=1e-6)


def test_guidance_scale_zero_one_and_beyond():
    cond = lambda x, t: torch.ones_like(x)  # noqa: E731
    uncond = lambda x, t: torch.zeros_like(x)  # noqa: E731
    x, t = torch.zeros(1, 2, 3), torch.zeros(1)
    assert torch.equal(classifier_free_guidance(cond, uncond, 1.0)(x, t), cond(x, t))
    assert torch.equal(classifier_free_guidance(cond, uncond, 0.0)(x, t), uncond(x, t))
    assert torch.equal(classifier_free_guidance(cond, uncond, 3.0)(x, t), 3 * torch.ones(1, 2, 3))


def test_bad_steps():
    with pytest.raises(ValueError, match="steps"):
        time_grid(0)

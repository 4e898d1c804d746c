import pytest
import torch

from text2music.generate.sampling import EVALUATIONS_PER_STEP, SAMPLERS, guide, sample_euler, sample_heun, time_grid


def test_euler_reaches_the_target_of_a_straight_path():
    """The exact rectified-flow velocity towards a point, v = (data - x) / (1 - t), lands on it."""
    data = torch.randn(3, 4, 5)
    noise = torch.randn(3, 4, 5)
    out = sample_euler(lambda x, t: (data - x) / (1 - t[:, None, None]), noise, time_grid(7))
    assert torch.allclose(out, data, atol=1e-5)


def test_heun_is_exact_for_velocity_linear_in_time():
    """dx/dt = a t integrates to a/2 over [0, 1]: Heun exactly, Euler with an O(1/steps) error."""
    a = torch.full((2, 3, 4), 2.0)
    x0 = torch.zeros(2, 3, 4)
    fn = lambda x, t: a * t[:, None, None]  # noqa: E731
    assert torch.allclose(sample_heun(fn, x0, time_grid(4)), a / 2, atol=1e-6)
    assert torch.allclose(sample_euler(fn, x0, time_grid(4)), a / 2 * (1 - 1 / 4), atol=1e-6)


def test_guidance_scale_zero_one_and_beyond():
    cond, uncond = torch.ones(1, 2, 3), torch.zeros(1, 2, 3)
    assert torch.equal(guide(cond, uncond, 1.0), cond)
    assert torch.equal(guide(cond, uncond, 0.0), uncond)
    assert torch.equal(guide(cond, uncond, 3.0), 3 * torch.ones(1, 2, 3))


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_callback_counts_every_model_evaluation_and_grids_start_late(name):
    calls, seen = [], []

    def fn(x, t):
        seen.append(float(t[0]))
        return torch.zeros_like(x)

    SAMPLERS[name](fn, torch.zeros(2, 1), time_grid(5, t_start=0.5), callback=calls.append)
    assert calls[-1] == len(seen) == 5 * EVALUATIONS_PER_STEP[name]
    assert calls == sorted(calls) and min(seen) == 0.5
    assert time_grid(4, t_start=0.5) == [0.5, 0.625, 0.75, 0.875, 1.0]


def test_bad_steps():
    with pytest.raises(ValueError, match="steps"):
        time_grid(0)
    with pytest.raises(ValueError, match="t_start"):
        time_grid(4, t_start=1.0)


def test_a_shifted_grid_spends_its_steps_on_the_noisy_start():
    assert time_grid(4) == time_grid(4, shift=1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    grid = time_grid(8, shift=3.0)
    steps = [b - a for a, b in zip(grid[:-1], grid[1:])]
    assert grid[0] == 0.0 and grid[-1] == 1.0 and all(s > 0 for s in steps)
    assert steps == sorted(steps) and steps[0] < 1 / 8 < steps[-1]  # small steps first, large at the end
    late = time_grid(4, t_start=0.4, shift=3.0)
    assert late[0] == 0.4 and late[-1] == 1.0
    with pytest.raises(ValueError, match="shift must be positive"):
        time_grid(4, shift=0.0)

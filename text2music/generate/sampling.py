"""Samplers for rectified-flow models, as pure functions of a velocity `model_fn(x, t) -> v`.

Convention (rectified flow): x(t) = (1 - t) * noise + t * data, t in [0, 1]; the model predicts
the velocity v = data - noise, so integrating dx/dt = v from t = 0 (noise) to t = 1 gives data.
"""

from __future__ import annotations

from typing import Callable

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def time_grid(steps: int, device=None, t_start: float = 0.0) -> torch.Tensor:
    """`steps + 1` times from `t_start` to 1, uniform."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not 0.0 <= t_start < 1.0:
        raise ValueError(f"t_start must be in [0, 1), got {t_start}")
    return torch.linspace(t_start, 1.0, steps + 1, device=device)


def sample_euler(model_fn: VelocityFn, noise: torch.Tensor, steps: int, t_start: float = 0.0) -> torch.Tensor:
    """Euler integration of dx/dt = v(x, t) from noise (t=0, or x at `t_start`) to data (t=1)."""
    ts = time_grid(steps, noise.device, t_start)
    x = noise
    for t0, t1 in zip(ts[:-1], ts[1:]):
        x = x + (t1 - t0) * model_fn(x, t0.expand(x.shape[0]))
    return x


def sample_heun(model_fn: VelocityFn, noise: torch.Tensor, steps: int, t_start: float = 0.0) -> torch.Tensor:
    """Heun's method (2nd order): an Euler step, then the average of both slopes."""
    ts = time_grid(steps, noise.device, t_start)
    x = noise
    for t0, t1 in zip(ts[:-1], ts[1:]):
        v0 = model_fn(x, t0.expand(x.shape[0]))
        x_euler = x + (t1 - t0) * v0
        v1 = model_fn(x_euler, t1.expand(x.shape[0]))
        x = x + (t1 - t0) * (v0 + v1) / 2
    return x


def guide(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: scale 1 is the plain conditional velocity."""
    return v_uncond + scale * (v_cond - v_uncond)


def classifier_free_guidance(cond_fn: VelocityFn, uncond_fn: VelocityFn, scale: float) -> VelocityFn:
    """v = v_uncond + scale * (v_cond - v_uncond); scale 1 is the plain conditional model."""

    def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return guide(cond_fn(x, t), uncond_fn(x, t), scale)

    return guided


SAMPLERS = {"euler": sample_euler, "heun": sample_heun}

"""Samplers for rectified-flow models: pure functions of a velocity `model_fn(x, t) -> v`.

Convention (rectified flow): x(t) = (1 - t) * noise + t * data, t in [0, 1]; the model predicts
the velocity v = data - noise, so integrating dx/dt = v from t = 0 (noise) to t = 1 gives data.

Every sampler takes `model_fn`, the starting point `x` `(B, ...)`, a time grid (a list of floats
from the starting time to 1; `time_grid`) and an optional `callback(n)` called after its n-th
model evaluation. Classifier-free guidance is one line (`guide`), applied inside `model_fn`.
No torch import at module level: the CLI reads the registry names without loading torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

VelocityFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
Callback = Callable[[int], None] | None


def time_grid(steps: int, t_start: float = 0.0, shift: float = 1.0) -> list[float]:
    """`steps + 1` times from `t_start` to 1: uniform for `shift` 1; with `shift` s > 1 the noise
    level 1 - t of each uniform time u is moved to s(1 - u) / (1 + (s - 1)(1 - u)), so more of the
    steps go to the noisy start, where few steps go most wrong (SD3's shifted schedule)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not 0.0 <= t_start < 1.0:
        raise ValueError(f"t_start must be in [0, 1), got {t_start}")
    if shift <= 0:
        raise ValueError(f"shift must be positive, got {shift}")
    noise = [1.0 - i / steps for i in range(steps + 1)]
    noise = [shift * n / (1.0 + (shift - 1.0) * n) for n in noise]
    return [t_start + (1.0 - t_start) * (1.0 - n) for n in noise]


def _at(x: "torch.Tensor", t: float) -> "torch.Tensor":
    """The time `t` as a `(B,)` tensor beside x."""
    return x.new_full((x.shape[0],), t)


def sample_euler(model_fn: VelocityFn, x: "torch.Tensor", ts: list[float], callback: Callback = None) -> "torch.Tensor":
    """Euler integration of dx/dt = v(x, t) along the grid `ts`: one evaluation per step."""
    for i, (t0, t1) in enumerate(zip(ts[:-1], ts[1:])):
        x = x + (t1 - t0) * model_fn(x, _at(x, t0))
        if callback is not None:
            callback(i + 1)
    return x


def sample_heun(model_fn: VelocityFn, x: "torch.Tensor", ts: list[float], callback: Callback = None) -> "torch.Tensor":
    """Heun's method (2nd order): an Euler step, then the average of both slopes; two evaluations per step."""
    n = 0
    for t0, t1 in zip(ts[:-1], ts[1:]):
        v0 = model_fn(x, _at(x, t0))
        v1 = model_fn(x + (t1 - t0) * v0, _at(x, t1))
        x = x + (t1 - t0) * (v0 + v1) / 2
        n += 2
        if callback is not None:
            callback(n)
    return x


def guide(v_cond: "torch.Tensor", v_uncond: "torch.Tensor", scale: float) -> "torch.Tensor":
    """Classifier-free guidance: scale 1 is the plain conditional velocity."""
    return v_uncond + scale * (v_cond - v_uncond)


SAMPLERS = {"euler": sample_euler, "heun": sample_heun}
EVALUATIONS_PER_STEP = {"euler": 1, "heun": 2}  # model evaluations a sampler makes per step

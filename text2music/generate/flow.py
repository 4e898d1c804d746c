"""Sampling a flow model: seeded noise, classifier-free guidance, init-audio variation.

The model only gives a velocity (`model.velocity(x, t, text, drop)`); this module turns it into
a `model_fn(x, t)` for the samplers of `text2music.generate.sampling` and runs one of them.

    mel = sample_mel(model, text, n_frames=626, seeds=[0, 1], steps=16, guidance=3.0)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from text2music.generate.sampling import SAMPLERS, VelocityFn, guide, time_grid
from text2music.text import TextEmbedding


def seeded_noise(seeds: list[int], shape: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
    """Gaussian noise `(len(seeds), *shape)`, row i from its own seed (a row does not depend on the batch)."""
    rows = [torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    return torch.stack(rows).to(device)


def guided_velocity(model, text: TextEmbedding, scale: float) -> VelocityFn:
    """`model_fn(x, t)`: the text-conditioned velocity, guided by `scale` (1 = no guidance).

    With guidance, the conditional and unconditional passes run as one batch."""
    keep = torch.zeros(text.tokens.shape[0], dtype=torch.bool, device=text.tokens.device)
    if scale == 1.0:
        return lambda x, t: model.velocity(x, t, text, keep)
    both = TextEmbedding(text.tokens.repeat(2, 1, 1), text.mask.repeat(2, 1), text.pooled.repeat(2, 1))
    drop = torch.cat([keep, ~keep])

    def model_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v_cond, v_uncond = model.velocity(x.repeat(2, 1, 1), t.repeat(2), both, drop).chunk(2)
        return guide(v_cond, v_uncond, scale)

    return model_fn


def start_from(init: torch.Tensor, noise: torch.Tensor, strength: float) -> tuple[torch.Tensor, float]:
    """(x at flow time 1 - strength on the straight path from `noise` to `init`, that time).

    `init` `(B, n_mels, T0)` is cut or padded (replicating its last frame) to the noise's length."""
    T = noise.shape[-1]
    init = init[..., :T].to(noise)
    if init.shape[-1] < T:
        init = F.pad(init, (0, T - init.shape[-1]), mode="replicate")
    t_start = 1.0 - strength
    return (1 - t_start) * noise + t_start * init, t_start


@torch.no_grad()
def sample_mel(
    model,
    text: TextEmbedding,
    n_frames: int,
    seeds: list[int],
    steps: int = 16,
    guidance: float = 3.0,
    sampler: str = "euler",
    init: torch.Tensor | None = None,
    strength: float = 1.0,
    callback=None,
) -> torch.Tensor:
    """Text -> mel `(B, n_mels, n_frames)`: seeded noise integrated along the guided velocity.

    With `init` `(B, n_mels, T)` and `strength` < 1 the integration starts from that mel partly
    noised (a variation of existing audio, as in img2img). `callback(n)` after the n-th model
    evaluation."""
    if len(seeds) != text.tokens.shape[0]:
        raise ValueError(f"{len(seeds)} seeds for {text.tokens.shape[0]} texts")
    patch = model.cfg.patch
    padded = math.ceil(n_frames / patch) * patch
    x = seeded_noise(seeds, (model.cfg.n_mels, padded), text.tokens.device)
    t_start = 0.0
    if init is not None and strength < 1.0:
        x, t_start = start_from(init, x, strength)
    model_fn = guided_velocity(model, text, guidance)
    return SAMPLERS[sampler](model_fn, x, time_grid(steps, t_start), callback)[..., :n_frames]

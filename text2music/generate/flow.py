"""Sampling a flow model: seeded noise, classifier-free guidance, init-audio variation, known frames.

The model only gives a velocity (`model.velocity(x, t, text, drop, controls)`); this module turns it into
a `model_fn(x, t)` for the samplers of `text2music.generate.sampling` and runs one of them.

    mel = sample_mel(model, text, n_frames=626, seeds=[0, 1], steps=16, guidance=3.0)
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from text2music.generate.sampling import SAMPLERS, VelocityFn, guide, time_grid
from text2music.models.flow_transformer import Context, Controls
from text2music.text import TextEmbedding


def seeded_noise(seeds: list[int], shape: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
    """Gaussian noise `(len(seeds), *shape)`, row i from its own seed (a row does not depend on the batch)."""
    rows = [torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    return torch.stack(rows).to(device)


def guided_velocity(model, text: TextEmbedding, scale: float, controls: Controls | None = None, context: Context | None = None) -> Callable:
    """`model_fn(x, t, roll=0)`: the text- (and control-) conditioned velocity, guided by `scale`
    (1 = no guidance) against the velocity with neither text nor controls. `context` (known
    frames) goes to both passes of a model trained with it; other models ignore it.

    With guidance, the conditional and unconditional passes run as one batch; a guidance-distilled
    model (`cfg.guidance_embed`) takes the scale as an input and gives the guided velocity in one
    pass. `roll` rolls the frames (and the control frames with them) by that many frames before
    the model sees them, and the velocity back: a loop's seam then lies elsewhere at every step."""
    keep = torch.zeros(text.tokens.shape[0], dtype=torch.bool, device=text.tokens.device)
    distilled = getattr(model.cfg, "guidance_embed", False)
    copies = 1 if scale == 1.0 or distilled else 2
    scales = torch.full(keep.shape, float(scale), device=keep.device) if distilled else None
    if copies == 2:
        text = TextEmbedding(text.tokens.repeat(2, 1, 1), text.mask.repeat(2, 1), text.pooled.repeat(2, 1))
        if controls is not None:
            controls = Controls(
                torch.cat([controls.frames, torch.zeros_like(controls.frames)]),
                torch.cat([controls.globals, torch.zeros_like(controls.globals)]),
            )
    drop = keep if copies == 1 else torch.cat([keep, ~keep])
    context = context.repeat(copies) if context is not None and getattr(model.cfg, "context", False) else None

    def model_fn(x: torch.Tensor, t: torch.Tensor, roll: int = 0) -> torch.Tensor:
        c = controls if controls is None or not roll else Controls(controls.frames.roll(roll, -1), controls.globals)
        k = context if context is None or not roll else context.roll(roll)
        x_in, t_in = x.roll(roll, -1).repeat(copies, 1, 1), t.repeat(copies)
        v = model.velocity(x_in, t_in, text, drop, c, guidance=scales, context=k).roll(-roll, -1)
        return v if copies == 1 else guide(*v.chunk(2), scale)

    return model_fn


def circular(model_fn: Callable, n_frames: int, multiple: int, seed: int) -> VelocityFn:
    """A loop's `model_fn(x, t)`: every call rolls the frames by a fresh random whole number of
    `multiple`s (drawn from `seed`), so no frame is an edge for long and the end joins the start."""
    gen = torch.Generator().manual_seed(seed)
    steps = max(1, n_frames // multiple)
    return lambda x, t: model_fn(x, t, int(torch.randint(steps, (1,), generator=gen)) * multiple)


def keep_known(model_fn: Callable, context: Context, noise: torch.Tensor) -> VelocityFn:
    """`model_fn` whose velocity on the known frames is that of the straight path from `noise` to
    the known mel: integrated from `noise`, those frames are on that path at every step and end
    exactly on the known mel (the model only fills the rest; with any sampler of the flow)."""
    known = context.known[:, None].to(noise.device)
    path = context.mel.to(noise) - noise

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.where(known, path, model_fn(x, t))

    return fn


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
    controls: Controls | None = None,
    loop: bool = False,
    shift: float = 1.0,
    context: Context | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Text -> mel `(B, n_mels, n_frames)`: seeded noise integrated along the guided velocity.

    With `init` `(B, n_mels, T)` and `strength` < 1 the integration starts from that mel partly
    noised (a variation of existing audio, as in img2img). `controls`: the model's control inputs
    over the padded frames. `loop`: sampled as a circle (`circular`; n_frames must then be whole
    tokens). `shift`: the time grid's (`time_grid`). `callback(n)` after the n-th model evaluation.
    `context`: known frames over the padded frames, kept exactly (`keep_known`) and, for a model
    trained with context, given to it. `noise`: the starting noise instead of the seeds' own."""
    if len(seeds) != text.tokens.shape[0]:
        raise ValueError(f"{len(seeds)} seeds for {text.tokens.shape[0]} texts")
    patch = model.cfg.patch
    padded = math.ceil(n_frames / patch) * patch
    x = noise = seeded_noise(seeds, (model.cfg.n_mels, padded), text.tokens.device) if noise is None else noise
    if x.shape[-1] != padded or (context is not None and context.known.shape[-1] != padded):
        raise ValueError(f"the noise and the context must cover {padded} frames (whole tokens)")
    t_start = 0.0
    if init is not None and strength < 1.0:
        x, t_start = start_from(init, x, strength)
    if loop and padded != n_frames:
        raise ValueError(f"a loop needs whole tokens: {n_frames} frames is not a multiple of the patch size {patch}")
    model_fn = guided_velocity(model, text, guidance, controls, context)
    model_fn = circular(model_fn, padded, patch, seeds[0]) if loop else model_fn
    model_fn = keep_known(model_fn, context, noise) if context is not None else model_fn
    return SAMPLERS[sampler](model_fn, x, time_grid(steps, t_start, shift), callback)[..., :n_frames]

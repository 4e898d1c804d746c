"""A text-conditioned rectified-flow transformer over mel frames: the generator.

Every `patch` consecutive mel frames form one token (a DiT-style patch along time). Each block:
self-attention across tokens with rotary positions (relative, so one model makes any duration),
cross-attention to the BERT tokens, an MLP. The flow time and the pooled text modulate every block
through one shared adaLN projection plus a learned per-block offset (adaLN-single, as in PixArt-α);
gates start at zero, so every block starts as the identity. Training drops the text for `cond_drop`
of the clips, which makes classifier-free guidance possible.

Optional controls (`control_frames`, `control_global` channels; zeros = no control): a signal per
mel frame, embedded per token and added to the input of every block through its own zero-initialised
projection, and a global vector added to the adaLN conditioning through a zero-initialised layer.
A model fine-tuned with them starts exactly where the model without them was. With
`control_pulses` off the model never sees the beat and downbeat pulse channels (sharp onset
envelopes that a model learns to render as broadband clicks); the beat and bar phases carry the grid.

Optional context (`context`): the known mel frames of the clip and a mask saying which frames are
known, embedded per token and added to the input through a zero-initialised layer (as inpainting
models take the masked image beside the noise). A model trained with random masks (a known
prefix, suffix, both ends, a gap, nothing) continues, inpaints and joins windows of a long piece;
without the layer's training it behaves exactly as before. Guidance keeps the context in both
passes: it belongs to the audio, not to the text.

Objective (rectified flow): x_t = (1 - t) * noise + t * mel, predict v = mel - noise. The model
gives only the velocity and the training loss; sampling, guidance and init audio live in
`text2music.generate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from text2music.features.controls import PULSE_CHANNELS
from text2music.text import TextEmbedding


@dataclass
class Controls:
    """Control inputs of a batch: frames `(B, control_frames, T)`, globals `(B, control_global)`."""

    frames: torch.Tensor
    globals: torch.Tensor

    def to(self, device) -> "Controls":
        return Controls(self.frames.to(device), self.globals.to(device))


@dataclass
class Context:
    """Known frames of a batch: mel `(B, n_mels, T)` (read only where known) and known `(B, T)` bool."""

    mel: torch.Tensor
    known: torch.Tensor

    def to(self, device) -> "Context":
        return Context(self.mel.to(device), self.known.to(device))

    def repeat(self, n: int) -> "Context":
        return Context(self.mel.repeat(n, 1, 1), self.known.repeat(n, 1))

    def roll(self, shift: int) -> "Context":
        return Context(self.mel.roll(shift, -1), self.known.roll(shift, -1))

    def features(self, dtype) -> torch.Tensor:
        """`(B, n_mels + 1, T)`: the known mel (zero elsewhere) and the mask."""
        known = self.known[:, None].to(dtype)
        return torch.cat([self.mel.to(dtype) * known, known], dim=1)


@dataclass
class FlowTransformerConfig:
    n_mels: int = 80
    n_frames: int = 626  # frames generated when no length is asked for
    text_dim: int = 384
    d_model: int = 256
    heads: int = 4
    layers: int = 6
    mlp_ratio: int = 4
    patch: int = 1  # mel frames per token
    cond_drop: float = 0.1  # share of training clips whose text is dropped (for guidance)
    control_frames: int = 0  # channels of the time-aligned control signal (0: none)
    control_global: int = 0  # channels of the global control vector (0: none)
    guidance_embed: bool = False  # takes the guidance scale as an input (a guidance-distilled student)
    control_pulses: bool = True  # reads the beat and downbeat pulse channels (False: they are always zero)
    context: bool = False  # reads known mel frames and their mask (continuation, inpainting, long pieces)


def sinusoidal(x: torch.Tensor, dim: int) -> torch.Tensor:
    """`(...,)` times -> `(..., dim)` sinusoidal features."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angles = x.float()[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def rotary(n: int, head_dim: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin `(n, head_dim)` of rotary position embeddings for positions 0..n-1."""
    inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    angles = torch.arange(n, device=device, dtype=torch.float32)[:, None] * inv
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x `(B, heads, n, head_dim)` rotated by position."""
    x1, x2 = x.chunk(2, dim=-1)
    return (x * cos + torch.cat([-x2, x1], dim=-1) * sin).to(x.dtype)


def tokens(x: torch.Tensor, p: int) -> torch.Tensor:
    """Frames `(B, C, T)` -> tokens `(B, T / p, C * p)` of `p` consecutive frames each."""
    B, C, T = x.shape
    return x.reshape(B, C, T // p, p).permute(0, 2, 1, 3).reshape(B, T // p, C * p)


def zero_linear(d_in: int, d_out: int) -> nn.Linear:
    layer = nn.Linear(d_in, d_out)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class Attention(nn.Module):
    """Multi-head attention of x `(B, n, d)` over `source` `(B, m, source_dim)`."""

    def __init__(self, d: int, heads: int, source_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(source_dim or d, 2 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x, source, rope=None, source_mask=None):
        B, n, d = x.shape
        q = self.q(x).view(B, n, self.heads, -1).transpose(1, 2)
        k, v = self.kv(source).view(B, source.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        mask = None if source_mask is None else source_mask[:, None, None, :]  # True = attend
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(h.transpose(1, 2).reshape(B, n, d))


class Block(nn.Module):
    def __init__(self, d: int, heads: int, mlp_ratio: int, controlled: bool = False):
        super().__init__()
        self.control = zero_linear(d, d) if controlled else None
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.self_attn = Attention(d, heads)
        self.norm2 = nn.LayerNorm(d)
        self.cross_attn = Attention(d, heads)
        self.norm3 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(approximate="tanh"), nn.Linear(mlp_ratio * d, d))
        self.ada_offset = nn.Parameter(torch.randn(6, d) / math.sqrt(d))  # this block's share of adaLN

    def forward(self, x, ada, rope, memory, memory_mask, control=None):
        """x `(B, n, d)`, ada `(B, 6, d)` (the shared modulation), memory `(B, m, d)`, control `(B, n, d)`."""
        if self.control is not None and control is not None:
            x = x + self.control(control)
        s1, c1, g1, s2, c2, g2 = (ada + self.ada_offset).unbind(1)
        h = modulate(self.norm1(x), s1, c1)
        x = x + g1[:, None] * self.self_attn(h, h, rope=rope)
        x = x + self.cross_attn(self.norm2(x), memory, source_mask=memory_mask)
        return x + g2[:, None] * self.mlp(modulate(self.norm3(x), s2, c2))


class FlowTransformer(nn.Module):
    def __init__(self, cfg: FlowTransformerConfig):
        super().__init__()
        if cfg.d_model % cfg.heads or (cfg.d_model // cfg.heads) % 2:
            raise ValueError(f"d_model {cfg.d_model} must split into {cfg.heads} heads of an even size")
        self.cfg = cfg
        d, p = cfg.d_model, cfg.patch
        self.in_proj = nn.Linear(cfg.n_mels * p, d)
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.pooled_proj = nn.Linear(cfg.text_dim, d)
        self.null_token = nn.Parameter(torch.zeros(d))  # the text of a dropped caption
        self.null_pooled = nn.Parameter(torch.zeros(d))
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.ada = nn.Linear(d, 6 * d)  # shift, scale, gate for self-attention and for the MLP
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio, cfg.control_frames > 0) for _ in range(cfg.layers))
        self.control_in = nn.Sequential(nn.Linear(cfg.control_frames * p, d), nn.SiLU(), nn.Linear(d, d)) if cfg.control_frames else None
        self.global_in = nn.Sequential(nn.Linear(cfg.control_global, d), nn.SiLU(), zero_linear(d, d)) if cfg.control_global else None
        self.guidance_in = nn.Sequential(nn.Linear(d, d), nn.SiLU(), zero_linear(d, d)) if cfg.guidance_embed else None
        self.context_in = nn.Sequential(nn.Linear((cfg.n_mels + 1) * p, d), nn.SiLU(), zero_linear(d, d)) if cfg.context else None
        self.out_norm = nn.LayerNorm(d, elementwise_affine=False)
        self.out_ada = nn.Linear(d, 2 * d)
        self.out_proj = nn.Linear(d, cfg.n_mels * p)
        for layer in (self.ada, self.out_ada, self.out_proj):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def velocity(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        text: TextEmbedding,
        drop: torch.Tensor,
        controls: Controls | None = None,
        guidance: torch.Tensor | None = None,
        context: Context | None = None,
    ) -> torch.Tensor:
        """x `(B, n_mels, T)` with T a multiple of `patch`, t `(B,)` in [0, 1], drop `(B,)` bool
        (True = ignore the text), controls: frames `(B, control_frames, T)` and globals
        `(B, control_global)` (None = all zeros), guidance `(B,)` (only with `guidance_embed`:
        the scale whose guided velocity to give in one pass; None = 1), context: the known frames
        (only with `context`; None = nothing known) -> v like x."""
        B, n_mels, T = x.shape
        d, p = self.cfg.d_model, self.cfg.patch
        if T % p:
            raise ValueError(f"the number of frames ({T}) must be a multiple of the patch size {p}")
        h = self.in_proj(tokens(x, p))
        if self.context_in is not None and context is not None:
            h = h + self.context_in(tokens(context.features(h.dtype), p))
        memory = self.text_proj(text.tokens)
        memory = torch.where(drop[:, None, None], self.null_token.to(memory.dtype).expand_as(memory), memory)
        first_only = torch.zeros_like(text.mask)
        first_only[:, 0] = True
        memory_mask = torch.where(drop[:, None], first_only, text.mask)
        pooled = torch.where(drop[:, None], self.null_pooled.expand(B, d), self.pooled_proj(text.pooled))
        cond = self.time_mlp(sinusoidal(t * 1000.0, d)) + pooled
        control = None
        if self.control_in is not None:
            frames = controls.frames if controls is not None else x.new_zeros(B, self.cfg.control_frames, T)
            if not self.cfg.control_pulses:
                frames = frames.clone()
                frames[:, PULSE_CHANNELS] = 0.0
            control = self.control_in(tokens(frames.to(h.dtype), p))
        if self.global_in is not None:
            globals_ = controls.globals if controls is not None else x.new_zeros(B, self.cfg.control_global)
            cond = cond + self.global_in(globals_.to(cond.dtype))
        if self.guidance_in is not None:
            scale = guidance if guidance is not None else torch.ones_like(t)
            cond = cond + self.guidance_in(sinusoidal(scale * 100.0, d).to(cond.dtype))
        cond = F.silu(cond)
        ada = self.ada(cond).view(B, 6, d)
        rope = rotary(T // p, d // self.cfg.heads, x.device)
        for block in self.blocks:
            h = block(h, ada, rope, memory, memory_mask, control)
        shift, scale = self.out_ada(cond).chunk(2, dim=-1)
        out = self.out_proj(modulate(self.out_norm(h), shift, scale))  # (B, T/p, n_mels * p)
        return out.reshape(B, T // p, n_mels, p).permute(0, 2, 1, 3).reshape(B, n_mels, T)

    def loss(
        self, mel: torch.Tensor, text: TextEmbedding, controls: Controls | None = None, known: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Rectified-flow loss; where the text is dropped, the controls are dropped too (the
        unconditional model of guidance knows nothing). `known` `(B, T)` bool (a model with
        `context`): those frames are given as context and the loss is over the others."""
        noise = torch.randn_like(mel)
        t = torch.sigmoid(torch.randn(mel.shape[0], device=mel.device))  # logit-normal times
        x_t = (1 - t[:, None, None]) * noise + t[:, None, None] * mel
        drop = torch.rand(mel.shape[0], device=mel.device) < self.cfg.cond_drop
        if controls is not None:
            keep = (~drop).to(controls.frames.dtype)
            controls = Controls(controls.frames * keep[:, None, None], controls.globals * keep[:, None])
        context = Context(mel, known) if known is not None else None
        v = self.velocity(x_t, t, text, drop, controls, context=context).float()
        return masked_mse(v, mel - noise, known)


def masked_mse(v: torch.Tensor, target: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over the frames that are not `known` `(B, T)` (all frames when None)."""
    if known is None:
        return F.mse_loss(v, target)
    weight = (~known)[:, None].to(v.dtype).expand_as(v)
    return ((v - target) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)

"""A text-conditioned rectified-flow transformer over mel frames (first version, for issue 6).

Each mel frame is a token. Blocks: self-attention across frames, cross-attention to the BERT
tokens, an MLP; the flow time and the pooled text modulate every block (adaLN, as in DiT).
Positions are sinusoidal, so one model generates any number of frames. Training drops the
text for `cond_drop` of the clips, which makes classifier-free guidance possible.

Objective (rectified flow): x_t = (1 - t) * noise + t * mel, predict v = mel - noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from text2music.generate.sampling import SAMPLERS, classifier_free_guidance
from text2music.text import TextEmbedding


@dataclass
class FlowTransformerConfig:
    n_mels: int = 80
    n_frames: int = 626  # length of the training arrays; any length works when generating
    text_dim: int = 384
    d_model: int = 256
    heads: int = 4
    layers: int = 6
    mlp_ratio: int = 4
    cond_drop: float = 0.1  # share of training clips whose text is dropped (for guidance)


def sinusoidal(x: torch.Tensor, dim: int) -> torch.Tensor:
    """`(...,)` positions or times -> `(..., dim)` sinusoidal features."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angles = x.float()[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class Block(nn.Module):
    def __init__(self, d: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.self_attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.cross_attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm3 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(), nn.Linear(mlp_ratio * d, d))
        self.ada = nn.Linear(d, 6 * d)  # shift, scale, gate for self-attention and for the MLP
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x, cond, memory, memory_pad):
        s1, c1, g1, s2, c2, g2 = self.ada(F.silu(cond)).chunk(6, dim=-1)
        h = modulate(self.norm1(x), s1, c1)
        x = x + g1[:, None] * self.self_attn(h, h, h, need_weights=False)[0]
        h = self.norm2(x)
        x = x + self.cross_attn(h, memory, memory, key_padding_mask=memory_pad, need_weights=False)[0]
        h = modulate(self.norm3(x), s2, c2)
        return x + g2[:, None] * self.mlp(h)


class FlowTransformer(nn.Module):
    def __init__(self, cfg: FlowTransformerConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.in_proj = nn.Linear(cfg.n_mels, d)
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.pooled_proj = nn.Linear(cfg.text_dim, d)
        self.null_token = nn.Parameter(torch.zeros(d))  # the text of a dropped caption
        self.null_pooled = nn.Parameter(torch.zeros(d))
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.layers))
        self.out_norm = nn.LayerNorm(d, elementwise_affine=False)
        self.out_ada = nn.Linear(d, 2 * d)
        self.out_proj = nn.Linear(d, cfg.n_mels)
        for layer in (self.out_ada, self.out_proj):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def velocity(self, x: torch.Tensor, t: torch.Tensor, text: TextEmbedding, drop: torch.Tensor) -> torch.Tensor:
        """x `(B, n_mels, T)`, t `(B,)` in [0, 1], drop `(B,)` bool (True = ignore the text) -> v like x."""
        B, _, T = x.shape
        d = self.cfg.d_model
        h = self.in_proj(x.transpose(1, 2)) + sinusoidal(torch.arange(T, device=x.device), d)
        memory = self.text_proj(text.tokens)
        memory = torch.where(drop[:, None, None], self.null_token.expand_as(memory), memory)
        first_only = torch.zeros_like(text.mask)
        first_only[:, 0] = True
        memory_pad = ~torch.where(drop[:, None], first_only, text.mask)
        pooled = torch.where(drop[:, None], self.null_pooled.expand(B, d), self.pooled_proj(text.pooled))
        cond = self.time_mlp(sinusoidal(t * 1000.0, d)) + pooled
        for block in self.blocks:
            h = block(h, cond, memory, memory_pad)
        shift, scale = self.out_ada(F.silu(cond)).chunk(2, dim=-1)
        return self.out_proj(modulate(self.out_norm(h), shift, scale)).transpose(1, 2)

    def loss(self, mel: torch.Tensor, text: TextEmbedding) -> torch.Tensor:
        noise = torch.randn_like(mel)
        t = torch.sigmoid(torch.randn(mel.shape[0], device=mel.device))  # logit-normal times
        x_t = (1 - t[:, None, None]) * noise + t[:, None, None] * mel
        drop = torch.rand(mel.shape[0], device=mel.device) < self.cfg.cond_drop
        return F.mse_loss(self.velocity(x_t, t, text, drop), mel - noise)

    @torch.no_grad()
    def generate(self, text: TextEmbedding, n_frames: int | None = None, steps: int = 16, guidance: float = 3.0,
                 sampler: str = "euler", seed: int | None = None) -> torch.Tensor:
        """Text -> mel `(B, n_mels, n_frames)`: noise integrated along the guided velocity."""
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {sorted(SAMPLERS)}")
        B = text.tokens.shape[0]
        device = text.tokens.device
        gen = torch.Generator(device="cpu").manual_seed(seed) if seed is not None else None
        noise = torch.randn(B, self.cfg.n_mels, n_frames or self.cfg.n_frames, generator=gen).to(device)
        keep = torch.zeros(B, dtype=torch.bool, device=device)
        cond = lambda x, t: self.velocity(x, t, text, keep)  # noqa: E731
        uncond = lambda x, t: self.velocity(x, t, text, ~keep)  # noqa: E731
        model_fn = cond if guidance == 1.0 else classifier_free_guidance(cond, uncond, guidance)
        return SAMPLERS[sampler](model_fn, noise, steps)

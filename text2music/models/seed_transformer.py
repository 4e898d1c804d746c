"""The seed's transformer variant: learned frame queries attend to the BERT token embeddings.

One query vector per mel frame (a learned positional embedding) goes through a transformer
decoder: self-attention across frames, cross-attention to the text tokens; a linear head maps
each frame to the mel bands. Trained with MSE like the LSTM, so it too learns the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from text2music.text import TextEmbedding


@dataclass
class SeedTransformerConfig:
    n_mels: int = 256
    n_frames: int = 420
    text_dim: int = 384
    d_model: int = 256
    heads: int = 4
    layers: int = 4
    ff: int = 1024
    dropout: float = 0.1


class SeedTransformer(nn.Module):
    def __init__(self, cfg: SeedTransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.frame_queries = nn.Parameter(torch.randn(cfg.n_frames, cfg.d_model) * 0.02)
        self.text_proj = nn.Linear(cfg.text_dim, cfg.d_model)
        layer = nn.TransformerDecoderLayer(cfg.d_model, cfg.heads, cfg.ff, cfg.dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, cfg.layers)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.n_mels)

    def forward(self, text: TextEmbedding, n_frames: int | None = None) -> torch.Tensor:
        """text.tokens `(B, L, text_dim)`, text.mask `(B, L)` -> mel `(B, n_mels, n_frames)`."""
        n_frames = n_frames or self.cfg.n_frames
        if n_frames > self.cfg.n_frames:
            raise ValueError(f"this model makes at most {self.cfg.n_frames} frames, asked for {n_frames}")
        queries = self.frame_queries[:n_frames].expand(text.tokens.shape[0], -1, -1)
        memory = self.text_proj(text.tokens)
        x = self.decoder(queries, memory, memory_key_padding_mask=~text.mask)
        return self.head(self.norm(x)).transpose(1, 2)

    def loss(self, mel: torch.Tensor, text: TextEmbedding) -> torch.Tensor:
        return F.mse_loss(self(text, mel.shape[-1]), mel)

"""The seed's `MusicGenerationModel`: BERT embedding -> linear -> LSTM -> linear -> mel frames.

As the seed describes it: the text embedding is mapped by `fc_text_to_lstm` to the LSTM's input
size and fed at every time step; the LSTM (with its hidden and cell state) unrolls one output
per mel frame; `fc_lstm_to_output` maps each output to the mel bands; dropout against
overfitting. Trained by regression (MSE) to the target mel, which is why it can only learn the
conditional mean: the "noise" the seed got.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from text2music.text import TextEmbedding


@dataclass
class SeedLSTMConfig:
    n_mels: int = 256
    n_frames: int = 420
    text_dim: int = 384  # the BERT's hidden size
    lstm_input: int = 256
    hidden: int = 512
    layers: int = 2
    dropout: float = 0.3


class MusicGenerationModel(nn.Module):
    def __init__(self, cfg: SeedLSTMConfig):
        super().__init__()
        self.cfg = cfg
        self.fc_text_to_lstm = nn.Linear(cfg.text_dim, cfg.lstm_input)
        self.lstm = nn.LSTM(
            cfg.lstm_input, cfg.hidden, num_layers=cfg.layers, batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc_lstm_to_output = nn.Linear(cfg.hidden, cfg.n_mels)

    def forward(self, text: TextEmbedding, n_frames: int | None = None) -> torch.Tensor:
        """text.pooled `(B, text_dim)` -> mel `(B, n_mels, n_frames)`."""
        n_frames = n_frames or self.cfg.n_frames
        x = self.dropout(torch.relu(self.fc_text_to_lstm(text.pooled)))  # (B, lstm_input)
        x = x[:, None, :].expand(-1, n_frames, -1).contiguous()  # the same input at every step
        out, (_hidden, _cell) = self.lstm(x)  # (B, T, hidden); states start at zero
        return self.fc_lstm_to_output(self.dropout(out)).transpose(1, 2)

    def loss(self, mel: torch.Tensor, text: TextEmbedding) -> torch.Tensor:
        return F.mse_loss(self(text, mel.shape[-1]), mel)

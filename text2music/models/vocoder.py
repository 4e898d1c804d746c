"""Vocoders: log-mel spectrogram -> waveform. Kept apart from the generator, as a separate part.

`GriffinLimVocoder` needs no training: the mel is mapped back to a linear magnitude spectrogram
(pseudo-inverse plus non-negative refinement) and the phase is found by fast Griffin-Lim, all
batched in torch (`text2music.features.mel`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from text2music.features.mel import MelConfig, mel_to_audio


@dataclass
class GriffinLimVocoder:
    mel: MelConfig
    n_iter: int = 32

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    def __call__(self, mel: torch.Tensor, seed: int = 0, period: int | None = None) -> torch.Tensor:
        """mel `(B, n_mels, n_frames)` in the config's value scale -> audio `(B, (n_frames - 1) * hop)`;
        `period`: the mel repeats every that many frames (a tiled loop), and so will the audio."""
        return mel_to_audio(mel, self.mel, n_iter=self.n_iter, seed=seed, period=period)

"""A small learned vocoder: log-mel -> linear magnitude by a network, phase by Griffin-Lim.

What limits Griffin-Lim from 80 mel bands is mostly the magnitude, not the phase: the
non-negative least-squares inverse of the mel filterbank (`mel_to_linear`) spreads each band's
energy evenly over its FFT bins, so low harmonics blur into their neighbours (the estimated key of
real music falls from 55% to 23% correct after the round trip; EVALUATION.md). This network
starts from that analytic inverse and learns, from the corpus, a correction in log magnitude per
frame (1-D convolutions over time, the frequency bins as channels), which puts the energy back on
the harmonics. Trained with L1 on log magnitude plus spectral convergence
(`text2music/train/vocoder.py`).

    vocoder = NeuralVocoder.from_folder("runs/vocoder")   # vocoder.safetensors + vocoder.json
    audio = vocoder(mel)            # mel (B, n_mels, T) in the MelConfig's values -> (B, (T - 1) * hop)

Status (BENCHMARKS.md, "Learned vocoder"): not shipped. 20 CPU minutes with L1 on log magnitude
cut that error 3x but overshot the loud bins (spectral convergence 0.35 -> 1.03 before phase
recovery), and 10 minutes with the spectral-convergence term added did not beat the analytic
inverse, so the bundled model keeps Griffin-Lim. `Text2Music` uses a vocoder whenever a model
folder ships `vocoder.json` + `vocoder.safetensors`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from text2music.features.mel import MelConfig, griffin_lim, mel_to_linear, value_to_power
from text2music.utils import atomic_path, atomic_write_text, dataclass_from_dict

LOG_FLOOR = 1e-5  # magnitudes below this are silence
MAX_CORRECTION = 3.0  # the network moves a bin's log magnitude by at most this many nats (x20)


@dataclass
class NeuralVocoderConfig:
    channels: int = 256
    layers: int = 4
    kernel: int = 5  # frames seen by each convolution
    griffin_lim_iters: int = 32


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x):
        return x + self.mix(F.gelu(self.conv(x)))


class NeuralVocoder(nn.Module):
    def __init__(self, cfg: NeuralVocoderConfig, mel: MelConfig):
        super().__init__()
        self.cfg, self.mel = cfg, mel
        n_bins = mel.n_fft // 2 + 1
        self.inp = nn.Conv1d(mel.n_mels + n_bins, cfg.channels, 1)
        self.blocks = nn.Sequential(*[ResidualBlock(cfg.channels, cfg.kernel) for _ in range(cfg.layers)])
        self.out = nn.Conv1d(cfg.channels, n_bins, 1)
        nn.init.zeros_(self.out.weight)  # starts as the analytic inverse
        nn.init.zeros_(self.out.bias)

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    def analytic_log_magnitude(self, values: torch.Tensor) -> torch.Tensor:
        """mel values `(B, n_mels, T)` -> log magnitude `(B, n_bins, T)` of the NNLS inverse."""
        power = mel_to_linear(value_to_power(values, self.mel), self.mel)
        return torch.log(power ** (1.0 / self.mel.power) + LOG_FLOOR)

    def log_magnitude(self, values: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        """`base`: `analytic_log_magnitude(values)` when the caller has it already (training)."""
        base = self.analytic_log_magnitude(values) if base is None else base
        h = self.inp(torch.cat([values, base], dim=1))
        return base + MAX_CORRECTION * torch.tanh(self.out(self.blocks(h)) / MAX_CORRECTION)

    def loss(self, values: torch.Tensor, magnitude: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        """The STFT loss of Parallel WaveGAN (Yamamoto et al. 2020) on magnitudes `(B, n_bins, T)`:
        L1 on log magnitude (every bin, the quiet ones too) + spectral convergence (the loud ones)."""
        log_pred = self.log_magnitude(values, base)
        pred = torch.exp(log_pred) - LOG_FLOOR
        convergence = torch.linalg.norm(magnitude - pred) / torch.linalg.norm(magnitude).clamp_min(1e-8)
        return F.l1_loss(log_pred, torch.log(magnitude + LOG_FLOOR)) + convergence

    @torch.no_grad()
    def forward(self, values: torch.Tensor, seed: int = 0, period: int | None = None) -> torch.Tensor:
        values = torch.as_tensor(values, dtype=torch.float32)
        magnitude = torch.exp(self.log_magnitude(values)) - LOG_FLOOR
        return griffin_lim(magnitude.clamp_min(0.0), self.mel, n_iter=self.cfg.griffin_lim_iters, seed=seed, period=period)

    # the same story as the generator: safetensors weights + a JSON config, rebuilt without code
    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        with atomic_path(folder / "vocoder.safetensors") as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, str(tmp))
        config = {"kind": "neural_vocoder", "model": dataclasses.asdict(self.cfg), "mel": self.mel.to_dict()}
        atomic_write_text(folder / "vocoder.json", json.dumps(config, indent=2) + "\n")

    @classmethod
    def from_folder(cls, folder: str | Path) -> "NeuralVocoder":
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / "vocoder.json").is_file() or not (folder / "vocoder.safetensors").is_file():
            raise FileNotFoundError(f"{folder} has no vocoder (needs vocoder.json and vocoder.safetensors)")
        config = json.loads((folder / "vocoder.json").read_text())
        vocoder = cls(dataclass_from_dict(NeuralVocoderConfig, config["model"], "vocoder config"), MelConfig.from_dict(config["mel"]))
        vocoder.load_state_dict({k: v.float() for k, v in load_file(str(folder / "vocoder.safetensors")).items()})
        return vocoder.eval()

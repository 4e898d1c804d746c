"""A neural vocoder in the manner of Vocos (Siuzdak 2023): log-mel -> waveform, phase included.

A ConvNeXt stack runs at the mel's frame rate (no upsampling layers, the reason it is fast on a
CPU), and a linear head predicts, for every frame, the log magnitude and the phase of each STFT
bin; the inverse STFT turns that spectrum into audio. Its phase is its own, learned to be
consistent across overlapping frames, where Griffin-Lim's smears the harmonics.

    vocoder = NeuralVocoder.from_folder(folder)   # vocoder.safetensors + vocoder.json
    audio = vocoder(mel)          # mel (B, n_mels, T) in the MelConfig's values -> (B, (T - 1) * hop)

A full-band vocoder (`sample_rate` a multiple of the mel's, e.g. 48 kHz from the 16-kHz mel) keeps
the mel's frames: its STFT has `factor` times the samples per frame and per window, so its first
`n_fft // 2 + 1` bins are the mel's band at the same frequencies and times, and the bins above are
predicted from the band below (bandwidth extension). `widened(sample_rate)` makes one from a
trained mel-rate vocoder that starts out as that vocoder upsampled, with a faint guess above.
A full-band vocoder may give the band above the mel's a branch of its own (`high_layers` ConvNeXt
blocks on the backbone's output and a head that corrects the log magnitude and phase of those bins
only); `with_high_branch(layers)` adds one that starts at zero, so it can learn the band above while
the band below stays exactly as it was.

Trained by `text2music train-vocoder` (`text2music.train.vocoder`): real mels in, real audio out.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from text2music.features.mel import MelConfig
from text2music.utils import atomic_path, atomic_write_text, dataclass_from_dict

MAX_LOG_MAGNITUDE = 4.6  # exp(4.6) = 100, Vocos' clip on the predicted magnitude (at the mel's rate; times `factor` above it)


@dataclass
class NeuralVocoderConfig:
    dim: int = 256
    intermediate: int = 768  # width of each block's MLP
    layers: int = 8
    kernel: int = 7  # frames seen by each depthwise convolution
    sample_rate: int | None = None  # the audio it writes: a multiple of the mel's rate; None: the mel's rate
    high_layers: int = 0  # blocks of a branch for the bins above the mel's band (full band only); 0: no branch


def output_factor(sample_rate: int | None, mel: MelConfig) -> int:
    """How many output samples per mel sample; a one-line error unless a whole number."""
    if sample_rate is None:
        return 1
    if not isinstance(sample_rate, int) or sample_rate < mel.sample_rate or sample_rate % mel.sample_rate:
        raise ValueError(f"vocoder sample_rate {sample_rate}: must be a whole multiple of the mel's {mel.sample_rate} Hz")
    return sample_rate // mel.sample_rate


class ConvNeXtBlock(nn.Module):
    """Depthwise convolution over time, then a per-frame MLP, in a scaled residual branch."""

    def __init__(self, dim: int, intermediate: int, kernel: int, scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.up = nn.Linear(dim, intermediate)
        self.down = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x `(B, dim, T)` -> `(B, dim, T)`."""
        h = self.dwconv(x).transpose(1, 2)
        h = self.down(nn.functional.gelu(self.up(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


class NeuralVocoder(nn.Module):
    name = "vocos"

    def __init__(self, cfg: NeuralVocoderConfig, mel: MelConfig):
        super().__init__()
        self.cfg, self.mel = cfg, mel
        self.factor = output_factor(cfg.sample_rate, mel)
        self.name = "vocos" if self.factor == 1 else f"vocos-{self.sample_rate // 1000}k"  # what reports and /api/info call it
        self.n_fft, self.hop_length = mel.n_fft * self.factor, mel.hop_length * self.factor
        self.embed = nn.Conv1d(mel.n_mels, cfg.dim, cfg.kernel, padding=cfg.kernel // 2)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg.dim, cfg.intermediate, cfg.kernel, 1 / cfg.layers) for _ in range(cfg.layers))
        self.final_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, self.n_fft + 2)  # log magnitude and phase of n_fft // 2 + 1 bins
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        if cfg.high_layers < 0:
            raise ValueError(f"vocoder high_layers {cfg.high_layers}: must be at least 0")
        if cfg.high_layers and self.factor == 1:
            raise ValueError(f"vocoder high_layers {cfg.high_layers}: a branch for the band above the mel's needs a full-band sample_rate")
        self.low_bins = mel.n_fft // 2 + 1  # the bins of the mel's band, at this vocoder's resolution
        if cfg.high_layers:
            scale = 1 / cfg.high_layers
            self.high_blocks = nn.ModuleList(ConvNeXtBlock(cfg.dim, cfg.intermediate, cfg.kernel, scale) for _ in range(cfg.high_layers))
            self.high_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
            self.high_head = nn.Linear(cfg.dim, 2 * (self.n_fft // 2 + 1 - self.low_bins))  # corrections above the mel's band
            nn.init.zeros_(self.high_head.weight)
            nn.init.zeros_(self.high_head.bias)

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate * self.factor

    def widened(self, sample_rate: int) -> "NeuralVocoder":
        """A vocoder writing `sample_rate` that starts as this one upsampled: the same backbone,
        the same phase and (times `factor`, the longer window's gain) magnitude for the bins this
        one has, and for the bins above the magnitude of its top quarter, 26 dB down."""
        wide = NeuralVocoder(dataclasses.replace(self.cfg, sample_rate=sample_rate), self.mel)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("head.")}
        wide.load_state_dict(state, strict=False)
        bins, wide_bins = self.n_fft // 2 + 1, wide.n_fft // 2 + 1
        gain = math.log(wide.factor / self.factor)
        with torch.no_grad():
            for new, old in ((wide.head.weight, self.head.weight), (wide.head.bias, self.head.bias)):
                top = old[bins - bins // 4 : bins].mean(0)
                new[:bins] = old[:bins]
                new[bins:wide_bins] = top
                new[wide_bins : wide_bins + bins] = old[bins:]
            wide.head.bias[:bins] += gain
            wide.head.bias[bins:wide_bins] += gain - 3.0
        return wide

    def with_high_branch(self, layers: int) -> "NeuralVocoder":
        """This full-band vocoder with a branch of `layers` blocks for the band above the mel's; its
        head starts at zero, so the new vocoder writes exactly what this one does."""
        branched = NeuralVocoder(dataclasses.replace(self.cfg, high_layers=layers), self.mel)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("high_")}
        branched.load_state_dict(state, strict=False)  # all but the branch, which keeps its zero head
        return branched

    def spectrum(self, values: torch.Tensor) -> torch.Tensor:
        """mel values `(B, n_mels, T)` -> complex STFT `(B, n_fft // 2 + 1, T)`."""
        x = self.norm(self.embed(values).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        log_magnitude, phase = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2).chunk(2, dim=1)
        if self.cfg.high_layers:
            log_magnitude, phase = self.high_band_corrected(x, log_magnitude, phase)
        return torch.polar(torch.exp(log_magnitude.clamp(max=MAX_LOG_MAGNITUDE + math.log(self.factor))), phase)

    def high_band_corrected(self, x: torch.Tensor, log_magnitude: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's log magnitude and phase, with the branch's corrections added above the mel's band."""
        h = x
        for block in self.high_blocks:
            h = block(h)
        d_magnitude, d_phase = self.high_head(self.high_norm(h.transpose(1, 2))).transpose(1, 2).chunk(2, dim=1)
        low = self.low_bins
        log_magnitude = torch.cat([log_magnitude[:, :low], log_magnitude[:, low:] + d_magnitude], dim=1)
        return log_magnitude, torch.cat([phase[:, :low], phase[:, low:] + d_phase], dim=1)

    def waveform(self, values: torch.Tensor) -> torch.Tensor:
        """mel values `(B, n_mels, T)` -> audio `(B, (T - 1) * hop * factor)`, differentiable (training)."""
        spec = self.spectrum(values)
        length = (spec.shape[-1] - 1) * self.hop_length
        return torch.istft(spec, self.n_fft, self.hop_length, window=self.window, center=True, length=length)

    @torch.no_grad()
    def forward(self, values: torch.Tensor, seed: int = 0, period: int | None = None) -> torch.Tensor:
        """The vocoder interface (`GriffinLimVocoder`'s): `seed` and `period` are accepted and need
        nothing here, as the output is deterministic and a tiled mel gives tiled audio away from
        the ends (the receptive field, `layers * (kernel - 1) + kernel` frames, is finite)."""
        return self.waveform(torch.as_tensor(values, dtype=torch.float32))

    # the same story as the generator: safetensors weights + a JSON config, rebuilt without code
    def save(self, folder: str | Path, dtype: torch.dtype = torch.float32) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        with atomic_path(folder / "vocoder.safetensors") as tmp:
            save_file({k: v.detach().to(dtype).cpu().contiguous() for k, v in self.state_dict().items()}, str(tmp))
        config = {"kind": "vocos", "model": dataclasses.asdict(self.cfg), "mel": self.mel.to_dict()}
        atomic_write_text(folder / "vocoder.json", json.dumps(config, indent=2) + "\n")

    @classmethod
    def from_folder(cls, folder: str | Path) -> "NeuralVocoder":
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / "vocoder.json").is_file() or not (folder / "vocoder.safetensors").is_file():
            raise FileNotFoundError(f"{folder} has no vocoder (needs vocoder.json and vocoder.safetensors)")
        config = json.loads((folder / "vocoder.json").read_text())
        if config.get("kind") != "vocos":
            raise ValueError(f"{folder / 'vocoder.json'}: unknown vocoder kind {config.get('kind')!r} (this version reads 'vocos')")
        vocoder = cls(dataclass_from_dict(NeuralVocoderConfig, config["model"], "vocoder config"), MelConfig.from_dict(config["mel"]))
        vocoder.load_state_dict({k: v.float() for k, v in load_file(str(folder / "vocoder.safetensors")).items()})
        return vocoder.eval()

"""The adversarial half of Vocos, sized for a CPU: discriminators and their losses.

Two families judge the vocoder's audio against the real crop under it:

- period discriminators (HiFi-GAN's MPD): the waveform folded into `period` columns, 2-D
  convolutions along each column, so each sees the samples `period` apart (periodic structure);
- resolution discriminators (UnivNet's MRD, as in Vocos): 2-D convolutions over the magnitude
  spectrogram at one STFT size (texture in time and frequency: the band above the mel's is judged here).

Two sizes (`SIZES`): "small", a quarter (MRD) to a sixteenth (MPD) of the published channels,
judging a 16,384-sample stretch of each crop (on 2 cores the published sizes cost ten times the
vocoder itself per step); and "full", the published channels (HiFi-GAN's MPD, Vocos' MRD) judging
32,768 samples, for an accelerator. Losses are Vocos' hinge losses and L1 feature matching.

    disc = Discriminators("full")
    d_loss = discriminator_loss(disc(real, fake.detach()))
    adv, fm = generator_losses(disc(real, fake))
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

PERIODS = (2, 3, 5, 7, 11)
RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of each spectrogram discriminator
SIZES = {  # name: (period discriminators' channels, resolution discriminators' channels, samples judged)
    "small": ((8, 16, 32, 64), 8, 16384),
    "full": ((32, 128, 512, 1024), 32, 32768),
}


def judge(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A discriminator's stack on its input `x`: (logits `(B, n)`, the feature map of every layer)."""
    features = []
    for conv in convs:
        x = nn.functional.leaky_relu(conv(x), 0.1)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: tuple[int, ...] = (8, 16, 32, 64)):
        super().__init__()
        self.period = period
        sizes = (1, *channels)
        self.convs = nn.ModuleList(weight_norm(nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0))) for a, b in zip(sizes, sizes[1:]))
        self.convs.append(weight_norm(nn.Conv2d(channels[-1], channels[-1], (5, 1), 1, padding=(2, 0))))
        self.post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """audio `(B, T)` -> (logits `(B, n)`, the feature maps of each layer)."""
        pad = -audio.shape[-1] % self.period
        x = nn.functional.pad(audio, (0, pad), mode="reflect")
        return judge(self.convs, self.post, x.view(x.shape[0], 1, -1, self.period))


class ResolutionDiscriminator(nn.Module):
    def __init__(self, n_fft: int, hop: int, channels: int = 8):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4))),
                *(weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))) for _ in range(3)),
                weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
            ]
        )
        self.post = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """audio `(B, T)` -> (logits `(B, n)`, feature maps); the input is the magnitude `(B, 1, frames, bins)`."""
        spec = torch.stft(audio, self.n_fft, self.hop, window=self.window, center=True, return_complex=True).abs()
        return judge(self.convs, self.post, spec.transpose(1, 2)[:, None])


class Discriminators(nn.Module):
    """Every period and resolution discriminator; `(real, fake)` -> per discriminator
    (real logits, fake logits, real features, fake features)."""

    def __init__(self, size: str = "small", periods: tuple[int, ...] = PERIODS, resolutions: tuple[tuple[int, int], ...] = RESOLUTIONS):
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"discriminators: size must be one of {', '.join(SIZES)}, got {size!r}")
        period_channels, resolution_channels, self.segment = SIZES[size]
        self.judges = nn.ModuleList(
            [
                *(PeriodDiscriminator(p, period_channels) for p in periods),
                *(ResolutionDiscriminator(n, h, resolution_channels) for n, h in resolutions),
            ]
        )

    def forward(self, real: torch.Tensor, fake: torch.Tensor, offset: int = 0) -> list[tuple]:
        """Judged on samples `offset` to `offset + segment` of each (the same stretch of both)."""
        both = torch.cat([real, fake])[:, offset : offset + self.segment]
        outputs = []
        for judge in self.judges:
            logits, features = judge(both)
            n = real.shape[0]
            outputs.append((logits[:n], logits[n:], [f[:n] for f in features], [f[n:] for f in features]))
        return outputs


def discriminator_loss(outputs: list[tuple]) -> torch.Tensor:
    """Hinge loss: real logits above 1, fake below -1; summed over the discriminators."""
    return sum(torch.relu(1 - real).mean() + torch.relu(1 + fake).mean() for real, fake, _, _ in outputs)


def generator_losses(outputs: list[tuple]) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial hinge loss of the fake audio, L1 feature matching against the real audio),
    each summed over the discriminators; the real side carries no gradient."""
    adversarial = sum(torch.relu(1 - fake).mean() for _, fake, _, _ in outputs)
    matching = sum(
        sum((fr.detach() - ff).abs().mean() for fr, ff in zip(real_features, fake_features)) / len(real_features)
        for _, _, real_features, fake_features in outputs
    )
    return adversarial, matching

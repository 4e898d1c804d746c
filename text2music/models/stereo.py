"""Mono -> stereo: a learned width per time and band, applied to a decorrelated copy of the mono signal.

    upmixer = StereoUpmixer.from_folder()            # the bundled one (text2music/assets/stereo/)
    stereo = upmixer.upmix(mono, 44100)              # float32 (2, n): L, R; (L + R) / 2 == mono

The generator makes a mono mel and the vocoder mono audio M. Stereo is M +- S, so the mono mix stays
exactly M. The side S is a fixed decorrelated copy of M, scaled per STFT frame and band:

    analysis   STFT of M (Hann, hop ~11.6 ms, n_fft = 4 hops, at the audio's own rate); the energy of
               each of `bands` bands (0 Hz, then log-spaced from `low_hz` to 22.05 kHz)
    features   per frame: each band's share of the frame's energy (log) and the frame's level (dB)
    network    a few dilated 1-D convolutions over frames (no attention; the bundled one sees 14 frames,
               0.16 s, either side) -> per frame and band the log side-to-mid energy ratio ("width")
    synthesis  S(t, f) = sqrt(exp(width)) interpolated over frequency x M(t, f) x (+-j, a seeded sign
               per group of 16 bins, 344 Hz): a 90-degree phase rotation, so S is orthogonal to M
               in every bin, with signs that change along the spectrum so that S is not one
               phase-shifted copy; overlap-added back; L = M + S, R = M - S.

It learns from real stereo music: the target is the width measured in its mid (L + R) / 2 and side
(L - R) / 2, the input what the mid alone shows. It is a width from mono, not a panning of the parts:
every instrument in a band at one moment gets the same width.

Processing runs in chunks of frames with the network's context on both sides, so memory stays that
of one chunk and time grows linearly with the length; a chunked result equals a whole one (to float
rounding). A loop is processed circularly and stays seamless. The side is lowered, smoothly, where
M + S or M - S would pass `peak`. Weights: `stereo.safetensors` + `stereo.json` (config), loaded without running code.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from text2music.utils import atomic_path, atomic_write_text, dataclass_from_dict

STEREO_DIR = Path(__file__).resolve().parents[1] / "assets" / "stereo"
TOP_HZ = 22050.0  # the last band's upper edge (bins above it, at 48 kHz, join the last band)
CHUNK_FRAMES = 2048  # frames processed at once (about 24 s)
OLA_GAIN = 1.5  # sum of squared Hann windows at a hop of n_fft / 4
TINY = 1e-12


@dataclass(frozen=True)
class StereoConfig:
    """The upmixer's shape: bands, frames, network; widths are natural logs of side/mid energy ratios."""

    bands: int = 32
    low_hz: float = 120.0  # the first band is 0 Hz to low_hz
    hop_seconds: float = 512 / 44100
    smooth_frames: int = 5  # energies summed over this many frames when a width is measured (targets)
    channels: int = 32
    kernel: int = 5
    layers: int = 3  # dilations 1, 2, 4, ...
    min_width_db: float = -25.0  # widths are kept between these (-25 dB: as good as mono)
    max_width_db: float = 0.0  # side as loud as mid: as wide as uncorrelated channels
    seed: int = 0  # of the decorrelator's signs
    group_bins: int = 16  # STFT bins that share one sign of the decorrelator (`rotation`)

    def __post_init__(self):
        for name in ("bands", "channels", "kernel", "layers", "smooth_frames", "group_bins"):
            if getattr(self, name) < 1:
                raise ValueError(f"stereo config: {name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.low_hz < TOP_HZ or self.min_width_db >= self.max_width_db:
            raise ValueError("stereo config: needs 0 < low_hz < 22050 and min_width_db < max_width_db")

    @property
    def width_limits(self) -> tuple[float, float]:
        """(lowest, highest) width as a natural log of the energy ratio."""
        return self.min_width_db * math.log(10) / 10, self.max_width_db * math.log(10) / 10

    @property
    def radius(self) -> int:
        """Frames the network reads on either side of a frame."""
        return sum((self.kernel - 1) // 2 * 2**i for i in range(self.layers))


def frame_sizes(cfg: StereoConfig, sample_rate: int) -> tuple[int, int]:
    """(hop, n_fft) at `sample_rate`: the same duration at every rate."""
    hop = max(1, round(cfg.hop_seconds * sample_rate))
    return hop, 4 * hop


def band_edges(cfg: StereoConfig) -> np.ndarray:
    """`bands + 1` edges in Hz: 0, then log-spaced from low_hz to TOP_HZ."""
    return np.concatenate([[0.0], np.geomspace(cfg.low_hz, TOP_HZ, cfg.bands)])


def band_matrix(cfg: StereoConfig, sample_rate: int) -> torch.Tensor:
    """`(bands, bins)` 0/1: which band each STFT bin's energy counts in."""
    _, n_fft = frame_sizes(cfg, sample_rate)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    band = np.clip(np.searchsorted(band_edges(cfg), freqs, side="right") - 1, 0, cfg.bands - 1)
    return torch.from_numpy((band[None, :] == np.arange(cfg.bands)[:, None]).astype(np.float32))


def spread_matrix(cfg: StereoConfig, sample_rate: int) -> torch.Tensor:
    """`(bins, bands)`: per-band values -> per-bin values, linear in log frequency between band centres."""
    _, n_fft = frame_sizes(cfg, sample_rate)
    edges = band_edges(cfg)
    centres = np.log(np.sqrt(np.maximum(edges[:-1], cfg.low_hz / 2) * edges[1:]))
    at = np.log(np.maximum(np.fft.rfftfreq(n_fft, 1 / sample_rate), 1.0))
    eye = np.eye(cfg.bands)
    return torch.from_numpy(np.stack([np.interp(at, centres, eye[b]) for b in range(cfg.bands)], axis=1).astype(np.float32))


def rotation(cfg: StereoConfig, sample_rate: int) -> torch.Tensor:
    """`(bins,)` complex: +j or -j, one sign per `group_bins` bins, drawn from `cfg.seed` (the fixed
    decorrelator). A sign per bin would decorrelate more, but its impulse response fills the whole
    frame and overlap-add then loses up to 4 dB of the side (measured on music); groups of 16 bins
    (344 Hz) lose at most about 0.4 dB."""
    _, n_fft = frame_sizes(cfg, sample_rate)
    bins = n_fft // 2 + 1
    groups = -(-bins // cfg.group_bins)
    signs = torch.randint(0, 2, (groups,), generator=torch.Generator().manual_seed(cfg.seed)) * 2 - 1
    return torch.complex(torch.zeros(bins), signs.repeat_interleave(cfg.group_bins)[:bins].float())


def frames_of(audio: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Complex STFT `(bins, n_frames)` of `(n,)`, frame k covering audio[k * hop : k * hop + n_fft]."""
    window = torch.hann_window(n_fft, dtype=audio.dtype)
    return torch.stft(audio, n_fft, hop, window=window, center=False, return_complex=True)


def band_features(energy: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Band energies `(..., bands, T)` of `n_fft`-sample frames -> network input `(..., bands + 1, T)`:
    each band's log share of its frame's energy (/10, floored at -20) and the frame's level (dB
    relative to a full-scale sine, whose Hann-windowed frame holds about n_fft^2 / 16; + 30, / 20)."""
    total = energy.sum(-2, keepdim=True)
    share = (torch.log(energy + TINY) - torch.log(total + TINY)).clamp(min=-20.0) / 10
    level = (10 * torch.log10(16 * total / n_fft**2 + TINY) + 30) / 20
    return torch.cat([share, level.clamp(-3.0, 3.0)], dim=-2)


def measured_width(mid_energy: torch.Tensor, side_energy: torch.Tensor, cfg: StereoConfig) -> torch.Tensor:
    """Width (log side/mid energy ratio) `(..., bands, T)` of band energies, each summed over
    `smooth_frames` frames around the frame, kept within the config's limits."""
    k = cfg.smooth_frames
    kernel = torch.ones(1, 1, k, dtype=mid_energy.dtype)

    def smooth(e: torch.Tensor) -> torch.Tensor:
        flat = e.reshape(-1, 1, e.shape[-1])
        return nn.functional.conv1d(nn.functional.pad(flat, (k // 2, (k - 1) // 2), mode="replicate"), kernel).reshape(e.shape)

    lo, hi = cfg.width_limits
    return (torch.log(smooth(side_energy) + TINY) - torch.log(smooth(mid_energy) + TINY)).clamp(lo, hi)


@torch.no_grad()
def band_energies(stereo: np.ndarray, sample_rate: int, cfg: StereoConfig) -> dict[str, torch.Tensor]:
    """Per band and frame `(bands, T)` of stereo audio `(2, n)`: the energies of "mid" (L + R) / 2,
    "side" (L - R) / 2, "left" and "right", and "cross", the real part of L x conj(R) summed over the
    band's bins (the numerator of the inter-channel correlation). Frames centred at k * hop, computed
    a chunk at a time (memory of one chunk)."""
    hop, n_fft = frame_sizes(cfg, sample_rate)
    bands = band_matrix(cfg, sample_rate)
    audio = torch.from_numpy(np.pad(np.asarray(stereo, np.float32), ((0, 0), (n_fft // 2, n_fft // 2))))
    n_frames = (audio.shape[-1] - n_fft) // hop + 1
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("mid", "side", "left", "right", "cross")}
    for c0 in range(0, n_frames, CHUNK_FRAMES):
        c1 = min(n_frames, c0 + CHUNK_FRAMES)
        left, right = frames_of(audio[:, c0 * hop : (c1 - 1) * hop + n_fft], n_fft, hop)
        for name, power in (
            ("mid", ((left + right) / 2).abs().square()),
            ("side", ((left - right) / 2).abs().square()),
            ("left", left.abs().square()),
            ("right", right.abs().square()),
            ("cross", (left * right.conj()).real),
        ):
            parts[name].append(bands @ power)
    return {k: torch.cat(v, dim=-1) for k, v in parts.items()}


class WidthNet(nn.Module):
    """Band features `(B, bands + 1, T)` -> width `(B, bands, T)` (log side/mid energy ratio)."""

    def __init__(self, cfg: StereoConfig):
        super().__init__()
        ins = [cfg.bands + 1] + [cfg.channels] * (cfg.layers - 1)
        self.convs = nn.ModuleList(
            nn.Conv1d(i, cfg.channels, cfg.kernel, dilation=2**d, padding="same", padding_mode="replicate") for d, i in enumerate(ins)
        )
        self.head = nn.Conv1d(cfg.channels, cfg.bands, 1)
        self.bias = nn.Parameter(torch.zeros(cfg.bands, 1))  # the per-band mean width, set before training

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features
        for conv in self.convs:
            x = nn.functional.gelu(conv(x))
        return self.head(x) + self.bias


class StereoUpmixer(nn.Module):
    """Mono audio -> stereo `(2, n)`; see the module's docstring."""

    def __init__(self, cfg: StereoConfig | None = None):
        super().__init__()
        self.cfg = cfg or StereoConfig()
        self.net = WidthNet(self.cfg)

    def width(self, features: torch.Tensor) -> torch.Tensor:
        """Features -> the width the side is made with (within the config's limits)."""
        return self.net(features).clamp(*self.cfg.width_limits)

    @torch.no_grad()
    def side(self, mono: np.ndarray, sample_rate: int, loop: bool = False) -> np.ndarray:
        """The side S `(n,)` of mono audio `(n,)`; `loop`: the audio repeats, and so does S, seamlessly."""
        mono = np.asarray(mono, np.float32)
        n = len(mono)
        hop, n_fft = frame_sizes(self.cfg, sample_rate)
        if n == 0:
            return mono.copy()
        pad = n_fft + (self.cfg.radius + 2) * hop  # enough for the first and last frames' context
        if not loop:
            return self._side(np.pad(mono, (pad, pad)), pad, n, sample_rate)
        fade = min(n, n_fft)
        extended = self._side(mono[np.arange(-fade - pad, n + pad) % n], pad, n + fade, sample_rate)
        side = extended[fade:].copy()
        w = (0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)).astype(np.float32)
        side[n - fade :] = (1 - w) * side[n - fade :] + w * extended[:fade]  # ends on the S that precedes its start
        return side

    def _side(self, padded: np.ndarray, pad: int, n: int, sample_rate: int) -> np.ndarray:
        """S of padded[pad : pad + n], chunk by chunk; frame k covers padded[k * hop : k * hop + n_fft]."""
        hop, n_fft = frame_sizes(self.cfg, sample_rate)
        bands, spread, rotate = band_matrix(self.cfg, sample_rate), spread_matrix(self.cfg, sample_rate), rotation(self.cfg, sample_rate)
        window = torch.hann_window(n_fft)
        first, last = (pad - n_fft) // hop + 1, (pad + n - 1) // hop + 1  # frames that reach the output
        context = self.cfg.radius + 1
        out = np.zeros(len(padded) + n_fft, np.float32)
        audio = torch.from_numpy(padded)
        for c0 in range(first, last, CHUNK_FRAMES):
            c1 = min(last, c0 + CHUNK_FRAMES)
            f0, f1 = max(0, c0 - context), min((len(padded) - n_fft) // hop + 1, c1 + context)
            spec = frames_of(audio[f0 * hop : (f1 - 1) * hop + n_fft], n_fft, hop)
            width = self.width(band_features(bands @ spec.abs().square(), n_fft)[None])[0]
            side = spec[:, c0 - f0 : c1 - f0] * (spread @ torch.exp(0.5 * width[:, c0 - f0 : c1 - f0])) * rotate[:, None]
            pieces = (torch.fft.irfft(side, n=n_fft, dim=0) * window[:, None]).T.numpy()
            for k, piece in enumerate(pieces):
                out[(c0 + k) * hop : (c0 + k) * hop + n_fft] += piece
        return out[pad : pad + n] / OLA_GAIN

    def upmix(
        self, mono: np.ndarray, sample_rate: int, loop: bool = False, peak: float = 0.99, more_side: np.ndarray | None = None
    ) -> np.ndarray:
        """Mono `(n,)` -> float32 `(2, n)` (L, R) with (L + R) / 2 == mono; no channel passes `peak`
        where the mono does not (the side is lowered there; `fit_side`). `more_side` `(n,)`: a side
        the mix already has (a stereo reverb's), added to the width."""
        mono = np.asarray(mono, np.float32)
        side = self.side(mono, sample_rate, loop)
        if more_side is not None:
            side = side + np.asarray(more_side, np.float32)
        side = fit_side(mono, side, peak, round(0.005 * sample_rate), loop)
        return np.stack([mono + side, mono - side])

    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        with atomic_path(folder / "stereo.safetensors") as tmp:
            save_file({k: v.detach().float().contiguous() for k, v in self.state_dict().items()}, str(tmp))
            tmp.chmod(0o644)  # safetensors writes the file anew, with its own permissions
        atomic_write_text(
            folder / "stereo.json", json.dumps({"kind": "width-upmixer", "model": dataclasses.asdict(self.cfg)}, indent=2) + "\n"
        )

    @classmethod
    def from_folder(cls, folder: str | Path | None = None) -> "StereoUpmixer":
        """The upmixer in `folder` (stereo.json + stereo.safetensors; None: the bundled one)."""
        from safetensors.torch import load_file

        folder = Path(folder) if folder is not None else STEREO_DIR
        if not (folder / "stereo.json").is_file() or not (folder / "stereo.safetensors").is_file():
            raise FileNotFoundError(f"{folder} has no stereo upmixer (needs stereo.json and stereo.safetensors)")
        config = json.loads((folder / "stereo.json").read_text())
        if config.get("kind") != "width-upmixer":
            raise ValueError(f"{folder / 'stereo.json'}: unknown upmixer kind {config.get('kind')!r} (this version reads 'width-upmixer')")
        upmixer = cls(dataclass_from_dict(StereoConfig, config["model"], "stereo config"))
        upmixer.load_state_dict(load_file(str(folder / "stereo.safetensors")))
        return upmixer.eval()


def fit_side(mono: np.ndarray, side: np.ndarray, peak: float, reach: int, loop: bool = False) -> np.ndarray:
    """`side` lowered where mono +- side would pass `peak` (or the mono's own level where that is
    higher): by a gain that is a moving minimum over 2 `reach` + 1 samples, then a moving average over
    as many, so it is smooth and never above what each sample needs."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    room = np.maximum(peak - np.abs(mono), 0.0)
    need = np.minimum(1.0, room / np.maximum(np.abs(side), TINY))
    if len(need) == 0 or need.min() >= 1.0:
        return side
    mode = "wrap" if loop else "nearest"
    gain = uniform_filter1d(minimum_filter1d(need, 2 * reach + 1, mode=mode), 2 * reach + 1, mode=mode)
    return (side * np.minimum(gain, need)).astype(np.float32)

"""Beats, downbeats, tempo and meter of a clip: BeatNet's CRNN, run here, and a grid fit.

`estimate_beats(y, sr) -> BeatGrid` (beats, downbeats, bpm, meter, beat_offset). The method:

1. the network's input (`beatnet_features`): madmom's log-filtered spectrogram and its positive
   first difference at 22,050 Hz (Hann window of 1411 samples, hop 441 = 50 frames/s, triangular
   filters at 24 bands per octave from 30 Hz to 17 kHz, log10(1 + |X|)), 2 x 136 = 272 values a
   frame, written with numpy as madmom computes it (madmom does not install here);
2. BeatNet's CRNN (`BeatNetCRNN`: a 1-d convolution over frequency, a linear layer, a 2-layer
   causal LSTM, softmax over beat / downbeat / no beat), a copy of `BeatNet/model.py` that loads
   the weights shipped in BeatNet's PyPI wheel (`BeatNet/models/model_N_weights.pt`, CC BY 4.0,
   Heydari, Cwitkowitz and Duan 2021) with `torch.load(weights_only=True)`: no code is run;
3. a regular grid fit (`fit_grid`, for clips of some seconds): the beat period and phase whose
   grid collects the most beat activation, less what it collects a half, a third and two thirds of
   a beat later (this contrast prefers the true tempo to its half, double, triple and dotted
   multiples), then the meter (3 or 4) and bar phase whose bar starts collect the most downbeat
   activation plus harmonic change (chroma of a beat against the beat before, weighted
   `CHORD_CHANGE_WEIGHT`), less the other beats' mean.

The grid is regular, as `MusicalControls` (one bpm, one beat_offset) describes a clip. BeatNet
is installed with `pip install --no-deps BeatNet==1.1.3` (its own imports need madmom); without
it `load_beatnet` raises a RuntimeError saying so.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
HOP = 441  # 20 ms: the network's 50 frames per second
WINDOW = 1411  # 64 ms
FPS = SAMPLE_RATE / HOP
BANDS_PER_OCTAVE = 24
FMIN, FMAX, FREF = 30.0, 17000.0, 440.0
N_BANDS = 136  # filters of the log filterbank at these settings; the network takes 2 * N_BANDS
MODEL = 1  # BeatNet's model 1 (trained on all its sets but GTZAN)
BPM_RANGE = (55.0, 215.0)
METERS = (3, 4)
OFF_GRID = (1 / 2, 1 / 3, 2 / 3)  # fractions of a period where a true beat grid finds little activation
CHORD_CHANGE_WEIGHT = 2.0  # harmonic change at a beat, against downbeat activation, in the bar fit
EARLY_FRAMES = 1.0  # a grid beat up to one frame before the clip starts is kept, at time 0
OCTAVE_FIT = 0.8  # with a preferred tempo: an octave of the best grid that fits this share as well is a candidate
BEATS_VERSION = "beatnet1-grid1"


# ---------------------------------------------------------------------------------------------
# the network's input


def log_filterbank(n_fft_bins: int = WINDOW // 2) -> np.ndarray:
    """madmom's LogarithmicFilterbank `(n_fft_bins, N_BANDS)`: triangular filters between
    neighbouring log-spaced centre bins (duplicates dropped), each of unit sum."""
    bin_hz = np.fft.fftfreq(n_fft_bins * 2, 1.0 / SAMPLE_RATE)[:n_fft_bins]
    left = np.floor(np.log2(FMIN / FREF) * BANDS_PER_OCTAVE)
    right = np.ceil(np.log2(FMAX / FREF) * BANDS_PER_OCTAVE)
    hz = FREF * 2.0 ** (np.arange(left, right) / BANDS_PER_OCTAVE)
    hz = hz[np.searchsorted(hz, FMIN) :]
    hz = hz[: np.searchsorted(hz, FMAX, "right")]
    idx = np.clip(bin_hz.searchsorted(hz), 1, n_fft_bins - 1)
    idx = np.unique(idx - (hz - bin_hz[idx - 1] < bin_hz[idx] - hz))
    bank = np.zeros((n_fft_bins, len(idx) - 2))
    for band, (start, center, stop) in enumerate(zip(idx[:-2], idx[1:-1], idx[2:])):
        if stop - start < 2:
            center, stop = start, start + 1
        tri = np.concatenate([np.linspace(0, 1, center - start, endpoint=False), np.linspace(1, 0, stop - center, endpoint=False)])
        bank[start:stop, band] = np.maximum(bank[start:stop, band], tri / tri.sum())
    return bank


def beatnet_features(y: np.ndarray) -> np.ndarray:
    """Mono float audio `(n_samples,)` at SAMPLE_RATE in [-1, 1] -> `(n_frames, 2 * N_BANDS)`
    float32: log10(1 + filtered magnitude) and its positive difference from the previous frame.
    Frame i is centred on sample i * HOP (zero-padded at the ends); n_frames = ceil(n / HOP)."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    n_frames = int(np.ceil(len(y) / HOP))
    half = WINDOW // 2
    padded = np.concatenate([np.zeros(half, np.float32), y, np.zeros(WINDOW, np.float32)])
    starts = np.arange(n_frames) * HOP
    frames = padded[starts[:, None] + np.arange(WINDOW)[None, :]] * np.hanning(WINDOW).astype(np.float32)
    mag = np.abs(np.fft.fft(frames, axis=1)[:, : WINDOW // 2]).astype(np.float32)
    spec = np.log10(1.0 + mag @ log_filterbank().astype(np.float32))
    diff = np.zeros_like(spec)
    diff[1:] = np.maximum(spec[1:] - spec[:-1], 0.0)
    return np.hstack([spec, diff]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# the network


def beatnet_weights(model: int = MODEL) -> Path:
    """The weights file in the installed BeatNet wheel (found without importing the package)."""
    spec = importlib.util.find_spec("BeatNet")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("beat tracking needs BeatNet's network weights: pip install --no-deps BeatNet==1.1.3")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / f"model_{model}_weights.pt"
    if not path.is_file():
        raise RuntimeError(f"{path} not found: reinstall BeatNet (pip install --no-deps BeatNet==1.1.3)")
    return path


def _network_class():
    import torch
    from torch import nn

    class BeatNetCRNN(nn.Module):
        """BeatNet's BDA network (`BeatNet/model.py`), same parameter names, zero initial state."""

        def __init__(self, dim_in: int = 2 * N_BANDS, hidden: int = 150, layers: int = 2, conv_out: int = 150, kernel: int = 10):
            super().__init__()
            self.conv1 = nn.Conv1d(1, 2, kernel)
            self.linear0 = nn.Linear(2 * ((dim_in - kernel + 1) // 2), conv_out)
            self.lstm = nn.LSTM(conv_out, hidden, num_layers=layers, batch_first=True)
            self.linear = nn.Linear(hidden, 3)

        def forward(self, feats: torch.Tensor) -> torch.Tensor:
            """`(batch, n_frames, 272)` -> probabilities `(batch, n_frames, 3)`: beat, downbeat, none."""
            b, t, d = feats.shape
            x = torch.nn.functional.max_pool1d(torch.relu(self.conv1(feats.reshape(b * t, 1, d))), 2)
            x = self.linear0(x.flatten(1)).reshape(b, t, -1)
            x, _ = self.lstm(x)
            return torch.softmax(self.linear(x), dim=-1)

    return BeatNetCRNN


def load_beatnet(model: int = MODEL):
    """BeatNet's CRNN with the wheel's weights (loaded as tensors only), in eval mode."""
    import torch

    net = _network_class()()
    state = torch.load(beatnet_weights(model), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


def beat_activations(y: np.ndarray, sr: int, net=None) -> np.ndarray:
    """`(n_frames, 2)` at FPS for a mono clip `(n_samples,)` at `sr` Hz: the probability of a beat
    (downbeats included) and of a downbeat. `net`: a `load_beatnet()` to reuse (else loaded)."""
    import soxr
    import torch

    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if sr != SAMPLE_RATE:
        y = soxr.resample(y, sr, SAMPLE_RATE).astype(np.float32)
    net = net if net is not None else load_beatnet()
    with torch.inference_mode():
        p = net(torch.from_numpy(beatnet_features(y))[None])[0].numpy()
    return np.stack([p[:, 0] + p[:, 1], p[:, 1]], axis=1)


# ---------------------------------------------------------------------------------------------
# the grid


@dataclass(frozen=True)
class BeatGrid:
    """A regular beat grid: times in seconds from the clip start; `beat_offset` is the number of
    beats into the composition at time 0 (a bar starts at every multiple of `meter`)."""

    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    bpm: float
    meter: int
    beat_offset: float

    def to_record(self) -> dict:
        """The manifest fields, as `data synth` writes them."""
        return {
            "bpm": round(self.bpm, 2),
            "meter": f"{self.meter}/4",
            "beat_offset": round(self.beat_offset, 6),
            "beats": [round(t, 4) for t in self.beats],
            "downbeats": [round(t, 4) for t in self.downbeats],
        }


def _sample(act: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """`act` (n,) linearly interpolated at fractional `frames` (any shape); 0 outside the clip."""
    return np.interp(frames, np.arange(len(act)), act, left=0.0, right=0.0)


def _widen(act: np.ndarray, radius: int = 1) -> np.ndarray:
    """Max over +-radius frames: a beat a frame early or late still counts (slight drift)."""
    padded = np.pad(act, radius)
    return np.max([padded[k : k + len(act)] for k in range(2 * radius + 1)], axis=0)


def grid_fit(act: np.ndarray, period: float) -> tuple[float, float]:
    """(score, phase) of the best grid of `period` frames on the widened beat activation `act`: the
    mean activation on the grid less the mean a half, a third and two thirds of a period later.
    Phases a quarter frame apart."""
    n = len(act)
    phases = np.arange(0.0, period, 0.25)
    ks = np.arange(int(np.ceil(n / period)) + 1)
    on = phases[:, None] + ks[None, :] * period  # (phases, beats)
    inside = on < n - 1
    off = np.mean([_sample(act, on + f * period) for f in OFF_GRID], axis=0)
    score = ((_sample(act, on) - off) * inside).sum(1) / inside.sum(1)
    i = int(np.argmax(score))
    return float(score[i]), float(phases[i])


def fit_period(beat: np.ndarray, bpm_range: tuple[float, float] = BPM_RANGE, prefer_bpm: float | None = None) -> tuple[float, float]:
    """(period, phase) in frames of the regular grid phase + k * period that best fits the beat
    activation `(n_frames,)` (`grid_fit`; the contrast tells the beat from its half, double, triple and
    dotted multiples). Periods a quarter percent apart.

    With `prefer_bpm`, the tempo octave is chosen with a prior, as short clips need: of the best
    period, its half and its double (within `bpm_range`), those that fit at least OCTAVE_FIT as well
    as the best, the one whose tempo lies nearest `prefer_bpm` (on a log scale)."""
    act = _widen(beat)
    best, best_score = (60.0 * FPS / 120.0, 0.0), -np.inf
    for period in 60.0 * FPS / np.geomspace(bpm_range[1], bpm_range[0], int(np.log(bpm_range[1] / bpm_range[0]) / 0.0025)):
        score, phase = grid_fit(act, float(period))
        if score > best_score:
            best, best_score = (float(period), phase), score
    if prefer_bpm is None or best_score <= 0:
        return best
    lo, hi = (60.0 * FPS / bpm for bpm in reversed(bpm_range))
    fits = [best]
    for period in (best[0] / 2, best[0] * 2):
        score, phase = grid_fit(act, period) if lo <= period <= hi else (-np.inf, 0.0)
        if score >= OCTAVE_FIT * best_score:
            fits.append((period, phase))
    return min(fits, key=lambda f: abs(np.log(60.0 * FPS / f[0] / prefer_bpm)))


def harmonic_change(chroma: np.ndarray, beat_frames: np.ndarray) -> np.ndarray:
    """`(n_beats,)`: 1 - cosine between the mean chroma `(12, n_frames)` of each beat span and of the
    one before it (the first beat gets the median): a bar line often brings a new chord."""
    n = chroma.shape[1]
    f = np.clip(np.round(beat_frames).astype(int), 0, n - 1)
    ends = np.append(f[1:], min(n, f[-1] + (f[-1] - f[-2] if len(f) > 1 else 25)))
    m = np.stack([chroma[:, a : max(a + 1, b)].mean(axis=1) for a, b in zip(f, ends)])
    m /= np.linalg.norm(m, axis=1, keepdims=True) + 1e-9
    change = np.zeros(len(f))
    change[1:] = 1.0 - (m[1:] * m[:-1]).sum(axis=1)
    change[0] = np.median(change[1:]) if len(f) > 1 else 0.0
    return change


def fit_bar(accent: np.ndarray, meters: tuple[int, ...] = METERS) -> tuple[int, int]:
    """(meter, index of the first bar start) whose bar starts have the most `accent` `(n_beats,)`
    above the other beats' mean."""
    best, best_score = (4, 0), -np.inf
    for meter in meters:
        for first in range(min(meter, len(accent))):
            on = np.zeros(len(accent), dtype=bool)
            on[first::meter] = True
            score = accent[on].mean() - (accent[~on].mean() if (~on).any() else 0.0)
            if score > best_score:
                best, best_score = (meter, first), score
    return best


def fit_grid(activations: np.ndarray, seconds: float, chroma: np.ndarray | None = None, prefer_bpm: float | None = None) -> BeatGrid:
    """The regular grid of a clip of `seconds` from its activations `(n_frames, 2)` and, when given,
    its chroma `(12, n_frames)` at FPS (see the module doc; `prefer_bpm`: `fit_period`'s)."""
    period, phase = fit_period(activations[:, 0], prefer_bpm=prefer_bpm)
    phase -= period * np.floor((phase + EARLY_FRAMES) / period)  # the earliest grid beat not before -EARLY_FRAMES
    frames = np.arange(phase, seconds * FPS, period)
    accent = _sample(_widen(activations[:, 1], 2), frames)
    if chroma is not None and len(frames):
        accent = accent + CHORD_CHANGE_WEIGHT * harmonic_change(chroma, frames)
    meter, first = fit_bar(accent, METERS)
    beat_s = period / FPS
    first_bar = (phase + first * period) / FPS
    return BeatGrid(
        beats=tuple(max(0.0, float(t)) for t in frames / FPS),
        downbeats=tuple(max(0.0, float(t)) for t in frames[first::meter] / FPS),
        bpm=60.0 / beat_s,
        meter=meter,
        beat_offset=float((-first_bar / beat_s) % meter),
    )


def beat_chroma_frames(y: np.ndarray, sr: int) -> np.ndarray:
    """STFT chroma `(12, n_frames)` at FPS (frame i at i / FPS seconds)."""
    import librosa

    hop = int(round(sr / FPS))
    return librosa.feature.chroma_stft(y=np.asarray(y, dtype=np.float32), sr=sr, n_fft=4 * hop, hop_length=hop, tuning=0.0)


def estimate_beats(y: np.ndarray, sr: int, net=None, prefer_bpm: float | None = None) -> BeatGrid:
    """Beats, downbeats, bpm, meter and beat_offset of a mono clip `(n_samples,)` at `sr` Hz
    (`prefer_bpm`: a prior on the tempo octave, `fit_period`)."""
    act = beat_activations(y, sr, net)
    return fit_grid(act, len(y) / sr, beat_chroma_frames(y, sr)[:, : len(act)], prefer_bpm)

"""musicnn music auto-taggers, ported to PyTorch: tag probabilities and embeddings of audio.

musicnn (Jordi Pons and Xavier Serra, ISMIR 2019 LBD; pip `musicnn==0.1.0`, ISC licence) ships
TensorFlow checkpoints of small auto-taggers trained on MagnaTagATune (`MTT_musicnn`) and the
Million Song Dataset (`MSD_musicnn`), 50 tags each. This module re-implements the network in torch
and loads weights converted once by `scripts/convert_musicnn.py` into
`text2music/analysis/assets/musicnn/{name}.safetensors`, so nothing here needs TensorFlow.
The converter checks that the port reproduces TF musicnn (tag probabilities and penultimate
features) on the same float32 input; see the README in the assets folder.

Pipeline (as musicnn's `extractor.extractor` with its defaults):
  audio -> mono float32 at 16 kHz (soxr, as `librosa.load`) -> mel power (n_fft 512, hop 256,
  96 Slaney bands, centred frames) -> log10(10000 * mel + 1) in float32 (musicnn does this in
  float16 and overflows on loud audio; we do not) -> non-overlapping 3-s patches of 187 frames
  (a trailing partial patch is dropped) -> network -> per-patch sigmoid tag probabilities,
  averaged over patches (as `musicnn.tagger.top_tags`), and the per-patch penultimate
  200-d embeddings (the batch-normalised output of the back-end's hidden dense layer).

Clips shorter than one patch (3 s): musicnn itself fails on them; here their log-mel frames are
repeated (tiled) up to 187 frames, which is the "repeat-pad" the models were trained with
(`pad_short` in the checkpoints' config.json), and give one patch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PATCH_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default

ASSETS_DIR = Path(__file__).resolve().parent / "assets" / "musicnn"

MTT_TAGS = [
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop",
    "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
]  # fmt: skip

MSD_TAGS = [
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock", "jazz",
    "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s",
    "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy",
    "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
]  # fmt: skip

TAGS: dict[str, list[str]] = {"MTT_musicnn": MTT_TAGS, "MSD_musicnn": MSD_TAGS}


@dataclass(frozen=True)
class MusicnnConfig:
    """Hyper-parameters of one musicnn model (`musicnn.models.build_musicnn`)."""

    name: str
    dataset: str
    n_mels: int = N_MELS
    n_tags: int = 50
    frontend_filters: float = 1.6  # timbral convs: int(1.6*128) = 204 filters, temporal: int(1.6*32) = 51
    midend_filters: int = 64
    backend_units: int = 200


MODELS: dict[str, MusicnnConfig] = {
    "MTT_musicnn": MusicnnConfig("MTT_musicnn", "MagnaTagATune"),
    "MSD_musicnn": MusicnnConfig("MSD_musicnn", "Million Song Dataset"),
}


# ----------------------------------------------------------------------------------------------
# Front end
# ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    import librosa

    basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)  # Slaney scale and norm
    return torch.from_numpy(np.asarray(basis, dtype=np.float32))


def log_mel(audio: np.ndarray) -> np.ndarray:
    """musicnn's input representation of mono 16-kHz audio, computed in float32.

    audio: `(n_samples,)` float, mono, at 16 kHz.
    Returns `(n_frames, 96)` float32 with n_frames = 1 + n_samples // 256: power mel spectrogram
    (n_fft 512, hop 256, periodic Hann window, centred frames zero-padded at the ends, 96 Slaney
    mel bands from 0 to 8 kHz, i.e. `librosa.feature.melspectrogram`'s defaults), compressed as
    log10(10000 * mel + 1). Time is the first axis, as in musicnn.
    """
    x = torch.as_tensor(np.ascontiguousarray(audio, dtype=np.float32))
    if x.ndim != 1:
        raise ValueError(f"log_mel expects mono audio (n_samples,), got shape {tuple(x.shape)}")
    window = torch.hann_window(N_FFT, periodic=True, dtype=torch.float32)
    spec = torch.stft(x, N_FFT, hop_length=HOP_LENGTH, window=window, center=True, pad_mode="constant", return_complex=True)
    power = spec.real.square() + spec.imag.square()  # (n_fft // 2 + 1, n_frames)
    mel = _mel_basis(SAMPLE_RATE, N_FFT, N_MELS) @ power  # (96, n_frames)
    return torch.log10(10000.0 * mel + 1.0).T.contiguous().numpy()


def to_patches(log_mel_frames: np.ndarray, patch_frames: int = PATCH_FRAMES) -> np.ndarray:
    """`(n_frames, n_mels)` -> `(n_patches, patch_frames, n_mels)` non-overlapping patches, as
    musicnn's `batch_data` (the trailing partial patch is dropped). Fewer than `patch_frames`
    frames (clips under 3 s): the frames are repeated up to one patch ("repeat-pad")."""
    frames = np.asarray(log_mel_frames, dtype=np.float32)
    n = frames.shape[0]
    if n == 0:
        raise ValueError("empty spectrogram: the clip has no samples")
    if n < patch_frames:
        frames = np.tile(frames, (-(-patch_frames // n), 1))[:patch_frames]
        n = patch_frames
    n_patches = n // patch_frames
    return frames[: n_patches * patch_frames].reshape(n_patches, patch_frames, frames.shape[1])


def reference_patches() -> np.ndarray:
    """A fixed synthetic input `(2, 187, 96)` float32 in musicnn's log-mel range, from a closed
    formula (no RNG, no audio code): harmonic-like stripes with onsets, and a broadband beat.
    `scripts/convert_musicnn.py` stores TF musicnn's outputs for it in
    tests/analysis/musicnn_reference.npz, which the tests compare the port against."""
    t = np.arange(PATCH_FRAMES, dtype=np.float64)[:, None]
    f = np.arange(N_MELS, dtype=np.float64)[None, :]
    tonal = 1.2 + 1.5 * np.exp(-f / 50.0) * (0.5 + 0.5 * np.cos(2 * np.pi * f / 9.0 + t / 40.0)) * np.exp(-(t % 31) / 25.0)
    beat = 0.6 + 2.5 * np.exp(-(t % 16) / 2.5) * (0.7 + 0.3 * np.sin(f / 7.0)) + 0.4 * (np.abs(np.sin(3.1 * t + 1.7 * f)))
    return np.stack([tonal, beat]).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------


class _ConvBlock(nn.Module):
    """conv -> ReLU -> BatchNorm (musicnn puts the BN after the activation)."""

    def __init__(self, conv: nn.Module, channels: int, bn: type[nn.Module]):
        super().__init__()
        self.conv = conv
        self.bn = bn(channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class MusicnnNet(nn.Module):
    """`musicnn.models.build_musicnn` in torch.

    Input `(batch, time, n_mels)` log-mel patches; returns `(logits (batch, n_tags),
    penultimate (batch, backend_units))`. Works for any time length (musicnn is fully
    convolutional over time before the global pooling), trained on 187 frames.
    """

    def __init__(self, cfg: MusicnnConfig):
        super().__init__()
        self.cfg = cfg
        n_timbral = int(cfg.frontend_filters * 128)
        n_temporal = int(cfg.frontend_filters * 32)
        # front end: input BN over the single channel, then musically motivated convs
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        # timbral: 7 frames x 40% / 70% of the mel bands, time padded 3 + 3, max over frequency
        self.timbral = nn.ModuleList(
            _ConvBlock(nn.Conv2d(1, n_timbral, (7, int(frac * cfg.n_mels))), n_timbral, nn.BatchNorm2d) for frac in (0.4, 0.7)
        )
        # temporal: 128 / 64 / 32 frames x 1 band, TF 'same' padding, max over frequency
        self.temporal_lengths = (128, 64, 32)
        self.temporal = nn.ModuleList(
            _ConvBlock(nn.Conv2d(1, n_temporal, (k, 1)), n_temporal, nn.BatchNorm2d) for k in self.temporal_lengths
        )
        n_front = 2 * n_timbral + 3 * n_temporal  # 561
        # mid end: three 7-frame convs over all channels, residual connections from the 2nd on
        m = cfg.midend_filters
        self.midend = nn.ModuleList(_ConvBlock(nn.Conv1d(c_in, m, 7), m, nn.BatchNorm1d) for c_in in (n_front, m, m))
        n_features = n_front + 3 * m  # 753: dense connection of front end and mid end
        # back end: max and mean over time (interleaved per feature, as TF's flatten of
        # concat([max, mean], axis=2)), BN, dense + ReLU + BN (penultimate), dense (logits)
        self.pool_bn = nn.BatchNorm1d(2 * n_features, eps=BN_EPS)
        self.dense = nn.Linear(2 * n_features, cfg.backend_units)
        self.dense_bn = nn.BatchNorm1d(cfg.backend_units, eps=BN_EPS)
        self.out = nn.Linear(cfg.backend_units, cfg.n_tags)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.input_bn(x.unsqueeze(1))  # (B, 1, T, F)
        x7 = F.pad(x, (0, 0, 3, 3))
        front = [blk(x7).amax(dim=3) for blk in self.timbral]  # (B, C, T) each
        for k, blk in zip(self.temporal_lengths, self.temporal):
            front.append(blk(F.pad(x, (0, 0, (k - 1) // 2, k // 2))).amax(dim=3))
        h = torch.cat(front, dim=1)  # (B, 561, T)
        feats = [h]
        for i, blk in enumerate(self.midend):
            y = blk(F.pad(h, (3, 3)))
            h = y if i == 0 else y + h
            feats.append(h)
        z = torch.cat(feats, dim=1)  # (B, 753, T)
        pooled = torch.stack([z.amax(dim=2), z.mean(dim=2)], dim=2).flatten(1)  # (B, 1506)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return self.out(penultimate), penultimate


# ----------------------------------------------------------------------------------------------
# Judge
# ----------------------------------------------------------------------------------------------


def _to_mono_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:  # (channels, samples), librosa's convention
        a = a.mean(axis=0)
    if a.ndim != 1:
        raise ValueError(f"audio must be (n_samples,) or (n_channels, n_samples), got shape {a.shape}")
    if a.size == 0:
        raise ValueError("audio is empty")
    if not np.all(np.isfinite(a)):
        raise ValueError("audio contains NaN or inf")
    if sample_rate != SAMPLE_RATE:
        import soxr

        a = soxr.resample(a, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)  # librosa.load's default
    return a


class MusicnnJudge:
    """A loaded musicnn model: `analyze(audio, sample_rate)` -> (tag probabilities, embeddings)."""

    sample_rate = SAMPLE_RATE

    def __init__(self, net: MusicnnNet, name: str, tags: Sequence[str], max_batch: int = 64):
        self.net = net.eval()
        self.name = name
        self.tags = list(tags)
        self.max_batch = max_batch

    @torch.inference_mode()
    def forward_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(n, time, 96)` float32 log-mel patches -> (per-patch tag probabilities `(n, n_tags)`,
        penultimate embeddings `(n, dim)`), both float32."""
        x = torch.as_tensor(np.ascontiguousarray(patches, dtype=np.float32))
        if x.ndim != 3 or x.shape[2] != self.net.cfg.n_mels:
            raise ValueError(f"patches must be (n, time, {self.net.cfg.n_mels}), got {tuple(x.shape)}")
        probs, embs = [], []
        for start in range(0, x.shape[0], self.max_batch):
            logits, pen = self.net(x[start : start + self.max_batch])
            probs.append(torch.sigmoid(logits))
            embs.append(pen)
        return torch.cat(probs).numpy(), torch.cat(embs).numpy()

    def patches(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Audio -> `(n_patches, 187, 96)` float32 log-mel patches (3 s each)."""
        return to_patches(log_mel(_to_mono_16k(audio, sample_rate)))

    def analyze(self, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """One clip -> (tag probabilities `(n_tags,)` averaged over its 3-s patches,
        penultimate embeddings `(n_patches, dim)`), float32.

        audio: `(n_samples,)` or `(n_channels, n_samples)` (averaged to mono), any sample rate
        (resampled to 16 kHz with soxr). Clips under 3 s are repeat-padded to one patch."""
        probs, embs = self.forward_patches(self.patches(audio, sample_rate))
        return probs.mean(axis=0), embs

    def top_tags(self, probabilities: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-np.asarray(probabilities))[:k]
        return [(self.tags[i], float(probabilities[i])) for i in order]


def weights_path(name: str) -> Path:
    return ASSETS_DIR / f"{name}.safetensors"


def load_musicnn(name: str = "MSD_musicnn", path: str | Path | None = None) -> MusicnnJudge:
    """Load a converted musicnn model ("MSD_musicnn" or "MTT_musicnn") from its safetensors file
    (default: the package's assets/musicnn folder)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if name not in MODELS:
        raise ValueError(f"unknown musicnn model {name!r}; available: {sorted(MODELS)}")
    file = Path(path) if path is not None else weights_path(name)
    if not file.is_file():
        raise FileNotFoundError(
            f"musicnn weights not found at {file}. They ship with the package "
            f"(text2music/analysis/assets/musicnn/); to rebuild them run scripts/convert_musicnn.py "
            f"in an environment with tensorflow-cpu and musicnn==0.1.0 (see that script's docstring)."
        )
    with safe_open(str(file), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("model", name) != name:
        raise ValueError(f"{file} holds {meta.get('model')!r}, not {name!r}")
    tags = json.loads(meta["tags"]) if "tags" in meta else TAGS[name]
    net = MusicnnNet(MODELS[name])
    state = load_file(str(file))
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{file} does not match the musicnn network: missing {missing}, unexpected {unexpected}")
    return MusicnnJudge(net, name, tags)

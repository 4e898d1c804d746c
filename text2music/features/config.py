"""`MelConfig`: the one place that says how audio becomes a mel array, and its named presets.

Kept apart from the transforms (`text2music.features.mel`) so that reading a config, or listing
the presets in the command line's help, needs neither torch nor librosa.

Value scale of a mel array (`MelConfig.norm`):
- "db":   10 * log10(mel power), floored at `top_db` below the clip's maximum (librosa's
          `power_to_db(S, ref=1.0, top_db=...)`); the seed's choice.
- "unit": the same dB values mapped affinely, (db - unit_offset_db) / unit_scale_db, so that
          typical music lies in about [-1, 1]: a friendlier target for neural networks.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from text2music.utils import atomic_write_text, dataclass_from_dict

AMIN = 1e-10  # power floor before the log, as in librosa.power_to_db


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = None  # None = sample_rate / 2
    n_frames: int = 626  # fixed length of stored arrays: 10 s at 16 kHz / 256 hop, centered STFT
    norm: str = "unit"  # "db" or "unit", see the module docstring
    top_db: float | None = 80.0
    unit_offset_db: float = -30.0
    unit_scale_db: float = 40.0
    power: float = 2.0

    def __post_init__(self):
        if self.norm not in ("db", "unit"):
            raise ValueError(f"MelConfig.norm must be 'db' or 'unit', got {self.norm!r}")
        if self.n_fft < 2 or self.hop_length < 1 or self.n_mels < 1 or self.n_frames < 1:
            raise ValueError(f"MelConfig has a non-positive size: {self}")
        if self.fmax is not None and self.fmax > self.sample_rate / 2:
            raise ValueError(f"MelConfig.fmax={self.fmax} is above Nyquist ({self.sample_rate / 2})")

    @property
    def f_max(self) -> float:
        return self.fmax if self.fmax is not None else self.sample_rate / 2

    @property
    def duration(self) -> float:
        """Seconds of audio covered by `n_frames` frames."""
        return (self.n_frames - 1) * self.hop_length / self.sample_rate

    def frames_for(self, seconds: float) -> int:
        """Mel frames whose audio, `(frames - 1) * hop_length` samples, covers `seconds` (no fewer)."""
        return -(-round(seconds * self.sample_rate) // self.hop_length) + 1

    @property
    def floor(self) -> float:
        """The value of silence in this config's scale (used for padding)."""
        db = 10 * math.log10(AMIN)
        return self.db_to_value(db)

    def db_to_value(self, db: float) -> float:
        return db if self.norm == "db" else (db - self.unit_offset_db) / self.unit_scale_db

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MelConfig":
        return dataclass_from_dict(cls, d, "MelConfig")

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "MelConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


PRESETS: dict[str, MelConfig] = {
    # The seed: 256 mel bands x 420 frames (about 9.7 s at 22.05 kHz, hop 512), raw dB values.
    "seed": MelConfig(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=256, n_frames=420, norm="db"),
    # CPU-friendly: 80 bands, 16 kHz, 10 s = 626 frames, values in about [-1, 1].
    "small": MelConfig(),
}


def get_preset(name: str) -> MelConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown mel preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]

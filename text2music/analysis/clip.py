"""One clip measured against what its description states: tempo, key, drums, and its loudness.

Used by the corpus tests and the agreement bench (bench/synth_agreement.py) on a manifest
record (`bpm`, `key`, `mode`, `drums`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from text2music.analysis.drums import DRUM_THRESHOLD, drum_activity
from text2music.analysis.key import estimate_key, key_relation
from text2music.analysis.tempo import estimate_tempo, tempo_agrees


def rms_dbfs(y: np.ndarray) -> float:
    """RMS level of the clip in dB relative to full scale."""
    y = np.asarray(y, dtype=np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(y**2)) + 1e-12))


@dataclass(frozen=True)
class ClipCheck:
    """Measurements of one clip and whether each agrees with its ground truth."""

    clip_id: str
    tempo: float
    tempo_ok: bool
    key: str
    key_relation: str
    drum_activity: float
    drums_ok: bool
    rms_dbfs: float


def check_clip(y: np.ndarray, sr: int, record: dict) -> ClipCheck:
    """Measure a clip and compare with its record (`bpm`, `key`, `mode`, `drums`)."""
    tempo = estimate_tempo(y, sr)
    key = estimate_key(y, sr)
    drums = drum_activity(y, sr)
    return ClipCheck(
        clip_id=record.get("clip_id", ""),
        tempo=tempo,
        tempo_ok=tempo_agrees(tempo, record["bpm"]),
        key=key.name,
        key_relation=key_relation(key, record["key"], record["mode"]),
        drum_activity=drums,
        drums_ok=(drums > DRUM_THRESHOLD) == bool(record["drums"]),
        rms_dbfs=rms_dbfs(y),
    )

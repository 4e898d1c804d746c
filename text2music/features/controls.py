"""Musical controls as model inputs: a beat grid and chords per mel frame, and global tempo, key,
meter and drums.

A `MusicalControls` holds what is known about a clip; every field may be left open (None), and
what is open becomes zeros with its "present" flag off, the same input a training clip shows when
that control is dropped. So one model follows any subset of the controls and chooses the rest.

Frame channels, `(FRAME_CHANNELS, T)` at the mel frame rate (frame i is at time i * hop / sr):
    0       grid present
    1, 2    beat phase (sin, cos)
    3, 4    bar phase (sin, cos)
    5, 6    beat and downbeat pulses: exp(-seconds since the last one / 50 ms)
    7       harmony present
    8-19    the sounding chord's pitch classes (C = 8)
    20-31   the chord's root (one-hot)
Global channels, `(GLOBAL_CHANNELS,)`:
    0       tempo present, 1 log2(bpm / 120), 2-9 Fourier features of log2(bpm / 120)
    10      key present, 11-34 key one-hot (tonic + 12 * minor)
    35      meter present, 36 triple meter (3/4)
    37      drums present, 38 drums on
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from text2music.theory import PITCH_CLASSES

FRAME_CHANNELS = 32
GLOBAL_CHANNELS = 39
# groups that training drops independently: (name, frame channel slice or None, global channel slice or None)
CONTROL_GROUPS = (
    ("grid", slice(0, 7), None),
    ("harmony", slice(7, 32), None),
    ("tempo", None, slice(0, 10)),
    ("key", None, slice(10, 35)),
    ("meter", None, slice(35, 37)),
    ("drums", None, slice(37, 39)),
)
PULSE_SECONDS = 0.05
PULSE_CHANNELS = slice(5, 7)  # frame channels that a model with `control_pulses` off ignores


@dataclass(frozen=True)
class ChordSlot:
    """A chord sounding over [beat, beat + length) in composition beats."""

    beat: float
    length: float
    root: int
    pitch_classes: tuple[int, ...]


@dataclass(frozen=True)
class MusicalControls:
    """What is fixed about a clip; None = left to the model.

    `beat_offset` is the number of beats into the composition at time 0 (a bar starts at every
    multiple of `meter`); chord slots are in the same composition beats. The grid needs `bpm`
    and `meter`; the harmony needs the grid and at least one chord slot.
    """

    bpm: float | None = None
    meter: int | None = None  # beats per bar: 3 or 4
    tonic: int | None = None  # pitch class of the key's tonic
    mode: str | None = None  # "major" | "minor"
    drums: bool | None = None
    beat_offset: float = 0.0
    chords: tuple[ChordSlot, ...] = ()

    @classmethod
    def from_record(cls, r: dict) -> "MusicalControls":
        """The ground truth of a synth-corpus manifest record (fields from `data synth`), or what
        `data import` / `data label` estimated in a real clip: its beat grid, meter and chords when
        labelled (`text2music.analysis.beats`, `.chords`), else tempo, key and drums only."""
        if "chord_slots" not in r:
            tonic = PITCH_CLASSES.index(r["key"]) if r.get("key") in PITCH_CLASSES else None
            bpm = float(r["bpm"]) if r.get("bpm") else None
            drums = bool(r["drums"]) if r.get("drums") is not None else None
            return cls(bpm=bpm, tonic=tonic, mode=r.get("mode") if tonic is not None else None, drums=drums)
        slots = tuple(ChordSlot(float(b), float(n), int(root), tuple(int(p) for p in pcs)) for b, n, root, pcs in r["chord_slots"])
        tonic = PITCH_CLASSES.index(r["key"])
        return cls(float(r["bpm"]), int(str(r["meter"]).split("/")[0]), tonic, r["mode"], bool(r["drums"]), float(r["beat_offset"]), slots)


def beat_positions(c: MusicalControls, n_frames: int, frame_rate: float, start_frame: int = 0) -> np.ndarray:
    """Composition beat at each frame `(n_frames,)`; needs `c.bpm`."""
    times = (start_frame + np.arange(n_frames)) / frame_rate
    return c.beat_offset + times * c.bpm / 60.0


def _pulse(position: np.ndarray, period_beats: float, bpm: float) -> np.ndarray:
    """exp(-seconds since the last multiple of `period_beats` / PULSE_SECONDS)."""
    since = np.mod(position, period_beats) * 60.0 / bpm
    return np.exp(-since / PULSE_SECONDS)


def frame_controls(c: MusicalControls, n_frames: int, frame_rate: float, start_frame: int = 0) -> np.ndarray:
    """Frame channels `(FRAME_CHANNELS, n_frames)` float32 of frames start_frame.. (see the module doc)."""
    out = np.zeros((FRAME_CHANNELS, n_frames), dtype=np.float32)
    if c.bpm is None or c.meter is None:
        return out
    pos = beat_positions(c, n_frames, frame_rate, start_frame)
    beat_angle, bar_angle = 2 * np.pi * np.mod(pos, 1.0), 2 * np.pi * np.mod(pos, c.meter) / c.meter
    out[0] = 1.0
    out[1], out[2], out[3], out[4] = np.sin(beat_angle), np.cos(beat_angle), np.sin(bar_angle), np.cos(bar_angle)
    out[5], out[6] = _pulse(pos, 1.0, c.bpm), _pulse(pos, c.meter, c.bpm)
    if not c.chords:
        return out
    starts = np.array([s.beat for s in c.chords])
    which = np.clip(np.searchsorted(starts, pos, side="right") - 1, 0, len(c.chords) - 1)
    out[7] = 1.0
    for k, slot in enumerate(c.chords):
        frames = which == k
        for pc in slot.pitch_classes:
            out[8 + pc, frames] = 1.0
        out[20 + slot.root, frames] = 1.0
    return out


def global_controls(c: MusicalControls) -> np.ndarray:
    """Global channels `(GLOBAL_CHANNELS,)` float32 (see the module doc)."""
    out = np.zeros(GLOBAL_CHANNELS, dtype=np.float32)
    if c.bpm is not None:
        x = math.log2(c.bpm / 120.0)
        out[0], out[1] = 1.0, x
        freqs = np.pi * 2.0 ** np.arange(4)
        out[2:6], out[6:10] = np.sin(freqs * x), np.cos(freqs * x)
    if c.tonic is not None and c.mode is not None:
        out[10] = 1.0
        out[11 + c.tonic + (12 if c.mode == "minor" else 0)] = 1.0
    if c.meter is not None:
        out[35], out[36] = 1.0, float(c.meter == 3)
    if c.drums is not None:
        out[37], out[38] = 1.0, float(c.drums)
    return out


def drop_groups(frames: np.ndarray, globals_: np.ndarray, dropped: set[str]) -> None:
    """Zero the channels of the `dropped` groups in place: frames `(..., FRAME_CHANNELS, T)`,
    globals `(..., GLOBAL_CHANNELS)`."""
    for name, frame_slice, global_slice in CONTROL_GROUPS:
        if name in dropped:
            if frame_slice is not None:
                frames[..., frame_slice, :] = 0.0
            if global_slice is not None:
                globals_[..., global_slice] = 0.0

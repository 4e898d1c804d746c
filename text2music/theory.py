"""Music theory shared by the corpus, the key judge, the text parser and generation: pitch classes,
keys, scales, diatonic chords, progressions.

Everything here is pure, table-driven and free of numpy and torch, so any part may import it.
Pitches are MIDI note numbers (60 = middle C), pitch
classes are 0..11 (0 = C). A key is a tonic pitch class plus a mode, "major" or "minor".
"""

from __future__ import annotations

from dataclasses import dataclass

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")

SCALE_STEPS = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),  # natural minor; V may be raised (harmonic minor)
}
PENTATONIC_STEPS = {"major": (0, 2, 4, 7, 9), "minor": (0, 3, 5, 7, 10)}

CHORD_INTERVALS = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "6": (0, 4, 7, 9),
}

# Triad quality of each scale degree (0-based) in each mode.
_TRIADS = {
    "major": ("maj", "min", "min", "maj", "maj", "min", "dim"),
    "minor": ("min", "dim", "maj", "min", "min", "maj", "maj"),
}
_SEVENTHS = {
    "major": ("maj7", "min7", "min7", "maj7", "7", "min7", "m7b5"),
    "minor": ("min7", "m7b5", "maj7", "min7", "min7", "maj7", "7"),
}
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class, quality (a key of CHORD_INTERVALS) and its roman label."""

    root: int
    quality: str
    label: str

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in CHORD_INTERVALS[self.quality])

    @property
    def fifth(self) -> int:
        return (self.root + CHORD_INTERVALS[self.quality][2]) % 12


@dataclass(frozen=True)
class Progression:
    """A named chord loop in scale degrees (0-based). `harmonic_v`: in minor, V is major (the
    raised leading tone); `sevenths`: seventh chords; `dominant`: every chord but the tonic a
    dominant 7th (blues). The tonic is never a seventh chord: it would blur the key (C7 reads
    as F major, Cmaj7 leans to G major); it is a triad, or a major sixth chord in jazz."""

    name: str
    mode: str
    degrees: tuple[int, ...]
    harmonic_v: bool = False
    sevenths: bool = False
    dominant: bool = False


def relative_key(tonic: int, mode: str) -> tuple[int, str]:
    """The relative major/minor: A minor <-> C major."""
    return ((tonic + 3) % 12, "major") if mode == "minor" else ((tonic + 9) % 12, "minor")


def key_name(tonic: int, mode: str) -> str:
    """Canonical spelling: key_name(6, "minor") == "F# minor"."""
    if isinstance(tonic, bool) or not isinstance(tonic, int) or not 0 <= tonic < 12:
        raise ValueError(f"tonic must be a pitch class 0-11, got {tonic!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be 'major' or 'minor', got {mode!r}")
    return f"{PITCH_CLASSES[tonic]} {mode}"


def pitch_class(name: str) -> int:
    """Pitch class of a note name ('C#', 'Db', 'Bb', ...)."""
    aliases = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb", "Cb": "B", "E#": "F", "Fb": "E", "B#": "C"}
    name = aliases.get(name, name)
    if name not in PITCH_CLASSES:
        raise ValueError(f"unknown pitch name {name!r}")
    return PITCH_CLASSES.index(name)


def scale_pitch_classes(tonic: int, mode: str) -> tuple[int, ...]:
    return tuple((tonic + s) % 12 for s in SCALE_STEPS[mode])


def scale_pitches(tonic: int, mode: str, low: int, high: int, pentatonic: bool = False) -> list[int]:
    """All MIDI pitches of the scale (or its pentatonic subset) within [low, high]."""
    steps = PENTATONIC_STEPS[mode] if pentatonic else SCALE_STEPS[mode]
    pcs = {(tonic + s) % 12 for s in steps}
    return [p for p in range(low, high + 1) if p % 12 in pcs]


def diatonic_chord(tonic: int, mode: str, degree: int, *, seventh: bool = False, harmonic_v: bool = False, dominant: bool = False) -> Chord:
    """The chord built on a scale degree (0-based) of the key."""
    degree %= 7
    root = (tonic + SCALE_STEPS[mode][degree]) % 12
    quality = (_SEVENTHS if seventh else _TRIADS)[mode][degree]
    if mode == "minor" and harmonic_v and degree == 4:
        quality = "7" if seventh else "maj"
    if dominant and degree != 0:
        quality = "7"
    if degree == 0 and seventh:  # a tonic seventh blurs the key: major sixth chord / minor triad
        quality = "6" if mode == "major" else "min"
    roman = _ROMAN[degree]
    if quality in ("min", "min7", "dim", "m7b5"):
        roman = roman.lower()
    suffix = {"dim": "°", "m7b5": "ø7", "7": "7", "maj7": "maj7", "min7": "7", "6": "6"}.get(quality, "")
    if mode == "minor" and degree in (2, 5, 6):
        roman = "b" + roman
    return Chord(root, quality, roman + suffix)


def progression_chords(prog: Progression, tonic: int) -> list[Chord]:
    return [
        diatonic_chord(tonic, prog.mode, d, seventh=prog.sevenths, harmonic_v=prog.harmonic_v, dominant=prog.dominant) for d in prog.degrees
    ]


def _p(name: str, mode: str, degrees: str, **flags) -> Progression:
    return Progression(name, mode, tuple(int(c) - 1 for c in degrees.split("-")), **flags)


# Degrees are written 1-based here for readability ("1-5-6-4" = I-V-vi-IV).
PROGRESSIONS: dict[str, Progression] = {
    p.name: p
    for p in [
        _p("I-V-vi-IV", "major", "1-5-6-4"),
        _p("I-IV-V-IV", "major", "1-4-5-4"),
        _p("I-vi-IV-V", "major", "1-6-4-5"),
        _p("I-IV-I-V", "major", "1-4-1-5"),
        _p("I-ii-IV-V", "major", "1-2-4-5"),
        _p("I-iii-IV-V", "major", "1-3-4-5"),
        _p("I-IV-V-I", "major", "1-4-5-1"),
        _p("I-V-IV-I", "major", "1-5-4-1"),
        _p("I-I-IV-V", "major", "1-1-4-5"),
        _p("I6-vi7-ii7-V7", "major", "1-6-2-5", sevenths=True),
        _p("I6-IVmaj7-ii7-V7", "major", "1-4-2-5", sevenths=True),
        _p("I6-ii7-V7-I6", "major", "1-2-5-1", sevenths=True),
        _p("12-bar blues", "major", "1-4-1-1-4-4-1-1-5-4-1-5", dominant=True),
        _p("8-bar blues", "major", "1-5-4-4-1-5-1-5", dominant=True),
        _p("i-VI-III-VII", "minor", "1-6-3-7"),
        _p("i-iv-V-i", "minor", "1-4-5-1", harmonic_v=True),
        _p("i-VII-VI-V", "minor", "1-7-6-5", harmonic_v=True),
        _p("i-VI-iv-V", "minor", "1-6-4-5", harmonic_v=True),
        _p("i-iv-i-V", "minor", "1-4-1-5", harmonic_v=True),
        _p("i-VI-VII-i", "minor", "1-6-7-1"),
        _p("i-i-VI-VII", "minor", "1-1-6-7"),
        _p("i-iv-VI-V", "minor", "1-4-6-5", harmonic_v=True),
        _p("i-iv7-iiø7-V7", "minor", "1-4-2-5", sevenths=True, harmonic_v=True),
        _p("i-VImaj7-iiø7-V7", "minor", "1-6-2-5", sevenths=True, harmonic_v=True),
        _p("minor blues", "minor", "1-4-1-1-4-4-1-1-6-5-1-5", sevenths=True, harmonic_v=True),
    ]
}

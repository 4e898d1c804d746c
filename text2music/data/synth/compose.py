"""Procedural composition: sample a song's attributes for a genre, then write its notes.

`sample_song(rng)` draws the ground-truth attributes (genre, key, mode, tempo, meter, chord
progression, instruments with their roles and playing styles, drums, dynamics, mood);
`compose(song, duration, rng)` turns them into timed note events per part: a scale-aware melody
with motivic rhythm, an accompaniment figure (block chords, arpeggios, pads, strumming, comping,
power chords, skanks, stabs, montuno, shuffle riffs), a bass line in the genre's idiom and a
drum pattern typical of the genre. Both are pure functions of their numpy Generator.

Times are composed in beats, then converted to seconds with a random phase (a clip is cut from
the middle of a piece, as MusicCaps clips are) and a little humanisation of timing and velocity,
or the `Feel` of each role when a studio performance plays the same notes (`performance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from text2music.theory import (
    CHORD_INTERVALS,
    PITCH_CLASSES,
    PROGRESSIONS,
    Chord,
    progression_chords,
    scale_pitches,
)

# ---------------------------------------------------------------------------------------------
# Instruments (General MIDI programs, all present in TimGM6mb and FluidR3_GM)


@dataclass(frozen=True)
class Instrument:
    """A melodic instrument: GM program, the register it plays a melody in (`lead`) and the one
    it voices chords in (`comp`); `sustained` instruments hold notes (winds, bowed, organ, pads)."""

    name: str
    program: int
    lead: tuple[int, int]
    comp: tuple[int, int]
    sustained: bool


def _inst(name, program, lead, comp, sustained=False) -> Instrument:
    return Instrument(name, program, lead, comp, sustained)


INSTRUMENTS: dict[str, Instrument] = {
    i.name: i
    for i in [
        _inst("piano", 0, (60, 84), (50, 74)),
        _inst("electric piano", 4, (60, 84), (50, 74)),
        _inst("harpsichord", 6, (60, 84), (50, 74)),
        _inst("clavinet", 7, (60, 82), (52, 74)),
        _inst("vibraphone", 11, (60, 84), (53, 77)),
        _inst("marimba", 12, (60, 84), (53, 77)),
        _inst("organ", 16, (60, 84), (50, 74), True),
        _inst("rock organ", 18, (60, 84), (50, 74), True),
        _inst("accordion", 21, (60, 81), (52, 74), True),
        _inst("harmonica", 22, (60, 84), (55, 74), True),
        _inst("nylon guitar", 24, (57, 79), (40, 71)),
        _inst("acoustic guitar", 25, (57, 79), (40, 71)),
        _inst("jazz guitar", 26, (57, 79), (48, 70)),
        _inst("electric guitar", 27, (57, 81), (40, 71)),
        _inst("overdriven guitar", 29, (55, 79), (40, 64), True),
        _inst("distorted guitar", 30, (55, 79), (40, 64), True),
        _inst("violin", 40, (67, 91), (55, 79), True),
        _inst("cello", 42, (48, 72), (43, 64), True),
        _inst("pizzicato strings", 45, (60, 84), (50, 74)),
        _inst("harp", 46, (60, 84), (48, 79)),
        _inst("string ensemble", 48, (60, 84), (53, 76), True),
        _inst("synth strings", 50, (60, 84), (53, 76), True),
        _inst("choir", 52, (60, 79), (53, 74), True),
        _inst("trumpet", 56, (60, 82), (55, 74), True),
        _inst("trombone", 57, (48, 70), (48, 67), True),
        _inst("brass section", 61, (58, 80), (53, 74), True),
        _inst("synth brass", 62, (58, 80), (53, 74), True),
        _inst("alto saxophone", 65, (61, 82), (55, 74), True),
        _inst("tenor saxophone", 66, (53, 77), (50, 70), True),
        _inst("oboe", 68, (62, 86), (58, 79), True),
        _inst("clarinet", 71, (58, 84), (52, 74), True),
        _inst("flute", 73, (72, 93), (60, 81), True),
        _inst("pan flute", 75, (67, 88), (60, 79), True),
        _inst("square lead", 80, (60, 84), (52, 74), True),
        _inst("synth lead", 81, (60, 84), (52, 74), True),
        _inst("synth pad", 89, (60, 84), (50, 76), True),
        _inst("sitar", 104, (55, 79), (50, 72)),
        _inst("banjo", 105, (60, 81), (55, 76)),
        _inst("fiddle", 110, (67, 88), (55, 76), True),
        _inst("steel drums", 114, (60, 81), (55, 76)),
        _inst("kalimba", 108, (60, 84), (55, 79)),
    ]
}


@dataclass(frozen=True)
class Bass:
    """A bass instrument: GM program and the lowest root it plays (roots fall in [low, low+11])."""

    name: str
    program: int
    low: int


BASSES: dict[str, Bass] = {
    b.name: b
    for b in [
        Bass("upright bass", 32, 31),
        Bass("electric bass", 33, 31),
        Bass("picked bass", 34, 31),
        Bass("fretless bass", 35, 31),
        Bass("slap bass", 36, 33),
        Bass("synth bass", 38, 31),
        Bass("analog synth bass", 39, 31),
        Bass("cello", 42, 36),
        Bass("contrabass", 43, 31),
        Bass("piano", 0, 33),
        Bass("harpsichord", 6, 36),
        Bass("acoustic guitar", 25, 40),
        Bass("nylon guitar", 24, 40),
        Bass("tuba", 58, 31),
    ]
}

# GM drum kits: preset numbers in bank 128 (the percussion bank) of both soundfonts.
DRUM_KITS = {"standard": 0, "room": 8, "power": 16, "electronic": 24, "808": 25, "jazz": 32, "brush": 40}

DRUM_CHANNEL = 9

# ---------------------------------------------------------------------------------------------
# Genres


@dataclass(frozen=True)
class GenreSpec:
    """What a genre plausibly sounds like: tempo range, instruments per role with their playing
    styles, drum kits and patterns, chord progressions, and the odds of minor mode, loud
    dynamics, drums, swing, 3/4 time, an extra pad layer and a solo-instrument arrangement."""

    name: str
    bpm: tuple[int, int]
    leads: tuple[str, ...]
    accomps: tuple[tuple[str, tuple[str, ...]], ...]
    basses: tuple[tuple[str, tuple[str, ...]], ...]
    major: tuple[str, ...]
    minor: tuple[str, ...]
    minor_prob: float = 0.5
    loud_prob: float = 0.5
    drum_prob: float = 0.9
    kits: tuple[str, ...] = ("standard",)
    patterns: tuple[str, ...] = ("rock",)
    swing_prob: float = 0.0
    waltz_prob: float = 0.0
    pads: tuple[str, ...] = ()
    pad_prob: float = 0.0
    solo: tuple[tuple[str, str, str], ...] = ()  # (instrument, accompaniment style, bass style)
    solo_prob: float = 0.0


_KEYS_POP_MAJOR = ("I-V-vi-IV", "I-IV-V-IV", "I-vi-IV-V", "I-IV-V-I", "I-ii-IV-V", "I-iii-IV-V", "I-V-IV-I")
_KEYS_POP_MINOR = ("i-VI-III-VII", "i-VII-VI-V", "i-VI-VII-i", "i-iv-V-i", "i-VI-iv-V", "i-iv-VI-V")

GENRES: dict[str, GenreSpec] = {
    g.name: g
    for g in [
        GenreSpec(
            "classical",
            (60, 140),
            leads=("violin", "flute", "cello", "clarinet", "oboe", "piano", "harp", "harpsichord", "string ensemble", "trumpet"),
            accomps=(
                ("piano", ("arpeggio", "alberti", "block")),
                ("string ensemble", ("pad", "block")),
                ("harp", ("arpeggio",)),
                ("harpsichord", ("arpeggio", "alberti", "block")),
                ("pizzicato strings", ("block", "arpeggio")),
            ),
            basses=(("cello", ("roots", "half")), ("contrabass", ("roots", "half"))),
            major=("I-IV-V-IV", "I-IV-I-V", "I-ii-IV-V", "I-vi-IV-V", "I-IV-V-I"),
            minor=("i-iv-i-V", "i-VI-iv-V", "i-iv-V-i", "i-VII-VI-V"),
            minor_prob=0.5,
            loud_prob=0.25,
            drum_prob=0.0,
            waltz_prob=0.3,
            pads=("string ensemble",),
            pad_prob=0.2,
            solo=(("piano", "alberti", "half"), ("piano", "arpeggio", "roots"), ("harpsichord", "arpeggio", "half")),
            solo_prob=0.25,
        ),
        GenreSpec(
            "jazz",
            (80, 180),
            leads=("alto saxophone", "tenor saxophone", "trumpet", "piano", "vibraphone", "jazz guitar", "clarinet", "trombone", "flute"),
            accomps=(
                ("piano", ("comping",)),
                ("jazz guitar", ("comping",)),
                ("electric piano", ("comping",)),
                ("organ", ("comping", "pad")),
                ("vibraphone", ("comping",)),
            ),
            basses=(("upright bass", ("walking",)),),
            major=("I6-vi7-ii7-V7", "I6-IVmaj7-ii7-V7", "I6-ii7-V7-I6"),
            minor=("i-iv7-iiø7-V7", "i-VImaj7-iiø7-V7"),
            minor_prob=0.35,
            loud_prob=0.3,
            drum_prob=0.85,
            kits=("jazz", "brush"),
            patterns=("swing",),
            swing_prob=1.0,
            waltz_prob=0.1,
        ),
        GenreSpec(
            "rock",
            (100, 160),
            leads=("distorted guitar", "overdriven guitar", "electric guitar", "rock organ", "piano", "synth lead"),
            accomps=(
                ("distorted guitar", ("power",)),
                ("overdriven guitar", ("power",)),
                ("electric guitar", ("strum", "arpeggio")),
                ("acoustic guitar", ("strum",)),
                ("rock organ", ("pad", "block")),
                ("piano", ("block",)),
            ),
            basses=(("electric bass", ("eighths", "half")), ("picked bass", ("eighths",))),
            major=("I-IV-V-IV", "I-V-vi-IV", "I-IV-I-V", "I-V-IV-I", "I-I-IV-V"),
            minor=("i-VII-VI-V", "i-VI-VII-i", "i-i-VI-VII", "i-VI-III-VII", "i-iv-V-i"),
            minor_prob=0.45,
            loud_prob=0.75,
            drum_prob=0.97,
            kits=("standard", "room", "power"),
            patterns=("rock",),
        ),
        GenreSpec(
            "pop",
            (85, 130),
            leads=(
                "piano",
                "synth lead",
                "electric guitar",
                "electric piano",
                "marimba",
                "violin",
                "acoustic guitar",
                "vibraphone",
                "square lead",
                "flute",
            ),
            accomps=(
                ("piano", ("block", "arpeggio")),
                ("acoustic guitar", ("strum",)),
                ("electric piano", ("block",)),
                ("synth pad", ("pad",)),
                ("string ensemble", ("pad",)),
                ("electric guitar", ("arpeggio", "strum")),
            ),
            basses=(
                ("electric bass", ("syncopated", "half", "eighths")),
                ("synth bass", ("syncopated", "eighths")),
                ("fretless bass", ("half",)),
            ),
            major=_KEYS_POP_MAJOR,
            minor=_KEYS_POP_MINOR,
            minor_prob=0.35,
            loud_prob=0.5,
            drum_prob=0.8,
            kits=("standard", "electronic", "room"),
            patterns=("pop",),
            pads=("synth pad", "string ensemble"),
            pad_prob=0.25,
            solo=(("piano", "block", "half"), ("acoustic guitar", "strum", "roots")),
            solo_prob=0.1,
        ),
        GenreSpec(
            "electronic",
            (118, 150),
            leads=("synth lead", "square lead", "piano", "electric piano", "synth brass", "vibraphone"),
            accomps=(
                ("synth pad", ("pad", "stabs")),
                ("synth strings", ("pad",)),
                ("synth brass", ("stabs",)),
                ("electric piano", ("stabs",)),
                ("piano", ("stabs",)),
                ("square lead", ("arpeggio",)),
            ),
            basses=(("synth bass", ("offbeat", "octave", "eighths")), ("analog synth bass", ("offbeat", "octave"))),
            major=("I-V-vi-IV", "I-vi-IV-V", "I-IV-V-I", "I-I-IV-V"),
            minor=("i-VI-III-VII", "i-i-VI-VII", "i-VII-VI-V", "i-VI-VII-i", "i-iv-VI-V"),
            minor_prob=0.6,
            loud_prob=0.7,
            drum_prob=0.95,
            kits=("electronic", "808"),
            patterns=("four_on_floor",),
            pads=("synth pad", "synth strings"),
            pad_prob=0.3,
        ),
        GenreSpec(
            "ambient",
            (60, 90),
            leads=(
                "flute",
                "pan flute",
                "piano",
                "vibraphone",
                "harp",
                "electric piano",
                "kalimba",
                "string ensemble",
                "choir",
                "synth pad",
            ),
            accomps=(
                ("synth pad", ("pad", "arpeggio")),
                ("choir", ("pad",)),
                ("string ensemble", ("pad",)),
                ("harp", ("arpeggio",)),
                ("piano", ("arpeggio",)),
                ("kalimba", ("arpeggio",)),
            ),
            basses=(("synth bass", ("roots",)), ("fretless bass", ("roots",)), ("contrabass", ("roots",))),
            major=("I-IV-I-V", "I-V-vi-IV", "I-I-IV-V", "I-iii-IV-V"),
            minor=("i-VI-III-VII", "i-iv-i-V", "i-VI-VII-i", "i-i-VI-VII"),
            minor_prob=0.5,
            loud_prob=0.08,
            drum_prob=0.15,
            kits=("electronic", "808"),
            patterns=("ambient",),
            pads=("synth pad", "choir", "string ensemble"),
            pad_prob=0.6,
        ),
        GenreSpec(
            "hip hop",
            (70, 100),
            leads=("electric piano", "piano", "flute", "synth lead", "vibraphone", "string ensemble", "alto saxophone", "trumpet"),
            accomps=(
                ("electric piano", ("block", "stabs")),
                ("piano", ("block", "stabs")),
                ("synth pad", ("pad",)),
                ("string ensemble", ("pad", "stabs")),
                ("jazz guitar", ("comping",)),
            ),
            basses=(("synth bass", ("808",)), ("electric bass", ("syncopated", "808"))),
            major=("I-vi-IV-V", "I6-vi7-ii7-V7", "I-I-IV-V"),
            minor=("i-VI-III-VII", "i-iv-i-V", "i-i-VI-VII", "i-iv7-iiø7-V7", "i-VI-VII-i"),
            minor_prob=0.6,
            loud_prob=0.55,
            drum_prob=1.0,
            kits=("808", "standard", "electronic"),
            patterns=("boom_bap",),
            swing_prob=0.5,
        ),
        GenreSpec(
            "blues",
            (60, 130),
            leads=("electric guitar", "overdriven guitar", "harmonica", "piano", "alto saxophone", "tenor saxophone", "organ"),
            accomps=(
                ("piano", ("comping", "block")),
                ("electric guitar", ("shuffle", "comping")),
                ("organ", ("pad", "comping")),
                ("overdriven guitar", ("shuffle",)),
            ),
            basses=(("electric bass", ("boogie", "walking")), ("upright bass", ("walking", "boogie"))),
            major=("12-bar blues", "8-bar blues"),
            minor=("minor blues",),
            minor_prob=0.3,
            loud_prob=0.45,
            drum_prob=0.9,
            kits=("standard", "jazz", "brush"),
            patterns=("shuffle",),
            swing_prob=1.0,
        ),
        GenreSpec(
            "folk",
            (80, 130),
            leads=("fiddle", "flute", "violin", "harmonica", "accordion", "banjo", "acoustic guitar", "clarinet", "pan flute"),
            accomps=(
                ("acoustic guitar", ("strum", "arpeggio")),
                ("nylon guitar", ("arpeggio",)),
                ("accordion", ("block",)),
                ("banjo", ("arpeggio",)),
                ("harp", ("arpeggio",)),
                ("piano", ("block",)),
            ),
            basses=(("upright bass", ("root_fifth", "half")), ("electric bass", ("root_fifth",)), ("acoustic guitar", ("root_fifth",))),
            major=("I-IV-I-V", "I-IV-V-IV", "I-IV-V-I", "I-I-IV-V", "I-vi-IV-V"),
            minor=("i-VII-VI-V", "i-iv-V-i", "i-i-VI-VII", "i-iv-i-V"),
            minor_prob=0.4,
            loud_prob=0.3,
            drum_prob=0.5,
            kits=("brush", "standard", "room"),
            patterns=("folk",),
            waltz_prob=0.3,
            solo=(("acoustic guitar", "arpeggio", "roots"), ("nylon guitar", "arpeggio", "half")),
            solo_prob=0.15,
        ),
        GenreSpec(
            "country",
            (90, 150),
            leads=("fiddle", "banjo", "electric guitar", "harmonica", "piano", "acoustic guitar"),
            accomps=(("acoustic guitar", ("strum",)), ("banjo", ("arpeggio",)), ("piano", ("block",)), ("electric guitar", ("arpeggio",))),
            basses=(("electric bass", ("root_fifth",)), ("upright bass", ("root_fifth",))),
            major=("I-IV-I-V", "I-IV-V-IV", "I-IV-V-I", "I-I-IV-V"),
            minor=("i-VII-VI-V", "i-iv-i-V", "i-VI-VII-i"),
            minor_prob=0.2,
            loud_prob=0.4,
            drum_prob=0.8,
            kits=("standard", "brush", "room"),
            patterns=("country",),
            waltz_prob=0.15,
        ),
        GenreSpec(
            "reggae",
            (65, 95),
            leads=("organ", "trumpet", "tenor saxophone", "electric guitar", "trombone", "harmonica", "synth lead"),
            accomps=(("electric guitar", ("skank",)), ("organ", ("skank",)), ("piano", ("skank",)), ("clavinet", ("skank",))),
            basses=(("electric bass", ("reggae",)), ("synth bass", ("reggae",))),
            major=("I-I-IV-V", "I-IV-I-V", "I-IV-V-IV", "I-vi-IV-V"),
            minor=("i-iv-i-V", "i-i-VI-VII", "i-VI-VII-i", "i-iv-V-i"),
            minor_prob=0.5,
            loud_prob=0.4,
            drum_prob=0.95,
            kits=("standard", "room"),
            patterns=("one_drop",),
        ),
        GenreSpec(
            "latin",
            (90, 140),
            leads=(
                "trumpet",
                "flute",
                "nylon guitar",
                "piano",
                "alto saxophone",
                "trombone",
                "marimba",
                "vibraphone",
                "steel drums",
                "accordion",
            ),
            accomps=(
                ("piano", ("montuno",)),
                ("nylon guitar", ("arpeggio", "bossa")),
                ("acoustic guitar", ("strum",)),
                ("brass section", ("stabs",)),
                ("marimba", ("montuno",)),
            ),
            basses=(("upright bass", ("tumbao",)), ("electric bass", ("tumbao",))),
            major=("I-IV-V-IV", "I-IV-I-V", "I6-ii7-V7-I6", "I-vi-IV-V"),
            minor=("i-iv-i-V", "i-VI-iv-V", "i-VII-VI-V", "i-iv7-iiø7-V7"),
            minor_prob=0.45,
            loud_prob=0.5,
            drum_prob=0.9,
            kits=("standard", "room"),
            patterns=("latin",),
        ),
        GenreSpec(
            "metal",
            (100, 180),
            leads=("distorted guitar", "overdriven guitar", "synth lead", "violin", "rock organ"),
            accomps=(("distorted guitar", ("power",)), ("overdriven guitar", ("power",))),
            basses=(("picked bass", ("eighths",)), ("electric bass", ("eighths",))),
            major=("I-V-IV-I", "I-IV-V-IV"),
            minor=("i-VI-VII-i", "i-VII-VI-V", "i-iv-V-i", "i-VI-iv-V", "i-i-VI-VII"),
            minor_prob=0.9,
            loud_prob=0.95,
            drum_prob=1.0,
            kits=("power", "standard"),
            patterns=("metal",),
            pads=("string ensemble", "choir"),
            pad_prob=0.2,
        ),
    ]
}


# ---------------------------------------------------------------------------------------------
# Song attributes


@dataclass(frozen=True)
class PartSpec:
    """One part of the arrangement: which instrument plays what role on which MIDI channel."""

    name: str  # instrument name (INSTRUMENTS / BASSES key) or drum kit name
    role: str  # lead / accompaniment / bass / drums
    program: int
    style: str  # playing style: 'melody', an accompaniment figure, a bass style or a drum pattern
    channel: int
    volume: int  # MIDI CC7
    is_drums: bool = False

    @property
    def bank(self) -> int:
        return 128 if self.is_drums else 0


@dataclass(frozen=True)
class Song:
    """The ground truth of one clip."""

    genre: str
    tonic: int
    mode: str
    bpm: int
    meter: int  # beats per bar: 4 or 3
    swing: bool
    progression: str
    parts: tuple[PartSpec, ...]
    drums: bool
    drum_kit: str | None
    drum_pattern: str | None
    dynamics: str  # soft / loud
    mood: str  # sad / mysterious / dramatic / calm / cheerful / happy
    phase: float  # the clip starts this many beats into the composition
    solo: bool = False

    @property
    def key(self) -> str:
        return PITCH_CLASSES[self.tonic]

    @property
    def tempo_class(self) -> str:
        return tempo_class(self.bpm)

    def part(self, role: str) -> PartSpec | None:
        return next((p for p in self.parts if p.role == role), None)


def tempo_class(bpm: float) -> str:
    """slow (< 90 BPM), medium (90-124) or fast (>= 125)."""
    return "slow" if bpm < 90 else ("medium" if bpm < 125 else "fast")


def mood_for(mode: str, bpm: float) -> str:
    """The mood class the music carries: minor+slow -> sad, major+fast -> happy, and so on."""
    t = tempo_class(bpm)
    if mode == "minor":
        return {"slow": "sad", "medium": "mysterious", "fast": "dramatic"}[t]
    return {"slow": "calm", "medium": "cheerful", "fast": "happy"}[t]


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def sample_song(rng: np.random.Generator, genre: str | None = None, drum_prob: float | None = None) -> Song:
    """Draw the attributes of one clip (genre uniform unless given). `drum_prob`: the chance of
    drums in place of the genre's own (a solo arrangement never has drums)."""
    if genre is None:
        genre = _pick(rng, sorted(GENRES))
    if genre not in GENRES:
        raise ValueError(f"unknown genre {genre!r}; choose one of {sorted(GENRES)}")
    g = GENRES[genre]
    mode = "minor" if rng.random() < g.minor_prob else "major"
    tonic = int(rng.integers(12))
    bpm = int(rng.integers(g.bpm[0], g.bpm[1] + 1))
    meter = 3 if rng.random() < g.waltz_prob else 4
    swing = bool(rng.random() < g.swing_prob)
    progression = _pick(rng, g.minor if mode == "minor" else g.major)
    drums = bool(rng.random() < (g.drum_prob if drum_prob is None else drum_prob))
    dynamics = "loud" if rng.random() < g.loud_prob else "soft"
    solo = bool(g.solo and rng.random() < g.solo_prob)

    parts: list[PartSpec] = []
    if solo:
        name, acc_style, bass_style = _pick(rng, g.solo)
        inst = INSTRUMENTS[name]
        parts += [
            PartSpec(name, "lead", inst.program, "melody", 0, 112),
            PartSpec(name, "accompaniment", inst.program, acc_style, 1, 88),
            PartSpec(name, "bass", BASSES[name].program, bass_style, 3, 92),
        ]
        drums = False
    else:
        lead = _pick(rng, g.leads)
        acc_options = [a for a in g.accomps if a[0] != lead] or list(g.accomps)
        if not drums:  # without drums the accompaniment must carry the pulse
            acc_options = [(n, tuple(s for s in st if s != "pad")) for n, st in acc_options]
            acc_options = [a for a in acc_options if a[1]] or list(g.accomps)
        acc_name, acc_styles = _pick(rng, acc_options)
        acc_style = _pick(rng, acc_styles)
        if meter == 3 and acc_style not in ("block", "arpeggio", "alberti", "strum", "pad", "comping"):
            acc_style = "block"
        bass_name, bass_styles = _pick(rng, g.basses)
        bass_style = _pick(rng, bass_styles)
        if meter == 3 and bass_style not in ("roots", "half", "root_fifth", "walking"):
            bass_style = "roots"
        parts += [
            PartSpec(lead, "lead", INSTRUMENTS[lead].program, "melody", 0, 112),
            PartSpec(acc_name, "accompaniment", INSTRUMENTS[acc_name].program, acc_style, 1, 80 if acc_style == "pad" else 88),
        ]
        pad_options = [p for p in g.pads if p not in (lead, acc_name)]
        if pad_options and acc_style != "pad" and rng.random() < g.pad_prob:
            pad = _pick(rng, pad_options)
            parts.append(PartSpec(pad, "accompaniment", INSTRUMENTS[pad].program, "pad", 2, 68))
        parts.append(PartSpec(bass_name, "bass", BASSES[bass_name].program, bass_style, 3, 100))

    kit = pattern = None
    if drums:
        kit = _pick(rng, g.kits)
        pattern = "waltz" if meter == 3 else _pick(rng, g.patterns)
        parts.append(PartSpec(kit, "drums", DRUM_KITS[kit], pattern, DRUM_CHANNEL, 100, is_drums=True))

    return Song(
        genre=genre,
        tonic=tonic,
        mode=mode,
        bpm=bpm,
        meter=meter,
        swing=swing,
        progression=progression,
        parts=tuple(parts),
        drums=drums,
        drum_kit=kit,
        drum_pattern=pattern,
        dynamics=dynamics,
        mood=mood_for(mode, bpm),
        phase=float(rng.uniform(0, meter)),
        solo=solo,
    )


# ---------------------------------------------------------------------------------------------
# Notes


@dataclass(frozen=True)
class Note:
    """A note in seconds from the clip start."""

    start: float
    end: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class _BeatNote:
    beat: float
    length: float
    pitch: int
    velocity: float


@dataclass(frozen=True)
class _Slot:
    """One chord of the harmonic rhythm: [beat, beat + length)."""

    beat: float
    length: float
    chord: Chord
    next_chord: Chord
    bar: int


@dataclass
class _Ctx:
    song: Song
    slots: list[_Slot]
    total_beats: float
    base_vel: float
    rng: np.random.Generator
    swing_amount: float = 0.0  # how far a swung offbeat eighth is delayed, in beats


def _chord_slots(song: Song, total_beats: float) -> list[_Slot]:
    prog = PROGRESSIONS[song.progression]
    chords = progression_chords(prog, song.tonic)
    per_bar = 2 if (song.meter == 4 and song.bpm < 80 and len(prog.degrees) <= 4) else 1
    length = song.meter / per_bar
    n = int(math.ceil(total_beats / length))
    return [
        _Slot(i * length, length, chords[i % len(chords)], chords[(i + 1) % len(chords)], int(i * length // song.meter)) for i in range(n)
    ]


def timeline(song: Song, duration: float) -> dict:
    """The clip's time grid as ground truth, JSON-ready: `beats` and `downbeats` (seconds from the
    clip start, before humanisation), `beat_offset` (beats into the composition at time 0: a bar
    starts at every multiple of the meter) and `chord_slots` [[start beat, length in beats, root
    pitch class, [pitch classes]], ...] in composition beats, those that sound within the clip."""
    beat_sec = 60.0 / song.bpm
    end_beat = song.phase + duration / beat_sec
    whole = range(int(math.ceil(song.phase - 1e-9)), int(math.floor(end_beat - 1e-9)) + 1)
    beats = [round((k - song.phase) * beat_sec, 4) for k in whole]
    downbeats = [round((k - song.phase) * beat_sec, 4) for k in whole if k % song.meter == 0]
    slots = [s for s in _chord_slots(song, end_beat + song.meter) if s.beat < end_beat and s.beat + s.length > song.phase]
    return {
        "beat_offset": round(song.phase, 6),
        "beats": beats,
        "downbeats": downbeats,
        "chord_slots": [[s.beat, s.length, s.chord.root, list(s.chord.pitch_classes)] for s in slots],
    }


def _root_in(pc: int, low: int) -> int:
    return low + (pc - low) % 12


def voice_chord(chord: Chord, low: int, high: int, prev: tuple[int, ...] | None, n_notes: int = 3) -> tuple[int, ...]:
    """A close-position voicing of `chord` within [low, high] nearest the previous voicing (voice
    leading) or the middle of the range."""
    pcs = list(chord.pitch_classes)
    if len(pcs) > n_notes:  # three voices: drop the added sixth, or the fifth of a seventh chord
        pcs = pcs[:3] if chord.quality == "6" else [pcs[0], pcs[1], pcs[3]]
    best, best_cost = None, math.inf
    center = (low + high) / 2
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base in range(low, high - 6):
            if base % 12 != order[0]:
                continue
            notes, p = [base], base
            for pc in order[1:]:
                p = p + ((pc - p) % 12 or 12)
                notes.append(p)
            if notes[-1] > high:
                continue
            cost = sum(abs(a - b) for a, b in zip(notes, prev)) if prev and len(prev) == len(notes) else abs(np.mean(notes) - center) * 1.5
            cost += 0.5 * abs(np.mean(notes) - center) / 6
            if cost < best_cost:
                best, best_cost = tuple(notes), cost
    if best is None:  # range too narrow: stack from the root upwards
        base = _root_in(pcs[0], low)
        best = tuple(sorted(base + CHORD_INTERVALS[chord.quality][i] for i in range(len(pcs))))
    return best


def _swing(beat: float, amount: float) -> float:
    frac = beat % 1.0
    return beat + amount if abs(frac - 0.5) < 1e-6 else beat


# --- melody --------------------------------------------------------------------------------

# One-beat rhythm cells (lengths in beats; negative = rest) with their weights at slow/fast tempi.
_CELLS = [
    ((1.0,), 3.0, 3.0),
    ((0.5, 0.5), 3.0, 1.2),
    ((0.75, 0.25), 1.0, 0.3),
    ((-0.5, 0.5), 0.8, 0.6),
    ((0.5, 0.25, 0.25), 0.8, 0.1),
    ((0.25, 0.25, 0.25, 0.25), 0.5, 0.0),
    ((2.0,), 1.2, 2.0),
    ((-1.0,), 0.4, 0.6),
]


def _bar_rhythm(rng: np.random.Generator, meter: int, bpm: int, ending: bool) -> list[tuple[float, float]]:
    """(onset, length) pairs within one bar; negative lengths are rests."""
    fast = min(1.0, max(0.0, (bpm - 70) / 90))
    weights = np.array([(1 - fast) * s + fast * f for _, s, f in _CELLS])
    out, beat = [], 0.0
    if ending:  # phrase end: a couple of notes then a long one
        if rng.random() < 0.5:
            out.append((0.0, 1.0))
            beat = 1.0
        out.append((beat, meter - beat))
        return out
    while beat < meter - 1e-9:
        w = weights.copy()
        if meter - beat < 2:
            w[6] = 0
        cell = _CELLS[int(rng.choice(len(_CELLS), p=w / w.sum()))][0]
        for length in cell:
            out.append((beat, length))
            beat += abs(length)
    return out


def _melody(ctx: _Ctx, part: PartSpec) -> list[_BeatNote]:
    song, rng = ctx.song, ctx.rng
    inst = INSTRUMENTS[part.name]
    low, high = inst.lead
    pentatonic = song.genre in ("rock", "blues", "country", "folk", "metal", "hip hop") and rng.random() < 0.5
    scale = scale_pitches(song.tonic, song.mode, low, high, pentatonic=pentatonic)
    full_scale = scale_pitches(song.tonic, song.mode, low, high)
    n_bars = int(math.ceil(ctx.total_beats / song.meter))
    motif = [_bar_rhythm(rng, song.meter, song.bpm, False) for _ in range(2)]
    idx = int(np.argmin([abs(p - (low + high) / 2) for p in scale]))
    notes: list[_BeatNote] = []
    for bar in range(n_bars):
        pos = bar % 4
        ending = pos == 3
        rhythm = _bar_rhythm(rng, song.meter, song.bpm, True) if ending else (motif[0] if pos in (0, 2) else motif[1])
        if pos == 2 and rng.random() < 0.4:
            rhythm = _bar_rhythm(rng, song.meter, song.bpm, False)
        for onset, length in rhythm:
            if length < 0:
                continue
            beat = bar * song.meter + onset
            slot = _slot_at(ctx.slots, beat)
            chord_pcs = set(slot.chord.pitch_classes)
            strong = abs(onset % 1) < 1e-6 and (onset in (0.0, 2.0) or length >= 1.5)
            if strong or ending:
                tones = sorted(
                    set([p for p in full_scale if p % 12 in chord_pcs] + [p for p in range(low, high + 1) if p % 12 in chord_pcs])
                )
                cur = scale[idx]
                near = sorted(tones, key=lambda p: (abs(p - cur), p))[:2]
                if ending and onset > 0:  # cadence: prefer the tonic if the chord has it
                    near = [p for p in near if p % 12 == song.tonic] or near
                elif slot.chord.root == song.tonic and rng.random() < 0.6:  # on the tonic chord, sing its third
                    third = (song.tonic + (3 if song.mode == "minor" else 4)) % 12
                    near = [min((p for p in tones if p % 12 == third), key=lambda p: abs(p - cur), default=near[0])]
                pitch = near[int(rng.integers(len(near)))]
                idx = int(np.argmin([abs(p - pitch) for p in scale]))
            else:
                step = int(rng.choice([-2, -1, 0, 1, 2, -3, 3, -4, 4], p=[0.13, 0.3, 0.06, 0.3, 0.13, 0.03, 0.03, 0.01, 0.01]))
                center = len(scale) / 2
                if (idx - center) * step > 0 and abs(idx - center) > len(scale) / 3:
                    step = -step
                idx = int(np.clip(idx + step, 0, len(scale) - 1))
                pitch = scale[idx]
            accent = 8 if abs(onset) < 1e-6 else (4 if strong else 0)
            hold = 0.95 if inst.sustained else 0.9
            notes.append(_BeatNote(_swing(beat, ctx.swing_amount) if song.swing else beat, length * hold, pitch, ctx.base_vel + accent))
    return notes


def _slot_at(slots: list[_Slot], beat: float) -> _Slot:
    for s in slots:
        if s.beat <= beat < s.beat + s.length:
            return s
    return slots[-1]


# --- accompaniment -------------------------------------------------------------------------


@dataclass
class _Comp:
    """What every accompaniment style reads: the song's context, the part's range and loudness,
    the per-song rhythmic choices (all drawn up front, whatever the style, in a fixed order) and
    the previous voicing (for smooth voice leading)."""

    ctx: _Ctx
    low: int
    high: int
    v: float
    sw: float
    block_hits: tuple
    strum: tuple
    sub: float
    power_rhythm: str
    stab_hits: tuple
    beat_sec: float
    prev: tuple[int, ...] | None = None

    @property
    def rng(self) -> np.random.Generator:
        return self.ctx.rng


def _comp_context(ctx: _Ctx, part: PartSpec) -> _Comp:
    song, rng = ctx.song, ctx.rng
    low, high = INSTRUMENTS[part.name].comp
    block_hits = _pick(rng, [(0, 1, 2, 3), (0, 2), (0, 1.5, 3), (0, 2, 2.5)]) if song.meter == 4 else (0, 1, 2)
    strum = (
        _pick(
            rng,
            [
                ((0, "D"), (1, "D"), (1.5, "U"), (2.5, "U"), (3, "D"), (3.5, "U")),
                ((0, "D"), (1, "D"), (2, "D"), (3, "D")),
                ((0, "D"), (1, "D"), (1.5, "U"), (2, "D"), (3, "D"), (3.5, "U")),
            ],
        )
        if song.meter == 4
        else ((0, "D"), (1, "D"), (2, "U"))
    )
    sub = 0.25 if (song.bpm < 85 and rng.random() < 0.5) else 0.5
    power_rhythm = _pick(rng, ["chug", "sustain", "gallop"] if song.genre == "metal" else ["chug", "sustain"])
    stab_hits = _pick(rng, [(0.5, 1.5, 2.5, 3.5), (0, 0.75, 1.5, 2.5, 3.25), (0.5, 1.5, 2.5, 3.0, 3.5)])
    return _Comp(
        ctx,
        low,
        high,
        ctx.base_vel - 12,
        ctx.swing_amount if song.swing else 0.0,
        block_hits,
        strum,
        sub,
        power_rhythm,
        stab_hits,
        60.0 / song.bpm,
    )


def _chord_voicing(c: _Comp, slot: _Slot, n_notes: int) -> tuple[int, ...]:
    c.prev = voice_chord(slot.chord, c.low, c.high, c.prev, n_notes)
    return c.prev


def _hits(c: _Comp, slot: _Slot, hits, length: float, accent: float, voicing: tuple[int, ...]) -> list[_BeatNote]:
    return [_BeatNote(slot.beat + h, length, p, c.v + accent) for h in hits if h < slot.length for p in voicing]


def _comp_pad(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    voicing = _chord_voicing(c, slot, 4 if len(slot.chord.pitch_classes) == 4 else 3)
    return [_BeatNote(slot.beat, slot.length * 0.98, p, c.v - 4) for p in voicing]


def _comp_block(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    voicing = _chord_voicing(c, slot, 3)
    hits = [h for h in c.block_hits if h < slot.length] or [0]
    notes = []
    for i, h in enumerate(hits):
        nxt = hits[i + 1] if i + 1 < len(hits) else slot.length
        notes += [_BeatNote(slot.beat + h, (nxt - h) * 0.9, p, c.v + (6 if h == 0 else 0)) for p in voicing]
    return notes


def _comp_comping(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    voicing = _chord_voicing(c, slot, 4 if len(slot.chord.pitch_classes) == 4 else 3)
    grid = [x * 0.5 for x in range(int(slot.length * 2))]
    k = min(len(grid), int(c.rng.integers(2, 4)))
    notes = []
    for h in sorted(c.rng.choice(grid, size=k, replace=False).tolist()):
        dur = float(c.rng.choice([0.4, 0.9, 1.4]))
        notes += [_BeatNote(slot.beat + _swing(h, c.sw), dur, p, c.v + c.rng.integers(-4, 5)) for p in voicing]
    return notes


def _comp_skank(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    return _hits(c, slot, (1.0, 3.0), 0.3, 4, _chord_voicing(c, slot, 3))


def _comp_stabs(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    return _hits(c, slot, c.stab_hits, 0.3, 2, _chord_voicing(c, slot, 3))


def _comp_bossa(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    return _hits(c, slot, (0, 1.5, 2.5, 3.5), 0.45, 0, _chord_voicing(c, slot, 3))


def _broken_chord(c: _Comp, slot: _Slot, seq: list[int], step: float, hold: float, skip_offbeat: bool = False) -> list[_BeatNote]:
    """`seq` cycled every `step` beats over the slot (a montuno skips the off-beat of every half bar)."""
    notes = []
    t, i = 0.0, 0
    while t < slot.length - 1e-9:
        if skip_offbeat and (t % 2) == 0.5:  # syncopated gaps
            t += step
            continue
        notes.append(_BeatNote(slot.beat + _swing(t, c.sw), step * hold, seq[i % len(seq)], c.v + (5 if abs(t % 1) < 1e-6 else 0)))
        t += step
        i += 1
    return notes


def _arp_voicing(c: _Comp, slot: _Slot, lead_voices: bool) -> tuple[int, ...]:
    arp_low = max(c.low, 48)
    c.prev = voice_chord(slot.chord, arp_low, min(c.high, arp_low + 14), c.prev if lead_voices else None, 3)
    return c.prev


def _comp_arpeggio(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    voicing = _arp_voicing(c, slot, False)
    up = list(voicing) + [p + 12 for p in voicing if p + 12 <= c.high + 5]
    pattern = _pick(c.rng, ["up", "updown"]) if slot.bar == 0 else ("updown" if (slot.bar % 2) else "up")
    return _broken_chord(c, slot, up if pattern == "up" else up + up[-2:0:-1], c.sub, 1.8)


def _comp_alberti(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    voicing = _arp_voicing(c, slot, True)
    return _broken_chord(c, slot, [voicing[0], voicing[2], voicing[1], voicing[2]], 0.5, 0.95)


def _comp_montuno(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    voicing = _arp_voicing(c, slot, False)
    seq = [voicing[0], voicing[1] + 12 if voicing[1] + 12 <= c.high + 12 else voicing[1], voicing[2], voicing[0] + 12]
    return _broken_chord(c, slot, seq, 0.5, 0.95, skip_offbeat=True)


def _comp_strum(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    root = _root_in(slot.chord.root, c.low)
    shape = [root]
    pcs = list(slot.chord.pitch_classes)
    p = root
    while len(shape) < 6:
        p = min(q for q in range(p + 3, p + 10) if q % 12 in pcs)
        if p > c.high:
            break
        shape.append(p)
    string_gap = 0.012 / c.beat_sec  # 12 ms between strings
    notes = []
    for h, direction in c.strum:
        if h >= slot.length:
            continue
        strings = shape if direction == "D" else shape[::-1][:4]
        vel = c.v + (6 if h == 0 else 0) - (8 if direction == "U" else 0)
        nxt = min([x for x, _ in c.strum if x > h] + [slot.length])
        for j, s in enumerate(strings):
            notes.append(_BeatNote(slot.beat + _swing(h, c.sw) + j * string_gap, (nxt - h) * 0.95, s, vel))
    return notes


def _comp_power(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    root = _root_in(slot.chord.root, c.low)
    shape = (root, root + 7, root + 12)
    L = slot.length
    if c.power_rhythm == "sustain":
        hits = [(h, min(2.0, L - h) * 0.95) for h in np.arange(0, L, 2.0)]
    elif c.power_rhythm == "gallop":
        hits = [(b + o, 0.22) for b in range(int(L)) for o in (0.0, 0.5, 0.75)]
    else:
        hits = [(h, 0.35) for h in np.arange(0, L, 0.5)]
    return [_BeatNote(slot.beat + float(h), dur, p, c.v + (8 if abs(h % 2) < 1e-6 else 0)) for h, dur in hits for p in shape]


def _comp_shuffle(c: _Comp, slot: _Slot) -> list[_BeatNote]:
    root = _root_in(slot.chord.root, c.low)
    sixth = 9
    notes = []
    for k, h in enumerate(np.arange(0, slot.length, 0.5)):
        top = root + (7 if (k // 2) % 2 == 0 else sixth)
        for p in (root, top):
            notes.append(_BeatNote(slot.beat + _swing(float(h), c.sw), 0.45, p, c.v + (5 if k % 2 == 0 else -3)))
    return notes


# accompaniment style -> the notes of one chord slot
ACCOMPANIMENT_STYLES = {
    "pad": _comp_pad,
    "block": _comp_block,
    "comping": _comp_comping,
    "skank": _comp_skank,
    "stabs": _comp_stabs,
    "bossa": _comp_bossa,
    "arpeggio": _comp_arpeggio,
    "alberti": _comp_alberti,
    "montuno": _comp_montuno,
    "strum": _comp_strum,
    "power": _comp_power,
    "shuffle": _comp_shuffle,
}


def _accompaniment(ctx: _Ctx, part: PartSpec) -> list[_BeatNote]:
    if part.style not in ACCOMPANIMENT_STYLES:
        raise ValueError(f"unknown accompaniment style {part.style!r}")
    write = ACCOMPANIMENT_STYLES[part.style]
    comp = _comp_context(ctx, part)
    return [note for slot in ctx.slots for note in write(comp, slot)]


# --- bass ----------------------------------------------------------------------------------


def _bass(ctx: _Ctx, part: PartSpec) -> list[_BeatNote]:
    song, rng = ctx.song, ctx.rng
    low = BASSES[part.name].low
    style = part.style
    v = ctx.base_vel - 2
    sw = ctx.swing_amount if song.swing else 0.0
    notes: list[_BeatNote] = []
    scale = scale_pitches(song.tonic, song.mode, low, low + 24)
    for si, slot in enumerate(ctx.slots):
        b0, L, chord = slot.beat, slot.length, slot.chord
        root = _root_in(chord.root, low)
        fifth = root + 7 if root + 7 <= low + 16 else root - 5
        third = root + (CHORD_INTERVALS[chord.quality][1])
        octave = root + 12

        def add(beat, length, pitch, accent=0.0):
            notes.append(_BeatNote(b0 + beat, length, pitch, v + accent))

        if style == "roots":
            add(0, L * 0.97, root, 4)
        elif style == "half":
            for h in np.arange(0, L, 2.0):
                add(float(h), min(2.0, L - h) * 0.9, root if h == 0 else _pick(rng, [root, fifth, octave]), 4 if h == 0 else 0)
        elif style == "eighths":
            for h in np.arange(0, L, 0.5):
                add(float(h), 0.42, root, 6 if abs(h % 1) < 1e-6 else 0)
        elif style == "root_fifth":
            if song.meter == 3:
                add(0, 0.9, root if slot.bar % 2 == 0 else fifth, 6)
            else:
                for h in np.arange(0, L, 2.0):
                    add(float(h), 0.9, root if h == 0 else fifth, 6 if h == 0 else 2)
        elif style == "walking":
            nxt = _root_in(slot.next_chord.root, low)
            n_beats = int(L)
            line = [root]
            cur = root
            for k in range(1, n_beats):
                if k == n_beats - 1:
                    cur = nxt + (1 if rng.random() < 0.5 else -1)
                else:
                    chord_tones = [p for p in range(low, low + 20) if p % 12 in chord.pitch_classes and p != cur]
                    cands = [p for p in scale if 0 < abs(p - cur) <= 2] + sorted(chord_tones, key=lambda p: abs(p - cur))[:2]
                    cur = _pick(rng, cands) if cands else cur
                line.append(cur)
            for k, p in enumerate(line):
                add(float(k), 0.9, p, 5 if k == 0 else 0)
        elif style == "boogie":
            seventh = root + (10 if chord.quality in ("7", "min7") else 11)
            figure = [root, third, root + 7, root + 9, seventh, root + 9, root + 7, third]
            for k, h in enumerate(np.arange(0, L, 0.5)):
                add(_swing(float(h), sw), 0.45, figure[k % 8], 5 if k % 2 == 0 else 0)
        elif style == "octave":
            for k, h in enumerate(np.arange(0, L, 0.5)):
                add(float(h), 0.4, root if k % 2 == 0 else octave, 4 if k % 2 == 0 else 0)
        elif style == "offbeat":
            for h in np.arange(0.5, L, 1.0):
                add(float(h), 0.4, root, 4)
        elif style == "syncopated":
            for h, p, d in ((0, root, 1.4), (1.5, root, 0.9), (2.5, fifth, 0.45), (3.0, root, 0.9)):
                if h < L:
                    add(h, d, p, 5 if h == 0 else 0)
        elif style == "808":
            for h, d in ((0, 1.4), (1.5, 0.9), (2.5, 1.4)):
                if h < L:
                    add(h, d, root - 12 if root - 12 >= 24 else root, 8)
        elif style == "reggae":
            for h, p, d in ((0.0, root, 0.9), (1.5, root, 0.45), (2.0, fifth, 0.9), (3.5, octave, 0.45)):
                if h < L:
                    add(h, d, p, 4 if h == 0 else 0)
        elif style == "tumbao":
            for h, p, d in ((0.0, root, 1.4), (1.5, fifth, 1.4), (3.0, root, 0.9)):
                if h < L:
                    add(h, d, p, 4 if h == 0 else 0)
        else:
            raise ValueError(f"unknown bass style {style!r}")
    return notes


# --- drums ---------------------------------------------------------------------------------

KICK, SIDESTICK, SNARE, CLAP, E_SNARE = 36, 37, 38, 39, 40
CHH, PHH, OHH, CRASH, RIDE, TAMB, COWBELL = 42, 44, 46, 49, 51, 54, 56
LOW_TOM, MID_TOM, HIGH_TOM = 45, 47, 50
HI_BONGO, MUTE_CONGA, OPEN_CONGA, LOW_CONGA, CABASA, MARACAS, CLAVES = 60, 62, 63, 64, 69, 70, 75


def _drum_bar(pattern: str, bar: int, variant: int, meter: int) -> list[tuple[float, int, float]]:
    """(beat, drum note, velocity offset) hits of one bar of a pattern."""
    T = 2.0 / 3.0  # the swung offbeat (triplet feel)
    eighths = [x * 0.5 for x in range(2 * meter)]
    sixteenths = [x * 0.25 for x in range(4 * meter)]
    h: list[tuple[float, int, float]] = []
    if pattern == "rock":
        h += [(0, KICK, 8), (2, KICK, 4)] + ([(2.5, KICK, 0)] if variant % 2 else [])
        h += [(1, SNARE, 8), (3, SNARE, 8)]
        h += [(b, RIDE if variant == 2 else CHH, 0 if b % 1 == 0 else -10) for b in eighths]
    elif pattern == "pop":
        h += [(0, KICK, 8), (1.5, KICK, 0), (2, KICK, 4)] if variant % 2 else [(0, KICK, 8), (2, KICK, 4), (2.5, KICK, 0)]
        h += [(1, CLAP if variant >= 2 else SNARE, 6), (3, CLAP if variant >= 2 else SNARE, 6)]
        h += [(b, CHH, 0 if b % 1 == 0 else -12) for b in (sixteenths if variant == 1 else eighths)]
    elif pattern == "four_on_floor":
        h += [(b, KICK, 10) for b in range(4)] + [(1, CLAP, 4), (3, CLAP, 4)]
        h += [(b + 0.5, OHH, -4) for b in range(4)]
        if variant % 2:
            h += [(b, CHH, -16) for b in sixteenths if b % 0.5 != 0]
    elif pattern == "boom_bap":
        h += [(0, KICK, 10), (1.75, KICK, 2), (2.5, KICK, 6)] if variant % 2 else [(0, KICK, 10), (0.75, KICK, 0), (2.5, KICK, 6)]
        h += [(1, SNARE, 10), (3, SNARE, 10)]
        h += [(b, CHH, 0 if b % 1 == 0 else -12) for b in eighths]
    elif pattern == "swing":
        h += [(0, RIDE, 4), (1, RIDE, 4), (1 + T, RIDE, -8), (2, RIDE, 4), (3, RIDE, 4), (3 + T, RIDE, -8)]
        h += [(1, PHH, -4), (3, PHH, -4), (0, KICK, -14), (2, KICK, -16)]
        if variant % 2:
            h += [(2 + T, SNARE, -20)]
    elif pattern == "shuffle":
        h += [(b, CHH, 0) for b in range(4)] + [(b + T, CHH, -10) for b in range(4)]
        h += [(0, KICK, 8), (2, KICK, 6), (1, SNARE, 8), (3, SNARE, 8)]
    elif pattern == "one_drop":
        h += [(2, KICK, 10), (2, SIDESTICK, 6)]
        h += [(b, CHH, 0 if b % 1 == 0 else -10) for b in eighths]
        if variant % 2:
            h += [(3.5, OHH, -6)]
    elif pattern == "latin":
        clave = (0, 1.5, 3) if bar % 2 == 0 else (1, 2)
        h += [(b, CLAVES, 0) for b in clave]
        h += [(1, MUTE_CONGA, -6), (2.5, OPEN_CONGA, 0), (3, OPEN_CONGA, 2), (3.5, LOW_CONGA, -2)]
        h += [(b, MARACAS if variant % 2 else CABASA, -14) for b in eighths]
        h += [(0, KICK, 4), (2.5, KICK, -2)]
    elif pattern == "metal":
        h += [(b, KICK, 6 if b % 1 == 0 else 0) for b in (sixteenths if variant % 2 else eighths)]
        h += [(1, SNARE, 12), (3, SNARE, 12)]
        h += [(b, CRASH if variant == 2 else RIDE, -2) for b in (eighths if variant != 2 else range(4))]
    elif pattern == "country":
        h += [(0, KICK, 6), (2, KICK, 6)]
        if variant % 2:  # train beat: snare eighths with backbeat accents
            h += [(b, SNARE, 6 if b in (1, 3) else -16) for b in eighths]
        else:
            h += [(1, SNARE, 6), (3, SNARE, 6)] + [(b, CHH, 0 if b % 1 == 0 else -10) for b in eighths]
    elif pattern == "folk":
        h += [(0, KICK, 2), (2, KICK, 0)]
        h += [(b, TAMB, -4 if b % 1 == 0 else -14) for b in eighths]
        if variant % 2:
            h += [(1, SIDESTICK, -2), (3, SIDESTICK, -2)]
    elif pattern == "ambient":
        h += [(0, KICK, -4), (2.5, KICK, -10), (3, SIDESTICK, -10)]
        h += [(b, CABASA if variant % 2 else CHH, -20) for b in eighths]
    elif pattern == "waltz":
        h += [(0, KICK, 6), (1, SNARE, -6), (2, SNARE, -8)] + [(b, CHH, -8) for b in range(meter)]
    else:
        raise ValueError(f"unknown drum pattern {pattern!r}")
    return [x for x in h if x[0] < meter]


def _drums(ctx: _Ctx, part: PartSpec) -> list[_BeatNote]:
    song, rng = ctx.song, ctx.rng
    variant = int(rng.integers(3))
    fill_prob = 0.0 if song.drum_pattern in ("ambient", "swing", "latin") else 0.5
    notes: list[_BeatNote] = []
    n_bars = int(math.ceil(ctx.total_beats / song.meter))
    for bar in range(n_bars):
        b0 = bar * song.meter
        hits = _drum_bar(song.drum_pattern, bar, variant, song.meter)
        if bar % 4 == 3 and song.meter == 4 and rng.random() < fill_prob:
            hits = [x for x in hits if x[0] < 2] + [
                (2 + k * 0.25, (SNARE, SNARE, HIGH_TOM, HIGH_TOM, MID_TOM, MID_TOM, LOW_TOM, LOW_TOM)[k], k) for k in range(8)
            ]
        if bar % 4 == 0 and song.drum_pattern not in ("ambient", "swing", "latin", "waltz"):
            hits = hits + [(0, CRASH, 6)]
        for beat, drum, accent in hits:
            if song.swing and song.drum_pattern not in ("swing", "shuffle"):
                beat = _swing(beat, ctx.swing_amount)
            notes.append(_BeatNote(b0 + beat, 0.2, drum, ctx.base_vel + accent))
    return notes


# --- assembly ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feel:
    """How loosely a part is played: Gaussian timing (seconds) and velocity spreads, and how long
    notes are held relative to their written length (legato > 1 > staccato)."""

    timing_sd: float
    velocity_sd: float
    length: float = 1.0


def compose(
    song: Song, duration: float, rng: np.random.Generator, performance: tuple[dict[str, Feel], np.random.Generator] | None = None
) -> list[tuple[PartSpec, list[Note]]]:
    """Notes (in seconds, within the clip) of every part of `song`. Plain: a light humanisation
    (timing sd 3 ms for drums, 7 ms otherwise; velocity +-6). With a `performance` (feels per role:
    "lead", "accompaniment", "pad", "bass", "drums"; and the generator of its spreads), each part is
    played with the feel of its role instead, and its notes are the plain ones: `rng` is drawn
    from the same way."""
    beat_sec = 60.0 / song.bpm
    total_beats = song.phase + duration / beat_sec + song.meter
    base_vel = 62.0 if song.dynamics == "soft" else 96.0
    swing_amount = (1.0 / 6.0) if song.genre in ("jazz", "blues") else 0.1
    ctx = _Ctx(song, _chord_slots(song, total_beats), total_beats, base_vel, rng, swing_amount)
    writers = {"lead": _melody, "accompaniment": _accompaniment, "bass": _bass, "drums": _drums}
    out = []
    for part in song.parts:
        beat_notes = writers[part.role](ctx, part)
        played = None if performance is None else (performance[0][part_role(part)], performance[1])
        out.append((part, _to_seconds(beat_notes, song, beat_sec, duration, _plain_jitter(part), rng, played)))
    return out


def part_role(part: PartSpec) -> str:
    """The part's role in a mix: its arrangement role, "pad" for a sustained chord layer."""
    return "pad" if part.role == "accompaniment" and part.style == "pad" else part.role


def _plain_jitter(part: PartSpec) -> float:
    return 0.003 if part.is_drums else 0.007


def _to_seconds(
    notes: list[_BeatNote],
    song: Song,
    beat_sec: float,
    duration: float,
    jitter: float,
    rng: np.random.Generator,
    played: tuple[Feel, np.random.Generator] | None = None,
) -> list[Note]:
    """Beats -> seconds with the clip's phase; humanise timing and velocity (plain: timing sd
    `jitter`, velocity uniform in +-6, from `rng`; `played`: the feel's spreads and lengths, from
    its own generator, `rng` drawn from as in plain); keep what sounds in the clip; shorten notes
    that would overlap the next onset of the same pitch."""
    dj = rng.normal(0.0, jitter, size=len(notes)).clip(-2.5 * jitter, 2.5 * jitter)
    dv = rng.integers(-6, 7, size=len(notes))
    length = 1.0
    if played is not None:
        feel, perform = played
        dj = perform.normal(0.0, feel.timing_sd, size=len(notes)).clip(-2.5 * feel.timing_sd, 2.5 * feel.timing_sd)
        dv = perform.normal(0.0, feel.velocity_sd, size=len(notes)).round()
        length = feel.length
    out: list[Note] = []
    for n, j, v in zip(notes, dj, dv):
        start = (n.beat - song.phase) * beat_sec + float(j)
        end = start + max(n.length * length, 0.05) * beat_sec
        if end <= 0.05 or start >= duration:
            continue
        out.append(Note(max(0.0, start), end, int(n.pitch), int(np.clip(round(n.velocity + int(v)), 1, 127))))
    return no_overlaps(out)


def no_overlaps(notes: list[Note]) -> list[Note]:
    """Notes sorted by (start, pitch), each shortened to end before the next onset of its pitch."""
    out = sorted(notes, key=lambda x: (x.pitch, x.start))
    fixed: list[Note] = []
    for i, n in enumerate(out):
        if i + 1 < len(out) and out[i + 1].pitch == n.pitch and out[i + 1].start < n.end:
            n = Note(n.start, max(n.start + 0.01, out[i + 1].start - 0.002), n.pitch, n.velocity)
        fixed.append(n)
    fixed.sort(key=lambda x: (x.start, x.pitch))
    return fixed

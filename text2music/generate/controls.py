"""From settings and text to the musical controls of one clip: tempo, meter, key, a chord
progression, drums and the clip's length.

    plan = plan_controls("a waltz in D major", GenerationSettings(bpm=96), seed=0)
    plan.controls        # MusicalControls: 96 BPM, 3/4, D major, I-V-vi-IV one chord per bar
    plan.duration        # seconds (whole bars when `bars` or `loop` asks for them)
    plan.notes           # what was chosen or overridden, in words for the user

Rules, in order:
- a setting wins over the text; where both state a value and they differ, a note says so;
- a key (set, stated, or a stated mode with a tonic drawn) gets a chord progression in that key,
  drawn from the corpus's progressions of that mode, one chord per bar (two in slow 4/4);
- the beat grid needs a tempo: when a key, meter or `bars` asks for one and none is given, a
  tempo is drawn from the text's tempo word ("slow" 62-84, "fast" 128-160, else 92-120); the
  meter is 4/4 unless set or stated. A loop without a tempo is a free loop of `duration`;
  with one, it lasts whole bars;
- what nothing states stays open and the model chooses it.
Draws come from a generator seeded by the clip's seed, so the same text and seed plan the same.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

import numpy as np

from text2music.features.controls import ChordSlot, MusicalControls
from text2music.generate.settings import MAX_BPM, MAX_DURATION, MAX_WINDOW, MIN_BPM, MIN_DURATION, GenerationSettings, SettingsError
from text2music.text.controls import StatedControls, drums_away, key_name, parse_controls, parse_key, parse_meter
from text2music.theory import PROGRESSIONS, progression_chords

TEMPO_RANGES = (("slow", (62, 84)), ("fast", (128, 160)), ("medium", (92, 120)))
_SLOW = re.compile(r"\b(slow|slowly|calm|ballad|gentle|relaxed|laid-back|downtempo|adagio|largo)\b", re.I)
_FAST = re.compile(r"\b(fast|quick|rapid|energetic|upbeat|uptempo|up-tempo|driving|frantic|allegro|presto)\b", re.I)


@dataclass(frozen=True)
class ControlPlan:
    controls: MusicalControls
    duration: float
    notes: tuple[str, ...] = ()
    away: str | None = None  # where the drums are off: the same prompt asking for drums, to steer away from
    room: str | None = None  # with reverb: the production style of the room it is put in (the genre its text names)


def _merge(name: str, setting, stated, phrase: str | None, shown, notes: list[str]):
    """The setting if given (noting a conflict with the text), else what the text states."""
    if setting is None:
        return stated
    if stated is not None and stated != setting:
        notes.append(f'the text says "{phrase}" but {name} {shown(setting)} was set; using {shown(setting)}')
    return setting


def _tempo_range(text: str) -> tuple[int, int]:
    word = "slow" if _SLOW.search(text) else ("fast" if _FAST.search(text) else "medium")
    return dict(TEMPO_RANGES)[word]


def _progression(tonic: int, mode: str, meter: int, bpm: float, rng: np.random.Generator) -> tuple[ChordSlot, ...]:
    """A chord loop in the key drawn from the corpus's plain (triad, non-blues) progressions, from beat 0."""
    names = sorted(n for n, p in PROGRESSIONS.items() if p.mode == mode and not (p.sevenths or p.dominant))
    prog = PROGRESSIONS[names[int(rng.integers(len(names)))]]
    chords = progression_chords(prog, tonic)
    length = meter / 2 if (meter == 4 and bpm < 80) else float(meter)
    n = math.ceil(MAX_DURATION * bpm / 60 / length) + 1
    return tuple(ChordSlot(i * length, length, c.root, c.pitch_classes) for i, c in enumerate(chords[i % len(chords)] for i in range(n)))


def _stated(text: str, settings: GenerationSettings, notes: list[str]) -> StatedControls:
    """What the text states (nothing when `text_controls` is off); a tempo out of range is ignored, with a note."""
    stated = parse_controls(text) if settings.text_controls and text else StatedControls()
    if stated.bpm is not None and not MIN_BPM <= stated.bpm <= MAX_BPM:
        notes.append(f'the text says "{stated.phrases["bpm"]}", outside {MIN_BPM:g}-{MAX_BPM:g} BPM; ignored')
        stated = dataclasses.replace(stated, bpm=None)
    return stated


def _key(settings: GenerationSettings, stated: StatedControls, rng: np.random.Generator, notes: list[str]) -> tuple[int, str] | None:
    key = _merge("key", settings.key, stated.key, stated.phrases.get("key"), str, notes)
    if key is not None:
        return parse_key(key)
    if stated.mode is None:
        return None
    tonic = int(rng.integers(12))
    notes.append(f"key chosen: {key_name(tonic, stated.mode)} (the text states the mode only)")
    return tonic, stated.mode


def plan_controls(text: str, settings: GenerationSettings, seed: int) -> ControlPlan:
    """The controls and length of the clip of `text` (see the module doc). ValueError when the
    length in bars falls outside the duration limits."""
    rng = np.random.default_rng([seed, 0x7E0])
    notes: list[str] = []
    stated = _stated(text, settings, notes)
    bpm = _merge("bpm", settings.bpm, stated.bpm, stated.phrases.get("bpm"), lambda v: f"{v:g}", notes)
    stated_meter = parse_meter(stated.meter) if stated.meter else None
    meter = _merge("meter", settings.meter, stated_meter, stated.phrases.get("meter"), lambda v: f"{v}/4", notes)
    drums = _merge("drums", settings.drums, stated.drums, stated.phrases.get("drums"), lambda v: "on" if v else "off", notes)
    key = _key(settings, stated, rng, notes)
    if bpm is None and (key is not None or meter is not None or settings.bars is not None):
        lo, hi = _tempo_range(text)
        bpm = float(rng.integers(lo, hi + 1))
        notes.append(f"tempo chosen: {bpm:g} BPM")
    if bpm is not None and meter is None:
        meter = 4
    chords = _progression(*key, meter, bpm, rng) if key is not None else ()
    controls = MusicalControls(bpm, meter, key[0] if key else None, key[1] if key else None, drums, 0.0, chords)
    away = drums_away(text) if drums is False else None
    return ControlPlan(controls, _duration(settings, bpm, meter), tuple(notes), away)


def _duration(settings: GenerationSettings, bpm: float | None, meter: int | None) -> float:
    """Seconds: `bars` whole bars, or for a loop the whole number of bars nearest `duration` that
    fits the duration limits."""
    if bpm is None:
        return settings.duration
    bar = meter * 60.0 / bpm
    if settings.bars is None and not settings.loop:
        return settings.duration
    longest = MAX_WINDOW if settings.loop else MAX_DURATION  # a loop is made in one pass
    fewest, most = math.ceil(MIN_DURATION / bar - 1e-9), math.floor(longest / bar + 1e-9)
    bars = settings.bars if settings.bars is not None else min(max(round(settings.duration / bar), fewest), most)
    seconds = bars * bar
    if not MIN_DURATION <= seconds <= longest:
        what = "loops" if settings.loop else "clips"
        raise SettingsError(
            f"{bars} bars of {meter}/4 at {bpm:g} BPM last {seconds:.2f} s; {what} must last {MIN_DURATION:g}-{longest:g} s",
            field="bars" if settings.bars is not None else "duration",
        )
    return seconds


def plan_clips(
    texts: list[str], settings: GenerationSettings, seeds: list[int], *, generative: bool, controllable: bool
) -> list[ControlPlan]:
    """The one pre-flight check of a generation call, and each clip's controls and length.

    It needs only what a model's config.json says (`generative`: it samples; `controllable`: it
    was trained with musical controls), so the CLI runs it before any model loads, the server before
    it queues a request, and the pipeline on every call. SettingsError (naming the field) when the
    settings ask for controls the model lacks, a loop of a model that cannot make one, a length in
    bars outside the duration limits, or clips of one batch that differ in length."""
    if not generative and settings.duration > MAX_WINDOW:
        raise SettingsError(f"this model regresses one clip per text: duration must be at most {MAX_WINDOW:g} seconds", field="duration")
    if not controllable:
        asked = settings.controls_asked
        if asked:
            needs = "needs" if len(asked) == 1 else "need"
            raise SettingsError(f"this model has no musical controls: {', '.join(asked)} {needs} a model trained with them", field=asked[0])
        if settings.loop and not generative:
            raise SettingsError("this model regresses one clip per text and cannot make a loop", field="loop")
        return [ControlPlan(MusicalControls(), settings.duration)] * len(texts)
    plans = [plan_controls(t, settings, s) for t, s in zip(texts, seeds)]
    lengths = sorted({round(p.duration, 6) for p in plans})
    if len(lengths) > 1:
        raise SettingsError(
            f"the texts ask for clips of different lengths in bars ({lengths[0]:g} to {lengths[-1]:g} s): generate them separately"
            " (on the command line: --batch-size 1)",
            field="bars",
        )
    return plans

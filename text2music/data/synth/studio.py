"""What a corpus build renders with, and the rendering of one clip, plain or studio.

`Sources` are the build's pools (production mode, soundfonts, drum kits), recorded in
corpus.json. A `Renderer` holds one process's loaded soundfonts and drum samples; a build makes
one, loads its soundfonts and drum samples before forking its workers (which then share that
memory) and every worker renders with its copy.

plain: all parts in one pass of one soundfont, mono, normalised to the dynamics' loudness (the
synth-1 corpus, byte for byte). studio: a soundfont from the pool and a sampled drum kit drawn per
clip, the parts performed (`performance`), each part rendered as its own stem, the drums from the
kit as a stereo stem, then produced (`production`) to a mastered stereo clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2music.data.synth.compose import Song, compose, part_role
from text2music.data.synth.drumkits import DrumKit, DrumKitBank
from text2music.data.synth.performance import articulate, studio_feels
from text2music.data.synth.render import Synths, render, soundfont_fingerprint, synthesize_stems
from text2music.production import ProductionPlan, produce, production_plan

VERSIONS = {"plain": "synth-1", "studio": "synth-2"}  # the generator versions of the two productions
ELECTRONIC_GM_KITS = ("electronic", "808")
SOFT_TRIM_DB = -8.0  # a soft clip sits this far under the mastered loudness of its style (soft vs loud in the captions)


@dataclass(frozen=True)
class Sources:
    """A build's production mode and the pools its clips draw their sounds from."""

    production: str
    soundfonts: tuple[Path, ...]
    drumkits: tuple[DrumKit, ...] = ()
    styles: dict | None = None  # the production styles, checked (production.load_styles); None: the built-in ones
    style_overrides: dict | None = None  # what a user's styles file changed, as read

    def settings(self) -> dict:
        """What corpus.json records of them (plain: exactly what synth-1 corpora recorded, so
        that they resume)."""
        if self.production == "plain":
            return {"soundfont": soundfont_fingerprint(self.soundfonts[0]), "version": VERSIONS["plain"]}
        return {
            "production": self.production,
            "soundfonts": [soundfont_fingerprint(p) for p in self.soundfonts],
            "drum_kits": [k.fingerprint() for k in self.drumkits],
            "style_overrides": self.style_overrides,
            "version": VERSIONS["studio"],
        }


@dataclass(frozen=True)
class Choice:
    """What a studio clip is rendered with (drawn by the clip's generators, cheap: a resumed
    build draws them again for the manifest without rendering)."""

    soundfont: Path
    kit: DrumKit | None
    plan: ProductionPlan

    def record(self) -> dict:
        return {
            "soundfont": self.soundfont.name,
            "drum_kit_samples": self.kit.name if self.kit else None,
            "production": self.plan.as_dict(),
        }


class Renderer:
    """One process's loaded soundfonts and drum samples, and the rendering of a clip with them."""

    def __init__(self, sources: Sources, sample_rate: int):
        self.sources = sources
        self.sample_rate = int(sample_rate)
        self.synths = Synths(sample_rate)
        self.kits = DrumKitBank(sample_rate)

    def preload(self) -> None:
        """Load every soundfont and drum sample of the pools now."""
        self.synths.preload(self.sources.soundfonts)
        self.kits.preload(self.sources.drumkits)

    def choose(self, song: Song, r_sources: np.random.Generator, r_production: np.random.Generator) -> Choice | None:
        """The soundfont, drum kit and production of a studio clip (None for a plain one)."""
        if self.sources.production == "plain":
            return None
        pool = self.sources.soundfonts
        soundfont = pool[int(r_sources.integers(len(pool)))]
        kits = kits_for(song, self.sources.drumkits)
        kit = kits[int(r_sources.integers(len(kits)))] if kits else None
        return Choice(soundfont, kit if song.drums else None, production_plan(song.genre, r_production, self.sources.styles))

    def render(self, song: Song, duration: float, choice: Choice | None, r_notes, r_render, r_perform) -> np.ndarray:
        """The clip's float32 audio: (n,) plain, (n, 2) studio."""
        if choice is None:
            parts = compose(song, duration, r_notes)
            return render(parts, str(self.sources.soundfonts[0]), self.sample_rate, duration, song.dynamics, r_render, self.synths).audio
        stereo = produce(self.stems(song, duration, choice, r_notes, r_perform), choice.plan, self.sample_rate)
        return stereo * np.float32(10 ** (SOFT_TRIM_DB / 20)) if song.dynamics == "soft" else stereo

    def stems(self, song: Song, duration: float, choice: Choice, r_notes, r_perform, perform: bool = True) -> list[tuple[str, np.ndarray]]:
        """(role, stem) per part: mono from the soundfont, (n, 2) for drums from a sampled kit; the
        parts performed (`performance`), or as composed with `perform` off."""
        if perform:
            parts, controls = articulate(song, compose(song, duration, r_notes, (studio_feels(song.genre), r_perform)), duration, r_perform)
        else:
            parts, controls = compose(song, duration, r_notes), ()
        n_samples = int(round(duration * self.sample_rate))
        stems: list[tuple[str, np.ndarray]] = []
        for part, notes in parts:
            if part.is_drums and choice.kit is not None:
                kit_audio, rest = self.kits.play(choice.kit, notes, n_samples, r_perform)
                if rest:  # percussion the kit has no piece for: the soundfont's
                    kit_audio += synthesize_stems([(part, rest)], choice.soundfont, duration, self.synths)[0][:, None]
                stems.append(("drums", kit_audio))
            else:
                stem = synthesize_stems([(part, notes)], choice.soundfont, duration, self.synths, controls)[0]
                stems.append((part_role(part), stem))
        return stems


def kits_for(song: Song, kits: tuple[DrumKit, ...]) -> tuple[DrumKit, ...]:
    """The kits that suit the song's drums: electronic ones where the composer chose an electronic
    or 808 kit, acoustic ones elsewhere (all of them where none is of the right kind)."""
    electronic = song.drum_kit in ELECTRONIC_GM_KITS
    return tuple(k for k in kits if k.electronic == electronic) or kits

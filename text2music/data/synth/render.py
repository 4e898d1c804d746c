"""Render note events to audio with General MIDI soundfonts (tinysoundfont), and find the soundfonts.

Rendering is sample-accurate: every note on/off and controller change is an event at a sample
index; the synthesizer generates exactly the samples between consecutive events. `synthesize`
renders all parts in one pass and downmixes to mono (the plain corpus); `synthesize_stems`
renders each part in its own pass (the studio corpus mixes them). `normalise` scales a clip to a
loudness target that follows its dynamics, exactly `duration` seconds long.

A `Synths` object keeps every soundfont it was asked for loaded (loading MuseScore General takes
about 5 s, far longer than rendering a clip) and, before every pass, puts the synthesizer back
into the state of a freshly loaded one (every voice stopped, every channel dropped), so a clip
does not depend on what the same process rendered before it, and a corpus is identical for any
number of worker processes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2music.data.synth.compose import Note, PartSpec

PRODUCTIONS = ("studio", "plain")

# Debian's soundfonts (fluid-soundfont-gm, musescore-general-soundfont-lossless) join the studio pool where installed.
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts")
SYSTEM_SOUNDFONTS = ("FluidR3_GM.sf2", "MuseScore_General_Full.sf2")

# Loudness targets (RMS of the mono clip, dBFS) per dynamics; each clip varies +-1.5 dB.
LOUDNESS_DBFS = {"soft": -30.0, "loud": -18.0}
LOUDNESS_JITTER_DB = 1.5
PEAK_LIMIT = 0.98
FADE_OUT_S = 0.01

_SILENCE_CHECK_SAMPLES = 512
MAX_VOICES = 256
EXPRESSION = 11  # MIDI CC: expression (tinysoundfont has no sustain pedal: performance lengthens notes instead)
VOLUME = 7


def bundled_soundfont() -> Path:
    """pretty_midi's TimGM6mb.sf2 (a small GM soundfont shipped inside the pip package)."""
    import pretty_midi

    return Path(os.path.dirname(pretty_midi.__file__)) / "TimGM6mb.sf2"


def installed_soundfonts() -> list[Path]:
    """Debian's FluidR3_GM and MuseScore_General_Full, those installed."""
    found = []
    for name in SYSTEM_SOUNDFONTS:
        path = next((Path(d) / name for d in SOUNDFONT_DIRS if (Path(d) / name).is_file()), None)
        if path is not None:
            found.append(path)
    return found


def soundfont_pool(soundfonts: Sequence[str | os.PathLike] | None, production: str) -> tuple[Path, ...]:
    """The soundfonts a build draws from: the given paths (each must exist), else the bundled
    TimGM6mb, joined in a studio build by the installed Debian soundfonts. A plain build renders
    with one soundfont (TimGM6mb unless given: every committed report used it)."""
    if production not in PRODUCTIONS:
        raise ValueError(f"production must be one of {', '.join(PRODUCTIONS)}, got {production!r}")
    if soundfonts:
        paths = [Path(s).expanduser() for s in soundfonts]
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"soundfont not found: {path}")
        if production == "plain" and len(paths) > 1:
            raise ValueError(f"a plain build renders with one soundfont, got {len(paths)} (--soundfont given {len(paths)} times)")
        return tuple(dict.fromkeys(p.resolve() for p in paths))
    bundled = bundled_soundfont()
    if not bundled.is_file():
        raise FileNotFoundError(f"pretty_midi's bundled soundfont is missing ({bundled}); reinstall pretty_midi or pass --soundfont")
    return (bundled,) if production == "plain" else (bundled, *installed_soundfonts())


def soundfont_fingerprint(path: Path) -> dict:
    """Name, size and sha256 of the first MiB: enough to tell soundfonts apart cheaply."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    return {"name": path.name, "size": path.stat().st_size, "sha256_1mb": hashlib.sha256(head).hexdigest()}


@dataclass(frozen=True)
class RenderResult:
    audio: np.ndarray  # float32 mono, exactly round(duration * sample_rate) samples
    rms_dbfs: float
    peak: float
    gain_db: float


def _load_synth(soundfont: bytes | str, sample_rate: int) -> tuple[object, int]:
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sample_rate)
    return synth, synth.sfload(soundfont, max_voices=MAX_VOICES)


def _back_to_fresh(synth) -> bool:
    """Stop every voice and drop every channel's settings (TinySoundFont's reset), then render a
    short block so that the stopped voices finish. True if the next block is silent: the
    synthesizer is then in the state of a freshly loaded one."""
    for font in synth.soundfonts.values():
        font.reset()
    synth.generate_simple(_SILENCE_CHECK_SAMPLES)
    block = np.frombuffer(synth.generate_simple(_SILENCE_CHECK_SAMPLES), dtype=np.float32)
    return not block.any()


class Synths:
    """This process's synthesizers at one sample rate, one per soundfont path, each loaded once.
    Pickled (to a spawned worker) without them: the worker loads what it renders with."""

    def __init__(self, sample_rate: int):
        self.sample_rate = int(sample_rate)
        self._loaded: dict[str, tuple[object, int]] = {}

    def __getstate__(self) -> dict:
        return {"sample_rate": self.sample_rate, "_loaded": {}}

    def fresh(self, soundfont: bytes | str | os.PathLike) -> tuple[object, int]:
        """(synthesizer, soundfont id) in the state of a freshly loaded one (soundfont bytes are
        loaded every time)."""
        if isinstance(soundfont, (bytes, bytearray)):
            return _load_synth(bytes(soundfont), self.sample_rate)
        key = os.fspath(soundfont)
        loaded = self._loaded.get(key)
        if loaded is None or not _back_to_fresh(loaded[0]):
            loaded = self._loaded[key] = _load_synth(key, self.sample_rate)
        return loaded

    def preload(self, soundfonts: Sequence[str | os.PathLike]) -> None:
        """Load them now (before forking workers, which then share the samples' memory)."""
        for soundfont in soundfonts:
            self.fresh(soundfont)


@dataclass(frozen=True)
class Control:
    """A MIDI controller change at `time` seconds."""

    time: float
    channel: int
    control: int
    value: int


def _events(
    parts: list[tuple[PartSpec, list[Note]]], sample_rate: int, n_samples: int, controls: Sequence[Control] = ()
) -> list[tuple[int, int, int, int, int]]:
    """(sample, kind, channel, a, b) sorted; kind 0 = note off, 1 = controller (a, b = control,
    value), 2 = note on (a, b = pitch, velocity), so that a note ending where the same pitch
    starts again is released first, and a controller applies to the notes starting with it."""
    events = [(min(n_samples - 1, max(0, int(round(c.time * sample_rate)))), 1, c.channel, c.control, c.value) for c in controls]
    for part, notes in parts:
        for n in notes:
            on = int(round(n.start * sample_rate))
            if on >= n_samples:
                continue
            off = max(on + 1, int(round(n.end * sample_rate)))
            events.append((on, 2, part.channel, n.pitch, n.velocity))
            if off < n_samples:
                events.append((off, 0, part.channel, n.pitch, 0))
    events.sort()
    return events


def _render_pass(
    synth, sfid: int, parts: list[tuple[PartSpec, list[Note]]], controls: Sequence[Control], n_samples: int, sr: int, name: str
):
    """Stereo float32 (n_samples, 2) of `parts` played by a fresh synthesizer (of the soundfont `name`)."""
    for part, _ in parts:
        try:
            synth.program_select(part.channel, sfid, part.bank, part.program, part.is_drums)
        except RuntimeError:  # tinysoundfont's message names neither
            raise RuntimeError(f"{name}: the soundfont has no preset {part.bank}:{part.program} for {part.name}") from None
        synth.control_change(part.channel, VOLUME, part.volume)
    frame_bytes = 2 * 4  # stereo float32
    buffer = memoryview(bytearray(n_samples * frame_bytes))
    pos = 0
    for sample, kind, chan, a, b in _events(parts, sr, n_samples, controls):
        if sample > pos:
            synth.generate_simple(sample - pos, buffer=buffer[pos * frame_bytes : sample * frame_bytes])
            pos = sample
        if kind == 2:
            synth.noteon(chan, a, b)
        elif kind == 1:
            synth.control_change(chan, a, b)
        else:
            synth.noteoff(chan, a)
    if pos < n_samples:
        synth.generate_simple(n_samples - pos, buffer=buffer[pos * frame_bytes :])
    return np.frombuffer(buffer, dtype=np.float32).reshape(-1, 2)


def synthesize(
    parts: list[tuple[PartSpec, list[Note]]],
    soundfont: bytes | str | os.PathLike,
    sample_rate: int,
    duration: float,
    synths: Synths | None = None,
) -> np.ndarray:
    """Raw stereo-downmixed float64 audio of all parts in one pass, exactly duration seconds, unnormalised."""
    synth, sfid = (synths or Synths(sample_rate)).fresh(soundfont)
    name = "soundfont bytes" if isinstance(soundfont, (bytes, bytearray)) else Path(soundfont).name
    stereo = _render_pass(synth, sfid, parts, (), int(round(duration * sample_rate)), sample_rate, name)
    return stereo.mean(axis=1, dtype=np.float64)


def synthesize_stems(
    parts: list[tuple[PartSpec, list[Note]]],
    soundfont: str | os.PathLike,
    duration: float,
    synths: Synths,
    controls: Sequence[Control] = (),
) -> list[np.ndarray]:
    """Each part in its own pass of a fresh synthesizer -> mono float32 stems, in the order of `parts`."""
    sr = synths.sample_rate
    n_samples = int(round(duration * sr))
    stems = []
    for part, notes in parts:
        synth, sfid = synths.fresh(soundfont)
        mine = [c for c in controls if c.channel == part.channel]
        stereo = _render_pass(synth, sfid, [(part, notes)], mine, n_samples, sr, Path(soundfont).name)
        stems.append((stereo[:, 0] + stereo[:, 1]) * np.float32(0.5))
    return stems


def normalise(audio: np.ndarray, dynamics: str, rng: np.random.Generator, sample_rate: int) -> RenderResult:
    """Scale to the loudness target of `dynamics` (peak-limited), with a 10 ms fade-out."""
    if dynamics not in LOUDNESS_DBFS:
        raise ValueError(f"unknown dynamics {dynamics!r}; choose one of {sorted(LOUDNESS_DBFS)}")
    target = LOUDNESS_DBFS[dynamics] + float(rng.uniform(-LOUDNESS_JITTER_DB, LOUDNESS_JITTER_DB))
    audio = np.asarray(audio, dtype=np.float64).copy()
    fade = min(len(audio), int(FADE_OUT_S * sample_rate))
    if fade:
        audio[-fade:] *= np.linspace(1.0, 0.0, fade)
    rms = float(np.sqrt(np.mean(audio**2)))
    if rms < 1e-9:
        raise RuntimeError("rendered audio is silent (soundfont without the requested presets?)")
    gain = 10 ** (target / 20) / rms
    peak = float(np.abs(audio).max())
    gain = min(gain, PEAK_LIMIT / peak)
    out = (audio * gain).astype(np.float32)
    out_rms = float(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
    return RenderResult(out, 20 * np.log10(out_rms), float(np.abs(out).max()), 20 * np.log10(gain))


def render(
    parts: list[tuple[PartSpec, list[Note]]],
    soundfont: bytes | str,
    sample_rate: int,
    duration: float,
    dynamics: str,
    rng: np.random.Generator,
    synths: Synths | None = None,
) -> RenderResult:
    """Notes -> normalised mono float32 audio (the plain corpus)."""
    return normalise(synthesize(parts, soundfont, sample_rate, duration, synths), dynamics, rng, sample_rate)

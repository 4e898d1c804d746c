"""Render note events to audio with a General MIDI soundfont (tinysoundfont), and find the soundfont.

Rendering is sample-accurate: every note on/off is an event at a sample index; the synthesizer
generates exactly the samples between consecutive events. The stereo output is downmixed to
mono, normalised to a loudness target that follows the clip's dynamics (soft / loud), and is
exactly `duration` seconds long. Each process loads a soundfont once (loading FluidR3_GM takes
longer than rendering a clip) and, before every clip, puts its synthesizer back into the state of
a freshly loaded one (every voice stopped, every channel dropped), so every clip is independent of
the ones rendered before it in the same process, and the corpus is identical for any `jobs`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2music.data.synth.compose import Note, PartSpec

# Debian's fluid-soundfont-gm (better samples) is used when present.
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)

# Loudness targets (RMS of the mono clip, dBFS) per dynamics; each clip varies +-1.5 dB.
LOUDNESS_DBFS = {"soft": -30.0, "loud": -18.0}
LOUDNESS_JITTER_DB = 1.5
PEAK_LIMIT = 0.98
FADE_OUT_S = 0.01


def bundled_soundfont() -> Path:
    """pretty_midi's TimGM6mb.sf2 (a small GM soundfont shipped inside the pip package)."""
    import pretty_midi

    return Path(os.path.dirname(pretty_midi.__file__)) / "TimGM6mb.sf2"


def find_soundfont(soundfont: str | os.PathLike | None = None) -> Path:
    """The soundfont to use: an explicit path (which must exist), else FluidR3_GM if installed,
    else pretty_midi's bundled TimGM6mb."""
    if soundfont is not None:
        path = Path(soundfont).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"soundfont not found: {path}")
        return path.resolve()
    for candidate in SYSTEM_SOUNDFONTS:
        if os.path.isfile(candidate):
            return Path(candidate)
    path = bundled_soundfont()
    if not path.is_file():
        raise FileNotFoundError(
            f"no General MIDI soundfont found (looked for {', '.join(SYSTEM_SOUNDFONTS)} and {path}); "
            "install fluid-soundfont-gm or pretty_midi, or pass a .sf2 path"
        )
    return path


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


# this process's loaded synthesizer: (soundfont path, sample rate) -> (synth, soundfont id)
_SYNTHS: dict[tuple[str, int], tuple[object, int]] = {}
_SILENCE_CHECK_SAMPLES = 512
MAX_VOICES = 256


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


def _synth(soundfont: bytes | str | os.PathLike, sample_rate: int) -> tuple[object, int]:
    """A synthesizer with `soundfont` loaded, in its freshly loaded state: loaded once per process
    for a soundfont path (one kept at a time), every time for soundfont bytes."""
    if isinstance(soundfont, (bytes, bytearray)):
        return _load_synth(bytes(soundfont), sample_rate)
    key = (os.fspath(soundfont), int(sample_rate))
    cached = _SYNTHS.get(key)
    if cached is not None and _back_to_fresh(cached[0]):
        return cached
    release_synths()
    _SYNTHS[key] = _load_synth(key[0], sample_rate)
    return _SYNTHS[key]


def release_synths() -> None:
    """Free the soundfont this process holds (the next clip loads it again)."""
    _SYNTHS.clear()


def _events(parts: list[tuple[PartSpec, list[Note]]], sample_rate: int, n_samples: int) -> list[tuple[int, int, int, int, int]]:
    """(sample, kind, channel, pitch, velocity) sorted; kind 0 = note off, 1 = note on, so that a
    note ending where the same pitch starts again is released first."""
    events = []
    for part, notes in parts:
        for n in notes:
            on = int(round(n.start * sample_rate))
            if on >= n_samples:
                continue
            off = max(on + 1, int(round(n.end * sample_rate)))
            events.append((on, 1, part.channel, n.pitch, n.velocity))
            if off < n_samples:
                events.append((off, 0, part.channel, n.pitch, 0))
    events.sort()
    return events


def synthesize(
    parts: list[tuple[PartSpec, list[Note]]], soundfont: bytes | str | os.PathLike, sample_rate: int, duration: float
) -> np.ndarray:
    """Raw stereo-downmixed float32 audio of the parts, exactly duration seconds, unnormalised."""
    n_samples = int(round(duration * sample_rate))
    synth, sfid = _synth(soundfont, sample_rate)
    for part, _ in parts:
        synth.program_select(part.channel, sfid, part.bank, part.program, part.is_drums)
        synth.control_change(part.channel, 7, part.volume)
    frame_bytes = 2 * 4  # stereo float32
    buffer = memoryview(bytearray(n_samples * frame_bytes))
    pos = 0
    for sample, kind, chan, pitch, velocity in _events(parts, sample_rate, n_samples):
        if sample > pos:
            synth.generate_simple(sample - pos, buffer=buffer[pos * frame_bytes : sample * frame_bytes])
            pos = sample
        if kind:
            synth.noteon(chan, pitch, velocity)
        else:
            synth.noteoff(chan, pitch)
    if pos < n_samples:
        synth.generate_simple(n_samples - pos, buffer=buffer[pos * frame_bytes :])
    stereo = np.frombuffer(buffer, dtype=np.float32).reshape(-1, 2)
    return stereo.mean(axis=1, dtype=np.float64)


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
) -> RenderResult:
    """Notes -> normalised mono float32 audio."""
    return normalise(synthesize(parts, soundfont, sample_rate, duration), dynamics, rng, sample_rate)

"""Sampled drum kits: Hydrogen kits (drumkit.xml + FLAC/WAV/AIFF samples) played from General MIDI drum notes.

    kits = find_drumkits("/usr/share/hydrogen/data/drumkits")   # the usable ones, by name
    bank = DrumKitBank(sample_rate=22050)                        # this process's loaded samples
    stereo = bank.play(kits[0], notes, n_samples, rng)           # (n, 2) float32

A kit is usable when it has a kick, a snare and a hi-hat. `GM_PIECES` maps the General MIDI
drum notes the composer writes to kit pieces, which are found by the words of the instruments'
names (kick / bass drum, snare, closed, open and pedal hi-hat, ride, crash, toms, clap, rim...);
a note whose piece the kit lacks falls back to a related piece (an open hi-hat to the closed
one, a ride to the crash) or is left to the soundfont's drums (`play` returns those notes).
Velocity picks the layer (Hydrogen's min/max, 0-1) and scales its gain; among the layers of a
velocity one is drawn per hit, with a little gain spread, as a drummer never hits twice alike.
"""

from __future__ import annotations

import hashlib
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2music.data.synth.compose import Note

DEFAULT_DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
SAMPLE_SUFFIXES = (".flac", ".wav", ".aif", ".aiff", ".ogg")
MAX_SAMPLE_S = 2.5  # longer tails (crashes) are cut with a fade
CHOKE_FADE_S = 0.02
OPEN_HAT, HI_HATS = 46, (42, 44, 46)
HIT_GAIN_SD_DB = 0.7
HEADROOM = 0.5

_HAT = {"hat", "hh", "hihat", "hats", "hi-hat"}
_CLOSED, _OPEN, _PEDAL = {"closed", "close", "cl", "chh"}, {"open", "opened", "op", "ohh", "semiopen"}, {"pedal", "pd", "foot"}


def name_words(name: str) -> set[str]:
    return set(re.findall(r"[a-z]+", name.lower().replace("hi-hat", "hihat").replace("hi hat", "hihat")))


def _is_hat(w: set[str]) -> bool:
    return bool(w & _HAT)


# piece -> test on the words of an instrument's name, in order of preference
PIECES: dict[str, tuple] = {
    "kick": (lambda w: "kick" in w or "bassdrum" in w or {"bass", "drum"} <= w or "bd" in w,),
    "snare": (lambda w: "snare" in w and not w & {"roll", "rim", "rimshot"}, lambda w: "snare" in w),
    "rim": (lambda w: "stick" in w and "snare" not in w, lambda w: w & {"rim", "rimshot", "sidestick"}),
    "clap": (lambda w: "clap" in w,),
    "closed_hat": (lambda w: _is_hat(w) and w & _CLOSED, lambda w: _is_hat(w) and not w & (_OPEN | _PEDAL)),
    "pedal_hat": (lambda w: _is_hat(w) and w & _PEDAL,),
    "open_hat": (lambda w: _is_hat(w) and w & _OPEN,),
    "crash": (lambda w: "crash" in w, lambda w: w & {"splash", "china"}),
    "ride": (lambda w: "ride" in w and "bell" not in w, lambda w: "ride" in w),
    "low_tom": (lambda w: "tom" in w and w & {"low", "floor", "lo"}, lambda w: "tom" in w),
    "mid_tom": (lambda w: "tom" in w and w & {"mid", "middle"}, lambda w: "tom" in w),
    "high_tom": (lambda w: "tom" in w and w & {"hi", "high"}, lambda w: "tom" in w),
    "tambourine": (lambda w: "tambourine" in w,),
    "cowbell": (lambda w: "cowbell" in w,),
}
REQUIRED = ("kick", "snare", "closed_hat")
ELECTRONIC_WORDS = re.compile(r"synth|electr|techno|drum machine|\b(?:808|909|tr-?808|tr-?909)\b", re.IGNORECASE)
# General MIDI drum note -> pieces to play it with, in order of preference
GM_PIECES: dict[int, tuple[str, ...]] = {
    35: ("kick",),
    36: ("kick",),
    37: ("rim", "snare"),
    38: ("snare",),
    39: ("clap", "snare"),
    40: ("snare",),
    42: ("closed_hat",),
    44: ("pedal_hat", "closed_hat"),
    46: ("open_hat", "closed_hat"),
    41: ("low_tom", "mid_tom"),
    43: ("low_tom", "mid_tom"),
    45: ("low_tom", "mid_tom"),
    47: ("mid_tom", "low_tom"),
    48: ("high_tom", "mid_tom"),
    50: ("high_tom", "mid_tom"),
    49: ("crash", "ride", "open_hat"),
    57: ("crash", "ride", "open_hat"),
    51: ("ride", "crash", "closed_hat"),
    59: ("ride", "crash", "closed_hat"),
    54: ("tambourine",),
    56: ("cowbell",),
}


@dataclass(frozen=True)
class Layer:
    path: Path
    low: float  # velocity range, 0-1
    high: float
    gain: float


@dataclass(frozen=True)
class KitPiece:
    name: str
    layers: tuple[Layer, ...]
    gain: float  # volume x gain
    pan: tuple[float, float]  # left, right gains


@dataclass(frozen=True)
class DrumKit:
    """A usable Hydrogen kit: its name, folder, drumkit.xml's sha256, its pieces, and whether it
    is electronic (its name or description speaks of synthesis, electro, techno, 808...)."""

    name: str
    folder: Path
    sha256: str
    pieces: dict[str, KitPiece]
    electronic: bool = False  # synthesised sounds (a drum machine), not a sampled acoustic kit

    def fingerprint(self) -> dict:
        return {"name": self.name, "sha256_xml": self.sha256}


def _text(el: ET.Element, tag: str, default: str = "") -> str:
    child = el.find(tag)
    return child.text.strip() if child is not None and child.text else default


def _number(el: ET.Element, tag: str, default: float) -> float:
    try:
        return float(_text(el, tag, str(default)))
    except ValueError:
        return default


def _pan(inst: ET.Element) -> tuple[float, float]:
    if inst.find("pan_L") is not None:
        return _number(inst, "pan_L", 1.0), _number(inst, "pan_R", 1.0)
    p = min(1.0, max(-1.0, _number(inst, "pan", 0.0)))  # newer kits: -1 (left) .. 1 (right)
    return math.sqrt(2) * math.cos((p + 1) * math.pi / 4), math.sqrt(2) * math.sin((p + 1) * math.pi / 4)


def _instrument(inst: ET.Element, folder: Path) -> KitPiece | None:
    layers = [
        Layer(folder / _text(el, "filename"), _number(el, "min", 0.0), _number(el, "max", 1.0), _number(el, "gain", 1.0))
        for el in inst.iter("layer")
        if _text(el, "filename")
    ]
    if not layers and _text(inst, "filename"):  # old kits: one sample per instrument
        layers = [Layer(folder / _text(inst, "filename"), 0.0, 1.0, 1.0)]
    layers = [x for x in layers if x.path.suffix.lower() in SAMPLE_SUFFIXES and x.path.is_file()]
    if not layers or _text(inst, "isMuted") == "true":
        return None
    gain = _number(inst, "volume", 1.0) * _number(inst, "gain", 1.0)
    return KitPiece(_text(inst, "name"), tuple(layers), gain, _pan(inst))


def read_drumkit(xml: Path) -> DrumKit | None:
    """The kit of a drumkit.xml with its pieces found, or None when it lacks a kick, snare or hi-hat."""
    data = xml.read_bytes()
    root = ET.fromstring(data)
    for el in root.iter():
        el.tag = el.tag.rsplit("}", 1)[-1]  # drop the namespace of newer kits
    instruments = [p for p in (_instrument(i, xml.parent) for i in root.iter("instrument")) if p is not None]
    pieces = {}
    for piece, tests in PIECES.items():
        for test in tests:
            match = next((i for i in instruments if test(name_words(i.name))), None)
            if match is not None:
                pieces[piece] = match
                break
    if not all(p in pieces for p in REQUIRED):
        return None
    name = _text(root, "name") or xml.parent.name
    electronic = bool(ELECTRONIC_WORDS.search(f"{name} {_text(root, 'info')}"))
    return DrumKit(name, xml.parent, hashlib.sha256(data).hexdigest(), pieces, electronic)


def find_drumkits(folder: str | Path) -> tuple[DrumKit, ...]:
    """The usable kits in `folder` (one kit per subfolder with a drumkit.xml, or the kit `folder`
    is), sorted by name.
    Raises FileNotFoundError (one line, naming --drumkits) when there is none."""
    folder = Path(folder).expanduser()
    kits = []
    for xml in [folder / "drumkit.xml"] if (folder / "drumkit.xml").is_file() else sorted(folder.glob("*/drumkit.xml")):
        try:
            kit = read_drumkit(xml)
        except ET.ParseError:
            continue
        if kit is not None:
            kits.append(kit)
    if not kits:
        raise FileNotFoundError(
            f"--drumkits {folder}: no usable drum kit there (Hydrogen kits, <kit>/drumkit.xml with a kick, snare and hi-hat); "
            "install them with `apt-get install hydrogen-drumkits`, or pass --drumkits none to play drums with the soundfont"
        )
    return tuple(sorted(kits, key=lambda k: k.name))


def _load_sample(path: Path, sample_rate: int) -> np.ndarray:
    """(n, 2) float32 at `sample_rate`, at most MAX_SAMPLE_S long (faded out when cut)."""
    import soundfile as sf
    import soxr

    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except sf.SoundFileError as e:  # libsndfile's message does not name the file
        raise ValueError(f"drum sample {path}: {e}") from None
    audio = audio[:, :2] if audio.shape[1] >= 2 else np.repeat(audio, 2, axis=1)
    audio = audio[: int(MAX_SAMPLE_S * sr)]
    if sr != sample_rate:
        audio = soxr.resample(audio, sr, sample_rate, quality="HQ").astype(np.float32)
    if len(audio) >= int(MAX_SAMPLE_S * sample_rate) - 1:
        fade = min(len(audio), sample_rate // 10)
        audio[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    return np.ascontiguousarray(audio)


class DrumKitBank:
    """This process's drum samples at one sample rate, each read and resampled once (when first played, or by `preload`)."""

    def __init__(self, sample_rate: int):
        self.sample_rate = int(sample_rate)
        self._samples: dict[Path, np.ndarray] = {}

    def __getstate__(self) -> dict:
        return {"sample_rate": self.sample_rate, "_samples": {}}

    def sample(self, path: Path) -> np.ndarray:
        if path not in self._samples:
            self._samples[path] = _load_sample(path, self.sample_rate)
        return self._samples[path]

    def preload(self, kits: tuple[DrumKit, ...]) -> None:
        """Read every sample of the kits' pieces now (before forking workers, which then share them)."""
        for kit in kits:
            for piece in kit.pieces.values():
                for layer in piece.layers:
                    self.sample(layer.path)

    def play(self, kit: DrumKit, notes: list[Note], n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Note]]:
        """The kit playing `notes` -> ((n_samples, 2) float32, the notes it has no piece for). An
        open hi-hat rings until the next hi-hat hit closes it (a choke, as on a real stand)."""
        out = np.zeros((n_samples, 2), dtype=np.float32)
        unplayed = []
        hats = sorted(int(round(n.start * self.sample_rate)) for n in notes if n.pitch in HI_HATS)
        for n in notes:
            piece = next((kit.pieces[p] for p in GM_PIECES.get(n.pitch, ()) if p in kit.pieces), None)
            start = int(round(n.start * self.sample_rate))
            if piece is None:
                unplayed.append(n)
                continue
            if start >= n_samples:
                continue
            v = n.velocity / 127.0
            layers = [x for x in piece.layers if x.low <= v <= x.high] or [min(piece.layers, key=lambda x: abs((x.low + x.high) / 2 - v))]
            layer = layers[int(rng.integers(len(layers)))]
            gain = HEADROOM * v * piece.gain * layer.gain * 10 ** (rng.normal(0.0, HIT_GAIN_SD_DB) / 20)
            sample = self.sample(layer.path)[: n_samples - start]
            if n.pitch == OPEN_HAT:
                sample = _choked(sample, next((h - start for h in hats if h > start), len(sample)), self.sample_rate)
            out[start : start + len(sample)] += sample * (gain * np.asarray(piece.pan, dtype=np.float32))
        return out, unplayed


def _choked(sample: np.ndarray, length: int, sample_rate: int) -> np.ndarray:
    """The sample cut `length` frames in, with a short fade."""
    if length >= len(sample):
        return sample
    fade = min(length, int(CHOKE_FADE_S * sample_rate))
    cut = sample[:length].copy()
    cut[length - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    return cut

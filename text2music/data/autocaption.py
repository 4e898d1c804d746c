"""Captions for music that has none, in the style of MusicCaps (a caption and an aspect list).

`listen(audio, sr, judges)` measures what the caption may say about one clip: the musicnn
auto-taggers' instrument, genre and mood tags, tempo (librosa's beat tracker), key and mode,
drums and loudness. `write_caption(facts, describe, rng)` turns those facts, plus any words the
user gave ("orchestral fantasy game soundtrack"), into a caption and an aspect list. Every
statement comes from a measurement or from the user, so a caption is as true as its judges.
Tempo, key and drums come from the estimators `bench/synth_agreement.py` checks against the
synth corpus's ground truth (10-s clips: tempo 95%, key 63% exact, drums 99.5%; BENCHMARKS.md),
and tests/data/test_autocaption.py checks `listen` on rendered clips of known tempo, key, drums.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from text2music.analysis.clip import rms_dbfs
from text2music.analysis.drums import DRUM_THRESHOLD, drum_activity
from text2music.analysis.key import estimate_key
from text2music.analysis.musicnn import MusicnnJudge, load_musicnn
from text2music.analysis.tempo import estimate_tempo

# caption word -> (judge, tag, probability above which the clip is said to have it)
INSTRUMENT_TAGS = {
    "piano": ("MTT_musicnn", "piano", 0.25),
    "guitar": ("MTT_musicnn", "guitar", 0.25),
    "strings": ("MTT_musicnn", "strings", 0.25),
    "violin": ("MTT_musicnn", "violin", 0.2),
    "cello": ("MTT_musicnn", "cello", 0.2),
    "flute": ("MTT_musicnn", "flute", 0.2),
    "harp": ("MTT_musicnn", "harp", 0.2),
    "harpsichord": ("MTT_musicnn", "harpsichord", 0.2),
    "sitar": ("MTT_musicnn", "sitar", 0.2),
    "synth": ("MTT_musicnn", "synth", 0.25),
    "choir": ("MTT_musicnn", "choir", 0.2),
}
GENRE_TAGS = {
    "classical": ("MTT_musicnn", "classical", 0.3),
    "electronic": ("MSD_musicnn", "electronic", 0.2),
    "techno": ("MTT_musicnn", "techno", 0.25),
    "ambient": ("MSD_musicnn", "ambient", 0.15),
    "rock": ("MSD_musicnn", "rock", 0.25),
    "metal": ("MSD_musicnn", "metal", 0.2),
    "pop": ("MSD_musicnn", "pop", 0.2),
    "jazz": ("MSD_musicnn", "jazz", 0.2),
    "folk": ("MSD_musicnn", "folk", 0.15),
    "new age": ("MTT_musicnn", "new age", 0.2),
    "dance": ("MSD_musicnn", "dance", 0.2),
    "chillout": ("MSD_musicnn", "chillout", 0.2),
}
MOOD_TAGS = {
    "mellow": ("MSD_musicnn", "Mellow", 0.15),
    "sad": ("MSD_musicnn", "sad", 0.12),
    "happy": ("MSD_musicnn", "happy", 0.12),
    "beautiful": ("MSD_musicnn", "beautiful", 0.15),
    "weird": ("MTT_musicnn", "weird", 0.2),
}
VOCAL_TAGS = (("MTT_musicnn", "vocal"), ("MTT_musicnn", "vocals"), ("MTT_musicnn", "singing"), ("MTT_musicnn", "voice"))
VOCAL_THRESHOLD = 0.35
MAX_INSTRUMENTS, MAX_GENRES = 3, 2
SLOW_BPM, FAST_BPM = 90.0, 130.0
QUIET_DBFS, LOUD_DBFS = -28.0, -14.0
JUDGES = ("MTT_musicnn", "MSD_musicnn")


@dataclass(frozen=True)
class ClipFacts:
    """What was measured in one clip (JSON-ready through `asdict`)."""

    instruments: tuple[str, ...]  # caption words, most probable first
    genres: tuple[str, ...]
    mood: str | None
    vocals: bool
    bpm: float
    key: str  # tonic, e.g. "F#"
    mode: str  # "major" | "minor"
    drums: bool
    drum_activity: float
    loudness_dbfs: float

    def to_record(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def load_judges() -> dict[str, MusicnnJudge]:
    """The two musicnn taggers the captions use (both ship with the package)."""
    return {name: load_musicnn(name) for name in JUDGES}


def tag_probabilities(audio: np.ndarray, sr: int, judges: dict[str, MusicnnJudge]) -> dict[tuple[str, str], float]:
    """(judge, tag) -> the clip's probability, averaged over its 3-s patches (one log-mel for both)."""
    first = next(iter(judges.values()))
    patches = first.patches(audio, sr)
    probs = {}
    for name, judge in judges.items():
        p, _ = judge.forward_patches(patches)
        probs.update({(name, tag): float(v) for tag, v in zip(judge.tags, p.mean(axis=0))})
    return probs


def pick(probs: dict[tuple[str, str], float], table: dict[str, tuple[str, str, float]], most: int) -> tuple[str, ...]:
    """The words of `table` whose tag is above its threshold, most probable first, at most `most`."""
    hits = [(probs[(judge, tag)], word) for word, (judge, tag, threshold) in table.items() if probs[(judge, tag)] >= threshold]
    return tuple(word for _, word in sorted(hits, reverse=True)[:most])


def listen(audio: np.ndarray, sr: int, judges: dict[str, MusicnnJudge]) -> ClipFacts:
    """Measure one mono clip `(n_samples,)` at `sr` Hz."""
    probs = tag_probabilities(audio, sr, judges)
    key = estimate_key(audio, sr)
    activity = drum_activity(audio, sr)
    moods = pick(probs, MOOD_TAGS, 1)
    return ClipFacts(
        instruments=pick(probs, INSTRUMENT_TAGS, MAX_INSTRUMENTS),
        genres=pick(probs, GENRE_TAGS, MAX_GENRES),
        mood=moods[0] if moods else None,
        vocals=max(probs[t] for t in VOCAL_TAGS) >= VOCAL_THRESHOLD,
        bpm=round(estimate_tempo(audio, sr), 1),
        key=key.key,
        mode=key.mode,
        drums=activity > DRUM_THRESHOLD,
        drum_activity=round(activity, 4),
        loudness_dbfs=round(rms_dbfs(audio), 2),
    )


def compile_listening(sr: int = 16000) -> None:
    """Run the tempo, key and drum finders once on two seconds of clicks, so librosa's numba
    kernels are imported and compiled in this process. Workers forked after it inherit them
    instead of compiling them at once and writing numba's cache together: a race (numba#10128)
    that can crash a worker and leave a cache that crashes every later run."""
    t = np.arange(2 * sr) / sr
    clicks = np.sin(2 * np.pi * 440 * t) * np.exp(-30 * (t % 0.5)) + 1e-3 * np.random.default_rng(0).standard_normal(len(t))
    clicks = clicks.astype(np.float32)
    estimate_tempo(clicks, sr), estimate_key(clicks, sr), drum_activity(clicks, sr)


def tempo_word(bpm: float) -> str:
    return "slow" if bpm < SLOW_BPM else "fast" if bpm >= FAST_BPM else "medium"


def loudness_word(dbfs: float) -> str | None:
    return "quiet" if dbfs < QUIET_DBFS else "loud" if dbfs > LOUD_DBFS else None


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def write_caption(facts: ClipFacts, describe: str | None, rng: np.random.Generator) -> tuple[str, list[str]]:
    """(caption, aspect list) of a clip from its facts and the user's description (may be None).

    The caption always states the tempo in BPM and the key ("at 86 BPM in D minor"), which the
    generator's prompt parser reads back as controls; its other sentences vary with `rng`."""
    bpm = int(round(facts.bpm))
    key = f"{facts.key} {facts.mode}"
    genre = " ".join(facts.genres[:2]) if facts.genres else ""
    subject = describe.strip().rstrip(".") if describe and describe.strip() else ""
    piece = " ".join(w for w in (genre, rng.choice(["piece", "track", "tune"])) if w)
    head = f"{subject[0].upper()}{subject[1:]}: {_article(piece)}" if subject else _article(piece).capitalize()
    parts = [head]
    if facts.instruments:
        parts.append(rng.choice(["with", "featuring", "played on"]) + " " + _join(list(facts.instruments)))
    sentences = [" ".join(parts) + "."]
    sentences.append(f"The tempo is {tempo_word(facts.bpm)} at {bpm} BPM, in {key}.")
    drums = "Drums keep the beat." if facts.drums else rng.choice(["There are no drums.", "It has no percussion."])
    sentences.append(drums)
    feel = [w for w in (facts.mood, loudness_word(facts.loudness_dbfs)) if w]
    if feel:
        sentences.append(f"It sounds {_join(feel)}.")
    sentences.append("There are vocals." if facts.vocals else "It is instrumental.")
    aspects = ([subject] if subject else []) + list(facts.genres) + list(facts.instruments)
    aspects += ["drums" if facts.drums else "no drums", f"{tempo_word(facts.bpm)} tempo", f"{bpm} bpm", key.lower()]
    aspects += feel + (["vocals"] if facts.vocals else ["instrumental"])
    return " ".join(sentences), aspects

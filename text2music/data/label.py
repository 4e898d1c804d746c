"""Beat grids and chords for real clips: the labels `data import` and `data label` write.

A labelled manifest row has the frame-control fields of a `data synth` row, so
`MusicalControls.from_record` gives a real clip the same controls as a synthetic one:

    bpm          the grid's tempo (the librosa tempo it replaces stays as `bpm_librosa`)
    meter        "3/4" | "4/4"
    beat_offset  beats into the composition at time 0 (a bar starts at every multiple of meter)
    beats, downbeats   seconds from the clip start (a regular grid)
    chord_slots  [[beat, length, root, [pitch classes]], ...] in composition beats (major and
                 minor triads, one per beat, runs merged)
    labels       LABELS_VERSION, the estimators that wrote them

The caption and aspects are written again from the clip's measured facts with the grid's tempo,
so the BPM a caption states is the one the controls carry. The estimators are scored against the
exact grids of the synthetic corpus in bench/results/score_labels.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import fields

import numpy as np

from text2music.analysis.beats import BEATS_VERSION, estimate_beats, load_beatnet
from text2music.analysis.chords import CHORDS_VERSION, chord_slots, estimate_chords
from text2music.data.autocaption import ClipFacts, write_caption

LABELS_VERSION = f"{BEATS_VERSION}+{CHORDS_VERSION}"
NO_BEATNET = (
    "BeatNet is not installed, so clips get no beat grid or chords (pip install --no-deps BeatNet==1.1.3, then `text2music data label`)"
)


def beatnet_installed() -> bool:
    return importlib.util.find_spec("BeatNet") is not None


def load_labeller():
    """The beat network to pass to `clip_labels` (one per process)."""
    return load_beatnet()


def caption_rng(clip_id: str) -> np.random.Generator:
    """The generator a clip's caption is written with (seeded by its id: the same caption every time)."""
    return np.random.default_rng(int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16))


def clip_labels(clip: np.ndarray, sr: int, net) -> dict:
    """The label fields (see the module doc) of a mono clip `(n_samples,)` at `sr` Hz."""
    grid = estimate_beats(clip, sr, net)
    chords = estimate_chords(clip, sr, grid.beats)
    first = round(grid.beat_offset + grid.beats[0] * grid.bpm / 60.0) if grid.beats else 0.0
    return {**grid.to_record(), "chord_slots": chord_slots(chords, float(first)), "labels": LABELS_VERSION}


def with_labels(record: dict, labels: dict, describe: str | None) -> dict:
    """A manifest row with `labels` and its caption and aspects written again at the labels' tempo
    (`describe`: the words the import's captions start with)."""
    facts = ClipFacts(**{f.name: tuple(v) if isinstance(v := record[f.name], list) else v for f in fields(ClipFacts)})
    caption, aspects = write_caption(
        ClipFacts(**{**facts.__dict__, "bpm": labels["bpm"]}), describe or None, caption_rng(record["clip_id"])
    )
    return {**record, "bpm_librosa": record.get("bpm_librosa", record["bpm"]), **labels, "caption": caption, "aspects": aspects}


def is_labelled(record: dict) -> bool:
    return record.get("labels") == LABELS_VERSION

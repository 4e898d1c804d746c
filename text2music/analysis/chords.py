"""Chords of a clip, one a beat: major and minor triads by chroma templates, smoothed by Viterbi.

`estimate_chords(y, sr, beats) -> list of (root, "maj" | "min")` per beat span, and
`chord_slots(chords, first_beat)` -> the manifest's `chord_slots` ([beat, length, root,
[pitch classes]] in composition beats, a run of equal chords one slot). The method:

1. CQT chroma (librosa, hop 512) of the clip, log-compressed, averaged over each beat span
   [beat k, beat k + 1) (the last span as long as the one before it);
2. a score per beat and triad: the cosine between the beat's chroma (mean removed) and the
   triad's template (root, third and fifth; the root weighted `ROOT_WEIGHT`, mean removed);
3. Viterbi over the beats with a bonus `STAY` for keeping the chord: chords change at most a few
   times a bar, and one beat of passing notes does not make a chord.
"""

from __future__ import annotations

import numpy as np

QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7)}
ROOT_WEIGHT = 1.5
STAY = 0.15  # Viterbi bonus (in cosine units) for keeping the chord from one beat to the next
HOP = 512
CHORDS_VERSION = "chroma1"


def triads() -> list[tuple[int, str]]:
    """The 24 chords (root, quality), C major first, then C minor, C# major, ..."""
    return [(root, q) for root in range(12) for q in QUALITIES]


def triad_pitch_classes(root: int, quality: str) -> list[int]:
    return [(root + i) % 12 for i in QUALITIES[quality]]


def templates() -> np.ndarray:
    """`(24, 12)` zero-mean unit-norm templates of `triads()`."""
    t = np.zeros((24, 12))
    for i, (root, quality) in enumerate(triads()):
        t[i, triad_pitch_classes(root, quality)] = 1.0
        t[i, root] = ROOT_WEIGHT
    t -= t.mean(axis=1, keepdims=True)
    return t / np.linalg.norm(t, axis=1, keepdims=True)


def beat_chroma(y: np.ndarray, sr: int, beats: np.ndarray) -> np.ndarray:
    """`(len(beats), 12)`: log-compressed CQT chroma averaged over each beat span, C first."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=np.asarray(y, dtype=np.float32), sr=sr, hop_length=HOP)  # (12, T)
    chroma = np.log1p(10.0 * chroma)
    n = chroma.shape[1]
    beats = np.asarray(beats, dtype=np.float64)
    ends = np.append(beats[1:], beats[-1] + (beats[-1] - beats[-2] if len(beats) > 1 else 0.5))
    out = np.zeros((len(beats), 12))
    for k, (b, e) in enumerate(zip(beats, ends)):
        lo = min(n - 1, int(round(b * sr / HOP)))
        hi = min(n, max(lo + 1, int(round(e * sr / HOP))))
        out[k] = chroma[:, lo:hi].mean(axis=1)
    return out


def viterbi(scores: np.ndarray, stay: float = STAY) -> np.ndarray:
    """The state path `(n,)` maximising the sum of `scores` `(n, states)` plus `stay` per kept state."""
    n, m = scores.shape
    total = scores[0].copy()
    back = np.zeros((n, m), dtype=int)
    for k in range(1, n):
        moves = total[:, None] + stay * np.eye(m)  # (from, to)
        back[k] = np.argmax(moves, axis=0)
        total = moves[back[k], np.arange(m)] + scores[k]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(total))
    for k in range(n - 1, 0, -1):
        path[k - 1] = back[k, path[k]]
    return path


def estimate_chords(y: np.ndarray, sr: int, beats) -> list[tuple[int, str]]:
    """One triad (root, "maj" | "min") per beat span of a mono clip `(n_samples,)` at `sr` Hz;
    `beats`: beat times in seconds (at least one)."""
    if len(beats) == 0:
        return []
    c = beat_chroma(y, sr, np.asarray(beats))
    c = c - c.mean(axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=1, keepdims=True) + 1e-9
    names = triads()
    return [names[i] for i in viterbi(c @ templates().T)]


def chord_slots(chords: list[tuple[int, str]], first_beat: float) -> list[list]:
    """Per-beat chords -> `chord_slots` [[beat, length, root, [pitch classes]], ...]: beat k of
    the list is composition beat `first_beat + k`; runs of one chord become one slot."""
    slots: list[list] = []
    for k, (root, quality) in enumerate(chords):
        if slots and slots[-1][2] == root and slots[-1][4] == quality:
            slots[-1][1] += 1.0
        else:
            slots.append([round(first_beat + k, 4), 1.0, root, triad_pitch_classes(root, quality), quality])
    return [s[:4] for s in slots]

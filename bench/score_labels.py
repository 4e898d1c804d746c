"""Benchmark: the beat, downbeat, meter and chord labels of `data import` against exact truth.

    nice -n 10 python bench/score_labels.py --data /tmp/synth300 [--data /tmp/studio300] --out bench/results/score_labels.md

Each `--data` is a synthetic corpus (`text2music data synth --n 300 --production plain --out
/tmp/synth300`, or `--production studio`; built first, with the CLI's default production, when its
manifest is missing) whose manifest rows hold the exact grid of each clip: `beats`
and `downbeats` (seconds), `bpm`, `meter`, `beat_offset` and `chord_slots` in composition beats.
Scored per corpus, mean over clips:

- beat and downbeat F-measure (70 ms window, one-to-one matching; no beats trimmed), for
  `text2music.analysis.beats.estimate_beats` (BeatNet's CRNN + a regular grid fit) and, for beats
  and tempo, librosa's beat tracker (`librosa.beat.beat_track`) as the baseline;
- tempo accuracy (within 4 % of the stated bpm, no octave allowed; and allowing x2 and x0.5);
- meter accuracy (3/4 vs 4/4) and the share of clips whose `beat_offset` is right mod the meter
  within 0.25 beat;
- chord accuracy per beat at the middle of each true beat span: root and major/minor (a chord's
  third decides it; 7ths and 6ths count as their triad) and root only; once on the estimated
  grid end to end (estimated `chord_slots` read at the estimated composition beat) and once with
  the chord estimator given the true beats (the estimator alone).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WINDOW = 0.07
TEMPO_TOLERANCE = 0.04


def f_measure(ref, est, window: float = WINDOW) -> float:
    """F-measure of `est` against `ref` (seconds), each reference matched to at most one estimate."""
    ref, est = np.sort(np.asarray(ref, float)), np.sort(np.asarray(est, float))
    if len(ref) == 0 and len(est) == 0:
        return 1.0
    if len(ref) == 0 or len(est) == 0:
        return 0.0
    used, hits = np.zeros(len(est), bool), 0
    for t in ref:
        gap = np.where(used, np.inf, np.abs(est - t))
        j = int(np.argmin(gap))
        if gap[j] <= window:
            used[j], hits = True, hits + 1
    p, r = hits / len(est), hits / len(ref)
    return 0.0 if hits == 0 else 2 * p * r / (p + r)


def tempo_ok(est: float, bpm: float, octaves: bool = False) -> bool:
    factors = (1.0, 2.0, 0.5) if octaves else (1.0,)
    return any(abs(est - bpm * f) <= TEMPO_TOLERANCE * bpm * f for f in factors)


def triad_of(root: int, pcs) -> tuple[int, str]:
    return root, "maj" if (root + 4) % 12 in pcs else "min"


def chord_at(slots, position: float):
    """The (root, quality) of the slot sounding at composition beat `position`, or None."""
    for beat, length, root, pcs in slots:
        if beat - 1e-6 <= position < beat + length - 1e-6:
            return triad_of(root, pcs)
    return None


def chord_scores(r: dict, slots, bpm: float, offset: float) -> tuple[list[bool], list[bool]]:
    """Per true beat span middle: (root and quality right, root right) of `slots` read on the
    grid (bpm, offset) against the manifest's chords."""
    full, root = [], []
    beats = r["beats"]
    half = 30.0 / r["bpm"]
    for t in beats:
        if t + half >= r["duration"]:
            continue
        truth = chord_at(r["chord_slots"], r["beat_offset"] + (t + half) * r["bpm"] / 60.0)
        if truth is None:
            continue
        est = chord_at(slots, offset + (t + half) * bpm / 60.0)
        full.append(est == truth)
        root.append(est is not None and est[0] == truth[0])
    return full, root


def bar_phase_ok(r: dict, grid) -> bool:
    """The estimated beat_offset matches the true one mod the meter within 0.25 beat (same meter)."""
    meter = int(str(r["meter"]).split("/")[0])
    if grid.meter != meter:
        return False
    d = (grid.beat_offset - r["beat_offset"] + meter / 2) % meter - meter / 2
    return abs(d) <= 0.25


def score_clip(r: dict, y: np.ndarray, sr: int, net) -> dict:
    import librosa

    from text2music.analysis.beats import estimate_beats
    from text2music.analysis.chords import chord_slots, estimate_chords

    t0 = time.perf_counter()
    grid = estimate_beats(y, sr, net)
    t1 = time.perf_counter()
    chords = estimate_chords(y, sr, grid.beats)
    t2 = time.perf_counter()
    first = round(grid.beat_offset + grid.beats[0] * grid.bpm / 60.0) if grid.beats else 0.0
    slots = chord_slots(chords, first)
    full, root = chord_scores(r, slots, grid.bpm, grid.beat_offset)
    true_slots = chord_slots(estimate_chords(y, sr, r["beats"]), round(r["beat_offset"] + r["beats"][0] * r["bpm"] / 60.0))
    full_t, root_t = chord_scores(r, true_slots, r["bpm"], r["beat_offset"])
    lr_tempo, lr_beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    meter = int(str(r["meter"]).split("/")[0])
    return {
        "clip_id": r["clip_id"],
        "meter": meter,
        "beat_f": f_measure(r["beats"], grid.beats),
        "downbeat_f": f_measure(r["downbeats"], grid.downbeats),
        "tempo": tempo_ok(grid.bpm, r["bpm"]),
        "tempo_octave": tempo_ok(grid.bpm, r["bpm"], octaves=True),
        "meter_ok": grid.meter == meter,
        "bar_phase": bar_phase_ok(r, grid),
        "chord": float(np.mean(full)) if full else np.nan,
        "chord_root": float(np.mean(root)) if root else np.nan,
        "chord_true_beats": float(np.mean(full_t)) if full_t else np.nan,
        "chord_root_true_beats": float(np.mean(root_t)) if root_t else np.nan,
        "librosa_beat_f": f_measure(r["beats"], lr_beats),
        "librosa_tempo": tempo_ok(float(np.atleast_1d(lr_tempo)[0]), r["bpm"]),
        "librosa_tempo_octave": tempo_ok(float(np.atleast_1d(lr_tempo)[0]), r["bpm"], octaves=True),
        "beats_s": t1 - t0,
        "chords_s": t2 - t1,
    }


def ensure_corpus(data: Path, n: int) -> None:
    if not (data / "manifest.jsonl").exists():
        subprocess.run([sys.executable, "-m", "text2music", "data", "synth", "--n", str(n), "--out", str(data), "--quiet"], check=True)


def score_corpus(data: Path, limit: int | None) -> list[dict]:
    import soundfile as sf

    from text2music.analysis.beats import load_beatnet

    rows = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "beats" in r and "chord_slots" in r][:limit]
    net = load_beatnet()
    out = []
    for i, r in enumerate(rows):
        y, sr = sf.read(data / r["audio"], dtype="float32")
        y = y.mean(axis=1) if y.ndim > 1 else y
        out.append(score_clip(r, y, sr, net))
        if (i + 1) % 50 == 0:
            print(f"{data.name}: {i + 1}/{len(rows)}", file=sys.stderr)
    return out


ROWS = (
    ("beat F-measure (70 ms)", "beat_f", "librosa_beat_f"),
    ("downbeat F-measure (70 ms)", "downbeat_f", None),
    ("tempo within 4 %", "tempo", "librosa_tempo"),
    ("tempo within 4 %, x2 and x0.5 allowed", "tempo_octave", "librosa_tempo_octave"),
    ("meter (3/4 vs 4/4)", "meter_ok", None),
    ("bar phase (beat_offset mod meter within 0.25 beat)", "bar_phase", None),
    ("chord per beat: root and major/minor", "chord", None),
    ("chord per beat: root only", "chord_root", None),
    ("chord per beat given the true beats: root and major/minor", "chord_true_beats", None),
    ("chord per beat given the true beats: root only", "chord_root_true_beats", None),
)


def table(name: str, scores: list[dict]) -> str:
    def mean(key, subset=None):
        vals = [float(s[key]) for s in scores if subset is None or s["meter"] == subset]
        vals = [v for v in vals if not np.isnan(v)]
        return f"{np.mean(vals):.3f}" if vals else "-"

    n3 = sum(s["meter"] == 3 for s in scores)
    lines = [
        f"### {name} ({len(scores)} clips, {n3} in 3/4)",
        "",
        "| measure | labels (BeatNet grid + chroma chords) | in 3/4 | in 4/4 | librosa beat_track |",
        "|---|---|---|---|---|",
    ]
    for label, key, baseline in ROWS:
        lines.append(f"| {label} | {mean(key)} | {mean(key, 3)} | {mean(key, 4)} | {mean(baseline) if baseline else ''} |")
    beats_s, chords_s = np.mean([s["beats_s"] for s in scores]), np.mean([s["chords_s"] for s in scores])
    lines += ["", f"Seconds per 10-s clip: beats {beats_s:.2f}, chords {chords_s:.2f} (shared 2-core machine, nice 10).", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append", required=True, help="synthetic corpus (built with --n clips if missing)")
    ap.add_argument("--n", type=int, default=300, help="clips of a corpus built here")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N clips of each corpus")
    ap.add_argument("--out", type=Path, default=Path("bench/results/score_labels.md"))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parts = [
        "## Labels for real music, scored on synthetic truth",
        "",
        "`python bench/score_labels.py " + " ".join(f"--data {d}" for d in args.data) + "` (see the script's docstring).",
        "",
    ]
    for data in args.data:
        ensure_corpus(data, args.n)
        t0 = time.perf_counter()
        scores = score_corpus(data, args.limit)
        parts.append(
            table(
                f"{data} ({json.loads((data / 'corpus.json').read_text()).get('version', '') if (data / 'corpus.json').exists() else ''})",
                scores,
            )
        )
        print(f"{data}: {len(scores)} clips in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    text = "\n".join(parts)
    print(text)
    from text2music.utils import atomic_write_text

    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

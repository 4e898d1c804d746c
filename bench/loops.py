"""Seamless loops, measured: the spectral change across the wrap against the clip's own change, for
clips made with and without --loop, and the loop's length against its bars.

    python3 bench/loops.py --data data/synth --n 24 --model default       # free 4-s loops
    python3 bench/loops.py --data data/synth --n 48 --bars                # loops in whole bars

For each of the first N test prompts of the corpus (free: 4 s, no controls; --bars: its true tempo
and meter as settings, 2 or 4 bars), the wrap change is the RMS log-mel difference between the
clip's last frame and its first when it plays on repeat (the clip tiled three times, analysed as
one signal); a clip passes when that is at most the clip's own 95th percentile of frame-to-frame
change (issue 12's test).

A bar loop wraps on a downbeat, where music has its largest frame changes, so --bars also scores:
- the same test at the loops' own bar lines inside them, and at the bar lines of the corpus's real
  clips and at the wrap of their whole bars played on repeat (what real music scores);
- a test that tells a seam from a bar line: the change of the 0.25-s mean spectrum across each beat
  (wrap included), and how often the wrap is the loop's roughest beat. A wrap that sounds like any
  other beat of the loop is the roughest by chance (1 in the loop's number of beats); the control is
  each loop joined to the next prompt's loop (a real seam, in the same tempo).
Appends to bench/results/loops.jsonl; the picture (bench/results/loops.png) shows one loop played twice.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from text2music.evaluate.prompts import corpus_items
from text2music.evaluate.spectra import frame_change
from text2music.features.mel import log_mel_spectrogram, resample
from text2music.features.plot import pyplot
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings
from text2music.utils import append_jsonl


def wrap_change(audio: np.ndarray, mel_config) -> tuple[float, float]:
    """(change from the last frame to the first on repeat, the clip's 95th percentile of change)."""
    n = len(audio) // mel_config.hop_length
    d = frame_change(log_mel_spectrogram(np.concatenate([audio, audio, audio]), mel_config).numpy())
    return float(d[n - 1]), float(np.percentile(d[n + 3 : 2 * n - 3], 95))


def beat_changes(a: np.ndarray, b: np.ndarray, n_beats: int, mel_config, window: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """`a` then `b`, `a` cut into `n_beats` equal beats: (frame change at each of a's beats, the
    wrap into `b` first; the change of the `window`-s mean spectrum across each, the same way).
    The window stops 2 frames short of the beat either side, so an onset's own frames do not count."""
    hop = mel_config.hop_length
    m = log_mel_spectrogram(np.concatenate([b, a, b]), mel_config).numpy()
    d = frame_change(m)
    w = max(2, round(window * mel_config.sample_rate / hop))
    at = [(len(b) + round(k * len(a) / n_beats)) // hop for k in range(n_beats)]
    at[0] = (len(b) + len(a)) // hop  # the wrap: a's end into b
    ctx = [np.sqrt(np.mean((m[:, k - w - 2 : k - 2].mean(1) - m[:, k + 2 : k + w + 2].mean(1)) ** 2)) for k in at]
    return np.array([d[k - 1] for k in at]), np.array(ctx)


def real_bars(item, mel_config) -> tuple[np.ndarray, int, int] | None:
    """The corpus clip's whole bars from its first downbeat to its last, at the mel's rate, with
    their number of beats and the meter (None if it has fewer than two downbeats)."""
    spec = item.spec
    if len(spec["downbeats"]) < 2:
        return None
    audio, sr = sf.read(item.audio, dtype="float32")
    audio = resample(audio, sr, mel_config.sample_rate)
    first, last = (round(t * mel_config.sample_rate) for t in (spec["downbeats"][0], spec["downbeats"][-1]))
    meter = int(spec["meter"][0])
    return audio[first:last], meter * (len(spec["downbeats"]) - 1), meter


def bar_line_scores(loops: list, reals: list, mel_config) -> dict:
    """The bar-line measures of a --bars run (the module's docstring): `loops` (audio, n_beats,
    meter, plain clip) per prompt, `reals` the corpus clips' whole bars (audio, n_beats, meter)."""
    out = {}
    for name, pairs in (
        ("loop", [(a, a, n, m) for a, n, m, _ in loops]),
        ("plain", [(p, p, n, m) for _, n, m, p in loops]),
        ("splice", [(a, loops[(i + 1) % len(loops)][0], n, m) for i, (a, n, m, _) in enumerate(loops)]),
        ("real", [(a, a, n, m) for a, n, m in reals]),
    ):
        roughest, bar_lines = [], []
        for a, b, n, meter in pairs:
            frames, ctx = beat_changes(a, b, n, mel_config)
            p95 = wrap_change(a, mel_config)[1]
            bar_lines += [bool(x <= p95) for x in frames[meter::meter]]
            roughest.append(bool(ctx[0] >= ctx.max()))
        out[f"{name}_wrap_roughest_beat"] = round(float(np.mean(roughest)), 3)
        if name in ("loop", "real"):
            out[f"{name}_bar_lines_pass"] = round(float(np.mean(bar_lines)), 3)
    out["roughest_by_chance"] = round(float(np.mean([1 / n for _, n, _, _ in loops])), 3)
    out["real_wrap_pass"] = round(float(np.mean([np.less_equal(*wrap_change(a, mel_config)) for a, _, _ in reals])), 3)
    out["n_real"] = len(reals)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/synth16k")
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--model", default="default")
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--bars", action="store_true", help="loops in whole bars at the clip's true tempo (default: free 4-s loops)")
    args = ap.parse_args()
    pipe = Text2Music.from_pretrained(None if args.model == "default" else args.model, vocoder="vocos")  # mel-rate audio: frames line up
    rows = {"loop": [], "plain": []}
    length_errors, example, bar_loops, reals = [], None, [], []
    for i, it in enumerate(corpus_items(args.data, "test", args.n)):
        spec = it.spec
        meter = int(spec["meter"][0])
        bars = 4 if spec["bpm"] >= 100 else 2
        s = GenerationSettings(bpm=float(spec["bpm"]), meter=meter, bars=bars, steps=args.steps, seed=i)
        if not args.bars:
            s, bars = GenerationSettings(duration=4.0, steps=args.steps, seed=i, text_controls=False), spec["bpm"] * 4.0 / 60.0 / meter
        made = {}
        for name, settings in (("loop", s.replace(loop=True)), ("plain", s)):
            made[name] = audio = pipe([it.text], settings).audio[0]
            rows[name].append(wrap_change(audio, pipe.mel))
            if name == "loop":
                length_errors.append(len(audio) - bars * meter * 60.0 / spec["bpm"] * pipe.sample_rate)
                example = example if example is not None else (audio, it.text, spec["bpm"], bars)
        if args.bars:
            bar_loops.append((made["loop"], bars * meter, meter, made["plain"]))
            reals += [r for r in [real_bars(it, pipe.mel)] if r is not None]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "model": args.model,
        "loops": "whole bars at the true tempo" if args.bars else "free, 4 s, no controls",
        "n": args.n,
        "loop_pass": round(float(np.mean([a <= b for a, b in rows["loop"]])), 3),
        "plain_pass": round(float(np.mean([a <= b for a, b in rows["plain"]])), 3),
        "loop_wrap_over_p95": round(float(np.median([a / b for a, b in rows["loop"]])), 3),
        "plain_wrap_over_p95": round(float(np.median([a / b for a, b in rows["plain"]])), 3),
        "max_length_error_samples": round(float(np.max(np.abs(length_errors))), 3),
        **(bar_line_scores(bar_loops, reals, pipe.mel) if args.bars else {}),
    }
    append_jsonl(Path("bench/results/loops.jsonl"), result)
    print(json.dumps(result))
    audio, text, bpm, bars = example
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.2))
    mel = log_mel_spectrogram(np.concatenate([audio, audio]), pipe.mel).numpy()
    ax.imshow(mel, origin="lower", aspect="auto", cmap="magma")
    ax.axvline(len(audio) / pipe.mel.hop_length, color="cyan", lw=1, ls="--")
    ax.set_title(f"a {bars}-bar loop at {bpm:g} BPM played twice (dashed: the wrap): {text[:60]}", fontsize=9)
    ax.set_xlabel("frame")
    ax.set_ylabel("mel band")
    fig.tight_layout()
    fig.savefig("bench/results/loops.png", dpi=110)


if __name__ == "__main__":
    main()

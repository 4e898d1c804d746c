"""Seamless loops, measured: the spectral change across the wrap against the clip's own frame-to-frame
change, for clips made with and without --loop, and the loop's length against its bars.

    python3 bench/loops.py --data data/synth --n 24 --model default       # prints a table, writes a PNG

For each of the first N test prompts of the corpus (its true tempo and meter as settings, 2 or 4
bars), the wrap change is the RMS log-mel difference between the clip's last frame and its first
when it plays on repeat (the clip tiled three times, analysed as one signal); a clip passes when
that is at most the clip's own 95th percentile of frame-to-frame change. Appends to
bench/results/loops.jsonl; the picture (bench/results/loops.png) shows one loop played twice.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from text2music.evaluate.prompts import corpus_items
from text2music.features.mel import log_mel_spectrogram
from text2music.features.plot import pyplot
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings
from text2music.utils import append_jsonl


def wrap_change(audio: np.ndarray, mel_config) -> tuple[float, float]:
    """(change from the last frame to the first on repeat, the clip's 95th percentile of change)."""
    n = len(audio) // mel_config.hop_length
    m = log_mel_spectrogram(np.concatenate([audio, audio, audio]), mel_config).numpy()
    d = np.sqrt(np.mean(np.diff(m, axis=1) ** 2, axis=0))
    return float(d[n - 1]), float(np.percentile(d[n + 3 : 2 * n - 3], 95))


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
    length_errors, example = [], None
    for i, it in enumerate(corpus_items(args.data, "test", args.n)):
        spec = it.spec
        meter = int(spec["meter"][0])
        bars = 4 if spec["bpm"] >= 100 else 2
        s = GenerationSettings(bpm=float(spec["bpm"]), meter=meter, bars=bars, steps=args.steps, seed=i)
        if not args.bars:
            s, bars = GenerationSettings(duration=4.0, steps=args.steps, seed=i, text_controls=False), spec["bpm"] * 4.0 / 60.0 / meter
        for name, settings in (("loop", s.replace(loop=True)), ("plain", s)):
            audio = pipe([it.text], settings).audio[0]
            rows[name].append(wrap_change(audio, pipe.mel))
            if name == "loop":
                length_errors.append(len(audio) - bars * meter * 60.0 / spec["bpm"] * pipe.sample_rate)
                example = example if example is not None else (audio, it.text, spec["bpm"], bars)
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

"""Benchmark: the full-band vocoder (issue 25) against the 16-kHz one it grew from.

    python bench/full_band.py speed   --fullband vocos-fullband            # the vocoders alone, 2 threads
    python bench/full_band.py picture --clips data/reserved44k:2:all,data/debian44k:1,data/synth44k:1 -o docs/images/full_band.png

`speed`: seconds to turn a 10-s mel into audio (median of 5 after a warm-up): the 16-kHz
vocoder (`vocos`), and the full-band one writing 48 kHz and 44.1 kHz (its 48 kHz resampled, as the
pipeline writes it); real-time factors and the ratio to the 16-kHz vocoder in the same run.
`picture`: test clips never trained on, full band (0-22 kHz, linear frequency, 2048-point STFT):
the real audio at 44.1 kHz, the 16-kHz vocoder from the clip's mel (upsampled: nothing above
8 kHz), and the full-band vocoder from the same mel.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from text2music.evaluate.bands import power_spectrogram
from text2music.features.mel import load_audio, log_mel_spectrogram, resample
from text2music.models.vocoder import neural_vocoder_folder as folder_of
from text2music.models.vocoder import read_vocoder

RATE = 44100


def timed(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def speed(args) -> None:
    torch.set_num_threads(args.threads)
    narrow, wide = read_vocoder(folder_of("vocos")), read_vocoder(folder_of(args.fullband))
    mel = log_mel_spectrogram(torch.randn(10 * 16000) * 0.1, narrow.mel)[None]
    rows = {
        "vocos (16 kHz)": timed(lambda: narrow(mel)),
        f"{wide.name} (48 kHz)": timed(lambda: wide(mel)),
        f"{wide.name} -> 44.1 kHz": timed(lambda: resample(wide(mel)[0].numpy(), wide.sample_rate, RATE)),
    }
    base = rows["vocos (16 kHz)"]
    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} threads; a 10-s clip's mel -> audio\n")
    print("| vocoder | s per 10-s clip | real-time factor | vs vocos (16 kHz) |\n|---|---|---|---|")
    for name, s in rows.items():
        print(f"| {name} | {s:.3f} | {10 / s:.0f}x | {s / base:.2f}x |")


def test_clips(spec: str) -> list[tuple[str, Path]]:
    """`CORPUS:N[:SPLIT]` -> the first clip of each of the first N files of that corpus's split
    (default test; all: every split, for a corpus of reserved test music) as (caption, path)."""
    corpus, n, split = (spec + ":test").split(":")[:3]
    with open(Path(corpus) / "metadata.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if split in ("all", r["split"])]
    first = {r["ytid"].rsplit("-", 1)[0]: r for r in reversed(rows)}  # one clip per file (synth clips: each its own)
    rows = sorted(first.values(), key=rows.index)[: int(n)]
    return [(r.get("caption", r["ytid"]), Path(corpus) / "audio" / f"{r['ytid']}.wav") for r in rows]


def db_spectrogram(audio: np.ndarray) -> np.ndarray:
    return 10 * np.log10(power_spectrogram(audio) + 1e-10)


def picture(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    narrow, wide = read_vocoder(folder_of("vocos")), read_vocoder(folder_of(args.fullband))
    clips = [c for spec in args.clips.split(",") for c in test_clips(spec)]
    fig, axes = plt.subplots(len(clips), 3, figsize=(15, 3.2 * len(clips)), squeeze=False)
    for row, (caption, path) in zip(axes, clips):
        real = load_audio(path, RATE, max_seconds=args.seconds)
        mel = log_mel_spectrogram(torch.from_numpy(load_audio(path, narrow.mel.sample_rate, max_seconds=args.seconds)), narrow.mel)[None]
        made = {
            "real (44.1 kHz)": real,
            "16-kHz vocoder (vocos), upsampled": resample(narrow(mel)[0].numpy(), narrow.sample_rate, RATE),
            f"full-band vocoder ({wide.name}) -> 44.1 kHz": resample(wide(mel)[0].numpy(), wide.sample_rate, RATE),
        }
        top = db_spectrogram(real).max()
        for ax, (title, audio) in zip(row, made.items()):
            spec = db_spectrogram(audio[: len(real)])
            ax.imshow(
                spec, origin="lower", aspect="auto", vmin=top - 90, vmax=top, cmap="magma", extent=(0, len(real) / RATE, 0, RATE / 2000)
            )
            ax.axhline(8, color="white", lw=0.6, ls="--")
            ax.set_title(f"{title}\n{path.stem}: {caption[:60]}", fontsize=8)
            ax.set_ylabel("kHz")
    axes[-1][1].set_xlabel("seconds")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(json.dumps({"picture": str(args.out), "clips": [str(p) for _, p in clips]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=["speed", "picture"])
    ap.add_argument("--fullband", default="vocos-fullband", help="the full-band vocoder: vocos-fullband or a folder")
    ap.add_argument(
        "--clips",
        default="data/reserved44k:2:all,data/debian44k:1,data/synth44k:1",
        help="picture: CORPUS:N[:SPLIT],... clips never trained on",
    )
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-o", "--out", type=Path, default=Path("docs/images/full_band.png"))
    args = ap.parse_args()
    {"speed": speed, "picture": picture}[args.stage](args)


if __name__ == "__main__":
    main()

"""Benchmark: the full-band vocoder (issue 25) against the 16-kHz one it grew from.

    python bench/full_band.py speed   --fullband vocos-fullband            # the vocoders alone, 2 threads
    python bench/full_band.py picture --clips data/reserved44k:2:all,data/debian44k:1,data/synth44k:1 -o docs/images/full_band.png
    python bench/full_band.py lsd     --fullband vocos-fullband,runs/vocos-fullband-branch --corpus data/synth44k --n 403

`speed`: seconds to turn a 10-s mel into audio (median of 5 after a warm-up): the 16-kHz
vocoder (`vocos`), and the full-band one writing 48 kHz and 44.1 kHz (its 48 kHz resampled, as the
pipeline writes it); real-time factors and the ratio to the 16-kHz vocoder in the same run.
`picture`: test clips never trained on, full band (0-22 kHz, linear frequency, 2048-point STFT):
the real audio at 44.1 kHz, the 16-kHz vocoder from the clip's mel (upsampled: nothing above
8 kHz), and each full-band vocoder (`--fullband A,B`) from the same mel.
`lsd`: the log-spectral distance above 8 kHz (`text2music.evaluate.bands`) of each full-band vocoder,
per test clip, against the 16-kHz vocoder upsampled (the issue's yardstick), with a paired bootstrap
interval of the first two vocoders' difference; and how much of it is the envelope (both spectra
smoothed over 24 bins, about 500 Hz) and how much the fine structure, with the distance a perfectly
smooth estimate of the real envelope would keep (the real spectrum's own deviation from its envelope).
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

from text2music.evaluate.bands import FLOOR_DB, N_FFT, band_lsd, power_spectrogram
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
    narrow, wide = read_vocoder(folder_of("vocos")), read_vocoder(folder_of(args.fullband.split(",")[0]))
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
    rows = split_rows(Path(corpus), split)
    first = {r["ytid"].rsplit("-", 1)[0]: r for r in reversed(rows)}  # one clip per file (synth clips: each its own)
    rows = sorted(first.values(), key=rows.index)[: int(n)]
    return [(r.get("caption", r["ytid"]), Path(corpus) / "audio" / f"{r['ytid']}.wav") for r in rows]


def db_spectrogram(audio: np.ndarray) -> np.ndarray:
    return 10 * np.log10(power_spectrogram(audio) + 1e-10)


def picture(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    narrow, wides = read_vocoder(folder_of("vocos")), {spec: read_vocoder(folder_of(spec)) for spec in args.fullband.split(",")}
    clips = [c for spec in args.clips.split(",") for c in test_clips(spec)]
    fig, axes = plt.subplots(len(clips), 2 + len(wides), figsize=(5 * (2 + len(wides)), 3.2 * len(clips)), squeeze=False)
    for row, (caption, path) in zip(axes, clips):
        real = load_audio(path, RATE, max_seconds=args.seconds)
        made = {"real (44.1 kHz)": real, "16-kHz vocoder (vocos), upsampled": vocoded(narrow, path, args.seconds)}
        made |= {f"full-band vocoder ({spec}) -> 44.1 kHz": vocoded(wide, path, args.seconds) for spec, wide in wides.items()}
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


def vocoded(vocoder, path: Path, seconds: float) -> np.ndarray:
    """The clip made again by `vocoder` from its mel (computed at the mel's rate), at 44.1 kHz."""
    low = load_audio(path, vocoder.mel.sample_rate, max_seconds=seconds)
    with torch.no_grad():
        audio = vocoder(log_mel_spectrogram(torch.from_numpy(low), vocoder.mel)[None])[0].numpy()
    return resample(audio, vocoder.sample_rate, RATE)


def envelope_split(real: np.ndarray, made: np.ndarray) -> tuple[float, float]:
    """(the distance above 8 kHz between the two spectra smoothed over 24 bins, the real spectrum's own
    distance from its smoothed self there): the envelope's part, and what a perfectly smooth estimate keeps."""
    from scipy.ndimage import uniform_filter1d

    ref, est = power_spectrogram(real), power_spectrogram(made)
    floor = ref.max() * 10 ** (-FLOOR_DB / 10) + 1e-20
    ref_db, est_db = (10 * np.log10(np.maximum(x, floor)) for x in (ref, est))
    ref_env, est_env = uniform_filter1d(ref_db, 24, axis=0), uniform_filter1d(est_db, 24, axis=0)
    rows = np.fft.rfftfreq(N_FFT, 1 / RATE) >= 8000
    rms = lambda d: float(np.sqrt(np.mean(d[rows] ** 2, axis=0)).mean())  # noqa: E731
    return rms(ref_env - est_env), rms(ref_db - ref_env)


def lsd(args) -> None:
    torch.set_num_threads(args.threads)
    specs = ["vocos"] + args.fullband.split(",")
    vocoders = {spec: read_vocoder(folder_of(spec)) for spec in specs}
    clips = [Path(args.corpus) / "audio" / f"{r['ytid']}.wav" for r in split_rows(Path(args.corpus), args.split)][: args.n]
    per_clip = {spec: [] for spec in specs}
    envelope = {spec: [] for spec in specs[1:]}
    smooth = []
    for i, path in enumerate(clips):
        real = load_audio(path, RATE, max_seconds=args.seconds)
        for spec, vocoder in vocoders.items():
            made = vocoded(vocoder, path, args.seconds)[: len(real)]
            per_clip[spec].append(band_lsd(real[: len(made)], made, RATE)["8-22k"])
            if spec != "vocos":
                env, own = envelope_split(real[: len(made)], made)  # `own`: the real clip's, the same for every vocoder
                envelope[spec].append(env)
        smooth.append(own)
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(clips)} clips", flush=True)
    base = float(np.mean(per_clip["vocos"]))
    print(f"\n{len(clips)} clips of {args.corpus} ({args.split}), first {args.seconds:g} s; LSD 8-22 kHz, dB\n")
    print("| vocoder | LSD 8-22k | / vocos upsampled | envelope (24-bin smoothed) |\n|---|---|---|---|")
    print(f"| vocos (16 kHz), upsampled | {base:.3f} | 1 | |")
    for spec in specs[1:]:
        m = float(np.mean(per_clip[spec]))
        print(f"| {spec} | {m:.3f} | {m / base:.3f} | {np.mean(envelope[spec]):.3f} |")
    print(f"\na perfectly smooth estimate of the real envelope: {np.mean(smooth):.3f} dB (the real band's own fine structure)")
    if len(specs) > 2:
        diff = np.array(per_clip[specs[2]]) - np.array(per_clip[specs[1]])
        rng = np.random.default_rng(0)
        draws = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(2000)]
        lo, hi = np.percentile(draws, [2.5, 97.5])
        print(f"{specs[2]} - {specs[1]}: {diff.mean():+.3f} dB [{lo:+.3f}, {hi:+.3f}] (paired bootstrap over clips, 2000 draws)")


def split_rows(corpus: Path, split: str) -> list[dict]:
    """The metadata rows of `split` (all: every split) of a corpus folder, in order."""
    with open(corpus / "metadata.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if split in ("all", r["split"])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=["speed", "picture", "lsd"])
    ap.add_argument("--fullband", default="vocos-fullband", help="full-band vocoders, comma-separated (speed: the first): names or folders")
    ap.add_argument("--corpus", type=Path, default=Path("data/synth44k"), help="lsd: a corpus folder at 44.1 kHz")
    ap.add_argument("--split", default="test", help="lsd: its split (all: every clip, for reserved test music)")
    ap.add_argument("--n", type=int, default=403, help="lsd: clips")
    ap.add_argument(
        "--clips",
        default="data/reserved44k:2:all,data/debian44k:1,data/synth44k:1",
        help="picture: CORPUS:N[:SPLIT],... clips never trained on",
    )
    ap.add_argument("--seconds", type=float, default=6.0, help="of each clip (lsd: use 10, the evaluation's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-o", "--out", type=Path, default=Path("docs/images/full_band.png"))
    args = ap.parse_args()
    {"speed": speed, "picture": picture, "lsd": lsd}[args.stage](args)


if __name__ == "__main__":
    main()

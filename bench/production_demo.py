"""Demo: the same short songs plain (one mono pass of the soundfont) and produced (`production`),
for three styles; a PNG of their spectrograms (plain, produced left, produced right), and per clip
the integrated loudness, peak, stereo width and the CPU time `produce` takes (the least of 5 runs). The spectrograms are in
dB relative to each clip's loudness, so they compare the sound, not the level.

    python bench/production_demo.py [--out docs/images/production_demo.png] [--seconds 10]

Width is the side-to-mid energy ratio in dB ((L-R)/2 against (L+R)/2; -inf for mono), and
"mono keeps" the share of the stereo energy left in the (L+R)/2 downmix.
"""

from __future__ import annotations

import argparse
import io
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from scipy import signal

from text2music.data.synth.compose import compose, part_role, sample_song
from text2music.data.synth.render import Synths, bundled_soundfont, installed_soundfonts, render, synthesize_stems
from text2music.production import integrated_loudness, produce, production_plan
from text2music.utils import atomic_path

STYLES = ("classical", "jazz", "electronic")
SAMPLE_RATE = 22050
REPEATS = 5


def spectrogram_db(x: np.ndarray, lufs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """STFT magnitude in dB relative to the clip's loudness (so plain and produced compare at the same level)."""
    f, t, z = signal.stft(x, SAMPLE_RATE, nperseg=1024, noverlap=768)
    return f, t, 20 * np.log10(np.abs(z) + 1e-7) - lufs


def width(stereo: np.ndarray) -> tuple[float, float]:
    mid, side = (stereo[:, 0] + stereo[:, 1]) / 2, (stereo[:, 0] - stereo[:, 1]) / 2
    e_mid, e_side = float(np.sum(mid.astype(np.float64) ** 2)), float(np.sum(side.astype(np.float64) ** 2))
    e_lr = float(np.sum(stereo.astype(np.float64) ** 2)) / 2
    return (10 * math.log10(e_side / e_mid) if e_side > 0 else -math.inf), e_mid / e_lr


def clips(style: str, seconds: float, soundfont: Path, synths: Synths) -> tuple[np.ndarray, np.ndarray, dict]:
    """(plain mono, produced stereo, numbers) for one song of `style`."""
    rng = np.random.default_rng(sorted(STYLES).index(style) + 1)
    song = sample_song(rng, style)
    parts = compose(song, seconds, rng)
    plain = render(parts, str(soundfont), SAMPLE_RATE, seconds, song.dynamics, np.random.default_rng(0), synths).audio
    stems = [(part_role(part), stem) for (part, _), stem in zip(parts, synthesize_stems(parts, soundfont, seconds, synths))]
    plan = production_plan(style, np.random.default_rng(0))
    cpu_ms = math.inf
    for _ in range(REPEATS):  # the least CPU time of a few runs: the machine's other work adds to every run
        t0 = time.process_time()
        produced = produce(stems, plan, SAMPLE_RATE)
        cpu_ms = min(cpu_ms, (time.process_time() - t0) * 1e3)
    side_db, mono_keeps = width(produced)
    numbers = {
        "instruments": ", ".join(f"{role}" for role, _ in stems),
        "plain LUFS": integrated_loudness(plain, SAMPLE_RATE),
        "produced LUFS": integrated_loudness(produced, SAMPLE_RATE),
        "target LUFS": plan.settings["master"]["lufs"],
        "plain peak": float(np.abs(plain).max()),
        "produced peak": float(np.abs(produced).max()),
        "side/mid dB": side_db,
        "mono keeps": mono_keeps,
        "produce CPU ms": cpu_ms,
    }
    return plain, produced, numbers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/images/production_demo.png")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    soundfont = (installed_soundfonts() or [bundled_soundfont()])[0]
    synths = Synths(SAMPLE_RATE)
    fig, axes = plt.subplots(len(STYLES), 3, figsize=(12, 2.4 * len(STYLES)), sharex=True, sharey=True)
    for row, style in enumerate(STYLES):
        plain, produced, numbers = clips(style, args.seconds, soundfont, synths)
        print(f"{style} ({soundfont.name}; parts: {numbers.pop('instruments')})")
        print("   " + "  ".join(f"{k} {v:.2f}" for k, v in numbers.items()))
        panels = [("plain (mono)", plain, numbers["plain LUFS"])]
        panels += [(f"produced {side}", produced[:, i], numbers["produced LUFS"]) for i, side in enumerate("LR")]
        for col, (title, x, lufs) in enumerate(panels):
            f, t, db = spectrogram_db(x, lufs)
            ax = axes[row, col]
            ax.pcolormesh(t, f, db, vmin=-75, vmax=5, shading="auto", cmap="magma", rasterized=True)
            ax.set_yscale("symlog", linthresh=500)
            ax.set_ylim(40, SAMPLE_RATE / 2)
            ax.set_title(f"{style}: {title}", fontsize=9)
            if col == 0:
                ax.set_ylabel("Hz")
    for ax in axes[-1]:
        ax.set_xlabel("s")
    fig.tight_layout()
    out = Path(args.out)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=72, format="png")
    with atomic_path(out) as tmp:  # a 256-colour palette keeps the PNG small
        Image.open(buffer).convert("RGB").quantize(256).save(tmp, format="PNG", optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()

"""Spectrograms of the same test prompts side by side: the corpus's real clip, then each report's clip
(seed 0) of that prompt, one row per prompt, one colour scale (the leaderboard's 16-kHz mel).

    python3 bench/report_spectrograms.py --data data/real --prompts 0 10 20 --out docs/images/real_mix.png \\
        "shipped default=reports/adapter_nopulse/default" "real-mix candidate=reports/real_mix/real-music-candidate"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from text2music.evaluate.prompts import corpus_items
from text2music.features.config import get_preset
from text2music.features.mel import load_audio, log_mel_spectrogram
from text2music.features.plot import save_mel_grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", help="LABEL=REPORT_FOLDER (an `evaluate` output with its audio/)")
    ap.add_argument("--data", default="data/synth", help="the corpus the reports judged")
    ap.add_argument("--n", type=int, default=150, help="the reports' --n")
    ap.add_argument("--prompts", type=int, nargs="+", default=[0, 1, 2], help="indices among the first N test prompts")
    ap.add_argument("--out", type=Path, required=True, help="PNG path")
    args = ap.parse_args()
    systems = [r.split("=", 1) for r in args.reports]
    if any(len(s) != 2 for s in systems):
        ap.error("each report is LABEL=REPORT_FOLDER")
    items = corpus_items(args.data, "test", args.n)
    if max(args.prompts) >= len(items):
        ap.error(f"--prompts: the corpus has {len(items)} test prompts among the first {args.n}")
    cfg = get_preset("small")
    mels, titles = [], []
    for it in (items[i] for i in args.prompts):
        paths = [("real", Path(it.audio))] + [(label, Path(folder) / "audio" / f"{it.id}_s0.wav") for label, folder in systems]
        for label, path in paths:
            if not path.is_file():
                raise SystemExit(f"{path}: no such clip (was the report made with --data {args.data} --n {args.n}?)")
            mels.append(log_mel_spectrogram(load_audio(path, cfg.sample_rate), cfg).numpy())
            titles.append(f"{label}: {it.text[:48]}...")
    save_mel_grid(args.out, mels, cfg, titles, cols=len(paths))


if __name__ == "__main__":
    main()

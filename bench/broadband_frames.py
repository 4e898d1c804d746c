"""How often a clip's spectrum jumps at once across the band: onsets per band, and broadband frames.

For each report's clips (seed 0) of the same corpus prompts, and for the corpus's own real clips first:
the share of mel bands whose power rises by more than 1 nat (4.3 dB) from one frame to the next
(note onsets and hits, as `bench/beat_clicks.py` counts them), and the share of frames where more
than half of the bands rise at once (broadband transients: drum hits, clicks).

    python3 bench/broadband_frames.py --data data/real "other tracks=reports/other_tracks/real-other-tracks" \\
        "default=reports/other_tracks/default" "+ adapter=reports/other_tracks/default-adapter"
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from text2music.evaluate.folder import clip_name
from text2music.evaluate.prompts import corpus_items
from text2music.features.mel import MelConfig, load_audio, log_mel_spectrogram

MEL = MelConfig(sample_rate=16000, n_fft=1024, hop_length=256, n_mels=80, n_frames=626, norm="db")
JUMP = 1.0  # nats of mel power between consecutive frames (4.3 dB)


def jump_shares(path: Path) -> tuple[float, float]:
    """(share of band-frames that jump, share of frames where more than half of the bands jump)."""
    mel = log_mel_spectrogram(load_audio(path, MEL.sample_rate), MEL).numpy()
    per_frame = (np.diff(mel / (10 / np.log(10)), axis=1) > JUMP).mean(axis=0)  # dB -> nats of power
    return float(per_frame.mean()), float((per_frame > 0.5).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="*", help="LABEL=REPORT_FOLDER (an `evaluate` output with its audio/)")
    ap.add_argument("--data", default="data/synth", help="the corpus the reports judged")
    ap.add_argument("--n", type=int, default=150, help="the reports' --n")
    args = ap.parse_args()
    systems = [r.split("=", 1) for r in args.reports]
    if any(len(s) != 2 for s in systems):
        ap.error("each report is LABEL=REPORT_FOLDER")
    items = corpus_items(args.data, "test", args.n)
    rows = [("real clips of the prompts", [Path(it.audio) for it in items])]
    rows += [(label, [Path(folder) / "audio" / f"{clip_name(it.id, 0)}.wav" for it in items]) for label, folder in systems]
    print("| clips | band onsets per frame | broadband frames |\n|---|---|---|")
    for label, paths in rows:
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise SystemExit(f"{label}: no clip {missing[0]} (not a report of these prompts?)")
        onsets, broadband = np.mean([jump_shares(p) for p in paths], axis=0)
        print(f"| {label} | {onsets:.3f} | {broadband:.4f} |")


if __name__ == "__main__":
    main()

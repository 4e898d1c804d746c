"""Take a corpus's audio to a machine that cannot build it (a lent accelerator: no network, no
soundfont renderer), within a size limit, and make a corpus of it there.

    python3 scripts/carry_corpus.py pack data/synth44k .carry/synth --train 140 --valid 8
    python3 scripts/carry_corpus.py unpack .carry/synth /tmp/data/synth        # on the other machine

`pack` writes the first `--train` train clips and `--valid` valid clips of the corpus (its
metadata.csv order, the order `train-vocoder` reads) as 48-kHz Opus (libsndfile's compression
level 0.5: about 130 kbit/s, mono), with a metadata.csv of their ytid and split. `unpack` decodes
them into a corpus folder `train-vocoder` reads (audio/<ytid>.wav, 16-bit, 48 kHz). The codec's
change to the audio is measured by `pack`: the log-spectral distance per band between a few
packed clips and their originals.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

RATE = 48_000  # Opus's own rate
LEVEL = 0.5  # libsndfile's Opus compression level (0: largest, 1: smallest)


def chosen_rows(corpus: Path, n_train: int, n_valid: int) -> list[dict]:
    """The first `n_train` train rows and `n_valid` valid rows of metadata.csv that have audio."""
    with open(corpus / "metadata.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if (corpus / "audio" / f"{r['ytid']}.wav").exists()]
    wanted = {"train": n_train, "valid": n_valid}
    picked = []
    for row in rows:
        if wanted.get(row.get("split"), 0) > 0:
            wanted[row["split"]] -= 1
            picked.append(row)
    return picked


def opus_bytes(audio: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, soxr.resample(audio, rate, RATE), RATE, format="OGG", subtype="OPUS", compression_level=LEVEL)
    return buffer.getvalue()


def pack(corpus: Path, out: Path, n_train: int, n_valid: int, max_seconds: float, checked: int = 8) -> None:
    from text2music.evaluate.bands import band_lsd

    rows = chosen_rows(corpus, n_train, n_valid)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    lsd: list[dict[str, float]] = []
    for i, row in enumerate(rows):
        with sf.SoundFile(corpus / "audio" / f"{row['ytid']}.wav") as f:
            audio, rate = f.read(int(max_seconds * f.samplerate), dtype="float32", always_2d=True).mean(axis=1), f.samplerate
        data = opus_bytes(audio, rate)
        (out / "audio" / f"{row['ytid']}.opus").write_bytes(data)
        if i < checked:
            decoded, _ = sf.read(io.BytesIO(data), dtype="float32")
            decoded = soxr.resample(decoded, RATE, rate)[: len(audio)]
            lsd.append(band_lsd(audio[: len(decoded)], decoded, rate))
    with open(out / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["ytid", "split"])
        writer.writeheader()
        writer.writerows({"ytid": r["ytid"], "split": r["split"]} for r in rows)
    size = sum(p.stat().st_size for p in (out / "audio").iterdir())
    bands = {k: round(float(np.mean([d[k] for d in lsd])), 3) for k in lsd[0]} if lsd else {}
    print(f"{out}: {len(rows)} clips, {size / 2**20:.1f} MiB; codec's LSD per band on {len(lsd)} clips: {bands}")


def unpack(folder: Path, out: Path) -> None:
    (out / "audio").mkdir(parents=True, exist_ok=True)
    with open(folder / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        audio, rate = sf.read(folder / "audio" / f"{row['ytid']}.opus", dtype="float32")
        sf.write(out / "audio" / f"{row['ytid']}.wav", audio, rate, subtype="PCM_16")
    (out / "metadata.csv").write_bytes((folder / "metadata.csv").read_bytes())
    print(f"{out}: {len(rows)} clips decoded")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="a corpus's first clips -> Opus + metadata.csv")
    p.add_argument("corpus", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=int, default=140, help="train clips")
    p.add_argument("--valid", type=int, default=8, help="valid clips")
    p.add_argument("--seconds", type=float, default=10.0, help="the first seconds of each clip")
    u = sub.add_parser("unpack", help="packed clips -> a corpus folder of WAV files")
    u.add_argument("folder", type=Path)
    u.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        if not (args.corpus / "metadata.csv").is_file():
            parser.error(f"{args.corpus}: not a corpus folder (no metadata.csv)")
        pack(args.corpus, args.out, args.train, args.valid, args.seconds)
    else:
        if not (args.folder / "metadata.csv").is_file():
            parser.error(f"{args.folder}: not a packed corpus (no metadata.csv)")
        unpack(args.folder, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

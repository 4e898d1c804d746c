"""Benchmark: offline corpus build throughput (compose + render + caption + write), jobs 1 and 2.

    python bench/bench_synth.py [--clips 200]

Builds `--clips` 10-s clips at 22050 Hz twice into temporary folders (jobs=1, jobs=2), checks the
two corpora are byte-identical, prints clips/s and the extrapolated time of the default
4000-clip build, and appends a JSON line to bench/results/synth.jsonl.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from text2music.data.synth import build_corpus
from text2music.data.synth.render import find_soundfont


def build(root: Path, n: int, jobs: int) -> float:
    t0 = time.perf_counter()
    build_corpus(root, n=n, seed=0, jobs=jobs, progress=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        seconds = {jobs: build(tmp / f"jobs{jobs}", args.clips, jobs) for jobs in (1, 2)}
        wavs = sorted(p.name for p in (tmp / "jobs1" / "audio").glob("*.wav"))
        _, mismatch, errors = filecmp.cmpfiles(tmp / "jobs1" / "audio", tmp / "jobs2" / "audio", wavs, shallow=False)
        identical = not mismatch and not errors and filecmp.cmp(tmp / "jobs1/manifest.jsonl", tmp / "jobs2/manifest.jsonl", shallow=False)
        audio_mb = sum(p.stat().st_size for p in (tmp / "jobs1" / "audio").glob("*.wav")) / 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rate = {f"jobs{j}": round(args.clips / s, 2) for j, s in seconds.items()}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "clips": args.clips,
        "duration_s": 10.0,
        "sample_rate": 22050,
        "soundfont": find_soundfont().name,
        "clips_per_s": rate,
        "extrapolated_4000_clips_min": {k: round(4000 / v / 60, 1) for k, v in rate.items()},
        "audio_mb_per_clip": round(audio_mb / args.clips, 3),
        "jobs1_equals_jobs2": identical,
        "time": time.strftime("%Y-%m-%d %H:%M"),
    }
    out = Path(__file__).parent / "results" / "synth.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps(result) + "\n")
    print("| jobs | clips/s | 4000 clips (min) |\n|---|---|---|")
    for k, v in rate.items():
        print(f"| {k[4:]} | {v} | {result['extrapolated_4000_clips_min'][k]} |")
    print(f"jobs=1 and jobs=2 corpora identical: {identical}")


if __name__ == "__main__":
    main()

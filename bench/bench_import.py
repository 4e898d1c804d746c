"""Import speed: audio files -> captioned clips (`text2music data import`), in x real time.

    python bench/bench_import.py FOLDER [--minutes 20] [--jobs 1 2]

Takes audio files from FOLDER (sorted, whole files) until `--minutes` of audio, imports them into
a temporary corpus once per `--jobs` value (the same files; jobs=1 is the baseline of the ratio),
and profiles one clip's stages (decode, repeat fingerprint, musicnn taggers, tempo, key, drums).
Appends a JSON line to bench/results/import.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from text2music.analysis.drums import drum_activity
from text2music.analysis.key import estimate_key
from text2music.analysis.tempo import estimate_tempo
from text2music.data.audio_import import ImportConfig, find_audio, fingerprint, import_audio, read_audio
from text2music.data.autocaption import load_judges, tag_probabilities

RESULTS = Path(__file__).resolve().parent / "results" / "import.jsonl"


def pick_files(folder: Path, minutes: float) -> tuple[list[Path], float]:
    files, seconds = [], 0.0
    for f in find_audio([folder]):
        try:
            length = sf.info(str(f)).duration
        except RuntimeError:
            continue
        files.append(f)
        seconds += length
        if seconds >= 60 * minutes:
            break
    return files, seconds


def stage_times(file: Path, cfg: ImportConfig, repeats: int = 5) -> dict:
    """Seconds per 10-s clip of each stage, in this process (torch on one thread, as in a worker)."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    y = read_audio(file, cfg.sample_rate)
    decode = (time.perf_counter() - t0) / max(1.0, len(y) / cfg.sample_rate / cfg.clip_seconds)
    n = int(cfg.clip_seconds * cfg.sample_rate)
    clips = [y[i * n : (i + 1) * n] for i in range(min(repeats, len(y) // n))]
    judges = load_judges()
    stages = {
        "fingerprint": lambda c: fingerprint(c, cfg.sample_rate),
        "musicnn (2 taggers)": lambda c: tag_probabilities(c, cfg.sample_rate, judges),
        "tempo": lambda c: estimate_tempo(c, cfg.sample_rate),
        "key": lambda c: estimate_key(c, cfg.sample_rate),
        "drums": lambda c: drum_activity(c, cfg.sample_rate),
    }
    out = {"decode + resample": round(decode, 4)}
    for name, fn in stages.items():
        fn(clips[0])  # warm-up (numba compiles librosa's beat tracker on first use)
        t0 = time.perf_counter()
        for c in clips:
            fn(c)
        out[name] = round((time.perf_counter() - t0) / len(clips), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    cfg = ImportConfig()
    files, seconds = pick_files(args.folder, args.minutes)
    print(f"{len(files)} files, {seconds / 60:.1f} min of audio")
    runs = {}
    for jobs in args.jobs:
        out = Path(tempfile.mkdtemp(prefix="bench-import-"))
        try:
            t0 = time.perf_counter()
            summary = import_audio(files, out, cfg, jobs=jobs, describe="benchmark", progress=False)
            wall = time.perf_counter() - t0
        finally:
            shutil.rmtree(out, ignore_errors=True)
        runs[jobs] = {"seconds": round(wall, 1), "x_real_time": round(seconds / wall, 1), "clips": summary["clips"]}
        print(f"jobs={jobs}: {wall:.1f} s, {seconds / wall:.1f}x real time, {summary['clips']} clips")
    stages = stage_times(files[0], cfg)
    print("seconds per 10-s clip, one thread:", json.dumps(stages))
    record = {"date": time.strftime("%Y-%m-%d %H:%M"), "files": len(files), "audio_minutes": round(seconds / 60, 1), "runs": runs}
    record["stages_s_per_clip"] = stages
    record["stages_total"] = round(float(np.sum(list(stages.values()))), 3)
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()

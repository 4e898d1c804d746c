"""Agreement between the offline corpus' ground truth and what is measured on its audio.

    python bench/synth_agreement.py [--clips 200] [--corpus DIR] [--jobs 2]

Builds a corpus (seed 0, 10-s clips) in a temporary folder unless --corpus names a built one,
then measures every clip with text2music.analysis (check_clip): tempo (librosa beat tracker, 8%,
octave errors allowed), key (Krumhansl-Schmuckler on CQT chroma: exact / relative / parallel /
fifth / other), drums (drum_activity vs DRUM_THRESHOLD) and RMS loudness by dynamics. Prints
overall and per-genre fractions and appends a JSON line to bench/results/synth_agreement.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from text2music.analysis.clip import check_clip
from text2music.analysis.drums import DRUM_THRESHOLD
from text2music.data.synth import build_corpus


def measure(args: tuple[str, dict]):
    corpus, record = args
    y, sr = sf.read(Path(corpus) / record["audio"], dtype="float32")
    return record, check_clip(y, sr, record)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    tmp = None
    corpus = args.corpus
    if corpus is None:
        tmp = Path(tempfile.mkdtemp())
        corpus = tmp / "corpus"
        build_corpus(corpus, n=args.clips, seed=0, jobs=args.jobs, progress=False)
    try:
        records = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines()][: args.clips]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(measure, [(str(corpus), r) for r in records], chunksize=4))
        seconds = time.perf_counter() - t0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    n = len(results)
    rel = Counter(c.key_relation for _, c in results)
    drums = np.array([c.drum_activity for r, c in results if r["drums"]])
    no_drums = np.array([c.drum_activity for r, c in results if not r["drums"]])
    soft = [c.rms_dbfs for r, c in results if r["dynamics"] == "soft"]
    loud = [c.rms_dbfs for r, c in results if r["dynamics"] == "loud"]
    summary = {
        "clips": n,
        "tempo": round(float(np.mean([c.tempo_ok for _, c in results])), 3),
        "key_exact": round(rel["exact"] / n, 3),
        "key_exact_or_relative": round((rel["exact"] + rel["relative"]) / n, 3),
        "key_relations": dict(rel),
        "drums_correct": round(float(np.mean([c.drums_ok for _, c in results])), 3),
        "drum_activity": {
            "threshold": DRUM_THRESHOLD,
            "with_drums_min_p5_median": [round(float(x), 3) for x in (drums.min(), np.percentile(drums, 5), np.median(drums))]
            if len(drums)
            else None,
            "without_drums_median_p95_max": [round(float(x), 3) for x in (np.median(no_drums), np.percentile(no_drums, 95), no_drums.max())]
            if len(no_drums)
            else None,
            "n_with": int(len(drums)),
            "n_without": int(len(no_drums)),
        },
        "loudness_dbfs": {
            "soft_mean": round(float(np.mean(soft)), 2),
            "loud_mean": round(float(np.mean(loud)), 2),
            "loud_minus_soft_db": round(float(np.mean(loud) - np.mean(soft)), 2),
            "loud_min_above_soft_max": bool(min(loud) > max(soft)),
        },
        "measure_seconds": round(seconds, 1),
        "time": time.strftime("%Y-%m-%d %H:%M"),
    }
    by_genre = defaultdict(list)
    for r, c in results:
        by_genre[r["genre"]].append(c)
    summary["by_genre"] = {
        g: {
            "n": len(cs),
            "tempo": round(float(np.mean([c.tempo_ok for c in cs])), 2),
            "key_exact": round(float(np.mean([c.key_relation == "exact" for c in cs])), 2),
            "key_exact_or_relative": round(float(np.mean([c.key_relation in ("exact", "relative") for c in cs])), 2),
            "drums": round(float(np.mean([c.drums_ok for c in cs])), 2),
        }
        for g, cs in sorted(by_genre.items())
    }
    out = Path(__file__).parent / "results" / "synth_agreement.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps(summary) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "by_genre"}, indent=2))
    print("| genre | n | tempo | key exact | key exact/rel | drums |\n|---|---|---|---|---|---|")
    for g, s in summary["by_genre"].items():
        print(f"| {g} | {s['n']} | {s['tempo']} | {s['key_exact']} | {s['key_exact_or_relative']} | {s['drums']} |")


if __name__ == "__main__":
    main()

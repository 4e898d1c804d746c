"""Calibrate the musicnn drums judge: the threshold on MTT's "drums" tag (heard at the pipeline's
output loudness: a judgement's `drums_tag`) that best separates the drum and drum-free clips of a
corpus's real audio (balanced accuracy), next to the high-band noise judge's accuracy on the same
clips. Feed it the real clips of a split nobody reports on (valid):

    text2music evaluate --model real --split valid --n 150 --out /tmp/calib/real
    python3 bench/drums_threshold.py /tmp/calib/_reference-synth-valid/judged.jsonl --data data/synth
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from text2music.analysis.drums import DRUM_THRESHOLD


def balanced_accuracy(scores: np.ndarray, truth: np.ndarray, threshold: float) -> float:
    heard = scores > threshold
    return 0.5 * (heard[truth].mean() + (~heard[~truth]).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("judged", help="judged.jsonl of real clips (a _reference-* folder)")
    ap.add_argument("--data", default="data/synth", help="the corpus (its manifest gives each clip's drums)")
    args = ap.parse_args()
    drums = {}
    with open(f"{args.data}/manifest.jsonl") as f:
        for line in f:
            r = json.loads(line)
            drums[r["clip_id"]] = bool(r["drums"])
    rows = [json.loads(line) for line in open(args.judged)]
    truth = np.array([drums[r["name"].rsplit("_s", 1)[0]] for r in rows])
    if any(r.get("drums_tag") is None for r in rows):
        raise SystemExit(f"{args.judged}: judged before the drums tag was heard at one loudness; judge the clips again")
    tag = np.array([r["drums_tag"] for r in rows])
    noise = np.array([r["drum_activity"] for r in rows])
    grid = np.unique(np.round(tag, 4))
    best = max(grid, key=lambda t: (balanced_accuracy(tag, truth, t), -abs(t - 0.5)))
    print(f"{len(rows)} clips: {truth.sum()} with drums, {(~truth).sum()} without")
    print(f"musicnn drums tag: best threshold {best:.4f}, balanced accuracy {balanced_accuracy(tag, truth, best):.3f}")
    print(f"  drum-free heard as drum-free {(tag[~truth] <= best).mean():.3f}, drums heard {(tag[truth] > best).mean():.3f}")
    print(f"noise judge (threshold {DRUM_THRESHOLD}): balanced accuracy {balanced_accuracy(noise, truth, DRUM_THRESHOLD):.3f}")
    free, heard = (noise[~truth] <= DRUM_THRESHOLD).mean(), (noise[truth] > DRUM_THRESHOLD).mean()
    print(f"  drum-free heard as drum-free {free:.3f}, drums heard {heard:.3f}")


if __name__ == "__main__":
    main()

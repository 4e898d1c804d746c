"""Benchmark: the meter judge (3/4 vs 4/4) on real audio and on its Griffin-Lim round trip.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python bench/meter_judge.py --corpus /tmp/eval/synth --cache /tmp/meter_cache --stage all

Corpus: a synthetic corpus from `text2music data synth` (manifest.jsonl: split, audio, bpm, meter).
Only about 7 % of it is in 3/4, so the clips are chosen per class: the test rows are ALL test 3/4
clips and the first --test-44 test 4/4 clips; the train rows (for `fit` only) all train 3/4 clips
and the first --train-44 train 4/4 clips. Stages (each caches per clip under --cache):

- `render`:   the chosen clips -> {real, gl} audio at 16 kHz (the judges' rate); gl is exactly the
              leaderboard's vocoder row, `VocoderOnly().render` (small-preset log-mel -> 32
              Griffin-Lim iterations). Same files as `bench/key_judges.py --stage render`.
- `fit`:      prints the constants of text2music/analysis/meter.py (`MEAN`, `SCALE`, `WEIGHTS`,
              `BIAS`): a class-balanced L2 logistic regression on the TRAIN rows only (real and gl,
              with and without the bpm hint), with its 5-fold cross-validated balanced accuracy.
- `table`:    `estimate_meter` end to end on the test rows: prints the Markdown table (3/4, 4/4
              and balanced accuracy on real and gl, with the manifest's bpm as hint and without)
              and the seconds per 10-s clip on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from key_judges import render  # the same cache of real and Griffin-Lim clips (run as a script, bench/ is on the path)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

SR = 16000

VERSIONS = ("real", "gl")


def chosen(corpus: Path, split: str, n44: int) -> list[dict]:
    rows = [json.loads(line) for line in (corpus / "manifest.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["split"] == split]
    return [r for r in rows if r["meter"] == "3/4"] + [r for r in rows if r["meter"] == "4/4"][:n44]


def load(cache: Path, split: str, r: dict) -> dict[str, np.ndarray]:
    with np.load(cache / split / f"{r['clip_id']}.npz") as f:
        return {v: f[v] for v in VERSIONS}


def features(cache: Path, rows: list[dict], split: str) -> tuple[np.ndarray, np.ndarray]:
    """Train features for the fit: (n, n_features) and is-3/4 (n,), cached in one file."""
    from text2music.analysis.meter import meter_features

    out = cache / f"features_{split}_{len(rows)}.npz"
    if out.exists():
        with np.load(out) as f:
            return f["X"], f["y"]
    X, y = [], []
    for r in rows:
        audio = load(cache, split, r)
        for v in VERSIONS:
            for hint in (float(r["bpm"]), None):
                f = meter_features(audio[v], SR, hint)
                if f is not None:
                    X.append(f)
                    y.append(r["meter"] == "3/4")
    X, y = np.array(X), np.array(y)
    np.savez(out, X=X, y=y)
    return X, y


def logistic(X: np.ndarray, y: np.ndarray, lam: float, iters: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Class-balanced L2 logistic regression by Newton steps on standardised features."""
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-9
    Z = np.c_[(X - mean) / scale, np.ones(len(X))]
    weight = np.where(y, 0.5 / y.mean(), 0.5 / (1 - y.mean())) / len(y)
    reg = lam / len(y) * np.r_[np.ones(Z.shape[1] - 1), 0.0]
    w = np.zeros(Z.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-Z @ w))
        grad = Z.T @ (weight * (p - y)) + reg * w
        hess = (Z * (weight * p * (1 - p))[:, None]).T @ Z + np.diag(reg)
        w -= np.linalg.solve(hess, grad)
    return mean, scale, w[:-1], float(w[-1])


def balanced(pred3: np.ndarray, is3: np.ndarray) -> float:
    return 0.5 * (pred3[is3].mean() + (~pred3[~is3]).mean())


def fit(cache: Path, rows: list[dict], lam: float) -> None:
    X, y = features(cache, rows, "train")
    fold = np.random.default_rng(0).integers(0, 5, len(y))  # (versions of one clip may fall apart: mild optimism)
    for candidate in (0.1, 1.0, 10.0, 100.0):
        pred = np.zeros(len(y), bool)
        for k in range(5):
            m, s, w, b = logistic(X[fold != k], y[fold != k], candidate)
            pred[fold == k] = (X[fold == k] - m) / s @ w + b > 0
        print(f"# lam {candidate:g}: 5-fold balanced accuracy {balanced(pred, y):.3f}")
    m, s, w, b = logistic(X, y, lam)
    fmt = lambda v: "(" + ", ".join(f"{x:.4f}" for x in v) + ")"  # noqa: E731
    print(f"# fitted on {int(y.sum())} 3/4 + {int((~y).sum())} 4/4 train feature rows (clips x real/gl x hint/none), lam {lam:g}")
    print(f"MEAN = {fmt(m)}")
    print(f"SCALE = {fmt(s)}")
    print(f"WEIGHTS = {fmt(w)}")
    print(f"BIAS = {b:.4f}")


def table(cache: Path, rows: list[dict]) -> None:
    from text2music.analysis.meter import estimate_meter

    estimate_meter(load(cache, "test", rows[0])["real"], SR)  # numba compiles the beat tracker once
    truth = np.array([r["meter"] == "3/4" for r in rows])
    lines = ["| audio | bpm hint | 3/4 acc | 4/4 acc | balanced | n (3/4 + 4/4) |", "|---|---|---|---|---|---|"]
    seconds = []
    preds = {(v, h): [] for v in VERSIONS for h in (True, False)}
    for r in rows:
        audio = load(cache, "test", r)
        for v in VERSIONS:
            for h in (True, False):
                t = time.perf_counter()
                preds[v, h].append(estimate_meter(audio[v], SR, float(r["bpm"]) if h else None) == 3)
                seconds.append((time.perf_counter() - t) * 10.0 * SR / len(audio[v]))
    for (v, h), p in preds.items():
        p = np.array(p)
        lines.append(
            f"| {'Griffin-Lim' if v == 'gl' else 'real'} | {'yes' if h else 'no'} | {p[truth].mean():.3f} | "
            f"{(~p[~truth]).mean():.3f} | {balanced(p, truth):.3f} | {int(truth.sum())} + {int((~truth).sum())} |"
        )
    print("\n".join(lines))
    print(f"\nseconds per 10-s clip (16 kHz, one core): median {np.median(seconds):.3f}, p95 {np.percentile(seconds, 95):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/eval/synth"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/meter_cache"))
    ap.add_argument("--stage", choices=("render", "fit", "table", "all"), default="all")
    ap.add_argument("--test-44", type=int, default=150, help="test 4/4 clips (all test 3/4 clips are used)")
    ap.add_argument("--train-44", type=int, default=300, help="train 4/4 clips for the fit (all train 3/4 clips are used)")
    ap.add_argument("--lam", type=float, default=1.0, help="L2 strength of the fit")
    args = ap.parse_args()
    test = chosen(args.corpus, "test", args.test_44)
    train = chosen(args.corpus, "train", args.train_44)
    if args.stage in ("render", "all"):
        render(args.corpus, args.cache, test, "test")
        if args.stage == "render":
            render(args.corpus, args.cache, train, "train")
    if args.stage == "fit":
        fit(args.cache, train, args.lam)
    if args.stage in ("table", "all"):
        table(args.cache, test)


if __name__ == "__main__":
    main()

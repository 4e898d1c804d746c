"""Reproduce what the seed saw: evaluate trained seed baselines against real spectrograms.

    python scripts/seed_reproduction.py --features data/synth/features/seed \
        --runs runs/seed_lstm runs/seed_transformer --out docs/seed-reproduction

Writes OUT/metrics.json (per model: MSE to the real test spectrograms, the MSE of predicting the
training mean, temporal and across-prompt variation of generated vs real spectrograms),
OUT/spectrograms.png (real vs each model for the same test captions), and each run's loss
curve, training log and config (OUT/loss-NAME.png, log-NAME.jsonl, train_config-NAME.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from text2music.evaluate.spectra import spectra_report
from text2music.features.plot import save_mel_grid
from text2music.generate.pipeline import Text2Music
from text2music.text import clip_text
from text2music.train.data import MelTextSet
from text2music.utils import atomic_write_text


def generate_for(run: Path, records: list[dict], batch: int = 16) -> np.ndarray:
    pipe = Text2Music.from_pretrained(run / "best")
    texts = [clip_text(r["caption"], r["aspects"], pipe.config["text"]["mode"]) for r in records]
    outs = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            outs.append(pipe.model(pipe.embed(texts[i : i + batch])).numpy())  # a regressor: one pass per text
    return np.concatenate(outs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=Path, required=True)
    ap.add_argument("--runs", type=Path, nargs="+", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=None, help="at most this many test clips")
    ap.add_argument("--examples", type=int, default=3, help="test captions shown in the picture")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    test = MelTextSet(str(args.features), "test", "caption", args.n)
    train = MelTextSet(str(args.features), "train", "caption")
    cfg = test.mel_config
    real = test.mels.numpy()
    train_mean = train.mels.numpy().mean(axis=0)
    metrics = {"test_clips": len(real), "mel": cfg.to_dict(), "models": {}}
    generated = {}
    for run in args.runs:
        name = run.name
        generated[name] = generate_for(run, test.records)
        metrics["models"][name] = spectra_report(generated[name], real, train_mean)
        metrics["models"][name]["trained"] = json.loads((run / "best" / "config.json").read_text()).get("trained")
        for src, dst in (
            ("loss.png", f"loss-{name}.png"),
            ("log.jsonl", f"log-{name}.jsonl"),
            ("train_config.json", f"train_config-{name}.json"),
        ):
            if (run / src).exists():
                shutil.copy(run / src, args.out / dst)
    metrics["training_mean"] = spectra_report(np.broadcast_to(train_mean, real.shape), real, train_mean)
    atomic_write_text(args.out / "metrics.json", json.dumps(metrics, indent=2) + "\n")

    mels, titles = [], []
    for i in range(min(args.examples, len(real))):
        caption = test.records[i]["caption"]
        short = caption if len(caption) < 70 else caption[:67] + "..."
        mels.append(real[i])
        titles.append(f"real: {short}")
        for name in generated:
            mels.append(generated[name][i])
            titles.append(f"{name}")
    save_mel_grid(args.out / "spectrograms.png", mels, cfg, titles, cols=1 + len(generated))
    print(json.dumps(metrics["models"], indent=2))


if __name__ == "__main__":
    main()

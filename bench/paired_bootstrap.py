"""Is a leaderboard difference more than noise? A paired bootstrap over the prompts of two reports.

    python3 bench/paired_bootstrap.py REPORT_A REPORT_B [--draws 500]

Both reports must judge the same corpus prompts (same --data, --split, --n). Each draw resamples
the prompts with replacement, recomputes the leaderboard's adherence (tag AUC, tempo, key, mode,
meter, drums) and the FAD for both reports on the same draw, and keeps B - A; prints each metric's
difference on all prompts and its 95% interval. The FAD is the leaderboard's: the system's clips
of the even draws against the real clips (the `_reference-*` folder beside the reports) of the odd ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from text2music.evaluate.fad import frechet_audio_distance
from text2music.evaluate.folder import clip_name, reference_dir
from text2music.evaluate.run import EvalConfig, adherence, load_items
from text2music.utils import read_jsonl

METRICS = ("mean_tag_auc", "tempo_acc", "key_acc", "key_spec_acc", "mode_spec_acc", "meter_3_acc", "meter_4_acc", "drums_acc", "speckle_db")


def judged(folder: Path, items, seed: int) -> tuple[list[dict], list[np.ndarray]]:
    """Each prompt's judgement and its musicnn frame embeddings `(frames, dim)`."""
    records = {r["name"]: r for r in read_jsonl(folder / "judged.jsonl")}
    names = [clip_name(it.id, seed) for it in items]
    missing = [n for n in names if n not in records]
    if missing:
        raise SystemExit(f"{folder}: no judgement of {len(missing)} prompts (e.g. {missing[0]}): not the same prompts")
    return [records[n] for n in names], [np.load(folder / "embeddings" / f"{n}.npy") for n in names]


def metrics_on(idx, items, rows, emb, ref_emb) -> dict:
    out = adherence([items[i] for i in idx], [rows[i] for i in idx])
    out = {k: out.get(k) for k in METRICS}
    half_a, half_b = idx[0::2], idx[1::2]  # as the leaderboard: the system's half A against the real half B
    out["fad"] = frechet_audio_distance(np.concatenate([emb[i] for i in half_a]), np.concatenate([ref_emb[i] for i in half_b]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--draws", type=int, default=500)
    args = ap.parse_args()
    config = json.loads((args.a / "metrics.json").read_text())["config"]
    cfg = EvalConfig.from_dict(config)
    items = load_items(cfg)
    rows_a, emb_a = judged(args.a, items, cfg.settings.seed)
    rows_b, emb_b = judged(args.b, items, cfg.settings.seed)
    _, ref_emb = judged(reference_dir(args.a, cfg.data, cfg.split), items, 0)
    every = np.arange(len(items))
    base_a, base_b = metrics_on(every, items, rows_a, emb_a, ref_emb), metrics_on(every, items, rows_b, emb_b, ref_emb)
    rng = np.random.default_rng(0)
    diffs: dict[str, list[float]] = {k: [] for k in base_a}
    for _ in range(args.draws):
        idx = rng.integers(0, len(items), len(items))
        a, b = metrics_on(idx, items, rows_a, emb_a, ref_emb), metrics_on(idx, items, rows_b, emb_b, ref_emb)
        for k in diffs:
            if a[k] is not None and b[k] is not None:
                diffs[k].append(b[k] - a[k])
    print(f"A = {args.a}\nB = {args.b}\n{len(items)} prompts, {args.draws} paired draws\n")
    print("| metric | A | B | B - A | 95% interval of B - A |\n|---|---|---|---|---|")
    for k in diffs:
        if base_a[k] is None or base_b[k] is None or not diffs[k]:
            continue
        lo, hi = np.percentile(diffs[k], [2.5, 97.5])
        print(f"| {k} | {base_a[k]:.4f} | {base_b[k]:.4f} | {base_b[k] - base_a[k]:+.4f} | [{lo:+.4f}, {hi:+.4f}] |")


if __name__ == "__main__":
    main()

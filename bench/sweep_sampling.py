"""Sampler settings of the default model, judged on corpus prompts (a small evaluation each).

    python3 bench/sweep_sampling.py --n 48 --out reports/sweep

This is tuning: it runs on the corpus's valid split (`--split valid`, the default), never on the
test split, whose prompts are kept for the leaderboard (EVALUATION.md) alone.

Writes one line per setting to bench/results/sampling_sweep.jsonl (FAD, mean tag AUC, tempo, key,
drums, seconds per clip) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from text2music.evaluate.run import EvalConfig, evaluate
from text2music.generate.settings import GenerationSettings
from text2music.utils import append_jsonl

SETTINGS = [  # (sampler, steps, guidance)
    ("euler", 16, 3.0),
    ("euler", 16, 1.0),
    ("euler", 16, 2.0),
    ("euler", 16, 5.0),
    ("euler", 8, 3.0),
    ("euler", 32, 3.0),
    ("heun", 8, 3.0),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--data", default="data/synth")
    ap.add_argument("--split", default="valid", help="corpus split of the prompts (valid: tuning never looks at test)")
    ap.add_argument("--out", default="reports/sweep")
    args = ap.parse_args()
    rows = []
    for sampler, steps, guidance in SETTINGS:
        t0 = time.perf_counter()
        cfg = EvalConfig(
            system=args.model,
            out=f"{args.out}/{sampler}-{steps}-g{guidance:g}",
            data=args.data,
            split=args.split,
            n=args.n,
            settings=GenerationSettings(steps=steps, guidance=guidance, sampler=sampler, normalize=False),
            diversity_prompts=0,
            speed=False,
        )
        m = evaluate(cfg, progress=False)
        a = m["adherence"]
        row = {
            "model": args.model,
            "split": args.split,
            "sampler": sampler,
            "steps": steps,
            "guidance": guidance,
            "n": args.n,
            "fad": m.get("fad"),
            "mean_tag_auc": a["mean_tag_auc"],
            "tempo_acc": a["tempo_acc"],
            "key_acc": a["key_acc"],
            "drums_acc": a["drums_acc"],
            "minutes": round((time.perf_counter() - t0) / 60, 2),
        }
        append_jsonl(Path("bench/results/sampling_sweep.jsonl"), row)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| sampler | steps | guidance | FAD | tag AUC | tempo | key | drums |\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['sampler']} | {r['steps']} | {r['guidance']:g} | {r['fad']:.1f} | {r['mean_tag_auc']:.3f} | "
            f"{r['tempo_acc']} | {r['key_acc']} | {r['drums_acc']:.2f} |"
        )


if __name__ == "__main__":
    main()

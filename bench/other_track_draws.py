"""How much the `real:CORPUS` row's FAD depends on which other-track clips were drawn.

`evaluate --model real:CORPUS` stands in, for each prompt, the clip of another track of the same game
that comes first in a hash order of the prompt's id (draw 0). This scores draws 1..K (the clip that
comes second, third, ... in that order) in the same way: the stand-ins of half A of the prompts
against the real clips of half B, judged by musicnn, as the leaderboard's FAD.

    python3 bench/other_track_draws.py --data data/real --corpus data/real_rest \\
        --reference reports/other_tracks/_reference-real-test --draws 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from text2music.evaluate.fad import frechet_audio_distance
from text2music.evaluate.folder import clip_name
from text2music.evaluate.judges import JUDGE_RATE, Judges
from text2music.evaluate.prompts import corpus_items
from text2music.evaluate.systems import RealElsewhere, split_tracks
from text2music.features.mel import load_audio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/real", help="the corpus whose test prompts are judged")
    ap.add_argument("--corpus", default="data/real_rest", help="the corpus of other tracks (as in real:CORPUS)")
    ap.add_argument("--reference", type=Path, required=True, help="an evaluate `_reference-*` folder of those prompts")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--draws", type=int, default=2, help="score draws 1..DRAWS")
    args = ap.parse_args()
    items = corpus_items(args.data, "test", args.n)
    stand_ins = RealElsewhere(args.corpus)
    own = split_tracks(items[0])
    real_b = np.concatenate([np.load(args.reference / "embeddings" / f"{clip_name(it.id, 0)}.npy") for it in items[1::2]])
    judges = Judges()
    for k in range(1, args.draws + 1):
        embeddings = []
        for it in items[0::2]:
            candidates = stand_ins.candidates(it, own)
            clip = candidates[min(k, len(candidates) - 1)]
            embeddings.append(judges(load_audio(stand_ins.folder / clip["audio"], JUDGE_RATE), JUDGE_RATE).embeddings)
        print(f"draw {k}: FAD {frechet_audio_distance(np.concatenate(embeddings), real_b):.2f}")


if __name__ == "__main__":
    main()

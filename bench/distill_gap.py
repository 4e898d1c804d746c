"""How far a guidance-distilled student's sampling lands from its teacher's: the same prompts, seeds,
controls and Euler steps, the student one pass a step, the teacher two (classifier-free guidance).
A perfect student lands exactly on the teacher's mel; the gap is the root mean square difference of
the log-mels (the model's units), and `scale` is the same distance between two of the teacher's own
seeds (how far apart two clips of one prompt are); both also over the low, middle and high thirds of the
mel bands. Each at every guidance asked, float32 weights.
Appends to bench/results/distill_gap.jsonl.

    python3 bench/distill_gap.py runs/flow_context_nopulse/last default runs/distill_rollout/model --guidance 3 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from text2music.evaluate.prompts import corpus_items
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings
from text2music.utils import append_jsonl


def mels(pipe: Text2Music, texts: list[str], settings: GenerationSettings, offset: int = 0) -> torch.Tensor:
    """One mel per text (seed = its index + `offset`) with the controls its text plans, `(N, n_mels, T)`."""
    out = []
    for i, text in enumerate(texts):
        seeds = [i + offset]
        out.append(pipe.make_mel(pipe.embed([text]), settings, seeds, plans=pipe.plan([text], settings, seeds)))
    return torch.cat(out)


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean(dim=(1, 2)).sqrt().mean())


def rms_by_band(a: torch.Tensor, b: torch.Tensor, parts: int = 3) -> list[float]:
    """`rms` over the lowest, middle and highest thirds of the mel bands."""
    return [round(rms(x, y), 4) for x, y in zip(a.chunk(parts, dim=1), b.chunk(parts, dim=1))]


def load(folder: str) -> Text2Music:
    """A model folder ('default': the bundled one) in float32; the vocoder is never run."""
    return Text2Music.from_pretrained(None if folder == "default" else folder, vocoder="griffin-lim", precision="float32")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("teacher", help="the teacher's model folder (no guidance input)")
    ap.add_argument("students", nargs="+", help="distilled model folders ('default': the bundled one)")
    ap.add_argument("--guidance", type=float, nargs="+", default=[3.0, 5.0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--data", default="data/synth")
    ap.add_argument("--n", type=int, default=24, help="the corpus's first N test prompts")
    args = ap.parse_args()
    texts = [it.text for it in corpus_items(args.data, "test", args.n)]
    teacher = load(args.teacher)
    for guidance in args.guidance:
        settings = GenerationSettings(steps=args.steps, guidance=guidance)
        target = mels(teacher, texts, settings)
        other = mels(teacher, texts, settings, offset=1000)
        scale, scale_by_band = rms(target, other), rms_by_band(target, other)
        for student in args.students:
            made = mels(load(student), texts, settings)
            row = {
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "teacher": args.teacher,
                "student": student,
                "guidance": guidance,
                "steps": args.steps,
                "n": len(texts),
                "gap": round(rms(made, target), 4),
                "scale": round(scale, 4),
                "gap_by_band": rms_by_band(made, target),
                "scale_by_band": scale_by_band,
            }
            append_jsonl(Path("bench/results/distill_gap.jsonl"), row)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

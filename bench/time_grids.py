"""Which time grid keeps few Euler steps closest to many? (a proxy to choose the grids worth a leaderboard row)

    python3 bench/time_grids.py --data data/synth --n 8 [--model FOLDER] [--reference-steps 32]
    python3 bench/time_grids.py --data data/synth --model STUDENT --reference-model TEACHER --shifts 3   # a distilled student

For the first N test captions of a corpus (controls from the text, seed 0), the mel made with
`--reference-steps` uniform steps (by `--reference-model`, default `--model`) is the reference; each (steps, shift) row gives the RMS
difference of its mel from that reference (in the model's unit scale; 1 = 40 dB), averaged over
the prompts. The same noise starts every row, so the difference is the integration error of
the sampler, not a different sample. Appends to bench/results/time_grids.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings
from text2music.utils import append_jsonl, read_jsonl


def test_captions(data: Path, n: int) -> list[str]:
    return [r["caption"] for r in read_jsonl(data / "manifest.jsonl") if r["split"] == "test"][:n]


def mel(pipe: Text2Music, texts: list[str], steps: int, shift: float, guidance: float) -> torch.Tensor:
    """The pipeline's mel of each text at these sampler settings (seed 0, controls from the text)."""
    settings = GenerationSettings(steps=steps, shift=shift, guidance=guidance)
    seeds = [0] * len(texts)
    return pipe.make_mel(pipe.embed(texts), settings, seeds, plans=pipe.plan(texts, settings, seeds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--reference-model", default=None, help="model folder of the reference (default: --model)")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--reference-steps", type=int, default=32)
    parser.add_argument("--steps", default="4,6,8,16")
    parser.add_argument("--shifts", default="1,2,3,4")
    args = parser.parse_args()
    torch.set_num_threads(2)
    pipe = Text2Music.from_pretrained(args.model, precision="float32")
    texts = test_captions(args.data, args.n)
    t0 = time.time()
    teacher = Text2Music.from_pretrained(args.reference_model, precision="float32") if args.reference_model else pipe
    reference = mel(teacher, texts, args.reference_steps, 1.0, args.guidance)
    print(f"reference: {args.reference_steps} steps in {time.time() - t0:.0f} s")
    for steps in map(int, args.steps.split(",")):
        for shift in map(float, args.shifts.split(",")):
            m = mel(pipe, texts, steps, shift, args.guidance)
            rms = ((m - reference) ** 2).mean(dim=(1, 2)).sqrt().mean().item()
            row = {
                "model": args.model or "default",
                "reference_model": args.reference_model or args.model or "default",
                "n": len(texts),
                "guidance": args.guidance,
                "steps": steps,
                "shift": shift,
                "reference_steps": args.reference_steps,
                "rms_to_reference": round(rms, 4),
            }
            print(json.dumps(row), flush=True)
            append_jsonl(Path(__file__).parent / "results" / "time_grids.jsonl", row)


if __name__ == "__main__":
    main()

"""Where the time of one generation goes: a cold process from imports to a written WAV, stage by stage.

    python3 bench/profile_generate.py                                   # the bundled default, its default settings
    python3 bench/profile_generate.py --model runs/previous_default --steps 16 --shift 1 --vocoder griffin-lim

Runs in a fresh process with 2 torch threads (OpenMP passive wait, as the CLI): the imports, each
part's load (text encoder, generator, vocoder), then one 10-s generation timed per stage (text
encoding, control planning, every network pass, the vocoder, loudness, the WAV), then the same
generation again warm, and the operators of one network pass (torch.profiler). Prints Markdown
and appends to bench/results/profile.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
TEXT = "a calm solo piano piece in A minor at 70 BPM"


class Clock:
    """Named durations in order of measurement."""

    def __init__(self):
        self.stages: list[tuple[str, float]] = []
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages.append((name, now - self.last))
        self.last = now


def one_generation(pipe, settings, clock: Clock, out: Path) -> None:
    """Text -> WAV through the pipeline's own steps, a lap per stage and per network pass."""
    import soundfile as sf

    from text2music.generate.pipeline import normalize_loudness

    clock.last = time.perf_counter()
    text = pipe.embed([TEXT])
    clock.lap("text encoder (BERT)")
    plans = pipe.plan([TEXT], settings, [settings.seed])
    clock.lap("musical controls (plan + control frames)")
    velocity = pipe.model.velocity
    passes = []

    def timed(*args, **kwargs):
        t = time.perf_counter()
        v = velocity(*args, **kwargs)
        passes.append(time.perf_counter() - t)
        return v

    pipe.model.velocity = timed
    try:
        mel = pipe.make_mel(text, settings, [settings.seed], None, None, plans)
    finally:
        del pipe.model.velocity
    batch = 1 if settings.guidance == 1 or getattr(pipe.model.cfg, "guidance_embed", False) else 2
    clock.lap(f"sampler: {len(passes)} network passes of batch {batch}, {sum(passes) / len(passes):.3f} s each")
    audio = pipe.vocode(mel, round(plans[0].duration * pipe.sample_rate))
    clock.lap(f"vocoder ({pipe.vocoder.name})")
    audio = normalize_loudness(audio)
    clock.lap("loudness")
    sf.write(out, audio[0], pipe.sample_rate)
    clock.lap("WAV write")


def pass_operators(pipe, settings, rows: int = 8) -> list[dict]:
    """The most expensive operators of one network pass as the sampler runs it."""
    import torch

    from text2music.generate.flow import guided_velocity

    text = pipe.embed([TEXT])
    plans = pipe.plan([TEXT], settings, [0])
    n = pipe.mel.frames_for(settings.duration)
    n += -n % pipe.model.cfg.patch
    fn = guided_velocity(pipe.model, text, settings.guidance, pipe.control_inputs(plans, n) if pipe.controllable else None)
    x, t = torch.randn(1, pipe.model.cfg.n_mels, n), torch.full((1,), 0.5)
    with torch.no_grad():
        fn(x, t)
        with torch.profiler.profile() as prof:
            fn(x, t)
    table = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in table)
    return [{"op": e.key, "share": round(e.self_cpu_time_total / total, 3), "calls": e.count} for e in table[:rows]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    ap.add_argument("--vocoder", default="auto")
    ap.add_argument("--precision", default=None, help="float32 or int8 (default: the pipeline's)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--shift", type=float, default=None)
    ap.add_argument("--guidance", type=float, default=None)
    args = ap.parse_args()
    clock = Clock()
    import torch

    clock.lap("import torch")
    torch.set_num_threads(2)
    from text2music.generate.pipeline import Text2Music
    from text2music.generate.settings import GenerationSettings

    clock.lap("import text2music")
    kwargs = {"vocoder": args.vocoder} | ({"precision": args.precision} if args.precision else {})
    pipe = Text2Music.from_pretrained(args.model, **kwargs)
    clock.lap("load text encoder, generator and vocoder")
    chosen = {k: v for k, v in (("steps", args.steps), ("shift", args.shift), ("guidance", args.guidance)) if v is not None}
    settings = GenerationSettings(duration=10.0, **chosen)
    with tempfile.TemporaryDirectory() as tmp:
        one_generation(pipe, settings, clock, Path(tmp) / "cold.wav")
        cold = clock.stages
        clock = Clock()
        one_generation(pipe, settings, clock, Path(tmp) / "warm.wav")
        warm = clock.stages
    ops = pass_operators(pipe, settings)
    row = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "model": args.model or "default",
        "settings": {"steps": settings.steps, "shift": settings.shift, "guidance": settings.guidance},
        "vocoder": pipe.vocoder.name,
        "precision": pipe.precision,
        "cold": [[n, round(s, 3)] for n, s in cold],
        "warm": [[n, round(s, 3)] for n, s in warm],
        "pass_operators": ops,
    }
    results = Path(__file__).parent / "results" / "profile.jsonl"
    with results.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(
        f"{row['machine']}, python {sys.version.split()[0]}, torch {torch.__version__}; {row['model']}, {row['settings']}, "
        f"vocoder {row['vocoder']}, {row['precision']}\n"
    )
    print("| stage | cold process, s | warm, s |\n|---|---|---|")
    start = len(cold) - len(warm)  # the imports and loads come only once
    for i, (name, s) in enumerate(cold):
        print(f"| {name} | {s:.3f} | |" if i < start else f"| {name} | {s:.3f} | {warm[i - start][1]:.3f} |")
    print(f"| **total** | **{sum(s for _, s in cold):.2f}** | **{sum(s for _, s in warm):.2f}** |\n")
    print("| operator (one network pass) | share of CPU time | calls |\n|---|---|---|")
    for op in ops:
        print(f"| {op['op']} | {op['share']:.1%} | {op['calls']} |")


if __name__ == "__main__":
    main()

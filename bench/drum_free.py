"""Drum-free prompts heard drum-free: the drum-free prompts among the corpus's first N test prompts,
one clip each (seed = its index; `--seeds K`: K clips, seeds i, i + 10007, ...), judged by musicnn's
drums tag (`MUSICNN_DRUMS_THRESHOLD`) and by the high-band noise judge (`DRUM_THRESHOLD`), counted by
`text2music evaluate`'s `drum_shares`, and by the key judge (key and mode as the prompt states them;
with controls=settings, the true key of every prompt), and by how much the clips move: the median over
clips of their log-mel's std over frames (mean over bands) and of the 95th percentile of its change from
frame to frame (drum-free guidance can flatten a clip as well as remove its drums). `real` scores the
corpus's own audio of the same prompts. `--prompts drums` takes the drum prompts instead and counts the
clips heard with drums; `--keyed` only the prompts that state a key. Every system after the first
also gets the paired 95% interval of its key minus the first system's, clip by clip (the same prompts
and seeds).

Each system is MODEL[,key=value...] with keys guidance, drum_free_guidance, drum_free_until, drum_free_part, reverb, steps, vocoder; drums
(on/off: the drums control set against the prompt, to see whether the model follows it); controls=settings
(each clip's true tempo, key, meter and drums as settings, as the leaderboard's settings rows); and
teacher and switch: a distilled MODEL whose first steps (flow time below `switch`) are its teacher's
guided velocity (two passes), to see where in the sampling the drums are decided. Appends to
bench/results/drum_free.jsonl.

    python3 bench/drum_free.py real default default,guidance=5 runs/flow_context_nopulse/best,steps=16,guidance=5
    python3 bench/drum_free.py default,guidance=5,teacher=runs/flow_context_nopulse/last,switch=0.25
    python3 bench/drum_free.py --prompts drums default default,drums=off
    python3 bench/drum_free.py --n 403 --seeds 8 --keyed default default,drum_free_part=changes,drum_free_guidance=5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from text2music.evaluate.judges import Judges
from text2music.evaluate.prompts import corpus_items
from text2music.evaluate.run import drum_shares
from text2music.evaluate.stats import paired_interval
from text2music.evaluate.systems import true_settings
from text2music.features.mel import get_preset, log_mel_spectrogram, resample
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings
from text2music.models import load_pretrained
from text2music.train.distill import teacher_velocity
from text2music.utils import append_jsonl

ON_OFF = {"on": True, "off": False}
OPTIONS = {
    "guidance": float,
    "drum_free_guidance": float,
    "drum_free_until": float,
    "drum_free_part": str,
    "reverb": float,
    "steps": int,
    "vocoder": str,
    "teacher": str,
    "switch": float,
    "drums": ON_OFF.__getitem__,
    "controls": {"text": "text", "settings": "settings"}.__getitem__,
}
SEED_STRIDE = 10007


class TeacherFirst(torch.nn.Module):
    """A guidance-distilled student whose velocity before flow time `switch` is its teacher's guided one."""

    def __init__(self, student, teacher, switch: float):
        super().__init__()
        self.student, self.teacher, self.switch, self.cfg = student, teacher, switch, student.cfg

    def velocity(self, x, t, text, drop, controls=None, guidance=None, context=None):
        if float(t.max()) < self.switch:
            return teacher_velocity(self.teacher, x, t, text, controls, guidance, context)
        return self.student.velocity(x, t, text, drop, controls, guidance=guidance, context=context)


def motion(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """How much a clip moves in the default's 16-kHz, 80-band log-mel: (the mean over bands of its std
    over frames, the 95th percentile of its RMS change from one frame to the next)."""
    mel = get_preset("small")
    m = log_mel_spectrogram(resample(audio, rate, mel.sample_rate), mel).numpy()
    change = np.sqrt(np.mean(np.diff(m, axis=1) ** 2, axis=0))
    return float(m.std(axis=1).mean()), float(np.percentile(change, 95))


def clips_of(system: str, items, seeds: int = 1) -> tuple[list[np.ndarray], int]:
    """(`seeds` clips per item, item by item, and their sample rate) of `system` (see the module's doc)."""
    if system == "real":
        read = [sf.read(it.audio, dtype="float32") for it in items for _ in range(seeds)]
        return [a for a, _ in read], read[0][1]
    model, *pairs = system.split(",")
    opts = {k: OPTIONS[k](v) for k, v in (p.split("=", 1) for p in pairs)}
    vocoder = {"vocoder": opts.pop("vocoder")} if "vocoder" in opts else {}
    teacher, switch = opts.pop("teacher", None), opts.pop("switch", 0.25)
    pipe = Text2Music.from_pretrained(None if model == "default" else model, **vocoder)
    if teacher is not None:
        pipe.model = TeacherFirst(pipe.model, load_pretrained(teacher)[0].eval(), switch)
    given = opts.pop("controls", "text") == "settings"
    settings = GenerationSettings(**opts)
    clips = []
    for i, it in enumerate(items):
        s = true_settings(it, settings) if given else settings
        clips += [pipe([it.text], s.replace(seed=i + r * SEED_STRIDE)).audio[0] for r in range(seeds)]
    return clips, pipe.sample_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("systems", nargs="+")
    ap.add_argument("--data", default="data/synth")
    ap.add_argument("--n", type=int, default=150, help="test prompts to draw the drum-free ones from")
    ap.add_argument("--prompts", choices=["drum-free", "drums"], default="drum-free", help="which of them to judge")
    ap.add_argument("--seeds", type=int, default=1, help="clips per prompt")
    ap.add_argument("--keyed", action="store_true", help="only the prompts that state a key (a closer look at the key)")
    args = ap.parse_args()
    unknown = {p.split("=")[0] for s in args.systems for p in s.split(",")[1:]} - set(OPTIONS)
    if unknown:
        ap.error(f"unknown option(s) {', '.join(sorted(unknown))}; use {', '.join(OPTIONS)}")
    drums = args.prompts == "drums"
    bad = [s for s in args.systems for p in s.split(",")[1:] if p.startswith("drums=") and p[6:] not in ON_OFF]
    if bad:
        ap.error(f"{bad[0]}: drums is on or off")
    items = [it for it in corpus_items(args.data, "test", args.n) if it.drums is drums and (it.key or not args.keyed)]
    kind = "drums" if drums else "drum_free"
    judges = Judges()
    first_hits = None
    for system in args.systems:
        clips, rate = clips_of(system, items, args.seeds)
        judged = [judges(a, rate) for a in clips]
        moved = [motion(a, rate) for a in clips]
        each = [it for it in items for _ in range(args.seeds)]
        shares = drum_shares(each, [j.to_dict() for j in judged])
        given = "controls=settings" in system.split(",")  # every clip then has its true key set
        keyed = [((it.spec["key"], it.spec["mode"]) if given else it.key, j) for it, j in zip(each, judged)]
        hits = [float((j.key, j.mode) == tuple(k)) for k, j in keyed if k]
        first_hits = hits if first_hits is None else first_hits
        paired = hits is not first_hits and len(hits) == len(first_hits)  # the same prompts and seeds as the first system
        row = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "system": system,
            "data": args.data,
            **({"n_drums": len(items)} if drums else {"n_drum_free": len(items)}),
            "seeds": args.seeds,
            **{f"heard_{kind}_{j}": round(shares[f"{kind}_heard_{j}"], 3) for j in ("musicnn", "noise")},
            "median_drums_tag": round(float(np.median([j.drums_tag for j in judged])), 4),
            **{f"median_{k}": round(float(np.median(v)), 4) for k, v in zip(("mel_std", "p95_change"), zip(*moved))},
            "n_key": len(hits) // args.seeds,
            "key_exact": round(float(np.mean(hits)), 3) if hits else None,
            **({"key_exact_minus_first_95": paired_interval(np.subtract(hits, first_hits))} if paired else {}),
        }
        append_jsonl(Path("bench/results/drum_free.jsonl"), row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

"""Speed and memory of text -> 10-s WAV on this machine (batch 1, each row in a fresh process).

    python3 bench/bench_generate.py                 # the rows below, quiet machine
    python3 bench/bench_generate.py --busy          # the same with one core kept busy by another process
    python3 bench/bench_generate.py --vocoders      # the default with its own vocoder, then with Griffin-Lim
    python3 bench/bench_generate.py --speed --previous runs/previous_default   # issue 15: each lever alone and combined
    python3 bench/bench_generate.py --drum-free runs/self_candidate   # issue 23: a drum-free clip, steered and not

Rows: the bundled model at the default settings through the pipeline as `text2music generate`
runs it (2 torch threads, OpenMP's passive wait), the same with OpenMP's default (active, spinning)
wait and with 1 thread, cheaper or dearer sampler settings, the seed LSTM baseline (one regressed
mel + Griffin-Lim) as the same-run baseline when its folder exists, and the whole
`text2music generate` command from a cold process (imports and model load included). Appends to
bench/results/generate.jsonl and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from text2music.utils import append_jsonl

TEXT = "a calm solo piano piece in A minor at 70 BPM"
TIMED = """
import json, resource, sys, time
t0 = time.perf_counter()
import torch
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings
torch.set_num_threads({threads})
pipe = Text2Music.from_pretrained({model!r}, vocoder={vocoder!r}, precision={precision!r})
load = time.perf_counter() - t0
settings = GenerationSettings(duration=10.0, **{settings!r})
pipe({text!r}, settings.replace(duration=2.0))  # warm-up
times = []
for seed in range(3):
    t = time.perf_counter()
    pipe({text!r}, settings.replace(seed=seed))
    times.append(time.perf_counter() - t)
s = sorted(times)[1]
print("SPEED", json.dumps({{"seconds_per_clip": round(s, 3), "rtf": round(10.0 / s, 2), "load_seconds": round(load, 2),
      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}}))
"""


def timed_row(model: str | None, settings: dict, threads: int, wait_policy: str | None) -> dict:
    """`settings`: GenerationSettings fields, and "vocoder" and "precision" (Text2Music.from_pretrained's) if not the defaults."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    settings = dict(settings)
    vocoder, precision = settings.pop("vocoder", "auto"), settings.pop("precision", "auto")  # auto: as config.json names
    code = TIMED.format(threads=threads, model=model, settings=settings, vocoder=vocoder, precision=precision, text=TEXT)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=1800)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("SPEED ")), None)
    if line is None:
        raise RuntimeError(f"benchmark row failed: {proc.stderr[-500:]}")
    return json.loads(line[6:])


def cli_row(out: Path) -> dict:
    """`text2music generate` from a cold process to a written WAV, default settings (best of 3)."""
    times = []
    for seed in range(3):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "text2music", "generate", TEXT, "-o", str(out), "--seed", str(seed), "--quiet"],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t)
    return {"command_seconds": round(min(times), 2)}


@contextmanager
def busy_core(enabled: bool):
    """Another process spinning on one core (a machine that is not quiet), while the block runs."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if enabled else None
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def speed_rows(previous: str | None) -> list[tuple]:
    """Issue 15's rows: the default as it was (16 Euler steps with guidance, Griffin-Lim from 300
    NNLS updates, float32 weights; `previous` = that model's folder when the bundled one has
    changed), then each lever alone, then combined; the bundled default last."""
    old = {"steps": 16, "guidance": 3.0, "sampler": "euler", "shift": 1.0, "vocoder": "griffin-lim", "precision": "float32"}
    teacher = previous or "default"
    rows = [
        (teacher, old),
        (teacher, {**old, "vocoder": "vocos"}),
        (teacher, {**old, "precision": "int8"}),
        (teacher, {**old, "steps": 8}),
        (teacher, {**old, "steps": 8, "vocoder": "vocos", "precision": "int8"}),
    ]
    if previous:  # the bundled default is the guidance-distilled student of `previous`
        rows += [("default", {**old, "vocoder": "vocos"}), ("default", {})]
    return [(system, settings, 2, "PASSIVE") for system, settings in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed-lstm", default="runs/repro-seed_lstm/best", help="seed baseline folder (skipped if absent)")
    ap.add_argument("--busy", action="store_true", help="keep one core busy with another process while measuring")
    ap.add_argument("--previous", default=None, help="a previous default model folder, timed in the same run as a baseline")
    ap.add_argument("--only-controls", action="store_true", help="only the default rows and the controls rows (no thread/sampler rows)")
    ap.add_argument("--vocoders", action="store_true", help="only the default with its own vocoder and with Griffin-Lim (NNLS 30 and 300)")
    ap.add_argument("--speed", action="store_true", help="issue 15's rows: the old default, each speed lever alone and combined")
    ap.add_argument(
        "--drum-free",
        nargs="*",
        metavar="MODEL",
        help="only a drum-free clip, steered and not, by the default and each MODEL (and by the default steered in the first steps)",
    )
    ap.add_argument("--out", type=Path, default=Path("/tmp/text2music-bench.wav"), help="WAV the CLI row writes")
    args = ap.parse_args()
    default = {}  # the pipeline's defaults
    rows = [
        ("default", default, 2, "PASSIVE"),
        ("default", default, 2, None),
        ("default", default, 1, "PASSIVE"),
        ("default", {**default, "steps": 4}, 2, "PASSIVE"),
        ("default", {**default, "guidance": 1.0}, 2, "PASSIVE"),
    ]
    if args.only_controls or args.vocoders:
        rows = rows[:1]
    if args.speed:
        rows = speed_rows(args.previous)
    elif args.drum_free is not None:
        steered, plain = {"drums": False}, {"drums": False, "drum_free_guidance": 0.0}
        first_steps = {"drums": False, "drum_free_guidance": 4.0, "drum_free_until": 0.375}  # issue 23's tenth session
        rows = [(m, s, 2, "PASSIVE") for m in ("default", *args.drum_free) for s in (steered, plain)]
        rows.insert(1, ("default", first_steps, 2, "PASSIVE"))
    elif args.previous:
        rows.append((args.previous, default, 2, "PASSIVE"))
    controlled = Path(__file__).resolve().parents[1] / "text2music" / "assets" / "default" / "config.json"
    if args.vocoders:
        rows += [("default", {**default, "vocoder": v}, 2, "PASSIVE") for v in ("griffin-lim-32-nnls30", "griffin-lim")]
    elif '"control_frames": 32' in controlled.read_text() and not (args.speed or args.drum_free is not None):
        rows += [
            ("default", {**default, "bpm": 92.0, "key": "A minor"}, 2, "PASSIVE"),
            ("default", {**default, "bpm": 120.0, "loop": True}, 2, "PASSIVE"),
        ]
    if Path(args.seed_lstm).is_dir() and not (args.only_controls or args.vocoders or args.speed or args.drum_free is not None):
        rows.append((args.seed_lstm, {}, 2, "PASSIVE"))
    machine = f"{platform.machine()}, {os.cpu_count()} cores" + (", one core busy" if args.busy else "")
    results = []
    with busy_core(args.busy):
        for system, settings, threads, policy in rows:
            r = timed_row(None if system == "default" else system, settings, threads, policy)
            row = {
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "machine": machine,
                "system": system,
                **settings,
                "threads": threads,
                "omp_wait": policy or "default (active)",
                **r,
            }
            append_jsonl(Path("bench/results/generate.jsonl"), row)
            results.append(row)
            print(json.dumps(row), flush=True)
        cli = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine, "system": "text2music generate (cold)", **cli_row(args.out)}
        append_jsonl(Path("bench/results/generate.jsonl"), cli)
        print(json.dumps(cli), flush=True)
    base = results[0]["seconds_per_clip"]
    print(f"\n{machine}\n")
    print("| system | settings | threads, OpenMP wait | s per 10-s clip | vs default | real-time factor | load s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        if "steps" in r:
            s = f"{r['sampler']} {r['steps']} steps, guidance {r['guidance']}"
        else:
            s = "regression + Griffin-Lim" if r["system"] == args.seed_lstm else "defaults"
        shown = ("shift", "bpm", "key", "loop", "drums", "drum_free_guidance", "drum_free_until", "vocoder", "precision")
        s += "".join(f", {k} {r[k]}" for k in shown if k in r)
        print(
            f"| {r['system']} | {s} | {r['threads']}, {r['omp_wait']} | {r['seconds_per_clip']} | {r['seconds_per_clip'] / base:.2f}x "
            f"| {r['rtf']} | {r['load_seconds']} | {r['peak_rss_mb']} |"
        )
    print(f"\n`text2music generate` from a cold process to a written 10-s WAV: {cli['command_seconds']} s")


if __name__ == "__main__":
    main()

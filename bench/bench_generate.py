"""Speed and memory of text -> 10-s WAV on this machine (batch 1, each setting in a fresh process).

    python3 bench/bench_generate.py

Rows: the bundled model at the default settings (Euler, 16 steps, guidance 3) and cheaper or
dearer ones, and the seed LSTM baseline (one regressed mel + Griffin-Lim) as the same-run
baseline. Appends to bench/results/generate.jsonl and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from text2music.evaluate.run import speed_in_subprocess
from text2music.utils import append_jsonl

TEXT = "a calm solo piano piece in A minor at 70 BPM"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed-lstm", default="runs/repro-seed_lstm/best", help="seed baseline folder (skipped if absent)")
    args = ap.parse_args()
    rows = [("default", {"steps": 16, "guidance": 3.0, "sampler": "euler"}),
            ("default", {"steps": 8, "guidance": 3.0, "sampler": "euler"}),
            ("default", {"steps": 32, "guidance": 3.0, "sampler": "euler"}),
            ("default", {"steps": 16, "guidance": 1.0, "sampler": "euler"})]
    if Path(args.seed_lstm).is_dir():
        rows.append((args.seed_lstm, {}))
    results = []
    for system, settings in rows:
        r = speed_in_subprocess(system, TEXT, {"duration": 10.0, **settings})
        row = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
               "system": system, **settings, **r}
        append_jsonl(Path("bench/results/generate.jsonl"), row)
        results.append(row)
        print(json.dumps(row), flush=True)
    print("\n| system | settings | s per 10-s clip | real-time factor | load s | peak RSS MB |\n|---|---|---|---|---|---|")
    for r in results:
        s = f"{r.get('sampler', '')} {r.get('steps', '')} steps, guidance {r.get('guidance', '')}" if "steps" in r else "regression + Griffin-Lim"
        print(f"| {r['system']} | {s} | {r['seconds_per_clip']} | {r['rtf']} | {r['load_seconds']} | {r['peak_rss_mb']} |")


if __name__ == "__main__":
    main()

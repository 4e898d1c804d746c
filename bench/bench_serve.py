"""Load test of `text2music serve` on loopback: bursts of concurrent requests against a bounded queue.

    python bench/bench_serve.py                        # tiny random-weight model (tests the server, not the music)
    python bench/bench_serve.py --model runs/flow/best --duration 2 --steps 4

Starts `text2music serve` as a subprocess on 127.0.0.1 at a free port, makes one warm-up request,
then sends `--rounds` bursts of `--requests` concurrent requests (`POST /api/generate/sync`, or with
`--mode poll` submit + poll + fetch). Every request must be answered: 200 (a WAV of the asked
length) or 429 (queue full, with Retry-After); any 5xx, other status or transport error is counted
and makes the exit status 1. Records answers per status, latency p50/p95 per status, and the
server's RSS, threads and open files after the warm-up and after each round (flat = no leak).
Bounded: each request times out after --request-timeout s, the whole run after --time-limit s.
Appends a JSON line to bench/results/serve.jsonl and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "serve.jsonl"


def make_tiny_model(folder: Path) -> Path:
    from text2music.features.mel import get_preset
    from text2music.models import build_model, save_pretrained

    model = build_model("flow_transformer", d_model=64, heads=2, layers=2, patch=2)
    save_pretrained(
        folder, model, get_preset("small"), {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False}
    )
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_state(pid: int) -> dict:
    """RSS (MiB), threads and open files of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return {
        "rss_mib": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "threads": int(fields["Threads"]),
        "open_files": len(os.listdir(f"/proc/{pid}/fd")),
    }


async def one_request(client: httpx.AsyncClient, body: dict, mode: str, timeout: float) -> dict:
    t0 = time.perf_counter()
    try:
        if mode == "sync":
            r = await client.post("/api/generate/sync", json=body, timeout=timeout)
            status, ok = r.status_code, r.status_code == 200 and r.content[:4] == b"RIFF"
        else:
            r = await client.post("/api/generate", json=body, timeout=timeout)
            status, ok = r.status_code, False
            if r.status_code == 202:
                url, deadline = r.json()["status_url"], time.perf_counter() + timeout
                while time.perf_counter() < deadline:
                    job = (await client.get(url, timeout=timeout)).json()
                    if job["status"] in ("done", "failed"):
                        break
                    await asyncio.sleep(0.1)
                if job["status"] == "done":
                    audio = await client.get(job["audio_url"], timeout=timeout)
                    status, ok = audio.status_code, audio.status_code == 200 and audio.content[:4] == b"RIFF"
                else:
                    status = f"job {job['status']}"
        return {
            "status": status,
            "ok": ok,
            "latency": time.perf_counter() - t0,
            "retry_after": r.headers.get("retry-after") if r.status_code == 429 else None,
        }
    except (httpx.HTTPError, OSError) as e:
        return {"status": f"error {type(e).__name__}", "ok": False, "latency": time.perf_counter() - t0, "retry_after": None}


async def burst(url: str, n: int, body: dict, mode: str, timeout: float) -> list[dict]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        return await asyncio.gather(*(one_request(client, body, mode, timeout) for _ in range(n)))


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="model folder (default: a tiny random-weight flow model)")
    ap.add_argument("--requests", type=int, default=50, help="concurrent requests per round")
    ap.add_argument("--rounds", type=int, default=3, help="bursts, one after the other")
    ap.add_argument("--duration", type=float, default=1.5, help="seconds of audio per request")
    ap.add_argument("--steps", type=int, default=4, help="sampler steps per request")
    ap.add_argument("--workers", type=int, default=1, help="server --workers")
    ap.add_argument("--max-queue", type=int, default=8, help="server --max-queue")
    ap.add_argument("--mode", choices=["sync", "poll"], default="sync", help="one synchronous call, or submit + poll + fetch")
    ap.add_argument("--request-timeout", type=float, default=120.0, help="seconds per request")
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds for the whole run")
    args = ap.parse_args()
    if not (1 <= args.requests <= 200 and 1 <= args.rounds <= 10):
        ap.error("keep it bounded: 1-200 requests per round, 1-10 rounds")

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    model = args.model or make_tiny_model(tmp / "tinyflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "text2music",
        "serve",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--max-queue",
        str(args.max_queue),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    body = {"text": "upbeat funk with slap bass and drums at 110 BPM", "duration": args.duration, "steps": args.steps}
    rounds, states, all_answers = [], [], []
    try:
        while True:  # up, model loaded
            try:
                info = httpx.get(url + "/api/info", timeout=5).json()
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() - started > 120:
                    raise RuntimeError(f"server did not start: {server.stderr.read() if server.poll() is not None else 'timeout'}")
                time.sleep(0.2)
        warm = asyncio.run(burst(url, 1, body, "sync", args.request_timeout))[0]
        if not warm["ok"]:
            raise RuntimeError(f"warm-up request failed: {warm}")
        states.append({"after": "warm-up", **process_state(server.pid)})
        deadline = started + args.time_limit
        for i in range(args.rounds):
            left = deadline - time.monotonic()
            if left <= 0:
                print(f"time limit reached after {i} rounds", file=sys.stderr)
                break
            t0 = time.perf_counter()
            answers = asyncio.run(asyncio.wait_for(burst(url, args.requests, body, args.mode, args.request_timeout), left))
            wall = time.perf_counter() - t0
            all_answers += answers
            while httpx.get(url + "/api/info", timeout=5).json()["queue"]["running"]:  # let the round drain
                time.sleep(0.1)
            states.append({"after": f"round {i + 1}", **process_state(server.pid)})
            rounds.append(
                {
                    "round": i + 1,
                    "wall_s": round(wall, 2),
                    "counts": {
                        str(k): sum(1 for a in answers if str(a["status"]) == str(k)) for k in sorted({str(a["status"]) for a in answers})
                    },
                }
            )
        queue_stats = httpx.get(url + "/api/info", timeout=5).json()["queue"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    by_status: dict[str, list[float]] = {}
    for a in all_answers:
        by_status.setdefault(str(a["status"]), []).append(a["latency"])
    bad = sum(len(v) for k, v in by_status.items() if k not in ("200", "429"))
    wav_ok = sum(1 for a in all_answers if a["ok"])
    retry_after = sorted({int(a["retry_after"]) for a in all_answers if a["retry_after"]})
    rss = [s["rss_mib"] for s in states]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "model": info["model"]["name"],
        "mode": args.mode,
        "requests": args.requests,
        "rounds": len(rounds),
        "duration": args.duration,
        "steps": args.steps,
        "workers": args.workers,
        "max_queue": args.max_queue,
        "answers": {k: len(v) for k, v in sorted(by_status.items())},
        "wav_ok": wav_ok,
        "bad": bad,
        "latency_s": {k: {"p50": pct(v, 50), "p95": pct(v, 95), "max": round(max(v), 3)} for k, v in sorted(by_status.items())},
        "retry_after_s": retry_after,
        "rounds_detail": rounds,
        "server": states,
        "rss_growth_mib": round(rss[-1] - rss[1], 1) if len(rss) > 2 else None,
        "rss_growth_second_half_mib": round(rss[-1] - rss[len(rss) // 2], 1) if len(rss) > 3 else None,
        "queue": queue_stats,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(result) + "\n")

    print(
        f"\n{len(rounds)} rounds x {args.requests} concurrent `{args.mode}` requests, {args.duration:g} s, {args.steps} steps, "
        f"model {result['model']}, --workers {args.workers} --max-queue {args.max_queue} ({result['date']})\n"
    )
    print("| answer | count | p50 latency (s) | p95 latency (s) | max (s) |\n|---|---|---|---|---|")
    for k, v in result["latency_s"].items():
        print(f"| {k} | {result['answers'][k]} | {v['p50']} | {v['p95']} | {v['max']} |")
    print(f"\nWAVs checked: {wav_ok}; errors / 5xx / other: {bad}; Retry-After values: {retry_after}")
    print("\n| server after | RSS (MiB) | threads | open files |\n|---|---|---|---|")
    for s in states:
        print(f"| {s['after']} | {s['rss_mib']} | {s['threads']} | {s['open_files']} |")
    print(
        f"\nRSS growth from round 1 to the last: {result['rss_growth_mib']} MiB; "
        f"over the second half of the rounds: {result['rss_growth_second_half_mib']} MiB"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

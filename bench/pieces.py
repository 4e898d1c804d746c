"""Whole pieces, continuation and their costs, measured (issue 24).

    python3 bench/pieces.py seams --n 20 --model default          # window joins of 60-s pieces
    python3 bench/pieces.py windows --n 8 --model default         # tempo, key, tag AUC per 10-s window of 120-s pieces
    python3 bench/pieces.py continuation --n 40 --model default   # does the continuation keep the prompt's tempo and key?
    python3 bench/pieces.py prompt-tempo --split valid --n 200 --prompt-seconds 5   # a prompt's measured tempo against the truth
    python3 bench/pieces.py speed --model default                 # 60-s piece vs 10-s clip; peak RSS of 300 s vs 10 s
    python3 bench/pieces.py pictures --model default              # docs/images/pieces.png

Prompts are the first N test prompts of a `data synth` corpus, with their true tempo (and, for
`windows`, key) as settings. A join is the first new frame of a window after the first; it passes
when the spectral change into it (the RMS log-mel difference between consecutive frames of the
piece's audio, analysed again) is at most the piece's own 95th percentile of that change. Every
run appends a JSON line to bench/results/pieces.jsonl; `seams --png PATH` also draws the joins of one
piece (bench/results/pieces_seams.png is issue 24's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from text2music.analysis.beats import estimate_beats, load_beatnet
from text2music.analysis.key import estimate_key
from text2music.analysis.tempo import estimate_tempo, tempo_agrees
from text2music.evaluate.prompts import corpus_items
from text2music.evaluate.spectra import frame_change
from text2music.evaluate.stats import paired_interval
from text2music.features.mel import load_audio, log_mel_spectrogram
from text2music.features.plot import pyplot
from text2music.generate.audio_prompt import PREFERRED_BPM
from text2music.generate.pieces import WindowLayout, plan_windows
from text2music.generate.pipeline import Text2Music, beat_frames
from text2music.generate.settings import GenerationSettings
from text2music.utils import append_jsonl

RESULTS = Path("bench/results")


def load(args) -> Text2Music:
    pipe = Text2Music.from_pretrained(None if args.model == "default" else args.model, vocoder="vocos")  # mel-rate audio: frames line up
    pipe.window_seconds, pipe.context_seconds = args.window, args.context
    return pipe


def joins(pipe: Text2Music, seconds: float, controls=None) -> list[int]:
    """The first new frame of every window after the first, of a new piece of `seconds` with the
    plan's `controls` (their beat grid places the joins: `plan_windows`)."""
    patch = pipe.model.cfg.patch
    n = -(-pipe.mel.frames_for(seconds) // patch) * patch
    rate = pipe.sample_rate / pipe.mel.hop_length
    layout = WindowLayout.of_seconds(pipe.window_seconds, pipe.context_seconds, rate, patch)
    beats = beat_frames(controls, n, rate) if controls is not None else None
    windows = plan_windows(np.zeros(n, bool), layout, patch, beats)
    return [end for _, end in windows[:-1]]


def seams(args, pipe: Text2Music) -> dict:
    """Joins against the piece's 95th percentile of frame change; split by whether a join falls on
    a beat of the piece's grid (within a frame) and by whether the piece is drum-free (its yardstick
    is smoother), beside how often the piece's own beat frames pass."""
    rows, beat_ratios, example = [], [], None
    rate = pipe.sample_rate / pipe.mel.hop_length
    for i, it in enumerate(corpus_items(args.data, "test", args.n)):
        s = GenerationSettings(duration=args.seconds, bpm=float(it.spec["bpm"]), seed=i, **args.steering)
        out = pipe([it.text], s)
        audio, c = out.audio[0], out.plans[0].controls
        d = frame_change(log_mel_spectrogram(audio, pipe.mel).numpy())
        p95 = float(np.percentile(d, 95))
        beats = np.round(beat_frames(c, len(d), rate)).astype(int)
        beats = beats[(beats > 0) & (beats < len(d))]
        at = joins(pipe, args.seconds, c)
        for j in at:
            if j < len(d):
                rows.append((float(d[j - 1]), p95, bool(np.min(np.abs(beats - j)) <= 1), c.drums is False))
        beat_ratios += [float(d[b - 1]) / p95 for b in beats]
        example = example or (audio, it.text, d, p95, at)
    if args.png:
        draw_seams(pipe, *example, args.png)
    change, p95s, on, drum_free = (np.array(column) for column in zip(*rows))
    ratios = change / p95s
    return {
        "joins": len(rows),
        "join_pass": round(float(np.mean(ratios <= 1.0)), 3),
        "join_over_p95_median": round(float(np.median(ratios)), 3),
        "join_over_p95_max": round(float(np.max(ratios)), 3),
        "joins_on_a_beat": int(on.sum()),
        "join_pass_on_a_beat": round(float(np.mean(ratios[on] <= 1.0)), 3) if on.any() else None,
        "join_pass_off_the_beats": round(float(np.mean(ratios[~on] <= 1.0)), 3) if (~on).any() else None,
        "joins_drum_free": int(drum_free.sum()),
        "join_pass_drum_free": round(float(np.mean(ratios[drum_free] <= 1.0)), 3) if drum_free.any() else None,
        "join_pass_drums": round(float(np.mean(ratios[~drum_free] <= 1.0)), 3) if (~drum_free).any() else None,
        **{
            f"{name}_{part}": round(float(np.median(values[mask])), 3)  # the join's change and the yardstick, apart
            for part, mask in (("drum_free", drum_free), ("drums", ~drum_free))
            if mask.any()
            for name, values in (("join_change_median", change), ("piece_p95_median", p95s))
        },
        "beat_frames_pass": round(float(np.mean(np.array(beat_ratios) <= 1.0)), 3),
    }


def draw_seams(pipe, audio, text, d, p95, at: list[int], png: str) -> None:
    plt = pyplot()
    fig, (a, b) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    a.imshow(log_mel_spectrogram(audio, pipe.mel).numpy(), origin="lower", aspect="auto", cmap="magma")
    b.plot(d, lw=0.5, color="k")
    b.axhline(p95, color="tab:blue", lw=1, label="95th percentile")
    for j in at:
        a.axvline(j, color="cyan", lw=1, ls="--")
        b.axvline(j, color="cyan", lw=1, ls="--")
    a.set_title(f"a {len(audio) / pipe.sample_rate:.0f}-s piece (dashed: window joins): {text[:70]}", fontsize=9)
    a.set_ylabel("mel band")
    b.set_ylabel("frame change")
    b.set_xlabel("frame")
    b.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def windows(args, pipe: Text2Music) -> dict:
    from text2music.evaluate.judges import Judges
    from text2music.evaluate.run import roc_auc

    judges = Judges()
    rows, clips = [], []
    sr, w = pipe.sample_rate, round(10.0 * pipe.sample_rate)
    for i, it in enumerate(corpus_items(args.data, "test", args.n)):
        key = f"{it.spec['key']} {it.spec['mode']}"
        s = GenerationSettings(duration=args.seconds, bpm=float(it.spec["bpm"]), key=key, seed=i)
        piece = pipe([it.text], s).audio[0]
        clip = pipe([it.text], s.replace(duration=10.0)).audio[0]
        for k in range(len(piece) // w):
            rows.append(judge_window(judges, piece[k * w : (k + 1) * w], sr, it, i, k))
        clips.append(judge_window(judges, clip, sr, it, i, 0))
    modal = {}
    for r in rows:
        modal.setdefault(r["piece"], []).append(r["heard_key"])

    def auc(judged):
        concepts = sorted({c for r in judged for c in r["named"]})
        values = []
        for c in concepts:
            pos = [r["tags"][c] for r in judged if c in r["named"]]
            neg = [r["tags"][c] for r in judged if c in r["excluded"]]
            if len(pos) >= 3 and len(neg) >= 3:
                values.append(roc_auc(np.array(pos), np.array(neg)))
        return round(float(np.mean(values)), 4) if values else None

    return {
        "windows": len(rows),
        "tempo_within_4pct": round(float(np.mean([r["tempo_ok"] for r in rows])), 3),
        "tempo_within_4pct_no_octaves": round(float(np.mean([r["tempo_strict"] for r in rows])), 3),
        "key_as_asked": round(float(np.mean([r["key_ok"] for r in rows])), 3),
        "key_as_piece_majority": round(
            float(np.mean([r["heard_key"] == max(set(modal[r["piece"]]), key=modal[r["piece"]].count) for r in rows])), 3
        ),
        "tag_auc_windows": auc(rows),
        "tag_auc_10s_clips": auc(clips),
        "clips_tempo_within_4pct": round(float(np.mean([r["tempo_ok"] for r in clips])), 3),
        "clips_key_as_asked": round(float(np.mean([r["key_ok"] for r in clips])), 3),
    }


def judge_window(judges, audio, sr, it, piece, k) -> dict:
    j = judges(audio, sr)
    bpm = float(it.spec["bpm"])
    heard = f"{j.key} {j.mode}"
    return {
        "piece": piece,
        "window": k,
        "tags": j.tags,
        "named": it.named,
        "excluded": it.excluded,
        "heard_key": heard,
        "tempo_ok": tempo_agrees(j.tempo, bpm, 0.04),
        "tempo_strict": abs(j.tempo - bpm) <= 0.04 * bpm,
        "key_ok": heard == f"{it.spec['key']} {it.spec['mode']}",
    }


def continuation(args, pipe: Text2Music) -> dict:
    """The prompt: the first `--prompt-seconds` of a test clip of the corpus. Judged: the prompt
    against the first `--after` seconds after the seam; baselines: the real clip's two halves, and
    the prompt against the real clip's own next `--after` seconds (the same lengths as judged). The
    `*_true_*` columns judge the same `--after` seconds against the clip's true tempo and key."""
    sr = pipe.sample_rate
    same = {"continued": [], "halves": [], "real_next": []}
    true = {"continued": [], "real_next": []}
    for i, it in enumerate(corpus_items(args.data, args.split, args.n)):
        real = load_audio(it.audio, sr)
        prompt = real[: round(args.prompt_seconds * sr)]
        s = GenerationSettings(duration=args.prompt_seconds + args.after + 1.0, seed=i, init_mode="continue")
        if args.given:  # the clip's true tempo and key as settings: nothing left to the prompt's measurement
            s = s.replace(bpm=float(it.spec["bpm"]), key=f"{it.spec['key']} {it.spec['mode']}")
        out = pipe([it.text], s, init_audio=prompt).audio[0]
        after = out[len(prompt) : len(prompt) + round(args.after * sr)]
        real_next = real[len(prompt) : len(prompt) + round(args.after * sr)]
        half = len(real) // 2
        same["continued"].append(agreement(prompt, after, sr))
        same["halves"].append(agreement(real[:half], real[half:], sr))
        same["real_next"].append(agreement(prompt, real_next, sr))
        true["continued"].append(at_truth(after, sr, it.spec))
        true["real_next"].append(at_truth(real_next, sr, it.spec))
    out = {"prompt_seconds": args.prompt_seconds, "after": args.after}
    for prefix, judged in (("", same), ("true_", true)):
        for name, pairs in judged.items():
            out[f"{name}_{prefix}same_tempo"] = round(float(np.mean([t for t, _ in pairs])), 3)
            out[f"{name}_{prefix}same_key"] = round(float(np.mean([k for _, k in pairs])), 3)
        for j, what in enumerate(["tempo", "key"]):
            diff = np.array([c[j] for c in judged["continued"]], float) - np.array([r[j] for r in judged["real_next"]], float)
            out[f"continued_minus_real_next_{prefix}{what}_95"] = paired_interval(diff)
    return out


def prompt_tempo(args, pipe: Text2Music | None) -> dict:
    """How often a continuation's measured tempo (the beat tracker on the first `--prompt-seconds` of
    a clip) is within 4 % of the clip's true tempo, with the octave prior of `measure_audio_prompt`
    (PREFERRED_BPM) and without it; and allowing octaves."""
    net, sr, hits = load_beatnet(), 16000, {"plain": [], "preferred": []}
    for it in corpus_items(args.data, args.split, args.n):
        prompt, bpm = load_audio(it.audio, sr)[: round(args.prompt_seconds * sr)], float(it.spec["bpm"])
        for name, prefer in (("plain", None), ("preferred", PREFERRED_BPM)):
            est = estimate_beats(prompt, sr, net, prefer_bpm=prefer).bpm
            hits[name].append((abs(est - bpm) <= 0.04 * bpm, tempo_agrees(est, bpm, 0.04)))
    out = {"split": args.split, "prompt_seconds": args.prompt_seconds, "preferred_bpm": PREFERRED_BPM}
    for name, h in hits.items():
        out[f"{name}_within_4pct"] = round(float(np.mean([a for a, _ in h])), 3)
        out[f"{name}_within_4pct_octaves"] = round(float(np.mean([b for _, b in h])), 3)
    return out


def agreement(a: np.ndarray, b: np.ndarray, sr: int) -> tuple[bool, bool]:
    """(same tempo within 4 % or an octave, same key and mode) as the judges hear them."""
    ka, kb = estimate_key(a, sr), estimate_key(b, sr)
    return tempo_agrees(estimate_tempo(b, sr), estimate_tempo(a, sr), 0.04), (ka.tonic, ka.mode) == (kb.tonic, kb.mode)


def at_truth(b: np.ndarray, sr: int, spec: dict) -> tuple[bool, bool]:
    """(the judges' tempo of `b` within 4 % of the clip's true tempo or an octave, their key and mode
    the true ones)."""
    kb = estimate_key(b, sr)
    return tempo_agrees(estimate_tempo(b, sr), float(spec["bpm"]), 0.04), f"{kb.key} {kb.mode}" == f"{spec['key']} {spec['mode']}"


def speed(args, pipe: Text2Music) -> dict:
    text = "an upbeat pop song with piano and drums at 120 BPM"
    pipe([text], GenerationSettings(duration=4.0))  # warm-up
    times = {}
    for seconds in (10.0, 60.0):
        runs = []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            pipe([text], GenerationSettings(duration=seconds, seed=r))
            runs.append(time.perf_counter() - t0)
        times[seconds] = float(np.median(runs))
    rss = {s: peak_rss(args, text, s) for s in (10.0, 300.0)}
    return {
        "clip_10s_s": round(times[10.0], 2),
        "piece_60s_s": round(times[60.0], 2),
        "piece_60s_over_clip_10s": round(times[60.0] / times[10.0], 2),
        "rss_10s_mb": rss[10.0][0],
        "rss_300s_mb": rss[300.0][0],
        "rss_300s_over_10s": round(rss[300.0][0] / rss[10.0][0], 3),
        "process_10s_s": rss[10.0][1],
        "process_300s_s": rss[300.0][1],
    }


def peak_rss(args, text: str, seconds: float) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of `text2music generate` making one clip of `seconds`, a process of its own."""
    import resource
    import tempfile

    model = [] if args.model == "default" else ["--model", args.model]
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "text2music", "generate", text, "-o", f"{tmp}/a.wav", "--duration", str(seconds), "--quiet", *model],
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after <= before:
        raise RuntimeError("the child's peak RSS did not exceed an earlier child's; run one measurement per process")
    return round(after / 1024, 1), round(wall, 1)


def pictures(args, pipe: Text2Music) -> dict:
    """docs/images/pieces.png: a continuation and an inpainting of a test clip of the corpus, and a
    bar loop played twice, with the seams marked."""
    it = corpus_items(args.data, "test", 1)[0]
    sr, hop = pipe.sample_rate, pipe.mel.hop_length
    real = load_audio(it.audio, sr)[: 8 * sr]
    cont = pipe([it.text], GenerationSettings(duration=20.0, init_mode="continue"), init_audio=real).audio[0]
    inpaint = pipe([it.text], GenerationSettings(init_mode="inpaint", span="3-5.5"), init_audio=real).audio[0]
    loop = pipe([it.text], GenerationSettings(bpm=float(it.spec["bpm"]), bars=4, loop=True)).audio[0]
    panels = [
        (real, [], "the prompt: 8 s of a test clip"),
        (cont, [len(real) / hop], "--continue to 20 s (dashed: where the prompt ends)"),
        (inpaint, [3 * sr / hop, 5.5 * sr / hop], "--inpaint --span 3-5.5 (dashed: the span)"),
        (np.concatenate([loop, loop]), [len(loop) / hop], "--bars 4 --loop, played twice (dashed: the wrap)"),
    ]
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 9))
    for ax, (audio, marks, title) in zip(axes, panels):
        ax.imshow(log_mel_spectrogram(audio, pipe.mel).numpy(), origin="lower", aspect="auto", cmap="magma")
        for m in marks:
            ax.axvline(m, color="cyan", lw=1.2, ls="--")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel band")
    axes[-1].set_xlabel(f"frame ({hop / sr * 1000:.0f} ms)")
    fig.suptitle(it.text[:110], fontsize=9)
    fig.tight_layout()
    out = Path("docs/images/pieces.png")
    fig.savefig(out, dpi=90)
    return {"picture": str(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["seams", "windows", "continuation", "prompt-tempo", "speed", "pictures"])
    ap.add_argument("--data", default="data/synth16k")
    ap.add_argument("--split", default="test", help="continuation, prompt-tempo: the corpus split whose clips are the prompts")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--model", default="default")
    ap.add_argument("--seconds", type=float, default=None, help="piece length (seams: 60, windows: 120)")
    ap.add_argument("--window", type=float, default=10.0, help="seconds per window")
    ap.add_argument("--context", type=float, default=2.0, help="seconds each window knows of the one before")
    ap.add_argument("--prompt-seconds", type=float, default=8.0)
    ap.add_argument("--after", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--given", action="store_true", help="continuation: the clip's true tempo and key as settings")
    ap.add_argument("--png", default=None, help="seams: draw the joins of the first piece here")
    ap.add_argument("--drum-free-guidance", type=float, default=None, help="seams: this drum-free guidance (default: the setting's)")
    ap.add_argument("--drum-free-until", type=float, default=None, help="seams: steered until this flow time (default: the setting's)")
    ap.add_argument("--drum-free-part", default=None, help="seams: what of the steering is applied (default: the setting's)")
    ap.add_argument("--reverb", type=float, default=None, help="seams: this send to the room (default: the model's own)")
    args = ap.parse_args()
    args.seconds = args.seconds or {"windows": 120.0}.get(args.what, 60.0)
    asked = {
        "drum_free_guidance": args.drum_free_guidance,
        "drum_free_until": args.drum_free_until,
        "drum_free_part": args.drum_free_part,
        "reverb": args.reverb,
    }
    args.steering = {k: v for k, v in asked.items() if v is not None}
    pipe = None if args.what == "prompt-tempo" else load(args)
    t0 = time.time()
    what = {"seams": seams, "windows": windows, "continuation": continuation, "prompt-tempo": prompt_tempo}
    result = {**what, "speed": speed, "pictures": pictures}[args.what](args, pipe)
    record = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "what": args.what,
        "model": args.model,
        "data": args.data,
        "n": args.n,
        "given": args.given,
        "seconds": args.seconds,
        "window": args.window,
        "context": args.context,
        **args.steering,
        "wall_s": round(time.time() - t0, 1),
        **result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    append_jsonl(RESULTS / "pieces.jsonl", record)
    print(json.dumps(record))


if __name__ == "__main__":
    main()

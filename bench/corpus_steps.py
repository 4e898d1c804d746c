"""What each step of the studio corpus does to FAD against real music (issue 23).

The same song specifications (clips 0..N-1 of seed 0) are rendered five ways, each step adding
one thing to the previous one, and every rendering is compared with the real-music corpus's
clips (musicnn MSD embeddings, as `text2music evaluate`'s FAD). Loudness-matched FAD (every clip
at -16 dBFS RMS) is printed beside the raw one, so level alone is told apart.

    python3 bench/corpus_steps.py --real data/real --n 150 --out bench/results/corpus_steps.md
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from text2music.analysis.musicnn import load_musicnn
from text2music.data.synth.compose import compose, sample_song
from text2music.data.synth.corpus import check_arguments, clip_rngs
from text2music.data.synth.render import normalise, render
from text2music.data.synth.studio import Renderer
from text2music.evaluate.fad import frechet_audio_distance

STEPS = (
    ("TimGM6mb, one pass (the synth-1 corpus)", "plain"),
    ("+ a soundfont drawn per clip from the pool", "soundfonts"),
    ("+ sampled drum kits, parts as stems", "kits"),
    ("+ a humanised performance", "performance"),
    ("+ production and mastering (the studio corpus, downmixed)", "studio"),
)


def _mix(stems: list[tuple[str, np.ndarray]]) -> np.ndarray:
    return sum(s.mean(axis=1) if s.ndim == 2 else s for _, s in stems)


def render_step(step: str, index: int, duration: float, plain: Renderer, studio: Renderer) -> np.ndarray:
    """Clip `index` rendered with the steps up to `step`; mono float32."""
    r_song, r_notes, r_render, _, r_sources, r_perform, r_production = clip_rngs(0, index)
    song = sample_song(r_song)
    if step == "plain":
        return plain.render(song, duration, None, r_notes, r_render, r_perform)
    choice = studio.choose(song, r_sources, r_production)
    if step == "soundfonts":
        return render(
            compose(song, duration, r_notes), str(choice.soundfont), studio.sample_rate, duration, song.dynamics, r_render, studio.synths
        ).audio
    if step == "studio":
        return studio.render(song, duration, choice, r_notes, r_render, r_perform).mean(axis=1)
    stems = studio.stems(song, duration, choice, r_notes, r_perform, perform=step == "performance")
    return normalise(_mix(stems), song.dynamics, r_render, studio.sample_rate).audio


def level(y: np.ndarray, dbfs: float = -16.0) -> np.ndarray:
    return y * (10 ** (dbfs / 20) / max(float(np.sqrt(np.mean(y.astype(np.float64) ** 2))), 1e-9))


def real_embeddings(judge, corpus: str, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """musicnn embeddings of real clips, as they are and loudness-matched."""
    raw, levelled = [], []
    for r in rows:
        y, sr = sf.read(Path(corpus) / r["audio"], dtype="float32", always_2d=True)
        y = y.mean(axis=1)
        raw.append(judge.analyze(y, sr)[1])
        levelled.append(judge.analyze(level(y), sr)[1])
    return np.concatenate(raw), np.concatenate(levelled)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", default="data/real", help="real-music corpus (data import / data debian)")
    ap.add_argument("--split", default="test", help="its split to compare with")
    ap.add_argument("--n", type=int, default=150, help="song specifications rendered per step")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--sample-rate", type=int, default=22050)
    ap.add_argument("--out", default="bench/results/corpus_steps.md")
    args = ap.parse_args()
    judge = load_musicnn("MSD_musicnn")
    rows = [json.loads(line) for line in open(Path(args.real) / "manifest.jsonl")]
    real_rows = [r for r in rows if r.get("split") == args.split]
    if not real_rows:
        raise SystemExit(f"{args.real}: no {args.split} clips")
    real_emb, real_lev = real_embeddings(judge, args.real, real_rows)
    other_emb, other_lev = real_embeddings(judge, args.real, [r for r in rows if r.get("split") == "valid"][: args.n])
    plain = Renderer(check_arguments(args.n, 0, 1, args.duration, args.sample_rate, "plain"), args.sample_rate)
    studio = Renderer(check_arguments(args.n, 0, 1, args.duration, args.sample_rate, "studio"), args.sample_rate)
    studio.preload()
    lines = [
        f"{args.n} song specifications (clips 0..{args.n - 1} of seed 0), each rendered five ways; against the {len(real_rows)} "
        f"{args.split} clips of {args.real} (musicnn MSD embeddings per 3-s patch, as evaluate's FAD).",
        "",
        "| step | FAD ↓ | FAD, loudness-matched ↓ | seconds per clip |",
        "|---|---|---|---|",
    ]
    floor = f"| real music: its valid split (other tracks) | {frechet_audio_distance(other_emb, real_emb):.2f} | "
    lines.append(floor + f"{frechet_audio_distance(other_lev, real_lev):.2f} | – |")
    print(lines[-1], flush=True)
    for name, step in STEPS:
        t0 = time.perf_counter()
        clips = [render_step(step, i, args.duration, plain, studio) for i in range(args.n)]
        seconds = (time.perf_counter() - t0) / args.n
        emb = np.concatenate([judge.analyze(y, args.sample_rate)[1] for y in clips])
        lev = np.concatenate([judge.analyze(level(y), args.sample_rate)[1] for y in clips])
        row = f"| {name} | {frechet_audio_distance(emb, real_emb):.2f} | {frechet_audio_distance(lev, real_lev):.2f} | {seconds:.3f} |"
        print(row, flush=True)
        lines.append(row)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

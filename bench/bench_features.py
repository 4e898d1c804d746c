"""Benchmark: preprocessing throughput and Griffin-Lim speed, each against a same-run baseline.

    python bench/bench_features.py [--clips 40]

1. Preprocessing 10-s clips at the seed preset (256 x 420): `text2music.features.preprocess`
   (jobs 1 and 2) against a plain per-file librosa loop (librosa.load -> melspectrogram ->
   power_to_db -> np.save), the way the seed did it.
2. Griffin-Lim for 10 s of audio at both presets, 32 iterations: our torch `mel_to_audio`
   against librosa.feature.inverse.mel_to_audio with the same iteration count.
Appends a JSON line to bench/results/features.jsonl and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch

from text2music.data.musiccaps import Clip, write_clips
from text2music.features.mel import get_preset, log_mel_spectrogram, mel_to_audio, value_to_power
from text2music.features.preprocess import preprocess


def music(sample_rate: int, seconds: float, seed: int) -> np.ndarray:
    """Harmonic chords with decaying envelopes and noise kicks (like the test fixture)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sample_rate * 0.5)) / sample_rate
    out = np.zeros(int(sample_rate * seconds))
    for b in range(int(seconds / 0.5)):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        seg = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6)) * np.exp(-3 * t) * 0.1
        seg += rng.standard_normal(len(t)) * np.exp(-40 * t) * 0.2
        out[b * len(t) : (b + 1) * len(t)] += seg
    return (out / np.abs(out).max() * 0.8).astype(np.float32)


def make_folder(root: Path, n: int, sample_rate: int = 44100) -> Path:
    clips = []
    for i in range(n):
        sf.write(root / "audio" / f"c{i:04d}.wav", music(sample_rate, 10.0, i), sample_rate)
        clips.append(Clip(ytid=f"c{i:04d}", start_s=0, end_s=10, aspects=("x",), caption="x", split="train"))
    write_clips(root / "metadata.csv", clips)
    return root


def librosa_loop(root: Path, out: Path) -> None:
    cfg = get_preset("seed")
    out.mkdir(parents=True, exist_ok=True)
    for wav in sorted((root / "audio").glob("*.wav")):
        y, _ = librosa.load(wav, sr=cfg.sample_rate, mono=True)
        S = librosa.feature.melspectrogram(y=y, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels)
        db = librosa.power_to_db(S=S, ref=1.0, top_db=80.0)
        np.save(out / f"{wav.stem}.npy", librosa.util.fix_length(data=db, size=cfg.n_frames, axis=-1).astype(np.float16))


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=40)
    args = ap.parse_args()
    result = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads", "clips": args.clips}
    tmp = Path(tempfile.mkdtemp())
    try:
        (tmp / "audio").mkdir()
        make_folder(tmp, args.clips)
        seed = get_preset("seed")
        librosa_loop(tmp, tmp / "warmup")  # import/numba warm-up outside the timing
        shutil.rmtree(tmp / "warmup")
        t_lib = timed(lambda: librosa_loop(tmp, tmp / "librosa"))
        t_j1 = timed(lambda: preprocess(tmp, seed, name="j1", jobs=1, progress=False))
        t_j2 = timed(lambda: preprocess(tmp, seed, name="j2", jobs=2, progress=False))
        result["preprocess_clips_per_s"] = {
            "librosa_loop": round(args.clips / t_lib, 2),
            "text2music_jobs1": round(args.clips / t_j1, 2),
            "text2music_jobs2": round(args.clips / t_j2, 2),
        }
    finally:
        shutil.rmtree(tmp)

    result["griffin_lim_s_per_10s"] = {}
    for name in ["small", "seed"]:
        cfg = get_preset(name)
        mel = log_mel_spectrogram(music(cfg.sample_rate, 10.0, 0), cfg)
        mel_to_audio(mel[:, :50], cfg)  # warm-up
        ours = min(timed(lambda: mel_to_audio(mel, cfg, n_iter=32)) for _ in range(3))
        power = value_to_power(mel, cfg).numpy()
        ref = timed(
            lambda: librosa.feature.inverse.mel_to_audio(
                M=power, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length, fmin=cfg.fmin, fmax=cfg.f_max, n_iter=32
            )
        )
        result["griffin_lim_s_per_10s"][name] = {
            "text2music_torch": round(ours, 3),
            "librosa": round(ref, 3),
            "speedup": round(ref / ours, 1),
        }

    result["time"] = time.strftime("%Y-%m-%d %H:%M")
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    with open("bench/results/features.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

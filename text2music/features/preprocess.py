"""Batch preprocessing: a data folder's clips -> fixed-shape log-mel `.npy` arrays.

Input, a data folder as written by `text2music data musiccaps` or `text2music data synth`:
    DATA/metadata.csv, DATA/audio/{ytid}.wav
Output, one feature set per mel config:
    DATA/features/{name}/mel_config.json   the MelConfig every array was made with
    DATA/features/{name}/mels/{ytid}.npy   float16 `(n_mels, n_frames)`, see `fix_length` for crop/pad
    DATA/features/{name}/index.jsonl       one line per array: ytid, split, caption, aspects, frames
    DATA/features/{name}/skipped.jsonl     one line per clip left out, with the reason

index.jsonl grows as clips finish, so re-running after an interruption processes only clips that
have no array yet; a feature folder made with another MelConfig is refused rather than mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from text2music.data.musiccaps import Clip, read_clips
from text2music.features.mel import MelConfig, fix_length, load_audio, log_mel_spectrogram
from text2music.utils import append_jsonl, atomic_path, read_jsonl, write_jsonl
from text2music.workers import worker_pool

SILENCE_DBFS = -60.0  # a clip whose RMS is below this is "silent"
MIN_FRACTION = 0.5  # a clip shorter than this share of the config's duration is "too_short"
ARRAY_DTYPE = np.float16
CHUNK = 16  # clips per worker task


@dataclass(frozen=True)
class FeatureSet:
    """Paths of one feature folder."""

    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "mel_config.json"

    @property
    def index_path(self) -> Path:
        return self.root / "index.jsonl"

    @property
    def skipped_path(self) -> Path:
        return self.root / "skipped.jsonl"

    def mel_path(self, ytid: str) -> Path:
        return self.root / "mels" / f"{ytid}.npy"

    def config(self) -> MelConfig:
        if not self.config_path.exists():
            raise FileNotFoundError(f"no mel_config.json in {self.root}: run `text2music data preprocess` first")
        return MelConfig.load(self.config_path)

    def index(self) -> list[dict]:
        return read_jsonl(self.index_path)


def check_clip_audio(audio: np.ndarray, cfg: MelConfig) -> str | None:
    """The reason to skip a clip's audio, or None if it is usable."""
    if audio.size == 0:
        return "empty"
    if not np.all(np.isfinite(audio)):
        return "non_finite"
    if len(audio) < MIN_FRACTION * cfg.duration * cfg.sample_rate:
        return "too_short"
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    if 20 * np.log10(max(rms, 1e-12)) < SILENCE_DBFS:
        return "silent"
    return None


def _process_chunk(items: list[tuple[str, str, str]], cfg: MelConfig) -> list[dict]:
    """Process several clips (the filterbank is built once per config by `mel_filters`)."""
    return [_process_one(ytid, wav, out, cfg) for ytid, wav, out in items]


def _process_one(ytid: str, wav: str, out: str, cfg: MelConfig) -> dict:
    try:
        audio = load_audio(wav, cfg.sample_rate)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        return {"ytid": ytid, "skipped": "unreadable", "message": str(e)[:300]}
    reason = check_clip_audio(audio, cfg)
    if reason:
        return {"ytid": ytid, "skipped": reason, "seconds": round(len(audio) / cfg.sample_rate, 3)}
    mel = log_mel_spectrogram(audio, cfg).numpy()
    frames = mel.shape[-1]
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, fix_length(mel, cfg).astype(ARRAY_DTYPE))
    return {"ytid": ytid, "frames": frames}


def _init_worker():
    import torch

    torch.set_num_threads(1)


def preprocess(data_dir: str | Path, cfg: MelConfig, name: str, jobs: int = 1, limit: int | None = None, progress: bool = True) -> dict:
    """Compute the mel arrays of every clip of `data_dir` that has audio. Returns a summary."""
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    data_dir = Path(data_dir)
    all_clips = read_clips(data_dir / "metadata.csv")
    by_id = {c.ytid: c for c in all_clips}
    clips = all_clips[:limit] if limit is not None else all_clips
    fs = FeatureSet(data_dir / "features" / name)
    if fs.config_path.exists() and fs.config() != cfg:
        raise ValueError(
            f"{fs.root} holds features made with another MelConfig ({fs.config_path}); use another --name or delete that folder"
        )
    (fs.root / "mels").mkdir(parents=True, exist_ok=True)
    cfg.save(fs.config_path)

    # index.jsonl grows as chunks finish, so an interrupted run keeps what it did; the texts of kept
    # arrays are read again from metadata.csv (`data label` restates captions)
    index = {
        r["ytid"]: _index_record(by_id[r["ytid"]], r["frames"])
        for r in fs.index()
        if r["ytid"] in by_id and fs.mel_path(r["ytid"]).exists()
    }
    skipped: dict[str, dict] = {}
    todo = []
    for clip in clips:
        wav = data_dir / "audio" / f"{clip.ytid}.wav"
        if clip.ytid in index:
            continue
        if not wav.exists():
            skipped[clip.ytid] = {"ytid": clip.ytid, "skipped": "missing_audio"}
            continue
        todo.append((clip.ytid, str(wav), str(fs.mel_path(clip.ytid))))

    new = 0

    def collect(chunk_results: list[dict]) -> None:
        nonlocal new
        finished = []
        for r in chunk_results:
            if "skipped" in r:
                skipped[r["ytid"]] = r
            else:
                index[r["ytid"]] = _index_record(by_id[r["ytid"]], r["frames"])
                finished.append(index[r["ytid"]])
        append_jsonl(fs.index_path, finished)
        new += len(finished)
        bar.update(len(chunk_results))

    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    bar = tqdm(total=len(todo), desc=f"preprocess {name}", unit="clip", disable=not progress)
    try:
        if jobs == 1:
            for chunk in chunks:
                collect(_process_chunk(chunk, cfg))
        else:
            with worker_pool(jobs, initializer=_init_worker) as pool:
                for chunk_results in pool.map(_process_chunk, chunks, [cfg] * len(chunks)):
                    collect(chunk_results)
    finally:
        bar.close()
        write_jsonl(fs.index_path, sorted(index.values(), key=lambda r: r["ytid"]))  # deduplicated, sorted
    write_jsonl(fs.skipped_path, sorted(skipped.values(), key=lambda r: r["ytid"]))
    reasons: dict[str, int] = {}
    for r in skipped.values():
        reasons[r["skipped"]] = reasons.get(r["skipped"], 0) + 1
    return {
        "features": str(fs.root),
        "arrays": len(index),
        "new": new,
        "skipped": len(skipped),
        "skipped_by_reason": reasons,
        "shape": [cfg.n_mels, cfg.n_frames],
    }


def _index_record(clip: Clip, frames: int) -> dict:
    return {
        "ytid": clip.ytid,
        "split": clip.split,
        "caption": clip.caption,
        "aspects": list(clip.aspects),
        "frames": frames,
        "file": f"mels/{clip.ytid}.npy",
    }


def load_features(feature_dir: str | Path, split: str | None = None) -> tuple[MelConfig, list[dict], np.ndarray]:
    """Load a feature folder: (config, index records, float32 array `(n, n_mels, n_frames)`)."""
    fs = FeatureSet(Path(feature_dir))
    cfg = fs.config()
    records = [r for r in fs.index() if split is None or r["split"] == split]
    if not records:
        raise ValueError(f"no arrays{' for split ' + repr(split) if split else ''} in {fs.root}")
    arrays = np.stack([np.load(fs.root / r["file"], allow_pickle=False) for r in records]).astype(np.float32)
    expected = (cfg.n_mels, cfg.n_frames)
    if arrays.shape[1:] != expected:
        raise ValueError(f"{fs.root}: arrays have shape {arrays.shape[1:]}, mel_config.json says {expected}")
    return cfg, records, arrays

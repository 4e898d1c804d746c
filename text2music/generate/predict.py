"""Prediction with a trained checkpoint: text -> mel array (.npy) + picture (.png) + audio (.wav)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from text2music.features.mel import mel_to_audio, save_audio
from text2music.features.plot import save_mel_png
from text2music.models import load_pretrained
from text2music.text import TextEncoder
from text2music.utils import atomic_path


def slug(text: str, max_len: int = 40) -> str:
    """A file-name-safe short form of a text."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:max_len].rstrip("-") or "text"


def load_for_inference(model_dir: str | Path):
    """(model, its text encoder, MelConfig, config.json dict) from a model folder."""
    model, mel_cfg, config = load_pretrained(model_dir)
    return model, TextEncoder.from_model_folder(model_dir, config["text"]), mel_cfg, config


def predict(model_dir: str | Path, texts: list[str], out_dir: str | Path, griffin_lim_iters: int = 32, seed: int = 0) -> list[dict]:
    """Run the model on each text; write `NN-slug.{npy,png,wav}` into `out_dir`. Returns the paths."""
    if not texts:
        raise ValueError("no text given")
    model, encoder, mel_cfg, config = load_for_inference(model_dir)
    torch.manual_seed(seed)
    out_dir = Path(out_dir)
    results = []
    with torch.no_grad():
        mels = model.generate(encoder(texts))  # (B, n_mels, n_frames)
        audio = mel_to_audio(mels, mel_cfg, n_iter=griffin_lim_iters, seed=seed)
    for i, (text, mel, wav) in enumerate(zip(texts, mels.numpy(), audio)):
        stem = out_dir / f"{i:02d}-{slug(text)}"
        with atomic_path(stem.with_suffix(".npy")) as tmp, open(tmp, "wb") as f:
            np.save(f, mel.astype(np.float32))
        save_mel_png(stem.with_suffix(".png"), mel, mel_cfg, title=f"{config['kind']}: {text[:90]}")
        save_audio(stem.with_suffix(".wav"), wav, mel_cfg.sample_rate)
        results.append({"text": text, "npy": str(stem.with_suffix(".npy")), "png": str(stem.with_suffix(".png")),
                        "wav": str(stem.with_suffix(".wav"))})
    return results

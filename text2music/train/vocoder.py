"""Training the neural vocoder (`text2music.models.neural_vocoder`) on a corpus's audio.

    text2music train-vocoder --data data/synth --out runs/vocoder --minutes 15

Each step: random 128-frame crops of (log-mel values, true STFT magnitude) pairs computed once
from the train split's audio; L1 on log magnitude + spectral convergence; Adam. The run folder holds `vocoder.json` +
`vocoder.safetensors` (inference), `state.pt` (resumable: running the same command again
continues), `log.jsonl` and `loss.png`.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from text2music.features.mel import _stft, get_preset, load_audio, mel_filters, power_to_value
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig
from text2music.utils import append_jsonl, atomic_path, atomic_write_text


@dataclass
class VocoderTrainConfig:
    data: str = "data/synth"
    out: str = "runs/vocoder"
    preset: str = "small"
    clips: int = 600  # train clips held in memory
    val_clips: int = 32
    crop_frames: int = 128
    batch_size: int = 16
    lr: float = 1e-3
    minutes: float = 15.0
    max_steps: int | None = None
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500


def _clip_paths(data: Path, split: str, n: int) -> list[Path]:
    with open(data / "metadata.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("split") == split]
    if not rows:
        raise ValueError(f"{data / 'metadata.csv'}: no clips in split {split!r}")
    paths = [data / "audio" / f"{r['ytid']}.wav" for r in rows]
    return [p for p in paths if p.exists()][:n]


def spectra(paths: list[Path], vocoder: NeuralVocoder, progress: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mel values `(N, n_mels, T)`, true magnitudes and the analytic inverse's log magnitudes
    `(N, n_bins, T)`), float16, of the first 10 s of each clip (the inverse is fixed: computed once)."""
    mel = vocoder.mel
    filters = mel_filters(mel)
    n_samples = (mel.n_frames - 1) * mel.hop_length
    values, mags, bases = [], [], []
    for p in tqdm(paths, desc="spectra", unit="clip", disable=not progress):
        audio = torch.from_numpy(load_audio(p, mel.sample_rate)[:n_samples])
        audio = torch.nn.functional.pad(audio, (0, n_samples - len(audio)))
        mag = _stft(audio, mel).abs()
        v = power_to_value(filters @ mag ** mel.power, mel)
        values.append(v.half())
        mags.append(mag.half())
        bases.append(vocoder.analytic_log_magnitude(v[None])[0].half())
    return torch.stack(values), torch.stack(mags), torch.stack(bases)


def train_vocoder(cfg: VocoderTrainConfig, progress: bool = True) -> dict:
    out, data = Path(cfg.out), Path(cfg.data)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "train_config.json", json.dumps(asdict(cfg), indent=2) + "\n")
    torch.manual_seed(cfg.seed)
    vocoder = NeuralVocoder(NeuralVocoderConfig(), get_preset(cfg.preset))
    train_v, train_m, train_b = spectra(_clip_paths(data, "train", cfg.clips), vocoder, progress)
    val_v, val_m, val_b = spectra(_clip_paths(data, "valid", cfg.val_clips), vocoder, progress)
    optimizer = torch.optim.Adam(vocoder.parameters(), lr=cfg.lr)
    step = 0
    if (out / "state.pt").exists():
        state = torch.load(out / "state.pt", weights_only=True)
        vocoder.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]

    def validate() -> float:
        vocoder.eval()
        with torch.no_grad():
            loss = sum(float(vocoder.loss(val_v[i : i + 8].float(), val_m[i : i + 8].float(), val_b[i : i + 8].float())) * len(val_v[i : i + 8])
                       for i in range(0, len(val_v), 8)) / len(val_v)
        vocoder.train()
        return loss

    def save() -> None:
        with atomic_path(out / "state.pt") as tmp:
            torch.save({"model": vocoder.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, tmp)
        vocoder.save(out)

    if step == 0:
        append_jsonl(out / "log.jsonl", {"type": "val", "step": 0, "val_loss": validate()})  # = the analytic inverse
    started = time.time()
    bar = tqdm(desc="train vocoder", unit="step", initial=step, disable=not progress)
    n, frames = train_v.shape[0], train_v.shape[-1]
    while time.time() - started < 60 * cfg.minutes and (cfg.max_steps is None or step < cfg.max_steps):
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        idx = torch.randint(0, n, (cfg.batch_size,), generator=gen)
        start = torch.randint(0, frames - cfg.crop_frames + 1, (cfg.batch_size,), generator=gen)
        v = torch.stack([train_v[i, :, s : s + cfg.crop_frames] for i, s in zip(idx, start)]).float()
        m = torch.stack([train_m[i, :, s : s + cfg.crop_frames] for i, s in zip(idx, start)]).float()
        b = torch.stack([train_b[i, :, s : s + cfg.crop_frames] for i, s in zip(idx, start)]).float()
        loss = vocoder.loss(v, m, b)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0:
            append_jsonl(out / "log.jsonl", {"type": "step", "step": step, "loss": float(loss.detach()), "elapsed_s": round(time.time() - started, 1)})
        if step % cfg.checkpoint_every == 0:
            append_jsonl(out / "log.jsonl", {"type": "val", "step": step, "val_loss": validate()})
            save()
    bar.close()
    final = validate()
    append_jsonl(out / "log.jsonl", {"type": "val", "step": step, "val_loss": final})
    save()
    _plot(out)
    return {"out": str(out), "steps": step, "val_loss": round(final, 4), "seconds": round(time.time() - started, 1)}


def _plot(out: Path) -> None:
    from text2music.features.plot import _pyplot
    from text2music.utils import read_jsonl

    plt = _pyplot()
    records = read_jsonl(out / "log.jsonl")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [r for r in records if r["type"] == "step"]
    vals = [r for r in records if r["type"] == "val"]
    ax.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=0.8, alpha=0.6, label="train")
    ax.plot([r["step"] for r in vals], [r["val_loss"] for r in vals], "s-", label="validation (step 0: analytic inverse)")
    ax.set_xlabel("step")
    ax.set_ylabel("L1 log magnitude + spectral convergence")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(out / "loss.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

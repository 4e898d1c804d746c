"""Training the neural vocoder (`text2music.models.neural_vocoder`) on a corpus's audio.

    text2music train-vocoder --data data/synth --out runs/vocoder --minutes 15

Each step: random 128-frame crops of (log-mel values, true STFT magnitude) pairs computed once
from the train split's audio; L1 on log magnitude + spectral convergence; Adam. The run folder holds `vocoder.json` +
`vocoder.safetensors` (inference), `state.pt` (resumable: running the same command again
continues, as for `text2music train`), `log.jsonl` and `loss.png`.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from text2music.features.mel import get_preset, load_audio, mel_filters, power_to_value, stft
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig
from text2music.train.run import Budget, RunLog, load_checkpoint, save_checkpoint, stop_on_sigint
from text2music.utils import atomic_write_text


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
        mag = stft(audio, mel).abs()
        v = power_to_value(filters @ mag**mel.power, mel)
        values.append(v.half())
        mags.append(mag.half())
        bases.append(vocoder.analytic_log_magnitude(v[None])[0].half())
    return torch.stack(values), torch.stack(mags), torch.stack(bases)


def _validate(vocoder: NeuralVocoder, val: tuple[torch.Tensor, ...], batch: int = 8) -> float:
    """Mean loss over the validation clips, in eval mode, without gradients."""
    values, mags, bases = val
    vocoder.eval()
    with torch.no_grad():
        total = sum(
            float(vocoder.loss(values[i : i + batch].float(), mags[i : i + batch].float(), bases[i : i + batch].float()))
            * len(values[i : i + batch])
            for i in range(0, len(values), batch)
        )
    vocoder.train()
    return total / len(values)


def _crops(train: tuple[torch.Tensor, ...], cfg: VocoderTrainConfig, step: int) -> list[torch.Tensor]:
    """The batch of `step`: random clips and crop starts drawn from a generator seeded by the step
    (so a resumed run draws what an uninterrupted one would)."""
    n, frames = train[0].shape[0], train[0].shape[-1]
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    idx = torch.randint(0, n, (cfg.batch_size,), generator=gen)
    start = torch.randint(0, frames - cfg.crop_frames + 1, (cfg.batch_size,), generator=gen)
    return [torch.stack([t[i, :, s : s + cfg.crop_frames] for i, s in zip(idx, start)]).float() for t in train]


def train_vocoder(cfg: VocoderTrainConfig, progress: bool = True) -> dict:
    out, data = Path(cfg.out), Path(cfg.data)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "train_config.json", json.dumps(asdict(cfg), indent=2) + "\n")
    torch.manual_seed(cfg.seed)
    vocoder = NeuralVocoder(NeuralVocoderConfig(), get_preset(cfg.preset))
    train = spectra(_clip_paths(data, "train", cfg.clips), vocoder, progress)
    val = spectra(_clip_paths(data, "valid", cfg.val_clips), vocoder, progress)
    optimizer = torch.optim.Adam(vocoder.parameters(), lr=cfg.lr)
    log, budget = RunLog(out), Budget(cfg.max_steps, cfg.minutes)
    step = 0
    state = load_checkpoint(out / "state.pt")
    if state is not None:
        vocoder.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        log.resume(step)
    else:
        log.write({"type": "val", "step": 0, "val_loss": _validate(vocoder, val)})  # = the analytic inverse

    def save() -> None:
        save_checkpoint(out / "state.pt", {"model": vocoder.state_dict(), "optimizer": optimizer.state_dict(), "step": step})
        vocoder.save(out)

    bar = tqdm(desc="train vocoder", unit="step", initial=step, disable=not progress)
    budget.start()
    with stop_on_sigint() as interrupted:
        while not budget.spent(step):
            loss = vocoder.loss(*_crops(train, cfg, step))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0:
                log.write({"type": "step", "step": step, "loss": float(loss.detach()), "elapsed_s": budget.elapsed()})
            if step % cfg.checkpoint_every == 0:
                log.write({"type": "val", "step": step, "val_loss": _validate(vocoder, val)})
                save()
            if interrupted:
                save()
                raise KeyboardInterrupt
    bar.close()
    final = _validate(vocoder, val)
    log.write({"type": "val", "step": step, "val_loss": final})
    save()
    log.plot(ylabel="L1 log magnitude + spectral convergence", log_scale=False)
    return {"out": str(out), "steps": step, "val_loss": round(final, 4), "seconds": round(time.time() - budget.started, 1)}

"""The Python API: text -> waveform with a trained generator, its text encoder and a vocoder.

    from text2music import Text2Music
    pipe = Text2Music.from_pretrained()          # the default model bundled with the package
    waves, sr = pipe.generate(["a calm solo piano piece in A minor at 70 BPM"], duration=10.0)
    # waves: float32 (n_texts, n_samples) in [-1, 1]

Three separately loaded parts, as in diffusers: the text encoder (BERT, `text2music.text`), the
generator (a flow model over mel frames, `text2music.models`), the vocoder (mel -> audio,
`text2music.models.vocoder`: Griffin-Lim, or the learned `neural_vocoder` when the model
folder holds one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from text2music.features.mel import MelConfig, load_audio, log_mel_spectrogram
from text2music.models import load_pretrained
from text2music.models.neural_vocoder import NeuralVocoder
from text2music.models.vocoder import GriffinLimVocoder
from text2music.text import TextEmbedding, TextEncoder

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "default"

# what generate() accepts; the CLI, the HTTP API and the web page show the same limits
MIN_DURATION, MAX_DURATION = 1.0, 20.0  # seconds (trained on 2-10 s crops; rotary positions extend further)
MAX_STEPS = 100
MIN_GUIDANCE, MAX_GUIDANCE = 1.0, 15.0
MAX_TEXT_CHARS = 2000  # BERT reads the first 128 tokens in any case
MAX_BATCH = 64
GENERATIVE_KINDS = ("flow_transformer",)  # the seed baselines regress one mel per text: see `predict`


@dataclass(frozen=True)
class GenerationDefaults:
    duration: float = 10.0
    steps: int = 16
    guidance: float = 3.0
    sampler: str = "euler"
    seed: int = 0


DEFAULTS = GenerationDefaults()


def check_texts(texts: list[str]) -> list[str]:
    """The texts, or a ValueError naming the one that is empty or too long."""
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("no text given")
    if len(texts) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} texts per call, got {len(texts)}")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"text {i + 1} is empty")
        if len(t) > MAX_TEXT_CHARS:
            raise ValueError(f"text {i + 1} is {len(t)} characters long; the limit is {MAX_TEXT_CHARS}")
    return texts


def check_settings(duration: float, steps: int, guidance: float) -> None:
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise ValueError(f"duration must be between {MIN_DURATION:g} and {MAX_DURATION:g} seconds, got {duration:g}")
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
    if not MIN_GUIDANCE <= guidance <= MAX_GUIDANCE:
        raise ValueError(f"guidance must be between {MIN_GUIDANCE:g} and {MAX_GUIDANCE:g}, got {guidance:g}")


class Text2Music:
    """A loaded model: `generate(texts) -> (waveforms, sample_rate)`."""

    def __init__(self, model: torch.nn.Module, encoder: TextEncoder, mel: MelConfig, config: dict,
                 vocoder: GriffinLimVocoder | NeuralVocoder | None = None, path: Path | None = None):
        if config.get("kind") not in GENERATIVE_KINDS:
            raise ValueError(f"{path}: a {config.get('kind')} model is not a generative model; "
                             f"use `text2music predict` for the seed baselines")
        self.model, self.encoder, self.mel, self.config = model, encoder, mel, config
        self.vocoder = vocoder or GriffinLimVocoder(mel)
        self.path = path

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str = "cpu") -> "Text2Music":
        """Load a model folder (config.json + model.safetensors); None = the bundled default."""
        folder = Path(path).expanduser() if path is not None else DEFAULT_MODEL_DIR
        if not folder.is_dir():
            raise FileNotFoundError(f"model folder not found: {folder}")
        model, mel, config = load_pretrained(folder, device=device)
        encoder = TextEncoder.from_model_folder(folder, config["text"]).to(device)
        vocoder = NeuralVocoder.from_folder(folder) if (folder / "vocoder.json").exists() else GriffinLimVocoder(mel)
        if vocoder.mel != mel:
            raise ValueError(f"{folder}: the vocoder was trained on other mel features than the generator")
        return cls(model, encoder, mel, config, vocoder=vocoder, path=folder)

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def frames_for(self, duration: float) -> int:
        """Mel frames whose vocoded audio lasts `duration` seconds."""
        return 1 + round(duration * self.mel.sample_rate / self.mel.hop_length)

    def embed(self, texts: list[str]) -> TextEmbedding:
        with torch.no_grad():
            return self.encoder(check_texts(texts)).to(self.device)

    def generate_mel(self, texts: list[str] | TextEmbedding, duration: float = DEFAULTS.duration,
                     steps: int = DEFAULTS.steps, guidance: float = DEFAULTS.guidance, seed: int | list[int] = DEFAULTS.seed,
                     sampler: str = DEFAULTS.sampler, init_audio: np.ndarray | str | Path | None = None,
                     strength: float = 0.6, callback: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Texts -> mel `(B, n_mels, n_frames)` in the model's value scale.

        `seed`: one int (row i gets seed + i) or one per text. `init_audio` (a file or samples at
        the model's rate) with `strength` in (0, 1): a variation of that audio instead of noise.
        `callback(done, total)` is called after every model evaluation.
        """
        check_settings(duration, steps, guidance)
        text = texts if isinstance(texts, TextEmbedding) else self.embed(texts)
        B = text.tokens.shape[0]
        seeds = [int(seed) + i for i in range(B)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
        n_frames = self.frames_for(duration)
        init = None
        if init_audio is not None:
            if not 0.0 < strength < 1.0:
                raise ValueError(f"strength must be between 0 and 1 (exclusive), got {strength}")
            audio = load_audio(init_audio, self.sample_rate) if isinstance(init_audio, (str, Path)) else np.asarray(init_audio, np.float32)
            need = (n_frames - 1) * self.mel.hop_length
            audio = np.pad(audio[:need], (0, max(0, need - len(audio))))
            init = log_mel_spectrogram(audio, self.mel)[None].expand(B, -1, -1)
        per_step = 2 if sampler == "heun" else 1
        total = steps * per_step
        with torch.no_grad():
            return self.model.generate(text, n_frames=n_frames, steps=steps, guidance=guidance, sampler=sampler,
                                       seed=seeds, init=init, strength=strength if init is not None else 1.0,
                                       callback=(lambda done: callback(min(done, total), total)) if callback else None)

    def mel_of(self, audio: np.ndarray) -> np.ndarray:
        """The model's log-mel `(n_mels, n_frames)` of audio at its sample rate."""
        return log_mel_spectrogram(np.asarray(audio, np.float32), self.mel).numpy()

    def vocode(self, mel: torch.Tensor, n_samples: int | None = None) -> np.ndarray:
        """mel `(B, n_mels, n_frames)` -> float32 audio `(B, n_samples)`, peak-limited to [-1, 1].

        Row by row with a fixed phase seed, so a row's audio does not depend on the batch."""
        audio = np.stack([self.vocoder(m[None].float().cpu(), seed=0)[0].numpy() for m in mel]).astype(np.float32)
        if n_samples is not None:
            audio = np.pad(audio[:, :n_samples], ((0, 0), (0, max(0, n_samples - audio.shape[1]))))
        peak = np.abs(audio).max(axis=-1, keepdims=True)
        return np.where(peak > 0.99, audio * (0.99 / np.maximum(peak, 1e-9)), audio)

    def generate(self, texts: list[str] | str, duration: float = DEFAULTS.duration, steps: int = DEFAULTS.steps,
                 guidance: float = DEFAULTS.guidance, seed: int | list[int] = DEFAULTS.seed, sampler: str = DEFAULTS.sampler,
                 init_audio: np.ndarray | str | Path | None = None, strength: float = 0.6,
                 callback: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, int]:
        """Texts -> (waveforms float32 `(n_texts, n_samples)`, sample_rate)."""
        mel = self.generate_mel(texts, duration, steps, guidance, seed, sampler, init_audio, strength, callback)
        return self.vocode(mel, round(duration * self.sample_rate)), self.sample_rate

    def interpolate(self, text_a: str, text_b: str, n: int = 5, duration: float = DEFAULTS.duration,
                    steps: int = DEFAULTS.steps, guidance: float = DEFAULTS.guidance, seed: int = DEFAULTS.seed) -> tuple[np.ndarray, int]:
        """`n` clips whose text embedding moves from `text_a` to `text_b` (same noise for all):
        waveforms `(n, n_samples)`."""
        if n < 2:
            raise ValueError(f"interpolation needs n >= 2, got {n}")
        a, b = self.embed([text_a]), self.embed([text_b])
        length = max(a.tokens.shape[1], b.tokens.shape[1])

        def padded(e: TextEmbedding):
            pad = length - e.tokens.shape[1]
            return torch.nn.functional.pad(e.tokens, (0, 0, 0, pad)), torch.nn.functional.pad(e.mask, (0, pad))

        (ta, ma), (tb, mb) = padded(a), padded(b)
        w = torch.linspace(0, 1, n, device=self.device)[:, None, None]
        text = TextEmbedding((1 - w) * ta + w * tb, (ma | mb).expand(n, -1), (1 - w[:, 0]) * a.pooled + w[:, 0] * b.pooled)
        mel = self.generate_mel(text, duration, steps, guidance, seed=[seed] * n)
        return self.vocode(mel, round(duration * self.sample_rate)), self.sample_rate

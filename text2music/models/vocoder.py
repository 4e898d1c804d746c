"""Vocoders: log-mel spectrogram -> waveform. Kept apart from the generator, as a separate part.

Every vocoder is a `Vocoder`: its `mel` (the MelConfig whose values it reads), its `sample_rate`,
and `vocoder(mel, seed=0, period=None) -> audio`.

- `GriffinLimVocoder` needs no training: the mel is mapped back to a linear magnitude spectrogram
  (pseudo-inverse plus non-negative refinement) and the phase is found by fast Griffin-Lim, all
  batched in torch (`text2music.features.mel`).
- `NeuralVocoder` (`text2music.models.neural_vocoder`) is trained, and a model folder that ships
  one (`vocoder.json` + `vocoder.safetensors`) is paired with it.

A trained vocoder lives in a folder whose vocoder.json names its "kind"; `TRAINED_KINDS` maps
each kind to its class (a `from_folder(folder)` classmethod). The next vocoder is one new file
and one line there.

`load_vocoder(spec, folder, mel)` picks one by name: "auto" (the folder's own, else the one its
config.json names under "vocoder", else Griffin-Lim),
"griffin-lim" (optionally with its iterations and NNLS updates: "griffin-lim-64-nnls300"),
"vocos" (the neural vocoder packaged in `text2music/assets/vocos/`), "vocos-fullband" (the packaged
full-band one: 48 kHz from the same mel, `assets/vocos-fullband/`), "vocos-fullband-gan" (that one
trained further against full-size discriminators: closer to real recordings), "vocos-fullband-branch"
(that one with a branch of its own for the band above 8 kHz: the same audio below 8 kHz), or the
path of a folder that holds a trained vocoder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from text2music.features.mel import MelConfig, mel_to_audio
from text2music.models.folders import (  # noqa: F401 (the vocoder specs' names, read without torch)
    BUNDLED_VOCODERS,
    BUNDLED_VOCOS_DIR,
    MAX_ITERATIONS,
    VOCODER_CHOICES,
    check_vocoder_spec,
    griffin_lim_options,
    has_vocoder,
)
from text2music.models.neural_vocoder import NeuralVocoder

TRAINED_KINDS = {"vocos": NeuralVocoder}  # vocoder.json "kind" -> the class that reads such a folder (`from_folder`)


@runtime_checkable
class Vocoder(Protocol):
    """Mel in, audio out."""

    name: str  # what reports call it ("griffin-lim", "vocos")
    mel: MelConfig  # the features it reads: a generator's mels must be made with the same

    @property
    def sample_rate(self) -> int: ...

    def __call__(self, mel: torch.Tensor, seed: int = 0, period: int | None = None) -> torch.Tensor:
        """mel `(B, n_mels, n_frames)` in `self.mel`'s values -> audio `(B, (n_frames - 1) * hop)` at
        `sample_rate`; `seed` for a vocoder that draws (Griffin-Lim's first phase); `period`: the mel
        repeats every that many frames (a tiled loop), and so must the audio."""
        ...


@dataclass
class GriffinLimVocoder:
    mel: MelConfig
    n_iter: int = 32
    nnls_iter: int = 300  # multiplicative NNLS updates of the mel inverse (`mel_to_linear`)
    name = "griffin-lim"

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    def __call__(self, mel: torch.Tensor, seed: int = 0, period: int | None = None) -> torch.Tensor:
        """mel `(B, n_mels, n_frames)` in the config's value scale -> audio `(B, (n_frames - 1) * hop)`;
        `period`: the mel repeats every that many frames (a tiled loop), and so will the audio."""
        return mel_to_audio(mel, self.mel, n_iter=self.n_iter, seed=seed, period=period, nnls_iter=self.nnls_iter)


def griffin_lim_fields(spec: str) -> dict | None:
    """All of GriffinLimVocoder's settings that `spec` names (defaults filled in); None for another spec."""
    options = griffin_lim_options(spec)
    return None if options is None else {"n_iter": GriffinLimVocoder.n_iter, "nnls_iter": GriffinLimVocoder.nnls_iter, **options}


def paired_vocoder(folder: str | Path) -> str:
    """What "auto" means for a model folder: "auto" when it ships its own vocoder, else the spec
    its config.json names under "vocoder" (e.g. "vocos"), else "griffin-lim"."""
    if has_vocoder(folder):
        return "auto"
    config = Path(folder) / "config.json"
    named = json.loads(config.read_text(encoding="utf-8")).get("vocoder") if config.is_file() else None
    return check_vocoder_spec(named) if named else "griffin-lim"


def neural_vocoder_folder(spec: str | Path, model_folder: str | Path | None = None) -> Path:
    """The folder a neural vocoder spec names: "auto" (the model folder's own), "vocos" or
    "vocos-fullband", "vocos-fullband-gan", "vocos-fullband-branch" (packaged) or a path."""
    spec = str(spec)
    if spec == "auto":
        return Path(model_folder)
    return BUNDLED_VOCODERS.get(spec, Path(spec))


def read_vocoder(folder: str | Path) -> Vocoder:
    """The trained vocoder in `folder` (vocoder.json names its kind), or a one-line error naming the file."""
    path = Path(folder) / "vocoder.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no vocoder (needs vocoder.json and its weights)")
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("kind")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise ValueError(f"{path}: not a JSON object ({e})") from None
    if kind not in TRAINED_KINDS:
        raise ValueError(f"{path}: unknown vocoder kind {kind!r} (this version reads {', '.join(map(repr, TRAINED_KINDS))})")
    return TRAINED_KINDS[kind].from_folder(folder)


def load_vocoder(spec: str | Path, folder: str | Path, mel: MelConfig) -> Vocoder:
    """The vocoder `spec` names for the generator in `folder`, whose mel features are `mel`."""
    spec = check_vocoder_spec(spec)
    if spec == "auto":
        spec = paired_vocoder(folder)
    if griffin_lim_options(spec) is not None:
        return GriffinLimVocoder(mel, **griffin_lim_options(spec))
    source = neural_vocoder_folder(spec, folder)
    vocoder = read_vocoder(source)
    if vocoder.mel != mel:
        raise ValueError(f"{source}: the vocoder was trained on other mel features than the generator in {folder}")
    return vocoder

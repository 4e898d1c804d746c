"""The systems a leaderboard compares: each turns evaluation prompts into audio.

- `real`:    the corpus's own clip for each prompt (the judges' ceiling);
- `real:FOLDER`: a real clip of another corpus folder for each prompt, from other tracks of the same
             game (or album): real music that is new to the judges' reference, the ceiling of a
             system that writes new music rather than the held-out tracks themselves;
- `vocoder`: the real clip -> the model's log-mel -> Griffin-Lim (the floor that any model
             which generates mel spectrograms and uses this vocoder cannot go below);
             `vocoder:griffin-lim-ITERS-nnlsN`: Griffin-Lim with other iterations;
             `vocoder:FOLDER`: the same through a neural vocoder;
- a model folder (a flow model or a seed baseline) or `default`: through `Text2Music`, as
  `text2music generate` runs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from text2music.evaluate.folder import vocoder_row_source
from text2music.evaluate.judges import JUDGE_RATE
from text2music.evaluate.prompts import EvalItem
from text2music.features.mel import get_preset, load_audio, log_mel_spectrogram, resample
from text2music.generate.settings import GenerationSettings
from text2music.generate.spec import ModelSpec


class RealAudio:
    name = "real"

    def __init__(self, sample_rate: int = JUDGE_RATE):
        self.sample_rate = sample_rate

    def render(self, items: list[EvalItem], seeds: list[int]) -> list[np.ndarray]:
        return real_audio(items, self.sample_rate)


def real_audio(items: list[EvalItem], sample_rate: int) -> list[np.ndarray]:
    """Each prompt's real clip at `sample_rate`; a one-line error for a prompt without one."""
    for it in items:
        if it.audio is None:
            raise ValueError(f"prompt {it.id} has no real audio (the real-audio and vocoder rows need corpus prompts)")
    return [load_audio(it.audio, sample_rate) for it in items]


class RealElsewhere(RealAudio):
    """For each prompt, a clip of the corpus `folder` drawn (by a hash of the prompt's id) from the
    clips whose caption names the same game or album (the text before its first colon), leaving
    out every track of the prompt's own split, so that no clip is music the reference holds."""

    def __init__(self, folder: str | Path, sample_rate: int = JUDGE_RATE):
        super().__init__(sample_rate)
        self.folder = Path(folder)
        self.name = f"real:{folder}"
        self.games: dict[str, list[dict]] = {}  # caption group -> its clips
        for clip in read_manifest(self.folder):
            self.games.setdefault(caption_group(clip["caption"]), []).append(clip)
        self.reference_tracks: dict[tuple, set[str]] = {}  # (the prompts' corpus, split) -> its tracks

    def render(self, items, seeds):
        return [load_audio(self.folder / self.stand_in(it, self.tracks_of(it))["audio"], self.sample_rate) for it in items]

    def tracks_of(self, item: EvalItem) -> set[str]:
        """`split_tracks(item)`, read once per corpus and split."""
        key = (Path(item.audio).parent.parent if item.audio is not None else None, item.spec.get("split"))
        if key not in self.reference_tracks:
            self.reference_tracks[key] = split_tracks(item)  # refuses a prompt that is not of an imported corpus
        return self.reference_tracks[key]

    def stand_in(self, item: EvalItem, own_tracks: set[str]) -> dict:
        return self.candidates(item, own_tracks)[0]

    def candidates(self, item: EvalItem, own_tracks: set[str]) -> list[dict]:
        """The clips of other tracks of the prompt's game, in the prompt's hash order (the first is drawn)."""
        group = caption_group(item.text)
        clips = [c for c in self.games.get(group, ()) if c.get("source_sha1") not in own_tracks]
        if not clips:
            raise ValueError(f"prompt {item.id}: {self.folder} has no clip of other tracks whose caption starts {group!r}")
        return sorted(clips, key=lambda c: hashlib.sha256(f"{item.id}/{c['clip_id']}".encode()).hexdigest())


def read_manifest(folder: Path) -> list[dict]:
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"{folder} has no manifest.jsonl: --model real:FOLDER needs a corpus made by `text2music data import`")
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def stand_ins_sha256(folder: str | Path) -> str:
    """What decides the clips `real:FOLDER` draws: each clip's id, split, track and game (labels a
    later `data label` adds to the manifest change none of them)."""
    keys = sorted(
        f"{c['clip_id']}\0{c['split']}\0{c.get('source_sha1')}\0{caption_group(c['caption'])}" for c in read_manifest(Path(folder))
    )
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def caption_group(caption: str) -> str:
    """The game or album a caption of `data import` names before its first colon ('' if none)."""
    return caption.split(":", 1)[0].strip() if ":" in caption else ""


def split_tracks(item: EvalItem) -> set[str]:
    """The source tracks of every clip in the prompt's own corpus split (the reference's tracks)."""
    if item.audio is None or not item.spec.get("split"):
        raise ValueError(f"prompt {item.id}: --model real:FOLDER needs prompts of an imported corpus")
    return {r.get("source_sha1") for r in read_manifest(Path(item.audio).parent.parent) if r["split"] == item.spec["split"]}


class VocoderOnly(RealAudio):
    """Real clip -> log-mel -> a vocoder: Griffin-Lim on the analytic inverse, or a learned one;
    written at `sample_rate` (default: the vocoder's own, at most 44.1 kHz, as the pipeline writes)."""

    name = "vocoder"

    def __init__(self, preset: str = "small", neural: str | Path | None = None, sample_rate: int | None = None, **griffin_lim):
        from text2music.generate.pipeline import DEFAULT_FULL_BAND_RATE
        from text2music.models.neural_vocoder import NeuralVocoder
        from text2music.models.vocoder import GriffinLimVocoder

        if neural is not None:
            self.vocoder = NeuralVocoder.from_folder(neural)
        else:
            self.vocoder = GriffinLimVocoder(get_preset(preset), **griffin_lim)
        self.mel = self.vocoder.mel
        super().__init__(sample_rate or min(self.vocoder.sample_rate, DEFAULT_FULL_BAND_RATE))

    def render(self, items, seeds):
        out = []
        for audio in real_audio(items, self.mel.sample_rate):
            wave = self.vocoder(log_mel_spectrogram(audio, self.mel)[None])[0].numpy()
            wave = resample(wave, self.vocoder.sample_rate, self.sample_rate)
            out.append(wave[: round(len(audio) * self.sample_rate / self.mel.sample_rate)])
        return out


class ModelSystem:
    """A model folder (or the bundled model) through the public pipeline: the same code path as
    `text2music generate`, for a flow model and the seed's regressors alike.

    `controls`: "text" (the pipeline reads what each prompt states), "settings" (each clip's true
    tempo, key, meter and drums given as settings, as a user sets --bpm --key --meter --drums),
    or "none" (no controls: the prompt's words still reach the text encoder)."""

    def __init__(self, spec: ModelSpec, controls: str = "text", settings: GenerationSettings | None = None):
        from text2music.generate.pipeline import Text2Music

        self.pipe = Text2Music.from_pretrained(spec)
        self.name = str(spec.model) if spec.model is not None else "default"
        self.controls = controls
        self.settings = (settings or GenerationSettings()).replace(text_controls=controls == "text")
        self.sample_rate = self.pipe.output_rate(self.settings)

    def render(self, items, seeds):
        if self.controls != "settings":
            return list(self.pipe([it.text for it in items], self.settings, seeds=seeds).mono)
        return [self.pipe([it.text], self.settings_of(it), seeds=[s]).mono[0] for it, s in zip(items, seeds)]

    def settings_of(self, item: EvalItem):
        return true_settings(item, self.settings)


def true_settings(item: EvalItem, settings: GenerationSettings) -> GenerationSettings:
    """`settings` with the clip's true tempo, key, meter and drums (corpus prompts), the text's own controls off."""
    spec = item.spec
    if not spec.get("bpm"):
        raise ValueError(f"prompt {item.id} has no specification: controls=settings needs corpus prompts")
    meter = int(str(spec["meter"])[0])
    true = dict(bpm=float(spec["bpm"]), key=f"{spec['key']} {spec['mode']}", meter=meter, drums=bool(spec["drums"]))
    return settings.replace(text_controls=False, **true)


def load_system(system: str, controls: str = "text", spec: ModelSpec | None = None, settings: GenerationSettings | None = None):
    """'real', 'vocoder' (Griffin-Lim), 'vocoder:griffin-lim-64-nnls300' (Griffin-Lim with other
    iterations, see `text2music.models.vocoder`), 'vocoder:FOLDER' (the neural vocoder in FOLDER;
    'vocoder:vocos' for the packaged one), 'default' (the bundled model) or a model folder, loaded
    as `spec` says (its vocoder, adapter, precision) and generating with `settings`."""
    if system == "real":
        return RealAudio()
    if system.startswith("real:"):
        return RealElsewhere(system.split(":", 1)[1])
    source = vocoder_row_source(system)
    if source is not None:
        rate = settings.sample_rate if settings is not None else None
        return VocoderOnly(**source, sample_rate=rate) if isinstance(source, dict) else VocoderOnly(neural=source, sample_rate=rate)
    spec = spec or ModelSpec()
    return ModelSystem(dataclasses.replace(spec, model=None if system == "default" else system), controls, settings)


def measure_speed(system, text: str, repeats: int = 3) -> dict:
    """Seconds to make one clip (text -> waveform, batch 1, after one warm-up; the clip's length is
    the system's: load it with the duration to time) and the real-time factor (seconds of audio
    per second of compute)."""
    item = EvalItem(id="speed", text=text, named=set(), excluded=set())
    system.render([item], [0])
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        wave = system.render([item], [r + 1])[0]
        times.append(time.perf_counter() - t0)
    seconds = float(np.median(times))
    audio_s = len(wave) / system.sample_rate
    return {
        "seconds_per_clip": round(seconds, 3),
        "audio_seconds": round(audio_s, 2),
        "rtf": round(audio_s / seconds, 2),
        "threads": torch.get_num_threads(),
    }

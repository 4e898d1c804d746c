"""The Python API: text -> waveform with a trained generator, its text encoder and a vocoder.

    from text2music import Text2Music, GenerationSettings
    pipe = Text2Music.from_pretrained()                     # the default model bundled with the package
    out = pipe(["a calm solo piano piece in A minor at 70 BPM"], GenerationSettings(duration=8.0))
    out.audio, out.mel, out.sample_rate                     # float32 (B, n_samples), (B, n_mels, T), 16000
    waves, sr = pipe.generate("a calm solo piano piece", duration=8.0)   # the same, settings as keywords

Three separately loaded parts, as in diffusers: the text encoder (BERT, `text2music.text`), the
generator (`text2music.models`: a flow model sampled by `text2music.generate.flow`, or one of the
seed's regressors, whose "sampling" is one forward pass), the vocoder (mel -> audio,
`text2music.models.vocoder`: the neural vocoder the model folder ships, or Griffin-Lim when it
ships none or when asked for with `vocoder="griffin-lim"`). Every caller (CLI, HTTP server, evaluation) goes through `Text2Music.__call__`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from text2music.features.controls import frame_controls, global_controls
from text2music.features.mel import MelConfig, load_audio, log_mel_spectrogram, resample
from text2music.generate.audio_prompt import AudioPrompt, PromptHints, measure_audio_prompt, prompt_settings, read_audio_prompt
from text2music.generate.controls import ControlPlan, plan_clips, plan_controls
from text2music.generate.flow import sample_mel, seeded_noise
from text2music.generate.pieces import CONTEXT_SECONDS, WINDOW_SECONDS, WINDOW_SEED_STRIDE, WindowLayout, sample_piece, splice
from text2music.generate.settings import (
    LOUDNESS_TARGET_DBFS,
    MAX_SEED,
    MAX_WINDOW,
    PEAK_LIMIT,
    GenerationSettings,
    check_texts,
)
from text2music.generate.spec import DEFAULT_MODEL_DIR, ModelSpec
from text2music.models import load_pretrained
from text2music.models.flow_transformer import Context, Controls
from text2music.models.folders import adapter_fits, drum_free_scale, learnt_steering, room_send, steering_adapter
from text2music.models.lora import merge_adapter, weights_sha256
from text2music.models.quantize import quantize, resolve_precision
from text2music.models.steering import UNSTEERED_HZ, AwayFrom, DrumFreeSwitch, steered_bins
from text2music.models.stereo import StereoUpmixer
from text2music.models.vocoder import GriffinLimVocoder, Vocoder, load_vocoder
from text2music.text import TextEmbedding, TextEncoder
from text2music.text.controls import parse_controls

__all__ = ["DEFAULT_MODEL_DIR", "Generation", "ModelSpec", "Text2Music"]
ProgressFn = Callable[[int, int], None]
CROSSFADE_SECONDS = 0.02  # where new audio meets the user's
DEFAULT_FULL_BAND_RATE = 44100  # what a vocoder above it (48 kHz) writes unless asked: CD rate
VOCODE_OVERLAP = 32  # frames two vocoded chunks of a long mel share
LOOP_SEAM_SECONDS = 1.0  # made again on either side of a loop's wrap (a model with context)


@dataclass
class Generation:
    """What one call made: audio float32 `(B, n_samples)` (mono) or `(B, 2, n_samples)` (stereo, left
    and right), mel `(B, n_mels, n_frames)`, sample rate, and per clip the controls it was made with
    and notes on what was chosen or overridden."""

    audio: np.ndarray
    mel: torch.Tensor
    sample_rate: int
    plans: list[ControlPlan] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return [n for p in self.plans for n in p.notes]

    @property
    def mono(self) -> np.ndarray:
        """The mono mix `(B, n_samples)`: the audio itself, or (L + R) / 2 (the mono clip the stereo was made from)."""
        return self.audio if self.audio.ndim == 2 else self.audio.mean(axis=1)


def normalize_loudness(audio: np.ndarray, target_dbfs: float = LOUDNESS_TARGET_DBFS, peak: float = PEAK_LIMIT) -> np.ndarray:
    """Each row `(B, n)` scaled to `target_dbfs` RMS, then scaled down where it would peak above `peak`.
    Silent rows stay silent."""
    rms = np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=-1, keepdims=True))
    gain = np.where(rms > 1e-6, 10 ** (target_dbfs / 20) / np.maximum(rms, 1e-12), 1.0)
    return limit_peaks(audio * gain.astype(np.float32), peak)


def limit_peaks(audio: np.ndarray, peak: float = PEAK_LIMIT) -> np.ndarray:
    """Rows `(B, n)` whose peak is above `peak` scaled down to it; the others unchanged."""
    top = np.abs(audio).max(axis=-1, keepdims=True)
    return np.where(top > peak, audio * (peak / np.maximum(top, 1e-9)), audio).astype(np.float32)


def with_rooms(
    audio: np.ndarray, plans: list[ControlPlan], seeds: list[int], rate: int, send: float, loop: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Each row of `(B, n)` sent (`send` times) to the room its plan names (`production.room`, drawn
    from its seed): the mono mix with the room's return `(B, n)`, and the room's side `(B, n)` for a
    stereo clip. The room is linear, so its return scales with the send."""
    from text2music.production import ROOM_FALLBACK_STYLE, room

    wet = np.stack([room(row, plan.room or ROOM_FALLBACK_STYLE, seed, rate, loop) for row, plan, seed in zip(audio, plans, seeds)])
    wet *= np.float32(send)
    return audio + wet.mean(axis=1), (wet[:, 0] - wet[:, 1]) / 2


def row_gains(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The gain of each row `(B, 1)` of `after`, a scaled copy of `before` (`normalize_loudness`, `limit_peaks`)."""
    norm = np.linalg.norm(before, axis=-1, keepdims=True)
    return np.linalg.norm(after, axis=-1, keepdims=True) / np.maximum(norm, 1e-12)


def read_init_audio(source: np.ndarray | str | Path, sample_rate: int, seconds: float) -> np.ndarray:
    """The first `seconds` of an audio file (only that section is read) or array, zero-padded to length."""
    need = round(seconds * sample_rate)
    if isinstance(source, (str, Path)):
        audio = load_audio(source, sample_rate, max_seconds=seconds)
    else:
        audio = np.asarray(source, np.float32)
    return np.pad(audio[:need], (0, max(0, need - len(audio))))


def beat_frames(controls, n_frames: int, frame_rate: float) -> np.ndarray | None:
    """Frames of the beats of a plan's grid over `n_frames` frames; None without a tempo."""
    if controls.bpm is None:
        return None
    period = 60.0 / controls.bpm * frame_rate
    first = (-controls.beat_offset) % 1.0 * period  # beat_offset beats into the composition at frame 0
    return np.arange(first, n_frames, period)


def check_seeds(seeds, n: int) -> list[int]:
    """One valid seed per text, or a ValueError."""
    seeds = list(seeds)
    if len(seeds) != n:
        raise ValueError(f"{len(seeds)} seeds for {n} texts")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s <= MAX_SEED:
            raise ValueError(f"every seed must be an integer between 0 and {MAX_SEED}, got {s!r}")
    return [int(s) for s in seeds]


class Text2Music:
    """A loaded model: `pipe(texts, settings) -> Generation`."""

    def __init__(
        self,
        model: torch.nn.Module,
        encoder: TextEncoder,
        mel: MelConfig,
        config: dict,
        vocoder: Vocoder | None = None,
        path: Path | None = None,
        upmixer: StereoUpmixer | None = None,
    ):
        self.model, self.encoder, self.mel, self.config = model, encoder, mel, config
        self.vocoder = vocoder or GriffinLimVocoder(mel)
        self.path = path
        self._upmixer = upmixer  # of stereo output; None: the bundled one, loaded when first asked for
        self.adapter: dict | None = None  # the merged LoRA adapter: path, strength, training summary
        self.drum_free_model: torch.nn.Module | None = None  # `model` with its learnt drum-free adapter merged (models.steering)
        self.window_seconds, self.context_seconds = WINDOW_SECONDS, CONTEXT_SECONDS  # of pieces (generate.pieces)
        self.precision = "float32"  # of the generator's weights (from_pretrained can quantise them)

    @classmethod
    def from_pretrained(cls, spec: ModelSpec | str | Path | None = None, device: str = "cpu", **options) -> "Text2Music":
        """Load what a `ModelSpec` names (`text2music.generate.spec`). `spec` may also be a model folder
        (config.json + model.safetensors; None = the bundled default) with the spec's other fields as
        keywords: `vocoder`, `adapter`, `adapter_strength`, `precision`."""
        if not isinstance(spec, ModelSpec):
            spec = ModelSpec(spec, **options)
        elif options:
            raise TypeError(f"give the options inside the ModelSpec, not beside it: {', '.join(options)}")
        spec.check()  # every part usable before anything heavy loads
        folder = spec.folder
        model, mel, config = load_pretrained(folder, device=device)
        precision = resolve_precision(spec.precision, config)
        encoder = TextEncoder.from_model_folder(folder, config["text"]).to(device)
        upmixer = StereoUpmixer.from_folder(folder) if (folder / "stereo.json").is_file() else None  # else the bundled one
        pipe = cls(model, encoder, mel, config, vocoder=load_vocoder(spec.vocoder, folder, mel), path=folder, upmixer=upmixer)
        steering = steering_adapter(config)
        sha = weights_sha256(folder) if spec.adapter is not None or steering is not None else None
        if spec.adapter is not None:
            info = merge_adapter(model, spec.adapter, spec.adapter_strength, sha, also_fits=adapter_fits(config))
            pipe.adapter = {"path": str(spec.adapter), "strength": float(spec.adapter_strength), "trained": info.get("trained", {})}
        if steering is not None:  # the drum-free guidance it learnt, in a LoRA of its own weights: a second set of weights
            steered = copy.deepcopy(model)
            merge_adapter(steered, folder / steering, 1.0, sha)
            pipe.drum_free_model = quantize(steered, precision)
        pipe.model, pipe.precision = quantize(model, precision), precision
        return pipe

    @property
    def kind(self) -> str:
        return self.config["kind"]

    @property
    def generative(self) -> bool:
        """Whether the model samples (seeds matter) or regresses one mel per text (the seed baselines)."""
        return hasattr(self.model, "velocity")

    @property
    def controllable(self) -> bool:
        """Whether the model was trained with musical controls (tempo, key, meter, drums, chords)."""
        return getattr(getattr(self.model, "cfg", None), "control_frames", 0) > 0

    @property
    def sample_rate(self) -> int:
        """The rate it writes unless a call asks for another (`settings.sample_rate`): the vocoder's
        own, but at most the model folder's "sample_rate" (44100 when unset: a 48-kHz vocoder writes
        CD rate). The generator itself works on the mel's frames (`self.mel.sample_rate`)."""
        return min(self.vocoder.sample_rate, int(self.config.get("sample_rate") or DEFAULT_FULL_BAND_RATE))

    def output_rate(self, settings: GenerationSettings) -> int:
        return settings.sample_rate or self.sample_rate

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def embed(self, texts: list[str] | str) -> TextEmbedding:
        with torch.no_grad():
            return self.encoder(check_texts(texts)).to(self.device)

    def __call__(
        self,
        texts: list[str] | str | TextEmbedding,
        settings: GenerationSettings | None = None,
        *,
        seeds: list[int] | None = None,
        init_audio: np.ndarray | str | Path | None = None,
        callback: ProgressFn | None = None,
        plans: list[ControlPlan] | None = None,
    ) -> Generation:
        """Texts (or their embedding) -> `Generation`.

        Every text gets `settings.seed` unless `seeds` gives one per text. `init_audio` (a file or
        samples at the rate it writes, `output_rate(settings)`): a variation of that audio, `settings.strength` from it.
        `callback(done, total)` after every model evaluation. The musical controls and length of
        each clip come from `plan(texts, settings, seeds)`, or from `plans` when given (an
        embedding has no text to read them from)."""
        settings = settings or GenerationSettings()
        strings = None if isinstance(texts, TextEmbedding) else check_texts(texts)
        rate = self.output_rate(settings)
        prompt = read_audio_prompt(init_audio, settings, rate) if init_audio is not None else None
        text = texts if strings is None else self.embed(strings)
        B = text.tokens.shape[0]
        seeds = [settings.seed] * B if seeds is None else check_seeds(seeds, B)
        if prompt is not None and prompt.mode != "variation":
            return self.around_prompt(text, strings or [""] * B, settings, seeds, prompt, callback, plans)
        plans = plans if plans is not None else self.plan(strings or [""] * B, settings, seeds)
        init = resample(prompt.audio, rate, self.mel.sample_rate) if prompt is not None else None
        mel = self.make_mel(text, settings, seeds, init, callback, plans)
        n_samples = round(plans[0].duration * rate) if self.generative else None
        audio = self.vocode(mel, n_samples, loop=settings.loop, rate=rate)
        if not (np.isfinite(audio).all() and torch.isfinite(mel).all()):
            raise ValueError(f"{self.path or 'the model'}: the generator made NaN or infinite values; its weights are probably damaged")
        audio, side = self.in_rooms(audio, plans, seeds, rate, settings, settings.loop)
        finished = normalize_loudness(audio) if settings.normalize else limit_peaks(audio)
        side = side * row_gains(audio, finished) if side is not None else None
        return Generation(self.with_channels(finished, settings, rate, side), mel, rate, plans)

    @property
    def upmixer(self) -> StereoUpmixer:
        """The stereo upmixer: the model folder's (stereo.json), else the one bundled with the package."""
        if self._upmixer is None:
            self._upmixer = StereoUpmixer.from_folder()
        return self._upmixer

    def with_channels(self, audio: np.ndarray, settings: GenerationSettings, rate: int, side: np.ndarray | None = None) -> np.ndarray:
        """Finished mono audio `(B, n)` as `settings.channels` asks: itself, or `(B, 2, n)` upmixed (a
        loop circularly, so it stays seamless), with the room's `side` `(B, n)` where it has one; the
        mono mix stays exactly the mono audio."""
        if settings.channels == 1:
            return audio
        sides = side if side is not None else [None] * len(audio)
        return np.stack([self.upmixer.upmix(row, rate, settings.loop, PEAK_LIMIT, more) for row, more in zip(audio, sides)])

    def plan(self, texts: list[str], settings: GenerationSettings, seeds: list[int], hints: PromptHints | None = None) -> list[ControlPlan]:
        """Each text's musical controls and length; the pre-flight check of `plan_clips`. `hints`:
        what an audio prompt was measured to be, used where neither a setting nor the text says."""
        plans = plan_clips(texts, settings, seeds, generative=self.generative, controllable=self.controllable)
        if hints is not None and self.controllable:
            plans = [self._with_hints(t, settings, s, hints) for t, s in zip(texts, seeds)]
        if self.reverb_send(settings):
            from text2music.production import style_in

            plans = [dataclasses.replace(p, room=style_in(t)) for p, t in zip(plans, texts)]
        return plans

    def reverb_send(self, settings: GenerationSettings) -> float:
        """The send to the room (`with_rooms`): the setting, else the model's own (`room_send`)."""
        return settings.reverb if settings.reverb is not None else room_send(self.config)

    def in_rooms(
        self, audio: np.ndarray, plans: list[ControlPlan], seeds: list[int], rate: int, settings: GenerationSettings, loop: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """`with_rooms` at the send `settings` ask for: (the mono audio, the room's side), or (the audio, None) dry."""
        send = self.reverb_send(settings)
        return with_rooms(audio, plans, seeds, rate, send, loop) if send > 0 else (audio, None)

    def _with_hints(self, text: str, settings: GenerationSettings, seed: int, hints: PromptHints) -> ControlPlan:
        """The plan of one text continuing (or inpainting) audio: its tempo, meter and key where
        nothing else states them, and its beat grid in phase with the audio's."""
        stated = parse_controls(text) if settings.text_controls else None
        fill = {
            name: value
            for name, value in (("bpm", hints.bpm), ("meter", hints.meter), ("key", hints.key))
            if value is not None and getattr(settings, name) is None and (stated is None or getattr(stated, name) is None)
        }
        plan = plan_controls(text, settings.replace(**fill), seed)
        measured = [f"{n} {v:g}" if isinstance(v, float) else f"{n} {v}" for n, v in fill.items()]
        notes = plan.notes + ((f"measured in the audio: {', '.join(measured)}",) if measured else ())
        return dataclasses.replace(plan, controls=dataclasses.replace(plan.controls, beat_offset=hints.beat_offset), notes=notes)

    def make_mel(
        self,
        text: TextEmbedding,
        settings: GenerationSettings,
        seeds: list[int] | None = None,
        init_audio: np.ndarray | str | Path | None = None,
        callback: ProgressFn | None = None,
        plans: list[ControlPlan] | None = None,
    ) -> torch.Tensor:
        """The generator's step alone: embedding -> mel `(B, n_mels, n_frames)` in the model's value scale.

        `plans` (from `plan`) give each clip's controls and length; None = `settings.duration` and
        no controls. A regressor (the seed baselines) makes one mel per text, at most its trained
        length, whatever the seed; it cannot vary init audio."""
        B = text.tokens.shape[0]
        duration = plans[0].duration if plans else settings.duration
        n_frames = self.loop_frames(duration) if settings.loop else self.mel.frames_for(duration)
        if not self.generative:
            if init_audio is not None:
                raise ValueError(f"a {self.kind} model regresses one clip per text and cannot make a variation of init audio")
            with torch.no_grad():
                mel = self.model(text, min(n_frames, self.model.cfg.n_frames))
            if callback is not None:
                callback(1, 1)
            return mel
        seeds = [settings.seed] * B if seeds is None else check_seeds(seeds, B)
        if B > 1 and self.precision == "int8":  # int8 activations share one scale per call: one clip per call keeps each its own
            return torch.cat([self._mel_of_row(text, i, settings, seeds, init_audio, callback, plans) for i in range(B)])
        if duration > MAX_WINDOW and init_audio is None:
            return self.piece_mel(text, settings, seeds, plans, n_frames, callback)
        init = None
        if init_audio is not None:
            audio = read_init_audio(init_audio, self.mel.sample_rate, (n_frames - 1) * self.mel.hop_length / self.mel.sample_rate)
            init = log_mel_spectrogram(audio, self.mel)[None].expand(B, -1, -1)
        closing = settings.loop and self.has_context
        total = settings.model_evaluations * (2 if closing else 1)
        controls = self.control_inputs(plans, n_frames) if plans and self.controllable else None
        model = self.generator(plans, settings)
        mel = sample_mel(
            model,
            text,
            n_frames,
            seeds,
            settings.steps,
            settings.guidance,
            settings.sampler,
            init=init,
            strength=settings.strength if init is not None else 1.0,
            callback=(lambda done: callback(min(done, total), total)) if callback else None,
            controls=controls,
            loop=settings.loop,
            shift=settings.shift,
        )
        if not closing:
            return mel
        done = settings.model_evaluations
        return self.close_loop(model, mel, text, settings, seeds, controls, (lambda n: callback(done + n, total)) if callback else None)

    def generator(self, plans: list[ControlPlan] | None, settings: GenerationSettings):
        """The model to sample for `plans`: steered away from drums (`models.steering.AwayFrom`) where
        a plan's drums are off, at `drum_free_guidance` (`drum_free_scale`: unset, the model's learnt
        scale, else 3) until flow time `drum_free_until`, else the model itself.

        A model that learnt the steering at scale s0 (`learnt_steering`) gives it in one pass; for
        another setting s it is steered by the rest, (s - s0) / (1 + s0): its v - v_away is already
        (1 + s0) times the steered bins' original one, so the sum is s (0: steered back). One that
        learnt it in an adapter (`drum_free_model`) runs that where the drums are off, unless s is 0."""
        learnt, band = learnt_steering(self.config)
        target = drum_free_scale(settings.drum_free_guidance, learnt)
        model = self.model
        if self.drum_free_model is not None:
            if target == 0:
                return self.model
            model = DrumFreeSwitch(self.model, self.drum_free_model)
        rest = (target - learnt) / (1 + learnt)
        if not (plans and self.controllable and abs(rest) > 1e-9 and any(p.away for p in plans)):
            return model
        text = self.embed([p.away or "drums" for p in plans])
        with_drums = [dataclasses.replace(p.controls, drums=True) for p in plans]
        globals_ = torch.from_numpy(np.stack([global_controls(c) for c in with_drums])).to(self.device)
        scale = torch.tensor([rest if p.away else 0.0 for p in plans], device=self.device)
        bins = steered_bins(self.mel, band or UNSTEERED_HZ).to(self.device)
        return AwayFrom(model, text, globals_, scale, bins, until=settings.drum_free_until, part=settings.drum_free_part)

    @property
    def has_context(self) -> bool:
        """Whether the generator was trained to read known frames (continuation, inpainting, seams)."""
        return bool(getattr(self.model.cfg, "context", False))

    def close_loop(
        self, model, mel: torch.Tensor, text: TextEmbedding, settings: GenerationSettings, seeds, controls, callback=None
    ) -> torch.Tensor:
        """A loop's wrap made again inside a window by `model` (`generator`): the loop rolled by half its
        length, so the wrap lies in the middle, LOOP_SEAM_SECONDS either side of it inpainted with the
        rest known, rolled back."""
        T, patch = mel.shape[-1], self.model.cfg.patch
        half = T // 2 // patch * patch
        rate = self.mel.sample_rate / self.mel.hop_length
        side = max(patch, min(half - patch, round(LOOP_SEAM_SECONDS * rate / patch) * patch))
        known = torch.ones(mel.shape[0], T, dtype=torch.bool, device=mel.device)
        known[:, half - side : half + side] = False
        rolled = None if controls is None else Controls(controls.frames.roll(half, -1), controls.globals)
        noise = seeded_noise([s + WINDOW_SEED_STRIDE for s in seeds], tuple(mel.shape[1:]), mel.device)
        made = sample_mel(
            model,
            text,
            T,
            seeds,
            settings.steps,
            settings.guidance,
            settings.sampler,
            callback=callback,
            controls=rolled,
            shift=settings.shift,
            context=Context(mel.roll(half, -1), known),
            noise=noise,
        )
        return made.roll(-half, -1)

    def piece_mel(
        self,
        text: TextEmbedding,
        settings: GenerationSettings,
        seeds: list[int] | None,
        plans: list[ControlPlan] | None,
        n_frames: int,
        callback: ProgressFn | None = None,
        known_mel: torch.Tensor | None = None,
        known: np.ndarray | None = None,
    ) -> torch.Tensor:
        """A piece of `n_frames` frames made window by window (`generate.pieces`): all new, or
        around `known_mel` `(n_mels, <= n_frames)` where `known` `(n_frames,)` is True."""
        B, patch = text.tokens.shape[0], self.model.cfg.patch
        seeds = [settings.seed] * B if seeds is None else check_seeds(seeds, B)
        padded = math.ceil(n_frames / patch) * patch
        mel = torch.zeros(B, self.mel.n_mels, padded, device=self.device)
        mask = np.zeros(padded, dtype=bool)
        if known_mel is not None:
            mel[..., : known_mel.shape[-1]] = known_mel.to(self.device)
            mask[:n_frames] = known
        controls = self.control_inputs(plans, padded) if plans and self.controllable else None

        def controls_of(start: int, end: int) -> Controls | None:
            return None if controls is None else Controls(controls.frames[..., start:end], controls.globals)

        rate = self.mel.sample_rate / self.mel.hop_length
        layout = WindowLayout.of_seconds(self.window_seconds, self.context_seconds, rate, patch)
        total = settings.model_evaluations
        progress = (lambda done, windows: callback(done * total, windows * total)) if callback else None
        args = (settings.steps, settings.guidance, settings.sampler, settings.shift, progress)
        beats = beat_frames(plans[0].controls, padded, rate) if plans else None
        model = self.generator(plans, settings)
        return sample_piece(model, text, seeds, mel, mask, controls_of, layout, beats, *args)[..., :n_frames]

    def around_prompt(
        self,
        text: TextEmbedding,
        texts: list[str],
        settings: GenerationSettings,
        seeds: list[int],
        prompt: AudioPrompt,
        callback: ProgressFn | None = None,
        plans: list[ControlPlan] | None = None,
    ) -> Generation:
        """A continuation (the prompt, then new music up to `settings.duration`) or an inpainting
        (the prompt with `settings.span` made again): the prompt's samples are kept exactly, but for
        a short crossfade inside the new audio (a continuation's lies in the prompt's last samples)."""
        if not self.generative:
            raise ValueError(f"a {self.kind} model regresses one clip per text and cannot {prompt.mode} audio")
        settings = prompt_settings(settings, prompt)
        plans = plans if plans is not None else self.plan_prompt(texts, settings, seeds, prompt)
        rate = prompt.sample_rate  # the prompt's samples are kept as they are: it was read at the output rate
        n_samples = round(plans[0].duration * rate) if prompt.mode == "continue" else len(prompt.audio)
        n_frames = round(n_samples * self.mel.sample_rate / rate) // self.mel.hop_length + 1
        known_mel = torch.from_numpy(self.mel_of(resample(prompt.audio, rate, self.mel.sample_rate)))[..., :n_frames]
        known, keep = self.prompt_masks(prompt, n_frames, n_samples)
        mel = self.piece_mel(text, settings, seeds, plans, n_frames, callback, known_mel, known)
        made, side = self.in_rooms(self.vocode(mel, n_samples, rate=rate), plans, seeds, rate, settings)
        limited = limit_peaks(made)
        kept = np.pad(prompt.audio, (0, max(0, n_samples - len(prompt.audio))))[:n_samples]
        fade = round(CROSSFADE_SECONDS * rate)
        audio = np.stack([splice(kept, row, keep, fade) for row in limited])
        if side is not None:  # the room's side where the audio is new, faded in as the new audio is
            side = np.stack([splice(np.zeros_like(kept), row, keep, fade) for row in side * row_gains(made, limited)])
        if not (np.isfinite(audio).all() and torch.isfinite(mel).all()):
            raise ValueError(f"{self.path or 'the model'}: the generator made NaN or infinite values; its weights are probably damaged")
        return Generation(self.with_channels(audio, settings, rate, side), mel, rate, plans)

    def plan_prompt(self, texts: list[str], settings: GenerationSettings, seeds: list[int], prompt: AudioPrompt) -> list[ControlPlan]:
        """The plans of a continuation or inpainting: the prompt's tempo, meter, beat phase and key
        measured (`measure_audio_prompt`) and used where neither a setting nor the text says."""
        hints = measure_audio_prompt(prompt) if self.controllable else None
        return self.plan(texts, prompt_settings(settings, prompt), seeds, hints)

    def prompt_masks(self, prompt: AudioPrompt, n_frames: int, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """(known frames `(n_frames,)`, kept samples `(n_samples,)` at the prompt's rate) of a
        continuation or inpainting."""
        sr = prompt.sample_rate
        centre = np.arange(n_frames) * self.mel.hop_length / self.mel.sample_rate  # seconds
        reach = self.mel.n_fft / 2 / self.mel.sample_rate  # a frame hears this far either side of its centre
        samples = np.arange(n_samples)
        if prompt.mode == "continue":
            end = len(prompt.audio)
            return centre + reach <= end / sr, samples < end - round(CROSSFADE_SECONDS * sr)
        start, end = prompt.span
        return (centre + reach <= start) | (centre - reach >= end), (samples < round(start * sr)) | (samples >= round(end * sr))

    def _mel_of_row(self, text: TextEmbedding, i: int, settings, seeds, init_audio, callback, plans) -> torch.Tensor:
        """Clip `i` of a batch made on its own, its progress reported as part of the batch's."""
        B, total = text.tokens.shape[0], settings.model_evaluations
        row_callback = (lambda done, _: callback(i * total + done, B * total)) if callback else None
        return self.make_mel(text.row(i), settings, [seeds[i]], init_audio, row_callback, [plans[i]] if plans else None)

    def loop_frames(self, duration: float) -> int:
        """Frames of a loop of `duration` seconds: the nearest whole number of tokens (the loop's
        audio is then resampled to the exact length, a change of rate below 1/n_frames)."""
        patch = getattr(self.model.cfg, "patch", 1)
        return max(patch, round(duration * self.mel.sample_rate / self.mel.hop_length / patch) * patch)

    def control_inputs(self, plans: list[ControlPlan], n_frames: int) -> Controls:
        """The model's control inputs for `plans` over `n_frames` frames (padded to whole tokens)."""
        patch = self.model.cfg.patch
        padded = math.ceil(n_frames / patch) * patch
        rate = self.mel.sample_rate / self.mel.hop_length
        frames = np.stack([frame_controls(p.controls, padded, rate) for p in plans])
        globals_ = np.stack([global_controls(p.controls) for p in plans])
        return Controls(torch.from_numpy(frames), torch.from_numpy(globals_)).to(self.device)

    def vocode(self, mel: torch.Tensor, n_samples: int | None = None, loop: bool = False, rate: int | None = None) -> np.ndarray:
        """mel `(B, n_mels, n_frames)` -> float32 audio `(B, n_samples)` at `rate` (default
        `sample_rate`; not level-adjusted).

        Row by row with a fixed phase seed, so a row's audio does not depend on the batch. A loop's
        mel is vocoded three times over and the middle period kept, resampled to `n_samples`: its
        end flows into its start."""
        rate = rate or self.sample_rate
        if loop:
            return np.stack([self.vocode_loop(m, n_samples) for m in mel])
        audio = np.stack([resample(self.vocode_row(m), self.vocoder.sample_rate, rate) for m in mel]).astype(np.float32)
        if n_samples is not None:
            audio = np.pad(audio[:, :n_samples], ((0, 0), (0, max(0, n_samples - audio.shape[1]))))
        return audio

    def vocode_row(self, mel: torch.Tensor) -> np.ndarray:
        """One mel `(n_mels, T)` -> audio `((T - 1) * hop,)`; longer than one window, in window-long
        chunks that overlap by VOCODE_OVERLAP frames, crossfaded over the middle half of each overlap
        (so the vocoder's memory stays that of one window whatever the length)."""
        T, hop = mel.shape[-1], self.vocoder_hop
        chunk = self.mel.frames_for(MAX_WINDOW)
        if T <= chunk:
            return self.vocoder(mel[None].float().cpu(), seed=0)[0].numpy()
        out = np.zeros((T - 1) * hop, np.float32)
        start = end = 0
        while end < T:
            end = min(T, start + chunk)
            part = self.vocoder(mel[None, :, start:end].float().cpu(), seed=0)[0].numpy()
            a = start * hop
            if start == 0:
                out[: len(part)] = part
            else:
                lo, hi = a + VOCODE_OVERLAP * hop // 4, a + 3 * VOCODE_OVERLAP * hop // 4
                w = 0.5 - 0.5 * np.cos(np.pi * (np.arange(hi - lo) + 0.5) / (hi - lo))
                out[lo:hi] = (1 - w) * out[lo:hi] + w * part[lo - a : hi - a]
                out[hi : a + len(part)] = part[hi - a :]
            start = end - VOCODE_OVERLAP
        return out

    def vocode_loop(self, mel: torch.Tensor, n_samples: int) -> np.ndarray:
        """One loop's mel `(n_mels, T)` -> float32 audio `(n_samples,)` that repeats seamlessly."""
        import soxr

        T, hop = mel.shape[-1], self.vocoder_hop
        tiled = self.vocoder(mel.repeat(1, 3)[None].float().cpu(), seed=0, period=T)[0].numpy().astype(np.float64)
        tiled = np.pad(tiled, (0, max(0, 3 * T * hop - len(tiled))))[: 3 * T * hop]
        resampled = soxr.resample(tiled, T * hop, n_samples, quality="VHQ") if T * hop != n_samples else tiled
        return resampled[n_samples : 2 * n_samples].astype(np.float32)

    @property
    def vocoder_hop(self) -> int:
        """Samples of the vocoder's audio per mel frame."""
        return self.mel.hop_length * self.vocoder.sample_rate // self.mel.sample_rate

    def mel_of(self, audio: np.ndarray) -> np.ndarray:
        """The model's log-mel `(n_mels, n_frames)` of audio at the mel's sample rate."""
        return log_mel_spectrogram(np.asarray(audio, np.float32), self.mel).numpy()

    def generate(
        self,
        texts: list[str] | str,
        *,
        seed: int | list[int] = 0,
        init_audio: np.ndarray | str | Path | None = None,
        callback: ProgressFn | None = None,
        **settings,
    ) -> tuple[np.ndarray, int]:
        """Texts -> (waveforms float32 `(n_texts, n_samples)`, `(n_texts, 2, n_samples)` with channels=2,
        sample_rate); `settings` are GenerationSettings fields (duration, steps, guidance, sampler,
        strength, normalize, channels).
        `seed`: one for every text, or a list with one per text."""
        seeds = list(seed) if isinstance(seed, (list, tuple)) else None
        s = GenerationSettings(seed=0 if seeds is not None else seed, **settings)
        out = self(texts, s, seeds=seeds, init_audio=init_audio, callback=callback)
        return out.audio, out.sample_rate

    def interpolate(
        self, text_a: str, text_b: str, n: int = 5, settings: GenerationSettings | None = None, callback: ProgressFn | None = None
    ) -> Generation:
        """`n` clips whose text embedding moves from `text_a` to `text_b`, all from the same noise."""
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
        return self(text, settings, callback=callback)

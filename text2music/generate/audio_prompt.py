"""The user's audio as a prompt: checked before any model loads, and measured for the controls.

    prompt = read_audio_prompt("take1.wav", settings, sample_rate=16000)   # ValueError naming the file
    hints = measure_audio_prompt(prompt)       # tempo, meter, beat phase and key, where the audio tells

`settings.init_mode` says what the audio is for: a variation (its first `duration` seconds are
re-noised, `strength`), a continuation (the result starts with it and lasts `duration` seconds) or
an inpainting (`span` is made again; the result lasts as long as the audio).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text2music.generate.settings import MAX_DURATION, MAX_WINDOW, MIN_DURATION, GenerationSettings, SettingsError

MIN_PROMPT_SECONDS = 1.0  # a continuation needs at least this much audio to hear a tempo and key in
MIN_NEW_SECONDS = 1.0  # a continuation adds at least this much
SILENCE_RMS = 1e-4  # about -80 dBFS: below it, audio is silence
ANALYSED_SECONDS = 30.0  # tempo, beats and key are measured on (at most) the last 30 s of the prompt
PREFERRED_BPM = 115.0  # a prompt's tempo octave, where its half or double fits almost as well (`analysis.beats.fit_period`)


@dataclass(frozen=True)
class AudioPrompt:
    """Audio at the model's rate (mono float32) and what to do with it."""

    audio: np.ndarray
    sample_rate: int
    mode: str
    span: tuple[float, float] | None = None

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class PromptHints:
    """What the prompt's audio says: tempo, meter, beats into the composition at time 0, key."""

    bpm: float | None
    meter: int | None
    beat_offset: float
    key: str | None


def _name(source) -> str:
    return str(source) if isinstance(source, (str, Path)) else "the init audio"


def read_audio_prompt(source: np.ndarray | str | Path, settings: GenerationSettings, sample_rate: int) -> AudioPrompt:
    """The prompt, or a one-line ValueError naming the file: missing, not audio, silent, too short,
    too long for the asked duration, or a span outside it. A variation reads only what it uses."""
    from text2music.features.mel import load_audio

    mode = settings.init_mode
    max_seconds = settings.duration if mode == "variation" else None
    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise FileNotFoundError(f"init audio file not found: {source}")
        try:
            audio = load_audio(source, sample_rate, max_seconds=max_seconds)
        except ValueError:
            raise ValueError(f"{source} is not a readable audio file") from None
    else:
        audio = np.asarray(source, np.float32).reshape(-1)
    prompt = AudioPrompt(audio, sample_rate, mode, settings.span_seconds)
    check_audio_prompt(prompt, settings, _name(source))
    return prompt


def check_audio_prompt(prompt: AudioPrompt, settings: GenerationSettings, name: str) -> None:
    """SettingsError / ValueError for a prompt that cannot do what the settings ask."""
    if not len(prompt.audio) or not np.isfinite(prompt.audio).all():
        raise ValueError(f"{name} holds no audio samples" if not len(prompt.audio) else f"{name} holds NaN or infinite samples")
    rms = float(np.sqrt(np.mean(np.square(prompt.audio, dtype=np.float64))))
    if prompt.mode != "variation" and rms < SILENCE_RMS:
        raise ValueError(f"{name} is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS): nothing to {prompt.mode}")
    if prompt.mode == "variation" and settings.duration > MAX_WINDOW:
        raise SettingsError(f"a variation is made in one pass: duration must be at most {MAX_WINDOW:g} s", field="duration")
    if prompt.mode == "continue":
        if prompt.seconds < MIN_PROMPT_SECONDS:
            raise ValueError(f"{name} lasts {prompt.seconds:.2f} s; a continuation needs at least {MIN_PROMPT_SECONDS:g} s of audio")
        if settings.duration < prompt.seconds + MIN_NEW_SECONDS:
            raise SettingsError(
                f"{name} lasts {prompt.seconds:.2f} s; duration (the length of the result) must be at least "
                f"{prompt.seconds + MIN_NEW_SECONDS:.2f} s, and at most {MAX_DURATION:g} s",
                field="duration",
            )
    if prompt.mode == "inpaint":
        if prompt.seconds > MAX_DURATION:
            raise ValueError(f"{name} lasts {prompt.seconds:.1f} s; inpainting takes audio of at most {MAX_DURATION:g} s")
        start, end = prompt.span
        if end > prompt.seconds + 1e-6:
            raise SettingsError(f"span {settings.span} s ends after {name}, which lasts {prompt.seconds:.2f} s", field="span")


def prompt_settings(settings: GenerationSettings, prompt: AudioPrompt) -> GenerationSettings:
    """The settings of the result: an inpainting lasts as long as its audio."""
    if prompt.mode != "inpaint":
        return settings
    return settings.replace(duration=min(max(prompt.seconds, MIN_DURATION), MAX_DURATION))


def measure_audio_prompt(prompt: AudioPrompt) -> PromptHints:
    """Tempo, meter and beat phase (the beat tracker, `analysis.beats`, its octave leaning to
    PREFERRED_BPM) and key (`analysis.key`) of the last ANALYSED_SECONDS of the prompt, the phase
    counted from the prompt's first sample."""
    from text2music.analysis.beats import estimate_beats
    from text2music.analysis.key import estimate_key

    sr = prompt.sample_rate
    start = max(0, len(prompt.audio) - round(ANALYSED_SECONDS * sr))
    tail = prompt.audio[start:]
    grid = estimate_beats(tail, sr, prefer_bpm=PREFERRED_BPM)
    key = estimate_key(tail, sr)
    offset = (grid.beat_offset - start / sr * grid.bpm / 60.0) % grid.meter if grid.bpm else 0.0
    return PromptHints(grid.bpm or None, grid.meter or None, offset, f"{key.key} {key.mode}")

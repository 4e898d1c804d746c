"""What one generation call is asked to do: `GenerationSettings`, validated in one place.

    settings = GenerationSettings(duration=8.0, steps=16, guidance=3.0, seed=7)   # ValueError if out of range
    settings = settings.replace(steps=8)

The CLI, the HTTP API, the web page and `evaluate` all build one of these and hand it to the
pipeline; the limits below are the only place the accepted ranges are written.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass

from text2music.generate.sampling import EVALUATIONS_PER_STEP, SAMPLERS
from text2music.text.controls import key_name, parse_key, parse_meter

MIN_DURATION, MAX_DURATION = 1.0, 20.0  # seconds (trained on 2-10 s crops; rotary positions extend further)
MAX_STEPS = 100
MIN_GUIDANCE, MAX_GUIDANCE = 1.0, 15.0
MIN_SHIFT, MAX_SHIFT = 0.25, 10.0
MAX_SEED = 2**31 - 1
MAX_TEXT_CHARS = 2000  # BERT reads the first 128 tokens in any case
MAX_BATCH = 64
LOUDNESS_TARGET_DBFS = -16.0  # RMS of normalised output; peaks are then limited to PEAK_LIMIT
PEAK_LIMIT = 0.99
MIN_BPM, MAX_BPM = 40.0, 240.0  # the corpus has 60-180 BPM
MAX_BARS = 64
CONTROL_FIELDS = ("bpm", "key", "meter", "drums", "bars")  # settings that need a model trained with musical controls


@dataclass(frozen=True)
class GenerationSettings:
    """Settings of one generation call; every field is checked by `verify()` on construction.

    `shift` bends the sampler's time grid toward the noisy start (1 = uniform; see
    `text2music.generate.sampling.time_grid`): few steps need it. `seed` is the seed of each
    text's clip (the same text and seed give the same clip whatever else is in the batch).
    `strength` only matters with init audio: how far the result may move from it (0 keeps it, 1
    ignores it). `normalize` scales each clip to LOUDNESS_TARGET_DBFS RMS (peak-limited); off,
    only clips that would clip are scaled down.

    Musical controls (a model trained with them follows them; None = what the text states, else
    the model's choice): `bpm`, `key` ("F# minor"; stored canonically), `meter` (3 or 4 beats per
    bar; "3/4" is accepted), `drums`. `bars` sets the length in whole bars (then `duration` is
    ignored); `loop` makes the clip loop seamlessly. `text_controls` = read tempo, key, meter and
    drums stated in the text (a setting overrides the text, and the conflict is reported).
    """

    duration: float = 10.0
    steps: int = 8
    guidance: float = 3.0
    sampler: str = "euler"
    shift: float = 1.0
    seed: int = 0
    strength: float = 0.6
    normalize: bool = True
    bpm: float | None = None
    key: str | None = None
    meter: int | None = None
    drums: bool | None = None
    bars: int | None = None
    loop: bool = False
    text_controls: bool = True

    def __post_init__(self):
        if isinstance(self.key, str):
            object.__setattr__(self, "key", key_name(*parse_key(self.key)))
        if isinstance(self.meter, str):
            object.__setattr__(self, "meter", parse_meter(self.meter))
        verify_settings(self)

    def replace(self, **changes) -> "GenerationSettings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def controls_asked(self) -> list[str]:
        """The CONTROL_FIELDS this call sets (a model without controls must refuse them)."""
        return [name for name in CONTROL_FIELDS if getattr(self, name) is not None]

    @property
    def model_evaluations(self) -> int:
        """Network evaluations the sampler makes (a progress bar's total; guidance runs batched)."""
        return self.steps * EVALUATIONS_PER_STEP[self.sampler]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def verify_settings(s: GenerationSettings) -> None:
    """A ValueError naming the first field out of range or of the wrong type."""
    for name in ("duration", "guidance", "shift", "strength"):
        if not _is_number(getattr(s, name)):
            raise ValueError(f"{name} must be a number, got {getattr(s, name)!r}")
    for name in ("steps", "seed"):
        value = getattr(s, name)
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if not MIN_DURATION <= s.duration <= MAX_DURATION:
        raise ValueError(f"duration must be between {MIN_DURATION:g} and {MAX_DURATION:g} seconds, got {s.duration:g}")
    if not 1 <= s.steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, got {s.steps}")
    if not MIN_GUIDANCE <= s.guidance <= MAX_GUIDANCE:
        raise ValueError(f"guidance must be between {MIN_GUIDANCE:g} and {MAX_GUIDANCE:g}, got {s.guidance:g}")
    if not MIN_SHIFT <= s.shift <= MAX_SHIFT:
        raise ValueError(f"shift must be between {MIN_SHIFT:g} and {MAX_SHIFT:g}, got {s.shift:g}")
    if s.sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {s.sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if not 0 <= s.seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and {MAX_SEED}, got {s.seed}")
    if not 0.0 < s.strength < 1.0:
        raise ValueError(f"strength must be between 0 and 1 (exclusive), got {s.strength:g}")
    for name in ("normalize", "loop", "text_controls"):
        if not isinstance(getattr(s, name), bool):
            raise ValueError(f"{name} must be true or false, got {getattr(s, name)!r}")
    _verify_controls(s)


def _verify_controls(s: GenerationSettings) -> None:
    if s.bpm is not None and (not _is_number(s.bpm) or not MIN_BPM <= s.bpm <= MAX_BPM):
        raise ValueError(f"bpm must be a number between {MIN_BPM:g} and {MAX_BPM:g}, got {s.bpm!r}")
    if s.key is not None and not isinstance(s.key, str):
        raise ValueError(f"key must be a name such as 'F# minor', got {s.key!r}")
    if s.meter is not None and s.meter not in (3, 4):
        raise ValueError(f"meter must be 3/4 or 4/4, got {s.meter!r}")
    if s.drums is not None and not isinstance(s.drums, bool):
        raise ValueError(f"drums must be true, false or unset, got {s.drums!r}")
    if s.bars is not None and (isinstance(s.bars, bool) or not isinstance(s.bars, int) or not 1 <= s.bars <= MAX_BARS):
        raise ValueError(f"bars must be an integer between 1 and {MAX_BARS}, got {s.bars!r}")


def visible(text: str) -> bool:
    """Whether a text has a character that is neither white space nor invisible (format, e.g. U+200B)."""
    return any(not (c.isspace() or unicodedata.category(c) in ("Cf", "Cc", "Zs", "Zl", "Zp")) for c in text)


def check_texts(texts: list[str] | str, max_batch: int | None = MAX_BATCH) -> list[str]:
    """The texts as a list, or a ValueError naming the one that is empty, invisible, too long or not
    valid UTF-8 (command-line bytes that are not UTF-8 arrive as lone surrogates)."""
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("no text given")
    if max_batch is not None and len(texts) > max_batch:
        raise ValueError(f"at most {max_batch} texts per call, got {len(texts)}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"text {i + 1} is not a string: {type(t).__name__}")
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"text {i + 1} is not valid UTF-8") from None
        if not visible(t):
            raise ValueError(f"text {i + 1} is empty (no visible characters)")
        if len(t) > MAX_TEXT_CHARS:
            raise ValueError(f"text {i + 1} is {len(t)} characters long; the limit is {MAX_TEXT_CHARS}")
    return texts

"""What one generation call is asked to do: `GenerationSettings`, described and validated in one place.

    settings = GenerationSettings(duration=8.0, steps=16, guidance=3.0, seed=7)   # ValueError if out of range
    settings = settings.replace(steps=8)

Each field carries its description (`Setting`: help text, limits, choices, group). The CLI flags
(`text2music.cli`), the HTTP request model and `/api/info` (`text2music.serve.app`), the web page's
limits (read from `/api/info`) and `evaluate`'s configuration are all built from it, so a new
setting is one field here plus the code that uses it.
"""

from __future__ import annotations

import dataclasses
import typing
import unicodedata
from dataclasses import dataclass, field

from text2music.generate.sampling import EVALUATIONS_PER_STEP, SAMPLERS
from text2music.models.folders import MAX_DRUM_FREE_GUIDANCE, MAX_REVERB, STEERED_PARTS
from text2music.text.controls import key_name, parse_key, parse_meter

MIN_DURATION, MAX_DURATION = 1.0, 300.0  # seconds; longer than MAX_WINDOW: made window by window (generate.pieces)
MAX_WINDOW = 20.0  # the longest clip made in one pass (trained on 2-10 s crops; rotary positions extend further); loops too
MAX_SPAN = 10.0  # the longest span inpainted (one window with context on both sides)
INIT_MODES = ("variation", "continue", "inpaint")
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
SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)
CHANNELS = (1, 2)  # mono, stereo (text2music.models.stereo)
GROUPS = ("length", "sampling", "output", "init", "controls")


class SettingsError(ValueError):
    """A ValueError about settings that names the field it blames (`field`, None when none alone)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Setting:
    """How one GenerationSettings field is shown and checked.

    `limits` (lowest, highest), inclusive unless `exclusive`; `unit` follows them in messages;
    `choices` the accepted values; `group` says which front ends offer it: every one
    offers "length", "sampling" and "output"; `evaluate` renders each prompt's own controls and no
    init audio, so it leaves out "controls" and "init"; the HTTP API has no init audio."""

    help: str
    group: str
    limits: tuple[float, float] | None = None
    exclusive: bool = False
    unit: str = ""
    choices: tuple | None = None
    text: bool = False  # also given as text that GenerationSettings reads ("3/4", "f#m"): front ends pass strings on

    def limits_text(self) -> str:
        """ "1 to 20 seconds", "0 to 2147483647"; empty without limits."""
        return f"{_fmt(self.limits[0])} to {_fmt(self.limits[1])}{self.unit}" if self.limits else ""


def setting(default, help: str, group: str, **describe):
    """A GenerationSettings field with its `Setting` description."""
    return field(default=default, metadata={"setting": Setting(help, group, **describe)})


@dataclass(frozen=True)
class SettingField:
    """A field of a settings class as the front ends need it: name, value type (float, int, bool or
    str), whether None (unset) is allowed, default and description."""

    name: str
    kind: type
    optional: bool
    default: object
    setting: Setting


def setting_fields(cls=None, groups: tuple[str, ...] = GROUPS) -> list[SettingField]:
    """The described fields of `cls` (default GenerationSettings) in `groups`, in declaration order."""
    cls = cls or GenerationSettings
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        described = f.metadata.get("setting")
        if described is None or described.group not in groups:
            continue
        args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
        found.append(SettingField(f.name, args[0] if args else hints[f.name], bool(args), f.default, described))
    return found


@dataclass(frozen=True)
class GenerationSettings:
    """Settings of one generation call; every field is checked by `verify_settings()` on construction.

    `seed` is the seed of each text's clip (the same text and seed give the same clip whatever
    else is in the batch). Musical controls (a model trained with them follows them; None = what
    the text states, else the model's choice): `bpm`, `key` ("F# minor"; stored canonically),
    `meter` (3 or 4 beats per bar; "3/4" is accepted), `drums`; a setting overrides the text, and
    the conflict is reported. The help texts below say the rest.
    """

    duration: float = setting(10.0, "clip length", "length", limits=(MIN_DURATION, MAX_DURATION), unit=" seconds")
    steps: int = setting(8, "sampler steps (more: slower, finer)", "sampling", limits=(1, MAX_STEPS))
    guidance: float = setting(3.0, "classifier-free guidance scale", "sampling", limits=(MIN_GUIDANCE, MAX_GUIDANCE))
    sampler: str = setting("euler", "ODE sampler (heun: two model evaluations per step)", "sampling", choices=tuple(SAMPLERS))
    shift: float = setting(1.0, "time-grid shift toward the noisy start (1: uniform)", "sampling", limits=(MIN_SHIFT, MAX_SHIFT))
    drum_free_guidance: float | None = setting(
        None,
        "where the drums are off (stated or set): how far each step is steered away from the same prompt asking for drums "
        "(0: not; unset: the scale the model learnt to give in its one pass, else 3; a scale it did not learn costs one "
        "more model pass per step before drum_free_until for those clips)",
        "sampling",
        limits=(0.0, MAX_DRUM_FREE_GUIDANCE),
    )
    drum_free_until: float = setting(
        1.0,
        "the flow time until which drum-free guidance steers (0 noise, 1 every step): the drums are decided in the "
        "first steps, and the steps after it run one pass (0.375 with guidance 4: 1.3x an unsteered clip's time, not 1.8x)",
        "sampling",
        limits=(0.0, 1.0),
    )
    drum_free_part: str = setting(
        "all",
        "what of drum-free guidance is applied: all of it, or only how each mel band changes over time (changes: "
        "the clip keeps its brightness, only the hits are steered away)",
        "sampling",
        choices=STEERED_PARTS,
    )
    seed: int = setting(
        0, "seed of each text's clip: the same text, seed and settings give the same clip", "sampling", limits=(0, MAX_SEED)
    )
    strength: float = setting(
        0.6, "with init audio: how much to change it, between 0 (keep) and 1 (ignore)", "init", limits=(0.0, 1.0), exclusive=True
    )
    init_mode: str = setting(
        "variation",
        "what to do with the init audio: a variation of it, continue it (the result starts with it and lasts duration), "
        "or inpaint a span of it",
        "init",
        choices=INIT_MODES,
    )
    span: str | None = setting(None, "with inpaint: the seconds of the init audio to make again, e.g. '4.0-7.5'", "init", text=True)
    normalize: bool = setting(
        True,
        f"scale each clip to {LOUDNESS_TARGET_DBFS:g} dBFS RMS, limited so that no peak passes {PEAK_LIMIT} (loud or peaky clips "
        "come out quieter); off: the generator's own level, soft or loud as the text asks",
        "output",
    )
    sample_rate: int | None = setting(
        None,
        "sample rate of the audio written, in Hz (unset: the model's own, 44100 with a full-band vocoder; above the vocoder's "
        "own rate the audio is resampled and has nothing new up there)",
        "output",
        choices=SAMPLE_RATES,
    )
    reverb: float | None = setting(
        None,
        "how much of the clip to send to the room of the genre its text names (0: none; 1: all of it, as the studio corpus "
        "sends a pad; unset: the model's own, its config.json's \"reverb\", 0 where it names none): a hall for classical "
        "and ambient, a small room for hip hop, a medium one when no genre is named, the delay of the styles that have one; "
        "drawn from the seed; a loop stays seamless; a continuation's prompt audio is kept dry",
        "output",
        limits=(0.0, MAX_REVERB),
    )
    channels: int = setting(
        1,
        "audio channels: 1 (mono) or 2 (stereo: a width learnt from real stereo music, added to the mono clip, whose mix "
        "(L + R) / 2 stays exactly the mono clip; a width, not a panning of the parts)",
        "output",
        choices=CHANNELS,
    )
    bpm: float | None = setting(None, "tempo in beats per minute", "controls", limits=(MIN_BPM, MAX_BPM))
    key: str | None = setting(None, "key and mode, e.g. 'F# minor', 'Bb', 'Am'", "controls", text=True)
    meter: int | None = setting(None, "beats per bar: 3/4 or 4/4", "controls", choices=(3, 4), text=True)
    drums: bool | None = setting(None, "drums on or off", "controls")
    bars: int | None = setting(None, "length in whole bars at the tempo; replaces duration", "controls", limits=(1, MAX_BARS))
    loop: bool = setting(False, "make the clip loop seamlessly (whole bars when the tempo is known)", "controls")
    text_controls: bool = setting(True, "follow the tempo, key, meter and drums the text states (a setting overrides the text)", "controls")

    def __post_init__(self):
        for name, read in (("key", lambda v: key_name(*parse_key(v))), ("meter", parse_meter), ("span", span_text)):
            if isinstance(getattr(self, name), str):
                try:
                    object.__setattr__(self, name, read(getattr(self, name)))
                except ValueError as e:
                    raise SettingsError(str(e), field=name) from None
        verify_settings(self)
        if self.loop and self.bars is None and self.duration > MAX_WINDOW:
            raise SettingsError(
                f"a loop is made in one pass: duration must be at most {MAX_WINDOW:g} seconds, got {self.duration:g}", field="duration"
            )
        if (self.span is None) == (self.init_mode == "inpaint"):
            raise SettingsError(
                "inpaint needs a span (e.g. 4.0-7.5)" if self.span is None else "span applies only to inpaint", field="span"
            )

    @property
    def span_seconds(self) -> tuple[float, float] | None:
        """(start, end) of the span to inpaint, in seconds of the init audio."""
        return parse_span(self.span) if self.span is not None else None

    def replace(self, **changes) -> "GenerationSettings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def controls_asked(self) -> list[str]:
        """The controls this call sets (a model trained without musical controls must refuse them)."""
        return [f.name for f in setting_fields(type(self), ("controls",)) if f.optional and getattr(self, f.name) is not None]

    @property
    def model_evaluations(self) -> int:
        """Network evaluations the sampler makes (a progress bar's total; guidance runs batched)."""
        return self.steps * EVALUATIONS_PER_STEP[self.sampler]


def parse_span(text) -> tuple[float, float]:
    """ "4.0-7.5" (or a pair of numbers) -> (4.0, 7.5); ValueError unless 0 <= start < end and the
    span lasts at most MAX_SPAN seconds."""
    if isinstance(text, str):
        parts = text.replace(" ", "").split("-")
        try:
            start, end = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"span must be START-END in seconds, e.g. 4.0-7.5; got {text!r}") from None
    elif isinstance(text, (list, tuple)) and len(text) == 2 and all(_is_number(v) for v in text):
        start, end = (float(v) for v in text)
    else:
        raise ValueError(f"span must be START-END in seconds, e.g. 4.0-7.5; got {text!r}")
    if not 0 <= start < end:
        raise ValueError(f"span must start at 0 s or later and end after it starts, got {start:g}-{end:g}")
    if end - start > MAX_SPAN:
        raise ValueError(f"span {start:g}-{end:g} lasts {end - start:g} s; at most {MAX_SPAN:g} s can be inpainted at once")
    return start, end


def span_text(value) -> str:
    """The canonical text of a span: "4-7.5"."""
    start, end = parse_span(value)
    return f"{start:g}-{end:g}"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(x) -> str:
    return format(x, "g") if isinstance(x, float) else str(x)


def verify_settings(s) -> None:
    """A SettingsError naming the first field of the wrong type or out of range (from each field's `Setting`)."""
    for f in setting_fields(type(s)):
        value = getattr(s, f.name)
        problem = None if value is None and f.optional else _problem(f, value)
        if problem:
            raise SettingsError(f"{f.name} {problem}", field=f.name)


def _between(d: Setting) -> str:
    return f" between {_fmt(d.limits[0])} and {_fmt(d.limits[1])}" if d.limits else ""


def _problem(f: SettingField, value) -> str | None:
    """What is wrong with one field's value, in words that follow its name; None when it is fine."""
    d = f.setting
    if f.kind is bool and not isinstance(value, bool):
        return f"must be true{', false or unset' if f.optional else ' or false'}, got {value!r}"
    if f.kind is float and not _is_number(value):
        return f"must be a number{_between(d) if f.optional else ''}, got {value!r}"
    if f.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be an integer{_between(d) if f.optional else ''}, got {value!r}"
    if f.kind is str and not isinstance(value, str):
        return f"must be a string ({d.help}), got {value!r}"
    if d.choices is not None and value not in d.choices:
        return f"{value!r} is unknown; choose one of {', '.join(map(str, d.choices))}"
    if d.limits is not None:
        lo, hi = d.limits
        if not (lo < value < hi if d.exclusive else lo <= value <= hi):
            a = {float: "a number ", int: "an integer "}.get(f.kind, "") if f.optional else ""
            return f"must be {a}between {_fmt(lo)} and {_fmt(hi)}{d.unit}{' (exclusive)' * d.exclusive}, got {_fmt(value)}"
    return None


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

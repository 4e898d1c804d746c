"""Production: what a mix engineer does to a clip's parts, per style, with pedalboard's effects.
The synthetic corpus mixes its stems with it (`data synth --production studio`), and generation
puts a finished clip in its style's room with it (`--reverb SEND`: `style_in`, `room`).

`production_plan(genre, rng)` draws one clip's settings from its style's ranges; `produce(stems,
plan, sample_rate)` mixes the parts with them, as released music is made:

- each part (role lead, accompaniment, bass, pad or drums): a first-order high-pass (not on bass
  and drums, which hold the low end and the kick), a gentle low-cut or presence shelf (a shelf a
  style sets to 0 dB for a role is left out), a compressor on the roles the style compresses, a
  chorus on the roles the style thickens, then its place in the stereo field (constant-power pan
  law: the lead near the centre, accompaniment and pad on opposite sides, bass centred, a stereo
  drum kit as given);
- a shared reverb bus fed by a send per role, and for some styles a delay timed in seconds, not
  in beats;
- the master: a glue compressor, a tilt and a low shelf, the gain that brings the integrated
  loudness (ITU-R BS.1770, `integrated_loudness`) to the plan's target, a soft clipper, and a
  brick-wall limiter whose ceiling is -1 dBFS (pedalboard's BrickwallLimiter: its Limiter adds
  make-up gain and clips at 0 dBFS).

Compressors and clipper are linked across the channels of a stereo signal, so they keep its image.

The styles are data: STYLES holds one dict per style (effect -> setting -> a number, or [low,
high] drawn uniformly per clip; "roles" lists the roles an effect applies to; the optional
effects chorus and delay are absent, or null, where a style does without them). SCHEMA says what
every setting may be; a user's JSON file overrides settings per style (`load_styles`). Everything
random is drawn in `production_plan` (the plan records the drawn values, `ProductionPlan.as_dict`),
so `produce` is a pure function of the stems and the plan: the same rng gives the same bytes.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pedalboard as pb

ROLES = ("lead", "accompaniment", "bass", "pad", "drums")
HIGHPASS_ROLES = ("lead", "accompaniment", "pad")
PAN_ROLES = ("lead", "accompaniment", "pad")

LIMITER_CEILING_DB = -1.0
SOFT_CLIP = 2 * 10 ** (LIMITER_CEILING_DB / 20)  # the tanh clipper's scale
TILT_HZ = 1000.0  # the master's tilt turns around here: a low shelf of -tilt_db (the loudness gain restores the level)
LOW_HZ = 100.0  # the master's low shelf
MAX_FILTER_HZ = 0.45  # filter frequencies stay below this fraction of the sample rate
LOUDNESS_TOLERANCE_LU = 0.5
LOUDNESS_PASSES = 4  # gain-then-limit passes at most: the limiter lowers the loudness of loud mixes
MAX_LOUDNESS_STEP_DB = 6.0
MIN_LOUDNESS_SLOPE = 0.1  # LU per dB of gain: below it, more gain only makes the limiter work harder
SILENCE_DB = -100.0
MIN_SAMPLES = 64

_DB = (-12.0, 12.0)
_UNIT = (0.0, 1.0)
_ANY_ROLES = "roles"

# What every setting may be: effect -> setting -> its allowed (low, high), or _ANY_ROLES for a list of roles.
# Levels of the compressors' thresholds are relative to the RMS level of their input (a part, the mix).
SCHEMA: dict[str, dict[str, tuple[float, float] | str]] = {
    "highpass": {r: (20.0, 1000.0) for r in HIGHPASS_ROLES},  # cutoff per role, Hz
    "low_shelf": {"hz": (40.0, 1000.0), **{r: _DB for r in ROLES}},  # gain per role, dB
    "presence": {"hz": (1000.0, 10000.0), **{r: _DB for r in ROLES}},  # high-shelf gain per role, dB
    "compressor": {
        "roles": _ANY_ROLES,
        "threshold_db": (-30.0, 20.0),
        "ratio": (1.0, 20.0),
        "attack_ms": (0.1, 200.0),
        "release_ms": (5.0, 2000.0),
    },
    "chorus": {"roles": _ANY_ROLES, "rate_hz": (0.01, 10.0), "depth": _UNIT, "delay_ms": (1.0, 30.0), "mix": _UNIT},
    "pan": {r: (-1.0, 1.0) for r in PAN_ROLES},  # a style gives |pan|; the plan holds the side drawn
    "reverb": {"room_size": _UNIT, "damping": _UNIT, "width": _UNIT, "wet": _UNIT},
    "send": {r: _UNIT for r in ROLES},  # gain into the reverb and delay bus
    "delay": {"seconds": (0.01, 2.0), "feedback": (0.0, 0.95), "mix": _UNIT},
    "master": {
        "glue_threshold_db": (-30.0, 20.0),
        "glue_ratio": (1.0, 20.0),
        "glue_attack_ms": (0.1, 200.0),
        "glue_release_ms": (5.0, 2000.0),
        "tilt_db": (-6.0, 6.0),  # > 0: brighter
        "low_db": (-6.0, 6.0),
        "lufs": (-40.0, -5.0),  # integrated loudness target
        "limiter_release_ms": (1.0, 1000.0),
    },
}
OPTIONAL_EFFECTS = ("chorus", "delay")

# The settings a style does not state: a moderate pop-like mix. One shelf per role: the lead, bass
# and drums a presence shelf (up, down for the bass's clank), accompaniment and pad a low cut.
_BASE: dict[str, dict] = {
    "highpass": {"lead": [80, 120], "accompaniment": [70, 110], "pad": [100, 180]},
    "low_shelf": {"hz": [150, 250], "lead": 0, "accompaniment": [-4, -1], "bass": 0, "pad": [-4, -1], "drums": 0},
    "presence": {"hz": [3000, 5000], "lead": [0, 3], "accompaniment": 0, "bass": [-3, 0], "pad": 0, "drums": [0, 2]},
    "compressor": {"roles": ["drums", "bass"], "threshold_db": [0, 6], "ratio": [2, 4], "attack_ms": [5, 20], "release_ms": [80, 200]},
    "pan": {"lead": [0, 0.1], "accompaniment": [0.35, 0.7], "pad": [0.4, 0.75]},
    "reverb": {"room_size": [0.45, 0.65], "damping": [0.4, 0.6], "width": [0.8, 1.0], "wet": [0.15, 0.25]},
    "send": {"lead": [0.4, 0.7], "accompaniment": [0.3, 0.6], "bass": [0, 0.05], "pad": [0.5, 0.9], "drums": [0.1, 0.3]},
    "master": {
        "glue_threshold_db": [0, 4],
        "glue_ratio": [1.5, 2.5],
        "glue_attack_ms": [10, 30],
        "glue_release_ms": [100, 300],
        "tilt_db": [0, 1.5],
        "low_db": [0, 1.5],
        "lufs": [-12, -10],
        "limiter_release_ms": [50, 150],
    },
}


def _style(**effects: dict) -> dict:
    """A style: _BASE with the given settings replaced (per setting; an optional effect as a whole)."""
    style = {effect: dict(settings) for effect, settings in _BASE.items()}
    for effect, settings in effects.items():
        style[effect] = {**style.get(effect, {}), **settings}
    return style


_CHORUS_PADS = {"rate_hz": [0.3, 1.0], "depth": [0.15, 0.35], "delay_ms": [6, 12], "mix": [0.2, 0.4]}

# One style per genre of compose.py. Reverb: dry for hip hop, a large hall for classical and
# ambient, a medium plate-like room for pop and jazz. Loudness: classical quietest, pop, rock,
# electronic and metal loudest.
STYLES: dict[str, dict] = {
    "classical": _style(
        highpass={"lead": [30, 60], "accompaniment": [30, 60], "pad": [40, 80]},
        low_shelf={"accompaniment": [-1, 0.5], "pad": [-2, 0]},
        presence={"lead": [0, 1], "bass": [-1, 0], "drums": [-1, 1]},
        compressor={"roles": []},
        pan={"lead": [0, 0.15], "accompaniment": [0.25, 0.55], "pad": [0.3, 0.6]},
        reverb={"room_size": [0.8, 0.9], "damping": [0.3, 0.5], "width": [0.9, 1.0], "wet": [0.25, 0.35]},
        send={"lead": [0.6, 0.9], "accompaniment": [0.6, 0.9], "bass": [0.4, 0.7], "pad": [0.7, 1.0], "drums": [0.4, 0.7]},
        master={"glue_ratio": [1.0, 1.3], "tilt_db": [-1, 0], "low_db": 0, "lufs": [-20, -18]},
    ),
    "ambient": _style(
        compressor={"roles": []},
        chorus={"roles": ["pad", "lead"], **_CHORUS_PADS, "rate_hz": [0.1, 0.6]},
        reverb={"room_size": [0.85, 0.95], "damping": [0.2, 0.5], "width": 1.0, "wet": [0.3, 0.45]},
        send={"lead": [0.6, 0.9], "accompaniment": [0.6, 0.9], "bass": [0.1, 0.3], "pad": [0.8, 1.0], "drums": [0.3, 0.5]},
        delay={"seconds": [0.3, 0.7], "feedback": [0.3, 0.55], "mix": [0.15, 0.3]},
        master={"glue_ratio": [1.2, 1.8], "tilt_db": [-1, 0.5], "lufs": [-19, -17]},
    ),
    "jazz": _style(
        highpass={"lead": [60, 100], "accompaniment": [50, 90]},
        compressor={"roles": ["bass"], "ratio": [1.5, 2.5]},
        presence={"lead": [0, 2]},
        reverb={"room_size": [0.4, 0.6], "damping": [0.5, 0.7], "wet": [0.12, 0.2]},
        master={"glue_ratio": [1.2, 2.0], "tilt_db": [-1.5, 0], "low_db": [0, 1], "lufs": [-17, -15]},
    ),
    "blues": _style(
        reverb={"room_size": [0.35, 0.55], "wet": [0.12, 0.2]},
        master={"tilt_db": [-1, 0.5], "lufs": [-14, -12]},
    ),
    "folk": _style(
        highpass={"lead": [60, 100], "accompaniment": [50, 90]},
        compressor={"roles": ["bass"], "ratio": [1.5, 2.5]},
        reverb={"room_size": [0.4, 0.6], "wet": [0.15, 0.22]},
        master={"glue_ratio": [1.2, 2.0], "tilt_db": [-0.5, 1], "low_db": [0, 1], "lufs": [-17, -15]},
    ),
    "country": _style(
        compressor={"roles": ["drums", "bass", "lead"]},
        reverb={"room_size": [0.35, 0.5], "wet": [0.1, 0.18]},
        master={"tilt_db": [0.5, 2], "lufs": [-12, -10]},
    ),
    "pop": _style(
        compressor={"roles": ["drums", "bass", "lead"]},
        chorus={"roles": ["pad"], **_CHORUS_PADS},
        reverb={"room_size": [0.5, 0.7], "damping": [0.3, 0.5], "wet": [0.15, 0.25]},
        master={"tilt_db": [0.5, 2], "lufs": [-10, -9]},
    ),
    "rock": _style(
        compressor={"roles": ["drums", "bass", "lead", "accompaniment"], "ratio": [3, 5]},
        presence={"accompaniment": [0, 2]},
        reverb={"room_size": [0.35, 0.55], "wet": [0.1, 0.18]},
        master={"tilt_db": [0.5, 1.5], "lufs": [-10, -9]},
    ),
    "metal": _style(
        compressor={"roles": ["drums", "bass", "lead", "accompaniment"], "threshold_db": [-2, 3], "ratio": [4, 6]},
        presence={"accompaniment": [0, 2], "drums": [1, 3]},
        reverb={"room_size": [0.3, 0.45], "damping": [0.5, 0.7], "wet": [0.08, 0.14]},
        master={"glue_ratio": [2, 3], "tilt_db": [1, 2], "low_db": [1, 2], "lufs": [-10, -9]},
    ),
    "electronic": _style(
        compressor={"roles": ["drums", "bass", "lead"], "ratio": [3, 6]},
        chorus={"roles": ["pad", "lead"], **_CHORUS_PADS},
        reverb={"room_size": [0.5, 0.75], "wet": [0.12, 0.22]},
        delay={"seconds": [0.2, 0.45], "feedback": [0.25, 0.45], "mix": [0.1, 0.2]},
        master={"tilt_db": [0.5, 2], "low_db": [1, 3], "lufs": [-10, -9]},
    ),
    "hip hop": _style(
        compressor={"roles": ["drums", "bass"], "ratio": [3, 5]},
        reverb={"room_size": [0.2, 0.35], "damping": [0.6, 0.8], "wet": [0.04, 0.1]},
        send={"lead": [0.2, 0.4], "accompaniment": [0.1, 0.3], "bass": 0, "pad": [0.3, 0.5], "drums": [0, 0.1]},
        master={"tilt_db": [-1, 0.5], "low_db": [2, 4], "lufs": [-10, -8]},
    ),
    "reggae": _style(
        reverb={"room_size": [0.4, 0.6], "wet": [0.1, 0.18]},
        delay={"seconds": [0.25, 0.5], "feedback": [0.3, 0.5], "mix": [0.08, 0.15]},
        master={"low_db": [1.5, 3], "lufs": [-12, -10]},
    ),
    "latin": _style(
        reverb={"room_size": [0.4, 0.6], "wet": [0.12, 0.2]},
        master={"tilt_db": [0, 1.5], "lufs": [-13, -11]},
    ),
}


# ---------------------------------------------------------------------------------------------
# Validation: one ValueError line naming the style and the setting


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _checked_value(where: str, name: str, allowed, value, drawn: bool):
    """One setting, checked: a tuple of roles, a number (`drawn`: a plan's value) or a (low, high) range."""
    if allowed == _ANY_ROLES:
        if not isinstance(value, (list, tuple)) or not all(isinstance(r, str) for r in value):
            raise ValueError(f"{where}: '{name}' must be a list of roles ({', '.join(ROLES)}), got {value!r}")
        unknown = [r for r in value if r not in ROLES]
        if unknown:
            raise ValueError(f"{where}: '{name}' has unknown role {unknown[0]!r}; roles: {', '.join(ROLES)}")
        return tuple(r for r in ROLES if r in value)
    lo, hi = allowed
    is_range = not drawn and isinstance(value, (list, tuple))
    values = list(value) if is_range else [value]
    if (is_range and len(values) != 2) or not all(_is_number(v) for v in values):
        shape = "a number" if drawn else "a number or [low, high]"
        raise ValueError(f"{where}: '{name}' must be {shape}, got {value!r}")
    if values[0] > values[-1]:
        raise ValueError(f"{where}: '{name}' range {list(values)} has low above high")
    for v in values:
        if not lo <= v <= hi:
            raise ValueError(f"{where}: '{name}' = {v!r} is outside [{lo:g}, {hi:g}]")
    return float(values[0]) if drawn else (float(values[0]), float(values[-1]))


def _checked(style: str, effects, drawn: bool) -> dict:
    """A style (`drawn` False: values are ranges) or a plan's settings (`drawn`: numbers), checked
    against SCHEMA, with every setting of every effect it uses."""
    where = f"production style {style!r}"
    if not isinstance(effects, dict):
        raise ValueError(f"{where}: must be a JSON object of effects, got {type(effects).__name__}")
    out = {}
    for effect, settings in effects.items():
        if effect not in SCHEMA:
            raise ValueError(f"{where}: unknown effect {effect!r}; effects: {', '.join(SCHEMA)}")
        if settings is None and effect in OPTIONAL_EFFECTS:
            continue
        if not isinstance(settings, dict):
            raise ValueError(f"{where}: effect {effect!r} must be a JSON object of settings, got {settings!r}")
        for key in settings:
            if key not in SCHEMA[effect]:
                raise ValueError(f"{where}: unknown effect setting '{effect}.{key}'; {effect} has {', '.join(SCHEMA[effect])}")
        missing = [key for key in SCHEMA[effect] if key not in settings]
        if missing:
            raise ValueError(f"{where}: missing effect setting '{effect}.{missing[0]}'")
        out[effect] = {
            key: _checked_value(where, f"{effect}.{key}", allowed, settings[key], drawn) for key, allowed in SCHEMA[effect].items()
        }
    missing = [effect for effect in SCHEMA if effect not in effects and effect not in OPTIONAL_EFFECTS]
    if missing:
        raise ValueError(f"{where}: missing effect {missing[0]!r}")
    return out


def _known_style(style, styles: Mapping) -> str:
    if not isinstance(style, str) or style not in styles:
        raise ValueError(f"production style {style!r} is unknown; styles: {', '.join(sorted(styles))}")
    return style


def load_styles(path: str | Path | None = None) -> dict[str, dict]:
    """The styles, checked: STYLES with the settings of the JSON file at `path` (if any) in place
    of theirs. The file maps style names to effects to settings, e.g. {"jazz": {"reverb": {"wet":
    [0.2, 0.3]}}}; an optional effect set to null is turned off."""
    overrides = {}
    if path is not None:
        try:
            overrides = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"production styles file {str(path)!r}: {e}") from None
        if not isinstance(overrides, dict):
            raise ValueError(f"production styles file {str(path)!r} must hold a JSON object of styles")
    styles = {name: {effect: dict(settings) for effect, settings in style.items()} for name, style in STYLES.items()}
    for name, effects in overrides.items():
        style = styles[_known_style(name, styles)]
        if not isinstance(effects, dict):
            raise ValueError(f"production style {name!r}: must be a JSON object of effects, got {type(effects).__name__}")
        for effect, settings in effects.items():
            merged = {**style.get(effect, {}), **settings} if isinstance(settings, dict) else settings
            style[effect] = merged
    return {name: _checked(name, style, drawn=False) for name, style in styles.items()}


# ---------------------------------------------------------------------------------------------
# The plan: one clip's drawn settings


def _frozen(settings: dict) -> Mapping:
    return MappingProxyType({effect: MappingProxyType(dict(values)) for effect, values in settings.items()})


@dataclass(frozen=True)
class ProductionPlan:
    """One clip's production: its style and every effect setting drawn for it (effect -> setting
    -> number, or a tuple of roles); an optional effect the clip does without is absent."""

    style: str
    settings: Mapping[str, Mapping[str, float | tuple[str, ...]]]

    @classmethod
    def from_dict(cls, d: dict) -> ProductionPlan:
        """The plan `as_dict` wrote (in a manifest), checked."""
        if not isinstance(d, dict):
            raise ValueError(f"a production plan must be a JSON object, got {type(d).__name__}")
        style = _known_style(d.get("style"), STYLES)
        return cls(style, _frozen(_checked(style, {k: v for k, v in d.items() if k != "style"}, drawn=True)))

    def as_dict(self) -> dict:
        out: dict = {"style": self.style}
        for effect, values in self.settings.items():
            out[effect] = {key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}
        return out


def production_plan(genre: str, rng: np.random.Generator, styles: Mapping[str, dict] | None = None) -> ProductionPlan:
    """Draw one clip's production for `genre` from its style's ranges (`styles` from `load_styles`;
    the built-in ones if None). The draws do not depend on the ranges: every setting of SCHEMA
    takes one uniform draw, used or not, so editing one range leaves the others' values alone."""
    if styles is None:
        style = _checked(_known_style(genre, STYLES), STYLES[genre], drawn=False)
    else:
        style = styles[_known_style(genre, styles)]
    settings = {}
    for effect, allowed in SCHEMA.items():
        draws = dict(zip(allowed, rng.random(len(allowed))))
        if effect not in style:
            continue
        values = {}
        for key, spec in style[effect].items():
            if allowed[key] == _ANY_ROLES:
                values[key] = spec
            else:
                lo, hi = spec
                values[key] = min(max(round(float(lo + draws[key] * (hi - lo)), 4), lo), hi)  # a plain float, as from JSON
        settings[effect] = values
    lead_side, comp_side = (-1.0 if u < 0.5 else 1.0 for u in rng.random(2))
    pan = settings["pan"]
    for role, side in (("lead", lead_side), ("accompaniment", comp_side), ("pad", -comp_side)):
        pan[role] = side * pan[role] + 0.0  # + 0.0: no -0.0 in the manifest
    return ProductionPlan(genre, _frozen(settings))


# ---------------------------------------------------------------------------------------------
# Loudness (ITU-R BS.1770-4: K-weighting, 400-ms blocks every 100 ms, absolute and relative gates)


def _k_weighting(sample_rate: int) -> np.ndarray:
    """The two K-weighting biquads (high shelf, then high-pass) for `sample_rate`, as second-order
    sections; their analogue parameters reproduce the standard's 48-kHz coefficients."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh, vb = 10 ** (gain_db / 20), 10 ** (gain_db / 20 * 0.4996667741545416)
    a0 = 1 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


def _frame_sums(channels: np.ndarray, frame: int) -> np.ndarray:
    """Energy of channels-first audio (c, n) per frame of `frame` samples, summed over channels
    (the samples after the last whole frame are left out)."""
    framed = channels[:, : channels.shape[-1] // frame * frame].reshape(len(channels), -1, frame)
    return np.einsum("cfs,cfs->f", framed, framed).astype(np.float64)


def _k_frame_sums(channels: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """K-weighted energy per 20-ms frame (a fifth of BS.1770's 100-ms step; the whole clip as one
    frame when shorter), and the frame's length in samples."""
    from scipy import signal  # here: half a second to import, and a clip put in a room needs no loudness

    frame = max(1, min(round(0.02 * sample_rate), channels.shape[-1]))
    return _frame_sums(signal.sosfilt(_k_weighting(sample_rate), channels, axis=-1), frame), frame


def _gated_loudness(frame_sums: np.ndarray, frame: int) -> float:
    """Integrated loudness (LUFS) from K-weighted energies per 20-ms frame: blocks of 400 ms every
    100 ms (one block of the whole clip when shorter), the -70 LUFS absolute gate, then the
    relative gate 10 LU below the loudness of the blocks kept; -inf when every block is gated."""
    if len(frame_sums) >= 20:
        blocks = np.convolve(frame_sums, np.ones(20), mode="valid")[::5] / (20 * frame)
    else:
        blocks = np.array([frame_sums.sum() / max(1, len(frame_sums) * frame)])
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(blocks)
    kept = blocks[levels > -70.0]
    if not len(kept):
        return -math.inf
    relative_gate = -0.691 + 10 * math.log10(kept.mean()) - 10.0
    kept = blocks[(levels > -70.0) & (levels > relative_gate)]
    return -0.691 + 10 * math.log10(kept.mean())


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770) of mono (n,) or multichannel (n, c) audio;
    -inf for silence."""
    audio = np.asarray(audio, dtype=np.float32)
    return _gated_loudness(*_k_frame_sums(audio[None, :] if audio.ndim == 1 else audio.T, sample_rate))


# ---------------------------------------------------------------------------------------------
# The mix


def _db(channels: np.ndarray) -> float:
    """RMS level in dBFS (SILENCE_DB for silence)."""
    rms = math.sqrt(float(np.vdot(channels, channels)) / channels.size) if channels.size else 0.0
    return 20 * math.log10(rms) if rms > 10 ** (SILENCE_DB / 20) else SILENCE_DB


def _run(effects: pb.Plugin, channels: np.ndarray, sample_rate: int) -> np.ndarray:
    """pedalboard effects over channels-first audio (c, n), the whole clip as one buffer (faster
    than the default 8192-sample buffers; a pedalboard's output is the same for any buffer size)."""
    return effects(channels, sample_rate, buffer_size=channels.shape[-1])


def _checked_stems(stems) -> int:
    """The stems' common length, after checking their roles, shapes and values."""
    if not isinstance(stems, (list, tuple)) or not all(isinstance(stem, tuple) and len(stem) == 2 for stem in stems):
        raise ValueError("produce: stems must be a list of (role, audio) pairs")
    if not stems:
        raise ValueError("produce: no stems to mix")
    n = None
    for i, (role, audio) in enumerate(stems):
        if role not in ROLES:
            raise ValueError(f"produce: stem {i} has unknown role {role!r}; roles: {', '.join(ROLES)}")
        shape = np.shape(audio)
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 2):
            raise ValueError(f"produce: stem {i} ({role}) must be mono (n,) or stereo (n, 2), got shape {shape}")
        n = shape[0] if n is None else n
        if shape[0] != n:
            raise ValueError(f"produce: stem {i} ({role}) has {shape[0]} samples, stem 0 has {n}")
        if not np.isfinite(audio).all():
            raise ValueError(f"produce: stem {i} ({role}) holds NaN or infinite samples")
    if n < MIN_SAMPLES:
        raise ValueError(f"produce: the stems hold {n} samples; at least {MIN_SAMPLES} are needed")
    return n


def _compressed(compressor: pb.Compressor, channels: np.ndarray, sample_rate: int) -> np.ndarray:
    """`compressor` over channels-first audio, linked across channels. pedalboard's compressor
    works on each channel alone (a loud right channel would be turned down more than the left,
    pulling a panned part to the centre), so it runs on the louder channel's magnitude, and its
    gain, sample by sample (its output is its input times the gain), goes to every channel."""
    if len(channels) == 1:
        return _run(compressor, channels, sample_rate)
    detector = np.abs(channels).max(axis=0, keepdims=True)
    gain = _run(compressor, detector, sample_rate)
    np.divide(gain, detector, out=gain, where=detector > 0)  # where the detector is 0 so is every channel
    return channels * gain


def _part(role: str, part: np.ndarray, s: Mapping, sample_rate: int) -> np.ndarray:
    """One part (c, n) through its effects: high-pass, shelves, compressor (its threshold relative
    to the part's RMS level), chorus."""
    top = MAX_FILTER_HZ * sample_rate
    eq = []
    if role in s["highpass"]:
        eq.append(pb.HighpassFilter(min(s["highpass"][role], top)))
    if s["low_shelf"][role]:
        eq.append(pb.LowShelfFilter(min(s["low_shelf"]["hz"], top), s["low_shelf"][role]))
    if s["presence"][role]:
        eq.append(pb.HighShelfFilter(min(s["presence"]["hz"], top), s["presence"][role]))
    out = _run(pb.Pedalboard(eq), part, sample_rate) if eq else part
    comp = s["compressor"]
    if role in comp["roles"]:
        threshold = _db(part) + comp["threshold_db"]
        out = _compressed(pb.Compressor(threshold, comp["ratio"], comp["attack_ms"], comp["release_ms"]), out, sample_rate)
    chorus = s.get("chorus")
    if chorus and role in chorus["roles"]:
        out = _run(pb.Chorus(chorus["rate_hz"], chorus["depth"], chorus["delay_ms"], 0.0, chorus["mix"]), out, sample_rate)
    return out


def _pan_gains(channels: int, pan: float) -> tuple[float, float]:
    """Left and right gains of a part at `pan` (-1 left .. 1 right): a mono part by the
    constant-power pan law (-3 dB each side at the centre), a stereo one by balance (the far side
    turned down)."""
    if channels == 1:
        angle = (pan + 1) * math.pi / 4
        return math.cos(angle), math.sin(angle)
    return min(1.0, 1.0 - pan), min(1.0, 1.0 + pan)


def _bus(send: np.ndarray, s: Mapping, sample_rate: int) -> np.ndarray:
    """The shared reverb (and delay) returns for the send bus (2, n)."""
    r = s["reverb"]
    out = np.zeros_like(send)
    if r["wet"] > 0:
        reverb = pb.Reverb(room_size=r["room_size"], damping=r["damping"], wet_level=r["wet"], dry_level=0.0, width=r["width"])
        out += _run(reverb, send, sample_rate)
    if "delay" in s and s["delay"]["mix"] > 0:
        d = s["delay"]
        out += d["mix"] * _run(pb.Delay(d["seconds"], d["feedback"], 1.0), send, sample_rate)
    return out


class _SoftClipper:
    """A tanh soft clipper that rounds the peaks a loud master's limiter would otherwise pump on
    (within 1% of linear below -10 dBFS), as mastering engineers clip into their limiter; linked:
    both channels take the gain of the louder one, so the stereo image stays. It holds its input,
    whose louder channel's magnitude every gain tried shares."""

    def __init__(self, x: np.ndarray):
        self.x = x
        self.peak = np.abs(x).max(axis=0)

    def __call__(self, gain: float) -> np.ndarray:
        """The input times `gain`, soft-clipped: times gain * tanh(u) / u, u = gain * peak / SOFT_CLIP."""
        u = self.peak * np.float32(gain / SOFT_CLIP)
        squeeze = np.divide(np.tanh(u), u, out=np.ones_like(u), where=u > 0)
        squeeze *= np.float32(gain)
        return self.x * squeeze


def _limited_to(pre: np.ndarray, lufs: float, limiter: pb.BrickwallLimiter, sample_rate: int) -> np.ndarray:
    """`pre` with the gain that brings it, soft-clipped and limited, to `lufs` (within
    LOUDNESS_TOLERANCE_LU, in at most LOUDNESS_PASSES passes). Clipper and limiter change the
    level of each 20-ms frame much more than its spectrum, so the K-weighted energy of a frame of
    the output is estimated as pre's scaled by the ratio of their plain energies: one K-weighting
    filter per clip, not one per pass (the estimate is within about 0.1 LU)."""
    k_sums, frame = _k_frame_sums(pre, sample_rate)
    loudness = _gated_loudness(k_sums, frame)
    if not math.isfinite(loudness):
        return _run(limiter, pre, sample_rate)
    pre_sums, clipper = _frame_sums(pre, frame), _SoftClipper(pre)
    gain_db, last, best = lufs - loudness, (0.0, loudness), None  # loudness(gain) starts as pre's; the limiter bends it down
    for _ in range(LOUDNESS_PASSES):
        out = _run(limiter, clipper(10 ** (gain_db / 20)), sample_rate)
        ratio = np.divide(_frame_sums(out, frame), pre_sums, out=np.zeros_like(pre_sums), where=pre_sums > 0)
        miss = lufs - _gated_loudness(k_sums * ratio, frame)
        if best is None or abs(miss) < abs(best[0]):
            best = (miss, out)
        slope = (lufs - miss - last[1]) / (gain_db - last[0]) if gain_db != last[0] else 1.0
        if abs(miss) <= LOUDNESS_TOLERANCE_LU or slope < MIN_LOUDNESS_SLOPE:
            break  # on target, or the limiter holds the loudness where it is: louder is out of reach
        last = (gain_db, lufs - miss)
        gain_db += min(MAX_LOUDNESS_STEP_DB, miss / slope)
    return best[1]


def _mastered(mix: np.ndarray, m: Mapping, sample_rate: int) -> np.ndarray:
    """Glue compressor, tilt and low shelf, then the gain to the target loudness and the limiter."""
    level = _db(mix)
    if level <= SILENCE_DB:
        return mix
    glue = pb.Compressor(level + m["glue_threshold_db"], m["glue_ratio"], m["glue_attack_ms"], m["glue_release_ms"])
    eq = pb.Pedalboard([pb.LowShelfFilter(TILT_HZ, -m["tilt_db"]), pb.LowShelfFilter(LOW_HZ, m["low_db"])])
    pre = _run(eq, _compressed(glue, mix, sample_rate), sample_rate)
    limiter = pb.BrickwallLimiter(ceiling_db=LIMITER_CEILING_DB, release_ms=m["limiter_release_ms"])
    return _limited_to(pre, m["lufs"], limiter, sample_rate)


def produce(stems: list[tuple[str, np.ndarray]], plan: ProductionPlan, sample_rate: int) -> np.ndarray:
    """Mix and master the parts of one clip: `stems` are (role, audio) with audio mono (n,) or
    stereo (n, 2), all of one length n; returns the mastered stereo mix, (n, 2) float32."""
    n = _checked_stems(stems)
    s = plan.settings
    mix = np.zeros((2, n), np.float32)
    send = np.zeros((2, n), np.float32)
    seen = Counter()
    for role, audio in stems:
        part = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).T.reshape(-1, n))
        if _db(part) <= SILENCE_DB:
            continue
        part = _part(role, part, s, sample_rate)
        pan = s["pan"].get(role, 0.0) * (-1) ** seen[role]  # a second part of a role goes to the other side
        seen[role] += 1
        for side, gain in enumerate(_pan_gains(len(part), pan)):
            placed = part[min(side, len(part) - 1)] * np.float32(gain)
            mix[side] += placed
            if s["send"][role]:
                send[side] += placed * np.float32(s["send"][role])
    mix += _bus(send, s, sample_rate)
    return np.ascontiguousarray(_mastered(mix, s["master"], sample_rate).T, dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# A finished mix in its style's room (generation's `reverb` setting)

ROOM_FALLBACK_STYLE = "pop"  # a medium room, for a text that names no genre
_STYLE_WORDS = re.compile(
    r"\b(" + "|".join(re.escape(s).replace(r"\ ", r"[\s-]+") for s in sorted(STYLES, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


def style_in(text: str) -> str:
    """The production style of the first genre a text names ("a classical jazz tune": classical),
    else ROOM_FALLBACK_STYLE."""
    found = _STYLE_WORDS.search(text or "")
    return re.sub(r"[\s-]+", " ", found.group(1).lower()) if found else ROOM_FALLBACK_STYLE


def room(audio: np.ndarray, style: str, seed: int, sample_rate: int, loop: bool = False) -> np.ndarray:
    """What the send bus of a clip of `style` (its reverb, and its delay where the style has one; the
    settings drawn by `production_plan` from `seed`) returns for a finished mono mix `(n,)` sent to it
    whole: stereo `(2, n)`, to be added to the mix (its mean to a mono mix, its difference as the
    room's side of a stereo one). `loop`: the tails of the end wrap round to the start (the bus runs
    over the clip twice and the second pass is kept), so a seamless loop stays seamless."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1 or len(x) < MIN_SAMPLES:
        raise ValueError(f"room: a mono clip of at least {MIN_SAMPLES} samples is needed, got shape {x.shape}")
    plan = production_plan(style, np.random.default_rng(seed))
    sent = np.concatenate([x, x]) if loop else x
    return np.ascontiguousarray(_bus(np.stack([sent, sent]), plan.settings, sample_rate)[:, -len(x) :])

"""Steering a flow model away from another conditioning of the same clips (negative guidance), as
drum-free guidance does: where a clip's drums are off, its velocity moves away from the velocity of
the same prompt asking for drums.

    v  ->  v + scale * bins * (v - v_away)    while the flow time t < until

With `part="changes"` each mel bin's steering has its mean over the clip's frames taken out: the clip
keeps its level per bin (its brightness) and only how it changes over time (the hits) is steered.

`bins` weighs the steering per mel bin: the band where the key is heard (`UNSTEERED_HZ`) is left
alone. `until` limits it to the noisy start, where the drums are decided (a guidance interval): the
later steps run one pass. The sampler uses `AwayFrom` around a model; guidance distillation uses it
around the teacher, so that a student learns the steered velocity and runs it in one pass.

A student may instead learn the steering in a LoRA adapter of its weights (`train.distill`, a model
folder's "drum_free_guidance.adapter"): `DrumFreeSwitch` runs the adapted weights on the rows whose
drums control is off and the model's own elsewhere, so a clip with drums is exactly the model's.
"""

from __future__ import annotations

import torch

from text2music.features.controls import CONTROL_GROUPS
from text2music.features.mel import MelConfig, mel_centres
from text2music.models.flow_transformer import Context, Controls
from text2music.models.folders import STEERED_PARTS
from text2music.text import TextEmbedding

UNSTEERED_HZ = (300.0, 2000.0)  # mel bins centred here are not steered away from drums: the key is heard there
DRUMS = dict((name, g) for name, _, g in CONTROL_GROUPS)["drums"]  # global channels: present, on


def steered_bins(mel: MelConfig, unsteered_hz: tuple[float, float] = UNSTEERED_HZ) -> torch.Tensor:
    """`(n_mels,)`: 1 for the mel bins centred outside [lo, hi) Hz, 0 inside (the drums the model
    leaks lie below, the kick, and above, the cymbals)."""
    lo, hi = unsteered_hz
    centres = torch.from_numpy(mel_centres(mel))
    return ((centres < lo) | (centres >= hi)).float()


def drums_off(globals_: torch.Tensor) -> torch.Tensor:
    """`(B,)` bool: the rows of global controls `(B, GLOBAL_CHANNELS)` whose drums control is given and off."""
    present, on = globals_[:, DRUMS.start], globals_[:, DRUMS.start + 1]
    return (present > 0.5) & (on < 0.5)


def with_drums(globals_: torch.Tensor) -> torch.Tensor:
    """A copy of global controls `(B, GLOBAL_CHANNELS)` with the drums control given and on."""
    out = globals_.clone()
    out[:, DRUMS] = 1.0
    return out


def conditioning_rows(rows, text: TextEmbedding, controls: Controls | None = None, context: Context | None = None):
    """(text, controls, context) of batch rows `rows` (indices, a slice or a bool mask); None stays None."""
    text = TextEmbedding(text.tokens[rows], text.mask[rows], text.pooled[rows])
    controls = None if controls is None else Controls(controls.frames[rows], controls.globals[rows])
    return text, controls, None if context is None else Context(context.mel[rows], context.known[rows])


def take_rows(rows, x, t, text: TextEmbedding, drop, controls=None, guidance=None, context=None):
    """The velocity inputs of batch rows `rows` (indices, a slice or a bool mask)."""
    text, controls, context = conditioning_rows(rows, text, controls, context)
    return x[rows], t[rows], text, drop[rows], controls, None if guidance is None else guidance[rows], context


class DrumFreeSwitch(torch.nn.Module):
    """`steered`'s velocity (the model with its learnt drum-free adapter merged) on the conditioned rows
    whose drums control is off (`drums_off`), `model`'s on the others: one pass per row either way."""

    def __init__(self, model, steered):
        super().__init__()
        self.model, self.steered, self.cfg = model, steered, model.cfg

    def velocity(self, x, t, text, drop, controls=None, guidance=None, context=None):
        inputs = (x, t, text, drop, controls, guidance, context)
        off = drums_off(controls.globals) & ~drop if controls is not None else torch.zeros_like(drop)
        if not off.any():
            return self.model.velocity(*inputs)
        if off.all():
            return self.steered.velocity(*inputs)
        v = torch.empty_like(x)
        v[off] = self.steered.velocity(*take_rows(off, *inputs))
        v[~off] = self.model.velocity(*take_rows(~off, *inputs))
        return v


class AwayFrom(torch.nn.Module):
    """A generator whose conditioned velocity is steered away from another conditioning of the same
    rows (negative guidance): v + scale * bins * (v - v_away), where v_away has text `text` (one row
    per clip) and the controls' frames with `globals_` `(B, control_global)` as their global controls,
    and `bins` `(n_mels,)` weighs the steering per mel bin (None: 1 everywhere), at flow times t < `until`
    only; `part` "changes" takes each row's and bin's mean over frames out of the steering (see the
    module's doc). Rows with scale 0, rows at t >= until and unconditioned passes (drop) are left alone
    and cost nothing. A negative scale steers toward."""

    def __init__(
        self,
        model,
        text: TextEmbedding,
        globals_: torch.Tensor | None,
        scale: torch.Tensor,
        bins: torch.Tensor | None = None,
        until: float = 1.0,
        part: str = "all",
    ):
        super().__init__()
        if part not in STEERED_PARTS:
            raise ValueError(f"part must be one of {', '.join(STEERED_PARTS)}, got {part!r}")
        self.model, self.text, self.globals_, self.scale, self.cfg = model, text, globals_, scale, model.cfg
        self.until, self.part = until, part
        self.bins = torch.ones(model.cfg.n_mels) if bins is None else bins

    def velocity(self, x, t, text, drop, controls=None, guidance=None, context=None):
        v = self.model.velocity(x, t, text, drop, controls, guidance=guidance, context=context)
        cond = (~drop).nonzero().squeeze(1)  # the conditioned rows, clip by clip (a guided batch puts them first)
        if len(cond) != len(self.scale):
            raise ValueError(f"{len(cond)} conditioned rows for {len(self.scale)} clips to steer")
        rows = ((self.scale != 0) & (t[cond] < self.until)).nonzero().squeeze(1)
        if not len(rows):
            return v
        at = cond[rows]
        x_at, t_at, _, drop_at, c, g, k = take_rows(at, x, t, text, drop, controls, guidance, context)
        away_text = TextEmbedding(self.text.tokens[rows], self.text.mask[rows], self.text.pooled[rows])
        if c is not None and self.globals_ is not None:
            c = Controls(c.frames, self.globals_[rows])
        v_away = self.model.velocity(x_at, t_at, away_text, drop_at, c, guidance=g, context=k)
        steer = self.scale[rows, None, None].to(v) * self.bins[:, None].to(v) * (v[at] - v_away)
        if self.part == "changes":
            steer = steer - steer.mean(dim=-1, keepdim=True)
        v = v.clone()
        v[at] = v[at] + steer
        return v

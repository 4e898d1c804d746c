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
        away_text = TextEmbedding(self.text.tokens[rows], self.text.mask[rows], self.text.pooled[rows])
        globals_ = None if controls is None else (controls.globals[at] if self.globals_ is None else self.globals_[rows])
        c = None if controls is None else Controls(controls.frames[at], globals_)
        k = None if context is None else Context(context.mel[at], context.known[at])
        g = None if guidance is None else guidance[at]
        v_away = self.model.velocity(x[at], t[at], away_text, drop[at], c, guidance=g, context=k)
        steer = self.scale[rows, None, None].to(v) * self.bins[:, None].to(v) * (v[at] - v_away)
        if self.part == "changes":
            steer = steer - steer.mean(dim=-1, keepdim=True)
        v = v.clone()
        v[at] = v[at] + steer
        return v

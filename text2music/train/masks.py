"""Random known-frame masks for training a flow model with context (`FlowTransformerConfig.context`).

Each clip of a batch draws one kind of mask, each the training form of a use of the model:

    none     nothing known: plain generation, so nothing is lost
    prefix   a known start: continuation, and each window of a long piece after the first
    suffix   a known end
    gap      known on both sides of a gap: inpainting a span
    ends     short known ends around a long unknown middle: a loop's seam, rolled to the middle

Known spans are whole tokens (multiples of the model's patch), and at least one token stays unknown.
"""

from __future__ import annotations

import torch

KINDS = ("none", "prefix", "suffix", "gap", "ends")
WEIGHTS = (0.3, 0.3, 0.1, 0.15, 0.15)


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def sample_known(batch: int, frames: int, gen: torch.Generator, multiple: int = 1) -> torch.Tensor:
    """`(batch, frames)` bool, True where a frame is given as context."""
    n = frames // multiple
    known = torch.zeros(batch, n, dtype=torch.bool)
    kinds = torch.multinomial(torch.tensor(WEIGHTS), batch, replacement=True, generator=gen).tolist()
    for row, kind in enumerate(KINDS[k] for k in kinds):
        if kind == "prefix":
            known[row, : round(n * _uniform(gen, 0.1, 0.6))] = True
        elif kind == "suffix":
            known[row, n - round(n * _uniform(gen, 0.1, 0.6)) :] = True
        elif kind == "gap":
            width = max(1, round(n * _uniform(gen, 0.1, 0.6)))
            start = int(torch.randint(0, n - width + 1, (), generator=gen))
            known[row] = True
            known[row, start : start + width] = False
        elif kind == "ends":
            known[row, : round(n * _uniform(gen, 0.05, 0.25))] = True
            known[row, n - round(n * _uniform(gen, 0.05, 0.25)) :] = True
        if known[row].all():
            known[row, int(torch.randint(0, n, (), generator=gen))] = False
    known = known.repeat_interleave(multiple, dim=1)
    return torch.cat([known, known.new_zeros(batch, frames - known.shape[1])], dim=1)

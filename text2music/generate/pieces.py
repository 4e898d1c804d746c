"""Music longer than one window, and music around known audio: pieces, continuation, inpainting.

A piece is a mel buffer of its whole length and a mask of the frames known so far: nothing for a
new piece, the user's audio for a continuation (a known start) or an inpainting (everything but a
span). Windows are made one after another, each starting `context` frames before the first
unknown frame and lasting at most `window` frames, so every window sees what came before it (and
any known frames after it) as context. The known frames stay exactly as they are
(`flow.keep_known`); a model trained with context (`FlowTransformerConfig.context`) also reads them.
The controls come from one plan of the whole piece, sliced per window: one beat grid and one chord
plan from the first frame to the last, so tempo, key and meter cannot drift.

Memory holds one window's activations at a time, and time grows linearly with the length.

    mel = sample_piece(model, text, seeds, known_mel, known, controls_of, layout, steps=8)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from text2music.generate.flow import sample_mel, seeded_noise
from text2music.models.flow_transformer import Context, Controls
from text2music.text import TextEmbedding

WINDOW_SECONDS = 10.0  # the model's native length (n_frames of the bundled model)
CONTEXT_SECONDS = 2.0  # what each window after the first knows of the one before
WINDOW_SEED_STRIDE = 1_000_003  # window k of a clip of seed s draws its noise from seed s + k * stride


@dataclass(frozen=True)
class WindowLayout:
    """Frames per window and known frames each window starts with (both whole tokens)."""

    window: int
    context: int

    def __post_init__(self):
        if not 0 <= self.context < self.window:
            raise ValueError(f"a window of {self.window} frames needs a context of 0 to {self.window - 1} frames, got {self.context}")

    @classmethod
    def of_seconds(cls, window: float, context: float, frame_rate: float, multiple: int) -> "WindowLayout":
        def whole(seconds: float) -> int:
            return max(1, round(seconds * frame_rate / multiple)) * multiple

        return cls(whole(window), whole(context) if context > 0 else 0)


def plan_windows(known: np.ndarray, layout: WindowLayout, multiple: int = 1, beats: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(start, end) frames of the windows that fill the unknown frames of `known` `(T,)`, in order.

    T must be whole tokens; each window starts `layout.context` frames before the first frame still
    unknown (at 0 at the latest), lasts at most `layout.window` frames and whole tokens. With
    `beats` (frames of the piece's beat grid), a window that does not reach the end ends between two
    beats (at most half a beat early): the next window's first new frame is then not a beat's
    onset, where the music changes anyway and a join would hide among the attacks."""
    known = np.array(known, dtype=bool)
    T = len(known)
    if T % multiple:
        raise ValueError(f"{T} frames is not a whole number of {multiple}-frame tokens")
    windows = []
    while not known.all():
        first = int(np.argmin(known))
        start = max(0, first - layout.context)
        end = min(T, start + layout.window)
        if beats is not None and end < T:
            end = _between_beats(end, beats, multiple, lowest=first + multiple)
        start = max(0, end - math.ceil((end - start) / multiple) * multiple)
        windows.append((start, end))
        known[start:end] = True
    return windows


def _between_beats(end: int, beats: np.ndarray, multiple: int, lowest: int) -> int:
    """The latest frame at most `end`, `multiple` frames apart from `end`, and not before `lowest`,
    that lies at least a quarter of a beat from every beat; `end` when none does."""
    if len(beats) < 2:
        return end
    quarter = float(np.median(np.diff(beats))) / 4
    for e in range(end, lowest - 1, -multiple):
        if np.min(np.abs(beats - e)) >= quarter:
            return e
        if end - e > 2 * quarter:
            break
    return end


def sample_piece(
    model,
    text: TextEmbedding,
    seeds: list[int],
    mel: torch.Tensor,
    known: np.ndarray,
    controls_of: Callable[[int, int], Controls | None],
    layout: WindowLayout,
    beats: np.ndarray | None = None,
    steps: int = 8,
    guidance: float = 3.0,
    sampler: str = "euler",
    shift: float = 1.0,
    callback: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Fill the unknown frames of `mel` `(B, n_mels, T)` (`known` `(T,)` says which frames hold
    given values), window by window; returns the filled mel. `controls_of(start, end)`: the
    controls of those frames (None: none). `beats`: frames of the beat grid (`plan_windows`).
    `callback(windows_done, windows)` after each window."""
    patch = model.cfg.patch
    windows = plan_windows(known, layout, patch, beats)
    mel, known = mel.clone(), torch.as_tensor(np.asarray(known, dtype=bool))
    B = mel.shape[0]
    for k, (start, end) in enumerate(windows):
        noise = seeded_noise([s + k * WINDOW_SEED_STRIDE for s in seeds], (mel.shape[1], end - start), mel.device)
        context = Context(mel[..., start:end], known[start:end].expand(B, -1).to(mel.device))
        made = sample_mel(
            model,
            text,
            end - start,
            seeds,
            steps,
            guidance,
            sampler,
            controls=controls_of(start, end),
            shift=shift,
            context=context,
            noise=noise,
        )
        mel[..., start:end] = torch.where(context.known[:, None], mel[..., start:end], made)
        known[start:end] = True
        if callback is not None:
            callback(k + 1, len(windows))
    return mel


def splice(kept: np.ndarray, made: np.ndarray, keep: np.ndarray, fade: int) -> np.ndarray:
    """Samples of `kept` where `keep` `(n,)` is True, of `made` elsewhere, with raised-cosine
    crossfades of `fade` samples laid inside the made regions, so every kept sample is exact.
    A made region that touches no kept sample needs no fade; one shorter than two fades gets
    shorter ones."""
    out = np.where(keep, kept, made).astype(np.float32)
    edges = np.flatnonzero(np.diff(keep.astype(np.int8)))
    for e in edges:
        entering = keep[e] and not keep[e + 1]  # kept -> made after sample e
        run = _run_length(keep, e + 1 if entering else e, forward=entering)
        n = min(fade, run // 2)
        if n < 1:
            continue
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)  # 0 -> 1
        idx = np.arange(e + 1, e + 1 + n) if entering else np.arange(e - n + 1, e + 1)
        w = ramp if entering else ramp[::-1]  # weight of the made audio
        out[idx] = (1 - w) * kept[idx] + w * made[idx]
    return out


def _run_length(keep: np.ndarray, i: int, forward: bool) -> int:
    """Length of the run of made (not kept) samples starting at `i` and going forward or back."""
    rest = keep[i:] if forward else keep[: i + 1][::-1]
    hits = np.flatnonzero(rest)
    return int(hits[0]) if len(hits) else len(rest)

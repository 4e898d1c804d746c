"""A performance of composed notes: how loosely each role plays, and articulations.

`STUDIO_FEELS` humanise timing and velocity per role (drums tight, bass a little looser, lead
and pads loosest) and set legato or staccato note lengths per genre; `articulate` adds what
the instruments do beyond their notes: a sustain pedal on piano parts (held through each chord,
lifted at the chord change; tinysoundfont has no CC64, so the pedal lengthens the notes as a
real one would) and expression (CC11) swells over each chord on bowed strings, choirs and pads.
Swing stays where the composer writes it. The beat grid and chords of the manifest are the
nominal ones: a performance moves notes, not the grid.
"""

from __future__ import annotations

import numpy as np

from text2music.data.synth.compose import Feel, Note, PartSpec, Song, no_overlaps, part_role, timeline
from text2music.data.synth.render import EXPRESSION, Control

# Gaussian timing sd (s) and velocity sd per role.
ROLE_SPREAD = {"drums": (0.003, 4.0), "bass": (0.008, 6.0), "accompaniment": (0.010, 6.0), "lead": (0.012, 8.0), "pad": (0.015, 6.0)}
LEGATO_GENRES = {"classical": 1.08, "ambient": 1.1, "folk": 1.03}
STACCATO_GENRES = {"reggae": 0.75, "latin": 0.85, "electronic": 0.8, "hip hop": 0.85, "funk": 0.8}

PIANOS = range(0, 8)  # GM acoustic and electric pianos, harpsichord, clavinet
SWELLING = (*range(40, 56), *range(88, 96))  # GM strings, ensembles, choirs, pads
UNPEDALLED_STYLES = ("stabs", "skank", "montuno", "bossa")
PEDAL_LIFT_S = 0.03  # the pedal comes up this long before the chord change
SWELL_STEP_S = 0.05


def studio_feels(genre: str) -> dict[str, Feel]:
    """The feel of every role in a studio performance of `genre`."""
    length = LEGATO_GENRES.get(genre, STACCATO_GENRES.get(genre, 1.0))
    return {role: Feel(t, v, 1.0 if role in ("drums", "pad") else length) for role, (t, v) in ROLE_SPREAD.items()}


def chord_changes(song: Song, duration: float) -> list[float]:
    """Seconds from the clip start at which a chord slot starts (or the clip ends)."""
    grid = timeline(song, duration)
    beat_sec = 60.0 / song.bpm
    starts = [(s[0] - grid["beat_offset"]) * beat_sec for s in grid["chord_slots"]]
    return [t for t in starts if 0 < t < duration] + [duration]


def sustain_pedal(notes: list[Note], changes: list[float]) -> list[Note]:
    """Each note held until the pedal lifts just before the next chord change (never shortened,
    never past a re-strike of its pitch)."""
    held = []
    for n in notes:
        lift = next((t for t in changes if t > n.start + 1e-6), changes[-1]) - PEDAL_LIFT_S
        held.append(Note(n.start, max(n.end, lift), n.pitch, n.velocity))
    return no_overlaps(held)


def expression_swells(channel: int, changes: list[float], rng: np.random.Generator) -> list[Control]:
    """CC11 rising from a soft start to a peak inside every chord and easing back before the next."""
    controls, start = [], 0.0
    for end in changes:
        low, peak = int(rng.integers(70, 90)), int(rng.integers(110, 128))
        apex = start + (end - start) * float(rng.uniform(0.4, 0.7))
        for t in np.arange(start, end, SWELL_STEP_S):
            x = t - start
            shape = x / (apex - start) if t < apex else 1.0 - 0.35 * (t - apex) / max(end - apex, 1e-6)
            controls.append(Control(float(t), channel, EXPRESSION, int(round(low + (peak - low) * min(1.0, shape)))))
        start = end
    return controls


def articulate(
    song: Song, parts: list[tuple[PartSpec, list[Note]]], duration: float, rng: np.random.Generator
) -> tuple[list[tuple[PartSpec, list[Note]]], list[Control]]:
    """Pedal the piano parts and swell the strings and pads -> (parts, controller changes)."""
    changes = chord_changes(song, duration)
    out, controls = [], []
    for part, notes in parts:
        if part.is_drums:
            out.append((part, notes))
            continue
        if part.program in PIANOS and part.style not in UNPEDALLED_STYLES:
            notes = sustain_pedal(notes, changes)
        if part.program in SWELLING and (part_role(part) == "pad" or part.role == "lead"):
            controls += expression_swells(part.channel, changes, rng)
        out.append((part, notes))
    return out, controls

"""What a prompt asks for, in terms the external judges can check.

A *concept* is an instrument or a genre that one of the musicnn auto-taggers has a tag for
(`JUDGE_TAGS`). For a prompt of the synthetic corpus the concepts come from the clip's exact
specification (the manifest: lead and accompaniment instruments, genre, drums), from which its
caption and aspect list were written. For a real MusicCaps prompt they come from its aspect
list, written by musicians, matched with the patterns below; an aspect such as "no drums" counts
as excluding, not naming, the concept.
"""

from __future__ import annotations

import re

# concept -> (judge model, tag in that model's vocabulary).
# A tag is kept when it tells the corpus's own clips apart: two were dropped, ROC-AUC on real audio
# MTT "strings" 0.57 and MSD "metal" 0.52; "piano" (0.61) is weak but kept (see EVALUATION.md).
# Those AUCs were measured on the test split (reports/real); re-check a tag, or choose a new one,
# on the valid split only (`text2music evaluate --model real --split valid`), never on test.
# Re-checked there (380 clips of the 4,000-clip corpus, TimGM6mb): piano 0.57, every other kept
# tag 0.68 (pop) to 1.00 (flute), mean 0.82.
JUDGE_TAGS: dict[str, tuple[str, str]] = {
    "piano": ("MTT_musicnn", "piano"),
    "guitar": ("MTT_musicnn", "guitar"),
    "violin": ("MTT_musicnn", "violin"),
    "cello": ("MTT_musicnn", "cello"),
    "flute": ("MTT_musicnn", "flute"),
    "harpsichord": ("MTT_musicnn", "harpsichord"),
    "harp": ("MTT_musicnn", "harp"),
    "sitar": ("MTT_musicnn", "sitar"),
    "synth": ("MTT_musicnn", "synth"),
    "choir": ("MTT_musicnn", "choir"),
    "drums": ("MTT_musicnn", "drums"),
    "classical": ("MTT_musicnn", "classical"),
    "rock": ("MSD_musicnn", "rock"),
    "pop": ("MSD_musicnn", "pop"),
    "electronic": ("MSD_musicnn", "electronic"),
    "ambient": ("MSD_musicnn", "ambient"),
    "country": ("MSD_musicnn", "country"),
    "jazz": ("MSD_musicnn", "jazz"),
    "blues": ("MSD_musicnn", "blues"),
    "folk": ("MSD_musicnn", "folk"),
    "hip hop": ("MSD_musicnn", "Hip-Hop"),
}
INSTRUMENT_CONCEPTS = ("piano", "guitar", "violin", "cello", "flute", "harpsichord", "harp", "sitar", "synth", "choir", "drums")
GENRE_CONCEPTS = tuple(c for c in JUDGE_TAGS if c not in INSTRUMENT_CONCEPTS)

# patterns on one lower-cased instrument name or aspect
PATTERNS: dict[str, str] = {
    "piano": r"(?<!thumb )(?<!toy )\bpiano\b|e-piano|rhodes|\bkeys\b",
    "guitar": r"guitar",
    "violin": r"violin|fiddle",
    "cello": r"\bcello",
    "flute": r"flute",
    "harpsichord": r"harpsichord",
    "harp": r"\bharp\b",
    "sitar": r"sitar",
    "synth": r"synth|square lead",
    "choir": r"choir|choral",
    "drums": r"(?<!steel )\bdrum|percussion|drum ?kit|\bbeats?\b",
    "classical": r"classical|baroque|orchestral",
    "rock": r"\brock\b(?! organ)",
    "pop": r"\bpop\b",
    "electronic": r"electronic|\bedm\b|techno|\bhouse\b|trance|electro\b|dubstep|synthwave",
    "ambient": r"ambient",
    "country": r"\bcountry\b",
    "jazz": r"\bjazz",
    "blues": r"\bblues",
    "folk": r"\bfolk\b",
    "hip hop": r"hip[- ]?hop|\brap\b|trap\b",
}
NEGATION = re.compile(r"^(no|without|lacks?|absence of|absent)\b|\bno\b")


def concepts_in(text: str) -> set[str]:
    """Concepts one instrument name, genre or aspect names (ignoring negation)."""
    text = text.lower()
    return {c for c, pattern in PATTERNS.items() if re.search(pattern, text)}


def concepts_from_spec(record: dict) -> tuple[set[str], set[str]]:
    """(named, excluded) for a synthetic clip: everything its specification holds is named
    (lead and accompaniment instruments, genre, drums); every other concept is excluded."""
    named: set[str] = set()
    for inst in record.get("instruments", []):
        if inst.get("role") != "bass":
            named |= concepts_in(inst["name"]) & set(INSTRUMENT_CONCEPTS)
    named |= concepts_in(record.get("genre", "")) & set(GENRE_CONCEPTS)
    if record.get("drums"):
        named.add("drums")
    return named, set(JUDGE_TAGS) - named


def concepts_from_aspects(aspects: list[str]) -> tuple[set[str], set[str]]:
    """(named, excluded) for a MusicCaps prompt: concepts its aspects name are named; concepts no
    aspect names, or only a negated one ("no drums"), are excluded."""
    named: set[str] = set()
    for aspect in aspects:
        found = concepts_in(aspect)
        if not NEGATION.search(aspect.lower()):
            named |= found & set(JUDGE_TAGS)
    return named, set(JUDGE_TAGS) - named

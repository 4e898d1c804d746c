"""Musical controls stated in a prompt: tempo (BPM), key, mode, meter and drums.

`parse_controls(text)` reads a free-text prompt and returns a `StatedControls` with the values
the text states, plus the exact phrase each value came from (`phrases`), so that a caller can
say, for example, 'the text says "at 92 BPM" but --bpm 100 was given'. The parser is
conservative: a wrong control is worse than a missed one, so it only reads phrases in a clear
musical context, and a field whose phrases disagree (e.g. "from 90 BPM to 120 BPM", "C major
... modulates to A minor", "no drums ... with drums") is left None.

Recognised (case-insensitive unless said otherwise):

Tempo (`bpm`, 30-300; decimals allowed)
    "92 BPM", "92bpm", "92-bpm", "92 b.p.m.", "92 beats per minute", "92 beats a minute",
    with optional "at", "around", "about", "roughly", "approximately", "~" before the number
    ("at around 92 BPM", "(92 BPM)"); "tempo of 92", "tempo: 92", "tempo is (about) 92",
    "BPM: 92", "BPM of 92". Ranges ("90-100 BPM", "90 to 100 BPM", "between 90 and 100 BPM")
    state no single tempo and are skipped, as are out-of-range numbers. Numbers with other
    units ("3 minutes", "4 bars", "120 seconds", "80s synth pop") are never tempi.

Key (`key`, canonical "F# minor" / "Bb major": tonic spelled as in `PITCH_CLASSES`)
    A tonic is a letter A-G with an optional accidental: "#", "b", "♯", "♭", " sharp", "-flat"
    (so "Gb", "G-flat", "G flat", "F#" and "F sharp" all read as F#). Contexts:
      "key of D", "in the key of Eb major", "Key: F# minor"    (no mode stated: the mode stated
                                                                 elsewhere, else major)
      "in A minor", "in F sharp minor", "in e minor"           ("in" + tonic + mode)
      "(F# minor)", "(A minor, 92 BPM)"                        (tonic + mode in parentheses)
      "A minor key", "the C major scale"                       (+ "key", "scale", "tonality")
      "E-flat major", "F# minor", "Bb major"                   (an accidental makes it a key)
    The letter's case matters, since "a" is also the article: a lower-case "a" is a tonic only
    after "key of" / "key:" and with a mode or accidental ("in the key of a minor"), and a bare
    "A" before an upper-case "MINOR"/"MAJOR" is read as the article ("IN A MINOR KEY"); before
    "key", "scale" or "tonality" a tonic is a capital letter (or has an accidental) and a bare
    capital "A" opening a sentence is read as the article ("A minor key ballad" states the mode
    only); a standalone key with an accidental needs a capital letter ("a flat major-key
    sound" is no key). Not keys: "a minor change", "a major hit", "A major label", "with a
    minor seventh", "in A minor chord shapes", "in a minor key" (this states the mode only).

Mode (`mode`, "major" | "minor")
    The mode of a stated key, or on its own: "minor key", "major-key", "in a minor key",
    "minor mode", "major tonality", "in minor." ("a major key change", "the major key to
    success" are not modes).

Meter (`meter`, "3/4" | "4/4")
    "3/4", "in 3/4", "3/4 time", "4/4", "common time" (4/4), "three-four time", "four-four
    time", "triple meter/metre/time" (3/4), "quadruple meter" (4/4), "three/four beats per bar",
    "in three" at the end of a clause, "waltz" / "waltzing" / "waltz-like" (3/4). Other time
    signatures ("6/8", "2/4", "12/8") are read but not supported, so the meter is left None;
    fractions such as "3/4 of the song" are not meters.

Drums (`drums`, bool)
    Off: "no drums", "no percussion", "without (any) drums", "with no drums", "no drum kit",
    "drumless", "drum-free", "percussion-free", "free of drums", "Percussion: none", "can't
    hear any drums", "there aren't any drums", "drums are absent", "no vocals or drums".
    On: any other mention of drums, drumming, a drummer, a drum kit or machine, percussion, a
    kick drum, snare, hi-hats, breakbeats or an "808 beat" ("piano with drums", "drums and
    bass"). A steel drum, tongue drum or hang drum is a melodic instrument, not drums. "No live
    drums" or "without heavy drums" (a negation with a qualifier) states neither. A text that
    says both leaves `drums` None ("no drums, just a kick drum").

`parse_key`, `key_name` and `parse_meter` read and write the values of command-line style
options ("--key 'F# minor'", "--meter 3/4").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from text2music.theory import key_name

METERS = ("3/4", "4/4")
MIN_BPM, MAX_BPM = 30.0, 300.0
_WINDOW = 40  # characters looked at before a tempo number

_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP, _FLAT = ("#", "♯", "sharp"), ("b", "♭", "flat")

# --- tempo ----------------------------------------------------------------------------------
_NUMBER = r"(?<![\w.,/-])(?P<num>\d{2,3}(?:\.\d+)?)"
_BPM_UNIT = r"\s*-?\s*(?:bpm\b|b\.p\.m\.?|beats?\s+(?:per|a|each)\s+minute\b|beats?/min(?:ute)?\b)"
_NOT_A_UNIT = (  # not part of a longer token, not the lower end of a range, no other unit
    r"(?![\w/%]|\.\d|\s*(?i:[-–—]|to\b|and\b|or\b)\s*\d"
    r"|\s*(?i:%|percent|x\b|times\b|secs?\b|seconds?\b|mins?\b|minutes?\b|bars?\b|measures?\b|beats\b|hz\b|khz\b|ms\b|db\b))"
)
_BPM_SUFFIX_RE = re.compile(rf"{_NUMBER}(?i:{_BPM_UNIT})")
# Searched for in a short window before the number (bounded work on long texts).
_APPROX_BEFORE_RE = re.compile(r"(?:(?<![\w.])(?:at|around|about|roughly|approximately|approx\.|near|some)\s+)*~?\s*$", re.IGNORECASE)
_BPM_PREFIX_RE = re.compile(
    rf"(?i:\b(?:tempo|bpm)(?:\s+(?:is|of|at|around|about|roughly|approximately|near|set\s+to))*\s*[:=~]?\s*~?\s*){_NUMBER}{_NOT_A_UNIT}"
)
_RANGE_BEFORE_RE = re.compile(r"(?<![\d/.])\d{2,3}\s*(?:[-–—]|to|and|or)\s*(?:around\s+|about\s+)?$", re.IGNORECASE)

# --- key and mode -----------------------------------------------------------------------------
_TONIC = r"(?P<letter>[A-Ga-g])(?P<acc>[#♯b♭](?![A-Za-z])|[ -](?i:sharp|flat)\b)?"
_MODE = r"(?P<mode>(?i:major|minor))\b"
_NOT_CHORD = (  # "in A minor chord shapes", "in A major way"
    r"(?![\s-]*(?i:chords?|triads?|7th|7|seventh|9th|ninth|6th|sixth|thirds?|seconds?|fifths?|intervals?|arpeggios?"
    r"|changes?|hits?|labels?|way|roles?|parts?|league|success)\b)"
)
_NOT_KEY_IDIOM = (  # "a major key change", "the major key to success"
    r"(?!\s*(?i:changes?|shifts?|modulations?|moments?|points?|factors?|roles?|players?|figures?|elements?|ingredients?|to|parts?)\b)"
)
_KEY_OF_RE = re.compile(rf"(?i:\bkey(?:\s+of|\s*[:=]))\s+{_TONIC}(?:\s+{_MODE})?(?![\w#♯♭]|-\w){_NOT_CHORD}")
_IN_KEY_RE = re.compile(rf"(?i:\bin)\s+{_TONIC}\s+{_MODE}{_NOT_CHORD}")
_KEY_WORD_RE = re.compile(rf"(?<![\w#♯♭]){_TONIC}\s+{_MODE}[\s-]+(?i:key|scale|tonality)\b{_NOT_KEY_IDIOM}")
_PAREN_KEY_RE = re.compile(rf"\(\s*{_TONIC}\s+{_MODE}\s*[),;]")
_ACCIDENTAL_KEY_RE = re.compile(rf"(?<![\w#♯♭])(?P<letter>[A-G])(?P<acc>[#♯b♭](?![A-Za-z])|[ -](?i:sharp|flat)\b)\s+{_MODE}{_NOT_CHORD}")
_KEY_CONTEXTS = (
    ("key of", _KEY_OF_RE),
    ("in", _IN_KEY_RE),
    ("key word", _KEY_WORD_RE),
    ("paren", _PAREN_KEY_RE),
    ("accidental", _ACCIDENTAL_KEY_RE),
)
_MODE_ONLY_RES = (
    re.compile(rf"\b{_MODE}[\s-]+(?i:key|mode|tonality)\b{_NOT_KEY_IDIOM}"),
    re.compile(rf"(?i:\bin)\s+{_MODE}(?=\s*(?:[.,;:!?)]|$))"),
)
_KEY_VALUE_RE = re.compile(
    r"^\s*(?P<letter>[A-Ga-g])(?P<acc>[#♯b♭]|[ -]?(?i:sharp|flat))?\s*(?P<mode>(?i:major|minor|maj|min)|m|M)?\s*(?i:key)?\s*$"
)

# --- meter ------------------------------------------------------------------------------------
_SIGNATURE_RE = re.compile(
    r"(?i:\bin\s+)?(?<![\w./])(?P<num>\d{1,2})\s*/\s*(?P<den>2|4|8|16)(?![\w/]|\.\d)(?!\s+(?i:of|the|speed)\b)(?i:[\s-]+time\b)?"
)
_METER_WORD_RES = (
    (re.compile(r"\bwaltz(?:es|ing|-like|y)?\b", re.IGNORECASE), "3/4"),
    (re.compile(r"\bcommon\s+time\b", re.IGNORECASE), "4/4"),
    (re.compile(r"\bthree[\s-]four\s+time\b", re.IGNORECASE), "3/4"),
    (re.compile(r"\bfour[\s-]four\s+time\b", re.IGNORECASE), "4/4"),
    (re.compile(r"\btriple\s+(?:meter|metre|time)\b", re.IGNORECASE), "3/4"),
    (re.compile(r"\bquadruple\s+(?:meter|metre|time)\b", re.IGNORECASE), "4/4"),
    (re.compile(r"\b(?:three|3)\s+beats\s+(?:per|a|to\s+the)\s+(?:bar|measure)\b", re.IGNORECASE), "3/4"),
    (re.compile(r"\b(?:four|4)\s+beats\s+(?:per|a|to\s+the)\s+(?:bar|measure)\b", re.IGNORECASE), "4/4"),
    (re.compile(r"\bin\s+three(?=\s*(?:[.,;:!?)]|$)|\s+(?:time|feel)\b)", re.IGNORECASE), "3/4"),
)
_METER_VALUE_RE = re.compile(r"^\s*(?P<num>\d{1,2})\s*(?:/\s*(?P<den>\d{1,2}))?\s*$")

# --- drums ------------------------------------------------------------------------------------
_DRUM_TERM = r"(?:drum\s*kits?|drum\s*machines?|drums?|drumming|drummers?|percussion)"
_NOT_DRUMS_RE = re.compile(r"\b(?:steel|tongue|hang|slit)[\s-]*drums?\b|\bpercussive\b", re.IGNORECASE)
_DRUMS_OFF_RES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\b(?:no|without|zero|free\s+of|sans)\s+(?:any\s+|a\s+)?(?:[\w-]+(?:\s*,\s*[\w-]+)*\s+(?:or|nor)\s+)?{_DRUM_TERM}"
        rf"(?:\s*(?:,|or|nor|/)\s*{_DRUM_TERM})*\b",
        r"\b(?:drum|percussion)[\s-]*(?:less|free)\b",
        rf"\b{_DRUM_TERM}\s*:\s*(?:none|no|off|false)\b",
        rf"(?:\b\w+n['’]t|\bnot|\bnever)\s+(?:(?:hear|have|use|include|want|need|feature|contain|add|be|there)\s+)?(?:any\s+)?{_DRUM_TERM}\b",
        rf"\b{_DRUM_TERM}\s+(?:are|is)\s+(?:absent|missing|not\s+present|left\s+out)\b",
    )
)
# "no live drums", "without heavy drums": maybe no drums, maybe other drums; states neither.
_DRUMS_UNSURE_RE = re.compile(rf"\b(?:no|without(?:\s+any)?)\s+[\w-]+\s+{_DRUM_TERM}\b", re.IGNORECASE)
_DRUMS_ON_RE = re.compile(
    rf"\b(?:{_DRUM_TERM}|drumbeats?|kick\s+drums?|snares?|hi-?hats?|breakbeats?|808\s+beats?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class StatedControls:
    """The controls a text states; None where it states none (or contradicts itself)."""

    bpm: float | None = None
    key: str | None = None  # canonical, e.g. "F# minor"
    mode: str | None = None  # "major" | "minor", from the key or on its own ("minor key")
    meter: str | None = None  # "3/4" | "4/4"
    drums: bool | None = None
    phrases: dict[str, str] = field(default_factory=dict)  # field -> exact phrase in the text


def parse_controls(text: str) -> StatedControls:
    """The tempo, key, mode, meter and drums stated in `text` (see the module docstring)."""
    key_hits = _key_hits(text)
    mode_hits = _mode_hits(text)
    key_hits = _resolve_bare_keys(key_hits, mode_hits)
    found = {
        "bpm": _agreed(_bpm_hits(text)),
        "key": _agreed([(key_name(tonic, mode), phrase, pos) for tonic, mode, phrase, pos in key_hits]),
        "mode": _agreed([(mode, phrase, pos) for _, mode, phrase, pos in key_hits] + mode_hits),
        "meter": _meter(text),
        "drums": _drums(text),
    }
    values = {name: hit[0] for name, hit in found.items() if hit is not None}
    phrases = {name: hit[1] for name, hit in found.items() if hit is not None}
    return StatedControls(**values, phrases=phrases)


def parse_key(value: str) -> tuple[int, str]:
    """Read a key such as "F# minor", "f#m", "F sharp minor", "Gb", "B-flat major", "Am", "C" or
    "Cmaj" as (tonic pitch class 0-11, "major" | "minor"). No mode means major; as in chord
    symbols, "m" is minor and "M" major. Enharmonic spellings give the same pitch class."""
    match = _KEY_VALUE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"cannot read {value!r} as a key: expected a tonic A-G with an optional #/b/sharp/flat and an optional mode "
            "(major, minor, maj, min, m), e.g. 'F# minor', 'Bb', 'Am'"
        )
    token = match["mode"] or "major"
    mode = "minor" if token == "m" or token.lower() in ("minor", "min") else "major"
    return _pitch_class(match["letter"], match["acc"]), mode


def parse_meter(value: str) -> int:
    """Beats per bar of a meter: "3/4" or "3" -> 3, "4/4" or "4" -> 4. Other meters raise ValueError."""
    match = _METER_VALUE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"cannot read {value!r} as a meter: expected 3/4 or 4/4")
    beats, unit = int(match["num"]), match["den"]
    if beats in (3, 4) and unit in (None, "4"):
        return beats
    raise ValueError(f"meter {value!r} is not supported: only 3/4 and 4/4 are (6/8, 2/4, 5/4 and others are not)")


# --- helpers ----------------------------------------------------------------------------------


def _pitch_class(letter: str, accidental: str | None) -> int:
    pc = _NATURAL[letter.upper()]
    acc = (accidental or "").strip(" -").lower()
    if acc in _SHARP:
        return (pc + 1) % 12
    if acc in _FLAT:
        return (pc - 1) % 12
    return pc


def _agreed(hits: list[tuple]) -> tuple | None:
    """(value, phrase) of the first hit when all hits agree on the value, else None."""
    if not hits or len({hit[0] for hit in hits}) > 1:
        return None
    first = min(hits, key=lambda hit: hit[2])
    return first[0], first[1]


def _bpm_hits(text: str) -> list[tuple[float, str, int]]:
    """(bpm, phrase, position) of every plausible single tempo."""
    hits = []
    for pattern in (_BPM_SUFFIX_RE, _BPM_PREFIX_RE):
        for match in pattern.finditer(text):
            number = match.start("num")
            if _RANGE_BEFORE_RE.search(text, max(0, number - _WINDOW), number):
                continue  # the upper end of a range: no single tempo
            start = match.start()
            if pattern is _BPM_SUFFIX_RE:  # take in "at around" before the number
                start = _APPROX_BEFORE_RE.search(text, max(0, start - _WINDOW), start).start()
            bpm = float(match["num"])
            if MIN_BPM <= bpm <= MAX_BPM:
                hits.append((bpm, text[start : match.end()].strip(), start))
    return hits


def _key_hits(text: str) -> list[tuple[int, str | None, str, int]]:
    """(tonic, mode or None when not stated, phrase, position) of every key phrase."""
    hits = []
    for context, pattern in _KEY_CONTEXTS:
        for match in pattern.finditer(text):
            if _is_tonic(match, context, text):
                mode = match["mode"].lower() if match["mode"] else None
                tonic = _pitch_class(match["letter"], match["acc"])
                hits.append((tonic, mode, match.group().strip("(),; "), match.start()))
    return hits


def _is_tonic(match: re.Match, context: str, text: str) -> bool:
    """Whether the letter of a key phrase is a tonic, not an article ("a minor change")."""
    letter, accidental, mode = match["letter"], match["acc"], match["mode"]
    if context == "key of":
        return letter != "a" or bool(accidental or mode)
    if letter == "a" or (letter == "A" and not accidental and mode.isupper()):
        return False  # "in a minor key", "a major hit", "IN A MINOR KEY"
    if context != "key word" or accidental:
        return True
    if letter == "A":  # "A minor key ballad": the article when it opens a sentence
        before = text[: match.start()].rstrip()
        return bool(before) and before[-1] not in ".!?:;"
    return letter.isupper()


def _mode_hits(text: str) -> list[tuple[str, str, int]]:
    return [(m["mode"].lower(), m.group().strip(), m.start()) for pattern in _MODE_ONLY_RES for m in pattern.finditer(text)]


def _resolve_bare_keys(key_hits: list, mode_hits: list) -> list[tuple[int, str, str, int]]:
    """A key stated without a mode ("key of D") takes the mode stated elsewhere, else major."""
    stated = {mode for _, mode, _, _ in key_hits if mode} | {mode for mode, _, _ in mode_hits}
    default = stated.pop() if len(stated) == 1 else "major"
    return [(tonic, mode or default, phrase, pos) for tonic, mode, phrase, pos in key_hits]


def _meter(text: str) -> tuple[str, str] | None:
    """(meter, phrase) when every meter phrase agrees on 3/4 or 4/4."""
    hits = []
    for match in _SIGNATURE_RE.finditer(text):
        beats, unit = int(match["num"]), match["den"]
        if 2 <= beats <= 15:
            hits.append((f"{beats}/{unit}", match.group().strip(), match.start()))
    for pattern, meter in _METER_WORD_RES:
        hits += [(meter, m.group().strip(), m.start()) for m in pattern.finditer(text)]
    agreed = _agreed(hits)
    return agreed if agreed is not None and agreed[0] in METERS else None


def _blank(pattern: re.Pattern, text: str) -> str:
    """`text` with the matches of `pattern` replaced by spaces (positions kept)."""
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _drums(text: str) -> tuple[bool, str] | None:
    """(False, phrase) for "no drums" and the like, (True, phrase) for a mention of drums."""
    text = _blank(_NOT_DRUMS_RE, text)
    off = [m for pattern in _DRUMS_OFF_RES for m in pattern.finditer(text)]
    chars = list(text)
    for m in off:
        chars[m.start() : m.end()] = " " * (m.end() - m.start())
    rest = _blank(_DRUMS_UNSURE_RE, "".join(chars))
    on = _DRUMS_ON_RE.search(rest)
    if off and on:
        return None
    if off:
        return False, min(off, key=lambda m: m.start()).group().strip()
    return (True, on.group()) if on else None


def drums_away(text: str) -> str:
    """The prompt as it would read asking for drums: its drum-free phrase ("no drums", "Percussion:
    none") made "with drums", else "with drums" added (whether or not the text's controls are read)."""
    stated = parse_controls(text)
    phrase = stated.phrases.get("drums")
    if phrase and stated.drums is False:
        return re.sub(r"\bwith\s+with drums", "with drums", text.replace(phrase, "with drums", 1))
    if stated.drums:
        return text
    return f"{text.rstrip(' .')}, with drums" if text.strip() else "with drums"

"""What the corpora made here (`data synth`, `data import`) share: a clip's split from a stable
hash, and the settings file that a re-run, which resumes, must match."""

from __future__ import annotations

import json
from pathlib import Path

from text2music.utils import atomic_write_text

SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}


def split_of(hex_digest: str) -> str:
    """train / valid / test (about 80/10/10) from the first 32 bits of a hex digest."""
    u = int(hex_digest[:8], 16) / 0x100000000
    if u < SPLIT_FRACTIONS["train"]:
        return "train"
    return "valid" if u < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["valid"] else "test"


def check_settings(path: Path, settings: dict, what: str) -> None:
    """Record `settings` in the JSON file `path`; when it already holds other ones, refuse, naming
    each difference (the same settings resume the corpus there)."""
    settings = json.loads(json.dumps(settings))  # tuples as lists, as stored
    if not path.exists():
        atomic_write_text(path, json.dumps(settings, indent=2) + "\n")
        return
    try:
        theirs = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); remove it or use another folder") from None
    diffs = [f"{k}: {theirs.get(k)!r} there, {v!r} now" for k, v in settings.items() if theirs.get(k) != v]
    if diffs:
        raise ValueError(f"{path.parent} holds {what} made with other settings ({'; '.join(diffs)}); use the same ones or another folder")

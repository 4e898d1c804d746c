"""What the corpora made here (`data synth`, `data import`) share: a clip's split from a stable
hash. (The settings file a resuming re-run must match is `utils.record_settings`, which the
trainers use too.)"""

from __future__ import annotations

SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}


def split_of(hex_digest: str) -> str:
    """train / valid / test (about 80/10/10) from the first 32 bits of a hex digest."""
    u = int(hex_digest[:8], 16) / 0x100000000
    if u < SPLIT_FRACTIONS["train"]:
        return "train"
    return "valid" if u < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["valid"] else "test"

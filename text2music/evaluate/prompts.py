"""Evaluation prompts: held-out clips of the synthetic corpus (text + the audio made from it +
its exact specification), or real MusicCaps captions (text only)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from text2music.data.musiccaps import read_clips
from text2music.evaluate.concepts import concepts_from_aspects, concepts_from_spec

BPM_IN_TEXT = re.compile(r"\b(\d{2,3})\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
KEY_IN_TEXT = re.compile(r"\b([A-G](?:#|b)?)[ -](major|minor)\b")


@dataclass
class EvalItem:
    id: str
    text: str
    named: set[str]  # concepts the prompt names
    excluded: set[str]  # concepts the prompt excludes
    audio: Path | None = None  # the real clip, when there is one
    bpm: float | None = None  # the tempo the prompt states, if it states one
    key: tuple[str, str] | None = None  # (tonic, mode) the prompt states, if it does
    drums: bool | None = None  # whether the music has drums (corpus specification)
    heldout: bool = False  # caption written from a template family the training captions never used
    spec: dict = field(default_factory=dict, repr=False)


def stated_bpm(text: str) -> float | None:
    m = BPM_IN_TEXT.search(text)
    return float(m.group(1)) if m else None


def stated_key(text: str) -> tuple[str, str] | None:
    m = KEY_IN_TEXT.search(text)
    return (m.group(1), m.group(2)) if m else None


def _stable_order(ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda s: hashlib.sha256(s.encode()).hexdigest())


def corpus_items(data: str | Path, split: str = "test", n: int | None = None) -> list[EvalItem]:
    """The first `n` clips of a split of a corpus folder (`data synth` or `data import`), in a fixed
    hashed order; a split with fewer than `n` clips is refused (ValueError), not used short.
    `split="all"`: every clip (a corpus kept whole for testing, such as the reserved test music)."""
    data = Path(data)
    manifest = data / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(
            f"{data} has no manifest.jsonl: evaluation on a corpus needs a folder made by `text2music data synth` or `data import`"
        )
    records = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    records = {r["clip_id"]: r for r in records if split == "all" or r["split"] == split}
    if not records:
        raise ValueError(f"{manifest}: no clips in split {split!r}")
    if n is not None and n > len(records):
        raise ValueError(f"--n {n}: split {split!r} of {data} has {len(records)} prompts; give --n {len(records)} or fewer")
    items = []
    for cid in _stable_order(list(records))[:n]:
        r = records[cid]
        # an imported clip's concepts are what its caption's aspects name (measured, see data.autocaption)
        named, excluded = concepts_from_aspects(r["aspects"]) if "source_sha1" in r else concepts_from_spec(r)
        items.append(
            EvalItem(
                id=cid,
                text=r["caption"],
                named=named,
                excluded=excluded,
                audio=data / r["audio"],
                bpm=stated_bpm(r["caption"]),
                key=stated_key(r["caption"]),
                drums=bool(r["drums"]),
                heldout=bool(r.get("template_heldout")),
                spec=r,
            )
        )
    return items


def musiccaps_items(csv: str | Path, n: int | None = None, split: str = "test") -> list[EvalItem]:
    """The first `n` MusicCaps captions (no audio here) whose aspect list names at least one judged
    concept; fewer than `n` is refused (ValueError)."""
    clips = [c for c in read_clips(csv) if not split or (c.split or ("test" if c.is_audioset_eval else "train")) == split]
    by_id = {f"{c.ytid}-{int(c.start_s)}": c for c in clips}
    items = []
    for cid in _stable_order(list(by_id)):
        c = by_id[cid]
        named, excluded = concepts_from_aspects(list(c.aspects))
        if not named:
            continue
        items.append(
            EvalItem(
                id=cid, text=c.caption, named=named, excluded=excluded, bpm=stated_bpm(c.caption), key=stated_key(c.caption), heldout=True
            )
        )
        if n is not None and len(items) >= n:
            break
    if n is not None and len(items) < n:
        raise ValueError(
            f"--n {n}: split {split!r} of {csv} has {len(items)} prompts that name a judged concept; give --n {len(items)} or fewer"
        )
    return items

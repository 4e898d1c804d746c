"""The MusicCaps metadata CSV: schema, parsing with row-level errors, splits.

The same schema is written by the offline corpus (`text2music.data.synth`), with one extra
column, `split`, so that every later stage reads one kind of table.
"""

from __future__ import annotations

import ast
import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from text2music.utils import atomic_path

COLUMNS = [
    "ytid",
    "start_s",
    "end_s",
    "audioset_positive_labels",
    "aspect_list",
    "caption",
    "author_id",
    "is_balanced_subset",
    "is_audioset_eval",
]
SPLITS = ("train", "valid", "test")
VALID_FRACTION = 0.1  # share of MusicCaps' non-eval clips held out for validation


@dataclass(frozen=True)
class Clip:
    """One row of a MusicCaps-schema table."""

    ytid: str
    start_s: float
    end_s: float
    aspects: tuple[str, ...]
    caption: str
    audioset_positive_labels: str = ""
    author_id: str = ""
    is_balanced_subset: bool = False
    is_audioset_eval: bool = False
    split: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def duration(self) -> float:
        return self.end_s - self.start_s

    @property
    def aspect_text(self) -> str:
        """The aspect list as one string, as the seed fed it to BERT."""
        return ", ".join(self.aspects)


def default_split(ytid: str, is_audioset_eval: bool) -> str:
    """MusicCaps' split: AudioSet-eval clips are the test set; 10% of the rest (by a stable hash
    of the id) is validation, the remainder training."""
    if is_audioset_eval:
        return "test"
    h = int(hashlib.sha1(ytid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "valid" if h < VALID_FRACTION else "train"


def _parse_bool(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0", ""):
        return False
    raise ValueError(f"{where}: expected True/False, got {value!r}")


def read_clips(path: str | Path) -> list[Clip]:
    """Parse a MusicCaps-schema CSV. Raises ValueError naming the file, line and field at the
    first bad row; the header is checked before any row is read."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"captions CSV not found: {path}")
    clips: list[Clip] = []
    seen: set[str] = set()
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: not a MusicCaps-schema CSV, missing columns {missing} (header: {header})")
        extra_cols = [c for c in header if c not in COLUMNS and c != "split"]
        for row in reader:
            line = reader.line_num  # line where this record ends (captions may span lines)

            def where(col: str) -> str:
                return f"{path}, line {line}, field {col!r}"

            if None in row or any(row[c] is None for c in COLUMNS):
                raise ValueError(f"{path}, line {line}: wrong number of fields")
            ytid = row["ytid"].strip()
            if not ytid:
                raise ValueError(f"{where('ytid')}: empty id")
            if ytid in seen:
                raise ValueError(f"{where('ytid')}: duplicate id {ytid!r}")
            seen.add(ytid)
            try:
                start, end = float(row["start_s"]), float(row["end_s"])
            except ValueError:
                raise ValueError(f"{where('start_s/end_s')}: not numbers: {row['start_s']!r}, {row['end_s']!r}") from None
            if not 0 <= start < end:
                raise ValueError(f"{where('start_s/end_s')}: need 0 <= start_s < end_s, got {start}, {end}")
            try:
                aspects = ast.literal_eval(row["aspect_list"])
            except (ValueError, SyntaxError):
                raise ValueError(f"{where('aspect_list')}: not a Python list literal: {row['aspect_list'][:80]!r}") from None
            if not isinstance(aspects, list) or not all(isinstance(a, str) for a in aspects):
                raise ValueError(f"{where('aspect_list')}: expected a list of strings")
            caption = row["caption"].strip()
            if not caption:
                raise ValueError(f"{where('caption')}: empty caption")
            is_eval = _parse_bool(row["is_audioset_eval"], where("is_audioset_eval"))
            split = (row.get("split") or "").strip() or default_split(ytid, is_eval)
            if split not in SPLITS:
                raise ValueError(f"{where('split')}: expected one of {SPLITS}, got {split!r}")
            clips.append(
                Clip(
                    ytid=ytid,
                    start_s=start,
                    end_s=end,
                    aspects=tuple(a.strip() for a in aspects),
                    caption=caption,
                    audioset_positive_labels=row["audioset_positive_labels"],
                    author_id=row["author_id"],
                    is_balanced_subset=_parse_bool(row["is_balanced_subset"], where("is_balanced_subset")),
                    is_audioset_eval=is_eval,
                    split=split,
                    extra={c: row[c] for c in extra_cols},
                )
            )
    return clips


def _fmt_seconds(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def clips_from_records(records: list[dict], duration: float, author: str) -> list[Clip]:
    """metadata.csv rows for clips a corpus made itself (synth, import): each record's caption,
    aspects and split; the test split marked as the evaluation set."""
    return [
        Clip(
            ytid=r["clip_id"],
            start_s=0,
            end_s=duration,
            aspects=tuple(r["aspects"]),
            caption=r["caption"],
            audioset_positive_labels="",
            author_id=author,
            is_balanced_subset=False,
            is_audioset_eval=r["split"] == "test",
            split=r["split"],
        )
        for r in records
    ]


def write_clips(path: str | Path, clips: list[Clip]) -> None:
    """Write clips as a MusicCaps-schema CSV plus the `split` column, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS + ["split"])
        for c in clips:
            w.writerow(
                [
                    c.ytid,
                    _fmt_seconds(c.start_s),
                    _fmt_seconds(c.end_s),
                    c.audioset_positive_labels,
                    repr(list(c.aspects)),
                    c.caption,
                    c.author_id,
                    c.is_balanced_subset,
                    c.is_audioset_eval,
                    c.split,
                ]
            )


def select_clips(clips: list[Clip], split: str | None = None, subset: str | None = None, limit: int | None = None) -> list[Clip]:
    """Filter by split ('train'/'valid'/'test') and/or subset ('balanced', 'audioset_eval'), then cap."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    if subset not in (None, "balanced", "audioset_eval"):
        raise ValueError(f"unknown subset {subset!r}; choose 'balanced' or 'audioset_eval'")
    out = [
        c
        for c in clips
        if (split is None or c.split == split)
        and (subset != "balanced" or c.is_balanced_subset)
        and (subset != "audioset_eval" or c.is_audioset_eval)
    ]
    if limit is not None:
        if limit <= 0:
            raise ValueError(f"--limit must be positive, got {limit}")
        out = out[:limit]
    return out

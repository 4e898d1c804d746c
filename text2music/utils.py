"""Small helpers shared by every stage: atomic file writes and JSONL files."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it over `path` in one step.

    A crash or Ctrl-C inside the block leaves `path` untouched (old content or absent) and
    removes the temporary file, so a half-written file never looks finished.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def append_jsonl(path: str | Path, records: dict | list[dict]) -> None:
    """Append one JSON line per record and flush them to disk (one fsync per call). A torn last
    line left by a killed writer is ended first, so it stays the only bad line, which
    `read_jsonl` skips."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [records] if isinstance(records, dict) else records
    line = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with open(path, "a+b") as f:
        if f.seek(0, os.SEEK_END) > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line  # end the torn line first
        f.write(line.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | Path) -> list[dict]:
    """Read a JSONL file. Lines torn by a killed writer (the last line, or any line that does not
    end in "}") are skipped; any other bad line is an error naming the file and line."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i == len(lines) or not line.rstrip().endswith("}"):
                continue  # a line torn by a killed writer (see append_jsonl)
            raise ValueError(f"{path}, line {i}: invalid JSON ({e})") from e
    return records


def write_jsonl(path: str | Path, records: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def dataclass_from_dict(cls, d: dict, what: str):
    """Build dataclass `cls` from `d`, refusing unknown keys (a typo in a config is an error,
    never silently ignored)."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown {what} fields {sorted(unknown)}; known: {sorted(known)}")
    return cls(**d)

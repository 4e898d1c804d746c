"""Small helpers shared by every stage: atomic file writes and JSONL files."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def default_jobs() -> int:
    """Worker processes for parallel data work: one per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it over `path` in one step.

    A crash or Ctrl-C inside the block leaves `path` untouched (old content or absent) and
    removes the temporary file, so a half-written file never looks finished. The temporary name
    holds the writer's pid, so that what a killed process left behind can be swept
    (`sweep_stale_temps`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp(\.[^.]*)?$")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def sweep_stale_temps(folder: str | Path) -> int:
    """Delete the temporary files of `atomic_path` in `folder` whose writing process is gone
    (killed mid-write with SIGKILL, which no `finally` survives). Returns how many."""
    swept = 0
    for entry in Path(folder).glob(".*.tmp*"):
        m = _TEMP_NAME.match(entry.name)
        if m and entry.is_file() and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            entry.unlink(missing_ok=True)
            swept += 1
    return swept


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


_SIMPLE_TYPES = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "None": lambda v: v is None,
}


def _type_ok(annotation, value) -> bool:
    """Whether `value` fits a simple annotation ("int", "float | None", ...); other annotations pass."""
    parts = [p.strip() for p in str(getattr(annotation, "__name__", annotation)).split("|")]
    if not all(p in _SIMPLE_TYPES for p in parts):
        return True
    return any(_SIMPLE_TYPES[p](value) for p in parts)


def dataclass_from_dict(cls, d: dict, what: str):
    """Build dataclass `cls` from `d`, refusing unknown keys (a typo in a config is an error,
    never silently ignored) and values of the wrong type for int, float, str and bool fields."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(fields)
    if unknown:
        raise ValueError(f"unknown {what} fields {sorted(unknown)}; known: {sorted(fields)}")
    for name, value in d.items():
        if not _type_ok(fields[name].type, value):
            raise ValueError(f"{what} field {name!r} must be {fields[name].type}, got {value!r}")
    return cls(**d)


def record_settings(
    path: Path, settings: dict, what: str, volatile: tuple[str, ...] | set[str] = (), write: bool = True, defaults: dict | None = None
) -> None:
    """Refuse to resume work in `path`'s folder whose settings file `path` differs from `settings`
    in a field that is not `volatile` (a budget, a logging cadence), naming each difference; then
    record `settings` there (only where `write`: the main process of a distributed run). A field
    missing from an older file, or left out of `settings` (to keep a file as older code wrote it),
    counts as its value in `defaults` (a setting added since then)."""
    settings = json.loads(json.dumps(settings))  # tuples as lists, as stored
    if path.exists():
        try:
            theirs = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); remove it or use another folder") from None
        defaults = json.loads(json.dumps(defaults or {}))
        theirs, ours = defaults | theirs, defaults | settings
        diffs = [f"{k}: {theirs.get(k)!r} there, {v!r} now" for k, v in ours.items() if k not in volatile and theirs.get(k) != v]
        if diffs:
            raise ValueError(
                f"{path.parent} holds {what} made with other settings ({'; '.join(diffs)}); use the same ones or another folder"
            )
    if write:
        atomic_write_text(path, json.dumps(settings, indent=2) + "\n")


@contextlib.contextmanager
def removed_on_failure(out: str | os.PathLike, keep: str) -> Iterator[None]:
    """When the block fails (an error, Ctrl-C), remove the folders it made for `out` (from the
    topmost one missing before it), unless `out` holds a file matching the glob `keep` (a
    checkpoint, a clip): work that fails before anything worth keeping leaves nothing behind, and
    partial work stays for the re-run that resumes it."""
    out = Path(out).absolute()
    made = next((p for p in reversed([out, *out.parents]) if not p.exists()), None)
    try:
        yield
    except BaseException:
        if made is not None and made.exists() and not any(out.glob(keep)):
            shutil.rmtree(made, ignore_errors=True)
        raise

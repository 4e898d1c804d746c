"""Import any music: audio files and folders -> a captioned corpus of clips.

The corpus has the layout of `data musiccaps` and `data synth` (metadata.csv, audio/, and
manifest.jsonl with each clip's measured tempo, key, drums and tags, and, where BeatNet is
installed, its beat grid, meter and chords per beat as `data synth` writes them: see
`text2music.data.label`), so `data preprocess`, `train`, `finetune` and `evaluate` take it as
they take the others. `label_corpus` (`data label`) adds the grid and chords to an imported
corpus's clips afterwards, from their WAVs.

    OUT/import.json          the settings that fix the clips (a resume must use the same)
    OUT/sources/SHA.json     one per imported file: where it came from, its split, its clips
    OUT/audio/CLIP.wav       mono PCM-16 clips of `clip_seconds`
    OUT/failures.jsonl       files that could not be imported, each with the reason
    OUT/metadata.csv, OUT/manifest.jsonl   rebuilt from sources/ at the end of every run

A file is cut into consecutive clips; clips that are mostly silence, and clips that repeat an
earlier clip of the same file (game music loops), are skipped. A file's split comes from a hash
of its content, so one track is never in two splits, the same file imported twice is imported
once, and adding files later never moves a clip between splits. A file is finished when its
sources/ record is written (atomically, after its WAVs): an interrupted import resumes there.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from text2music.data.autocaption import ClipFacts, compile_listening, listen, load_judges, write_caption
from text2music.data.corpus_folder import SPLIT_FRACTIONS, split_of
from text2music.data.download import find_ffmpeg
from text2music.data.label import (
    LABELS_VERSION,
    NO_BEATNET,
    beatnet_installed,
    caption_rng,
    clip_labels,
    is_labelled,
    load_labeller,
    with_labels,
)
from text2music.data.musiccaps import clips_from_records, write_clips
from text2music.utils import atomic_path, atomic_write_text, read_jsonl, record_settings, sweep_stale_temps, write_jsonl
from text2music.workers import worker_pool

log = logging.getLogger(__name__)

IMPORT_VERSION = "import-1"
SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".w64", ".caf"}
FFMPEG_SUFFIXES = {".m4a", ".aac", ".wma", ".webm", ".mka", ".mp2", ".ac3", ".ape", ".wv"}
TRACKER_SUFFIXES = {".mod", ".xm", ".it", ".s3m", ".mptm", ".669", ".med", ".mtm", ".stm", ".umx", ".okt", ".far", ".ult"}
AUDIO_SUFFIXES = SOUNDFILE_SUFFIXES | FFMPEG_SUFFIXES | TRACKER_SUFFIXES
SILENT_FRAME_DBFS = -55.0  # a 100-ms frame quieter than this is silence
FINGERPRINT_HZ = 16  # frames per second of the duplicate fingerprint


class DecodeError(Exception):
    """A file that could not be read as audio (the message says why)."""


@dataclass(frozen=True)
class ImportConfig:
    """What fixes the clips of an import (recorded in import.json)."""

    clip_seconds: float = 10.0
    sample_rate: int = 22050
    min_track_seconds: float = 10.0  # shorter files are skipped (sound effects, jingles)
    max_silence: float = 0.5  # a clip whose share of silent 100-ms frames is above this is skipped
    duplicate_similarity: float = 0.9  # a clip this similar to an earlier one of its file is skipped
    version: str = IMPORT_VERSION

    def __post_init__(self):
        if not 1.0 <= self.clip_seconds <= 30.0:
            raise ValueError(f"--clip-seconds must be between 1 and 30, got {self.clip_seconds:g}")
        if not 8000 <= self.sample_rate <= 96000:
            raise ValueError(f"--sample-rate must be between 8000 and 96000 Hz, got {self.sample_rate}")
        if self.min_track_seconds < 0:
            raise ValueError(f"--min-seconds must be at least 0, got {self.min_track_seconds:g}")
        if not 0.0 <= self.max_silence <= 1.0:
            raise ValueError(f"max_silence must be in [0, 1], got {self.max_silence}")
        if not 0.0 < self.duplicate_similarity <= 1.0:
            raise ValueError(f"duplicate_similarity must be in (0, 1], got {self.duplicate_similarity}")


# ---------------------------------------------------------------------------------------------
# finding and reading files


def find_audio(paths: list[str | Path]) -> list[Path]:
    """Audio files named by `paths` (files, or folders searched recursively), resolved, sorted,
    each once. A named file must exist; inside folders only known audio suffixes are taken."""
    found: dict[Path, None] = {}
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            found.update(dict.fromkeys(sorted(f.resolve() for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)))
        elif p.is_file():
            found[p.resolve()] = None
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return list(found)


def file_hash(path: Path) -> str:
    """sha1 of the file's bytes (a file's identity: its split and its clip ids)."""
    h = hashlib.sha1()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_audio(path: Path, sample_rate: int, ffmpeg: str | None = None) -> np.ndarray:
    """Any audio file -> mono float32 `(n_samples,)` at `sample_rate`: soundfile (WAV, FLAC,
    OGG/Opus, MP3) where it can, else ffmpeg (other formats, and tracker modules through
    libopenmpt). Raises DecodeError with the reason; what the decoders print goes to the log."""
    soundfile_error = None
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        try:
            with decoder_output_to_log(path):  # libsndfile's MP3 decoder prints its notes on fd 2
                y, sr = sf.read(str(path), dtype="float32", always_2d=True)
            return resample(y.mean(axis=1), sr, sample_rate)
        except (sf.LibsndfileError, RuntimeError, ValueError) as e:
            soundfile_error = soundfile_reason(e)
    try:
        exe = find_ffmpeg(ffmpeg)
    except (FileNotFoundError, RuntimeError) as e:
        tried = f"{soundfile_error}; no ffmpeg to try: {e}" if soundfile_error else f"needs ffmpeg: {e}"
        raise DecodeError(f"cannot be decoded as audio ({tried})") from None
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    printed = proc.stderr.decode(errors="replace").strip()
    if printed:
        log.info("%s: ffmpeg printed: %s", path, printed)
    if proc.returncode != 0 or not proc.stdout:
        last = printed.splitlines()[-1].rsplit(": ", 1)[-1] if printed else "no audio decoded"
        raise DecodeError(f"cannot be decoded as audio (ffmpeg: {last})")
    return np.frombuffer(proc.stdout, dtype=np.float32).copy()


def soundfile_reason(e: Exception) -> str:
    """libsndfile's error without the path it repeats; it calls a file it cannot parse one that "does not exist"."""
    text = str(e).split(": ", 1)[-1] if str(e).startswith("Error opening") else str(e)
    return "not a format soundfile reads" if "does not exist" in text else f"soundfile: {text}"


@contextlib.contextmanager
def decoder_output_to_log(path: Path):
    """What C code prints on stderr (fd 2) inside the block goes to the log, not the console."""
    sys.stderr.flush()
    console = os.dup(2)
    with tempfile.TemporaryFile() as sink:  # already unlinked: nothing stays behind a kill
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(console, 2)
            os.close(console)
            sink.seek(0)
            printed = sink.read().decode(errors="replace").strip()
            if printed:
                log.info("%s: the decoder printed: %s", path, printed)


def resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    import soxr

    y = np.ascontiguousarray(y, dtype=np.float32)
    return y if sr == target else soxr.resample(y, sr, target).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# cutting clips


def silent_share(clip: np.ndarray, sr: int) -> float:
    """Share of the clip's 100-ms frames quieter than SILENT_FRAME_DBFS."""
    hop = max(1, sr // 10)
    n = len(clip) // hop
    frames = clip[: n * hop].reshape(n, hop).astype(np.float64)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return float(np.mean(level < SILENT_FRAME_DBFS))


def fingerprint(clip: np.ndarray, sr: int) -> np.ndarray:
    """`(frames, 48)` log-mel frames at FINGERPRINT_HZ, each band's mean over the clip removed
    (what stays is how the music moves, not its timbre), each frame centred and of unit norm."""
    import librosa

    hop = sr // FINGERPRINT_HZ
    mel = librosa.feature.melspectrogram(y=clip, sr=sr, n_fft=2 * hop, hop_length=hop, n_mels=48, fmax=min(8000, sr / 2))
    f = np.log(mel + 1e-6)
    f = (f - f.mean(axis=1, keepdims=True)).T
    f = f - f.mean(axis=1, keepdims=True)
    return f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-9)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Best mean cosine between aligned frames of two fingerprints over the time shifts that keep
    at least half of each: near 1 when one clip repeats the other, whatever the loop's phase;
    about 0.3-0.6 between different passages of one piece. All shifts at once by FFT."""
    n = min(len(a), len(b))
    size = 2 * n
    spectra = np.conj(np.fft.rfft(a[:n], size, axis=0)) * np.fft.rfft(b[:n], size, axis=0)
    corr = np.fft.irfft(spectra.sum(axis=1), size)  # corr[k] = sum_t a[t] . b[t + k]
    lags = np.arange(-(n // 2), n // 2 + 1)
    return float(np.max(corr[lags % size] / (n - np.abs(lags))))


def cut_clips(y: np.ndarray, cfg: ImportConfig) -> tuple[list[tuple[int, np.ndarray]], Counter]:
    """Consecutive clips of `y` that are neither silence nor a repeat of an earlier clip:
    ([(index, clip)], Counter of skipped reasons)."""
    n = int(round(cfg.clip_seconds * cfg.sample_rate))
    kept, prints, skipped = [], [], Counter()
    for i in range(len(y) // n):
        clip = y[i * n : (i + 1) * n]
        if silent_share(clip, cfg.sample_rate) > cfg.max_silence:
            skipped["silence"] += 1
            continue
        fp = fingerprint(clip, cfg.sample_rate)
        if any(similarity(fp, other) >= cfg.duplicate_similarity for other in prints):
            skipped["duplicate"] += 1
            continue
        prints.append(fp)
        kept.append((i, clip))
    return kept, skipped


# ---------------------------------------------------------------------------------------------
# one file


def slug(text: str, max_len: int = 32) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_len].strip("-") or "track"


def name_words(path: Path) -> str:
    """Words from a file's folder and name ("music/battle_theme_02.ogg" -> "battle theme",
    "Ëlven Çhoir/Ünder.flac" -> "ëlven çhoir ünder"), or ""."""
    words = []
    for part in (path.parent.name, path.stem):
        camel = "".join(" " + c if i and c.isupper() and part[i - 1].islower() else c for i, c in enumerate(part))  # "BattleTheme"
        words += [w for w in re.split(r"[\W\d_]+", camel) if len(w) >= 3]  # runs of letters, of any script
    generic = {"music", "musics", "track", "song", "songs", "audio", "sound", "sounds", "data", "ogg", "mp3", "wav"}
    words = [w.lower() for w in words if w.lower() not in generic]
    return " ".join(dict.fromkeys(words))


def clip_record(cid: str, src: dict, index: int, cfg: ImportConfig, facts: ClipFacts, caption: str, aspects: list[str]) -> dict:
    return {
        "clip_id": cid,
        "split": src["split"],
        "audio": f"audio/{cid}.wav",
        "source": src["path"],
        "source_sha1": src["sha1"],
        "start_s": round(index * cfg.clip_seconds, 3),
        "duration": cfg.clip_seconds,
        "sample_rate": cfg.sample_rate,
        **facts.to_record(),
        "key_name": f"{facts.key} {facts.mode}",
        "caption": caption,
        "aspects": aspects,
    }


def import_file(path: str, sha: str, describe: str, out: str, cfg: ImportConfig, ffmpeg: str | None, labels: bool = True) -> dict:
    """Decode, cut, measure, caption, label (beats and chords, when `labels`) and write the clips
    of one file -> its sources/ record. Raises DecodeError (or returns a record with no clips when
    the file is too short)."""
    path, out = Path(path), Path(out)
    y = read_audio(path, cfg.sample_rate, ffmpeg)
    seconds = len(y) / cfg.sample_rate
    src = {"path": str(path), "sha1": sha, "split": split_of(sha), "seconds": round(seconds, 2), "describe": describe, "clips": []}
    if seconds < max(cfg.min_track_seconds, cfg.clip_seconds):
        src["skipped"] = {"too_short": 1}
        return src
    kept, skipped = cut_clips(y, cfg)
    judges = load_judges() if kept else None
    net = load_labeller() if kept and labels else None
    for index, clip in kept:
        cid = f"{slug(path.stem)}-{sha[:8]}-{index:03d}"
        facts = listen(clip, cfg.sample_rate, judges)
        caption, aspects = write_caption(facts, describe or None, caption_rng(cid))
        with atomic_path(out / "audio" / f"{cid}.wav") as tmp:
            sf.write(tmp, np.clip(clip, -1.0, 1.0), cfg.sample_rate, subtype="PCM_16", format="WAV")
        record = clip_record(cid, src, index, cfg, facts, caption, aspects)
        src["clips"].append(with_labels(record, clip_labels(clip, cfg.sample_rate, net), describe) if net is not None else record)
    src["skipped"] = dict(skipped)
    return src


def no_clips_reason(src: dict, cfg: ImportConfig) -> str | None:
    """Why an imported file gave no clips, in words; None when it gave some."""
    if src["clips"]:
        return None
    skipped = src.get("skipped", {})
    if "too_short" in skipped:
        if src["seconds"] < cfg.min_track_seconds:
            return f"{src['seconds']:.1f} s long, shorter than --min-seconds {cfg.min_track_seconds:g}"
        return f"{src['seconds']:.1f} s long, shorter than one clip (--clip-seconds {cfg.clip_seconds:g})"
    if set(skipped) == {"silence"}:
        return f"silent: its {skipped['silence']} clips are mostly quieter than {SILENT_FRAME_DBFS:g} dBFS"
    return "every clip skipped (" + ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())) + ")"


def import_task(args: tuple) -> tuple[str, dict | None, str | None]:
    """import_file in a worker: (path, sources/ record or None, failure reason or None)."""
    path = args[0]
    try:
        return path, import_file(*args), None
    except (DecodeError, OSError) as e:
        return path, None, str(e) or type(e).__name__


# ---------------------------------------------------------------------------------------------
# the whole import


def read_descriptions(path: str | Path) -> dict[Path, str]:
    """A CSV with columns `file` and `description` -> {resolved file: description}; `file` is
    absolute or relative to the CSV's folder. One-line errors name the CSV and row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--descriptions: {path} not found")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"file", "description"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs the columns 'file' and 'description', has {reader.fieldnames}")
        found = {}
        for row_no, row in enumerate(reader, start=2):
            if not (row["file"] or "").strip() or not (row["description"] or "").strip():
                raise ValueError(f"{path}, row {row_no}: empty file or description")
            file = Path(row["file"].strip()).expanduser()
            found[(file if file.is_absolute() else path.parent / file).resolve()] = row["description"].strip()
    return found


def check_config(out: Path, cfg: ImportConfig) -> None:
    """Write import.json, or refuse when the folder holds an import made with other settings."""
    if (out / "metadata.csv").exists() and not (out / "import.json").exists():
        raise ValueError(f"{out} holds a corpus that is not an import (metadata.csv without import.json); choose another folder")
    record_settings(out / "import.json", asdict(cfg), "an import")


def read_sources(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "sources").glob("*.json"))]


def write_corpus(out: Path, cfg: ImportConfig) -> list[dict]:
    """metadata.csv and manifest.jsonl of every clip of every finished file, sorted by clip id."""
    records = sorted((c for s in read_sources(out) for c in s["clips"]), key=lambda r: r["clip_id"])
    write_clips(out / "metadata.csv", clips_from_records(records, cfg.clip_seconds, "import"))
    write_jsonl(out / "manifest.jsonl", records)
    return records


def check_splits(splits: tuple[str, ...] | None) -> None:
    """One line for an unknown split name."""
    for name in splits or ():
        if name not in SPLIT_FRACTIONS:
            raise ValueError(f"--splits: unknown split {name!r}; splits: {', '.join(SPLIT_FRACTIONS)}")


def plan_files(
    files: list[Path], out: Path, describe: str, descriptions: dict[Path, str], names: bool, splits: tuple[str, ...] | None = None
) -> tuple[list[tuple], int]:
    """(tasks for the files not imported yet, how many were already done or repeat another file);
    with `splits`, only the files whose split is one of them."""
    done = {p.stem for p in (out / "sources").glob("*.json")}
    tasks, seen, already = [], set(), 0
    for f in files:
        sha = file_hash(f)
        if splits is not None and split_of(sha) not in splits:
            continue
        if sha in done or sha in seen:
            already += 1
            continue
        seen.add(sha)
        text = descriptions.get(f, describe)
        if names and name_words(f):
            text = f"{text}, {name_words(f)}" if text else name_words(f)
        tasks.append((str(f), sha, text))
    return tasks, already


def import_audio(
    paths: list[str | Path],
    out: str | Path,
    cfg: ImportConfig = ImportConfig(),
    jobs: int = 1,
    describe: str = "",
    descriptions: str | Path | None = None,
    names: bool = False,
    ffmpeg: str | None = None,
    progress: bool = True,
    labels: bool = True,
    splits: tuple[str, ...] | None = None,
) -> dict:
    """Import the audio files and folders `paths` into the corpus folder `out` (see the module
    docstring). Re-running resumes; files added later join the same corpus. Returns a summary;
    its `no_clips` says, per file of this run that gave none, why (too short, silent).
    `labels=False` skips the beats and chords (audio only, as a vocoder needs; `data label` adds them later).
    `splits` (e.g. ("test",)): import only the files of those splits (an evaluation corpus in a
    tenth of the time); the others can be added by a later run without it."""
    from tqdm import tqdm

    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    per_file = read_descriptions(descriptions) if descriptions else {}
    files = find_audio(paths)
    if not files:
        raise ValueError(f"no audio files in {', '.join(str(p) for p in paths)} (looked for {', '.join(sorted(AUDIO_SUFFIXES))})")
    out = Path(out)
    for folder in (out, out / "sources", out / "audio"):
        folder.mkdir(parents=True, exist_ok=True)
        sweep_stale_temps(folder)  # what a killed import was writing
    check_config(out, cfg)
    unlabelled = "none: --no-labels (add them with `data label`)" if not labels else None if beatnet_installed() else f"none: {NO_BEATNET}"
    labels = unlabelled is None
    if not labels:
        log.warning("import: labels %s", unlabelled)
    check_splits(splits)
    tasks, already = plan_files(files, out, describe.strip(), per_file, names, splits)
    log.info("import: %d files into %s (%d already there), %d jobs", len(tasks), out, already, jobs)
    failures, no_clips, seconds, t0 = [], {}, 0.0, time.perf_counter()
    with tqdm(total=len(tasks), desc="import", unit="file", disable=not progress, dynamic_ncols=True) as bar:
        for path, src, error in run_tasks([(*t, str(out), cfg, ffmpeg, labels) for t in tasks], jobs):
            if src is None:
                failures.append({"file": path, "error": error})
                log.warning("import: %s: %s", path, error)
            else:
                atomic_write_text(out / "sources" / f"{src['sha1']}.json", json.dumps(src, indent=1) + "\n")
                seconds += src["seconds"]
                if why := no_clips_reason(src, cfg):
                    no_clips[path] = why
                    log.warning("import: %s gave no clips: %s", path, why)
            bar.update(1)
            bar.set_postfix(audio_h=f"{seconds / 3600:.2f}", failed=len(failures))
    wall = time.perf_counter() - t0
    retried = {t[0] for t in tasks}
    earlier = [r for r in read_jsonl(out / "failures.jsonl") if r["file"] not in retried]
    write_jsonl(out / "failures.jsonl", earlier + failures)
    records = write_corpus(out, cfg)
    summary = {
        "out": str(out),
        "files": len(files),
        "imported": len(tasks) - len(failures),
        "already_there": already,
        "failed": len(failures),
        "no_clips": no_clips,
        "clips": len(records),
        "clip_hours": round(len(records) * cfg.clip_seconds / 3600, 2),
        "splits": dict(Counter(r["split"] for r in records)),
        "audio_hours_now": round(seconds / 3600, 3),
        "labels": unlabelled or LABELS_VERSION,
        "seconds": round(wall, 1),
        "x_real_time": round(seconds / wall, 1) if wall > 0 and seconds else None,
    }
    log.info("import done: %s", summary)
    return summary


def one_thread() -> None:
    """Workers run torch on one thread each: `jobs` workers share the cores without contention."""
    import torch

    torch.set_num_threads(1)


def run_tasks(tasks: list[tuple], jobs: int, task=None):
    """Yield `task` (default `import_task`) results as they finish, in this process or in `jobs` workers."""
    task = task or import_task
    if jobs == 1 or len(tasks) <= 1:
        for t in tasks:
            yield task(t)
        return
    compile_listening()  # before the workers fork, so they do not compile librosa's kernels together
    with worker_pool(jobs, initializer=one_thread) as pool:
        futures = [pool.submit(task, t) for t in tasks]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


# ---------------------------------------------------------------------------------------------
# labelling an imported corpus


def label_source(src: dict, out: str) -> dict:
    """The sources/ record `src` with each clip not yet labelled labelled from its WAV."""
    net = None
    clips = []
    for r in src["clips"]:
        if not is_labelled(r):
            net = net if net is not None else load_labeller()
            y, sr = sf.read(Path(out) / r["audio"], dtype="float32")
            r = with_labels(r, clip_labels(y, sr, net), src.get("describe"))
        clips.append(r)
    return {**src, "clips": clips}


def label_task(args: tuple) -> tuple[dict | None, str | None]:
    src, out = args
    try:
        return label_source(src, out), None
    except (OSError, RuntimeError, ValueError) as e:
        return None, f"{src['path']}: {e}"


def label_corpus(out: str | Path, jobs: int = 1, progress: bool = True) -> dict:
    """Beat grids and chords (text2music.data.label) for every clip of the `data import` corpus
    `out` that has none: each file's sources/ record is rewritten atomically when its clips are
    done, then metadata.csv and manifest.jsonl. Re-running resumes; labelled clips are skipped."""
    from tqdm import tqdm

    out = Path(out)
    if not out.is_dir():
        raise FileNotFoundError(f"--data {out}: no such folder")
    if not (out / "manifest.jsonl").is_file():
        raise ValueError(f"--data {out}: no manifest.jsonl (not a corpus)")
    if not (out / "import.json").is_file() or not (out / "sources").is_dir():
        raise ValueError(f"--data {out}: not a `data import` corpus (no import.json and sources/); other corpora carry their own labels")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if not beatnet_installed():
        raise RuntimeError(NO_BEATNET)
    cfg = ImportConfig(**json.loads((out / "import.json").read_text()))
    sweep_stale_temps(out / "sources")
    sources = read_sources(out)
    todo = [s for s in sources if not all(is_labelled(r) for r in s["clips"])]
    n_clips = sum(len(s["clips"]) for s in sources)
    waiting = {s["sha1"]: sum(not is_labelled(r) for r in s["clips"]) for s in todo}
    n_todo = sum(waiting.values())
    log.info("label: %d of %d clips in %d files to label, %d jobs", n_todo, n_clips, len(todo), jobs)
    failures, t0 = [], time.perf_counter()
    with tqdm(total=n_todo, desc="label", unit="clip", disable=not progress, dynamic_ncols=True) as bar:
        for src, error in run_tasks([(s, str(out)) for s in todo], jobs, label_task):
            if src is None:
                failures.append(error)
                log.warning("label: %s", error)
                continue
            atomic_write_text(out / "sources" / f"{src['sha1']}.json", json.dumps(src, indent=1) + "\n")
            bar.update(waiting[src["sha1"]])
    wall = time.perf_counter() - t0
    records = write_corpus(out, cfg)
    labelled = sum(is_labelled(r) for r in records)
    atomic_write_text(
        out / "labels.json", json.dumps({"version": LABELS_VERSION, "clips": len(records), "labelled": labelled}, indent=1) + "\n"
    )
    summary = {
        "data": str(out),
        "clips": len(records),
        "labelled_now": labelled - (n_clips - n_todo),
        "already_labelled": n_clips - n_todo,
        "labelled": labelled,
        "failed_files": failures,
        "labels": LABELS_VERSION,
        "seconds": round(wall, 1),
        "clips_per_s": round(n_todo / wall, 2) if wall > 0 and n_todo else None,
    }
    log.info("label done: %s", summary)
    return summary

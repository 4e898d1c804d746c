"""Download MusicCaps clips with yt-dlp: resumable, concurrent, every clip's fate recorded.

Layout of a data folder (shared with the offline corpus, so later stages read one layout):

    DATA/metadata.csv       the selected rows, MusicCaps schema + `split`
    DATA/audio/{ytid}.wav   mono WAV at the configured sample rate, the clip's [start_s, end_s]
    DATA/manifest.jsonl     one line per state change: {"ytid", "state": "pending"|"done"|"failed",
                            "reason", ...}; the last line of an id wins.

A WAV reaches `audio/` only by an atomic rename after yt-dlp and ffmpeg have finished and the
file has been read back, so a killed run never leaves a half-written clip that counts as done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from text2music.data.musiccaps import Clip, read_clips, select_clips, write_clips
from text2music.utils import append_jsonl, pid_alive, read_jsonl

log = logging.getLogger(__name__)
ytdlp_log = logging.getLogger("text2music.yt_dlp")  # yt-dlp's own messages: to download.log only

YOUTUBE_URL = "https://www.youtube.com/watch?v={ytid}"
FFMPEG_LINK_PREFIX = "text2music-ffmpeg."  # + pid: the temporary folder that puts ffmpeg on PATH

# yt-dlp error text -> reason recorded in the manifest (first match wins)
FAILURE_REASONS = [
    ("private video", "private"),
    ("sign in to confirm your age", "age_restricted"),
    ("available in your country", "region_blocked"),
    ("blocked it in your country", "region_blocked"),
    ("geo restrict", "region_blocked"),
    ("video unavailable", "unavailable"),
    ("has been removed", "unavailable"),
    ("account associated with this video has been terminated", "unavailable"),
    ("http error 404", "not_found"),
    ("http error 403", "forbidden"),
    ("unable to download", "network"),
    ("timed out", "network"),
    ("connection", "network"),
]


def classify_failure(message: str) -> str:
    m = message.lower()
    for needle, reason in FAILURE_REASONS:
        if needle in m:
            return reason
    return "error"


class Interrupted(Exception):
    """Raised inside a worker when the run is being stopped (Ctrl-C)."""


@dataclass
class DownloadConfig:
    sample_rate: int = 22050
    url_template: str = YOUTUBE_URL  # "{ytid}" is replaced by the clip id
    jobs: int = 4
    retry_failed: bool = False
    ffmpeg: str | None = None  # path to an ffmpeg binary; default: system ffmpeg, else imageio-ffmpeg's
    socket_timeout: float = 30.0
    progress: bool = True

    def __post_init__(self):
        if self.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {self.jobs}")
        if "{ytid}" not in self.url_template:
            raise ValueError(f"--url-template must contain '{{ytid}}', got {self.url_template!r}")


def find_ffmpeg(explicit: str | None = None) -> str:
    """Path of the ffmpeg binary: the explicit one, the system's, or the one imageio-ffmpeg ships."""
    if explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"ffmpeg not found at {explicit}")
        return explicit
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError:
        raise RuntimeError("no ffmpeg: install Debian's ffmpeg or `pip install imageio-ffmpeg`") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def load_states(manifest: str | Path) -> dict[str, dict]:
    """The latest manifest record of every clip id."""
    return {r["ytid"]: r for r in read_jsonl(manifest)}


def _ydl_options(clip: Clip, workdir: Path, ffmpeg_dir: Path, cfg: DownloadConfig, stop: threading.Event) -> dict:
    from yt_dlp.utils import download_range_func

    def abort_if_stopping(_status):
        if stop.is_set():
            raise Interrupted("stopped")

    return {
        "format": "bestaudio/best",
        "outtmpl": str(workdir / "clip.%(ext)s"),
        "download_ranges": download_range_func(None, [(clip.start_s, clip.end_s)]),
        "force_keyframes_at_cuts": True,
        "postprocessors": [{"key": "FFmpegExtractAudio", "preferredcodec": "wav"}],
        "postprocessor_args": {"extractaudio": ["-ar", str(cfg.sample_rate), "-ac", "1"]},
        "ffmpeg_location": str(ffmpeg_dir),
        "progress_hooks": [abort_if_stopping],
        "socket_timeout": cfg.socket_timeout,
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": ytdlp_log,
    }


def download_clip(clip: Clip, audio_dir: Path, ffmpeg_dir: Path, cfg: DownloadConfig, stop: threading.Event) -> dict:
    """Download one clip to `audio_dir/{ytid}.wav`. Returns its manifest record (never raises,
    except `Interrupted`)."""
    import yt_dlp

    url = cfg.url_template.format(ytid=clip.ytid)
    workdir = Path(tempfile.mkdtemp(prefix=f"{clip.ytid}.", dir=audio_dir / ".partial"))
    started = time.time()
    try:
        with yt_dlp.YoutubeDL(_ydl_options(clip, workdir, ffmpeg_dir, cfg, stop)) as ydl:
            ydl.download([url])
        if stop.is_set():
            raise Interrupted("stopped")
        wavs = sorted(workdir.glob("*.wav"))
        if not wavs:
            return {"ytid": clip.ytid, "state": "failed", "reason": "no_audio", "message": "yt-dlp produced no WAV"}
        info = sf.info(wavs[0])
        seconds = info.frames / info.samplerate
        if info.frames == 0:
            return {"ytid": clip.ytid, "state": "failed", "reason": "empty", "message": "downloaded clip has no samples"}
        os.replace(wavs[0], audio_dir / f"{clip.ytid}.wav")
        return {"ytid": clip.ytid, "state": "done", "seconds": round(seconds, 3), "took_s": round(time.time() - started, 2)}
    except Interrupted:
        raise
    except Exception as e:  # yt-dlp's DownloadError and anything ffmpeg/soundfile raise
        if stop.is_set():
            raise Interrupted("stopped") from e
        message = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        return {"ytid": clip.ytid, "state": "failed", "reason": classify_failure(message), "message": message[:500]}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def download_musiccaps(
    csv_path: str | Path,
    out_dir: str | Path,
    cfg: DownloadConfig | None = None,
    split: str | None = None,
    subset: str | None = None,
    limit: int | None = None,
) -> dict:
    """Download the selected clips of a MusicCaps CSV into `out_dir`. Returns the run summary.

    Re-running skips clips already done; failed clips are retried only with `retry_failed`.
    """
    cfg = cfg or DownloadConfig()
    out_dir = Path(out_dir)
    audio_dir = out_dir / "audio"
    manifest = out_dir / "manifest.jsonl"
    clips = select_clips(read_clips(csv_path), split=split, subset=subset, limit=limit)
    shutil.rmtree(audio_dir / ".partial", ignore_errors=True)  # leftovers of a killed run
    (audio_dir / ".partial").mkdir(parents=True)
    write_clips(out_dir / "metadata.csv", _merge_metadata(out_dir / "metadata.csv", clips))

    todo = _clips_to_download(clips, audio_dir, manifest, cfg.retry_failed)
    ffmpeg = find_ffmpeg(cfg.ffmpeg)
    stop = threading.Event()
    log_file = logging.FileHandler(out_dir / "download.log")
    log_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    ytdlp_log.addHandler(log_file)
    ytdlp_log.propagate = False
    bar = tqdm(total=len(todo), desc="download", unit="clip", disable=not cfg.progress)
    counts = Counter()
    try:
        with ffmpeg_on_path(ffmpeg) as ffmpeg_dir, ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
            pending = {pool.submit(download_clip, c, audio_dir, ffmpeg_dir, cfg, stop) for c in todo}
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for fut in done:
                        record = fut.result()
                        append_jsonl(manifest, record)
                        counts[record["state"]] += 1
                        bar.update(1)
                        bar.set_postfix(done=counts["done"], failed=counts["failed"])
            except (KeyboardInterrupt, Interrupted):
                stop.set()
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        bar.close()
        ytdlp_log.removeHandler(log_file)
        log_file.close()
        shutil.rmtree(audio_dir / ".partial", ignore_errors=True)
    return summarize(out_dir, [c.ytid for c in clips])


@contextlib.contextmanager
def ffmpeg_on_path(ffmpeg: str):
    """A temporary folder holding a link `ffmpeg` to `ffmpeg`, first on PATH inside the block.

    yt-dlp's section downloader looks for ffmpeg on PATH only, ignoring `ffmpeg_location` (a FIXME
    in yt_dlp/downloader/external.py). The folder's name holds this process's id, so that the
    folders of killed runs (kill -9, which no `finally` survives) are swept here."""
    tmp = Path(tempfile.gettempdir())
    for stale in tmp.glob(FFMPEG_LINK_PREFIX + "*"):
        pid = stale.name[len(FFMPEG_LINK_PREFIX) :].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{FFMPEG_LINK_PREFIX}{os.getpid()}.", dir=tmp))
    old_path = os.environ.get("PATH", "")
    try:
        (folder / "ffmpeg").symlink_to(ffmpeg)
        os.environ["PATH"] = f"{folder}{os.pathsep}{old_path}"
        yield folder
    finally:
        os.environ["PATH"] = old_path
        shutil.rmtree(folder, ignore_errors=True)


def _clips_to_download(clips: list[Clip], audio_dir: Path, manifest: Path, retry_failed: bool) -> list[Clip]:
    """The clips not done yet (failed ones only with `retry_failed`); new clips are recorded as
    pending, and a WAV whose manifest line is missing is recorded as done."""
    states = load_states(manifest)
    todo, new_pending = [], []
    for clip in clips:
        state = states.get(clip.ytid, {}).get("state")
        wav = audio_dir / f"{clip.ytid}.wav"
        if wav.exists() and state != "done":  # killed between the rename and the manifest line
            info = sf.info(wav)
            append_jsonl(manifest, {"ytid": clip.ytid, "state": "done", "seconds": round(info.frames / info.samplerate, 3)})
            state = "done"
        if state == "done" and wav.exists():
            continue
        if state == "failed" and not retry_failed:
            continue
        todo.append(clip)
        if state is None:
            new_pending.append({"ytid": clip.ytid, "state": "pending"})
    if new_pending:
        append_jsonl(manifest, new_pending)  # one write and fsync, not one per clip
    return todo


def _merge_metadata(path: Path, clips: list[Clip]) -> list[Clip]:
    """Keep rows of earlier runs (with other --split/--limit) and add the new ones."""
    old = read_clips(path) if path.exists() else []
    by_id = {c.ytid: c for c in old}
    by_id.update({c.ytid: c for c in clips})
    return list(by_id.values())


def summarize(out_dir: str | Path, ytids: list[str] | None = None) -> dict:
    """Counts of done / failed (by reason) / pending and hours of audio, for `ytids` (default:
    every clip in metadata.csv)."""
    out_dir = Path(out_dir)
    if ytids is None:
        ytids = [c.ytid for c in read_clips(out_dir / "metadata.csv")]
    states = load_states(out_dir / "manifest.jsonl")
    done = [states[y] for y in ytids if states.get(y, {}).get("state") == "done"]
    failed = Counter(states[y].get("reason", "error") for y in ytids if states.get(y, {}).get("state") == "failed")
    return {
        "clips": len(ytids),
        "done": len(done),
        "failed": sum(failed.values()),
        "failed_by_reason": dict(failed),
        "pending": len(ytids) - len(done) - sum(failed.values()),
        "hours": round(sum(r.get("seconds", 0.0) for r in done) / 3600, 4),
    }

"""A bounded queue of generation jobs run by worker threads, results kept as files.

    queue = JobQueue(pipeline, workers=1, max_queue=8)
    job = queue.submit("a calm solo piano piece", GenerationSettings(duration=4.0))   # or QueueFull
    queue.wait(job.id, timeout=60)        # job.status: queued -> running -> done | failed
    job.audio_path, job.image_path        # OUT_DIR/<id>/audio.wav, image.png
    job.controls, job.notes               # the musical controls the clip was made with; what was chosen

Ids are made by the server (random hex), file names are fixed: nothing a client sends becomes a
path. The `max_queue` jobs waiting beyond the running ones are all that is accepted; one more is
refused with `QueueFull`, whose `retry_after` is the estimated time until a running job finishes
(from the running jobs' own progress, else from the measured seconds per unit of work of the
finished ones, else from a first guess). The newest `keep` finished jobs are held in memory. In a
server-made temp folder the older ones are evicted with their files; in a given `out_dir` every
result stays: an evicted job is read back from its folder's `job.json` when asked for. Torch
releases the GIL, so worker threads generate in parallel; one loaded model serves them all (its
inference keeps no state).

Without `out_dir` the results go to a new temp folder `text2music-serve-*` holding `server.pid`
(the owner's pid, start time and host); it is deleted at shutdown, and `sweep_stale()` deletes
those whose owner is gone (a server killed with -9 cannot clean up after itself).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from text2music.generate.audio_prompt import read_audio_prompt
from text2music.generate.settings import GenerationSettings
from text2music.text.controls import key_name
from text2music.utils import atomic_write_text, pid_alive

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("text2music.serve")

ID_PATTERN = re.compile(r"[0-9a-f]{32}")
AUDIO_NAME, IMAGE_NAME, RECORD_NAME = "audio.wav", "image.png", "job.json"
TEMP_PREFIX = "text2music-serve-"
OWNER_FILE = "server.pid"
# First guess of seconds per unit of work (one model evaluation over one second of audio) before
# any job has been measured: the bundled model on 2 CPU cores (a 10 s clip, 16 Euler steps: ~2 s).
PRIOR_SECONDS_PER_UNIT = 0.012
_PLOT_LOCK = threading.Lock()
_TEXT_LOCK = threading.Lock()


def valid_id(job_id: str) -> bool:
    return isinstance(job_id, str) and ID_PATTERN.fullmatch(job_id) is not None


def work_units(settings: GenerationSettings, duration: float | None = None) -> float:
    """What a generation costs, roughly: model evaluations x seconds of audio (`duration`, where
    the clip's length is not `settings.duration`: a length in bars)."""
    return settings.model_evaluations * (settings.duration if duration is None else duration)


def clip_controls(plan) -> dict:
    """A `ControlPlan` as JSON: {"bpm", "key" ("F# minor"), "meter" ("3/4"), "drums", "duration"}."""
    c = plan.controls
    return {
        "bpm": None if c.bpm is None else float(c.bpm),
        "key": key_name(c.tonic, c.mode) if c.tonic is not None and c.mode is not None else None,
        "meter": None if c.meter is None else f"{c.meter}/4",
        "drums": c.drums,
        "duration": round(float(plan.duration), 6),
    }


@dataclass(eq=False)  # compared and hashed by identity
class Job:
    id: str
    text: str
    settings: GenerationSettings
    folder: Path
    duration: float | None = None  # the clip's planned length where it is not settings.duration
    status: str = "queued"
    progress: float = 0.0  # 0..1
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    done_event: threading.Event = field(default_factory=threading.Event, repr=False)
    controls: list[dict] = field(default_factory=list)  # once done: per clip, `clip_controls`
    notes: list[str] = field(default_factory=list)  # once done: what was chosen or overridden
    init_audio: np.ndarray | None = field(default=None, repr=False)  # the uploaded audio (model rate, mono), until done

    @property
    def work(self) -> float:
        return work_units(self.settings, self.duration)

    @property
    def audio_path(self) -> Path:
        return self.folder / AUDIO_NAME

    @property
    def image_path(self) -> Path:
        return self.folder / IMAGE_NAME

    def report(self, fraction: float) -> None:
        """Progress from the generating thread: only ever goes up, at most 1."""
        self.progress = max(self.progress, min(1.0, fraction))

    def record(self) -> dict:
        """A finished job as JSON (its folder's job.json), enough to answer for it again."""
        keep = ("id", "text", "duration", "created", "started", "finished", "controls", "notes")
        return {**{k: getattr(self, k) for k in keep}, "settings": self.settings.to_dict()}

    @classmethod
    def from_record(cls, folder: Path) -> "Job | None":
        """The finished job whose job.json is in `folder`; None when there is none or it is unreadable."""
        try:
            record = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
            job = cls(folder=folder, status="done", progress=1.0, settings=GenerationSettings(**record.pop("settings")), **record)
        except (OSError, ValueError, TypeError):
            return None
        job.done_event.set()
        return job


class QueueFull(RuntimeError):
    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


def generate(pipeline, text: str, settings: GenerationSettings, callback, init_audio: np.ndarray | None = None):
    """`pipeline([text], settings, callback=callback, init_audio=...)`, with the text encoded under
    the tokenizer lock (so the pipeline gets the embedding, and the text's plan of controls beside
    it: for a continuation or inpainting, with what the audio was measured to be)."""
    with _TEXT_LOCK:  # one thread at a time in the tokenizer (Rust-backed: not meant for concurrent calls)
        embedding = pipeline.embed([text])
    if init_audio is not None and settings.init_mode != "variation":
        prompt = read_audio_prompt(init_audio, settings, pipeline.output_rate(settings))
        plans = pipeline.plan_prompt([text], settings, [settings.seed], prompt)
    else:
        plans = pipeline.plan([text], settings, [settings.seed])
    return pipeline(embedding, settings, callback=callback, plans=plans, init_audio=init_audio)


def render(pipeline, text: str, settings: GenerationSettings, folder: Path, progress, init_audio: np.ndarray | None = None) -> list:
    """Generate one clip: folder/audio.wav (16-bit PCM) and folder/image.png (its spectrogram);
    returns the clip's `ControlPlan`s (its controls, length and notes; none from an old pipeline).

    `progress(fraction)` goes 0 -> 0.9 over the sampler's model evaluations, then to 1."""
    from text2music.features.mel import save_audio
    from text2music.features.plot import save_mel_png

    out = generate(pipeline, text, settings, lambda done, total: progress(0.9 * done / max(1, total)), init_audio)
    save_audio(folder / AUDIO_NAME, out.audio[0], out.sample_rate)
    progress(0.95)
    title = f"{text[:80]} (seed {settings.seed}, {settings.steps} steps, guidance {settings.guidance:g})"
    with _PLOT_LOCK:  # pyplot's figure bookkeeping is global, not thread-safe
        save_mel_png(folder / IMAGE_NAME, out.mel[0].float().cpu().numpy(), pipeline.mel, title=title)
    return out.plans


# -- server-made folders


def _process_start(pid: int) -> str | None:
    """The start time of a process (clock ticks since boot, from /proc), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 of proc(5), counted after the command name


def make_server_dir(parent: str | Path | None = None) -> Path:
    """A new `text2music-serve-*` folder under `parent` (default: the temp folder) naming its owner."""
    folder = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
    pid = os.getpid()
    tmp = folder / (OWNER_FILE + ".tmp")
    tmp.write_text(f"{pid} {_process_start(pid) or '-'} {socket.gethostname()}\n")
    os.replace(tmp, folder / OWNER_FILE)  # a reader sees the whole line or no file
    return folder


def owner_alive(folder: Path) -> bool | None:
    """Whether the server that made `folder` still runs: None when that cannot be told (no or
    unreadable `server.pid`, another host), False when its process is gone or its pid reused."""
    try:
        pid_text, start, host = (folder / OWNER_FILE).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if host != socket.gethostname() or pid <= 0:
        return None
    if not pid_alive(pid):
        return False
    now = _process_start(pid)
    return not (start != "-" and now is not None and now != start)


def sweep_stale(parent: str | Path | None = None) -> list[Path]:
    """Delete the `text2music-serve-*` folders under `parent` (default: the temp folder) that this
    user owns and whose server is gone; folders whose owner cannot be told are left alone."""
    parent = Path(parent if parent is not None else tempfile.gettempdir())
    removed = []
    for folder in parent.glob(TEMP_PREFIX + "*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if owner_alive(folder) is False:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info("removed %d result folder(s) left by stopped servers", len(removed))
    return removed


class JobQueue:
    """Jobs run by `workers` threads; at most `max_queue` wait; the newest `keep` finished are kept."""

    def __init__(self, pipeline, workers: int = 1, max_queue: int = 8, out_dir: str | Path | None = None, keep: int = 64):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if max_queue < 0:
            raise ValueError(f"max_queue must be 0 or more, got {max_queue}")
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.pipeline, self.workers, self.max_queue, self.keep = pipeline, workers, max_queue, keep
        self._own_dir = out_dir is None
        if self._own_dir:
            sweep_stale()
            self.out_dir = make_server_dir()
        else:
            self.out_dir = Path(out_dir)
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # every known job, oldest first
        self._pending: deque[Job] = deque()
        self._running: set[Job] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._rates: deque[float] = deque(maxlen=20)  # seconds per work unit of recent finished jobs
        self.counts = {"submitted": 0, "rejected": 0, "done": 0, "failed": 0}
        self._threads = [threading.Thread(target=self._work, name=f"text2music-worker-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    # -- clients

    def submit(
        self, text: str, settings: GenerationSettings | None = None, duration: float | None = None, init_audio: np.ndarray | None = None
    ) -> Job:
        """Queue one clip; `duration` = its planned length where it is not `settings.duration`
        (for the estimates of Retry-After); `init_audio`: samples at the model's rate for the
        settings' init_mode. QueueFull when the queue is full."""
        settings = settings if settings is not None else GenerationSettings()
        with self._cond:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            if len(self._running) + len(self._pending) >= self.workers + self.max_queue:
                self.counts["rejected"] += 1
                raise QueueFull(self._retry_after_locked())
            job_id = secrets.token_hex(16)
            job = Job(job_id, text, settings, self.out_dir / job_id, duration=duration, init_audio=init_audio)
            job.folder.mkdir()
            self._jobs[job_id] = job
            self._pending.append(job)
            self.counts["submitted"] += 1
            self._cond.notify()
            return job

    def get(self, job_id: str) -> Job | None:
        """The job, or None; a finished job evicted from memory is read back from a given out_dir."""
        if not valid_id(job_id):
            return None
        with self._cond:
            job = self._jobs.get(job_id)
        if job is None and not self._own_dir:
            job = Job.from_record(self.out_dir / job_id)
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        job = self.get(job_id)
        if job is not None:
            job.done_event.wait(timeout)
        return job

    def position(self, job: Job) -> int:
        """0 when running or finished, else 1 + the number of jobs ahead of it."""
        with self._cond:
            try:
                return 1 + self._pending.index(job)
            except ValueError:
                return 0

    def stats(self) -> dict:
        with self._cond:
            return {
                "workers": self.workers,
                "max_queue": self.max_queue,
                "running": len(self._running),
                "queued": len(self._pending),
                "kept": len(self._jobs),
                "max_results": self.keep,
                "results_kept_on_disk": not self._own_dir,
                **self.counts,
                "seconds_per_unit": round(self._seconds_per_unit_locked(), 5),
            }

    def retry_after(self) -> int:
        with self._cond:
            return self._retry_after_locked()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers (a running job finishes; waiting jobs fail) and delete a server-made
        folder, unless a job still running after `timeout` writes into it (then the next start's
        sweep deletes it)."""
        with self._cond:
            self._closed = True
            while self._pending:
                self._finish(self._pending.popleft(), "the server is shutting down")
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        if self._own_dir and not any(t.is_alive() for t in self._threads):
            shutil.rmtree(self.out_dir, ignore_errors=True)

    # -- internals

    def _seconds_per_unit_locked(self) -> float:
        """Measured on the recent finished jobs; before any, PRIOR_SECONDS_PER_UNIT."""
        return sum(self._rates) / len(self._rates) if self._rates else PRIOR_SECONDS_PER_UNIT

    def _remaining_locked(self, job: Job, now: float) -> float:
        """Seconds until `job` is expected to finish: a running job with progress extrapolates its
        own pace (once it is a tenth done, or while nothing has been measured); else work x rate."""
        expected = self._seconds_per_unit_locked() * job.work
        if job.started is None:
            return expected
        elapsed = now - job.started
        if job.progress > 0 and (job.progress >= 0.1 or not self._rates):
            expected = elapsed / job.progress
        return max(0.0, expected - elapsed)

    def _retry_after_locked(self) -> int:
        """Whole seconds until a place opens: when the first running job is expected to finish
        (or the first waiting ones, if no worker has taken a job yet); at least 1."""
        now = time.time()
        ahead = list(self._running) or list(self._pending)[: self.workers]
        soonest = min((self._remaining_locked(j, now) for j in ahead), default=0.0)
        return max(1, math.ceil(soonest))

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._pending.popleft()
                job.status, job.started = "running", time.time()
                self._running.add(job)
            error = None
            try:
                plans = render(self.pipeline, job.text, job.settings, job.folder, job.report, job.init_audio)
                job.controls = [clip_controls(p) for p in plans]
                job.notes = [n for p in plans for n in p.notes]
            except Exception as e:  # reported to the client; the worker lives on
                log.exception("job %s failed", job.id)
                error = f"{type(e).__name__}: {e}"
            job.init_audio = None  # the upload is not kept once the job is done
            with self._cond:
                self._running.discard(job)
                if error is None:
                    duration = job.controls[0]["duration"] if job.controls else job.duration
                    self._rates.append((time.time() - job.started) / max(1e-9, work_units(job.settings, duration)))
                self._finish(job, error)

    def _finish(self, job: Job, error: str | None) -> None:
        """Mark done/failed and evict the oldest finished jobs beyond `keep` (lock held)."""
        job.status = "failed" if error else "done"
        job.error = error
        job.progress = 1.0 if not error else job.progress
        job.finished = time.time()
        self.counts[job.status] += 1
        if error:
            shutil.rmtree(job.folder, ignore_errors=True)
        elif not self._own_dir:
            atomic_write_text(job.folder / RECORD_NAME, json.dumps(job.record()) + "\n")
        job.done_event.set()
        finished = [j for j in self._jobs.values() if j.finished is not None]
        for old in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[old.id]
            if self._own_dir:
                shutil.rmtree(old.folder, ignore_errors=True)

"""A bounded queue of generation jobs run by worker threads, results kept as files.

    queue = JobQueue(pipeline, workers=1, max_queue=8)
    job = queue.submit(GenerationRequest("a calm solo piano piece", duration=4.0))  # or QueueFull
    queue.wait(job.id, timeout=60)        # job.status: queued -> running -> done | failed
    job.audio_path, job.image_path        # OUT_DIR/<id>/audio.wav, image.png

Ids are made by the server (random hex), file names are fixed: nothing a client sends becomes a
path. The `max_queue` jobs waiting beyond the running ones are all that is accepted; one more is
refused with `QueueFull` (the HTTP layer answers 429 with its `retry_after`). Finished jobs beyond
the newest `keep` are evicted, their files deleted. Torch releases the GIL, so worker threads
generate in parallel; one loaded model serves them all (its inference keeps no state).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path

from text2music.generate.pipeline import DEFAULTS

log = logging.getLogger("text2music.serve")

ID_PATTERN = re.compile(r"[0-9a-f]{32}")
STATES = ("queued", "running", "done", "failed")
AUDIO_NAME, IMAGE_NAME = "audio.wav", "image.png"
_PLOT_LOCK = threading.Lock()
_TEXT_LOCK = threading.Lock()


def valid_id(job_id: str) -> bool:
    return isinstance(job_id, str) and ID_PATTERN.fullmatch(job_id) is not None


@dataclass(frozen=True)
class GenerationRequest:
    text: str
    duration: float = DEFAULTS.duration
    steps: int = DEFAULTS.steps
    guidance: float = DEFAULTS.guidance
    seed: int = DEFAULTS.seed
    sampler: str = DEFAULTS.sampler


@dataclass
class Job:
    id: str
    request: GenerationRequest
    folder: Path
    status: str = "queued"
    progress: float = 0.0  # 0..1
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    done_event: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def audio_path(self) -> Path:
        return self.folder / AUDIO_NAME

    @property
    def image_path(self) -> Path:
        return self.folder / IMAGE_NAME

    def report(self, fraction: float) -> None:
        """Progress from the generating thread: only ever goes up, at most 1."""
        self.progress = max(self.progress, min(1.0, fraction))


class QueueFull(RuntimeError):
    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy; retry in {retry_after} s")
        self.retry_after = retry_after


def render(pipeline, request: GenerationRequest, folder: Path, progress) -> None:
    """Generate one clip: folder/audio.wav (16-bit PCM) and folder/image.png (its spectrogram).

    `progress(fraction)` goes 0 -> 0.9 over the sampler's model evaluations, then to 1."""
    from text2music.features.mel import save_audio
    from text2music.features.plot import save_mel_png

    text = [request.text]
    if hasattr(pipeline, "embed"):  # one thread at a time in the tokenizer (Rust-backed: not meant for concurrent calls)
        with _TEXT_LOCK:
            text = pipeline.embed(text)
    mel = pipeline.generate_mel(text, duration=request.duration, steps=request.steps, guidance=request.guidance,
                                seed=request.seed, sampler=request.sampler,
                                callback=lambda done, total: progress(0.9 * done / max(1, total)))
    wave = pipeline.vocode(mel, round(request.duration * pipeline.sample_rate))[0]
    save_audio(folder / AUDIO_NAME, wave, pipeline.sample_rate)
    progress(0.95)
    title = f"{request.text[:80]} (seed {request.seed}, {request.steps} steps, guidance {request.guidance:g})"
    with _PLOT_LOCK:  # pyplot's figure bookkeeping is global, not thread-safe
        save_mel_png(folder / IMAGE_NAME, mel[0].float().cpu().numpy(), pipeline.mel, title=title)


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
        self.out_dir = Path(tempfile.mkdtemp(prefix="text2music-serve-")) if out_dir is None else Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # every known job, oldest first
        self._pending: deque[Job] = deque()
        self._running = 0
        self._cond = threading.Condition()
        self._closed = False
        self._durations: deque[float] = deque(maxlen=20)  # seconds per finished job, for Retry-After
        self.counts = {"submitted": 0, "rejected": 0, "done": 0, "failed": 0}
        self._threads = [threading.Thread(target=self._work, name=f"text2music-worker-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    # -- clients

    def submit(self, request: GenerationRequest) -> Job:
        with self._cond:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            if self._running + len(self._pending) >= self.workers + self.max_queue:
                self.counts["rejected"] += 1
                raise QueueFull(self._retry_after_locked())
            job_id = secrets.token_hex(16)
            job = Job(job_id, request, self.out_dir / job_id)
            job.folder.mkdir()
            self._jobs[job_id] = job
            self._pending.append(job)
            self.counts["submitted"] += 1
            self._cond.notify()
            return job

    def get(self, job_id: str) -> Job | None:
        if not valid_id(job_id):
            return None
        with self._cond:
            return self._jobs.get(job_id)

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
            return {"workers": self.workers, "max_queue": self.max_queue, "running": self._running,
                    "queued": len(self._pending), "kept": len(self._jobs), **self.counts}

    def retry_after(self) -> int:
        with self._cond:
            return self._retry_after_locked()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers (a running job finishes; waiting jobs fail) and delete a server-made folder."""
        with self._cond:
            self._closed = True
            while self._pending:
                self._finish(self._pending.popleft(), "the server is shutting down")
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        if self._own_dir:
            shutil.rmtree(self.out_dir, ignore_errors=True)

    # -- internals

    def _retry_after_locked(self) -> int:
        per_job = sum(self._durations) / len(self._durations) if self._durations else 5.0
        ahead = self._running + len(self._pending)
        return max(1, math.ceil(per_job * max(1, ahead) / self.workers))

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._pending.popleft()
                job.status, job.started = "running", time.time()
                self._running += 1
            error = None
            try:
                render(self.pipeline, job.request, job.folder, job.report)
            except Exception as e:  # reported to the client; the worker lives on
                log.exception("job %s failed", job.id)
                error = f"{type(e).__name__}: {e}"
            with self._cond:
                self._running -= 1
                self._durations.append(time.time() - job.started)
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
        job.done_event.set()
        finished = [j for j in self._jobs.values() if j.finished is not None]
        for old in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[old.id]
            shutil.rmtree(old.folder, ignore_errors=True)

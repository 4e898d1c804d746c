"""The web page and the JSON API of `text2music serve` (FastAPI).

    app = create_app(Text2Music.from_pretrained(), workers=1, max_queue=8)
    uvicorn.run(app, host="127.0.0.1", port=7860)

    GET  /                          the page (static/index.html, no build step, nothing from a CDN)
    GET  /docs, /openapi.json       the API reference (served by the app, works offline)
    GET  /api/info                  model, sample rate, limits, defaults, queue state
    POST /api/generate              {text, duration, steps, guidance, seed, sampler} -> 202 {id, status_url, ...}
    GET  /api/jobs/{id}             status (queued/running/done/failed), progress 0..1, audio_url, image_url, error
    GET  /api/jobs/{id}/audio.wav   the clip (16-bit PCM WAV at the model's sample rate)
    GET  /api/jobs/{id}/image.png   its spectrogram
    POST /api/generate/sync         the same body, clips up to SYNC_MAX_DURATION s: answers with the WAV itself

Bad input: 422 with `message` naming the field and its limits. A full queue: 429 with Retry-After.
Unknown or malformed ids: 404.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator

from text2music.generate.pipeline import (
    DEFAULTS,
    MAX_DURATION,
    MAX_GUIDANCE,
    MAX_STEPS,
    MAX_TEXT_CHARS,
    MIN_DURATION,
    MIN_GUIDANCE,
)
from text2music.serve.jobs import GenerationRequest, Job, JobQueue, QueueFull

log = logging.getLogger("text2music.serve")

STATIC_DIR = Path(__file__).resolve().parent / "static"
SYNC_MAX_DURATION = 5.0  # seconds; longer clips go through submit + poll
SYNC_TIMEOUT = 300.0  # seconds a synchronous call waits before answering 504 with the job to poll
MAX_SEED = 2**31 - 1
EXAMPLES = [
    "a calm solo piano piece in A minor at 70 BPM",
    "upbeat funk with slap bass and drums at 110 BPM",
    "sad strings in D minor, slow",
    "energetic rock with distorted guitar and drums",
]


class GenerateBody(BaseModel):
    """One clip to generate. Every field but `text` has a default."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": EXAMPLES[0], "duration": 4.0}]})

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="description of the music")
    duration: float = Field(DEFAULTS.duration, ge=MIN_DURATION, le=MAX_DURATION, description="seconds")
    steps: int = Field(DEFAULTS.steps, ge=1, le=MAX_STEPS, description="sampler steps (more: slower, finer)")
    guidance: float = Field(DEFAULTS.guidance, ge=MIN_GUIDANCE, le=MAX_GUIDANCE, description="classifier-free guidance scale")
    seed: int = Field(DEFAULTS.seed, ge=0, le=MAX_SEED, description="same seed and settings, same clip")
    sampler: Literal["euler", "heun"] = Field(DEFAULTS.sampler, description="ODE sampler (heun: two evaluations per step)")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is empty")
        return v.strip()

    def request(self) -> GenerationRequest:
        return GenerationRequest(self.text, self.duration, self.steps, self.guidance, self.seed, self.sampler)


class JobStatus(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(description="0..1")
    queue_position: int = Field(description="1 = next to run; 0 when running or finished")
    status_url: str
    audio_url: str | None = None
    image_url: str | None = None
    error: str | None = None
    request: dict
    created: float
    elapsed_s: float | None = Field(None, description="generation time so far (running) or in all (finished)")


class ErrorBody(BaseModel):
    message: str
    detail: list | str | None = None


def job_status(job: Job, queue: JobQueue) -> JobStatus:
    base = f"/api/jobs/{job.id}"
    done = job.status == "done"
    elapsed = None if job.started is None else (job.finished or time.time()) - job.started
    return JobStatus(id=job.id, status=job.status, progress=round(job.progress, 4), queue_position=queue.position(job),
                     status_url=base, audio_url=f"{base}/audio.wav" if done else None,
                     image_url=f"{base}/image.png" if done else None, error=job.error,
                     request=job.request.__dict__.copy(), created=job.created,
                     elapsed_s=None if elapsed is None else round(elapsed, 3))


def _error(status: int, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status, headers=headers)


def _describe(err: dict) -> str:
    """'duration: Input should be less than or equal to 20' from a pydantic error."""
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{'.'.join(loc)}: {msg}" if loc else msg


def model_info(pipeline) -> dict:
    path = getattr(pipeline, "path", None)
    config = getattr(pipeline, "config", {}) or {}
    return {"name": Path(path).name if path else "model", "kind": config.get("kind"), "sample_rate": pipeline.sample_rate,
            "text_encoder": (config.get("text") or {}).get("encoder")}


def create_app(pipeline, workers: int = 1, max_queue: int = 8, out_dir: str | Path | None = None, keep: int = 64) -> FastAPI:
    """The app around one loaded pipeline (`Text2Music` or anything with its interface).

    Results are files under `out_dir` (default: a new temp folder, deleted at shutdown); the newest
    `keep` finished jobs are kept."""
    queue = JobQueue(pipeline, workers=workers, max_queue=max_queue, out_dir=out_dir, keep=keep)
    info = {
        "model": model_info(pipeline),
        "limits": {"text_chars": MAX_TEXT_CHARS, "duration": [MIN_DURATION, MAX_DURATION], "steps": [1, MAX_STEPS],
                   "guidance": [MIN_GUIDANCE, MAX_GUIDANCE], "seed": [0, MAX_SEED], "sync_duration": SYNC_MAX_DURATION},
        "defaults": {"duration": DEFAULTS.duration, "steps": DEFAULTS.steps, "guidance": DEFAULTS.guidance,
                     "seed": DEFAULTS.seed, "sampler": DEFAULTS.sampler},
        "samplers": ["euler", "heun"],
        "examples": EXAMPLES,
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        queue.close()

    from text2music import __version__

    app = FastAPI(title="text2music", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Text to music on CPU: submit a description, poll the job, fetch the WAV. "
                              "Limits and defaults: `GET /api/info`.")
    app.state.queue = queue
    app.state.pipeline = pipeline
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        for e in errors:
            e.pop("input", None)  # do not echo a 2000-character text back
            e.pop("ctx", None)
        return _error(422, "; ".join(_describe(e) for e in errors), detail=errors)

    @app.exception_handler(QueueFull)
    async def _busy(request: Request, exc: QueueFull):
        return _error(429, str(exc), headers={"Retry-After": str(exc.retry_after)}, retry_after=exc.retry_after)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):  # never a bare 500 page; logged with the traceback
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, f"internal error: {type(exc).__name__}")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return FileResponse(STATIC_DIR / "docs.html", media_type="text/html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/api/info", summary="Model, limits, defaults and queue state")
    async def get_info() -> dict:
        return {**info, "queue": queue.stats()}

    responses = {422: {"model": ErrorBody, "description": "invalid input (message names the field)"},
                 429: {"model": ErrorBody, "description": "queue full; retry after the Retry-After header's seconds"}}

    @app.post("/api/generate", status_code=202, response_model=JobStatus, responses=responses,
              summary="Submit a generation; poll status_url until done")
    async def submit(body: GenerateBody):
        job = queue.submit(body.request())
        return JSONResponse(jsonable_encoder(job_status(job, queue)), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})

    @app.post("/api/generate/sync", summary=f"Generate a short clip (up to {SYNC_MAX_DURATION:g} s) and answer with the WAV",
              responses={**responses, 200: {"content": {"audio/wav": {}}, "description": "the clip; X-Job-Id names its job"},
                         504: {"model": ErrorBody, "description": "still running; poll status_url"}},
              response_class=FileResponse)
    async def generate_sync(body: GenerateBody):
        if body.duration > SYNC_MAX_DURATION:
            return _error(422, f"duration: at most {SYNC_MAX_DURATION:g} s for a synchronous call; "
                               f"use POST /api/generate for longer clips")
        job = queue.submit(body.request())
        deadline = time.monotonic() + SYNC_TIMEOUT
        while not job.done_event.is_set():  # no thread is held while waiting
            if time.monotonic() > deadline:
                return _error(504, "generation is taking longer than expected; poll status_url",
                              id=job.id, status_url=f"/api/jobs/{job.id}")
            await asyncio.sleep(0.05)
        if job.status != "done":
            return _error(500, f"generation failed: {job.error}", id=job.id)
        return FileResponse(job.audio_path, media_type="audio/wav", filename=f"text2music-{job.id[:8]}.wav",
                            headers={"X-Job-Id": job.id})

    def find(job_id: str) -> Job | JSONResponse:
        job = queue.get(job_id)  # None for a malformed id too: never touches the file system
        return job if job is not None else _error(404, "no such job (unknown id, or evicted: the server keeps the newest results)")

    @app.get("/api/jobs/{job_id}", response_model=JobStatus, responses={404: {"model": ErrorBody}}, summary="Status of a job")
    async def get_job(job_id: str):
        job = find(job_id)
        return job if isinstance(job, JSONResponse) else job_status(job, queue)

    def result_file(job_id: str, which: str, media_type: str):
        job = find(job_id)
        if isinstance(job, JSONResponse):
            return job
        if job.status != "done":
            return _error(409 if job.status != "failed" else 410, f"job is {job.status}; no {which} yet"
                          if job.status != "failed" else f"job failed: {job.error}")
        path = job.audio_path if which == "audio" else job.image_path
        if not path.is_file():
            return _error(404, "no such job (evicted)")
        ext = path.suffix
        return FileResponse(path, media_type=media_type, filename=f"text2music-{job.id[:8]}{ext}")

    @app.get("/api/jobs/{job_id}/audio.wav", response_class=FileResponse, summary="The finished clip (WAV)",
             responses={200: {"content": {"audio/wav": {}}}, 404: {"model": ErrorBody}, 409: {"model": ErrorBody}})
    async def get_audio(job_id: str):
        return result_file(job_id, "audio", "audio/wav")

    @app.get("/api/jobs/{job_id}/image.png", response_class=FileResponse, summary="The finished clip's spectrogram (PNG)",
             responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}, 409: {"model": ErrorBody}})
    async def get_image(job_id: str):
        return result_file(job_id, "image", "image/png")

    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def torch_threads(cores: int, workers: int) -> int:
    """Intra-op threads per generation: the cores less one, shared by the workers; at least 1."""
    return max(1, (cores - 1) // workers)


def serve(model: str | Path | None = None, host: str = "127.0.0.1", port: int = 7860, workers: int = 1, max_queue: int = 8,
          out_dir: str | Path | None = None, log_level: str = "info") -> None:
    """Load the model once and serve the page and API until Ctrl-C."""
    import torch
    import uvicorn

    from text2music.generate.pipeline import Text2Music

    # Each worker's generation gets its share of the cores, less one for the HTTP event loop: torch's
    # OpenMP threads spin while they wait, and on a machine with no core to spare a busy event loop
    # slowed each generation 25-fold (2 cores, 2 torch threads: 5.8 s per job instead of 0.22 s).
    torch.set_num_threads(torch_threads(os.cpu_count() or 1, workers))
    pipeline = Text2Music.from_pretrained(model)
    app = create_app(pipeline, workers=workers, max_queue=max_queue, out_dir=out_dir)
    if not is_loopback(host):
        log.warning("serving on %s: anyone who can reach this address can use the server (no authentication)", host)
    shown = f"[{host}]" if ":" in host else host
    print(f"text2music: serving {model_info(pipeline)['name']} on http://{shown}:{port}/  (API reference: /docs; Ctrl-C stops)",
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)

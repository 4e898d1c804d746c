"""The web page and the JSON API of `text2music serve` (FastAPI).

    app = create_app(Text2Music.from_pretrained(), workers=1, max_queue=8)
    uvicorn.run(app, host="127.0.0.1", port=7860)

    GET  /                          the page (static/index.html, no build step, nothing from a CDN)
    GET  /docs, /openapi.json       the API reference (served by the app, works offline)
    GET  /api/info                  model, sample rate, limits, defaults, queue state
    POST /api/generate              {text, duration, steps, guidance, seed, sampler, normalize,
                                     bpm, key, meter, drums, bars, loop, text_controls} -> 202 {id, status_url, ...}
    GET  /api/jobs/{id}             status (queued/running/done/failed), progress 0..1, audio_url, image_url, error;
                                    once done, the musical controls each clip was made with and notes
    GET  /api/jobs/{id}/audio.wav   the clip (16-bit PCM WAV at the model's sample rate)
    GET  /api/jobs/{id}/image.png   its spectrogram
    POST /api/generate/sync         the same body, clips up to SYNC_MAX_DURATION s: answers with the WAV itself

Bad input: 422 with `message` naming the field and its limits (or, for a body that is not a JSON
object, what is wrong and where); so, at submit time, are musical controls asked of a model trained
without them and a length in bars outside the duration limits. A body over MAX_BODY_BYTES: 413,
unread. A full queue: 429 with Retry-After, the estimated seconds until a running job finishes.
Unknown or malformed ids: 404.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import os
import socket
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, Strict, StrictBool, create_model, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from text2music.generate.audio_prompt import prompt_settings, read_audio_prompt
from text2music.generate.sampling import SAMPLERS
from text2music.generate.settings import (
    MAX_SPAN,
    MAX_TEXT_CHARS,
    GenerationSettings,
    SettingField,
    SettingsError,
    check_texts,
    setting_fields,
)
from text2music.serve.jobs import Job, JobQueue, QueueFull
from text2music.theory import MODES, PITCH_CLASSES, key_name

log = logging.getLogger("text2music.serve")

STATIC_DIR = Path(__file__).resolve().parent / "static"
SYNC_MAX_DURATION = 5.0  # seconds; longer clips go through submit + poll
SYNC_TIMEOUT = 300.0  # seconds a synchronous call waits before answering 504 with the job to poll
MAX_BODY_BYTES = 16 * 1024 * 1024  # a body beyond this gets 413 unread: 60 s of 44.1 kHz stereo 16-bit WAV in base64 fits
HTTP_GROUPS = ("length", "sampling", "output", "init", "controls")  # the init audio itself: `init_audio`, base64
KEYS = [key_name(tonic, mode) for mode in MODES for tonic in range(len(PITCH_CLASSES))]  # "C major" .. "B minor"
METERS = ["3/4", "4/4"]
MAX_KEY_CHARS = 32  # "F sharp minor key" is 17
EXAMPLES = [
    "a calm solo piano piece in A minor at 70 BPM",
    "upbeat funk with slap bass and drums at 110 BPM",
    "sad strings in D minor, slow",
    "energetic rock with distorted guitar and drums",
]

Number = Annotated[float, Strict()]  # JSON numbers only: ints are accepted, booleans and strings are not
Integer = Annotated[int, Strict()]  # JSON integers only: not 2.0, not true
JSON_TYPES = {float: Number, int: Integer, bool: StrictBool, str: str}


def _body_field(f: SettingField):
    """(type, pydantic Field) of one setting in the request body: JSON type from the field's kind
    (its text form too where GenerationSettings reads one, as "3/4"), limits and choices as schema."""
    d = f.setting
    kind = Annotated[object, PlainValidator(_value_or_text(f))] if d.text and f.kind is not str else JSON_TYPES[f.kind]
    schema = {"minimum": d.limits[0], "maximum": d.limits[1]} if d.limits else {}
    if d.choices is not None:
        schema["examples" if d.text else "enum"] = list(d.choices)
    extra = {"max_length": MAX_KEY_CHARS} if f.kind is str and d.text else {}
    help = d.help + ("; null: the text's, else the model's choice (needs a model with controls)" if f.optional else "")
    return (kind | None if f.optional else kind), Field(f.default, description=help, json_schema_extra=schema or None, **extra)


def _value_or_text(f: SettingField):
    """A check of a field given as a JSON value of its kind or as text that GenerationSettings reads."""
    kind = {float: "a number", int: "an integer"}[f.kind]

    def check(v):
        if v is None or isinstance(v, str) or (isinstance(v, f.kind) and not isinstance(v, bool)):
            return v
        raise ValueError(f"Input should be {kind} or text ({f.setting.help})")

    return check


def request_model(settings_class=None) -> type[BaseModel]:
    """The request body of /api/generate: `text` and every GenerationSettings field of HTTP_GROUPS."""
    fields_ = {f.name: _body_field(f) for f in setting_fields(settings_class, HTTP_GROUPS)}
    text = Field(description="description of the music", json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT_CHARS})
    audio = Field(
        None,
        description="an audio file (WAV, FLAC or OGG; any rate, mixed to mono), base64-encoded: what init_mode "
        "makes a variation of, continues or inpaints",
        json_schema_extra={"contentEncoding": "base64", "contentMediaType": "audio/*"},
    )
    model = create_model(
        "GenerateBody",
        __base__=BodyBase,
        __doc__="One clip to generate. Every field but `text` has a default; values are checked by GenerationSettings.",
        text=(str, text),
        init_audio=(str | None, audio),
        **fields_,
    )
    model.settings_class = settings_class or GenerationSettings
    return model


class BodyBase(BaseModel):
    """What every request body shares: no unknown fields, the text checked, `settings()`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": EXAMPLES[0], "duration": 4.0}]})
    settings_class: ClassVar[type] = GenerationSettings

    @field_validator("text", check_fields=False)
    @classmethod
    def _check_text(cls, v: str) -> str:
        try:
            check_texts([v])
        except ValueError as e:
            raise ValueError(str(e).replace("text 1 ", "text ", 1)) from None
        return v.strip()

    def settings(self) -> GenerationSettings:
        """The body's settings, or InvalidSettings naming the field GenerationSettings refuses."""
        try:
            return self.settings_class(**self.model_dump(exclude={"text", "init_audio"}))
        except SettingsError as e:
            raise InvalidSettings(str(e), field=e.field) from None


GenerateBody = request_model()


class InvalidSettings(ValueError):
    """A settings error answered 422, with the field it names (None when no one field is to blame)."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        if field and message.startswith(field + " "):
            message = message[len(field) + 1 :]
        super().__init__(f"{field}: {message}" if field else message)
        self.msg = message


class ClipControls(BaseModel):
    """The musical controls one clip was made with; null where the model chose (or has no controls)."""

    bpm: float | None = Field(None, description="tempo")
    key: str | None = Field(None, description='e.g. "F# minor"')
    meter: Literal["3/4", "4/4"] | None = None
    drums: bool | None = None
    duration: float = Field(description="seconds (whole bars where `bars` or a loop with a tempo asked for them)")


class JobStatus(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(description="0..1")
    queue_position: int = Field(description="1 = next to run; 0 when running or finished")
    status_url: str
    audio_url: str | None = None
    image_url: str | None = None
    error: str | None = None
    request: dict = Field(description="the text and every setting, as a body that asks for the same clip again")
    created: float
    elapsed_s: float | None = Field(None, description="generation time so far (running) or in all (finished)")
    controls: list[ClipControls] | None = Field(None, description="once done: per clip, the controls used and its length")
    notes: list[str] = Field(
        default_factory=list, description="once done: what was chosen (a tempo drawn) or overridden (a setting against the text)"
    )


class ErrorBody(BaseModel):
    message: str
    detail: list | str | None = None


def job_status(job: Job, queue: JobQueue) -> JobStatus:
    base = f"/api/jobs/{job.id}"
    done = job.status == "done"
    elapsed = None if job.started is None else (job.finished or time.time()) - job.started
    return JobStatus(
        id=job.id,
        status=job.status,
        progress=round(job.progress, 4),
        queue_position=queue.position(job),
        status_url=base,
        audio_url=f"{base}/audio.wav" if done else None,
        image_url=f"{base}/image.png" if done else None,
        error=job.error,
        request=request_of(job.text, job.settings),
        created=job.created,
        elapsed_s=None if elapsed is None else round(elapsed, 3),
        controls=job.controls if done else None,
        notes=job.notes if done else [],
    )


def request_of(text: str, settings: GenerationSettings) -> dict:
    """The body that asks for `settings` again (the key spelled canonically, the meter as "3/4")."""
    body = {"text": text, **{f.name: getattr(settings, f.name) for f in setting_fields(type(settings), HTTP_GROUPS)}}
    body["meter"] = None if settings.meter is None else f"{settings.meter}/4"
    return body


def plan_request(pipeline, text: str, settings: GenerationSettings, audio: np.ndarray | None = None) -> float:
    """The length in seconds of the clip asked for, or InvalidSettings (422, before anything is
    queued) from the pipeline's pre-flight check (`plan_clips`) and, with audio, `read_audio_prompt`."""
    try:
        if audio is not None:
            prompt = read_audio_prompt(audio, settings, pipeline.output_rate(settings))
            return prompt_settings(settings, prompt).duration
        if settings.init_mode != "variation":
            raise SettingsError(f"init_mode {settings.init_mode} needs init_audio: the audio to {settings.init_mode}", field="init_audio")
        return pipeline.plan([text], settings, [settings.seed])[0].duration
    except SettingsError as e:
        raise InvalidSettings(str(e), field=e.field) from None
    except ValueError as e:
        raise InvalidSettings(str(e).replace("the init audio ", "", 1), field="init_audio") from None


def decode_audio(data: str | None, sample_rate: int) -> np.ndarray | None:
    """The base64 audio file of a request as mono float32 samples at `sample_rate`; InvalidSettings
    naming `init_audio` when it is not base64 or not audio."""
    if data is None:
        return None
    import binascii
    import io

    from text2music.features.mel import load_audio

    try:
        raw = base64.b64decode(data.split(",", 1)[-1] if data.startswith("data:") else data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSettings("is not base64 (send the audio file's bytes base64-encoded)", field="init_audio") from None
    try:
        return load_audio(io.BytesIO(raw), sample_rate)
    except ValueError:
        raise InvalidSettings("is not a readable audio file (WAV, FLAC or OGG)", field="init_audio") from None


def _error(status: int, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status, headers=headers)


def _describe(err: dict, body=None, content_type: str = "") -> str:
    """'steps: Input should be a valid integer' from a pydantic error; the body's own faults in words."""
    loc = list(err.get("loc", ()))
    kind = err.get("type")
    if kind == "json_invalid":
        return _json_error(err, body)
    if loc == ["body"] and kind == "missing":
        return 'the request body is empty; send a JSON object such as {"text": "calm piano"}'
    if loc == ["body"] and kind in ("model_attributes_type", "dict_type", "model_type"):
        if "json" not in content_type.lower():
            return "the request body must be JSON, sent with Content-Type: application/json"
        return 'the request body must be a JSON object such as {"text": "calm piano"}'
    where = [str(p) for p in loc if p != "body"]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{'.'.join(where)}: {msg}" if where else msg


def _json_error(err: dict, body) -> str:
    """ "the request body is not valid JSON: Expecting ',' delimiter at line 1, column 23"."""
    what = str((err.get("ctx") or {}).get("error") or "syntax error")
    loc = err.get("loc", ())
    pos = loc[-1] if loc and isinstance(loc[-1], int) else None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if pos is None:
        where = ""
    elif isinstance(body, str) and pos <= len(body):
        e = json.JSONDecodeError(what, body, pos)
        where = f" at line {e.lineno}, column {e.colno}"
    else:
        where = f" at character {pos + 1}"
    return f"the request body is not valid JSON: {what}{where}"


def model_info(pipeline) -> dict:
    path = getattr(pipeline, "path", None)
    config = getattr(pipeline, "config", {}) or {}
    return {
        "name": Path(path).name if path else "model",
        "kind": config.get("kind"),
        "sample_rate": pipeline.sample_rate,
        "text_encoder": (config.get("text") or {}).get("encoder"),
        "controls": bool(getattr(pipeline, "controllable", False)),
        "vocoder": getattr(getattr(pipeline, "vocoder", None), "name", None),
        "vocoder_rate": getattr(getattr(pipeline, "vocoder", None), "sample_rate", None),
        "adapter": adapter_info(getattr(pipeline, "adapter", None)),
        "precision": getattr(pipeline, "precision", "float32"),
    }


def adapter_info(adapter: dict | None) -> dict | None:
    """The merged adapter's folder name and strength (the server's paths stay private)."""
    if not adapter:
        return None
    return {"name": Path(adapter["path"]).name, "strength": adapter["strength"]}


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 without being read in full.

    A declared Content-Length over the limit is refused before any of the body is read; a body
    without one (chunked) is counted while it streams and refused as soon as it passes the limit
    (the app sees the client as gone and its answer is replaced by the 413)."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            return await self._refuse(send)
        state = {"received": 0, "over": False, "started": False}

        async def limited_receive():
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if state["over"]:
                return  # the 413 below answers instead
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await self._refuse(send)

    async def _refuse(self, send):
        body = json.dumps({"message": f"the request body is larger than the limit of {self.max_bytes // 1024} KB"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def api_info(pipeline, settings_class=None) -> dict:
    """What GET /api/info tells besides the queue state: model, limits, defaults, samplers, examples.
    Limits and defaults come from the GenerationSettings fields the request body has."""
    described = setting_fields(settings_class, HTTP_GROUPS)
    return {
        "model": model_info(pipeline),
        "limits": {
            "text_chars": MAX_TEXT_CHARS,
            **{f.name: list(f.setting.limits) for f in described if f.setting.limits},
            "sync_duration": SYNC_MAX_DURATION,
            "span_seconds": MAX_SPAN,
        },
        "defaults": {f.name: f.default for f in described},
        "help": {f.name: f.setting.help for f in described},
        "choices": {f.name: list(f.setting.choices) for f in described if f.setting.choices},
        "samplers": list(SAMPLERS),
        "keys": KEYS,
        "meters": METERS,
        "evaluations_per_step": {name: GenerationSettings(sampler=name, steps=1).model_evaluations for name in SAMPLERS},
        "examples": EXAMPLES,
    }


def install_error_handlers(app: FastAPI) -> None:
    """Every error answers `{"message": ...}`: 422 naming the field, 429 with Retry-After, never a bare 500."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        message = "; ".join(_describe(e, getattr(exc, "body", None), request.headers.get("content-type", "")) for e in errors)
        for e in errors:
            e.pop("input", None)  # do not echo a 2000-character text back
            e.pop("ctx", None)
        return _error(422, message, detail=errors)

    @app.exception_handler(InvalidSettings)
    async def _out_of_range(request: Request, exc: InvalidSettings):
        loc = ["body", exc.field] if exc.field else ["body"]
        return _error(422, str(exc), detail=[{"type": "value_error", "loc": loc, "msg": exc.msg}])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):  # 404, 405, an unreadable body (400): {"message"} too
        unreadable = exc.status_code == 400 and exc.detail == "There was an error parsing the body"
        message = "the request body could not be read as JSON text (UTF-8)" if unreadable else str(exc.detail)
        return _error(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(QueueFull)
    async def _busy(request: Request, exc: QueueFull):
        return _error(429, str(exc), headers={"Retry-After": str(exc.retry_after)}, retry_after=exc.retry_after)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):  # never a bare 500 page; logged with the traceback
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, f"internal error: {type(exc).__name__}")


def add_page_routes(app: FastAPI) -> None:
    """The page, the offline API reference and the icon."""

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return FileResponse(STATIC_DIR / "docs.html", media_type="text/html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


def add_job_routes(app: FastAPI, queue: JobQueue) -> None:
    """GET a job's status, its audio and its spectrogram."""

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
            return _error(
                409 if job.status != "failed" else 410,
                f"job is {job.status}; no {which} yet" if job.status != "failed" else f"job failed: {job.error}",
            )
        path = job.audio_path if which == "audio" else job.image_path
        if not path.is_file():
            return _error(404, "no such job (evicted)")
        ext = path.suffix
        return FileResponse(path, media_type=media_type, filename=f"text2music-{job.id[:8]}{ext}")

    @app.get(
        "/api/jobs/{job_id}/audio.wav",
        response_class=FileResponse,
        summary="The finished clip (WAV)",
        responses={200: {"content": {"audio/wav": {}}}, 404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    async def get_audio(job_id: str):
        return result_file(job_id, "audio", "audio/wav")

    @app.get(
        "/api/jobs/{job_id}/image.png",
        response_class=FileResponse,
        summary="The finished clip's spectrogram (PNG)",
        responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    async def get_image(job_id: str):
        return result_file(job_id, "image", "image/png")


def create_app(
    pipeline, workers: int = 1, max_queue: int = 8, out_dir: str | Path | None = None, keep: int = 64, max_body: int = MAX_BODY_BYTES
) -> FastAPI:
    """The app around one loaded pipeline (`Text2Music` or anything with its interface).

    Results are files under `out_dir` (default: a new temp folder, deleted at shutdown, see
    `jobs.sweep_stale`); the newest `keep` finished jobs are kept. Request bodies over `max_body`
    bytes get 413."""
    queue = JobQueue(pipeline, workers=workers, max_queue=max_queue, out_dir=out_dir, keep=keep)
    info = api_info(pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        queue.close()

    from text2music import __version__

    app = FastAPI(
        title="text2music",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Text to music on CPU: submit a description, poll the job, fetch the WAV. Limits and defaults: `GET /api/info`.",
    )
    app.state.queue = queue
    app.state.pipeline = pipeline
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit, max_bytes=max_body)

    install_error_handlers(app)
    add_page_routes(app)

    @app.get("/api/info", summary="Model, limits, defaults and queue state")
    async def get_info() -> dict:
        return {**info, "queue": queue.stats()}

    responses = {
        422: {"model": ErrorBody, "description": "invalid input (message names the field)"},
        429: {"model": ErrorBody, "description": "queue full; retry after the Retry-After header's seconds"},
    }

    @app.post(
        "/api/generate",
        status_code=202,
        response_model=JobStatus,
        responses=responses,
        summary="Submit a generation; poll status_url until done",
    )
    async def submit(body: GenerateBody):
        settings = body.settings()
        audio = decode_audio(body.init_audio, pipeline.output_rate(settings))
        duration = plan_request(pipeline, body.text, settings, audio)
        job = queue.submit(body.text, settings, duration=duration, init_audio=audio)
        return JSONResponse(jsonable_encoder(job_status(job, queue)), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})

    @app.post(
        "/api/generate/sync",
        summary=f"Generate a short clip (up to {SYNC_MAX_DURATION:g} s) and answer with the WAV",
        responses={
            **responses,
            200: {"content": {"audio/wav": {}}, "description": "the clip; X-Job-Id names its job"},
            504: {"model": ErrorBody, "description": "still running; poll status_url"},
        },
        response_class=FileResponse,
    )
    async def generate_sync(body: GenerateBody):
        settings = body.settings()
        audio = decode_audio(body.init_audio, pipeline.output_rate(settings))
        duration = plan_request(pipeline, body.text, settings, audio)
        if duration > SYNC_MAX_DURATION:
            name = "bars" if settings.bars is not None else "duration"
            what = f"{settings.bars} bars last {duration:.2f} s; " if name == "bars" else ""
            return _error(
                422,
                f"{name}: {what}at most {SYNC_MAX_DURATION:g} s for a synchronous call; use POST /api/generate for longer clips",
                detail=[{"type": "value_error", "loc": ["body", name], "msg": "too long for a synchronous call"}],
            )
        job = queue.submit(body.text, settings, duration=duration, init_audio=audio)
        deadline = time.monotonic() + SYNC_TIMEOUT
        while not job.done_event.is_set():  # no thread is held while waiting
            if time.monotonic() > deadline:
                return _error(
                    504, "generation is taking longer than expected; poll status_url", id=job.id, status_url=f"/api/jobs/{job.id}"
                )
            await asyncio.sleep(0.05)
        if job.status != "done":
            return _error(500, f"generation failed: {job.error}", id=job.id)
        return FileResponse(job.audio_path, media_type="audio/wav", filename=f"text2music-{job.id[:8]}.wav", headers={"X-Job-Id": job.id})

    add_job_routes(app, queue)
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


def check_port(host: str, port: int) -> None:
    """A one-line error when `host:port` cannot be listened on (in use, or not an address here),
    before the model loads and before anything says "serving"."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ValueError(f"cannot listen on {host}:{port}: {e.strerror or e} (is another server using --port {port}?)") from None


def serve(
    spec=None,
    host: str = "127.0.0.1",
    port: int = 7860,
    workers: int = 1,
    max_queue: int = 8,
    out_dir: str | Path | None = None,
    log_level: str = "info",
) -> None:
    """Load what the ModelSpec `spec` names (None: the bundled model) once and serve the page and
    API until Ctrl-C.

    Results go under `out_dir` (all kept after the server stops), else to a temp folder holding the
    newest results, deleted at shutdown; temp folders of servers that were killed are deleted at the
    next start."""
    import torch
    import uvicorn

    from text2music.generate.pipeline import Text2Music

    check_port(host, port)
    # Each worker's generation gets its share of the cores, less one for the HTTP event loop: torch's
    # OpenMP threads spin while they wait, and on a machine with no core to spare a busy event loop
    # slowed each generation 25-fold (2 cores, 2 torch threads: 5.8 s per job instead of 0.22 s).
    torch.set_num_threads(torch_threads(os.cpu_count() or 1, workers))
    pipeline = Text2Music.from_pretrained(spec)
    app = create_app(pipeline, workers=workers, max_queue=max_queue, out_dir=out_dir)
    if not is_loopback(host):
        log.warning("serving on %s: anyone who can reach this address can use the server (no authentication)", host)
    shown = f"[{host}]" if ":" in host else host
    print(f"text2music: serving {model_info(pipeline)['name']} on http://{shown}:{port}/  (API reference: /docs; Ctrl-C stops)", flush=True)
    if out_dir is not None:
        print(f"text2music: results go to {app.state.queue.out_dir}/ (kept after the server stops)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)

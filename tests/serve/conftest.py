"""Fixtures for the web page and API: tiny random-weight flow models, one without and one with
musical controls (their output is noise, which is all interface tests need), apps around them,
and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import torch

from text2music.features.controls import FRAME_CHANNELS, GLOBAL_CHANNELS
from text2music.features.mel import get_preset
from text2music.generate.pipeline import Text2Music
from text2music.models import build_model, load_pretrained, save_pretrained
from text2music.serve.app import create_app


@pytest.fixture(autouse=True)
def one_torch_thread():
    """As `text2music serve` does on a 2-core machine (see `serve.app.torch_threads`); restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TEXT_INFO = {"encoder": "all-MiniLM-L6-v2", "max_length": 128, "mode": "mixed", "finetuned": False}


def make_tiny_model(folder):
    model = build_model("flow_transformer", d_model=64, heads=2, layers=2, patch=2)
    save_pretrained(folder, model, get_preset("small"), TEXT_INFO)
    return folder


def make_tiny_control_model(folder):
    """A tiny flow model with the control inputs of a model trained with musical controls."""
    model = build_model(
        "flow_transformer", d_model=32, heads=2, layers=1, patch=2, control_frames=FRAME_CHANNELS, control_global=GLOBAL_CHANNELS
    )
    save_pretrained(folder, model, get_preset("small"), TEXT_INFO)
    return folder


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory) -> Text2Music:
    return Text2Music.from_pretrained(make_tiny_model(tmp_path_factory.mktemp("serve") / "tinyflow"))


@pytest.fixture(scope="session")
def tiny_control_pipeline(tmp_path_factory, tiny_pipeline) -> Text2Music:
    """Loaded as `Text2Music.from_pretrained` does, with the text encoder of `tiny_pipeline` (one BERT per session)."""
    folder = make_tiny_control_model(tmp_path_factory.mktemp("serve") / "tinycontrols")
    model, mel, config = load_pretrained(folder)
    pipe = Text2Music(model, tiny_pipeline.encoder, mel, config, path=folder)
    assert pipe.controllable and not tiny_pipeline.controllable
    return pipe


class BlockingPipeline:
    """The tiny pipeline, but each generation waits for `release` (so the queue fills on cue);
    `started` is set when a generation has begun. `fail=True` makes generations raise;
    `report=(done, total)` reports that progress before waiting."""

    def __init__(self, pipe: Text2Music, fail: bool = False, report: tuple[int, int] | None = None):
        self.pipe, self.fail, self.report = pipe, fail, report
        self.release, self.started = threading.Event(), threading.Event()
        self.sample_rate, self.mel, self.config, self.path = pipe.sample_rate, pipe.mel, pipe.config, pipe.path
        self.controllable, self.generative = pipe.controllable, pipe.generative

    def embed(self, texts):
        return self.pipe.embed(texts)

    def plan(self, texts, settings, seeds):
        return self.pipe.plan(texts, settings, seeds)

    def output_rate(self, settings):
        return self.pipe.output_rate(settings)

    def __call__(self, texts, settings=None, *, callback=None, **kwargs):
        self.started.set()
        if self.report is not None and callback is not None:
            callback(*self.report)
        if not self.release.wait(30):
            raise TimeoutError("test never released the pipeline")
        if self.fail:
            raise RuntimeError("boom (test pipeline)")
        return self.pipe(texts, settings, callback=callback, **kwargs)


@pytest.fixture
def make_app(tmp_path):
    """`make_app(pipeline, **kwargs) -> app`; every app's queue is closed after the test."""
    apps = []

    def make(pipeline, **kwargs):
        kwargs.setdefault("out_dir", tmp_path / "results")
        app = create_app(pipeline, **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.queue.close(timeout=10)


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1 at a free port, in a thread."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


@pytest.fixture
def live_server():
    """`live_server(app) -> base URL` of a real uvicorn server; stopped after the test."""
    servers = []

    def start(app) -> str:
        s = ServerThread(app).__enter__()
        servers.append(s)
        return s.url

    yield start
    for s in servers:
        s.__exit__(None, None, None)

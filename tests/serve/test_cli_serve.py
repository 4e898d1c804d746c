"""`text2music serve`: flags, defaults, and a real server process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.serve.conftest import make_tiny_model
from text2music.cli import build_parser, main
from text2music.serve.app import is_loopback


def test_serve_defaults_bind_loopback(capsys):
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.workers, args.max_queue, args.model) == ("127.0.0.1", 7860, 1, 8, None)
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "(default: 127.0.0.1)" in capsys.readouterr().out
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_bad_flags_are_clear_errors(capsys):
    assert main(["serve", "--max-queue", "-1"]) == 2
    assert "--max-queue" in capsys.readouterr().err
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])
    assert "must be positive" in capsys.readouterr().err


def test_out_dir_is_checked_before_the_model_loads_and_handed_to_the_server(tmp_path, monkeypatch, capsys):
    import text2music.serve.app as app

    calls = []
    monkeypatch.setattr(app, "serve", lambda model, **kwargs: calls.append(kwargs))
    assert build_parser().parse_args(["serve"]).out_dir is None
    a_file = tmp_path / "results.txt"
    a_file.write_text("x")
    assert main(["serve", "--out-dir", str(a_file)]) == 2
    assert "--out-dir" in capsys.readouterr().err and not calls
    assert main(["serve", "--out-dir", str(tmp_path / "new" / "results")]) == 0
    assert calls[-1]["out_dir"] == tmp_path / "new" / "results" and (tmp_path / "new" / "results").is_dir()
    assert main(["serve"]) == 0 and calls[-1]["out_dir"] is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_command_runs_a_server(tmp_path):
    model = make_tiny_model(tmp_path / "tinyflow")
    port = free_port()
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "text2music",
            "serve",
            "--model",
            str(model),
            "--port",
            str(port),
            "--max-queue",
            "2",
            "--out-dir",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:
            try:
                info = httpx.get(url + "/api/info", timeout=5).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert info["model"]["name"] == "tinyflow" and info["queue"]["max_queue"] == 2
        r = httpx.post(url + "/api/generate/sync", json={"text": "calm piano", "duration": 1.0, "steps": 2}, timeout=60)
        assert r.status_code == 200 and r.content[:4] == b"RIFF"
        assert (out / r.headers["x-job-id"] / "audio.wav").read_bytes() == r.content
    finally:
        proc.send_signal(signal.SIGINT)
        said = proc.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}/" in said and f"results go to {out}/" in said
    assert proc.returncode in (0, 130), said
    assert (out / r.headers["x-job-id"] / "audio.wav").is_file()  # kept after the server stops


def test_torch_threads_leave_a_core_for_the_event_loop():
    from text2music.serve.app import torch_threads

    assert [torch_threads(c, w) for c, w in [(1, 1), (2, 1), (2, 2), (16, 1), (16, 2), (16, 4)]] == [1, 1, 1, 15, 7, 3]


def test_a_busy_port_is_one_line_before_the_model_loads_or_serving_is_said(capsys, monkeypatch):
    """`serve` on a busy port printed "serving ..." and then failed."""
    import text2music.generate.pipeline as pipeline

    monkeypatch.setattr(pipeline.Text2Music, "from_pretrained", lambda *a, **kw: pytest.fail("the model loaded"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert f"cannot listen on 127.0.0.1:{port}" in captured.err and captured.err.count("\n") == 1
    assert "serving" not in captured.out

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_command_runs_a_server(tmp_path):
    model = make_tiny_model(tmp_path / "tinyflow")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "text2music", "serve", "--model", str(model), "--port", str(port), "--max-queue", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
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
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}/" in out
    assert proc.returncode in (0, 130), out


def test_torch_threads_leave_a_core_for_the_event_loop():
    from text2music.serve.app import torch_threads

    assert [torch_threads(c, w) for c, w in [(1, 1), (2, 1), (2, 2), (16, 1), (16, 2), (16, 4)]] == [1, 1, 1, 15, 7, 3]

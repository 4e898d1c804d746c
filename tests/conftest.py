"""Shared fixtures: small synthetic music made in the test, a local HTTP server for yt-dlp."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def synth_music(sample_rate: int = 22050, seconds: float = 10.0, bpm: float = 120.0, seed: int = 0) -> np.ndarray:
    """A short piece: a I-vi-IV-V progression of harmonic tones with decaying envelopes, a bass
    note per beat and a noise-burst kick on every beat. float32 mono in [-1, 1]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    out = np.zeros(n, dtype=np.float64)
    beat = 60.0 / bpm
    chords = [[60, 64, 67], [57, 60, 64], [53, 57, 60], [55, 59, 62]]  # C Am F G
    t_beat = np.arange(int(beat * sample_rate)) / sample_rate
    env = np.exp(-t_beat * 3.0)
    for b in range(int(seconds / beat)):
        start = int(b * beat * sample_rate)
        chord = chords[(b // 4) % 4]
        seg = np.zeros_like(t_beat)
        for midi in chord + [chord[0] - 24]:
            f0 = 440.0 * 2 ** ((midi - 69) / 12)
            for h in range(1, 6):
                if f0 * h < sample_rate / 2:
                    seg += np.sin(2 * np.pi * f0 * h * t_beat + rng.uniform(0, 2 * np.pi)) / h
        seg *= env * 0.08
        kick = rng.standard_normal(len(t_beat)) * np.exp(-t_beat * 40.0) * 0.2
        stop = min(n, start + len(seg))
        out[start:stop] += (seg + kick)[: stop - start]
    return (out / max(1.0, np.abs(out).max() / 0.9)).astype(np.float32)


@pytest.fixture(scope="session")
def music_22k() -> np.ndarray:
    return synth_music(22050, 10.0)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, sample_rate)
    return path


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (as real media servers have: ffmpeg seeks with it;
    Python's own handler ignores Range and ffmpeg then cuts the wrong section)."""

    delay = 0.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.delay:
            time.sleep(self.delay)
        path = Path(self.translate_path(self.path))
        range_header = self.headers.get("Range", "")
        if not path.is_file() or not range_header.startswith("bytes="):
            return super().do_GET()
        size = path.stat().st_size
        first, _, last = range_header[len("bytes="):].split(",")[0].partition("-")
        start = int(first) if first else max(0, size - int(last))
        end = min(int(last), size - 1) if first and last else size - 1
        if start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            try:
                self.wfile.write(f.read(end - start + 1))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client (ffmpeg) stopped reading once it had its section


@pytest.fixture
def http_server():
    """Start a loopback HTTP server over a folder: `serve(folder, delay=0) -> base URL`."""
    servers = []

    def serve(folder: Path, delay: float = 0.0) -> str:
        handler = type("Handler", (_RangeHandler,), {"delay": delay})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for s in servers:
        s.shutdown()
        s.server_close()

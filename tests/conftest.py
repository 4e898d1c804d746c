"""Shared fixtures: small synthetic music made in the test, a loopback HTTP server for yt-dlp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from text2music.data.musiccaps import Clip, write_clips
from text2music.data.serve_files import serve_directory
from text2music.features.mel import MelConfig
from text2music.features.preprocess import preprocess


def terminate_build(cmd: list[str], audio: Path, once: int, timeout: float = 60.0) -> tuple[int, str]:
    """Start `cmd`, send it SIGTERM once `audio` holds `once` WAVs -> (return code, stderr)."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    while len(list(audio.glob("*.wav"))) < once:
        assert proc.poll() is None and time.time() < deadline, "the build did not start"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


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


@pytest.fixture
def http_server():
    """Start a loopback HTTP server over a folder: `serve(folder, delay=0) -> base URL`."""
    servers = []

    def serve(folder: Path, delay: float = 0.0) -> str:
        server = serve_directory(folder, port=0, delay=delay)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for s in servers:
        s.shutdown()
        s.server_close()


TINY_MEL = MelConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=32, n_frames=64)  # about 1 s
WORDS = ["calm piano", "fast rock with drums", "sad strings", "happy jazz", "slow ambient pad", "loud metal"]


@pytest.fixture(scope="session")
def tiny_features(tmp_path_factory):
    """A preprocessed data folder: 16 train and 4 valid clips of about 1 s, tiny mel config."""
    data = tmp_path_factory.mktemp("tiny")
    clips = []
    for i in range(20):
        ytid = f"t{i:02d}"
        write_wav(data / "audio" / f"{ytid}.wav", synth_music(16000, 1.2, bpm=80 + 10 * i, seed=i), 16000)
        word = WORDS[i % len(WORDS)]
        clips.append(
            Clip(
                ytid=ytid,
                start_s=0,
                end_s=1.2,
                aspects=tuple(word.split()),
                caption=f"A {word} piece, number {i}.",
                split="valid" if i % 5 == 0 else "train",
            )
        )
    write_clips(data / "metadata.csv", clips)
    preprocess(data, TINY_MEL, name="tiny", progress=False)
    return data / "features" / "tiny"


@pytest.fixture(scope="session")
def tiny_synth_features(tmp_path_factory):
    """A synth corpus (ground truth with beat grid and chords) of 16 clips of 2 s, tiny mel config."""
    from text2music.data.synth import build_corpus
    from text2music.data.synth.render import bundled_soundfont

    data = tmp_path_factory.mktemp("tinysynth")
    build_corpus(data, n=16, seed=0, jobs=1, duration=2.0, sample_rate=16000, soundfont=str(bundled_soundfont()), progress=False)
    preprocess(data, TINY_MEL, name="tiny", progress=False)
    return data / "features" / "tiny"

"""`kill -9` of a command that runs worker processes leaves no worker alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from text2music.data.musiccaps import Clip, write_clips

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan may wait for a reaper that never comes)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _kill_mid_work(script: str, started, tmp_path: Path, settle: float = 0.0) -> list[int]:
    """Run `script`, wait until `started()` and its workers exist (then `settle` seconds more), SIGKILL
    it; return the workers still running 5 s later."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not (started() and len(workers := _descendants(proc.pid)) >= 2):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the command did not start its workers"
            time.sleep(0.05)
        time.sleep(settle)
        workers = _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        return [w for w in workers if _running(w)]
    finally:
        for w in workers:  # the test leaves nothing behind, whatever it found
            if _running(w):
                os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_killed_synth_build_leaves_no_worker(tmp_path):
    # long clips at a high sample rate: a worker's chunk of clips takes several seconds
    out = tmp_path / "corpus"
    script = f"""
        from text2music.data.synth.corpus import build_corpus
        from text2music.data.synth.render import bundled_soundfont
        build_corpus({str(out)!r}, n=2000, jobs=2, duration=30, sample_rate=96000, soundfont=bundled_soundfont(),
                     progress=False)
    """
    left = _kill_mid_work(script, lambda: any((out / "audio").glob("*.wav")), tmp_path)
    assert not left, f"workers {left} outlived the killed build"


def test_killed_preprocess_leaves_no_worker(tmp_path):
    data = tmp_path / "data"
    (data / "audio").mkdir(parents=True)
    rng = np.random.default_rng(0)
    long_wav = tmp_path / "long.wav"  # every clip is this 10-minute file: each takes a while
    sf.write(long_wav, (0.1 * rng.standard_normal(600 * 16000)).astype(np.float32), 16000, subtype="PCM_16")
    for i in range(200):
        (data / "audio" / f"c{i:04d}.wav").symlink_to(long_wav)
    write_clips(
        data / "metadata.csv", [Clip(ytid=f"c{i:04d}", start_s=0, end_s=10, aspects=("noise",), caption="noise") for i in range(200)]
    )
    script = f"""
        from text2music.features.mel import get_preset
        from text2music.features.preprocess import preprocess
        preprocess({str(data)!r}, get_preset("small"), "small", jobs=2, progress=False)
    """
    left = _kill_mid_work(script, lambda: True, tmp_path, settle=1.0)
    assert not left, f"workers {left} outlived the killed preprocess"


def test_ctrl_c_to_the_whole_group_stops_a_build_cleanly(tmp_path):
    """Ctrl-C in a terminal (or `kill -- -PGID`) reaches the workers too: the build still stops,
    without a hang, a worker left running or a half-written file."""
    from text2music.data.synth.render import bundled_soundfont

    out = tmp_path / "corpus"
    cmd = [sys.executable, "-m", "text2music", "data", "synth", "--n", "400", "--out", str(out), "--jobs", "2", "--quiet"]
    proc = subprocess.Popen(
        [*cmd, "--soundfont", str(bundled_soundfont())], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (any((out / "audio").glob("*.wav")) and len(workers := _descendants(proc.pid)) >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, "the build did not start its workers"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode in (130, -signal.SIGINT), err.decode()[-2000:]
    assert not [w for w in workers if _running(w)]
    assert not [p for p in out.rglob(".*") if p.is_file()]

"""yt-dlp runs for real against a loopback HTTP server serving WAV files made here."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import synth_music, write_wav
from text2music.data.download import DownloadConfig, classify_failure, download_musiccaps, load_states, summarize
from text2music.data.musiccaps import COLUMNS


def make_source(tmp_path, ids, seconds=8.0, sample_rate=44100):
    """WAV files to serve, and a MusicCaps-schema CSV asking for [1, 4] s of each id."""
    served = tmp_path / "served"
    for i, ytid in enumerate(ids):
        write_wav(served / f"{ytid}.wav", synth_music(sample_rate, seconds, seed=i), sample_rate)
    csv = tmp_path / "captions.csv"
    rows = [",".join(COLUMNS)] + [f"{y},1,4,,\"['piano']\",a piano clip {y},0,False,False" for y in ids]
    csv.write_text("\n".join(rows) + "\n")
    return served, csv


def test_download_sections_and_record_failures(tmp_path, http_server):
    served, csv = make_source(tmp_path, ["vidA", "vidB", "gone"])
    (served / "gone.wav").unlink()
    url = http_server(served) + "/{ytid}.wav"
    out = tmp_path / "data"
    summary = download_musiccaps(csv, out, DownloadConfig(url_template=url, jobs=2, sample_rate=16000, progress=False))
    assert summary["done"] == 2 and summary["failed_by_reason"] == {"not_found": 1} and summary["pending"] == 0
    assert summary["hours"] == pytest.approx(6 / 3600, abs=1e-4)
    for ytid in ["vidA", "vidB"]:
        info = sf.info(out / "audio" / f"{ytid}.wav")
        assert info.samplerate == 16000 and info.channels == 1
        assert abs(info.frames / info.samplerate - 3.0) < 0.05
    assert not (out / "audio" / "gone.wav").exists()
    assert (out / "metadata.csv").exists() and (out / "download.log").exists()
    # the section really is [1, 4] s of the source: compare against the source cut
    src, sr = sf.read(served / "vidA.wav")
    got, _ = sf.read(out / "audio" / "vidA.wav")
    import librosa

    ref = librosa.resample(y=src[sr : 4 * sr], orig_sr=sr, target_sr=16000)
    n = min(len(ref), len(got)) - 400
    corr = np.corrcoef(ref[200:n], got[200:n])[0, 1]
    assert corr > 0.95, f"downloaded section does not match the source cut (r={corr:.3f})"

    # resume: nothing is downloaded again; failures stay failed until --retry-failed
    lines = (out / "manifest.jsonl").read_text().count("\n")
    assert download_musiccaps(csv, out, DownloadConfig(url_template=url, progress=False))["done"] == 2
    assert (out / "manifest.jsonl").read_text().count("\n") == lines
    write_wav(served / "gone.wav", synth_music(44100, 8.0), 44100)
    assert download_musiccaps(csv, out, DownloadConfig(url_template=url, progress=False))["failed"] == 1
    summary = download_musiccaps(csv, out, DownloadConfig(url_template=url, retry_failed=True, progress=False))
    assert summary["done"] == 3 and summary["failed"] == 0


def test_adopts_finished_wav_without_manifest_line(tmp_path, http_server):
    served, csv = make_source(tmp_path, ["one"])
    out = tmp_path / "data"
    write_wav(out / "audio" / "one.wav", np.zeros(3 * 22050, np.float32), 22050)
    # an unreachable server proves nothing is fetched
    summary = download_musiccaps(csv, out, DownloadConfig(url_template="http://127.0.0.1:9/{ytid}", progress=False))
    assert summary["done"] == 1 and load_states(out / "manifest.jsonl")["one"]["state"] == "done"


def deliverable_sigint() -> None:
    """In the child, Ctrl-C as a terminal delivers it: not blocked, default disposition. A child inherits
    its parent's signal mask and ignored signals, and after some earlier tests of the full suite the
    command's SIGINT never arrived (it finished with status 0 instead of 130)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_loses_nothing_and_resumes(tmp_path, http_server, sig):
    ids = [f"clip{i:02d}" for i in range(8)]
    served, csv = make_source(tmp_path, ids, seconds=5.0)
    url = http_server(served, delay=0.3) + "/{ytid}.wav"
    out = tmp_path / "data"
    cmd = [
        sys.executable,
        "-m",
        "text2music",
        "data",
        "musiccaps",
        "--csv",
        str(csv),
        "--out",
        str(out),
        "--url-template",
        url,
        "--jobs",
        "1",
        "--quiet",
    ]
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}  # where the run keeps its ffmpeg link
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=deliverable_sigint, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        if (out / "manifest.jsonl").exists() and (out / "manifest.jsonl").read_text().count('"done"') >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "resume" in err
        assert not any((tmp_path / "tmp").iterdir())  # Ctrl-C removes the run's temp folder
    states = load_states(out / "manifest.jsonl")
    done = {y for y, r in states.items() if r["state"] == "done"}
    assert 2 <= len(done) < len(ids)
    for wav in (out / "audio").glob("*.wav"):  # every WAV in place is whole
        assert sf.info(wav).frames >= 2.9 * 22050
    assert {p.stem for p in (out / "audio").glob("*.wav")} >= done
    # the same command again finishes the job
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, env=env)
    summary = summarize(out)
    assert summary["done"] == len(ids) and summary["pending"] == 0
    assert not any((out / "audio" / ".partial").glob("*"))
    assert not any((tmp_path / "tmp").iterdir())  # what the killed run left there is swept


def test_terminated_run_leaves_no_temp_files(tmp_path, http_server):
    served, csv = make_source(tmp_path, ["one", "two", "three"], seconds=5.0)
    url = http_server(served, delay=1.0) + "/{ytid}.wav"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cmd = [sys.executable, "-m", "text2music", "data", "musiccaps", "--csv", str(csv), "--out", str(tmp_path / "data")]
    cmd += ["--url-template", url, "--jobs", "2", "--quiet"]
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=deliverable_sigint, env=env)
    deadline = time.time() + 60
    while not (any(tmp.glob("text2music-ffmpeg.*")) and any((tmp_path / "data" / "audio" / ".partial").glob("*"))):
        assert proc.poll() is None and time.time() < deadline, "the download did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, -signal.SIGINT) and "resume" in err  # either is the shell's 130
    assert not any(tmp.iterdir()) and not any((tmp_path / "data" / "audio" / ".partial").glob("*"))


def test_failure_reasons():
    assert classify_failure("ERROR: [youtube] abc: Private video. Sign in if you've been granted access") == "private"
    assert classify_failure("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader") == "unavailable"
    assert classify_failure("The uploader has not made this video available in your country") == "region_blocked"
    assert classify_failure("HTTP Error 404: Not Found") == "not_found"
    assert classify_failure("something odd") == "error"


def test_bad_arguments(tmp_path):
    _, csv = make_source(tmp_path, ["x"])
    with pytest.raises(ValueError, match="ytid"):
        download_musiccaps(csv, tmp_path / "o", DownloadConfig(url_template="http://127.0.0.1/fixed"))
    with pytest.raises(ValueError, match="jobs"):
        download_musiccaps(csv, tmp_path / "o", DownloadConfig(jobs=0))

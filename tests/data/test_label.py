"""Beat grids and chords for imported clips: `data import` writes them, `data label` adds them later."""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import synth_music
from text2music.cli import main
from text2music.data import audio_import, label
from text2music.data.audio_import import ImportConfig, import_audio, label_corpus
from text2music.features.controls import MusicalControls, frame_controls
from text2music.utils import read_jsonl

SR = 22050
CFG = ImportConfig(clip_seconds=4.0, sample_rate=SR, min_track_seconds=4.0)
FIELDS = ("beats", "downbeats", "beat_offset", "meter", "chord_slots", "labels")
needs_beatnet = pytest.mark.skipif(importlib.util.find_spec("BeatNet") is None, reason="BeatNet is not installed")


@pytest.fixture
def music(tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for k, bpm in enumerate((100.0, 132.0)):
        sf.write(folder / f"piece{k}.wav", synth_music(SR, 8.0, bpm=bpm, seed=k), SR)
    return folder


def check_labelled(row: dict) -> None:
    assert all(f in row for f in FIELDS) and row["labels"] == label.LABELS_VERSION
    assert row["meter"] in ("3/4", "4/4") and len(row["beats"]) >= 4 and row["chord_slots"]
    assert f"at {int(round(row['bpm']))} BPM" in row["caption"] and f"{int(round(row['bpm']))} bpm" in row["aspects"]
    frames = frame_controls(MusicalControls.from_record(row), 100, 25.0)
    assert frames[0].min() == 1.0 and frames[7].min() == 1.0  # a grid and chords, as a synthetic clip has


@needs_beatnet
def test_import_writes_beat_grids_and_chords(tmp_path, music):
    summary = import_audio([music], tmp_path / "corpus", CFG, progress=False)
    assert summary["labels"] == label.LABELS_VERSION
    rows = read_jsonl(tmp_path / "corpus" / "manifest.jsonl")
    assert len(rows) == 4
    for row in rows:
        check_labelled(row)
    slow = [r for r in rows if r["source"].endswith("piece0.wav")]
    assert all(abs(r["bpm"] / 100.0 - 1) < 0.04 for r in slow), [r["bpm"] for r in slow]


@needs_beatnet
def test_label_adds_labels_and_resumes_skipping_labelled_clips(tmp_path, music, monkeypatch, capsys, caplog):
    out = tmp_path / "corpus"
    monkeypatch.setattr(audio_import, "beatnet_installed", lambda: False)  # an import made where BeatNet was missing
    summary = import_audio([music], out, CFG, progress=False)
    assert summary["labels"].startswith("none") and "BeatNet is not installed" in caplog.text
    monkeypatch.undo()
    before = read_jsonl(out / "manifest.jsonl")
    assert not any("beats" in r for r in before)

    assert main(["data", "label", "--data", str(out), "--quiet", "--jobs", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["labelled_now"] == 4 and summary["labelled"] == 4
    rows = read_jsonl(out / "manifest.jsonl")
    for row, old in zip(rows, before):
        check_labelled(row)
        assert row["bpm_librosa"] == old["bpm"] and row["clip_id"] == old["clip_id"]
    assert json.loads((out / "labels.json").read_text())["labelled"] == 4
    assert len((out / "metadata.csv").read_text().splitlines()) == 5

    # one file's clips lose their labels: only they are labelled again
    sources = sorted((out / "sources").glob("*.json"))
    src = json.loads(sources[0].read_text())
    src["clips"] = [{k: v for k, v in r.items() if k != "labels"} for r in src["clips"]]
    sources[0].write_text(json.dumps(src))
    untouched = sources[1].stat().st_mtime_ns
    summary = label_corpus(out, progress=False)
    assert summary["labelled_now"] == len(src["clips"]) == 2 and summary["already_labelled"] == 2
    assert sources[1].stat().st_mtime_ns == untouched
    assert label_corpus(out, progress=False)["labelled_now"] == 0


@pytest.mark.parametrize(
    "make,says",
    [
        (lambda d: None, "no such folder"),
        (lambda d: d.mkdir(), "no manifest.jsonl"),
        (lambda d: (d.mkdir(), (d / "manifest.jsonl").write_text("{}\n")), "not a `data import` corpus"),
    ],
)
def test_label_bad_input_is_one_line(tmp_path, capsys, make, says):
    data = tmp_path / "corpus"
    make(data)
    assert main(["data", "label", "--data", str(data), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("text2music: error: --data ") and says in err and err.count("\n") == 1
    assert not (data / "text2music.log").exists() or says != "no such folder"


def test_with_labels_rewrites_only_the_tempo_of_the_caption():
    facts = {
        "instruments": ["piano"],
        "genres": [],
        "mood": None,
        "vocals": False,
        "bpm": 61.0,
        "key": "D",
        "mode": "minor",
        "drums": False,
        "drum_activity": 0.01,
        "loudness_dbfs": -20.0,
    }
    from text2music.data.autocaption import ClipFacts, write_caption

    caption, aspects = write_caption(ClipFacts(**{**facts, "instruments": ("piano",), "genres": ()}), "calm", label.caption_rng("x-1"))
    row = {"clip_id": "x-1", **facts, "caption": caption, "aspects": aspects}
    new = label.with_labels(row, {"bpm": 122.0, "meter": "4/4", "beats": [], "labels": "v"}, "calm")
    assert new["bpm"] == 122.0 and new["bpm_librosa"] == 61.0
    assert new["caption"] == re.sub(r"slow at 61 BPM", "medium at 122 BPM", caption)
    assert "122 bpm" in new["aspects"] and "61 bpm" not in new["aspects"]
    assert np.all([k in new for k in ("meter", "labels")])


@needs_beatnet
def test_terminated_label_leaves_the_manifest_whole_and_resumes(tmp_path, monkeypatch):
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "music"
    folder.mkdir()
    for k in range(8):
        sf.write(folder / f"song{k}.wav", synth_music(SR, 4.0, bpm=90.0 + 7 * k, seed=k), SR)
    out = tmp_path / "corpus"
    monkeypatch.setattr(audio_import, "beatnet_installed", lambda: False)
    import_audio([folder], out, CFG, progress=False)
    monkeypatch.undo()
    manifest = (out / "manifest.jsonl").read_bytes()

    cmd = [sys.executable, "-m", "text2music", "data", "label", "--data", str(out), "--jobs", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not any('"labels"' in p.read_text() for p in (out / "sources").glob("*.json")):  # the first file is labelled
        assert proc.poll() is None and time.time() < deadline, "labelling did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (130, -signal.SIGINT) and "resume" in err
    assert (out / "manifest.jsonl").read_bytes() == manifest  # rewritten only when a run ends
    assert not [p for p in out.rglob(".*") if p.is_file()]
    summary = label_corpus(out, progress=False)
    assert summary["already_labelled"] >= 1 and summary["labelled"] == 8

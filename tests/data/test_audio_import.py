"""data import: any audio files -> a captioned corpus (formats, silence, repeats, splits, resume, errors)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import synth_music
from text2music.cli import main
from text2music.data.audio_import import (
    ImportConfig,
    cut_clips,
    file_hash,
    find_audio,
    fingerprint,
    import_audio,
    name_words,
    read_audio,
    read_descriptions,
    similarity,
)
from text2music.data.corpus_folder import split_of
from text2music.data.download import find_ffmpeg
from text2music.data.musiccaps import read_clips
from text2music.utils import read_jsonl

SR = 22050
CFG = ImportConfig(clip_seconds=4.0, sample_rate=SR, min_track_seconds=4.0)


def piece(seconds: float, seed: int, bpm: float = 120.0) -> np.ndarray:
    """Music that changes over time: sections at different tempi and levels (no two 4-s clips alike)."""
    parts = [synth_music(SR, 4.0, bpm=bpm + 17 * k, seed=seed * 10 + k) * (0.5 + 0.1 * k) for k in range(int(seconds // 4))]
    return np.concatenate(parts)


def test_fingerprint_finds_a_repeat_at_any_phase_and_tells_passages_apart():
    a = piece(12.0, 1)
    looped = np.concatenate([a, a])
    first = fingerprint(looped[: 4 * SR], SR)
    shifted = fingerprint(looped[int(13.3 * SR) : int(17.3 * SR)], SR)  # the same music 1.3 s later in the loop
    other = fingerprint(piece(4.0, 7, bpm=83), SR)
    assert similarity(first, shifted) > 0.9
    assert similarity(first, other) < 0.8


def test_cut_clips_skips_silence_and_repeats():
    loop = piece(8.0, 2)
    audio = np.concatenate([loop, loop, np.zeros(4 * SR, np.float32), piece(4.0, 3, bpm=71)])
    kept, skipped = cut_clips(audio, CFG)
    assert [i for i, _ in kept] == [0, 1, 5]  # clips 2 and 3 repeat 0 and 1; clip 4 is silence
    assert skipped == {"duplicate": 2, "silence": 1}


def encode(src, dst):
    """Re-encode with ffmpeg (formats soundfile cannot write)."""
    subprocess.run([find_ffmpeg(None), "-v", "error", "-y", "-i", str(src), str(dst)], check=True)


@pytest.fixture(scope="module")
def music_folder(tmp_path_factory):
    """Four tracks in four formats (one of them only ffmpeg reads), a copy of one, a broken file, a sound effect."""
    root = tmp_path_factory.mktemp("music")
    (root / "album").mkdir()
    sf.write(root / "album" / "battle_theme.wav", piece(12.0, 11), SR)
    sf.write(root / "album" / "calm.flac", piece(12.0, 12, bpm=70), SR)
    sf.write(root / "town.ogg", piece(12.0, 13, bpm=100), SR, format="OGG", subtype="VORBIS")
    encode(root / "album" / "battle_theme.wav", root / "tmp.wav")
    sf.write(root / "tmp.wav", piece(12.0, 14, bpm=140), SR)
    encode(root / "tmp.wav", root / "march.m4a")
    (root / "tmp.wav").unlink()
    shutil.copy(root / "town.ogg", root / "album" / "town_copy.ogg")
    (root / "broken.ogg").write_bytes(b"OggS but not really" * 100)
    sf.write(root / "blip.wav", piece(4.0, 15)[: SR // 2], SR)  # a sound effect: under min_track_seconds
    (root / "notes.txt").write_text("not audio")
    return root


@pytest.fixture(scope="module")
def imported(music_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    summary = import_audio([music_folder], out, CFG, jobs=2, describe="fantasy game soundtrack", progress=False)
    return out, summary


def test_find_audio_takes_audio_suffixes_in_folders(music_folder):
    names = sorted(p.name for p in find_audio([music_folder]))
    assert names == ["battle_theme.wav", "blip.wav", "broken.ogg", "calm.flac", "march.m4a", "town.ogg", "town_copy.ogg"]
    with pytest.raises(FileNotFoundError, match="nope"):
        find_audio([music_folder / "nope"])


def test_read_audio_decodes_every_format(music_folder):
    for name in ("album/battle_theme.wav", "album/calm.flac", "town.ogg", "march.m4a"):
        y = read_audio(music_folder / name, 16000)
        assert y.dtype == np.float32 and abs(len(y) / 16000 - 12.0) < 0.1, name


def test_import_writes_a_corpus_of_captioned_clips(imported):
    out, summary = imported
    assert summary["imported"] == 4 + 1 and summary["failed"] == 1  # the copy is imported once; blip has no clip
    assert summary["already_there"] == 1
    records = read_jsonl(out / "manifest.jsonl")
    clips = read_clips(out / "metadata.csv")
    assert [c.ytid for c in clips] == [r["clip_id"] for r in records] and len(records) == 4 * 3
    for r in records:
        assert (out / r["audio"]).is_file()
        info = sf.info(out / r["audio"])
        assert info.samplerate == SR and abs(info.duration - 4.0) < 1e-3
        assert r["caption"].startswith("Fantasy game soundtrack")
        assert f"{int(round(r['bpm']))} BPM" in r["caption"] and f"{r['key']} {r['mode']}" in r["caption"]
    by_source = {}
    for r in records:
        by_source.setdefault(r["source_sha1"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_source.values())  # one track never in two splits
    failures = read_jsonl(out / "failures.jsonl")
    assert [f["file"].rsplit("/", 1)[-1] for f in failures] == ["broken.ogg"] and failures[0]["error"]


def test_import_resumes_and_adds_files(imported, music_folder, tmp_path):
    out, _ = imported
    again = import_audio([music_folder], out, CFG, jobs=1, progress=False)
    assert again["imported"] == 0 and again["clips"] == 12
    extra = tmp_path / "new.wav"
    sf.write(extra, piece(8.0, 21, bpm=90), SR)
    more = import_audio([extra], out, CFG, jobs=1, progress=False)
    assert more["imported"] == 1 and more["clips"] == 14
    with pytest.raises(ValueError, match="other settings.*clip_seconds"):
        import_audio([extra], out, ImportConfig(clip_seconds=5.0), progress=False)


def test_descriptions_csv_and_names(tmp_path, music_folder):
    csv = tmp_path / "desc.csv"
    csv.write_text(f"file,description\n{music_folder / 'town.ogg'},medieval town music\n")
    out = tmp_path / "corpus"
    import_audio([music_folder / "town.ogg", music_folder / "album"], out, CFG, descriptions=csv, names=True, progress=False)
    captions = {r["source"].rsplit("/", 1)[-1]: r["caption"] for r in read_jsonl(out / "manifest.jsonl")}
    assert captions["town.ogg"].startswith("Medieval town music, town:")
    assert captions["battle_theme.wav"].startswith("Album battle theme:")
    assert name_words(music_folder / "music" / "track_07.ogg") == ""
    bad = tmp_path / "bad.csv"
    bad.write_text("file,description\nx.ogg,\n")
    with pytest.raises(ValueError, match="bad.csv, row 2"):
        read_descriptions(bad)


def test_cli_import_errors_are_one_line(tmp_path, capsys):
    assert main(["data", "import", str(tmp_path / "missing"), "--out", str(tmp_path / "c")]) == 2
    assert "missing: no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["data", "import", str(tmp_path / "empty"), "--out", str(tmp_path / "c")]) == 2
    assert "no audio files" in capsys.readouterr().err
    assert main(["data", "import", str(tmp_path / "empty"), "--out", str(tmp_path / "c"), "--clip-seconds", "0.5"]) == 2
    assert "--clip-seconds" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_cli_import_smoke(tmp_path, capsys):
    sf.write(tmp_path / "song.wav", piece(8.0, 31), SR)
    assert (
        main(
            [
                "data",
                "import",
                str(tmp_path / "song.wav"),
                "--out",
                str(tmp_path / "c"),
                "--clip-seconds",
                "4",
                "--min-seconds",
                "4",
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["clips"] == 2 and summary["x_real_time"] > 0


def test_cli_import_without_labels_writes_audio_and_captions_only(tmp_path, capsys):
    sf.write(tmp_path / "song.wav", piece(8.0, 31), SR)
    args = ["data", "import", str(tmp_path / "song.wav"), "--out", str(tmp_path / "c"), "--clip-seconds", "4", "--min-seconds", "4"]
    assert main([*args, "--no-labels", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["clips"] == 2 and summary["labels"] == "none: --no-labels (add them with `data label`)"
    rows = [json.loads(line) for line in (tmp_path / "c" / "manifest.jsonl").read_text().splitlines()]
    assert all(r["caption"] and "beats" not in r for r in rows)


def test_cli_import_names_an_undecodable_file_in_one_line_without_decoder_noise(tmp_path, capfd):
    mp3 = tmp_path / "in" / "bad.mp3"
    mp3.parent.mkdir()
    mp3.write_bytes(np.random.default_rng(0).bytes(50_000))  # makes libmpg123 print "Note: Illegal Audio-MPEG-Header ..."
    assert main(["data", "import", str(mp3.parent), "--out", str(tmp_path / "c"), "--jobs", "1", "--quiet"]) == 0
    err = capfd.readouterr().err
    assert err.strip().splitlines() == [
        f"WARNING: import: {mp3}: cannot be decoded as audio (ffmpeg: Invalid data found when processing input)"
    ]
    assert "bad.mp3" in (tmp_path / "c" / "text2music.log").read_text()  # the decoders' own words go to the log
    [failure] = read_jsonl(tmp_path / "c" / "failures.jsonl")
    assert "cannot be decoded" in failure["error"] and "does not exist" not in failure["error"]


def test_names_keep_letters_of_any_script():
    assert name_words(Path("Ëlven Çhoir/Ünder.flac")) == "ëlven çhoir ünder"
    assert name_words(Path("музыка/Битва_02.ogg")) == "музыка битва"
    assert name_words(Path("album/BattleTheme_02.ogg")) == "album battle theme"
    assert name_words(Path("music/track_07.ogg")) == ""


def test_import_says_per_file_why_it_gave_no_clips(tmp_path, capfd):
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "blip.wav", piece(4.0, 41)[:SR], SR)
    sf.write(tmp_path / "in" / "quiet.wav", np.zeros(9 * SR, np.float32), SR)
    out = tmp_path / "c"
    args = ["data", "import", str(tmp_path / "in"), "--out", str(out), "--clip-seconds", "4", "--min-seconds", "4", "--jobs", "1"]
    assert main([*args, "--quiet"]) == 0
    captured = capfd.readouterr()
    summary = json.loads(captured.out)
    assert summary["imported"] == 2 and summary["clips"] == 0
    reasons = summary["no_clips"]
    assert reasons[str(tmp_path / "in" / "blip.wav")] == "1.0 s long, shorter than --min-seconds 4"
    assert reasons[str(tmp_path / "in" / "quiet.wav")] == "silent: its 2 clips are mostly quieter than -55 dBFS"
    for file, why in reasons.items():
        assert f"{file} gave no clips: {why}" in captured.err


def test_resume_sweeps_the_temp_files_of_a_killed_import(tmp_path):
    sf.write(tmp_path / "blip.wav", piece(4.0, 42)[:SR], SR)
    out = tmp_path / "c"
    import_audio([tmp_path / "blip.wav"], out, CFG, progress=False)
    dead = 2**22 + 1  # no process has this id: kill -9 left these
    stale = [out / "audio" / f".x-0000-000.wav.{dead}.a1.tmp.wav", out / "sources" / f".abc.json.{dead}.b2.tmp.json"]
    for f in stale:
        f.write_bytes(b"half written")
    import_audio([tmp_path / "blip.wav"], out, CFG, progress=False)
    assert not any(f.exists() for f in stale)


def test_terminated_import_leaves_no_temp_file(tmp_path):
    import signal
    import sys
    import time

    (tmp_path / "in").mkdir()
    for i in range(12):
        sf.write(tmp_path / "in" / f"song{i:02d}.wav", piece(4.0, 50 + i), SR)
    out = tmp_path / "c"
    cmd = [sys.executable, "-m", "text2music", "data", "import", str(tmp_path / "in"), "--out", str(out), "--jobs", "1"]
    proc = subprocess.Popen(
        [*cmd, "--clip-seconds", "4", "--min-seconds", "4", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not any((out / "sources").glob("*.json")):  # the first file is done: the judges are loaded, numba has compiled
        assert proc.poll() is None and time.time() < deadline, "the import did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    # 130, or ended by SIGINT after main returned 130 (a shell shows 130 for both): seen when the signal lands inside librosa/numba
    assert proc.returncode in (130, -signal.SIGINT) and "resume" in err
    assert not [p for p in out.rglob(".*") if p.is_file()]


def test_import_of_some_splits_then_the_rest(tmp_path, capsys):
    files = []
    for i in range(4):
        files.append(tmp_path / f"track{i}.wav")
        sf.write(files[-1], piece(8.0, 30 + i, bpm=90 + 10 * i), SR)
    splits = {f.name: split_of(file_hash(f)) for f in files}
    wanted = splits["track0.wav"]
    out = tmp_path / "corpus"
    some = import_audio(files, out, CFG, progress=False, labels=False, splits=(wanted,))
    assert some["imported"] == sum(s == wanted for s in splits.values()) and set(some["splits"]) == {wanted}
    rest = import_audio(files, out, CFG, progress=False, labels=False)
    assert rest["imported"] == 4 - some["imported"] and rest["already_there"] == some["imported"]
    assert rest["splits"] == dict(Counter(r["split"] for r in read_jsonl(out / "manifest.jsonl")))
    with pytest.raises(ValueError, match="unknown split 'tst'"):
        import_audio(files, out, CFG, progress=False, splits=("tst",))
    with pytest.raises(SystemExit):
        main(["data", "import", str(files[0]), "--out", str(tmp_path / "c"), "--splits", "test,tst"])
    assert "unknown split 'tst'" in capsys.readouterr().err and not (tmp_path / "c").exists()


def test_workers_start_with_librosas_kernels_compiled_by_the_parent():
    """Workers that compile librosa's cached numba kernels together can crash (numba#10128); the parent
    compiles them before the pool forks, so every worker holds them from its start."""
    code = (
        "import sys\n"
        "from text2music.data.audio_import import run_tasks\n"
        "def probe(_):\n"
        "    return 'librosa.beat' in sys.modules\n"
        "assert 'librosa.beat' not in sys.modules\n"
        "print(sorted(run_tasks([1, 2, 3], 2, probe)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "[True, True, True]"

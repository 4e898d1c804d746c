"""The studio corpus (`data synth --production studio`): sound sources drawn per clip and recorded,
sampled drum kits, a humanised performance, stereo clips; deterministic and resumable. Runs with
the bundled TimGM6mb and a tiny drum kit made here; the installed Debian sounds are checked when present."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from text2music.data.synth import GENRES, build_corpus
from text2music.data.synth.compose import Feel, Note, compose, part_role, sample_song
from text2music.data.synth.corpus import clip_rngs
from text2music.data.synth.drumkits import DrumKitBank, read_drumkit
from text2music.data.synth.render import SYSTEM_SOUNDFONTS, bundled_soundfont, installed_soundfonts
from text2music.production import ProductionPlan

SF = str(bundled_soundfont())
N, DURATION, SR = 10, 3.0, 16000
KIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Tiny Test Kit</name>
 <instrumentList>
  <instrument><name>Kick</name><volume>1</volume><pan_L>1</pan_L><pan_R>1</pan_R>
   <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
   <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><name>Snare Rock</name><volume>0.9</volume><pan_L>1</pan_L><pan_R>0.6</pan_R>
   <layer><filename>snare.flac</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
  <instrument><name>Closed HH</name><volume>0.7</volume><pan_L>0.6</pan_L><pan_R>1</pan_R>
   <layer><filename>hat.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
  <instrument><name>Open HH</name><filename>open_hat.wav</filename><volume>0.7</volume></instrument>
 </instrumentList>
</drumkit_info>
"""


def make_kit(folder: Path, xml: str = KIT_XML) -> Path:
    """A Hydrogen kit of synthetic samples at 44.1 kHz: kicks are decaying sines (the hard one
    an octave up, so a test can tell the layers apart), snare and hats noise bursts."""
    folder.mkdir(parents=True, exist_ok=True)
    sr, rng = 44100, np.random.default_rng(0)
    t = np.arange(int(0.3 * sr)) / sr
    decay = np.exp(-t * 20)
    samples = {
        "kick_soft.wav": np.sin(2 * np.pi * 55 * t) * decay,
        "kick_hard.wav": np.sin(2 * np.pi * 110 * t) * decay,
        "snare.flac": rng.normal(0, 0.3, len(t)) * decay,
        "hat.wav": rng.normal(0, 0.2, len(t)) * np.exp(-t * 60),
        "open_hat.wav": rng.normal(0, 0.2, 3 * len(t)) * np.exp(-np.arange(3 * len(t)) / sr * 4),
    }
    for name, audio in samples.items():
        sf.write(folder / name, audio.astype(np.float32), sr)
    (folder / "drumkit.xml").write_text(xml)
    return folder


@pytest.fixture(scope="module")
def kits(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kits")
    make_kit(root / "tiny")
    electro = KIT_XML.replace("Tiny Test Kit", "Tiny Electro").replace(
        "<instrumentList>", "<info>All sounds synthesized.</info><instrumentList>"
    )
    make_kit(root / "electro", electro)
    make_kit(root / "no_hat", KIT_XML.replace("Tiny Test Kit", "No Hat").replace("Closed HH", "Shaker").replace("Open HH", "Bell"))
    return root


@pytest.fixture(scope="module")
def studio(tmp_path_factory, kits) -> Path:
    out = tmp_path_factory.mktemp("studio") / "corpus"
    settings = {"n": N, "seed": 3, "duration": DURATION, "sample_rate": SR, "soundfont": SF, "production": "studio", "drumkits": kits}
    build_corpus(out, jobs=2, **settings, progress=False)
    return out


@pytest.fixture(scope="module")
def rows(studio) -> list[dict]:
    return [json.loads(line) for line in (studio / "manifest.jsonl").read_text().splitlines()]


def test_studio_clips_are_stereo_and_record_their_sources(studio, rows):
    config = json.loads((studio / "corpus.json").read_text())
    assert (config["production"], config["version"]) == ("studio", "synth-2")
    assert [s["name"] for s in config["soundfonts"]] == ["TimGM6mb.sf2"]
    assert [k["name"] for k in config["drum_kits"]] == ["Tiny Electro", "Tiny Test Kit"]  # the kit without a hi-hat is not used
    assert len(rows) == N and any(r["drums"] for r in rows) and not all(r["drums"] for r in rows)
    assert {"808", "standard"} <= {r["drum_kit"] for r in rows}  # electronic and acoustic drums both occur
    for r in rows:
        info = sf.info(studio / r["audio"])
        assert (info.channels, info.samplerate, info.frames) == (2, SR, int(DURATION * SR))
        assert r["soundfont"] == "TimGM6mb.sf2"
        kit = ("Tiny Electro" if r["drum_kit"] in ("electronic", "808") else "Tiny Test Kit") if r["drums"] else None
        assert r["drum_kit_samples"] == kit  # an electronic kit where the composer chose one, else acoustic
        assert r["production"]["style"] == r["genre"]
        assert ProductionPlan.from_dict(r["production"]).as_dict() == r["production"]  # the plan the clip was produced with
        y, _ = sf.read(studio / r["audio"])
        assert np.abs(y).max() <= 1.0 and np.sqrt(np.mean(y**2)) > 1e-3
        assert np.abs(y[:, 0] - y[:, 1]).max() > 1e-3  # parts are placed in the stereo field


def test_studio_corpus_is_the_same_for_any_jobs(studio, kits, tmp_path):
    again = tmp_path / "again"
    build_corpus(
        again, n=N, seed=3, jobs=1, duration=DURATION, sample_rate=SR, soundfont=SF, production="studio", drumkits=kits, progress=False
    )
    for name in ("metadata.csv", "manifest.jsonl", "corpus.json", *(f"audio/synth-{i:06d}.wav" for i in range(N))):
        assert (again / name).read_bytes() == (studio / name).read_bytes(), name


def test_studio_keeps_the_nominal_grid_and_the_plain_attributes(studio, rows, tmp_path):
    """The song, its beats, downbeats and chords are the plain corpus's: the performance moves notes, not the grid."""
    plain = tmp_path / "plain"
    build_corpus(plain, n=N, seed=3, duration=DURATION, sample_rate=SR, soundfont=SF, progress=False)
    plain_rows = [json.loads(line) for line in (plain / "manifest.jsonl").read_text().splitlines()]
    studio_only = {"soundfont", "drum_kit_samples", "production", "loudness_dbfs"}
    for a, b in zip(rows, plain_rows):
        assert {k: v for k, v in a.items() if k not in studio_only} == {k: v for k, v in b.items() if k != "loudness_dbfs"}


def test_drums_come_from_the_kit_or_the_soundfont(kits, tmp_path):
    """The same drum clip differs with the sampled kit and with `drumkits="none"` (the soundfont's drums)."""
    args = {"n": 4, "seed": 3, "duration": 2.0, "sample_rate": SR, "soundfont": SF, "production": "studio", "progress": False}
    build_corpus(tmp_path / "kit", drumkits=kits, **args)
    build_corpus(tmp_path / "none", drumkits="none", **args)
    rows = [json.loads(line) for line in (tmp_path / "none" / "manifest.jsonl").read_text().splitlines()]
    assert all(r["drum_kit_samples"] is None for r in rows)
    drum_clips = [r["audio"] for r in rows if r["drums"]]
    assert drum_clips
    for name in drum_clips:
        assert (tmp_path / "kit" / name).read_bytes() != (tmp_path / "none" / name).read_bytes()


# --- drum kits -------------------------------------------------------------------------------


def test_drumkit_pieces_are_found_by_name(kits):
    kit = read_drumkit(kits / "tiny" / "drumkit.xml")
    assert kit.name == "Tiny Test Kit"
    assert {p: i.name for p, i in kit.pieces.items()} == {
        "kick": "Kick",
        "snare": "Snare Rock",
        "closed_hat": "Closed HH",
        "open_hat": "Open HH",
    }
    assert [x.path.name for x in kit.pieces["kick"].layers] == ["kick_soft.wav", "kick_hard.wav"]
    assert kit.pieces["open_hat"].layers[0].path.name == "open_hat.wav"  # an old kit's one sample per instrument
    assert kit.pieces["snare"].pan == (1.0, 0.6)
    assert read_drumkit(kits / "no_hat" / "drumkit.xml") is None
    names = {
        "Pearl Kick": "kick",
        "BassDrum": "kick",
        "c3 - bass drum 1": "kick",
        "Sabian Hat Closed": "closed_hat",
        "Hi-Hat Pedal (Paiste)": "pedal_hat",
        "VariBreaks Hat 1 Op": "open_hat",
        "Tom Low": "low_tom",
        "Paiste Ride": "ride",
    }
    from text2music.data.synth.drumkits import PIECES, name_words

    for name, piece in names.items():
        assert any(test(name_words(name)) for test in PIECES[piece]), name


def test_velocity_picks_the_layer_and_unmapped_notes_are_returned(kits):
    kit = read_drumkit(kits / "tiny" / "drumkit.xml")
    bank = DrumKitBank(SR)
    n = SR // 2

    def spectrum_peak(velocity: int) -> float:
        audio, rest = bank.play(kit, [Note(0.0, 0.2, 36, velocity)], n, np.random.default_rng(0))
        assert rest == []
        spectrum = np.abs(np.fft.rfft(audio[:, 0]))
        return float(np.fft.rfftfreq(n, 1 / SR)[spectrum.argmax()])

    assert abs(spectrum_peak(40) - 55) < 5 and abs(spectrum_peak(120) - 110) < 5
    conga = Note(0.1, 0.3, 63, 100)
    audio, rest = bank.play(kit, [conga, Note(0.0, 0.2, 46, 100)], n, np.random.default_rng(0))
    assert rest == [conga] and np.abs(audio).max() > 0


def test_missing_drumkits_and_soundfonts_are_one_line_errors(tmp_path, capsys):
    from text2music.cli import main

    out = tmp_path / "c"
    base = ["data", "synth", "--out", str(out), "--n", "2", "--duration", "1", "--quiet"]
    assert main([*base, "--soundfont", SF, "--drumkits", str(tmp_path / "nokits")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--drumkits" in err and "apt-get install hydrogen-drumkits" in err and "nokits" in err
    assert main([*base, "--soundfont", SF, "--soundfont", str(tmp_path / "gone.sf2"), "--drumkits", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "gone.sf2" in err
    assert main([*base, "--production", "plain", "--drumkits", "none"]) == 2
    assert "--drumkits needs --production studio" in capsys.readouterr().err
    assert not out.exists()


# --- performance -------------------------------------------------------------------------------


def test_humanisation_is_tighter_for_drums_than_for_lead():
    """Timing spread per role against the same notes played without spread: drums ~3 ms, lead ~12 ms."""
    from text2music.data.synth.performance import studio_feels

    deviations: dict[str, list[float]] = {}
    for i in range(12):
        song = sample_song(clip_rngs(1, i)[0])
        feels = studio_feels(song.genre)
        exact = {r: Feel(0.0, 0.0, f.length) for r, f in feels.items()}
        played = compose(song, 6.0, np.random.default_rng(i), (feels, np.random.default_rng(100 + i)))
        nominal = compose(song, 6.0, np.random.default_rng(i), (exact, np.random.default_rng(100 + i)))
        for (part, a), (_, b) in zip(played, nominal):
            pairs = sorted(a, key=lambda x: (x.pitch, x.start)), sorted(b, key=lambda x: (x.pitch, x.start))
            if len(pairs[0]) == len(pairs[1]):
                deviations.setdefault(part_role(part), []).extend(x.start - y.start for x, y in zip(*pairs) if y.start > 0.1)
    sd = {role: float(np.std(d)) for role, d in deviations.items()}
    assert 0.002 < sd["drums"] < 0.0045 and 0.009 < sd["lead"] < 0.015 and sd["drums"] < sd["bass"] < sd["lead"], sd


def test_a_performance_plays_the_plain_corpus_notes():
    """A studio performance changes how the notes are played, not which: the same pitches in the
    same order as the plain corpus's, for every part (the two corpora compare like for like)."""
    from text2music.data.synth.performance import studio_feels

    for i in range(8):
        r_song, r_notes, *_ = clip_rngs(2, i)
        song = sample_song(r_song)
        plain = compose(song, 6.0, r_notes)
        studio = compose(song, 6.0, clip_rngs(2, i)[1], (studio_feels(song.genre), np.random.default_rng(i)))
        for (part, a), (_, b) in zip(plain, studio):
            for x, y in ((a, b), (b, a)):
                inner = [n for n in x if 0.3 < n.start < 5.7]
                assert inner and all(any(m.pitch == n.pitch and abs(m.start - n.start) < 0.1 for m in y) for n in inner), part


def test_sustain_pedal_holds_notes_to_the_chord_change():
    from text2music.data.synth.performance import PEDAL_LIFT_S, sustain_pedal

    notes = [Note(0.0, 0.2, 60, 80), Note(0.5, 0.6, 64, 80), Note(1.2, 1.3, 60, 80), Note(1.0, 2.5, 67, 80)]
    held = sustain_pedal(notes, [1.0, 2.0])
    ends = {(n.start, n.pitch): round(n.end, 3) for n in held}
    assert ends[(0.0, 60)] == round(1.0 - PEDAL_LIFT_S, 3) and ends[(0.5, 64)] == round(1.0 - PEDAL_LIFT_S, 3)
    assert ends[(1.2, 60)] == round(2.0 - PEDAL_LIFT_S, 3) and ends[(1.0, 67)] == 2.5  # never shortened


# --- every sound the composer asks for is there ------------------------------------------------------


@pytest.mark.parametrize("name", ["TimGM6mb.sf2", *SYSTEM_SOUNDFONTS])
def test_every_program_and_drum_kit_sounds(name):
    """tinysoundfont plays every GM program and drum kit the composer writes from each soundfont of
    the pool (a silent part would be a bug)."""
    from text2music.data.synth.compose import BASSES, DRUM_KITS, INSTRUMENTS, PartSpec
    from text2music.data.synth.render import Synths, synthesize_stems

    soundfont = next((p for p in (bundled_soundfont(), *installed_soundfonts()) if p.name == name), None)
    if soundfont is None:
        pytest.skip(f"{name} is not installed (scripts/install.sh installs it where it runs as root with apt-get)")

    parts = [PartSpec(n, "lead", i.program, "melody", 0, 100) for n, i in INSTRUMENTS.items()]
    parts += [PartSpec(n, "bass", b.program, "roots", 0, 100) for n, b in BASSES.items()]
    parts += [PartSpec(k, "drums", p, "rock", 9, 100, is_drums=True) for k, p in DRUM_KITS.items()]
    synths = Synths(SR)
    silent = []
    for part in parts:
        pitches = (36, 38, 42) if part.is_drums else (40, 60, 72)
        notes = [Note(0.05 + 0.1 * k, 0.35, p, 100) for k, p in enumerate(pitches)]
        stem = synthesize_stems([(part, notes)], soundfont, 0.5, synths)[0]
        if np.sqrt(np.mean(stem.astype(np.float64) ** 2)) < 1e-4:
            silent.append((part.name, part.program, part.is_drums))
    assert not silent


# --- a killed build resumes, and features read stereo ---------------------------------------------


def test_killed_studio_build_resumes_without_duplicates(tmp_path, kits):
    import signal
    import subprocess
    import sys

    from tests.conftest import terminate_build

    out = tmp_path / "c"
    cmd = [sys.executable, "-m", "text2music", "data", "synth", "--out", str(out), "--n", "24", "--duration", "2", "--jobs", "2"]
    cmd += ["--sample-rate", str(SR), "--soundfont", SF, "--drumkits", str(kits), "--quiet"]
    returncode, err = terminate_build(cmd, out / "audio", once=3)
    assert returncode in (130, -signal.SIGINT) and "resume" in err
    kept = {p.name: p.read_bytes() for p in (out / "audio").glob("*.wav")}
    assert 0 < len(kept) < 24 and not list((out / "audio").glob(".*"))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["clip_id"] for r in rows] == [f"synth-{i:06d}" for i in range(24)]
    assert sorted(p.name for p in (out / "audio").iterdir()) == [f"synth-{i:06d}.wav" for i in range(24)]
    assert all((out / "audio" / name).read_bytes() == data for name, data in kept.items())


def test_features_downmix_stereo_studio_clips(studio, tmp_path):
    """`text2music features` (preprocess) reads a stereo studio clip as the mean of its channels."""
    import dataclasses
    import shutil

    from text2music.features.mel import fix_length, get_preset, log_mel_spectrogram
    from text2music.features.preprocess import load_features, preprocess

    data = shutil.copytree(studio, tmp_path / "corpus")
    cfg = dataclasses.replace(get_preset("small"), n_frames=int(DURATION * 16000 / 256) + 1)  # the clips' length
    summary = preprocess(data, cfg, "small", jobs=1, progress=False)
    assert summary["arrays"] == N
    _, records, arrays = load_features(data / "features" / "small")
    import soxr

    for record, array in zip(records, arrays):
        stereo, sr = sf.read(data / "audio" / f"{record['ytid']}.wav", dtype="float32")

        def mel(y: np.ndarray) -> np.ndarray:
            return fix_length(log_mel_spectrogram(soxr.resample(y, sr, cfg.sample_rate, quality="HQ").astype(np.float32), cfg).numpy(), cfg)

        assert np.allclose(array, mel(stereo.mean(axis=1)), atol=3e-3, rtol=3e-3), record["ytid"]  # stored as float16
        assert not np.allclose(array, mel(stereo[:, 0]), atol=3e-3, rtol=3e-3)


def test_open_hi_hat_is_choked_by_the_next_hat(kits):
    """An open hi-hat rings on alone, and stops when the closed hi-hat is struck."""
    kit = read_drumkit(kits / "tiny" / "drumkit.xml")
    bank, n = DrumKitBank(SR), SR

    def tail(notes: list[Note]) -> float:
        audio, _ = bank.play(kit, notes, n, np.random.default_rng(0))
        return float(np.abs(audio[int(0.45 * SR) :]).max())

    alone = tail([Note(0.0, 0.1, 46, 100)])
    choked = tail([Note(0.0, 0.1, 46, 100), Note(0.2, 0.3, 42, 100)])
    assert alone > 0.01 and choked < alone / 20


def test_production_styles_file(tmp_path, capsys):
    """--styles changes the drawn production settings (recorded in corpus.json and each row); an
    unknown effect setting is one line naming it."""
    from text2music.cli import main

    styles = tmp_path / "styles.json"
    styles.write_text(json.dumps({name: {"reverb": {"wet": [0.9, 0.9]}} for name in GENRES}))
    out = tmp_path / "c"
    base = ["data", "synth", "--out", str(out), "--n", "3", "--seed", "3", "--duration", "1", "--soundfont", SF, "--drumkits", "none"]
    assert main([*base, "--styles", str(styles), "--quiet"]) == 0
    capsys.readouterr()
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert rows and all(r["production"]["reverb"]["wet"] == 0.9 for r in rows), [r["genre"] for r in rows]
    assert json.loads((out / "corpus.json").read_text())["style_overrides"] == json.loads(styles.read_text())
    styles.write_text(json.dumps({"jazz": {"reverb": {"wetness": [0.1, 0.2]}}}))
    assert main([*base, "--out", str(tmp_path / "d"), "--styles", str(styles), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown effect setting 'reverb.wetness'" in err
    assert main([*base[:-4], "--out", str(tmp_path / "d"), "--production", "plain", "--styles", str(styles), "--quiet"]) == 2
    assert "--styles needs --production studio" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_a_part_the_soundfont_cannot_play_is_an_error(tmp_path):
    """A soundfont without the preset a part needs (here: one with no presets at all) fails the
    clip with the soundfont and the preset named."""
    from text2music.data.synth.corpus import check_arguments
    from text2music.data.synth.studio import Choice, Renderer

    empty = tmp_path / "empty.sf2"
    empty.write_bytes(_empty_soundfont())
    sources = check_arguments(1, 0, 1, 2.0, SR, "studio", [empty], "none")
    r_song, r_notes, _, _, _, r_perform, r_production = clip_rngs(3, 0)
    song = sample_song(r_song)
    from text2music.production import production_plan

    choice = Choice(empty, None, production_plan(song.genre, r_production))
    with pytest.raises(RuntimeError, match=r"^empty.sf2: the soundfont has no preset \d+:\d+ for "):
        Renderer(sources, SR).render(song, 2.0, choice, r_notes, None, r_perform)


def _empty_soundfont() -> bytes:
    """A valid SoundFont 2 file with no presets, instruments or samples (only the terminal records)."""
    import struct

    def chunk(tag: bytes, data: bytes) -> bytes:
        return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")

    def listed(tag: bytes, *chunks: bytes) -> bytes:
        return chunk(b"LIST", tag + b"".join(chunks))

    hydra = [
        (b"phdr", struct.pack("<20sHHHIII", b"EOP", 0, 0, 0, 0, 0, 0)),
        (b"pbag", struct.pack("<HH", 0, 0)),
        (b"pmod", bytes(10)),
        (b"pgen", bytes(4)),
        (b"inst", struct.pack("<20sH", b"EOI", 0)),
        (b"ibag", struct.pack("<HH", 0, 0)),
        (b"imod", bytes(10)),
        (b"igen", bytes(4)),
        (b"shdr", struct.pack("<20sIIIIIBbHH", b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    ]
    info = listed(b"INFO", chunk(b"ifil", struct.pack("<HH", 2, 1)), chunk(b"INAM", b"empty\0\0"))
    samples = listed(b"sdta", chunk(b"smpl", bytes(96)))
    return chunk(b"RIFF", b"sfbk" + info + samples + listed(b"pdta", *(chunk(t, d) for t, d in hydra)))


def test_preloaded_kits_are_not_read_again(kits, monkeypatch):
    """A build loads its kits' samples before forking its workers: playing them later reads no file."""
    from text2music.data.synth import drumkits

    kit = read_drumkit(kits / "tiny" / "drumkit.xml")
    bank = DrumKitBank(SR)
    bank.preload((kit,))
    monkeypatch.setattr(drumkits, "_load_sample", lambda *a: pytest.fail(f"read again: {a}"))
    audio, _ = bank.play(kit, [Note(0.1 * k, 0.1 * k + 0.1, p, 90) for k, p in enumerate((36, 38, 42, 46))], SR, np.random.default_rng(0))
    assert np.abs(audio).max() > 0


def test_articulations_pedal_pianos_and_swell_strings():
    """articulate: a piano playing block chords is pedalled (its notes reach the chord change), one
    playing stabs is not; a string pad gets CC11 swells rising from the chord's start to a peak
    inside it; the lead's notes are held longer in a legato style than in a staccato one."""
    import dataclasses

    from text2music.data.synth.compose import PartSpec
    from text2music.data.synth.performance import articulate, chord_changes, studio_feels
    from text2music.data.synth.render import EXPRESSION

    song = next(s for s in (sample_song(np.random.default_rng(i)) for i in range(200)) if s.meter == 4 and not s.drums)
    piano_block = PartSpec("piano", "accompaniment", 0, "block", 1, 90)
    piano_stabs = PartSpec("piano", "accompaniment", 0, "stabs", 4, 90)
    pad = PartSpec("string ensemble", "accompaniment", 48, "pad", 2, 70)
    song = dataclasses.replace(song, parts=(song.parts[0], piano_block, piano_stabs, pad))
    parts = compose(song, 8.0, np.random.default_rng(0))
    out, controls = articulate(song, parts, 8.0, np.random.default_rng(1))
    changes = chord_changes(song, 8.0)
    before, after = dict((p.channel, n) for p, n in parts), dict((p.channel, n) for p, n in out)
    assert sum(n.end for n in after[1]) > sum(n.end for n in before[1]) + 1.0  # pedalled
    assert after[4] == before[4]  # stabs stay short
    swells = [c for c in controls if c.channel == 2]
    assert swells and all(c.control == EXPRESSION for c in swells) and not [c for c in controls if c.channel in (1, 4)]
    first = [c.value for c in swells if c.time < changes[0]]
    assert first[0] < 90 and max(first) >= 110 and first.index(max(first)) > 0

    def lead_length(genre: str) -> float:
        played = compose(
            dataclasses.replace(song, genre=genre), 8.0, np.random.default_rng(0), (studio_feels(genre), np.random.default_rng(1))
        )
        return sum(n.end - n.start for n in played[0][1])

    assert lead_length("classical") > lead_length("pop") > lead_length("reggae")


def test_the_other_productions_folder_is_refused_naming_the_flag(tmp_path, capsys):
    from text2music.cli import main

    base = ["data", "synth", "--n", "2", "--duration", "1", "--soundfont", SF, "--quiet"]
    assert main([*base, "--out", str(tmp_path / "plain"), "--production", "plain"]) == 0
    assert main([*base, "--out", str(tmp_path / "studio"), "--drumkits", "none"]) == 0
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "plain"), "--drumkits", "none"]) == 2
    assert "holds a plain (synth-1) corpus: pass --production plain to resume it" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "studio"), "--production", "plain"]) == 2
    assert "holds a studio (synth-2) corpus: pass --production studio to resume it" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "plain"), "--production", "plain"]) == 0  # resumes


def test_soundfonts_are_drawn_per_clip_from_the_pool(tmp_path):
    import shutil

    other = shutil.copy(SF, tmp_path / "Other_GM.sf2")
    out = tmp_path / "c"
    build_corpus(
        out, n=8, seed=1, duration=1.0, sample_rate=SR, soundfont=[SF, other], production="studio", drumkits="none", progress=False
    )
    config = json.loads((out / "corpus.json").read_text())
    assert [s["name"] for s in config["soundfonts"]] == ["TimGM6mb.sf2", "Other_GM.sf2"]
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["soundfont"] for r in rows} == {"TimGM6mb.sf2", "Other_GM.sf2"}


def test_one_kit_folder_and_an_unreadable_sample(kits, tmp_path):
    """--drumkits may name one kit's folder; a sample libsndfile cannot read is an error naming it."""
    from text2music.data.synth.drumkits import find_drumkits

    assert [k.name for k in find_drumkits(kits / "tiny")] == ["Tiny Test Kit"]
    broken = make_kit(tmp_path / "broken")
    (broken / "snare.flac").write_bytes(b"not a flac file")
    kit = read_drumkit(broken / "drumkit.xml")
    with pytest.raises(ValueError, match=r"drum sample .*broken/snare.flac: "):
        DrumKitBank(SR).preload((kit,))


def test_recorded_beats_fall_on_the_kit_s_onsets(studio, rows):
    """The performance humanises the drums by a few ms, the production adds a room: an onset still
    lies within 25 ms of nearly every recorded beat of a drum clip, and clearly less often on the
    grid moved by half a beat."""
    import librosa

    def hit_rate(shift: float) -> float:
        hits = total = 0
        for r in rows:
            if r["drums"]:
                y, sr = sf.read(studio / r["audio"], dtype="float32")
                env = librosa.onset.onset_strength(y=y.mean(axis=1), sr=sr, hop_length=32, n_fft=256, n_mels=32)
                onsets = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=32, units="time", backtrack=True)
                beats = np.array(r["beats"]) + shift * 60.0 / r["bpm"]
                hits += int((np.abs(beats[:, None] - onsets[None, :]).min(1) < 0.025).sum())
                total += len(beats)
        return hits / total

    true = hit_rate(0.0)
    assert true >= 0.85 and hit_rate(0.5) < true - 0.1, (true, hit_rate(0.5))


def test_stats_draw_a_stereo_corpus_as_mono_spectrograms(studio, monkeypatch):
    """`data stats` downmixes a studio clip before its mel: every spectrogram it draws is 2-D."""
    import matplotlib.axes

    from text2music.data.synth.stats import corpus_stats

    shapes = []
    original = matplotlib.axes.Axes.imshow
    monkeypatch.setattr(matplotlib.axes.Axes, "imshow", lambda self, X, *a, **k: shapes.append(np.shape(X)) or original(self, X, *a, **k))
    corpus_stats(studio)
    assert shapes and all(len(s) == 2 for s in shapes)

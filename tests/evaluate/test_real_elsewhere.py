"""The `real:FOLDER` row: real clips of other tracks of the same game stand in for each prompt."""

import json

import numpy as np
import pytest

from tests.conftest import write_wav
from text2music.evaluate.folder import system_fingerprint
from text2music.evaluate.prompts import corpus_items
from text2music.evaluate.systems import RealElsewhere, load_system


def imported_corpus(folder, clips):
    """A corpus folder as `data import` writes it: (clip_id, split, track, game) -> a 1-s WAV each."""
    rows = []
    for i, (cid, split, track, game) in enumerate(clips):
        write_wav(folder / "audio" / f"{cid}.wav", np.full(22050, 0.01 * (i + 1), np.float32), 22050)
        caption = f"{game} soundtrack: a tune featuring piano."
        rows.append(
            {"clip_id": cid, "split": split, "audio": f"audio/{cid}.wav", "source_sha1": track, "caption": caption}
            | {"aspects": ["piano"], "drums": False, "bpm": 100.0, "key": "C", "mode": "major", "meter": "4/4"}
        )
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_each_prompt_gets_a_clip_of_another_track_of_its_game(tmp_path):
    tests = [("a0", "test", "t1", "Game A"), ("a1", "test", "t2", "Game A"), ("b0", "test", "t3", "Game B")]
    others = [("x0", "train", "t1", "Game A"), ("x1", "train", "t4", "Game A"), ("x2", "valid", "t5", "Game A")]
    others.append(("y0", "train", "t6", "Game B"))
    test, other = imported_corpus(tmp_path / "test", tests), imported_corpus(tmp_path / "other", others)
    items = corpus_items(test, "test")
    system = load_system(f"real:{other}")
    assert isinstance(system, RealElsewhere) and system.sample_rate == 16000
    picks = {it.id: system.stand_in(it, {"t1", "t2", "t3"})["clip_id"] for it in items}
    assert picks["b0"] == "y0"
    assert picks["a0"] in ("x1", "x2") and picks["a1"] in ("x1", "x2")  # never t1, a track the reference holds
    assert picks == {it.id: system.stand_in(it, {"t1", "t2", "t3"})["clip_id"] for it in items}
    waves = system.render(items, [0] * len(items))
    assert [len(w) for w in waves] == [16000] * 3


def test_a_game_without_other_tracks_is_refused_naming_the_prompt(tmp_path):
    test = imported_corpus(tmp_path / "test", [("a0", "test", "t1", "Game A")])
    other = imported_corpus(tmp_path / "other", [("x0", "train", "t1", "Game A"), ("y0", "train", "t6", "Game B")])
    with pytest.raises(ValueError, match="prompt a0: .* no clip of other tracks whose caption starts 'Game A soundtrack'"):
        load_system(f"real:{other}").render(corpus_items(test, "test"), [0])
    with pytest.raises(FileNotFoundError, match="no manifest.jsonl"):
        load_system(f"real:{tmp_path / 'missing'}")


def test_the_report_fingerprint_keeps_through_labels_and_moves_with_the_clips(tmp_path):
    other = imported_corpus(tmp_path / "other", [("x0", "train", "t1", "Game A"), ("x1", "valid", "t2", "Game A")])
    before = system_fingerprint(f"real:{other}")
    rows = [json.loads(line) for line in (other / "manifest.jsonl").read_text().splitlines()]
    labelled = [r | {"beats": [0.5], "caption": r["caption"].replace("piano.", "piano at 120 BPM.")} for r in rows]
    (other / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labelled))
    assert system_fingerprint(f"real:{other}") == before  # `data label` added beats and a stated BPM
    moved = [r | {"split": "train"} for r in labelled]
    (other / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in moved))
    assert system_fingerprint(f"real:{other}") != before

"""Planning a clip's musical controls from settings and text."""

from __future__ import annotations

import pytest

from text2music.generate.controls import plan_controls
from text2music.generate.settings import GenerationSettings as S
from text2music.theory import scale_pitch_classes


def test_text_states_the_controls():
    plan = plan_controls("A waltz in D major at 96 BPM, no drums", S(), seed=0)
    c = plan.controls
    assert (c.bpm, c.meter, c.tonic, c.mode, c.drums) == (96.0, 3, 2, "major", False)
    assert plan.notes == () and plan.duration == 10.0
    in_key = set(scale_pitch_classes(2, "major"))
    assert c.chords and all(set(s.pitch_classes) <= in_key | {1} for s in c.chords)  # diatonic (a raised 7th at most)
    assert c.chords[0].beat == 0.0 and c.chords[0].root == 2  # starts on the tonic at the first downbeat
    assert all(s.length == 3.0 for s in c.chords)  # one chord per 3/4 bar


def test_a_setting_overrides_the_text_and_says_so():
    plan = plan_controls("funk at 92 BPM in F# minor", S(bpm=100, key="Bb major"), seed=0)
    assert plan.controls.bpm == 100 and (plan.controls.tonic, plan.controls.mode) == (10, "major")
    assert any('"at 92 BPM"' in n and "100" in n for n in plan.notes)
    assert any("F# minor" in n and "Bb major" in n for n in plan.notes)
    same = plan_controls("funk at 100 BPM", S(bpm=100), seed=0)
    assert same.notes == ()


def test_nothing_stated_leaves_everything_open():
    c = plan_controls("a dreamy synth pad", S(), seed=3).controls
    assert (c.bpm, c.meter, c.tonic, c.mode, c.drums, c.chords) == (None, None, None, None, None, ())
    ignored = plan_controls("piano at 92 BPM in A minor", S(text_controls=False), seed=0).controls
    assert ignored.bpm is None and ignored.tonic is None


def test_a_key_without_tempo_draws_one_from_the_tempo_words():
    slow = plan_controls("a slow ballad in E minor", S(), seed=1)
    fast = plan_controls("a fast track in E minor", S(), seed=1)
    assert 62 <= slow.controls.bpm <= 84 and 128 <= fast.controls.bpm <= 160
    assert any("tempo chosen" in n for n in slow.notes)
    assert slow.controls.meter == 4
    assert plan_controls("a slow ballad in E minor", S(), seed=1) == slow  # seeded


def test_mode_only_draws_a_tonic():
    plan = plan_controls("a sad song in a minor key", S(), seed=5)
    assert plan.controls.mode == "minor" and plan.controls.tonic is not None
    assert any("key chosen" in n for n in plan.notes)


def test_bars_and_loops_last_whole_bars():
    plan = plan_controls("rock", S(bpm=120, bars=4), seed=0)
    assert plan.duration == pytest.approx(8.0)
    waltz = plan_controls("a waltz", S(bpm=90, bars=6), seed=0)
    assert waltz.duration == pytest.approx(6 * 3 * 60 / 90)
    loop = plan_controls("house", S(bpm=125, loop=True, duration=7.0), seed=0)
    assert loop.duration == pytest.approx(4 * 1.92)  # the whole number of 1.92-s bars nearest 7 s
    assert plan_controls("x", S(bpm=60, bars=16), seed=0).duration == pytest.approx(64.0)  # a piece, made window by window
    with pytest.raises(ValueError, match="bars of 4/4 at 60 BPM last 64.00 s; loops must last 1-20 s"):
        plan_controls("x", S(bpm=60, bars=16, loop=True), seed=0)


def test_loops_round_to_bars_within_the_limits_and_text_tempi_out_of_range_are_ignored():
    long = plan_controls("x", S(bpm=240, meter=3, loop=True, duration=20.0), seed=0)
    short = plan_controls("x", S(bpm=240, meter=3, loop=True, duration=1.0), seed=0)
    assert long.duration == pytest.approx(26 * 0.75) and short.duration == pytest.approx(2 * 0.75)
    plan = plan_controls("drum and bass at 250 BPM", S(), seed=0)
    assert plan.controls.bpm is None and any("250 BPM" in n and "ignored" in n for n in plan.notes)


def test_a_drum_free_plan_carries_the_prompt_asking_for_drums():
    s = S()
    assert plan_controls("ambient pads, with no drums. Calm.", s, 0).away == "ambient pads, with drums. Calm."
    assert plan_controls("Percussion: none. Calm.", s, 0).away == "with drums. Calm."
    assert plan_controls("a rock song.", s.replace(drums=False), 0).away == "a rock song, with drums"
    assert plan_controls("a rock song", s, 0).away is None and plan_controls("rock with drums", s, 0).away is None
    unread = s.replace(text_controls=False, drums=False)  # the text's controls not read: its phrase is still made "with drums"
    assert plan_controls("ambient pads, no drums.", unread, 0).away == "ambient pads, with drums."

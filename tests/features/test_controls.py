"""Control inputs: the beat grid and chords land on the right frames; open controls are zeros."""

from __future__ import annotations

import numpy as np

from text2music.features.controls import (
    CONTROL_GROUPS,
    FRAME_CHANNELS,
    GLOBAL_CHANNELS,
    ChordSlot,
    MusicalControls,
    drop_groups,
    frame_controls,
    global_controls,
)

RATE = 62.5  # 16 kHz / 256 hop
C_MAJOR, G_MAJOR = ChordSlot(0.0, 4.0, 0, (0, 4, 7)), ChordSlot(4.0, 4.0, 7, (7, 11, 2))


def test_beat_and_downbeat_pulses_peak_on_the_grid():
    c = MusicalControls(bpm=120.0, meter=4, beat_offset=0.5)  # the first beat comes 0.25 s in
    f = frame_controls(c, 500, RATE)
    assert f.shape == (FRAME_CHANNELS, 500) and f.dtype == np.float32
    beats = [int(np.ceil((0.25 + 0.5 * k) * RATE)) for k in range(15)]  # the first frame at or after each beat
    assert np.all(f[5, beats] > 0.7) and f[5].mean() < 0.2
    assert np.all(f[6, [int(np.ceil((1.75 + 2.0 * k) * RATE)) for k in range(3)]] > 0.7)  # beats 4, 8, 12: downbeats
    assert f[6, beats[1]] < 0.1  # beat 1 of the bar is not a downbeat
    assert np.allclose(f[1] ** 2 + f[2] ** 2, 1.0, atol=1e-5) and np.all(f[0] == 1.0)


def test_cropped_frames_equal_the_same_frames_of_the_whole():
    c = MusicalControls(bpm=97.0, meter=3, tonic=2, mode="minor", beat_offset=1.3, chords=(C_MAJOR, G_MAJOR))
    whole = frame_controls(c, 400, RATE)
    assert np.allclose(frame_controls(c, 100, RATE, start_frame=250), whole[:, 250:350], atol=1e-5)


def test_chords_per_frame():
    c = MusicalControls(bpm=60.0, meter=4, chords=(C_MAJOR, G_MAJOR))  # one beat per second
    f = frame_controls(c, 8 * 62, RATE)
    early, late = f[:, int(2 * RATE)], f[:, int(6 * RATE)]
    assert set(np.flatnonzero(early[8:20])) == {0, 4, 7} and np.flatnonzero(early[20:32]).tolist() == [0]
    assert set(np.flatnonzero(late[8:20])) == {7, 11, 2} and np.flatnonzero(late[20:32]).tolist() == [7]
    assert np.all(f[7] == 1.0)


def test_open_controls_are_zeros():
    assert not frame_controls(MusicalControls(), 50, RATE).any()
    assert not global_controls(MusicalControls()).any()
    no_chords = frame_controls(MusicalControls(bpm=100.0, meter=4), 50, RATE)
    assert no_chords[:7].any() and not no_chords[7:].any()


def test_global_vector():
    g = global_controls(MusicalControls(bpm=120.0, meter=3, tonic=9, mode="minor", drums=False))
    assert g.shape == (GLOBAL_CHANNELS,)
    assert g[0] == 1 and g[1] == 0.0  # log2(120 / 120)
    assert g[10] == 1 and np.flatnonzero(g[11:35]).tolist() == [21]  # A minor = 9 + 12
    assert (g[35], g[36], g[37], g[38]) == (1, 1, 1, 0)
    faster = global_controls(MusicalControls(bpm=240.0))
    assert faster[1] == 1.0


def test_drop_groups_zeroes_exactly_their_channels():
    c = MusicalControls(bpm=110.0, meter=4, tonic=0, mode="major", drums=True, chords=(C_MAJOR,))
    for name, fs, gs in CONTROL_GROUPS:
        f, g = frame_controls(c, 40, RATE), global_controls(c)
        f0, g0 = f.copy(), g.copy()
        drop_groups(f, g, {name})
        if fs is not None:
            assert not f[fs].any() and f0[fs].any()
        if gs is not None:
            assert not g[gs].any() and g0[gs].any()
        keep_f = np.ones(FRAME_CHANNELS, bool)
        keep_g = np.ones(GLOBAL_CHANNELS, bool)
        if fs is not None:
            keep_f[fs] = False
        if gs is not None:
            keep_g[gs] = False
        assert np.array_equal(f[keep_f], f0[keep_f]) and np.array_equal(g[keep_g], g0[keep_g])


def test_from_manifest_record():
    r = {
        "bpm": 119,
        "meter": "3/4",
        "key": "Bb",
        "mode": "minor",
        "drums": True,
        "beat_offset": 2.5,
        "chord_slots": [[0.0, 3.0, 10, [10, 1, 5]]],
    }
    c = MusicalControls.from_record(r)
    assert (c.bpm, c.meter, c.tonic, c.mode, c.drums, c.beat_offset) == (119.0, 3, 10, "minor", True, 2.5)
    assert c.chords == (ChordSlot(0.0, 3.0, 10, (10, 1, 5)),)

"""Pieces longer than one window, continuation and inpainting of the user's audio (generate.pieces)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.generate.conftest import TEXT
from text2music.features.controls import FRAME_CHANNELS, GLOBAL_CHANNELS
from text2music.features.mel import get_preset
from text2music.generate.pieces import WindowLayout, plan_windows, splice
from text2music.generate.pipeline import Text2Music
from text2music.generate.settings import GenerationSettings as S
from text2music.models import build_model, save_pretrained

SR = 16000


@pytest.fixture(scope="module")
def context_pipe(tmp_path_factory):
    """A tiny flow model with controls and the context input, all of its layers moving."""
    path = tmp_path_factory.mktemp("tinycontext")
    torch.manual_seed(2)
    model = build_model(
        "flow_transformer",
        d_model=64,
        heads=2,
        layers=2,
        patch=2,
        control_frames=FRAME_CHANNELS,
        control_global=GLOBAL_CHANNELS,
        context=True,
    )
    for p in model.parameters():
        p.data.add_(0.02 * torch.randn_like(p))
    save_pretrained(path, model, get_preset("small"), TEXT)
    pipe = Text2Music.from_pretrained(path, vocoder="griffin-lim-4")
    pipe.window_seconds, pipe.context_seconds = 4.0, 1.0
    return pipe


def tones(seconds: float, bpm: float = 120.0) -> np.ndarray:
    """An A-minor arpeggio of plucked notes, one per beat."""
    t = np.arange(round(seconds * SR)) / SR
    beat = 60.0 / bpm
    pitch = np.array([220.0, 261.63, 329.63, 440.0])[(t // beat).astype(int) % 4]
    return (0.3 * np.sin(2 * np.pi * pitch * t) * np.exp(-4 * (t % beat))).astype(np.float32)


def test_windows_start_context_frames_before_the_first_unknown_frame_and_cover_everything():
    layout = WindowLayout(window=100, context=20)
    assert plan_windows(np.zeros(300, bool), layout, 2) == [(0, 100), (80, 180), (160, 260), (240, 300)]
    prefix = np.zeros(300, bool)
    prefix[:150] = True
    assert plan_windows(prefix, layout, 2) == [(130, 230), (210, 300)]
    gap = np.ones(300, bool)
    gap[101:141] = False
    assert plan_windows(gap, layout, 2) == [(81, 181)]
    assert plan_windows(np.ones(300, bool), layout, 2) == []
    with pytest.raises(ValueError, match="context"):
        WindowLayout(window=10, context=10)


def test_splice_keeps_every_kept_sample_and_fades_inside_the_new_audio():
    kept, made = np.ones(100, np.float32), np.zeros(100, np.float32)
    keep = np.ones(100, bool)
    keep[40:60] = False
    out = splice(kept, made, keep, fade=5)
    assert np.array_equal(out[keep], kept[keep])
    assert out[40] > out[42] > 0 and np.array_equal(out[45:55], made[45:55]) and out[59] > 0


def test_a_piece_longer_than_a_window_is_made_window_by_window_on_one_grid(context_pipe):
    seen, progress = [], []
    velocity = context_pipe.model.velocity

    def spy(x, *a, **k):
        seen.append((x.shape[-1], k.get("context")))
        return velocity(x, *a, **k)

    context_pipe.model.velocity = spy
    try:
        out = context_pipe(["a march at 120 BPM in C major"], S(duration=21.0, steps=2), callback=lambda d, t: progress.append((d, t)))
    finally:
        context_pipe.model.velocity = velocity
    assert out.audio.shape == (1, 21 * SR) and np.abs(out.audio).max() > 0
    assert max(n for n, _ in seen) <= context_pipe.mel.frames_for(4.0) + 2  # one window at a time: memory is bounded
    assert all(c is not None for _, c in seen)
    assert progress[-1][0] == progress[-1][1] and len({t for _, t in progress}) == 1
    assert out.plans[0].controls.bpm == 120.0


def test_a_continuation_starts_with_the_audio_and_inpainting_keeps_everything_outside_the_span(context_pipe, tmp_path):
    path = tmp_path / "take.wav"
    sf.write(path, tones(3.0), SR, subtype="FLOAT")
    take = sf.read(path, dtype="float32")[0]
    out = context_pipe(["soft piano"], S(duration=5.0, steps=2, init_mode="continue"), init_audio=path)
    fade = round(0.02 * SR)
    assert out.audio.shape == (1, 5 * SR)
    assert np.array_equal(out.audio[0, : len(take) - fade], take[: len(take) - fade])
    assert np.abs(out.audio[0, len(take) :]).max() > 0
    assert any("measured in the audio" in n for n in out.notes)
    roomy = context_pipe(["soft piano"], S(duration=5.0, steps=2, init_mode="continue", reverb=1.0), init_audio=path)
    assert np.array_equal(roomy.audio[0, : len(take) - fade], take[: len(take) - fade])  # the prompt's audio stays dry
    assert not np.allclose(roomy.audio[0, len(take) :], out.audio[0, len(take) :])  # the new audio is in a room
    wide = context_pipe(["soft piano"], S(duration=5.0, steps=2, init_mode="continue", reverb=1.0, channels=2), init_audio=path)
    np.testing.assert_allclose(wide.audio.mean(axis=1), roomy.audio, atol=1e-6)  # stereo: its mono mix is the mono clip

    out = context_pipe(["soft piano"], S(steps=2, init_mode="inpaint", span="1.0-2.0"), init_audio=path)
    outside = np.r_[0:SR, 2 * SR : len(take)]
    assert out.audio.shape == (1, len(take))
    assert np.array_equal(out.audio[0, outside], take[outside])
    assert not np.allclose(out.audio[0, SR + fade : 2 * SR - fade], take[SR + fade : 2 * SR - fade])


def test_at_44k_a_continuation_and_an_inpainting_keep_the_files_own_samples(context_pipe, tmp_path):
    """Asked for 44.1 kHz, the prompt is read at that rate and kept sample for sample."""
    rate = 44100
    path = tmp_path / "take44.wav"
    t = np.arange(3 * rate) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-4 * (t % 0.5))).astype(np.float32), rate, subtype="FLOAT")
    take = sf.read(path, dtype="float32")[0]
    out = context_pipe(["soft piano"], S(duration=5.0, steps=2, init_mode="continue", sample_rate=rate), init_audio=path)
    fade = round(0.02 * rate)
    assert out.sample_rate == rate and out.audio.shape == (1, 5 * rate)
    assert np.array_equal(out.audio[0, : len(take) - fade], take[: len(take) - fade])
    out = context_pipe(["soft piano"], S(steps=2, init_mode="inpaint", span="1.0-2.0", sample_rate=rate), init_audio=path)
    outside = np.r_[0:rate, 2 * rate : len(take)]
    assert out.audio.shape == (1, len(take)) and np.array_equal(out.audio[0, outside], take[outside])


@pytest.mark.parametrize(
    "audio, settings, message",
    [
        (np.zeros(3 * SR, np.float32), S(duration=5.0, init_mode="continue"), "is silent"),
        (tones(0.5), S(duration=5.0, init_mode="continue"), "needs at least 1 s"),
        (tones(3.0), S(duration=3.5, init_mode="continue"), "duration .* must be at least 4.00 s"),
        (tones(3.0), S(init_mode="inpaint", span="2-4"), "ends after"),
        (tones(3.0), S(duration=30.0), "variation is made in one pass"),
    ],
)
def test_prompts_that_cannot_work_are_refused_in_one_line(audio, settings, message, tmp_path):
    from text2music.generate.audio_prompt import read_audio_prompt

    path = tmp_path / "p.wav"
    sf.write(path, audio, SR)
    with pytest.raises(ValueError, match=message) as e:
        read_audio_prompt(path, settings, SR)
    assert "\n" not in str(e.value)
    (tmp_path / "not.wav").write_text("hello")
    with pytest.raises(ValueError, match="not a readable audio file"):
        read_audio_prompt(tmp_path / "not.wav", S(duration=5.0, init_mode="continue"), SR)


def test_a_long_mel_is_vocoded_in_overlapping_chunks_that_join_exactly(context_pipe):
    """With a vocoder whose output at a sample depends only on the frame there, the chunked
    audio equals the audio of the whole mel, joins included."""
    hop = context_pipe.mel.hop_length

    class Local:
        sample_rate = context_pipe.mel.sample_rate

        def __call__(self, mel, seed=0, period=None):
            return mel.mean(1)[:, :-1].repeat_interleave(hop, dim=1)

    local = Local()
    vocoder, context_pipe.vocoder = context_pipe.vocoder, local
    try:
        mel = torch.randn(80, context_pipe.mel.frames_for(47.0))
        chunked = context_pipe.vocode_row(mel)
    finally:
        context_pipe.vocoder = vocoder
    whole = local(mel[None])[0].numpy()
    assert chunked.shape == whole.shape and np.allclose(chunked, whole, atol=1e-6)


def test_the_command_line_continues_and_inpaints_a_file(context_pipe, tmp_path):
    from text2music.cli import main

    take = tmp_path / "take.wav"
    sf.write(take, tones(2.0), SR)
    model = ["--model", str(context_pipe.path), "--vocoder", "griffin-lim-2", "--steps", "1", "--quiet"]
    assert main(["generate", "a march", "--continue", str(take), "--duration", "3.5", "-o", str(tmp_path / "c.wav"), *model]) == 0
    assert sf.info(tmp_path / "c.wav").frames == round(3.5 * SR)
    assert main(["generate", "a march", "--inpaint", str(take), "--span", "0.5-1", "-o", str(tmp_path / "i.wav"), *model]) == 0
    made, kept = sf.read(tmp_path / "i.wav", dtype="float32")[0], sf.read(take, dtype="float32")[0]
    assert len(made) == len(kept) and np.abs(made[SR:] - kept[SR:]).max() < 1e-4  # 16-bit files: kept to the quantum


def test_with_a_beat_grid_windows_end_between_beats():
    beats = np.arange(0.0, 300, 25.0)  # a beat every 25 frames, on frame 100 among others
    layout = WindowLayout(window=100, context=20)
    windows = plan_windows(np.zeros(300, bool), layout, 2, beats)
    assert windows[-1][1] == 300 and windows[0] == (0, 92)  # frame 100 is a beat: the first window ends 8 frames early
    for (start, end), (next_start, _) in zip(windows, windows[1:]):
        assert np.min(np.abs(beats - end)) >= 25 / 4 and end - start <= 100 and next_start == end - 20


def test_the_progress_bar_of_a_piece_counts_its_windows(context_pipe, tmp_path, capsys):
    from text2music.cli import main

    model = ["--model", str(context_pipe.path), "--vocoder", "griffin-lim-2", "--steps", "1"]
    assert main(["generate", "a march", "--duration", "21", "-o", str(tmp_path / "p.wav"), *model]) == 0
    assert "3 of 3 windows made" in capsys.readouterr().err
    assert sf.info(tmp_path / "p.wav").frames == 21 * SR

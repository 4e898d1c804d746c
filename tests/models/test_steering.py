"""Steering away from another conditioning (drum-free guidance): only the rows asked, only the
conditioned passes, only the mel bins asked; and which global controls mean "drums off"."""

import numpy as np
import pytest
import torch

from tests.generate.test_flow import model  # noqa: F401  (fixture: a tiny flow model with weights that move)
from tests.models.test_flow_transformer import text
from text2music.features.controls import MusicalControls, global_controls
from text2music.features.mel import get_preset, mel_centres
from text2music.generate.flow import guided_velocity
from text2music.models.steering import UNSTEERED_HZ, AwayFrom, drums_off, steered_bins, with_drums
from text2music.text import TextEmbedding


def test_away_from_steers_only_the_rows_asked_and_only_conditioned_passes(model):  # noqa: F811
    emb = text()
    away = TextEmbedding(emb.tokens + 1.0, emb.mask, emb.pooled + 1.0)
    x, t, keep = torch.randn(2, 32, 8), torch.full((2,), 0.3), torch.zeros(2, dtype=torch.bool)
    steered = AwayFrom(model, away, None, torch.tensor([0.0, 2.0]))
    v, v_away = model.velocity(x, t, emb, keep), model.velocity(x, t, away, keep)
    got = steered.velocity(x, t, emb, keep)
    assert torch.equal(got[0], v[0]) and torch.allclose(got[1], v[1] + 2 * (v[1] - v_away[1]), atol=1e-5)
    guided, plain = guided_velocity(steered, emb, 3.0)(x, t), guided_velocity(model, emb, 3.0)(x, t)
    assert torch.equal(guided[0], plain[0]) and torch.allclose(guided[1], plain[1] + 3 * 2 * (v[1] - v_away[1]), atol=1e-4)
    bins = (torch.arange(32) >= 16).float()  # the upper half of the mel bins steered, the lower left alone
    half = AwayFrom(model, away, None, torch.tensor([2.0, 2.0]), bins=bins).velocity(x, t, emb, keep)
    assert torch.equal(half[:, :16], v[:, :16]) and torch.allclose(half[:, 16:], (v + 2 * (v - v_away))[:, 16:], atol=1e-5)


def test_a_negative_scale_steers_toward(model):  # noqa: F811
    emb = text()
    away = TextEmbedding(emb.tokens + 1.0, emb.mask, emb.pooled + 1.0)
    x, t, keep = torch.randn(2, 32, 8), torch.full((2,), 0.3), torch.zeros(2, dtype=torch.bool)
    v, v_away = model.velocity(x, t, emb, keep), model.velocity(x, t, away, keep)
    got = AwayFrom(model, away, None, torch.tensor([-0.5, 0.0])).velocity(x, t, emb, keep)
    assert torch.allclose(got[0], v[0] - 0.5 * (v[0] - v_away[0]), atol=1e-5) and torch.equal(got[1], v[1])


def test_drums_off_reads_the_drums_control_and_with_drums_turns_it_on():
    rows = [MusicalControls(drums=False, bpm=90.0), MusicalControls(drums=True), MusicalControls(bpm=90.0)]
    globals_ = torch.from_numpy(np.stack([global_controls(c) for c in rows]))
    assert drums_off(globals_).tolist() == [True, False, False]  # given and off; on; not given
    on = with_drums(globals_)
    assert not drums_off(on).any() and torch.equal(on[0], torch.from_numpy(global_controls(MusicalControls(drums=True, bpm=90.0))))
    assert drums_off(globals_).tolist() == [True, False, False]  # the input is left as it was


def test_the_key_band_is_left_unsteered():
    mel = get_preset("small")
    bins, centres = steered_bins(mel), mel_centres(mel)
    inside = (centres >= UNSTEERED_HZ[0]) & (centres < UNSTEERED_HZ[1])
    assert inside.any() and (~inside).any()
    assert bins.numpy().tolist() == (~inside).astype(float).tolist()
    assert steered_bins(mel, (0.0, 1e9)).sum() == 0 and steered_bins(mel, (0.0, 0.0)).sum() == mel.n_mels


def test_the_steering_stops_at_its_flow_time(model):  # noqa: F811
    emb = text()
    away = TextEmbedding(emb.tokens + 1.0, emb.mask, emb.pooled + 1.0)
    x, keep = torch.randn(2, 32, 8), torch.zeros(2, dtype=torch.bool)
    steered = AwayFrom(model, away, None, torch.tensor([2.0, 2.0]), until=0.5)
    t = torch.tensor([0.25, 0.5])  # the first row before `until`, the second at it
    v, v_away = model.velocity(x, t, emb, keep), model.velocity(x, t, away, keep)
    got = steered.velocity(x, t, emb, keep)
    assert torch.allclose(got[0], v[0] + 2 * (v[0] - v_away[0]), atol=1e-5) and torch.equal(got[1], v[1])


def test_steering_only_the_changes_leaves_each_bins_level_over_the_clip(model):  # noqa: F811
    emb = text()
    away = TextEmbedding(emb.tokens + 1.0, emb.mask, emb.pooled + 1.0)
    x, t, keep = torch.randn(2, 32, 8), torch.full((2,), 0.3), torch.zeros(2, dtype=torch.bool)
    v, v_away = model.velocity(x, t, emb, keep), model.velocity(x, t, away, keep)
    got = AwayFrom(model, away, None, torch.tensor([2.0, 0.0]), part="changes").velocity(x, t, emb, keep)
    steer = 2 * (v[0] - v_away[0])
    assert torch.allclose(got[0], v[0] + steer - steer.mean(dim=-1, keepdim=True), atol=1e-5) and torch.equal(got[1], v[1])
    assert torch.allclose((got[0] - v[0]).mean(dim=-1), torch.zeros(32), atol=1e-5)  # each bin's mean over frames unchanged
    with pytest.raises(ValueError, match="part must be one of changes, all"):
        AwayFrom(model, away, None, torch.tensor([2.0, 0.0]), part="mean")

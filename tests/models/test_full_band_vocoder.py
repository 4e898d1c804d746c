"""The full-band vocoder: 48 kHz from the 16-kHz mel, widened from a trained one, trained with discriminators."""

import json

import numpy as np
import pytest
import soxr
import torch

from tests.conftest import synth_music
from text2music.cli import main
from text2music.data.synth import build_corpus
from text2music.data.synth.render import bundled_soundfont
from text2music.features.mel import get_preset, log_mel_spectrogram
from text2music.models.neural_vocoder import NeuralVocoder, NeuralVocoderConfig
from text2music.models.vocoder import load_vocoder
from text2music.train.discriminators import Discriminators, discriminator_loss, generator_losses
from text2music.train.vocoder import VocoderLoss, VocoderTrainConfig, initial_vocoder

MEL = get_preset("small")


def test_a_widened_vocoder_is_the_old_one_upsampled_with_a_faint_band_above():
    narrow = load_vocoder("vocos", "unused", MEL)
    wide = narrow.widened(48000).eval()
    assert wide.sample_rate == 48000 and (wide.n_fft, wide.hop_length) == (3 * MEL.n_fft, 3 * MEL.hop_length)
    mel = log_mel_spectrogram(synth_music(sample_rate=16000, seconds=2.0), MEL)[None]
    low, high = narrow(mel)[0].numpy(), wide(mel)[0].numpy()
    assert len(high) == 3 * len(low)
    down = soxr.resample(high, 48000, 16000)[: len(low)]
    assert np.corrcoef(low, down)[0, 1] > 0.999
    spectrum, freqs = np.abs(np.fft.rfft(high)) ** 2, np.fft.rfftfreq(len(high), 1 / 48000)
    assert 0 < spectrum[freqs > 8000].sum() / spectrum.sum() < 1e-3


def test_a_full_band_vocoder_saves_its_rate_and_refuses_a_rate_that_is_no_multiple(tmp_path):
    torch.manual_seed(0)
    vocoder = NeuralVocoder(NeuralVocoderConfig(dim=16, intermediate=32, layers=2, sample_rate=32000), MEL)
    vocoder.save(tmp_path)
    assert json.loads((tmp_path / "vocoder.json").read_text())["model"]["sample_rate"] == 32000
    loaded = NeuralVocoder.from_folder(tmp_path)
    mel = log_mel_spectrogram(synth_music(sample_rate=16000, seconds=1.0), MEL)[None]
    assert loaded.sample_rate == 32000 and loaded(mel).shape == (1, (mel.shape[-1] - 1) * 2 * MEL.hop_length)
    with pytest.raises(ValueError, match="vocoder sample_rate 44100: must be a whole multiple of the mel's 16000 Hz"):
        NeuralVocoder(NeuralVocoderConfig(sample_rate=44100), MEL)


def test_discriminators_tell_real_from_fake_after_a_few_steps():
    torch.manual_seed(0)
    real = torch.from_numpy(synth_music(sample_rate=16000, seconds=0.5))[None].repeat(2, 1)
    fake = 0.1 * torch.randn_like(real)
    disc = Discriminators()
    optimizer = torch.optim.Adam(disc.parameters(), lr=2e-3)
    first = float(discriminator_loss(disc(real, fake)).detach())
    for _ in range(30):
        loss = discriminator_loss(disc(real, fake))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(discriminator_loss(disc(real, fake)).detach()) < 0.7 * first
    adversarial, matching = generator_losses(disc(real, real))
    assert float(matching) == 0.0 and float(adversarial) > 0


def test_full_size_discriminators_have_the_published_channels_and_judge_longer_stretches():
    small, full = Discriminators("small"), Discriminators("full")
    assert (small.segment, full.segment) == (16384, 32768)
    assert sum(p.numel() for p in full.parameters()) > 50 * sum(p.numel() for p in small.parameters())
    real = torch.from_numpy(synth_music(sample_rate=48000, seconds=0.8))[None]
    for (real_logits, fake_logits, real_features, _), (small_logits, *_) in zip(full(real, real), small(real, real)):
        assert torch.equal(real_logits, fake_logits) and len(real_features) >= 5 and small_logits.shape[0] == 1
    with pytest.raises(ValueError, match="discriminators: size must be one of small, full, got 'huge'"):
        Discriminators("huge")
    with pytest.raises(ValueError, match="train-vocoder: discriminators must be one of small, full, got 'huge'"):
        VocoderTrainConfig(discriminators="huge")
    with pytest.raises(ValueError, match="train-vocoder: device must be cpu or cuda"):
        VocoderTrainConfig(device="tpu")


def test_full_band_loss_sees_the_band_above_the_mel():
    audio = torch.from_numpy(soxr.resample(synth_music(sample_rate=16000, seconds=1.0), 16000, 48000))[None]
    hiss = torch.from_numpy(np.random.default_rng(0).standard_normal(audio.shape[-1]).astype(np.float32))
    hiss = torch.from_numpy(soxr.resample(soxr.resample(hiss.numpy(), 48000, 16000), 16000, 48000)) - hiss  # above 8 kHz only
    loss = VocoderLoss(MEL, 48000)
    assert float(loss(audio, audio)["loss"]) < 1e-4
    assert float(loss(audio + 0.02 * hiss[None], audio)["mel"]) > 0.05


def test_trains_a_full_band_vocoder_from_a_narrow_one_with_discriminators(tmp_path):
    data = tmp_path / "corpus"
    build_corpus(data, n=8, jobs=1, duration=2.0, sample_rate=48000, soundfont=bundled_soundfont(), progress=False)
    narrow = tmp_path / "narrow"
    torch.manual_seed(0)
    NeuralVocoder(NeuralVocoderConfig(dim=16, intermediate=32, layers=2), MEL).save(narrow)
    run = tmp_path / "wide"
    args = ["train-vocoder", "--data", f"{data},{data}", "--out", str(run), "--clips", "4", "--val-clips", "2", "--quiet"]
    args += ["--sample-rate", "48000", "--init", str(narrow), "--adversarial", "0.1", "--adversarial-after", "2"]
    args += ["--batch-size", "2", "--crop-frames", "16", "--steps", "4", "--checkpoint-every", "2", "--log-every", "1"]
    assert main(args) == 0
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any("disc" in r for r in log if r["type"] == "step" and r["step"] > 2)
    wide = NeuralVocoder.from_folder(run)
    assert wide.sample_rate == 48000 and wide.cfg.dim == 16
    assert "disc" in torch.load(run / "state.pt", weights_only=True)
    more = args[: args.index("--steps") + 1] + ["6"] + args[args.index("--steps") + 2 :]
    assert main(more) == 0  # resumes, discriminators and their optimiser included: 2 more steps
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in log) == 6 and sum(r["type"] == "step" for r in log) == 6


def test_a_high_band_branch_starts_at_zero_and_needs_a_full_band_rate():
    torch.manual_seed(0)
    wide = NeuralVocoder(NeuralVocoderConfig(dim=16, intermediate=32, layers=2, sample_rate=48000), MEL).eval()
    branched = wide.with_high_branch(2).eval()
    mel = log_mel_spectrogram(synth_music(sample_rate=16000, seconds=1.0), MEL)[None]
    assert branched.cfg.high_layers == 2 and torch.equal(branched(mel), wide(mel))
    assert branched.high_head.out_features == 2 * (wide.n_fft // 2 + 1 - (MEL.n_fft // 2 + 1))
    with pytest.raises(ValueError, match="vocoder high_layers 2: a branch for the band above the mel's needs a full-band sample_rate"):
        NeuralVocoder(NeuralVocoderConfig(dim=16, intermediate=32, layers=2, high_layers=2), MEL)
    with pytest.raises(ValueError, match="train-vocoder: high_band_only trains the branch alone"):
        VocoderTrainConfig(high_band_only=True)
    with pytest.raises(ValueError, match="train-vocoder --high-layers 2: --init vocos-fullband-branch has a branch of 4 blocks"):
        initial_vocoder(VocoderTrainConfig(sample_rate=48000, init="vocos-fullband-branch", high_layers=2), MEL)


def test_training_the_high_band_alone_changes_nothing_below_the_mels_band(tmp_path):
    data = tmp_path / "corpus"
    build_corpus(data, n=8, jobs=1, duration=2.0, sample_rate=48000, soundfont=bundled_soundfont(), progress=False)
    start = tmp_path / "start"
    torch.manual_seed(0)
    NeuralVocoder(NeuralVocoderConfig(dim=16, intermediate=32, layers=2, sample_rate=48000), MEL).save(start)
    run = tmp_path / "branch"
    args = ["train-vocoder", "--data", str(data), "--out", str(run), "--clips", "4", "--val-clips", "1", "--quiet"]
    args += ["--sample-rate", "48000", "--init", str(start), "--high-layers", "1", "--high-band-only", "--lr", "1e-2"]
    assert main(args + ["--batch-size", "2", "--crop-frames", "16", "--steps", "3", "--checkpoint-every", "3"]) == 0
    before, after = NeuralVocoder.from_folder(start), NeuralVocoder.from_folder(run)
    assert after.cfg.high_layers == 1 and json.loads((run / "vocoder.json").read_text())["model"]["high_layers"] == 1
    mel = log_mel_spectrogram(synth_music(sample_rate=16000, seconds=1.0), MEL)[None]
    old, new = before.spectrum(mel), after.spectrum(mel)
    low = MEL.n_fft // 2 + 1
    assert torch.equal(old[:, :low], new[:, :low]) and not torch.allclose(old[:, low:], new[:, low:])

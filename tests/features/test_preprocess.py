import dataclasses

import numpy as np
import pytest

from tests.conftest import synth_music, write_wav
from text2music.data.musiccaps import Clip, write_clips
from text2music.features.mel import MelConfig, get_preset, load_audio, log_mel_spectrogram
from text2music.features.preprocess import FeatureSet, load_features, preprocess


def make_data(tmp_path, sample_rate=22050):
    """A data folder with good clips and one of each kind of bad clip."""
    data = tmp_path / "data"
    audio = data / "audio"
    clips = []

    def clip(ytid, split="train"):
        clips.append(Clip(ytid=ytid, start_s=0, end_s=10, aspects=("piano",), caption=f"caption of {ytid}", split=split))

    for i in range(4):
        write_wav(audio / f"good{i}.wav", synth_music(sample_rate, 10.0, bpm=90 + 20 * i, seed=i), sample_rate)
        clip(f"good{i}", split="test" if i == 3 else "train")
    # a 44.1 kHz stereo clip: resampled and downmixed
    stereo = np.stack([synth_music(44100, 10.0, seed=9)] * 2, axis=1)
    write_wav(audio / "stereo.wav", stereo, 44100)
    clip("stereo")
    write_wav(audio / "silent.wav", np.zeros(10 * sample_rate, np.float32), sample_rate)
    clip("silent")
    write_wav(audio / "short.wav", synth_music(sample_rate, 2.0), sample_rate)
    clip("short")
    (audio / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    clip("corrupt")
    write_wav(audio / "empty.wav", np.zeros(0, np.float32), sample_rate)
    clip("empty")
    clip("missing")
    write_clips(data / "metadata.csv", clips)
    return data


@pytest.mark.parametrize("jobs", [1, 2])
def test_preprocess_writes_fixed_arrays_and_reports_skips(tmp_path, jobs):
    data = make_data(tmp_path)
    cfg = get_preset("small")
    summary = preprocess(data, cfg, name="small", jobs=jobs, progress=False)
    assert summary["arrays"] == 5 and summary["new"] == 5
    assert summary["skipped_by_reason"] == {"silent": 1, "too_short": 1, "unreadable": 1, "empty": 1, "missing_audio": 1}
    fs = FeatureSet(data / "features" / "small")
    assert fs.config() == cfg
    skipped = {r["ytid"]: r for r in map(__import__("json").loads, fs.skipped_path.read_text().splitlines())}
    assert "corrupt.wav" in skipped["corrupt"]["message"]

    loaded_cfg, records, arrays = load_features(fs.root)
    assert arrays.shape == (5, 80, 626) and loaded_cfg == cfg
    assert [r["ytid"] for r in records] == ["good0", "good1", "good2", "good3", "stereo"]
    assert records[0]["caption"] == "caption of good0" and records[0]["aspects"] == ["piano"]
    # the stored array is the mel of the file (float16 storage: within 0.01 in unit scale)
    direct = log_mel_spectrogram(load_audio(data / "audio" / "good1.wav", cfg.sample_rate), cfg).numpy()
    assert np.abs(arrays[1] - direct[:, : cfg.n_frames]).max() < 0.01
    assert load_features(fs.root, split="test")[2].shape[0] == 1


def test_rerun_processes_only_missing_and_refuses_other_config(tmp_path):
    data = make_data(tmp_path)
    cfg = get_preset("small")
    preprocess(data, cfg, name="small", progress=False)
    fs = FeatureSet(data / "features" / "small")
    (fs.root / "mels" / "good2.npy").unlink()
    stamp = (fs.root / "mels" / "good0.npy").stat().st_mtime_ns
    summary = preprocess(data, cfg, name="small", progress=False)
    assert summary["new"] == 1 and summary["arrays"] == 5
    assert (fs.root / "mels" / "good0.npy").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="another MelConfig"):
        preprocess(data, MelConfig(n_mels=64), name="small", progress=False)


def test_rerun_takes_captions_from_the_current_metadata(tmp_path):
    """`data label` restates captions in metadata.csv; kept arrays get the new texts, not the old."""
    from text2music.data.musiccaps import read_clips

    data = make_data(tmp_path)
    cfg = get_preset("small")
    preprocess(data, cfg, name="small", progress=False)
    stamp = (data / "features" / "small" / "mels" / "good0.npy").stat().st_mtime_ns
    clips = [dataclasses.replace(c, caption=c.caption + " at 68 BPM") for c in read_clips(data / "metadata.csv")]
    write_clips(data / "metadata.csv", clips)
    assert preprocess(data, cfg, name="small", progress=False)["new"] == 0
    _, records, _ = load_features(data / "features" / "small")
    assert records[0]["caption"] == "caption of good0 at 68 BPM"
    assert (data / "features" / "small" / "mels" / "good0.npy").stat().st_mtime_ns == stamp


def test_seed_preset_shape(tmp_path):
    data = make_data(tmp_path)
    summary = preprocess(data, get_preset("seed"), name="seed", limit=2, progress=False)
    assert summary["shape"] == [256, 420] and summary["arrays"] == 2
    _, _, arrays = load_features(data / "features" / "seed")
    assert arrays.shape == (2, 256, 420) and arrays.max() > 0  # dB values, seed scale


def test_missing_metadata(tmp_path):
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        preprocess(tmp_path, get_preset("small"), name="x", progress=False)


def test_interrupted_run_keeps_finished_arrays(tmp_path, monkeypatch):
    """A run killed after some chunks keeps their index lines; the next run does only the rest."""
    import text2music.features.preprocess as pp

    data = make_data(tmp_path)
    cfg = get_preset("small")
    monkeypatch.setattr(pp, "CHUNK", 2)
    calls = []
    real = pp._process_chunk

    def crash_on_third_chunk(items, cfg):
        calls.append(len(items))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(items, cfg)

    monkeypatch.setattr(pp, "_process_chunk", crash_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        preprocess(data, cfg, name="small", progress=False)
    done_first = [r["ytid"] for r in FeatureSet(data / "features" / "small").index()]
    assert len(done_first) >= 2
    monkeypatch.setattr(pp, "_process_chunk", real)
    summary = preprocess(data, cfg, name="small", progress=False)
    assert summary["arrays"] == 5 and summary["new"] == 5 - len(done_first)


def test_limit_keeps_arrays_of_earlier_runs(tmp_path):
    data = make_data(tmp_path)
    cfg = get_preset("small")
    preprocess(data, cfg, name="small", progress=False)
    assert preprocess(data, cfg, name="small", limit=1, progress=False)["arrays"] == 5

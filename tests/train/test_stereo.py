"""`train-stereo`: the upmixer learns from stereo files, resumes, and writes what the bundled one ships."""

import json

import numpy as np
import pytest
import soundfile as sf

from text2music.cli import main
from text2music.models.stereo import StereoUpmixer
from text2music.utils import read_jsonl


@pytest.fixture(scope="module")
def stereo_folder(tmp_path_factory):
    """Three short stereo files (narrow lows, wide highs) and a mono one, which is left out."""
    folder = tmp_path_factory.mktemp("stereo_music")
    rng = np.random.default_rng(0)
    t = np.arange(3 * 22050) / 22050
    for i in range(3):
        low = 0.3 * np.sin(2 * np.pi * 110 * (i + 1) * t)
        left, right = rng.standard_normal((2, len(t))) * 0.05
        sf.write(folder / f"song{i}.ogg", np.stack([low + left, low + right], axis=1), 22050)
    sf.write(folder / "mono.wav", 0.1 * np.sin(2 * np.pi * 220 * t), 22050)
    return folder


def test_trains_resumes_and_writes_the_upmixer(stereo_folder, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train-stereo", "--audio", str(stereo_folder), "--out", str(out), "--batch-size", "2", "--crop-frames", "32", "--quiet"]
    assert main([*args, "--steps", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 4
    for name in ("stereo.json", "stereo.safetensors", "constant.json", "state.pt", "log.jsonl", "loss.png", "train_config.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "constant.json").read_text())["train_files"] == 2  # one of the three held out for validation
    assert main([*args, "--steps", "6"]) == 0  # resumes at step 4
    assert json.loads(capsys.readouterr().out)["steps"] == 6
    assert [r["step"] for r in read_jsonl(out / "log.jsonl") if r["type"] == "val"] == [0, 4, 6]
    upmixer = StereoUpmixer.from_folder(out)
    assert upmixer.upmix(np.zeros(1000, np.float32), 22050).shape == (2, 1000)


def test_a_folder_without_stereo_files_is_one_line(tmp_path, capsys):
    sf.write(tmp_path / "mono.wav", np.zeros(1000), 22050)
    assert main(["train-stereo", "--audio", str(tmp_path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "no stereo .ogg, .flac or .wav files" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()

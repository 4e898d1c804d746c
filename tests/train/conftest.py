import pytest

from tests.conftest import synth_music, write_wav
from text2music.data.musiccaps import Clip, write_clips
from text2music.features.mel import MelConfig
from text2music.features.preprocess import preprocess

TINY_MEL = MelConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=32, n_frames=64)  # about 1 s
WORDS = ["calm piano", "fast rock with drums", "sad strings", "happy jazz", "slow ambient pad", "loud metal"]


@pytest.fixture(scope="session")
def tiny_features(tmp_path_factory):
    """A preprocessed data folder: 16 train and 4 valid clips of about 1 s, tiny mel config."""
    data = tmp_path_factory.mktemp("tiny")
    clips = []
    for i in range(20):
        ytid = f"t{i:02d}"
        write_wav(data / "audio" / f"{ytid}.wav", synth_music(16000, 1.2, bpm=80 + 10 * i, seed=i), 16000)
        word = WORDS[i % len(WORDS)]
        clips.append(Clip(ytid=ytid, start_s=0, end_s=1.2, aspects=tuple(word.split()), caption=f"A {word} piece, number {i}.",
                          split="valid" if i % 5 == 0 else "train"))
    write_clips(data / "metadata.csv", clips)
    preprocess(data, TINY_MEL, name="tiny", progress=False)
    return data / "features" / "tiny"

"""text2music: turn a text description of music into audio.

Python API (mirrors the CLI):

    from text2music import Text2Music
    waves, sr = Text2Music.from_pretrained().generate(["a calm solo piano piece in A minor at 70 BPM"])

    from text2music import GenerationSettings, build_corpus, download_musiccaps, preprocess, get_preset, train, TrainConfig

    build_corpus("data/synth", n=4000, jobs=2)                       # text2music data synth
    preprocess("data/synth", get_preset("seed"), name="seed")        # text2music data preprocess
    train(TrainConfig.load("configs/seed_lstm.json"))                # text2music train
    pipe = Text2Music.from_pretrained("runs/seed_lstm/best")         # text2music generate --model ...
    out = pipe(["a calm piano piece"], GenerationSettings(duration=8.0, seed=1))   # out.audio, out.mel, out.sample_rate

Names are imported on first use, so `import text2music` (and the CLI's --help) stays fast.

Importing the package lets torch's OpenMP threads sleep, not spin, while they wait
(OMP_WAIT_POLICY=PASSIVE, unless the environment sets it), for every entry point: the CLI, the
server and the Python API. It must happen before torch loads: import text2music first. On 2 cores
with one busy elsewhere, spinning threads made a 10-s clip take 15.4 s instead of 8.4 s and a
fine-tuning step 10.9 s instead of 1.9 s (BENCHMARKS.md).
"""

import os
from importlib import import_module
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

BUNDLED_MUSICCAPS_CSV = Path(__file__).parent / "data" / "assets" / "musiccaps-public.csv"

_API = {
    "Clip": "text2music.data.musiccaps",
    "read_clips": "text2music.data.musiccaps",
    "DownloadConfig": "text2music.data.download",
    "download_musiccaps": "text2music.data.download",
    "build_corpus": "text2music.data.synth",
    "corpus_stats": "text2music.data.synth",
    "MelConfig": "text2music.features.mel",
    "PRESETS": "text2music.features.mel",
    "get_preset": "text2music.features.mel",
    "log_mel_spectrogram": "text2music.features.mel",
    "mel_to_audio": "text2music.features.mel",
    "load_features": "text2music.features.preprocess",
    "preprocess": "text2music.features.preprocess",
    "plot_file": "text2music.features.plot",
    "TrainConfig": "text2music.train.config",
    "train": "text2music.train.loop",
    "Text2Music": "text2music.generate.pipeline",
    "Generation": "text2music.generate.pipeline",
    "GenerationSettings": "text2music.generate.settings",
}

__all__ = ["BUNDLED_MUSICCAPS_CSV", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'text2music' has no attribute {name!r}")

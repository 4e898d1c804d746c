"""text2music: turn a text description of music into audio.

Python API (mirrors the CLI):

    from text2music import download_musiccaps, preprocess, MelConfig, get_preset
    from text2music.features.mel import log_mel_spectrogram, mel_to_audio
"""

from pathlib import Path

__version__ = "0.1.0"

BUNDLED_MUSICCAPS_CSV = Path(__file__).parent / "data" / "assets" / "musiccaps-public.csv"

from text2music.data.download import DownloadConfig, download_musiccaps  # noqa: E402
from text2music.data.musiccaps import Clip, read_clips  # noqa: E402
from text2music.features.mel import MelConfig, PRESETS, get_preset, log_mel_spectrogram, mel_to_audio  # noqa: E402
from text2music.features.preprocess import load_features, preprocess  # noqa: E402

__all__ = [
    "BUNDLED_MUSICCAPS_CSV",
    "Clip",
    "DownloadConfig",
    "MelConfig",
    "PRESETS",
    "download_musiccaps",
    "get_preset",
    "load_features",
    "log_mel_spectrogram",
    "mel_to_audio",
    "preprocess",
    "read_clips",
]

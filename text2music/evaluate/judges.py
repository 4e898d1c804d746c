"""External judges: pretrained models and fixed algorithms that nobody on this project trained.

- musicnn (Pons & Serra 2019; ISC): the MagnaTagATune and Million Song Dataset auto-taggers,
  ported to torch (`text2music.analysis.musicnn`): tag probabilities, and the MSD model's
  penultimate features as the embedding for Frechet Audio Distance;
  musicnn's log-compressed front end hears a louder clip as more drummy (a drum-free corpus clip
  raised from -30 to -16 dBFS: its median drums tag doubles), so the drums verdict (`drums_tag`) hears
  every clip at one loudness, the pipeline's output loudness;
- librosa's beat tracker (tempo), a key finder (key and mode), a meter classifier (3/4 or 4/4 from
  beat-level accents) and a high-band noise detector (drums): `text2music.analysis`.
Every clip is judged mono at musicnn's rate (16 kHz), whatever rate its system made it at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from text2music.analysis.drums import drum_activity
from text2music.analysis.key import estimate_key
from text2music.analysis.meter import estimate_meter
from text2music.analysis.musicnn import SAMPLE_RATE as MUSICNN_RATE
from text2music.analysis.musicnn import load_musicnn
from text2music.analysis.tempo import estimate_tempo
from text2music.evaluate.concepts import JUDGE_TAGS
from text2music.evaluate.spectra import speckle
from text2music.features.mel import MelConfig, log_mel_spectrogram
from text2music.generate.pipeline import normalize_loudness

JUDGE_RATE = MUSICNN_RATE  # every judge hears the clip as the taggers do
TAGGERS = ("MTT_musicnn", "MSD_musicnn")
EMBEDDING_MODEL = "MSD_musicnn"
SPECKLE_MEL = MelConfig(sample_rate=JUDGE_RATE, n_fft=1024, hop_length=256, n_mels=80, n_frames=626, norm="db")


@dataclass
class Judgement:
    tags: dict[str, float]  # concept -> probability of its judge tag
    embeddings: np.ndarray  # (n_patches, dim)
    tempo: float
    key: str  # tonic
    mode: str
    drum_activity: float
    speckle: float  # dB of pixel noise on the log-mel (text2music.evaluate.spectra.speckle)
    meter: int  # beats per bar heard: 3 or 4
    drums_tag: float  # the drums concept's tag with the clip at the pipeline's output loudness (normalize_loudness)

    def to_dict(self) -> dict:
        return {
            "tags": self.tags,
            "tempo": self.tempo,
            "key": self.key,
            "mode": self.mode,
            "drum_activity": self.drum_activity,
            "speckle": self.speckle,
            "meter": self.meter,
            "drums_tag": self.drums_tag,
        }


class Judges:
    def __init__(self):
        self.taggers = {name: load_musicnn(name) for name in TAGGERS}
        for concept, (model, tag) in JUDGE_TAGS.items():
            if tag not in self.taggers[model].tags:
                raise ValueError(f"concept {concept!r}: {model} has no tag {tag!r}")

    def __call__(self, audio: np.ndarray, sample_rate: int) -> Judgement:
        y = np.asarray(audio, dtype=np.float32)
        if sample_rate != JUDGE_RATE:
            y = soxr.resample(y, sample_rate, JUDGE_RATE).astype(np.float32)
        probs, embeddings = {}, None
        for name, tagger in self.taggers.items():
            p, emb = tagger.analyze(y, JUDGE_RATE)
            probs[name] = dict(zip(tagger.tags, p.tolist()))
            if name == EMBEDDING_MODEL:
                embeddings = emb
        tags = {concept: probs[model][tag] for concept, (model, tag) in JUDGE_TAGS.items()}
        model, tag = JUDGE_TAGS["drums"]
        leveled = self.taggers[model].analyze(normalize_loudness(y[None])[0], JUDGE_RATE)[0]
        key = estimate_key(y, JUDGE_RATE)
        mel_db = log_mel_spectrogram(y, SPECKLE_MEL).numpy()
        return Judgement(
            tags=tags,
            embeddings=np.asarray(embeddings, np.float32),
            tempo=estimate_tempo(y, JUDGE_RATE),
            key=key.key,
            mode=key.mode,
            drum_activity=drum_activity(y, JUDGE_RATE),
            speckle=speckle(mel_db),
            meter=estimate_meter(y, JUDGE_RATE),
            drums_tag=float(leveled[self.taggers[model].tags.index(tag)]),
        )

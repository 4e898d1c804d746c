"""Measurements on audio, shared by the corpus (`text2music.data`) and the evaluation
(`text2music.evaluate`); nothing here imports either of them.

- `key`: Krumhansl-Schmuckler key and mode on CQT chroma, and how an estimate relates to a key;
- `tempo`: librosa's beat tracker and the octave-tolerant agreement with a stated BPM;
- `drums`: how often the band above 5 kHz carries broadband noise (hats, cymbals, snares);
- `clip`: loudness, and one clip measured against its stated tempo, key and drums;
- `musicnn`: the musicnn auto-taggers (MagnaTagATune, Million Song Dataset) in torch, with their
  weights in `assets/musicnn/`.

The submodules import librosa and torch lazily or at their own top; import them directly.
"""

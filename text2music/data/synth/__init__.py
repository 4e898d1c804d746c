"""Offline MusicCaps-style corpus: procedurally composed music rendered with a GM soundfont.

    from text2music.data.synth import build_corpus, corpus_stats
    build_corpus("data/synth", n=4000, seed=0, jobs=2)   # resumable, deterministic
    corpus_stats("data/synth")                            # stats.json + stats.png

Layout of the output folder:

    audio/{clip_id}.wav   mono PCM_16 clips, exactly `duration` seconds ("synth-000042")
    metadata.csv          MusicCaps columns + `split` (ytid = clip id, author_id "synth")
    manifest.jsonl        ground truth per clip: genre, key, mode, bpm, instruments with roles,
                          drums, dynamics, mood, caption template family, split, seed, ...
    corpus.json           the build arguments; other arguments into the same folder are refused
    stats.json/.png       written by `corpus_stats`

Modules: compose (attributes -> notes, with the keys, chords and progressions of
`text2music.theory`), render (notes -> audio, soundfont discovery), captions (attributes ->
caption + aspects), corpus (parallel build), stats. Measurements on the audio (tempo, key, drums, loudness): `text2music.analysis`.
"""

from text2music.data.synth.compose import GENRES, INSTRUMENTS
from text2music.data.synth.corpus import build_corpus
from text2music.data.synth.stats import corpus_stats

__all__ = ["GENRES", "INSTRUMENTS", "build_corpus", "corpus_stats"]

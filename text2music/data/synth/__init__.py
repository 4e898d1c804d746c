"""Offline MusicCaps-style corpus: procedurally composed music with exact ground truth, rendered
plain (one GM soundfont, mono: the synth-1 corpus) or studio (stereo: soundfonts and sampled drum
kits drawn per clip, a humanised performance, one stem per part, produced and mastered per style).

    from text2music.data.synth import build_corpus, corpus_stats
    build_corpus("data/studio", n=4000, seed=0, jobs=2, production="studio")   # resumable, deterministic
    build_corpus("data/synth", n=4000, seed=0, jobs=2)                         # plain: the synth-1 corpus
    corpus_stats("data/synth")                                                 # stats.json + stats.png

Layout of the output folder:

    audio/{clip_id}.wav   PCM_16 clips (mono plain, stereo studio), exactly `duration` seconds ("synth-000042")
    metadata.csv          MusicCaps columns + `split` (ytid = clip id, author_id "synth")
    manifest.jsonl        ground truth per clip: genre, key, mode, bpm, instruments with roles,
                          drums, dynamics, mood, beats, chords, caption template family, split,
                          seed, ... and (studio) the soundfont, drum kit and production plan used
    corpus.json           the build arguments and sound sources; other ones into the same folder are refused
    stats.json/.png       written by `corpus_stats`

Modules: compose (attributes -> notes, with the keys, chords and progressions of
`text2music.theory`), performance (humanisation per role, pedal, swells), render (notes -> audio
with tinysoundfont, the soundfont pool), drumkits (Hydrogen kits), studio (what a clip is rendered
with, and its rendering), captions (attributes -> caption + aspects), corpus (parallel build),
stats; the mix and master per style are `text2music.production`, shared with generation's reverb.
docs/corpus.md describes the corpus. Measurements on the audio (tempo, key, drums, loudness):
`text2music.analysis`.
"""

from text2music.data.synth.compose import GENRES, INSTRUMENTS
from text2music.data.synth.corpus import build_corpus
from text2music.data.synth.stats import corpus_stats

__all__ = ["GENRES", "INSTRUMENTS", "build_corpus", "corpus_stats"]

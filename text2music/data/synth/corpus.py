"""Build the offline corpus: parallel, deterministic, resumable.

Clip `i` of a corpus with seed `s` depends on (s, i) only: its random generators are spawned
from `SeedSequence([s, i])`, one each for the song's attributes, its notes, its rendering, its
caption and (studio) its soundfont and drum kit, its performance and its production. So the
corpus is the same whatever `jobs` is and however clips are grouped into work chunks (a worker's
renderer puts its synthesizers back into their freshly loaded state for every part), and a
re-run skips clips whose WAV already exists (WAVs are written atomically, so an existing WAV
is always complete). metadata.csv and manifest.jsonl are written, atomically, at the end of
every build from all clips' (recomputed, cheap) attributes and sound sources.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections import Counter
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from text2music.data.corpus_folder import SPLIT_FRACTIONS, split_of
from text2music.data.musiccaps import clips_from_records, write_clips
from text2music.data.synth.captions import HELDOUT_FAMILIES, make_caption
from text2music.data.synth.compose import Song, sample_song, timeline
from text2music.data.synth.drumkits import DEFAULT_DRUMKITS, find_drumkits
from text2music.data.synth.render import soundfont_pool
from text2music.data.synth.studio import VERSIONS, Renderer, Sources
from text2music.production import load_styles
from text2music.theory import PROGRESSIONS, progression_chords
from text2music.utils import atomic_path, record_settings, removed_on_failure, sweep_stale_temps, write_jsonl
from text2music.workers import worker_pool

log = logging.getLogger(__name__)

CLIP_PREFIX = "synth-"
MIN_DURATION, MAX_DURATION = 1.0, 30.0
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 96000
N_RNGS = 7


@dataclass(frozen=True)
class BuildConfig:
    """The arguments that determine a corpus' content (recorded in corpus.json, with its
    production, sound sources and generator version: `Sources.settings`)."""

    n: int
    seed: int
    duration: float
    sample_rate: int
    drum_prob: float | None = None  # the chance of drums in every genre; None: each genre's own


def clip_id(index: int) -> str:
    return f"{CLIP_PREFIX}{index:06d}"


def split_for(cid: str) -> str:
    """train / valid / test (about 80/10/10) from a stable hash of the clip id."""
    return split_of(hashlib.sha1(cid.encode()).hexdigest())


def clip_rngs(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for (attributes, notes, rendering, caption, sources, performance,
    production) of clip `index` (the first four are those of the plain corpus)."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence([seed, index]).spawn(N_RNGS))


def song_record(song: Song) -> dict:
    """The ground-truth attributes of a song, JSON-ready."""
    chords = progression_chords(PROGRESSIONS[song.progression], song.tonic)
    return {
        "genre": song.genre,
        "key": song.key,
        "mode": song.mode,
        "key_name": f"{song.key} {song.mode}",
        "bpm": song.bpm,
        "tempo": song.tempo_class,
        "meter": f"{song.meter}/4",
        "swing": song.swing,
        "progression": song.progression,
        "chords": [c.label for c in chords],
        "instruments": [{"name": p.name, "role": p.role, "program": p.program, "style": p.style} for p in song.parts if not p.is_drums],
        "solo": song.solo,
        "drums": song.drums,
        "drum_kit": song.drum_kit,
        "drum_pattern": song.drum_pattern,
        "dynamics": song.dynamics,
        "mood": song.mood,
    }


def make_clip(index: int, seed: int, out: Path, duration: float, renderer: Renderer, drum_prob: float | None = None) -> tuple[dict, bool]:
    """Compose, caption and (unless its WAV exists) render and write clip `index` (`drum_prob`: as
    `sample_song`'s). Returns (manifest record, whether it was rendered now)."""
    r_song, r_notes, r_render, r_caption, *r_studio = clip_rngs(seed, index)
    cid = clip_id(index)
    split = split_for(cid)
    song = sample_song(r_song, drum_prob=drum_prob)
    caption = make_caption(song, split, r_caption)
    wav = out / "audio" / f"{cid}.wav"
    r_sources, r_perform, r_production = r_studio
    choice = renderer.choose(song, r_sources, r_production)
    sample_rate = renderer.sample_rate
    rendered = not wav.exists()
    if rendered:
        audio = renderer.render(song, duration, choice, r_notes, r_render, r_perform)
        with atomic_path(wav) as tmp:
            sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")
    audio, sr = sf.read(wav, dtype="float64")
    if sr != sample_rate or len(audio) != int(round(duration * sample_rate)):
        raise RuntimeError(f"{wav}: {len(audio)} samples at {sr} Hz, expected {int(round(duration * sample_rate))} at {sample_rate} Hz")
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    record = {
        "clip_id": cid,
        "index": index,
        "split": split,
        "seed": seed,
        "audio": f"audio/{cid}.wav",
        "duration": duration,
        "sample_rate": sample_rate,
        **song_record(song),
        **timeline(song, duration),
        "loudness_dbfs": round(float(20 * np.log10(np.sqrt(np.mean(mono**2)) + 1e-12)), 2),
        "template": caption.family,
        "template_heldout": caption.family in HELDOUT_FAMILIES,
        "caption": caption.text,
        "aspects": caption.aspects,
        **(choice.record() if choice else {}),
    }
    return record, rendered


class _Worker:
    """A worker process's renderer (set once, when the worker starts): its soundfonts and drum
    samples stay loaded from one chunk of clips to the next."""

    renderer: Renderer | None = None


def _start_worker(renderer: Renderer) -> None:
    _Worker.renderer = renderer


def _make_chunk(indices: list[int], seed: int, out: str, duration: float, drum_prob: float | None) -> list[tuple[dict, bool]]:
    return [make_clip(i, seed, Path(out), duration, _Worker.renderer, drum_prob) for i in indices]


def _make_clips(n: int, jobs: int, args: tuple, renderer: Renderer, advance) -> list[tuple[dict, bool]]:
    """`make_clip` for clips 0..n-1 (in any order), in this process or in `jobs` workers that
    each take chunks of clips; `advance(k)` after every k clips made."""
    if jobs == 1:
        made = []
        for i in range(n):
            made.append(make_clip(i, args[0], Path(args[1]), args[2], renderer, args[3]))
            advance(1)
        return made
    size = max(1, min(16, math.ceil(n / (jobs * 8))))
    chunks = [list(range(a, min(n, a + size))) for a in range(0, n, size)]
    made = []
    renderer.preload()  # forked workers share the loaded soundfonts
    with worker_pool(jobs, initializer=_start_worker, initargs=(renderer,)) as pool:
        futures = [pool.submit(_make_chunk, chunk, *args) for chunk in chunks]
        try:
            for fut in as_completed(futures):
                done = fut.result()
                made += done
                advance(len(done))
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return made


def _check_production(path: Path, version: str) -> None:
    """A build into a folder that holds the other production's corpus: one line saying which flag resumes it."""
    theirs = json.loads(path.read_text()).get("version") if path.is_file() else None
    if theirs in VERSIONS.values() and theirs != version:
        production = next(p for p, v in VERSIONS.items() if v == theirs)
        raise ValueError(
            f"{path.parent} holds a {production} ({theirs}) corpus: pass --production {production} to resume it, or use another folder"
        )


def check_arguments(
    n, seed, jobs, duration, sample_rate, production="plain", soundfonts=None, drumkits=None, styles=None, drum_prob=None
) -> Sources:
    """One-line errors for bad build arguments, before anything is written -> what the build
    renders with. `drum_prob`: the chance of drums in every genre (None: each genre's own; 0: a
    drum-free corpus). `soundfonts`: paths (default: the bundled TimGM6mb, and in a studio build the
    installed Debian soundfonts); studio only: `drumkits`, a folder of Hydrogen kits (default:
    Debian's hydrogen-drumkits) or "none" (the soundfont's drums), and `styles`, a JSON file of
    production settings in place of the built-in ones (`production.load_styles`)."""

    def is_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    if not is_int(n) or n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if not is_int(jobs) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs}")
    if not isinstance(duration, (int, float)) or not (MIN_DURATION <= float(duration) <= MAX_DURATION):
        raise ValueError(f"duration must be between {MIN_DURATION:g} and {MAX_DURATION:g} seconds, got {duration}")
    if not is_int(sample_rate) or not (MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE):
        raise ValueError(f"sample_rate must be an integer in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz, got {sample_rate}")
    if drum_prob is not None and (isinstance(drum_prob, bool) or not isinstance(drum_prob, (int, float)) or not 0 <= drum_prob <= 1):
        raise ValueError(f"drum_prob must be a probability in [0, 1] (or None for each genre's own), got {drum_prob}")
    if isinstance(soundfonts, (str, os.PathLike)):
        soundfonts = [soundfonts]
    pool = soundfont_pool(soundfonts, production)
    if production == "plain":
        for name, value in (("--drumkits", drumkits), ("--styles", styles)):
            if value is not None:
                raise ValueError(f"a plain build is neither produced nor played on sampled kits: {name} needs --production studio")
        return Sources(production, pool)
    checked = load_styles(styles)  # one line naming the file or the setting
    overrides = None if styles is None else json.loads(Path(styles).read_text())
    kits = () if str(drumkits) == "none" else find_drumkits(DEFAULT_DRUMKITS if drumkits is None else drumkits)
    return Sources(production, pool, kits, checked, overrides)


def build_corpus(
    out: str | os.PathLike,
    n: int,
    seed: int = 0,
    jobs: int = 1,
    duration: float = 10.0,
    sample_rate: int = 22050,
    soundfont: str | os.PathLike | list | None = None,
    production: str = "plain",
    drumkits: str | os.PathLike | None = None,
    styles: str | os.PathLike | None = None,
    drum_prob: float | None = None,
    progress: bool = True,
) -> dict:
    """Compose, render and caption `n` clips into `out` (see the package docstring for the layout).
    `production`: "plain" (mono, one soundfont: the synth-1 corpus) or "studio" (stereo, soundfonts
    and drum kits drawn per clip, performed and produced); `soundfont` one path or several,
    `drumkits`, `styles` and `drum_prob` as in `check_arguments`. Re-running with the same arguments resumes; other
    arguments into the same folder are refused."""
    sources = check_arguments(n, seed, jobs, duration, sample_rate, production, soundfont, drumkits, styles, drum_prob)
    duration = float(duration)
    out = Path(out)
    drum_prob = None if drum_prob is None else float(drum_prob)
    settings = {**asdict(BuildConfig(int(n), int(seed), duration, int(sample_rate), drum_prob)), **sources.settings()}
    if drum_prob is None:
        del settings["drum_prob"]  # corpus.json as the code before the option wrote it (synth-1 stays byte-identical)

    from tqdm import tqdm

    t0 = time.perf_counter()
    with removed_on_failure(out, keep=f"audio/{CLIP_PREFIX}*.wav"):
        (out / "audio").mkdir(parents=True, exist_ok=True)
        for folder in (out, out / "audio"):
            sweep_stale_temps(folder)  # what a killed build was writing
        _check_production(out / "corpus.json", settings["version"])
        record_settings(out / "corpus.json", settings, "a corpus", defaults={"drum_prob": None})  # older corpora: each genre's own
        log.info("synth corpus: %d clips into %s (seed %d, %d jobs, %s, %s)", n, out, seed, jobs, production, sources.soundfonts)
        renderer = Renderer(sources, int(sample_rate))
        with tqdm(total=n, desc="synth", unit="clip", disable=not progress, dynamic_ncols=True) as bar:
            made = _make_clips(n, jobs, (int(seed), str(out), duration, drum_prob), renderer, bar.update)
    records = [record for record, _ in made]
    rendered = sum(new for _, new in made)
    seconds = time.perf_counter() - t0

    records.sort(key=lambda r: r["clip_id"])
    write_clips(out / "metadata.csv", clips_from_records(records, duration, "synth"))
    write_jsonl(out / "manifest.jsonl", records)
    splits = Counter(r["split"] for r in records)
    summary = {
        "out": str(out),
        "n": n,
        "production": production,
        "rendered": rendered,
        "skipped": n - rendered,
        "seconds": round(seconds, 2),
        "clips_per_s": round(rendered / seconds, 2) if rendered and seconds > 0 else None,
        "splits": {s: splits.get(s, 0) for s in SPLIT_FRACTIONS},
        "soundfonts": [str(p) for p in sources.soundfonts],
        "drum_kits": [k.name for k in sources.drumkits],
        "metadata": str(out / "metadata.csv"),
        "manifest": str(out / "manifest.jsonl"),
    }
    log.info("synth corpus done: %s", summary)
    return summary

"""The `text2music` command line: one entry point, one subcommand per job.

text2music data musiccaps   download MusicCaps clips with yt-dlp
text2music data synth       build the offline MusicCaps-style corpus
text2music data import      any audio files or folders -> a captioned corpus (auto captions)
text2music data debian      the real-music corpus from Debian's game soundtracks (licences recorded)
text2music data label       beat grids and chords for an imported corpus's clips
text2music data stats       statistics and pictures of a data folder
text2music data preprocess  audio -> fixed-shape log-mel arrays
text2music train            train a model (the seed's baselines, ...); resumable, DDP-ready
text2music train-vocoder    train the neural vocoder (mel -> waveform) on a corpus's audio
text2music train-stereo     train the stereo upmixer (mono -> stereo width) on real stereo music
text2music finetune         fine-tune a model on your own music (data import) as a LoRA adapter
text2music distill          distil classifier-free guidance into a one-pass student (twice as fast)
text2music generate         text -> music (WAV/FLAC) with the generative model (default: bundled)
text2music predict          text -> mel array, picture and audio with a trained model (seed baselines)
text2music evaluate         judge a model (or real audio) with external judges; metrics + report
text2music leaderboard      the table of EVALUATION.md from evaluation reports
text2music plot             spectrogram picture of an audio file or mel array
text2music serve            web page and HTTP API for generating music (127.0.0.1:7860 by default)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import signal
import sys
import tempfile
from pathlib import Path

from text2music import BUNDLED_MUSICCAPS_CSV

log = logging.getLogger("text2music")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; "(default: X)" after an option's help when X says something
    (not None, not False, and not already in the help)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            not any(action.default is v for v in (None, False, argparse.SUPPRESS))
            and "default" not in text
            and (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))
        ):
            text += " (default: %(default)s)"
        return text


def setup_logging(log_file: Path | None = None) -> None:
    """INFO and above to `log_file` (when given), WARNING and above to the console."""
    log.setLevel(logging.INFO)
    log.handlers.clear()
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(fh)


def _print_summary(summary: dict) -> None:
    print(json.dumps(summary, indent=2))


def _int_at_least(value: str, least: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
    if n < least:
        raise argparse.ArgumentTypeError(f"must be {'positive' if least == 1 else f'at least {least}'}, got {n}")
    return n


def _positive_int(value: str) -> int:
    return _int_at_least(value, 1)


def _count(value: str) -> int:
    return _int_at_least(value, 0)


# ---------------------------------------------------------------------------------------------
# data musiccaps


def cmd_musiccaps(args) -> int:
    from text2music.data.download import DownloadConfig, download_musiccaps
    from text2music.data.musiccaps import read_clips

    cfg = DownloadConfig(
        sample_rate=args.sample_rate,
        **({"url_template": args.url_template} if args.url_template else {}),
        jobs=args.jobs,
        retry_failed=args.retry_failed,
        ffmpeg=args.ffmpeg,
        progress=not args.quiet,
    )
    read_clips(args.csv)  # a bad CSV or setting: one line, before the folder and its log are made
    setup_logging(args.out / "text2music.log")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill stops as Ctrl-C does: temp files removed
    summary = download_musiccaps(args.csv, args.out, cfg, split=args.split, subset=args.subset, limit=args.limit)
    log.info("download summary: %s", summary)
    _print_summary(summary)
    return 0


def add_musiccaps(sub) -> None:
    p = sub.add_parser("musiccaps", help="download MusicCaps clips with yt-dlp (resumable)", formatter_class=_Formatter)
    p.add_argument("--csv", type=Path, default=BUNDLED_MUSICCAPS_CSV, help="MusicCaps CSV")
    p.add_argument("--out", type=Path, required=True, help="data folder (audio/, metadata.csv, manifest.jsonl)")
    p.add_argument("--jobs", type=_positive_int, default=4, help="concurrent downloads")
    p.add_argument("--limit", type=_positive_int, default=None, help="at most this many clips")
    p.add_argument("--split", choices=["train", "valid", "test"], default=None, help="only this split (test = AudioSet eval)")
    p.add_argument("--subset", choices=["balanced", "audioset_eval"], default=None, help="only this MusicCaps subset")
    p.add_argument("--retry-failed", action="store_true", help="try again the clips that failed before")
    p.add_argument("--sample-rate", type=_positive_int, default=22050, help="WAV sample rate")
    p.add_argument("--url-template", default=None, help="video URL, '{ytid}' replaced by the id (default: YouTube's)")
    p.add_argument("--ffmpeg", default=None, help="ffmpeg binary (default: system ffmpeg, else imageio-ffmpeg's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_musiccaps)


# ---------------------------------------------------------------------------------------------
# data synth / stats


def cmd_synth(args) -> int:
    from text2music.data.synth import build_corpus
    from text2music.data.synth.corpus import CLIP_PREFIX, check_arguments
    from text2music.utils import removed_on_failure

    settings = {"n": args.n, "seed": args.seed, "jobs": args.jobs, "duration": args.duration, "sample_rate": args.sample_rate}
    settings["drum_prob"] = args.drum_prob
    sources = {"production": args.production, "soundfont": args.soundfont, "drumkits": args.drumkits, "styles": args.styles}
    check_arguments(**settings, production=args.production, soundfonts=args.soundfont, drumkits=args.drumkits, styles=args.styles)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill stops as Ctrl-C does: no half-written clip
    with removed_on_failure(args.out, keep=f"audio/{CLIP_PREFIX}*.wav"):
        setup_logging(args.out / "text2music.log")
        summary = build_corpus(args.out, **settings, **sources, progress=not args.quiet)
    log.info("synth summary: %s", summary)
    _print_summary(summary)
    return 0


def add_synth(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="compose and render the offline MusicCaps-style corpus",
        formatter_class=_Formatter,
        description="Compose songs with exact ground truth (tempo, key, meter, beats, chords) and render them.\n"
        "  studio: stereo; a soundfont and a sampled drum kit drawn per clip, a humanised performance,\n"
        "          each part a stem, produced and mastered per style\n"
        "  plain:  the synth-1 corpus (mono, one soundfont: TimGM6mb unless --soundfont)\n"
        "See docs/corpus.md.",
    )
    p.add_argument("--n", type=int, default=4000, help="number of clips")
    p.add_argument("--out", type=Path, required=True, help="data folder to write")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (same seed, same corpus)")
    p.add_argument("--jobs", type=_positive_int, default=2, help="worker processes")
    p.add_argument("--duration", type=float, default=10.0, help="clip length in seconds")
    p.add_argument("--sample-rate", type=_positive_int, default=22050, help="WAV sample rate")
    p.add_argument("--production", choices=["studio", "plain"], default="studio", help="studio corpus, or the plain synth-1 corpus")
    p.add_argument(
        "--drum-prob",
        type=float,
        default=None,
        help="chance of drums in every genre, in place of each genre's own (0: a drum-free corpus, which "
        "teaches the drums control where the genre cannot tell it)",
    )
    p.add_argument(
        "--soundfont",
        type=Path,
        action="append",
        default=None,
        help="GM soundfont (.sf2); give it several times for a studio pool (default: TimGM6mb, and in studio "
        "FluidR3_GM and MuseScore_General_Full where installed)",
    )
    p.add_argument(
        "--drumkits",
        default=None,
        help="studio: folder of Hydrogen drum kits (or of one kit), or 'none' for the soundfont's drums "
        "(default: /usr/share/hydrogen/data/drumkits)",
    )
    p.add_argument(
        "--styles",
        type=Path,
        default=None,
        help="studio: JSON file of production settings per style, in place of the built-in ones "
        '(e.g. {"jazz": {"reverb": {"wet": [0.2, 0.3]}}}; docs/corpus.md)',
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)


NO_LABELS_HELP = "no beats or chords per clip (faster: audio and captions only, as a vocoder needs); `data label` adds them later"
SPLITS_HELP = (
    "comma-separated splits (train, valid, test): import only the files of these, e.g. test for an evaluation corpus "
    "in a tenth of the time (a file's split comes from its content; a later run without it adds the rest)"
)


def _splits(value: str) -> tuple[str, ...]:
    from text2music.data.audio_import import check_splits

    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    try:
        check_splits(names or None)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--splits: ")) from None
    if not names:
        raise argparse.ArgumentTypeError("give at least one split: train, valid, test")
    return names


def cmd_import(args) -> int:
    from text2music.data.audio_import import AUDIO_SUFFIXES, ImportConfig, find_audio, import_audio, read_descriptions

    cfg = ImportConfig(clip_seconds=args.clip_seconds, sample_rate=args.sample_rate, min_track_seconds=args.min_seconds)
    files = find_audio(args.paths)  # bad paths and arguments: one line, before the folder is made
    if not files:
        raise ValueError(f"no audio files in {', '.join(map(str, args.paths))} (looked for {', '.join(sorted(AUDIO_SUFFIXES))})")
    if args.descriptions:
        read_descriptions(args.descriptions)
    setup_logging(args.out / "text2music.log")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill stops as Ctrl-C does: no half-written clip
    summary = import_audio(
        files,
        args.out,
        cfg,
        jobs=args.jobs,
        describe=args.describe or "",
        descriptions=args.descriptions,
        names=args.names,
        ffmpeg=args.ffmpeg,
        progress=not args.quiet,
        labels=not args.no_labels,
        splits=args.splits,
    )
    _print_summary(summary)
    return 0


def add_import(sub) -> None:
    from text2music.utils import default_jobs

    p = sub.add_parser(
        "import",
        help="any audio files or folders -> a captioned corpus of clips (resumable)",
        formatter_class=_Formatter,
        description="Cut audio files (WAV, FLAC, OGG/Opus, MP3, tracker modules MOD/XM/IT/S3M, anything ffmpeg reads) into clips, "
        "skip silence and repeats, caption each clip from what the musicnn taggers, tempo, key and drum judges hear "
        "(plus --describe), and write metadata.csv + audio/ + manifest.jsonl. Splits are by file.",
    )
    p.add_argument("paths", nargs="+", type=Path, help="audio files or folders (searched recursively)")
    p.add_argument("--out", type=Path, required=True, help="corpus folder to write (re-run to resume or add files)")
    p.add_argument("--describe", default=None, help='words every caption starts with, e.g. "orchestral fantasy game soundtrack"')
    p.add_argument(
        "--descriptions", type=Path, default=None, help="CSV with columns file,description: per-file words (override --describe)"
    )
    p.add_argument("--names", action="store_true", help="add words from each file's folder and name to its captions")
    p.add_argument("--clip-seconds", type=float, default=10.0, help="clip length")
    p.add_argument("--sample-rate", type=_positive_int, default=22050, help="WAV sample rate of the clips")
    p.add_argument("--min-seconds", type=float, default=10.0, help="skip files shorter than this (sound effects)")
    p.add_argument("--jobs", type=_positive_int, default=default_jobs(), help="worker processes")
    p.add_argument(
        "--ffmpeg", default=None, help="ffmpeg binary for formats soundfile cannot read (default: system ffmpeg, else imageio-ffmpeg's)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-labels", action="store_true", help=NO_LABELS_HELP)
    p.add_argument("--splits", type=_splits, default=None, help=SPLITS_HELP)
    p.set_defaults(func=cmd_import)


def cmd_debian(args) -> int:
    from text2music.data.audio_import import ImportConfig
    from text2music.data.debian_music import PACKAGE_LIST, build_real_music, choose_packages

    cfg = ImportConfig(clip_seconds=args.clip_seconds, sample_rate=args.sample_rate)
    names = [n.strip() for n in args.packages.split(",") if n.strip()] if args.packages else None
    package_list = args.list or PACKAGE_LIST
    choose_packages(names, args.max_hours, package_list)  # bad names or list: one line, before the folder is made
    setup_logging(args.out / "text2music.log")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill stops as Ctrl-C does: the package folder goes
    summary = build_real_music(
        args.out,
        names,
        args.max_hours,
        cfg,
        jobs=args.jobs,
        package_list=package_list,
        progress=not args.quiet,
        labels=not args.no_labels,
        splits=args.splits,
    )
    _print_summary(summary)
    return 0


def add_debian(sub) -> None:
    from text2music.utils import default_jobs

    p = sub.add_parser(
        "debian",
        help="the real-music corpus: freely licensed game music from Debian packages, imported and captioned",
        formatter_class=_Formatter,
        description="Download each pinned Debian package (apt-get download), import its music with `data import`, delete it. "
        "Writes ATTRIBUTION.md (licences and authors). Needs apt-get and dpkg-deb, and `apt-get update` done once.",
    )
    p.add_argument("--out", type=Path, required=True, help="corpus folder (re-running resumes)")
    p.add_argument("--packages", default=None, help="comma-separated package names (default: every package in the list)")
    p.add_argument("--max-hours", type=float, default=None, help="stop adding packages (most music first) past this many hours")
    p.add_argument(
        "--list", type=Path, default=None, help="package list (TSV; default: the pinned one, text2music/data/assets/debian_music.tsv)"
    )
    p.add_argument("--clip-seconds", type=float, default=10.0, help="clip length")
    p.add_argument("--sample-rate", type=_positive_int, default=22050, help="WAV sample rate of the clips")
    p.add_argument("--jobs", type=_positive_int, default=default_jobs(), help="worker processes")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--no-labels", action="store_true", help=NO_LABELS_HELP)
    p.add_argument("--splits", type=_splits, default=None, help=SPLITS_HELP)
    p.set_defaults(func=cmd_debian)


def cmd_label(args) -> int:
    from text2music.data.audio_import import label_corpus

    setup_logging(args.data / "text2music.log" if (args.data / "manifest.jsonl").is_file() else None)  # no log in a wrong folder
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill stops as Ctrl-C does: the manifest stays whole
    _print_summary(label_corpus(args.data, jobs=args.jobs, progress=not args.quiet))
    return 0


def add_label(sub) -> None:
    from text2music.utils import default_jobs

    p = sub.add_parser(
        "label",
        help="beat grids and chords for an imported corpus's clips (resumable)",
        formatter_class=_Formatter,
        description="Label each clip of a `data import` (or `data debian`) corpus that has no labels yet with beats, downbeats, "
        "meter, beat_offset (BeatNet's CRNN and a grid fit) and chords per beat (chroma templates), as `data synth` writes them, "
        "from the clips' WAVs (no re-decoding). Rewrites manifest.jsonl and metadata.csv atomically; re-run to resume.",
    )
    p.add_argument("--data", type=Path, required=True, help="corpus folder made by `data import` or `data debian`")
    p.add_argument("--jobs", type=_positive_int, default=default_jobs(), help="worker processes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_label)


def cmd_stats(args) -> int:
    from text2music.data.synth import corpus_stats

    _print_summary(corpus_stats(args.data))
    return 0


def add_stats(sub) -> None:
    p = sub.add_parser("stats", help="corpus statistics (stats.json) and a picture (stats.png)", formatter_class=_Formatter)
    p.add_argument("data", type=Path, help="data folder built by `text2music data synth`")
    p.set_defaults(func=cmd_stats)


# ---------------------------------------------------------------------------------------------
# data preprocess


def cmd_preprocess(args) -> int:
    from text2music.features.mel import get_preset
    from text2music.features.preprocess import preprocess

    setup_logging(args.data / "text2music.log" if args.data.is_dir() else None)  # no folder made for a wrong path
    cfg = get_preset(args.preset)
    summary = preprocess(args.data, cfg, name=args.name or args.preset, jobs=args.jobs, limit=args.limit, progress=not args.quiet)
    log.info("preprocess summary: %s", summary)
    _print_summary(summary)
    return 0


def add_preprocess(sub) -> None:
    from text2music.features.config import PRESETS
    from text2music.utils import default_jobs

    p = sub.add_parser(
        "preprocess",
        help="audio -> fixed-shape log-mel .npy arrays",
        formatter_class=_Formatter,
        description="Writes DATA/features/NAME/{mel_config.json,mels/*.npy,index.jsonl,skipped.jsonl}. "
        "Clips are cropped to the preset's frame count from their start, or padded at the end with silence.",
    )
    p.add_argument("data", type=Path, help="data folder with metadata.csv and audio/")
    p.add_argument("--preset", choices=sorted(PRESETS), default="small", help="mel configuration (seed = 256 bands x 420 frames)")
    p.add_argument("--name", default=None, help="feature folder name (default: the preset's name)")
    p.add_argument("--jobs", type=_positive_int, default=default_jobs(), help="worker processes")
    p.add_argument("--limit", type=_positive_int, default=None, help="only the first N clips")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_preprocess)


# ---------------------------------------------------------------------------------------------
# train / predict


def config_from_args(cls, args, **given):
    """A training config dataclass from the parsed flags of its fields' names (paths as strings; a flag
    left unset keeps the config's default); `given` sets fields whose flags need converting."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
    return cls(**{k: str(v) if isinstance(v, Path) else v for k, v in values.items()} | given)


def cmd_train(args) -> int:
    from text2music.train.config import TrainConfig
    from text2music.train.loop import train

    cfg = TrainConfig.load(args.config) if args.config else TrainConfig()
    overrides = list(args.set)
    for flag in ("features", "out", "epochs", "max_steps", "batch_size", "lr", "text_mode", "seed"):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{flag}={value if not isinstance(value, Path) else str(value)}")
    cfg = cfg.with_overrides(overrides)
    setup_logging(Path(cfg.out) / "text2music.log")
    result = train(cfg, progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:  # one summary for a torchrun job
        _print_summary(result.summary)
    return 0


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model; the same command resumes an interrupted run",
        formatter_class=_Formatter,
        description="Trains from a JSON config (configs/*.json); flags and --set key=value override it. "
        "Run under `torchrun --nproc_per_node N -m text2music train ...` for several processes (DDP).",
    )
    p.add_argument("--config", type=Path, default=None, help="training config JSON (default: the seed LSTM recipe)")
    p.add_argument("--features", type=Path, default=None, help="feature folder (DATA/features/NAME)")
    p.add_argument("--out", type=Path, default=None, help="run folder")
    p.add_argument("--epochs", type=_positive_int, default=None, help="epochs (also the cosine T_max)")
    p.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many steps")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="batch size per process")
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument("--text-mode", choices=["aspects", "caption", "both", "mixed"], default=None, help="which text the model reads")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config field, e.g. model_args.hidden=256")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_finetune(args) -> int:
    from text2music.generate.spec import ModelSpec
    from text2music.models import read_config
    from text2music.train.finetune import FinetuneConfig, Finetuning, finetune
    from text2music.utils import removed_on_failure

    base = ModelSpec(args.base).folder  # None: the bundled model
    read_config(base)  # a missing or broken base: one line, before the run folder is made
    cfg = config_from_args(
        FinetuneConfig,
        args,
        base=str(base),
        minutes=args.minutes if args.minutes > 0 else None,
        alpha=args.alpha if args.alpha is not None else float(args.rank),
        crop_frames=args.crop_frames or None,
        ema_decay=args.ema_decay or None,
    )
    for flag, folder in (("--data", args.data), ("--mix", args.mix)):
        if folder is not None and not (folder / "manifest.jsonl").is_file():
            raise FileNotFoundError(f"{flag} {folder} is not a corpus folder (no manifest.jsonl; make one with `text2music data import`)")
    with removed_on_failure(args.out, Finetuning.checkpoint):
        setup_logging(args.out / "text2music.log")
        summary = finetune(cfg, progress=not args.quiet)
    if args.pictures:
        summary["pictures"] = str(before_after_png(base, args.out, args.data, args.pictures))
    _print_summary(summary)
    return 0


def before_after_png(base: Path, adapter: Path, data: Path, n: int) -> Path:
    """adapter/before_after.png: for the middle clip of each of the first `n` valid files of the
    corpus, the real clip's mel, the base model's and the adapted model's for its caption (seed 0,
    the default settings)."""
    import numpy as np

    from text2music.features.mel import load_audio
    from text2music.features.plot import save_mel_grid
    from text2music.generate.pipeline import Text2Music
    from text2music.generate.settings import GenerationSettings
    from text2music.utils import read_jsonl

    records = read_jsonl(data / "manifest.jsonl")
    records = [r for r in records if r["split"] == "valid"] or records
    by_source: dict[str, list[dict]] = {}
    for r in records:
        by_source.setdefault(r.get("source_sha1", r["clip_id"]), []).append(r)
    records = [clips[len(clips) // 2] for clips in list(by_source.values())[:n]]  # the middle clip of each file
    texts, settings = [r["caption"] for r in records], GenerationSettings()
    before = Text2Music.from_pretrained(base)(texts, settings, seeds=[0] * len(texts)).mel
    pipe = Text2Music.from_pretrained(base, adapter=adapter)  # merged into the weights before they are quantised
    after = pipe(texts, settings, seeds=[0] * len(texts)).mel
    mels, titles = [], []
    for r, b, a in zip(records, before, after):
        mels += [pipe.mel_of(load_audio(data / r["audio"], pipe.mel.sample_rate)), np.asarray(b), np.asarray(a)]
        titles += [f"real: {r['clip_id']}", "base model", "with the adapter"]
    path = adapter / "before_after.png"
    save_mel_grid(path, mels, pipe.mel, titles, cols=3)
    return path


def add_finetune(sub) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune a model on a corpus as a small LoRA adapter, on a CPU (resumable)",
        formatter_class=_Formatter,
        description="Train a LoRA adapter (PEFT; attention and MLP projections) of a model folder on a corpus made by "
        "`text2music data import` (or `data synth`), for a time budget. Then:\n\n"
        '  text2music generate "..." --adapter OUT [--adapter-strength 0.8]',
    )
    p.add_argument("--data", type=Path, required=True, help="corpus folder (metadata.csv + audio/ + manifest.jsonl)")
    p.add_argument("--out", type=Path, required=True, help="adapter folder to write (an existing one resumes)")
    p.add_argument("--base", type=Path, default=None, help="model folder to adapt (default: the bundled model)")
    p.add_argument("--mix", type=Path, default=None, help="a second corpus mixed in (e.g. data/synth, which the bundled model learnt)")
    p.add_argument("--mix-share", type=float, default=0.5, help="share of batches drawn from --mix")
    p.add_argument("--minutes", type=float, default=20.0, help="training time budget of this run (0 or less: steps only)")
    p.add_argument("--steps", type=_positive_int, default=None, help="optimiser steps budget (counted over resumes)")
    p.add_argument("--rank", type=_positive_int, default=16, help="LoRA rank")
    p.add_argument("--alpha", type=float, default=None, help="LoRA alpha (default: the rank)")
    p.add_argument("--lr", type=float, default=5e-4, help="learning rate (peak; after a 50-step warm-up)")
    p.add_argument("--batch-size", type=_positive_int, default=8, help="clips per step")
    p.add_argument("--crop-frames", type=int, default=250, help="train on random crops of this many mel frames (0: whole clips)")
    p.add_argument("--ema-decay", type=float, default=0.999, help="save the moving average of the LoRA weights (0: the last weights)")
    p.add_argument("--jobs", type=_positive_int, default=2, help="workers for computing the corpus's mel arrays")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--pictures", type=int, default=3, help="before/after spectrograms of this many valid clips (0: none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_finetune)


def cmd_distill(args) -> int:
    from text2music.train.distill import Distillation, DistillConfig, distill
    from text2music.utils import removed_on_failure

    cfg = config_from_args(DistillConfig, args, minutes=args.minutes if args.minutes > 0 else None)
    for data in args.data:
        if not (data / "manifest.jsonl").is_file():
            raise FileNotFoundError(f"--data {data} is not a corpus folder (no manifest.jsonl; make one with `text2music data synth`)")
    with removed_on_failure(args.out, Distillation.checkpoint):
        setup_logging(args.out / "text2music.log")
        summary = distill(cfg, progress=not args.quiet)
    _print_summary(summary)
    return 0


def add_distill(sub) -> None:
    p = sub.add_parser(
        "distill",
        help="distil classifier-free guidance into a student that needs one pass per step (resumable)",
        formatter_class=_Formatter,
        description="Train a student of a flow model folder that takes the guidance scale as an input and gives the "
        "guided velocity in one network pass (half the passes of guidance). The teacher's outputs are the targets; "
        "the corpus gives the points, texts and controls. Then:\n\n"
        '  text2music generate "..." --model OUT/model',
    )
    p.add_argument("--data", type=Path, nargs="+", required=True, help="corpus folder(s) (data synth or data import), read as one set")
    p.add_argument("--out", type=Path, required=True, help="run folder (an existing one resumes); the student goes to OUT/model")
    p.add_argument(
        "--base",
        type=Path,
        required=True,
        help="the teacher: a flow model folder without a guidance input (the bundled default is already distilled; "
        "scripts/distill_default.sh extracts its teacher from git), or with --drum-free-guidance a distilled model, "
        "which then learns its own steered velocity",
    )
    p.add_argument(
        "--student-init",
        type=Path,
        default=None,
        help="a distilled model folder whose weights start the student (e.g. the bundled default, when the teacher "
        "only added an input to its teacher); default: the teacher's weights",
    )
    p.add_argument("--minutes", type=float, default=45.0, help="training time budget of this run (0 or less: steps only)")
    p.add_argument("--steps", type=_positive_int, default=None, help="optimiser steps budget (counted over resumes)")
    p.add_argument("--lr", type=float, default=5e-5, help="learning rate (peak; after a 50-step warm-up)")
    p.add_argument("--batch-size", type=_positive_int, default=8, help="clips per step")
    p.add_argument("--crop-frames", type=_positive_int, default=250, help="train on random crops of this many mel frames")
    p.add_argument("--guidance-min", type=float, default=1.0, help="smallest guidance scale the student learns")
    p.add_argument("--guidance-max", type=float, default=6.0, help="largest guidance scale the student learns")
    p.add_argument(
        "--rollout",
        type=float,
        default=0.0,
        help="share of each batch asked where the student's own sampling goes, not on the corpus's straight paths (0-1)",
    )
    p.add_argument("--rollout-steps", type=_positive_int, default=8, help="the sampling those points follow: this many Euler steps")
    p.add_argument(
        "--drum-free-guidance",
        type=float,
        default=0.0,
        help="the student also learns drum-free guidance at this scale (where the drums control is off), so that one pass gives it",
    )
    p.add_argument(
        "--drum-free-adapter",
        type=int,
        default=0,
        metavar="RANK",
        help="with --drum-free-guidance and a distilled --base: learn that guidance in a LoRA adapter of this rank, run only "
        "where the drums are off, the model's own weights kept (0: learn it in the weights)",
    )
    p.add_argument("--ema-decay", type=float, default=0.999, help="the student saved is this moving average of its weights")
    p.add_argument("--jobs", type=_positive_int, default=2, help="workers for computing the corpus's mel arrays")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_distill)


def cmd_train_vocoder(args) -> int:
    from text2music.train.vocoder import VocoderTrainConfig, corpus_folders, train_vocoder

    for folder in corpus_folders(args.data):
        if not (folder / "metadata.csv").is_file():
            raise FileNotFoundError(f"--data: {folder} has no metadata.csv (make it with text2music data synth, import or debian)")
    cfg = config_from_args(VocoderTrainConfig, args)
    _print_summary(train_vocoder(cfg, progress=not args.quiet))
    return 0


def add_train_vocoder(sub) -> None:
    p = sub.add_parser(
        "train-vocoder", help="train the neural vocoder (mel -> waveform, Vocos-like); resumable", formatter_class=_Formatter
    )
    p.add_argument(
        "--data",
        default="data/synth",
        help="data folder with metadata.csv and audio/ (train and valid splits); several: comma-separated",
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs/vocoder"), help="run folder (vocoder.json + vocoder.safetensors); an existing run resumes"
    )
    p.add_argument(
        "--sample-rate",
        type=_positive_int,
        default=None,
        help="rate of the audio it writes, a multiple of the mel's (48000: full band from the 16-kHz mel; default: the mel's)",
    )
    p.add_argument("--init", default=None, help="start from this trained vocoder (vocos or a folder), widened to --sample-rate")
    p.add_argument(
        "--high-layers",
        type=int,
        default=None,
        help="ConvNeXt blocks of a branch for the band above the mel's (full band; added at zero to --init's vocoder)",
    )
    p.add_argument(
        "--high-band-only",
        action="store_true",
        default=None,
        help="train that branch alone: the band the mel covers stays exactly as --init wrote it",
    )
    p.add_argument(
        "--adversarial",
        type=float,
        default=None,
        help="weight of the discriminators' losses (Vocos' multi-period and multi-resolution; default 0: none)",
    )
    p.add_argument("--adversarial-after", type=int, default=None, help="steps of reconstruction alone before the discriminators join")
    p.add_argument(
        "--discriminators", choices=("small", "full"), default=None, help="their size: small (for a CPU) or full (the published channels)"
    )
    p.add_argument("--device", default=None, help="cpu, or cuda on an accelerator (default cpu)")
    p.add_argument("--clips", type=_positive_int, default=None, help="train clips held in memory per corpus (default 2000)")
    p.add_argument("--val-clips", type=_positive_int, default=None, help="validation clips per corpus (default 16)")
    p.add_argument("--log-every", type=_positive_int, default=None, help="steps between log lines (default 50)")
    p.add_argument("--checkpoint-every", type=_positive_int, default=None, help="steps between checkpoints and validations (default 500)")
    p.add_argument(
        "--steps", type=_positive_int, default=None, help="length of the learning-rate schedule and the last step (default 20000)"
    )
    p.add_argument("--minutes", type=float, default=None, help="stop after this much training time (resume later with the same command)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="crops per step (default 16)")
    p.add_argument("--crop-frames", type=_positive_int, default=None, help="mel frames per crop (default 64, about 1 s)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 5e-4)")
    p.add_argument("--dim", type=_positive_int, default=None, help="width of the ConvNeXt blocks (default 256)")
    p.add_argument("--layers", type=_positive_int, default=None, help="ConvNeXt blocks (default 8)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_vocoder)


def cmd_train_stereo(args) -> int:
    from text2music.train.stereo import StereoTrainConfig, stereo_files, train_stereo

    cfg = config_from_args(StereoTrainConfig, args, audio=tuple(str(a) for a in args.audio))
    stereo_files(cfg.audio)  # one line about the folders before the run folder is made
    setup_logging(args.out / "text2music.log")
    _print_summary(train_stereo(cfg, progress=not args.quiet))
    return 0


def add_train_stereo(sub) -> None:
    p = sub.add_parser(
        "train-stereo",
        help="train the stereo upmixer (mono -> a learned width per time and band) on real stereo music; resumable",
        formatter_class=_Formatter,
        description="Train the stereo upmixer of `generate --channels 2` (text2music.models.stereo).\n\n"
        "  text2music train-stereo --audio /tmp/stereo_music/train --out runs/stereo --minutes 4   # data: scripts/stereo_data.py",
    )
    p.add_argument("--audio", type=Path, nargs="+", required=True, help="folders of stereo music files (.ogg, .flac, .wav)")
    p.add_argument(
        "--out", type=Path, default=Path("runs/stereo"), help="run folder (stereo.json + stereo.safetensors); an existing run resumes"
    )
    p.add_argument("--max-seconds", type=float, default=None, help="seconds read from each file (default 120)")
    p.add_argument(
        "--steps", type=_positive_int, default=None, help="length of the learning-rate schedule and the last step (default 1500)"
    )
    p.add_argument("--minutes", type=float, default=None, help="stop after this much training time (resume later with the same command)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="crops per step (default 32)")
    p.add_argument("--crop-frames", type=_positive_int, default=None, help="frames per crop (default 256, about 3 s)")
    p.add_argument("--hidden", dest="channels", type=_positive_int, default=None, help="channels of the convolutions (default 32)")
    p.add_argument("--layers", type=_positive_int, default=None, help="dilated convolutions (default 3)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 2e-3)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_stereo)


# ---------------------------------------------------------------------------------------------
# generate, predict

AUDIO_SUFFIXES = (".wav", ".flac")
MAX_NAME_BYTES = 255 - 30  # a file name, with room for the temporary name it is written under (utils.atomic_path)
OTHER_AUDIO_SUFFIXES = (".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma", ".webm")


def slug(text: str, max_len: int = 40) -> str:
    """A file-name-safe short form of a text."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:max_len].rstrip("-") or "text"


def read_prompts(texts: list[str], prompts: Path | None) -> list[str]:
    """The TEXT arguments, then the lines of a --prompts file (blank and '#' lines skipped), checked.

    `-` reads standard input; the file is read as a stream, so `/dev/fd/N` (a shell's process
    substitution) works."""
    from text2music.generate.settings import check_texts

    texts = list(texts)
    if prompts is not None:
        name = "standard input" if str(prompts) == "-" else f"prompts file {prompts}"
        try:
            data = sys.stdin.buffer.read() if str(prompts) == "-" else prompts.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"prompts file not found: {prompts}") from None
        except OSError as e:
            raise ValueError(f"cannot read {name}: {e.strerror}") from None
        if b"\0" in data:
            raise ValueError(f"{name} is binary, not text")
        try:
            lines = data.decode("utf-8-sig").splitlines()
        except UnicodeDecodeError as e:
            raise ValueError(f"{name} is not UTF-8 text (byte {e.start})") from None
        found = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not found:
            raise ValueError(f"{name} has no prompts (only blank or '#' lines)")
        texts += found
    if not texts:
        raise ValueError("give at least one TEXT or --prompts FILE")
    return check_texts(texts, max_batch=None)


def output_paths(out: Path, jobs: list[tuple[str, int]], fmt: str) -> list[Path]:
    """OUT.wav for one clip; OUT-NN.wav for several; a folder of NN-slug-seedS.wav when OUT has no audio suffix."""
    longest = max(out.parts, key=lambda part: len(part.encode()), default="")
    if len(longest.encode()) > MAX_NAME_BYTES:
        raise ValueError(f"-o: a name in it is too long for the file system ({len(longest.encode())} bytes): {longest[:40]}...")
    if out.suffix.lower() in OTHER_AUDIO_SUFFIXES:
        raise ValueError(f"-o {out}: text2music writes .wav or .flac files, not {out.suffix}")
    if out.suffix.lower() in AUDIO_SUFFIXES:
        if out.is_dir():
            raise ValueError(f"-o {out} is an existing folder; give a file name, or a folder name without .wav/.flac")
        if len(jobs) == 1:
            return [out]
        width = max(2, len(str(len(jobs))))
        return [out.with_name(f"{out.stem}-{i + 1:0{width}d}{out.suffix}") for i in range(len(jobs))]
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {out} is an existing file without an audio suffix; give OUT.wav, OUT.flac or a folder")
    width = max(2, len(str(len(jobs))))
    return [out / f"{i + 1:0{width}d}-{slug(text)}-seed{seed}.{fmt}" for i, (text, seed) in enumerate(jobs)]


def check_writable(paths: list[Path]) -> None:
    """A one-line error when an output name is too long, is an existing folder, or its folder cannot
    be made or written; creates nothing (folders appear when the first file is written). Sweeps
    temporary files that a killed run left in folders that exist."""
    from text2music.utils import sweep_stale_temps

    for path in paths:
        if len(path.name.encode()) > MAX_NAME_BYTES:
            raise ValueError(f"output name too long for the file system ({len(path.name.encode())} bytes): {path.name[:40]}...")
        if path.is_dir():
            raise ValueError(f"output {path} is an existing folder")
    for folder in sorted({p.parent for p in paths}):
        existing = next(f for f in (folder, *folder.parents) if f.exists())
        if not existing.is_dir():
            raise ValueError(f"cannot create output folder {folder}: {existing} is a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"output folder is not writable: {existing}")
        if existing == folder:
            try:
                tempfile.TemporaryFile(dir=folder).close()
            except OSError:
                raise ValueError(f"output folder is not writable: {folder}") from None
            sweep_stale_temps(folder)


def add_settings_arguments(p, groups: tuple[str, ...], defaults=None) -> None:
    """One flag per GenerationSettings field in `groups`, made from the field's description (type,
    limits, choices, help); musical controls in their own group. `defaults` overrides the defaults."""
    from text2music.generate.settings import setting_fields

    controls = None
    for f in setting_fields(groups=groups):
        d, default = f.setting, getattr(defaults, f.name, f.default)
        help = d.help + (f", {d.limits_text()}" if d.limits else "")
        if d.group == "init":  # unset unless given, so that giving it without init audio can be refused
            shown = f" (default: {default:g})" if isinstance(default, float) else (f" (default: {default})" if default is not None else "")
            help, default = help + shown, argparse.SUPPRESS
        elif f.kind is bool and default is not None:
            help += f" (default: {'on' if default else 'off'})"
        if d.group == "controls" and controls is None:
            controls = p.add_argument_group("musical controls", "override what the text states; what neither states, the model chooses")
        target = controls if d.group == "controls" else p
        flag = "--" + f.name.replace("_", "-")
        if f.kind is bool:
            target.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help)
        elif d.choices is not None and not d.text:
            target.add_argument(flag, type=f.kind, choices=list(d.choices), default=default, help=help)
        elif f.kind is str and not d.text and d.choices is None:
            target.add_argument(flag, default=default, help=help)
        else:
            target.add_argument(flag, type=str if d.text else f.kind, default=default, help=help)


def settings_from_args(args, defaults=None):
    """The GenerationSettings the parsed flags ask for (fields without a flag keep `defaults`')."""
    from text2music.generate.settings import GenerationSettings, setting_fields

    defaults = defaults or GenerationSettings()
    return defaults.replace(**{f.name: getattr(args, f.name) for f in setting_fields(type(defaults)) if hasattr(args, f.name)})


def add_model_arguments(p, model_help: str | None = "model folder (default: the bundled model)") -> None:
    """The flags of a ModelSpec: --model (unless `model_help` is None), --vocoder, --adapter,
    --adapter-strength, --precision."""
    from text2music.models.folders import PRECISIONS

    if model_help is not None:
        p.add_argument("--model", type=Path, default=None, help=model_help)
    p.add_argument(
        "--vocoder",
        default="auto",
        metavar="{auto,griffin-lim,vocos,FOLDER}",
        help="mel -> audio: the model folder's own (auto: its neural vocoder, else Griffin-Lim), griffin-lim "
        "(or griffin-lim-ITERATIONS-nnlsUPDATES), vocos (the packaged neural vocoder), or a folder with a trained vocoder "
        "(text2music train-vocoder)",
    )
    p.add_argument("--adapter", type=Path, default=None, help="a LoRA adapter folder made by `text2music finetune` for this model")
    p.add_argument(
        "--adapter-strength", type=float, default=1.0, help="how much of the adapter: 0 = the base model, 1 = as trained, up to 2"
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="the generator's weights: auto (what the model folder names, else float32), float32, or int8 "
        "(linear layers quantised: faster on a CPU)",
    )


def model_spec(args):
    """The ModelSpec the parsed flags name."""
    from text2music.generate.spec import ModelSpec

    return ModelSpec(args.model, args.vocoder, args.adapter, args.adapter_strength, args.precision)


def plan_jobs(args, texts: list[str]) -> list[tuple[str, int]]:
    """(label, seed) per output clip: each text's variations take seed, seed+1, ..."""
    from text2music.generate.settings import MAX_BATCH, MAX_SEED

    if args.batch_size > MAX_BATCH:
        raise ValueError(f"--batch-size must be at most {MAX_BATCH}, got {args.batch_size}")
    if args.seed + args.variations - 1 > MAX_SEED:
        raise ValueError(f"--seed + --variations - 1 must be at most {MAX_SEED}")
    if args.interpolate:
        if not 2 <= args.interpolate <= MAX_BATCH:
            raise ValueError(f"--interpolate needs N between 2 and {MAX_BATCH}, got {args.interpolate}")
        if len(texts) != 2:
            raise ValueError(f"--interpolate N needs exactly two texts, got {len(texts)}")
        return [(f"{texts[0]} -> {texts[1]} ({k + 1}/{args.interpolate})", args.seed) for k in range(args.interpolate)]
    return [(t, args.seed + v) for t in texts for v in range(args.variations)]


def preflight(args, settings, texts: list[str], jobs: list[tuple[str, int]]):
    """Everything about a generate call that can be refused before torch loads; returns the ModelSpec."""
    from text2music.generate.controls import plan_clips
    from text2music.generate.settings import setting_fields

    given = [f.name for f in setting_fields(groups=("init",)) if hasattr(args, f.name)]
    if args.init_audio is None and given:
        raise ValueError(f"--{given[0].replace('_', '-')} needs --init-audio, --continue or --inpaint (it applies to that audio)")
    if args.init_audio is not None:  # read at 16 kHz: what is checked does not depend on the model's rate
        from text2music.generate.audio_prompt import read_audio_prompt

        read_audio_prompt(args.init_audio, settings, 16000)
    paths = output_paths(args.output, jobs, args.format)
    check_writable(paths)
    spec = model_spec(args)
    generative, controllable = spec.traits()
    if args.interpolate:
        plan_clips([texts[0]], settings, [args.seed], generative=generative, controllable=controllable)
    else:
        for i in range(0, len(jobs), args.batch_size):
            batch = jobs[i : i + args.batch_size]
            plan_clips([t for t, _ in batch], settings, [s for _, s in batch], generative=generative, controllable=controllable)
    return spec, paths


def outputs_of(path: Path, args) -> list[Path]:
    """The files one clip writes: its audio, and its picture and mel array when asked for."""
    return [path] + [path.with_suffix(s) for s, asked in ((".png", args.png), (".npy", args.npy)) if asked]


def write_clip(path: Path, wave, sample_rate: int, mel, pipe, args, title: str) -> None:
    """A clip's audio (and picture, mel array), each written atomically; a full disk or an unwritable
    file is one line naming the file."""
    import numpy as np

    from text2music.features.mel import save_audio
    from text2music.features.plot import save_mel_png
    from text2music.utils import atomic_path

    target = path
    try:
        save_audio(path, wave, sample_rate)
        if args.png:
            target = path.with_suffix(".png")
            save_mel_png(target, mel, pipe.mel, title=title)
        if args.npy:
            target = path.with_suffix(".npy")
            with atomic_path(target) as tmp, open(tmp, "wb") as f:
                np.save(f, mel.astype(np.float32))
    except (OSError, RuntimeError) as e:  # soundfile's errors are RuntimeErrors ("System error.")
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ValueError(f"cannot write {target}: {reason}") from None


def run_generation(pipe, args, settings, texts: list[str], jobs: list[tuple[str, int]], paths: list[Path]) -> int:
    """Generate the clips not yet written, batch by batch, writing each batch before the next (memory
    stays flat, an interrupted run keeps what it made); returns how many clips were made."""
    from tqdm import tqdm

    resume = args.prompts is not None and not args.overwrite  # a batch from a file resumes; TEXT arguments are made again
    todo = [i for i, p in enumerate(paths) if not (resume and all(f.is_file() for f in outputs_of(p, args)))]
    if len(todo) < len(jobs):
        tqdm.write(
            f"note: {len(jobs) - len(todo)} of {len(jobs)} clips already written; skipped (--overwrite redoes them)", file=sys.stderr
        )
    batches = [todo] if args.interpolate else [todo[i : i + args.batch_size] for i in range(0, len(todo), args.batch_size)]
    per_batch = settings.model_evaluations if pipe.generative else 1
    desc = f"generate {len(todo)} clip{'s' * (len(todo) != 1)}"
    bar = tqdm(total=len(batches) * per_batch, unit="step", desc=desc, disable=args.quiet, leave=False)
    for b, batch in enumerate(batches if todo else []):

        def progress(done: int, total: int, b=b) -> None:
            bar.update(b * per_batch + done * per_batch // max(1, total) - bar.n)
            if total > per_batch:  # a piece: the model evaluations of each window in turn
                bar.set_postfix_str(f"{done // per_batch} of {total // per_batch} windows made")

        if args.interpolate:
            out = pipe.interpolate(texts[0], texts[1], n=args.interpolate, settings=settings, callback=progress)
        else:
            out = pipe(
                [jobs[i][0] for i in batch], settings, seeds=[jobs[i][1] for i in batch], init_audio=args.init_audio, callback=progress
            )
        for note in dict.fromkeys(out.notes):
            tqdm.write(f"note: {note}", file=sys.stderr)
        mels = out.mel.float().cpu().numpy()
        for k, i in enumerate(batch):
            label, seed = jobs[i]
            write_clip(paths[i], out.audio[k], out.sample_rate, mels[k], pipe, args, f"{label[:80]} (seed {seed})")
            print(paths[i], flush=True)
    bar.close()
    return len(todo)


def audio_prompt_args(args) -> None:
    """--continue FILE and --inpaint FILE become the init audio and its init_mode (one of the three
    ways of giving audio at most)."""
    given = [
        (flag, path)
        for flag, path in (("--init-audio", args.init_audio), ("--continue", args.continue_audio), ("--inpaint", args.inpaint_audio))
        if path
    ]
    if len(given) > 1:
        raise ValueError(f"give one of --init-audio, --continue and --inpaint, not {' and '.join(f for f, _ in given)}")
    if not given or given[0][0] == "--init-audio":
        return
    flag, path = given[0]
    mode = flag.removeprefix("--")
    if getattr(args, "init_mode", mode) != mode:
        raise ValueError(f"{flag} sets --init-mode {mode}; drop --init-mode {args.init_mode}")
    args.init_audio, args.init_mode = path, mode


def cmd_generate(args) -> int:
    texts = read_prompts(args.text, args.prompts)
    audio_prompt_args(args)
    settings = settings_from_args(args)
    jobs = plan_jobs(args, texts)
    spec, paths = preflight(args, settings, texts, jobs)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a terminated run stops as Ctrl-C does: no half-written file

    from text2music.generate.pipeline import Text2Music

    pipe = Text2Music.from_pretrained(spec)
    if pipe.vocoder.sample_rate < pipe.output_rate(settings):
        print(band_note(pipe.vocoder.name, pipe.vocoder.sample_rate, pipe.output_rate(settings)), file=sys.stderr)
    run_generation(pipe, args, settings, texts, jobs, paths)
    return 0


def band_note(vocoder: str, vocoder_rate: int, rate: int) -> str:
    """What a clip written above its vocoder's rate holds."""
    return f"note: the {vocoder} vocoder makes {vocoder_rate} Hz audio, resampled to {rate} Hz: nothing above {vocoder_rate / 2000:g} kHz"


def add_generate(sub) -> None:
    p = sub.add_parser(
        "generate",
        help="text -> music with the generative model (default: the bundled one)",
        formatter_class=_Formatter,
        description="Generate music from text descriptions.\n\n"
        '  text2music generate "a calm solo piano piece in A minor at 70 BPM" -o piano.wav\n'
        '  text2music generate "upbeat funk with slap bass" "sad strings" -o out/ --variations 2 --png\n'
        "  text2music generate --prompts prompts.txt -o out/     # re-running skips the clips already written",
    )
    p.add_argument("text", nargs="*", help="descriptions of the music")
    p.add_argument(
        "-o", "--output", type=Path, default=Path("generated"), help="output .wav/.flac file (OUT-NN.wav when several), or a folder"
    )
    p.add_argument("--prompts", type=Path, default=None, help="text file, one description per line ('#' lines skipped); - reads stdin")
    add_model_arguments(p)
    add_settings_arguments(p, ("length", "sampling", "output", "init", "controls"))
    p.add_argument("--stereo", dest="channels", action="store_const", const=2, default=argparse.SUPPRESS, help="the same as --channels 2")
    p.add_argument("--variations", type=_positive_int, default=1, help="clips per description (seed, seed+1, ...)")
    p.add_argument("--init-audio", type=Path, default=None, help="make a variation of this audio file instead of starting from noise")
    p.add_argument(
        "--continue",
        dest="continue_audio",
        type=Path,
        default=None,
        metavar="FILE",
        help="continue this audio: the result starts with it and lasts --duration seconds (its tempo and key are measured "
        "unless the text or a setting gives them)",
    )
    p.add_argument(
        "--inpaint",
        dest="inpaint_audio",
        type=Path,
        default=None,
        metavar="FILE",
        help="make --span START-END of this audio again; everything outside the span stays as it was",
    )
    p.add_argument("--interpolate", type=_positive_int, default=None, metavar="N", help="N clips moving from the first text to the second")
    p.add_argument("--format", choices=["wav", "flac"], default="wav", help="file format when OUT is a folder")
    p.add_argument("--png", action="store_true", help="also write the spectrogram picture of each clip")
    p.add_argument("--npy", action="store_true", help="also write the generated mel array of each clip")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="with --prompts: make clips again whose files exist (default: skip them, so a re-run resumes)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=4, help="clips generated together")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_generate)


def add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="generate, plus the mel array (.npy) and picture (.png) of each clip (the seed's command)",
        formatter_class=_Formatter,
    )
    p.add_argument("text", nargs="*", help="descriptions of the music")
    p.add_argument("-o", "--output", "--out", dest="output", type=Path, default=Path("predictions"), help="output folder")
    p.add_argument("--prompts", type=Path, default=None, help="text file, one description per line; - reads stdin")
    add_model_arguments(p, model_help="model folder (config.json + model.safetensors), e.g. runs/seed_lstm/best")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(
        func=cmd_generate,
        variations=1,
        init_audio=None,
        continue_audio=None,
        inpaint_audio=None,
        interpolate=None,
        format="wav",
        png=True,
        npy=True,
        overwrite=False,
    )
    p.set_defaults(batch_size=4)


# ---------------------------------------------------------------------------------------------
# evaluate, leaderboard


def cmd_evaluate(args) -> int:
    from text2music.evaluate.folder import vocoder_row_source
    from text2music.evaluate.run import EvalConfig, evaluate, is_reference_only

    spec = model_spec(args)  # --model names the system here: real, vocoder..., default or a folder
    spec.check_options()
    source = vocoder_row_source(args.model)
    folder = source if source is not None else args.model
    if isinstance(folder, str) and folder.startswith("real:"):
        if not (Path(folder[5:]) / "manifest.jsonl").is_file():
            raise FileNotFoundError(f"--model {folder}: {folder[5:]} is not a corpus folder (no manifest.jsonl)")
    elif not isinstance(folder, dict) and folder not in ("real", "default") and not Path(folder).is_dir():
        raise FileNotFoundError(
            f"--model: no model folder {folder} (or give real, real:CORPUS, vocoder, vocoder:vocos, vocoder:FOLDER or default)"
        )
    settings = settings_from_args(args)  # evaluate's own defaults are the parser's (normalize off)
    cfg = EvalConfig(
        system=args.model,
        out=str(args.out),
        data=str(args.data),
        split=args.split,
        n=args.n,
        prompts=args.prompts,
        settings=settings,
        controls=args.controls,
        spec=spec,
        diversity_prompts=args.diversity_prompts,
        diversity_seeds=args.diversity_seeds,
        batch_size=args.batch_size,
        speed=not args.no_speed,
        overwrite=args.overwrite,
    )
    if not is_reference_only(args.model):
        cfg.spec.check()
    metrics = evaluate(cfg, progress=not args.quiet, command=evaluate_command(args))
    a = metrics["adherence"]
    keys = ("mean_tag_auc", "tempo_acc", "key_acc", "tempo_spec_acc", "key_spec_acc", "drums_acc")
    _print_summary(
        {
            "out": str(args.out),
            "fad": metrics.get("fad"),
            **{k: a.get(k) for k in keys},
            **{k: metrics.get(k) for k in ("diversity", "speed")},
        }
    )
    return 0


def evaluate_command(args) -> str:
    """The command line that made a report, with only the flags that differ from the defaults."""
    defaults = build_parser().parse_args(["evaluate", "--model", "x", "--out", "x"])

    def flag(name: str, value) -> str:  # a switch (--normalize / --no-normalize) or a flag and its value
        name = name.replace("_", "-")
        if isinstance(value, bool):
            return f"--{name}" if value else f"--no-{name}"
        return f"--{name} {value}"

    flags = [
        flag(k, v)
        for k, v in vars(args).items()
        if k not in ("func", "command", "quiet", "no_speed", "overwrite", "model", "out") and v != getattr(defaults, k, None)
    ]
    return " ".join(["text2music evaluate --model", args.model, *flags, "--out", str(args.out)])


def add_evaluate(sub) -> None:
    from text2music.generate.settings import GenerationSettings

    p = sub.add_parser(
        "evaluate", help="judge a model (or real audio) with external judges: metrics.json, report.md, PNGs", formatter_class=_Formatter
    )
    p.add_argument(
        "--model",
        required=True,
        help="model folder, 'default' (bundled), 'real' (the corpus audio), 'real:CORPUS' (real clips of other tracks "
        "of the same game from the corpus folder CORPUS), 'vocoder' (real mel -> Griffin-Lim), "
        "'vocoder:griffin-lim-ITERATIONS-nnlsUPDATES', 'vocoder:vocos' (the packaged neural vocoder) or "
        "'vocoder:FOLDER' (real mel -> the neural vocoder in FOLDER)",
    )
    p.add_argument("--out", type=Path, required=True, help="report folder (re-running resumes)")
    p.add_argument(
        "--controls",
        choices=["text", "settings", "none"],
        default="text",
        help="musical controls of a model that has them: what each prompt states (text), each clip's true tempo/key/meter/drums "
        "as settings (settings), or none",
    )
    add_model_arguments(p, model_help=None)
    p.add_argument("--data", type=Path, default=Path("data/synth"), help="synthetic corpus folder (prompts, real audio, ground truth)")
    p.add_argument("--split", default="test", help="split of the prompts (all: every clip, e.g. a corpus of reserved test music)")
    p.add_argument("--n", type=_positive_int, default=None, help="number of prompts (default: 200, or every one when the split has fewer)")
    p.add_argument(
        "--prompts", choices=["corpus", "musiccaps"], default="corpus", help="corpus captions, or real MusicCaps captions (text only)"
    )
    # generated clips are judged at the generator's own level, as real audio is (--normalize: as generate writes them)
    add_settings_arguments(p, ("length", "sampling", "output"), defaults=GenerationSettings(normalize=False))
    p.add_argument("--diversity-prompts", type=_count, default=8, help="prompts rendered with several seeds (0: no diversity)")
    p.add_argument("--diversity-seeds", type=_positive_int, default=4, help="seeds per diversity prompt")
    p.add_argument("--batch-size", type=_positive_int, default=4, help="clips generated together")
    p.add_argument("--no-speed", action="store_true", help="skip the speed and memory measurement")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="redo a report folder made with another model, settings or corpus (deletes its audio, judgements and report)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_evaluate)


def cmd_leaderboard(args) -> int:
    from text2music.evaluate.report import write_leaderboard

    # FOLDER or LABEL=FOLDER (a folder whose own name holds '=' is taken whole)
    pairs = [r.split("=", 1) if "=" in r and not Path(r).is_dir() else (None, r) for r in args.reports]
    labels, folders = [label or None for label, _ in pairs], [Path(d) for _, d in pairs]
    for d in folders:
        if not (d / "metrics.json").is_file():
            raise FileNotFoundError(f"{d} has no metrics.json (run text2music evaluate --out {d} first)")
    if args.output.is_dir():
        raise ValueError(f"-o {args.output} is a folder; give the Markdown file to write the table into ({args.output / 'EVALUATION.md'})")
    if not args.output.parent.is_dir():
        raise FileNotFoundError(f"-o {args.output}: no folder {args.output.parent}")
    write_leaderboard(folders, args.output, labels)
    print(args.output)
    return 0


def add_leaderboard(sub) -> None:
    p = sub.add_parser("leaderboard", help="write the leaderboard table of EVALUATION.md from report folders", formatter_class=_Formatter)
    p.add_argument(
        "reports",
        nargs="+",
        metavar="[LABEL=]FOLDER",
        help="report folders (text2music evaluate --out), one row each, in this order; LABEL names the row (default: the folder's name)",
    )
    p.add_argument("-o", "--output", type=Path, default=Path("EVALUATION.md"), help="Markdown file with the leaderboard markers")
    p.set_defaults(func=cmd_leaderboard)


# ---------------------------------------------------------------------------------------------
# plot


def cmd_plot(args) -> int:
    from text2music.features.mel import MelConfig, get_preset
    from text2music.features.plot import plot_file

    beside = [p / "mel_config.json" for p in (args.src.parent, args.src.parent.parent)]
    found = next((p for p in beside if args.src.suffix == ".npy" and p.is_file()), None)
    cfg = MelConfig.load(args.config or found) if (args.config or found) else get_preset(args.preset)
    out = args.output or args.src.with_suffix(".png")
    plot_file(args.src, out, cfg)
    print(out)
    return 0


def add_plot(sub) -> None:
    from text2music.features.config import PRESETS

    p = sub.add_parser("plot", help="spectrogram picture (PNG) of an audio file or a mel array", formatter_class=_Formatter)
    p.add_argument("src", type=Path, help="audio file (.wav, .flac, ...) or mel array (.npy)")
    p.add_argument("-o", "--output", type=Path, default=None, help="PNG path (default: SRC with .png)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="small", help="mel configuration")
    p.add_argument(
        "--config", type=Path, default=None, help="mel_config.json (default for .npy: the one of its feature folder; else --preset)"
    )
    p.set_defaults(func=cmd_plot)


# ---------------------------------------------------------------------------------------------
# serve


def cmd_serve(args) -> int:
    from text2music.serve.app import serve

    if args.max_queue < 0:
        raise ValueError(f"--max-queue must be 0 or more, got {args.max_queue}")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, got {args.port}")
    out_dir = args.out_dir
    if out_dir is not None:  # checked before the model loads
        out_dir = out_dir.expanduser()
        if out_dir.exists() and not out_dir.is_dir():
            raise ValueError(f"--out-dir {out_dir} is an existing file, not a folder")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"--out-dir: cannot create folder {out_dir}: {e.strerror}") from None
        if not os.access(out_dir, os.W_OK | os.X_OK):
            raise ValueError(f"--out-dir {out_dir} is not writable")
    spec = model_spec(args)
    spec.check()
    serve(spec, host=args.host, port=args.port, workers=args.workers, max_queue=args.max_queue, out_dir=out_dir)
    return 0


def add_serve(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="web page and HTTP API for generating music",
        formatter_class=_Formatter,
        description="Serve a page to generate music in the browser (/) and a JSON API (/docs) with one loaded model.\n\n"
        "  text2music serve                      # then open http://127.0.0.1:7860/\n"
        "  text2music serve --model runs/flow/best --workers 2 --max-queue 16",
    )
    add_model_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface; there is no authentication)")
    p.add_argument("--port", type=int, default=7860, help="TCP port")
    p.add_argument("--workers", type=_positive_int, default=1, help="generations run at once (threads sharing one model)")
    p.add_argument("--max-queue", type=int, default=8, help="requests that may wait beyond the running ones; more get 429")
    p.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="folder for the results, all kept after the server stops (default: a temp folder holding the newest results, "
        "deleted at shutdown; those of killed servers are deleted at the next start)",
    )
    p.set_defaults(func=cmd_serve)


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from text2music import __version__

    parser = argparse.ArgumentParser(prog="text2music", description=__doc__, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"text2music {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="get, build and preprocess data", formatter_class=_Formatter)
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    add_musiccaps(data_sub)
    add_synth(data_sub)
    add_import(data_sub)
    add_debian(data_sub)
    add_label(data_sub)
    add_stats(data_sub)
    add_preprocess(data_sub)
    add_train(sub)
    add_train_vocoder(sub)
    add_train_stereo(sub)
    add_finetune(sub)
    add_distill(sub)
    add_generate(sub)
    add_predict(sub)
    add_evaluate(sub)
    add_leaderboard(sub)
    add_plot(sub)
    add_serve(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        try:
            return args.func(args)
        except (ValueError, OSError, RuntimeError) as e:  # OSError: what the file system refused, with the file
            print(f"text2music: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("text2music: interrupted; run the same command again to resume", file=sys.stderr)
            return 130
    except BrokenPipeError:  # output piped into `head`, which stopped reading: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's final flush of stdout must not fail again
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""Corpus statistics (stats.json) and a picture (stats.png): attribute counts, caption lengths,
a few example spectrograms."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from text2music.utils import atomic_path, atomic_write_text, read_jsonl

TEMPO_BINS = (60, 80, 100, 120, 140, 160, 181)
N_EXAMPLES = 4


def _counts(values) -> dict:
    return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], str(kv[0]))))


def _summary(xs: list[float]) -> dict:
    a = np.asarray(xs, dtype=float)
    return {"mean": round(float(a.mean()), 2), "min": float(a.min()), "max": float(a.max()), "median": float(np.median(a))}


def corpus_stats(out: str | Path) -> dict:
    """Count every ground-truth attribute of a built corpus; write stats.json and stats.png."""
    out = Path(out)
    manifest = out / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"no manifest.jsonl in {out}; build the corpus first (text2music data synth --out {out})")
    records = read_jsonl(manifest)
    if not records:
        raise ValueError(f"{manifest} is empty")
    words = [len(r["caption"].split()) for r in records]
    sentences = [sum(r["caption"].count(c) for c in ".!?") for r in records]
    hist, _ = np.histogram([r["bpm"] for r in records], bins=TEMPO_BINS)
    stats = {
        "clips": len(records),
        "missing_audio": sum(not (out / r["audio"]).is_file() for r in records),
        "split": _counts(r["split"] for r in records),
        "genre": _counts(r["genre"] for r in records),
        "key": _counts(r["key"] for r in records),
        "mode": _counts(r["mode"] for r in records),
        "tempo": _counts(r["tempo"] for r in records),
        "bpm": {
            **_summary([r["bpm"] for r in records]),
            "histogram": {f"{a}-{b - 1}": int(c) for a, b, c in zip(TEMPO_BINS, TEMPO_BINS[1:], hist)},
        },
        "meter": _counts(r["meter"] for r in records),
        "drums": _counts(str(r["drums"]).lower() for r in records),
        "drums_by_genre": {
            g: round(float(np.mean([r["drums"] for r in records if r["genre"] == g])), 3) for g in sorted({r["genre"] for r in records})
        },
        "drum_kit": _counts(r["drum_kit"] for r in records if r["drums"]),
        "dynamics": _counts(r["dynamics"] for r in records),
        "mood": _counts(r["mood"] for r in records),
        "lead": _counts(i["name"] for r in records for i in r["instruments"] if i["role"] == "lead"),
        "accompaniment": _counts(i["name"] for r in records for i in r["instruments"] if i["role"] == "accompaniment"),
        "accompaniment_style": _counts(i["style"] for r in records for i in r["instruments"] if i["role"] == "accompaniment"),
        "bass": _counts(i["name"] for r in records for i in r["instruments"] if i["role"] == "bass"),
        "template": _counts(r["template"] for r in records),
        "template_by_split": {s: _counts(r["template"] for r in records if r["split"] == s) for s in ("train", "valid", "test")},
        "caption_words": _summary(words),
        "caption_sentences": _summary(sentences),
        "aspects_per_clip": _summary([len(r["aspects"]) for r in records]),
        "distinct_captions": len({r["caption"] for r in records}),
        "loudness_dbfs": {
            d: _summary([r["loudness_dbfs"] for r in records if r["dynamics"] == d])
            for d in ("soft", "loud")
            if any(r["dynamics"] == d for r in records)
        },
    }
    atomic_write_text(out / "stats.json", json.dumps(stats, indent=2) + "\n")
    _plot(out, records, stats, words)
    return stats


def _plot(out: Path, records: list[dict], stats: dict, words: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(16, 12), constrained_layout=True)
    grid = fig.add_gridspec(3, 4)

    def bars(ax, counts: dict, title: str, top: int = 30):
        items = list(counts.items())[:top]
        ax.barh([str(k) for k, _ in items][::-1], [v for _, v in items][::-1], color="tab:blue")
        ax.set_title(title)
        ax.tick_params(axis="y", labelsize=7)

    bars(fig.add_subplot(grid[0, 0]), stats["genre"], "genre")
    bars(fig.add_subplot(grid[0, 1]), stats["lead"], "lead instrument")
    bars(fig.add_subplot(grid[0, 2]), stats["accompaniment"], "accompaniment")
    ax = fig.add_subplot(grid[0, 3])
    ax.hist([r["bpm"] for r in records], bins=np.arange(60, 185, 5), color="tab:orange")
    ax.set_title("tempo (BPM)")
    ax = fig.add_subplot(grid[1, 0])
    keys = [f"{r['key']} {r['mode'][:3]}" for r in records]
    bars(ax, _counts(keys), "key", top=24)
    bars(fig.add_subplot(grid[1, 1]), {**stats["mood"], **{f"dyn: {k}": v for k, v in stats["dynamics"].items()}}, "mood / dynamics")
    bars(fig.add_subplot(grid[1, 2]), {f"drums {g}": v for g, v in stats["drums_by_genre"].items()}, "share with drums, by genre")
    ax = fig.add_subplot(grid[1, 3])
    ax.hist(words, bins=20, color="tab:green")
    ax.set_title("caption length (words)")

    examples = _examples([r for r in records if (out / r["audio"]).is_file()])
    for k, r in enumerate(examples):
        ax = fig.add_subplot(grid[2, k])
        _spectrogram(ax, out / r["audio"])
        ax.set_title(
            f"{r['clip_id']}: {r['genre']}, {r['key']} {r['mode']}, {r['bpm']} BPM\n"
            f"{'drums' if r['drums'] else 'no drums'}, {r['dynamics']}",
            fontsize=8,
        )
    fig.suptitle(f"{out.name}: {stats['clips']} clips")
    with atomic_path(out / "stats.png") as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)


def _examples(records: list[dict]) -> list[dict]:
    """Up to N_EXAMPLES clips of different genres, one of them drum-free if there is one."""
    chosen = [r for r in records if not r["drums"]][:1]
    for r in records:
        if len(chosen) >= N_EXAMPLES:
            break
        if r["genre"] not in {c["genre"] for c in chosen}:
            chosen.append(r)
    return sorted(chosen, key=lambda r: r["clip_id"])


def _spectrogram(ax, wav: Path) -> None:
    import librosa
    import soundfile as sf

    y, sr = sf.read(wav, dtype="float32")
    y = y.mean(axis=1) if y.ndim == 2 else y  # a studio clip is stereo
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=256, n_mels=80)
    db = librosa.power_to_db(S=mel, ref=np.max, top_db=80)
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=(0, len(y) / sr, 0, 80))
    ax.set_xlabel("s")
    ax.set_ylabel("mel bin")

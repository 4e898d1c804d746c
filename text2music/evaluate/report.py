"""The evaluation report (Markdown + PNG figures) and the project leaderboard (EVALUATION.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from text2music.evaluate.folder import clip_name
from text2music.features.mel import get_preset, load_audio, log_mel_spectrogram
from text2music.features.plot import pyplot, save_mel_grid
from text2music.utils import atomic_path, atomic_write_text


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _savefig(fig, path: Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    pyplot().close(fig)


def write_report(out: Path, metrics: dict, items, judged: list[dict], reference: dict, cfg) -> None:
    """report.md and the figures the metrics allow (a figure without data is not drawn, nor linked)."""
    pictures = [
        spectrograms(out, items, reference, cfg),
        tag_auc_bars(out, metrics, cfg.system),
        tempo_scatter(out, metrics, items, judged, cfg.system),
    ]
    atomic_write_text(out / "report.md", report_markdown(metrics, [p for p in pictures if p]))


def spectrograms(out: Path, items, reference: dict, cfg) -> str:
    """The first prompts -> the system's clip (beside the real clip made from that prompt)."""
    mel_cfg = get_preset("small")
    beside = bool(reference) and cfg.system != "real"
    mels, titles = [], []
    for it in items[:4]:
        audio = it.audio if cfg.system == "real" else out / "audio" / f"{clip_name(it.id, cfg.settings.seed)}.wav"
        mels.append(log_mel_spectrogram(load_audio(audio, mel_cfg.sample_rate), mel_cfg).numpy())
        titles.append(f"{cfg.system}: {it.text[:70]}")
        if beside:
            mels.append(log_mel_spectrogram(load_audio(it.audio, mel_cfg.sample_rate), mel_cfg).numpy())
            titles.append(f"real: {it.id}")
    save_mel_grid(out / "spectrograms.png", mels, mel_cfg, titles, cols=2 if beside else 1)
    return "spectrograms.png"


def tag_auc_bars(out: Path, metrics: dict, system: str) -> str | None:
    """Per-concept AUC bars; None when no concept had enough clips on each side."""
    aucs = metrics["adherence"]["tag_auc"]
    if not aucs:
        return None
    fig, ax = pyplot().subplots(figsize=(8, 3.5), dpi=100)
    names = sorted(aucs, key=lambda c: -aucs[c]["auc"])
    ax.bar(names, [aucs[c]["auc"] for c in names], color="tab:blue")
    ax.axhline(0.5, color="grey", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 1)
    ax.set_ylabel("ROC-AUC")
    ax.set_title(f"{system}: judge tag AUC per concept (mean {_fmt(metrics['adherence']['mean_tag_auc'])})")
    ax.tick_params(axis="x", rotation=60)
    ax.legend()
    _savefig(fig, out / "tag_auc.png")
    return "tag_auc.png"


def tempo_scatter(out: Path, metrics: dict, items, judged: list[dict], system: str) -> str | None:
    """Tempo stated vs measured; None when no prompt states a tempo."""
    pairs = [(it.bpm, j["tempo"]) for it, j in zip(items, judged) if it.bpm]
    if not pairs:
        return None
    fig, ax = pyplot().subplots(figsize=(4.5, 4.5), dpi=100)
    bpm, est = np.array(pairs).T
    ax.scatter(bpm, est, s=14)
    grid = np.linspace(40, 200, 2)
    for f, style in ((1, "-"), (2, ":"), (0.5, ":")):
        ax.plot(grid, f * grid, "k" + style, lw=0.8)
    ax.set_xlabel("tempo stated in the prompt (BPM)")
    ax.set_ylabel("tempo measured (BPM)")
    ax.set_title(f"{system}: tempo (acc {_fmt(metrics['adherence']['tempo_acc'], 2)})")
    _savefig(fig, out / "tempo.png")
    return "tempo.png"


PICTURE_TITLES = {"spectrograms.png": "spectrograms", "tag_auc.png": "tag AUC", "tempo.png": "tempo"}


def report_markdown(m: dict, pictures: list[str] = ()) -> str:
    """The report's Markdown: the metrics table, the per-concept AUCs and links to `pictures`
    (file names beside report.md; only those written)."""
    a, c = m["adherence"], m["config"]
    g = c.get("settings") or c  # the generation settings: nested in the config, or flat as older reports wrote them
    generated = m.get("fingerprint", {}).get("settings") != {}  # real audio (or it through a vocoder) has none
    made = f"; {g['steps']} steps, guidance {g['guidance']}, seed {g['seed']}" if generated else ""
    lines = [
        f"# Evaluation: {m['system']}",
        "",
        f"Command: `{m.get('command') or ''}`",
        "",
        f"{m['n_prompts']} prompts ({c['prompts']}, split {c['split']}){made}.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    rows = [
        ("FAD (musicnn, vs real half B)", m.get("fad")),
        ("mean tag AUC", a["mean_tag_auc"]),
        (f"tempo accuracy (octave-tolerant, {a['tempo_n']} prompts with a BPM)", a["tempo_acc"]),
        ("tempo accuracy (strict 8%)", a["tempo_acc_strict"]),
        (f"key and mode exact ({a['key_n']} prompts with a key)", a["key_acc"]),
        ("key exact or relative", a["key_acc_close"]),
        (f"tempo vs the true BPM, all prompts ({a.get('tempo_spec_n')}): octave-tolerant", a.get("tempo_spec_acc")),
        ("tempo vs the true BPM, all prompts: strict 8%", a.get("tempo_spec_acc_strict")),
        (
            f"tempo vs the true BPM, prompts stating none ({a.get('tempo_unstated_n')}): octave / strict",
            f"{_fmt(a.get('tempo_unstated_acc'), 2)} / {_fmt(a.get('tempo_unstated_acc_strict'), 2)}",
        ),
        ("key and mode exact vs the true key, all prompts", a.get("key_spec_acc")),
        ("mode exact vs the true mode, all prompts", a.get("mode_spec_acc")),
        (
            f"meter heard as 3/4 on 3/4 clips ({a.get('meter_3_n')}) / as 4/4 on 4/4 clips ({a.get('meter_4_n')})",
            f"{_fmt(a.get('meter_3_acc'), 2)} / {_fmt(a.get('meter_4_acc'), 2)}",
        ),
        (f"drums present/absent ({a['drums_n']})", a["drums_acc"]),
        ("speckle (dB of pixel noise on the log-mel; lower = cleaner)", a.get("speckle_db")),
        ("diversity across seeds", m.get("diversity")),
        ("spread across prompts (real = 1)", m.get("prompt_spread")),
    ]
    if "heldout" in m:
        h = m["heldout"]
        rows += [
            (f"held-out templates ({h['n']}): mean tag AUC", h["mean_tag_auc"]),
            ("held-out: tempo / key / drums", f"{_fmt(h['tempo_acc'], 2)} / {_fmt(h['key_acc'], 2)} / {_fmt(h['drums_acc'], 2)}"),
        ]
    if "speed" in m:
        s = m["speed"]
        rows += [
            ("seconds per 10-s clip (2 threads)", s["seconds_per_clip"]),
            ("real-time factor", s["rtf"]),
            ("peak RSS (MB)", s["peak_rss_mb"]),
        ]
    if "full_band" in m:
        f = m["full_band"]
        gen, real = f["generated"], f["real"]
        rows += [
            (
                f"energy above 8 kHz, dB of the clip's ({f['sample_rate']} Hz): made / real",
                f"{gen['high_band_db']:.1f} / {real['high_band_db']:.1f}",
            ),
            ("spectral flatness of 8-16 kHz: made / real", f"{gen['flatness']:.3f} / {real['flatness']:.3f}"),
        ]
        rows += [(f"log-spectral distance to the real clip, {band} (dB)", v) for band, v in f.get("lsd_db", {}).items()]
    lines += [f"| {k} | {_fmt(v) if not isinstance(v, str) else v} |" for k, v in rows]
    lines += ["", "## Tag AUC per concept", "", "| concept | AUC | named | excluded |", "|---|---|---|---|"]
    lines += [f"| {c} | {v['auc']:.3f} | {v['n_pos']} | {v['n_neg']} |" for c, v in sorted(a["tag_auc"].items())]
    for name in pictures:
        lines += ["", f"![{PICTURE_TITLES.get(name, name)}]({name})"]
    return "\n".join(lines) + "\n"


LEADERBOARD_COLUMNS = (
    "FAD ↓",
    "tag AUC ↑",
    "tempo ↑",
    "tempo strict ↑",
    "key ↑",
    "true tempo ↑",
    "true key ↑",
    "true mode ↑",
    "3/4 ↑",
    "4/4 ↑",
    "drums ↑",
    "held-out AUC ↑",
    "speckle dB",
    "diversity",
    "spread",
    "RTF ↑",
    "RSS MB",
)


def leaderboard_cells(m: dict) -> list:
    """One report's values, in the order of LEADERBOARD_COLUMNS (None where it has none)."""
    a, h, s = m["adherence"], m.get("heldout", {}), m.get("speed", {})
    return [
        m.get("fad"),
        a.get("mean_tag_auc"),
        a.get("tempo_acc"),
        a.get("tempo_acc_strict"),
        a.get("key_acc"),
        a.get("tempo_spec_acc"),
        a.get("key_spec_acc"),
        a.get("mode_spec_acc"),
        a.get("meter_3_acc"),
        a.get("meter_4_acc"),
        a.get("drums_acc"),
        h.get("mean_tag_auc"),
        a.get("speckle_db"),
        m.get("diversity"),
        m.get("prompt_spread"),
        s.get("rtf"),
        s.get("peak_rss_mb"),
    ]


def read_metrics(folder: Path) -> dict:
    """A report folder's metrics.json; ValueError naming the file when it is not one `evaluate` wrote."""
    path = Path(folder) / "metrics.json"
    try:
        m = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    if not isinstance(m, dict) or not isinstance(m.get("adherence"), dict):
        raise ValueError(f"{path}: no adherence metrics (not written by text2music evaluate?)")
    return m


def leaderboard_table(report_dirs: list[Path], labels: list[str | None] | None = None) -> list[str]:
    """The Markdown table: one row per report folder, in the order given, named by its label (or
    the folder's name) and linked to its report.md; a column no report has a value for is left out."""
    labels = labels or [None] * len(report_dirs)
    metrics = [read_metrics(d) for d in report_dirs]
    cells = [leaderboard_cells(m) for m in metrics]
    keep = [i for i in range(len(LEADERBOARD_COLUMNS)) if any(row[i] is not None for row in cells)]
    lines = [
        "| system | " + " | ".join(LEADERBOARD_COLUMNS[i] for i in keep) + " | command |",
        "|" + "---|" * (len(keep) + 2),
    ]
    for d, label, m, row in zip(report_dirs, labels, metrics, cells):
        name = label or Path(d).name
        values = " | ".join(_fmt(row[i], 2) for i in keep)
        lines.append(f"| [{name}]({Path(d).as_posix()}/report.md) | {values} | `{m.get('command') or ''}` |")
    return lines


START, END = "<!-- leaderboard:start -->", "<!-- leaderboard:end -->"


def write_leaderboard(report_dirs: list[Path], path: Path, labels: list[str | None] | None = None) -> None:
    """Write the table (`leaderboard_table`) between the markers of `path` (EVALUATION.md), keeping
    the text around them; a new file gets just the table."""
    table = "\n".join([START, *leaderboard_table(report_dirs, labels), END])
    path = Path(path)
    text = path.read_text() if path.exists() else f"# Leaderboard\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        raise ValueError(f"{path} has no {START} ... {END} markers to write the table between")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    atomic_write_text(path, before + table + after)

"""Benchmark: the stereo upmixer (issue 25) against real stereo music it never trained on.

    nice -n 19 python bench/stereo.py --test /tmp/stereo_music/test --generated 20

On the held-out test files of scripts/stereo_data.py (split by file; their first `--max-seconds` at
44.1 kHz), four versions of each: (a) the real stereo, (b) its mono mix upmixed by the model,
(c) the same with the constant per-band width profile (the training files' mean width: the
baseline the model must beat), (d) plain mono. Per band group: the width (side/mid energy ratio, dB)
and the inter-channel correlation (ICC) of each file (mean and spread over files), and how far
each version's width is from the real one: per file (|dB| difference of the file's width) and per
frame (|dB| difference of the per-frame width, `smooth_frames` frames of energy, over the frames
and bands where the mid is within 60 dB of the file's loudest frame), and the correlation over
frames of the per-frame widths. Then `--generated` clips of the bundled default (the synthetic
corpus's test prompts), upmixed, against the real files' distribution.

Writes bench/results/stereo.md (tables) and docs/images/stereo.png (width and ICC per band, and one
test file's width over time).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from text2music.generate.settings import PEAK_LIMIT
from text2music.models.stereo import STEREO_DIR, StereoUpmixer, band_edges, band_energies, measured_width
from text2music.train.stereo import ACTIVE_DB, RATE, audible, read_stereo, stereo_files
from text2music.utils import atomic_path, atomic_write_text

GROUPS_HZ = ((0, 500), (500, 2000), (2000, 8000), (8000, 22050))
VERSIONS = ("real", "model", "constant", "mono")
DB = 10 / np.log(10)


def constant_upmixer(model: StereoUpmixer, profile_db: list[float]) -> StereoUpmixer:
    """The model's shape, its network replaced by the constant per-band width `profile_db`."""
    constant = StereoUpmixer(model.cfg).eval()
    with torch.no_grad():
        for p in constant.net.parameters():
            p.zero_()
        constant.net.bias.copy_(torch.tensor(profile_db)[:, None] / DB)
    return constant


def band_centres(model: StereoUpmixer) -> np.ndarray:
    """Each band's centre in Hz (geometric; the first band's from 30 Hz)."""
    edges = band_edges(model.cfg)
    return np.sqrt(np.maximum(edges[:-1], 30.0) * edges[1:])


def group_of_bands(model: StereoUpmixer) -> list[np.ndarray]:
    """Per band group, which bands lie in it (by the band's centre)."""
    centres = band_centres(model)
    return [(centres >= lo) & (centres < hi) for lo, hi in GROUPS_HZ]


def width_and_icc(sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Width (dB) and ICC of energies summed over a whole file (per band or per band group)."""
    return {
        "width": DB * np.log(sums["side"] / np.maximum(sums["mid"], 1e-30) + 1e-12),
        "icc": sums["cross"] / np.maximum(np.sqrt(sums["left"] * sums["right"]), 1e-30),
    }


def summary(energy: dict, groups: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per band group: width (dB) and ICC of a whole file."""
    sums = {k: v.sum(-1).numpy().astype(np.float64) for k, v in energy.items()}
    return width_and_icc({k: np.array([v[g].sum() for g in groups]) for k, v in sums.items()})


def per_band(energy: dict) -> dict[str, np.ndarray]:
    """Per band: width (dB) and ICC of a whole file (for the picture)."""
    return width_and_icc({k: v.sum(-1).numpy().astype(np.float64) for k, v in energy.items()})


def measure_file(path: Path, upmixers: dict[str, StereoUpmixer], groups: list[np.ndarray], max_seconds: float) -> dict:
    """Every version of one test file: its summary, per-band values, and per-frame widths (dB)."""
    real = read_stereo(path, max_seconds)
    mono = real.mean(0)
    versions = {"real": real, "mono": np.stack([mono, mono])}
    for name, upmixer in upmixers.items():
        versions[name] = upmixer.upmix(mono, RATE, peak=np.inf)
    cfg = upmixers["model"].cfg
    out = {}
    for name, audio in versions.items():
        energy = band_energies(audio, RATE, cfg)
        frames = DB * measured_width(energy["mid"], energy["side"], cfg).numpy()
        out[name] = {**summary(energy, groups), "bands": per_band(energy), "frames": frames}
        if name == "real":
            out["counted"] = audible(energy["mid"]).numpy()
    return out


def frame_errors(results: list[dict], groups: list[np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per band group, over all test files: mean |per-frame width - real| (dB) and the correlation
    over frames of the per-frame widths (pooled)."""
    errors, corrs = [], []
    for g in groups:
        a = np.concatenate([r[name]["frames"][g][r["counted"][g]] for r in results])
        b = np.concatenate([r["real"]["frames"][g][r["counted"][g]] for r in results])
        errors.append(np.abs(a - b).mean())
        corrs.append(np.corrcoef(a, b)[0, 1] if a.std() > 1e-6 else np.nan)
    return np.array(errors), np.array(corrs)


def paired_difference(results: list[dict], groups: list[np.ndarray], seed: int = 0) -> list[str]:
    """Per band group: model - constant of each file's mean per-frame |width error| (dB), the mean
    over files and its 95% bootstrap interval over files (2,000 resamplings)."""
    per_file = np.array(
        [
            [np.abs(r[v]["frames"][g][r["counted"][g]] - r["real"]["frames"][g][r["counted"][g]]).mean() for g in groups]
            for r in results
            for v in ("model", "constant")
        ]
    ).reshape(len(results), 2, len(groups))
    diffs = per_file[:, 0] - per_file[:, 1]
    draws = np.random.default_rng(seed).integers(0, len(diffs), (2000, len(diffs)))
    low, high = np.percentile(diffs[draws].mean(1), [2.5, 97.5], axis=0)
    return [f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}]" for m, lo, hi in zip(diffs.mean(0), low, high)]


def generated_clips(n: int, upmixer: StereoUpmixer, groups: list[np.ndarray]) -> list[dict]:
    """The bundled default's clips for `n` test prompts of the synthetic corpus (data/synth; plain
    texts without it), upmixed as `generate --channels 2` does (`Text2Music.with_channels`); each
    clip's summary and per-band values."""
    from text2music import GenerationSettings, Text2Music

    try:
        from text2music.evaluate.prompts import corpus_items

        texts = [it.text for it in corpus_items("data/synth", "test", n)]
    except (FileNotFoundError, ValueError):
        texts = [f"a {m} piece number {i}" for i, m in zip(range(n), ["calm piano", "upbeat rock", "orchestral", "jazz trio"] * n)]
    pipe = Text2Music.from_pretrained()
    out = []
    for i, text in enumerate(texts):
        mono = pipe([text], GenerationSettings(duration=10.0, seed=i, reverb=0.0)).audio[0]  # dry, as the rows were first made
        energy = band_energies(upmixer.upmix(mono, pipe.sample_rate, peak=PEAK_LIMIT), pipe.sample_rate, upmixer.cfg)
        roomy = pipe([text], GenerationSettings(duration=10.0, seed=i, reverb=1.0, channels=2)).audio[0]  # the bundled upmixer
        in_room = band_energies(roomy, pipe.sample_rate, upmixer.cfg)
        out.append({**summary(energy, groups), "bands": per_band(energy), "reverb": summary(in_room, groups)})
    return out


def spread(rows: list[np.ndarray], fmt: str = "{:+.1f}") -> list[str]:
    """Per column: "mean ± std" over the rows."""
    v = np.array(rows)
    return [f"{fmt.format(m)} ± {fmt.format(s).lstrip('+')}" for m, s in zip(v.mean(0), v.std(0))]


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def tables(
    results: list[dict],
    generated: list[dict],
    groups: list[np.ndarray],
    profile_db: list[float],
    n_train: int,
    floor: float,
    seconds: float,
) -> str:
    """The tables of bench/results/stereo.md; `floor`: the lowest width in dB (plain mono counts as
    it); `seconds`: read from each test file."""
    labels = [f"{lo / 1000:g}-{hi / 1000:g} kHz" for lo, hi in GROUPS_HZ]
    head = [row(["version", *labels]), row(["---"] * (len(labels) + 1))]
    lines = [
        "# Stereo upmixer (issue 25): measured on held-out real stereo music",
        "",
        f"Test: {len(results)} stereo files (scripts/stereo_data.py, split by file; none trained on; the first {seconds:g} s of each); "
        f"the model and the constant profile come from {n_train} other files. Made by `bench/stereo.py`.",
        "",
        "## Width (side/mid energy, dB) of each file: mean ± std over the test files",
        "",
        *head,
        *(row([v, *spread([r[v]["width"] for r in results])]) for v in VERSIONS[:3]),
        "",
        "Plain mono has no side: minus infinity in every group.",
        "",
        "## Inter-channel correlation of each file: mean ± std over the test files",
        "",
        *head,
        *(row([v, *spread([r[v]["icc"] for r in results], "{:.3f}")]) for v in VERSIONS),
        "",
        "## Error of the width against the real stereo (dB; lower is better)",
        "",
        f"Per file: mean over the files of |the file's width - the real file's| (plain mono counted as {floor:g} dB). Per frame: mean "
        f"|per-frame width - real| over the frames and bands whose mid is within {-ACTIVE_DB:g} dB of the file's loudest frame "
        f"(per-frame widths kept within {floor:g}..0 dB). r: the correlation over those frames of the per-frame width with the real one.",
        "",
        row(["version", "measure", *labels]),
        row(["---"] * (len(labels) + 2)),
    ]
    for v in VERSIONS[1:]:
        file_err = np.mean([np.abs(np.maximum(r[v]["width"], floor) - r["real"]["width"]) for r in results], axis=0)
        frame_err, corr = frame_errors(results, groups, v)
        lines.append(row([v, "per file", *(f"{e:.2f}" for e in file_err)]))
        lines.append(row([v, "per frame", *(f"{e:.2f}" for e in frame_err)]))
        lines.append(row([v, "r", *("-" if np.isnan(c) else f"{c:.2f}" for c in corr)]))
    lines += [
        "",
        "Model - constant, each file's mean per-frame error (dB; negative: the model is closer to the real width), mean over "
        "the files and 95% bootstrap interval over files:",
        "",
        row(["", *labels]),
        row(["---"] * (len(labels) + 1)),
        row(["model - constant", *paired_difference(results, groups)]),
    ]
    if generated:
        real = [r["real"] for r in results]
        lines += [
            "",
            f"## The bundled default's clips upmixed: {len(generated)} test prompts of the synthetic corpus, 10 s (mean ± std over clips)",
            "",
            row(["audio", *labels]),
            row(["---"] * (len(labels) + 1)),
            row(["real test files: width (dB)", *spread([r["width"] for r in real])]),
            row(["generated, upmixed: width (dB)", *spread([r["width"] for r in generated])]),
            row(["real test files: ICC", *spread([r["icc"] for r in real], "{:.3f}")]),
            row(["generated, upmixed: ICC", *spread([r["icc"] for r in generated], "{:.3f}")]),
            row(["generated with --reverb 1, upmixed: width (dB)", *spread([r["reverb"]["width"] for r in generated])]),
            row(["generated with --reverb 1, upmixed: ICC", *spread([r["reverb"]["icc"] for r in generated], "{:.3f}")]),
        ]
    profile = ", ".join(f"{p:.1f}" for p in profile_db)
    lines += ["", f"Constant profile (the training files' mean per-frame width per band, dB, low to high): {profile}", ""]
    return "\n".join(lines)


def picture(results: list[dict], generated: list[dict], model: StereoUpmixer, path: Path) -> None:
    """Width and ICC per band (median and quartiles over the test files; generated clips' median),
    and the width over time in the 2-8 kHz group of the widest-varying test file among those without
    silent stretches."""
    from text2music.features.plot import pyplot

    plt = pyplot()
    centres = band_centres(model)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), dpi=100)
    styles = {"real": "k", "model": "C0", "constant": "C1", "mono": "C7"}
    for ax, key, label in ((axes[0], "width", "width: side/mid energy (dB)"), (axes[1], "icc", "inter-channel correlation")):
        for v in VERSIONS if key == "icc" else VERSIONS[:3]:
            values = np.array([r[v]["bands"][key] for r in results])
            q1, med, q3 = np.percentile(values, [25, 50, 75], axis=0)
            ax.plot(centres, med, color=styles[v], label=f"{v} (test files)")
            ax.fill_between(centres, q1, q3, color=styles[v], alpha=0.15)
        if generated:
            ax.plot(centres, np.median([c["bands"][key] for c in generated], 0), "--", color="C2", label="generated, upmixed")
        ax.set_xscale("log")
        ax.set_xlabel("band centre (Hz)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(model.cfg.min_width_db - 10, 5)
    axes[0].legend(fontsize=8)
    g = group_of_bands(model)[2]
    loud = [r for r in results if r["counted"][g].all(0).mean() > 0.95] or results  # files without silent stretches
    example = max(loud, key=lambda r: np.std(r["real"]["frames"][g].mean(0)))
    heard = example["counted"][g].any(0)  # frames where the group is not silent
    smooth = np.ones(43) / 43  # 0.5 s
    for v in VERSIONS[:3]:
        trace = np.convolve(np.pad(example[v]["frames"][g].mean(0), 21, mode="edge"), smooth, mode="valid")
        axes[2].plot(np.arange(len(trace)) * model.cfg.hop_seconds, np.where(heard, trace, np.nan), color=styles[v], lw=1, label=v)
    axes[2].set_xlabel("seconds")
    axes[2].set_ylabel("width, 2-8 kHz bands, 0.5-s mean (dB)")
    axes[2].set_title(f"one test file: {example['name']}", fontsize=9)
    axes[2].legend(fontsize=8)
    axes[2].grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", type=Path, default=Path("/tmp/stereo_music/test"), help="held-out stereo files")
    parser.add_argument("--model", type=Path, default=None, help="upmixer folder with constant.json (default: the bundled one)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="seconds read from each test file")
    parser.add_argument("--generated", type=int, default=20, help="clips of the bundled default to upmix (0: none)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/stereo.md"))
    parser.add_argument("--png", type=Path, default=Path("docs/images/stereo.png"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = StereoUpmixer.from_folder(args.model)
    constant_info = json.loads(((args.model or STEREO_DIR) / "constant.json").read_text())
    upmixers = {"model": model, "constant": constant_upmixer(model, constant_info["width_db"])}
    groups = group_of_bands(model)
    results = []
    for path in stereo_files((str(args.test),)):
        results.append({"name": path.stem, **measure_file(path, upmixers, groups, args.max_seconds)})
        print(path.name, flush=True)
    generated = generated_clips(args.generated, model, groups) if args.generated else []
    text = tables(
        results, generated, groups, constant_info["width_db"], constant_info["train_files"], model.cfg.min_width_db, args.max_seconds
    )
    atomic_write_text(args.out, text)
    picture(results, generated, model, args.png)
    print(text)


if __name__ == "__main__":
    main()

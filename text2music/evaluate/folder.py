"""A report folder's layout, and the fingerprint of what its audio and judgements were made from.

    out/fingerprint.json                     the system (its spec and a hash of its weights and
                                             config), the generation settings and the prompts'
                                             source (a hash of the corpus manifest and its
                                             corpus.json, or of the MusicCaps CSV)
    ../_reference-DATA-SPLIT/fingerprint.json  the corpus its real clips were taken from

A report folder resumes only what the same fingerprint made: other settings, another model or a
rebuilt corpus are refused with what differs (redo with `overwrite`, or use another folder); the
shared real-audio cache is a cache, so a stale one is emptied and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from text2music.utils import atomic_write_text

FINGERPRINT = "fingerprint.json"
# what `evaluate` writes into a report folder (and `overwrite` removes; nothing else is touched)
REPORT_DIRS = ("audio", "embeddings")
REPORT_FILES = ("judged.jsonl", "metrics.json", "report.md", "spectrograms.png", "tag_auc.png", "tempo.png", FINGERPRINT)
MODEL_FILE_SUFFIXES = (".json", ".safetensors")
GENERATION_SETTINGS = ("duration", "steps", "guidance", "sampler", "normalize", "seed", "diversity_prompts", "diversity_seeds", "controls")


def clip_name(item_id: str, seed: int) -> str:
    return f"{item_id}_s{seed}"


def reference_dir(out: str | Path, data: str | Path, split: str) -> Path:
    """The real clips of a corpus split, judged once for all reports under the same parent."""
    return Path(out).parent / f"_reference-{Path(data).name}-{split}"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_sha256(folder: str | Path) -> str:
    """One hash over the names and bytes of a model folder's config and weights (its top-level
    .json and .safetensors files; logs and pictures do not change what it makes)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in MODEL_FILE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{folder} has no config or weights (.json, .safetensors) to evaluate")
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.name}\0{file_sha256(p)}\0".encode())
    return h.hexdigest()


def vocoder_row_source(spec: str) -> dict | Path | None:
    """What the vocoder-only row `spec` runs: Griffin-Lim's settings (a dict) for 'vocoder' and
    'vocoder:griffin-lim-...', the neural vocoder's folder (a Path) for 'vocoder:vocos',
    'vocoder:default' (the vocoder the bundled default runs with) or 'vocoder:FOLDER'; None for any
    other system."""
    from text2music.models.vocoder import griffin_lim_fields, neural_vocoder_folder, paired_vocoder

    if spec == "vocoder":
        return griffin_lim_fields("griffin-lim")
    if not spec.startswith("vocoder:"):
        return None
    name = spec.split(":", 1)[1]
    if name == "default":
        from text2music.generate.spec import DEFAULT_MODEL_DIR

        name = paired_vocoder(DEFAULT_MODEL_DIR)
        if name == "auto":
            return DEFAULT_MODEL_DIR
    if griffin_lim_fields(name) is not None:
        return griffin_lim_fields(name)
    return neural_vocoder_folder(name)


def system_fingerprint(
    spec: str, vocoder: str = "auto", adapter: str | None = None, adapter_strength: float = 1.0, precision: str = "auto"
) -> dict:
    """What makes a system's audio: 'real' is code only; the vocoder-only row is Griffin-Lim's
    iterations or the neural vocoder folder's hash; a model folder is its files' hash, wherever
    the folder lies, plus the vocoder it runs with unless the folder ships one (Griffin-Lim's
    iterations, or the vocoder folder's hash), plus its LoRA adapter's files and strength, plus
    its precision unless float32 ("auto" read from its config.json)."""
    from text2music.models.vocoder import griffin_lim_fields, neural_vocoder_folder, paired_vocoder

    if spec == "real":
        return {"spec": spec}
    if spec.startswith("real:"):
        from text2music.evaluate.systems import stand_ins_sha256

        return {"spec": "real", "stand_ins_sha256": stand_ins_sha256(spec.split(":", 1)[1])}
    source = vocoder_row_source(spec)
    if isinstance(source, dict):
        return {"spec": "vocoder", "griffin_lim": source}
    if source is not None:
        return {"spec": "vocoder", "files_sha256": folder_sha256(source)}
    if spec == "default":
        from text2music.generate.spec import DEFAULT_MODEL_DIR

        spec = DEFAULT_MODEL_DIR
    out = {"spec": "model", "files_sha256": folder_sha256(spec)}
    if vocoder == "auto":
        vocoder = paired_vocoder(spec)  # what "auto" gives this folder: its own (still "auto"), the one it names, Griffin-Lim
    if vocoder != "auto":
        gl = griffin_lim_fields(vocoder)
        out["vocoder"] = {"griffin_lim": gl} if gl is not None else {"files_sha256": folder_sha256(neural_vocoder_folder(vocoder))}
    if adapter:
        out["adapter"] = {"files_sha256": folder_sha256(adapter), "strength": float(adapter_strength)}
    from text2music.models.quantize import resolve_precision

    config_file = Path(spec) / "config.json"
    precision = resolve_precision(precision, json.loads(config_file.read_text()) if config_file.is_file() else {})
    if precision != "float32":
        out["precision"] = precision
    return out


def corpus_fingerprint(prompts: str, data: str | Path, split: str, musiccaps_csv: str | Path | None = None) -> dict:
    """What the prompts (and the real clips) come from: the corpus manifest and build arguments
    (soundfont included), or the MusicCaps CSV. The number of prompts is not part of it: asking
    for more or fewer of the same prompts resumes."""
    if prompts == "musiccaps":
        return {"prompts": prompts, "split": split, "csv_sha256": file_sha256(musiccaps_csv)}
    data = Path(data)
    build = data / "corpus.json"
    return {
        "prompts": prompts,
        "split": split,
        "manifest_sha256": file_sha256(data / "manifest.jsonl"),
        "corpus_json_sha256": file_sha256(build) if build.is_file() else None,
    }


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'key: OLD there, NEW now' for every leaf that differs."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} there, {b!r} now")
    return out


def read_fingerprint(folder: Path) -> dict | None:
    path = Path(folder) / FINGERPRINT
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}


def has_results(folder: Path) -> bool:
    """Whether `evaluate` left anything but its fingerprint in `folder` (audio, judgements, a report)."""
    folder = Path(folder)
    return any((folder / d).exists() for d in REPORT_DIRS) or any((folder / f).exists() for f in REPORT_FILES if f != FINGERPRINT)


def clear(folder: Path) -> None:
    """Remove what `evaluate` wrote into `folder` (and nothing else)."""
    folder = Path(folder)
    for d in REPORT_DIRS:
        shutil.rmtree(folder / d, ignore_errors=True)
    for f in REPORT_FILES:
        (folder / f).unlink(missing_ok=True)


def claim_report(folder: Path, fingerprint: dict, overwrite: bool = False) -> None:
    """Make `folder` a report of `fingerprint`: a new or matching folder resumes, and so does one
    without results (a run that failed before making any); one with results of anything else is
    refused (ValueError naming what differs) unless `overwrite` clears it."""
    folder = Path(folder)
    old = read_fingerprint(folder)
    if overwrite:
        clear(folder)
    elif old is None and has_results(folder):
        raise ValueError(
            f"{folder} holds results with no {FINGERPRINT} (made by an older version): "
            "evaluate into a new --out, or pass --overwrite to redo it"
        )
    elif old is not None and old != fingerprint and has_results(folder):
        diffs = differences(old, fingerprint) or ["unreadable fingerprint"]
        raise ValueError(
            f"{folder} was evaluated with other settings ({'; '.join(diffs)}): evaluate into a new --out, or pass --overwrite to redo it"
        )
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / FINGERPRINT, json.dumps(fingerprint, indent=2, sort_keys=True) + "\n")


def claim_reference(folder: Path, fingerprint: dict) -> bool:
    """Make the real-audio cache `folder` one of `fingerprint`, emptying it first when it was made
    from anything else (a rebuilt corpus). True when it was emptied."""
    folder = Path(folder)
    old = read_fingerprint(folder)
    stale = old != fingerprint and (old is not None or has_results(folder))
    if stale:
        clear(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / FINGERPRINT, json.dumps(fingerprint, indent=2, sort_keys=True) + "\n")
    return stale


def corpus_soundfont(data: str | Path) -> dict | None:
    """The soundfont a corpus was rendered with, as its corpus.json records it (name, size, hash of
    the first MiB), or None when the folder records none."""
    try:
        recorded = json.loads((Path(data) / "corpus.json").read_text()).get("soundfont")
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if isinstance(recorded, dict) else None

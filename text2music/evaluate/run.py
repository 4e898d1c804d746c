"""`text2music evaluate`: render the prompts with one system, judge every clip, compute the metrics.

    out/
      fingerprint.json          what the audio and judgements come from (system, settings, prompts);
                                re-running resumes only the same fingerprint (text2music.evaluate.folder)
      audio/ID_sSEED.wav        what the system made (re-running skips what exists)
      judged.jsonl              one judgement per clip (tags, tempo, key, drums); resumable
      embeddings/ID_sSEED.npy   musicnn embeddings (one row per 3-s patch)
    ../_reference-DATA-SPLIT/   the real clips, judged the same way (shared by sibling reports;
                                redone when the corpus changes)
      metrics.json              every number below, with the command, settings, fingerprint and
                                the soundfont the corpus was rendered with
      report.md                 tables, and links to the figures written: spectrograms.png, tag_auc.png
                                (concepts with 5 clips on each side), tempo.png (prompts stating a BPM)

Metrics (every one on clips the system never trained on):
- fad: Frechet distance between musicnn embeddings of the system's clips for half A of the
  prompts and the real clips of half B (the real-audio row: real A vs real B, the floor);
- tag_auc: per concept, ROC-AUC of the judge's tag probability between clips whose prompt names
  the concept and clips whose prompt excludes it; mean over concepts with >= 5 of each;
- tempo_acc: beat-tracker BPM within 8% of the BPM the prompt states (octave errors allowed),
  tempo_acc_strict without octave errors; key_acc: estimated key and mode = the stated ones,
  key_acc_close: or its relative key; drums_acc: drums detected = drums in the specification;
- the same adherence numbers on prompts from held-out caption templates (`heldout`);
- diversity: mean distance between clips of one prompt made with different seeds, over the mean
  distance between real clips of different prompts (0 = the same clip whatever the seed);
  prompt_spread: distance between clips of different prompts, over the same for real clips;
- speed: seconds per 10-s clip, real-time factor and peak RSS, in a fresh process.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
from tqdm import tqdm

from text2music import BUNDLED_MUSICCAPS_CSV
from text2music.analysis.drums import DRUM_THRESHOLD
from text2music.analysis.key import PITCH_CLASSES, KeyEstimate, key_relation
from text2music.analysis.tempo import tempo_agrees
from text2music.evaluate.fad import frechet_audio_distance
from text2music.evaluate.folder import (
    GENERATION_SETTINGS,
    claim_reference,
    claim_report,
    clip_name,
    corpus_fingerprint,
    corpus_soundfont,
    reference_dir,
    system_fingerprint,
)
from text2music.evaluate.judges import JUDGE_RATE, Judges
from text2music.evaluate.prompts import EvalItem, corpus_items, musiccaps_items
from text2music.evaluate.report import write_report
from text2music.features.mel import load_audio, save_audio
from text2music.generate.settings import GenerationSettings
from text2music.generate.spec import ModelSpec
from text2music.utils import append_jsonl, atomic_write_text, read_jsonl

# musicnn's MTT "drums" tag (a judgement's drums_tag: the clip at the pipeline's output loudness) above
# this = drums heard: the threshold that best separates the drum and drum-free clips of the corpus's
# real audio on its valid split (bench/drums_threshold.py)
MUSICNN_DRUMS_THRESHOLD = 0.055
DEFAULT_PROMPTS = 200
MIN_CLASS = 5  # clips needed on each side of a concept for its AUC
CONTROL_MODES = ("text", "settings", "none")
GENERATION_FIELDS = ("duration", "steps", "guidance", "sampler", "shift", "normalize", "seed")  # of flat configs


@dataclass
class EvalConfig:
    """What `evaluate` runs: a system on a corpus's prompts, with generation `settings` and, for a
    model, the loading `spec` (its vocoder, adapter and precision; `spec.model` is set from `system`)."""

    system: str  # "real", "real:FOLDER", "vocoder[:...]", "default" (the bundled model) or a model folder
    out: str
    data: str = "data/synth"
    split: str = "test"
    n: int | None = None  # prompts; None: the first DEFAULT_PROMPTS, or every one when the split has fewer
    prompts: str = "corpus"  # "corpus" (held-out corpus clips) | "musiccaps" (real captions, text only)
    musiccaps_csv: str = str(BUNDLED_MUSICCAPS_CSV)
    # the pipeline's defaults, except that the generator's own levels are judged (real audio is not normalised either)
    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(normalize=False))
    controls: str = "text"  # "text": what the prompt states | "settings": the clip's true tempo, key,
    # meter and drums as settings | "none": no controls (the prompt's words still go to BERT)
    spec: ModelSpec = field(default_factory=ModelSpec)
    diversity_prompts: int = 8
    diversity_seeds: int = 4
    batch_size: int = 4
    speed: bool = True
    overwrite: bool = False  # redo a report folder that holds results of other settings

    def __post_init__(self):
        if self.controls not in CONTROL_MODES:
            raise ValueError(f"controls must be one of {', '.join(CONTROL_MODES)}, got {self.controls!r}")
        if not is_reference_only(self.system):
            self.spec = dataclasses.replace(self.spec, model=None if self.system == "default" else str(self.system))

    @classmethod
    def from_dict(cls, config: dict) -> "EvalConfig":
        """From metrics.json's "config": nested, or flat as reports before the settings were nested wrote it."""
        known = {f.name for f in dataclasses.fields(cls)}
        settings = config.get("settings") or {k: config[k] for k in GENERATION_FIELDS if k in config}
        spec = config.get("spec") or {k: config[k] for k in ("vocoder", "adapter", "adapter_strength", "precision") if k in config}
        rest = {k: v for k, v in config.items() if k in known and k not in ("settings", "spec")}
        return cls(**rest, settings=GenerationSettings(**settings), spec=ModelSpec(**spec))


def is_reference_only(system: str) -> bool:
    """Real audio in (the real clips, other tracks' clips, or them through a vocoder): no generation settings."""
    return system == "real" or system.startswith(("real:", "vocoder"))


def fingerprint(cfg: EvalConfig) -> dict:
    """What a report folder's audio and judgements are made from (see text2music.evaluate.folder)."""
    own = {k: getattr(cfg.settings, k) if hasattr(cfg.settings, k) else getattr(cfg, k) for k in GENERATION_SETTINGS}
    settings = {} if is_reference_only(cfg.system) else own
    if settings and cfg.settings.shift != 1.0:  # reports made before the time grid could shift hold no shift: 1
        settings["shift"] = cfg.settings.shift
    if cfg.settings.sample_rate is not None and cfg.system != "real":  # reports made before it was a setting hold none
        settings["sample_rate"] = cfg.settings.sample_rate
    spec = cfg.spec
    adapter = str(spec.adapter) if spec.adapter else None
    return {
        "system": system_fingerprint(cfg.system, str(spec.vocoder), adapter, spec.adapter_strength, spec.precision),
        "settings": settings,
        "prompts": corpus_fingerprint(cfg.prompts, cfg.data, cfg.split, cfg.musiccaps_csv),
    }


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (Mann-Whitney U)."""
    pos, neg = np.asarray(positive, float)[:, None], np.asarray(negative, float)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


# ---------------------------------------------------------------------------------------------
# steps: render, judge


def render(system, jobs: list[tuple[EvalItem, int]], audio_dir: Path, batch_size: int, progress: bool) -> None:
    """Make the audio of every (prompt, seed) not yet on disk."""
    todo = [(it, s) for it, s in jobs if not (audio_dir / f"{clip_name(it.id, s)}.wav").exists()]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=f"render {system.name}", unit="clip", disable=not progress)
    for i in range(0, len(todo), batch_size):
        chunk = todo[i : i + batch_size]
        waves = system.render([it for it, _ in chunk], [s for _, s in chunk])
        for (it, s), wave in zip(chunk, waves):
            save_audio(audio_dir / f"{clip_name(it.id, s)}.wav", np.clip(wave, -1, 1), system.sample_rate)
        bar.update(len(chunk))
    bar.close()


def judge_all(judges, names: list[str], audio_dir: Path, folder: Path, progress: bool) -> dict[str, dict]:
    """name -> judgement dict (with "embeddings"), judging only what judged.jsonl lacks."""
    log = folder / "judged.jsonl"
    done = {r["name"]: r for r in read_jsonl(log)} if log.exists() else {}
    emb_dir = folder / "embeddings"
    for name in tqdm(
        [n for n in names if n not in done or not (emb_dir / f"{n}.npy").exists()], desc="judge", unit="clip", disable=not progress
    ):
        j = judges(load_audio(audio_dir / f"{name}.wav", JUDGE_RATE), JUDGE_RATE)
        emb_dir.mkdir(parents=True, exist_ok=True)
        np.save(emb_dir / f"{name}.npy", j.embeddings)
        record = {"name": name, **j.to_dict()}
        append_jsonl(log, record)
        done[name] = record
    return {n: {**done[n], "embeddings": np.load(emb_dir / f"{n}.npy")} for n in names}


# ---------------------------------------------------------------------------------------------
# metrics


def adherence(items: list[EvalItem], judged: list[dict]) -> dict:
    """Tag AUC, tempo, key and drums agreement of judged clips with their prompts."""
    out: dict = {"n": len(items)}
    aucs = {}
    for concept in sorted({c for it in items for c in it.named}):
        pos = [j["tags"][concept] for it, j in zip(items, judged) if concept in it.named]
        neg = [j["tags"][concept] for it, j in zip(items, judged) if concept in it.excluded]
        if len(pos) >= MIN_CLASS and len(neg) >= MIN_CLASS:
            aucs[concept] = {"auc": round(roc_auc(np.array(pos), np.array(neg)), 4), "n_pos": len(pos), "n_neg": len(neg)}
    out["tag_auc"] = aucs
    out["mean_tag_auc"] = round(float(np.mean([a["auc"] for a in aucs.values()])), 4) if aucs else None
    tempo = [(it.bpm, j["tempo"]) for it, j in zip(items, judged) if it.bpm]
    out["tempo_n"] = len(tempo)
    out["tempo_acc"] = round(float(np.mean([tempo_agrees(est, bpm) for bpm, est in tempo])), 4) if tempo else None
    out["tempo_acc_strict"] = round(float(np.mean([abs(est - bpm) <= 0.08 * bpm for bpm, est in tempo])), 4) if tempo else None
    keys = [(it.key, j) for it, j in zip(items, judged) if it.key and it.key[0] in PITCH_CLASSES]
    relations = [key_relation(KeyEstimate(PITCH_CLASSES.index(j["key"]), j["mode"], 0.0), key, mode) for (key, mode), j in keys]
    out["key_n"] = len(keys)
    out["key_acc"] = round(relations.count("exact") / len(keys), 4) if keys else None
    out["key_acc_close"] = round(sum(r in ("exact", "relative") for r in relations) / len(keys), 4) if keys else None
    drums = [(it.drums, j["drum_activity"]) for it, j in zip(items, judged) if it.drums is not None]
    out.update(control_adherence(items, judged))
    out["drums_n"] = len(drums)
    out["drums_acc"] = round(float(np.mean([(a > DRUM_THRESHOLD) == d for d, a in drums])), 4) if drums else None
    out.update(drum_shares(items, judged))
    out["speckle_db"] = round(float(np.mean([j["speckle"] for j in judged])), 3) if judged and "speckle" in judged[0] else None
    return out


def _share(flags: list[bool]) -> float | None:
    return round(float(np.mean(flags)), 4) if flags else None


def drum_shares(items: list[EvalItem], judged: list[dict]) -> dict:
    """The share of drum-free prompts whose clip is heard without drums, and of drum prompts whose
    clip is heard with them, by two judges: the high-band noise detector and musicnn's drums tag at
    one loudness (judgements written before it had one count for neither share)."""
    judges = {
        "noise": lambda j: j["drum_activity"] > DRUM_THRESHOLD,
        "musicnn": lambda j: j["drums_tag"] > MUSICNN_DRUMS_THRESHOLD if j.get("drums_tag") is not None else None,
    }
    free = [j for it, j in zip(items, judged) if it.drums is False]
    drums = [j for it, j in zip(items, judged) if it.drums is True]
    out: dict = {"drum_free_n": len(free), "drums_n_present": len(drums)}
    for name, heard in judges.items():
        free_heard = [h for h in map(heard, free) if h is not None]
        out[f"drum_free_heard_{name}"] = _share([not h for h in free_heard])
        out[f"drums_heard_{name}"] = _share([h for h in map(heard, drums) if h is not None])
    return out


def control_adherence(items: list[EvalItem], judged: list[dict]) -> dict:
    """Tempo, key, mode and meter against each clip's true specification (corpus prompts), on
    every prompt and on those whose text does not state the value."""
    pairs = [(it.spec, j) for it, j in zip(items, judged) if it.spec.get("bpm")]
    out: dict = {"spec_n": len(pairs)}
    for name, subset in (("spec", pairs), ("unstated", [(s, j) for (s, j), it in zip(pairs, items) if not it.bpm])):
        out[f"tempo_{name}_n"] = len(subset)
        out[f"tempo_{name}_acc"] = _share([tempo_agrees(j["tempo"], s["bpm"]) for s, j in subset])
        out[f"tempo_{name}_acc_strict"] = _share([abs(j["tempo"] - s["bpm"]) <= 0.08 * s["bpm"] for s, j in subset])
    keyed = [(s, j) for s, j in pairs if s.get("key") in PITCH_CLASSES]
    out["key_spec_acc"] = _share([(j["key"], j["mode"]) == (s["key"], s["mode"]) for s, j in keyed])
    out["mode_spec_acc"] = _share([j["mode"] == s["mode"] for s, j in keyed])
    for meter in ("3/4", "4/4"):
        metered = [j["meter"] == int(meter[0]) for s, j in pairs if s.get("meter") == meter and "meter" in j]
        out[f"meter_{meter[0]}_n"], out[f"meter_{meter[0]}_acc"] = len(metered), _share(metered)
    return out


def mean_pairwise(vectors: list[np.ndarray]) -> float:
    return float(np.mean([np.linalg.norm(a - b) for a, b in combinations(vectors, 2)])) if len(vectors) > 1 else float("nan")


def speed_in_subprocess(system: str, text: str, spec: ModelSpec, settings: GenerationSettings) -> dict:
    """Time and peak memory of text -> waveform in a fresh process (model load included in RSS)."""
    spec_fields = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(spec).items()}
    code = (
        "import json, resource, sys, time\n"
        "from text2music.evaluate.systems import load_system, measure_speed\n"
        "from text2music.generate.settings import GenerationSettings\n"
        "from text2music.generate.spec import ModelSpec\n"
        "t0 = time.perf_counter()\n"
        f"s = load_system({system!r}, 'text', ModelSpec(**{spec_fields!r}), GenerationSettings(**{asdict(settings)!r}))\n"
        "load = time.perf_counter() - t0\n"
        f"r = measure_speed(s, {text!r})\n"
        "r['load_seconds'] = round(load, 2)\n"
        "r['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)\n"
        "print('SPEED', json.dumps(r))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("SPEED ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"speed measurement failed: {proc.stderr.strip()[-500:]}")
    return json.loads(line[6:])


# ---------------------------------------------------------------------------------------------


def reference_metrics(
    items: list[EvalItem], judged: dict[str, dict], reference: dict[str, dict], seed: int, div_items: list[EvalItem], diversity_seeds: int
) -> dict:
    """FAD of the system's clips for half A of the prompts (even positions) against the real clips
    of half B (odd positions), spread across prompts and diversity across seeds, both relative to
    the real clips. For the real-audio row `judged` is the reference itself: real A vs real B."""
    half_a, half_b = items[0::2], items[1::2]
    out = {}
    sys_a = np.concatenate([judged[clip_name(it.id, seed)]["embeddings"] for it in half_a])
    real_b = np.concatenate([reference[clip_name(it.id, 0)]["embeddings"] for it in half_b])
    out["fad"] = round(frechet_audio_distance(sys_a, real_b), 3)
    real_spread = mean_pairwise([reference[clip_name(it.id, 0)]["embeddings"].mean(0) for it in items])
    main_means = [judged[clip_name(it.id, seed)]["embeddings"].mean(0) for it in items]
    out["prompt_spread"] = round(mean_pairwise(main_means) / real_spread, 4)
    if div_items:
        within = [
            mean_pairwise([judged[clip_name(it.id, seed + k)]["embeddings"].mean(0) for k in range(diversity_seeds)]) for it in div_items
        ]
        out["diversity"] = round(float(np.mean(within)) / real_spread, 4)
    return out


def load_items(cfg: EvalConfig) -> list[EvalItem]:
    """The prompts: exactly `cfg.n` (refused when the split has fewer), or up to DEFAULT_PROMPTS."""
    if cfg.prompts == "corpus":
        return corpus_items(cfg.data, cfg.split, cfg.n)[: cfg.n or DEFAULT_PROMPTS]
    if cfg.prompts == "musiccaps":
        return musiccaps_items(cfg.musiccaps_csv, cfg.n, cfg.split)[: cfg.n or DEFAULT_PROMPTS]
    raise ValueError(f"prompts must be corpus or musiccaps, got {cfg.prompts!r}")


def evaluate(cfg: EvalConfig, progress: bool = True, command: str | None = None) -> dict:
    from text2music.evaluate.systems import RealAudio, load_system

    out = Path(cfg.out)
    reference_only = is_reference_only(cfg.system)
    if reference_only and cfg.spec.vocoder != "auto":
        raise ValueError(f"--vocoder is for a model; the vocoder-only row names its vocoder in --model (vocoder:FOLDER), got {cfg.system}")
    if reference_only and cfg.spec.adapter:
        raise ValueError(f"--adapter is for a model, not for the {cfg.system} row")
    items = load_items(cfg)
    fp = fingerprint(cfg)
    claim_report(out, fp, cfg.overwrite)  # before any model work: refuses a folder of other settings
    controls, spec = ("text", None) if reference_only else (cfg.controls, cfg.spec)
    system = load_system(cfg.system, controls, spec, cfg.settings)
    judges = Judges()

    # 1. the real clips, judged once for all reports in the same parent folder (FAD reference, spread)
    reference = {}
    if cfg.prompts == "corpus":
        ref_dir = reference_dir(out, cfg.data, cfg.split)
        claim_reference(ref_dir, fp["prompts"])  # a rebuilt corpus empties a stale cache
        render(RealAudio(), [(it, 0) for it in items], ref_dir / "audio", 16, progress)
        reference = judge_all(judges, [clip_name(it.id, 0) for it in items], ref_dir / "audio", ref_dir, progress)
    # 2. the system: one clip per prompt, and extra seeds for the first prompts (diversity)
    main = [(it, cfg.settings.seed) for it in items]
    div_items = [] if reference_only else items[: cfg.diversity_prompts]
    extra = [(it, cfg.settings.seed + k) for it in div_items for k in range(1, cfg.diversity_seeds)]
    if cfg.system == "real":  # the real-audio row is the reference itself
        judged = {clip_name(it.id, cfg.settings.seed): reference[clip_name(it.id, 0)] for it in items}
    else:
        render(system, main + extra, out / "audio", cfg.batch_size, progress)
        judged = judge_all(judges, [clip_name(it.id, s) for it, s in main + extra], out / "audio", out, progress)

    # 3. metrics
    main_judged = [judged[clip_name(it.id, cfg.settings.seed)] for it in items]
    metrics: dict = {
        "system": cfg.system,
        "config": asdict(cfg),
        "command": command,
        "n_prompts": len(items),
        "fingerprint": fp,
        "soundfont": corpus_soundfont(cfg.data) if cfg.prompts == "corpus" else None,
    }
    metrics["adherence"] = adherence(items, main_judged)
    held = [(it, j) for it, j in zip(items, main_judged) if it.heldout]
    if cfg.prompts == "corpus" and held:
        metrics["heldout"] = adherence([h[0] for h in held], [h[1] for h in held])
    if reference:
        metrics.update(reference_metrics(items, judged, reference, cfg.settings.seed, div_items, cfg.diversity_seeds))
    if cfg.prompts == "corpus" and cfg.system != "real" and system.sample_rate > JUDGE_RATE:
        from text2music.evaluate.bands import full_band_metrics

        pairs = [(out / "audio" / f"{clip_name(it.id, cfg.settings.seed)}.wav", Path(it.audio)) for it in items]
        metrics["full_band"] = full_band_metrics(pairs, system.sample_rate, aligned=cfg.system.startswith("vocoder"))
    if cfg.speed and not reference_only:
        metrics["speed"] = speed_in_subprocess(
            cfg.system, "a calm solo piano piece in A minor at 70 BPM", cfg.spec, cfg.settings.replace(duration=10.0)
        )
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, default=str) + "\n")  # paths (an adapter folder) as text
    write_report(out, metrics, items, main_judged, reference, cfg)
    return metrics

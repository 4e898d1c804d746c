"""Beat clicks: broadband transients on every beat of a clip that should have none (issue 23).

Each system generates the same drum-free prompts (drums set off); the click score of a clip is the
share of mel bands that jump by more than 1 nat of power (4.3 dB) from one frame to the next, on the frames
around the stated beats, against the same share elsewhere. Real drum-free music has note onsets on
the beats too, so compare with the corpus's own drum-free clips (printed first). Writes a picture
of the first prompt's mel per system.

    python3 bench/beat_clicks.py default runs/default_nopulse runs/teacher_default --png docs/images/beat_clicks.png
    python3 bench/beat_clicks.py default,drum_free_guidance=0 default --vocoder vocos-fullband --every-prompt --png x.png

A system is a model folder, optionally with generation settings and a LoRA adapter:
MODEL[,name=value...][,adapter=FOLDER][,adapter_strength=S].
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from text2music.features.mel import MelConfig, load_audio, log_mel_spectrogram
from text2music.features.plot import save_mel_grid
from text2music.generate.settings import GenerationSettings, setting_fields

PROMPTS = (
    ("a string quartet playing a gentle minuet in G major at 100 BPM", 100.0),
    ("a slow solo piano ballad in E minor at 70 BPM", 70.0),
    ("an ambient pad with a soft flute melody in D major at 90 BPM", 90.0),
    ("a classical guitar piece in A minor at 120 BPM", 120.0),
)
JUMP = 1.0  # nats of mel power between consecutive frames (4.3 dB)


def click_score(mel_db: np.ndarray, beats_s: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """(share of bands jumping on beat frames, elsewhere); mel in dB `(n_mels, T)`."""
    jumps = (np.diff(mel_db / (10 / np.log(10)), axis=1) > JUMP).mean(axis=0)  # dB -> nats of power
    on = np.zeros(len(jumps), bool)
    for b in beats_s:
        f = int(round(b * frame_rate)) - 1
        on[max(f - 1, 0) : f + 2] = True
    return float(jumps[on].mean()), float(jumps[~on].mean())


def system_settings(system: str) -> tuple[str, dict, GenerationSettings]:
    """'MODEL[,name=value...]' -> (MODEL, its adapter options, drum-free settings at the mel's rate with those values)."""
    folder, *pairs = system.split(",")
    kinds = {f.name: f.kind for f in setting_fields()}
    given = dict(p.split("=", 1) for p in pairs)
    spec = {k: given.pop(k) for k in ("adapter", "adapter_strength") if k in given}
    if "adapter_strength" in spec:
        spec["adapter_strength"] = float(spec["adapter_strength"])
    unknown = set(given) - set(kinds)
    if unknown:
        raise SystemExit(f"{system}: unknown setting(s) {', '.join(sorted(unknown))}")
    read = {k: (v.lower() in ("1", "true", "on") if kinds[k] is bool else kinds[k](v)) for k, v in given.items()}
    return folder, spec, GenerationSettings(drums=False, sample_rate=16000, **read)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="model folders ('default' = the bundled model), each MODEL[,setting=value...]")
    ap.add_argument("--data", default="data/synth", help="corpus whose drum-free clips give the real reference")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--vocoder", default="vocos", help="mel -> audio for every model (as generate's --vocoder)")
    ap.add_argument("--png", default=None)
    ap.add_argument("--every-prompt", action="store_true", help="the picture shows every prompt's first clip, not just the minuet's")
    args = ap.parse_args()
    from text2music.generate.pipeline import Text2Music
    from text2music.generate.spec import ModelSpec

    cfg = MelConfig(sample_rate=16000, n_fft=1024, hop_length=256, n_mels=80, n_frames=626, norm="db")
    rate = cfg.sample_rate / cfg.hop_length
    rows = [json.loads(line) for line in open(f"{args.data}/manifest.jsonl")]
    free = [r for r in rows if not r["drums"] and r["split"] == "test"][:40]
    real = [
        click_score(log_mel_spectrogram(load_audio(f"{args.data}/{r['audio']}", cfg.sample_rate), cfg).numpy(), np.array(r["beats"]), rate)
        for r in free
    ]
    on, off = np.mean([a for a, _ in real]), np.mean([b for _, b in real])
    print(f"real drum-free clips of {args.data} ({len(free)}): on beats {on:.3f}, elsewhere {off:.3f}")
    mels, titles = [], []
    for system in args.models:
        folder, spec, settings = system_settings(system)
        pipe = Text2Music.from_pretrained(ModelSpec(None if folder == "default" else folder, vocoder=args.vocoder, **spec))
        scores = []
        for k, (text, bpm) in enumerate(PROMPTS):
            out = pipe([text] * args.seeds, settings, seeds=list(range(args.seeds)))
            for i, audio in enumerate(out.audio):
                mel = log_mel_spectrogram(np.asarray(audio, np.float32), cfg).numpy()
                scores.append(click_score(mel, np.arange(0.0, 10.0, 60.0 / bpm), rate))
                if i == 0 and (k == 0 or args.every_prompt):
                    mels.append(mel)
                    titles.append(f"{system}: {text}")
        on, off = np.mean([a for a, _ in scores]), np.mean([b for _, b in scores])
        print(f"{system}: on beats {on:.3f}, elsewhere {off:.3f} ({len(scores)} clips, --no-drums)")
    if args.png:
        save_mel_grid(args.png, mels, cfg, titles, cols=1)


if __name__ == "__main__":
    main()

"""Benchmark: mel -> audio, the analytic options against the neural vocoder (issue 13).

    python bench/vocoders.py table   --corpus /tmp/eval/synth --n 40 [--neural runs/vocos]
    python bench/vocoders.py speed   --neural runs/vocos          # a 10-s clip, 2 threads, vs Griffin-Lim
    python bench/vocoders.py picture --corpus /tmp/eval/synth --neural runs/vocos -o reports/vocoders/vocoders.png

Each test clip's small-preset log-mel goes back to audio by one option, the audio is analysed
again, and the result is compared with the real clip's own spectra:

- `mel dB`: mean |log-mel(rebuilt) - log-mel(real)| in dB (what the generator's mel asks for);
- `SC`: spectral convergence of the rebuilt audio's STFT magnitude against the real one's
  (||S_real - S_rebuilt|| / ||S_real||; 0 is perfect; phase smear and the mel inverse both count);
- `s/clip`: seconds per 10-s clip on this machine.

Options: the mel inverse (`pinv`: clamped pseudo-inverse; `nnls30` / `nnls300`: that many
multiplicative NNLS updates, 30 is what ships) x the phase (fast Griffin-Lim with 32 ... 256
iterations; `pghi`: phase-gradient heap integration from the pghipy package, alone or as
Griffin-Lim's starting phase), and `neural` (the trained vocoder given by --neural). Prints a
Markdown table; Griffin-Lim as shipped before issue 13 is `nnls30+gl32`, the fallback now `nnls300+gl32`.

`speed`: seconds per 10-s clip of each vocoder alone (median of 5 after a warm-up, 2 torch
threads) and its ratio to Griffin-Lim as shipped before (NNLS 30) in the same run.
`picture`: one test clip's spectrogram, real / Griffin-Lim (NNLS 30 and 300) / neural, zoomed on
the low harmonics (a 4096-point STFT, 0-1.2 kHz, 2 s).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from text2music.features.mel import (
    MelConfig,
    get_preset,
    griffin_lim,
    load_audio,
    log_mel_spectrogram,
    mel_pinv,
    mel_to_linear,
    stft,
    value_to_power,
)
from text2music.models.neural_vocoder import NeuralVocoder

MEL = get_preset("small")


def inverse(values: torch.Tensor, kind: str) -> torch.Tensor:
    """mel values -> linear magnitude `(n_bins, T)`."""
    power = value_to_power(values, MEL)
    if kind == "pinv":
        linear = (mel_pinv(MEL) @ power).clamp_min(0.0)
    else:
        linear = mel_to_linear(power, MEL, n_iter=int(kind.removeprefix("nnls")))
    return linear ** (1.0 / MEL.power)


def pghi_phase(magnitude: torch.Tensor) -> torch.Tensor:
    """Phase `(n_bins, T)` by phase-gradient heap integration (pghipy; gamma for a Hann window)."""
    import pghipy

    gamma = 0.25645 * MEL.n_fft**2  # Hann window (Prusa et al. 2017, table 1)
    frames_first = magnitude.T.numpy().astype(np.float64)  # pghipy wants (T, n_bins)
    phase = pghipy.pghi(frames_first, win_length=MEL.n_fft, hop_length=MEL.hop_length, gamma=gamma)
    return torch.from_numpy(np.asarray(phase).T.copy())


def phase_recovery(magnitude: torch.Tensor, kind: str) -> torch.Tensor:
    length = (magnitude.shape[-1] - 1) * MEL.hop_length
    window = torch.hann_window(MEL.n_fft)
    istft = dict(n_fft=MEL.n_fft, hop_length=MEL.hop_length, window=window, center=True, length=length)
    if kind.startswith("gl"):
        return griffin_lim(magnitude, MEL, n_iter=int(kind.removeprefix("gl")))
    phase = pghi_phase(magnitude)
    audio = torch.istft(torch.polar(magnitude, phase.float()), **istft)
    if kind == "pghi":
        return audio
    n_iter = int(kind.removeprefix("pghi+gl"))
    angles = stft(audio, MEL)
    for _ in range(n_iter):  # plain Griffin-Lim from the PGHI phase
        angles = stft(torch.istft(magnitude * angles / angles.abs().clamp_min(1e-16), **istft), MEL)
    return torch.istft(magnitude * angles / angles.abs().clamp_min(1e-16), **istft)


def rebuild(values: torch.Tensor, option: str, neural: NeuralVocoder | None) -> torch.Tensor:
    """One option's audio from mel values `(n_mels, T)`."""
    if option == "neural":
        if neural is None:
            raise ValueError("the neural option needs --neural FOLDER")
        return neural(values[None])[0]
    inv, phase = option.split("+", 1)
    return phase_recovery(inverse(values, inv), phase)


def test_clips(corpus: Path, n: int) -> list[torch.Tensor]:
    rows = [json.loads(x) for x in (corpus / "manifest.jsonl").read_text().splitlines() if x.strip()]
    paths = [corpus / r["audio"] for r in rows if r["split"] == "test"][:n]
    n_samples = (MEL.n_frames - 1) * MEL.hop_length
    return [torch.from_numpy(load_audio(p, MEL.sample_rate)[:n_samples]) for p in paths]


def table(args, neural: NeuralVocoder | None) -> None:
    clips = test_clips(args.corpus, args.n)
    print(f"{len(clips)} test clips of {args.corpus}, {torch.get_num_threads()} threads\n")
    print("| option | mel dB | SC | s/clip |\n|---|---|---|---|")
    for option in args.options.split(","):
        mel_err, sc, seconds = [], [], 0.0
        for audio in clips:
            values = log_mel_spectrogram(audio, MEL)
            t0 = time.perf_counter()
            rebuilt = rebuild(values, option, neural)
            seconds += time.perf_counter() - t0
            n = min(len(audio), len(rebuilt))
            real_mag, new_mag = stft(audio[:n], MEL).abs(), stft(rebuilt[:n], MEL).abs()
            sc.append(float(torch.linalg.norm(real_mag - new_mag) / torch.linalg.norm(real_mag).clamp_min(1e-12)))
            diff = log_mel_spectrogram(rebuilt[:n], MEL) - log_mel_spectrogram(audio[:n], MEL)
            mel_err.append(float(diff.abs().mean()) * MEL.unit_scale_db)  # unit values -> dB
        print(f"| {option} | {np.mean(mel_err):.2f} | {np.mean(sc):.3f} | {seconds / len(clips):.3f} |", flush=True)


def speed(args, neural: NeuralVocoder | None) -> None:
    torch.set_num_threads(args.threads)
    values = log_mel_spectrogram(torch.randn(160_000) * 0.1, MEL)[None]  # a 10-s clip's shape
    options = ["nnls30+gl32", "nnls300+gl32"] + (["neural"] if neural is not None else [])
    times = {}
    for option in options:
        rebuild(values[0], option, neural)  # warm-up
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            rebuild(values[0], option, neural)
            runs.append(time.perf_counter() - t0)
        times[option] = float(np.median(runs))
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, 10-s clip (626 frames)\n")
    print("| vocoder | s per 10-s clip | real-time factor | vs Griffin-Lim |\n|---|---|---|---|")
    for option, t in times.items():
        print(f"| {option} | {t:.3f} | {10.0 / t:.0f}x | {t / times['nnls30+gl32']:.2f}x |")
    if neural is not None:
        n_params = sum(p.numel() for p in neural.parameters())
        print(f"\nneural: {n_params / 1e6:.2f} M parameters, {2 * n_params / 1e6:.1f} MB in fp16")


def picture(args, neural: NeuralVocoder | None) -> None:
    """Real / Griffin-Lim / neural spectrograms of one clip, low harmonics."""
    from text2music.features.plot import pyplot

    audio = test_clips(args.corpus, args.clip + 1)[args.clip]
    values = log_mel_spectrogram(audio, MEL)
    rows = [
        ("real", audio),
        ("Griffin-Lim 32, NNLS 30 (shipped before)", rebuild(values, "nnls30+gl32", None)),
        ("Griffin-Lim 32, NNLS 300 (the analytic fallback)", rebuild(values, "nnls300+gl32", None)),
    ]
    if neural is not None:
        rows.append(("neural vocoder", rebuild(values, "neural", neural)))
    zoom = MelConfig(n_fft=4096, hop_length=128)
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.6 * len(rows)), dpi=110, sharex=True)
    start, seconds, fmax = 2.0, 2.0, 1200.0
    for ax, (title, y) in zip(axes, rows):
        seg = y[int(start * MEL.sample_rate) : int((start + seconds) * MEL.sample_rate)]
        db = 20 * torch.log10(stft(seg, zoom).abs().clamp_min(1e-5))
        bins = int(fmax / (MEL.sample_rate / zoom.n_fft))
        extent = (start, start + seconds, 0, bins * MEL.sample_rate / zoom.n_fft)
        top = float(db.max())
        ax.imshow(db[:bins].numpy(), origin="lower", aspect="auto", extent=extent, vmin=top - 70, vmax=top, cmap="magma")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel(f"seconds (test clip {args.clip} of the corpus, 4096-point STFT)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(args.out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=["table", "speed", "picture"])
    ap.add_argument("--corpus", type=Path, default=Path("data/synth"))
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--neural", type=Path, default=None, help="folder of a trained vocoder (vocoder.json)")
    ap.add_argument(
        "--options",
        default="nnls30+gl32,pinv+gl32,nnls300+gl32,nnls30+gl64,nnls30+gl128,nnls30+gl256,nnls300+gl128,nnls30+pghi,nnls30+pghi+gl32",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clip", type=int, default=0, help="picture: which test clip")
    ap.add_argument("-o", "--out", type=Path, default=Path("reports/vocoders/vocoders.png"))
    args = ap.parse_args()
    neural = NeuralVocoder.from_folder(args.neural) if args.neural is not None else None
    {"table": table, "speed": speed, "picture": picture}[args.stage](args, neural)


if __name__ == "__main__":
    main()

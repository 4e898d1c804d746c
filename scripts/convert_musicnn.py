"""One-off: convert musicnn's TensorFlow checkpoints to safetensors for text2music.analysis.musicnn,
and verify the torch port against TF musicnn on the same float32 input.

Needs TensorFlow and the musicnn package next to this package's own dependencies (torch, librosa,
safetensors). Verified recipe (a separate venv that still sees the system's torch/numpy/librosa, so
the TF install cannot change them):

    python3 -m venv --system-site-packages /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0 tf-keras==2.21.0
    /tmp/tfenv/bin/python scripts/convert_musicnn.py          # from the repository root

(`pip install tf-keras` without --no-deps pulls full tensorflow on top; musicnn's declared
dependencies are old pins, hence --no-deps too. TF_USE_LEGACY_KERAS=1 is set below before TF is
imported, which musicnn's tf.compat.v1.layers calls need.)

What it does, per model (MTT_musicnn, MSD_musicnn):
  1. builds musicnn's own graph (`musicnn.models.define_model`), restores the checkpoint shipped
     in the musicnn package WITHOUT musicnn's bare `except`, and checks every graph variable
     equals the checkpoint's value (so the weights really loaded);
  2. maps the variables to `MusicnnNet`'s state dict (conv kernels HWIO -> OIHW, dense kernels
     transposed) and writes text2music/analysis/assets/musicnn/{name}.safetensors (float32);
  3. runs TF and the torch port on the same float32 log-mel patches (a formula input, log-mels
     of synthetic piano-like / drum-like / loud audio, random values) and asserts the tag
     probabilities and penultimate features agree (max abs diff < 1e-4), printing the diffs;
  4. runs musicnn's own `extractor` end to end on a moderate-level wav file (its float16 mel
     path) and prints how far the port's `analyze` is from it (information only);
  5. writes tests/analysis/musicnn_reference.npz: TF's outputs on `reference_patches()`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from text2music.analysis.musicnn import (  # noqa: E402
    MODELS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    TAGS,
    load_musicnn,
    log_mel,
    reference_patches,
    to_patches,
)

TOL = 1e-4


def tf_to_torch_names(n_temporal: int = 3) -> dict[str, str]:
    """Checkpoint variable name prefix -> MusicnnNet module name (musicnn's layer creation order)."""
    conv = ["timbral.0", "timbral.1"] + [f"temporal.{i}" for i in range(n_temporal)] + [f"midend.{i}" for i in range(3)]
    bns = ["input_bn"] + [f"{c}.bn" for c in conv] + ["pool_bn", "dense_bn"]
    names = {}
    for i, c in enumerate(conv):
        names["conv2d" + (f"_{i}" if i else "")] = f"{c}.conv"
    for i, b in enumerate(bns):
        names["batch_normalization" + (f"_{i}" if i else "")] = b
    names["dense"] = "dense"
    names["dense_1"] = "out"
    return names


def convert_state(values: dict[str, np.ndarray], net: torch.nn.Module) -> dict[str, torch.Tensor]:
    names = tf_to_torch_names()
    bn_map = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
    target = net.state_dict()
    state: dict[str, torch.Tensor] = {}
    for var, value in values.items():
        layer, _, param = var.rpartition("/")
        if layer not in names:
            raise KeyError(f"unmapped checkpoint variable {var}")
        mod = names[layer]
        if layer.startswith("batch_normalization"):
            key = f"{mod}.{bn_map[param]}"
        elif param == "kernel":
            key = f"{mod}.weight"
            if value.ndim == 4:  # (kh, kw, in, out)
                value = value.transpose(3, 2, 0, 1)  # -> (out, in, kh, kw)
                if target[key].ndim == 3:  # mid-end: TF conv over (time, all channels) == Conv1d
                    value = value[:, 0].transpose(0, 2, 1)  # (out, kh, kw=in_ch) -> (out, in_ch, kh)
            else:  # dense (in, out)
                value = value.T
        elif param == "bias":
            key = f"{mod}.bias"
        else:
            raise KeyError(f"unexpected parameter {var}")
        if tuple(target[key].shape) != value.shape:
            raise ValueError(f"{var} {value.shape} -> {key} {tuple(target[key].shape)}")
        state[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    missing = [k for k in target if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(f"torch parameters without a checkpoint value: {missing}")
    return state


class TFMusicnn:
    """musicnn's TF graph with the checkpoint restored and checked."""

    def __init__(self, name: str):
        import musicnn
        import tensorflow as tf
        from musicnn import models

        tf.compat.v1.disable_eager_execution()
        self.tf = tf
        self.graph = tf.Graph()
        prefix = os.path.join(os.path.dirname(musicnn.__file__), name) + "/"
        with self.graph.as_default():
            with tf.name_scope("model"):
                self.x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, 96])
                self.is_training = tf.compat.v1.placeholder(tf.bool)
                out = models.define_model(self.x, self.is_training, name, len(TAGS[name]))
                self.probs = tf.nn.sigmoid(out[0])
                self.penultimate = out[-1]
            cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
            self.sess = tf.compat.v1.Session(graph=self.graph, config=cfg)
            self.sess.run(tf.compat.v1.global_variables_initializer())
            saver = tf.compat.v1.train.Saver()
            saver.restore(self.sess, prefix)  # raises if it fails (musicnn hides this in a bare except)
            reader = tf.compat.v1.train.NewCheckpointReader(prefix)
            variables = tf.compat.v1.global_variables()
            values = self.sess.run(variables)
        ckpt_names = {k for k in reader.get_variable_to_shape_map() if "Adam" not in k and "power" not in k}
        self.values: dict[str, np.ndarray] = {}
        for v, val in zip(variables, values):
            vname = v.op.name
            if not np.array_equal(val, reader.get_tensor(vname)):
                raise RuntimeError(f"{name}: variable {vname} was not restored from the checkpoint")
            self.values[vname] = val
        if set(self.values) != ckpt_names:
            raise RuntimeError(f"{name}: graph/checkpoint variable mismatch: {set(self.values) ^ ckpt_names}")
        self.prefix = prefix

    def __call__(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, e = self.sess.run([self.probs, self.penultimate], feed_dict={self.x: patches, self.is_training: False})
        return p, e


def synth(kind: str, seconds: float = 6.0, sr: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    out = np.zeros_like(t)
    if kind in ("piano", "mix"):
        for i, midi in enumerate([60, 64, 67, 72, 65, 69, 62, 67]):
            start = int(i * 0.5 * sr)
            tt = t[: len(t) - start]
            f0 = 440 * 2 ** ((midi - 69) / 12)
            note = sum(np.sin(2 * np.pi * f0 * h * tt) / h**1.5 for h in range(1, 8)) * np.exp(-tt * 2.5)
            out[start:] += 0.2 * note
    if kind in ("drums", "mix", "loud"):
        for start in range(0, len(t), int(0.25 * sr)):
            n = min(len(t) - start, int(0.2 * sr))
            tt = t[:n]
            out[start : start + n] += rng.standard_normal(n) * np.exp(-tt * 30) * 0.5
            out[start : start + n] += np.sin(2 * np.pi * 60 * tt) * np.exp(-tt * 15) * 0.6
    if kind == "loud":  # clipped full-scale: overflows musicnn's float16 path
        out = np.clip(out * 20, -1, 1)
    return out.astype(np.float32)


def verify(name: str, tfm: TFMusicnn, weights: Path) -> dict:
    judge = load_musicnn(name, path=weights)
    rng = np.random.default_rng(1)
    inputs = {
        "reference": reference_patches(),
        **{k: to_patches(log_mel(synth(k))) for k in ("piano", "drums", "mix", "loud")},
        "uniform": rng.uniform(0, 5, size=(3, PATCH_FRAMES, 96)).astype(np.float32),
    }
    report = {}
    worst_p = worst_e = 0.0
    for key, x in inputs.items():
        tp, te = tfm(x)
        pp, pe = judge.forward_patches(x)
        dp, de = float(np.abs(tp - pp).max()), float(np.abs(te - pe).max())
        report[key] = {
            "patches": int(x.shape[0]),
            "max_abs_diff_probs": dp,
            "max_abs_diff_penultimate": de,
            "penultimate_scale": float(np.abs(te).max()),
        }
        worst_p, worst_e = max(worst_p, dp), max(worst_e, de)
        print(f"  {name} {key:9s} n={x.shape[0]} probs {dp:.2e}  penultimate {de:.2e} (|pen| max {np.abs(te).max():.1f})")
    assert worst_p < TOL and worst_e < TOL, f"{name}: port differs from TF: probs {worst_p}, penultimate {worst_e}"
    report["max"] = {"probs": worst_p, "penultimate": worst_e}
    return report


def end_to_end(name: str, weights: Path) -> dict:
    """musicnn's own extractor (librosa.load + float16 mel) vs the port's analyze on a wav file."""
    import soundfile as sf
    from musicnn.extractor import batch_data, extractor

    audio = synth("mix", seconds=9.5)
    peak_mel = (10.0 ** log_mel(audio).max() - 1.0) / 10000.0
    audio *= np.float32(np.sqrt(2.0 / peak_mel))  # 10000 * mel peaks at 20000: no float16 overflow (max 65504)
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "mix.wav"
        sf.write(wav, audio, SAMPLE_RATE, subtype="FLOAT")
        taggram, labels, feats = extractor(str(wav), model=name, extract_features=True)
        spec = batch_data(str(wav), PATCH_FRAMES, PATCH_FRAMES)[1]
        assert np.isfinite(spec).all() and spec.dtype == np.float16
    assert list(labels) == TAGS[name]
    judge = load_musicnn(name, path=weights)
    probs, emb = judge.analyze(audio, SAMPLE_RATE)
    dp = float(np.abs(taggram.mean(axis=0) - probs).max())
    # Only the first patch's penultimate is comparable: musicnn 0.1.0's extractor appends the FIRST
    # batch's `penultimate_` (and cnn1-3) again for every later batch (a stale variable in its loop).
    tf_pen = np.asarray(feats["penultimate"])
    assert np.array_equal(tf_pen[1], tf_pen[0]), "musicnn's extractor no longer repeats the first patch's features"
    de = float(np.abs(tf_pen[0] - emb[0]).max())
    dl = float(np.abs(spec.astype(np.float32) - log_mel(audio)).max())
    print(f"  {name} musicnn.extractor (float16 mel) vs analyze: log-mel {dl:.2e}, probs {dp:.2e}, penultimate (patch 0) {de:.2e}")
    print(f"  {name} top tags: {judge.top_tags(probs, 5)}")
    return {"log_mel": dl, "probs": dp, "penultimate": de}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "text2music/analysis/assets/musicnn")
    ap.add_argument("--reference", type=Path, default=ROOT / "tests/analysis/musicnn_reference.npz")
    ap.add_argument("--models", nargs="+", default=["MTT_musicnn", "MSD_musicnn"])
    ap.add_argument("--skip-extractor", action="store_true", help="skip the musicnn.extractor end-to-end check")
    args = ap.parse_args()
    torch.set_num_threads(1)
    try:
        import musicnn  # noqa: F401
        import tensorflow as tf
    except ImportError as e:
        sys.exit(f"{e}: this converter needs tensorflow-cpu and musicnn==0.1.0, see its docstring")

    from importlib.metadata import version

    from safetensors.torch import save_file

    from text2music.analysis.musicnn import MusicnnNet

    args.out.mkdir(parents=True, exist_ok=True)
    reference: dict[str, np.ndarray] = {}
    summary = {}
    for name in args.models:
        t0 = time.time()
        tfm = TFMusicnn(name)
        state = convert_state(tfm.values, MusicnnNet(MODELS[name]))
        meta = {
            "model": name,
            "tags": json.dumps(TAGS[name]),
            "source": f"musicnn=={version('musicnn')} ({os.path.basename(os.path.dirname(tfm.prefix))} checkpoint), "
            "by Jordi Pons and Xavier Serra, ISC licence",
            "converted_with": f"tensorflow=={tf.__version__}, torch=={torch.__version__}, scripts/convert_musicnn.py",
        }
        weights = args.out / f"{name}.safetensors"
        save_file(state, str(weights), metadata=meta)
        print(
            f"{name}: {len(state)} tensors, {sum(v.numel() for v in state.values())} parameters -> "
            f"{weights} ({weights.stat().st_size / 1e6:.2f} MB)"
        )
        summary[name] = {"tf_vs_torch": verify(name, tfm, weights)}
        p, e = tfm(reference_patches())
        reference[f"{name}/probs"] = p.astype(np.float32)
        reference[f"{name}/penultimate"] = e.astype(np.float32)
        if not args.skip_extractor:
            summary[name]["extractor_vs_analyze"] = end_to_end(name, weights)
        print(f"{name}: done in {time.time() - t0:.1f} s")
    args.reference.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.reference, **reference)
    print(f"reference outputs -> {args.reference} ({args.reference.stat().st_size} bytes)")
    print(json.dumps({k: v["tf_vs_torch"]["max"] for k, v in summary.items()}, indent=1))


if __name__ == "__main__":
    main()

"""Export the inference weights of a training run's resumable checkpoint (state.pt): the EMA's when
the run keeps one, else the model's, as a model folder (config.json + float16 model.safetensors),
for a run that was stopped (Ctrl-C, or a session's end) before it wrote `last/`.

    python3 scripts/export_checkpoint.py runs/flow_controls runs/flow_controls/exported
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from text2music.features.config import MelConfig
from text2music.models import build_model, save_pretrained
from text2music.train.config import TrainConfig
from text2music.train.run import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="run folder with train_config.json, mel_config.json and state.pt")
    ap.add_argument("out", type=Path, help="model folder to write")
    args = ap.parse_args()
    cfg = TrainConfig.load(args.run / "train_config.json")
    mel = MelConfig.load(args.run / "mel_config.json")
    state = load_checkpoint(args.run / "state.pt")
    if state is None:
        raise SystemExit(f"{args.run} has no state.pt")
    weights = state["ema"] or {k.removeprefix("model."): v for k, v in state["module"].items() if k.startswith("model.")}
    model_args = {**cfg.model_args, "n_mels": mel.n_mels, "n_frames": mel.n_frames}
    if cfg.controls:
        from text2music.features.controls import FRAME_CHANNELS, GLOBAL_CHANNELS

        model_args.update(control_frames=FRAME_CHANNELS, control_global=GLOBAL_CHANNELS)
    text_dim = weights["text_proj.weight"].shape[1]
    model = build_model(cfg.model, **model_args, text_dim=text_dim)
    model.load_state_dict(weights)
    pos = state["position"]
    text_info = {"encoder": cfg.text_encoder, "max_length": cfg.text_max_length, "mode": cfg.text_mode, "finetuned": cfg.finetune_text}
    dtype = torch.float16 if cfg.save_dtype == "float16" else torch.float32
    extra = {"trained": {"step": pos["step"], "epoch": pos["epoch"], "best_val": pos["best_val"], "ema": bool(state["ema"])}}
    save_pretrained(args.out, model, mel, text_info, dtype=dtype, extra=extra)
    print(json.dumps({"out": str(args.out), **extra["trained"]}))


if __name__ == "__main__":
    main()
